// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob micro reach: the pcie-bench experiment (Neugebauer et al., SIGCOMM
 * 2018) on the model. A device DMAs to random places in a window of W
 * bytes mapped with one page size; as W outgrows what the IOTLB covers,
 * hits turn into walks. Reported per point: hit rate, walks and table
 * reads per access, modeled translation time and modeled throughput, and
 * how fast the IOTLB model itself looks up (measured).
 *
 * Modeled throughput serializes translation and transfer for each DMA:
 * bytes / (bytes / link bandwidth + modeled translation time). That is
 * the worst case; it is what makes pcie-bench's drop visible.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <iob/iommu.h>
#include <iob/iopt.h>
#include <iob/reach.h>

#include "bench.h"
#include "util.h"

#define REACH_IOVA	(1ULL << 32)
#define REACH_PA	(1ULL << 40)

struct reach_opts {
	uint64_t ws[24];
	unsigned nws;
	uint64_t pgsizes[3];
	unsigned npg;
	uint64_t entries[4], ways[4];	/* 0: the cost model's geometry */
	unsigned ngeo, nways;
	uint64_t accesses;
	uint64_t dma_bytes;
	bool pattern[REACH_PATTERN_NR];
	uint64_t qemu;			/* 1: QEMU's IOTLB as one more geometry */
};

static void reach_defaults(void *opts)
{
	struct reach_opts *o = opts;

	memset(o, 0, sizeof(*o));
	for (unsigned i = 0; i < 10; i++)
		o->ws[i] = 4096ULL << (2 * i);		/* 4 KiB .. 1 GiB */
	o->nws = 10;
	o->pgsizes[0] = 1ULL << 12;
	o->pgsizes[1] = 1ULL << 21;
	o->pgsizes[2] = 1ULL << 30;
	o->npg = 3;
	/* 64 entries fully associative: what pcie-bench inferred; 0: the cost model's (512x8). */
	o->entries[0] = 64;
	o->ways[0] = 64;
	o->ngeo = o->nways = 2;
	o->accesses = 200000;
	o->dma_bytes = 512;
	o->pattern[REACH_RANDOM] = true;
}

static int reach_set_patterns(struct reach_opts *o, const char *val, char *err, size_t len)
{
	char buf[128], *save = NULL;

	if (strlen(val) >= sizeof(buf) || list_has_empty(val, ',')) {
		snprintf(err, len, "patterns: a list of seq, stride, random, without empty items");
		return -EINVAL;
	}
	strcpy(buf, val);
	memset(o->pattern, 0, sizeof(o->pattern));
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int p = reach_pattern_parse(t);

		if (p < 0) {
			snprintf(err, len, "'%s' is not seq, stride or random", t);
			return -EINVAL;
		}
		o->pattern[p] = true;
	}
	return 0;
}

static int reach_set(void *opts, const char *key, const char *val, char *err, size_t len)
{
	struct reach_opts *o = opts;

	if (!strcmp(key, "ws"))
		return opt_size_list(val, o->ws, 24, &o->nws, true, err, len);
	if (!strcmp(key, "sizes")) {
		if (opt_size_list(val, o->pgsizes, 3, &o->npg, true, err, len))
			return -EINVAL;
		for (unsigned i = 0; i < o->npg; i++)
			if (o->pgsizes[i] != 1ULL << 12 && o->pgsizes[i] != 1ULL << 21 &&
			    o->pgsizes[i] != 1ULL << 30) {
				snprintf(err, len, "page sizes must be 4K, 2M or 1G");
				return -EINVAL;
			}
		return 0;
	}
	if (!strcmp(key, "entries") || !strcmp(key, "ways")) {
		uint64_t *v = key[0] == 'e' ? o->entries : o->ways;
		unsigned *n = key[0] == 'e' ? &o->ngeo : &o->nways;

		if (opt_u64_list(val, 1, 65536, v, 4, n, err, len))
			return -EINVAL;
		for (unsigned i = 0; i < *n; i++)
			if (v[i] & (v[i] - 1)) {
				snprintf(err, len, "%llu is not a power of two",
					 (unsigned long long)v[i]);
				return -EINVAL;
			}
		return 0;
	}
	if (!strcmp(key, "patterns"))
		return reach_set_patterns(o, val, err, len);
	if (!strcmp(key, "qemu"))
		return opt_u64(val, 0, 1, &o->qemu, err, len);
	if (!strcmp(key, "accesses"))
		return opt_u64(val, 1000, 100000000, &o->accesses, err, len);
	if (!strcmp(key, "dma_bytes"))
		return opt_u64(val, 64, 1 << 20, &o->dma_bytes, err, len);
	snprintf(err, len, "unknown option '%s'", key);
	return -EINVAL;
}

