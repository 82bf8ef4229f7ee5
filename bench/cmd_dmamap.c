// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob dmamap: a user-space twin of Linux's dma_map_benchmark over the
 * model. Same flags, same limits, same two summary lines (averages in
 * microseconds with one decimal, computed from 100 ns units as the kernel
 * does, so anything faster reads 0.0), then what the kernel tool cannot
 * show: percentiles in ns, modeled hardware time, and a CSV.
 *
 * Each thread loops: map `granule` pages, wait `-x` ns, unmap, as the
 * kernel's map_benchmark_thread() does, for `-s` seconds. In batched mode
 * (the model's, not the kernel's) each thread ends its batch, one wait for
 * its invalidations, every DM_BATCH pairs.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iob/dmadom.h>
#include <iob/pathctr.h>

#include "bench.h"
#include "dmamap.h"
#include "iob.h"
#include "util.h"

const char *const dmamap_dir_names[3] = { "BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE" };

static const char dmamap_usage[] =
	"usage: iob dmamap [-t THREADS] [-s SECONDS] [-n NODE] [-b BITS] [-d DIR]\n"
	"                  [-x DELAY_NS] [-g GRANULE] [--mode strict|batched|lazy]\n"
	"                  [--policy exact|merged|xen] [--np-cache] [--out DIR]\n"
	"\n"
	"Linux's dma_map_benchmark, over the model. Flags and limits as in Linux:\n"
	"  -t  threads, 1-1024 (default 1)        -s  seconds, 1-300 (default 20)\n"
	"  -n  NUMA node, -1 for any (default -1)  -b  DMA mask bits, 20-64 (default 32)\n"
	"  -d  0 bidirectional, 1 to device, 2 from device (default 0)\n"
	"  -x  delay between map and unmap in ns, 0-10000000 (default 0)\n"
	"  -g  pages per map, 1-1024 (default 1)\n"
	"Model options:\n"
	"  --mode M             invalidation policy: strict, batched (one wait per\n"
	"                       thread every 64 pairs) or lazy (default strict)\n"
	"  --policy P           range policy for strict invalidations (default merged, Linux's)\n"
	"  --np-cache           invalidate after each map too, as Linux must when the\n"
	"                       IOMMU caches non-present entries (QEMU's AMD IOMMU does)\n"
	"  --ms N               run for N milliseconds instead of -s (quick runs)\n"
	"  --out DIR            write dmamap.csv and dmamap_cdf.csv into DIR\n";


/* A cache line or more each: one thread's counters must not share a line with the next one's. */
struct dm_thread {
	_Alignas(64) pthread_t tid;
	unsigned idx;
	int cpu;
	struct dmadom *dom;
	const struct dm_opts *o;
	atomic_bool *stop;
	struct hist map, unmap;
	uint64_t loops;
	/* The kernel's sums, in 100 ns units. */
	uint64_t sum_map_100ns, sum_sq_map, sum_unmap_100ns, sum_sq_unmap;
	int err;
};

static int parse_int(const char *s, const char *flag, long lo, long hi, const char *msg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || !*s || v < lo || v > hi)
		usage_error("-%s %s: %s", flag, s, msg);
	return (int)v;
}

static int numa_nodes(void);

/* Pairs a thread's batch holds in batched mode: a NIC driver's poll budget (NAPI_POLL_WEIGHT). */
#define DM_BATCH 64

