// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iotlb: the IOTLB and page-directory cache. Directed tests for tags,
 * page sizes, replacement and invalidation; a precision test (with no
 * evictions possible, invalidation drops exactly the overlapping entries);
 * and a soundness property test against an unbounded reference with an
 * invalidation log: a hit must always be a translation that was filled and
 * not invalidated since. Seeded; IOB_TEST_SEED replays.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <iob/iotlb.h>
#include <iob/walk.h>

#include "failinject.h"
#include "prng.h"

#define SZ_4K	0x1000ULL
#define SZ_2M	0x200000ULL
#define SZ_1G	0x40000000ULL

#define PCHECK(seed, cond, fmt, ...)					\
	cr_assert((cond), "IOB_TEST_SEED=0x%016llx: " fmt,		\
		  (unsigned long long)(seed), ##__VA_ARGS__)

static struct iotlb *mk(unsigned entries, unsigned ways, enum iotlb_repl repl,
			uint64_t seed, unsigned pde_entries, unsigned pde_ways)
{
	struct iotlb_cfg cfg = {
		.entries = entries, .ways = ways, .repl = repl, .seed = seed,
		.pde_entries = pde_entries, .pde_ways = pde_ways,
	};
	struct iotlb *tlb = NULL;

	cr_assert_eq(iotlb_create(&cfg, &tlb), 0, "create %u/%u pde %u/%u",
		     entries, ways, pde_entries, pde_ways);
	return tlb;
}

static void fill(struct iotlb *tlb, domid_t dom, iova_t iova, paddr_t pa,
		 unsigned lg2, unsigned prot)
{
	struct iotlb_entry e = {
		.iova = iova, .pa = pa, .domid = dom, .size_lg2 = (uint8_t)lg2,
		.prot = (uint8_t)prot,
	};

	iotlb_fill(tlb, &e);
}

static bool hit(struct iotlb *tlb, domid_t dom, iova_t iova, struct iotlb_entry *out)
{
	struct iotlb_entry tmp;

	return iotlb_lookup(tlb, dom, iova, out ? out : &tmp) == 0;
}

static void pde_fill(struct iotlb *tlb, domid_t dom, iova_t base, unsigned level,
		     paddr_t table, unsigned prot)
{
	struct iotlb_pde p = {
		.base = base, .table = table, .domid = dom, .level = (uint8_t)level,
		.prot = (uint8_t)prot,
	};

	iotlb_pde_fill(tlb, &p);
}

/* ---- configuration -------------------------------------------------------- */

Test(iotlb, create_rejects_bad_geometry)
{
	static const struct { unsigned e, w, pe, pw; int repl; } bad[] = {
		{ 3, 1, 0, 0, 0 }, { 64, 3, 0, 0, 0 }, { 64, 0, 0, 0, 0 },
		{ 64, 128, 0, 0, 0 }, { 96, 4, 0, 0, 0 }, { 64, 4, 6, 2, 0 },
		{ 64, 4, 16, 32, 0 }, { 64, 4, 16, 0, 0 }, { 64, 4, 0, 0, IOTLB_REPL_NR },
	};
	static const unsigned bad_tag[] = { 1, 11, 64, 99 };
	struct iotlb_cfg cfg;
	struct iotlb *tlb;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg = (struct iotlb_cfg){ .entries = bad[i].e, .ways = bad[i].w,
					  .pde_entries = bad[i].pe, .pde_ways = bad[i].pw,
					  .repl = bad[i].repl };
		tlb = NULL;
		cr_assert_eq(iotlb_create(&cfg, &tlb), -EINVAL, "case %zu", i);
		cr_assert_null(tlb);
	}
	for (size_t i = 0; i < sizeof(bad_tag) / sizeof(bad_tag[0]); i++) {
		cfg = (struct iotlb_cfg){ .entries = 64, .ways = 4, .tag_lg2 = bad_tag[i] };
		tlb = NULL;
		cr_assert_eq(iotlb_create(&cfg, &tlb), -EINVAL, "tag_lg2 %u", bad_tag[i]);
		cr_assert_null(tlb);
	}
	cr_assert_eq(iotlb_create(NULL, &tlb), -EINVAL);
	tlb = mk(64, 64, IOTLB_REPL_LRU, 0, 16, 16);
	cr_assert_eq(iotlb_entries(tlb), 64);
	iotlb_destroy(tlb);
}

struct create_ctx {
	struct iotlb_cfg cfg;
	struct iotlb *tlb;
};

static int create_op(void *arg)
{
	struct create_ctx *x = arg;

	return iotlb_create(&x->cfg, &x->tlb);
}

static void create_undo(void *arg)
{
	struct create_ctx *x = arg;

	cr_assert_eq(iotlb_entries(x->tlb), x->cfg.entries);
	iotlb_destroy(x->tlb);
	x->tlb = NULL;
}

static uint64_t create_out(void *arg)
{
	return (uint64_t)(uintptr_t)((struct create_ctx *)arg)->tlb;
}

Test(iotlb, create_fails_cleanly_at_each_allocation)
{
	struct create_ctx x = {
		.cfg = { .entries = 64, .ways = 8, .pde_entries = 16, .pde_ways = 4 },
	};
	struct failinject fi = { "iotlb_create", create_op, create_undo, create_out, &x };

	/* The object, then five arrays per cache (key, value, domain, rights, age). */
	cr_assert_eq(failinject_each(&fi), 11);
	x.cfg.pde_entries = 0;
	cr_assert_eq(failinject_each(&fi), 6, "a disabled cache allocates nothing");
	cr_assert_null(x.tlb);
}

Test(iotlb, disabled_caches_never_hit)
{
	struct iotlb *tlb = mk(0, 0, IOTLB_REPL_LRU, 0, 0, 0);
	struct iotlb_pde p;

	fill(tlb, 1, 0x1000, 0x5000, 12, IOPT_PROT_RW);
	pde_fill(tlb, 1, 0, 1, 0x9000, IOPT_PROT_RW);
	cr_assert(!hit(tlb, 1, 0x1000, NULL));
	cr_assert_eq(iotlb_pde_lookup(tlb, 1, 0x1000, 4, &p), -ENOENT);
	cr_assert_eq(iotlb_occupancy(tlb), 0);
	cr_assert_eq(iotlb_entries(tlb), 0);
	iotlb_destroy(tlb);
}

Test(iotlb, repl_names_parse_back)
{
	for (int r = 0; r < IOTLB_REPL_NR; r++)
		cr_assert_eq(iotlb_repl_parse(iotlb_repl_name(r)), r);
	cr_assert_str_eq(iotlb_repl_name(IOTLB_REPL_LRU), "lru");
	cr_assert_str_eq(iotlb_repl_name(IOTLB_REPL_RANDOM), "random");
	cr_assert_str_eq(iotlb_repl_name(IOTLB_REPL_RESET), "reset");
	cr_assert_eq(iotlb_repl_parse("LRU"), -EINVAL);
	cr_assert_eq(iotlb_repl_parse("?"), -EINVAL);
}

