// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iopt: the AMD-Vi v1 I/O page table.
 *
 *  - unit tests: entries worked out by hand from the specification (pub.
 *    48882, "I/O Page Tables for Host Translations") and compared as hex;
 *  - property tests: random map/unmap/translate streams against a per-4K
 *    reference model, for every level count, page-size set, flag set and
 *    implementation; tuned and baseline fed the same stream must build
 *    identical tables;
 *  - allocation failure injected at every allocation of map and of
 *    splitting unmaps: nothing changes, nothing leaks.
 *
 * Property tests print "seed=0x..." on failure; IOB_TEST_SEED=0x... replays
 * (every configuration then runs that seed). IOB_TEST_VERBOSE=1 prints what
 * each random stream covered (maps, collisions, splits, folds).
 *
 * Entry bits used in the worked examples (v1 PTE/PDE):
 *   bit 0 PR, 11:9 Next Level, 51:12 address, 60 FC, 61 IR, 62 IW.
 *   leaf, read/write:  PR|FC|IR|IW = 0x7000000000000001
 *   leaf, read only:   PR|FC|IR    = 0x3000000000000001
 *   leaf, write only:  PR|FC|IW    = 0x5000000000000001
 *   PDE:               PR|IR|IW    = 0x6000000000000001, Next Level n = n << 9
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iob/alloc.h>
#include <iob/iopt.h>
#include <iob/ptpage.h>
#include <iob/warn.h>

#include "iopt_threads.h"
#include "prng.h"

#define SZ_4K		0x1000ULL
#define SZ_64K		0x10000ULL
#define SZ_256K		0x40000ULL
#define SZ_1M		0x100000ULL
#define SZ_2M		0x200000ULL
#define SZ_4M		0x400000ULL
#define SZ_16M		0x1000000ULL
#define SZ_1G		0x40000000ULL

#define LEAF_RW		0x7000000000000001ULL
#define PDE_NL1		0x6000000000000201ULL
#define PDE_NL2		0x6000000000000401ULL
#define PDE_NL3		0x6000000000000601ULL

/* ---- helpers -------------------------------------------------------------- */

static uint64_t *table_of(uint64_t e)
{
	return (uint64_t *)(uintptr_t)(e & AMDVI_PTE_ADDR);
}

static bool is_pde(uint64_t e, unsigned level)
{
	unsigned nl = amdvi_pte_next_level(e);

	return (e & AMDVI_PTE_PR) && level > 1 && nl != 0 && nl != 7;
}

/* The level-@level table on @iova's path, or NULL if the path ends above. */
static uint64_t *table_at(const struct iopt *pt, iova_t iova, unsigned level)
{
	uint64_t *t = table_of(iopt_root(pt));

	for (unsigned l = iopt_levels(pt); l > level; l--) {
		uint64_t e = t[(iova >> amdvi_level_shift(l)) & 511];

		if (!is_pde(e, l))
			return NULL;
		t = table_of(e);
	}
	return t;
}

static uint64_t entry_at(const struct iopt *pt, iova_t iova, unsigned level)
{
	uint64_t *t = table_at(pt, iova, level);

	cr_assert_not_null(t, "no level-%u table for iova 0x%llx", level,
			   (unsigned long long)iova);
	return t[(iova >> amdvi_level_shift(level)) & 511];
}

static unsigned present_in(const uint64_t *t)
{
	unsigned n = 0;

	for (unsigned i = 0; i < 512; i++)
		n += (unsigned)(t[i] & AMDVI_PTE_PR);
	return n;
}

/* The level whose table holds a page of 2^@lg2 (as one or more entries). */
static unsigned lg2_level_of(unsigned lg2)
{
	return (lg2 - 12) / 9 + 1;
}

static struct iopt *mk(unsigned levels, uint64_t pgsize, unsigned flags,
		       enum iopt_impl impl)
{
	struct iopt_cfg cfg = { .levels = levels, .pgsize_bitmap = pgsize,
				.impl = impl, .flags = flags };
	struct iopt *pt = NULL;

	cr_assert_eq(iopt_create(&cfg, &pt), 0);
	return pt;
}

static uint64_t live_tables(const struct iopt *pt)
{
	struct iopt_stats st;

	iopt_stats_get(pt, &st);
	return st.tables_live;
}

static void expect_translates(const struct iopt *pt, iova_t iova, paddr_t pa,
			      unsigned size_lg2, unsigned prot)
{
	struct amdvi_walk w;
	int ret = iopt_translate(pt, iova, &w);

	cr_assert_eq(ret, 0, "iova 0x%llx: fault %s", (unsigned long long)iova,
		     amdvi_fault_name(w.fault));
	cr_assert_eq(w.pa, pa, "iova 0x%llx: pa 0x%llx, want 0x%llx",
		     (unsigned long long)iova, (unsigned long long)w.pa,
		     (unsigned long long)pa);
	cr_assert_eq(w.size_lg2, size_lg2, "iova 0x%llx: size 2^%u, want 2^%u",
		     (unsigned long long)iova, w.size_lg2, size_lg2);
	cr_assert_eq(w.prot, prot);
}

static void expect_unmapped(const struct iopt *pt, iova_t iova)
{
	struct amdvi_walk w;

	cr_assert_eq(iopt_translate(pt, iova, &w), -EFAULT, "iova 0x%llx translates",
		     (unsigned long long)iova);
	cr_assert_eq(w.fault, AMDVI_FAULT_NOT_PRESENT);
}

/* Records every range the gather sends. */
struct flush_log {
	unsigned calls;
	iova_t iova[64];
	uint64_t size[64];
	bool pde[64];
};

static void log_flush(void *ctx, iova_t iova, uint64_t size, bool pde)
{
	struct flush_log *l = ctx;

	if (l->calls < 64) {
		l->iova[l->calls] = iova;
		l->size[l->calls] = size;
		l->pde[l->calls] = pde;
	}
	l->calls++;
}

/*
 * The path used below for 4-level tables: level-4 index 1, level-3 index 2,
 * level-2 index 3, level-1 index 4.
 *   1 << 39 | 2 << 30 | 3 << 21 | 4 << 12 = 0x8080604000
 */
#define X_2M		0x8080600000ULL		/* level-2 index 3, 2M aligned */
#define X_4K		(X_2M + 4 * SZ_4K)	/* level-1 index 4 */
#define X_1G		0x8080000000ULL		/* level-3 index 2, 1G aligned */
#define P_2M		0x40200000ULL		/* 2M aligned physical address */
#define P_1G		0x1c0000000ULL		/* 7 GiB, 1G aligned */

/* ---- create --------------------------------------------------------------- */

Test(iopt, create_accepts_3_to_6_levels_and_reports_its_configuration)
{
	for (unsigned levels = 3; levels <= 6; levels++) {
		struct iopt *pt = mk(levels, 0, 0, IOPT_IMPL_BASELINE);

		cr_assert_eq(iopt_levels(pt), levels);
		cr_assert_eq(iopt_pgsize_bitmap(pt), IOPT_PGSIZE_DEFAULT);
		cr_assert_eq(iopt_impl_of(pt), IOPT_IMPL_BASELINE);
		cr_assert_eq(iopt_count_tables(pt), 1);
		cr_assert_eq(iopt_root(pt) & 0xfff, 0, "root not page aligned");
		cr_assert_eq(present_in(table_of(iopt_root(pt))), 0);
		cr_assert_eq(live_tables(pt), 1);
		iopt_destroy(pt);
	}
	cr_assert_str_eq(iopt_impl_name(IOPT_IMPL_TUNED), "tuned");
	cr_assert_str_eq(iopt_impl_name(IOPT_IMPL_BASELINE), "baseline");
}

Test(iopt, create_rejects_bad_configurations)
{
	static const struct iopt_alloc half = { NULL, NULL, NULL };
	const struct {
		unsigned levels;
		uint64_t pgsize;
		unsigned flags;
		unsigned impl;
		const struct iopt_alloc *alloc;
	} bad[] = {
		{ 0, 0, 0, 0, NULL },
		{ 1, 0, 0, 0, NULL },
		{ 2, 0, 0, 0, NULL },
		{ 7, 0, 0, 0, NULL },
		/* No 4 KiB. */
		{ 4, IOPT_PGSIZE_2M | IOPT_PGSIZE_1G, 0, 0, NULL },
		/* 2 KiB is below the smallest page. */
		{ 4, IOPT_PGSIZE_4K | (1ULL << 11), 0, 0, NULL },
		/* 3 levels reach 2^39: the largest leaf, sized at level 3, is 2^38. */
		{ 3, IOPT_PGSIZE_4K | (1ULL << 39), 0, 0, NULL },
		/* 4 levels: largest leaf 2^47. */
		{ 4, IOPT_PGSIZE_4K | (1ULL << 48), 0, 0, NULL },
		{ 5, IOPT_PGSIZE_4K | (1ULL << 57), 0, 0, NULL },
		{ 4, 0, 1U << 7, 0, NULL },
		{ 4, 0, 0, IOPT_IMPL_NR, NULL },
		{ 4, 0, 0, 0, &half },
		/* Folding and reclaiming change tables other callers' ranges share. */
		{ 4, 0, IOPT_F_SHARED | IOPT_F_COALESCE, 0, NULL },
		{ 4, 0, IOPT_F_SHARED | IOPT_F_RECLAIM, 0, NULL },
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct iopt_cfg cfg = { .levels = bad[i].levels,
					.pgsize_bitmap = bad[i].pgsize,
					.flags = bad[i].flags,
					.impl = (enum iopt_impl)bad[i].impl,
					.alloc = bad[i].alloc };
		struct iopt *pt = NULL;

		cr_assert_eq(iopt_create(&cfg, &pt), -EINVAL, "case %u", i);
	}

	struct iopt *pt = NULL;

	cr_assert_eq(iopt_create(NULL, &pt), -EINVAL);
	/* The edges that are allowed. */
	pt = mk(3, IOPT_PGSIZE_ALL_POW2, 0, IOPT_IMPL_TUNED);
	iopt_destroy(pt);
	pt = mk(4, IOPT_PGSIZE_4K | (1ULL << 47), 0, IOPT_IMPL_TUNED);
	iopt_destroy(pt);
	pt = mk(4, IOPT_PGSIZE_4K, IOPT_F_RECLAIM | IOPT_F_COALESCE, IOPT_IMPL_TUNED);
	iopt_destroy(pt);
	pt = mk(4, IOPT_PGSIZE_ALL_POW2, IOPT_F_SHARED, IOPT_IMPL_BASELINE);
	cr_assert_eq(iopt_flags(pt), IOPT_F_SHARED);
	iopt_destroy(pt);
}

/* ---- memory ----------------------------------------------------------------- */

Test(iopt, a_table_is_one_page_and_what_software_keeps_takes_under_1_percent_more)
{
	struct iopt *pt = mk(4, 0, 0, IOPT_IMPL_TUNED);
	struct ptpage_stats ps;
	struct iopt_gather g;
	uint64_t *l1;

	cr_assert_eq(IOPT_TABLE_ALLOC_BYTES, 4096, "the table and nothing else");
	iopt_gather_init(&g, NULL, NULL);
	cr_assert_eq(iopt_map(pt, X_4K, 0x1000, SZ_4K, IOPT_PROT_RW, &g), 0);
	l1 = table_at(pt, X_4K, 1);
	/* Its descriptor knows it; the page holds the 512 entries only. */
	cr_assert_eq(ptpage_of(l1)->level, 1);
	cr_assert_eq(ptpage_of(l1)->parent, table_at(pt, X_4K, 2));
	cr_assert_eq(ptpage_of(l1)->pidx, (X_4K >> 21) & 511);
	cr_assert_eq(ptpage_of(table_at(pt, X_4K, 2))->ntables, 1);
	ptpage_stats_get(&ps);
	cr_assert_geq(ps.desc_blocks, 1);
	/* Descriptors and directory, per page a block describes: at most 1 %. */
	cr_assert_leq((double)ps.desc_bytes / ((double)ps.desc_blocks * PTPAGE_CHUNK_PAGES),
		      PTPAGE_BYTES / 100.0, "%llu bytes for %llu blocks",
		      (unsigned long long)ps.desc_bytes, (unsigned long long)ps.desc_blocks);
	cr_assert_geq(ps.pages_out, 4);
	iopt_destroy(pt);
}

Test(iopt, freed_tables_go_back_to_the_page_cache_and_serve_the_next_map)
{
	struct iopt *pt = mk(4, 0, 0, IOPT_IMPL_TUNED);
	struct ptpage_stats a, b, c;
	struct iopt_gather g;
	uint64_t bytes;

	iopt_gather_init(&g, NULL, NULL);
	/* 16M of 4K pages (pa one page off): 8 level-1 tables. */
	cr_assert_eq(iopt_map(pt, X_1G, 0x40001000, SZ_16M, IOPT_PROT_RW, &g), 0);
	ptpage_stats_get(&a);
	cr_assert_eq(iopt_unmap(pt, X_1G, SZ_16M, &g, &bytes), 0);
	cr_assert_eq(bytes, SZ_16M);
	cr_assert_eq(g.freelist.pages, 8);
	iopt_gather_release(pt, &g);
	ptpage_stats_get(&b);
	cr_assert_eq(b.pages_out, a.pages_out - 8);
	cr_assert_eq(b.pages_cached, a.pages_cached + 8, "kept, not given back");
	cr_assert_eq(b.chunks, a.chunks);
	cr_assert_eq(iopt_map(pt, X_1G, 0x40001000, SZ_16M, IOPT_PROT_RW, &g), 0);
	ptpage_stats_get(&c);
	cr_assert_eq(c.pages_out, a.pages_out);
	cr_assert_eq(c.chunks, a.chunks, "the cache served them");
	cr_assert_eq(iopt_check(pt), 0);
	iopt_destroy(pt);
}

/* ---- power-of-two page sizes ---------------------------------------------- */

struct leaf_seq {
	unsigned n;
	iova_t iova[64];
	paddr_t pa[64];
	unsigned lg2[64];
};

static void seq_leaf(void *ctx, iova_t iova, paddr_t pa, unsigned lg2, unsigned prot)
{
	struct leaf_seq *q = ctx;

	(void)prot;
	if (q->n < 64) {
		q->iova[q->n] = iova;
		q->pa[q->n] = pa;
		q->lg2[q->n] = lg2;
	}
	q->n++;
}

/*
 * The pages a map must choose, worked out one at a time: the largest the
 * bitmap, both addresses' alignment and what is left allow.
 */
static void greedy_pages(uint64_t bitmap, iova_t iova, paddr_t pa, uint64_t len,
			 struct leaf_seq *q)
{
	memset(q, 0, sizeof(*q));
	while (len) {
		unsigned lg2 = 63;

		while (!((bitmap >> lg2) & 1) || ((iova | pa) & ((1ULL << lg2) - 1)) ||
		       (1ULL << lg2) > len)
			lg2--;
		seq_leaf(q, iova, pa, lg2, 0);
		iova += 1ULL << lg2;
		pa += 1ULL << lg2;
		len -= 1ULL << lg2;
	}
}

Test(iopt, map_with_all_pow2_writes_pages_growing_then_shrinking_in_one_walk)
{
	const struct { iova_t iova; paddr_t pa; uint64_t len; unsigned pages; } cases[] = {
		/* 4K, 8K, ..., 1M then 1M, 512K, ..., 4K: sizes up and down a 2M table. */
		{ X_2M + SZ_4K, P_2M + SZ_4K, SZ_2M - 2 * SZ_4K, 16 },
		/* Aligned alike only to 64K: 64K pages all the way (a run of 30). */
		{ X_2M + SZ_64K, 0x7780000, SZ_2M - 2 * SZ_64K, 30 },
		/* Up a level and down again: 64K, 2M, 4M (two level-2 entries), 1M. */
		{ X_1G + SZ_2M - SZ_64K, 0x3000000 + SZ_2M - SZ_64K, SZ_64K + 3 * SZ_2M + SZ_1M, 4 },
		/* Relatively 4K apart: 256 4K pages, one run (the "odd" case). */
		{ X_2M, P_2M + SZ_4K, SZ_1M, 256 },
	};

	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
			struct iopt *pt = mk(4, IOPT_PGSIZE_ALL_POW2, 0, impl);
			struct leaf_seq want, got = { 0 };
			struct iopt_gather g;
			struct iopt_stats st;
			uint64_t entries = 0;

			greedy_pages(IOPT_PGSIZE_ALL_POW2, cases[c].iova, cases[c].pa, cases[c].len,
				     &want);
			cr_assert_eq(want.n, cases[c].pages, "case %u: the reference says %u",
				     c, want.n);
			iopt_gather_init(&g, NULL, NULL);
			cr_assert_eq(iopt_map(pt, cases[c].iova, cases[c].pa, cases[c].len,
					      IOPT_PROT_RW, &g), 0);
			iopt_for_each_leaf(pt, seq_leaf, &got);
			cr_assert_eq(got.n, want.n, "case %u %s: %u pages, want %u", c,
				     iopt_impl_name(impl), got.n, want.n);
			for (unsigned i = 0; i < want.n && i < 64; i++) {
				cr_assert_eq(got.iova[i], want.iova[i], "case %u page %u", c, i);
				cr_assert_eq(got.pa[i], want.pa[i], "case %u page %u", c, i);
				cr_assert_eq(got.lg2[i], want.lg2[i], "case %u page %u", c, i);
			}
			for (unsigned i = 0; i < want.n && i < 64; i++) {
				unsigned sh = amdvi_level_shift(lg2_level_of(want.lg2[i]));

				entries += 1ULL << (want.lg2[i] - sh);
			}
			iopt_stats_get(pt, &st);
			if (want.n <= 64)
				cr_assert_eq(st.entries_written, entries, "case %u", c);
			/* Tuned: one descent for the whole range; baseline: one per page. */
			cr_assert_eq(st.walks, impl == IOPT_IMPL_TUNED ? 1 : want.n, "case %u %s",
				     c, iopt_impl_name(impl));
			cr_assert_eq(iopt_check(pt), 0);
			iopt_destroy(pt);
		}
	}
}