bool dmamap_kernel_flag(int c, const char *arg, struct dm_opts *o)
{
	char flag[2] = { (char)c, 0 };

	switch (c) {
	case 't':
		o->threads = parse_int(arg, flag, 1, DMA_MAP_MAX_THREADS,
				       "invalid number of threads, must be in 1-1024");
		return true;
	case 's':
		o->seconds = parse_int(arg, flag, 1, DMA_MAP_MAX_SECONDS,
				       "invalid number of seconds, must be in 1-300");
		return true;
	case 'n':
		o->node = parse_int(arg, flag, -1, numa_nodes() - 1, "invalid numa node");
		return true;
	case 'b':
		o->bits = parse_int(arg, flag, 20, 64, "invalid dma mask bit, must be in 20-64");
		return true;
	case 'd':
		o->dir = parse_int(arg, flag, 0, 2, "invalid dma direction");
		return true;
	case 'x':
		o->xdelay = parse_int(arg, flag, 0, DMA_MAP_MAX_TRANS_DELAY,
				      "invalid transmit delay, must be in 0-10000000");
		return true;
	case 'g':
		o->granule = parse_int(arg, flag, 1, DMA_MAP_MAX_GRANULE, "invalid granule size");
		return true;
	case 'm':
		o->run_ms = parse_u64(arg, "--ms");
		if (!o->run_ms || o->run_ms > 300000)
			usage_error("--ms: %s is not in 1..300000", arg);
		return true;
	default:
		return false;
	}
}

static int numa_nodes(void)
{
	FILE *f = fopen("/sys/devices/system/node/possible", "r");
	int lo = 0, hi = 0;

	if (!f)
		return 1;
	if (fscanf(f, "%d-%d", &lo, &hi) < 1)
		hi = 0;
	fclose(f);
	return hi + 1;
}

static void spin_ns(long ns)
{
	uint64_t end;

	if (ns <= 0)
		return;
	end = cycles_now() + (uint64_t)ns * cycles_info()->tsc_khz / 1000000ULL;
	while (cycles_now() < end)
		__builtin_ia32_pause();
}

