// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * amdvi_walk() on tables built by hand, entry by entry, in page-aligned
 * memory: the walker must read them as the AMD IOMMU specification (pub.
 * 48882, "I/O Page Tables for Host Translations") says the hardware does.
 *
 * Entries are written as hex literals with their bits worked out in the
 * comments, so a wrong field definition in amdvi.h cannot hide itself.
 *
 * Bits used below (v1 PTE/PDE):
 *   0 PR, 11:9 Next Level, 51:12 address, 58:52 reserved, 61 IR, 62 IW.
 *   PR|IR|IW       = 0x6000000000000001
 *   Next Level n   = n << 9: 1 -> 0x200, 2 -> 0x400, 3 -> 0x600, 7 -> 0xe00
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <iob/amdvi.h>
#include <iob/walk.h>

#define ARENA_TABLES 8

static uint64_t *arena[ARENA_TABLES];

static void arena_init(void)
{
	for (unsigned i = 0; i < ARENA_TABLES; i++) {
		void *p = NULL;

		cr_assert_eq(posix_memalign(&p, 4096, 4096), 0);
		memset(p, 0, 4096);
		arena[i] = p;
	}
}

static void arena_fini(void)
{
	for (unsigned i = 0; i < ARENA_TABLES; i++) {
		free(arena[i]);
		arena[i] = NULL;
	}
}

TestSuite(walk, .init = arena_init, .fini = arena_fini);

static uint64_t addr_of(const uint64_t *t)
{
	return (uint64_t)(uintptr_t)t;
}

/* PR | IR | IW | Next Level @nl | @t: a page directory entry. */
static uint64_t pde(const uint64_t *t, unsigned nl)
{
	return 0x6000000000000001ULL | ((uint64_t)nl << 9) | addr_of(t);
}

/* Level indices: 4 -> bits 47:39, 3 -> 38:30, 2 -> 29:21, 1 -> 20:12. */
static uint64_t iova_of(unsigned i4, unsigned i3, unsigned i2, unsigned i1,
			uint64_t off)
{
	return ((uint64_t)i4 << 39) | ((uint64_t)i3 << 30) |
	       ((uint64_t)i2 << 21) | ((uint64_t)i1 << 12) | off;
}

/*
 * The path used by most tests: root (level 4) = arena[0], level 3 =
 * arena[1], level 2 = arena[2], level 1 = arena[3]; indices 1, 2, 3, 4.
 * The level-1 PTE maps 0xabcde000 read/write:
 *   PR|IR|IW|0xabcde000 = 0x60000000abcde001.
 */
#define LEAF_4K		0x60000000abcde001ULL
#define IOVA_4K		iova_of(1, 2, 3, 4, 0x567)

static void build_4level_path(void)
{
	arena[0][1] = pde(arena[1], 3);
	arena[1][2] = pde(arena[2], 2);
	arena[2][3] = pde(arena[3], 1);
	arena[3][4] = LEAF_4K;
}

Test(walk, header_fields_sit_where_the_spec_puts_them)
{
	cr_assert_eq(AMDVI_PTE_PR, 0x1ULL);
	cr_assert_eq(AMDVI_PTE_NEXT_LEVEL, 0xe00ULL);
	cr_assert_eq(AMDVI_PTE_ADDR, 0x000ffffffffff000ULL);
	cr_assert_eq(AMDVI_PTE_RSVD, 0x07f0000000000000ULL);
	cr_assert_eq(AMDVI_PTE_FC, 0x1000000000000000ULL);
	cr_assert_eq(AMDVI_PTE_IR, 0x2000000000000000ULL);
	cr_assert_eq(AMDVI_PTE_IW, 0x4000000000000000ULL);
	/* Level n spans 2^(12 + 9(n-1)): 4K, 2M, 1G, 512G, 256T, 128P. */
	cr_assert_eq(amdvi_level_shift(1), 12);
	cr_assert_eq(amdvi_level_shift(2), 21);
	cr_assert_eq(amdvi_level_shift(3), 30);
	cr_assert_eq(amdvi_level_shift(6), 57);
}