/* ---- lookups and fills ----------------------------------------------------------- */

Test(iotlb, miss_then_fill_then_hit_returns_the_translation)
{
	struct iotlb *tlb = mk(512, 8, IOTLB_REPL_LRU, 0, 64, 4);
	struct iotlb_entry e;
	struct iotlb_stats st;

	cr_assert_eq(iotlb_lookup(tlb, 7, 0x12345000, &e), -ENOENT);
	/* Unaligned addresses in the fill are masked to the page. */
	fill(tlb, 7, 0x12345678, 0xabcde9ab, 12, IOPT_PROT_READ);
	cr_assert_eq(iotlb_occupancy(tlb), 1);
	cr_assert_eq(iotlb_lookup(tlb, 7, 0x12345ff8, &e), 0);
	cr_assert_eq(e.iova, 0x12345000);
	cr_assert_eq(e.pa, 0xabcde000);
	cr_assert_eq(e.domid, 7);
	cr_assert_eq(e.size_lg2, 12);
	cr_assert_eq(e.prot, IOPT_PROT_READ);
	cr_assert(!hit(tlb, 7, 0x12346000, NULL), "next page is not cached");
	cr_assert(!hit(tlb, 7, 0x12344000, NULL), "previous page is not cached");
	iotlb_stats_get(tlb, &st);
	cr_assert_eq(st.lookups, 4);
	cr_assert_eq(st.hits, 1);
	cr_assert_eq(st.misses, 3);
	cr_assert_eq(st.fills, 1);
	cr_assert_eq(st.evictions, 0);
	iotlb_stats_reset(tlb);
	iotlb_stats_get(tlb, &st);
	cr_assert_eq(st.lookups + st.hits + st.fills, 0);
	cr_assert(hit(tlb, 7, 0x12345000, NULL), "stats reset keeps entries");
	fill(tlb, 7, 0x22345000, 0xabcde000, 11, IOPT_PROT_READ);
	fill(tlb, 7, 0x32345000, 0xabcde000, 64, IOPT_PROT_READ);
	cr_assert_eq(iotlb_occupancy(tlb), 1, "no page below 4 KiB, none of 2^64");
	cr_assert(!hit(tlb, 7, 0x22345000, NULL));
	iotlb_stats_get(tlb, &st);
	cr_assert_eq(st.fills, 0);
	iotlb_destroy(tlb);
}

Test(iotlb, domain_tags_keep_domains_apart)
{
	struct iotlb *tlb = mk(512, 8, IOTLB_REPL_LRU, 0, 64, 4);
	struct iotlb_entry e;

	fill(tlb, 1, 0x40000000, 0x1000000, 12, IOPT_PROT_RW);
	cr_assert(!hit(tlb, 2, 0x40000000, NULL), "domain 2 must not see domain 1");
	cr_assert(!hit(tlb, 0, 0x40000000, NULL));
	fill(tlb, 2, 0x40000000, 0x2000000, 12, IOPT_PROT_READ);
	cr_assert_eq(iotlb_occupancy(tlb), 2);
	cr_assert(hit(tlb, 1, 0x40000000, &e));
	cr_assert_eq(e.pa, 0x1000000);
	cr_assert_eq(e.prot, IOPT_PROT_RW);
	cr_assert(hit(tlb, 2, 0x40000000, &e));
	cr_assert_eq(e.pa, 0x2000000);
	cr_assert_eq(e.prot, IOPT_PROT_READ);
	iotlb_destroy(tlb);
}

Test(iotlb, a_2m_entry_is_one_entry_and_serves_every_4k_inside)
{
	struct iotlb *tlb = mk(512, 8, IOTLB_REPL_LRU, 0, 64, 4);
	struct iotlb_entry e;
	struct iotlb_stats st;

	fill(tlb, 3, 0x40200000, 0x80000000, 21, IOPT_PROT_RW);
	cr_assert_eq(iotlb_occupancy(tlb), 1);
	for (unsigned i = 0; i < 512; i++) {
		iova_t a = 0x40200000 + i * SZ_4K + (i % 8) * 8;

		cr_assert(hit(tlb, 3, a, &e), "page %u", i);
		cr_assert_eq(e.iova, 0x40200000);
		cr_assert_eq(e.pa, 0x80000000);
		cr_assert_eq(e.size_lg2, 21);
	}
	cr_assert(!hit(tlb, 3, 0x40200000 - SZ_4K, NULL));
	cr_assert(!hit(tlb, 3, 0x40400000, NULL));
	cr_assert_eq(iotlb_occupancy(tlb), 1);
	iotlb_stats_get(tlb, &st);
	cr_assert_eq(st.hits, 512);
	cr_assert_eq(st.fills, 1);
	iotlb_destroy(tlb);
}

Test(iotlb, with_4k_tags_a_2m_page_fills_one_entry_per_4k_used)
{
	struct iotlb_cfg cfg = { .entries = 64, .ways = 64, .tag_lg2 = 12 };
	struct iotlb *tlb = NULL;
	struct iotlb_entry e;

	cr_assert_eq(iotlb_create(&cfg, &tlb), 0);
	/* The walk found a 2 MiB page; the DMA was at its 4th frame. */
	fill(tlb, 3, 0x40203010, 0x80003010, 21, IOPT_PROT_RW);
	cr_assert_eq(iotlb_occupancy(tlb), 1);
	cr_assert(hit(tlb, 3, 0x40203ff8, &e));
	cr_assert_eq(e.iova, 0x40203000);
	cr_assert_eq(e.pa, 0x80003000);
	cr_assert_eq(e.size_lg2, 12);
	cr_assert(!hit(tlb, 3, 0x40204000, NULL), "the next frame of the page is not cached");
	cr_assert(!hit(tlb, 3, 0x40200000, NULL));
	fill(tlb, 3, 0x40204000, 0x80004000, 21, IOPT_PROT_RW);
	cr_assert_eq(iotlb_occupancy(tlb), 2);
	/* Smaller pages are not affected. */
	fill(tlb, 3, 0x9000, 0x7000, 12, IOPT_PROT_RW);
	cr_assert(hit(tlb, 3, 0x9008, &e));
	cr_assert_eq(e.pa, 0x7000);
	iotlb_destroy(tlb);
}

