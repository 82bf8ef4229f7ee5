// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iob/proc.h>

#include "xenboot.h"

#ifndef IOB_XEN_PATCH_DIR
#define IOB_XEN_PATCH_DIR ""
#endif

const struct xenboot_tuning xenboot_tunings[XENBOOT_TUNINGS_NR] = {
	{ "baseline", "", "strict: one flush and completion wait per 4K unmap", 0 },
	{ "batch", "iommu-batch", "one flush per decrease_reservation chunk / grant-unmap batch, "
				  "power-of-two ranges, frames freed after the flush", 0 },
	{ "lazy", "iommu-fq=4096,10", "flush queue: flush when 4096 frames wait or after 10 ms, "
				      "frames freed after the flush", 0 },
	{ "relaxed", "dom0-iommu=no-strict", "dom0 relaxed: all its RAM mapped at boot, grant "
					     "maps and balloon leave the IOMMU alone", 1 },
};

/* What dom0-init.sh and iob_xenctl.c run. */
static const char *const workloads[] = {
	"balloon_out", "balloon_in", "disk_read", "disk_write", "pv", "dmalayer",
	/* With a PV domU next to dom0 (domu first). */
	"domu", "net_tx", "net_rx", "blk_read", "blk_write", "pblk_read", "pblk_write", "domu_bad",
	"ghook", "gpv", "gdma",
};
#define NWORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

bool xenboot_work_iters(const char *name)
{
	return !strcmp(name, "pv") || !strcmp(name, "dmalayer") || !strcmp(name, "ghook") ||
	       !strcmp(name, "gpv") || !strcmp(name, "gdma");
}

int xenboot_tuning_find(const char *name)
{
	for (int i = 0; i < XENBOOT_TUNINGS_NR; i++)
		if (!strcmp(xenboot_tunings[i].name, name))
			return i;
	return -1;
}

static int parse_arg(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end ? -1 : 0;
}

/* One NAME:ARG item (@w is modified). */
static int check_item(char *w, char *err, size_t len)
{
	char *colon = strchr(w, ':');
	bool known = false, iters;
	uint64_t n;

	if (!colon) {
		snprintf(err, len, "'%s' is not NAME:MIB", w);
		return -EINVAL;
	}
	*colon = 0;
	for (size_t i = 0; i < NWORKLOADS; i++)
		known |= !strcmp(w, workloads[i]);
	if (!known) {
		snprintf(err, len, "unknown workload '%s' (balloon_out, balloon_in, disk_read, "
			 "disk_write, pv, dmalayer, domu, net_tx, net_rx, blk_read, blk_write, "
			 "pblk_read, pblk_write, domu_bad, ghook, gpv, gdma)", w);
		return -EINVAL;
	}
	iters = xenboot_work_iters(w);
	if (iters && (parse_arg(colon + 1, &n) || !n || n > 100000)) {
		snprintf(err, len, "'%s' for %s is not 1..100000 iterations", colon + 1, w);
		return -EINVAL;
	}
	if (!iters && (parse_arg(colon + 1, &n) || !n || n > 1024)) {
		snprintf(err, len, "'%s' for %s is not 1..1024 MiB", colon + 1, w);
		return -EINVAL;
	}
	if (!iters && (!strncmp(w, "disk_", 5) || strstr(w, "blk_")) && n > 256) {
		snprintf(err, len, "%s: the disk holds 256 MiB", w);
		return -EINVAL;
	}
	return 0;
}

/* A workload that runs in (or with) the domU. */
static bool is_domu_work(const char *w)
{
	return !strncmp(w, "net_", 4) || strstr(w, "blk_") || !strcmp(w, "domu_bad") ||
	       !strcmp(w, "ghook") || !strcmp(w, "gpv") || !strcmp(w, "gdma");
}

