// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob strategy: one guest, one device, a map -> DMA -> unmap loop under
 * hook, pv or dmalayer with the chosen tunings, on the model hypervisor.
 *
 * Per I/O it reports the software cycles of the map and unmap paths
 * (measured; the IOMMU model's own inline work is taken off and the
 * device's DMA is not timed), the modeled hardware time (commands and
 * translations, from the cost model), invalidations and completion waits,
 * IOTLB misses, the exposure window of every unmap, and, with attack=yes,
 * how many stale DMAs an attacking device got through and where they
 * landed. Path counter records go to strategy_paths.csv.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <iob/dps.h>
#include <iob/hv.h>
#include <iob/pathctr.h>

#include "bench.h"
#include "strategy.h"
#include "util.h"

void strategy_defaults(void *opts)
{
	struct strategy_opts *o = opts;

	memset(o, 0, sizeof(*o));
	o->strategy = HV_DMALAYER;
	o->flush = FLUSH_STRICT;
	o->policy = INVAL_MERGED;
	o->impl = IOPT_IMPL_TUNED;
	o->io_bytes = 4096;
	o->ios = 20000;
	o->batch = 16;
	o->buffers = 256;
	o->guest_mib = 64;
}

int strategy_set(void *opts, const char *key, const char *val, char *err, size_t len)
{
	struct strategy_opts *o = opts;
	int v;

	if (!strcmp(key, "strategy")) {
		if ((v = hv_strategy_parse(val)) < 0)
			goto bad;
		o->strategy = (enum hv_strategy)v;
		return 0;
	}
	if (!strcmp(key, "flush")) {
		if ((v = flush_mode_parse(val)) < 0)
			goto bad;
		o->flush = (enum flush_mode)v;
		return 0;
	}
	if (!strcmp(key, "policy")) {
		if ((v = inval_policy_parse(val)) < 0)
			goto bad;
		o->policy = (enum inval_policy)v;
		return 0;
	}
	if (!strcmp(key, "impl")) {
		if (!strcmp(val, "tuned"))
			o->impl = IOPT_IMPL_TUNED;
		else if (!strcmp(val, "baseline"))
			o->impl = IOPT_IMPL_BASELINE;
		else
			goto bad;
		return 0;
	}
	if (!strcmp(key, "superpages"))
		return opt_bool(val, &o->superpages, err, len);
	if (!strcmp(key, "attack"))
		return opt_bool(val, &o->attack, err, len);
	if (!strcmp(key, "io_size")) {
		if (opt_u64(val, 4096, 1 << 20, &o->io_bytes, err, len))
			return -EINVAL;
		if (o->io_bytes & 4095) {
			snprintf(err, len, "%s is not a multiple of 4K", val);
			return -EINVAL;
		}
		return 0;
	}
	if (!strcmp(key, "ios"))
		return opt_u64(val, 10, 100000000, &o->ios, err, len);
	if (!strcmp(key, "batch"))
		return opt_u64(val, 1, HV_BATCH_MAX, &o->batch, err, len);
	if (!strcmp(key, "buffers"))
		return opt_u64(val, 1, 65536, &o->buffers, err, len);
	if (!strcmp(key, "guest_mib"))
		return opt_u64(val, 4, 65536, &o->guest_mib, err, len);
	snprintf(err, len, "unknown option '%s'", key);
	return -EINVAL;
bad:
	snprintf(err, len, "'%s' is not a valid %s", val, key);
	return -EINVAL;
}

static int strategy_check(const void *opts, char *err, size_t len)
{
	const struct strategy_opts *o = opts;
	uint64_t pages = o->io_bytes / 4096;

	if (o->buffers * pages > o->guest_mib * 256 / 2) {
		snprintf(err, len, "%llu buffers of %llu bytes do not fit in half of %llu MiB",
			 (unsigned long long)o->buffers, (unsigned long long)o->io_bytes,
			 (unsigned long long)o->guest_mib);
		return -EINVAL;
	}
	if (o->strategy == HV_PV && pages * o->batch > HV_BATCH_MAX) {
		snprintf(err, len, "pv: batch x pages per I/O exceeds %d entries per hypercall",
			 HV_BATCH_MAX);
		return -EINVAL;
	}
	return 0;
}

static double strategy_estimate(const void *opts)
{
	const struct strategy_opts *o = opts;
	double per = 3e-6 + (double)o->io_bytes / 4096 * 0.3e-6;

	return (double)o->ios * per * (o->attack ? 2 : 1) + 0.2;
}

