// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob host: the running Linux kernel's IOMMU, measured on the machine
 * itself (docs/host.md).
 *
 *   iob host info        what the kernel found: IOMMUs and their features,
 *                        groups and their domain types, VFIO, PMU, tracefs
 *   iob host vfio        MAP_DMA/UNMAP_DMA through VFIO, timed per call
 *   iob host phases      the kernel's IOMMU phases timed by kprobes
 *   iob host pmu         the AMD IOMMU PMU's counts around a command
 *   iob host calibrate   a cost-model file from the measured figures
 *   iob host run         all that the host supports, into one run folder
 *
 * Nothing here runs unless asked: the device a command is given is
 * checked (not the root filesystem's, no driver bound unless --bind) and
 * given back as it was found.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iob/cycles.h>
#include <iob/efr.h>
#include <iob/hostinfo.h>

#include "bench.h"
#include "host_cmds.h"
#include "iob.h"
#include "util.h"

static const char host_usage[] =
	"usage: iob host info [--root DIR] [--json FILE]\n"
	"       iob host vfio --device BDF [--bind] [options]   (iob host vfio --help)\n"
	"       iob host dmamap --device BDF [iob dmamap's flags] (iob host dmamap --help)\n"
	"       iob host phases [options] -- CMD [ARGS...]      (iob host phases --help)\n"
	"       iob host pmu [options] -- CMD [ARGS...]\n"
	"       iob host calibrate RUN_DIR\n"
	"       iob host run --device BDF [--bind] [--results DIR] [--label NAME]\n"
	"       iob host reach --device BDF [--bind] [options]  (iob host reach --help)\n"
	"\n"
	"The running kernel's IOMMU on this machine (docs/host.md). Run as root.\n"
	"  info       IOMMUs (AMD cap/features decoded), groups and their domain\n"
	"             types, the kernel command line's IOMMU words, VFIO/iommufd,\n"
	"             the AMD IOMMU PMU, tracefs and kprobes. --json FILE also\n"
	"             writes it as JSON; --root DIR reads a copy of /sys, /proc,\n"
	"             /dev under DIR instead of the machine's.\n"
	"Exit status: 0 ok (also when there is no IOMMU), 1 a step failed, 2 bad usage.\n";

/* ---- info ------------------------------------------------------------------------ */

static json_t *iommu_json(const struct hostinfo_iommu *m)
{
	json_t *o = json_object();
	char buf[512];

	json_object_set_new(o, "name", json_string(m->name));
	json_object_set_new(o, "vendor", json_string(hostinfo_vendor_name(m->vendor)));
	json_object_set_new(o, "devices", json_integer(m->ndevices));
	if (m->vendor == HOSTINFO_AMD && m->regs_ok) {
		const struct efr_info *e = &m->amd;

		snprintf(buf, sizeof(buf), "0x%08x", e->cap);
		json_object_set_new(o, "cap", json_string(buf));
		snprintf(buf, sizeof(buf), "0x%016llx", (unsigned long long)e->efr);
		json_object_set_new(o, "efr", json_string(buf));
		snprintf(buf, sizeof(buf), "0x%016llx", (unsigned long long)e->efr2);
		json_object_set_new(o, "efr2", json_string(buf));
		json_object_set_new(o, "cap_rev", json_integer(e->cap_rev));
		json_object_set_new(o, "np_cache", json_boolean(e->np_cache));
		json_object_set_new(o, "iotlb_sup", json_boolean(e->iotlb_sup));
		json_object_set_new(o, "ppr", json_boolean(e->ppr));
		json_object_set_new(o, "gt", json_boolean(e->gt));
		json_object_set_new(o, "ia", json_boolean(e->ia));
		json_object_set_new(o, "pc", json_boolean(e->pc));
		json_object_set_new(o, "host_levels", json_integer(e->host_levels));
		json_object_set_new(o, "guest_levels", json_integer(e->guest_levels));
		json_object_set_new(o, "pasid_bits", json_integer(e->pasid_bits));
		snprintf(buf, sizeof(buf), "0x%016llx", (unsigned long long)e->host_pgsizes);
		json_object_set_new(o, "host_pgsizes", json_string(buf));
		snprintf(buf, sizeof(buf), "0x%016llx", (unsigned long long)e->guest_pgsizes);
		json_object_set_new(o, "guest_pgsizes", json_string(buf));
		json_object_set_new(o, "features", json_string(efr_features_string(e, buf, sizeof(buf))));
	} else if (m->vendor == HOSTINFO_INTEL) {
		snprintf(buf, sizeof(buf), "0x%016llx", (unsigned long long)m->intel_cap);
		json_object_set_new(o, "cap", json_string(buf));
		snprintf(buf, sizeof(buf), "0x%016llx", (unsigned long long)m->intel_ecap);
		json_object_set_new(o, "ecap", json_string(buf));
	}
	return o;
}

json_t *host_info_json(const struct hostinfo *h)
{
	json_t *root = json_object(), *arr = json_array(), *groups = json_array();
	json_t *pmu = json_array(), *types = json_object();

	json_object_set_new(root, "kernel", json_string(h->kernel));
	json_object_set_new(root, "cmdline_iommu", json_string(h->cmdline_iommu));
	json_object_set_new(root, "iommu_count", json_integer((json_int_t)h->niommu));
	for (size_t i = 0; i < h->niommu; i++)
		json_array_append_new(arr, iommu_json(&h->iommu[i]));
	json_object_set_new(root, "iommus", arr);
	for (size_t i = 0; i < h->ngroup; i++) {
		const struct hostinfo_group *g = &h->group[i];
		json_t *o = json_object(), *cnt = json_object_get(types, g->type);

		json_object_set_new(o, "id", json_integer(g->id));
		json_object_set_new(o, "type", json_string(g->type));
		json_object_set_new(o, "devices", json_integer(g->ndevices));
		json_object_set_new(o, "first_device", json_string(g->first_device));
		json_array_append_new(groups, o);
		json_object_set_new(types, g->type,
				    json_integer((cnt ? json_integer_value(cnt) : 0) + 1));
	}
	json_object_set_new(root, "groups", groups);
	json_object_set_new(root, "group_types", types);
	json_object_set_new(root, "vfio", json_boolean(h->vfio_dev));
	json_object_set_new(root, "vfio_type1", json_boolean(h->vfio_type1));
	json_object_set_new(root, "vfio_pci", json_boolean(h->vfio_pci));
	json_object_set_new(root, "iommufd", json_boolean(h->iommufd));
	for (unsigned i = 0; i < h->npmu; i++)
		json_array_append_new(pmu, json_string(h->pmu[i]));
	json_object_set_new(root, "amd_iommu_pmu", pmu);
	json_object_set_new(root, "tracefs", json_string(h->tracefs));
	json_object_set_new(root, "kprobes", json_boolean(h->kprobes));
	json_object_set_new(root, "function_graph", json_boolean(h->function_graph));
	return root;
}

static bool is_dir(const char *p)
{
	struct stat st;

	return !stat(p, &st) && S_ISDIR(st.st_mode);
}

static const char *yes(bool b)
{
	return b ? "yes" : "no";
}

static void print_pgsizes(FILE *f, uint64_t sizes)
{
	if (sizes == AMDVI_V1_PGSIZES)
		fprintf(f, "every power of two from 4 KiB");
	else if (sizes == AMDVI_V2_PGSIZES)
		fprintf(f, "4 KiB, 2 MiB, 1 GiB");
	else
		fprintf(f, "0x%llx", (unsigned long long)sizes);
}

void host_info_print(const struct hostinfo *h, FILE *f)
{
	char buf[512];

	fprintf(f, "kernel %s; IOMMU command line: %s\n", h->kernel[0] ? h->kernel : "?",
		h->cmdline_iommu[0] ? h->cmdline_iommu : "(none)");
	if (!h->niommu)
		fprintf(f, "no IOMMU: the kernel registered none (/sys/class/iommu is empty)\n");
	for (size_t i = 0; i < h->niommu; i++) {
		const struct hostinfo_iommu *m = &h->iommu[i];

		fprintf(f, "%s: %s IOMMU, %u devices", m->name, hostinfo_vendor_name(m->vendor),
			m->ndevices);
		if (m->vendor == HOSTINFO_AMD && m->regs_ok) {
			const struct efr_info *e = &m->amd;

			fprintf(f, "\n  cap 0x%08x efr 0x%016llx efr2 0x%016llx\n  %s\n", e->cap,
				(unsigned long long)e->efr, (unsigned long long)e->efr2,
				efr_features_string(e, buf, sizeof(buf)));
			fprintf(f, "  host table: %u levels, pages: ", e->host_levels);
			print_pgsizes(f, e->host_pgsizes);
			if (e->gt) {
				fprintf(f, "; guest table: %u levels, %u PASID bits, pages: ",
					e->guest_levels, e->pasid_bits);
				print_pgsizes(f, e->guest_pgsizes);
			}
			fprintf(f, "\n  NpCache %s: %s\n", yes(e->np_cache),
				e->np_cache ? "not-present entries may be cached, so Linux flushes "
					      "after maps too" : "maps need no invalidation");
		} else if (m->vendor == HOSTINFO_INTEL) {
			fprintf(f, ", cap 0x%016llx ecap 0x%016llx", (unsigned long long)m->intel_cap,
				(unsigned long long)m->intel_ecap);
		}
		fputc('\n', f);
	}
	fprintf(f, "IOMMU groups: %zu\n", h->ngroup);
	for (size_t i = 0; i < h->ngroup; i++)
		fprintf(f, "  group %u: %s, %u device%s (%s)\n", h->group[i].id, h->group[i].type,
			h->group[i].ndevices, h->group[i].ndevices == 1 ? "" : "s",
			h->group[i].first_device);
	fprintf(f, "VFIO: /dev/vfio/vfio %s, vfio_iommu_type1 %s, vfio_pci %s; iommufd (/dev/iommu) %s\n",
		yes(h->vfio_dev), yes(h->vfio_type1), yes(h->vfio_pci), yes(h->iommufd));
	fprintf(f, "AMD IOMMU PMU: ");
	if (!h->npmu)
		fprintf(f, "none (/sys/bus/event_source/devices/amd_iommu_*)");
	for (unsigned i = 0; i < h->npmu; i++)
		fprintf(f, "%s%s", i ? " " : "", h->pmu[i]);
	fprintf(f, "\ntracefs: %s; kprobes %s, function_graph %s\n",
		h->tracefs[0] ? h->tracefs : "not mounted", yes(h->kprobes), yes(h->function_graph));
}

/* Can a file be made at @path: is its folder a writable directory? */
static bool dir_writable_for(const char *path)
{
	char dir[4200];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (!*path || (slash && !slash[1]))
		return false;
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
		 slash ? path : ".");
	return !stat(dir, &st) && S_ISDIR(st.st_mode) && !access(dir, W_OK);
}

