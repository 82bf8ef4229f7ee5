// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob xen: the real hypervisor. Debian's Xen 4.17 with the series in
 * hv-patches/xen-4.17/ (cycle counters on the IOMMU paths, batched
 * invalidation), booted under QEMU with the emulated AMD IOMMU and a
 * strict PV dom0.
 *
 *   iob xen build [--out DIR] [--counters on|off|both] [--jobs N]
 *       fetch (apt, pinned), patch and build: hv-patches/xen-4.17/build.sh
 *   iob xen run [--out DIR] [--tunings LIST] [--work LIST] [--smp N]
 *               [--timeout S] [--results DIR] [--label NAME] [--no-plot]
 *       one boot per tuning (hv-patches/xen-4.17/boot.sh), the dom0
 *       workloads in each, counters parsed into a run folder
 *   iob xen import [--tuning NAME] [--results DIR] [--label NAME] LOG...
 *       a run folder from logs taken elsewhere (a real AMD host: the
 *       output of `iob-xenctl pathctr dump`, or `xl dmesg` after debug
 *       key 'j'; docs/xen.md)
 *
 * The dom0 (guest-workloads/xen/iob_xenctl.c) prints, per workload,
 * "iob-dom0-path,<workload>,<path>,<count>,<total>,<min>,<max>,<64 log2
 * buckets>" (the path counter record of docs/csv-schema.md) and
 * "iob-dom0-event,<workload>,<event>,<n>"; Xen's debug key 'j' prints the
 * same records as "(XEN) iob-path,...". Both are read here; every record
 * is checked (its histogram must add up to its count) before a file is
 * written.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <iob/host.h>
#include <iob/results.h>

#include "iob.h"
#include "plot.h"
#include "util.h"

#ifndef IOB_XEN_PATCH_DIR
#define IOB_XEN_PATCH_DIR ""
#endif

static const char xen_usage[] =
	"usage: iob xen build [--out DIR] [--counters on|off|both] [--jobs N]\n"
	"       iob xen run [--out DIR] [--tunings LIST] [--work LIST] [--smp N]\n"
	"                   [--timeout S] [--results DIR] [--label NAME] [--no-plot]\n"
	"       iob xen import [--tuning NAME] [--results DIR] [--label NAME] LOG...\n"
	"\n"
	"  --out DIR       where Xen is fetched and built (build-xen; $IOB_XEN_DIR)\n"
	"  --tunings LIST  comma-separated: baseline (strict, per-page flush),\n"
	"                  batch (iommu-batch: one flush per batch, frames freed after it),\n"
	"                  lazy (iommu-fq=4096,10: a flush queue of 4096 frames, 10 ms)\n"
	"                  (baseline,batch,lazy)\n"
	"  --work LIST     dom0 workloads, comma-separated NAME:ARG, run in order:\n"
	"                  balloon_out:MIB, balloon_in:MIB, disk_read:MIB, disk_write:MIB,\n"
	"                  pv:N (interface checks, then N x map+unmap of 16 frames),\n"
	"                  dmalayer:N (N x dma_map+dma_unmap of 16 frames); pv and\n"
	"                  dmalayer need balloon headroom (after balloon_out)\n"
	"                  (balloon_out:64,pv:500,dmalayer:500,balloon_in:64,disk_read:32,\n"
	"                  disk_write:32)\n"
	"  --smp N         QEMU CPUs, 1..8 (2)\n"
	"  --timeout S     per boot, 30..7200 seconds (900)\n"
	"  --results DIR   where the run folder goes (results)\n"
	"  --label NAME    run folder label (xen)\n"
	"\n"
	"The scripts are found in $IOB_XEN_PATCHES, else in the source tree iob was built from.\n"
	"Writes xen.csv (per tuning x workload: completion waits, flush decisions, ...),\n"
	"xen_paths.csv (the path counter records) and meta.json; docs/xen.md.\n";

/* The tunings and the Xen command line words that select them. */
static const struct {
	const char *name;
	const char *xen_args;
	const char *doc;
} tunings[] = {
	{ "baseline", "", "strict: one flush and completion wait per 4K unmap" },
	{ "batch", "iommu-batch", "one flush per decrease_reservation chunk / grant-unmap batch, "
				  "power-of-two ranges, frames freed after the flush" },
	{ "lazy", "iommu-fq=4096,10", "flush queue: flush when 4096 frames wait or after 10 ms, "
				      "frames freed after the flush" },
};
#define NTUNINGS (sizeof(tunings) / sizeof(tunings[0]))

static const char *const workloads[] = {
	"balloon_out", "balloon_in", "disk_read", "disk_write", "pv", "dmalayer",
};
#define NWORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