Test(iotlb, qemu_geometry_is_1024_entries_reset_when_full_with_4k_tags)
{
	struct iotlb_cfg cfg;

	iotlb_cfg_qemu(&cfg);
	cr_assert_eq(cfg.entries, 1024);
	cr_assert_eq(cfg.ways, 1024);
	cr_assert_eq(cfg.repl, IOTLB_REPL_RESET);
	cr_assert_eq(cfg.tag_lg2, 12);
	cr_assert_eq(cfg.pde_entries, 0);
}

Test(iotlb, refilling_a_cached_page_updates_it_in_place)
{
	struct iotlb *tlb = mk(64, 4, IOTLB_REPL_LRU, 0, 0, 0);
	struct iotlb_entry e;
	struct iotlb_stats st;

	fill(tlb, 1, 0x5000, 0x10000, 12, IOPT_PROT_READ);
	fill(tlb, 1, 0x5000, 0x20000, 12, IOPT_PROT_RW);
	cr_assert_eq(iotlb_occupancy(tlb), 1);
	cr_assert(hit(tlb, 1, 0x5000, &e));
	cr_assert_eq(e.pa, 0x20000);
	cr_assert_eq(e.prot, IOPT_PROT_RW);
	iotlb_stats_get(tlb, &st);
	cr_assert_eq(st.evictions, 0);
	iotlb_destroy(tlb);
}

/* ---- replacement ----------------------------------------------------------------- */

/*
 * 64 entries, 4 ways: 16 sets, a 4K entry's set is iova bits 15:12. So
 * 0x10000 * i all land in set 0, and 0x1000 * s + 0x10000 * i in set s.
 */
#define SET_ADDR(set, i)	(0x1000ULL * (set) + 0x10000ULL * (i))

Test(iotlb, lru_evicts_the_least_recently_used_way_of_a_full_set)
{
	struct iotlb *tlb = mk(64, 4, IOTLB_REPL_LRU, 0, 0, 0);
	struct iotlb_stats st;

	fill(tlb, 1, SET_ADDR(1, 0), 0x900000, 12, IOPT_PROT_RW);	/* other set */
	for (unsigned i = 0; i < 4; i++)
		fill(tlb, 1, SET_ADDR(0, i), 0x100000 * (i + 1), 12, IOPT_PROT_RW);
	/* Use order now: A1 (oldest), A3, A0, A2. */
	cr_assert(hit(tlb, 1, SET_ADDR(0, 0), NULL));
	cr_assert(hit(tlb, 1, SET_ADDR(0, 2), NULL));
	fill(tlb, 1, SET_ADDR(0, 4), 0x500000, 12, IOPT_PROT_RW);
	cr_assert(!hit(tlb, 1, SET_ADDR(0, 1), NULL), "A1 was least recently used");
	/* Use order now: A3, A0, A2, A4. */
	cr_assert(hit(tlb, 1, SET_ADDR(0, 3), NULL));
	cr_assert(hit(tlb, 1, SET_ADDR(0, 0), NULL));
	cr_assert(hit(tlb, 1, SET_ADDR(0, 2), NULL));
	cr_assert(hit(tlb, 1, SET_ADDR(0, 4), NULL));
	fill(tlb, 1, SET_ADDR(0, 5), 0x600000, 12, IOPT_PROT_RW);
	cr_assert(!hit(tlb, 1, SET_ADDR(0, 3), NULL), "A3 was least recently used");
	cr_assert(hit(tlb, 1, SET_ADDR(0, 0), NULL));
	cr_assert(hit(tlb, 1, SET_ADDR(0, 5), NULL));
	cr_assert(hit(tlb, 1, SET_ADDR(1, 0), NULL), "the other set is untouched");
	cr_assert_eq(iotlb_occupancy(tlb), 5);
	iotlb_stats_get(tlb, &st);
	cr_assert_eq(st.evictions, 2);
	iotlb_destroy(tlb);
}

/*
 * QEMU's rule: an insertion into a full cache empties it first. 1024
 * distinct frames fit; the 1025th leaves it holding one entry, itself.
 */
Test(iotlb, reset_replacement_empties_a_full_cache_before_the_fill)
{
	struct iotlb_cfg cfg;
	struct iotlb *tlb = NULL;
	struct iotlb_stats st;

	iotlb_cfg_qemu(&cfg);
	cr_assert_eq(iotlb_create(&cfg, &tlb), 0);
	for (unsigned i = 0; i < 1024; i++)
		fill(tlb, 1, 0x100000000ULL + i * SZ_4K * 3, 0x200000 + i * SZ_4K, 12, IOPT_PROT_RW);
	cr_assert_eq(iotlb_occupancy(tlb), 1024);
	for (unsigned i = 0; i < 1024; i++)
		cr_assert(hit(tlb, 1, 0x100000000ULL + i * SZ_4K * 3 + 8, NULL), "frame %u", i);
	/* A refill of a cached frame is no insertion: nothing is emptied. */
	fill(tlb, 1, 0x100000000ULL, 0x200000, 12, IOPT_PROT_RW);
	cr_assert_eq(iotlb_occupancy(tlb), 1024);
	fill(tlb, 1, 0x7000, 0x9000, 12, IOPT_PROT_RW);
	cr_assert_eq(iotlb_occupancy(tlb), 1);
	cr_assert(hit(tlb, 1, 0x7000, NULL));
	cr_assert(!hit(tlb, 1, 0x100000000ULL, NULL));
	iotlb_stats_get(tlb, &st);
	cr_assert_eq(st.evictions, 1, "one emptying counts as one eviction");
	/* Invalidation through the hash index leaves the rest findable. */
	for (unsigned i = 0; i < 100; i++)
		fill(tlb, 2, 0x10000 + i * SZ_4K, 0x300000 + i * SZ_4K, 12, IOPT_PROT_RW);
	cr_assert_eq(iotlb_inv_range(tlb, 2, 0x10000 + 40 * SZ_4K, 14, false), 4);
	for (unsigned i = 0; i < 100; i++)
		cr_assert_eq(hit(tlb, 2, 0x10000 + i * SZ_4K, NULL), i < 40 || i >= 44, "frame %u", i);
	cr_assert(hit(tlb, 1, 0x7000, NULL));
	iotlb_destroy(tlb);
}

Test(iotlb, random_replacement_stays_within_the_set)
{
	struct iotlb *tlb = mk(64, 4, IOTLB_REPL_RANDOM, 12345, 0, 0);
	struct iotlb_stats st;

	for (unsigned s = 1; s < 16; s++)
		fill(tlb, 1, SET_ADDR(s, 0), 0x100000 * s, 12, IOPT_PROT_RW);
	for (unsigned i = 0; i < 1000; i++)
		fill(tlb, 1, SET_ADDR(0, i), 0x10000000 + 0x1000 * i, 12, IOPT_PROT_RW);
	for (unsigned s = 1; s < 16; s++)
		cr_assert(hit(tlb, 1, SET_ADDR(s, 0), NULL), "set %u lost its entry", s);
	cr_assert_eq(iotlb_occupancy(tlb), 15 + 4);
	cr_assert(hit(tlb, 1, SET_ADDR(0, 999), NULL), "the newest fill is cached");
	iotlb_stats_get(tlb, &st);
	cr_assert_eq(st.evictions, 1000 - 4);
	iotlb_destroy(tlb);
}

