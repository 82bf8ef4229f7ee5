// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * inval: how a range becomes INVALIDATE_IOMMU_PAGES commands.
 *
 * The reference is the AMD IOMMU specification's rule for what one
 * command covers, applied to the raw commands the driver side emits
 * (iommu_flush_range() queues them; the test takes them off the ring with
 * cmdq_fetch()), and written from the specification, not from
 * lib/amdvi/inval.c:
 *
 *   S = 0: the 4 KiB page at Address[63:12];
 *   S = 1: the naturally aligned power-of-two range given by the lowest
 *          clear address bit above bit 12: clear at bit k, 2^(k+1) bytes;
 *          0x7FFFFFFFFFFFF000 (bits 62:12 all set) is all pages.
 *
 * Against the pages the commands cover, each policy must (a) cover every
 * page of the range, (b) over-invalidate exactly what it claims in
 * over_bytes, and (c) emit what it promises: exact the fewest naturally
 * aligned blocks (the maximal aligned blocks inside the range, found
 * top-down from the definition), merged one block (Linux 6.1
 * build_inv_address()), xen one block of order 0, 9 or 18 or all pages
 * (Xen 4.17 amd_iommu_flush_iotlb_pages() and its flush_count()).
 *
 * Two models: one marks every 4 KiB page of a 2 GiB domain that each
 * command covers (brute force), one does interval arithmetic over the
 * whole 64-bit space. Random ranges come from a seeded PRNG
 * (IOB_TEST_SEED replays a failure).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <iob/inval.h>
#include <iob/iommu.h>

#include "prng.h"

#define SZ_4K	0x1000ULL
#define SZ_2M	0x200000ULL
#define SZ_1G	0x40000000ULL

#define DOM	7