Test(iopt, unmap_of_runs_of_sized_pages_counts_their_bytes_and_splits_only_the_ends)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt *pt = mk(4, IOPT_PGSIZE_ALL_POW2, 0, impl);
		struct iopt_gather g;
		struct iopt_stats st;
		uint64_t bytes;

		iopt_gather_init(&g, NULL, NULL);
		/* 30 64K pages at level 1. */
		cr_assert_eq(iopt_map(pt, X_2M + SZ_64K, 0x7780000, SZ_2M - 2 * SZ_64K,
				      IOPT_PROT_RW, &g), 0);
		iopt_stats_reset(pt);
		/* Whole pages: no split, 10 pages, 160 entries, one range gathered. */
		cr_assert_eq(iopt_unmap(pt, X_2M + 4 * SZ_64K, 10 * SZ_64K, &g, &bytes), 0);
		cr_assert_eq(bytes, 10 * SZ_64K);
		iopt_stats_get(pt, &st);
		cr_assert_eq(st.splits, 0);
		cr_assert_eq(st.entries_cleared, 160);
		cr_assert(g.pending && g.start == X_2M + 4 * SZ_64K &&
			  g.last == X_2M + 14 * SZ_64K - 1);
		expect_unmapped(pt, X_2M + 4 * SZ_64K);
		expect_translates(pt, X_2M + 3 * SZ_64K, 0x7780000 + 2 * SZ_64K, 16, IOPT_PROT_RW);
		expect_translates(pt, X_2M + 14 * SZ_64K, 0x7780000 + 13 * SZ_64K, 16,
				  IOPT_PROT_RW);
		/* Cutting into pages at both ends: two in-place splits. */
		cr_assert_eq(iopt_unmap(pt, X_2M + 16 * SZ_64K + SZ_4K,
					2 * SZ_64K, &g, &bytes), 0);
		cr_assert_eq(bytes, 2 * SZ_64K);
		iopt_stats_get(pt, &st);
		cr_assert_eq(st.splits, 2);
		expect_translates(pt, X_2M + 16 * SZ_64K, 0x7780000 + 15 * SZ_64K, 12,
				  IOPT_PROT_RW);
		expect_unmapped(pt, X_2M + 16 * SZ_64K + SZ_4K);
		expect_translates(pt, X_2M + 18 * SZ_64K + SZ_4K,
				  0x7780000 + 17 * SZ_64K + SZ_4K, 12, IOPT_PROT_RW);
		expect_translates(pt, X_2M + 19 * SZ_64K, 0x7780000 + 18 * SZ_64K, 16,
				  IOPT_PROT_RW);
		cr_assert_eq(iopt_check(pt), 0);
		iopt_destroy(pt);
	}
}

/* ---- map: entries by hand ------------------------------------------------- */

Test(iopt, map_4k_writes_pr_fc_ir_iw_and_pa_at_the_level1_index)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt *pt = mk(4, 0, 0, impl);
		struct iopt_gather g;
		uint64_t *root = table_of(iopt_root(pt));

		iopt_gather_init(&g, NULL, NULL);
		cr_assert_eq(iopt_map(pt, X_4K, 0xabcde000, SZ_4K, IOPT_PROT_RW, &g), 0);

		/* PR|FC|IR|IW | 0xabcde000 at level-1 index 4, nothing else there. */
		uint64_t *l1 = table_at(pt, X_4K, 1);

		cr_assert_not_null(l1);
		cr_assert_eq(l1[4], 0x70000000abcde001ULL, "pte 0x%llx",
			     (unsigned long long)l1[4]);
		cr_assert_eq(present_in(l1), 1);
		/* PDEs: PR|IR|IW with Next Level 3, 2, 1 on the way down. */
		cr_assert_eq(root[1] & ~AMDVI_PTE_ADDR, PDE_NL3);
		cr_assert_eq(present_in(root), 1);
		cr_assert_eq(entry_at(pt, X_4K, 3) & ~AMDVI_PTE_ADDR, PDE_NL2);
		cr_assert_eq(entry_at(pt, X_4K, 2) & ~AMDVI_PTE_ADDR, PDE_NL1);
		cr_assert_eq(iopt_count_tables(pt), 4);
		cr_assert_eq(iopt_check(pt), 0);
		expect_translates(pt, X_4K + 0x123, 0xabcde123, 12, IOPT_PROT_RW);
		expect_unmapped(pt, X_4K + SZ_4K);
		expect_unmapped(pt, X_4K - SZ_4K);

		/* Read-only and write-only leaves drop IW or IR. */
		cr_assert_eq(iopt_map(pt, X_4K + SZ_4K, 0x5000, SZ_4K, IOPT_PROT_READ, &g), 0);
		cr_assert_eq(iopt_map(pt, X_4K + 2 * SZ_4K, 0x7000, SZ_4K, IOPT_PROT_WRITE, &g), 0);
		cr_assert_eq(l1[5], 0x3000000000005001ULL);
		cr_assert_eq(l1[6], 0x5000000000007001ULL);
		expect_translates(pt, X_4K + SZ_4K, 0x5000, 12, IOPT_PROT_READ);
		expect_translates(pt, X_4K + 2 * SZ_4K, 0x7000, 12, IOPT_PROT_WRITE);

		struct iopt_stats st;

		iopt_stats_get(pt, &st);
		cr_assert_eq(st.maps, 3);
		cr_assert_eq(st.entries_written, 3);
		cr_assert_eq(st.tables_allocated, 4);
		iopt_destroy(pt);
	}
}

Test(iopt, map_of_aligned_2m_writes_one_level2_leaf_with_next_level_0)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt *pt = mk(4, 0, 0, impl);
		struct iopt_gather g;

		iopt_gather_init(&g, NULL, NULL);
		cr_assert_eq(iopt_map(pt, X_2M, P_2M, SZ_2M, IOPT_PROT_RW, &g), 0);
		/* PR|FC|IR|IW | 0x40200000, Next Level bits 11:9 = 0. */
		cr_assert_eq(entry_at(pt, X_2M, 2), 0x7000000040200001ULL);
		cr_assert_eq(present_in(table_at(pt, X_2M, 2)), 1);
		cr_assert_eq(iopt_count_tables(pt), 3, "no level-1 table for a 2M leaf");
		expect_translates(pt, X_2M + 0x12345, P_2M + 0x12345, 21, IOPT_PROT_RW);
		expect_translates(pt, X_2M + SZ_2M - 1, P_2M + SZ_2M - 1, 21, IOPT_PROT_RW);
		expect_unmapped(pt, X_2M + SZ_2M);
		iopt_destroy(pt);
	}
}

Test(iopt, map_of_aligned_1g_writes_one_level3_leaf)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt *pt = mk(4, 0, 0, impl);
		struct iopt_gather g;

		iopt_gather_init(&g, NULL, NULL);
		cr_assert_eq(iopt_map(pt, X_1G, P_1G, SZ_1G, IOPT_PROT_READ, &g), 0);
		/* PR|FC|IR | 0x1c0000000 at level-3 index 2. */
		cr_assert_eq(entry_at(pt, X_1G, 3), 0x30000001c0000001ULL);
		cr_assert_eq(iopt_count_tables(pt), 2);
		expect_translates(pt, X_1G + 0x3ffff000, P_1G + 0x3ffff000, 30, IOPT_PROT_READ);
		iopt_destroy(pt);
	}
}

Test(iopt, map_of_2m_with_4k_aligned_pa_writes_512_level1_ptes)
{
	struct iopt *pt = mk(4, 0, 0, IOPT_IMPL_TUNED);
	struct iopt_gather g;
	const paddr_t pa = P_2M + SZ_4K;

	iopt_gather_init(&g, NULL, NULL);
	cr_assert_eq(iopt_map(pt, X_2M, pa, SZ_2M, IOPT_PROT_RW, &g), 0);
	uint64_t *l1 = table_at(pt, X_2M, 1);

	cr_assert_not_null(l1, "pa alignment must force 4K pages");
	for (unsigned i = 0; i < 512; i++)
		cr_assert_eq(l1[i], LEAF_RW | (pa + i * SZ_4K), "entry %u", i);
	iopt_destroy(pt);
}

Test(iopt, map_uses_the_largest_piece_alignment_and_length_allow)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt *pt = mk(4, 0, 0, impl);
		struct iopt_gather g;

		/* [X_2M - 4K, X_2M + 2M + 4K) at pa P_2M - 4K: 4K, 2M, 4K. */
		iopt_gather_init(&g, NULL, NULL);
		cr_assert_eq(iopt_map(pt, X_2M - SZ_4K, P_2M - SZ_4K, SZ_2M + 2 * SZ_4K,
				      IOPT_PROT_RW, &g), 0);
		cr_assert_eq(entry_at(pt, X_2M - SZ_4K, 1), LEAF_RW | (P_2M - SZ_4K));
		cr_assert_eq(entry_at(pt, X_2M, 2), LEAF_RW | P_2M);
		cr_assert_eq(entry_at(pt, X_2M + SZ_2M, 1), LEAF_RW | (P_2M + SZ_2M));
		cr_assert_eq(present_in(table_at(pt, X_2M - SZ_4K, 1)), 1);
		cr_assert_eq(present_in(table_at(pt, X_2M + SZ_2M, 1)), 1);
		/* root, level 3, level 2, two level 1. */
		cr_assert_eq(iopt_count_tables(pt), 5);
		cr_assert_eq(iopt_check(pt), 0);
		iopt_destroy(pt);
	}
}

Test(iopt, map_of_64k_with_all_pow2_writes_16_sized_entries)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt *pt = mk(4, IOPT_PGSIZE_ALL_POW2, 0, impl);
		struct iopt_gather g;
		const iova_t iova = X_2M + 16 * SZ_4K;	/* level-1 index 16 */

		iopt_gather_init(&g, NULL, NULL);
		cr_assert_eq(iopt_map(pt, iova, 0x12340000, SZ_64K, IOPT_PROT_RW, &g), 0);

		/*
		 * 64K = 2^16 is 2^(k+1) with k = 15: bit 15 clear, 14:12 set, so
		 * the address field is 0x12347000. PR|FC|IR|IW | Next Level 7
		 * (0xe00) | 0x12347000 = 0x7000000012347e01 in entries 16..31.
		 */
		uint64_t *l1 = table_at(pt, iova, 1);

		cr_assert_not_null(l1);
		for (unsigned i = 16; i < 32; i++)
			cr_assert_eq(l1[i], 0x7000000012347e01ULL, "entry %u: 0x%llx", i,
				     (unsigned long long)l1[i]);
		cr_assert_eq(l1[15], 0);
		cr_assert_eq(l1[32], 0);
		cr_assert_eq(present_in(l1), 16);
		cr_assert_eq(iopt_check(pt), 0);
		expect_translates(pt, iova + 0x5abc, 0x12345abc, 16, IOPT_PROT_RW);
		iopt_destroy(pt);
	}
}

Test(iopt, map_of_4m_with_all_pow2_writes_2_sized_level2_entries)
{
	struct iopt *pt = mk(4, IOPT_PGSIZE_ALL_POW2, 0, IOPT_IMPL_TUNED);
	struct iopt_gather g;
	const iova_t iova = X_1G + 6 * SZ_2M;	/* level-2 index 6, 4M aligned */

	iopt_gather_init(&g, NULL, NULL);
	cr_assert_eq(iopt_map(pt, iova, 0x80400000, SZ_4M, IOPT_PROT_WRITE, &g), 0);
	/* 4M: bit 21 clear, 20:12 set: 0x805ff000; PR|FC|IW|0xe00 -> 0x5...805ffe01. */
	uint64_t *l2 = table_at(pt, iova, 2);

	cr_assert_eq(l2[6], 0x50000000805ffe01ULL, "0x%llx", (unsigned long long)l2[6]);
	cr_assert_eq(l2[7], 0x50000000805ffe01ULL);
	cr_assert_eq(present_in(l2), 2);
	cr_assert_eq(iopt_count_tables(pt), 3);
	expect_translates(pt, iova + SZ_2M + 0x10, 0x80600010, 22, IOPT_PROT_WRITE);
	iopt_destroy(pt);
}

Test(iopt, map_at_the_top_of_the_iova_space_works_for_every_level_count)
{
	for (unsigned levels = 3; levels <= 6; levels++) {
		for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
			struct iopt *pt = mk(levels, 0, IOPT_F_RECLAIM, impl);
			unsigned s = amdvi_level_shift(levels) + 9;
			iova_t top = s >= 64 ? ~0ULL : (1ULL << s) - 1;
			iova_t iova = top - 3 * SZ_4K + 1;	/* last three pages */
			struct iopt_gather g;
			uint64_t bytes = 0;

			iopt_gather_init(&g, NULL, NULL);
			cr_assert_eq(iopt_map(pt, iova, 0x9000, 3 * SZ_4K, IOPT_PROT_RW, &g), 0,
				     "levels %u", levels);
			expect_translates(pt, top & ~0xfffULL, 0xb000, 12, IOPT_PROT_RW);
			/* Unmap the last page: there is no page after it to split at. */
			cr_assert_eq(iopt_unmap(pt, top & ~0xfffULL, SZ_4K, &g, &bytes), 0);
			cr_assert_eq(bytes, SZ_4K);
			expect_unmapped(pt, top & ~0xfffULL);
			expect_translates(pt, iova, 0x9000, 12, IOPT_PROT_RW);
			cr_assert_eq(iopt_unmap(pt, iova, 2 * SZ_4K, &g, &bytes), 0);
			cr_assert_eq(bytes, 2 * SZ_4K);
			iopt_gather_release(pt, &g);
			cr_assert_eq(iopt_count_tables(pt), 1, "levels %u", levels);
			iopt_destroy(pt);
		}
	}
}

/* ---- map: errors ---------------------------------------------------------- */

Test(iopt, map_over_a_mapped_page_returns_eexist_and_changes_nothing)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt *pt = mk(4, 0, 0, impl);
		struct iopt *twin = mk(4, 0, 0, impl);
		struct iopt_gather g;
		const struct { iova_t iova; paddr_t pa; uint64_t len; } over[] = {
			/* 8K each side of the 4K page at X_4K. */
			{ X_4K - 2 * SZ_4K, 0x100000, 5 * SZ_4K },
			/* The 2M block holding it (would be a 2M leaf). */
			{ X_2M, P_2M, SZ_2M },
			/* Inside the 1G leaf at X_1G + 1G. */
			{ X_1G + SZ_1G + 5 * SZ_4K, 0x3000, SZ_4K },
			/* Starts free, then runs into the 1G leaf: new tables first. */
			{ X_1G + SZ_1G - SZ_4M - SZ_4K, 0x1000, SZ_4M + 2 * SZ_4K },
			/* The same 1G again. */
			{ X_1G + SZ_1G, P_1G, SZ_1G },
		};

		iopt_gather_init(&g, NULL, NULL);
		cr_assert_eq(iopt_map(pt, X_4K, 0xabcde000, SZ_4K, IOPT_PROT_RW, &g), 0);
		cr_assert_eq(iopt_map(pt, X_1G + SZ_1G, P_1G, SZ_1G, IOPT_PROT_RW, &g), 0);
		cr_assert_eq(iopt_map(twin, X_4K, 0xabcde000, SZ_4K, IOPT_PROT_RW, &g), 0);
		cr_assert_eq(iopt_map(twin, X_1G + SZ_1G, P_1G, SZ_1G, IOPT_PROT_RW, &g), 0);

		for (unsigned i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
			cr_assert_eq(iopt_map(pt, over[i].iova, over[i].pa, over[i].len,
					      IOPT_PROT_RW, &g), -EEXIST, "case %u", i);
			cr_assert(iopt_equal(pt, twin), "case %u changed the table", i);
			cr_assert_eq(iopt_count_tables(pt), iopt_count_tables(twin), "case %u", i);
			cr_assert_eq(live_tables(pt), iopt_count_tables(pt), "case %u leaked", i);
			cr_assert_eq(iopt_check(pt), 0);
		}
		expect_unmapped(pt, X_4K - SZ_4K);
		expect_translates(pt, X_4K, 0xabcde000, 12, IOPT_PROT_RW);
		cr_assert_eq(g.freelist.pages, 0);
		iopt_destroy(pt);
		iopt_destroy(twin);
	}
}