#define XEN_LOG2 64
#define XEN_MAX_PATHS 32
#define XEN_MAX_EVENTS 32
#define XEN_MAX_DUMPS 64

struct xen_rec {
	char path[32];
	uint64_t count, total, min, max;
	uint64_t log2[XEN_LOG2];
};

/* One dump of the counters: after a dom0 workload, or the console's. */
struct xen_dump {
	char label[64];		/* the workload, or "console" */
	char tuning[64];	/* as Xen reports it */
	char arg[24];		/* the workload's argument (MiB) */
	int wl_rc;		/* the workload's status in dom0, -1 unknown */
	uint64_t tsc_khz;
	unsigned npaths, nevents;
	struct xen_rec recs[XEN_MAX_PATHS];
	char evname[XEN_MAX_EVENTS][32];
	uint64_t ev[XEN_MAX_EVENTS];
	bool complete;
};

struct xen_log {
	unsigned ndumps;
	struct xen_dump dumps[XEN_MAX_DUMPS];
	bool amdvi_enabled, dom0_strict, dom0_done;
};

static int split(char *s, char **f, int max)
{
	int n = 0;

	for (;;) {
		if (n == max)
			return -1;
		f[n++] = s;
		s = strchr(s, ',');
		if (!s)
			return n;
		*s++ = 0;
	}
}

static int u64_field(const char *s, uint64_t *v)
{
	return try_parse_u64(s, v);
}

static int rec_parse(struct xen_rec *r, char **f, char *err, size_t len)
{
	uint64_t sum = 0;

	if (strlen(f[0]) >= sizeof(r->path) || !*f[0]) {
		snprintf(err, len, "bad path name");
		return -1;
	}
	snprintf(r->path, sizeof(r->path), "%s", f[0]);
	if (u64_field(f[1], &r->count) || u64_field(f[2], &r->total) ||
	    u64_field(f[3], &r->min) || u64_field(f[4], &r->max)) {
		snprintf(err, len, "path %s: a field is not a number", r->path);
		return -1;
	}
	for (int i = 0; i < XEN_LOG2; i++) {
		if (u64_field(f[5 + i], &r->log2[i])) {
			snprintf(err, len, "path %s: log2_%d is not a number", r->path, i);
			return -1;
		}
		sum += r->log2[i];
	}
	if (sum != r->count) {
		snprintf(err, len, "path %s: histogram holds %" PRIu64 " samples, count is %" PRIu64,
			 r->path, sum, r->count);
		return -1;
	}
	if (r->count && (r->min > r->max || r->total < r->max)) {
		snprintf(err, len, "path %s: min, max and total disagree", r->path);
		return -1;
	}
	return 0;
}

static struct xen_dump *dump_new(struct xen_log *lg, const char *label, const char *arg, int rc)
{
	struct xen_dump *d;

	if (lg->ndumps == XEN_MAX_DUMPS)
		return NULL;
	d = &lg->dumps[lg->ndumps++];
	memset(d, 0, sizeof(*d));
	snprintf(d->label, sizeof(d->label), "%s", label);
	snprintf(d->arg, sizeof(d->arg), "%s", arg ? arg : "");
	d->wl_rc = rc;
	return d;
}

static const char *kv(const char *field, const char *key)
{
	size_t n = strlen(key);

	return !strncmp(field, key, n) && field[n] == '=' ? field + n + 1 : NULL;
}

/*
 * xen_log_parse() - Read a console log (or a dom0 program's output).
 * Return: 0, or -1 with "line N: reason" in @err.
 */