static int reach_check(const void *opts, char *err, size_t len)
{
	const struct reach_opts *o = opts;

	if (o->ngeo != o->nways) {
		snprintf(err, len, "entries and ways must list as many values (%u and %u)",
			 o->ngeo, o->nways);
		return -EINVAL;
	}
	for (unsigned i = 0; i < o->ngeo; i++)
		if (o->entries[i] && o->ways[i] > o->entries[i]) {
			snprintf(err, len, "IOTLB geometry %llu entries / %llu ways: more ways "
				 "than entries", (unsigned long long)o->entries[i],
				 (unsigned long long)o->ways[i]);
			return -EINVAL;
		}
	return 0;
}

static double reach_estimate(const void *opts)
{
	const struct reach_opts *o = opts;

	unsigned np = 0;

	for (int p = 0; p < REACH_PATTERN_NR; p++)
		np += o->pattern[p];
	/* ~60 ns per modeled access, plus the lookup-rate loop and mapping. */
	return o->nws * o->npg * (o->ngeo + o->qemu) * np *
	       ((double)o->accesses * 1.6 * 60e-9 + 0.01);
}

static inline uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* One point's figures: the model's counts on the stream, and its own speed. */
struct reach_fig {
	struct iommu_stats st;
	struct iotlb_stats ts;
	enum iotlb_repl repl;
	double hit, walks, xlate_ns, gbps, lookup_mops;
};

/* The IOTLB model's own speed on @addr: lookups only, in millions per second. */
static double reach_lookup_mops(struct iommu *mmu, const uint64_t *addr, uint64_t n)
{
	struct iotlb_entry e;
	unsigned hits = 0;
	uint64_t t0, t1;

	t0 = cycles_now();
	for (uint64_t i = 0; i < n; i++)
		hits += !iotlb_lookup(iommu_iotlb(mmu), 1, addr[i], &e);
	__asm__ volatile("" : : "r"(hits));
	t1 = cycles_end();
	return (double)n / bench_cyc_to_ns((double)(t1 - t0)) * 1e3;
}

/* The @gi-th geometry: entries/ways of the options (0: the cost model's), or QEMU's. */
static void reach_geometry(const struct bench_ctx *ctx, const struct reach_opts *o, unsigned gi,
			   struct iotlb_cfg *geo)
{
	if (gi == o->ngeo) {
		iotlb_cfg_qemu(geo);
		return;
	}
	if (!o->entries[gi]) {
		iotlb_cfg_default(NULL, geo);
	} else {
		*geo = (struct iotlb_cfg){
			.entries = (unsigned)o->entries[gi], .ways = (unsigned)o->ways[gi],
			.pde_entries = IOTLB_DEFAULT_PDE_ENTRIES, .pde_ways = IOTLB_DEFAULT_PDE_WAYS,
		};
	}
	geo->seed = ctx->seed;
}

/*
 * The DMA addresses of a point: random slots of dma_bytes (the pcie-bench
 * experiment), or one 4 KiB frame after another by iob host reach's
 * sequential or strided pattern (iob/reach.h), so that a curve measured on
 * a device lays over the model's.
 */