Test(iopt, map_and_unmap_reject_bad_arguments_without_touching_the_table)
{
	struct iopt *pt = mk(4, 0, 0, IOPT_IMPL_TUNED);
	struct iopt *pt3 = mk(3, 0, 0, IOPT_IMPL_TUNED);
	struct iopt *pt6 = mk(6, 0, 0, IOPT_IMPL_TUNED);
	const uint64_t pa_top = 1ULL << 52;
	struct iopt_gather g;
	uint64_t bytes = 77;

	iopt_gather_init(&g, NULL, NULL);
	const struct { struct iopt *pt; iova_t iova; paddr_t pa; uint64_t len; unsigned prot; } bad[] = {
		{ pt, X_4K + 1, 0x1000, SZ_4K, IOPT_PROT_RW },		/* iova unaligned */
		{ pt, X_4K + 0x800, 0x1000, SZ_4K, IOPT_PROT_RW },
		{ pt, X_4K, 0x1008, SZ_4K, IOPT_PROT_RW },		/* pa unaligned */
		{ pt, X_4K, 0x1000, 0, IOPT_PROT_RW },			/* zero length */
		{ pt, X_4K, 0x1000, SZ_4K + 1, IOPT_PROT_RW },		/* length unaligned */
		{ pt, X_4K, 0x1000, 0x800, IOPT_PROT_RW },
		{ pt, (1ULL << 48) - SZ_4K, 0x1000, 2 * SZ_4K, IOPT_PROT_RW },	/* past 48 bits */
		{ pt, 1ULL << 48, 0x1000, SZ_4K, IOPT_PROT_RW },
		{ pt3, 1ULL << 39, 0x1000, SZ_4K, IOPT_PROT_RW },	/* past 39 bits */
		{ pt6, ~0xfffULL, 0x1000, 2 * SZ_4K, IOPT_PROT_RW },	/* wraps past 2^64 */
		{ pt, X_4K, pa_top - SZ_4K, 2 * SZ_4K, IOPT_PROT_RW },	/* pa past 52 bits */
		{ pt, X_4K, pa_top, SZ_4K, IOPT_PROT_RW },
		{ pt, X_4K, ~0xfffULL, 2 * SZ_4K, IOPT_PROT_RW },	/* pa wraps */
		{ pt, X_4K, 0x1000, SZ_4K, 0 },				/* no rights */
		{ pt, X_4K, 0x1000, SZ_4K, 4 },				/* unknown bit */
		{ pt, X_4K, 0x1000, SZ_4K, IOPT_PROT_RW | 8 },
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(iopt_map(bad[i].pt, bad[i].iova, bad[i].pa, bad[i].len,
				      bad[i].prot, &g), -EINVAL, "map case %u", i);

	cr_assert_eq(iopt_unmap(pt, X_4K, SZ_4K, NULL, &bytes), -EINVAL);
	cr_assert_eq(iopt_unmap(pt, X_4K + 0x10, SZ_4K, &g, &bytes), -EINVAL);
	cr_assert_eq(iopt_unmap(pt, X_4K, 0, &g, &bytes), -EINVAL);
	cr_assert_eq(iopt_unmap(pt, X_4K, 0x1800, &g, &bytes), -EINVAL);
	cr_assert_eq(iopt_unmap(pt, (1ULL << 48) - SZ_4K, 2 * SZ_4K, &g, &bytes), -EINVAL);
	cr_assert_eq(iopt_unmap(pt6, ~0xfffULL, 2 * SZ_4K, &g, &bytes), -EINVAL);
	cr_assert_eq(bytes, 77, "unmapped written on error");

	struct iopt *all[] = { pt, pt3, pt6 };

	for (unsigned i = 0; i < 3; i++) {
		struct iopt_stats st;

		iopt_stats_get(all[i], &st);
		cr_assert_eq(iopt_count_tables(all[i]), 1);
		cr_assert_eq(present_in(table_of(iopt_root(all[i]))), 0);
		cr_assert_eq(st.maps + st.unmaps + st.entries_written + st.tables_allocated, 1,
			     "only the root was ever allocated");
		iopt_destroy(all[i]);
	}
	cr_assert_eq(g.pending, false);

	/* The last physical page is allowed. */
	pt = mk(4, 0, 0, IOPT_IMPL_TUNED);
	cr_assert_eq(iopt_map(pt, X_4K, pa_top - SZ_4K, SZ_4K, IOPT_PROT_RW, &g), 0);
	expect_translates(pt, X_4K + 0xfff, pa_top - 1, 12, IOPT_PROT_RW);
	iopt_destroy(pt);
}

Test(iopt, map_into_a_table_emptied_by_unmap_descends_into_it)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt *pt = mk(4, 0, 0, impl);
		struct iopt_gather g;
		uint64_t bytes;

		iopt_gather_init(&g, NULL, NULL);
		cr_assert_eq(iopt_map(pt, X_4K, 0x1000, SZ_4K, IOPT_PROT_RW, &g), 0);
		uint64_t *l1 = table_at(pt, X_4K, 1);

		cr_assert_eq(iopt_unmap(pt, X_4K, SZ_4K, &g, &bytes), 0);
		cr_assert_eq(bytes, SZ_4K);
		cr_assert_eq(iopt_count_tables(pt), 4, "without reclaim the table stays");

		/*
		 * Nothing in [X_2M, X_2M + 2M) is mapped, so a 2M map must work;
		 * the empty table is kept ("descended into, never replaced"), and
		 * gets 512 4K entries instead of a 2M leaf.
		 */
		cr_assert_eq(iopt_map(pt, X_2M, P_2M, SZ_2M, IOPT_PROT_RW, &g), 0,
			     "%s: map over an empty table", iopt_impl_name(impl));
		cr_assert_eq(table_at(pt, X_2M, 1), l1);
		cr_assert_eq(present_in(l1), 512);
		cr_assert_eq(l1[4], LEAF_RW | (P_2M + 4 * SZ_4K));
		cr_assert_eq(iopt_count_tables(pt), 4);
		cr_assert_eq(iopt_check(pt), 0);
		expect_translates(pt, X_2M + 0x1234, P_2M + 0x1234, 12, IOPT_PROT_RW);

		/* An empty level-2 table under a 1G map: 2M leaves go into it. */
		cr_assert_eq(iopt_unmap(pt, X_2M, SZ_2M, &g, &bytes), 0);
		iopt_gather_release(pt, &g);
		cr_assert_eq(iopt_count_tables(pt), 3);
		cr_assert_eq(iopt_map(pt, X_1G, P_1G, SZ_1G, IOPT_PROT_RW, &g), 0);
		cr_assert_eq(entry_at(pt, X_1G, 2), LEAF_RW | P_1G);
		cr_assert_eq(entry_at(pt, X_2M, 2), LEAF_RW | (P_1G + (X_2M - X_1G)));
		cr_assert_eq(present_in(table_at(pt, X_1G, 2)), 512);
		expect_translates(pt, X_1G + SZ_1G - 1, P_1G + SZ_1G - 1, 21, IOPT_PROT_RW);
		iopt_destroy(pt);
	}
}

Test(iopt, map_into_an_emptied_table_with_coalesce_folds_it)
{
	struct iopt *pt = mk(4, 0, IOPT_F_COALESCE, IOPT_IMPL_TUNED);
	struct iopt_gather g;

	iopt_gather_init(&g, NULL, NULL);
	cr_assert_eq(iopt_map(pt, X_4K, 0x1000, SZ_4K, IOPT_PROT_RW, &g), 0);
	cr_assert_eq(iopt_unmap(pt, X_4K, SZ_4K, &g, NULL), 0);
	iopt_gather_init(&g, NULL, NULL);
	cr_assert_eq(iopt_map(pt, X_2M, P_2M, SZ_2M, IOPT_PROT_RW, &g), 0);
	cr_assert_eq(entry_at(pt, X_2M, 2), LEAF_RW | P_2M);
	cr_assert_eq(g.freelist.pages, 1);
	iopt_gather_release(pt, &g);
	cr_assert_eq(iopt_count_tables(pt), 3);
	iopt_destroy(pt);
}

/* ---- unmap ---------------------------------------------------------------- */

Test(iopt, unmap_of_partial_superpage_splits_it)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt *pt = mk(4, 0, 0, impl);
		struct iopt_gather g;
		uint64_t bytes = 0;
		struct iopt_stats st;

		iopt_gather_init(&g, NULL, NULL);
		cr_assert_eq(iopt_map(pt, X_2M, P_2M, SZ_2M, IOPT_PROT_RW, &g), 0);
		cr_assert_eq(iopt_unmap(pt, X_2M + 5 * SZ_4K, SZ_4K, &g, &bytes), 0);
		cr_assert_eq(bytes, SZ_4K);

		/* The 2M leaf is now a PDE (Next Level 1) to 511 4K PTEs. */
		uint64_t l2e = entry_at(pt, X_2M, 2);

		cr_assert_eq(l2e & ~AMDVI_PTE_ADDR, PDE_NL1, "0x%llx", (unsigned long long)l2e);
		uint64_t *l1 = table_of(l2e);

		cr_assert_eq(present_in(l1), 511);
		for (unsigned i = 0; i < 512; i++)
			cr_assert_eq(l1[i], i == 5 ? 0 : LEAF_RW | (P_2M + i * SZ_4K), "entry %u", i);
		expect_translates(pt, X_2M + 4 * SZ_4K + 7, P_2M + 4 * SZ_4K + 7, 12, IOPT_PROT_RW);
		expect_unmapped(pt, X_2M + 5 * SZ_4K);
		expect_translates(pt, X_2M + SZ_2M - 1, P_2M + SZ_2M - 1, 12, IOPT_PROT_RW);
		cr_assert_eq(iopt_count_tables(pt), 4);
		iopt_stats_get(pt, &st);
		cr_assert_eq(st.splits, 1);
		cr_assert_eq(st.tables_live, 4);
		cr_assert(g.pending);
		cr_assert_eq(g.start, X_2M + 5 * SZ_4K);
		cr_assert_eq(g.last, X_2M + 6 * SZ_4K - 1);
		cr_assert_eq(iopt_check(pt), 0);
		iopt_destroy(pt);
	}
}

Test(iopt, unmap_of_4k_in_a_1g_leaf_splits_two_levels)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt *pt = mk(4, 0, 0, impl);
		struct iopt_gather g;
		uint64_t bytes = 0;
		const iova_t hole = X_1G + 3 * SZ_2M + 9 * SZ_4K;

		iopt_gather_init(&g, NULL, NULL);
		cr_assert_eq(iopt_map(pt, X_1G, P_1G, SZ_1G, IOPT_PROT_RW, &g), 0);
		cr_assert_eq(iopt_unmap(pt, hole, SZ_4K, &g, &bytes), 0);
		cr_assert_eq(bytes, SZ_4K);
		/* 1G -> 512 x 2M (level 2), the 4th of them -> 512 x 4K (level 1). */
		cr_assert_eq(entry_at(pt, X_1G, 3) & ~AMDVI_PTE_ADDR, PDE_NL2);
		cr_assert_eq(entry_at(pt, X_1G, 2), LEAF_RW | P_1G);
		cr_assert_eq(entry_at(pt, X_1G + SZ_1G - SZ_2M, 2),
			     LEAF_RW | (P_1G + SZ_1G - SZ_2M));
		cr_assert_eq(present_in(table_at(pt, hole, 1)), 511);
		cr_assert_eq(entry_at(pt, hole + SZ_4K, 1), LEAF_RW | (P_1G + hole + SZ_4K - X_1G));
		expect_unmapped(pt, hole);
		expect_translates(pt, X_1G + 5, P_1G + 5, 21, IOPT_PROT_RW);
		cr_assert_eq(iopt_count_tables(pt), 4);
		iopt_destroy(pt);
	}
}

Test(iopt, unmap_splits_a_sized_page_in_place_at_its_level)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt *pt = mk(4, IOPT_PGSIZE_ALL_POW2, 0, impl);
		struct iopt_gather g;
		uint64_t bytes = 0;

		iopt_gather_init(&g, NULL, NULL);
		/* 64K at level-1 index 16 (16 x 0x7000000012347e01), unmap its 3rd 4K. */
		cr_assert_eq(iopt_map(pt, X_2M + 16 * SZ_4K, 0x12340000, SZ_64K,
				      IOPT_PROT_RW, &g), 0);
		cr_assert_eq(iopt_unmap(pt, X_2M + 18 * SZ_4K, SZ_4K, &g, &bytes), 0);
		cr_assert_eq(bytes, SZ_4K);
		uint64_t *l1 = table_at(pt, X_2M, 1);

		for (unsigned i = 16; i < 32; i++)
			cr_assert_eq(l1[i], i == 18 ? 0 : LEAF_RW | (0x12340000 + (i - 16) * SZ_4K),
				     "entry %u: 0x%llx", i, (unsigned long long)l1[i]);
		cr_assert_eq(iopt_count_tables(pt), 4, "no table for an in-place split");
		cr_assert_eq(iopt_check(pt), 0);
		iopt_destroy(pt);
	}
}

Test(iopt, unmap_of_a_whole_table_span_frees_it_onto_the_freelist)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt *pt = mk(4, 0, 0, impl);
		struct iopt_gather g;
		uint64_t bytes = 0;

		iopt_gather_init(&g, NULL, NULL);
		cr_assert_eq(iopt_map(pt, X_4K, 0x1000, SZ_4K, IOPT_PROT_RW, &g), 0);
		cr_assert_eq(iopt_count_tables(pt), 4);
		cr_assert_eq(iopt_unmap(pt, X_2M, SZ_2M, &g, &bytes), 0);
		cr_assert_eq(bytes, SZ_4K);
		cr_assert_eq(iopt_count_tables(pt), 3);
		cr_assert_eq(entry_at(pt, X_2M, 2), 0);
		cr_assert_eq(g.freelist.pages, 1);
		cr_assert(g.pde, "a freed table needs its PDE cache entries invalidated");
		cr_assert(g.pending);
		cr_assert_eq(live_tables(pt), 4, "freed tables stay live until released");
		iopt_gather_release(pt, &g);
		cr_assert_eq(g.freelist.pages, 0);
		cr_assert_eq(g.freelist.head, NULL);
		cr_assert_eq(live_tables(pt), 3);

		/* Two level-1 tables under one level-2 table, all in one 1G. */
		iopt_gather_init(&g, NULL, NULL);
		cr_assert_eq(iopt_map(pt, X_4K, 0x1000, SZ_4K, IOPT_PROT_RW, &g), 0);
		cr_assert_eq(iopt_map(pt, X_4K + SZ_4M, 0x2000, SZ_4K, IOPT_PROT_RW, &g), 0);
		cr_assert_eq(iopt_count_tables(pt), 5);
		cr_assert_eq(iopt_unmap(pt, X_1G, SZ_1G, &g, &bytes), 0);
		cr_assert_eq(bytes, 2 * SZ_4K);
		cr_assert_eq(iopt_count_tables(pt), 2);
		cr_assert_eq(g.freelist.pages, 3);
		cr_assert_eq(g.start, X_1G);
		cr_assert_eq(g.last, X_1G + SZ_1G - 1);
		iopt_gather_release(pt, &g);
		cr_assert_eq(live_tables(pt), 2);
		iopt_destroy(pt);
	}
}