static void *dm_run(void *arg)
{
	struct dm_thread *t = arg;
	const struct dm_opts *o = t->o;
	uint64_t len = (uint64_t)o->granule * 4096;
	/* A buffer address of this thread's own: distinct frames per thread. */
	paddr_t buf = (1ULL << 32) + (uint64_t)t->idx * len * 2;
	unsigned prot = o->dir == 1 ? IOPT_PROT_READ : o->dir == 2 ? IOPT_PROT_WRITE : IOPT_PROT_RW;
	double khz = (double)cycles_info()->tsc_khz;

	if (t->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(t->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	hist_init(&t->map);
	hist_init(&t->unmap);
	while (!atomic_load_explicit(t->stop, memory_order_relaxed)) {
		uint64_t m0, m1, u0, u1, map_100ns, unmap_100ns;
		iova_t iova;

		uint64_t x0 = iommu_thread_exec_cyc(), x1, x2;

		/*
		 * The IOMMU model runs inline inside the waits: its cycles are
		 * the "hardware", not the driver, and are taken off (they are
		 * reported as modeled time instead).
		 */
		m0 = cycles_now();
		t->err = dmadom_map(t->dom, t->idx, buf, len, prot, &iova);
		m1 = cycles_end();
		x1 = iommu_thread_exec_cyc();
		if (t->err)
			break;
		spin_ns(o->xdelay);
		u0 = cycles_now();
		t->err = dmadom_unmap(t->dom, t->idx, iova, len);
		u1 = cycles_end();
		x2 = iommu_thread_exec_cyc();
		if (t->err)
			break;
		m1 -= x1 - x0;
		u1 -= x2 - x1;
		bench_record(&t->map, m0, m1);
		bench_record(&t->unmap, u0, u1);
		/* As the kernel: ns truncated to 100 ns units per sample. */
		map_100ns = (uint64_t)((double)(m1 - m0) * 1e6 / khz) / 100;
		unmap_100ns = (uint64_t)((double)(u1 - u0) * 1e6 / khz) / 100;
		t->sum_map_100ns += map_100ns;
		t->sum_sq_map += map_100ns * map_100ns;
		t->sum_unmap_100ns += unmap_100ns;
		t->sum_sq_unmap += unmap_100ns * unmap_100ns;
		t->loops++;
		if (t->loops % DM_BATCH == 0)
			flush_batch_end_cpu(dmadom_flush(t->dom), t->idx);
		flush_poll(dmadom_flush(t->dom), t->idx);
	}
	return NULL;
}

/* The kernel's mean and stddev in 100 ns units, integer as it computes them. */
static void kernel_stats(uint64_t sum, uint64_t sum_sq, uint64_t loops, uint64_t *avg,
			 uint64_t *stddev)
{
	uint64_t a = loops ? sum / loops : 0;
	uint64_t sq = loops ? sum_sq / loops : 0;

	*avg = a;
	*stddev = sq > a * a ? (uint64_t)sqrt((double)(sq - a * a)) : 0;
}

/* A run's outcome: both ops' latencies, the kernel's figures, the model's counters. */
struct dm_result {
	struct hist map, unmap;
	uint64_t loops, smap, sqmap, sunmap, squnmap;
	uint64_t avg_map, sd_map, avg_unmap, sd_unmap;	/* the kernel's, 100 ns units */
	struct flush_stats fs;
	struct iommu_stats is;
};

/* The IOMMU model and the DMA domain the threads share. */
static void dm_setup(const struct dm_opts *o, struct iommu **mmu, struct dmadom **dom)
{
	struct iommu_cfg mc = {
		.shared = o->threads > 1,
		.cpu = -1,
	};
	struct dmadom_cfg dc = {
		.devid = 0x10,
		.domid = 1,
		.pt = { .levels = 4 },
		.iova = { .granule_lg2 = 12, .start = 4096, .rcache = true,
			  .ncpus = (unsigned)o->threads },
		.flush = { .mode = o->mode, .policy = o->policy,
			   .ncpus = (unsigned)o->threads },
		.flush_on_map = o->np_cache,
	};
	int ret;

	iotlb_cfg_default(NULL, &mc.tlb);
	/* The DMA mask bounds the IOVA space; a 4-level table reaches 2^48. */
	dc.iova.limit = o->bits >= 48 ? 1ULL << 48 : 1ULL << o->bits;
	if (iommu_create(&mc, mmu))
		run_error("cannot create the IOMMU model");
	dc.mmu = *mmu;
	ret = dmadom_create(&dc, dom);
	if (ret)
		run_error("cannot create the DMA domain: %s", strerror(-ret));
}

/* The threads' loops for the run time, their records merged into @r. */
static void dm_threads_run(struct bench_ctx *ctx, const struct dm_opts *o, struct dmadom *dom,
			   struct dm_result *r)
{
	struct dm_thread *th = aligned_alloc(_Alignof(struct dm_thread),
					     (size_t)o->threads * sizeof(*th));
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t ms = o->run_ms ? (uint64_t)((double)o->run_ms * ctx->scale) :
			      (uint64_t)o->seconds * 1000;
	struct timespec ts;
	atomic_bool stop = false;

	if (!th)
		run_error("out of memory");
	memset(th, 0, (size_t)o->threads * sizeof(*th));
	for (int i = 0; i < o->threads; i++) {
		th[i].idx = (unsigned)i;
		th[i].cpu = o->threads == 1 ? ctx->cpu : (int)((ctx->cpu + 1 + i) % ncpu);
		th[i].dom = dom;
		th[i].o = o;
		th[i].stop = &stop;
		if (pthread_create(&th[i].tid, NULL, dm_run, &th[i]))
			run_error("cannot start thread %d", i);
	}
	if (!ms)
		ms = 1;
	ts = (struct timespec){ (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	atomic_store(&stop, true);
	hist_init(&r->map);
	hist_init(&r->unmap);
	for (int i = 0; i < o->threads; i++) {
		pthread_join(th[i].tid, NULL);
		if (th[i].err)
			run_error("thread %d: map/unmap failed: %s", i, strerror(-th[i].err));
		hist_merge(&r->map, &th[i].map);
		hist_merge(&r->unmap, &th[i].unmap);
		r->loops += th[i].loops;
		r->smap += th[i].sum_map_100ns;
		r->sqmap += th[i].sum_sq_map;
		r->sunmap += th[i].sum_unmap_100ns;
		r->squnmap += th[i].sum_sq_unmap;
	}
	free(th);
}

static double per_loop(const struct dm_result *r, double v)
{
	return r->loops ? v / (double)r->loops : 0;
}

/* The kernel tool's two summary lines, then what it cannot show. */
static void dm_print(const struct dm_opts *o, const struct dm_result *r)
{
	printf("dma mapping benchmark: threads:%d seconds:%d node:%d dir:%s granule: %d\n",
	       o->threads, o->seconds, o->node, dmamap_dir_names[o->dir], o->granule);
	if (o->run_ms)	/* the line above echoes -s, as the kernel's does */
		printf("# ran %llu ms (--ms), not the %d s of -s\n",
		       (unsigned long long)o->run_ms, o->seconds);
	printf("average map latency(us):%.1f standard deviation:%.1f\n",
	       r->avg_map / 10.0, r->sd_map / 10.0);
	printf("average unmap latency(us):%.1f standard deviation:%.1f\n",
	       r->avg_unmap / 10.0, r->sd_unmap / 10.0);
	printf("# model: mode %s, policy %s%s, %llu map/unmap pairs\n",
	       flush_mode_name(o->mode), inval_policy_name(o->policy),
	       o->np_cache ? ", flush on map" : "", (unsigned long long)r->loops);
	printf("# %-6s %9s %9s %9s %9s %9s %9s  (ns)\n", "op", "mean", "p50", "p90",
	       "p99", "p99.9", "max");
	for (int op = 0; op < 2; op++) {
		struct hist_summary s;

		hist_summarize(op ? &r->unmap : &r->map, &s);
		printf("# %-6s %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n", op ? "unmap" : "map",
		       bench_cyc_to_ns(s.mean), bench_cyc_to_ns(s.p50),
		       bench_cyc_to_ns(s.p90), bench_cyc_to_ns(s.p99),
		       bench_cyc_to_ns(s.p999), bench_cyc_to_ns((double)s.max));
	}
	printf("# invalidation commands per unmap %.2f, completion waits per unmap %.2f, "
	       "modeled hardware time per pair %.1f ns\n",
	       per_loop(r, (double)r->fs.inv_cmds), per_loop(r, (double)r->fs.completion_waits),
	       per_loop(r, r->is.model_cmd_ns));
}

/* A table line (@table may be NULL), two CSV rows (map, unmap) and their CDFs. */
static void dm_write(FILE *table, const struct dm_opts *o, const struct dm_result *r,
		     struct csv *csv, struct csv *cdf)
{
	char lat[256], key[128];

	if (table)
		fprintf(table, "dmamap %-6s %-6s np_cache=%d threads=%d granule=%d: "
			"map p50 %.1f ns, unmap p50 %.1f ns, %.2f invalidations and %.2f waits "
			"per unmap, modeled hw %.1f ns per pair\n",
			flush_mode_name(o->mode), inval_policy_name(o->policy), o->np_cache,
			o->threads, o->granule, bench_p50_ns(&r->map, 1), bench_p50_ns(&r->unmap, 1),
			per_loop(r, (double)r->fs.inv_cmds),
			per_loop(r, (double)r->fs.completion_waits), per_loop(r, r->is.model_cmd_ns));
	for (int op = 0; op < 2 && csv; op++)
		csv_row(csv, "%s,%s,%s,%d,%d,%d,%ld,%d,%s,%.1f,%.1f,%llu,%.4f,%.4f,%.1f,%.1f",
			op ? "unmap" : "map", flush_mode_name(o->mode), inval_policy_name(o->policy),
			o->np_cache, o->threads, o->granule, o->xdelay, o->dir,
			bench_lat_fields(op ? &r->unmap : &r->map, 1, lat, sizeof(lat)),
			(op ? r->avg_unmap : r->avg_map) / 10.0, (op ? r->sd_unmap : r->sd_map) / 10.0,
			(unsigned long long)r->loops, per_loop(r, (double)r->fs.inv_cmds),
			per_loop(r, (double)r->fs.completion_waits), per_loop(r, r->is.model_cmd_ns),
			bench_cyc_to_ns(hist_percentile(&r->fs.exposure_cyc, 0.99)));
	for (int op = 0; op < 2 && cdf; op++) {
		snprintf(key, sizeof(key), "%s,%s,%d,%d,%d", op ? "unmap" : "map",
			 flush_mode_name(o->mode), o->np_cache, o->threads, o->granule);
		bench_write_cdf(cdf, key, op ? &r->unmap : &r->map, 1);
	}
}

static int dmamap_run(struct bench_ctx *ctx, const struct dm_opts *o, struct csv *csv,
		      struct csv *cdf, bool print)
{
	static struct dm_result r;
	struct iommu *mmu;
	struct dmadom *dom;

	memset(&r, 0, sizeof(r));
	dm_setup(o, &mmu, &dom);
	iommu_stats_reset(mmu);
	/* Latency of the whole call is what is measured: no nested probes. */
	pathctr_set_enabled(false);
	dm_threads_run(ctx, o, dom, &r);
	pathctr_set_enabled(true);
	flush_sync(dmadom_flush(dom));
	flush_stats_get(dmadom_flush(dom), &r.fs);
	iommu_stats_get(mmu, &r.is);
	kernel_stats(r.smap, r.sqmap, r.loops, &r.avg_map, &r.sd_map);
	kernel_stats(r.sunmap, r.squnmap, r.loops, &r.avg_unmap, &r.sd_unmap);
	if (print)
		dm_print(o, &r);
	dm_write(print ? NULL : ctx->table, o, &r, csv, cdf);
	dmadom_destroy(dom);
	iommu_destroy(mmu);
	return 0;
}

#define DMAMAP_CSV_COLS							\
	"op,mode,policy,np_cache,threads,granule_pages,delay_ns,dir,"	\
	BENCH_LAT_COLS ",kernel_avg_us,kernel_stddev_us,loops,"		\
	"inv_cmds_per_unmap,completion_waits_per_unmap,model_hw_ns_per_pair," \
	"exposure_p99_ns"
#define DMAMAP_CDF_COLS "op,mode,np_cache,threads,granule_pages,bucket_ns,cum_fraction"

static void dmamap_defaults(void *opts)
{
	struct dm_opts *o = opts;

	*o = (struct dm_opts){
		.threads = 1, .seconds = 20, .node = -1, .bits = 32,
		.dir = 0, .granule = 1, .mode = FLUSH_STRICT, .policy = INVAL_MERGED,
		.run_ms = 500,
	};
}

static int dmamap_set(void *opts, const char *key, const char *val, char *err, size_t len)
{
	struct dm_opts *o = opts;
	uint64_t v;

	if (!strcmp(key, "mode")) {
		int m = flush_mode_parse(val);

		if (m < 0) {
			snprintf(err, len, "'%s' is not strict, batched or lazy", val);
			return -EINVAL;
		}
		o->mode = (enum flush_mode)m;
		return 0;
	}
	if (!strcmp(key, "policy")) {
		int p = inval_policy_parse(val);

		if (p < 0) {
			snprintf(err, len, "'%s' is not exact, merged or xen", val);
			return -EINVAL;
		}
		o->policy = (enum inval_policy)p;
		return 0;
	}
	if (!strcmp(key, "np_cache"))
		return opt_bool(val, &o->np_cache, err, len);
	if (!strcmp(key, "ms"))
		return opt_u64(val, 1, 300000, &o->run_ms, err, len);
	if (!strcmp(key, "threads") || !strcmp(key, "granule") || !strcmp(key, "delay") ||
	    !strcmp(key, "dir")) {
		uint64_t hi = key[0] == 't' ? DMA_MAP_MAX_THREADS : key[0] == 'g' ?
			      DMA_MAP_MAX_GRANULE : key[1] == 'e' ? DMA_MAP_MAX_TRANS_DELAY : 2;

		if (opt_u64(val, key[0] == 't' || key[0] == 'g' ? 1 : 0, hi, &v, err, len))
			return -EINVAL;
		if (key[0] == 't')
			o->threads = (int)v;
		else if (key[0] == 'g')
			o->granule = (int)v;
		else if (key[1] == 'e')
			o->xdelay = (long)v;
		else
			o->dir = (int)v;
		return 0;
	}
	snprintf(err, len, "unknown option '%s'", key);
	return -EINVAL;
}

static double dmamap_estimate(const void *opts)
{
	const struct dm_opts *o = opts;

	return (o->run_ms ? (double)o->run_ms / 1000 : o->seconds) + 0.05;
}

static int dmamap_family_run(struct bench_ctx *ctx, const void *opts, struct csv *csv,
			     struct csv *cdf)
{
	return dmamap_run(ctx, opts, csv, cdf, false);
}

static const struct family_key dmamap_keys[] = {
	{ "mode", "strict, batched (a wait every 64 pairs per thread) or lazy" },
	{ "policy", "exact, merged (Linux's) or xen" },
	{ "np_cache", "yes: invalidate after maps too (QEMU's AMD IOMMU forces it)" },
	{ "threads", "threads, 1-1024" },
	{ "granule", "pages per map, 1-1024" },
	{ "delay", "ns between map and unmap, 0-10000000" },
	{ "dir", "0 bidirectional, 1 to device, 2 from device" },
	{ "ms", "run time in milliseconds (500)" },
	{ NULL, NULL },
};

const struct family family_dmamap = {
	.name = "dmamap",
	.summary = "dma_map_benchmark twin: map/unmap latency, strict, batched and lazy",
	.keys = dmamap_keys,
	.opts_size = sizeof(struct dm_opts),
	.defaults = dmamap_defaults,
	.set = dmamap_set,
	.estimate_s = dmamap_estimate,
	.csv_name = "dmamap.csv",
	.figure = "mean_ns",
	.key = "op,mode,policy,np_cache,threads,granule_pages,delay_ns,dir",
	.csv_cols = DMAMAP_CSV_COLS,
	.cdf_name = "dmamap_cdf.csv",
	.cdf_cols = DMAMAP_CDF_COLS,
	.run = dmamap_family_run,
};

int cmd_dmamap(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'M' },
		{ "policy", required_argument, NULL, 'P' },
		{ "np-cache", no_argument, NULL, 'N' },
		{ "ms", required_argument, NULL, 'm' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct dm_opts o = DM_OPTS_LINUX;	/* the matrix family uses 500 ms runs instead */
	const char *out = NULL;
	struct bench_ctx ctx;
	struct csv *csv, *cdf;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, DMAMAP_KERNEL_FLAGS "h", opts, NULL)) != -1) {
		if (dmamap_kernel_flag(c, optarg, &o))
			continue;
		switch (c) {
		case 'M': {
			int m = flush_mode_parse(optarg);

			if (m < 0)
				usage_error("--mode: '%s' is not strict, batched or lazy", optarg);
			o.mode = (enum flush_mode)m;
			break;
		}
		case 'P': {
			int p = inval_policy_parse(optarg);

			if (p < 0)
				usage_error("--policy: '%s' is not exact, merged or xen", optarg);
			o.policy = (enum inval_policy)p;
			break;
		}
		case 'N':
			o.np_cache = true;
			break;
		case 'o':
			out = optarg;
			break;
		case 'h':
			fputs(dmamap_usage, stdout);
			return 0;
		default:
			usage_error("dmamap: bad option (see `iob dmamap --help`)");
		}
	}
	if (optind < argc)
		usage_error("dmamap: unexpected argument '%s'", argv[optind]);
	if (out && mkdir(out, 0777) && errno != EEXIST)
		usage_error("--out: cannot create %s: %s", out, strerror(errno));
	bench_ctx_init(&ctx, argc, argv, 1, -1);
	ctx.outdir = out;
	family_csv_open(&ctx, &family_dmamap, &csv, &cdf);
	dmamap_run(&ctx, &o, csv, cdf, true);
	bench_csv_close(csv);
	bench_csv_close(cdf);
	return 0;
}