Test(walk, four_level_walk_reaches_4k_page_and_keeps_page_offset)
{
	struct amdvi_walk w;

	build_4level_path();
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, IOVA_4K, &w);

	cr_assert_eq(w.fault, AMDVI_FAULT_NONE, "fault %s", amdvi_fault_name(w.fault));
	cr_assert_eq(w.pa, 0xabcde567ULL, "pa 0x%llx", (unsigned long long)w.pa);
	cr_assert_eq(w.size_lg2, 12);
	cr_assert_eq(w.prot, IOPT_PROT_RW);
}

Test(walk, steps_record_level_index_table_and_entry_of_every_read)
{
	struct amdvi_walk w;
	const unsigned idx[4] = { 1, 2, 3, 4 };

	build_4level_path();
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, IOVA_4K, &w);

	cr_assert_eq(w.nsteps, 4);
	for (unsigned i = 0; i < 4; i++) {
		cr_assert_eq(w.steps[i].level, 4 - i, "step %u", i);
		cr_assert_eq(w.steps[i].index, idx[i], "step %u", i);
		cr_assert_eq(w.steps[i].table, addr_of(arena[i]), "step %u", i);
		cr_assert_eq(w.steps[i].entry, arena[i][idx[i]], "step %u", i);
	}
	/* The level-4 PDE: PR|IR|IW | Next Level 3 (0x600) | level-3 table. */
	cr_assert_eq(w.steps[0].entry, 0x6000000000000601ULL | addr_of(arena[1]));
	cr_assert_eq(w.steps[3].entry, LEAF_4K);
}

Test(walk, level2_entry_with_next_level_0_is_a_2m_leaf)
{
	struct amdvi_walk w;
	/* iova: level-2 index 3, offset 0x1abcde inside the 2M page. */
	uint64_t iova = iova_of(1, 2, 3, 0, 0x1abcde);

	arena[0][1] = pde(arena[1], 3);
	arena[1][2] = pde(arena[2], 2);
	/* PR|IR|IW, Next Level 0, address 0x40200000 (2M aligned). */
	arena[2][3] = 0x6000000040200001ULL;
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, iova, &w);

	cr_assert_eq(w.fault, AMDVI_FAULT_NONE, "fault %s", amdvi_fault_name(w.fault));
	cr_assert_eq(w.size_lg2, 21);
	cr_assert_eq(w.pa, 0x40200000ULL + 0x1abcde, "pa 0x%llx", (unsigned long long)w.pa);
	cr_assert_eq(w.nsteps, 3);
}

Test(walk, level3_entry_with_next_level_0_is_a_1g_leaf)
{
	struct amdvi_walk w;
	uint64_t iova = iova_of(1, 2, 0x1ff, 0x1ff, 0xfff);

	arena[0][1] = pde(arena[1], 3);
	/* PR|IR|IW, Next Level 0, address 0x1c0000000 (7 GiB, 1G aligned). */
	arena[1][2] = 0x60000001c0000001ULL;
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, iova, &w);

	cr_assert_eq(w.fault, AMDVI_FAULT_NONE);
	cr_assert_eq(w.size_lg2, 30);
	cr_assert_eq(w.pa, 0x1c0000000ULL + 0x3fffffff);
	cr_assert_eq(w.nsteps, 2);
}

Test(walk, next_level_7_at_level1_over_16_entries_is_a_64k_page)
{
	struct amdvi_walk w;

	/*
	 * A 64 KiB page at 0x12340000: the lowest clear address bit is k = 15
	 * (size 2^(k+1)), so bits 14:12 are set: address 0x12347000.
	 * PR|IR|IW | Next Level 7 (0xe00) | 0x12347000 = 0x6000000012347e01,
	 * written into the 16 entries 16..31 the page spans.
	 */
	arena[0][1] = pde(arena[1], 3);
	arena[1][2] = pde(arena[2], 2);
	arena[2][3] = pde(arena[3], 1);
	for (unsigned i = 16; i < 32; i++)
		arena[3][i] = 0x6000000012347e01ULL;

	/* Entry 21 = 5th 4K of the page, offset 0x5abc in the 64K page. */
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, iova_of(1, 2, 3, 21, 0xabc), &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_NONE, "fault %s", amdvi_fault_name(w.fault));
	cr_assert_eq(w.size_lg2, 16);
	cr_assert_eq(w.pa, 0x12345abcULL, "pa 0x%llx", (unsigned long long)w.pa);
	cr_assert_eq(w.steps[3].index, 21);

	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, iova_of(1, 2, 3, 31, 0xfff), &w);
	cr_assert_eq(w.pa, 0x1234ffffULL);
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, iova_of(1, 2, 3, 32, 0), &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_NOT_PRESENT);
}