Test(iopt, unmap_leaves_emptied_tables_unless_reclaim_is_set)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		for (unsigned reclaim = 0; reclaim < 2; reclaim++) {
			struct iopt *pt = mk(4, 0, reclaim ? IOPT_F_RECLAIM : 0, impl);
			struct iopt_gather g;
			uint64_t bytes = 0;

			iopt_gather_init(&g, NULL, NULL);
			cr_assert_eq(iopt_map(pt, X_4K, 0x1000, 2 * SZ_4K, IOPT_PROT_RW, &g), 0);
			/* One of two pages: the table is not empty, nothing freed. */
			cr_assert_eq(iopt_unmap(pt, X_4K, SZ_4K, &g, &bytes), 0);
			cr_assert_eq(iopt_count_tables(pt), 4);
			cr_assert_eq(g.freelist.pages, 0);
			cr_assert(!g.pde);
			/* The last page: levels 1, 2, 3 become empty. */
			cr_assert_eq(iopt_unmap(pt, X_4K + SZ_4K, SZ_4K, &g, &bytes), 0);
			cr_assert_eq(bytes, SZ_4K);
			if (reclaim) {
				cr_assert_eq(iopt_count_tables(pt), 1);
				cr_assert_eq(g.freelist.pages, 3);
				cr_assert(g.pde);
				cr_assert_eq(present_in(table_of(iopt_root(pt))), 0);
			} else {
				cr_assert_eq(iopt_count_tables(pt), 4);
				cr_assert_eq(g.freelist.pages, 0);
				cr_assert(!g.pde);
			}
			iopt_gather_release(pt, &g);
			cr_assert_eq(live_tables(pt), iopt_count_tables(pt));
			cr_assert_eq(iopt_check(pt), 0);
			iopt_destroy(pt);
		}
	}
}

Test(iopt, unmap_of_nothing_mapped_gathers_nothing)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt *pt = mk(4, 0, 0, impl);
		struct iopt_gather g;
		uint64_t bytes = 1;

		iopt_gather_init(&g, NULL, NULL);
		cr_assert_eq(iopt_unmap(pt, X_1G, SZ_1G, &g, &bytes), 0);
		cr_assert_eq(bytes, 0);
		cr_assert(!g.pending);
		cr_assert_eq(g.adds, 0);
		iopt_destroy(pt);
	}
}

/*
 * An unmap of exactly a run one map wrote (64 or more entries, aligned)
 * clears it without reading it; anything that removed or replaced an
 * entry of the run since must make it read, so the bytes it reports are
 * what was there. With and without IOPT_F_SHARED, both implementations.
 */
Test(iopt, unmap_of_a_mapped_run_reports_only_what_is_still_mapped)
{
	static const unsigned flag_sets[] = { 0, IOPT_F_RECLAIM, IOPT_F_SHARED };

	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		for (unsigned f = 0; f < 3; f++) {
			struct iopt *pt = mk(4, 0, flag_sets[f], impl);
			struct iopt_gather g;
			uint64_t bytes = 0;

			iopt_gather_init(&g, NULL, NULL);
			/* 1 MiB of 4 KiB pages: one run of 256 entries. A page out of its middle. */
			cr_assert_eq(iopt_map(pt, X_2M, 0x1000, SZ_1M, IOPT_PROT_RW, &g), 0);
			cr_assert_eq(iopt_unmap(pt, X_2M + 77 * SZ_4K, SZ_4K, &g, &bytes), 0);
			cr_assert_eq(bytes, SZ_4K);
			cr_assert_eq(iopt_check(pt), 0);
			cr_assert_eq(iopt_unmap(pt, X_2M, SZ_1M, &g, &bytes), 0);
			cr_assert_eq(bytes, SZ_1M - SZ_4K, "run with a hole: %llu bytes",
				     (unsigned long long)bytes);

			/* The same run untouched: all of it. Twice: nothing the second time. */
			cr_assert_eq(iopt_map(pt, X_2M, 0x1000, SZ_1M, IOPT_PROT_RW, &g), 0);
			cr_assert_eq(iopt_unmap(pt, X_2M, SZ_1M, &g, &bytes), 0);
			cr_assert_eq(bytes, SZ_1M);
			cr_assert_eq(iopt_unmap(pt, X_2M, SZ_1M, &g, &bytes), 0);
			cr_assert_eq(bytes, 0);

			/* A whole table of 4 KiB leaves (pa off 2M alignment); part of it, then all. */
			cr_assert_eq(iopt_map(pt, X_2M, 0x1000, SZ_2M, IOPT_PROT_RW, &g), 0);
			cr_assert_eq(iopt_unmap(pt, X_2M + SZ_256K, SZ_256K, &g, &bytes), 0);
			cr_assert_eq(bytes, SZ_256K);
			cr_assert_eq(iopt_check(pt), 0);
			cr_assert_eq(iopt_unmap(pt, X_2M, SZ_2M, &g, &bytes), 0);
			cr_assert_eq(bytes, SZ_2M - SZ_256K);

			/* Two runs side by side in one table: each keeps its chunks' bits. */
			cr_assert_eq(iopt_map(pt, X_2M, 0x1000, SZ_256K, IOPT_PROT_RW, &g), 0);
			cr_assert_eq(iopt_map(pt, X_2M + SZ_256K, 0x41000, SZ_256K, IOPT_PROT_RW, &g), 0);
			cr_assert_eq(iopt_unmap(pt, X_2M + SZ_256K + SZ_4K, SZ_4K, &g, &bytes), 0);
			cr_assert_eq(iopt_unmap(pt, X_2M, SZ_256K, &g, &bytes), 0);
			cr_assert_eq(bytes, SZ_256K);
			cr_assert_eq(iopt_unmap(pt, X_2M + SZ_256K, SZ_256K, &g, &bytes), 0);
			cr_assert_eq(bytes, SZ_256K - SZ_4K);

			/* A map that covers one chunk (entries 32-63) and part of another. */
			cr_assert_eq(iopt_map(pt, X_2M + 16 * SZ_4K, 0x1000, 48 * SZ_4K, IOPT_PROT_RW, &g), 0);
			cr_assert_eq(iopt_unmap(pt, X_2M + 32 * SZ_4K, 32 * SZ_4K, &g, &bytes), 0);
			cr_assert_eq(bytes, 32 * SZ_4K);
			cr_assert_eq(iopt_unmap(pt, X_2M, 64 * SZ_4K, &g, &bytes), 0);
			cr_assert_eq(bytes, 16 * SZ_4K);
			cr_assert_eq(iopt_check(pt), 0);

			/* A run split out of a 2M leaf by a partial unmap is read, not trusted. */
			cr_assert_eq(iopt_map(pt, X_2M, 0, SZ_2M, IOPT_PROT_RW, &g), 0);
			cr_assert_eq(iopt_unmap(pt, X_2M, SZ_4K, &g, &bytes), 0);
			cr_assert_eq(iopt_unmap(pt, X_2M, SZ_1M, &g, &bytes), 0);
			cr_assert_eq(bytes, SZ_1M - SZ_4K);
			cr_assert_eq(iopt_check(pt), 0);
			cr_assert_eq(iopt_unmap(pt, X_2M, SZ_2M, &g, &bytes), 0);
			cr_assert_eq(bytes, SZ_1M);
			cr_assert_eq(iopt_check(pt), 0);
			iopt_gather_release(pt, &g);
			iopt_destroy(pt);
		}
	}
}

/* ---- coalesce ------------------------------------------------------------- */

/* Map X_2M's 2M block as two 1M halves; return the level-2 entry after. */
static uint64_t fill_2m_in_halves(struct iopt *pt, paddr_t pa, unsigned prot2,
				  struct iopt_gather *g2)
{
	struct iopt_gather g;

	iopt_gather_init(&g, NULL, NULL);
	cr_assert_eq(iopt_map(pt, X_2M, pa, SZ_1M, IOPT_PROT_RW, &g), 0);
	cr_assert_eq(g.freelist.pages, 0);
	cr_assert_eq(iopt_map(pt, X_2M + SZ_1M, pa + SZ_1M, SZ_1M, prot2, g2), 0);
	return entry_at(pt, X_2M, 2);
}

Test(iopt, coalesce_folds_a_full_contiguous_level1_table_into_a_2m_leaf)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt *pt = mk(4, 0, IOPT_F_COALESCE, impl);
		struct iopt_gather g;
		struct iopt_stats st;

		iopt_gather_init(&g, NULL, NULL);
		/* 512 PTEs P_2M + i * 4K, all PR|FC|IR|IW: one 2M leaf 0x7...40200001. */
		cr_assert_eq(fill_2m_in_halves(pt, P_2M, IOPT_PROT_RW, &g), 0x7000000040200001ULL);
		cr_assert_eq(g.freelist.pages, 1);
		cr_assert(g.pde);
		cr_assert(g.pending);
		cr_assert_eq(g.start, X_2M);
		cr_assert_eq(g.last, X_2M + SZ_2M - 1);
		cr_assert_eq(iopt_count_tables(pt), 3);
		iopt_stats_get(pt, &st);
		cr_assert_eq(st.coalesces, 1);
		cr_assert_eq(st.tables_live, 4);
		iopt_gather_release(pt, &g);
		cr_assert_eq(live_tables(pt), 3);
		expect_translates(pt, X_2M + SZ_1M + 5, P_2M + SZ_1M + 5, 21, IOPT_PROT_RW);
		cr_assert_eq(iopt_check(pt), 0);
		iopt_destroy(pt);
	}
}

Test(iopt, coalesce_needs_a_gather_contiguous_aligned_pa_equal_rights_and_the_flag)
{
	struct iopt_gather g;
	struct iopt *pt;

	/* No gather on the filling map: no fold. */
	pt = mk(4, 0, IOPT_F_COALESCE, IOPT_IMPL_TUNED);
	cr_assert_eq(fill_2m_in_halves(pt, P_2M, IOPT_PROT_RW, NULL) & ~AMDVI_PTE_ADDR, PDE_NL1);
	cr_assert_eq(present_in(table_at(pt, X_2M, 1)), 512);
	iopt_destroy(pt);

	/* Second half read-only. */
	pt = mk(4, 0, IOPT_F_COALESCE, IOPT_IMPL_TUNED);
	iopt_gather_init(&g, NULL, NULL);
	cr_assert_eq(fill_2m_in_halves(pt, P_2M, IOPT_PROT_READ, &g) & ~AMDVI_PTE_ADDR, PDE_NL1);
	cr_assert_eq(g.freelist.pages, 0);
	iopt_destroy(pt);

	/* Contiguous but the block starts 4K past a 2M boundary. */
	pt = mk(4, 0, IOPT_F_COALESCE, IOPT_IMPL_TUNED);
	iopt_gather_init(&g, NULL, NULL);
	cr_assert_eq(fill_2m_in_halves(pt, P_2M + SZ_4K, IOPT_PROT_RW, &g) & ~AMDVI_PTE_ADDR,
		     PDE_NL1);
	iopt_destroy(pt);

	/* Halves not contiguous in pa. */
	pt = mk(4, 0, IOPT_F_COALESCE, IOPT_IMPL_TUNED);
	iopt_gather_init(&g, NULL, NULL);
	cr_assert_eq(iopt_map(pt, X_2M, P_2M, SZ_1M, IOPT_PROT_RW, &g), 0);
	cr_assert_eq(iopt_map(pt, X_2M + SZ_1M, P_2M + SZ_2M + SZ_1M, SZ_1M, IOPT_PROT_RW, &g), 0);
	cr_assert_eq(entry_at(pt, X_2M, 2) & ~AMDVI_PTE_ADDR, PDE_NL1);
	iopt_destroy(pt);

	/* Flag off. */
	pt = mk(4, 0, 0, IOPT_IMPL_TUNED);
	iopt_gather_init(&g, NULL, NULL);
	cr_assert_eq(fill_2m_in_halves(pt, P_2M, IOPT_PROT_RW, &g) & ~AMDVI_PTE_ADDR, PDE_NL1);
	cr_assert_eq(g.freelist.pages, 0);
	iopt_destroy(pt);

	/* 2M not an allowed size: nothing to fold into. */
	pt = mk(4, IOPT_PGSIZE_4K, IOPT_F_COALESCE, IOPT_IMPL_TUNED);
	iopt_gather_init(&g, NULL, NULL);
	cr_assert_eq(fill_2m_in_halves(pt, P_2M, IOPT_PROT_RW, &g) & ~AMDVI_PTE_ADDR, PDE_NL1);
	iopt_destroy(pt);
}

Test(iopt, coalesce_cascades_up_to_a_1g_leaf)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt *pt = mk(4, 0, IOPT_F_COALESCE, impl);
		struct iopt_gather g;

		iopt_gather_init(&g, NULL, NULL);
		/* All but the last 4K: 511 x 2M, then 511 x 4K in the last 2M. */
		cr_assert_eq(iopt_map(pt, X_1G, P_1G, SZ_1G - SZ_4K, IOPT_PROT_RW, &g), 0);
		cr_assert_eq(g.freelist.pages, 0);
		cr_assert_eq(iopt_count_tables(pt), 4);
		cr_assert_eq(iopt_map(pt, X_1G + SZ_1G - SZ_4K, P_1G + SZ_1G - SZ_4K, SZ_4K,
				      IOPT_PROT_RW, &g), 0);
		/* Level 1 folds into a 2M leaf, which fills level 2: PR|FC|IR|IW|7G. */
		cr_assert_eq(entry_at(pt, X_1G, 3), 0x70000001c0000001ULL);
		cr_assert_eq(g.freelist.pages, 2);
		cr_assert_eq(iopt_count_tables(pt), 2);
		iopt_gather_release(pt, &g);
		cr_assert_eq(live_tables(pt), 2);
		expect_translates(pt, X_1G + 0x3ffffabc, P_1G + 0x3ffffabc, 30, IOPT_PROT_RW);
		iopt_destroy(pt);
	}
}

Test(iopt, coalesce_folds_a_table_of_sized_pages_with_all_pow2)
{
	struct iopt *pt = mk(4, IOPT_PGSIZE_ALL_POW2, IOPT_F_COALESCE, IOPT_IMPL_TUNED);
	struct iopt_gather g;

	/* Two 1M halves are two Next Level 7 pages of 256 entries each. */
	iopt_gather_init(&g, NULL, NULL);
	cr_assert_eq(fill_2m_in_halves(pt, P_2M, IOPT_PROT_RW, &g), 0x7000000040200001ULL);
	cr_assert_eq(g.freelist.pages, 1);
	iopt_gather_release(pt, &g);
	cr_assert_eq(iopt_check(pt), 0);
	iopt_destroy(pt);
}

/* ---- gather --------------------------------------------------------------- */

Test(iopt, gather_merges_touching_ranges_and_flushes_before_a_disjoint_one)
{
	struct flush_log log = { 0 };
	struct iopt_gather g;

	iopt_gather_init(&g, log_flush, &log);
	iopt_gather_add(&g, 0x10000, SZ_4K);
	iopt_gather_add(&g, 0x11000, SZ_4K);	/* touches above */
	iopt_gather_add(&g, 0xf000, SZ_4K);	/* touches below */
	iopt_gather_add(&g, 0x10000, SZ_64K);	/* overlaps */
	cr_assert_eq(log.calls, 0);
	cr_assert_eq(g.start, 0xf000);
	cr_assert_eq(g.last, 0x1ffff);
	iopt_gather_add(&g, 0x40000, SZ_4K);	/* disjoint */
	cr_assert_eq(log.calls, 1);
	cr_assert_eq(log.iova[0], 0xf000);
	cr_assert_eq(log.size[0], 0x11000);
	cr_assert_eq(g.start, 0x40000);
	iopt_gather_add(&g, 0x90000, 0);	/* empty: neither flushes nor widens */
	cr_assert_eq(log.calls, 1);
	cr_assert_eq(g.last, 0x40fff);
	iopt_gather_flush(&g);
	cr_assert_eq(log.calls, 2);
	cr_assert(!g.pending);
	iopt_gather_flush(&g);
	cr_assert_eq(log.calls, 2, "an empty gather sends nothing");
	cr_assert_eq(g.ranges_flushed, 2);
	cr_assert_eq(g.adds, 5);

	/* Without a callback, disjoint ranges widen to their span. */
	iopt_gather_init(&g, NULL, NULL);
	iopt_gather_add(&g, 0x40000, SZ_4K);
	iopt_gather_add(&g, 0x10000, SZ_4K);
	cr_assert_eq(g.start, 0x10000);
	cr_assert_eq(g.last, 0x40fff);
}