#define PCHECK(seed, cond, fmt, ...)					\
	cr_assert((cond), "IOB_TEST_SEED=0x%016llx: " fmt,		\
		  (unsigned long long)(seed), ##__VA_ARGS__)

/* ---- the specification's rule ------------------------------------------------ */

/* What one command covers: [lo, hi], bytes, or every page of the domain. */
struct cover {
	iova_t lo, hi;
	bool all;
};

/*
 * Decode one INVALIDATE_IOMMU_PAGES by hand: opcode dword 1 bits 31:28,
 * domain ID dword 1 bits 15:0, S dword 2 bit 0, PDE bit 1, GN bit 2,
 * address dword 3 : dword 2 bits 31:12.
 */
static struct cover spec_cover(uint64_t seed, const struct amdvi_cmd *c, bool pde)
{
	uint64_t addr = ((uint64_t)c->dw[3] << 32) | (c->dw[2] & 0xfffff000U);
	struct cover v = { 0, 0, false };
	unsigned k;

	PCHECK(seed, c->dw[1] >> 28 == 0x3, "opcode %u", c->dw[1] >> 28);
	PCHECK(seed, (c->dw[1] & 0xffff) == DOM, "domain %u", c->dw[1] & 0xffff);
	PCHECK(seed, !!(c->dw[2] & 2) == pde, "PDE bit");
	PCHECK(seed, !(c->dw[2] & 4) && !c->dw[0], "GN or PASID set");
	if (!(c->dw[2] & 1)) {
		v.lo = addr;
		v.hi = addr + (SZ_4K - 1);
		return v;
	}
	for (k = 12; k < 64 && ((addr >> k) & 1); k++)
		;
	if (k >= 63) {			/* 2^64 bytes or more: the whole domain */
		v.hi = UINT64_MAX;
		v.all = true;
		return v;
	}
	v.lo = addr & ~((2ULL << k) - 1);
	v.hi = v.lo + ((2ULL << k) - 1);
	return v;
}

/* What the driver side emitted for one range, read back off the ring. */
struct emitted {
	int n;
	struct cover c[INVAL_BLOCKS_MAX];
	uint64_t over;
	unsigned all;
};

static struct iommu *mk_iommu(void)
{
	struct iommu_cfg cfg = { .tlb = { .entries = 64, .ways = 4 }, .cpu = -1 };
	struct iommu *mmu = NULL;

	cr_assert_eq(iommu_create(&cfg, &mmu), 0);
	return mmu;
}

static void emit(uint64_t seed, struct iommu *mmu, enum inval_policy p, iova_t iova,
		 uint64_t size, unsigned space_lg2, bool pde, struct emitted *e)
{
	struct amdvi_cmd cmd;
	struct inval_result r;

	e->over = 0;
	e->all = 0;
	e->n = iommu_flush_range(mmu, DOM, iova, size, pde, p, space_lg2, &e->over);
	PCHECK(seed, e->n >= 1 && e->n <= INVAL_BLOCKS_MAX, "[0x%llx +0x%llx) %s: %d commands",
	       (unsigned long long)iova, (unsigned long long)size, inval_policy_name(p), e->n);
	for (int i = 0; i < e->n; i++) {
		PCHECK(seed, cmdq_fetch(iommu_cmdq(mmu), &cmd), "command %d missing", i);
		e->c[i] = spec_cover(seed, &cmd, pde);
		e->all += e->c[i].all;
	}
	PCHECK(seed, cmdq_pending(iommu_cmdq(mmu)) == 0, "more commands than returned");
	/* The same numbers straight from the policy. */
	PCHECK(seed, inval_split(p, iova, size, space_lg2, &r) == 0, "inval_split");
	PCHECK(seed, (int)r.nblocks == e->n && r.over_bytes == e->over &&
		     r.whole_domain == e->all, "inval_split and the commands disagree");
}

/* ---- what each policy promises, from its definition ------------------------------ */

/*
 * exact: the maximal naturally aligned blocks inside [lo, hi], top-down:
 * a block inside the range is one; a block that straddles an end splits
 * into its halves; a disjoint one is nothing. Address order.
 */
static void ref_tile(iova_t lo, iova_t hi, iova_t b, unsigned k, struct cover *out,
		     unsigned *n)
{
	iova_t e = b + (k >= 64 ? UINT64_MAX : (1ULL << k) - 1);

	if (e < lo || b > hi)
		return;
	if (lo <= b && e <= hi) {
		cr_assert_lt(*n, INVAL_BLOCKS_MAX);
		out[(*n)++] = (struct cover){ b, e, false };
		return;
	}
	ref_tile(lo, hi, b, k - 1, out, n);
	ref_tile(lo, hi, b + (1ULL << (k - 1)), k - 1, out, n);
}

/* merged: the smallest aligned block holding the range; past 2^52, all pages. */
static struct cover ref_merged(iova_t iova, iova_t last)
{
	unsigned k = 12;

	while (k < 64 && (iova >> k) != (last >> k))
		k++;
	if (k > 52)
		return (struct cover){ 0, UINT64_MAX, true };
	return (struct cover){ iova & ~((1ULL << k) - 1),
			       (iova & ~((1ULL << k) - 1)) + ((1ULL << k) - 1), false };
}

/* Xen 4.17 flush_count(): how many order-@order blocks the pages touch. */
static uint64_t xen_flush_count(uint64_t dfn, uint64_t page_count, unsigned order)
{
	uint64_t start = dfn >> order;
	uint64_t end = ((dfn + page_count - 1) >> order) + 1;

	return end - start;
}

/* Xen 4.17 amd_iommu_flush_iotlb_pages(): order 0, 9, 18 or all. */
static struct cover ref_xen(iova_t iova, uint64_t size)
{
	uint64_t dfn = iova >> 12, count = size >> 12;
	int order = -1;

	if (count == 1)
		order = 0;
	else if (xen_flush_count(dfn, count, 9) == 1)
		order = 9;
	else if (xen_flush_count(dfn, count, 18) == 1)
		order = 18;
	if (order < 0)
		return (struct cover){ 0, UINT64_MAX, true };
	iova &= ~((1ULL << (12 + order)) - 1);
	return (struct cover){ iova, iova + ((1ULL << (12 + order)) - 1), false };
}

/* (c) The commands are exactly what the policy promises, in order. */
static void check_promise(uint64_t seed, enum inval_policy p, iova_t iova, uint64_t size,
			  const struct emitted *e)
{
	struct cover want[INVAL_BLOCKS_MAX];
	iova_t last = iova + (size - 1);
	unsigned n = 0;

	if (p == INVAL_EXACT)
		ref_tile(iova, last, 0, 64, want, &n);
	else
		want[n++] = p == INVAL_MERGED ? ref_merged(iova, last) : ref_xen(iova, size);
	PCHECK(seed, e->n == (int)n, "[0x%llx +0x%llx) %s: %d commands, the rule gives %u",
	       (unsigned long long)iova, (unsigned long long)size, inval_policy_name(p), e->n, n);
	for (unsigned i = 0; i < n; i++)
		PCHECK(seed, e->c[i].all == want[i].all &&
			     (want[i].all || (e->c[i].lo == want[i].lo && e->c[i].hi == want[i].hi)),
		       "[0x%llx +0x%llx) %s: command %u covers [0x%llx, 0x%llx]%s, the rule "
		       "[0x%llx, 0x%llx]%s", (unsigned long long)iova, (unsigned long long)size,
		       inval_policy_name(p), i, (unsigned long long)e->c[i].lo,
		       (unsigned long long)e->c[i].hi, e->c[i].all ? " (all)" : "",
		       (unsigned long long)want[i].lo, (unsigned long long)want[i].hi,
		       want[i].all ? " (all)" : "");
}

/* ---- model 1: every page of a 2 GiB domain, marked ----------------------------------- */

#define U_LG2		31			/* the domain: 2 GiB, straddles 1 GiB */
#define U_PAGES		(1ULL << (U_LG2 - 12))

/*
 * Mark every page each command covers (all pages: the whole domain) and
 * check (a) every page of the range is covered, (b) over_bytes is the
 * covered pages outside the range, no page covered twice, and for exact
 * (c) every block is maximal: its aligned parent leaves the range. A
 * tiling by maximal aligned blocks is the unique fewest-block one.
 */
static void check_marked(uint64_t seed, uint8_t *marks, enum inval_policy p, iova_t iova,
			 uint64_t size, const struct emitted *e)
{
	uint64_t first = iova >> 12, pages = size >> 12;
	uint64_t covered = 0, inside = 0, twice = 0;

	for (int i = 0; i < e->n; i++) {
		uint64_t lo = e->c[i].all ? 0 : e->c[i].lo >> 12;
		uint64_t hi = e->c[i].all ? U_PAGES - 1 : e->c[i].hi >> 12;

		PCHECK(seed, hi < U_PAGES, "command %d reaches past the domain", i);
		for (uint64_t pg = lo; pg <= hi; pg++) {
			if (marks[pg]++) {
				twice++;
				continue;
			}
			covered++;
			inside += pg - first < pages;
		}
	}
	PCHECK(seed, inside == pages, "(a) [0x%llx +0x%llx) %s: %llu of %llu pages covered",
	       (unsigned long long)iova, (unsigned long long)size, inval_policy_name(p),
	       (unsigned long long)inside, (unsigned long long)pages);
	PCHECK(seed, !twice, "[0x%llx +0x%llx) %s: %llu pages covered twice",
	       (unsigned long long)iova, (unsigned long long)size, inval_policy_name(p),
	       (unsigned long long)twice);
	PCHECK(seed, e->over == (covered - inside) << 12,
	       "(b) [0x%llx +0x%llx) %s: claims 0x%llx bytes over, the commands cover 0x%llx",
	       (unsigned long long)iova, (unsigned long long)size, inval_policy_name(p),
	       (unsigned long long)e->over, (unsigned long long)((covered - inside) << 12));
	if (p == INVAL_EXACT)
		for (int i = 0; i < e->n; i++) {
			uint64_t sz = e->c[i].hi - e->c[i].lo + 1, parent = e->c[i].lo & ~(2 * sz - 1);

			PCHECK(seed, !e->c[i].all && !(e->c[i].lo & (sz - 1)),
			       "(c) block %d is not naturally aligned", i);
			PCHECK(seed, parent < iova || parent + (2 * sz - 1) > iova + (size - 1),
			       "(c) [0x%llx +0x%llx): block %d [0x%llx +0x%llx) could merge with "
			       "its buddy", (unsigned long long)iova, (unsigned long long)size, i,
			       (unsigned long long)e->c[i].lo, (unsigned long long)sz);
		}
	for (int i = 0; i < e->n; i++) {
		uint64_t lo = e->c[i].all ? 0 : e->c[i].lo >> 12;
		uint64_t hi = e->c[i].all ? U_PAGES - 1 : e->c[i].hi >> 12;

		for (uint64_t pg = lo; pg <= hi; pg++)
			marks[pg]--;
	}
}

/* A range inside the 2 GiB domain, small ones and ones near 2M and 1G edges likelier. */
static void small_range(struct prng *r, iova_t *iova, uint64_t *size)
{
	uint64_t pages, first;

	switch (prng_below(r, 4)) {
	case 0:
		pages = 1 + prng_below(r, 8);
		break;
	case 1:
		pages = 1 + prng_below(r, 1024);
		break;
	case 2:
		pages = 1 + prng_below(r, 1ULL << (1 + prng_below(r, U_LG2 - 12)));
		break;
	default:
		pages = 1 + prng_below(r, U_PAGES);
		break;
	}
	if (pages > U_PAGES)
		pages = U_PAGES;
	first = prng_below(r, U_PAGES - pages + 1);
	if (prng_below(r, 3) == 0) {	/* end near a 2M or 1G boundary */
		uint64_t edge = (prng_below(r, 2) ? SZ_2M : SZ_1G) >> 12;
		uint64_t b = (first / edge) * edge + prng_below(r, 5);

		if (b >= pages / 2 + 1 && b - pages / 2 - 1 + pages <= U_PAGES)
			first = b - pages / 2 - 1;
	}
	*iova = first << 12;
	*size = pages << 12;
}

static void marked_property(enum inval_policy p, uint64_t salt)
{
	uint64_t seed = test_seed(salt);
	uint8_t *marks = calloc(U_PAGES, 1);
	struct iommu *mmu = mk_iommu();
	struct emitted e;
	struct prng rng;

	cr_assert_not_null(marks);
	prng_seed(&rng, seed);
	for (unsigned it = 0; it < 1500; it++) {
		iova_t iova;
		uint64_t size;

		small_range(&rng, &iova, &size);
		emit(seed, mmu, p, iova, size, U_LG2, prng_below(&rng, 2), &e);
		check_marked(seed, marks, p, iova, size, &e);
		check_promise(seed, p, iova, size, &e);
	}
	iommu_destroy(mmu);
	free(marks);
}

Test(inval, exact_covers_each_page_once_with_the_fewest_blocks_page_by_page, .timeout = 120)
{
	marked_property(INVAL_EXACT, 0x11);
}

Test(inval, merged_covers_the_range_and_claims_its_over_invalidation_page_by_page,
     .timeout = 120)
{
	marked_property(INVAL_MERGED, 0x12);
}

Test(inval, xen_covers_the_range_and_claims_its_over_invalidation_page_by_page,
     .timeout = 120)
{
	marked_property(INVAL_XEN, 0x13);
}

/* ---- model 2: intervals over the whole 64-bit space --------------------------------- */

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
	if (prng_below(r, 2))		/* the small ranges where policies differ */
		s = (prng_below(r, 1024) + 1) * SZ_4K;
	if (a + (s - 1) < a)		/* would wrap: end at the top */
		s = 0 - a;
	*iova = a;
	*size = s;
}

