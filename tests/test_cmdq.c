// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmdq: command encodings checked against words worked out by hand from
 * the AMD IOMMU specification (pub. 48882, "Commands") and against what
 * Linux 6.1 (drivers/iommu/amd/iommu.c) writes; the decoder; and the ring
 * under random and two-thread producer/consumer interleavings.
 * Seeded tests replay with IOB_TEST_SEED.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <iob/cmdq.h>

#include "failinject.h"
#include "prng.h"

#define PCHECK(seed, cond, fmt, ...)					\
	cr_assert((cond), "IOB_TEST_SEED=0x%016llx: " fmt,		\
		  (unsigned long long)(seed), ##__VA_ARGS__)

static void assert_cmd(const struct amdvi_cmd *c, uint32_t w0, uint32_t w1,
		       uint32_t w2, uint32_t w3)
{
	cr_assert(c->dw[0] == w0 && c->dw[1] == w1 && c->dw[2] == w2 && c->dw[3] == w3,
		  "got {%08x %08x %08x %08x}, want {%08x %08x %08x %08x}",
		  c->dw[0], c->dw[1], c->dw[2], c->dw[3], w0, w1, w2, w3);
}

/* ---- encoders, by hand from the specification -------------------------------- */

Test(cmdq_enc, completion_wait_store_matches_hand_encoding)
{
	struct amdvi_cmd c;

	/*
	 * Store 0x0123456789abcdef at 0x000f123456789ab8, no interrupt.
	 *   dw0 = store address bits 31:3 in place | S (bit 0)
	 *       = 0x56789ab8 | 0x1 = 0x56789ab9
	 *   dw1 = address bits 51:32 in bits 19:0 | opcode 1 << 28
	 *       = 0x000f1234 | 0x10000000 = 0x100f1234
	 *   dw2 = data bits 31:0 = 0x89abcdef, dw3 = data bits 63:32 = 0x01234567
	 */
	memset(&c, 0xa5, sizeof(c));
	cmdq_enc_completion_wait(&c, 0x000f123456789ab8ULL, 0x0123456789abcdefULL, false);
	assert_cmd(&c, 0x56789ab9, 0x100f1234, 0x89abcdef, 0x01234567);

	/* The same with I (bit 1): dw0 = 0x56789ab9 | 0x2 = 0x56789abb. */
	cmdq_enc_completion_wait(&c, 0x000f123456789ab8ULL, 0x0123456789abcdefULL, true);
	assert_cmd(&c, 0x56789abb, 0x100f1234, 0x89abcdef, 0x01234567);
}

Test(cmdq_enc, completion_wait_matches_linux_build_completion_wait)
{
	struct amdvi_cmd c;

	/*
	 * Linux 6.1 build_completion_wait(): data[0] = lower_32_bits(paddr) |
	 * CMD_COMPL_WAIT_STORE_MASK, data[1] = upper_32_bits(paddr), data[2..3]
	 * = the sequence number, then CMD_SET_TYPE(1): for a semaphore at
	 * 0x12345000 and sequence 7 it writes {0x12345001, 0x10000000, 7, 0}.
	 */
	cmdq_enc_completion_wait(&c, 0x12345000, 7, false);
	assert_cmd(&c, 0x12345001, 0x10000000, 7, 0);
}

Test(cmdq_enc, completion_wait_address_bits_above_51_stay_out_of_dword_1)
{
	struct cmdq_decoded d;
	struct amdvi_cmd c;

	/* Bits 63:52 have no field: dw1 keeps 19:0 and the opcode only. */
	cmdq_enc_completion_wait(&c, 0xfff0000000000008ULL, 1, false);
	assert_cmd(&c, 0x00000009, 0x10000000, 1, 0);
	cmdq_enc_completion_wait(&c, 0xffffffffffffffffULL, 1, false);
	assert_cmd(&c, 0xfffffff9, 0x100fffff, 1, 0);
	cr_assert_eq(cmdq_decode(&c, &d), 0);
	cr_assert_eq(d.addr, 0x000ffffffffffff8ULL);
}

Test(cmdq_enc, completion_wait_interrupt_only_has_no_store)
{
	struct amdvi_cmd c;

	/* No store address: S clear, I set, only the opcode in dw1. */
	cmdq_enc_completion_wait(&c, 0, 0, true);
	assert_cmd(&c, 0x00000002, 0x10000000, 0, 0);
}

Test(cmdq_enc, inv_devtab_entry_matches_hand_encoding)
{
	struct amdvi_cmd c;

	/* DeviceID in dw0 15:0, opcode 2 in dw1 31:28: {0xbeef, 0x20000000, 0, 0}. */
	memset(&c, 0xff, sizeof(c));
	cmdq_enc_inv_devtab_entry(&c, 0xbeef);
	assert_cmd(&c, 0x0000beef, 0x20000000, 0, 0);
}

Test(cmdq_enc, inv_iommu_pages_single_page_matches_hand_encoding)
{
	struct amdvi_cmd c;

	/*
	 * Domain 0x1234, page 0x00007f1234567000, S = 0, PDE = 0:
	 *   dw1 = domain | 3 << 28 = 0x30001234
	 *   dw2 = address bits 31:12 in place = 0x34567000
	 *   dw3 = address bits 63:32 = 0x00007f12
	 */
	memset(&c, 0xff, sizeof(c));
	cmdq_enc_inv_iommu_pages(&c, 0x1234, 0x00007f1234567000ULL, false, false);
	assert_cmd(&c, 0, 0x30001234, 0x34567000, 0x00007f12);

	/* PDE is dw2 bit 1: 0x34567000 | 0x2. */
	cmdq_enc_inv_iommu_pages(&c, 0x1234, 0x00007f1234567000ULL, false, true);
	assert_cmd(&c, 0, 0x30001234, 0x34567002, 0x00007f12);
}

Test(cmdq_enc, inv_iommu_pages_8k_matches_linux)
{
	struct amdvi_cmd c;
	uint64_t addr;
	bool s;

	/*
	 * Linux 6.1 build_inv_address(0x2000, 0x2000): end 0x3fff,
	 * msb_diff = fls64(0x3fff ^ 0x2000) - 1 = 12, address |= 0xfff, clear
	 * bits 11:0 -> 0x2000, | S -> 0x2001. Domain 5: dw1 = 0x30000005.
	 * Size check: the lowest clear address bit from 12 up is bit 12, so
	 * the range is 2^(12+1) = 8K at 0x2000.
	 */
	addr = cmdq_range_addr(0x2000, 13, &s);
	cr_assert_eq(addr, 0x2000);
	cr_assert(s);
	cmdq_enc_inv_iommu_pages(&c, 5, addr, s, false);
	assert_cmd(&c, 0, 0x30000005, 0x00002001, 0);
}

Test(cmdq_enc, inv_iommu_pages_2m_and_1g_ranges_match_hand_encoding)
{
	struct amdvi_cmd c;
	uint64_t addr;
	bool s;

	/*
	 * 2M at 0x40200000: bits 19:12 set, bit 20 clear (lowest clear bit
	 * k = 20 gives 2^21): 0x40200000 | 0xff000 = 0x402ff000. dw2 with S =
	 * 0x402ff001. Linux: msb_diff = fls64(0x1fffff) - 1 = 20,
	 * 0x40200000 | 0xfffff = 0x402fffff, & PAGE_MASK = 0x402ff000.
	 */
	addr = cmdq_range_addr(0x40200000, 21, &s);
	cr_assert_eq(addr, 0x402ff000);
	cr_assert(s);
	cmdq_enc_inv_iommu_pages(&c, 0xffff, addr, s, true);
	assert_cmd(&c, 0, 0x3000ffff, 0x402ff003, 0);

	/*
	 * 1G at 0x140000000: bits 28:12 set, bit 29 clear:
	 * 0x140000000 | 0x1ffff000 = 0x15ffff000 -> dw2 0x5ffff001, dw3 1.
	 */
	addr = cmdq_range_addr(0x140000000ULL, 30, &s);
	cr_assert_eq(addr, 0x15ffff000ULL);
	cmdq_enc_inv_iommu_pages(&c, 1, addr, s, false);
	assert_cmd(&c, 0, 0x30000001, 0x5ffff001, 0x00000001);
}

Test(cmdq_enc, inv_iommu_pages_all_pages_matches_linux_domain_flush)
{
	struct amdvi_cmd c;
	uint64_t addr;
	bool s;

	/*
	 * Linux 6.1 amd_iommu_domain_flush_tlb_pde() sends
	 * build_inv_iommu_pages(0, CMD_INV_IOMMU_ALL_PAGES_ADDRESS, dom, pde=1):
	 * msb_diff > 51 -> address 0x7fffffffffffffff, & PAGE_MASK ->
	 * 0x7ffffffffffff000, | S | PDE: dw2 = 0xfffff003, dw3 = 0x7fffffff.
	 */
	addr = cmdq_range_addr(0, 64, &s);
	cr_assert_eq(addr, AMDVI_INV_ALL_PAGES_ADDR);
	cr_assert_eq(addr, 0x7ffffffffffff000ULL);
	cr_assert(s);
	cmdq_enc_inv_iommu_pages(&c, 5, addr, s, true);
	assert_cmd(&c, 0, 0x30000005, 0xfffff003, 0x7fffffff);
}

Test(cmdq_enc, inv_iotlb_pages_matches_hand_encoding_and_linux)
{
	struct amdvi_cmd c;

	/*
	 * Linux 6.1 build_inv_iotlb_pages(devid 0x0102, qdep 0x20,
	 * 0x12345000, 4K): data[0] = devid | qdep << 24 = 0x20000102,
	 * data[1] = devid (the queue ID) | 4 << 28 = 0x40000102,
	 * data[2] = 0x12345000, data[3] = 0.
	 */
	memset(&c, 0xff, sizeof(c));
	cmdq_enc_inv_iotlb_pages(&c, 0x0102, 0x20, 0x0102, 0x12345000, false);
	assert_cmd(&c, 0x20000102, 0x40000102, 0x12345000, 0);

	/*
	 * devid 0xfedc, maxpend 0xff, queueid 0x1357, 16K at 0x8_0000_4000 (S):
	 * dw0 = 0xff << 24 | 0xfedc = 0xff00fedc; dw1 = 0x40001357;
	 * address bit 13 clear, bit 12 set -> 0x5000 | S = 0x5001; dw3 = 8.
	 */
	cmdq_enc_inv_iotlb_pages(&c, 0xfedc, 0xff, 0x1357, 0x800005000ULL, true);
	assert_cmd(&c, 0xff00fedc, 0x40001357, 0x00005001, 0x00000008);
}

Test(cmdq_enc, inv_iommu_all_is_opcode_8_only)
{
	struct amdvi_cmd c;

	memset(&c, 0xff, sizeof(c));
	cmdq_enc_inv_iommu_all(&c);
	assert_cmd(&c, 0, 0x80000000, 0, 0);
}

/* ---- cmdq_range_addr --------------------------------------------------------- */

Test(cmdq_range, every_size_from_4k_to_2_63_encodes_and_decodes_back)
{
	uint64_t seed = test_seed(0x11);
	struct prng rng;

	prng_seed(&rng, seed);
	for (unsigned lg2 = 12; lg2 < 64; lg2++) {
		for (unsigned it = 0; it < 200; it++) {
			uint64_t start = prng_next(&rng) & ~((1ULL << lg2) - 1);
			struct cmdq_decoded d;
			struct amdvi_cmd c;
			uint64_t addr;
			bool s;

			if (it == 0)
				start = 0;
			addr = cmdq_range_addr(start, lg2, &s);
			PCHECK(seed, !(addr & 0xfff), "lg2 %u: low bits 0x%llx", lg2,
			       (unsigned long long)addr);
			if (lg2 == 12) {
				PCHECK(seed, !s && addr == start, "4K needs no S");
			} else {
				uint64_t ones = ((1ULL << (lg2 - 1)) - 1) & ~0xfffULL;

				PCHECK(seed, s, "lg2 %u needs S", lg2);
				/* Bits lg2-2..12 set, bit lg2-1 clear, bits above = start's. */
				PCHECK(seed, (addr & ones) == ones, "lg2 %u ones", lg2);
				PCHECK(seed, !(addr & (1ULL << (lg2 - 1))), "lg2 %u size bit", lg2);
				PCHECK(seed, (addr & ~((1ULL << lg2) - 1)) == start,
				       "lg2 %u start bits", lg2);
			}
			cmdq_enc_inv_iommu_pages(&c, 1, addr, s, false);
			PCHECK(seed, cmdq_decode(&c, &d) == 0, "lg2 %u", lg2);
			PCHECK(seed, d.range_lg2 == lg2 && d.range_start == start,
			       "lg2 %u start 0x%llx decoded as %u at 0x%llx", lg2,
			       (unsigned long long)start, d.range_lg2,
			       (unsigned long long)d.range_start);
		}
	}
}

Test(cmdq_range, sizes_of_64_and_above_mean_all_pages)
{
	struct cmdq_decoded d;
	struct amdvi_cmd c;
	bool s = false;

	for (unsigned lg2 = 64; lg2 < 70; lg2++) {
		s = false;
		cr_assert_eq(cmdq_range_addr(0x1234000, lg2, &s), 0x7ffffffffffff000ULL);
		cr_assert(s);
	}
	cmdq_enc_inv_iommu_pages(&c, 3, 0x7ffffffffffff000ULL, true, false);
	cr_assert_eq(cmdq_decode(&c, &d), 0);
	cr_assert_eq(d.range_lg2, 64);
	/* Every address bit set is "all pages" as well. */
	cmdq_enc_inv_iommu_pages(&c, 3, 0xfffffffffffff000ULL, true, false);
	cr_assert_eq(cmdq_decode(&c, &d), 0);
	cr_assert_eq(d.range_lg2, 64);
	/* 2^63 at 2^63: bits 61:12 set, bit 62 clear, bit 63 set. */
	cr_assert_eq(cmdq_range_addr(1ULL << 63, 63, &s), 0xbffffffffffff000ULL);
}

/* ---- decoder ----------------------------------------------------------------- */

static uint64_t rand_bits(struct prng *r, unsigned bits)
{
	return bits >= 64 ? prng_next(r) : prng_next(r) & ((1ULL << bits) - 1);
}

Test(cmdq_dec, round_trips_every_encoder_over_random_fields)
{
	uint64_t seed = test_seed(0x22);
	struct prng rng;

	prng_seed(&rng, seed);
	for (unsigned it = 0; it < 50000; it++) {
		struct cmdq_decoded d;
		struct amdvi_cmd c;
		uint64_t addr = rand_bits(&rng, 64) & ~0xfffULL;
		uint64_t data = prng_next(&rng);
		uint16_t id = (uint16_t)prng_next(&rng), q = (uint16_t)prng_next(&rng);
		uint8_t mp = (uint8_t)prng_next(&rng);
		bool b1 = prng_below(&rng, 2), b2 = prng_below(&rng, 2);
		paddr_t store = (rand_bits(&rng, 52) & ~7ULL) | 8;

		cmdq_enc_completion_wait(&c, store, data, b1);
		PCHECK(seed, cmdq_decode(&c, &d) == 0, "cw");
		PCHECK(seed, d.op == AMDVI_CMD_COMPLETION_WAIT && d.store &&
			     d.interrupt == b1 && !d.flush && d.addr == store &&
			     d.data == data,
		       "cw store 0x%llx data 0x%llx i %d: got 0x%llx 0x%llx",
		       (unsigned long long)store, (unsigned long long)data, b1,
		       (unsigned long long)d.addr, (unsigned long long)d.data);

		cmdq_enc_inv_devtab_entry(&c, id);
		PCHECK(seed, cmdq_decode(&c, &d) == 0, "devtab");
		PCHECK(seed, d.op == AMDVI_CMD_INVALIDATE_DEVTAB_ENTRY && d.devid == id,
		       "devtab %u -> %u", id, d.devid);

		cmdq_enc_inv_iommu_pages(&c, id, addr, b1, b2);
		PCHECK(seed, cmdq_decode(&c, &d) == 0, "pages");
		PCHECK(seed, d.op == AMDVI_CMD_INVALIDATE_IOMMU_PAGES && d.domid == id &&
			     d.addr == addr && d.s == b1 && d.pde == b2 && !d.gn &&
			     d.pasid == 0,
		       "pages dom %u addr 0x%llx s %d pde %d", id,
		       (unsigned long long)addr, b1, b2);
		if (!b1)
			PCHECK(seed, d.range_start == addr && d.range_lg2 == 12, "page range");

		cmdq_enc_inv_iotlb_pages(&c, id, mp, q, addr, b1);
		PCHECK(seed, cmdq_decode(&c, &d) == 0, "iotlb");
		PCHECK(seed, d.op == AMDVI_CMD_INVALIDATE_IOTLB_PAGES && d.devid == id &&
			     d.maxpend == mp && d.queueid == q && d.addr == addr &&
			     d.s == b1 && d.pasid == 0,
		       "iotlb dev %u mp %u q %u addr 0x%llx", id, mp, q,
		       (unsigned long long)addr);

		cmdq_enc_inv_iommu_all(&c);
		PCHECK(seed, cmdq_decode(&c, &d) == 0 &&
			     d.op == AMDVI_CMD_INVALIDATE_IOMMU_ALL, "all");
	}
}

/*
 * Reserved bits per opcode, from the specification's command layouts
 * (dword 1 bits 31:28, the opcode, excluded).
 */
static const struct {
	unsigned op;
	uint32_t rsvd[4];
} layouts[] = {
	/* COMPLETION_WAIT: dw1 27:20 reserved; address, S/I/F, data defined. */
	{ AMDVI_CMD_COMPLETION_WAIT, { 0, 0x0ff00000, 0, 0 } },
	/* INVALIDATE_DEVTAB_ENTRY: only DeviceID (dw0 15:0). */
	{ AMDVI_CMD_INVALIDATE_DEVTAB_ENTRY, { 0xffff0000, 0x0fffffff, ~0U, ~0U } },
	/* INVALIDATE_IOMMU_PAGES: PASID dw0 19:0, DomainID dw1 15:0, dw2 S/PDE/GN + 31:12. */
	{ AMDVI_CMD_INVALIDATE_IOMMU_PAGES, { 0xfff00000, 0x0fff0000, 0x00000ff8, 0 } },
	/* INVALIDATE_IOTLB_PAGES: dw1 27:24 reserved, dw2 bit 1 and 11:3 reserved. */
	{ AMDVI_CMD_INVALIDATE_IOTLB_PAGES, { 0, 0x0f000000, 0x00000ffa, 0 } },
	/* INVALIDATE_INTERRUPT_TABLE: only DeviceID. */
	{ AMDVI_CMD_INVALIDATE_INTERRUPT_TABLE, { 0xffff0000, 0x0fffffff, ~0U, ~0U } },
	/* INVALIDATE_IOMMU_ALL: nothing but the opcode. */
	{ AMDVI_CMD_INVALIDATE_IOMMU_ALL, { ~0U, 0x0fffffff, ~0U, ~0U } },
};

Test(cmdq_dec, every_reserved_bit_is_rejected_and_every_defined_bit_accepted)
{
	for (size_t l = 0; l < sizeof(layouts) / sizeof(layouts[0]); l++) {
		for (unsigned w = 0; w < 4; w++) {
			for (unsigned b = 0; b < 32; b++) {
				struct amdvi_cmd c = { { 0, layouts[l].op << 28, 0, 0 } };
				struct cmdq_decoded d;
				bool rsvd = (layouts[l].rsvd[w] >> b) & 1;

				if (w == 1 && b >= 28)
					continue;
				c.dw[w] |= 1U << b;
				cr_assert_eq(cmdq_decode(&c, &d), rsvd ? -EINVAL : 0,
					     "opcode %u dw%u bit %u (%s)", layouts[l].op, w, b,
					     rsvd ? "reserved" : "defined");
			}
		}
	}
}

Test(cmdq_dec, unknown_opcodes_are_rejected)
{
	for (unsigned op = 0; op < 16; op++) {
		struct amdvi_cmd c = { { 0, op << 28, 0, 0 } };
		struct cmdq_decoded d;
		bool known = op == 1 || op == 2 || op == 3 || op == 4 || op == 5 || op == 8;

		cr_assert_eq(cmdq_decode(&c, &d), known ? 0 : -EINVAL, "opcode %u", op);
		if (known)
			cr_assert_eq(d.op, op);
	}
}

Test(cmdq_dec, decodes_pasid_and_flag_fields)
{
	struct cmdq_decoded d;
	/* IOMMU_PAGES with PASID 0xabcde, GN: dw0 = 0x000abcde, dw2 bit 2. */
	struct amdvi_cmd p = { { 0x000abcde, 0x30000009, 0x00005004, 0 } };
	/* IOTLB_PAGES PASID 0x1234: 0x12 in dw0 23:16, 0x34 in dw1 23:16. */
	struct amdvi_cmd t = { { 0x05120007, 0x40340008, 0x00006000, 0 } };
	/* COMPLETION_WAIT with F (bit 2) only. */
	struct amdvi_cmd w = { { 0x00000004, 0x10000000, 0, 0 } };

	cr_assert_eq(cmdq_decode(&p, &d), 0);
	cr_assert_eq(d.pasid, 0xabcde);
	cr_assert(d.gn);
	cr_assert_eq(d.domid, 9);
	cr_assert_eq(d.addr, 0x5000);
	cr_assert_eq(cmdq_decode(&t, &d), 0);
	cr_assert_eq(d.pasid, 0x1234);
	cr_assert_eq(d.devid, 7);
	cr_assert_eq(d.maxpend, 5);
	cr_assert_eq(d.queueid, 8);
	cr_assert_eq(cmdq_decode(&w, &d), 0);
	cr_assert(d.flush);
	cr_assert(!d.store);
	cr_assert(!d.interrupt);
}

Test(cmdq_dec, opcode_names_follow_the_specification)
{
	cr_assert_str_eq(cmdq_opcode_name(1), "COMPLETION_WAIT");
	cr_assert_str_eq(cmdq_opcode_name(2), "INVALIDATE_DEVTAB_ENTRY");
	cr_assert_str_eq(cmdq_opcode_name(3), "INVALIDATE_IOMMU_PAGES");
	cr_assert_str_eq(cmdq_opcode_name(4), "INVALIDATE_IOTLB_PAGES");
	cr_assert_str_eq(cmdq_opcode_name(8), "INVALIDATE_IOMMU_ALL");
	cr_assert_str_eq(cmdq_opcode_name(0), "UNKNOWN");
	cr_assert_str_eq(cmdq_opcode_name(9), "UNKNOWN");
}

/* ---- ring ------------------------------------------------------------------- */

static void kick_none(void *ctx)
{
	(void)ctx;
}

Test(cmdq_ring, create_rejects_bad_sizes_and_missing_kick)
{
	static const unsigned bad[] = { 0, 1, 128, 255, 257, 300, 384, 65536, 32769, 1U << 31 };
	static const unsigned good[] = { 256, 512, 1024, 32768 };
	struct cmdq_cfg cfg = { .entries = 256, .kick = kick_none };
	struct cmdq *q = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.entries = bad[i];
		cr_assert_eq(cmdq_create(&cfg, &q), -EINVAL, "%u entries", bad[i]);
	}
	cfg.entries = 256;
	cfg.kick = NULL;
	cr_assert_eq(cmdq_create(&cfg, &q), -EINVAL, "no kick");
	cfg.kick = kick_none;
	cr_assert_eq(cmdq_create(NULL, &q), -EINVAL);
	cr_assert_eq(cmdq_create(&cfg, NULL), -EINVAL);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cfg.entries = good[i];
		cr_assert_eq(cmdq_create(&cfg, &q), 0, "%u entries", good[i]);
		cr_assert_eq(cmdq_entries(q), good[i]);
		cr_assert_eq(cmdq_pending(q), 0);
		cr_assert_eq(cmdq_head(q), 0);
		cr_assert_eq(cmdq_tail(q), 0);
		cmdq_destroy(q);
	}
}