/* Build the hypervisor, the guest, its memory and its device. */
int strategy_setup(const struct strategy_opts *o, uint64_t seed, struct strategy_env *e)
{
	struct hv_cfg hc = {
		.machine_frames = o->guest_mib * 256 * 2 + (1 << 18),
		.strategy = o->strategy,
		.tune = { .flush = o->flush, .policy = o->policy, .superpages = o->superpages,
			  .impl = o->impl },
		.tlb = { .seed = seed },
	};
	uint64_t pages = o->guest_mib * 256;
	unsigned order = o->superpages ? 9 : 0;
	struct dps_cfg pc;
	int ret;

	memset(e, 0, sizeof(*e));
	e->devid = 0x10;
	ret = hv_create(&hc, &e->hv);
	if (ret)
		return ret;
	ret = hv_domain_create(e->hv, pages, &e->dom);
	if (!ret)
		ret = hv_assign_device(e->hv, e->devid, e->dom);
	/* Domain build: 2 MiB extents with superpages, 4 KiB pages without. */
	for (gfn_t g = 0; !ret && g < pages; g += 1ULL << order)
		ret = hv_populate(e->hv, e->dom, g, order);
	if (!ret) {
		/* Strict means every unmap right away; batching is the other modes' point. */
		pc = (struct dps_cfg){ .hv = e->hv, .dom = e->dom, .devid = e->devid,
				       .batch = o->flush == FLUSH_STRICT ? 1 : (unsigned)o->batch };
		ret = dps_create(&pc, &e->dps);
	}
	if (ret) {
		hv_destroy(e->hv);
		e->hv = NULL;
	}
	return ret;
}

void strategy_teardown(struct strategy_env *e)
{
	dps_destroy(e->dps);
	hv_destroy(e->hv);
	memset(e, 0, sizeof(*e));
}

#define ATTACK_WINDOW 16
#define STRATEGY_KEY_COLS "strategy,flush,superpages,policy,impl,io_bytes,batch"

static int strategy_run(struct bench_ctx *ctx, const void *opts, struct csv *csv,
			struct csv *paths)
{
	const struct strategy_opts *o = opts;
	uint64_t ios = (uint64_t)((double)o->ios * ctx->scale);
	unsigned pages = (unsigned)(o->io_bytes / 4096);
	static struct hist lat;
	struct strategy_env e;
	struct iommu_stats is0, is1;
	struct iotlb_stats ts;
	struct flush_stats *fs = malloc(sizeof(*fs));
	struct frames_stats frs;
	struct hv_stats hs;
	uint64_t recent[ATTACK_WINDOW] = { 0 }, recent_mfn[ATTACK_WINDOW] = { 0 }, sw_cyc = 0;
	double xlate_ns = 0;
	unsigned nrecent = 0;
	gfn_t *gfns = calloc(pages, sizeof(*gfns));
	char key[256], l[256];
	int ret;

	if (!fs || !gfns)
		run_error("out of memory");
	if (ios < 10)
		ios = 10;
	ret = strategy_setup(o, ctx->seed, &e);
	if (ret)
		run_error("strategy: cannot build the guest: %s", strerror(-ret));
	hist_init(&lat);
	pathctr_reset();
	iommu_stats_get(hv_iommu(e.hv), &is0);
	iotlb_stats_reset(iommu_iotlb(hv_iommu(e.hv)));
	flush_stats_reset(hv_domain_flush(e.hv, e.dom));
	hv_stats_reset(e.hv);