static int xen_log_parse(const char *path, struct xen_log *lg, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *fld[96], why[160];
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	struct xen_dump *cur = NULL, *con = NULL;
	char wl[64] = "", wl_arg[24] = "";
	int wl_rc = -1;

	memset(lg, 0, sizeof(*lg));
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *s = line;
		int nf;

		lineno++;
		while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
			s[--n] = 0;
		if (strstr(s, "AMD-Vi: IOMMU ") && strstr(s, " Enabled"))
			lg->amdvi_enabled = true;
		if (strstr(s, "Dom0 mode: Strict"))
			lg->dom0_strict = true;
		if (!strncmp(s, "(XEN) ", 6))
			s += 6;
		if (strncmp(s, "iob-", 4))
			continue;
		nf = split(s, fld, 96);
		why[0] = 0;
		if (!strcmp(fld[0], "iob-dom0-done")) {
			lg->dom0_done = true;
		} else if (!strcmp(fld[0], "iob-wl-begin") && nf == 3) {
			snprintf(wl, sizeof(wl), "%s", fld[1]);
			snprintf(wl_arg, sizeof(wl_arg), "%s", fld[2]);
			wl_rc = -1;
		} else if (!strcmp(fld[0], "iob-wl-end") && nf == 3 && kv(fld[2], "rc")) {
			wl_rc = atoi(kv(fld[2], "rc"));
		} else if (!strcmp(fld[0], "iob-dom0-begin") && nf >= 4) {
			cur = dump_new(lg, fld[1], !strcmp(fld[1], wl) ? wl_arg : "",
				       !strcmp(fld[1], wl) ? wl_rc : -1);
			if (!cur) {
				snprintf(why, sizeof(why), "more than %d dumps", XEN_MAX_DUMPS);
			} else {
				for (int i = 2; i < nf; i++) {
					if (kv(fld[i], "tsc_khz"))
						try_parse_u64(kv(fld[i], "tsc_khz"), &cur->tsc_khz);
					if (kv(fld[i], "tuning"))
						snprintf(cur->tuning, sizeof(cur->tuning), "%s",
							 kv(fld[i], "tuning"));
				}
			}
		} else if (!strcmp(fld[0], "iob-dom0-path")) {
			if (nf != 3 + 4 + XEN_LOG2)
				snprintf(why, sizeof(why), "a path record has %d fields, not %d", nf,
					 3 + 4 + XEN_LOG2);
			else if (!cur || strcmp(cur->label, fld[1]) || cur->complete)
				snprintf(why, sizeof(why), "path record outside its dump");
			else if (cur->npaths == XEN_MAX_PATHS)
				snprintf(why, sizeof(why), "too many paths");
			else
				rec_parse(&cur->recs[cur->npaths++], fld + 2, why, sizeof(why));
		} else if (!strcmp(fld[0], "iob-dom0-event")) {
			if (nf != 4 || !cur || strcmp(cur->label, fld[1]) || cur->complete ||
			    cur->nevents == XEN_MAX_EVENTS || strlen(fld[2]) >= 32 ||
			    try_parse_u64(fld[3], &cur->ev[cur->nevents]))
				snprintf(why, sizeof(why), "malformed event record");
			else
				snprintf(cur->evname[cur->nevents++], 32, "%s", fld[2]);
		} else if (!strcmp(fld[0], "iob-dom0-end") && nf == 2) {
			if (!cur || strcmp(cur->label, fld[1]))
				snprintf(why, sizeof(why), "end of a dump that did not begin");
			else
				cur->complete = true;
		} else if (!strcmp(fld[0], "iob-begin")) {
			/* Debug key 'j': a dump of the counters since the last reset. */
			con = dump_new(lg, "console", NULL, -1);
			if (!con) {
				snprintf(why, sizeof(why), "more than %d dumps", XEN_MAX_DUMPS);
			} else {
				for (int i = 1; i < nf; i++) {
					if (kv(fld[i], "tsc_khz"))
						try_parse_u64(kv(fld[i], "tsc_khz"), &con->tsc_khz);
					if (kv(fld[i], "tuning"))
						snprintf(con->tuning, sizeof(con->tuning), "%s",
							 kv(fld[i], "tuning"));
				}
			}
		} else if (!strcmp(fld[0], "iob-path")) {
			if (nf != 2 + 4 + XEN_LOG2)
				snprintf(why, sizeof(why), "a console path record has %d fields, not %d",
					 nf, 2 + 4 + XEN_LOG2);
			else if (!con || con->complete)
				snprintf(why, sizeof(why), "console path record outside its dump");
			else if (con->npaths == XEN_MAX_PATHS)
				snprintf(why, sizeof(why), "too many paths");
			else
				rec_parse(&con->recs[con->npaths++], fld + 1, why, sizeof(why));
		} else if (!strcmp(fld[0], "iob-event")) {
			if (nf != 3 || !con || con->complete || con->nevents == XEN_MAX_EVENTS ||
			    strlen(fld[1]) >= 32 || try_parse_u64(fld[2], &con->ev[con->nevents]))
				snprintf(why, sizeof(why), "malformed console event record");
			else
				snprintf(con->evname[con->nevents++], 32, "%s", fld[1]);
		} else if (!strcmp(fld[0], "iob-end")) {
			if (!con)
				snprintf(why, sizeof(why), "end of a console dump that did not begin");
			else
				con->complete = true;
		}
		if (why[0]) {
			snprintf(err, errlen, "%s: line %u: %s", path, lineno, why);
			free(line);
			fclose(f);
			return -1;
		}
	}
	free(line);
	fclose(f);
	for (unsigned i = 0; i < lg->ndumps; i++) {
		if (!lg->dumps[i].complete) {
			snprintf(err, errlen, "%s: the dump of '%s' is cut short", path,
				 lg->dumps[i].label);
			return -1;
		}
	}
	return 0;
}