struct create_ctx {
	struct cmdq_cfg cfg;
	struct cmdq *q;
};

static int create_op(void *arg)
{
	struct create_ctx *x = arg;

	return cmdq_create(&x->cfg, &x->q);
}

static void create_undo(void *arg)
{
	struct create_ctx *x = arg;

	cr_assert_eq(cmdq_entries(x->q), x->cfg.entries);
	cmdq_destroy(x->q);
	x->q = NULL;
}

/* A failed create hands nothing out: the caller's pointer keeps its value. */
static uint64_t create_out(void *arg)
{
	return (uint64_t)(uintptr_t)((struct create_ctx *)arg)->q;
}

Test(cmdq_ring, create_fails_cleanly_at_each_allocation)
{
	struct create_ctx x = { .cfg = { .entries = 1024, .kick = kick_none } };
	struct failinject fi = { "cmdq_create", create_op, create_undo, create_out, &x };

	/* The ring's state and its 4 KiB aligned command memory. */
	cr_assert_eq(failinject_each(&fi), 2);
	cr_assert_null(x.q);
}

/* A command carrying @seq in every dword, so a torn or mixed-up slot shows. */
static void seq_cmd(struct amdvi_cmd *c, uint64_t seq)
{
	cmdq_enc_completion_wait(c, ((seq & 0xffffff) << 3) | 8, seq, seq & 1);
}

