// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob workload: one guest workload (guest-workloads/) under one strategy
 * and tuning on the model hypervisor; the head-to-head matrix is made of
 * these. One row per run in workloads.csv, path counter records in
 * workloads_paths.csv.
 *
 * Modeled throughput charges each I/O its measured software time plus the
 * modeled hardware time (commands, translations, and the transfer at the
 * cost model's link bandwidth), serialized: one CPU, one device queue.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <iob/pathctr.h>
#include <iob/trace.h>

#include "bench.h"
#include "strategy.h"
#include "util.h"
#include "workload.h"

struct wlf_opts {
	const struct workload *wl;
	enum hv_strategy strategy;
	enum flush_mode flush;
	enum inval_policy policy;
	enum iopt_impl impl;
	bool superpages;
	struct wl_params p;
	uint64_t guest_mib;
	uint64_t max_mib;	/* cap ios so that ios x io_size stays under this; 0: none */
	char trace[1024];
};

static void wlf_defaults(void *opts)
{
	struct wlf_opts *o = opts;

	memset(o, 0, sizeof(*o));
	o->wl = &wl_netrx;
	o->strategy = HV_DMALAYER;
	o->flush = FLUSH_STRICT;
	o->policy = INVAL_MERGED;
	o->impl = IOPT_IMPL_TUNED;
	o->p.io_bytes = 4096;
	o->p.ios = 20000;
	o->p.ring = 256;
	o->p.budget = 64;
	o->p.shape = BLK_VIRTIO;
	o->p.chunk_pages = 64;
	o->p.build_mib = 256;
	o->guest_mib = 64;
}

static int wlf_set(void *opts, const char *key, const char *val, char *err, size_t len)
{
	struct wlf_opts *o = opts;
	struct strategy_opts so;

	if (!strcmp(key, "workload")) {
		o->wl = workload_find(val);
		if (!o->wl) {
			snprintf(err, len, "'%s' is not a workload (netrx, nettx, blk, netback, "
				 "balloon, dombuild, replay)", val);
			return -EINVAL;
		}
		return 0;
	}
	/* Strategy and tuning keys mean what they mean to `iob strategy`. */
	if (!strcmp(key, "strategy") || !strcmp(key, "flush") || !strcmp(key, "policy") ||
	    !strcmp(key, "impl") || !strcmp(key, "superpages")) {
		so.strategy = o->strategy;
		so.flush = o->flush;
		so.policy = o->policy;
		so.impl = o->impl;
		so.superpages = o->superpages;
		if (strategy_set(&so, key, val, err, len))
			return -EINVAL;
		o->strategy = so.strategy;
		o->flush = so.flush;
		o->policy = so.policy;
		o->impl = so.impl;
		o->superpages = so.superpages;
		return 0;
	}
	if (!strcmp(key, "io_size")) {
		if (opt_u64(val, 64, 1 << 20, &o->p.io_bytes, err, len))
			return -EINVAL;
		return 0;
	}
	if (!strcmp(key, "ios"))
		return opt_u64(val, 1, 100000000, &o->p.ios, err, len);
	if (!strcmp(key, "ring"))
		return opt_u64(val, 1, 4096, &o->p.ring, err, len);
	if (!strcmp(key, "budget"))
		return opt_u64(val, 1, HV_BATCH_MAX, &o->p.budget, err, len);
	if (!strcmp(key, "recycle"))
		return opt_bool(val, &o->p.recycle, err, len);
	if (!strcmp(key, "attack"))
		return opt_bool(val, &o->p.attack, err, len);
	if (!strcmp(key, "shape")) {
		if (!strcmp(val, "virtio"))
			o->p.shape = BLK_VIRTIO;
		else if (!strcmp(val, "nvme"))
			o->p.shape = BLK_NVME;
		else {
			snprintf(err, len, "'%s' is not virtio or nvme", val);
			return -EINVAL;
		}
		return 0;
	}
	if (!strcmp(key, "chunk"))
		return opt_u64(val, 1, HV_BATCH_MAX, &o->p.chunk_pages, err, len);
	if (!strcmp(key, "build_mib"))
		return opt_u64(val, 2, 65536, &o->p.build_mib, err, len);
	if (!strcmp(key, "guest_mib"))
		return opt_u64(val, 8, 65536, &o->guest_mib, err, len);
	if (!strcmp(key, "max_mib"))
		return opt_u64(val, 1, 1 << 30, &o->max_mib, err, len);
	if (!strcmp(key, "trace")) {
		if (strlen(val) >= sizeof(o->trace)) {
			snprintf(err, len, "path too long");
			return -EINVAL;
		}
		strcpy(o->trace, val);
		o->p.trace = o->trace;
		return 0;
	}
	snprintf(err, len, "unknown option '%s'", key);
	return -EINVAL;
}

static int wlf_check(const void *opts, char *err, size_t len)
{
	const struct wlf_opts *o = opts;
	uint64_t buf_pages = o->guest_mib * 128;
	uint64_t pages = (o->p.io_bytes + 4095) / 4096;

	if (o->wl == &wl_replay && !o->p.trace) {
		snprintf(err, len, "replay needs trace=FILE");
		return -EINVAL;
	}
	if (o->wl == &wl_replay) {
		/* A malformed trace is bad input: its line and reason, before anything runs. */
		struct trace t;
		int ret = trace_read(o->p.trace, &t, err, len);

		if (ret)
			return ret;
		trace_free(&t);
	}
	if ((o->wl == &wl_netrx && 2 * o->p.ring * pages > buf_pages) ||
	    (o->wl == &wl_nettx && o->p.ring * pages > buf_pages) ||
	    (o->wl == &wl_blk && o->p.ring * (pages + 2) > buf_pages)) {
		snprintf(err, len, "ring x I/O size does not fit in half of guest_mib=%llu",
			 (unsigned long long)o->guest_mib);
		return -EINVAL;
	}
	if (o->wl == &wl_nettx && o->p.budget > o->p.ring) {
		snprintf(err, len, "nettx: budget larger than the ring");
		return -EINVAL;
	}
	if (o->strategy == HV_PV && pages > HV_BATCH_MAX) {
		snprintf(err, len, "pv: an I/O of more than %d pages does not fit one hypercall",
			 HV_BATCH_MAX);
		return -EINVAL;
	}
	if (pages > HV_DMA_PAGES_MAX) {
		snprintf(err, len, "I/O larger than %d pages", HV_DMA_PAGES_MAX);
		return -EINVAL;
	}
	return 0;
}

static double wlf_estimate(const void *opts)
{
	const struct wlf_opts *o = opts;
	double pages = (double)((o->p.io_bytes + 4095) / 4096);
	double ios = (double)o->p.ios;

	if (o->max_mib && ios * (double)o->p.io_bytes > (double)(o->max_mib << 20))
		ios = (double)(o->max_mib << 20) / (double)o->p.io_bytes;
	if (o->wl == &wl_dombuild)
		return (double)o->p.ios * (double)o->p.build_mib * 0.002 + 0.3;
	if (o->wl == &wl_balloon)
		return (double)o->p.ios * (double)o->p.chunk_pages * 4e-6 + 0.3;
	return ios * (2e-6 + pages * 0.5e-6) + 0.1;
}

/* Guest, device, DMA API (and for netback the frontend), per the options. */
static int env_setup(const struct wlf_opts *o, uint64_t seed, struct wl_env *e)
{
	struct wl_env_cfg c = {
		.strategy = o->strategy,
		.tune = { .flush = o->flush, .policy = o->policy, .superpages = o->superpages,
			  .impl = o->impl },
		.guest_mib = o->guest_mib,
		.extra_mib = o->wl == &wl_dombuild ? o->p.build_mib : 0,
		.peer = o->wl->needs_peer,
		.batch = (unsigned)(o->p.budget < HV_BATCH_MAX ? o->p.budget : 64),
		.io_pages = (o->p.io_bytes + 4095) / 4096,
		.seed = seed,
	};

	return wl_env_create(&c, e);
}

#define WL_KEY_COLS "workload,strategy,flush,superpages,policy,impl,io_bytes,ring,budget,recycle,shape"

static const char *wlf_paths_header(void)
{
	return strategy_paths_cols(WL_KEY_COLS);
}

static int wlf_run(struct bench_ctx *ctx, const void *opts, struct csv *csv, struct csv *paths)
{
	const struct wlf_opts *o = opts;
	struct wl_params p = o->p;
	struct wl_result *r = calloc(1, sizeof(*r));
	struct flush_stats *fs = calloc(1, sizeof(*fs));
	struct iommu_stats is0, is1;
	struct iotlb_stats ts;
	struct frames_stats frs;
	struct hv_stats hs;
	struct wl_env e;
	char key[512], lat[256];
	int ret;

	if (!r || !fs)
		run_error("out of memory");
	if (o->max_mib && p.ios * p.io_bytes > (o->max_mib << 20))
		p.ios = (o->max_mib << 20) / p.io_bytes;
	p.ios = (uint64_t)((double)p.ios * ctx->scale);
	if (!p.ios)
		p.ios = 1;
	p.seed = ctx->seed;
	ret = env_setup(o, ctx->seed, &e);
	if (ret)
		run_error("workload %s: cannot build the guest: %s", o->wl->name, strerror(-ret));
	hist_init(&r->lat);
	pathctr_reset();
	hv_stats_reset(e.hv);
	flush_stats_reset(hv_domain_flush(e.hv, e.dom));
	iotlb_stats_reset(iommu_iotlb(hv_iommu(e.hv)));
	iommu_stats_get(hv_iommu(e.hv), &is0);

	ret = o->wl->run(&p, &e, r);
	if (ret == -E2BIG)
		run_error("workload %s: the buffers do not fit the guest (raise guest_mib)",
			  o->wl->name);
	if (ret)
		run_error("workload %s under %s/%s failed: %s", o->wl->name,
			  hv_strategy_name(o->strategy), flush_mode_name(o->flush), strerror(-ret));
	hv_sync(e.hv);
	iommu_stats_get(hv_iommu(e.hv), &is1);
	iotlb_stats_get(iommu_iotlb(hv_iommu(e.hv)), &ts);
	flush_stats_get(hv_domain_flush(e.hv, e.dom), fs);
	frames_stats_get(hv_frames(e.hv), &frs);
	hv_stats_get(e.hv, &hs);

	snprintf(key, sizeof(key), "%s,%s,%s,%d,%s,%s,%llu,%llu,%llu,%d,%s", o->wl->name,
		 hv_strategy_name(o->strategy), flush_mode_name(o->flush), o->superpages,
		 inval_policy_name(o->policy), iopt_impl_name(o->impl),
		 (unsigned long long)p.io_bytes, (unsigned long long)p.ring,
		 (unsigned long long)p.budget, p.recycle,
		 p.shape == BLK_NVME ? "nvme" : "virtio");
	{
		double n = r->ios ? (double)r->ios : 1;
		double mib = r->bytes ? (double)r->bytes / (1 << 20) : 1;
		double sw_ns = bench_cyc_to_ns((double)r->sw_cyc / n);
		double cmd_ns = (is1.model_cmd_ns - is0.model_cmd_ns) / n;
		double xl_ns = r->xlate_ns / n;
		double xfer_ns = (double)r->bytes / n / iommu_cost(hv_iommu(e.hv))->dma_bytes_per_ns;
		double io_ns = sw_ns + cmd_ns + xl_ns + xfer_ns;
		bool exposed = fs->exposure_cyc.count > 0;

		if (csv)
			csv_row(csv, "%s,%d,%llu,%llu,%llu,%.1f,%.1f,%.1f,%s,%.1f,%.1f,%.1f,%.1f,"
				"%.4f,%.2f,%.3f,%.3f,%.4f,%.1f,%.1f,%.1f,%llu,%llu,%llu,%llu,%llu,%llu,%llu",
				key, p.attack, (unsigned long long)r->ios,
				(unsigned long long)r->bytes, (unsigned long long)r->dma_pages,
				(double)r->sw_cyc / n, hist_percentile(&r->lat, 0.5),
				hist_percentile(&r->lat, 0.99),
				bench_lat_fields(&r->lat, 1, lat, sizeof(lat)),
				cmd_ns, xl_ns, xfer_ns, io_ns,
				(double)r->bytes / n / io_ns, 1e6 / io_ns,
				(double)fs->inv_cmds / mib, (double)fs->completion_waits / mib,
				ts.lookups ? (double)ts.misses / ts.lookups : 0,
				exposed ? bench_cyc_to_ns(hist_percentile(&fs->exposure_cyc, 0.99)) : -1,
				exposed ? bench_cyc_to_ns((double)fs->exposure_cyc.max) : -1,
				exposed ? hist_percentile(&fs->exposure_ops, 0.99) : -1,
				(unsigned long long)hs.attack_probes,
				(unsigned long long)hs.probe_hits_remapped,
				(unsigned long long)hs.stale_dmas_own,
				(unsigned long long)hs.stale_dmas_granted,
				(unsigned long long)hs.stale_dmas_foreign,
				(unsigned long long)hs.stale_dmas_free,
				(unsigned long long)frs.reuse_before_flush);
		if (ctx->table)
			fprintf(ctx->table, "%-8s %-8s %-7s sp=%d %7llu B: %9.0f cyc/io (p50 %7.0f)  "
				"hw %7.0f ns/io  %8.2f GB/s %9.1f kIOPS  inv/MiB %8.1f  waits/MiB %8.1f  "
				"exp.p99 %10.0f ns  stale own/granted/foreign/free %llu/%llu/%llu/%llu\n",
				o->wl->name, hv_strategy_name(o->strategy), flush_mode_name(o->flush),
				o->superpages, (unsigned long long)p.io_bytes, (double)r->sw_cyc / n,
				hist_percentile(&r->lat, 0.5), cmd_ns + xl_ns,
				(double)r->bytes / n / io_ns, 1e6 / io_ns,
				(double)fs->inv_cmds / mib, (double)fs->completion_waits / mib,
				exposed ? bench_cyc_to_ns(hist_percentile(&fs->exposure_cyc, 0.99)) : -1,
				(unsigned long long)hs.stale_dmas_own,
				(unsigned long long)hs.stale_dmas_granted,
				(unsigned long long)hs.stale_dmas_foreign,
				(unsigned long long)hs.stale_dmas_free);
	}
	if (paths)
		strategy_write_paths(paths, key);
	wl_env_destroy(&e);
	free(r);
	free(fs);
	return 0;
}

static const struct family_key wlf_keys[] = {
	{ "workload", "netrx, nettx, blk, netback, balloon, dombuild, replay" },
	{ "strategy", "hook, pv or dmalayer" },
	{ "flush", "strict, batched or lazy" },
	{ "superpages", "yes: 2M domain build, 2M/1G leaves where aligned" },
	{ "policy", "exact, merged or xen" },
	{ "impl", "tuned or baseline page-table code" },
	{ "io_size", "packet or request bytes (4K)" },
	{ "ios", "I/Os to run (20000; dombuild: builds, balloon: chunks)" },
	{ "ring", "ring entries or queue depth (256)" },
	{ "budget", "NAPI budget, completions or grant operations per batch (64)" },
	{ "recycle", "netrx: yes keeps buffers mapped (page pool)" },
	{ "shape", "blk: virtio or nvme" },
	{ "chunk", "balloon: pages per hypercall (64)" },
	{ "build_mib", "dombuild: MiB per domain (256)" },
	{ "guest_mib", "guest memory (64)" },
	{ "max_mib", "cap on data moved: ios = min(ios, max_mib / io_size)" },
	{ "trace", "replay: trace file (docs/trace-format.md)" },
	{ "attack", "yes: a device probes the 16 most recently unmapped buffers" },
	{ NULL, NULL },
};

const struct family family_workload = {
	.name = "workload",
	.summary = "a guest workload under one strategy and tuning (the head-to-head matrix)",
	.keys = wlf_keys,
	.opts_size = sizeof(struct wlf_opts),
	.defaults = wlf_defaults,
	.set = wlf_set,
	.check = wlf_check,
	.estimate_s = wlf_estimate,
	.csv_name = "workloads.csv",
	.csv_cols = WL_KEY_COLS ",attack,ios,bytes,dma_pages,sw_cyc_per_io,sw_p50_cyc,sw_p99_cyc,"
		    BENCH_LAT_COLS ",model_cmd_ns_per_io,model_xlate_ns_per_io,model_xfer_ns_per_io,"
		    "model_io_ns,model_gbps,model_kiops,inv_cmds_per_mib,completion_waits_per_mib,"
		    "iotlb_miss_rate,exposure_p99_ns,exposure_max_ns,exposure_p99_ops,"
		    "attack_probes,probe_hits_remapped,stale_dmas_own,stale_dmas_granted,stale_dmas_foreign,stale_dmas_free,reuse_before_flush",
	.cdf_name = "workloads_paths.csv",
	.cdf_cols_fn = wlf_paths_header,
	.run = wlf_run,
};
