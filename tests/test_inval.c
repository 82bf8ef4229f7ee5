// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * inval: how a range becomes INVALIDATE_IOMMU_PAGES blocks. Each policy is
 * checked against a brute-force reference written from its definition
 * (exact: canonical dyadic tiling; merged: Linux 6.1 build_inv_address();
 * xen: Xen 4.17 amd_iommu_flush_iotlb_pages() with its flush_count()),
 * over random ranges drawn from a seeded PRNG (IOB_TEST_SEED replays).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include <iob/inval.h>

#include "prng.h"

#define SZ_4K	0x1000ULL
#define SZ_2M	0x200000ULL
#define SZ_1G	0x40000000ULL

#define PCHECK(seed, cond, fmt, ...)					\
	cr_assert((cond), "IOB_TEST_SEED=0x%016llx: " fmt,		\
		  (unsigned long long)(seed), ##__VA_ARGS__)

/* ---- random ranges --------------------------------------------------------- */

/* A 4 KiB aligned range that does not wrap, from a mix of shapes. */
static void random_range(struct prng *r, iova_t *iova, uint64_t *size)
{
	iova_t a;
	uint64_t s;
	unsigned k;

	switch (prng_below(r, 5)) {
	case 0:		/* anywhere */
		a = prng_next(r);
		break;
	case 1:		/* low addresses */
		a = prng_below(r, 1ULL << 32);
		break;
	case 2:		/* near the top of the 64-bit space */
		a = 0 - (prng_below(r, 1ULL << 40) + SZ_4K);
		break;
	case 3:		/* aligned to a large block, plus a few pages */
		k = 12 + (unsigned)prng_below(r, 52);
		a = (prng_next(r) & ~((1ULL << k) - 1)) + prng_below(r, 4) * SZ_4K;
		break;
	default:	/* just below a large aligned boundary */
		k = 13 + (unsigned)prng_below(r, 51);
		a = (prng_next(r) & ~((1ULL << k) - 1)) - prng_below(r, 8) * SZ_4K;
		break;
	}
	a &= ~(SZ_4K - 1);
	/* Log-uniform size: most ranges small, some enormous. */
	k = 12 + (unsigned)prng_below(r, 52);
	s = (prng_below(r, 1ULL << (k - 12)) + 1) * SZ_4K;
	if (a + (s - 1) < a)		/* would wrap: end at the top */
		s = 0 - a;
	if (!s)				/* a == 0 and the whole space: impossible */
		s = 1ULL << 63;
	*iova = a;
	*size = s;
}

/* |[iova, last] intersected with [0, 2^space_lg2)| */
static uint64_t bytes_in_space(iova_t iova, iova_t last, unsigned space_lg2)
{
	uint64_t end;

	if (space_lg2 >= 64)
		return last - iova + 1;
	end = 1ULL << space_lg2;
	if (iova >= end)
		return 0;
	return (last < end ? last + 1 : end) - iova;
}

/* What an "all pages" command over-invalidates, saturating at 2^64 - 1. */
static uint64_t ref_over_all(iova_t iova, iova_t last, unsigned space_lg2)
{
	uint64_t space = space_lg2 >= 64 ? UINT64_MAX : 1ULL << space_lg2;

	return space - bytes_in_space(iova, last, space_lg2);
}

/* ---- exact ------------------------------------------------------------------ */

/* Brute force: at each address the largest aligned block that stays inside. */
static unsigned ref_exact(iova_t iova, iova_t last, struct inval_block *out)
{
	unsigned n = 0;
	iova_t a = iova;

	for (;;) {
		unsigned k;

		for (k = 63; k > 12; k--) {
			uint64_t sz = 1ULL << k;

			if (!(a & (sz - 1)) && last - a >= sz - 1)
				break;
		}
		out[n++] = (struct inval_block){ a, k };
		if (last - a == (1ULL << k) - 1)
			return n;
		a += 1ULL << k;
	}
}

/*
 * Independent of the reference: the blocks tile [iova, last] in order, each
 * is naturally aligned, and none could grow into its aligned parent without
 * leaving the range (which makes the tiling the unique canonical one).
 */
static void check_tiling(uint64_t seed, iova_t iova, iova_t last,
			 const struct inval_result *r)
{
	iova_t next = iova;

	PCHECK(seed, r->nblocks >= 1 && r->nblocks <= INVAL_BLOCKS_MAX,
	       "%u blocks", r->nblocks);
	for (unsigned i = 0; i < r->nblocks; i++) {
		const struct inval_block *b = &r->blocks[i];
		uint64_t sz = 1ULL << b->size_lg2;
		iova_t parent;

		PCHECK(seed, b->size_lg2 >= 12 && b->size_lg2 < 64,
		       "block %u size_lg2 %u", i, b->size_lg2);
		PCHECK(seed, b->start == next, "block %u at 0x%llx, expected 0x%llx",
		       i, (unsigned long long)b->start, (unsigned long long)next);
		PCHECK(seed, !(b->start & (sz - 1)), "block %u unaligned", i);
		PCHECK(seed, last - b->start >= sz - 1, "block %u past the end", i);
		if (b->size_lg2 < 63) {
			parent = b->start & ~((sz << 1) - 1);
			PCHECK(seed, parent < iova || parent + ((sz << 1) - 1) > last,
			       "block %u (lg2 %u) is not maximal", i, b->size_lg2);
		}
		next = b->start + sz;
		if (i + 1 == r->nblocks)
			PCHECK(seed, next - 1 == last, "tiling ends at 0x%llx, not 0x%llx",
			       (unsigned long long)(next - 1), (unsigned long long)last);
	}
}

Test(inval, exact_splits_into_maximal_aligned_blocks_worked_example)
{
	struct inval_result r;

	/*
	 * [0x1000, 0x8000): 0x1000 is only 4K aligned -> 4K; 0x2000 is 8K
	 * aligned and 8K fits -> 8K; 0x4000 is 16K aligned and exactly 16K
	 * remain -> 16K.
	 */
	cr_assert_eq(inval_split(INVAL_EXACT, 0x1000, 0x7000, 48, &r), 0);
	cr_assert_eq(r.nblocks, 3);
	cr_assert_eq(r.blocks[0].start, 0x1000);
	cr_assert_eq(r.blocks[0].size_lg2, 12);
	cr_assert_eq(r.blocks[1].start, 0x2000);
	cr_assert_eq(r.blocks[1].size_lg2, 13);
	cr_assert_eq(r.blocks[2].start, 0x4000);
	cr_assert_eq(r.blocks[2].size_lg2, 14);
	cr_assert_eq(r.over_bytes, 0);
	cr_assert_eq(r.whole_domain, 0);
}

Test(inval, exact_aligned_superpage_is_one_block)
{
	struct inval_result r;

	cr_assert_eq(inval_split(INVAL_EXACT, 5 * SZ_2M, SZ_2M, 48, &r), 0);
	cr_assert_eq(r.nblocks, 1);
	cr_assert_eq(r.blocks[0].start, 5 * SZ_2M);
	cr_assert_eq(r.blocks[0].size_lg2, 21);
}

Test(inval, exact_range_ending_at_top_of_address_space_takes_one_block_per_size)
{
	struct inval_result r;

	/* [0, 2^64 - 4K): 2^63, 2^62, ..., 2^12: 52 blocks, none "all pages". */
	cr_assert_eq(inval_split(INVAL_EXACT, 0, 0 - SZ_4K, 48, &r), 0);
	cr_assert_eq(r.nblocks, 52);
	for (unsigned i = 0; i < 52; i++)
		cr_assert_eq(r.blocks[i].size_lg2, 63 - i, "block %u", i);
	cr_assert_eq(r.whole_domain, 0);
	check_tiling(0, 0, 0 - 1 - SZ_4K, &r);
}

Test(inval, exact_matches_brute_force_on_random_ranges)
{
	uint64_t seed = test_seed(0x1a);
	struct inval_block want[INVAL_BLOCKS_MAX];
	struct inval_result r;
	struct prng rng;

	prng_seed(&rng, seed);
	for (unsigned it = 0; it < 200000; it++) {
		iova_t iova, last;
		uint64_t size;
		unsigned n;

		random_range(&rng, &iova, &size);
		last = iova + (size - 1);
		PCHECK(seed, inval_split(INVAL_EXACT, iova, size, 48, &r) == 0,
		       "iter %u [0x%llx +0x%llx)", it, (unsigned long long)iova,
		       (unsigned long long)size);
		n = ref_exact(iova, last, want);
		PCHECK(seed, r.nblocks == n, "iter %u [0x%llx +0x%llx): %u blocks, want %u",
		       it, (unsigned long long)iova, (unsigned long long)size,
		       r.nblocks, n);
		for (unsigned i = 0; i < n; i++)
			PCHECK(seed, r.blocks[i].start == want[i].start &&
				     r.blocks[i].size_lg2 == want[i].size_lg2,
			       "iter %u block %u: 0x%llx/%u, want 0x%llx/%u", it, i,
			       (unsigned long long)r.blocks[i].start, r.blocks[i].size_lg2,
			       (unsigned long long)want[i].start, want[i].size_lg2);
		check_tiling(seed, iova, last, &r);
		PCHECK(seed, r.over_bytes == 0, "iter %u over %llu", it,
		       (unsigned long long)r.over_bytes);
		PCHECK(seed, r.whole_domain == 0, "iter %u", it);
	}
}

/* ---- merged (Linux) ------------------------------------------------------------ */

/* Brute force: the smallest lg2 with start >> lg2 == last >> lg2. */
static unsigned ref_merged_lg2(iova_t iova, iova_t last)
{
	unsigned lg2 = 12;

	while (lg2 < 64 && (iova >> lg2) != (last >> lg2))
		lg2++;
	return lg2;
}

Test(inval, merged_matches_linux_build_inv_address_examples)
{
	struct inval_result r;

	/*
	 * Linux 6.1 build_inv_address(0x2000, 0x2000): end 0x3fff, end ^ addr
	 * = 0x1fff, msb_diff = fls64 - 1 = 12: one 8K block at 0x2000.
	 */
	cr_assert_eq(inval_split(INVAL_MERGED, 0x2000, 0x2000, 48, &r), 0);
	cr_assert_eq(r.nblocks, 1);
	cr_assert_eq(r.blocks[0].start, 0x2000);
	cr_assert_eq(r.blocks[0].size_lg2, 13);
	cr_assert_eq(r.over_bytes, 0);

	/*
	 * [0x3000, 0x5000): 0x3000 ^ 0x4fff = 0x7fff, msb_diff 14: the 32K
	 * block at 0 covers it, 24K more than asked for.
	 */
	cr_assert_eq(inval_split(INVAL_MERGED, 0x3000, 0x2000, 48, &r), 0);
	cr_assert_eq(r.nblocks, 1);
	cr_assert_eq(r.blocks[0].start, 0);
	cr_assert_eq(r.blocks[0].size_lg2, 15);
	cr_assert_eq(r.over_bytes, 0x8000 - 0x2000);

	/* One page: no S bit in Linux, a 4K block here. */
	cr_assert_eq(inval_split(INVAL_MERGED, 0xabc000, SZ_4K, 48, &r), 0);
	cr_assert_eq(r.nblocks, 1);
	cr_assert_eq(r.blocks[0].start, 0xabc000);
	cr_assert_eq(r.blocks[0].size_lg2, 12);
}

Test(inval, merged_past_bit_51_becomes_all_pages)
{
	struct inval_result r;

	/* Straddles 2^52: msb_diff = 52 > 51, Linux flushes the whole domain. */
	cr_assert_eq(inval_split(INVAL_MERGED, (1ULL << 52) - SZ_4K, 2 * SZ_4K, 64, &r), 0);
	cr_assert_eq(r.nblocks, 1);
	cr_assert_eq(r.blocks[0].size_lg2, 64);
	cr_assert_eq(r.whole_domain, 1);

	/* Straddles 2^51 only: msb_diff = 51, still a 2^52 block. */
	cr_assert_eq(inval_split(INVAL_MERGED, (1ULL << 51) - SZ_4K, 2 * SZ_4K, 64, &r), 0);
	cr_assert_eq(r.blocks[0].size_lg2, 52);
	cr_assert_eq(r.blocks[0].start, 0);
	cr_assert_eq(r.whole_domain, 0);
	cr_assert_eq(r.over_bytes, (1ULL << 52) - 2 * SZ_4K);
}

Test(inval, merged_matches_brute_force_on_random_ranges)
{
	uint64_t seed = test_seed(0x2b);
	struct inval_result r;
	struct prng rng;

	prng_seed(&rng, seed);
	for (unsigned it = 0; it < 200000; it++) {
		unsigned space = 39 + 9 * (unsigned)prng_below(&rng, 3) +
				 (prng_below(&rng, 4) ? 0 : 64);
		iova_t iova, last;
		uint64_t size;
		unsigned lg2;

		if (space > 64)
			space = 64;
		random_range(&rng, &iova, &size);
		last = iova + (size - 1);
		lg2 = ref_merged_lg2(iova, last);
		PCHECK(seed, inval_split(INVAL_MERGED, iova, size, space, &r) == 0,
		       "iter %u", it);
		PCHECK(seed, r.nblocks == 1, "iter %u: %u blocks", it, r.nblocks);
		if (lg2 > 52) {
			PCHECK(seed, r.blocks[0].size_lg2 == 64 && r.whole_domain == 1,
			       "iter %u [0x%llx +0x%llx): lg2 %u, want all pages", it,
			       (unsigned long long)iova, (unsigned long long)size,
			       r.blocks[0].size_lg2);
			PCHECK(seed, r.over_bytes == ref_over_all(iova, last, space),
			       "iter %u [0x%llx +0x%llx) space %u: over 0x%llx, want 0x%llx",
			       it, (unsigned long long)iova, (unsigned long long)size, space,
			       (unsigned long long)r.over_bytes,
			       (unsigned long long)ref_over_all(iova, last, space));
			continue;
		}
		PCHECK(seed, r.blocks[0].size_lg2 == lg2,
		       "iter %u [0x%llx +0x%llx): lg2 %u, want %u", it,
		       (unsigned long long)iova, (unsigned long long)size,
		       r.blocks[0].size_lg2, lg2);
		PCHECK(seed, r.blocks[0].start == (iova & ~((1ULL << lg2) - 1)),
		       "iter %u start", it);
		PCHECK(seed, r.whole_domain == 0, "iter %u", it);
		PCHECK(seed, r.over_bytes == (1ULL << lg2) - size,
		       "iter %u over %llu", it, (unsigned long long)r.over_bytes);
	}
}

/* ---- xen ----------------------------------------------------------------------- */

/* Xen 4.17 flush_count(): how many order-@order blocks the pages touch. */
static uint64_t xen_flush_count(uint64_t dfn, uint64_t page_count, unsigned order)
{
	uint64_t start = dfn >> order;
	uint64_t end = ((dfn + page_count - 1) >> order) + 1;

	return end - start;
}

/* Xen 4.17 amd_iommu_flush_iotlb_pages(): order 0, 9, 18 or -1 (all). */
static int ref_xen_order(iova_t iova, uint64_t size)
{
	uint64_t dfn = iova >> 12, count = size >> 12;

	if (count == 1)
		return 0;
	if (xen_flush_count(dfn, count, 9) == 1)
		return 9;
	if (xen_flush_count(dfn, count, 18) == 1)
		return 18;
	return -1;
}

Test(inval, xen_picks_order_0_9_18_or_all_like_amd_iommu_flush_iotlb_pages)
{
	struct inval_result r;

	cr_assert_eq(inval_split(INVAL_XEN, 0x7000, SZ_4K, 48, &r), 0);
	cr_assert_eq(r.blocks[0].size_lg2, 12);
	cr_assert_eq(r.blocks[0].start, 0x7000);
	cr_assert_eq(r.over_bytes, 0);

	/* Two pages inside one 2M block: order 9 at the 2M boundary below. */
	cr_assert_eq(inval_split(INVAL_XEN, SZ_2M + 0x5000, 2 * SZ_4K, 48, &r), 0);
	cr_assert_eq(r.blocks[0].size_lg2, 21);
	cr_assert_eq(r.blocks[0].start, SZ_2M);
	cr_assert_eq(r.over_bytes, SZ_2M - 2 * SZ_4K);

	/* Two pages straddling a 2M boundary: order 18. */
	cr_assert_eq(inval_split(INVAL_XEN, SZ_2M - SZ_4K, 2 * SZ_4K, 48, &r), 0);
	cr_assert_eq(r.blocks[0].size_lg2, 30);
	cr_assert_eq(r.blocks[0].start, 0);

	/* Two pages straddling a 1G boundary: the whole domain. */
	cr_assert_eq(inval_split(INVAL_XEN, SZ_1G - SZ_4K, 2 * SZ_4K, 48, &r), 0);
	cr_assert_eq(r.nblocks, 1);
	cr_assert_eq(r.blocks[0].size_lg2, 64);
	cr_assert_eq(r.whole_domain, 1);
	cr_assert_eq(r.over_bytes, (1ULL << 48) - 2 * SZ_4K);
}

Test(inval, xen_matches_brute_force_on_random_ranges)
{
	uint64_t seed = test_seed(0x3c);
	struct inval_result r;
	struct prng rng;

	prng_seed(&rng, seed);
	for (unsigned it = 0; it < 200000; it++) {
		unsigned space = prng_below(&rng, 2) ? 48 : 30 + (unsigned)prng_below(&rng, 35);
		iova_t iova, last;
		uint64_t size;
		int order;

		random_range(&rng, &iova, &size);
		/* Bias towards the small ranges where the orders differ. */
		if (prng_below(&rng, 2))
			size = (prng_below(&rng, 1024) + 1) * SZ_4K;
		if (iova + (size - 1) < iova)
			size = 0 - iova;
		last = iova + (size - 1);
		order = ref_xen_order(iova, size);
		PCHECK(seed, inval_split(INVAL_XEN, iova, size, space, &r) == 0,
		       "iter %u", it);
		PCHECK(seed, r.nblocks == 1, "iter %u: %u blocks", it, r.nblocks);
		if (order < 0) {
			PCHECK(seed, r.blocks[0].size_lg2 == 64 && r.whole_domain == 1,
			       "iter %u [0x%llx +0x%llx): lg2 %u, want all", it,
			       (unsigned long long)iova, (unsigned long long)size,
			       r.blocks[0].size_lg2);
			PCHECK(seed, r.over_bytes == ref_over_all(iova, last, space),
			       "iter %u [0x%llx +0x%llx) space %u: over 0x%llx, want 0x%llx",
			       it, (unsigned long long)iova, (unsigned long long)size, space,
			       (unsigned long long)r.over_bytes,
			       (unsigned long long)ref_over_all(iova, last, space));
			continue;
		}
		PCHECK(seed, r.blocks[0].size_lg2 == 12 + (unsigned)order,
		       "iter %u [0x%llx +0x%llx): lg2 %u, want order %d", it,
		       (unsigned long long)iova, (unsigned long long)size,
		       r.blocks[0].size_lg2, order);
		PCHECK(seed, r.blocks[0].start == (iova & ~((1ULL << (12 + order)) - 1)),
		       "iter %u start", it);
		PCHECK(seed, r.over_bytes == (1ULL << (12 + order)) - size, "iter %u over", it);
		PCHECK(seed, r.whole_domain == 0, "iter %u", it);
	}
}

/* ---- over-invalidation of "all pages" ------------------------------------------ */

Test(inval, all_pages_counts_the_domain_space_beyond_the_range)
{
	struct inval_result r;

	/* 2^48 space, 8K asked: everything else in the space is over. */
	cr_assert_eq(inval_split(INVAL_XEN, SZ_1G - SZ_4K, 2 * SZ_4K, 48, &r), 0);
	cr_assert_eq(r.over_bytes, (1ULL << 48) - 2 * SZ_4K);

	/* A 64-bit space saturates instead of wrapping. */
	cr_assert_eq(inval_split(INVAL_XEN, SZ_1G - SZ_4K, 2 * SZ_4K, 64, &r), 0);
	cr_assert_eq(r.over_bytes, UINT64_MAX - 2 * SZ_4K);
}

Test(inval, all_pages_over_a_range_larger_than_the_space_does_not_wrap)
{
	struct inval_result r;

	/*
	 * 4 GiB asked in a 2^30 space: the command drops the whole 1 GiB
	 * space, all of it inside the range, so nothing is over-invalidated
	 * (2^30 - 2^32 must not wrap to an enormous count).
	 */
	cr_assert_eq(inval_split(INVAL_XEN, 0, 4 * SZ_1G, 30, &r), 0);
	cr_assert_eq(r.whole_domain, 1);
	cr_assert_eq(r.over_bytes, 0);

	/* A range wholly above the space: the whole space is over. */
	cr_assert_eq(inval_split(INVAL_MERGED, (1ULL << 52) - SZ_4K, 2 * SZ_4K, 48, &r), 0);
	cr_assert_eq(r.whole_domain, 1);
	cr_assert_eq(r.over_bytes, 1ULL << 48);
}

/* ---- errors and names ------------------------------------------------------------ */

Test(inval, rejects_zero_unaligned_and_wrapping_ranges_and_unknown_policy)
{
	struct inval_result r;

	for (int p = 0; p < INVAL_POLICY_NR; p++) {
		cr_assert_eq(inval_split(p, 0x1000, 0, 48, &r), -EINVAL, "policy %d zero", p);
		cr_assert_eq(inval_split(p, 0x1800, SZ_4K, 48, &r), -EINVAL, "policy %d", p);
		cr_assert_eq(inval_split(p, 0x1000, 0x1800, 48, &r), -EINVAL, "policy %d", p);
		cr_assert_eq(inval_split(p, 0x1000, 1, 48, &r), -EINVAL, "policy %d", p);
		cr_assert_eq(inval_split(p, 0 - SZ_4K, 2 * SZ_4K, 48, &r), -EINVAL,
			     "policy %d wraps", p);
		cr_assert_eq(inval_split(p, 0 - SZ_2M, 1ULL << 63, 48, &r), -EINVAL,
			     "policy %d wraps far", p);
		/* The last page of the space is fine. */
		cr_assert_eq(inval_split(p, 0 - SZ_4K, SZ_4K, 48, &r), 0, "policy %d", p);
	}
	cr_assert_eq(inval_split(INVAL_POLICY_NR, 0, SZ_4K, 48, &r), -EINVAL);
	cr_assert_eq(inval_split((enum inval_policy)99, 0, SZ_4K, 48, &r), -EINVAL);
}

Test(inval, policy_names_parse_back)
{
	for (int p = 0; p < INVAL_POLICY_NR; p++) {
		const char *name = inval_policy_name(p);

		cr_assert_str_neq(name, "?");
		cr_assert_eq(inval_policy_parse(name), p, "%s", name);
		for (int q = 0; q < p; q++)
			cr_assert_str_neq(name, inval_policy_name(q));
	}
	cr_assert_str_eq(inval_policy_name(INVAL_EXACT), "exact");
	cr_assert_str_eq(inval_policy_name(INVAL_MERGED), "merged");
	cr_assert_str_eq(inval_policy_name(INVAL_XEN), "xen");
	cr_assert_eq(inval_policy_parse("Exact"), -EINVAL);
	cr_assert_eq(inval_policy_parse(""), -EINVAL);
	cr_assert_eq(inval_policy_parse("?"), -EINVAL);
	cr_assert_eq(inval_policy_parse("xen "), -EINVAL);
}