static bool seq_ok(const struct amdvi_cmd *c, uint64_t seq)
{
	struct amdvi_cmd want;

	seq_cmd(&want, seq);
	return !memcmp(c, &want, sizeof(want));
}

struct stall_ctx {
	struct cmdq *q;
	unsigned calls;
	unsigned stall;		/* kicks before one command is consumed */
};

static void kick_stall(void *arg)
{
	struct stall_ctx *k = arg;
	struct amdvi_cmd c;

	if (++k->calls > k->stall)
		cr_assert(cmdq_fetch(k->q, &c));
}

Test(cmdq_ring, full_ring_makes_submit_kick_until_room)
{
	struct stall_ctx k = { .stall = 3 };
	struct cmdq_cfg cfg = { .entries = 256, .kick = kick_stall, .kick_ctx = &k };
	struct amdvi_cmd cmds[256], c;
	struct cmdq_stats st;

	cr_assert_eq(cmdq_create(&cfg, &k.q), 0);
	for (unsigned i = 0; i < 256; i++)
		seq_cmd(&cmds[i], i);
	/* One slot stays empty: 255 fit without a kick. */
	cmdq_submit(k.q, cmds, 255);
	cr_assert_eq(k.calls, 0);
	cr_assert_eq(cmdq_pending(k.q), 255);
	cr_assert_eq(cmdq_head(k.q), 0);
	cr_assert_eq(cmdq_tail(k.q), 255 * 16);
	cmdq_stats_get(k.q, &st);
	cr_assert_eq(st.full_waits, 0);
	cr_assert_eq(st.kicks, 0);

	/* The 256th waits: three kicks free nothing, the fourth frees one slot. */
	cmdq_submit(k.q, &cmds[255], 1);
	cr_assert_eq(k.calls, 4);
	cmdq_stats_get(k.q, &st);
	cr_assert_eq(st.full_waits, 1);
	cr_assert_eq(st.kicks, 4);
	cr_assert_eq(st.submitted, 256);
	cr_assert_eq(st.consumed, 1);
	cr_assert_eq(cmdq_pending(k.q), 255);
	cr_assert_eq(cmdq_head(k.q), 16);
	cr_assert_eq(cmdq_tail(k.q), 0, "tail wrapped to offset 0");
	for (unsigned i = 1; i < 256; i++) {
		cr_assert(cmdq_fetch(k.q, &c));
		cr_assert(seq_ok(&c, i), "slot %u", i);
	}
	cr_assert(!cmdq_fetch(k.q, &c));
	cmdq_destroy(k.q);
}