Test(iotlb, random_replacement_picks_every_way_sometimes)
{
	unsigned victims[4] = { 0 };

	for (uint64_t seed = 1; seed <= 200; seed++) {
		struct iotlb *tlb = mk(64, 4, IOTLB_REPL_RANDOM, seed, 0, 0);
		int gone = -1;

		for (unsigned i = 0; i < 4; i++)
			fill(tlb, 1, SET_ADDR(0, i), 0x100000 * (i + 1), 12, IOPT_PROT_RW);
		/* Make way 0 the most recently used: LRU would never evict it. */
		cr_assert(hit(tlb, 1, SET_ADDR(0, 0), NULL));
		fill(tlb, 1, SET_ADDR(0, 4), 0x500000, 12, IOPT_PROT_RW);
		for (unsigned i = 0; i < 4; i++) {
			if (!hit(tlb, 1, SET_ADDR(0, i), NULL)) {
				cr_assert_eq(gone, -1, "seed %llu: two evicted",
					     (unsigned long long)seed);
				gone = (int)i;
			}
		}
		cr_assert_neq(gone, -1, "seed %llu: nothing evicted", (unsigned long long)seed);
		victims[gone]++;
		iotlb_destroy(tlb);
	}
	for (unsigned i = 0; i < 4; i++)
		cr_assert_gt(victims[i], 10, "way holding A%u evicted %u of 200 times",
			     i, victims[i]);
}

/* ---- invalidation ------------------------------------------------------------------ */

Test(iotlb, inv_range_drops_exactly_the_overlapping_entries_of_that_domain)
{
	struct iotlb *tlb = mk(1024, 1024, IOTLB_REPL_LRU, 0, 0, 0);
	unsigned n;

	for (domid_t d = 1; d <= 2; d++) {
		for (unsigned i = 0; i < 32; i++)
			fill(tlb, d, 0x100000 + i * SZ_4K, 0x1000000 + i * SZ_4K, 12,
			     IOPT_PROT_RW);
		fill(tlb, d, 0x400000, 0x2000000, 21, IOPT_PROT_RW);
	}
	cr_assert_eq(iotlb_occupancy(tlb), 66);
	/* 16K at 0x108000: pages 8..11 of domain 1, nothing else. */
	n = iotlb_inv_range(tlb, 1, 0x108000, 14, false);
	cr_assert_eq(n, 4);
	for (unsigned i = 0; i < 32; i++) {
		bool gone = i >= 8 && i < 12;

		cr_assert_eq(hit(tlb, 1, 0x100000 + i * SZ_4K, NULL), !gone, "dom 1 page %u", i);
		cr_assert(hit(tlb, 2, 0x100000 + i * SZ_4K, NULL), "dom 2 page %u", i);
	}
	/* A 4K invalidation inside the 2M entry drops the whole entry. */
	n = iotlb_inv_range(tlb, 2, 0x5ff000, 12, false);
	cr_assert_eq(n, 1);
	cr_assert(!hit(tlb, 2, 0x400000, NULL));
	cr_assert(hit(tlb, 1, 0x400000, NULL));
	/* All pages of domain 1. */
	n = iotlb_inv_range(tlb, 1, 0, 64, false);
	cr_assert_eq(n, 28 + 1);
	cr_assert_eq(iotlb_occupancy(tlb), 32);
	cr_assert(!hit(tlb, 1, 0x100000, NULL));
	cr_assert(hit(tlb, 2, 0x100000, NULL));
	iotlb_destroy(tlb);
}

Test(iotlb, pde_lookup_returns_the_deepest_cached_level)
{
	struct iotlb *tlb = mk(64, 4, IOTLB_REPL_LRU, 0, 64, 4);
	const iova_t x = 0x8040201000ULL;	/* 512G + 1G + 2M + 4K */
	struct iotlb_pde p;

	cr_assert_eq(iotlb_pde_lookup(tlb, 1, x, 4, &p), -ENOENT);
	/* Tables covering x: level 3 spans 512G, level 2 1G, level 1 2M. */
	pde_fill(tlb, 1, x, 3, 0x30000, IOPT_PROT_RW);
	cr_assert_eq(iotlb_pde_lookup(tlb, 1, x, 4, &p), 0);
	cr_assert_eq(p.level, 3);
	cr_assert_eq(p.base, 0x8000000000ULL);
	cr_assert_eq(p.table, 0x30000);
	cr_assert_eq(iotlb_pde_lookup(tlb, 1, x, 3, &p), -ENOENT,
		     "a level-3 table is the root of a 3-level domain");
	pde_fill(tlb, 1, x, 2, 0x20000, IOPT_PROT_READ);
	cr_assert_eq(iotlb_pde_lookup(tlb, 1, x, 4, &p), 0);
	cr_assert_eq(p.level, 2);
	cr_assert_eq(p.base, 0x8040000000ULL);
	cr_assert_eq(p.prot, IOPT_PROT_READ);
	pde_fill(tlb, 1, x, 1, 0x10000, IOPT_PROT_READ);
	cr_assert_eq(iotlb_pde_lookup(tlb, 1, x, 4, &p), 0);
	cr_assert_eq(p.level, 1);
	cr_assert_eq(p.base, 0x8040200000ULL);
	cr_assert_eq(p.table, 0x10000);
	cr_assert_eq(p.domid, 1);
	cr_assert_eq(iotlb_pde_lookup(tlb, 1, x, 2, &p), 0);
	cr_assert_eq(p.level, 1);
	cr_assert_eq(iotlb_pde_lookup(tlb, 1, x, 1, &p), -ENOENT);
	/* Next 2M block: level 1 not cached there, level 2 is. */
	cr_assert_eq(iotlb_pde_lookup(tlb, 1, x + SZ_2M, 4, &p), 0);
	cr_assert_eq(p.level, 2);
	/* Other domain: nothing. */
	cr_assert_eq(iotlb_pde_lookup(tlb, 2, x, 4, &p), -ENOENT);
	iotlb_destroy(tlb);
}

