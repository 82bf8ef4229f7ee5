// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob micro pgtable: map and unmap cost of the tuned and the baseline
 * page table, software only (no invalidation is sent: the gather's flush
 * callback only counts), in the same process, alternating.
 *
 * Setup follows the Linux measurements it is compared with: upper levels
 * already present (one untimed round first), IOVAs from 4 GiB up, physical
 * addresses offset by one page from any larger alignment so that no larger
 * page can be used.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <iob/iopt.h>

#include "bench.h"
#include "util.h"

#define IOVA_BASE	(4ULL << 30)
#define PA_BASE		(1ULL << 40)
/*
 * Calls per timed region: enough pages that a region lasts well over the
 * TSC's step (21 cycles, 10 ns, on the development VM).
 */
#define BATCH_PAGES	1024
#define BATCH_MAX	256

struct micro_pgtable_opts {
	uint64_t pgsizes;	/* bitmap of page sizes to sweep */
	uint64_t counts[16];	/* pages per call */
	unsigned ncounts;
	bool contig, random;
	uint64_t rounds;	/* timed rounds per case */
	uint64_t levels;
};

static void pgtable_defaults(void *opts)
{
	static const uint64_t counts[] = { 1, 16, 256, 4096 };
	struct micro_pgtable_opts *o = opts;

	memset(o, 0, sizeof(*o));
	o->pgsizes = IOPT_PGSIZE_4K | IOPT_PGSIZE_2M | IOPT_PGSIZE_1G;
	memcpy(o->counts, counts, sizeof(counts));
	o->ncounts = 4;
	o->contig = o->random = true;
	o->rounds = 300;
	o->levels = 4;
}

static int pgtable_set(void *opts, const char *key, const char *val, char *err, size_t len)
{
	struct micro_pgtable_opts *o = opts;

	if (!strcmp(key, "sizes")) {
		uint64_t v[8];
		unsigned n;

		if (opt_size_list(val, v, 8, &n, true, err, len))
			return -EINVAL;
		o->pgsizes = 0;
		for (unsigned i = 0; i < n; i++) {
			if (v[i] != IOPT_PGSIZE_4K && v[i] != IOPT_PGSIZE_2M && v[i] != IOPT_PGSIZE_1G) {
				snprintf(err, len, "page size %llu is not 4K, 2M or 1G",
					 (unsigned long long)v[i]);
				return -EINVAL;
			}
			o->pgsizes |= v[i];
		}
		return 0;
	}
	if (!strcmp(key, "counts"))
		return opt_u64_list(val, 1, 1 << 16, o->counts, 16, &o->ncounts, err, len);
	if (!strcmp(key, "layout")) {
		o->contig = !strcmp(val, "contig") || !strcmp(val, "both");
		o->random = !strcmp(val, "random") || !strcmp(val, "both");
		if (o->contig || o->random)
			return 0;
		snprintf(err, len, "'%s' is not contig, random or both", val);
		return -EINVAL;
	}
	if (!strcmp(key, "rounds"))
		return opt_u64(val, 10, 1000000, &o->rounds, err, len);
	if (!strcmp(key, "levels"))
		return opt_u64(val, 3, 6, &o->levels, err, len);
	snprintf(err, len, "unknown option '%s'", key);
	return -EINVAL;
}

static double pgtable_estimate(const void *opts)
{
	const struct micro_pgtable_opts *o = opts;
	double pages = 0;

	for (unsigned i = 0; i < o->ncounts; i++)
		pages += (double)o->counts[i] + 64;
	/* About 40 ns per page per round for both implementations, map and unmap. */
	return __builtin_popcountll(o->pgsizes) * (o->contig + o->random) * pages *
	       (double)o->rounds * 40e-9 + 0.1;
}

struct call {
	iova_t iova;
	paddr_t pa;
	uint64_t len;
};

static void noop_flush(void *ctx, iova_t iova, uint64_t size, bool pde)
{
	(void)iova;
	(void)size;
	(void)pde;
	++*(uint64_t *)ctx;
}

struct pg_case {
	unsigned lg2, pages;
	bool random;
	struct call *calls;
	unsigned ncalls;		/* calls per timed region */
	double per_call_pages;
};

/* One round: map every call (timed), unmap every call (timed). */
static void round_once(struct iopt *pt, const struct pg_case *pc, struct hist *hm,
		       struct hist *hu, uint64_t *flushes)
{
	struct iopt_gather g;
	uint64_t t0, t1;
	int ret = 0;