struct drain_ctx {
	struct cmdq *q;
	uint64_t next;		/* expected sequence number */
	uint64_t bad;		/* first wrong one + 1 */
	struct prng *rng;	/* NULL: drain everything */
	unsigned kicks;
	unsigned kicks_not_full;
};

static void drain_some(struct drain_ctx *k, unsigned max)
{
	struct amdvi_cmd c;

	while (max-- && cmdq_fetch(k->q, &c)) {
		if (!seq_ok(&c, k->next) && !k->bad)
			k->bad = k->next + 1;
		k->next++;
	}
}

static void kick_drain(void *arg)
{
	struct drain_ctx *k = arg;
	unsigned pending = cmdq_pending(k->q);

	k->kicks++;
	if (pending != cmdq_entries(k->q) - 1)
		k->kicks_not_full++;
	if (!k->rng) {
		drain_some(k, ~0U);
		return;
	}
	/* Sometimes consume nothing: the producer must keep kicking. */
	if (prng_below(k->rng, 4) == 0)
		return;
	drain_some(k, 1 + (unsigned)prng_below(k->rng, pending));
}

Test(cmdq_ring, batch_larger_than_the_ring_goes_through_in_order)
{
	struct drain_ctx k = { 0 };
	struct cmdq_cfg cfg = { .entries = 256, .kick = kick_drain, .kick_ctx = &k };
	const unsigned n = 10000;
	struct amdvi_cmd *cmds = calloc(n, sizeof(*cmds));
	struct cmdq_stats st;

	cr_assert_not_null(cmds);
	cr_assert_eq(cmdq_create(&cfg, &k.q), 0);
	for (unsigned i = 0; i < n; i++)
		seq_cmd(&cmds[i], i);
	cmdq_submit(k.q, cmds, n);
	drain_some(&k, ~0U);
	cr_assert_eq(k.bad, 0, "sequence broke at %llu", (unsigned long long)k.bad - 1);
	cr_assert_eq(k.next, n);
	cr_assert_eq(k.kicks_not_full, 0, "submit kicked with room left");
	cmdq_stats_get(k.q, &st);
	cr_assert_eq(st.submitted, n);
	cr_assert_eq(st.consumed, n);
	cr_assert_eq(st.completion_waits, n);
	cr_assert_eq(st.full_waits, (n - 255 + 254) / 255, "one wait per ring of 255");
	cmdq_destroy(k.q);
	free(cmds);
}