Test(walk, next_level_7_at_level2_over_2_entries_is_a_4m_page)
{
	struct amdvi_walk w;

	/*
	 * 4 MiB at 0x80400000 (4M aligned): size 2^22, k = 21, bits 20:12 set:
	 * address 0x805ff000; with PR|IR|IW and Next Level 7:
	 * 0x60000000805ffe01, in level-2 entries 6 and 7.
	 */
	arena[0][1] = pde(arena[1], 3);
	arena[1][2] = pde(arena[2], 2);
	arena[2][6] = 0x60000000805ffe01ULL;
	arena[2][7] = 0x60000000805ffe01ULL;

	/* Entry 7 is the second 2M: pa = base + 2M + offset. */
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, iova_of(1, 2, 7, 3, 0x10), &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_NONE, "fault %s", amdvi_fault_name(w.fault));
	cr_assert_eq(w.size_lg2, 22);
	cr_assert_eq(w.pa, 0x80400000ULL + 0x200000 + 0x3010, "pa 0x%llx",
		     (unsigned long long)w.pa);
	cr_assert_eq(w.nsteps, 3);

	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, iova_of(1, 2, 6, 0, 0), &w);
	cr_assert_eq(w.pa, 0x80400000ULL);
}

Test(walk, sized_address_encoding_round_trips_for_every_size)
{
	/* The spec's example shape: 8K -> bit 12 clear; 64K at 0x12340000. */
	cr_assert_eq(amdvi_sized_addr(0x12340000ULL, 16), 0x12347000ULL);
	cr_assert_eq(amdvi_sized_addr(0x2000ULL, 13), 0x2000ULL);
	cr_assert_eq(amdvi_sized_addr(0x80400000ULL, 22), 0x805ff000ULL);
	for (unsigned lg2 = 13; lg2 <= 52; lg2++) {
		paddr_t pa = (0xfedcba9876543000ULL >> (64 - 52)) & ~((1ULL << lg2) - 1);
		uint64_t a = amdvi_sized_addr(pa, lg2);

		cr_assert_eq(amdvi_sized_lg2(a), lg2, "lg2 %u", lg2);
		cr_assert_eq(a & ~((1ULL << lg2) - 1), pa, "lg2 %u", lg2);
	}
}

Test(walk, pde_skipping_level3_translates_when_its_index_bits_are_zero)
{
	struct amdvi_walk w;

	/* Level-4 PDE with Next Level 2: level 3 is skipped. */
	arena[0][1] = pde(arena[2], 2);
	arena[2][3] = pde(arena[3], 1);
	arena[3][4] = LEAF_4K;
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, iova_of(1, 0, 3, 4, 0x567), &w);

	cr_assert_eq(w.fault, AMDVI_FAULT_NONE, "fault %s", amdvi_fault_name(w.fault));
	cr_assert_eq(w.pa, 0xabcde567ULL);
	cr_assert_eq(w.nsteps, 3);
	cr_assert_eq(w.steps[0].level, 4);
	cr_assert_eq(w.steps[1].level, 2);
	cr_assert_eq(w.steps[1].table, addr_of(arena[2]));
	cr_assert_eq(w.steps[2].level, 1);
}

