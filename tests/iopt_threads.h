/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IOPT_F_SHARED under threads: several threads map and unmap at once,
 * each in its own range of one table, without a lock, each against its
 * own reference model (a per-4K array). "adjacent": the ranges lie side
 * by side at 4K boundaries, so threads share leaf tables and install
 * tables under one parent at the same time; "disjoint": each range in a 1G
 * block of its own, sharing only the upper levels. A thread's stream and
 * expected results depend only on its seed (its range is its own): a
 * failure names the seed, the thread and the operation, and IOB_TEST_SEED
 * replays the streams.
 *
 * Written without Criterion, whose runner does not work under
 * ThreadSanitizer (Snaipe/Criterion#274): test_iopt.c wraps these in
 * Criterion tests, stress_threads.c runs them in the ThreadSanitizer
 * build. Each returns 0, or -1 with the reason in @err.
 */
#ifndef IOB_TEST_IOPT_THREADS_H
#define IOB_TEST_IOPT_THREADS_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iob/iopt.h>
#include <iob/warn.h>

#include "prng.h"

#define TH_MAX		4
#define TH_OPS		3000
#define TH_4K		0x1000ULL
#define TH_2M		0x200000ULL
#define TH_1G		0x40000000ULL

struct th_cfg {
	unsigned levels;
	uint64_t pgsize;
	enum iopt_impl impl;
	bool adjacent;
	unsigned nthreads;
};

static struct th_cfg th_cfgs[] = {
	{ 4, IOPT_PGSIZE_DEFAULT, IOPT_IMPL_TUNED, true, 2 },
	{ 4, IOPT_PGSIZE_DEFAULT, IOPT_IMPL_TUNED, true, 4 },
	{ 4, IOPT_PGSIZE_ALL_POW2, IOPT_IMPL_TUNED, true, 4 },
	{ 3, IOPT_PGSIZE_ALL_POW2, IOPT_IMPL_TUNED, false, 2 },
	{ 5, IOPT_PGSIZE_4K, IOPT_IMPL_TUNED, true, 3 },
	{ 4, IOPT_PGSIZE_DEFAULT, IOPT_IMPL_BASELINE, true, 2 },
	{ 4, IOPT_PGSIZE_ALL_POW2, IOPT_IMPL_BASELINE, false, 4 },
	{ 6, IOPT_PGSIZE_DEFAULT, IOPT_IMPL_TUNED, false, 3 },
};

#define TH_NCFGS	(sizeof(th_cfgs) / sizeof(th_cfgs[0]))

struct th_run {
	const struct th_cfg *c;
	struct iopt *pt;
	pthread_barrier_t *start;
	unsigned idx;
	iova_t lo;		/* the thread's range [lo, lo + bytes) */
	uint64_t bytes;
	uint64_t *model;	/* per 4K page, th_enc() or 0 */
	uint64_t seed;
	unsigned op;
	char err[256];		/* the first failure */
	uint64_t maps, busy, unmapped;
};

/* Model entry: 0 unmapped, else (pa >> 12) << 2 | prot. */
static inline uint64_t th_enc(paddr_t pa, unsigned prot)
{
	return ((pa >> 12) << 2) | prot;
}

static inline const char *th_pgsize_name(uint64_t pg)
{
	return pg == IOPT_PGSIZE_4K ? "4k" : pg == IOPT_PGSIZE_ALL_POW2 ? "pow2" : "default";
}

__attribute__((format(printf, 3, 4)))
static inline int th_fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

#define TH_CHECK(r, cond, fmt, ...)						\
	do {									\
		if (!(cond) && !(r)->err[0])					\
			snprintf((r)->err, sizeof((r)->err), "op %u: %s: " fmt,	\
				 (r)->op, #cond, ##__VA_ARGS__);		\
	} while (0)

static inline void th_compare(struct th_run *r, uint64_t off)
{
	struct amdvi_walk w;
	uint64_t want = r->model[off >> 12];
	int ret = iopt_translate(r->pt, r->lo + off, &w);

	if (!want) {
		TH_CHECK(r, ret == -EFAULT && w.fault == AMDVI_FAULT_NOT_PRESENT,
			 "0x%llx translates", (unsigned long long)(r->lo + off));
		return;
	}
	TH_CHECK(r, ret == 0, "0x%llx: fault %s", (unsigned long long)(r->lo + off),
		 amdvi_fault_name(w.fault));
	if (!ret)
		TH_CHECK(r, th_enc(w.pa, w.prot) == want, "0x%llx -> 0x%llx prot %u, model 0x%llx",
			 (unsigned long long)(r->lo + off), (unsigned long long)w.pa, w.prot,
			 (unsigned long long)((want >> 2) << 12));
}

static inline void *th_main(void *arg)
{
	struct th_run *r = arg;
	struct iopt_gather g;
	struct prng rng;

	prng_seed(&rng, r->seed);
	iopt_gather_init(&g, NULL, NULL);
	pthread_barrier_wait(r->start);
	for (r->op = 0; r->op < TH_OPS && !r->err[0]; r->op++) {
		uint64_t x = prng_below(&rng, 100), len, off, first, n;
		unsigned al = x < 50 ? 12 : x < 75 ? 16 : 21;

		/* Lengths: a few pages, a power of two, a few 2M blocks. */
		x = prng_below(&rng, 100);
		if (x < 50)
			len = (1 + prng_below(&rng, 16)) << 12;
		else if (x < 80)
			len = 1ULL << (13 + prng_below(&rng, 9));
		else
			len = (1 + prng_below(&rng, 3)) << 21;
		if (r->c->pgsize == IOPT_PGSIZE_4K && len > TH_2M)
			len = TH_2M;
		if (len > r->bytes)
			len = r->bytes;
		off = prng_below(&rng, r->bytes - len + 1) & ~((1ULL << al) - 1);
		first = off >> 12;
		n = len >> 12;
		if (prng_below(&rng, 100) < 55) {
			/* Same offset in its 1G as the IOVA most of the time: superpages form. */
			paddr_t pa = prng_below(&rng, 3) ?
				     (prng_below(&rng, 1 << 20) << 30) | ((r->lo + off) & (TH_1G - 1)) :
				     prng_below(&rng, 1ULL << 38) << 12;
			unsigned prot = 1 + (unsigned)prng_below(&rng, 3);
			bool busy = false;
			int ret;

			for (uint64_t i = 0; i < n && !busy; i++)
				busy = r->model[first + i] != 0;
			ret = iopt_map(r->pt, r->lo + off, pa, len, prot, &g);
			TH_CHECK(r, ret == (busy ? -EEXIST : 0), "map 0x%llx+0x%llx: %d",
				 (unsigned long long)(r->lo + off), (unsigned long long)len, ret);
			if (!ret) {
				for (uint64_t i = 0; i < n; i++)
					r->model[first + i] = th_enc(pa + (i << 12), prot);
				r->maps++;
			} else {
				r->busy++;
			}
		} else {
			uint64_t mapped = 0, bytes = ~0ULL;
			int ret;

			for (uint64_t i = 0; i < n; i++) {
				mapped += r->model[first + i] != 0;
				r->model[first + i] = 0;
			}
			ret = iopt_unmap(r->pt, r->lo + off, len, &g, &bytes);
			TH_CHECK(r, ret == 0, "unmap: %d", ret);
			TH_CHECK(r, bytes == mapped << 12, "unmap 0x%llx+0x%llx: 0x%llx bytes, model 0x%llx",
				 (unsigned long long)(r->lo + off), (unsigned long long)len,
				 (unsigned long long)bytes, (unsigned long long)(mapped << 12));
			if (g.freelist.pages)
				TH_CHECK(r, g.pde && g.pending, "tables freed without a PDE flush");
			r->unmapped += mapped != 0;
			/* No IOMMU here: the flush is done as soon as it is asked for. */
			iopt_gather_release(r->pt, &g);
			iopt_gather_init(&g, NULL, NULL);
		}
		/* The range's ends and a few pages inside; pages just outside if ours. */
		th_compare(r, off);
		th_compare(r, off + len - TH_4K);
		for (unsigned k = 0; k < 4; k++)
			th_compare(r, off + (prng_below(&rng, n) << 12));
		if (off)
			th_compare(r, off - TH_4K);
		if (off + len < r->bytes)
			th_compare(r, off + len);
	}
	return NULL;
}

struct th_leaf_check {
	struct th_run *runs;
	unsigned nruns;
	uint64_t bytes;
	char err[256];
};

static inline void th_leaf(void *ctx, iova_t iova, paddr_t pa, unsigned lg2, unsigned prot)
{
	struct th_leaf_check *lc = ctx;
	uint64_t size = 1ULL << lg2;

	for (unsigned i = 0; i < lc->nruns; i++) {
		struct th_run *r = &lc->runs[i];

		if (iova < r->lo || iova >= r->lo + r->bytes)
			continue;
		if (iova + size > r->lo + r->bytes && !lc->err[0])
			snprintf(lc->err, sizeof(lc->err), "leaf 0x%llx 2^%u crosses thread %u's range",
				 (unsigned long long)iova, lg2, i);
		for (uint64_t o = 0; o < size && !lc->err[0]; o += TH_4K)
			if (r->model[(iova - r->lo + o) >> 12] != th_enc(pa + o, prot))
				snprintf(lc->err, sizeof(lc->err), "page 0x%llx: thread %u's model differs",
					 (unsigned long long)(iova + o), i);
		lc->bytes += size;
		return;
	}
	if (!lc->err[0])
		snprintf(lc->err, sizeof(lc->err), "leaf 0x%llx outside every range",
			 (unsigned long long)iova);
}

/*
 * Tables that hold entries of 1G and up over [@base, @end) in a table of
 * @levels: the root and, per level below it down to 3, one per region of
 * that level's table size the window touches (a window across a 512G
 * boundary needs two level-3 tables).
 */
static inline uint64_t th_tables_above_1g(iova_t base, iova_t end, unsigned levels)
{
	uint64_t n = 1;

	for (unsigned l = 3; l < levels; l++) {
		unsigned span = amdvi_level_shift(l) + 9;

		n += ((end - 1) >> span) - (base >> span) + 1;
	}
	return n;
}

/* The shared-table property streams of @c. */
static inline int th_run_cfg(const struct th_cfg *c, char *err, size_t errlen)
{
	struct iopt_cfg cfg = { .levels = c->levels, .pgsize_bitmap = c->pgsize,
				.impl = c->impl, .flags = IOPT_F_SHARED };
	struct th_run runs[TH_MAX];
	pthread_t tid[TH_MAX];
	pthread_barrier_t start;
	struct th_leaf_check lc = { .runs = runs, .nruns = c->nthreads };
	struct iopt_gather g;
	struct iopt_stats st;
	struct prng r0;
	uint64_t seed = test_seed(((uint64_t)c->levels << 40) ^ (c->pgsize >> 12) ^
				  ((uint64_t)c->impl << 50) ^ ((uint64_t)c->adjacent << 52) ^
				  ((uint64_t)c->nthreads << 54) ^ 0x7a5c);
	uint64_t seed0 = seed, mapped = 0, bytes;
	iova_t base, end;
	char name[64];
	struct iopt *pt;
	int ret = 0;

	snprintf(name, sizeof(name), "L%u/%s/%s/%s/%u threads", c->levels,
		 th_pgsize_name(c->pgsize), iopt_impl_name(c->impl),
		 c->adjacent ? "adjacent" : "disjoint", c->nthreads);
	prng_seed(&r0, seed);
	if (iopt_create(&cfg, &pt))
		return th_fail(err, errlen, "%s: iopt_create", name);
	/* A window of 1G blocks from a random one, below the top (4 blocks). */
	base = prng_below(&r0, (1ULL << (amdvi_level_shift(c->levels) + 9 - 30)) - 4) << 30;
	end = base;
	pthread_barrier_init(&start, NULL, c->nthreads);
	for (unsigned i = 0; i < c->nthreads; i++) {
		struct th_run *r = &runs[i];

		memset(r, 0, sizeof(*r));
		r->c = c;
		r->pt = pt;
		r->start = &start;
		r->idx = i;
		/* 8 to 24 MiB, at a 4K boundary that is rarely a 2M one. */
		r->bytes = (2048 + prng_below(&r0, 4096)) << 12;
		r->lo = c->adjacent ? end : base + ((uint64_t)i << 30) + (prng_below(&r0, 256) << 12);
		end = r->lo + r->bytes;
		r->seed = splitmix64(&seed);
		r->model = calloc(r->bytes >> 12, sizeof(*r->model));
		if (!r->model)
			return th_fail(err, errlen, "out of memory");
	}
	for (unsigned i = 0; i < c->nthreads; i++)
		pthread_create(&tid[i], NULL, th_main, &runs[i]);
	for (unsigned i = 0; i < c->nthreads; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&start);
	for (unsigned i = 0; i < c->nthreads && !ret; i++) {
		struct th_run *r = &runs[i];

		if (r->err[0])
			ret = th_fail(err, errlen, "seed=0x%llx cfg=%s thread %u (range 0x%llx+0x%llx): %s",
				      (unsigned long long)seed0, name, i, (unsigned long long)r->lo,
				      (unsigned long long)r->bytes, r->err);
		else if (r->maps < 50 || r->busy < 10 || r->unmapped < 50)
			ret = th_fail(err, errlen, "%s: weak stream: %llu maps, %llu busy, %llu unmaps hit",
				      name, (unsigned long long)r->maps, (unsigned long long)r->busy,
				      (unsigned long long)r->unmapped);
		for (uint64_t p = 0; p < r->bytes >> 12; p++)
			mapped += r->model[p] != 0;
	}

	/* All together, alone now: the table is what the models say, and sound. */
	if (!ret && iopt_check(pt))
		ret = th_fail(err, errlen, "seed=0x%llx cfg=%s: iopt_check", (unsigned long long)seed0,
			      name);
	if (!ret) {
		iopt_for_each_leaf(pt, th_leaf, &lc);
		if (lc.err[0])
			ret = th_fail(err, errlen, "seed=0x%llx cfg=%s: %s", (unsigned long long)seed0,
				      name, lc.err);
		else if (lc.bytes != mapped << 12)
			ret = th_fail(err, errlen, "seed=0x%llx cfg=%s: leaves 0x%llx bytes, models 0x%llx",
				      (unsigned long long)seed0, name, (unsigned long long)lc.bytes,
				      (unsigned long long)(mapped << 12));
	}
	iopt_stats_get(pt, &st);
	if (!ret && st.tables_live != iopt_count_tables(pt))
		ret = th_fail(err, errlen, "%s: counters summed over threads: %llu tables live, %llu reachable",
			      name, (unsigned long long)st.tables_live,
			      (unsigned long long)iopt_count_tables(pt));
	/* One unmap of all of it frees every table below the window's blocks. */
	iopt_gather_init(&g, NULL, NULL);
	if (!ret && (iopt_unmap(pt, base, ((end - base + TH_1G - 1) >> 30) << 30, &g, &bytes) ||
		     bytes != mapped << 12))
		ret = th_fail(err, errlen, "%s: the final unmap", name);
	iopt_gather_release(pt, &g);
	if (!ret && iopt_count_tables(pt) != th_tables_above_1g(base, end, c->levels))
		ret = th_fail(err, errlen, "%s: %llu tables left, want the %llu of the levels above 1G "
			      "(window 0x%llx..0x%llx)", name, (unsigned long long)iopt_count_tables(pt),
			      (unsigned long long)th_tables_above_1g(base, end, c->levels),
			      (unsigned long long)base, (unsigned long long)end);
	if (!ret && iob_warn_count())
		ret = th_fail(err, errlen, "library warning: %s", iob_warn_message(0));
	iopt_destroy(pt);
	for (unsigned i = 0; i < c->nthreads; i++)
		free(runs[i].model);
	return ret;
}

/*
 * Every round the tables are gone and the threads, released together, map
 * a page each into the same missing level-3, level-2 and level-1 tables:
 * each install is a race that compare-and-swap must settle (a plain store
 * would lose a page and leak a table).
 */
#define RACE_ROUNDS	3000
#define RACE_THREADS	4

struct th_race {
	struct iopt *pt;
	pthread_barrier_t *go, *done;
	unsigned idx, rounds;
	int ret;
};

static inline void *th_race_main(void *arg)
{
	struct th_race *r = arg;

	for (unsigned k = 0; k < r->rounds; k++) {
		int ret;

		pthread_barrier_wait(r->go);
		ret = iopt_map(r->pt, TH_1G * 3 + r->idx * TH_4K, 0x100000 + r->idx * TH_4K, TH_4K,
			       IOPT_PROT_RW, NULL);
		if (ret && !r->ret)
			r->ret = ret;
		pthread_barrier_wait(r->done);
	}
	return NULL;
}

static inline int th_race(unsigned rounds, char *err, size_t errlen)
{
	struct iopt_cfg cfg = { .levels = 4, .flags = IOPT_F_SHARED };
	pthread_barrier_t go, done;
	struct th_race r[RACE_THREADS];
	pthread_t tid[RACE_THREADS];
	struct iopt *pt;
	int ret = 0;

	if (iopt_create(&cfg, &pt))
		return th_fail(err, errlen, "iopt_create");
	pthread_barrier_init(&go, NULL, RACE_THREADS + 1);
	pthread_barrier_init(&done, NULL, RACE_THREADS + 1);
	for (unsigned i = 0; i < RACE_THREADS; i++) {
		r[i] = (struct th_race){ pt, &go, &done, i, rounds, 0 };
		pthread_create(&tid[i], NULL, th_race_main, &r[i]);
	}
	for (unsigned k = 0; k < rounds; k++) {
		struct iopt_gather g;
		struct iopt_stats st;
		uint64_t bytes;

		pthread_barrier_wait(&go);
		pthread_barrier_wait(&done);
		for (unsigned i = 0; i < RACE_THREADS && !ret; i++) {
			struct amdvi_walk w;

			if (r[i].ret)
				ret = th_fail(err, errlen, "round %u thread %u: %d", k, i, r[i].ret);
			else if (iopt_translate(pt, TH_1G * 3 + i * TH_4K, &w) ||
				 w.pa != 0x100000 + i * TH_4K)
				ret = th_fail(err, errlen, "round %u: thread %u's page was lost", k, i);
		}
		iopt_stats_get(pt, &st);
		if (!ret && (iopt_count_tables(pt) != 4 || st.tables_live != 4))
			ret = th_fail(err, errlen, "round %u: %llu tables, %llu live: a table leaked", k,
				      (unsigned long long)iopt_count_tables(pt),
				      (unsigned long long)st.tables_live);
		/* All gone again: the level-3 table holding them is freed whole. */
		iopt_gather_init(&g, NULL, NULL);
		if (iopt_unmap(pt, 0, 1ULL << 39, &g, &bytes) ||
		    (!ret && bytes != RACE_THREADS * TH_4K))
			ret = ret ? ret : th_fail(err, errlen, "round %u: unmap", k);
		iopt_gather_release(pt, &g);
	}
	for (unsigned i = 0; i < RACE_THREADS; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&go);
	pthread_barrier_destroy(&done);
	if (!ret && iopt_check(pt))
		ret = th_fail(err, errlen, "iopt_check");
	iopt_destroy(pt);
	return ret;
}

#endif /* IOB_TEST_IOPT_THREADS_H */