void host_json_write(json_t *j, const char *path)
{
	char tmp[4200];

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_dump_file(j, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) || rename(tmp, path)) {
		remove(tmp);
		run_error("%s: cannot write", path);
	}
}

void host_info_scan_or_die(const char *root, struct hostinfo *h)
{
	char err[512];
	int ret = hostinfo_scan(root, h, err, sizeof(err));

	if (ret == -ENOMEM)
		run_error("host info: out of memory");
	if (ret)
		run_error("host info: %s", err);
}

static int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "json", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *root = "", *json = NULL;
	struct hostinfo h;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (!is_dir(optarg))
				usage_error("--root: %s is not a directory", optarg);
			root = optarg;
			break;
		case 'j':
			json = optarg;
			if (!dir_writable_for(json))
				usage_error("--json: %s: its folder is not a writable directory", json);
			break;
		case 'h':
			fputs(host_usage, stdout);
			return 0;
		default:
			usage_error("host info: bad option (see `iob host --help`)");
		}
	}
	if (optind < argc)
		usage_error("host info: unexpected argument '%s'", argv[optind]);
	host_info_scan_or_die(root, &h);
	host_info_print(&h, stdout);
	if (json) {
		json_t *j = host_info_json(&h);

		host_json_write(j, json);
		json_decref(j);
	}
	hostinfo_free(&h);
	return 0;
}