Test(walk, pde_skipping_level3_faults_when_its_index_bits_are_set)
{
	struct amdvi_walk w;

	arena[0][1] = pde(arena[2], 2);
	arena[2][3] = pde(arena[3], 1);
	arena[3][4] = LEAF_4K;
	/* Each of the level-3 index bits 38:30 alone. */
	for (unsigned b = 0; b < 9; b++) {
		amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW,
			   iova_of(1, 1U << b, 3, 4, 0x567), &w);
		cr_assert_eq(w.fault, AMDVI_FAULT_SKIPPED_BITS, "bit %u: %s", 30 + b,
			     amdvi_fault_name(w.fault));
		cr_assert_eq(w.fault_level, 4);
		cr_assert_eq(w.nsteps, 1);
	}
}

Test(walk, pde_skipping_two_levels_checks_both_levels_bits)
{
	struct amdvi_walk w;

	/* Level-4 PDE straight to a level-1 table: levels 3 and 2 skipped. */
	arena[0][1] = pde(arena[3], 1);
	arena[3][4] = LEAF_4K;

	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, iova_of(1, 0, 0, 4, 0x1), &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_NONE, "fault %s", amdvi_fault_name(w.fault));
	cr_assert_eq(w.pa, 0xabcde001ULL);
	cr_assert_eq(w.nsteps, 2);

	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, iova_of(1, 0, 1, 4, 0x1), &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_SKIPPED_BITS);
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, iova_of(1, 0x100, 0, 4, 0x1), &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_SKIPPED_BITS);
}

Test(walk, not_present_entry_faults_at_its_own_level)
{
	for (unsigned level = 4; level >= 1; level--) {
		struct amdvi_walk w;
		unsigned t = 4 - level;
		const unsigned idx[4] = { 1, 2, 3, 4 };

		build_4level_path();
		/* Only PR cleared: the rest of the entry must be ignored. */
		arena[t][idx[t]] &= ~AMDVI_PTE_PR;
		amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, IOVA_4K, &w);

		cr_assert_eq(w.fault, AMDVI_FAULT_NOT_PRESENT, "level %u: %s", level,
			     amdvi_fault_name(w.fault));
		cr_assert_eq(w.fault_level, level);
		cr_assert_eq(w.nsteps, t + 1, "level %u: nsteps %u", level, w.nsteps);
		cr_assert_eq(w.steps[t].entry & AMDVI_PTE_PR, 0);
	}
}

Test(walk, reserved_bits_58_52_fault_at_their_level)
{
	const unsigned idx[4] = { 1, 2, 3, 4 };

	for (unsigned level = 4; level >= 1; level--) {
		for (unsigned bit = 52; bit <= 58; bit++) {
			struct amdvi_walk w;
			unsigned t = 4 - level;

			build_4level_path();
			arena[t][idx[t]] |= 1ULL << bit;
			amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, IOVA_4K, &w);

			cr_assert_eq(w.fault, AMDVI_FAULT_RESERVED, "level %u bit %u: %s",
				     level, bit, amdvi_fault_name(w.fault));
			cr_assert_eq(w.fault_level, level, "level %u bit %u", level, bit);
		}
	}
}

Test(walk, ignored_accessed_dirty_and_fc_bits_do_not_change_the_result)
{
	const unsigned idx[4] = { 1, 2, 3, 4 };
	/* Bits 4:1 and 8:7 ignored, 5 A, 6 D, 59 U, 60 FC, 63 ignored. */
	const uint64_t extra = 0x1eULL | 0x180ULL | 0x60ULL | (1ULL << 59) |
			       (1ULL << 60) | (1ULL << 63);

	build_4level_path();
	for (unsigned t = 0; t < 4; t++)
		arena[t][idx[t]] |= extra;

	struct amdvi_walk w;

	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, IOVA_4K, &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_NONE, "fault %s", amdvi_fault_name(w.fault));
	cr_assert_eq(w.pa, 0xabcde567ULL);
	cr_assert_eq(w.prot, IOPT_PROT_RW);
}

