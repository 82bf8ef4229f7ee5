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
 *   iob xen fidelity RUN_DIR
 *       the model replaying the run's workloads against Xen's counters:
 *       xen_fidelity.csv (bench/xen_fidelity.c); iob xen run ends with it
 *
 * The harness is guest-workloads/xen/: xenboot (build.sh and boot.sh
 * driven, the tunings and dom0 workloads) and xenlog (the counter dumps
 * of a console log, every record checked before a file is written). This
 * file is the command line and the rows of xen.csv and xen_paths.csv.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <iob/csv.h>
#include <iob/proc.h>
#include <iob/results.h>
#include <iob/rundir.h>

#include "iob.h"
#include "plot.h"
#include "session.h"
#include "util.h"
#include "xenboot.h"
#include "xen_fidelity.h"
#include "xenlog.h"

static const char xen_usage[] =
	"usage: iob xen build [--out DIR] [--counters on|off|both] [--jobs N]\n"
	"       iob xen run [--out DIR] [--tunings LIST] [--work LIST] [--smp N]\n"
	"                   [--timeout S] [--results DIR] [--label NAME] [--no-plot]\n"
	"       iob xen import [--tuning NAME] [--results DIR] [--label NAME] LOG...\n"
	"       iob xen fidelity RUN_DIR\n"
	"\n"
	"  --out DIR       where Xen is fetched and built (build-xen; $IOB_XEN_DIR)\n"
	"  --tunings LIST  comma-separated: baseline (strict, per-page flush),\n"
	"                  batch (iommu-batch: one flush per batch, frames freed after it),\n"
	"                  lazy (iommu-fq=4096,10: a flush queue of 4096 frames, 10 ms),\n"
	"                  relaxed (dom0-iommu=no-strict: dom0's RAM mapped once; pv, dmalayer,\n"
	"                  gpv and gdma are left out, Xen refuses them)\n"
	"                  (baseline,batch,lazy,relaxed)\n"
	"  --work LIST     dom0 workloads, comma-separated NAME:ARG, run in order:\n"
	"                  balloon_out:MIB, balloon_in:MIB, disk_read:MIB, disk_write:MIB,\n"
	"                  pv:N (interface checks, then N x map+unmap of 16 frames),\n"
	"                  dmalayer:N (N x dma_map+dma_unmap of 16 frames); pv and\n"
	"                  dmalayer need balloon headroom (after balloon_out);\n"
	"                  with a PV domU (dom0 its driver domain): domu:MIB first, then\n"
	"                  net_tx:MIB, net_rx:MIB, blk_read:MIB, blk_write:MIB,\n"
	"                  pblk_read:MIB, pblk_write:MIB (persistent grants), domu_bad:1,\n"
	"                  and dom0 on 16 of the domU's grants, N times: ghook:N (Xen's IOMMU\n"
	"                  mirror), gpv:N (dfns dom0 picks), gdma:N (dfns Xen picks)\n"
	"                  (balloon_out:64,pv:500,dmalayer:500,balloon_in:64,disk_read:32,\n"
	"                  disk_write:32,domu:128,net_tx:8,net_rx:8,blk_read:16,blk_write:16,\n"
	"                  domu_bad:1,ghook:500,gpv:500,gdma:500)\n"
	"  --smp N         QEMU CPUs, 1..8 (2)\n"
	"  --timeout S     per boot, 30..7200 seconds (900)\n"
	"  --results DIR   where the run folder goes (results)\n"
	"  --label NAME    run folder label (xen)\n"
	"\n"
	"The scripts are found in $IOB_XEN_PATCHES, else in the source tree iob was built from.\n"
	"Writes xen.csv (per tuning x workload: completion waits, flush decisions, ...),\n"
	"xen_paths.csv (the path counter records), xen_io.csv (per domU workload: time and\n"
	"counters per I/O), xen_fidelity.csv (the model replaying the workloads, against\n"
	"Xen's counters: iob xen fidelity) and meta.json; docs/xen.md.\n";

/* ---- the run folder's rows ---------------------------------------------- */