int xenboot_check_work(const char *list, char *err, size_t errlen)
{
	char buf[512], *save = NULL, *w;
	bool domu = false;

	if (strlen(list) >= sizeof(buf) || !*list) {
		snprintf(err, errlen, "empty or too long");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	for (w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (check_item(w, err, errlen))
			return -EINVAL;
		/* check_item() cut w at its colon. */
		if (!strcmp(w, "domu")) {
			if (domu) {
				snprintf(err, errlen, "domu twice: there is one domU per boot");
				return -EINVAL;
			}
			domu = true;
			if (strtoull(w + 5, NULL, 10) < 64) {
				snprintf(err, errlen, "domu:%s: a domU needs 64..1024 MiB", w + 5);
				return -EINVAL;
			}
		} else if (is_domu_work(w) && !domu) {
			snprintf(err, errlen, "%s needs domu:MIB before it (the domU it runs in)", w);
			return -EINVAL;
		}
	}
	if (strchr(list, ' ') || strstr(list, ",,") || list[strlen(list) - 1] == ',') {
		snprintf(err, errlen, "'%s' is not NAME:MIB[,NAME:MIB...]", list);
		return -EINVAL;
	}
	return 0;
}

char *xenboot_work_relaxed(const char *list, char *buf, size_t len)
{
	char tmp[512], *save = NULL, *w;
	size_t n = 0;

	buf[0] = 0;
	snprintf(tmp, sizeof(tmp), "%s", list);
	for (w = strtok_r(tmp, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strncmp(w, "pv:", 3) || !strncmp(w, "dmalayer:", 9) || !strncmp(w, "gpv:", 4) ||
		    !strncmp(w, "gdma:", 5))
			continue;
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? "," : "", w);
	}
	return buf;
}

const char *xenboot_patch_dir(void)
{
	const char *d = getenv("IOB_XEN_PATCHES");
	char probe[PATH_MAX];

	if (!d || !*d)
		d = IOB_XEN_PATCH_DIR;
	snprintf(probe, sizeof(probe), "%s/build.sh", d);
	return *d && proc_is_file(probe) ? d : NULL;
}

int xenboot_build(const char *patches, const char *out, const char *counters,
		  const char *jobs)
{
	char script[PATH_MAX];
	char *argv[10];
	int n = 0;

	snprintf(script, sizeof(script), "%s/build.sh", patches);
	argv[n++] = script;
	argv[n++] = "--out";
	argv[n++] = (char *)out;
	argv[n++] = "--counters";
	argv[n++] = (char *)counters;
	if (jobs) {
		argv[n++] = "--jobs";
		argv[n++] = (char *)jobs;
	}
	argv[n] = NULL;
	return proc_run(argv, NULL, false);
}

const char *xenboot_version(const char *out, char *buf, size_t len)
{
	char p[PATH_MAX];
	FILE *f;

	snprintf(buf, len, "unknown");
	snprintf(p, sizeof(p), "%s/src/.iob-fetched", out);
	f = fopen(p, "r");
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
	return buf;
}

int xenboot_run(const struct xenboot_cfg *c, struct xenlog *lg, char *err, size_t errlen)
{
	char script[PATH_MAX];
	char *argv[] = { script, "--xen", (char *)c->xen, "--work", (char *)c->work_dir,
			 "--log", (char *)c->log, "--work-list", (char *)c->work_list,
			 "--xen-args", (char *)c->xen_args, "--smp", (char *)c->smp,
			 "--timeout", (char *)c->timeout_s, NULL };
	int ret;

	memset(lg, 0, sizeof(*lg));
	snprintf(script, sizeof(script), "%s/boot.sh", c->patches);
	ret = proc_run(argv, NULL, false);
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", script, strerror(-ret));
		return ret;
	}
	if (ret) {
		snprintf(err, errlen, "the boot failed (boot.sh exit %d); log: %s", ret, c->log);
		return -EIO;
	}
	ret = xenlog_read(c->log, lg, err, errlen);
	if (ret)
		return ret;
	if (!lg->amdvi_enabled || (c->relaxed ? !lg->dom0_relaxed : !lg->dom0_strict)) {
		snprintf(err, errlen, "%s: AMD-Vi %s, dom0 %s (wanted %s)", c->log,
			 lg->amdvi_enabled ? "enabled" : "not enabled",
			 lg->dom0_strict ? "strict" : lg->dom0_relaxed ? "relaxed" : "neither",
			 c->relaxed ? "relaxed" : "strict");
		return -EINVAL;
	}
	return 0;
}