Test(walk, next_level_not_below_current_level_is_bad_level)
{
	struct amdvi_walk w;

	/* Level-3 PDE claiming Next Level 3, 4, 5, 6 (none is below 3). */
	for (unsigned nl = 3; nl <= 6; nl++) {
		build_4level_path();
		arena[1][2] = pde(arena[2], nl);
		amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, IOVA_4K, &w);
		cr_assert_eq(w.fault, AMDVI_FAULT_BAD_LEVEL, "nl %u: %s", nl,
			     amdvi_fault_name(w.fault));
		cr_assert_eq(w.fault_level, 3);
		cr_assert_eq(w.nsteps, 2);
	}
	/* A level-1 entry can only be a leaf: Next Level 1..6 is bad. */
	for (unsigned nl = 1; nl <= 6; nl++) {
		build_4level_path();
		arena[3][4] = LEAF_4K | ((uint64_t)nl << 9);
		amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, IOVA_4K, &w);
		cr_assert_eq(w.fault, AMDVI_FAULT_BAD_LEVEL, "level 1 nl %u", nl);
		cr_assert_eq(w.fault_level, 1);
	}
}

Test(walk, next_level_7_page_not_larger_than_the_level_page_is_bad_level)
{
	struct amdvi_walk w;

	arena[0][1] = pde(arena[1], 3);
	arena[1][2] = pde(arena[2], 2);

	/* At level 2, a 64K-encoded page (0x...7e01 as above): 64K < 2M. */
	arena[2][3] = 0x6000000012347e01ULL;
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, iova_of(1, 2, 3, 0, 0), &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_BAD_LEVEL, "%s", amdvi_fault_name(w.fault));
	cr_assert_eq(w.fault_level, 2);

	/* At level 2, a 2M-encoded page (bits 19:12 set, 20 clear): not above 2M. */
	arena[2][3] = 0x60000000400ffe01ULL;
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, iova_of(1, 2, 3, 0, 0), &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_BAD_LEVEL, "%s", amdvi_fault_name(w.fault));

	/* At level 1, a 2M-encoded page would need 512 entries: a level-2 size. */
	arena[2][3] = pde(arena[3], 1);
	arena[3][0] = 0x60000000400ffe01ULL;
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, iova_of(1, 2, 3, 0, 0), &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_BAD_LEVEL, "%s", amdvi_fault_name(w.fault));
	cr_assert_eq(w.fault_level, 1);

	/* At level 1 the largest sized page is 1M: bits 18:12 set, 19 clear. */
	arena[3][0] = 0x600000004007fe01ULL;
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, iova_of(1, 2, 3, 0, 0x5), &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_NONE, "%s", amdvi_fault_name(w.fault));
	cr_assert_eq(w.size_lg2, 20);
	cr_assert_eq(w.pa, 0x40000005ULL);
}

Test(walk, rights_are_anded_along_the_path)
{
	struct amdvi_walk w;

	/* Level-3 PDE without IW (bit 62): the read/write leaf becomes read-only. */
	build_4level_path();
	arena[1][2] &= ~AMDVI_PTE_IW;
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, IOVA_4K, &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_NONE);
	cr_assert_eq(w.prot, IOPT_PROT_READ);

	/* And a level-2 PDE without IR on top: no rights left, still no fault. */
	arena[2][3] &= ~AMDVI_PTE_IR;
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, IOVA_4K, &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_NONE);
	cr_assert_eq(w.prot, 0);

	/* Write-only leaf under full PDEs. */
	build_4level_path();
	arena[3][4] &= ~AMDVI_PTE_IR;
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, IOVA_4K, &w);
	cr_assert_eq(w.prot, IOPT_PROT_WRITE);

	/* Rights from above the start table (the DTE's) count too. */
	build_4level_path();
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_READ, IOVA_4K, &w);
	cr_assert_eq(w.prot, IOPT_PROT_READ);
}