Test(iopt, tuned_unmap_gathers_the_range_once_and_baseline_once_per_page)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt *pt = mk(4, 0, 0, impl);
		struct flush_log log = { 0 };
		struct iopt_gather g;
		uint64_t bytes;

		/* pa only 4K aligned: 16 separate 4K PTEs. */
		iopt_gather_init(&g, log_flush, &log);
		cr_assert_eq(iopt_map(pt, X_2M, 0x1000, SZ_64K, IOPT_PROT_RW, &g), 0);
		cr_assert_eq(iopt_unmap(pt, X_2M, SZ_64K, &g, &bytes), 0);
		cr_assert_eq(bytes, SZ_64K);
		iopt_gather_flush(&g);
		if (impl == IOPT_IMPL_TUNED) {
			cr_assert_eq(log.calls, 1);
			cr_assert_eq(log.iova[0], X_2M);
			cr_assert_eq(log.size[0], SZ_64K);
			cr_assert(!log.pde[0]);
		} else {
			cr_assert_eq(log.calls, 16);
			for (unsigned i = 0; i < 16; i++) {
				cr_assert_eq(log.iova[i], X_2M + i * SZ_4K, "call %u", i);
				cr_assert_eq(log.size[i], SZ_4K, "call %u", i);
			}
		}
		cr_assert_eq(g.ranges_flushed, log.calls);
		iopt_destroy(pt);
	}
}

Test(iopt, fingerprint_follows_contents_not_table_addresses)
{
	struct iopt *pt = mk(4, 0, IOPT_F_RECLAIM, IOPT_IMPL_TUNED);
	struct iopt *other = mk(4, 0, 0, IOPT_IMPL_BASELINE);
	struct iopt_gather g;
	uint64_t empty = iopt_fingerprint(pt);

	iopt_gather_init(&g, NULL, NULL);
	cr_assert_eq(iopt_fingerprint(other), empty);
	cr_assert_eq(iopt_map(pt, X_4K, 0x1000, SZ_4K, IOPT_PROT_RW, &g), 0);
	uint64_t one = iopt_fingerprint(pt);

	cr_assert_neq(one, empty);
	/* Same page, other rights: another table. */
	cr_assert_eq(iopt_map(other, X_4K, 0x1000, SZ_4K, IOPT_PROT_READ, &g), 0);
	cr_assert_neq(iopt_fingerprint(other), one);
	cr_assert_eq(iopt_unmap(other, X_4K, SZ_4K, &g, NULL), 0);
	cr_assert_eq(iopt_map(other, X_4K, 0x1000, SZ_4K, IOPT_PROT_RW, &g), 0);
	cr_assert_eq(iopt_fingerprint(other), one, "tables at other addresses, same contents");
	cr_assert(iopt_equal(pt, other));
	/* Reclaimed back to the empty root. */
	cr_assert_eq(iopt_unmap(pt, X_4K, SZ_4K, &g, NULL), 0);
	cr_assert_eq(iopt_fingerprint(pt), empty);
	iopt_gather_release(pt, &g);
	iopt_destroy(pt);
	iopt_destroy(other);
}

struct leaf_log {
	unsigned n;
	iova_t iova[8];
	paddr_t pa[8];
	unsigned lg2[8], prot[8];
};

static void log_leaf(void *ctx, iova_t iova, paddr_t pa, unsigned lg2, unsigned prot)
{
	struct leaf_log *l = ctx;

	cr_assert_lt(l->n, 8);
	l->iova[l->n] = iova;
	l->pa[l->n] = pa;
	l->lg2[l->n] = lg2;
	l->prot[l->n++] = prot;
}

Test(iopt, for_each_leaf_reports_each_page_once_in_iova_order)
{
	struct iopt *pt = mk(4, IOPT_PGSIZE_ALL_POW2, 0, IOPT_IMPL_TUNED);
	struct leaf_log l = { 0 };
	struct iopt_gather g;

	iopt_gather_init(&g, NULL, NULL);
	/* A 1G leaf, a 64K page (16 entries), a 4K page, mapped out of order. */
	cr_assert_eq(iopt_map(pt, X_1G + SZ_1G, P_1G, SZ_1G, IOPT_PROT_READ, &g), 0);
	cr_assert_eq(iopt_map(pt, X_2M + SZ_64K, 0x12340000, SZ_64K, IOPT_PROT_RW, &g), 0);
	cr_assert_eq(iopt_map(pt, X_2M, 0x5000, SZ_4K, IOPT_PROT_WRITE, &g), 0);
	iopt_for_each_leaf(pt, log_leaf, &l);
	cr_assert_eq(l.n, 3);
	cr_assert_eq(l.iova[0], X_2M);
	cr_assert_eq(l.pa[0], 0x5000);
	cr_assert_eq(l.lg2[0], 12);
	cr_assert_eq(l.prot[0], IOPT_PROT_WRITE);
	cr_assert_eq(l.iova[1], X_2M + SZ_64K);
	cr_assert_eq(l.pa[1], 0x12340000);
	cr_assert_eq(l.lg2[1], 16);
	cr_assert_eq(l.iova[2], X_1G + SZ_1G);
	cr_assert_eq(l.pa[2], P_1G);
	cr_assert_eq(l.lg2[2], 30);
	cr_assert_eq(l.prot[2], IOPT_PROT_READ);
	iopt_destroy(pt);
}

Test(iopt, stats_reset_keeps_tables_live)
{
	struct iopt *pt = mk(4, 0, 0, IOPT_IMPL_TUNED);
	struct iopt_gather g;
	struct iopt_stats st;

	iopt_gather_init(&g, NULL, NULL);
	cr_assert_eq(iopt_map(pt, X_4K, 0x1000, SZ_4K, IOPT_PROT_RW, &g), 0);
	iopt_stats_reset(pt);
	iopt_stats_get(pt, &st);
	cr_assert_eq(st.maps, 0);
	cr_assert_eq(st.tables_allocated, 0);
	cr_assert_eq(st.tables_live, 4);
	iopt_destroy(pt);
}

/* ---- reference model and random streams ---------------------------------- */

#define WIN_LG2		32			/* the window: four 1G blocks */
#define WIN_BYTES	(1ULL << WIN_LG2)
#define WIN_PAGES	(WIN_BYTES >> 12)
#define WIN_BLOCKS	(WIN_BYTES >> 30)
#define HOT_BYTES	(32 * SZ_1M)		/* around each 1G boundary */

enum op_kind { OP_MAP, OP_UNMAP, OP_PROBE, OP_WIPE };

struct op {
	enum op_kind kind;
	uint64_t off;		/* into the window */
	uint64_t len;
	paddr_t pa;
	unsigned prot;
};

struct prop_cfg {
	unsigned levels;
	uint64_t pgsize;
	unsigned flags;
	enum iopt_impl impl;
};

static const char *pgsize_name(uint64_t pg)
{
	return pg == IOPT_PGSIZE_4K ? "4k" : pg == IOPT_PGSIZE_ALL_POW2 ? "pow2" : "default";
}

static void cfg_name(const struct prop_cfg *c, bool impl, char *buf, size_t n)
{
	snprintf(buf, n, "L%u/%s/%s%s%s%s%s%s", c->levels, pgsize_name(c->pgsize),
		 c->flags ? "" : "noflags", (c->flags & IOPT_F_SHARED) ? "shared" : "",
		 (c->flags & IOPT_F_RECLAIM) ? "reclaim" : "",
		 c->flags == (IOPT_F_RECLAIM | IOPT_F_COALESCE) ? "+" : "",
		 (c->flags & IOPT_F_COALESCE) ? "coalesce" : "",
		 impl ? (c->impl == IOPT_IMPL_TUNED ? "/tuned" : "/baseline") : "");
}

static uint64_t cfg_salt(const struct prop_cfg *c)
{
	return ((uint64_t)c->levels << 32) ^ (c->pgsize >> 12) ^
	       ((uint64_t)c->flags << 40) ^ ((uint64_t)c->impl << 48);
}

/* A 1G-aligned window start: bottom, top, across a root entry, or random. */
static iova_t pick_base(struct prng *r, unsigned levels)
{
	unsigned s = amdvi_level_shift(levels) + 9;
	uint64_t blocks = s >= 64 ? 1ULL << 34 : 1ULL << (s - 30);
	unsigned root_shift = amdvi_level_shift(levels);
	uint64_t roots = s >= 64 ? 1ULL << (64 - root_shift) : 512;

	switch (prng_below(r, 4)) {
	case 0:
		return 0;
	case 1:
		return (blocks - WIN_BLOCKS) << 30;
	case 2:
		/* Across a root entry boundary (three levels: 1G entries anyway). */
		if (root_shift > 30)
			return ((2 + prng_below(r, roots - 3)) << root_shift) - 2 * SZ_1G;
		return prng_below(r, blocks - WIN_BLOCKS + 1) << 30;
	default:
		return prng_below(r, blocks - WIN_BLOCKS + 1) << 30;
	}
}

static unsigned pick_align(struct prng *r)
{
	uint64_t x = prng_below(r, 100);

	if (x < 25)
		return 12;
	if (x < 40)
		return 13 + (unsigned)prng_below(r, 8);	/* sized pages at level 1 */
	if (x < 70)
		return 21;
	if (x < 80)
		return 22 + (unsigned)prng_below(r, 8);	/* sized pages at level 2 */
	return 30;
}

static uint64_t pick_len(struct prng *r, uint64_t pgsize)
{
	uint64_t x = prng_below(r, 100), l;

	if (x < 35) {
		l = (1 + prng_below(r, 16)) << 12;
	} else if (x < 55) {
		l = 1ULL << (13 + prng_below(r, 9));
	} else if (x < 70) {
		l = (1 + prng_below(r, 4)) << 21;
		if (prng_below(r, 3) == 1)
			l += (1 + prng_below(r, 2)) << 12;
		else if (prng_below(r, 2))
			l -= (1 + prng_below(r, 2)) << 12;
	} else if (x < 82) {
		l = (1 + prng_below(r, 512)) << 12;
	} else if (x < 92) {
		l = 1ULL << (22 + prng_below(r, 5));
	} else if (x < 97) {
		l = (1 + prng_below(r, 2)) << 30;
		if (prng_below(r, 3) == 1)
			l += SZ_4K;
		else if (prng_below(r, 2))
			l -= SZ_2M;
	} else {
		l = (1 + prng_below(r, 1024)) << 21;
	}
	/* 4K pages only: a big map is 512 tables per G, too slow to check. */
	if (pgsize == IOPT_PGSIZE_4K && l > 4 * SZ_2M)
		l = 4 * SZ_2M;
	return l;
}

static paddr_t pick_pa(struct prng *r, iova_t iova, uint64_t len)
{
	const uint64_t top = 1ULL << 52;
	uint64_t x = prng_below(r, 100);

	if (x < 65 || len > 64 * SZ_1M)
		/* Same offset in its 1G as the IOVA: superpages can form. */
		return (prng_below(r, (top >> 30) - 8) << 30) | (iova & (SZ_1G - 1));
	if (x < 85) {
		unsigned a = 12 + (unsigned)prng_below(r, 19);

		return prng_below(r, ((top - len) >> a) + 1) << a;
	}
	if (x < 90)
		return top - len;	/* against the end of the physical space */
	return prng_below(r, ((top - len) >> 12) + 1) << 12;
}

static void gen_op(struct prng *r, const struct prop_cfg *c, iova_t base, struct op *op)
{
	uint64_t x = prng_below(r, 1000);
	unsigned al;

	memset(op, 0, sizeof(*op));
	if (x < 4) {
		op->kind = OP_WIPE;
		op->len = WIN_BYTES;
		return;
	}
	if (x < 100) {
		op->kind = OP_PROBE;
		return;
	}
	op->kind = x < 560 ? OP_MAP : OP_UNMAP;
	op->len = pick_len(r, c->pgsize);
	al = pick_align(r);
	if (op->len > SZ_16M && al < 21)
		al = 21;	/* keep big ranges in big pages: fewer tables to check */
	if (op->len <= HOT_BYTES && prng_below(r, 10) < 8) {
		uint64_t b = prng_below(r, WIN_BLOCKS);
		uint64_t lo = b ? (b << 30) - HOT_BYTES / 2 : 0;

		op->off = lo + prng_below(r, HOT_BYTES - op->len + 1);
	} else {
		op->off = prng_below(r, WIN_BYTES - op->len + 1);
	}
	op->off &= ~((1ULL << al) - 1);
	op->pa = pick_pa(r, base + op->off, op->len);
	op->prot = 1 + (unsigned)prng_below(r, 3);
}

/*
 * The random stream: gen_op() draws, and one draw in sixteen or so is a
 * "fill" instead: an aligned 2M (or 1G) block mapped contiguously in 2-4
 * pieces cut at random pages, so that tables fill up and coalesce.
 */
struct stream {
	struct prng *r;
	const struct prop_cfg *c;
	iova_t base;
	struct op queue[4];
	unsigned nq, iq;
};