static const struct xen_rec *dump_rec(const struct xen_dump *d, const char *path)
{
	for (unsigned i = 0; i < d->npaths; i++)
		if (!strcmp(d->recs[i].path, path))
			return &d->recs[i];
	return NULL;
}

static uint64_t dump_count(const struct xen_dump *d, const char *path)
{
	const struct xen_rec *r = dump_rec(d, path);

	return r ? r->count : 0;
}

static uint64_t dump_total(const struct xen_dump *d, const char *path)
{
	const struct xen_rec *r = dump_rec(d, path);

	return r ? r->total : 0;
}

static uint64_t dump_ev(const struct xen_dump *d, const char *name)
{
	for (unsigned i = 0; i < d->nevents; i++)
		if (!strcmp(d->evname[i], name))
			return d->ev[i];
	return 0;
}

/* ---- the run folder ---------------------------------------------------- */

/* The event columns of xen.csv, in the order of IOB_EVENTS. */
static const char *const event_cols[] = {
	"pt_alloc", "pt_shatter", "flush_none", "flush_order0", "flush_order9", "flush_order18",
	"flush_all", "flush_range", "inv_pages_cmds", "batch_flushes", "deferred_frees",
	"fq_queued", "fq_full", "fq_timeout",
};
#define NEVCOLS (sizeof(event_cols) / sizeof(event_cols[0]))

struct xen_out {
	struct csv *runs, *paths;
	char dir[PATH_MAX];
};

static void paths_header(struct csv *c)
{
	char cols[2048];
	size_t n = (size_t)snprintf(cols, sizeof(cols),
				    "tuning,workload,path,count,total_cyc,min_cyc,max_cyc,"
				    "mean_cyc,mean_ns");

	for (int b = 0; b < XEN_LOG2; b++)
		n += (size_t)snprintf(cols + n, sizeof(cols) - n, ",log2_%d", b);
	csv_header(c, cols);
}

static void runs_header(struct csv *c)
{
	char cols[1024];
	size_t n = (size_t)snprintf(cols, sizeof(cols),
				    "tuning,workload,mib,iterations,status,xen_tuning,xen_tsc_khz,hypercalls,hypercall_cyc,"
				    "hypercall_cyc_per_page,balloon_pages,populate_pages,"
				    "iommu_unmaps,iommu_maps,completion_waits,completion_waits_per_mib,"
				    "cmd_submits,flush_decisions");

	for (size_t i = 0; i < NEVCOLS; i++)
		n += (size_t)snprintf(cols + n, sizeof(cols) - n, ",%s", event_cols[i]);
	csv_header(c, cols);
}

static void write_dump(struct xen_out *o, const char *tuning, const struct xen_dump *d)
{
	double khz = d->tsc_khz ? (double)d->tsc_khz : 0;

	for (unsigned p = 0; p < d->npaths; p++) {
		const struct xen_rec *r = &d->recs[p];
		char hist[XEN_LOG2 * 21 + 1];
		size_t n = 0;
		double mean = r->count ? (double)r->total / (double)r->count : 0;

		for (int b = 0; b < XEN_LOG2; b++)
			n += (size_t)snprintf(hist + n, sizeof(hist) - n, ",%" PRIu64, r->log2[b]);
		csv_row(o->paths, "%s,%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.1f,%.1f%s",
			tuning, d->label, r->path, r->count, r->total,
			r->count ? r->min : UINT64_MAX, r->max, mean,
			khz ? mean * 1e6 / khz : 0.0, hist);
	}
	if (!strcmp(d->label, "console"))
		return;
	{
		char ev[NEVCOLS * 22 + 1];
		size_t n = 0;
		bool iters = !strcmp(d->label, "pv") || !strcmp(d->label, "dmalayer");
		uint64_t arg = strtoull(d->arg, NULL, 10), mib = iters ? 0 : arg;
		uint64_t pages = iters ? arg * 16 : mib * 256, hc = dump_total(d, "hypercall");
		uint64_t waits = dump_count(d, "completion_wait");

		for (size_t i = 0; i < NEVCOLS; i++)
			n += (size_t)snprintf(ev + n, sizeof(ev) - n, ",%" PRIu64,
					      dump_ev(d, event_cols[i]));
		csv_row(o->runs, "%s,%s,%" PRIu64 ",%" PRIu64 ",%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.1f,%" PRIu64
			",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.2f,%" PRIu64 ",%" PRIu64 "%s",
			tuning, d->label, mib, iters ? arg : 0, d->wl_rc == 0 ? "ok" : "failed",
			d->tuning[0] ? d->tuning : "unknown", d->tsc_khz, dump_count(d, "hypercall"), hc,
			pages ? (double)hc / (double)pages : 0.0, dump_count(d, "balloon"),
			dump_count(d, "populate"), dump_count(d, "unmap"), dump_count(d, "map"),
			waits, mib ? (double)waits / (double)mib : 0.0, dump_count(d, "cmd_submit"),
			dump_count(d, "flush_decision"), ev);
	}
}