Test(walk, iova_beyond_the_paging_mode_faults_address_range)
{
	struct amdvi_walk w;

	build_4level_path();
	/* Mode 4 covers 48 bits, mode 3 39 bits, mode 5 57 bits. */
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, IOVA_4K | (1ULL << 48), &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_ADDR_RANGE, "%s", amdvi_fault_name(w.fault));
	cr_assert_eq(w.nsteps, 0);
	cr_assert_eq(w.fault_level, 4);

	amdvi_walk(addr_of(arena[0]), 3, 3, IOPT_PROT_RW, 1ULL << 39, &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_ADDR_RANGE);
	amdvi_walk(addr_of(arena[0]), 5, 5, IOPT_PROT_RW, 1ULL << 57, &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_ADDR_RANGE);

	/* The last address mode 4 covers is read, not rejected. */
	amdvi_walk(addr_of(arena[0]), 4, 4, IOPT_PROT_RW, (1ULL << 48) - 1, &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_NOT_PRESENT);
	cr_assert_eq(w.steps[0].index, 511);
}

Test(walk, mode_6_indexes_level6_with_bits_63_57)
{
	struct amdvi_walk w;
	uint64_t iova = (127ULL << 57) | IOVA_4K;

	/* Level-6 PDE with Next Level 4 skips level 5 (bits 56:48). */
	arena[4][127] = pde(arena[0], 4);
	build_4level_path();
	amdvi_walk(addr_of(arena[4]), 6, 6, IOPT_PROT_RW, iova, &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_NONE, "%s", amdvi_fault_name(w.fault));
	cr_assert_eq(w.steps[0].index, 127);
	cr_assert_eq(w.nsteps, 5);
	cr_assert_eq(w.pa, 0xabcde567ULL);

	amdvi_walk(addr_of(arena[4]), 6, 6, IOPT_PROT_RW, iova | (1ULL << 50), &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_SKIPPED_BITS, "%s", amdvi_fault_name(w.fault));
	cr_assert_eq(w.fault_level, 6);

	arena[4][127] = pde(arena[5], 5);
	arena[5][0] = pde(arena[0], 4);
	amdvi_walk(addr_of(arena[4]), 6, 6, IOPT_PROT_RW, iova, &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_NONE, "%s", amdvi_fault_name(w.fault));
	cr_assert_eq(w.pa, 0xabcde567ULL);
	cr_assert_eq(w.nsteps, 6);
	cr_assert_eq(w.steps[1].level, 5);
	cr_assert_eq(w.steps[1].index, 0);
}

Test(walk, walk_from_a_lower_table_starts_at_its_level)
{
	struct amdvi_walk w;

	build_4level_path();
	amdvi_walk(addr_of(arena[2]), 2, 4, IOPT_PROT_READ, IOVA_4K, &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_NONE);
	cr_assert_eq(w.pa, 0xabcde567ULL);
	cr_assert_eq(w.nsteps, 2);
	cr_assert_eq(w.steps[0].level, 2);
	cr_assert_eq(w.prot, IOPT_PROT_READ);
}

Test(walk, start_level_above_mode_or_bad_mode_is_bad_level)
{
	struct amdvi_walk w;

	build_4level_path();
	amdvi_walk(addr_of(arena[0]), 5, 4, IOPT_PROT_RW, IOVA_4K, &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_BAD_LEVEL);
	cr_assert_eq(w.nsteps, 0);
	amdvi_walk(addr_of(arena[0]), 0, 4, IOPT_PROT_RW, IOVA_4K, &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_BAD_LEVEL);
	amdvi_walk(addr_of(arena[0]), 4, 7, IOPT_PROT_RW, IOVA_4K, &w);
	cr_assert_eq(w.fault, AMDVI_FAULT_BAD_LEVEL);
}

Test(walk, fault_names_are_distinct_and_out_of_range_is_question_mark)
{
	for (unsigned a = 0; a < AMDVI_FAULT_NR; a++) {
		cr_assert_neq(strcmp(amdvi_fault_name(a), "?"), 0, "fault %u", a);
		for (unsigned b = a + 1; b < AMDVI_FAULT_NR; b++)
			cr_assert_neq(strcmp(amdvi_fault_name(a), amdvi_fault_name(b)), 0);
	}
	cr_assert_str_eq(amdvi_fault_name(AMDVI_FAULT_NR), "?");
	cr_assert_str_eq(amdvi_fault_name(AMDVI_FAULT_NOT_PRESENT), "not-present");
}
