// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob qemu: a real Linux guest (Debian's kernel, unmodified AMD IOMMU
 * driver) behind QEMU's emulated AMD IOMMU (or Intel's, to compare).
 *
 *   iob qemu build               build the guest (guest-workloads/qemu/build-guest.sh)
 *   iob qemu run [options]       boot it per IOMMU x device x mode, run the
 *                                workloads, write a run folder
 *   iob qemu fidelity RUN_DIR    the model replaying each captured trace,
 *                                against QEMU's counts (fidelity.csv)
 *   iob qemu fidelity --trace F  the model's counts for any trace (both formats)
 *
 * The harness is guest-workloads/qemu/: qguest.h builds the guest, qboot.h
 * boots it once per configuration and reads what it leaves (the console,
 * QEMU's trace log cut into one window per workload, the guest's own
 * captures), qemu.h holds the readers and the model replay. This file is
 * the command line and the rows of the run folder. A guest that does not
 * finish in --timeout seconds is killed and the run fails; the folder then
 * stays hidden (.tmp-*), with its console log, and is never renamed into
 * place.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iob/csv.h>
#include <iob/proc.h>
#include <iob/results.h>
#include <iob/rundir.h>
#include <iob/trace.h>

#include "iob.h"
#include "plot.h"
#include "qboot.h"
#include "qemu.h"
#include "qemu_cmds.h"
#include "qguest.h"
#include "session.h"
#include "util.h"

static const char qemu_usage[] =
	"usage: iob qemu build [--force]\n"
	"       iob qemu run [--mode LIST] [--device LIST] [--iommu LIST] [--workload LIST]\n"
	"                    [--points LIST] [--ios N] [--ms MS] [--dmamap ARGS]\n"
	"                    [--accel auto|kvm|tcg] [--smp N] [--mem MIB] [--timeout S]\n"
	"                    [--results DIR] [--label NAME] [--no-trace] [--no-plot] [--keep-going]\n"
	"       iob qemu fidelity RUN_DIR\n"
	"       iob qemu host [--full] [options]   iob host inside the guest, checked against\n"
	"                                         QEMU's trace (iob qemu host --help)\n"
	"       iob qemu fidelity --trace FILE [--mode strict|lazy] [--ios N] [--no-np-cache]\n"
	"\n"
	"A Debian guest behind QEMU's emulated IOMMU; docs/qemu.md says what is measured.\n"
	"run options (lists are comma-separated):\n"
	"  --mode      strict, lazy (DMA-FQ set at run time), passthrough, noiommu,\n"
	"              swiotlb (the IOMMU off, swiotlb=force: every DMA bounced)\n"
	"              (default strict,lazy,passthrough,noiommu,swiotlb)\n"
	"  --device    virtio (virtio-blk, iommu_platform=on), nvme (default virtio,nvme)\n"
	"  --iommu     amd, intel (default amd)\n"
	"  --workload  io (O_DIRECT points), dmamap (the dmabench module) (default io,dmamap)\n"
	"  --points    OP:SIZE:QD, OP read or write, SIZE 4K..4M, QD 1..256\n"
	"              (default read:4K:1,read:4K:32,read:64K:1,read:64K:8,read:1M:4,\n"
	"               write:4K:1,write:64K:8)\n"
	"  --ios N     I/Os per point (default 2000), at most --ms milliseconds (default 3000)\n"
	"  --dmamap A  iob dmamap's flags for the module: -t -s -n -b -d -x -g, and --ms\n"
	"              (default \"--ms 1000\")\n"
	"  --accel     auto (KVM if it runs a guest, else TCG), kvm, tcg (default auto)\n"
	"  --smp N --mem MIB   guest CPUs (default 1) and memory (default 1024)\n"
	"  --timeout S per boot; the guest is killed after it (default: from the points)\n"
	"  --results DIR --label NAME   run folder DIR/<date>_<host>_<cpu>_NAME (results, qemu)\n"
	"  --no-trace  do not capture the guest's iommu:map/unmap events\n"
	"  --keep-going  a failed boot is recorded in qemu_runs.csv; the rest go on\n"
	"Exit status: 0 ok, 1 a boot or step failed, 2 bad usage.\n";

#define MAX_POINTS 32

struct qopts {
	bool mode[QBOOT_MODE_NR], dev[QBOOT_DEV_NR], iommu[QBOOT_IOMMU_NR];
	bool io, dmamap, trace, plot, keep_going;
	struct qboot_point pt[MAX_POINTS];
	unsigned npt;
	uint64_t ios, ms, timeout_s;
	unsigned smp, mem_mib;
	const char *accel;
	const char *results, *label;
	struct qboot_dmamap dm;		/* the module's parameters, as iob dmamap's flags */
};

/* ---- option parsing ------------------------------------------------------------------- */

static void parse_list(const char *arg, const char *what, const char *const *names, unsigned n,
		       bool *out)
{
	char *dup = strdup(arg), *tok, *save = NULL;

	memset(out, 0, n * sizeof(*out));
	check_list(arg, what);
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned i;

		for (i = 0; i < n && strcmp(names[i], tok); i++)
			;
		if (i == n)
			usage_error("%s: unknown value '%s'", what, tok);
		out[i] = true;
	}
	free(dup);
	for (unsigned i = 0; i < n; i++)
		if (out[i])
			return;
	usage_error("%s: empty list", what);
}