/* (a) The union of the commands holds [iova, last]: swept left to right. */
static void check_covers(uint64_t seed, enum inval_policy p, iova_t iova, iova_t last,
			 const struct emitted *e)
{
	iova_t cur = iova;

	for (;;) {
		int i;

		for (i = 0; i < e->n; i++)
			if (e->c[i].lo <= cur && cur <= e->c[i].hi)
				break;
		PCHECK(seed, i < e->n, "(a) [0x%llx, 0x%llx] %s: 0x%llx is not covered",
		       (unsigned long long)iova, (unsigned long long)last, inval_policy_name(p),
		       (unsigned long long)cur);
		if (e->c[i].hi >= last)
			return;
		cur = e->c[i].hi + 1;
	}
}

/*
 * (b) What the commands cover beyond the range, by the accounting rule of
 * inval.h: each block's bytes (all pages: the domain's 2^space_lg2) less
 * the range's bytes in it. Exact in 128 bits, then saturated.
 */
static uint64_t ref_over(const struct emitted *e, iova_t iova, iova_t last, unsigned space_lg2)
{
	unsigned __int128 over = 0;

	for (int i = 0; i < e->n; i++) {
		iova_t lo = e->c[i].lo, hi = e->c[i].hi, a, b;

		if (e->c[i].all) {
			lo = 0;
			hi = space_lg2 >= 64 ? UINT64_MAX : (1ULL << space_lg2) - 1;
		}
		over += (unsigned __int128)(hi - lo) + 1;
		a = lo > iova ? lo : iova;
		b = hi < last ? hi : last;
		if (a <= b)
			over -= (unsigned __int128)(b - a) + 1;
	}
	return over > UINT64_MAX ? UINT64_MAX : (uint64_t)over;
}