static void stream_init(struct stream *st, struct prng *r, const struct prop_cfg *c,
			iova_t base)
{
	memset(st, 0, sizeof(*st));
	st->r = r;
	st->c = c;
	st->base = base;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void stream_next(struct stream *st, struct op *op)
{
	struct prng *r = st->r;

	if (st->iq < st->nq) {
		*op = st->queue[st->iq++];
		return;
	}
	if (prng_below(r, 16)) {
		gen_op(r, st->c, st->base, op);
		return;
	}

	bool big = st->c->pgsize != IOPT_PGSIZE_4K && !prng_below(r, 5);
	uint64_t bsize = big ? SZ_1G : SZ_2M;
	unsigned pieces = 2 + (unsigned)prng_below(r, 3);
	uint64_t cut[5];
	uint64_t off, pa;
	unsigned prot = 1 + (unsigned)prng_below(r, 3);

	if (prng_below(r, 2) && !big) {
		uint64_t b = prng_below(r, WIN_BLOCKS);

		off = (b ? (b << 30) - HOT_BYTES / 2 : 0) + (prng_below(r, HOT_BYTES / SZ_2M) << 21);
	} else {
		off = prng_below(r, WIN_BYTES / bsize) * bsize;
	}
	pa = prng_below(r, (1ULL << 52) / bsize - 1) * bsize;
	cut[0] = 0;
	for (unsigned i = 1; i < pieces; i++)
		cut[i] = (1 + prng_below(r, bsize / SZ_4K - 1)) << 12;
	cut[pieces] = bsize;
	qsort(cut + 1, pieces - 1, sizeof(cut[0]), cmp_u64);
	st->nq = 0;
	st->iq = 0;
	for (unsigned i = 0; i < pieces; i++) {
		if (cut[i + 1] == cut[i])
			continue;
		st->queue[st->nq++] = (struct op){ OP_MAP, off + cut[i], cut[i + 1] - cut[i],
						   pa + cut[i], prot };
	}
	*op = st->queue[st->iq++];
}

static void op_describe(const struct op *op, iova_t base, char *buf, size_t n)
{
	static const char *const kinds[] = { "map", "unmap", "probe", "wipe" };

	snprintf(buf, n, "%s iova=0x%llx len=0x%llx pa=0x%llx prot=%u", kinds[op->kind],
		 (unsigned long long)(base + op->off), (unsigned long long)op->len,
		 (unsigned long long)op->pa, op->prot);
}

/* Tables seen by walking the real entries, as the hardware would. */
struct tree_info {
	uint64_t tables;
	uint64_t per_level[AMDVI_PT_LEVELS_MAX + 1];
	uint64_t empty;		/* non-root tables with no present entry */
	uint64_t foldable;	/* non-root tables IOPT_F_COALESCE should have folded */
	iova_t lo, hi;		/* the last unmap's range, or hi < lo */
	uint64_t covered;	/* tables whose whole span lies in [lo, hi] */
};

/* Physical address the entry at slot @i of a level-@level table maps. */
static paddr_t slot_pa(uint64_t e, unsigned level, unsigned i)
{
	unsigned shift = amdvi_level_shift(level);

	if (amdvi_pte_next_level(e) == AMDVI_NEXT_LEVEL_SIZED) {
		uint64_t size = 1ULL << amdvi_sized_lg2(e);

		return ((e & AMDVI_PTE_ADDR) & ~(size - 1)) + (((uint64_t)i << shift) & (size - 1));
	}
	return e & AMDVI_PTE_ADDR;
}

static bool table_foldable(const uint64_t *t, unsigned level, uint64_t pgsize)
{
	unsigned shift = amdvi_level_shift(level);
	const uint64_t keep = ~(AMDVI_PTE_ADDR | AMDVI_PTE_NEXT_LEVEL);
	paddr_t pa0;

	if (!((pgsize >> (shift + 9)) & 1) || is_pde(t[0], level))
		return false;
	pa0 = slot_pa(t[0], level, 0);
	if (pa0 & ((1ULL << (shift + 9)) - 1))
		return false;
	for (unsigned i = 0; i < 512; i++) {
		if (!(t[i] & AMDVI_PTE_PR) || is_pde(t[i], level) ||
		    (t[i] & keep) != (t[0] & keep) ||
		    slot_pa(t[i], level, i) != pa0 + ((uint64_t)i << shift))
			return false;
	}
	return true;
}

/* @base: first address of the table's span, @span_lg2 its size. */
static void tree_scan(const uint64_t *t, unsigned level, iova_t base, unsigned span_lg2,
		      bool root, uint64_t pgsize, struct tree_info *ti)
{
	unsigned shift = amdvi_level_shift(level);
	unsigned present = 0;

	ti->tables++;
	ti->per_level[level]++;
	if (!root && base >= ti->lo && base + ((1ULL << span_lg2) - 1) <= ti->hi)
		ti->covered++;
	for (unsigned i = 0; i < 512; i++) {
		if (!(t[i] & AMDVI_PTE_PR))
			continue;
		present++;
		/* The child spans this entry (a skipped level is never written). */
		if (is_pde(t[i], level))
			tree_scan(table_of(t[i]), amdvi_pte_next_level(t[i]),
				  base + ((uint64_t)i << shift), shift, false, pgsize, ti);
	}
	if (!root && !present)
		ti->empty++;
	if (!root && present == 512 && pgsize && table_foldable(t, level, pgsize))
		ti->foldable++;
}

/*
 * @fold: look for tables IOPT_F_COALESCE should have folded (slower);
 * [@lo, @hi]: count tables lying wholly inside it.
 */
static void tree_info_of(const struct iopt *pt, bool fold, iova_t lo, iova_t hi,
			 struct tree_info *ti)
{
	memset(ti, 0, sizeof(*ti));
	ti->lo = lo;
	ti->hi = hi;
	tree_scan(table_of(iopt_root(pt)), iopt_levels(pt), 0, 64, true,
		  fold ? iopt_pgsize_bitmap(pt) : 0, ti);
}

/* Model entry: 0 unmapped, else (pa >> 12) << 2 | prot. */
static uint64_t model_enc(paddr_t pa, unsigned prot)
{
	return ((pa >> 12) << 2) | prot;
}

struct prop {
	const struct prop_cfg *c;
	char name[64];
	char desc[128];
	uint64_t seed;
	unsigned op;
	struct prng r;
	struct iopt *pt;
	struct iopt_gather g;
	iova_t base;
	uint64_t *model;
	uint64_t maps_done, maps_busy, unmaps_hit;	/* coverage of the stream */
	uint64_t splits, coalesces;
	uint64_t tables_sum;
	uint64_t unmapped_lo, unmapped_hi;	/* last op's unmap range, if any */
};

/* Checked millions of times: Criterion only hears about failures. */
#define PROP_ASSERT(p, cond, fmt, ...)						\
	do {									\
		if (!(cond))							\
			cr_assert_fail("seed=0x%llx cfg=%s op=%u (%s): %s: " fmt, \
				       (unsigned long long)(p)->seed, (p)->name, \
				       (p)->op, (p)->desc, #cond, ##__VA_ARGS__); \
	} while (0)

/*
 * Compare what the table translates in window offsets [lo, hi] (hi is a
 * last byte) with the model, one leaf or one non-present entry per walk.
 */
static void prop_compare(struct prop *p, uint64_t lo, uint64_t hi)
{
	uint64_t off = lo & ~(SZ_4K - 1);

	while (off <= hi) {
		iova_t iova = p->base + off;
		struct amdvi_walk w;
		int ret = iopt_translate(p->pt, iova, &w);
		uint64_t end;	/* last window offset this walk speaks for */

		if (ret == 0) {
			uint64_t size = 1ULL << w.size_lg2;
			iova_t ls = iova & ~(size - 1);
			paddr_t lpa = w.pa - (iova - ls);

			PROP_ASSERT(p, ls >= p->base && ls - p->base + size <= WIN_BYTES,
				    "leaf 0x%llx size 2^%u outside the window",
				    (unsigned long long)ls, w.size_lg2);
			end = ls - p->base + size - 1;
			if (end > hi)
				end = hi;
			for (uint64_t o = off; o <= end; o += SZ_4K) {
				uint64_t want = p->model[o >> 12];
				uint64_t got = model_enc(lpa + (p->base + o - ls), w.prot);

				if (want != got)
					PROP_ASSERT(p, 0, "iova 0x%llx -> pa 0x%llx prot %u (leaf 2^%u), model %s 0x%llx prot %u",
						    (unsigned long long)(p->base + o),
						    (unsigned long long)(lpa + (p->base + o - ls)),
						    w.prot, w.size_lg2, want ? "pa" : "unmapped",
						    (unsigned long long)((want >> 2) << 12),
						    (unsigned)(want & 3));
			}
		} else {
			PROP_ASSERT(p, w.fault == AMDVI_FAULT_NOT_PRESENT,
				    "iova 0x%llx: fault %s", (unsigned long long)iova,
				    amdvi_fault_name(w.fault));
			unsigned sh = amdvi_level_shift(w.fault_level);
			iova_t ee = (iova & ~((1ULL << sh) - 1)) + ((1ULL << sh) - 1);

			end = ee - p->base < hi ? ee - p->base : hi;
			for (uint64_t o = off; o <= end; o += SZ_4K)
				if (p->model[o >> 12])
					PROP_ASSERT(p, 0, "iova 0x%llx not present at level %u, model maps it",
						    (unsigned long long)(p->base + o), w.fault_level);
		}
		off = end + 1;
	}
}

struct leaf_check {
	struct prop *p;
	bool any;
	iova_t last;		/* last byte of the previous leaf */
	uint64_t bytes;
};

/* iopt_for_each_leaf() callback: leaves in order, aligned, as the model says. */
static void check_leaf(void *ctx, iova_t iova, paddr_t pa, unsigned lg2, unsigned prot)
{
	struct leaf_check *lc = ctx;
	struct prop *p = lc->p;
	uint64_t size = 1ULL << lg2;

	PROP_ASSERT(p, !lc->any || iova > lc->last, "leaf 0x%llx after 0x%llx",
		    (unsigned long long)iova, (unsigned long long)lc->last);
	PROP_ASSERT(p, !(iova & (size - 1)) && !(pa & (size - 1)),
		    "leaf 0x%llx -> 0x%llx not aligned to 2^%u", (unsigned long long)iova,
		    (unsigned long long)pa, lg2);
	PROP_ASSERT(p, iova >= p->base && iova - p->base + size <= WIN_BYTES,
		    "leaf 0x%llx outside the window", (unsigned long long)iova);
	for (uint64_t o = 0; o < size; o += SZ_4K)
		if (p->model[(iova - p->base + o) >> 12] != model_enc(pa + o, prot))
			PROP_ASSERT(p, 0, "leaf 0x%llx size 2^%u: page 0x%llx differs from the model",
				    (unsigned long long)iova, lg2,
				    (unsigned long long)(iova + o));
	lc->any = true;
	lc->last = iova + (size - 1);
	lc->bytes += size;
}

static void prop_sweep(struct prop *p)
{
	struct leaf_check lc = { .p = p };
	uint64_t mapped = 0;
	struct amdvi_walk w;

	prop_compare(p, 0, WIN_BYTES - 1);
	iopt_for_each_leaf(p->pt, check_leaf, &lc);
	for (uint64_t i = 0; i < WIN_PAGES; i++)
		mapped += p->model[i] != 0;
	PROP_ASSERT(p, lc.bytes == mapped << 12, "leaves cover 0x%llx bytes, model 0x%llx",
		    (unsigned long long)lc.bytes, (unsigned long long)(mapped << 12));
	if (p->base)
		PROP_ASSERT(p, iopt_translate(p->pt, p->base - SZ_4K, &w) == -EFAULT,
			    "below the window translates");
	if (p->base + WIN_BYTES != 0 &&
	    (iopt_levels(p->pt) == 6 ||
	     p->base + WIN_BYTES < 1ULL << (amdvi_level_shift(iopt_levels(p->pt)) + 9)))
		PROP_ASSERT(p, iopt_translate(p->pt, p->base + WIN_BYTES, &w) == -EFAULT,
			    "above the window translates");
}

/* Checks after every operation; releases the freelist. */
static void prop_after(struct prop *p, uint64_t lo, uint64_t hi)
{
	struct iopt_stats st;
	struct tree_info ti;
	uint64_t nt;

	PROP_ASSERT(p, iopt_check(p->pt) == 0, "iopt_check failed");
	nt = iopt_count_tables(p->pt);
	p->tables_sum += nt;
	iopt_stats_get(p->pt, &st);
	PROP_ASSERT(p, st.tables_live == nt + p->g.freelist.pages,
		    "tables_live %llu, reachable %llu + freelist %llu",
		    (unsigned long long)st.tables_live, (unsigned long long)nt,
		    (unsigned long long)p->g.freelist.pages);
	iopt_gather_release(p->pt, &p->g);
	iopt_stats_get(p->pt, &st);
	PROP_ASSERT(p, st.tables_live == nt && p->g.freelist.pages == 0,
		    "tables_live %llu after release, reachable %llu",
		    (unsigned long long)st.tables_live, (unsigned long long)nt);
	iopt_gather_init(&p->g, NULL, NULL);

	if (p->unmapped_hi >= p->unmapped_lo)
		tree_info_of(p->pt, p->c->flags & IOPT_F_COALESCE, p->base + p->unmapped_lo,
			     p->base + p->unmapped_hi, &ti);
	else
		tree_info_of(p->pt, p->c->flags & IOPT_F_COALESCE, 1, 0, &ti);
	PROP_ASSERT(p, ti.covered == 0, "%llu tables inside the unmapped range survive",
		    (unsigned long long)ti.covered);
	PROP_ASSERT(p, ti.tables == nt, "walked %llu tables, iopt_count_tables %llu",
		    (unsigned long long)ti.tables, (unsigned long long)nt);
	if (p->c->flags & IOPT_F_RECLAIM)
		PROP_ASSERT(p, ti.empty == 0, "%llu empty tables with IOPT_F_RECLAIM",
			    (unsigned long long)ti.empty);
	if (p->c->flags & IOPT_F_COALESCE)
		PROP_ASSERT(p, ti.foldable == 0, "%llu foldable tables with IOPT_F_COALESCE",
			    (unsigned long long)ti.foldable);

	lo = lo > 2 * SZ_2M ? (lo & ~(SZ_2M - 1)) - SZ_2M : 0;
	hi = hi + 2 * SZ_2M < WIN_BYTES ? (hi | (SZ_2M - 1)) + SZ_2M : WIN_BYTES - 1;
	prop_compare(p, lo, hi);
	if (p->op % 128 == 0)
		for (unsigned i = 0; i < 64; i++) {
			uint64_t o = prng_below(&p->r, WIN_PAGES) << 12;

			prop_compare(p, o, o + SZ_4K - 1);
		}
	if (p->op % 1024 == 1023)
		prop_sweep(p);
}

static void prop_map(struct prop *p, const struct op *op)
{
	uint64_t first = op->off >> 12, n = op->len >> 12;
	uint64_t tables = iopt_count_tables(p->pt);
	bool busy = false;
	int ret;

	for (uint64_t i = 0; i < n && !busy; i++)
		busy = p->model[first + i] != 0;
	ret = iopt_map(p->pt, p->base + op->off, op->pa, op->len, op->prot, &p->g);
	PROP_ASSERT(p, ret == (busy ? -EEXIST : 0), "map returned %d, model says %s", ret,
		    busy ? "busy" : "free");
	if (ret) {
		p->maps_busy++;
		/* A shared table keeps what a failed map installed (empty). */
		if (!(p->c->flags & IOPT_F_SHARED))
			PROP_ASSERT(p, iopt_count_tables(p->pt) == tables,
				    "failed map changed the tables");
		PROP_ASSERT(p, !p->g.pending && !p->g.freelist.pages, "failed map gathered");
		return;
	}
	p->maps_done++;
	for (uint64_t i = 0; i < n; i++)
		p->model[first + i] = model_enc(op->pa + (i << 12), op->prot);
	if (p->g.freelist.pages)
		PROP_ASSERT(p, (p->c->flags & IOPT_F_COALESCE) && p->g.pde && p->g.pending,
			    "map freed tables without coalescing or without a PDE flush");
}

static void prop_unmap(struct prop *p, const struct op *op)
{
	uint64_t first = op->off >> 12, n = op->len >> 12;
	uint64_t mapped = 0, lo = 0, hi = 0, bytes = ~0ULL;
	iova_t iova = p->base + op->off;
	int ret;

	for (uint64_t i = 0; i < n; i++) {
		if (!p->model[first + i])
			continue;
		if (!mapped)
			lo = i;
		hi = i;
		mapped++;
		p->model[first + i] = 0;
	}
	ret = iopt_unmap(p->pt, iova, op->len, &p->g, &bytes);
	PROP_ASSERT(p, ret == 0, "unmap returned %d", ret);
	p->unmapped_lo = op->off;
	p->unmapped_hi = op->off + op->len - 1;
	p->unmaps_hit += mapped != 0;
	PROP_ASSERT(p, bytes == mapped << 12, "unmapped 0x%llx bytes, model 0x%llx",
		    (unsigned long long)bytes, (unsigned long long)(mapped << 12));
	if (mapped)
		PROP_ASSERT(p, p->g.pending && p->g.start <= iova + (lo << 12) &&
			       p->g.last >= iova + (hi << 12) + SZ_4K - 1,
			    "gather [0x%llx, 0x%llx] misses unmapped pages",
			    (unsigned long long)p->g.start, (unsigned long long)p->g.last);
	if (p->g.pending)
		PROP_ASSERT(p, p->g.start >= iova && p->g.last <= iova + op->len - 1,
			    "gather [0x%llx, 0x%llx] outside the range",
			    (unsigned long long)p->g.start, (unsigned long long)p->g.last);
	if (p->g.freelist.pages)
		PROP_ASSERT(p, p->g.pde && p->g.pending, "tables freed without a PDE flush");
	if (!mapped && !p->g.freelist.pages)
		PROP_ASSERT(p, !p->g.pending, "nothing unmapped, yet a range gathered");
}

static void prop_wipe_check(struct prop *p)
{
	struct tree_info ti;

	tree_info_of(p->pt, false, 1, 0, &ti);
	/* Every level-1 and level-2 table lies inside the 1G-aligned window. */
	PROP_ASSERT(p, ti.per_level[1] == 0 && ti.per_level[2] == 0,
		    "%llu level-1 and %llu level-2 tables survive unmapping the window",
		    (unsigned long long)ti.per_level[1], (unsigned long long)ti.per_level[2]);
	if (p->c->flags & IOPT_F_RECLAIM)
		PROP_ASSERT(p, ti.tables == 1, "%llu tables left with IOPT_F_RECLAIM",
			    (unsigned long long)ti.tables);
}

static uint64_t prop_run(const struct prop_cfg *c, unsigned nops)
{
	struct prop *p = calloc(1, sizeof(*p));
	struct iopt_cfg cfg = { .levels = c->levels, .pgsize_bitmap = c->pgsize,
				.flags = c->flags, .impl = c->impl };
	uint64_t ops;

	cr_assert_not_null(p);
	p->c = c;
	cfg_name(c, true, p->name, sizeof(p->name));
	p->seed = test_seed(cfg_salt(c));
	prng_seed(&p->r, p->seed);
	p->base = pick_base(&p->r, c->levels);
	p->model = calloc(WIN_PAGES, sizeof(*p->model));
	cr_assert_not_null(p->model);
	cr_assert_eq(iopt_create(&cfg, &p->pt), 0);
	iopt_gather_init(&p->g, NULL, NULL);
	snprintf(p->desc, sizeof(p->desc), "window base 0x%llx", (unsigned long long)p->base);

	struct stream st;

	stream_init(&st, &p->r, c, p->base);
	for (p->op = 0; p->op < nops; p->op++) {
		struct op op;

		stream_next(&st, &op);
		op_describe(&op, p->base, p->desc, sizeof(p->desc));
		p->unmapped_lo = 1;
		p->unmapped_hi = 0;
		switch (op.kind) {
		case OP_MAP:
			prop_map(p, &op);
			break;
		case OP_UNMAP:
		case OP_WIPE:
			prop_unmap(p, &op);
			break;
		case OP_PROBE:
			for (unsigned i = 0; i < 32; i++) {
				uint64_t o = prng_below(&p->r, WIN_PAGES) << 12;

				prop_compare(p, o, o + SZ_4K - 1);
			}
			break;
		}
		prop_after(p, op.off, op.off + (op.len ? op.len : SZ_4K) - 1);
		if (op.kind == OP_WIPE)
			prop_wipe_check(p);
	}
	prop_sweep(p);
	PROP_ASSERT(p, iob_warn_count() == 0, "library warning: %s", iob_warn_message(0));

	/* The stream did what it is for: collisions, hits, splits, folds. */
	struct iopt_stats stats;

	iopt_stats_get(p->pt, &stats);
	if (getenv("IOB_TEST_VERBOSE"))
		fprintf(stderr, "%s: tables/op %llu maps %llu busy %llu unmaps-hit %llu splits %llu coalesces %llu\n",
			p->name, (unsigned long long)(p->tables_sum / p->op), (unsigned long long)p->maps_done,
			(unsigned long long)p->maps_busy, (unsigned long long)p->unmaps_hit,
			(unsigned long long)stats.splits, (unsigned long long)stats.coalesces);
	PROP_ASSERT(p, p->maps_done > 50 && p->maps_busy > 50 && p->unmaps_hit > 50,
		    "weak stream: %llu maps, %llu busy, %llu unmaps hit",
		    (unsigned long long)p->maps_done, (unsigned long long)p->maps_busy,
		    (unsigned long long)p->unmaps_hit);
	if (c->pgsize != IOPT_PGSIZE_4K)
		PROP_ASSERT(p, stats.splits > 0, "no superpage was ever split");
	if ((c->flags & IOPT_F_COALESCE) && c->pgsize != IOPT_PGSIZE_4K)
		PROP_ASSERT(p, stats.coalesces > 0, "no table was ever coalesced");
	ops = p->op;
	iopt_destroy(p->pt);
	free(p->model);
	free(p);
	return ops;
}

/*
 * One test per level count and page-size set (a process each, run in
 * parallel); each runs the five flag sets with both implementations:
 * 4 x 3 x 5 x 2 = 120 configurations.
 */
struct prop_group {
	unsigned levels;
	uint64_t pgsize;
};

static struct prop_group prop_groups[] = {
#define G(l)	{ l, IOPT_PGSIZE_DEFAULT }, { l, IOPT_PGSIZE_4K }, { l, IOPT_PGSIZE_ALL_POW2 }
	G(3), G(4), G(5), G(6),
#undef G
};

static const unsigned prop_flag_sets[] = {
	0, IOPT_F_RECLAIM, IOPT_F_COALESCE, IOPT_F_RECLAIM | IOPT_F_COALESCE, IOPT_F_SHARED,
};

#define NFLAGSETS	(sizeof(prop_flag_sets) / sizeof(prop_flag_sets[0]))
#define PROP_OPS	1100	/* x 120 configurations = 132,000 operations */

ParameterizedTestParameters(iopt_prop, random_ops_match_the_reference_model)
{
	return cr_make_param_array(struct prop_group, prop_groups,
				   sizeof(prop_groups) / sizeof(prop_groups[0]));
}

ParameterizedTest(struct prop_group *pg, iopt_prop, random_ops_match_the_reference_model)
{
	uint64_t ops = 0;

	for (unsigned f = 0; f < NFLAGSETS; f++) {
		for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
			struct prop_cfg c = { pg->levels, pg->pgsize, prop_flag_sets[f], impl };

			ops += prop_run(&c, PROP_OPS);
		}
	}
	cr_assert_eq(ops, NFLAGSETS * IOPT_IMPL_NR * PROP_OPS);
}

/* ---- tuned vs baseline ---------------------------------------------------- */

#define TWIN_OPS	500	/* x 48 configurations = 24,000 operations */

static void twin_run(const struct prop_cfg *c)
{
	struct prop p = { .c = c };
	struct iopt *pt[IOPT_IMPL_NR];
	struct iopt_gather g[IOPT_IMPL_NR];

	cfg_name(c, false, p.name, sizeof(p.name));
	p.seed = test_seed(cfg_salt(c) ^ 0x7713);
	prng_seed(&p.r, p.seed);
	p.base = pick_base(&p.r, c->levels);
	for (unsigned i = 0; i < IOPT_IMPL_NR; i++) {
		struct iopt_cfg cfg = { .levels = c->levels, .pgsize_bitmap = c->pgsize,
					.flags = c->flags, .impl = i };

		cr_assert_eq(iopt_create(&cfg, &pt[i]), 0);
		iopt_gather_init(&g[i], NULL, NULL);
	}

	struct stream st;

	stream_init(&st, &p.r, c, p.base);
	for (p.op = 0; p.op < TWIN_OPS; p.op++) {
		int ret[IOPT_IMPL_NR];
		uint64_t bytes[IOPT_IMPL_NR] = { 0, 0 };
		struct op op;

		do
			stream_next(&st, &op);
		while (op.kind == OP_PROBE);	/* no model here to probe */
		op_describe(&op, p.base, p.desc, sizeof(p.desc));
		for (unsigned i = 0; i < IOPT_IMPL_NR; i++) {
			if (op.kind == OP_MAP)
				ret[i] = iopt_map(pt[i], p.base + op.off, op.pa, op.len,
						  op.prot, &g[i]);
			else
				ret[i] = iopt_unmap(pt[i], p.base + op.off, op.len, &g[i],
						    &bytes[i]);
			PROP_ASSERT(&p, iopt_check(pt[i]) == 0, "%s: iopt_check",
				    iopt_impl_name(i));
		}
		PROP_ASSERT(&p, ret[0] == ret[1], "tuned %d, baseline %d", ret[0], ret[1]);
		PROP_ASSERT(&p, ret[0] == 0 || ret[0] == -EEXIST, "returned %d", ret[0]);
		PROP_ASSERT(&p, bytes[0] == bytes[1], "unmapped: tuned 0x%llx, baseline 0x%llx",
			    (unsigned long long)bytes[0], (unsigned long long)bytes[1]);
		PROP_ASSERT(&p, iopt_equal(pt[0], pt[1]), "tables differ");
		PROP_ASSERT(&p, iopt_fingerprint(pt[0]) == iopt_fingerprint(pt[1]),
			    "equal tables, different fingerprints");
		PROP_ASSERT(&p, iopt_count_tables(pt[0]) == iopt_count_tables(pt[1]),
			    "table counts differ");
		PROP_ASSERT(&p, g[0].freelist.pages == g[1].freelist.pages,
			    "freed: tuned %llu, baseline %llu tables",
			    (unsigned long long)g[0].freelist.pages,
			    (unsigned long long)g[1].freelist.pages);
		PROP_ASSERT(&p, g[0].pde == g[1].pde, "PDE flush: tuned %d, baseline %d",
			    g[0].pde, g[1].pde);
		for (unsigned i = 0; i < IOPT_IMPL_NR; i++) {
			iopt_gather_release(pt[i], &g[i]);
			iopt_gather_init(&g[i], NULL, NULL);
			PROP_ASSERT(&p, live_tables(pt[i]) == iopt_count_tables(pt[i]),
				    "%s: tables_live", iopt_impl_name(i));
		}
	}
	PROP_ASSERT(&p, iob_warn_count() == 0, "library warning: %s", iob_warn_message(0));
	for (unsigned i = 0; i < IOPT_IMPL_NR; i++)
		iopt_destroy(pt[i]);
}

/* Levels x page sizes, each with the four flag sets: 48 configurations. */
ParameterizedTestParameters(iopt_twin, tuned_and_baseline_build_identical_tables)
{
	return cr_make_param_array(struct prop_group, prop_groups,
				   sizeof(prop_groups) / sizeof(prop_groups[0]));
}

ParameterizedTest(struct prop_group *pg, iopt_twin, tuned_and_baseline_build_identical_tables)
{
	for (unsigned f = 0; f < 4; f++) {
		struct prop_cfg c = { pg->levels, pg->pgsize, prop_flag_sets[f], 0 };

		twin_run(&c);
	}
}

/* ---- threads: callers sharing one table ------------------------------------ */

/* The scenarios live in iopt_threads.h, which stress_threads.c runs under ThreadSanitizer. */
ParameterizedTestParameters(iopt_threads, callers_on_their_own_ranges_share_one_table_without_a_lock)
{
	return cr_make_param_array(struct th_cfg, th_cfgs, TH_NCFGS);
}

ParameterizedTest(struct th_cfg *c, iopt_threads,
		  callers_on_their_own_ranges_share_one_table_without_a_lock, .timeout = 300)
{
	char err[512];

	cr_assert(th_run_cfg(c, err, sizeof(err)) == 0, "%s", err);
}

Test(iopt_threads, threads_installing_the_same_tables_at_once_all_find_their_page, .timeout = 300)
{
	char err[512];

	cr_assert(th_race(RACE_ROUNDS, err, sizeof(err)) == 0, "%s", err);
}

/* ---- allocation failure --------------------------------------------------- */

/* Counts live allocations; the fail_at-th call (counted from 1) fails. */
struct fail_alloc {
	struct iopt_alloc ops;
	uint64_t calls;
	uint64_t fail_at;	/* 0: never */
	uint64_t failures;
	int64_t live;
};

static void *fa_alloc(void *ctx)
{
	struct fail_alloc *a = ctx;
	void *p = NULL;

	if (++a->calls == a->fail_at) {
		a->failures++;
		return NULL;
	}
	if (posix_memalign(&p, 4096, IOPT_TABLE_ALLOC_BYTES))
		return NULL;
	/* Garbage, not zeros: the table must be cleared by iopt. */
	memset(p, 0xa5, IOPT_TABLE_ALLOC_BYTES);
	a->live++;
	return p;
}

static void fa_free(void *ctx, void *mem)
{
	struct fail_alloc *a = ctx;

	cr_assert_not_null(mem);
	cr_assert_eq((uintptr_t)mem & 0xfff, 0);
	a->live--;
	free(mem);
}

static void fa_init(struct fail_alloc *a)
{
	memset(a, 0, sizeof(*a));
	a->ops.alloc = fa_alloc;
	a->ops.free = fa_free;
	a->ops.ctx = a;
}

/* An injected table and an identical twin that never fails. */
struct inject {
	struct fail_alloc fa, fb;
	struct iopt *a, *b;
	struct iopt_gather ga, gb;
	const char *what;
	uint64_t seed;		/* 0: scripted case */
	unsigned op;
};

static void inject_create(struct inject *in, const struct iopt_cfg *cfg, const char *what)
{
	struct iopt_cfg c = *cfg;

	fa_init(&in->fa);
	fa_init(&in->fb);
	c.alloc = &in->fa.ops;
	cr_assert_eq(iopt_create(&c, &in->a), 0);
	c.alloc = &in->fb.ops;
	cr_assert_eq(iopt_create(&c, &in->b), 0);
	iopt_gather_init(&in->ga, NULL, NULL);
	iopt_gather_init(&in->gb, NULL, NULL);
	in->what = what;
}

/* Apply to both without injection (setup). */
static void inject_both(struct inject *in, const struct op *op)
{
	int ra, rb;

	if (op->kind == OP_MAP) {
		ra = iopt_map(in->a, op->off, op->pa, op->len, op->prot, &in->ga);
		rb = iopt_map(in->b, op->off, op->pa, op->len, op->prot, &in->gb);
	} else {
		ra = iopt_unmap(in->a, op->off, op->len, &in->ga, NULL);
		rb = iopt_unmap(in->b, op->off, op->len, &in->gb, NULL);
	}
	cr_assert_eq(ra, rb);
	iopt_gather_release(in->a, &in->ga);
	iopt_gather_release(in->b, &in->gb);
}

#define INJ_ASSERT(in, cond, fmt, ...)						\
	cr_assert(cond, "%s seed=0x%llx op=%u fail_at=%llu: " fmt, (in)->what,	\
		  (unsigned long long)(in)->seed, (in)->op,			\
		  (unsigned long long)(in)->fa.fail_at, ##__VA_ARGS__)

/*
 * Run @op on the injected table with the 1st, 2nd, ... allocation failing
 * until it runs through; check after each -ENOMEM that nothing changed and
 * nothing leaked. Then run it on the twin and compare.
 * Return: the number of injected failures (allocations the op needed).
 */
static unsigned inject_each(struct inject *in, const struct op *op, int *ret_out)
{
	unsigned fails = 0;
	const uint64_t failures0 = in->fa.failures;
	uint64_t tables_b = iopt_count_tables(in->b);
	int ret, rb;
	uint64_t bytes_a = 0, bytes_b = 0;

	for (uint64_t n = 1;; n++) {
		struct iopt_stats st;

		iopt_gather_init(&in->ga, NULL, NULL);
		in->fa.fail_at = in->fa.calls + n;
		if (op->kind == OP_MAP)
			ret = iopt_map(in->a, op->off, op->pa, op->len, op->prot, &in->ga);
		else
			ret = iopt_unmap(in->a, op->off, op->len, &in->ga, &bytes_a);
		if (ret != -ENOMEM)
			break;
		fails++;
		INJ_ASSERT(in, in->fa.failures - failures0 == fails,
			   "-ENOMEM without an injected failure (%llu failures, %u -ENOMEM)",
			   (unsigned long long)(in->fa.failures - failures0), fails);
		INJ_ASSERT(in, iopt_equal(in->a, in->b), "failed op changed the table");
		INJ_ASSERT(in, iopt_count_tables(in->a) == tables_b, "failed op changed the tables");
		INJ_ASSERT(in, iopt_check(in->a) == 0, "iopt_check");
		INJ_ASSERT(in, !in->ga.pending && in->ga.freelist.pages == 0 && in->ga.adds == 0,
			   "failed op gathered");
		iopt_stats_get(in->a, &st);
		INJ_ASSERT(in, in->fa.live == (int64_t)tables_b,
			   "%lld allocations live, %llu tables", (long long)in->fa.live,
			   (unsigned long long)tables_b);
		INJ_ASSERT(in, st.tables_live == tables_b, "tables_live %llu",
			   (unsigned long long)st.tables_live);
		INJ_ASSERT(in, st.alloc_failures == in->fa.failures, "alloc_failures %llu",
			   (unsigned long long)st.alloc_failures);
		INJ_ASSERT(in, fails < 64, "no end to allocations");
	}
	in->fa.fail_at = 0;
	INJ_ASSERT(in, in->fa.failures - failures0 == fails,
		   "an injected failure was swallowed (ret %d, %llu failures, %u -ENOMEM)",
		   ret, (unsigned long long)(in->fa.failures - failures0), fails);

	if (op->kind == OP_MAP)
		rb = iopt_map(in->b, op->off, op->pa, op->len, op->prot, &in->gb);
	else
		rb = iopt_unmap(in->b, op->off, op->len, &in->gb, &bytes_b);
	INJ_ASSERT(in, ret == rb, "ret %d, twin %d", ret, rb);
	INJ_ASSERT(in, bytes_a == bytes_b, "unmapped 0x%llx, twin 0x%llx",
		   (unsigned long long)bytes_a, (unsigned long long)bytes_b);
	INJ_ASSERT(in, iopt_equal(in->a, in->b), "tables differ after the op");
	INJ_ASSERT(in, in->ga.freelist.pages == in->gb.freelist.pages, "freelists differ");
	INJ_ASSERT(in, in->fa.live == (int64_t)(iopt_count_tables(in->a) + in->ga.freelist.pages),
		   "%lld allocations live, %llu tables + %llu freed", (long long)in->fa.live,
		   (unsigned long long)iopt_count_tables(in->a),
		   (unsigned long long)in->ga.freelist.pages);
	iopt_gather_release(in->a, &in->ga);
	iopt_gather_release(in->b, &in->gb);
	INJ_ASSERT(in, live_tables(in->a) == iopt_count_tables(in->a), "tables_live");
	if (ret_out)
		*ret_out = ret;
	return fails;
}

static void inject_destroy(struct inject *in)
{
	iopt_gather_release(in->a, &in->ga);
	iopt_gather_release(in->b, &in->gb);
	iopt_destroy(in->a);
	iopt_destroy(in->b);
	cr_assert_eq(in->fa.live, 0, "%s: %lld tables leaked", in->what, (long long)in->fa.live);
	cr_assert_eq(in->fb.live, 0, "%s: twin leaked", in->what);
}

Test(iopt_alloc, create_with_the_default_heap_fails_cleanly_at_each_allocation)
{
	struct iopt_cfg cfg = { .levels = 4 };
	int64_t live0 = iob_alloc_live();
	unsigned fails = 0;

	for (long n = 0;; n++) {
		struct iopt *pt = NULL;
		int ret;

		iob_fail_after(n);
		ret = iopt_create(&cfg, &pt);
		iob_fail_after(-1);
		if (ret == 0) {
			iopt_destroy(pt);
			break;
		}
		cr_assert_eq(ret, -ENOMEM);
		cr_assert_eq(iob_alloc_live(), live0, "allocation %ld: leaked", n);
		cr_assert_lt(++fails, 16);
	}
	cr_assert_geq(fails, 1, "iopt_create allocates nothing through iob_alloc");
	cr_assert_eq(iob_alloc_live(), live0);
}

Test(iopt_alloc, reserved_tables_serve_map_and_split_without_the_allocator)
{
	struct fail_alloc fa;
	struct iopt_cfg cfg = { .levels = 4, .alloc = &fa.ops };
	struct iopt *pt = NULL;
	struct iopt_gather g;
	uint64_t bytes;

	fa_init(&fa);
	iopt_gather_init(&g, NULL, NULL);
	cr_assert_eq(iopt_create(&cfg, &pt), 0);
	cr_assert_eq(iopt_map(pt, SZ_1G, P_1G, SZ_1G, IOPT_PROT_RW, &g), 0);
	/* 4K at a fresh place: 3 tables; 4K out of the 1G leaf: 2 tables. */
	cr_assert_eq(iopt_reserve(pt, 5), 0);
	cr_assert_eq(iopt_reserved(pt), 5);
	cr_assert_eq(fa.live, 2 + 5);
	fa.fail_at = fa.calls + 1;	/* any allocation from here on fails */
	cr_assert_eq(iopt_map(pt, X_4K, 0x1000, SZ_4K, IOPT_PROT_RW, &g), 0);
	cr_assert_eq(iopt_unmap(pt, SZ_1G + SZ_4M, SZ_4K, &g, &bytes), 0);
	cr_assert_eq(bytes, SZ_4K);
	cr_assert_eq(fa.failures, 0);
	cr_assert_eq(iopt_reserved(pt), 0);
	cr_assert_eq(live_tables(pt), iopt_count_tables(pt));
	/* Now the pool is dry: the next table needs the allocator, which fails. */
	cr_assert_eq(iopt_map(pt, X_4K + SZ_4M, 0x1000, SZ_4K, IOPT_PROT_RW, &g), -ENOMEM);
	cr_assert_eq(fa.failures, 1);
	fa.fail_at = 0;
	iopt_destroy(pt);
	cr_assert_eq(fa.live, 0);
}

Test(iopt_alloc, reserve_that_fails_part_way_reserves_nothing)
{
	struct fail_alloc fa;
	struct iopt_cfg cfg = { .levels = 4, .alloc = &fa.ops };
	struct iopt *pt = NULL;

	fa_init(&fa);
	cr_assert_eq(iopt_create(&cfg, &pt), 0);
	cr_assert_eq(iopt_reserve(pt, 2), 0);
	fa.fail_at = fa.calls + 3;
	cr_assert_eq(iopt_reserve(pt, 6), -ENOMEM);
	cr_assert_eq(iopt_reserved(pt), 2, "what an earlier call reserved stays");
	cr_assert_eq(fa.live, 1 + 2);
	fa.fail_at = 0;
	/*
	 * Unused reservations: some kept for next time (how many is a tuning
	 * choice), the rest freed; a reservation within what was kept needs
	 * no allocator.
	 */
	cr_assert_eq(iopt_reserve(pt, 100), 0);
	cr_assert_eq(fa.live, 1 + 100);
	iopt_unreserve(pt);
	uint64_t kept = iopt_reserved(pt);

	cr_assert_leq(kept, 100);
	cr_assert_eq(fa.live, (int64_t)(1 + kept));
	cr_assert_eq(iopt_count_tables(pt), 1);
	fa.fail_at = fa.calls + 1;
	cr_assert_eq(iopt_reserve(pt, kept), 0);
	cr_assert_eq(fa.failures, 1, "only the failure injected above");
	fa.fail_at = 0;
	iopt_destroy(pt);
	cr_assert_eq(fa.live, 0, "reserved pages leaked");
}

Test(iopt_alloc, create_fails_cleanly_when_the_root_allocation_fails)
{
	struct fail_alloc fa;
	struct iopt_cfg cfg = { .levels = 4, .alloc = &fa.ops };
	struct iopt *pt = NULL;

	fa_init(&fa);
	fa.fail_at = 1;
	cr_assert_eq(iopt_create(&cfg, &pt), -ENOMEM);
	cr_assert_eq(fa.live, 0);
	cr_assert_eq(fa.failures, 1);
}

Test(iopt_alloc, map_fails_cleanly_at_every_allocation)
{
	for (unsigned levels = 3; levels <= 6; levels++) {
		for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
			for (unsigned f = 0; f < 2; f++) {
				struct iopt_cfg cfg = { .levels = levels, .impl = impl,
					.flags = f ? IOPT_F_COALESCE | IOPT_F_RECLAIM : 0 };
				/* A root-entry boundary (levels > 3) or a 1G one to cross. */
				const iova_t c = levels == 3 ? SZ_1G : 1ULL << 39;
				struct inject in = { 0 };
				uint64_t before;
				int ret;

				inject_create(&in, &cfg, "map");
				/* Existing tables below c, one page in use there. */
				inject_both(&in, &(struct op){ OP_MAP, c - SZ_2M + SZ_4K, SZ_4K,
							       0x1000, IOPT_PROT_RW });
				before = iopt_count_tables(in.a);
				/*
				 * Writes 4 pages into the existing level-1 table, then
				 * needs level 3 (levels > 3), level 2 and three level-1
				 * tables past c, 4K pages only (pa 4K aligned).
				 */
				struct op op = { OP_MAP, c - 4 * SZ_4K, SZ_4M + 8 * SZ_4K,
						 0x5000, IOPT_PROT_RW };
				unsigned fails = inject_each(&in, &op, &ret);

				cr_assert_eq(ret, 0);
				cr_assert_eq(fails, iopt_count_tables(in.a) - before,
					     "levels %u %s: %u failures for %llu new tables", levels,
					     iopt_impl_name(impl), fails,
					     (unsigned long long)(iopt_count_tables(in.a) - before));
				cr_assert_eq(fails, levels == 3 ? 4 : 5, "levels %u: %u allocations",
					     levels, fails);
				expect_translates(in.a, c - 4 * SZ_4K, 0x5000, 12, IOPT_PROT_RW);
				inject_destroy(&in);
			}
		}
	}
}

static void hash_leaf(void *ctx, iova_t iova, paddr_t pa, unsigned lg2, unsigned prot)
{
	uint64_t *h = ctx;

	*h = (*h ^ iova ^ (pa << 1) ^ ((uint64_t)lg2 << 56) ^ prot) * 0x100000001b3ULL;
}

static uint64_t translations_of(const struct iopt *pt)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	iopt_for_each_leaf(pt, hash_leaf, &h);
	return h;
}

