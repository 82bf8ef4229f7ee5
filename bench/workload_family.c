// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob workload: one guest workload (guest-workloads/) under one strategy
 * and tuning on the model hypervisor; the head-to-head matrix is made of
 * these (pingpong, one map, DMA and unmap at a time, is what `iob
 * strategy` measured). One row per run in workloads.csv, path counter
 * records in workloads_paths.csv.
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
	bool only_set[5];	/* which of only_for[]'s keys were given */
};

/* Keys that mean something to one workload only: given to another, bad input. */
static const struct {
	const char *key, *workload;
} only_for[5] = {
	{ "shape", "blk" }, { "recycle", "netrx" }, { "chunk", "balloon" },
	{ "build_mib", "dombuild" }, { "trace", "replay" },
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

/* The strategy and tuning keys. Return: 0, 1 when @key is not one of them, or -EINVAL. */
static int tuning_set(struct wlf_opts *o, const char *key, const char *val, char *err, size_t len)
{
	int v;

	if (!strcmp(key, "superpages"))
		return opt_bool(val, &o->superpages, err, len);
	if (!strcmp(key, "strategy")) {
		if ((v = hv_strategy_parse(val)) >= 0)
			o->strategy = (enum hv_strategy)v;
	} else if (!strcmp(key, "flush")) {
		if ((v = flush_mode_parse(val)) >= 0)
			o->flush = (enum flush_mode)v;
	} else if (!strcmp(key, "policy")) {
		if ((v = inval_policy_parse(val)) >= 0)
			o->policy = (enum inval_policy)v;
	} else if (!strcmp(key, "impl")) {
		v = !strcmp(val, "tuned") ? IOPT_IMPL_TUNED :
		    !strcmp(val, "baseline") ? IOPT_IMPL_BASELINE : -1;
		if (v >= 0)
			o->impl = (enum iopt_impl)v;
	} else {
		return 1;
	}
	if (v >= 0)
		return 0;
	snprintf(err, len, "'%s' is not a valid %s", val, key);
	return -EINVAL;
}

static int wlf_set_one(struct wlf_opts *o, const char *key, const char *val, char *err,
		       size_t len);

static int wlf_set(void *opts, const char *key, const char *val, char *err, size_t len)
{
	struct wlf_opts *o = opts;
	int ret = wlf_set_one(o, key, val, err, len);

	for (size_t i = 0; !ret && i < sizeof(only_for) / sizeof(only_for[0]); i++)
		if (!strcmp(key, only_for[i].key))
			o->only_set[i] = true;
	return ret;
}

static int wlf_set_one(struct wlf_opts *o, const char *key, const char *val, char *err,
		       size_t len)
{
	int ret;

	if (!strcmp(key, "workload")) {
		o->wl = workload_find(val);
		if (!o->wl) {
			snprintf(err, len, "'%s' is not a workload (netrx, nettx, blk, netback, "
				 "balloon, dombuild, replay, pingpong)", val);
			return -EINVAL;
		}
		return 0;
	}
	ret = tuning_set(o, key, val, err, len);
	if (ret <= 0)
		return ret;
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
		ret = 0;
		for (size_t i = 0; i < t.n; i++)
			ret |= t.ev[i].op == TRACE_MAP;
		trace_free(&t);
		if (!ret) {
			snprintf(err, len, "%s: no map events: nothing to replay", o->p.trace);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < sizeof(only_for) / sizeof(only_for[0]); i++)
		if (o->only_set[i] && strcmp(o->wl->name, only_for[i].workload)) {
			snprintf(err, len, "%s applies to workload %s only, not %s", only_for[i].key,
				 only_for[i].workload, o->wl->name);
			return -EINVAL;
		}
	if ((o->wl == &wl_netrx && 2 * o->p.ring * pages > buf_pages) ||
	    ((o->wl == &wl_nettx || o->wl == &wl_pingpong) && o->p.ring * pages > buf_pages) ||
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
	/* blk splits its data into several mappings, as drivers do; the others map one buffer. */
	if (o->wl != &wl_blk && o->wl != &wl_replay &&
	    pages > dps_strategy_max_pages(o->strategy)) {
		snprintf(err, len, "%s: an I/O of %llu pages is larger than one %s mapping (%u pages)",
			 o->wl->name, (unsigned long long)pages, hv_strategy_name(o->strategy),
			 dps_strategy_max_pages(o->strategy));
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

/* workloads_paths.csv's header: the key columns, then the path counter record. */
static const char *wlf_paths_header(void)
{
	static char buf[2048];
	size_t n = (size_t)snprintf(buf, sizeof(buf),
				    "%s,path,count,total_cyc,min_cyc,max_cyc,mean_cyc,mean_ns",
				    WL_KEY_COLS);

	for (int b = 0; b < PATHCTR_LOG2_BUCKETS; b++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ",log2_%d", b);
	return buf;
}

/* The path counter records @rec (summed over threads) as rows after @key's columns. */
static void wlf_write_paths(struct csv *c, const char *key, const struct pathctr_rec *rec)
{
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

/* What a run leaves to report: the workload's result and the model's counters. */
struct wlf_out {
	struct wl_params p;
	struct wl_result r;
	struct flush_stats fs;
	struct iommu_stats is0, is1;
	struct iotlb_stats ts;
	struct frames_stats frs;
	struct hv_stats hs;
	struct pathctr_rec paths[PATH_NR];	/* summed before the guest is torn down */
	double dma_bytes_per_ns;
};

/* Build the guest, reset the counters, run the workload, read the counters. */
static void wlf_measure(struct bench_ctx *ctx, const struct wlf_opts *o, struct wlf_out *w)
{
	struct wl_env e;
	int ret;

	w->p = o->p;
	if (o->max_mib && w->p.ios * w->p.io_bytes > (o->max_mib << 20))
		w->p.ios = (o->max_mib << 20) / w->p.io_bytes;
	w->p.ios = (uint64_t)((double)w->p.ios * ctx->scale);
	if (!w->p.ios)
		w->p.ios = 1;
	w->p.seed = ctx->seed;
	ret = env_setup(o, ctx->seed, &e);
	if (ret)
		run_error("workload %s: cannot build the guest: %s", o->wl->name, strerror(-ret));
	hist_init(&w->r.lat);
	pathctr_reset();
	hv_stats_reset(e.hv);
	flush_stats_reset(hv_domain_flush(e.hv, e.dom));
	iotlb_stats_reset(iommu_iotlb(hv_iommu(e.hv)));
	iommu_stats_get(hv_iommu(e.hv), &w->is0);

	ret = o->wl->run(&w->p, &e, &w->r);
	if (ret == -E2BIG)
		run_error("workload %s: the buffers do not fit the guest (raise guest_mib)",
			  o->wl->name);
	if (ret)
		run_error("workload %s under %s/%s failed: %s", o->wl->name,
			  hv_strategy_name(o->strategy), flush_mode_name(o->flush), strerror(-ret));
	hv_sync(e.hv);
	iommu_stats_get(hv_iommu(e.hv), &w->is1);
	iotlb_stats_get(iommu_iotlb(hv_iommu(e.hv)), &w->ts);
	flush_stats_get(hv_domain_flush(e.hv, e.dom), &w->fs);
	frames_stats_get(hv_frames(e.hv), &w->frs);
	hv_stats_get(e.hv, &w->hs);
	pathctr_sum(w->paths);
	w->dma_bytes_per_ns = iommu_cost(hv_iommu(e.hv))->dma_bytes_per_ns;
	wl_env_destroy(&e);
}

/* The figures of a row, per I/O and per MiB. */
struct wlf_fig {
	double n, mib, sw_ns, cmd_ns, xl_ns, xfer_ns, io_ns, exp_p99_ns;
};

static void wlf_figures(const struct wlf_out *w, struct wlf_fig *f)
{
	f->n = w->r.ios ? (double)w->r.ios : 1;
	f->mib = w->r.bytes ? (double)w->r.bytes / (1 << 20) : 1;
	f->sw_ns = bench_cyc_to_ns((double)w->r.sw_cyc / f->n);
	f->cmd_ns = (w->is1.model_cmd_ns - w->is0.model_cmd_ns) / f->n;
	f->xl_ns = w->r.xlate_ns / f->n;
	f->xfer_ns = (double)w->r.bytes / f->n / w->dma_bytes_per_ns;
	f->io_ns = f->sw_ns + f->cmd_ns + f->xl_ns + f->xfer_ns;
	/* No unmap ever flushed (hook): the window never closes, -1. */
	f->exp_p99_ns = w->fs.exposure_cyc.count ?
			bench_cyc_to_ns(hist_percentile(&w->fs.exposure_cyc, 0.99)) : -1;
}

static void wlf_row(struct csv *csv, const char *key, const struct wlf_out *w,
		    const struct wlf_fig *f)
{
	const struct hv_stats *hs = &w->hs;
	bool exposed = w->fs.exposure_cyc.count > 0;
	char lat[256];

	csv_row(csv, "%s,%d,%llu,%llu,%llu,%.1f,%.1f,%.1f,%s,%.1f,%.1f,%.1f,%.1f,"
		"%.4f,%.2f,%.3f,%.3f,%.4f,%.1f,%.1f,%.1f,%llu,%llu,%llu,%llu,%llu,%llu,%llu,"
		"%.4f,%.4f,%llu",
		key, w->p.attack, (unsigned long long)w->r.ios,
		(unsigned long long)w->r.bytes, (unsigned long long)w->r.dma_pages,
		(double)w->r.sw_cyc / f->n, hist_percentile(&w->r.lat, 0.5),
		hist_percentile(&w->r.lat, 0.99),
		bench_lat_fields(&w->r.lat, 1, lat, sizeof(lat)),
		f->cmd_ns, f->xl_ns, f->xfer_ns, f->io_ns,
		(double)w->r.bytes / f->n / f->io_ns, 1e6 / f->io_ns,
		(double)w->fs.inv_cmds / f->mib, (double)w->fs.completion_waits / f->mib,
		w->ts.lookups ? (double)w->ts.misses / w->ts.lookups : 0, f->exp_p99_ns,
		exposed ? bench_cyc_to_ns((double)w->fs.exposure_cyc.max) : -1,
		exposed ? hist_percentile(&w->fs.exposure_ops, 0.99) : -1,
		(unsigned long long)hs->attack_probes,
		(unsigned long long)hs->probe_hits_remapped,
		(unsigned long long)hs->stale_dmas_own,
		(unsigned long long)hs->stale_dmas_granted,
		(unsigned long long)hs->stale_dmas_foreign,
		(unsigned long long)hs->stale_dmas_free,
		(unsigned long long)w->frs.reuse_before_flush,
		(double)w->fs.inv_cmds / f->n, (double)w->fs.completion_waits / f->n,
		(unsigned long long)w->fs.flush_alls);
}

static void wlf_table(FILE *t, const struct wlf_opts *o, const struct wlf_out *w,
		      const struct wlf_fig *f)
{
	fprintf(t, "%-8s %-8s %-7s sp=%d %7llu B: %9.0f cyc/io (p50 %7.0f)  "
		"hw %7.0f ns/io  %8.2f GB/s %9.1f kIOPS  inv/MiB %8.1f  waits/MiB %8.1f  "
		"exp.p99 %10.0f ns  stale own/granted/foreign/free %llu/%llu/%llu/%llu\n",
		o->wl->name, hv_strategy_name(o->strategy), flush_mode_name(o->flush),
		o->superpages, (unsigned long long)w->p.io_bytes, (double)w->r.sw_cyc / f->n,
		hist_percentile(&w->r.lat, 0.5), f->cmd_ns + f->xl_ns,
		(double)w->r.bytes / f->n / f->io_ns, 1e6 / f->io_ns,
		(double)w->fs.inv_cmds / f->mib, (double)w->fs.completion_waits / f->mib,
		f->exp_p99_ns,
		(unsigned long long)w->hs.stale_dmas_own,
		(unsigned long long)w->hs.stale_dmas_granted,
		(unsigned long long)w->hs.stale_dmas_foreign,
		(unsigned long long)w->hs.stale_dmas_free);
}

static int wlf_run(struct bench_ctx *ctx, const void *opts, struct csv *csv, struct csv *paths)
{
	const struct wlf_opts *o = opts;
	struct wlf_out *w = calloc(1, sizeof(*w));
	struct wlf_fig f;
	char key[512];

	if (!w)
		run_error("out of memory");
	wlf_measure(ctx, o, w);
	wlf_figures(w, &f);
	snprintf(key, sizeof(key), "%s,%s,%s,%d,%s,%s,%llu,%llu,%llu,%d,%s", o->wl->name,
		 hv_strategy_name(o->strategy), flush_mode_name(o->flush), o->superpages,
		 inval_policy_name(o->policy), iopt_impl_name(o->impl),
		 (unsigned long long)w->p.io_bytes, (unsigned long long)w->p.ring,
		 (unsigned long long)w->p.budget, w->p.recycle,
		 w->p.shape == BLK_NVME ? "nvme" : "virtio");
	if (csv)
		wlf_row(csv, key, w, &f);
	if (ctx->table)
		wlf_table(ctx->table, o, w, &f);
	if (paths)
		wlf_write_paths(paths, key, w->paths);
	free(w);
	return 0;
}

static const struct family_key wlf_keys[] = {
	{ "workload", "netrx, nettx, blk, netback, balloon, dombuild, replay, pingpong" },
	{ "strategy", "hook, pv, dmalayer, or swiotlb (no IOMMU: every buffer bounced)" },
	{ "flush", "strict, batched or lazy" },
	{ "superpages", "yes: 2M domain build, 2M/1G leaves where aligned" },
	{ "policy", "exact, merged or xen" },
	{ "impl", "tuned or baseline page-table code" },
	{ "io_size", "packet or request bytes (4K)" },
	{ "ios", "I/Os to run (20000; dombuild: builds, balloon: chunks)" },
	{ "ring", "ring entries, queue depth, or pingpong's buffers reused round-robin (256)" },
	{ "budget", "NAPI budget, completions, grant operations or pingpong I/Os per flush (64)" },
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
	.figure = "sw_cyc_per_io",
	.key = "workload,strategy,flush,superpages,policy,impl,io_bytes,ring,budget,recycle,shape,attack",
	.csv_cols = WL_KEY_COLS ",attack,ios,bytes,dma_pages,sw_cyc_per_io,sw_p50_cyc,sw_p99_cyc,"
		    BENCH_LAT_COLS ",model_cmd_ns_per_io,model_xlate_ns_per_io,model_xfer_ns_per_io,"
		    "model_io_ns,model_gbps,model_kiops,inv_cmds_per_mib,completion_waits_per_mib,"
		    "iotlb_miss_rate,exposure_p99_ns,exposure_max_ns,exposure_p99_ops,"
		    "attack_probes,probe_hits_remapped,stale_dmas_own,stale_dmas_granted,stale_dmas_foreign,stale_dmas_free,reuse_before_flush,"
		    "inv_cmds_per_io,completion_waits_per_io,flush_alls",
	.cdf_name = "workloads_paths.csv",
	.cdf_cols_fn = wlf_paths_header,
	.run = wlf_run,
};