Test(cmdq_ring, random_interleavings_keep_fifo_order_across_many_wraps, .timeout = 60)
{
	uint64_t seed = test_seed(0x33);
	struct prng rng;
	struct drain_ctx k = { .rng = &rng };
	struct cmdq_cfg cfg = { .entries = 256, .kick = kick_drain, .kick_ctx = &k };
	struct amdvi_cmd batch[700];
	uint64_t sent = 0;
	struct cmdq_stats st;

	prng_seed(&rng, seed);
	cr_assert_eq(cmdq_create(&cfg, &k.q), 0);
	while (sent < 400000) {
		unsigned n = 1 + (unsigned)prng_below(&rng, prng_below(&rng, 8) ? 40 : 700);
		uint32_t h, t;

		for (unsigned i = 0; i < n; i++)
			seq_cmd(&batch[i], sent + i);
		cmdq_submit(k.q, batch, n);
		sent += n;
		PCHECK(seed, !k.bad, "sequence broke at %llu", (unsigned long long)k.bad - 1);
		h = cmdq_head(k.q);
		t = cmdq_tail(k.q);
		PCHECK(seed, !(h % 16) && !(t % 16) && h < 256 * 16 && t < 256 * 16,
		       "registers head 0x%x tail 0x%x", h, t);
		PCHECK(seed, cmdq_pending(k.q) == sent - k.next,
		       "pending %u, sent %llu consumed %llu", cmdq_pending(k.q),
		       (unsigned long long)sent, (unsigned long long)k.next);
		PCHECK(seed, ((t - h) & (256 * 16 - 1)) / 16 == cmdq_pending(k.q), "views");
		/* The consumer runs between submits too, a random amount. */
		drain_some(&k, (unsigned)prng_below(&rng, cmdq_pending(k.q) + 1));
	}
	drain_some(&k, ~0U);
	PCHECK(seed, !k.bad, "sequence broke at %llu", (unsigned long long)k.bad - 1);
	PCHECK(seed, k.next == sent, "consumed %llu of %llu", (unsigned long long)k.next,
	       (unsigned long long)sent);
	PCHECK(seed, k.kicks_not_full == 0, "submit kicked with room left");
	cmdq_stats_get(k.q, &st);
	PCHECK(seed, st.submitted == sent && st.consumed == sent, "stats");
	PCHECK(seed, st.kicks == k.kicks, "kicks %llu, seen %u",
	       (unsigned long long)st.kicks, k.kicks);
	PCHECK(seed, st.full_waits > 100 && st.full_waits <= st.kicks,
	       "full_waits %llu", (unsigned long long)st.full_waits);
	PCHECK(seed, sent / 256 > 1000, "wraps");
	cmdq_destroy(k.q);
}