static void parse_points(const char *arg, struct qopts *o)
{
	char *dup = strdup(arg), *tok, *save = NULL;

	o->npt = 0;
	check_list(arg, "--points");
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *c1 = strchr(tok, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		struct qboot_point *p = &o->pt[o->npt];
		uint64_t bs, qd;

		if (o->npt == MAX_POINTS)
			usage_error("--points: more than %d points", MAX_POINTS);
		if (!c1 || !c2)
			usage_error("--points: '%s' is not OP:SIZE:QD (e.g. read:4K:1)", tok);
		*c1 = *c2 = '\0';
		if (!strcmp(tok, "read"))
			p->write = false;
		else if (!strcmp(tok, "write"))
			p->write = true;
		else
			usage_error("--points: operation '%s' is not read or write", tok);
		if (try_parse_size(c1 + 1, &bs) || bs < 4096 || bs > (4 << 20) || bs % 4096)
			usage_error("--points: size '%s' is not a multiple of 4K in 4K..4M", c1 + 1);
		if (try_parse_u64(c2 + 1, &qd) || qd < 1 || qd > 256)
			usage_error("--points: queue depth '%s' is not in 1..256", c2 + 1);
		p->bs = bs;
		p->qd = (unsigned)qd;
		o->npt++;
	}
	free(dup);
	if (!o->npt)
		usage_error("--points: empty list");
}

static long dm_num(const char *flag, const char *v, long lo, long hi)
{
	char *end;
	long x;

	if (!v)
		usage_error("--dmamap: %s needs a value", flag);
	errno = 0;
	x = strtol(v, &end, 10);
	if (errno || *end || !*v || x < lo || x > hi)
		usage_error("--dmamap: %s %s is not in %ld..%ld", flag, v, lo, hi);
	return x;
}