static struct csv *open_csv(const char *dir, const struct results_env *env, const char *name,
			    const char *family, const char *note, const char *extra_key,
			    const char *extra_val)
{
	struct csv *c;
	int ret = csv_open(dir, name, env, &c);

	if (ret)
		run_error("xen: %s/%s: %s", dir, name, strerror(-ret));
	csv_meta(c, "family", "%s", family);
	csv_meta(c, "note", "%s", note);
	if (extra_key)
		csv_meta(c, extra_key, "%s", extra_val);
	return c;
}

static void out_open(struct xen_out *o, const char *dir, const struct results_env *env,
		     const char *source, const char *xen_version)
{
	snprintf(o->dir, sizeof(o->dir), "%s", dir);
	o->runs = open_csv(dir, env, "xen.csv", "xen",
			   "one row per tuning x dom0 workload; counts from the patched Xen's path "
			   "counters (hv-patches/xen-4.17) reset before the workload and read after it; "
			   "event columns as IOB_EVENTS; cycles are Xen's TSC (xen_tsc_khz)",
			   "source", source);
	csv_meta(o->runs, "xen_version", "%s", xen_version);
	runs_header(o->runs);
	o->paths = open_csv(dir, env, "xen_paths.csv", "xen_paths",
			    "path counter records (docs/csv-schema.md) summed over Xen's CPUs; "
			    "workload=console: debug key 'j' at the end of the boot",
			    "source", source);
	csv_meta(o->paths, "xen_version", "%s", xen_version);
	paths_header(o->paths);
}

static void out_close(struct xen_out *o)
{
	int ret = csv_close(o->runs);

	if (!ret)
		ret = csv_close(o->paths);
	if (ret)
		run_error("xen: closing a CSV: %s", strerror(-ret));
}

/* ---- helpers ------------------------------------------------------------ */

static const char *patch_dir(void)
{
	const char *d = getenv("IOB_XEN_PATCHES");
	static char buf[PATH_MAX];
	struct stat st;

	if (!d || !*d)
		d = IOB_XEN_PATCH_DIR;
	snprintf(buf, sizeof(buf), "%s/build.sh", d);
	if (!*d || stat(buf, &st))
		run_error("xen: the scripts of hv-patches/xen-4.17 are not at '%s': set IOB_XEN_PATCHES",
			  d);
	return d;
}

static int do_build(const char *out, const char *counters, const char *jobs)
{
	char script[PATH_MAX];
	char *argv[10];
	int n = 0;

	snprintf(script, sizeof(script), "%s/build.sh", patch_dir());
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
	return host_run(argv, NULL, false);
}

static const char *default_out(void)
{
	const char *d = getenv("IOB_XEN_DIR");

	return d && *d ? d : "build-xen";
}

static int tuning_find(const char *name)
{
	for (size_t i = 0; i < NTUNINGS; i++)
		if (!strcmp(tunings[i].name, name))
			return (int)i;
	return -1;
}