Test(iopt_alloc, shared_map_that_fails_keeps_the_tables_it_installed_empty_and_maps_nothing)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct fail_alloc fa;
		struct iopt_cfg cfg = { .levels = 4, .impl = impl, .flags = IOPT_F_SHARED,
					.alloc = &fa.ops };
		const iova_t c = 1ULL << 39;
		struct iopt *pt = NULL;
		struct iopt_gather g;
		unsigned fails = 0;
		int ret;

		fa_init(&fa);
		iopt_gather_init(&g, NULL, NULL);
		cr_assert_eq(iopt_create(&cfg, &pt), 0);
		cr_assert_eq(iopt_map(pt, c - SZ_2M + SZ_4K, 0x1000, SZ_4K, IOPT_PROT_RW, &g), 0);
		/*
		 * As in map_fails_cleanly_at_every_allocation: 4 pages into the
		 * existing level-1 table, then 5 new tables past c. Another
		 * caller could be inside a table as soon as it is installed, so
		 * a failed map leaves those (empty) and takes back only its
		 * entries; each retry needs fewer tables.
		 */
		for (uint64_t n = 1;; n++) {
			uint64_t before = translations_of(pt);

			fa.fail_at = fa.calls + n;
			ret = iopt_map(pt, c - 4 * SZ_4K, 0x5000, SZ_4M + 8 * SZ_4K, IOPT_PROT_RW,
				       &g);
			if (ret != -ENOMEM)
				break;
			fails++;
			cr_assert_eq(translations_of(pt), before, "%s, failure %u: mapped",
				     iopt_impl_name(impl), fails);
			cr_assert_eq(iopt_check(pt), 0);
			cr_assert_eq(fa.live, (int64_t)iopt_count_tables(pt),
				     "%s, failure %u: a table was leaked", iopt_impl_name(impl), fails);
			cr_assert_eq(live_tables(pt), iopt_count_tables(pt));
			cr_assert(!g.pending && !g.freelist.pages);
			cr_assert_lt(fails, 5, "a retry needed as many tables as the first try");
		}
		fa.fail_at = 0;
		cr_assert_eq(ret, 0);
		cr_assert_geq(fails, 2);
		expect_translates(pt, c - 4 * SZ_4K, 0x5000, 12, IOPT_PROT_RW);
		expect_translates(pt, c + SZ_4M + 3 * SZ_4K, 0x5000 + SZ_4M + 7 * SZ_4K, 12,
				  IOPT_PROT_RW);
		/* The pool is one caller's: a shared table allocates as it goes. */
		cr_assert_eq(iopt_reserve(pt, 4), -EINVAL);
		cr_assert_eq(iopt_reserved(pt), 0);
		iopt_destroy(pt);
		cr_assert_eq(fa.live, 0);
	}
}