/* The event columns of xen.csv, in the order of IOB_EVENTS. */
static const char *const event_cols[] = {
	"pt_alloc", "pt_shatter", "flush_none", "flush_order0", "flush_order9", "flush_order18",
	"flush_all", "flush_range", "inv_pages_cmds", "batch_flushes", "deferred_frees",
	"fq_queued", "fq_full", "fq_timeout",
};
#define NEVCOLS (sizeof(event_cols) / sizeof(event_cols[0]))

struct xen_out {
	struct csv *runs, *paths, *io;
};

static void paths_header(struct csv *c)
{
	char cols[2048];
	size_t n = (size_t)snprintf(cols, sizeof(cols),
				    "tuning,workload,path,count,total_cyc,min_cyc,max_cyc,"
				    "mean_cyc,mean_ns");

	for (int b = 0; b < XENLOG_LOG2; b++)
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
	snprintf(cols + n, sizeof(cols) - n, ",grant_maps,grant_unmaps");
	csv_header(c, cols);
}

static void io_header(struct csv *c)
{
	csv_header(c, "tuning,workload,mib,status,ios,bytes,ns,ns_per_io,mib_per_s,"
		      "grant_maps,grant_unmaps,grant_maps_per_io,iommu_maps,iommu_unmaps,"
		      "completion_waits,completion_waits_per_io,flush_decisions,"
		      "grant_map_cyc,grant_unmap_cyc,xen_iommu_cyc_per_io,batch_flushes,"
		      "deferred_frees,fq_queued");
}

/*
 * A domU workload's row of xen_io.csv: its I/Os as the guest timed them,
 * and what Xen did for them. xen_iommu_cyc_per_io: Xen's cycles in
 * iommu_map(), iommu_unmap() and the flush decisions (with the commands
 * and completion waits they issue), per I/O: the same measure whichever
 * strategy made the calls (the hook from the grant paths, pv and
 * dmalayer from XENMEM_iob_iommu_op).
 */
static void write_io(struct xen_out *o, const char *tuning, const struct xenlog_dump *d)
{
	uint64_t gm = xenlog_dump_count(d, "grant_map"), gu = xenlog_dump_count(d, "grant_unmap");
	uint64_t gmc = xenlog_dump_total(d, "grant_map"), guc = xenlog_dump_total(d, "grant_unmap");
	uint64_t cw = xenlog_dump_count(d, "completion_wait");
	uint64_t mmu = xenlog_dump_total(d, "map") + xenlog_dump_total(d, "unmap") +
		       xenlog_dump_total(d, "flush_decision");
	double n = d->io_n ? (double)d->io_n : 1.0;

	csv_row(o->io, "%s,%s,%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.0f,%.2f,%" PRIu64
		",%" PRIu64 ",%.2f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.2f,%" PRIu64 ",%" PRIu64
		",%" PRIu64 ",%.0f,%" PRIu64 ",%" PRIu64 ",%" PRIu64,
		tuning, d->label, d->arg, d->wl_rc == 0 ? "ok" : "failed", d->io_n, d->io_bytes,
		d->io_ns, (double)d->io_ns / n,
		d->io_ns ? (double)d->io_bytes / 1048576.0 / ((double)d->io_ns / 1e9) : 0.0,
		gm, gu, (double)gm / n, xenlog_dump_count(d, "map"), xenlog_dump_count(d, "unmap"),
		cw, (double)cw / n, xenlog_dump_count(d, "flush_decision"), gmc, guc,
		(double)mmu / n, xenlog_dump_event(d, "batch_flushes"),
		xenlog_dump_event(d, "deferred_frees"), xenlog_dump_event(d, "fq_queued"));
}

static void write_paths(struct xen_out *o, const char *tuning, const struct xenlog_dump *d)
{
	double khz = d->tsc_khz ? (double)d->tsc_khz : 0;

	for (unsigned p = 0; p < d->npaths; p++) {
		const struct xenlog_rec *r = &d->recs[p];
		char hist[XENLOG_LOG2 * 21 + 1];
		size_t n = 0;
		double mean = r->count ? (double)r->total / (double)r->count : 0;

		for (int b = 0; b < XENLOG_LOG2; b++)
			n += (size_t)snprintf(hist + n, sizeof(hist) - n, ",%" PRIu64, r->log2[b]);
		csv_row(o->paths, "%s,%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.1f,%.1f%s",
			tuning, d->label, r->path, r->count, r->total,
			r->count ? r->min : UINT64_MAX, r->max, mean,
			khz ? mean * 1e6 / khz : 0.0, hist);
	}
}