Test(iotlb, inv_range_with_pde_drops_pde_entries_whose_span_overlaps)
{
	struct iotlb *tlb = mk(64, 4, IOTLB_REPL_LRU, 0, 64, 4);
	const iova_t b = 0x40200000;	/* a 2M block inside the 1G at 0x40000000 */
	struct iotlb_pde p;
	struct iotlb_stats st;
	unsigned n;

	pde_fill(tlb, 1, b, 1, 0x11000, IOPT_PROT_RW);
	pde_fill(tlb, 1, b + SZ_2M, 1, 0x12000, IOPT_PROT_RW);
	pde_fill(tlb, 1, b, 2, 0x21000, IOPT_PROT_RW);
	pde_fill(tlb, 2, b, 1, 0x13000, IOPT_PROT_RW);
	fill(tlb, 1, b + 0x3000, 0x777000, 12, IOPT_PROT_RW);

	/* Without PDE only the leaf goes. */
	n = iotlb_inv_range(tlb, 1, b + 0x3000, 12, false);
	cr_assert_eq(n, 1);
	cr_assert_eq(iotlb_pde_lookup(tlb, 1, b, 4, &p), 0);
	cr_assert_eq(p.level, 1);

	/* With PDE: the level-1 table over b and the level-2 table over its 1G. */
	n = iotlb_inv_range(tlb, 1, b + 0x3000, 12, true);
	cr_assert_eq(n, 2);
	cr_assert_eq(iotlb_pde_lookup(tlb, 1, b, 4, &p), -ENOENT);
	cr_assert_eq(iotlb_pde_lookup(tlb, 1, b + SZ_2M, 4, &p), 0,
		     "the neighbouring 2M table does not overlap");
	cr_assert_eq(p.level, 1);
	cr_assert_eq(p.table, 0x12000);
	cr_assert_eq(iotlb_pde_lookup(tlb, 2, b, 4, &p), 0, "other domain kept");
	iotlb_stats_get(tlb, &st);
	cr_assert_eq(st.pde_inv_entries, 2);
	cr_assert_eq(st.inv_entries, 1);
	cr_assert_eq(st.inv_cmds, 2);
	iotlb_destroy(tlb);
}

Test(iotlb, inv_all_empties_both_caches_of_every_domain)
{
	struct iotlb *tlb = mk(512, 8, IOTLB_REPL_LRU, 0, 64, 64);
	struct iotlb_pde p;
	unsigned n;

	for (domid_t d = 0; d < 4; d++) {
		/* i * (2M + 4K): distinct sets for both sizes, 4 domains per set. */
		for (unsigned i = 0; i < 10; i++)
			fill(tlb, d, i * (SZ_2M + SZ_4K), 0x100000000ULL + i * SZ_2M,
			     i & 1 ? 21 : 12, IOPT_PROT_RW);
		pde_fill(tlb, d, 0, 1, 0x1000, IOPT_PROT_RW);
		pde_fill(tlb, d, 0, 2, 0x2000, IOPT_PROT_RW);
	}
	cr_assert_eq(iotlb_occupancy(tlb), 40);
	n = iotlb_inv_all(tlb);
	cr_assert_eq(n, 40 + 8);
	cr_assert_eq(iotlb_occupancy(tlb), 0);
	for (domid_t d = 0; d < 4; d++) {
		for (unsigned i = 0; i < 10; i++)
			cr_assert(!hit(tlb, d, i * (SZ_2M + SZ_4K), NULL));
		cr_assert_eq(iotlb_pde_lookup(tlb, d, 0, 4, &p), -ENOENT);
	}
	iotlb_destroy(tlb);
}

/* ---- reference model for the randomized tests ---------------------------------------- */

/*
 * Every address lives in a 16 MiB window high in the 48-bit space. Page
 * sizes 4K, 8K, 64K (Next Level 7 sizes), 2M and 1G; the 1G page is the one
 * containing the window. A cached translation's PA says which key and
 * which of two variants it is, so a hit can be traced to its fill.
 */
#define W_BASE		0x00007ffe00000000ULL	/* 2^33 aligned */
#define W_LG2		24
#define NDOM		3
#define NCLS		5
#define NPDE		3
#define NVAR		6			/* 2 PA variants x 3 prot values */

static const domid_t doms[NDOM] = { 1, 2, 0xffff };
static const unsigned cls_lg2[NCLS] = { 12, 13, 16, 21, 30 };
/* PDE classes: a level-L table spans 2^(12 + 9L) bytes. */
static const unsigned pde_lg2[NPDE] = { 21, 30, 39 };

static unsigned nslots(unsigned lg2)
{
	return lg2 >= W_LG2 ? 1 : 1U << (W_LG2 - lg2);
}

static iova_t slot_base(unsigned lg2, unsigned i)
{
	if (lg2 >= W_LG2)
		return W_BASE & ~((1ULL << lg2) - 1);
	return W_BASE + ((uint64_t)i << lg2);
}

static unsigned slot_of(unsigned lg2, iova_t a)
{
	return lg2 >= W_LG2 ? 0 : (unsigned)((a - W_BASE) >> lg2);
}

static paddr_t ref_pa(unsigned d, unsigned c, unsigned i, unsigned var)
{
	return ((uint64_t)(d + 1) << 40) | ((uint64_t)var << 34) |
	       (slot_base(cls_lg2[c], i) - W_BASE);
}

static paddr_t ref_table(unsigned d, unsigned l, unsigned i, unsigned var)
{
	return ((uint64_t)(d + 1) << 40) | ((uint64_t)(l + 1) << 36) |
	       ((uint64_t)var << 34) | ((uint64_t)i << 12);
}

struct inv_rec {
	uint32_t op;
	int dom;		/* -1: inv_all */
	iova_t start;
	unsigned lg2;
	bool pde;
};

struct ref {
	uint8_t *live[NDOM][NCLS];	/* bit var*3 + prot-1 */
	uint32_t *filled[NDOM][NCLS];	/* op of the last fill of the slot */
	uint8_t pde_live[NDOM][NPDE][8];
	uint32_t pde_filled[NDOM][NPDE][8];
	struct inv_rec *log;
	size_t nlog, caplog;
};

static void ref_init(struct ref *r)
{
	memset(r, 0, sizeof(*r));
	for (unsigned d = 0; d < NDOM; d++) {
		for (unsigned c = 0; c < NCLS; c++) {
			r->live[d][c] = calloc(nslots(cls_lg2[c]), 1);
			r->filled[d][c] = calloc(nslots(cls_lg2[c]), sizeof(uint32_t));
			cr_assert(r->live[d][c] && r->filled[d][c]);
		}
	}
	r->caplog = 1024;
	r->log = malloc(r->caplog * sizeof(*r->log));
	cr_assert_not_null(r->log);
}

static void ref_fini(struct ref *r)
{
	for (unsigned d = 0; d < NDOM; d++) {
		for (unsigned c = 0; c < NCLS; c++) {
			free(r->live[d][c]);
			free(r->filled[d][c]);
		}
	}
	free(r->log);
}