struct sem_ctx {
	volatile uint64_t sem;
	unsigned calls;
};

static void kick_count_up(void *arg)
{
	struct sem_ctx *k = arg;

	k->calls++;
	k->sem++;
}

Test(cmdq_ring, wait_store_kicks_until_the_value_appears)
{
	struct sem_ctx k = { .sem = 10 };
	struct cmdq_cfg cfg = { .entries = 256, .kick = kick_count_up, .kick_ctx = &k };
	struct cmdq *q;
	struct cmdq_stats st;

	cr_assert_eq(cmdq_create(&cfg, &q), 0);
	cmdq_wait_store(q, &k.sem, 10);
	cr_assert_eq(k.calls, 0, "already there: no kick");
	cmdq_wait_store(q, &k.sem, 15);
	cr_assert_eq(k.calls, 5);
	cr_assert_eq(k.sem, 15);
	cmdq_stats_get(q, &st);
	cr_assert_eq(st.kicks, 5);
	cmdq_destroy(q);
}

Test(cmdq_ring, stats_count_each_opcode_and_reset)
{
	struct drain_ctx k = { 0 };
	struct cmdq_cfg cfg = { .entries = 256, .kick = kick_drain, .kick_ctx = &k };
	struct amdvi_cmd c[7];
	struct cmdq_stats st;

	cr_assert_eq(cmdq_create(&cfg, &k.q), 0);
	cmdq_enc_completion_wait(&c[0], 0x1000, 1, false);
	cmdq_enc_inv_devtab_entry(&c[1], 1);
	cmdq_enc_inv_iommu_pages(&c[2], 1, 0x1000, false, false);
	cmdq_enc_inv_iommu_pages(&c[3], 1, 0x2000, false, true);
	cmdq_enc_inv_iotlb_pages(&c[4], 1, 0, 1, 0x1000, false);
	cmdq_enc_inv_iommu_all(&c[5]);
	c[6] = (struct amdvi_cmd){ { 0, 6U << 28, 0, 0 } };
	cmdq_submit(k.q, c, 7);
	cmdq_stats_get(k.q, &st);
	cr_assert_eq(st.submitted, 7);
	cr_assert_eq(st.completion_waits, 1);
	cr_assert_eq(st.inv_devtab, 1);
	cr_assert_eq(st.inv_iommu_pages, 2);
	cr_assert_eq(st.inv_iotlb_pages, 1);
	cr_assert_eq(st.inv_all, 1);
	cr_assert_eq(st.other, 1);
	cr_assert_eq(st.consumed, 0);
	cmdq_stats_reset(k.q);
	cmdq_stats_get(k.q, &st);
	cr_assert_eq(st.submitted + st.completion_waits + st.inv_iommu_pages + st.other, 0);
	cr_assert_eq(cmdq_pending(k.q), 7, "reset leaves the ring alone");
	cmdq_destroy(k.q);
}