static void check_label(const char *label)
{
	if (!*label || strlen(label) > 64)
		usage_error("--label: 1 to 64 characters");
	for (const char *s = label; *s; s++)
		if (!(*s == '.' || *s == '_' || *s == '-' || (*s >= '0' && *s <= '9') ||
		      (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			usage_error("--label: '%s' may hold only letters, digits, '.', '_', '-'", label);
}

/* Check a --work list: NAME:MIB[,NAME:MIB...] with known names, 1..1024 MiB. */
static void check_work(const char *list)
{
	char buf[512], *save = NULL, *w;

	if (strlen(list) >= sizeof(buf) || !*list)
		usage_error("--work: empty or too long");
	snprintf(buf, sizeof(buf), "%s", list);
	for (w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(w, ':');
		uint64_t mib;
		bool known = false;

		if (!colon)
			usage_error("--work: '%s' is not NAME:MIB", w);
		*colon = 0;
		for (size_t i = 0; i < NWORKLOADS; i++)
			known |= !strcmp(w, workloads[i]);
		if (!known)
			usage_error("--work: unknown workload '%s' (balloon_out, balloon_in, disk_read, "
				    "disk_write, pv, dmalayer)", w);
		if (!strcmp(w, "pv") || !strcmp(w, "dmalayer")) {
			if (try_parse_u64(colon + 1, &mib) || !mib || mib > 100000)
				usage_error("--work: '%s' for %s is not 1..100000 iterations",
					    colon + 1, w);
			continue;
		}
		if (try_parse_u64(colon + 1, &mib) || !mib || mib > 1024)
			usage_error("--work: '%s' for %s is not 1..1024 MiB", colon + 1, w);
		if (!strncmp(w, "disk_", 5) && mib > 256)
			usage_error("--work: %s: the disk holds 256 MiB", w);
	}
	if (strchr(list, ' ') || strstr(list, ",,") || list[strlen(list) - 1] == ',')
		usage_error("--work: '%s' is not NAME:MIB[,NAME:MIB...]", list);
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static const char *xen_version_of(const char *out)
{
	static char v[128];
	char p[PATH_MAX];
	FILE *f;

	snprintf(v, sizeof(v), "unknown");
	snprintf(p, sizeof(p), "%s/src/.iob-fetched", out);
	f = fopen(p, "r");
	if (f) {
		if (fgets(v, sizeof(v), f))
			v[strcspn(v, "\n")] = 0;
		fclose(f);
	}
	return v;
}

static void write_meta(const char *dir, const struct results_env *env, const char *label,
		       const char *xen_version, json_t *boots, double secs)
{
	json_t *root = json_object(), *files = json_array();
	char path[PATH_MAX], tmp[PATH_MAX];

	json_object_set_new(root, "schema_version", json_integer(RESULTS_SCHEMA_VERSION));
	json_object_set_new(root, "date", json_string(env->date));
	json_object_set_new(root, "git_commit", json_string(env->git_commit));
	json_object_set_new(root, "host", json_string(env->host));
	json_object_set_new(root, "cpu", json_string(env->cpu));
	json_object_set_new(root, "kernel", json_string(env->kernel));
	json_object_set_new(root, "command", json_string(env->command));
	json_object_set_new(root, "label", json_string(label));
	json_object_set_new(root, "substrate", json_string("xen"));
	json_object_set_new(root, "xen_version", json_string(xen_version));
	json_object_set_new(root, "boots", boots);
	json_object_set_new(root, "duration_s", json_real(secs));
	json_array_append_new(files, json_string("xen.csv"));
	json_array_append_new(files, json_string("xen_paths.csv"));
	json_object_set_new(root, "files", files);
	snprintf(path, sizeof(path), "%s/meta.json", dir);
	snprintf(tmp, sizeof(tmp), "%s/meta.json.tmp", dir);
	if (json_dump_file(root, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) || rename(tmp, path))
		run_error("xen: %s: cannot write", path);
	json_decref(root);
}

/* ---- subcommands -------------------------------------------------------- */

static int cmd_build(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "counters", required_argument, NULL, 'c' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = default_out(), *counters = "on", *jobs = NULL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'c':
			if (strcmp(optarg, "on") && strcmp(optarg, "off") && strcmp(optarg, "both"))
				usage_error("--counters: '%s' is not on, off or both", optarg);
			counters = optarg;
			break;
		case 'j': {
			uint64_t j;

			if (try_parse_u64(optarg, &j) || !j || j > 256)
				usage_error("--jobs: '%s' is not 1..256", optarg);
			jobs = optarg;
			break;
		}
		case 'h': fputs(xen_usage, stdout); return 0;
		default: usage_error("xen build: bad option (see `iob xen --help`)");
		}
	}
	if (optind < argc)
		usage_error("xen build: unexpected argument '%s'", argv[optind]);
	if (strcmp(counters, "off")) {
		rc = do_build(out, "on", jobs);
		if (rc)
			run_error("xen build: build.sh --counters on failed (%d)", rc);
	}
	if (strcmp(counters, "on")) {
		rc = do_build(out, "off", jobs);
		if (rc)
			run_error("xen build: build.sh --counters off failed (%d)", rc);
	}
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "tunings", required_argument, NULL, 't' },
		{ "work", required_argument, NULL, 'w' },
		{ "smp", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "results", required_argument, NULL, 'r' },
		{ "label", required_argument, NULL, 'l' },
		{ "no-plot", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = default_out();
	const char *work = "balloon_out:64,pv:500,dmalayer:500,balloon_in:64,disk_read:32,disk_write:32";
	const char *results = "results", *label = "xen", *smp = "2", *timeout = "900";
	char tlist[256] = "baseline,batch,lazy", final[PATH_MAX], xen[PATH_MAX], scratch[1024];
	bool plot = true;
	int sel[NTUNINGS], nsel = 0, c, ret, failed = 0;
	struct results_env env;
	struct rundir *rd;
	struct xen_out o;
	static struct xen_log lg;
	json_t *boots = json_array();
	double t_start = host_now_s();
	uint64_t v;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 't':
			if (strlen(optarg) >= sizeof(tlist))
				usage_error("--tunings: too long");
			snprintf(tlist, sizeof(tlist), "%s", optarg);
			break;
		case 'w': work = optarg; break;
		case 's':
			if (try_parse_u64(optarg, &v) || !v || v > 8)
				usage_error("--smp: '%s' is not 1..8", optarg);
			smp = optarg;
			break;
		case 'T':
			if (try_parse_u64(optarg, &v) || v < 30 || v > 7200)
				usage_error("--timeout: '%s' is not 30..7200 seconds", optarg);
			timeout = optarg;
			break;
		case 'r': results = optarg; break;
		case 'l': label = optarg; break;
		case 'P': plot = false; break;
		case 'h': fputs(xen_usage, stdout); return 0;
		default: usage_error("xen run: bad option (see `iob xen --help`)");
		}
	}
	if (optind < argc)
		usage_error("xen run: unexpected argument '%s'", argv[optind]);
	check_label(label);
	check_work(work);
	{
		char *save = NULL, *t;

		for (t = strtok_r(tlist, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			int i = tuning_find(t);

			if (i < 0)
				usage_error("--tunings: unknown tuning '%s' (baseline, batch, lazy)", t);
			for (int k = 0; k < nsel; k++)
				if (sel[k] == i)
					usage_error("--tunings: '%s' twice", t);
			sel[nsel++] = i;
		}
		if (!nsel)
			usage_error("--tunings: empty");
	}

	ret = do_build(out, "on", NULL);
	if (ret)
		run_error("xen run: building Xen failed (build.sh exit %d)", ret);
	snprintf(xen, sizeof(xen), "%s/xen-counters-on", out);

	snprintf(scratch, sizeof(scratch), "%s/iob-xen-XXXXXX",
		 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(scratch))
		run_error("xen run: %s: %s", scratch, strerror(errno));
	results_env_collect(&env, argc + 1, argv - 1, 0);
	ret = rundir_create(results, label, &env, &rd);
	if (ret)
		run_error("%s: cannot create the run folder: %s", results, strerror(-ret));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	out_open(&o, rundir_path(rd), &env, "qemu", xen_version_of(out));

	for (int k = 0; k < nsel && !interrupted; k++) {
		const char *tn = tunings[sel[k]].name;
		char log[PATH_MAX], work_dir[PATH_MAX], script[PATH_MAX], err[512];
		char *bargv[20];
		int n = 0;
		double t0 = host_now_s();
		json_t *b = json_object();

		snprintf(log, sizeof(log), "%s/console-%s.log", rundir_path(rd), tn);
		snprintf(work_dir, sizeof(work_dir), "%s/%s", scratch, tn);
		snprintf(script, sizeof(script), "%s/boot.sh", patch_dir());
		bargv[n++] = script;
		bargv[n++] = "--xen";
		bargv[n++] = xen;
		bargv[n++] = "--work";
		bargv[n++] = work_dir;
		bargv[n++] = "--log";
		bargv[n++] = log;
		bargv[n++] = "--work-list";
		bargv[n++] = (char *)work;
		bargv[n++] = "--xen-args";
		bargv[n++] = (char *)tunings[sel[k]].xen_args;
		bargv[n++] = "--smp";
		bargv[n++] = (char *)smp;
		bargv[n++] = "--timeout";
		bargv[n++] = (char *)timeout;
		bargv[n] = NULL;
		fprintf(stderr, "iob xen: booting Xen (%s): %s\n", tn, work);
		ret = host_run(bargv, NULL, false);
		json_object_set_new(b, "tuning", json_string(tn));
		json_object_set_new(b, "xen_args", json_string(tunings[sel[k]].xen_args));
		json_object_set_new(b, "seconds", json_real(host_now_s() - t0));
		if (ret) {
			json_object_set_new(b, "status", json_string("failed"));
			json_array_append_new(boots, b);
			fprintf(stderr, "iob xen: the %s boot failed (boot.sh exit %d); log: %s\n",
				tn, ret, log);
			failed++;
			break;
		}
		if (xen_log_parse(log, &lg, err, sizeof(err))) {
			json_object_set_new(b, "status", json_string("failed"));
			json_array_append_new(boots, b);
			fprintf(stderr, "iob xen: %s\n", err);
			failed++;
			break;
		}
		if (!lg.amdvi_enabled || !lg.dom0_strict) {
			json_object_set_new(b, "status", json_string("failed"));
			json_array_append_new(boots, b);
			fprintf(stderr, "iob xen: %s: AMD-Vi %s, dom0 %s\n", log,
				lg.amdvi_enabled ? "enabled" : "not enabled",
				lg.dom0_strict ? "strict" : "not strict");
			failed++;
			break;
		}
		for (unsigned i = 0; i < lg.ndumps; i++) {
			write_dump(&o, tn, &lg.dumps[i]);
			if (strcmp(lg.dumps[i].label, "console") && lg.dumps[i].wl_rc != 0) {
				fprintf(stderr, "iob xen: %s: workload %s failed in dom0\n", tn,
					lg.dumps[i].label);
				failed++;
			}
		}
		json_object_set_new(b, "status", json_string(failed ? "failed" : "ok"));
		json_object_set_new(b, "dumps", json_integer(lg.ndumps));
		json_array_append_new(boots, b);
		if (failed)
			break;
	}
	{
		char *rm[] = { "rm", "-rf", "--", scratch, NULL };

		host_run(rm, NULL, false);
	}
	if (interrupted || failed) {
		csv_discard(o.runs);
		csv_discard(o.paths);
		json_decref(boots);
		if (interrupted) {
			rundir_abort(rd);
			fprintf(stderr, "iob xen: interrupted; partial run removed\n");
			return 130;
		}
		/* Hidden name, kept for its console logs: it never looks complete. */
		fprintf(stderr, "iob xen: the run failed; its console logs stay in %s\n",
			rundir_path(rd));
		return 1;
	}
	out_close(&o);
	write_meta(rundir_path(rd), &env, label, xen_version_of(out), boots, host_now_s() - t_start);
	if (plot && cmd_plot_dir(rundir_path(rd), true))
		fprintf(stderr, "iob xen: plotting failed; the CSVs are complete\n");
	ret = rundir_commit(rd, final, sizeof(final));
	if (ret)
		run_error("xen run: cannot rename the run folder into place: %s", strerror(-ret));
	fprintf(stderr, "iob xen: done in %.0f s\n", host_now_s() - t_start);
	printf("%s\n", final);
	return 0;
}

static int cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tuning", required_argument, NULL, 't' },
		{ "results", required_argument, NULL, 'r' },
		{ "label", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tuning = NULL, *results = "results", *label = "xen-host";
	char final[PATH_MAX], err[512];
	struct results_env env;
	struct rundir *rd;
	struct xen_out o;
	static struct xen_log lg;
	int c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			for (const char *s = optarg; *s; s++)
				if (*s == ',' || *s == '\n')
					usage_error("--tuning: '%s' may not hold ',' or newlines", optarg);
			tuning = optarg;
			break;
		case 'r': results = optarg; break;
		case 'l': label = optarg; break;
		case 'h': fputs(xen_usage, stdout); return 0;
		default: usage_error("xen import: bad option (see `iob xen --help`)");
		}
	}
	check_label(label);
	if (optind == argc)
		usage_error("xen import: no log given");
	/* Every log is checked before the folder is made: bad input writes nothing. */
	for (int i = optind; i < argc; i++) {
		if (xen_log_parse(argv[i], &lg, err, sizeof(err)))
			usage_error("xen import: %s", err);
		if (!lg.ndumps)
			usage_error("xen import: %s holds no counter dump (iob-dom0-* or iob-* lines)",
				    argv[i]);
	}
	results_env_collect(&env, argc + 1, argv - 1, 0);
	ret = rundir_create(results, label, &env, &rd);
	if (ret)
		run_error("%s: cannot create the run folder: %s", results, strerror(-ret));
	out_open(&o, rundir_path(rd), &env, "import", "as logged");
	for (int i = optind; i < argc; i++) {
		xen_log_parse(argv[i], &lg, err, sizeof(err));
		for (unsigned k = 0; k < lg.ndumps; k++) {
			struct xen_dump *d = &lg.dumps[k];

			/* An imported dump has no workload status: the operator ran it. */
			if (d->wl_rc < 0)
				d->wl_rc = 0;
			write_dump(&o, tuning ? tuning : (d->tuning[0] ? d->tuning : "unknown"), d);
		}
	}
	out_close(&o);
	write_meta(rundir_path(rd), &env, label, "as logged", json_array(), 0);
	ret = rundir_commit(rd, final, sizeof(final));
	if (ret)
		run_error("xen import: cannot rename the run folder into place: %s", strerror(-ret));
	printf("%s\n", final);
	return 0;
}

int cmd_xen(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(xen_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "build"))
		return cmd_build(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "import"))
		return cmd_import(argc - 1, argv + 1);
	usage_error("xen: unknown subcommand '%s' (build, run, import)", argv[1]);
}