/* Slots [*i0, *i1] of class @lg2 overlapping [s, l]; false if none. */
static bool slot_span(unsigned lg2, iova_t s, iova_t l, unsigned *i0, unsigned *i1)
{
	unsigned n = nslots(lg2);
	iova_t lo = slot_base(lg2, 0);
	iova_t hi = slot_base(lg2, n - 1) + ((1ULL << lg2) - 1);

	if (l < lo || s > hi)
		return false;
	*i0 = s <= lo ? 0 : (unsigned)((s - lo) >> lg2);
	*i1 = l >= hi ? n - 1 : (unsigned)((l - lo) >> lg2);
	return true;
}

/* Returns the distinct live keys it dropped. */
static unsigned ref_inv(struct ref *r, uint32_t op, int dom, iova_t start,
			unsigned lg2, bool pde)
{
	iova_t s = lg2 >= 64 ? 0 : start & ~((1ULL << lg2) - 1);
	iova_t l = lg2 >= 64 ? ~0ULL : s + ((1ULL << lg2) - 1);
	unsigned keys = 0, i0, i1;

	if (r->nlog == r->caplog) {
		r->caplog *= 2;
		r->log = realloc(r->log, r->caplog * sizeof(*r->log));
		cr_assert_not_null(r->log);
	}
	r->log[r->nlog++] = (struct inv_rec){ op, dom, s, lg2, pde };
	for (unsigned d = 0; d < NDOM; d++) {
		if (dom >= 0 && (unsigned)dom != d)
			continue;
		for (unsigned c = 0; c < NCLS; c++) {
			if (!slot_span(cls_lg2[c], s, l, &i0, &i1))
				continue;
			for (unsigned i = i0; i <= i1; i++) {
				keys += r->live[d][c][i] != 0;
				r->live[d][c][i] = 0;
			}
		}
		if (!pde)
			continue;
		for (unsigned p = 0; p < NPDE; p++) {
			if (!slot_span(pde_lg2[p], s, l, &i0, &i1))
				continue;
			for (unsigned i = i0; i <= i1; i++) {
				keys += r->pde_live[d][p][i] != 0;
				r->pde_live[d][p][i] = 0;
			}
		}
	}
	return keys;
}

/* Why a translation the reference does not hold was served: for the message. */
static const char *explain(const struct ref *r, unsigned d, iova_t base,
			   unsigned lg2, uint32_t filled, bool is_pde, char *buf,
			   size_t len)
{
	iova_t last = base + ((1ULL << lg2) - 1);

	for (size_t k = r->nlog; k-- > 0;) {
		const struct inv_rec *v = &r->log[k];
		iova_t vl = v->lg2 >= 64 ? ~0ULL : v->start + ((1ULL << v->lg2) - 1);

		if (v->op < filled)
			break;
		if ((v->dom >= 0 && (unsigned)v->dom != d) || (is_pde && !v->pde && v->dom >= 0))
			continue;
		if (v->start <= last && vl >= base) {
			snprintf(buf, len, "filled at op %u, invalidated at op %u by "
				 "dom %d start 0x%llx lg2 %u pde %d", filled, v->op,
				 v->dom >= 0 ? (int)doms[v->dom] : -1,
				 (unsigned long long)v->start, v->lg2, v->pde);
			return buf;
		}
	}
	snprintf(buf, len, "last fill of the key at op %u; this variant never filled since", filled);
	return buf;
}

static void check_hit(uint64_t seed, uint32_t op, const struct ref *r, unsigned d,
		      iova_t a, const struct iotlb_entry *e)
{
	char why[200];
	unsigned c, i, var, bit;

	PCHECK(seed, e->domid == doms[d], "op %u: domid %u for %u", op, e->domid, doms[d]);
	for (c = 0; c < NCLS && cls_lg2[c] != e->size_lg2; c++)
		;
	PCHECK(seed, c < NCLS, "op %u: size_lg2 %u never filled", op, e->size_lg2);
	PCHECK(seed, e->iova == (a & ~((1ULL << e->size_lg2) - 1)),
	       "op %u: entry 0x%llx/%u does not cover 0x%llx", op,
	       (unsigned long long)e->iova, e->size_lg2, (unsigned long long)a);
	i = slot_of(e->size_lg2, e->iova);
	var = (unsigned)(e->pa >> 34) & 1;
	PCHECK(seed, e->pa == ref_pa(d, c, i, var), "op %u: pa 0x%llx not of this key",
	       op, (unsigned long long)e->pa);
	PCHECK(seed, e->prot >= 1 && e->prot <= 3, "op %u: prot %u", op, e->prot);
	bit = var * 3 + e->prot - 1;
	PCHECK(seed, (r->live[d][c][i] >> bit) & 1,
	       "op %u: dom %u 0x%llx served 0x%llx/%u pa 0x%llx prot %u, which the "
	       "reference does not hold (%s)", op, doms[d], (unsigned long long)a,
	       (unsigned long long)e->iova, e->size_lg2, (unsigned long long)e->pa,
	       e->prot, explain(r, d, e->iova, e->size_lg2, r->filled[d][c][i], false,
				why, sizeof(why)));
}

static void check_pde_hit(uint64_t seed, uint32_t op, const struct ref *r, unsigned d,
			  iova_t a, unsigned top, const struct iotlb_pde *p)
{
	char why[200];
	unsigned l, i, var, bit;

	PCHECK(seed, p->domid == doms[d], "op %u: pde domid", op);
	PCHECK(seed, p->level >= 1 && p->level < top && p->level <= NPDE,
	       "op %u: pde level %u for top %u", op, p->level, top);
	l = p->level - 1;
	PCHECK(seed, p->base == (a & ~((1ULL << pde_lg2[l]) - 1)), "op %u: pde base", op);
	i = slot_of(pde_lg2[l], p->base);
	var = (unsigned)(p->table >> 34) & 1;
	PCHECK(seed, p->table == ref_table(d, l, i, var), "op %u: pde table 0x%llx", op,
	       (unsigned long long)p->table);
	PCHECK(seed, p->prot >= 1 && p->prot <= 3, "op %u: pde prot", op);
	bit = var * 3 + p->prot - 1;
	PCHECK(seed, (r->pde_live[d][l][i] >> bit) & 1,
	       "op %u: dom %u 0x%llx served level-%u table 0x%llx the reference does "
	       "not hold (%s)", op, doms[d], (unsigned long long)a, p->level,
	       (unsigned long long)p->table,
	       explain(r, d, p->base, pde_lg2[l], r->pde_filled[d][l][i], true, why,
		       sizeof(why)));
}

static unsigned pick_cls(struct prng *rng)
{
	unsigned x = (unsigned)prng_below(rng, 100);

	return x < 50 ? 0 : x < 60 ? 1 : x < 70 ? 2 : x < 98 ? 3 : 4;
}