static void reach_addresses(const struct bench_ctx *ctx, const struct reach_opts *o,
			    enum reach_pattern pat, uint64_t ps, uint64_t ws, unsigned wi,
			    uint64_t *addr, uint64_t n)
{
	uint64_t rng = ctx->seed * 0x9e3779b97f4a7c15ULL + wi + 1;
	uint64_t slots = ws / o->dma_bytes ? ws / o->dma_bytes : 1;
	struct reach_point pt = { .window = ws, .page_size = ps, .pattern = pat, .io_pages = 1,
				  .seed = ctx->seed };
	struct reach_gen g;

	if (pat == REACH_RANDOM) {
		for (uint64_t i = 0; i < n; i++)
			addr[i] = REACH_IOVA + (xs(&rng) % slots) * o->dma_bytes;
		return;
	}
	reach_gen_init(&g, &pt);
	for (uint64_t i = 0; i < n; i++)
		addr[i] = REACH_IOVA + reach_gen_next(&g);
}

/*
 * Geometry @geo, page size @ps, window @ws: a window mapped with @ps
 * pages, @n DMAs at the pattern's addresses (in @addr), translated twice;
 * the second pass is counted.
 */
static void reach_measure(const struct reach_opts *o, const struct iotlb_cfg *geo, uint64_t ps,
			  uint64_t ws, const uint64_t *addr, uint64_t n, struct reach_fig *f)
{
	struct iommu_cfg mc = { .tlb = *geo, .cpu = -1 };
	struct iopt_cfg pc = { .levels = 4, .pgsize_bitmap = IOPT_PGSIZE_4K | ps };
	struct iommu_xlate x;
	struct iommu *mmu;
	struct iopt *pt;

	if (iommu_create(&mc, &mmu))
		run_error("reach: IOTLB geometry %u entries / %u ways is not valid (powers of "
			  "two, ways <= entries)", geo->entries, geo->ways);
	if (iopt_create(&pc, &pt) ||
	    iopt_map(pt, REACH_IOVA, REACH_PA, ws < ps ? ps : ws, IOPT_PROT_RW, NULL))
		run_error("reach: cannot map the window");
	iommu_dte_set(mmu, 1, 1, iopt_root(pt), 4, IOPT_PROT_RW);
	/* Warm up with one pass, then count a second one. */
	for (uint64_t i = 0; i < n; i++)
		iommu_translate(mmu, 1, addr[i], IOPT_PROT_WRITE, &x);
	iommu_stats_reset(mmu);
	iotlb_stats_reset(iommu_iotlb(mmu));
	for (uint64_t i = 0; i < n; i++)
		if (iommu_translate(mmu, 1, addr[i], IOPT_PROT_WRITE, &x))
			run_error("reach: translation fault at 0x%llx", (unsigned long long)addr[i]);
	iommu_stats_get(mmu, &f->st);
	iotlb_stats_get(iommu_iotlb(mmu), &f->ts);
	f->lookup_mops = reach_lookup_mops(mmu, addr, n);
	f->repl = mc.tlb.repl;
	f->hit = f->st.translations ? 1.0 - (double)f->st.walks / f->st.translations : 0;
	f->walks = f->st.translations ? (double)f->st.walks / f->st.translations : 0;
	f->xlate_ns = f->st.translations ? f->st.model_xlate_ns / f->st.translations : 0;
	f->gbps = (double)o->dma_bytes /
		  ((double)o->dma_bytes / iommu_cost(mmu)->dma_bytes_per_ns + f->xlate_ns);
	iommu_destroy(mmu);
	iopt_destroy(pt);
}

static void reach_report(struct bench_ctx *ctx, const struct reach_opts *o,
			 const struct iotlb_cfg *geo, enum reach_pattern pat, uint64_t ps, uint64_t ws,
			 const struct reach_fig *f, struct csv *csv)
{
	char a[32], b[32], g[32];

	if (csv)
		csv_row(csv, "%u,%u,%s,%llu,%llu,%llu,%llu,%.6f,%.6f,%.4f,%.3f,%.3f,%.3f,%.2f,%s",
			geo->entries, geo->ways, iotlb_repl_name(f->repl), (unsigned long long)ps,
			(unsigned long long)ws, (unsigned long long)o->dma_bytes,
			(unsigned long long)f->st.translations, f->hit, f->walks,
			f->st.translations ? (double)f->st.levels_read / f->st.translations : 0,
			f->xlate_ns, f->gbps,
			f->ts.pde_lookups ? (double)f->ts.pde_hits / f->ts.pde_lookups : 0,
			f->lookup_mops, reach_pattern_name(pat));
	if (!ctx->table)
		return;
	snprintf(g, sizeof(g), "%u/%u%s", geo->entries, geo->ways,
		 geo->repl == IOTLB_REPL_RESET ? "q" : "");
	fprintf(ctx->table, "%-9s %-7s %-7s %-6s %8.2f %8.4f %10.2f %10.2f %9.1f\n",
		g, fmt_size(ps, a, sizeof(a)), fmt_size(ws, b, sizeof(b)), reach_pattern_name(pat),
		100 * f->hit, f->walks, f->xlate_ns, f->gbps, f->lookup_mops);
}