	for (uint64_t i = 0; i < ios; i++) {
		/* Buffers in the upper half of the guest, reused round-robin like a ring. */
		gfn_t base = o->guest_mib * 128 + (i % o->buffers) * pages;
		struct hv_dma_result r;
		uint64_t addr, x0, t0, t1, t2, t3;
		bool flush_now = (i + 1) % o->batch == 0;

		for (unsigned k = 0; k < pages; k++)
			gfns[k] = base + k;
		x0 = iommu_thread_exec_cyc();
		t0 = cycles_now();
		ret = dps_map(e.dps, gfns, pages, IOPT_PROT_WRITE, &addr);
		t1 = cycles_end();
		if (ret)
			run_error("strategy: map failed: %s", strerror(-ret));
		/* The device's DMA is hardware: not timed. */
		if (hv_device_dma(e.hv, e.devid, addr, o->io_bytes, IOPT_PROT_WRITE, &r))
			run_error("strategy: DMA to a mapped buffer faulted");
		xlate_ns += r.model_ns;
		t2 = cycles_now();
		ret = dps_unmap(e.dps, addr, pages);
		if (!ret && flush_now)
			ret = dps_flush(e.dps);
		t3 = cycles_end();
		if (ret)
			run_error("strategy: unmap failed: %s", strerror(-ret));
		{
			uint64_t sw = (t1 - t0) + (t3 - t2);
			uint64_t model = iommu_thread_exec_cyc() - x0;
			double ov = 2 * cycles_info()->overhead_cyc;

			sw = sw > model ? sw - model : 0;
			sw = sw > ov ? sw - (uint64_t)ov : 0;
			hist_record(&lat, sw);
			sw_cyc += sw;
		}
		if (o->attack) {
			/* The attacker hits what was just unmapped, and what was unmapped lately. */
			recent_mfn[nrecent % ATTACK_WINDOW] = hv_p2m_lookup(e.hv, e.dom, base, NULL);
			recent[nrecent++ % ATTACK_WINDOW] = addr;
			for (unsigned k = 0; k < ATTACK_WINDOW && k < nrecent; k++)
				hv_stale_probe(e.hv, e.devid, e.dom, recent[k], recent_mfn[k]);
		}
		if ((i & 63) == 63)
			hv_tick(e.hv);
	}
	dps_flush(e.dps);
	hv_sync(e.hv);
	iommu_stats_get(hv_iommu(e.hv), &is1);
	iotlb_stats_get(iommu_iotlb(hv_iommu(e.hv)), &ts);
	flush_stats_get(hv_domain_flush(e.hv, e.dom), fs);
	frames_stats_get(hv_frames(e.hv), &frs);
	hv_stats_get(e.hv, &hs);

	snprintf(key, sizeof(key), "%s,%s,%d,%s,%s,%llu,%llu", hv_strategy_name(o->strategy),
		 flush_mode_name(o->flush), o->superpages, inval_policy_name(o->policy),
		 iopt_impl_name(o->impl), (unsigned long long)o->io_bytes,
		 (unsigned long long)o->batch);
	{
		double cmd_ns = (is1.model_cmd_ns - is0.model_cmd_ns) / ios;
		/* The workload's own DMAs only: the attacker's probes are not its cost. */
		double xl_ns = xlate_ns / ios;
		double mean_cyc = (double)sw_cyc / ios;
		/* No unmap ever flushed (hook): the window never closes, -1 as in workloads.csv. */
		bool exposed = fs->exposure_cyc.count > 0;
		double exp_p99 = exposed ? bench_cyc_to_ns(hist_percentile(&fs->exposure_cyc, 0.99)) : -1;

		if (csv)
			csv_row(csv, "%s,%d,%llu,%.1f,%.1f,%s,%.1f,%.1f,%.4f,%.4f,%.4f,%.4f,"
				"%.1f,%.1f,%.1f,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%d",
				key, o->attack, (unsigned long long)ios, mean_cyc,
				hist_percentile(&lat, 0.5), bench_lat_fields(&lat, 1, l, sizeof(l)),
				cmd_ns, xl_ns, (double)fs->inv_cmds / ios,
				(double)fs->completion_waits / ios,
				ts.lookups ? (double)ts.misses / ts.lookups : 0,
				(double)hs.dmas / ios,
				exp_p99,
				exposed ? bench_cyc_to_ns((double)fs->exposure_cyc.max) : -1,
				exposed ? hist_percentile(&fs->exposure_ops, 0.99) : -1,
				(unsigned long long)hs.attack_probes,
				(unsigned long long)hs.probe_hits_remapped,
				(unsigned long long)hs.stale_dmas_own,
				(unsigned long long)hs.stale_dmas_granted,
				(unsigned long long)hs.stale_dmas_foreign,
				(unsigned long long)hs.stale_dmas_free,
				(unsigned long long)frs.reuse_before_flush,
				(unsigned long long)fs->flush_alls, (int)pages);
		if (ctx->table)
			fprintf(ctx->table, "%-8s %-7s sp=%d %-6s %7llu B: %8.0f cyc/io  hw %7.0f ns/io  "
				"inv %.3f  waits %.3f  exp.p99 %9.0f ns  stale own/granted/foreign/free %llu/%llu/%llu/%llu\n",
				hv_strategy_name(o->strategy), flush_mode_name(o->flush),
				o->superpages, inval_policy_name(o->policy),
				(unsigned long long)o->io_bytes, mean_cyc, cmd_ns + xl_ns,
				(double)fs->inv_cmds / ios, (double)fs->completion_waits / ios,
				exp_p99,
				(unsigned long long)hs.stale_dmas_own,
				(unsigned long long)hs.stale_dmas_granted,
				(unsigned long long)hs.stale_dmas_foreign,
				(unsigned long long)hs.stale_dmas_free);
	}
	if (paths)
		strategy_write_paths(paths, key);
	strategy_teardown(&e);
	free(fs);
	free(gfns);
	return 0;
}