/* iob dmamap's flags and limits (Linux's dma_map_benchmark). */
static void parse_dmamap(const char *arg, struct qopts *o)
{
	char *dup = strdup(arg), *tok, *save = NULL;

	for (tok = strtok_r(dup, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		char *v = strtok_r(NULL, " \t", &save);

		if (!strcmp(tok, "-t"))
			o->dm.threads = (int)dm_num(tok, v, 1, 1024);
		else if (!strcmp(tok, "-s"))
			o->dm.ms = dm_num(tok, v, 1, 300) * 1000;
		else if (!strcmp(tok, "--ms"))
			o->dm.ms = dm_num(tok, v, 1, 300000);
		else if (!strcmp(tok, "-n"))
			o->dm.node = (int)dm_num(tok, v, -1, 1023);
		else if (!strcmp(tok, "-b"))
			o->dm.bits = (int)dm_num(tok, v, 20, 64);
		else if (!strcmp(tok, "-d"))
			o->dm.dir = (int)dm_num(tok, v, 0, 2);
		else if (!strcmp(tok, "-x"))
			o->dm.delay_ns = dm_num(tok, v, 0, 10000000);
		else if (!strcmp(tok, "-g"))
			o->dm.granule = (int)dm_num(tok, v, 1, 1024);
		else
			usage_error("--dmamap: unknown flag '%s' (iob dmamap's -t -s -n -b -d -x -g, --ms)",
				    tok);
	}
	free(dup);
}

static void check_label(const char *label)
{
	for (const char *s = label; *s; s++)
		if (!(*s == '.' || *s == '_' || *s == '-' || (*s >= '0' && *s <= '9') ||
		      (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			usage_error("--label: '%s' may hold only letters, digits, '.', '_', '-'", label);
	if (!*label || strlen(label) > 64)
		usage_error("--label: 1 to 64 characters");
}

static void qopts_defaults(struct qopts *o)
{
	memset(o, 0, sizeof(*o));
	parse_list("strict,lazy,passthrough,noiommu,swiotlb", "--mode", qboot_mode_names,
		   QBOOT_MODE_NR, o->mode);
	parse_list("virtio,nvme", "--device", qboot_dev_names, QBOOT_DEV_NR, o->dev);
	parse_list("amd", "--iommu", qboot_iommu_names, QBOOT_IOMMU_NR, o->iommu);
	parse_points("read:4K:1,read:4K:32,read:64K:1,read:64K:8,read:1M:4,write:4K:1,write:64K:8", o);
	o->io = o->dmamap = o->trace = o->plot = true;
	o->ios = 2000;
	o->ms = 3000;
	o->smp = 1;
	o->mem_mib = 1024;
	o->accel = "auto";
	o->results = "results";
	o->label = "qemu";
	o->dm = (struct qboot_dmamap){ .threads = 1, .node = -1, .bits = 32, .granule = 1,
				       .ms = 1000 };
}

/* A number option in lo..hi (exits 2 naming it). */
static uint64_t num_opt(const char *arg, const char *what, uint64_t lo, uint64_t hi,
			const char *unit)
{
	uint64_t v = parse_u64(arg, what);

	if (v < lo || v > hi)
		usage_error("%s: %s%s is not in %llu..%llu%s", what, arg, unit,
			    (unsigned long long)lo, (unsigned long long)hi, unit);
	return v;
}

/* One option of `iob qemu run`. Return: 1 for --help (printed), else 0. */
static int run_option(int c, struct qopts *o)
{
	static const char *const wl[] = { "io", "dmamap" };
	bool w[2];

	switch (c) {
	case 'm': parse_list(optarg, "--mode", qboot_mode_names, QBOOT_MODE_NR, o->mode); break;
	case 'd': parse_list(optarg, "--device", qboot_dev_names, QBOOT_DEV_NR, o->dev); break;
	case 'I': parse_list(optarg, "--iommu", qboot_iommu_names, QBOOT_IOMMU_NR, o->iommu); break;
	case 'w':
		parse_list(optarg, "--workload", wl, 2, w);
		o->io = w[0];
		o->dmamap = w[1];
		break;
	case 'p': parse_points(optarg, o); break;
	case 'n': o->ios = num_opt(optarg, "--ios", 1, 10000000, ""); break;
	case 't': o->ms = num_opt(optarg, "--ms", 10, 600000, ""); break;
	case 'D': parse_dmamap(optarg, o); break;
	case 'a':
		if (strcmp(optarg, "auto") && strcmp(optarg, "kvm") && strcmp(optarg, "tcg"))
			usage_error("--accel: '%s' is not auto, kvm or tcg", optarg);
		o->accel = optarg;
		break;
	case 's': o->smp = (unsigned)num_opt(optarg, "--smp", 1, 64, ""); break;
	case 'M': o->mem_mib = (unsigned)num_opt(optarg, "--mem", 512, 16384, " MiB"); break;
	case 'T': o->timeout_s = num_opt(optarg, "--timeout", 5, 86400, " seconds"); break;
	case 'r': o->results = optarg; break;
	case 'l': o->label = optarg; break;
	case 'N': o->trace = false; break;
	case 'P': o->plot = false; break;
	case 'k': o->keep_going = true; break;
	case 'h': fputs(qemu_usage, stdout); return 1;
	default: usage_error("qemu run: bad option (see `iob qemu --help`)");
	}
	return 0;
}

/* Return: 0 to run, 1 when --help said all. */
static int run_args_parse(int argc, char **argv, struct qopts *o)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "device", required_argument, NULL, 'd' },
		{ "iommu", required_argument, NULL, 'I' },
		{ "workload", required_argument, NULL, 'w' },
		{ "points", required_argument, NULL, 'p' },
		{ "ios", required_argument, NULL, 'n' },
		{ "ms", required_argument, NULL, 't' },
		{ "dmamap", required_argument, NULL, 'D' },
		{ "accel", required_argument, NULL, 'a' },
		{ "smp", required_argument, NULL, 's' },
		{ "mem", required_argument, NULL, 'M' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "results", required_argument, NULL, 'r' },
		{ "label", required_argument, NULL, 'l' },
		{ "no-trace", no_argument, NULL, 'N' },
		{ "no-plot", no_argument, NULL, 'P' },
		{ "keep-going", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	qopts_defaults(o);
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		if (run_option(c, o))
			return 1;
	if (optind < argc)
		usage_error("qemu run: unexpected argument '%s'", argv[optind]);
	if (!o->io && !o->dmamap)
		usage_error("--workload: nothing to run");
	check_label(o->label);
	return 0;
}

/* ---- the guest ------------------------------------------------------------------------ */

void qemu_guest_build(struct qguest *g, bool force)
{
	char err[512];
	int ret = qguest_build(force, g, err, sizeof(err));

	if (ret == -EPERM)
		usage_error("qemu: %s", err);
	if (ret)
		run_error("qemu: %s", err);
}

/* ---- rows --------------------------------------------------------------------------- */

static const char *qget(const struct qcon_rec *r, const char *k)
{
	const char *v = qcon_get(r, k);

	return v ? v : "NaN";
}

/* The first record of type @t (with id=@id, and @key2=@val2; @val2 NULL: any value). */
static const struct qcon_rec *find_rec(const struct qboot *b, enum qcon_type t, const char *id,
				       const char *key2, const char *val2)
{
	for (size_t i = 0; i < b->con.n; i++) {
		const struct qcon_rec *r = &b->con.rec[i];
		const char *v;

		if (r->type != t || (id && (!(v = qcon_get(r, "id")) || strcmp(v, id))))
			continue;
		if (key2 && (!(v = qcon_get(r, key2)) || (val2 && strcmp(v, val2))))
			continue;
		return r;
	}
	return NULL;
}

static double per(uint64_t n, uint64_t d)
{
	return d ? (double)n / (double)d : NAN;
}

/* The guest's swiotlb bounces in a window (tracefs), per @d; NaN when not captured. */
static double bounces_per(const struct qcon_rec *tr, uint64_t d)
{
	uint64_t n;

	return tr && !qcon_get_u64(tr, "bounces", &n) ? per(n, d) : NAN;
}

#define QEMU_CSV_COLS								\
	"iommu,device,mode,accel,domain_type,point,op,bs_bytes,qd,ios,secs,iops,mb_per_s,"	\
	"samples,mean_ns,stddev_ns,min_ns,p50_ns,p90_ns,p99_ns,p999_ns,max_ns,"	\
	"pages_inval_per_io,completion_waits_per_io,all_inval_per_io,commands_per_io,"	\
	"iotlb_fills_per_io,trace_maps_per_io,trace_unmaps_per_io,trace_overrun,"	\
	"swiotlb_bounces_per_io"

#define COUNT_COLS								\
	"commands,pages_inval,completion_waits,all_inval,devtab_inval,iotlb_inval,"	\
	"intr_inval,iotlb_fills,other_events,guest_commands,guest_pages_inval,"	\
	"guest_completion_waits,inval_sizes_from,inval_4k,inval_8k,inval_16k,inval_32k,"	\
	"inval_64k,inval_128k,inval_256k,inval_512k,inval_1m,inval_2m_plus,inval_all,"	\
	"inval_size_unknown"

#define DMAMAP_CSV_COLS								\
	"iommu,device,mode,accel,api,op,threads,granule_pages,dir,delay_ns,bits,loops,"	\
	"guest_tsc_khz,mean_cyc,min_cyc,p50_cyc,p90_cyc,p99_cyc,p999_cyc,max_cyc,"	\
	"mean_ns,p50_ns,p99_ns,kernel_avg_us,kernel_stddev_us,pages_inval_per_pair,"	\
	"completion_waits_per_pair,swiotlb_bounces_per_pair"

/*
 * QEMU's counts @c, the guest's own @g (NULL: not captured), and the page
 * invalidations by size from whichever has them: QEMU's VT-d events carry
 * the size, its AMD-Vi events do not (the guest's commands do).
 */
static void count_fields(const struct qtr_counts *c, const struct qtr_counts *g, bool vtd,
			 char *buf, size_t len)
{
	const struct qtr_counts *sz = g && !vtd ? g : c;
	size_t n = 0;

	for (int e = 0; e <= QTR_OTHER; e++)
		n += (size_t)snprintf(buf + n, len - n, "%s%" PRIu64, e ? "," : "", c->ev[e]);
	if (g)
		n += (size_t)snprintf(buf + n, len - n, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64,
				      g->ev[QTR_COMMAND], g->ev[QTR_PAGES_INVAL],
				      g->ev[QTR_COMPLETION_WAIT]);
	else
		n += (size_t)snprintf(buf + n, len - n, ",NaN,NaN,NaN");
	n += (size_t)snprintf(buf + n, len - n, ",%s", vtd ? "qemu" : g ? "guest" : "none");
	for (int s = 0; s < QTR_SIZE_NR; s++)
		n += (size_t)snprintf(buf + n, len - n, ",%" PRIu64, sz->inval_by_size[s]);
}

struct qcsv {
	struct csv *q, *dm, *counts, *runs;
};

/* The O_DIRECT point of window @w, per I/O: the guest's result and QEMU's counts. */
static void write_point_row(const char *accel, const struct qboot_cfg *bc, const struct qboot *b,
			    unsigned w, const char *dtype, struct csv *q)
{
	const char *id = b->win_id[w];
	const struct qtr_counts *c = &b->win[w].c;
	const struct qcon_rec *res = find_rec(b, QCON_RESULT, id, NULL, NULL);
	const struct qcon_rec *tr = find_rec(b, QCON_TRACE, id, NULL, NULL);
	uint64_t ios = 0;

	if (!res)
		return;
	qcon_get_u64(res, "ios", &ios);
	csv_row(q, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%" PRIu64 ",%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
		"%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%s,%.4f",
		qboot_iommu_names[bc->iommu], qboot_dev_names[bc->dev], qboot_mode_names[bc->mode],
		accel, dtype, id, qget(res, "op"), qget(res, "bs"), qget(res, "qd"), ios,
		qget(res, "secs"), qget(res, "iops"), qget(res, "mbps"),
		qget(res, "samples"), qget(res, "mean_ns"), qget(res, "stddev_ns"),
		qget(res, "min_ns"), qget(res, "p50_ns"), qget(res, "p90_ns"),
		qget(res, "p99_ns"), qget(res, "p999_ns"), qget(res, "max_ns"),
		per(c->ev[QTR_PAGES_INVAL], ios), per(c->ev[QTR_COMPLETION_WAIT], ios),
		per(c->ev[QTR_ALL_INVAL], ios), per(c->ev[QTR_COMMAND], ios),
		per(c->ev[QTR_IOTLB_FILL], ios), tr ? per(b->tmaps[w], ios) : NAN,
		tr ? per(b->tunmaps[w], ios) : NAN, tr ? qget(tr, "overrun") : "NaN",
		bounces_per(tr, ios));
}

/* The dmabench window @w: one row per API call (map, unmap), per map/unmap pair. */
static void write_dmamap_rows(const char *accel, const struct qboot_cfg *bc,
			      const struct qboot *b, unsigned w, struct csv *dm)
{
	const char *id = b->win_id[w];
	const struct qtr_counts *c = &b->win[w].c;
	const struct qcon_rec *tr = find_rec(b, QCON_TRACE, id, NULL, NULL);

	for (int op = 0; op < 2; op++) {
		const struct qcon_rec *d = find_rec(b, QCON_DMAMAP, id, "op", op ? "unmap" : "map");
		double khz = 0, mean = 0, p50 = 0, p99 = 0, avg = 0, sd = 0;
		uint64_t loops = 0;

		if (!d)
			continue;
		qcon_get_double(d, "tsc_khz", &khz);
		qcon_get_double(d, "mean_cyc", &mean);
		qcon_get_double(d, "p50_cyc", &p50);
		qcon_get_double(d, "p99_cyc", &p99);
		qcon_get_double(d, "avg_100ns", &avg);
		qcon_get_double(d, "stddev_100ns", &sd);
		qcon_get_u64(d, "loops", &loops);
		csv_row(dm, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%" PRIu64 ",%s,%s,%s,%s,%s,%s,%s,%s,"
			"%.1f,%.1f,%.1f,%.1f,%.1f,%.4f,%.4f,%.4f",
			qboot_iommu_names[bc->iommu], qboot_dev_names[bc->dev],
			qboot_mode_names[bc->mode], accel,
			qget(d, "api"), qget(d, "op"), qget(d, "threads"), qget(d, "granule"),
			qget(d, "dir"), qget(d, "delay_ns"), qget(d, "bits"), loops,
			qget(d, "tsc_khz"), qget(d, "mean_cyc"), qget(d, "min_cyc"),
			qget(d, "p50_cyc"), qget(d, "p90_cyc"), qget(d, "p99_cyc"),
			qget(d, "p999_cyc"), qget(d, "max_cyc"),
			khz > 0 ? mean * 1e6 / khz : NAN, khz > 0 ? p50 * 1e6 / khz : NAN,
			khz > 0 ? p99 * 1e6 / khz : NAN, avg / 10.0, sd / 10.0,
			per(c->ev[QTR_PAGES_INVAL], loops), per(c->ev[QTR_COMPLETION_WAIT], loops),
			bounces_per(tr, loops));
	}
}

/* Every window of a finished boot, and the whole boot's counts (window=all). */
static void write_boot_rows(const char *accel, const struct qboot_cfg *bc, const struct qboot *b,
			    const struct qcsv *o)
{
	const struct qcon_rec *info = find_rec(b, QCON_INFO, NULL, "domain_type", NULL);
	const char *dtype = info ? qcon_get(info, "domain_type") : "none";
	bool vtd = bc->iommu == QBOOT_INTEL;
	char cf[1024];

	for (unsigned w = 0; w < b->nwin; w++) {
		const struct qcon_rec *res = find_rec(b, QCON_RESULT, b->win_id[w], NULL, NULL);
		const struct qcon_rec *dmr = find_rec(b, QCON_DMAMAP, b->win_id[w], "op", "map");
		uint64_t ios = 0;

		if (res)
			qcon_get_u64(res, "ios", &ios);
		else if (dmr)
			qcon_get_u64(dmr, "loops", &ios);
		count_fields(&b->win[w].c, b->gc_ok[w] ? &b->gc[w] : NULL, vtd, cf, sizeof(cf));
		csv_row(o->counts, "%s,%s,%s,%s,%" PRIu64 ",%.0f,%s", qboot_iommu_names[bc->iommu],
			qboot_dev_names[bc->dev], qboot_mode_names[bc->mode], b->win_id[w], ios,
			b->win[w].t1_us != UINT64_MAX ?
				(double)(b->win[w].t1_us - b->win[w].t0_us) : NAN, cf);
		write_point_row(accel, bc, b, w, dtype, o->q);
		if (dmr)
			write_dmamap_rows(accel, bc, b, w, o->dm);
	}
	count_fields(&b->total, NULL, vtd, cf, sizeof(cf));
	csv_row(o->counts, "%s,%s,%s,all,0,NaN,%s", qboot_iommu_names[bc->iommu],
		qboot_dev_names[bc->dev], qboot_mode_names[bc->mode], cf);
}

/* ---- fidelity ------------------------------------------------------------------------- */

#define FID_COLS								\
	"iommu,device,mode,window,ios,trace_maps,trace_unmaps,map_calls,skipped,"	\
	"qemu_pages_inval,model_inv_cmds,qemu_completion_waits,model_completion_waits,"	\
	"qemu_pages_inval_per_io,model_inv_cmds_per_io,qemu_waits_per_io,"		\
	"model_waits_per_io,inval_model_over_qemu,waits_model_over_qemu,target,verdict"

static const char *verdict(bool lazy, uint64_t q_inv, uint64_t m_inv, uint64_t q_w, uint64_t m_w)
{
	if (!lazy)
		return q_inv == m_inv && q_w == m_w ? "exact" : "differs";
	if (!q_inv || !q_w)
		return q_inv == m_inv && q_w == m_w ? "exact" : "differs";
	return fabs((double)m_inv / (double)q_inv - 1) <= 0.2 &&
	       fabs((double)m_w / (double)q_w - 1) <= 0.2 ? "within_20pct" : "differs";
}

/*
 * fidelity.csv of @dir from its qemu_trace_counts.csv and traces/: every
 * AMD window in strict or lazy mode that has a trace. Prints the table.
 * Return: windows compared, or -1 when there was nothing to compare.
 */
static int fidelity_dir(const char *dir, const struct results_env *env)
{
	struct csv_table t;
	struct csv *out;
	char path[4400], err[256];
	int ci, cd, cm, cw, cios, cpi, ccw, n = 0, ret;

	snprintf(path, sizeof(path), "%s/qemu_trace_counts.csv", dir);
	if (csv_read(path, &t, err, sizeof(err)))
		usage_error("qemu fidelity: %s: %s", path, err);
	ci = csv_col(&t, "iommu");
	cd = csv_col(&t, "device");
	cm = csv_col(&t, "mode");
	cw = csv_col(&t, "window");
	cios = csv_col(&t, "ios");
	cpi = csv_col(&t, "pages_inval");
	ccw = csv_col(&t, "completion_waits");
	if (ci < 0 || cd < 0 || cm < 0 || cw < 0 || cios < 0 || cpi < 0 || ccw < 0)
		usage_error("qemu fidelity: %s: not a qemu_trace_counts.csv (columns missing)", path);
	ret = csv_open(dir, "fidelity.csv", env, &out);
	if (ret)
		run_error("qemu fidelity: %s/fidelity.csv: %s", dir, strerror(-ret));
	csv_meta(out, "family", "qemu_fidelity");
	csv_meta(out, "model", "dmalayer strategy, exact (naturally aligned) invalidation blocks, "
		 "flush on map (NpCache); lazy: flush queue 256 entries, 10 ms timer in trace time");
	csv_meta(out, "targets", "strict: the same counts; lazy: within 20%%");
	csv_header(out, FID_COLS);
	printf("%-6s %-7s %-7s %-10s %6s | %9s %9s %7s | %9s %9s %7s | %s\n", "iommu", "device",
	       "mode", "window", "ios", "qemu inv", "model inv", "ratio", "qemu wait", "model wait",
	       "ratio", "verdict");
	for (size_t r = 0; r < t.nrows; r++) {
		char **row = t.rows[r];
		bool lazy = !strcmp(row[cm], "lazy");
		struct fid_cfg fc = { .lazy = lazy, .np_cache = true };
		struct fid_result fr;
		struct trace tr;
		uint64_t ios = strtoull(row[cios], NULL, 10);
		uint64_t qi = strtoull(row[cpi], NULL, 10), qw = strtoull(row[ccw], NULL, 10);
		char tp[4400];

		if (strcmp(row[ci], "amd") || (strcmp(row[cm], "strict") && !lazy))
			continue;
		snprintf(tp, sizeof(tp), "%s/traces/%s-%s-%s-%s.trace.xz", dir, row[ci], row[cd],
			 row[cm], row[cw]);
		if (!proc_is_file(tp))
			tp[strlen(tp) - 3] = '\0';	/* uncompressed, e.g. written by hand */
		if (!proc_is_file(tp))
			continue;
		if (fid_trace_read(tp, &tr, err, sizeof(err)))
			usage_error("qemu fidelity: %s", err);
		ret = fid_replay(&tr, &fc, &fr);
		trace_free(&tr);
		if (ret)
			run_error("qemu fidelity: replaying %s failed: %s", tp, strerror(-ret));
		csv_row(out, "%s,%s,%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
			",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%s,%s",
			row[ci], row[cd], row[cm], row[cw], ios, fr.map_events, fr.unmap_events,
			fr.map_calls, fr.skipped, qi, fr.inv_cmds, qw, fr.completion_waits,
			per(qi, ios), per(fr.inv_cmds, ios), per(qw, ios), per(fr.completion_waits, ios),
			per(fr.inv_cmds, qi), per(fr.completion_waits, qw),
			lazy ? "within_20pct" : "exact", verdict(lazy, qi, fr.inv_cmds, qw, fr.completion_waits));
		printf("%-6s %-7s %-7s %-10s %6" PRIu64 " | %9.3f %9.3f %7.3f | %9.3f %9.3f %7.3f | %s\n",
		       row[ci], row[cd], row[cm], row[cw], ios, per(qi, ios), per(fr.inv_cmds, ios),
		       per(fr.inv_cmds, qi), per(qw, ios), per(fr.completion_waits, ios),
		       per(fr.completion_waits, qw), verdict(lazy, qi, fr.inv_cmds, qw, fr.completion_waits));
		n++;
	}
	csv_table_free(&t);
	ret = csv_close(out);
	if (ret)
		run_error("qemu fidelity: %s/fidelity.csv: %s", dir, strerror(-ret));
	printf("(invalidations and completion waits per I/O; dmamap windows per map/unmap pair)\n");
	fflush(stdout);	/* before any fork: a child's exit must not print it again */
	return n ? n : -1;
}

/* iob qemu fidelity --trace FILE: the model's counts for one trace. */
static int fidelity_trace(const char *tfile, const struct fid_cfg *fc, uint64_t ios)
{
	struct fid_result fr;
	struct trace tr;
	char err[256];
	int ret;

	ret = fid_trace_read(tfile, &tr, err, sizeof(err));
	if (ret)
		usage_error("qemu fidelity: %s", err);
	ret = fid_replay(&tr, fc, &fr);
	if (ret)
		run_error("qemu fidelity: replay failed: %s", strerror(-ret));
	printf("trace %s (%s format): %" PRIu64 " maps, %" PRIu64 " unmaps, %" PRIu64
	       " map calls, %" PRIu64 " skipped, %" PRIu64 " left mapped\n", tfile,
	       tr.format == TRACE_FMT_TRACEFS ? "Linux tracefs" : "iommubench", fr.map_events,
	       fr.unmap_events, fr.map_calls, fr.skipped, fr.left_mapped);
	printf("model (%s%s): %" PRIu64 " page invalidations, %" PRIu64 " completion waits, %"
	       PRIu64 " map flushes, %" PRIu64 " domain flushes (%" PRIu64 " on the timer)\n",
	       fc->lazy ? "lazy, 256 entries, 10 ms" : "strict",
	       fc->np_cache ? ", flush on map" : "", fr.inv_cmds, fr.completion_waits,
	       fr.map_flushes, fr.flush_alls, fr.timer_flushes);
	if (ios)
		printf("per I/O (%" PRIu64 "): %.3f page invalidations, %.3f completion waits\n",
		       ios, per(fr.inv_cmds, ios), per(fr.completion_waits, ios));
	trace_free(&tr);
	return 0;
}

static int cmd_fidelity(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "trace", required_argument, NULL, 't' },
		{ "mode", required_argument, NULL, 'm' },
		{ "ios", required_argument, NULL, 'i' },
		{ "no-np-cache", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *tfile = NULL;
	struct fid_cfg fc = { .np_cache = true };
	uint64_t ios = 0;
	struct results_env env;
	struct stat st;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			tfile = optarg;
			break;
		case 'm':
			if (!strcmp(optarg, "lazy"))
				fc.lazy = true;
			else if (strcmp(optarg, "strict"))
				usage_error("qemu fidelity: --mode must be strict or lazy, not '%s'", optarg);
			break;
		case 'i':
			ios = parse_u64(optarg, "--ios");
			break;
		case 'N':
			fc.np_cache = false;
			break;
		case 'h':
			fputs(qemu_usage, stdout);
			return 0;
		default:
			usage_error("qemu fidelity: bad option (see `iob qemu --help`)");
		}
	}
	if (tfile && optind < argc)
		usage_error("qemu fidelity: give --trace FILE or RUN_DIR, not both");
	if (tfile)
		return fidelity_trace(tfile, &fc, ios);
	if (optind + 1 != argc)
		usage_error("qemu fidelity: expected one RUN_DIR or --trace FILE");
	if (stat(argv[optind], &st) || !S_ISDIR(st.st_mode) ||
	    access(argv[optind], R_OK | W_OK | X_OK))
		usage_error("qemu fidelity: '%s' is not a writable directory", argv[optind]);
	results_env_collect(&env, argc + 1, argv - 1, 0);
	if (fidelity_dir(argv[optind], &env) < 0)
		usage_error("qemu fidelity: %s has no AMD strict or lazy window with a trace",
			    argv[optind]);
	return 0;
}

/* ---- run ------------------------------------------------------------------------------ */

/* The tmpfs scratch folder (disk images: 1.5 GiB) goes on every exit, errors included. */
static char scratch_for_exit[4200];

void qemu_scratch_remove(void)
{
	char *argv[] = { "rm", "-rf", "--", scratch_for_exit, NULL };

	if (!scratch_for_exit[0])
		return;
	proc_run(argv, NULL, true);
	scratch_for_exit[0] = '\0';
}

void qemu_scratch_make(char *dir, size_t len)
{
	const char *base = access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";

	snprintf(dir, len, "%s/iob-qemu-XXXXXX", base);
	if (!mkdtemp(dir))
		run_error("qemu: %s: %s", dir, strerror(errno));
	snprintf(scratch_for_exit, sizeof(scratch_for_exit), "%s", dir);
	atexit(qemu_scratch_remove);
}

/* What every boot of the run shares. */
struct run_state {
	const struct qopts *o;
	const struct qguest *g;
	const char *accel;	/* kvm or tcg, decided */
	struct session *s;
	char scratch[4200];	/* disk images and raw logs, tmpfs */
	struct qcsv csv;
};

/* The configuration of one boot, the run's options applied. */
static struct qboot_cfg boot_cfg(const struct run_state *rs, enum qboot_iommu i,
				 enum qboot_dev d, enum qboot_mode m)
{
	const struct qopts *o = rs->o;

	return (struct qboot_cfg){
		.iommu = i, .dev = d, .mode = m, .accel = rs->accel,
		.smp = o->smp, .mem_mib = o->mem_mib,
		.pt = o->pt, .npt = o->io ? o->npt : 0, .ios = o->ios, .ms = o->ms,
		.dmamap = o->dmamap ? &o->dm : NULL, .trace = o->trace,
		.kernel = rs->g->kernel, .initrd = rs->g->initrd, .scratch = rs->scratch,
		.timeout_s = o->timeout_s, .stop = session_interrupted,
	};
}

/* KVM if it really runs the guest (o->accel auto), else what was asked. */
static const char *pick_accel(struct run_state *rs)
{
	struct qboot_cfg c;
	const char *a;
	bool probed;

	if (strcmp(rs->o->accel, "auto"))
		return rs->o->accel;
	rs->accel = "kvm";
	c = boot_cfg(rs, QBOOT_AMD, QBOOT_VIRTIO, QBOOT_STRICT);
	a = qboot_pick_accel(&c, &probed);
	if (probed)
		fprintf(stderr, "iob qemu: KVM %s\n", !strcmp(a, "kvm") ? "runs guests: using it" :
			"cannot run a guest here: using TCG");
	return a;
}

/* One boot, its files kept in the run folder, its rows written. */
static void run_one(struct run_state *rs, struct qboot_cfg *bc, struct qboot *b)
{
	const char *dir = session_dir(rs->s);
	char name[64], con[4400], log[4400], xz[4400], tdir[4400], err[512];
	int ret;

	qboot_name(bc, name, sizeof(name));
	snprintf(con, sizeof(con), "%s/console-%s.log", dir, name);
	snprintf(log, sizeof(log), "%s/qemu-trace.log", rs->scratch);
	snprintf(tdir, sizeof(tdir), "%s/traces", dir);
	bc->console = con;
	bc->trace_log = log;
	fprintf(stderr, "iob qemu: booting %s (%s, timeout %" PRIu64 " s)\n", name, rs->accel,
		bc->timeout_s ? bc->timeout_s : qboot_timeout_s(bc));
	unlink(log);
	if (qboot_run(bc, b, err, sizeof(err)))
		run_error("qemu: %s", err);
	if (b->interrupted)
		return;
	qboot_count(bc, b);
	if (qboot_collect(bc, b, rs->g->kver, tdir, err, sizeof(err)))
		run_error("qemu: %s", err);
	if (proc_is_file(log)) {
		snprintf(xz, sizeof(xz), "%s/qemu-trace-%s.log.xz", dir, name);
		ret = qboot_compress(log, xz);
		if (ret)
			run_error("qemu: cannot compress %s into %s (xz-utils)", log, xz);
		unlink(log);
	}
	fprintf(stderr, "iob qemu: %s: %s in %.0f s%s%s\n", name, b->ok ? "done" : "FAILED",
		b->secs, b->ok ? "" : ": ", b->ok ? "" : b->reason);
	csv_row(rs->csv.runs, "%s,%s,%s,%s,%s,%.1f,%d,%d,%d,%s", qboot_iommu_names[bc->iommu],
		qboot_dev_names[bc->dev], qboot_mode_names[bc->mode], rs->accel,
		b->ok ? "ok" : b->timed_out ? "timeout" : "failed", b->secs, b->con.amdvi_found,
		b->con.amdvi_intremap, b->con.dmar_found, b->ok ? "" : b->reason);
	if (b->ok)
		write_boot_rows(rs->accel, bc, b, &rs->csv);
}

static struct csv *open_csv(struct run_state *rs, const char *name, const char *family,
			    const char *note, const char *cols)
{
	struct csv *c = session_csv(rs->s, name);

	csv_meta(c, "family", "%s", family);
	csv_meta(c, "accel", "%s", rs->accel);
	csv_meta(c, "qemu", "%s", qboot_qemu_version());
	csv_meta(c, "guest_kernel", "%s", rs->g->kver);
	csv_meta(c, "guest_smp", "%u", rs->o->smp);
	if (note)
		csv_meta(c, "note", "%s", note);
	csv_header(c, cols);
	return c;
}

static void open_csvs(struct run_state *rs)
{
	rs->csv.q = open_csv(rs, "qemu.csv", "qemu",
			     "iops, mb_per_s and latency (submit to completion; O_DIRECT; Linux AIO) "
			     "measured in the guest; *_per_io: QEMU's trace events in the point's "
			     "window; swiotlb_bounces_per_io: the guest's swiotlb_bounced events",
			     QEMU_CSV_COLS);
	rs->csv.dm = open_csv(rs, "qemu_dmamap.csv", "qemu_dmamap",
			      "the dmabench module: TSC cycles of the guest (guest_tsc_khz) per call; "
			      "kernel_*_us as dma_map_benchmark reports them (100 ns units)",
			      DMAMAP_CSV_COLS);
	rs->csv.counts = open_csv(rs, "qemu_trace_counts.csv", "qemu_trace_counts",
				  "QEMU trace events per window (window=all: the whole boot); "
				  "inval_<size>: page invalidations by size where the event gives it (VT-d)",
				  "iommu,device,mode,window,ios,window_us," COUNT_COLS);
	rs->csv.runs = open_csv(rs, "qemu_runs.csv", "qemu_runs", NULL,
				"iommu,device,mode,accel,status,seconds,amdvi_found,amdvi_intremap,"
				"dmar_found,reason");
}

/*
 * Every IOMMU x device x mode asked for, one boot each, in @boots.
 * Return: the number of boots; *failed those that failed.
 */
static unsigned run_boots(struct run_state *rs, struct qboot *boots, unsigned *failed)
{
	const struct qopts *o = rs->o;
	unsigned nb = 0;

	*failed = 0;
	for (int i = 0; i < QBOOT_IOMMU_NR; i++)
		for (int d = 0; d < QBOOT_DEV_NR; d++)
			for (int m = 0; m < QBOOT_MODE_NR; m++) {
				struct qboot_cfg bc = boot_cfg(rs, i, d, m);
				/* The IOMMU kind does not matter when the IOMMU is off: run it once. */
				bool off = m == QBOOT_NOIOMMU || m == QBOOT_SWIOTLB;

				if (!o->iommu[i] || !o->dev[d] || !o->mode[m] ||
				    session_interrupted() || (off && i != QBOOT_AMD && o->iommu[QBOOT_AMD]))
					continue;
				run_one(rs, &bc, &boots[nb]);
				if (boots[nb++].ok || session_interrupted())
					continue;
				(*failed)++;
				if (!o->keep_going)
					return nb;
			}
	return nb;
}

static void run_meta(const struct run_state *rs, const struct qboot *boots, unsigned nb)
{
	json_t *root = session_meta(rs->s), *arr = json_array();

	json_object_set_new(root, "accel", json_string(rs->accel));
	json_object_set_new(root, "qemu", json_string(qboot_qemu_version()));
	json_object_set_new(root, "guest_kernel", json_string(rs->g->kver));
	json_object_set_new(root, "guest_smp", json_integer(rs->o->smp));
	json_object_set_new(root, "guest_mem_mib", json_integer(rs->o->mem_mib));
	for (unsigned i = 0; i < nb; i++) {
		json_t *e = json_object();

		json_object_set_new(e, "config", json_string(boots[i].name));
		json_object_set_new(e, "status", json_string(boots[i].ok ? "ok" : "failed"));
		json_object_set_new(e, "seconds", json_real(boots[i].secs));
		if (!boots[i].ok)
			json_object_set_new(e, "reason", json_string(boots[i].reason));
		json_array_append_new(arr, e);
	}
	json_object_set_new(root, "boots", arr);
}

static int cmd_run(int argc, char **argv)
{
	static struct qopts o;
	static struct qboot boots[QBOOT_MODE_NR * QBOOT_DEV_NR * QBOOT_IOMMU_NR];
	struct run_state rs = { .o = &o };
	struct qguest g;
	unsigned nb, failed;
	double t_start = proc_now_s();
	char final[4400];

	if (run_args_parse(argc, argv, &o))
		return 0;
	qemu_guest_build(&g, false);
	rs.g = &g;
	qemu_scratch_make(rs.scratch, sizeof(rs.scratch));
	rs.accel = pick_accel(&rs);
	rs.s = session_create(&(struct session_cfg){ .root = o.results, .label = o.label,
						     .family = "qemu", .argc = argc + 1,
						     .argv = argv - 1,
						     .on_signal = SESSION_SIGNAL_FLAG });
	open_csvs(&rs);
	nb = run_boots(&rs, boots, &failed);
	session_csvs_close(rs.s);
	qemu_scratch_remove();
	if (session_interrupted()) {
		session_abort(rs.s);
		fprintf(stderr, "iob qemu: interrupted; partial run removed\n");
		return 130;
	}
	if (failed && !o.keep_going) {
		/* Hidden name, kept for its console logs: it never looks complete. */
		fprintf(stderr, "iob qemu: a boot failed; the incomplete folder stays at %s "
			"(console-*.log says why)\n", session_dir(rs.s));
		session_keep(rs.s);
		return 1;
	}
	if (fidelity_dir(session_dir(rs.s), session_env(rs.s)) < 0)
		fprintf(stderr, "iob qemu: no AMD strict or lazy window with a trace: fidelity.csv "
			"has no rows\n");
	session_add_file(rs.s, "fidelity.csv");
	run_meta(&rs, boots, nb);
	session_finish(rs.s);
	if (o.plot && cmd_plot_dir(session_dir(rs.s), true))
		fprintf(stderr, "iob qemu: plotting failed; the CSVs are complete\n");
	session_commit(rs.s, final, sizeof(final));
	for (unsigned i = 0; i < nb; i++)
		qboot_free(&boots[i]);
	fprintf(stderr, "iob qemu: done in %.0f s%s\n", proc_now_s() - t_start,
		failed ? " (with failed boots: see qemu_runs.csv)" : "");
	printf("%s\n", final);
	return failed ? 1 : 0;
}

int cmd_qemu(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(qemu_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "fidelity"))
		return cmd_fidelity(argc - 1, argv + 1);
	if (!strcmp(argv[1], "host"))
		return qemu_host_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "build")) {
		struct qguest g;
		bool force = false;

		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--force"))
				force = true;
			else
				usage_error("qemu build: unexpected argument '%s'", argv[i]);
		}
		qemu_guest_build(&g, force);
		printf("kernel %s (%s)\ninitrd %s\n", g.kernel, g.kver, g.initrd);
		return 0;
	}
	usage_error("qemu: unknown subcommand '%s' (run, fidelity, host, build)", argv[1]);
}