void host_ctx_init(struct bench_ctx *ctx, int argc, char **argv)
{
	memset(ctx, 0, sizeof(*ctx));
	cycles_init(NULL);
	ctx->cpu = -1;
	ctx->seed = 1;
	ctx->scale = 1.0;
	results_env_collect(&ctx->env, argc, argv, 1);
}

/* ---- the common record ------------------------------------------------------------- */

const char *host_rec_cols(const char *key_cols)
{
	static char buf[2048];
	size_t n = (size_t)snprintf(buf, sizeof(buf),
				    "%s,path,count,total_cyc,min_cyc,max_cyc,mean_cyc,mean_ns", key_cols);

	for (int b = 0; b < PATHCTR_LOG2_BUCKETS && n < sizeof(buf); b++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ",log2_%d", b);
	return buf;
}

void host_write_rec(struct csv *c, const char *key, const char *path,
		    const struct pathctr_rec *rec)
{
	char hbuf[PATHCTR_LOG2_BUCKETS * 21 + 1];
	size_t n = 0;

	if (!c || !rec->count)
		return;
	for (int b = 0; b < PATHCTR_LOG2_BUCKETS; b++)
		n += (size_t)snprintf(hbuf + n, sizeof(hbuf) - n, ",%llu",
				      (unsigned long long)rec->log2[b]);
	csv_row(c, "%s,%s,%llu,%llu,%llu,%llu,%.1f,%.1f%s", key, path,
		(unsigned long long)rec->count, (unsigned long long)rec->total_cyc,
		(unsigned long long)rec->min_cyc, (unsigned long long)rec->max_cyc,
		(double)rec->total_cyc / (double)rec->count,
		cycles_to_ns((double)rec->total_cyc / (double)rec->count, cycles_info()), hbuf);
}

/* ---- dispatch ---------------------------------------------------------------------- */

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} host_cmds[] = {
	{ "info", cmd_info },
	{ "vfio", host_vfio_main },
	{ "phases", host_trace_main },
	{ "pmu", host_trace_main },
	{ "calibrate", host_calibrate_main },
	{ "run", host_run_main },
	{ "dmamap", host_dmamap_main },
	{ "reach", host_reach_main },
};

int cmd_host(int argc, char **argv)
{
	if (argc < 2) {
		fputs(host_usage, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(host_usage, stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(host_cmds) / sizeof(host_cmds[0]); i++)
		if (!strcmp(argv[1], host_cmds[i].name))
			return host_cmds[i].run(argc - 1, argv + 1);
	usage_error("host: unknown subcommand '%s' (see `iob host --help`)", argv[1]);
}