/* A dump's records into xen_paths.csv and, for a dom0 workload, its row of xen.csv. */
static void write_dump(struct xen_out *o, const char *tuning, const struct xenlog_dump *d)
{
	char ev[(NEVCOLS + 2) * 22 + 1];
	size_t n = 0;
	bool iters = xenboot_work_iters(d->label);
	uint64_t arg = strtoull(d->arg, NULL, 10), mib = iters ? 0 : arg;
	uint64_t pages = iters ? arg * 16 : mib * 256, hc = xenlog_dump_total(d, "hypercall");
	uint64_t waits = xenlog_dump_count(d, "completion_wait");

	write_paths(o, tuning, d);
	if (!strcmp(d->label, "console"))
		return;
	for (size_t i = 0; i < NEVCOLS; i++)
		n += (size_t)snprintf(ev + n, sizeof(ev) - n, ",%" PRIu64,
				      xenlog_dump_event(d, event_cols[i]));
	/* The grant counters close the row: the columns before them keep their places. */
	snprintf(ev + n, sizeof(ev) - n, ",%" PRIu64 ",%" PRIu64, xenlog_dump_count(d, "grant_map"),
		 xenlog_dump_count(d, "grant_unmap"));
	csv_row(o->runs, "%s,%s,%" PRIu64 ",%" PRIu64 ",%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.1f,%" PRIu64
		",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.2f,%" PRIu64 ",%" PRIu64 "%s",
		tuning, d->label, mib, iters ? arg : 0, d->wl_rc == 0 ? "ok" : "failed",
		d->tuning[0] ? d->tuning : "unknown", d->tsc_khz,
		xenlog_dump_count(d, "hypercall"), hc, pages ? (double)hc / (double)pages : 0.0,
		xenlog_dump_count(d, "balloon"), xenlog_dump_count(d, "populate"),
		xenlog_dump_count(d, "unmap"), xenlog_dump_count(d, "map"),
		waits, mib ? (double)waits / (double)mib : 0.0, xenlog_dump_count(d, "cmd_submit"),
		xenlog_dump_count(d, "flush_decision"), ev);
	if (d->has_io)
		write_io(o, tuning, d);
}

static struct csv *open_csv(struct session *s, const char *name, const char *family,
			    const char *note, const char *source, const char *xen_version)
{
	struct csv *c = session_csv(s, name);

	csv_meta(c, "family", "%s", family);
	csv_meta(c, "note", "%s", note);
	csv_meta(c, "source", "%s", source);
	csv_meta(c, "xen_version", "%s", xen_version);
	return c;
}

static void out_open(struct xen_out *o, struct session *s, const char *source,
		     const char *xen_version)
{
	o->runs = open_csv(s, "xen.csv", "xen",
			   "one row per tuning x dom0 workload; counts from the patched Xen's path "
			   "counters (hv-patches/xen-4.17) reset before the workload and read after it; "
			   "event columns as IOB_EVENTS; cycles are Xen's TSC (xen_tsc_khz)",
			   source, xen_version);
	runs_header(o->runs);
	o->paths = open_csv(s, "xen_paths.csv", "xen_paths",
			    "path counter records (docs/csv-schema.md) summed over Xen's CPUs; "
			    "workload=console: debug key 'j' at the end of the boot",
			    source, xen_version);
	paths_header(o->paths);
	o->io = open_csv(s, "xen_io.csv", "xen_io",
			 "one row per tuning x domU workload (PV domU, dom0 its driver domain: "
			 "netback and blkback map its grants); ios, bytes and ns as the guest "
			 "timed them (net_rx: dom0, the sender); Xen's counters as xen.csv",
			 source, xen_version);
	io_header(o->io);
}

/* ---- helpers ------------------------------------------------------------ */

static const char *patch_dir(void)
{
	const char *d = xenboot_patch_dir();

	if (!d)
		run_error("xen: the scripts of hv-patches/xen-4.17 are not found: set IOB_XEN_PATCHES");
	return d;
}