	iopt_gather_init(&g, noop_flush, flushes);
	t0 = cycles_now();
	for (unsigned i = 0; i < pc->ncalls; i++)
		ret |= iopt_map(pt, pc->calls[i].iova, pc->calls[i].pa, pc->calls[i].len,
				IOPT_PROT_RW, NULL);
	t1 = cycles_end();
	if (ret)
		run_error("micro pgtable: map failed (%d)", ret);
	if (hm)
		bench_record(hm, t0, t1);

	t0 = cycles_now();
	for (unsigned i = 0; i < pc->ncalls; i++)
		ret |= iopt_unmap(pt, pc->calls[i].iova, pc->calls[i].len, &g, NULL);
	iopt_gather_flush(&g);
	t1 = cycles_end();
	if (ret)
		run_error("micro pgtable: unmap failed (%d)", ret);
	if (hu)
		bench_record(hu, t0, t1);
	iopt_gather_release(pt, &g);
}

static void build_calls(struct pg_case *pc, uint64_t *rng)
{
	uint64_t psize = 1ULL << pc->lg2;

	if (!pc->random) {
		/* N contiguous pages in one call; tiny calls are batched to beat timer noise. */
		pc->ncalls = BATCH_PAGES / pc->pages;
		if (pc->ncalls > BATCH_MAX)
			pc->ncalls = BATCH_MAX;
		if (!pc->ncalls)
			pc->ncalls = 1;
		for (unsigned i = 0; i < pc->ncalls; i++) {
			pc->calls[i].iova = IOVA_BASE + (uint64_t)i * pc->pages * psize;
			pc->calls[i].pa = PA_BASE + psize + (uint64_t)i * 2 * pc->pages * psize;
			pc->calls[i].len = (uint64_t)pc->pages * psize;
		}
		pc->per_call_pages = pc->pages;
		return;
	}
	/* N one-page calls at distinct random slots of a window 8 times larger. */
	unsigned slots = pc->pages * 8;
	unsigned *perm = malloc(slots * sizeof(*perm));

	if (!perm)
		run_error("out of memory");
	for (unsigned i = 0; i < slots; i++)
		perm[i] = i;
	for (unsigned i = slots - 1; i > 0; i--) {
		unsigned j;

		*rng ^= *rng << 13;
		*rng ^= *rng >> 7;
		*rng ^= *rng << 17;
		j = (unsigned)(*rng % (i + 1));
		unsigned t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	pc->ncalls = pc->pages;
	for (unsigned i = 0; i < pc->ncalls; i++) {
		pc->calls[i].iova = IOVA_BASE + (uint64_t)perm[i] * psize;
		pc->calls[i].pa = PA_BASE + psize + (uint64_t)i * 2 * psize;
		pc->calls[i].len = psize;
	}
	pc->per_call_pages = 1;
	free(perm);
}

/*
 * One case: a table per implementation, warmed up, then @rounds rounds of
 * the case's calls, the implementations alternating (baseline and tuned in
 * the same process, neither always first).
 */
static void pgtable_case(const struct micro_pgtable_opts *o, const struct pg_case *pc,
			 unsigned rounds, struct hist *hm, struct hist *hu, uint64_t *flushes)
{
	struct iopt *pt[IOPT_IMPL_NR];

	for (int im = 0; im < IOPT_IMPL_NR; im++) {
		struct iopt_cfg cfg = { .levels = (unsigned)o->levels, .impl = im };

		if (iopt_create(&cfg, &pt[im]))
			run_error("iopt_create failed");
		hist_init(&hm[im]);
		hist_init(&hu[im]);
		/* Warm-up: upper levels exist, caches hot. */
		for (int w = 0; w < 3; w++)
			round_once(pt[im], pc, NULL, NULL, flushes);
	}
	for (unsigned r = 0; r < rounds; r++)
		for (int k = 0; k < IOPT_IMPL_NR; k++) {
			int im = (r & 1) ? IOPT_IMPL_NR - 1 - k : k;

			round_once(pt[im], pc, &hm[im], &hu[im], flushes);
		}
	for (int im = 0; im < IOPT_IMPL_NR; im++)
		iopt_destroy(pt[im]);
}

/* A case's rows (per call), CDFs and table lines, map then unmap. */
static void pgtable_report(struct bench_ctx *ctx, const struct micro_pgtable_opts *o,
			   const struct pg_case *pc, const struct hist *hm, const struct hist *hu,
			   struct csv *csv, struct csv *cdf)
{
	double per = pc->ncalls;	/* report per call */
	const char *layout = pc->random ? "random" : "contig";
	char lat[256], key[128], sz[32];

	for (int op = 0; op < 2; op++) {
		const struct hist *h = op ? hu : hm;
		double tb = bench_p50_ns(&h[IOPT_IMPL_BASELINE], per);
		double tt = bench_p50_ns(&h[IOPT_IMPL_TUNED], per);

		for (int im = 0; im < IOPT_IMPL_NR && csv; im++) {
			double p50 = bench_p50_ns(&h[im], per);

			csv_row(csv, "%s,%s,%llu,%u,%s,%u,%u,%s,%.3f,%.1f,%.3f",
				iopt_impl_name(im), op ? "unmap" : "map", 1ULL << pc->lg2, pc->pages,
				layout, (unsigned)o->levels, pc->ncalls,
				bench_lat_fields(&h[im], per, lat, sizeof(lat)),
				p50 / pc->per_call_pages, hist_percentile(&h[im], 0.5) / per,
				p50 > 0 ? tb / p50 : 0);
		}
		for (int im = 0; im < IOPT_IMPL_NR && cdf; im++) {
			snprintf(key, sizeof(key), "%s,%s,%llu,%u,%s", iopt_impl_name(im),
				 op ? "unmap" : "map", 1ULL << pc->lg2, pc->pages, layout);
			bench_write_cdf(cdf, key, &h[im], per);
		}
		if (ctx->table)
			fprintf(ctx->table, "%-6s %6u %-6s %-5s %12.1f %12.1f %7.1fx\n",
				fmt_size(1ULL << pc->lg2, sz, sizeof(sz)), pc->pages, layout,
				op ? "unmap" : "map", tt, tb, tt > 0 ? tb / tt : 0);
	}
}

static int pgtable_run(struct bench_ctx *ctx, const void *opts, struct csv *csv,
		       struct csv *cdf)
{
	const struct micro_pgtable_opts *o = opts;
	static struct hist hm[IOPT_IMPL_NR], hu[IOPT_IMPL_NR];
	uint64_t rng = ctx->seed | 1, flushes = 0;
	unsigned rounds = (unsigned)(o->rounds * ctx->scale);
	unsigned ncases = 0, done = 0;

	if (rounds < 10)
		rounds = 10;
	for (unsigned lg2 = 12; lg2 < 64; lg2++)
		if ((o->pgsizes >> lg2) & 1)
			ncases += o->ncounts * (o->contig + o->random);
	if (ctx->table)
		fprintf(ctx->table, "%-6s %6s %-6s %-5s %12s %12s %8s\n", "size", "pages",
			"layout", "op", "tuned_ns", "baseline_ns", "ratio");

	for (unsigned lg2 = 12; lg2 < 64; lg2++) {
		if (!((o->pgsizes >> lg2) & 1))
			continue;
		for (unsigned ci = 0; ci < o->ncounts; ci++) {
			for (int pat = 0; pat < 2; pat++) {
				struct pg_case pc = { .lg2 = lg2, .pages = (unsigned)o->counts[ci],
						      .random = pat == 1 };

				if ((pat == 0 && !o->contig) || (pat == 1 && !o->random))
					continue;
				done++;
				if (pat == 1 && pc.pages == 1)
					continue;	/* one random page is the contiguous case */
				pc.calls = calloc(pc.pages > BATCH_MAX ? pc.pages : BATCH_MAX,
						  sizeof(*pc.calls));
				if (!pc.calls)
					run_error("out of memory");
				build_calls(&pc, &rng);
				pgtable_case(o, &pc, rounds, hm, hu, &flushes);
				pgtable_report(ctx, o, &pc, hm, hu, csv, cdf);
				free(pc.calls);
				bench_progress(ctx, (double)done / ncases);
			}
		}
	}
	return 0;
}

static const struct family_key pgtable_keys[] = {
	{ "sizes", "page sizes to sweep: 4K,2M,1G" },
	{ "counts", "pages per call: 1,16,256,4096" },
	{ "layout", "contig (N pages in one call), random (N one-page calls), both" },
	{ "rounds", "timed rounds per case (300)" },
	{ "levels", "page-table levels, 3..6 (4)" },
	{ NULL, NULL },
};

const struct family family_pgtable = {
	.name = "pgtable",
	.summary = "map and unmap cost, tuned vs baseline page table (software only)",
	.keys = pgtable_keys,
	.opts_size = sizeof(struct micro_pgtable_opts),
	.defaults = pgtable_defaults,
	.set = pgtable_set,
	.estimate_s = pgtable_estimate,
	.csv_name = "pgtable.csv",
	.csv_cols = "impl,op,page_size_bytes,pages_per_call,pattern,levels,calls_per_sample,"
		    BENCH_LAT_COLS ",per_page_p50_ns,p50_cyc,baseline_over_tuned_p50",
	.cdf_name = "pgtable_cdf.csv",
	.cdf_cols = "impl,op,page_size_bytes,pages_per_call,pattern,bucket_ns,cum_fraction",
	.run = pgtable_run,
};