void strategy_write_paths(struct csv *c, const char *key)
{
	struct pathctr_rec rec[PATH_NR];

	pathctr_sum(rec);
	for (int p = 0; p < PATH_NR; p++) {
		char hbuf[64 * 21 + 1];
		size_t n = 0;

		if (!rec[p].count)
			continue;
		for (int b = 0; b < PATHCTR_LOG2_BUCKETS; b++)
			n += (size_t)snprintf(hbuf + n, sizeof(hbuf) - n, ",%llu",
					      (unsigned long long)rec[p].log2[b]);
		csv_row(c, "%s,%s,%llu,%llu,%llu,%llu,%.1f,%.1f%s", key, pathctr_name(p),
			(unsigned long long)rec[p].count, (unsigned long long)rec[p].total_cyc,
			(unsigned long long)rec[p].min_cyc, (unsigned long long)rec[p].max_cyc,
			(double)rec[p].total_cyc / rec[p].count,
			bench_cyc_to_ns((double)rec[p].total_cyc / rec[p].count), hbuf);
	}
}

const char *strategy_paths_cols(const char *prefix)
{
	static char buf[2048];
	size_t n = (size_t)snprintf(buf, sizeof(buf),
				    "%s,path,count,total_cyc,min_cyc,max_cyc,mean_cyc,mean_ns", prefix);

	for (int b = 0; b < PATHCTR_LOG2_BUCKETS; b++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ",log2_%d", b);
	return buf;
}

static const char *strategy_paths_header(void)
{
	return strategy_paths_cols(STRATEGY_KEY_COLS);
}

static const struct family_key strategy_keys[] = {
	{ "strategy", "hook, pv or dmalayer" },
	{ "flush", "strict, batched or lazy" },
	{ "superpages", "yes: 2M/1G leaves where aligned (and 2M domain build)" },
	{ "policy", "exact, merged or xen: range to invalidation commands" },
	{ "impl", "tuned or baseline page-table code" },
	{ "io_size", "bytes per I/O, a multiple of 4K (4K)" },
	{ "ios", "I/Os (20000)" },
	{ "batch", "I/Os per batch: deferred unmaps and one wait (16)" },
	{ "buffers", "ring of buffers reused round-robin (256)" },
	{ "guest_mib", "guest memory (64)" },
	{ "attack", "yes: a device DMAs to the 16 most recently unmapped buffers" },
	{ NULL, NULL },
};

const struct family family_strategy = {
	.name = "strategy",
	.summary = "map, DMA, unmap loop per strategy and tuning on the model hypervisor",
	.keys = strategy_keys,
	.opts_size = sizeof(struct strategy_opts),
	.defaults = strategy_defaults,
	.set = strategy_set,
	.check = strategy_check,
	.estimate_s = strategy_estimate,
	.csv_name = "strategy.csv",
	.csv_cols = STRATEGY_KEY_COLS ",attack,ios,sw_cyc_per_io,sw_p50_cyc," BENCH_LAT_COLS
		    ",model_cmd_ns_per_io,model_xlate_ns_per_io,inv_cmds_per_io,"
		    "completion_waits_per_io,iotlb_miss_rate,dma_pages_per_io,"
		    "exposure_p99_ns,exposure_max_ns,exposure_p99_ops,attack_probes,"
		    "probe_hits_remapped,stale_dmas_own,stale_dmas_granted,stale_dmas_foreign,"
		    "stale_dmas_free,reuse_before_flush,flush_alls,io_pages",
	.cdf_name = "strategy_paths.csv",
	.cdf_cols_fn = strategy_paths_header,
	.run = strategy_run,
};