static const char *default_out(void)
{
	const char *d = getenv("IOB_XEN_DIR");

	return d && *d ? d : "build-xen";
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

/* ---- iob xen build ------------------------------------------------------ */

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
	uint64_t j;
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
		case 'j':
			if (try_parse_u64(optarg, &j) || !j || j > 256)
				usage_error("--jobs: '%s' is not 1..256", optarg);
			jobs = optarg;
			break;
		case 'h': fputs(xen_usage, stdout); return 0;
		default: usage_error("xen build: bad option (see `iob xen --help`)");
		}
	}
	if (optind < argc)
		usage_error("xen build: unexpected argument '%s'", argv[optind]);
	for (int on = 1; on >= 0; on--) {
		if (!strcmp(counters, on ? "off" : "on"))
			continue;
		rc = xenboot_build(patch_dir(), out, on ? "on" : "off", jobs);
		if (rc)
			run_error("xen build: build.sh --counters %s failed (%d)", on ? "on" : "off", rc);
	}
	return 0;
}

/* ---- iob xen run -------------------------------------------------------- */

struct run_args {
	const char *out, *work, *results, *label, *smp, *timeout;
	bool plot;
	int sel[XENBOOT_TUNINGS_NR], nsel;
};

static void parse_tunings(char *list, struct run_args *a)
{
	char *save = NULL, *t;

	check_list(list, "--tunings");
	for (t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int i = xenboot_tuning_find(t);

		if (i < 0)
			usage_error("--tunings: unknown tuning '%s' (baseline, batch, lazy, relaxed)", t);
		for (int k = 0; k < a->nsel; k++)
			if (a->sel[k] == i)
				usage_error("--tunings: '%s' twice", t);
		a->sel[a->nsel++] = i;
	}
	if (!a->nsel)
		usage_error("--tunings: empty");
}

/* Return: 0 to run, 1 when --help said all. */
static int run_args_parse(int argc, char **argv, struct run_args *a)
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
	char tlist[256] = "baseline,batch,lazy,relaxed", err[256];
	uint64_t v;
	int c;

	*a = (struct run_args){ .out = default_out(), .results = "results", .label = "xen",
				.smp = "2", .timeout = "900", .plot = true,
				.work = "balloon_out:64,pv:500,dmalayer:500,balloon_in:64,"
					"disk_read:32,disk_write:32,domu:128,net_tx:8,net_rx:8,"
					"blk_read:16,blk_write:16,domu_bad:1,ghook:500,gpv:500,"
					"gdma:500" };
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o': a->out = optarg; break;
		case 't':
			if (strlen(optarg) >= sizeof(tlist))
				usage_error("--tunings: too long");
			snprintf(tlist, sizeof(tlist), "%s", optarg);
			break;
		case 'w': a->work = optarg; break;
		case 's':
			if (try_parse_u64(optarg, &v) || !v || v > 8)
				usage_error("--smp: '%s' is not 1..8", optarg);
			a->smp = optarg;
			break;
		case 'T':
			if (try_parse_u64(optarg, &v) || v < 30 || v > 7200)
				usage_error("--timeout: '%s' is not 30..7200 seconds", optarg);
			a->timeout = optarg;
			break;
		case 'r': a->results = optarg; break;
		case 'l': a->label = optarg; break;
		case 'P': a->plot = false; break;
		case 'h': fputs(xen_usage, stdout); return 1;
		default: usage_error("xen run: bad option (see `iob xen --help`)");
		}
	}
	if (optind < argc)
		usage_error("xen run: unexpected argument '%s'", argv[optind]);
	check_label(a->label);
	if (xenboot_check_work(a->work, err, sizeof(err)))
		usage_error("--work: %s", err);
	parse_tunings(tlist, a);
	return 0;
}

/*
 * One boot of tuning @t, its console log kept in the run folder: its dumps
 * into the CSVs, its entry in meta.json's "boots".
 * Return: 0, or -1 when it failed (said on stderr).
 */