struct recent {
	unsigned d;
	iova_t a;
};

/*
 * The soundness property: random fills, lookups and invalidations (range,
 * with and without PDE, and all) over three domains and five page sizes.
 * Every hit must be a translation the unbounded reference holds.
 */
static void run_soundness(uint64_t seed, unsigned ops, unsigned entries,
			  unsigned ways, enum iotlb_repl repl, unsigned pde_entries,
			  unsigned pde_ways, unsigned big_inv_pct)
{
	struct iotlb *tlb = mk(entries, ways, repl, seed | 1, pde_entries, pde_ways);
	struct recent recent[256];
	unsigned nrecent = 0, hits = 0, inv_hits_after = 0;
	uint64_t lookups = 0, fills = 0;
	struct iotlb_stats st;
	struct prng rng;
	struct ref r;

	prng_seed(&rng, seed);
	ref_init(&r);
	for (uint32_t op = 1; op <= ops; op++) {
		unsigned x = (unsigned)prng_below(&rng, 1000);
		unsigned d = (unsigned)prng_below(&rng, NDOM);
		struct iotlb_entry e;
		struct iotlb_pde p;
		iova_t a;

		if (x < 400) {			/* fill, then look it up */
			unsigned c = pick_cls(&rng), lg2 = cls_lg2[c];
			unsigned i = (unsigned)prng_below(&rng, nslots(lg2));
			unsigned var = (unsigned)prng_below(&rng, 2);
			unsigned prot = 1 + (unsigned)prng_below(&rng, 3);
			uint64_t off = prng_below(&rng, 1ULL << lg2) & ~7ULL;

			if (c == 0 && prng_below(&rng, 2))	/* a hot 256K */
				i &= 63;
			fill(tlb, doms[d], slot_base(lg2, i) + (prng_below(&rng, 2) ? off : 0),
			     ref_pa(d, c, i, var) + (prng_below(&rng, 2) ? off : 0), lg2, prot);
			fills++;
			r.live[d][c][i] |= (uint8_t)(1U << (var * 3 + prot - 1));
			r.filled[d][c][i] = op;
			a = slot_base(lg2, i) + off;
			if (lg2 > W_LG2)
				a = W_BASE + (off & ((1ULL << W_LG2) - 1));
			recent[nrecent++ % 256] = (struct recent){ d, a };
			lookups++;
			PCHECK(seed, iotlb_lookup(tlb, doms[d], a, &e) == 0,
			       "op %u: a fill is not served right after it", op);
			check_hit(seed, op, &r, d, a, &e);
			hits++;
		} else if (x < 850) {		/* lookup */
			if (nrecent && prng_below(&rng, 10) < 7) {
				const struct recent *rc = &recent[prng_below(&rng, nrecent < 256 ? nrecent : 256)];

				a = (rc->a & ~(SZ_4K - 1)) + (prng_below(&rng, 512) << 3);
				if (prng_below(&rng, 8))
					d = rc->d;
			} else {
				a = W_BASE + (prng_below(&rng, 1ULL << W_LG2) & ~7ULL);
			}
			lookups++;
			if (iotlb_lookup(tlb, doms[d], a, &e) == 0) {
				check_hit(seed, op, &r, d, a, &e);
				hits++;
			}
		} else if (x < 950) {		/* range invalidation */
			unsigned y = (unsigned)prng_below(&rng, 100);
			/* Mostly within the window's scale: whole-window ones are rare. */
			unsigned lg2 = y < 70 ? 12 + (unsigned)prng_below(&rng, 6) :
				       y < 100 - big_inv_pct ? 12 + (unsigned)prng_below(&rng, 12) :
				       prng_below(&rng, 5) ? 12 + (unsigned)prng_below(&rng, 30) :
							     64;
			bool pde = prng_below(&rng, 2);
			iova_t s;
			unsigned n, keys;

			if (nrecent && prng_below(&rng, 4))
				s = recent[prng_below(&rng, nrecent < 256 ? nrecent : 256)].a;
			else if (prng_below(&rng, 8))
				s = W_BASE + prng_below(&rng, 1ULL << W_LG2);
			else
				s = prng_next(&rng);	/* usually far outside the window */
			s &= ~(SZ_4K - 1);
			keys = ref_inv(&r, op, (int)d, s, lg2, pde);
			n = iotlb_inv_range(tlb, doms[d], s, lg2, pde);
			PCHECK(seed, n <= keys, "op %u: dropped %u entries, reference held %u keys",
			       op, n, keys);
			inv_hits_after += keys != 0;
			/* Straight after, nothing in the block may hit for this domain. */
			if (lg2 < 64) {
				a = (s & ~((1ULL << lg2) - 1)) +
				    (prng_below(&rng, 1ULL << lg2) & ~7ULL);
				lookups++;
				PCHECK(seed, iotlb_lookup(tlb, doms[d], a, &e) == -ENOENT,
				       "op %u: 0x%llx served inside the block just invalidated",
				       op, (unsigned long long)a);
			}
		} else if (x == 950 && prng_below(&rng, 4) == 0) {	/* everything */
			ref_inv(&r, op, -1, 0, 64, true);
			iotlb_inv_all(tlb);
			PCHECK(seed, iotlb_occupancy(tlb) == 0, "op %u: inv_all left %u", op,
			       iotlb_occupancy(tlb));
		} else if (x < 975) {		/* PDE fill, then look it up */
			unsigned l = (unsigned)prng_below(&rng, NPDE);
			unsigned i = (unsigned)prng_below(&rng, nslots(pde_lg2[l]));
			unsigned var = (unsigned)prng_below(&rng, 2);
			unsigned prot = 1 + (unsigned)prng_below(&rng, 3);

			pde_fill(tlb, doms[d], slot_base(pde_lg2[l], i), l + 1,
				 ref_table(d, l, i, var), prot);
			r.pde_live[d][l][i] |= (uint8_t)(1U << (var * 3 + prot - 1));
			r.pde_filled[d][l][i] = op;
			a = W_BASE + (i << 21) + (prng_below(&rng, SZ_2M) & ~7ULL);
			if (pde_entries) {
				PCHECK(seed, iotlb_pde_lookup(tlb, doms[d], a, l + 2, &p) == 0,
				       "op %u: a PDE fill is not served right after it", op);
				check_pde_hit(seed, op, &r, d, a, l + 2, &p);
			}
		} else {			/* PDE lookup */
			unsigned top = 2 + (unsigned)prng_below(&rng, 3);

			a = W_BASE + (prng_below(&rng, 1ULL << W_LG2) & ~7ULL);
			if (iotlb_pde_lookup(tlb, doms[d], a, top, &p) == 0)
				check_pde_hit(seed, op, &r, d, a, top, &p);
		}
		PCHECK(seed, iotlb_occupancy(tlb) <= entries, "op %u: occupancy %u", op,
		       iotlb_occupancy(tlb));
	}
	iotlb_stats_get(tlb, &st);
	PCHECK(seed, st.lookups == lookups && st.hits + st.misses == lookups,
	       "lookup stats %llu/%llu/%llu vs %llu", (unsigned long long)st.lookups,
	       (unsigned long long)st.hits, (unsigned long long)st.misses,
	       (unsigned long long)lookups);
	PCHECK(seed, st.fills == fills, "fills");
	/* The test is only worth something if it hit and invalidated live entries. */
	PCHECK(seed, hits > ops / 10, "only %u hits", hits);
	/* An emptying (IOTLB_REPL_RESET) counts once but drops the whole cache. */
	PCHECK(seed, st.evictions > ops / (repl == IOTLB_REPL_RESET ? 4000 : 1000),
	       "only %llu evictions", (unsigned long long)st.evictions);
	PCHECK(seed, inv_hits_after > ops / 50, "only %u useful invalidations", inv_hits_after);
	ref_fini(&r);
	iotlb_destroy(tlb);
}