static int reach_run(struct bench_ctx *ctx, const void *opts, struct csv *csv,
		     struct csv *cdf)
{
	const struct reach_opts *o = opts;
	unsigned ngeo = o->ngeo + (unsigned)o->qemu, npat = 0, points, done = 0;
	uint64_t n = (uint64_t)((double)o->accesses * ctx->scale);
	uint64_t *addr;
	struct reach_fig f;

	(void)cdf;
	for (int p = 0; p < REACH_PATTERN_NR; p++)
		npat += o->pattern[p];
	points = o->nws * o->npg * ngeo * npat;
	if (n < 1000)
		n = 1000;
	addr = malloc(n * sizeof(*addr));
	if (!addr)
		run_error("out of memory");
	if (ctx->table)
		fprintf(ctx->table, "%-9s %-7s %-7s %-6s %8s %8s %10s %10s %9s\n", "tlb", "page",
			"window", "order", "hit%", "walks", "xlate_ns", "GB/s", "Mlookup/s");
	for (unsigned gi = 0; gi < ngeo; gi++) {
		struct iotlb_cfg geo;

		reach_geometry(ctx, o, gi, &geo);
		for (int pat = REACH_PATTERN_NR - 1; pat >= 0; pat--) {
			if (!o->pattern[pat])
				continue;
			for (unsigned pi = 0; pi < o->npg; pi++)
				for (unsigned wi = 0; wi < o->nws; wi++) {
					reach_addresses(ctx, o, (enum reach_pattern)pat, o->pgsizes[pi],
							o->ws[wi], wi, addr, n);
					reach_measure(o, &geo, o->pgsizes[pi], o->ws[wi], addr, n, &f);
					reach_report(ctx, o, &geo, (enum reach_pattern)pat, o->pgsizes[pi],
						     o->ws[wi], &f, csv);
					bench_progress(ctx, (double)++done / points);
				}
		}
	}
	free(addr);
	return 0;
}

static const struct family_key reach_keys[] = {
	{ "ws", "DMA windows: 4K,16K,...,1G" },
	{ "sizes", "page sizes: 4K,2M,1G" },
	{ "entries", "IOTLB entries per geometry: 64,512 (the second: the cost model's)" },
	{ "ways", "IOTLB ways per geometry (same count as entries): 64,8" },
	{ "patterns", "DMA order: random (slots of dma_bytes), seq, stride (iob host reach's)" },
	{ "qemu", "1: QEMU's IOTLB (1024 entries, emptied when full, 4K tags) as one more geometry" },
	{ "accesses", "DMA accesses per point (200000)" },
	{ "dma_bytes", "bytes per DMA, aligned (512)" },
	{ NULL, NULL },
};

const struct family family_reach = {
	.name = "reach",
	.summary = "IOTLB reach: hit rate and modeled cost against DMA window and page size",
	.keys = reach_keys,
	.opts_size = sizeof(struct reach_opts),
	.defaults = reach_defaults,
	.set = reach_set,
	.check = reach_check,
	.estimate_s = reach_estimate,
	.csv_name = "reach.csv",
	.figure = "model_mlookups_per_s",
	.key = "tlb_entries,tlb_ways,repl,page_size_bytes,window_bytes,dma_bytes,pattern",
	.csv_cols = "tlb_entries,tlb_ways,repl,page_size_bytes,window_bytes,dma_bytes,accesses,"
		    "hit_rate,walks_per_access,levels_per_access,model_xlate_ns,model_gbps,"
		    "pde_hit_rate,model_mlookups_per_s,pattern",
	.run = reach_run,
};