static int run_tuning(const struct run_args *a, struct session *s, const char *xen,
		      const char *scratch, int t, struct xen_out *o, json_t *boots)
{
	static struct xenlog lg;
	const char *tn = xenboot_tunings[t].name;
	char log[PATH_MAX], work_dir[PATH_MAX], err[512], wl[512];
	int relaxed = xenboot_tunings[t].relaxed;
	struct xenboot_cfg bc = {
		.patches = patch_dir(), .xen = xen, .work_dir = work_dir, .log = log,
		.work_list = relaxed ? xenboot_work_relaxed(a->work, wl, sizeof(wl)) : a->work,
		.xen_args = xenboot_tunings[t].xen_args, .smp = a->smp,
		.timeout_s = a->timeout, .relaxed = relaxed,
	};
	double t0 = proc_now_s();
	json_t *b = json_object();
	int failed = 0, attempts;

	snprintf(log, sizeof(log), "%s/console-%s.log", session_dir(s), tn);
	snprintf(work_dir, sizeof(work_dir), "%s/%s", scratch, tn);
	fprintf(stderr, "iob xen: booting Xen (%s): %s\n", tn, bc.work_list);
	/*
	 * Under TCG a boot now and then hangs or crashes before its workloads
	 * end (boot.sh's timeout, or a dom0 that never finished): one more
	 * boot, said here and counted in meta.json. A log that parses but is
	 * wrong, or a workload that failed, is not retried.
	 */
	for (attempts = 1;; attempts++) {
		int r = xenboot_run(&bc, &lg, err, sizeof(err));

		if (!r)
			break;
		fprintf(stderr, "iob xen: %s\n", err);
		if (r != -EIO || attempts == 2) {
			failed = 1;
			break;
		}
		/* The failed boot's console stays beside the run's. */
		snprintf(work_dir, sizeof(work_dir), "%s/console-%s-failed.log", session_dir(s), tn);
		if (rename(log, work_dir))
			fprintf(stderr, "iob xen: keeping %s: %s\n", log, strerror(errno));
		snprintf(work_dir, sizeof(work_dir), "%s/%s", scratch, tn);
		fprintf(stderr, "iob xen: %s: the boot did not finish; booting once more\n", tn);
	}
	for (unsigned i = 0; i < lg.ndumps; i++) {
		write_dump(o, tn, &lg.dumps[i]);
		if (strcmp(lg.dumps[i].label, "console") && lg.dumps[i].wl_rc != 0) {
			fprintf(stderr, "iob xen: %s: workload %s failed in dom0\n", tn,
				lg.dumps[i].label);
			failed = 1;
		}
	}
	json_object_set_new(b, "tuning", json_string(tn));
	json_object_set_new(b, "xen_args", json_string(bc.xen_args));
	json_object_set_new(b, "seconds", json_real(proc_now_s() - t0));
	json_object_set_new(b, "status", json_string(failed ? "failed" : "ok"));
	json_object_set_new(b, "attempts", json_integer(attempts));
	if (lg.ndumps)
		json_object_set_new(b, "dumps", json_integer(lg.ndumps));
	json_array_append_new(boots, b);
	return failed ? -1 : 0;
}