/* ---- two threads --------------------------------------------------------------- */

#define MT_COMMANDS 1000000ULL

struct mt_ctx {
	struct cmdq *q;
	atomic_ullong consumed;
	atomic_ullong bad;	/* first wrong sequence number + 1 */
};

static void kick_yield(void *arg)
{
	(void)arg;
	sched_yield();
}

static void *consumer_main(void *arg)
{
	struct mt_ctx *m = arg;
	uint64_t next = 0;
	unsigned idle = 0;

	while (next < MT_COMMANDS) {
		struct amdvi_cmd c;

		if (!cmdq_fetch(m->q, &c)) {
			if (++idle % 64 == 0)
				sched_yield();
			else
				__builtin_ia32_pause();
			continue;
		}
		if (!seq_ok(&c, next) && !atomic_load(&m->bad))
			atomic_store(&m->bad, next + 1);
		next++;
		atomic_store_explicit(&m->consumed, next, memory_order_relaxed);
	}
	return NULL;
}

Test(cmdq_ring, two_threads_move_a_million_commands_in_order_without_loss, .timeout = 60)
{
	uint64_t seed = test_seed(0x44);
	struct mt_ctx m = { 0 };
	struct cmdq_cfg cfg = { .entries = 256, .kick = kick_yield, .kick_ctx = &m };
	struct amdvi_cmd batch[512];
	struct cmdq_stats st;
	struct prng rng;
	pthread_t th;
	uint64_t sent = 0;

	prng_seed(&rng, seed);
	cr_assert_eq(cmdq_create(&cfg, &m.q), 0);
	cr_assert_eq(pthread_create(&th, NULL, consumer_main, &m), 0);
	while (sent < MT_COMMANDS) {
		uint64_t n = 1 + prng_below(&rng, 512);

		if (n > MT_COMMANDS - sent)
			n = MT_COMMANDS - sent;
		for (unsigned i = 0; i < n; i++)
			seq_cmd(&batch[i], sent + i);
		cmdq_submit(m.q, batch, n);
		sent += n;
	}
	pthread_join(th, NULL);
	PCHECK(seed, atomic_load(&m.bad) == 0, "sequence broke at %llu",
	       (unsigned long long)atomic_load(&m.bad) - 1);
	PCHECK(seed, atomic_load(&m.consumed) == MT_COMMANDS, "consumed %llu",
	       (unsigned long long)atomic_load(&m.consumed));
	PCHECK(seed, cmdq_pending(m.q) == 0, "left %u", cmdq_pending(m.q));
	cmdq_stats_get(m.q, &st);
	PCHECK(seed, st.submitted == MT_COMMANDS && st.consumed == MT_COMMANDS,
	       "stats %llu %llu", (unsigned long long)st.submitted,
	       (unsigned long long)st.consumed);
	cmdq_destroy(m.q);
}