static void interval_property(enum inval_policy p, uint64_t salt)
{
	uint64_t seed = test_seed(salt);
	struct iommu *mmu = mk_iommu();
	struct emitted e;
	struct prng rng;

	prng_seed(&rng, seed);
	for (unsigned it = 0; it < 100000; it++) {
		unsigned space = 39 + (unsigned)prng_below(&rng, 26);
		iova_t iova, last;
		uint64_t size;

		random_range(&rng, &iova, &size);
		last = iova + (size - 1);
		emit(seed, mmu, p, iova, size, space, prng_below(&rng, 2), &e);
		check_covers(seed, p, iova, last, &e);
		PCHECK(seed, e.over == ref_over(&e, iova, last, space),
		       "(b) [0x%llx +0x%llx) %s space 2^%u: claims 0x%llx bytes over, the "
		       "commands cover 0x%llx", (unsigned long long)iova, (unsigned long long)size,
		       inval_policy_name(p), space, (unsigned long long)e.over,
		       (unsigned long long)ref_over(&e, iova, last, space));
		check_promise(seed, p, iova, size, &e);
	}
	iommu_destroy(mmu);
}

Test(inval, exact_matches_the_rule_anywhere_in_64_bits, .timeout = 120)
{
	interval_property(INVAL_EXACT, 0x21);
}

Test(inval, merged_matches_the_rule_anywhere_in_64_bits, .timeout = 120)
{
	interval_property(INVAL_MERGED, 0x22);
}

Test(inval, xen_matches_the_rule_anywhere_in_64_bits, .timeout = 120)
{
	interval_property(INVAL_XEN, 0x23);
}

/* ---- worked examples ----------------------------------------------------------------- */

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

/* ---- over-invalidation of "all pages" ------------------------------------------ */

Test(inval, all_pages_counts_the_domain_space_beyond_the_range)
{
	struct inval_result r;

	/* 2^48 space, 8K asked: everything else in the space is over. */
	cr_assert_eq(inval_split(INVAL_XEN, SZ_1G - SZ_4K, 2 * SZ_4K, 48, &r), 0);
	cr_assert_eq(r.over_bytes, (1ULL << 48) - 2 * SZ_4K);

	/* A 64-bit space: 2^64 - 8K, exact (it fits), neither wrapped nor one short. */
	cr_assert_eq(inval_split(INVAL_XEN, SZ_1G - SZ_4K, 2 * SZ_4K, 64, &r), 0);
	cr_assert_eq(r.over_bytes, 0 - 2 * SZ_4K);
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