static int cmd_run(int argc, char **argv)
{
	struct run_args a;
	struct xen_out o;
	struct session *s;
	char final[PATH_MAX], xen[PATH_MAX], scratch[1024], ver[128];
	char *rm[] = { "rm", "-rf", "--", scratch, NULL };
	json_t *boots = json_array();
	double t_start = proc_now_s();
	int ret, failed = 0;

	if (run_args_parse(argc, argv, &a))
		return 0;
	ret = xenboot_build(patch_dir(), a.out, "on", NULL);
	if (ret)
		run_error("xen run: building Xen failed (build.sh exit %d)", ret);
	snprintf(xen, sizeof(xen), "%s/xen-counters-on", a.out);
	snprintf(scratch, sizeof(scratch), "%s/iob-xen-XXXXXX",
		 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(scratch))
		run_error("xen run: %s: %s", scratch, strerror(errno));
	s = session_create(&(struct session_cfg){ .root = a.results, .label = a.label,
						  .family = "xen", .argc = argc + 1,
						  .argv = argv - 1,
						  .on_signal = SESSION_SIGNAL_FLAG });
	xenboot_version(a.out, ver, sizeof(ver));
	out_open(&o, s, "qemu", ver);
	for (int k = 0; k < a.nsel && !session_interrupted() && !failed; k++)
		failed = run_tuning(&a, s, xen, scratch, a.sel[k], &o, boots) ? 1 : 0;
	proc_run(rm, NULL, false);
	if (session_interrupted() || failed) {
		json_decref(boots);
		if (failed && !session_interrupted()) {
			/* Hidden name, kept for its console logs: it never looks complete. */
			fprintf(stderr, "iob xen: the run failed; its console logs stay in %s\n",
				session_dir(s));
			session_keep(s);
			return 1;
		}
		session_abort(s);
		fprintf(stderr, "iob xen: interrupted; partial run removed\n");
		return 130;
	}
	json_object_set_new(session_meta(s), "xen_version", json_string(ver));
	json_object_set_new(session_meta(s), "source", json_string("qemu"));
	json_object_set_new(session_meta(s), "boots", boots);
	session_csvs_close(s);
	/* stdout carries only the run folder's path: the table stays in the file. */
	ret = xen_fidelity_dir(session_dir(s), session_env(s), NULL, ver, sizeof(ver));
	if (ret > 0) {
		session_add_file(s, "xen_fidelity.csv");
		fprintf(stderr, "iob xen: xen_fidelity.csv: %d counters, the model against Xen\n", ret);
	} else {
		fprintf(stderr, "iob xen: no xen_fidelity.csv: %s\n", ver);
	}
	session_finish(s);
	if (a.plot && cmd_plot_dir(session_dir(s), true))
		fprintf(stderr, "iob xen: plotting failed; the CSVs are complete\n");
	session_commit(s, final, sizeof(final));
	fprintf(stderr, "iob xen: done in %.0f s\n", proc_now_s() - t_start);
	printf("%s\n", final);
	return 0;
}

/* ---- iob xen import ----------------------------------------------------- */

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
	struct session *s;
	struct xen_out o;
	static struct xenlog lg;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			for (const char *p = optarg; *p; p++)
				if (*p == ',' || *p == '\n')
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
		if (xenlog_read(argv[i], &lg, err, sizeof(err)))
			usage_error("xen import: %s", err);
		if (!lg.ndumps)
			usage_error("xen import: %s holds no counter dump (iob-dom0-* or iob-* lines)",
				    argv[i]);
	}
	s = session_create(&(struct session_cfg){ .root = results, .label = label,
						  .family = "xen", .argc = argc + 1,
						  .argv = argv - 1,
						  .on_signal = SESSION_SIGNAL_REMOVE });
	out_open(&o, s, "import", "as logged");
	for (int i = optind; i < argc; i++) {
		if (xenlog_read(argv[i], &lg, err, sizeof(err)))
			run_error("xen import: %s", err);
		for (unsigned k = 0; k < lg.ndumps; k++) {
			struct xenlog_dump *d = &lg.dumps[k];

			/* An imported dump has no workload status: the operator ran it. */
			if (d->wl_rc < 0)
				d->wl_rc = 0;
			write_dump(&o, tuning ? tuning : (d->tuning[0] ? d->tuning : "unknown"), d);
		}
	}
	json_object_set_new(session_meta(s), "xen_version", json_string("as logged"));
	json_object_set_new(session_meta(s), "source", json_string("import"));
	json_object_set_new(session_meta(s), "boots", json_array());
	session_finish(s);
	session_commit(s, final, sizeof(final));
	printf("%s\n", final);
	return 0;
}

/* ---- iob xen fidelity --------------------------------------------------- */

static int cmd_fidelity(int argc, char **argv)
{
	struct results_env env;
	struct stat st;
	char err[4600];
	int ret;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(xen_usage, stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-')
		usage_error("xen fidelity: expected one RUN_DIR (see `iob xen --help`)");
	if (stat(argv[1], &st) || !S_ISDIR(st.st_mode))
		usage_error("xen fidelity: '%s' is not a run folder", argv[1]);
	results_env_collect(&env, argc + 1, argv - 1, 0);
	ret = xen_fidelity_dir(argv[1], &env, stdout, err, sizeof(err));
	if (ret == -EINVAL || ret == -ENOENT || ret == -ENOTDIR)
		usage_error("xen fidelity: %s", err);
	if (ret < 0)
		run_error("xen fidelity: %s", err);
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
	if (!strcmp(argv[1], "fidelity"))
		return cmd_fidelity(argc - 1, argv + 1);
	usage_error("xen: unknown subcommand '%s' (build, run, import, fidelity)", argv[1]);
}