Test(iopt_alloc, map_that_coalesces_fails_cleanly_before_folding)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt_cfg cfg = { .levels = 4, .impl = impl, .flags = IOPT_F_COALESCE };
		struct inject in = { 0 };
		int ret;

		inject_create(&in, &cfg, "map+coalesce");
		/* First 1M of X_2M's block in place; the map fills the rest and a new table. */
		inject_both(&in, &(struct op){ OP_MAP, X_2M, SZ_1M, P_2M, IOPT_PROT_RW });
		struct op op = { OP_MAP, X_2M + SZ_1M, SZ_1M + SZ_4K, P_2M + SZ_1M, IOPT_PROT_RW };

		cr_assert_eq(inject_each(&in, &op, &ret), 1);
		cr_assert_eq(ret, 0);
		cr_assert_eq(entry_at(in.a, X_2M, 2), LEAF_RW | P_2M, "folded after all");
		inject_destroy(&in);
	}
}

Test(iopt_alloc, unmap_of_4k_in_a_1g_leaf_fails_cleanly_at_both_allocations)
{
	for (unsigned levels = 3; levels <= 6; levels++) {
		for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
			struct iopt_cfg cfg = { .levels = levels, .impl = impl,
						.flags = IOPT_F_RECLAIM };
			struct inject in = { 0 };
			int ret;

			inject_create(&in, &cfg, "unmap 1G");
			inject_both(&in, &(struct op){ OP_MAP, SZ_1G, SZ_1G, P_1G, IOPT_PROT_RW });
			struct op op = { OP_UNMAP, SZ_1G + 5 * SZ_2M + 3 * SZ_4K, SZ_4K, 0, 0 };

			cr_assert_eq(inject_each(&in, &op, &ret), 2, "levels %u %s", levels,
				     iopt_impl_name(impl));
			cr_assert_eq(ret, 0);
			expect_unmapped(in.a, op.off);
			inject_destroy(&in);
		}
	}
}

Test(iopt_alloc, unmap_across_two_1g_leaves_fails_cleanly_at_all_four_allocations)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt_cfg cfg = { .levels = 4, .impl = impl };
		struct inject in = { 0 };
		int ret;

		inject_create(&in, &cfg, "unmap 2x1G");
		inject_both(&in, &(struct op){ OP_MAP, SZ_1G, 2 * SZ_1G, P_1G, IOPT_PROT_RW });
		struct op op = { OP_UNMAP, 2 * SZ_1G - 3 * SZ_4K, 6 * SZ_4K, 0, 0 };

		cr_assert_eq(inject_each(&in, &op, &ret), 4);
		cr_assert_eq(ret, 0);
		cr_assert_eq(iopt_count_tables(in.a), 6);
		inject_destroy(&in);
	}
}

Test(iopt_alloc, unmap_in_a_sized_page_fails_cleanly_and_restores_it)
{
	for (unsigned impl = 0; impl < IOPT_IMPL_NR; impl++) {
		struct iopt_cfg cfg = { .levels = 4, .impl = impl,
					.pgsize_bitmap = IOPT_PGSIZE_ALL_POW2 };
		struct inject in = { 0 };
		int ret;

		/* 2G = two Next Level 7 entries at level 3: rewrite, then 2 tables. */
		inject_create(&in, &cfg, "unmap sized");
		inject_both(&in, &(struct op){ OP_MAP, 2 * SZ_1G, 2 * SZ_1G, 2 * SZ_1G,
					       IOPT_PROT_RW });
		cr_assert_eq(amdvi_pte_next_level(entry_at(in.a, 2 * SZ_1G, 3)), 7);
		struct op op = { OP_UNMAP, 3 * SZ_1G + SZ_2M + SZ_4K, SZ_4K, 0, 0 };

		cr_assert_eq(inject_each(&in, &op, &ret), 2);
		cr_assert_eq(ret, 0);
		cr_assert_eq(entry_at(in.a, 2 * SZ_1G, 3), LEAF_RW | (2 * SZ_1G));

		/* 64K at level 1: the in-place rewrite needs no table at all. */
		inject_both(&in, &(struct op){ OP_MAP, X_2M, SZ_64K, 0x12340000, IOPT_PROT_RW });
		op = (struct op){ OP_UNMAP, X_2M + 5 * SZ_4K, SZ_4K, 0, 0 };
		cr_assert_eq(inject_each(&in, &op, &ret), 0);
		cr_assert_eq(ret, 0);
		inject_destroy(&in);
	}
}

static struct prop_cfg inject_cfgs[] = {
	{ 3, IOPT_PGSIZE_DEFAULT, IOPT_F_RECLAIM, IOPT_IMPL_TUNED },
	{ 3, IOPT_PGSIZE_ALL_POW2, IOPT_F_COALESCE, IOPT_IMPL_BASELINE },
	{ 4, IOPT_PGSIZE_DEFAULT, 0, IOPT_IMPL_TUNED },
	{ 4, IOPT_PGSIZE_DEFAULT, IOPT_F_RECLAIM | IOPT_F_COALESCE, IOPT_IMPL_BASELINE },
	{ 4, IOPT_PGSIZE_ALL_POW2, IOPT_F_RECLAIM, IOPT_IMPL_TUNED },
	{ 5, IOPT_PGSIZE_4K, IOPT_F_RECLAIM, IOPT_IMPL_BASELINE },
	{ 5, IOPT_PGSIZE_ALL_POW2, IOPT_F_RECLAIM | IOPT_F_COALESCE, IOPT_IMPL_TUNED },
	{ 6, IOPT_PGSIZE_DEFAULT, IOPT_F_COALESCE, IOPT_IMPL_TUNED },
	{ 6, IOPT_PGSIZE_ALL_POW2, 0, IOPT_IMPL_BASELINE },
};

#define INJECT_OPS	150

ParameterizedTestParameters(iopt_alloc, random_ops_fail_cleanly_at_every_allocation)
{
	return cr_make_param_array(struct prop_cfg, inject_cfgs,
				   sizeof(inject_cfgs) / sizeof(inject_cfgs[0]));
}

ParameterizedTest(struct prop_cfg *c, iopt_alloc, random_ops_fail_cleanly_at_every_allocation)
{
	struct iopt_cfg cfg = { .levels = c->levels, .pgsize_bitmap = c->pgsize,
				.flags = c->flags, .impl = c->impl };
	struct inject in = { 0 };
	char name[64];
	struct prng r;
	iova_t base;
	unsigned total_fails = 0;

	cfg_name(c, true, name, sizeof(name));
	inject_create(&in, &cfg, name);
	in.seed = test_seed(cfg_salt(c) ^ 0xa110c);
	prng_seed(&r, in.seed);
	base = pick_base(&r, c->levels);
	struct stream st;

	stream_init(&st, &r, c, base);
	for (in.op = 0; in.op < INJECT_OPS; in.op++) {
		struct op op;
		int ret;

		stream_next(&st, &op);
		if (op.kind == OP_PROBE)
			continue;
		op.off += base;
		total_fails += inject_each(&in, &op, &ret);
		INJ_ASSERT(&in, ret == 0 || (op.kind == OP_MAP && ret == -EEXIST), "ret %d", ret);
	}
	cr_assert_gt(total_fails, 0, "%s seed=0x%llx: no allocation was ever injected",
		     name, (unsigned long long)in.seed);
	inject_destroy(&in);
}