Test(iotlb_property, lru_never_serves_an_invalidated_translation, .timeout = 120)
{
	run_soundness(test_seed(0x51), 300000, 512, 8, IOTLB_REPL_LRU, 64, 4, 1);
}

Test(iotlb_property, random_replacement_never_serves_an_invalidated_translation,
     .timeout = 120)
{
	run_soundness(test_seed(0x52), 200000, 64, 4, IOTLB_REPL_RANDOM, 16, 2, 5);
}

Test(iotlb_property, fully_associative_never_serves_an_invalidated_translation,
     .timeout = 120)
{
	run_soundness(test_seed(0x53), 200000, 128, 128, IOTLB_REPL_LRU, 8, 8, 5);
}

Test(iotlb_property, reset_replacement_never_serves_an_invalidated_translation,
     .timeout = 120)
{
	run_soundness(test_seed(0x55), 200000, 128, 128, IOTLB_REPL_RESET, 8, 8, 5);
}

/*
 * Precision: with sets and ways such that nothing can be evicted, a lookup
 * must return exactly the smallest live translation covering the address,
 * and an invalidation must drop exactly the live keys that overlap it. The
 * small invalidations take the per-set probe path, the large ones the scan.
 */
Test(iotlb_property, invalidation_drops_exactly_the_overlapping_entries)
{
	uint64_t seed = test_seed(0x54);
	/*
	 * A 4 MiB window, 1024 sets x 16 ways: each class maps the window's
	 * blocks to distinct sets, so a set holds at most 4 classes x 3
	 * domains = 12 keys.
	 */
	struct iotlb *tlb = mk(16384, 16, IOTLB_REPL_LRU, 0, 0, 0);
	static const unsigned pcls[4] = { 12, 13, 16, 21 };
	/* live[d][c][i]: 0 or 1 + prot of the latest fill */
	static uint8_t live[NDOM][4][1024];
	struct iotlb_stats st;
	struct prng rng;
	unsigned nlive = 0;

	prng_seed(&rng, seed);
	memset(live, 0, sizeof(live));
	for (uint32_t op = 1; op <= 60000; op++) {
		unsigned d = (unsigned)prng_below(&rng, NDOM);
		unsigned x = (unsigned)prng_below(&rng, 100);

		if (x < 55) {
			unsigned c = (unsigned)prng_below(&rng, 4);
			unsigned i = (unsigned)prng_below(&rng, 1024U >> (pcls[c] - 12));
			unsigned prot = 1 + (unsigned)prng_below(&rng, 3);

			nlive += !live[d][c][i];
			live[d][c][i] = (uint8_t)prot;
			fill(tlb, doms[d], W_BASE + ((uint64_t)i << pcls[c]),
			     ((uint64_t)(d + 1) << 40) + ((uint64_t)i << pcls[c]), pcls[c], prot);
		} else if (x < 85) {
			iova_t a = W_BASE + (prng_below(&rng, 1ULL << 22) & ~7ULL);
			struct iotlb_entry e;
			int want = -1;

			for (unsigned c = 0; c < 4 && want < 0; c++)
				if (live[d][c][(a - W_BASE) >> pcls[c]])
					want = (int)c;
			if (want < 0) {
				PCHECK(seed, !hit(tlb, doms[d], a, &e), "op %u: 0x%llx hit, "
				       "nothing live covers it", op, (unsigned long long)a);
				continue;
			}
			PCHECK(seed, hit(tlb, doms[d], a, &e), "op %u: dom %u 0x%llx missed, "
			       "class %u live", op, doms[d], (unsigned long long)a, pcls[want]);
			PCHECK(seed, e.size_lg2 == pcls[want] &&
				     e.prot == live[d][want][(a - W_BASE) >> pcls[want]] &&
				     e.pa == ((uint64_t)(d + 1) << 40) +
					     ((a - W_BASE) & ~((1ULL << pcls[want]) - 1)),
			       "op %u: wrong entry lg2 %u", op, e.size_lg2);
		} else {
			unsigned lg2 = prng_below(&rng, 4) ? 12 + (unsigned)prng_below(&rng, 8) :
							     12 + (unsigned)prng_below(&rng, 53);
			iova_t s = W_BASE + (prng_below(&rng, 1ULL << 22) & ~(SZ_4K - 1));
			iova_t bs = lg2 >= 64 ? 0 : s & ~((1ULL << lg2) - 1);
			iova_t bl = lg2 >= 64 ? ~0ULL : bs + ((1ULL << lg2) - 1);
			unsigned want = 0, n;

			for (unsigned c = 0; c < 4; c++) {
				for (unsigned i = 0; i < (1024U >> (pcls[c] - 12)); i++) {
					iova_t b = W_BASE + ((uint64_t)i << pcls[c]);

					if (live[d][c][i] && b <= bl &&
					    b + ((1ULL << pcls[c]) - 1) >= bs) {
						live[d][c][i] = 0;
						want++;
					}
				}
			}
			n = iotlb_inv_range(tlb, doms[d], s, lg2, false);
			PCHECK(seed, n == want, "op %u: inv dom %u 0x%llx lg2 %u dropped %u, "
			       "want %u", op, doms[d], (unsigned long long)s, lg2, n, want);
			nlive -= want;
		}
		PCHECK(seed, iotlb_occupancy(tlb) == nlive, "op %u: occupancy %u, live %u",
		       op, iotlb_occupancy(tlb), nlive);
	}
	iotlb_stats_get(tlb, &st);
	PCHECK(seed, st.evictions == 0, "the geometry must rule out evictions");
	iotlb_destroy(tlb);
}
