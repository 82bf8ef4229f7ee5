// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hv: the model hypervisor under its four strategies (hook, pv, dmalayer,
 * swiotlb) and three flush modes, checked against the threat model of
 * docs/threat-model.md:
 *  1. isolation: a device reaches only frames its domain owns or holds a
 *     grant for, with no more access than granted (swiotlb: any frame);
 *  2. an exhaustive random-operation property test against a reference
 *     model of who may reach what (seeded; IOB_TEST_SEED replays), whose
 *     verdict for swiotlb is that cross-domain DMA is not stopped;
 *  3. allocation failure injected at every allocation of every hypercall
 *     path: the call fails with -ENOMEM, changes nothing, and gives every
 *     allocation back (or keeps it as a table page set aside by
 *     iopt_reserve(), which the table owns and frees);
 *  4. bad arguments: each its errno, nothing changed;
 *  5. Xen's grant reference counting under hook;
 *  6. exposure: nothing in strict mode, only the domain's own frames lazily;
 *  7. structure: pv's dfn records are what its calls read, and every
 *     hypercall is counted by one prologue and epilogue;
 *  8. exchange: machine-contiguous extents below an address limit, in place;
 *  9. swiotlb: untranslated devices, frames with real bytes, bounces through
 *     the guest's pool (lib/dps) that land where they should, a window that
 *     never closes, allocation failure on its paths.
 * Every test ends with hv_destroy() and checks that every allocation was
 * given back and no internal invariant (IOB_WARN_ON) fired.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <iob/alloc.h>
#include <iob/dps.h>
#include <iob/hv.h>
#include <iob/pathctr.h>
#include <iob/warn.h>

#include "prng.h"

#define PG		AMDVI_PAGE_SIZE
#define PG_LG2		AMDVI_PAGE_SIZE_LG2
#define R		IOPT_PROT_READ
#define W		IOPT_PROT_WRITE
#define RW		IOPT_PROT_RW
#define MACHINE		(1ULL << 16)	/* 256 MiB of frames: small and fast */
#define MAXPG		1024		/* gfns per test domain */

static const enum flush_mode modes[] = { FLUSH_STRICT, FLUSH_BATCHED, FLUSH_LAZY };

/* ---- fixture: a hypervisor, its leak and invariant baseline ------------------------ */

struct tb {
	struct hv *hv;
	domid_t a, b, c;	/* three domains, each with one device */
	int64_t live0;
	uint64_t warn0;
};

static uint16_t dev_of(domid_t d)
{
	return (uint16_t)(0x100 + d);
}

static struct hv *hv_new(enum hv_strategy s, enum flush_mode m, bool sp)
{
	struct hv_cfg cfg = {
		.machine_frames = MACHINE,
		.strategy = s,
		.tune = { .flush = m, .superpages = sp },
	};
	struct hv *hv = NULL;

	cr_assert_eq(hv_create(&cfg, &hv), 0);
	return hv;
}

/*
 * Three domains: a and b get a 2 MiB extent at gfn 0 and a few pages at
 * 600..607; c gets gfn 0..3. Devices are assigned after populating, so
 * hook builds each table from the p2m.
 */
static void tb_init(struct tb *t, enum hv_strategy s, enum flush_mode m, bool sp)
{
	domid_t *d[3] = { &t->a, &t->b, &t->c };

	t->live0 = iob_alloc_live();
	t->warn0 = iob_warn_count();
	t->hv = hv_new(s, m, sp);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(hv_domain_create(t->hv, MAXPG, d[i]), 0);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(hv_populate(t->hv, *d[i], 0, 9), 0);
		for (gfn_t g = 600; g < 608; g++)
			cr_assert_eq(hv_populate(t->hv, *d[i], g, 0), 0);
	}
	for (gfn_t g = 0; g < 4; g++)
		cr_assert_eq(hv_populate(t->hv, t->c, g, 0), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(hv_assign_device(t->hv, dev_of(*d[i]), *d[i]), 0);
}

/* Destroy and check: every allocation back, no invariant broken, no frame reused early. */
static void tb_fini(struct tb *t)
{
	struct frames_stats fs;

	frames_stats_get(hv_frames(t->hv), &fs);
	cr_assert_eq(fs.reuse_before_flush, 0, "a frame was handed out with a flush pending");
	hv_destroy(t->hv);
	t->hv = NULL;
	cr_assert_eq(iob_warn_count(), t->warn0, "IOB_WARN_ON fired: %s",
		     iob_warn_message(0) ? iob_warn_message(0) : "?");
	cr_assert_eq(iob_alloc_live(), t->live0, "%lld allocations leaked",
		     (long long)(iob_alloc_live() - t->live0));
}

static uint64_t mfn_of(struct hv *hv, domid_t d, gfn_t g)
{
	uint64_t m = hv_p2m_lookup(hv, d, g, NULL);

	cr_assert_neq(m, INVALID_MFN, "d%u gfn %llu has no frame", d, (unsigned long long)g);
	return m;
}

/* One access of 8 bytes at page @page of @d's device: 0 or -EFAULT, *mfn reached. */
static int dma(struct hv *hv, domid_t d, uint64_t page, unsigned acc, uint64_t *mfn)
{
	struct hv_dma_result r;
	int ret = hv_device_dma(hv, dev_of(d), (page << PG_LG2) + 8, 8, acc, &r);

	if (mfn)
		*mfn = r.mfn_first;
	cr_assert_eq(r.pages, 1);
	cr_assert(ret == 0 || ret == -EFAULT);
	if (!ret)
		cr_assert_eq(r.owner_first, frames_owner(hv_frames(hv), r.mfn_first));
	return ret;
}

static void count_leaf(void *ctx, iova_t iova, paddr_t pa, unsigned size_lg2, unsigned prot)
{
	(void)iova;
	(void)pa;
	(void)prot;
	*(uint64_t *)ctx += 1ULL << (size_lg2 - PG_LG2);
}

/* Pages mapped in @d's table. */
static uint64_t leaves_in(struct hv *hv, domid_t d)
{
	uint64_t n = 0;

	iopt_for_each_leaf(hv_domain_iopt(hv, d), count_leaf, &n);
	return n;
}

/* A call that must fail with @err and change nothing. */
#define EXPECT_ERR(hv, err, call)						\
	do {									\
		uint64_t fp_ = hv_fingerprint(hv);				\
		int64_t live_ = iob_alloc_live();				\
		int ret_ = (call);						\
		cr_assert_eq(ret_, (err), "%s: got %d, want %d", #call, ret_, (err)); \
		cr_assert_eq(hv_fingerprint(hv), fp_, "%s changed state", #call); \
		cr_assert_eq(iob_alloc_live(), live_, "%s leaked", #call);	\
	} while (0)

static void pv_map1(struct hv *hv, domid_t d, gfn_t g, uint64_t dfn, unsigned prot)
{
	struct hv_pv_map_op op = { g, dfn, prot };

	cr_assert_eq(hv_pv_map(hv, d, &op, 1), 0, "pv map gfn %llu dfn %llu",
		     (unsigned long long)g, (unsigned long long)dfn);
}

static grant_ref_t grant(struct hv *hv, domid_t granter, domid_t grantee, gfn_t g, bool ro)
{
	grant_ref_t ref;

	cr_assert_eq(hv_grant_access(hv, granter, grantee, g, ro, &ref), 0);
	return ref;
}

static grant_handle_t gmap(struct hv *hv, domid_t grantee, domid_t granter, grant_ref_t ref,
			   bool ro, gfn_t host, uint64_t *bus)
{
	grant_handle_t h;

	cr_assert_eq(hv_grant_map(hv, grantee, granter, ref, ro, host, &h, bus), 0);
	return h;
}

/* ---- 1. isolation -------------------------------------------------------------------- */

Test(hv_isolation, hook_device_reaches_exactly_its_domains_p2m)
{
	struct tb t;

	tb_init(&t, HV_HOOK, FLUSH_STRICT, true);
	for (domid_t d = t.a; d <= t.c; d++)
		for (gfn_t g = 0; g < MAXPG; g++) {
			enum p2m_type ty;
			uint64_t want = hv_p2m_lookup(t.hv, d, g, &ty), got;
			int ret = dma(t.hv, d, g, W, &got);

			if (ty == P2M_RAM) {
				cr_assert_eq(ret, 0, "d%u gfn %llu", d, (unsigned long long)g);
				cr_assert_eq(got, want);
				cr_assert_eq(frames_owner(hv_frames(t.hv), got), d);
			} else {
				cr_assert_eq(ret, -EFAULT, "d%u reached unpopulated gfn %llu", d,
					     (unsigned long long)g);
			}
		}
	/* The grant window holds nothing until a grant is mapped. */
	for (domid_t d = t.a; d <= t.c; d++)
		cr_assert_eq(dma(t.hv, d, GRANT_DFN_BASE + mfn_of(t.hv, t.b, 1), R, NULL), -EFAULT);
	tb_fini(&t);
}

/*
 * Found by tests/fuzz/fuzz_hv.c: a device no domain has (never assigned, its
 * DTE never written) went through the IOMMU untranslated and reached every
 * domain's frames. It must reach nothing, read or write, under every
 * strategy that protects memory; a device taken away faults too.
 */
Test(hv_isolation, device_of_no_domain_reaches_nothing)
{
	static const enum hv_strategy ss[] = { HV_HOOK, HV_PV, HV_DMALAYER };

	for (size_t i = 0; i < sizeof(ss) / sizeof(ss[0]); i++) {
		struct hv_dma_result r;
		struct tb t;
		uint64_t mfn;

		tb_init(&t, ss[i], FLUSH_STRICT, false);
		mfn = mfn_of(t.hv, t.b, 1);
		cr_assert_eq(hv_device_owner(t.hv, 0x7777), DOMID_INVALID);
		for (unsigned acc = R; acc <= W; acc++) {
			cr_assert_eq(hv_device_dma(t.hv, 0x7777, mfn << PG_LG2, 8, acc, &r), -EFAULT,
				     "%s: an unassigned device reached frame %llu of d%u",
				     hv_strategy_name(ss[i]), (unsigned long long)r.mfn_first,
				     r.owner_first);
			cr_assert_eq(r.faults, 1);
			cr_assert_eq(hv_stale_probe(t.hv, 0x7777, t.b, mfn << PG_LG2, INVALID_MFN), 0);
		}
		cr_assert_eq(hv_deassign_device(t.hv, dev_of(t.a)), 0);
		cr_assert_eq(hv_device_dma(t.hv, dev_of(t.a), 0, 8, R, &r), -EFAULT);
		tb_fini(&t);
	}
}

/*
 * Found by tests/fuzz/fuzz_hv.c under UBSan: populate, decrease and exchange
 * shifted by the order before refusing it, undefined for 64 and more (the
 * ASan+UBSan suite aborts on it). Every such order is -EINVAL, nothing changed.
 */
Test(hv_memory, huge_orders_are_refused_without_shifting_by_them)
{
	static const unsigned orders[] = { 19, 63, 64, 65, 200, UINT32_MAX };
	struct tb t;
	gfn_t g = 0;

	tb_init(&t, HV_HOOK, FLUSH_STRICT, false);
	for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		uint64_t fp = hv_fingerprint(t.hv);

		cr_assert_eq(hv_populate(t.hv, t.c, 0, orders[i]), -EINVAL);
		cr_assert_eq(hv_increase_reservation(t.hv, t.c, &g, 1, orders[i]), -EINVAL);
		cr_assert_eq(hv_decrease_reservation(t.hv, t.c, &g, 1, orders[i]), -EINVAL);
		cr_assert_eq(hv_memory_exchange(t.hv, t.c, &g, 1, orders[i], 32, NULL), -EINVAL);
		cr_assert_eq(hv_fingerprint(t.hv), fp, "order %u changed the state", orders[i]);
	}
	for (unsigned bits = 0; bits < 12; bits++)
		cr_assert_eq(hv_memory_exchange(t.hv, t.c, &g, 1, 0, bits, NULL), -EINVAL);
	tb_fini(&t);
}

/*
 * Found by tests/fuzz/fuzz_hv.c: the end of a device DMA was addr + len, so a
 * range past 2^64 wrapped, translated nothing and returned 0, and one ending
 * at 2^64 - 1 walked 2^52 pages. Now the last page is translated, a wrap or
 * an over-long range is -EINVAL with nothing translated.
 */
Test(hv_isolation, device_dma_near_2_64_neither_wraps_nor_spins)
{
	struct hv_dma_result r;
	uint8_t buf[16];
	struct tb t;

	tb_init(&t, HV_PV, FLUSH_STRICT, false);
	cr_assert_eq(hv_device_dma(t.hv, dev_of(t.a), UINT64_MAX - 4095, 4096, R, &r), -EFAULT);
	cr_assert_eq(r.pages, 1);
	cr_assert_eq(hv_device_dma(t.hv, dev_of(t.a), UINT64_MAX - 4095, 4095, R, &r), -EFAULT);
	cr_assert_eq(r.pages, 1);
	cr_assert_eq(hv_device_dma(t.hv, dev_of(t.a), UINT64_MAX, 0, W, &r), -EFAULT);
	cr_assert_eq(r.pages, 1);
	cr_assert_eq(hv_device_dma(t.hv, dev_of(t.a), UINT64_MAX - 4095, 8192, R, &r), -EINVAL);
	cr_assert_eq(r.pages, 0);
	cr_assert_eq(hv_device_dma(t.hv, dev_of(t.a), 0, HV_DMA_BYTES_MAX + 1, R, &r), -EINVAL);
	cr_assert_eq(hv_device_dma(t.hv, dev_of(t.a), 0, UINT64_MAX, R, &r), -EINVAL);
	tb_fini(&t);
	tb_init(&t, HV_SWIOTLB, FLUSH_STRICT, false);
	cr_assert_eq(hv_device_rw(t.hv, dev_of(t.a), UINT64_MAX - 7, buf, 16, W, &r), -EINVAL);
	cr_assert_eq(r.pages, 0);
	tb_fini(&t);
}

Test(hv_isolation, pv_map_of_a_gfn_the_domain_does_not_own_is_eperm)
{
	struct tb t;
	grant_ref_t ref;
	grant_handle_t h;

	tb_init(&t, HV_PV, FLUSH_STRICT, false);
	ref = grant(t.hv, t.b, t.a, 1, false);
	/* b's gfn 700 is not a's: unpopulated in a's p2m. */
	EXPECT_ERR(t.hv, -EPERM, hv_pv_map(t.hv, t.a, &(struct hv_pv_map_op){ 700, 5, R }, 1));
	/* Past the p2m. */
	EXPECT_ERR(t.hv, -EPERM, hv_pv_map(t.hv, t.a, &(struct hv_pv_map_op){ MAXPG, 5, R }, 1));
	EXPECT_ERR(t.hv, -EPERM, hv_pv_map(t.hv, t.a, &(struct hv_pv_map_op){ ~0ULL, 5, R }, 1));
	/* A grant held but not mapped gives no gfn. */
	EXPECT_ERR(t.hv, -EPERM, hv_pv_map(t.hv, t.a, &(struct hv_pv_map_op){ 800, 5, R }, 1));
	/* Mapped, then unmapped: gone again. */
	h = gmap(t.hv, t.a, t.b, ref, false, 800, NULL);
	cr_assert_eq(hv_grant_unmap(t.hv, t.a, h), 0);
	EXPECT_ERR(t.hv, -EPERM, hv_pv_map(t.hv, t.a, &(struct hv_pv_map_op){ 800, 5, R }, 1));
	/* Ballooned out. */
	cr_assert_eq(hv_decrease_reservation(t.hv, t.a, &(gfn_t){ 601 }, 1, 0), 0);
	EXPECT_ERR(t.hv, -EPERM, hv_pv_map(t.hv, t.a, &(struct hv_pv_map_op){ 601, 5, R }, 1));
	/* One bad entry refuses the whole batch. */
	EXPECT_ERR(t.hv, -EPERM, hv_pv_map(t.hv, t.a, (struct hv_pv_map_op[]){
		{ 1, 5, RW }, { 2, 6, RW }, { 700, 7, R } }, 3));
	cr_assert_eq(dma(t.hv, t.a, 5, R, NULL), -EFAULT);
	tb_fini(&t);
}

Test(hv_isolation, writable_map_of_a_read_only_grant_is_eacces)
{
	for (int s = HV_PV; s <= HV_DMALAYER; s++) {
		struct tb t;
		grant_ref_t ref;
		iova_t iova;

		tb_init(&t, s, FLUSH_STRICT, false);
		ref = grant(t.hv, t.b, t.a, 3, true);
		EXPECT_ERR(t.hv, -EACCES, hv_grant_map(t.hv, t.a, t.b, ref, false, 800,
						       &(grant_handle_t){ 0 }, NULL));
		gmap(t.hv, t.a, t.b, ref, true, 800, NULL);
		if (s == HV_PV) {
			EXPECT_ERR(t.hv, -EACCES, hv_pv_map(t.hv, t.a,
				   &(struct hv_pv_map_op){ 800, 9, W }, 1));
			EXPECT_ERR(t.hv, -EACCES, hv_pv_map(t.hv, t.a,
				   &(struct hv_pv_map_op){ 800, 9, RW }, 1));
			pv_map1(t.hv, t.a, 800, 9, R);
		} else {
			EXPECT_ERR(t.hv, -EACCES, hv_dma_map(t.hv, t.a, dev_of(t.a),
				   (gfn_t[]){ 1, 800 }, 2, W, &iova));
			EXPECT_ERR(t.hv, -EACCES, hv_dma_map(t.hv, t.a, dev_of(t.a),
				   (gfn_t[]){ 800 }, 1, RW, &iova));
			cr_assert_eq(hv_dma_map(t.hv, t.a, dev_of(t.a), (gfn_t[]){ 800 }, 1, R,
						&iova), 0);
		}
		tb_fini(&t);
	}
}

Test(hv_isolation, hook_device_write_through_read_only_grant_faults)
{
	struct tb t;
	grant_ref_t ref;
	uint64_t bus, got, m;

	tb_init(&t, HV_HOOK, FLUSH_STRICT, true);
	m = mfn_of(t.hv, t.b, 5);
	ref = grant(t.hv, t.b, t.a, 5, true);
	gmap(t.hv, t.a, t.b, ref, true, 800, &bus);
	cr_assert_eq(bus, (GRANT_DFN_BASE + m) << PG_LG2);
	cr_assert_eq(dma(t.hv, t.a, bus >> PG_LG2, R, &got), 0);
	cr_assert_eq(got, m);
	cr_assert_eq(frames_owner(hv_frames(t.hv), got), t.b);
	cr_assert_eq(dma(t.hv, t.a, bus >> PG_LG2, W, NULL), -EFAULT);
	/* Nor does the host gfn reach it: grants live only in the grant window. */
	cr_assert_eq(dma(t.hv, t.a, 800, R, NULL), -EFAULT);
	/* c holds no grant: its device reaches nothing there. */
	cr_assert_eq(dma(t.hv, t.c, bus >> PG_LG2, R, NULL), -EFAULT);
	tb_fini(&t);
}

Test(hv_isolation, device_write_through_read_only_pv_or_dma_mapping_faults)
{
	for (int s = HV_PV; s <= HV_DMALAYER; s++) {
		struct tb t;
		grant_ref_t ref;
		iova_t iova = 0;
		uint64_t page_grant, page_own, got;

		tb_init(&t, s, FLUSH_STRICT, false);
		ref = grant(t.hv, t.b, t.a, 5, false);	/* a writable grant, mapped for reading */
		gmap(t.hv, t.a, t.b, ref, false, 800, NULL);
		if (s == HV_PV) {
			pv_map1(t.hv, t.a, 800, 40, R);
			pv_map1(t.hv, t.a, 7, 41, R);
			page_grant = 40;
			page_own = 41;
		} else {
			cr_assert_eq(hv_dma_map(t.hv, t.a, dev_of(t.a), (gfn_t[]){ 800, 7 }, 2, R,
						&iova), 0);
			page_grant = iova >> PG_LG2;
			page_own = page_grant + 1;
		}
		cr_assert_eq(dma(t.hv, t.a, page_grant, R, &got), 0);
		cr_assert_eq(got, mfn_of(t.hv, t.b, 5));
		cr_assert_eq(dma(t.hv, t.a, page_grant, W, NULL), -EFAULT);
		cr_assert_eq(dma(t.hv, t.a, page_own, R, &got), 0);
		cr_assert_eq(got, mfn_of(t.hv, t.a, 7));
		cr_assert_eq(dma(t.hv, t.a, page_own, W, NULL), -EFAULT);
		/* Another domain's device sees none of it. */
		cr_assert_eq(dma(t.hv, t.b, page_grant, R, NULL), -EFAULT);
		tb_fini(&t);
	}
}

/*
 * A pv mapping made writable through a writable grant must keep that
 * grant mapped, even when the same frame is also mapped through a
 * read-only grant whose own pv mapping goes first: otherwise the guest
 * unmaps the writable grant and its device still writes the frame.
 */
Test(hv_isolation, writable_pv_mapping_pins_the_writable_grant_it_came_through)
{
	for (int s = HV_PV; s <= HV_DMALAYER; s++) {
		struct tb t;
		grant_ref_t rw, ro;
		grant_handle_t hrw, hro;
		iova_t i_rw = 0, i_ro = 0;
		uint64_t p_rw = 40;

		tb_init(&t, s, FLUSH_STRICT, false);
		rw = grant(t.hv, t.b, t.a, 5, false);
		ro = grant(t.hv, t.b, t.a, 5, true);
		hrw = gmap(t.hv, t.a, t.b, rw, false, 800, NULL);
		hro = gmap(t.hv, t.a, t.b, ro, true, 801, NULL);
		if (s == HV_PV) {
			pv_map1(t.hv, t.a, 800, 40, RW);
			pv_map1(t.hv, t.a, 801, 41, R);
			cr_assert_eq(hv_pv_unmap(t.hv, t.a, (uint64_t[]){ 41 }, 1), 0);
		} else {
			cr_assert_eq(hv_dma_map(t.hv, t.a, dev_of(t.a), (gfn_t[]){ 800 }, 1, RW,
						&i_rw), 0);
			cr_assert_eq(hv_dma_map(t.hv, t.a, dev_of(t.a), (gfn_t[]){ 801 }, 1, R,
						&i_ro), 0);
			cr_assert_eq(hv_dma_unmap(t.hv, t.a, dev_of(t.a), i_ro, PG), 0);
			p_rw = i_rw >> PG_LG2;
		}
		EXPECT_ERR(t.hv, -EBUSY, hv_grant_unmap(t.hv, t.a, hrw));
		cr_assert_eq(hv_grant_unmap(t.hv, t.a, hro), 0);
		cr_assert_eq(hv_grant_end(t.hv, t.b, ro), 0);
		EXPECT_ERR(t.hv, -EBUSY, hv_grant_end(t.hv, t.b, rw));
		cr_assert_eq(dma(t.hv, t.a, p_rw, W, NULL), 0);
		if (s == HV_PV)
			cr_assert_eq(hv_pv_unmap(t.hv, t.a, (uint64_t[]){ 40 }, 1), 0);
		else
			cr_assert_eq(hv_dma_unmap(t.hv, t.a, dev_of(t.a), i_rw, PG), 0);
		cr_assert_eq(dma(t.hv, t.a, p_rw, W, NULL), -EFAULT);
		cr_assert_eq(hv_grant_unmap(t.hv, t.a, hrw), 0);
		cr_assert_eq(hv_grant_end(t.hv, t.b, rw), 0);
		tb_fini(&t);
	}
}

Test(hv_isolation, strict_dma_after_pv_or_dma_unmap_faults)
{
	for (int s = HV_PV; s <= HV_DMALAYER; s++) {
		struct tb t;
		uint64_t page, got;
		iova_t iova = 0;

		tb_init(&t, s, FLUSH_STRICT, true);
		if (s == HV_PV) {
			pv_map1(t.hv, t.a, 3, 77, RW);
			page = 77;
		} else {
			cr_assert_eq(hv_dma_map(t.hv, t.a, dev_of(t.a), (gfn_t[]){ 3 }, 1, RW,
						&iova), 0);
			page = iova >> PG_LG2;
		}
		/* Warm the IOTLB: the unmap must take the cached entry too. */
		cr_assert_eq(dma(t.hv, t.a, page, W, &got), 0);
		cr_assert_eq(dma(t.hv, t.a, page, R, &got), 0);
		cr_assert_eq(got, mfn_of(t.hv, t.a, 3));
		if (s == HV_PV)
			cr_assert_eq(hv_pv_unmap(t.hv, t.a, &page, 1), 0);
		else
			cr_assert_eq(hv_dma_unmap(t.hv, t.a, dev_of(t.a), iova, PG), 0);
		cr_assert_eq(dma(t.hv, t.a, page, R, NULL), -EFAULT);
		cr_assert_eq(dma(t.hv, t.a, page, W, NULL), -EFAULT);
		tb_fini(&t);
	}
}

Test(hv_isolation, strict_dma_after_balloon_out_or_grant_unmap_faults_under_hook)
{
	for (int sp = 0; sp < 2; sp++) {
		struct tb t;
		grant_ref_t ref;
		grant_handle_t h;
		uint64_t bus, m;

		tb_init(&t, HV_HOOK, FLUSH_STRICT, sp);
		/* gfn 10 sits in a 2 MiB leaf with superpages: the unmap splits it. */
		cr_assert_eq(dma(t.hv, t.a, 10, W, NULL), 0);
		cr_assert_eq(dma(t.hv, t.a, 11, W, NULL), 0);
		cr_assert_eq(hv_decrease_reservation(t.hv, t.a, &(gfn_t){ 10 }, 1, 0), 0);
		cr_assert_eq(dma(t.hv, t.a, 10, R, NULL), -EFAULT);
		cr_assert_eq(dma(t.hv, t.a, 11, W, NULL), 0, "the neighbour survives the split");
		cr_assert_eq(dma(t.hv, t.a, 9, W, NULL), 0);

		m = mfn_of(t.hv, t.b, 6);
		ref = grant(t.hv, t.b, t.a, 6, false);
		h = gmap(t.hv, t.a, t.b, ref, false, 800, &bus);
		cr_assert_eq(dma(t.hv, t.a, bus >> PG_LG2, W, NULL), 0);
		cr_assert_eq(hv_grant_unmap(t.hv, t.a, h), 0);
		cr_assert_eq(dma(t.hv, t.a, GRANT_DFN_BASE + m, R, NULL), -EFAULT);
		cr_assert_eq(hv_grant_end(t.hv, t.b, ref), 0);
		tb_fini(&t);
	}
}

Test(hv_isolation, destroy_with_mutual_grant_mappings_frees_everything)
{
	for (int s = 0; s < HV_STRATEGY_NR; s++)
		for (int mi = 0; mi < 3; mi++) {
			struct tb t;
			grant_ref_t ab, ba;

			tb_init(&t, s, modes[mi], false);
			ab = grant(t.hv, t.a, t.b, 1, false);
			ba = grant(t.hv, t.b, t.a, 1, true);
			gmap(t.hv, t.b, t.a, ab, false, 800, NULL);
			gmap(t.hv, t.a, t.b, ba, true, 800, NULL);
			if (s == HV_PV)
				pv_map1(t.hv, t.a, 800, 12, R);
			/* Each is busy while the other maps its grant. */
			cr_assert_eq(hv_domain_destroy(t.hv, t.a), -EBUSY);
			cr_assert_eq(hv_domain_destroy(t.hv, t.b), -EBUSY);
			tb_fini(&t);
		}
}

/* ---- 2. property: random operations against a reference model ------------------------------ */

/*
 * Three domains, each with a device, run random grant, balloon, pv and
 * DMA-layer operations (valid ones and ones with one fault put in). The
 * model knows every p2m entry, grant, grant mapping and device mapping,
 * so it knows exactly what each device may reach ("exact"); in lazy mode
 * it also keeps, per domain, what the domain unmapped since its flush
 * queue was last empty ("stale"). After every operation each device DMAs
 * to chosen and random addresses, and every result is checked:
 *  - a hit reaches the exact frame with the exact rights, or (lazy only) a
 *    stale one of the same page whose frame still has an invalidation
 *    pending (frames_pending() > 0);
 *  - every frame reached is owned by the domain, grant-mapped by it, or
 *    pending, and never free;
 *  - an exact mapping with the rights asked for never faults, unless a
 *    stale entry of that page may shadow it (lazy);
 *  - no frame is ever handed out with an invalidation pending.
 * Every 97 operations the p2m, the I/O page table and every frame's
 * owner and reference count are compared with the model in full.
 */
#define PD		3		/* domains */
#define PDFNS		4096		/* pv dfns, DMA-layer IOVA pages: below this */
#define PGNT		40		/* live grants per granter, at most */
#define PMT		20		/* live grant mappings per grantee, at most */
#define PDMA		40		/* live DMA-layer mappings per domain, at most */
#define POPS		2500		/* operations per configuration */

struct m_grant {
	bool in_use, ro;
	domid_t grantee;
	gfn_t gfn;
	unsigned maps;
	bool maybe_pinned;	/* lazy: an unmap of it may still wait for its flush */
};

struct m_mt {
	bool in_use, ro;
	domid_t granter;
	grant_ref_t ref;
	gfn_t host;
	uint64_t mfn;
	unsigned users;		/* pv / DMA-layer mappings made through it */
};

/* One pv dfn or DMA-layer IOVA page. */
struct m_xm {
	uint64_t mfn;		/* INVALID_MFN: not mapped */
	unsigned prot;
	int mt;			/* grant mapping it was made through, or -1: own RAM */
};

struct m_dma {
	iova_t iova;
	unsigned n, dir;
};

struct m_stale {
	uint64_t page, mfn;
	unsigned prot;
};

struct m_dom {
	domid_t id;
	uint64_t p2m[MAXPG];
	uint8_t type[MAXPG];
	struct m_grant gnt[PGNT];
	struct m_mt mt[PMT];
	struct m_xm xm[PDFNS];
	struct m_dma dmas[PDMA];
	unsigned ndma;
	unsigned nxm;		/* pages in xm[] */
	struct m_stale *stale;
	size_t nstale, capstale;
};

struct model {
	struct hv *hv;
	enum hv_strategy s;
	enum flush_mode mode;
	bool sp;
	struct m_dom dom[PD];
	domid_t fowner[MACHINE];
	uint32_t refs[MACHINE];
	struct prng rng;
	uint64_t seed, op, warn0;
	const char *what;
	struct flush_stats fs;		/* scratch: large */
	uint64_t n_ok, n_err, n_dma, n_dma_hits, n_stale_hits;
	uint64_t n_cross;	/* DMAs that reached a frame of another domain or none */
};

#define PCHECK(m, cond, fmt, ...)						\
	cr_assert((cond), "IOB_TEST_SEED=0x%016llx %s/%s/%s op %llu %s: " fmt,	\
		  (unsigned long long)(m)->seed, hv_strategy_name((m)->s),	\
		  flush_mode_name((m)->mode), (m)->sp ? "superpages" : "4k",	\
		  (unsigned long long)(m)->op, (m)->what, ##__VA_ARGS__)

static uint64_t rnd(struct model *m, uint64_t n)
{
	return prng_below(&m->rng, n);
}

static bool chance(struct model *m, unsigned percent)
{
	return rnd(m, 100) < percent;
}

static struct m_dom *mdom(struct model *m, unsigned i)
{
	return &m->dom[i];
}

static bool lazy(const struct model *m)
{
	return m->mode == FLUSH_LAZY;
}

static void stale_add(struct model *m, struct m_dom *md, uint64_t page, uint64_t mfn, unsigned prot)
{
	if (!lazy(m))
		return;
	if (md->nstale == md->capstale) {
		md->capstale = md->capstale ? 2 * md->capstale : 256;
		md->stale = realloc(md->stale, md->capstale * sizeof(*md->stale));
		cr_assert_not_null(md->stale);
	}
	md->stale[md->nstale++] = (struct m_stale){ page, mfn, prot };
}

/* Forget stale entries for @page of @md (or for frame @mfn anywhere). */
static void stale_drop_page(struct m_dom *md, uint64_t page)
{
	for (size_t i = 0; i < md->nstale;)
		if (md->stale[i].page == page)
			md->stale[i] = md->stale[--md->nstale];
		else
			i++;
}

static void stale_drop_mfn(struct model *m, uint64_t mfn)
{
	for (unsigned d = 0; d < PD; d++) {
		struct m_dom *md = mdom(m, d);

		for (size_t i = 0; i < md->nstale;)
			if (md->stale[i].mfn == mfn)
				md->stale[i] = md->stale[--md->nstale];
			else
				i++;
	}
}

static unsigned pop2(unsigned n)
{
	unsigned p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/* ---- the model's view of a device's reach ---- */

/*
 * What @md's device may reach at @page right now: 0 (nothing) or the rights,
 * *mfn. Under swiotlb nothing is in the way: every address is a machine
 * address, whoever owns the frame (threat 1, cross-domain DMA, is open).
 */
static unsigned exact(const struct model *m, const struct m_dom *md, uint64_t page, uint64_t *mfn)
{
	if (m->s == HV_SWIOTLB) {
		*mfn = page;
		return RW;
	}
	if (m->s != HV_HOOK) {
		if (page >= PDFNS || md->xm[page].mfn == INVALID_MFN)
			return 0;
		*mfn = md->xm[page].mfn;
		return md->xm[page].prot;
	}
	if (page < MAXPG) {
		if (md->type[page] != P2M_RAM)
			return 0;
		*mfn = md->p2m[page];
		return RW;
	}
	if (page >= GRANT_DFN_BASE) {
		unsigned prot = 0;

		for (unsigned h = 0; h < PMT; h++)
			if (md->mt[h].in_use && md->mt[h].mfn == page - GRANT_DFN_BASE)
				prot |= md->mt[h].ro ? R : RW;
		*mfn = page - GRANT_DFN_BASE;
		return prot;
	}
	return 0;
}

static bool has_grant_mapped(const struct m_dom *md, uint64_t mfn)
{
	for (unsigned h = 0; h < PMT; h++)
		if (md->mt[h].in_use && md->mt[h].mfn == mfn)
			return true;
	return false;
}

/* Is the frame of @md's handle @h also mapped through a handle before it? */
static bool has_grant_mapped_before(const struct m_dom *md, unsigned h)
{
	for (unsigned k = 0; k < h; k++)
		if (md->mt[k].in_use && md->mt[k].mfn == md->mt[h].mfn)
			return true;
	return false;
}

static gfn_t pick_gfn(struct model *m, const struct m_dom *md, bool want_ram, bool want_free);

static uint64_t pick_target(struct model *m, struct m_dom *md)
{
	uint64_t r = rnd(m, 100), mfn;

	if (m->s == HV_SWIOTLB) {
		/* Machine addresses: a domain's frame (its own or another's), or any. */
		struct m_dom *o = chance(m, 50) ? md : mdom(m, (unsigned)rnd(m, PD));
		gfn_t g = pick_gfn(m, o, true, false);

		return r < 80 && g != ~0ULL ? o->p2m[g] : rnd(m, MACHINE + 64);
	}
	if (r < 25 && md->nstale)
		return md->stale[rnd(m, md->nstale)].page;
	if (r < 75) {
		for (int tries = 0; tries < 128; tries++) {
			uint64_t page;

			if (m->s != HV_HOOK)
				page = 1 + rnd(m, PDFNS - 1);
			else if (chance(m, 80))
				page = rnd(m, MAXPG);
			else
				page = GRANT_DFN_BASE + md->mt[rnd(m, PMT)].mfn;
			if (exact(m, md, page, &mfn))
				return page;
		}
	}
	if (r < 85)	/* another domain's mapped page */
		return pick_target(m, mdom(m, (unsigned)rnd(m, PD)));
	if (m->s == HV_HOOK && chance(m, 50))
		return GRANT_DFN_BASE + rnd(m, MACHINE);
	return rnd(m, m->s == HV_HOOK ? MAXPG + 64 : PDFNS + 64);
}

static void check_dma(struct model *m, struct m_dom *md, uint64_t page, unsigned acc)
{
	struct hv_dma_result r;
	uint64_t xmfn = INVALID_MFN;
	unsigned xprot = exact(m, md, page, &xmfn);
	bool shadowed = false, stale_ok = false;
	int ret = hv_device_dma(m->hv, dev_of(md->id), (page << PG_LG2) | rnd(m, PG - 8), 8, acc, &r);

	m->n_dma++;
	if (m->s == HV_SWIOTLB) {
		PCHECK(m, !ret && r.mfn_first == xmfn && xprot == RW,
		       "d%u machine page 0x%llx: dma returned %d, frame %llu", md->id,
		       (unsigned long long)page, ret, (unsigned long long)r.mfn_first);
		PCHECK(m, r.owner_first == frames_owner(hv_frames(m->hv), page), "owner");
		m->n_dma_hits++;
		m->n_cross += r.owner_first != md->id && !has_grant_mapped(md, page);
		return;
	}
	for (size_t i = 0; i < md->nstale; i++) {
		const struct m_stale *st = &md->stale[i];

		if (st->page != page)
			continue;
		shadowed = true;
		if (!ret && st->mfn == r.mfn_first && (st->prot & acc) == acc)
			stale_ok = true;
	}
	if (ret) {
		PCHECK(m, ret == -EFAULT && r.faults == 1, "dma returned %d", ret);
		PCHECK(m, (xprot & acc) != acc || shadowed,
		       "d%u page 0x%llx: access %u faulted but the model maps it to frame %llu, prot %u",
		       md->id, (unsigned long long)page, acc, (unsigned long long)xmfn, xprot);
		return;
	}
	m->n_dma_hits++;
	PCHECK(m, r.owner_first != DOMID_INVALID,
	       "d%u page 0x%llx reached free frame %llu", md->id, (unsigned long long)page,
	       (unsigned long long)r.mfn_first);
	PCHECK(m, r.owner_first == md->id || has_grant_mapped(md, r.mfn_first) ||
		  frames_pending(hv_frames(m->hv), r.mfn_first) > 0,
	       "d%u page 0x%llx reached frame %llu of d%u: neither its own, granted nor pending",
	       md->id, (unsigned long long)page, (unsigned long long)r.mfn_first, r.owner_first);
	if (xmfn == r.mfn_first && (xprot & acc) == acc) {
		PCHECK(m, r.owner_first == m->fowner[r.mfn_first], "frame %llu owner %u, model %u",
		       (unsigned long long)r.mfn_first, r.owner_first, m->fowner[r.mfn_first]);
		return;
	}
	PCHECK(m, stale_ok && frames_pending(hv_frames(m->hv), r.mfn_first) > 0,
	       "d%u page 0x%llx access %u reached frame %llu (owner d%u, pending %u); the model "
	       "allows frame %llu prot %u%s", md->id, (unsigned long long)page, acc,
	       (unsigned long long)r.mfn_first, r.owner_first,
	       frames_pending(hv_frames(m->hv), r.mfn_first), (unsigned long long)xmfn, xprot,
	       shadowed ? " or a stale entry of other frame or rights" : "");
	m->n_stale_hits++;
}

/* ---- invariants after every operation ---- */

static void m_after(struct model *m)
{
	struct frames_stats fst;

	PCHECK(m, iob_warn_count() == m->warn0, "IOB_WARN_ON fired: %s",
	       iob_warn_message(0) ? iob_warn_message(0) : "?");
	frames_stats_get(hv_frames(m->hv), &fst);
	PCHECK(m, fst.reuse_before_flush == 0, "a frame was reused with an invalidation pending");
	for (unsigned d = 0; d < PD; d++) {
		struct m_dom *md = mdom(m, d);

		if (!lazy(m) && m->op % 8)
			continue;
		flush_stats_get(hv_domain_flush(m->hv, md->id), &m->fs);
		if (m->mode == FLUSH_STRICT)
			PCHECK(m, m->fs.pending == 0, "strict: %llu unmaps pending",
			       (unsigned long long)m->fs.pending);
		if (m->fs.pending)
			continue;
		/* Queue empty: every translation it held is invalidated, every release done. */
		md->nstale = 0;
		for (unsigned g = 0; g < PD; g++)
			for (unsigned r = 0; r < PGNT; r++)
				if (mdom(m, g)->gnt[r].grantee == md->id)
					mdom(m, g)->gnt[r].maybe_pinned = false;
	}
	for (unsigned d = 0; d < PD; d++)
		for (int k = 0; k < 3; k++) {
			struct m_dom *md = mdom(m, d);

			check_dma(m, md, pick_target(m, md), chance(m, 50) ? R : W);
		}
}

/*
 * Every device mapping of a frame @me does not own is covered by a grant
 * mapping of it that @me holds, a writable one for a writable mapping:
 * otherwise the device keeps rights the domain no longer has.
 */
static void check_grant_cover(struct model *m, const struct m_dom *me)
{
	if (m->s == HV_HOOK)
		return;
	for (uint64_t p = 0; p < PDFNS; p++) {
		const struct m_xm *x = &me->xm[p];
		bool covered = false;

		if (x->mfn == INVALID_MFN || m->fowner[x->mfn] == me->id)
			continue;
		for (unsigned k = 0; k < PMT && !covered; k++)
			covered = me->mt[k].in_use && me->mt[k].mfn == x->mfn &&
				  (!(x->prot & W) || !me->mt[k].ro);
		PCHECK(m, covered, "d%u page 0x%llx maps frame %llu of d%u prot %u, but d%u holds "
		       "no grant mapping giving that right", me->id, (unsigned long long)p,
		       (unsigned long long)x->mfn, m->fowner[x->mfn], x->prot, me->id);
	}
}

struct leaf_ctx {
	struct model *m;
	struct m_dom *md;
	uint64_t pages;
};

static void check_leaf(void *ctx, iova_t iova, paddr_t pa, unsigned size_lg2, unsigned prot)
{
	struct leaf_ctx *c = ctx;

	for (uint64_t i = 0; i < (1ULL << (size_lg2 - PG_LG2)); i++) {
		uint64_t page = (iova >> PG_LG2) + i, mfn = INVALID_MFN;
		unsigned xprot = exact(c->m, c->md, page, &mfn);

		PCHECK(c->m, xprot == prot && mfn == (pa >> PG_LG2) + i,
		       "d%u table maps page 0x%llx to %llu prot %u; model: %llu prot %u", c->md->id,
		       (unsigned long long)page, (unsigned long long)(pa >> PG_LG2) + i, prot,
		       (unsigned long long)mfn, xprot);
		c->pages++;
	}
}

/* Everything against the model: p2m, tables, every frame's owner and references. */
static void m_full_check(struct model *m)
{
	struct frames *fr = hv_frames(m->hv);
	struct frames_stats fst;
	uint64_t used = 0;

	if (lazy(m)) {
		hv_sync(m->hv);
		for (unsigned d = 0; d < PD; d++)
			mdom(m, d)->nstale = 0;
	}
	memset(m->refs, 0, sizeof(m->refs));
	for (unsigned d = 0; d < PD; d++) {
		struct m_dom *md = mdom(m, d);
		struct leaf_ctx lc = { m, md, 0 };
		uint64_t want = 0;

		for (gfn_t g = 0; g < MAXPG; g++) {
			enum p2m_type ty;
			uint64_t mfn = hv_p2m_lookup(m->hv, md->id, g, &ty);

			PCHECK(m, mfn == md->p2m[g] && ty == md->type[g],
			       "d%u gfn %llu: hv %llu/%d, model %llu/%d", md->id, (unsigned long long)g,
			       (unsigned long long)mfn, ty, (unsigned long long)md->p2m[g], md->type[g]);
			if (ty == P2M_RAM) {
				m->refs[mfn]++;
				want += m->s == HV_HOOK;
			}
		}
		for (unsigned h = 0; h < PMT; h++)
			if (md->mt[h].in_use) {
				m->refs[md->mt[h].mfn]++;
				if (m->s == HV_HOOK) {
					uint64_t x;

					/* one entry per frame however often mapped */
					want += exact(m, md, GRANT_DFN_BASE + md->mt[h].mfn, &x) &&
						!has_grant_mapped_before(md, h);
				}
			}
		for (uint64_t p = 0; p < PDFNS; p++)
			if (md->xm[p].mfn != INVALID_MFN) {
				m->refs[md->xm[p].mfn]++;
				want++;
			}
		check_grant_cover(m, md);
		iopt_for_each_leaf(hv_domain_iopt(m->hv, md->id), check_leaf, &lc);
		PCHECK(m, lc.pages == want, "d%u table maps %llu pages, model %llu", md->id,
		       (unsigned long long)lc.pages, (unsigned long long)want);
		PCHECK(m, iopt_check(hv_domain_iopt(m->hv, md->id)) == 0, "d%u table broken", md->id);
	}
	for (uint64_t f = 0; f < MACHINE; f++) {
		PCHECK(m, frames_refs(fr, f) == m->refs[f], "frame %llu: %u references, model %u",
		       (unsigned long long)f, frames_refs(fr, f), m->refs[f]);
		PCHECK(m, frames_owner(fr, f) == (m->refs[f] ? m->fowner[f] : DOMID_INVALID),
		       "frame %llu owner %u, model %u (%u refs)", (unsigned long long)f,
		       frames_owner(fr, f), m->fowner[f], m->refs[f]);
		PCHECK(m, !frames_pending(fr, f), "frame %llu pending after a sync",
		       (unsigned long long)f);
		used += m->refs[f] != 0;
	}
	frames_stats_get(fr, &fst);
	PCHECK(m, fst.free_frames == MACHINE - used, "%llu free frames, model %llu",
	       (unsigned long long)fst.free_frames, (unsigned long long)(MACHINE - used));
}

/* ---- operations ---- */

/* A call expected to return @want (0 or an errno); failed calls change nothing. */
static bool m_call_ok(struct model *m, int got, int want, uint64_t fp)
{
	PCHECK(m, got == want, "got %d, want %d", got, want);
	if (got) {
		PCHECK(m, hv_fingerprint(m->hv) == fp, "failed call (%d) changed state", got);
		m->n_err++;
		return false;
	}
	m->n_ok++;
	return true;
}

static uint64_t fp_if(struct model *m, int want)
{
	return want ? hv_fingerprint(m->hv) : 0;
}

static gfn_t pick_gfn(struct model *m, const struct m_dom *md, bool want_ram, bool want_free)
{
	for (int tries = 0; tries < 64; tries++) {
		gfn_t g = rnd(m, MAXPG);

		if (want_ram && md->type[g] == P2M_RAM)
			return g;
		if (want_free && md->type[g] == P2M_INVALID)
			return g;
		if (!want_ram && !want_free && md->type[g] != P2M_INVALID)
			return g;
	}
	return ~0ULL;
}

static void op_grant_access_(struct model *m)
{
	unsigned di = (unsigned)rnd(m, PD), ei = (di + 1 + (unsigned)rnd(m, PD - 1)) % PD;
	struct m_dom *md = mdom(m, di), *me;
	unsigned live = 0;
	gfn_t g;
	bool ro = chance(m, 40);
	grant_ref_t ref = 0;
	int want = 0, ret;
	uint64_t fp;

	m->what = "grant_access";
	for (unsigned r = 0; r < PGNT; r++)
		live += md->gnt[r].in_use;
	if (live >= PGNT - 1)
		return;
	if (chance(m, 4))
		ei = di;
	me = mdom(m, ei);
	g = chance(m, 90) ? pick_gfn(m, md, true, false) : rnd(m, MAXPG + 8);
	if (g == ~0ULL)
		g = 0;
	/* Often a page already granted: one frame behind several grants, writable and not. */
	for (int tries = 0; tries < 8 && chance(m, 40); tries++) {
		grant_ref_t r = (grant_ref_t)rnd(m, PGNT);

		if (md->gnt[r].in_use && md->type[md->gnt[r].gfn] == P2M_RAM) {
			g = md->gnt[r].gfn;
			break;
		}
	}
	if (ei == di)
		want = -EINVAL;
	else if (g >= MAXPG || md->type[g] != P2M_RAM)
		want = -ENOENT;
	fp = fp_if(m, want);
	ret = hv_grant_access(m->hv, md->id, me->id, g, ro, &ref);
	if (!m_call_ok(m, ret, want, fp))
		return;
	PCHECK(m, ref < PGNT && !md->gnt[ref].in_use, "ref %u", ref);
	md->gnt[ref] = (struct m_grant){ true, ro, me->id, g, 0, false };
}

static void op_grant_end_(struct model *m)
{
	struct m_dom *md = mdom(m, (unsigned)rnd(m, PD));
	grant_ref_t ref = (grant_ref_t)rnd(m, PGNT);
	struct m_grant *ge;
	int want = 0, ret;
	uint64_t fp;

	m->what = "grant_end";
	for (int tries = 0; tries < 8 && !md->gnt[ref].in_use && !chance(m, 10); tries++)
		ref = (grant_ref_t)rnd(m, PGNT);
	ge = &md->gnt[ref];
	if (!ge->in_use)
		want = -EINVAL;
	else if (ge->maps)
		want = -EBUSY;
	fp = hv_fingerprint(m->hv);
	ret = hv_grant_end(m->hv, md->id, ref);
	if (!want && ret == -EBUSY && ge->maybe_pinned)
		want = -EBUSY;	/* lazy: the unmap's release has not come yet */
	if (m_call_ok(m, ret, want, fp))
		ge->in_use = false;
}

static void grant_window(const struct m_dom *md, uint64_t mfn, unsigned *maps, unsigned *writers)
{
	*maps = *writers = 0;
	for (unsigned h = 0; h < PMT; h++)
		if (md->mt[h].in_use && md->mt[h].mfn == mfn) {
			++*maps;
			*writers += !md->mt[h].ro;
		}
}

static void op_grant_map_(struct model *m)
{
	unsigned ei = (unsigned)rnd(m, PD), live = 0, maps0, writers0;
	struct m_dom *me = mdom(m, ei), *md = NULL;
	grant_ref_t ref = 0;
	struct m_grant *ge = NULL;
	bool ro;
	gfn_t host;
	uint64_t mfn = INVALID_MFN, bus = 1, fp;
	grant_handle_t h = 0;
	int want = 0, ret;

	m->what = "grant_map";
	for (unsigned k = 0; k < PMT; k++)
		live += me->mt[k].in_use;
	if (live >= PMT - 1)
		return;
	/*
	 * A grant to @me (mostly), to someone else, or none at all; half the
	 * time one whose frame @me maps already through another grant.
	 */
	bool again = chance(m, 50);

	for (int tries = 0; tries < 64 && !ge; tries++) {
		unsigned gi = (unsigned)rnd(m, PD);
		grant_ref_t r = (grant_ref_t)rnd(m, PGNT);
		const struct m_grant *c = &mdom(m, gi)->gnt[r];

		if (gi == ei || !c->in_use)
			continue;
		if (c->grantee != me->id && !chance(m, 5))
			continue;
		if (again && tries < 48 && (mdom(m, gi)->type[c->gfn] != P2M_RAM ||
					    !has_grant_mapped(me, mdom(m, gi)->p2m[c->gfn])))
			continue;
		md = mdom(m, gi);
		ref = r;
		ge = &md->gnt[r];
	}
	if (!ge)
		return;
	if (chance(m, 3))
		ref = PGNT + (grant_ref_t)rnd(m, 8);	/* no such grant */
	ro = ge->ro ? !chance(m, 10) : chance(m, 40);
	host = chance(m, 95) ? pick_gfn(m, me, false, true) : pick_gfn(m, me, false, false);
	if (host == ~0ULL)
		return;
	if (md->type[ge->gfn] == P2M_RAM)
		mfn = md->p2m[ge->gfn];
	if (ref >= PGNT)
		want = -ENOENT;
	else if (ge->grantee != me->id)
		want = -EPERM;
	else if (ge->ro && !ro)
		want = -EACCES;
	else if (me->type[host] != P2M_INVALID)
		want = -EEXIST;
	else if (mfn == INVALID_MFN)
		want = -ENOENT;
	fp = fp_if(m, want);
	ret = hv_grant_map(m->hv, me->id, md->id, ref, ro, host, &h, &bus);
	if (!m_call_ok(m, ret, want, fp))
		return;
	PCHECK(m, h < PMT && !me->mt[h].in_use, "handle %u", h);
	PCHECK(m, bus == (m->s == HV_HOOK ? (GRANT_DFN_BASE + mfn) << PG_LG2 : 0),
	       "bus address 0x%llx", (unsigned long long)bus);
	grant_window(me, mfn, &maps0, &writers0);
	if (m->s == HV_HOOK && maps0 && !writers0 && !ro)	/* upgrade: a read-only entry may linger */
		stale_add(m, me, GRANT_DFN_BASE + mfn, mfn, R);
	me->mt[h] = (struct m_mt){ true, ro, md->id, ref, host, mfn, 0 };
	me->p2m[host] = mfn;
	me->type[host] = ro ? P2M_GRANT_RO : P2M_GRANT_RW;
	ge->maps++;
}

static void op_grant_unmap_(struct model *m)
{
	struct m_dom *me = mdom(m, (unsigned)rnd(m, PD));
	grant_handle_t hs[3];
	unsigned n = 1 + (unsigned)rnd(m, 3), k = 0;
	int want = 0, ret;
	uint64_t fp;

	m->what = "grant_unmap";
	for (int tries = 0; tries < 32 && k < n; tries++) {
		grant_handle_t h = (grant_handle_t)rnd(m, PMT);
		bool dup = false;

		for (unsigned j = 0; j < k; j++)
			dup |= hs[j] == h;
		if (me->mt[h].in_use && !dup)
			hs[k++] = h;
	}
	if (!k)
		return;
	n = k;
	if (chance(m, 4))
		hs[rnd(m, n)] = PMT + (grant_handle_t)rnd(m, 4);
	else if (n > 1 && chance(m, 4))
		hs[n - 1] = hs[0];
	for (unsigned i = 0; i < n && !want; i++) {
		if (hs[i] >= PMT || !me->mt[hs[i]].in_use)
			want = -EINVAL;
		for (unsigned j = 0; j < i && !want; j++)
			if (hs[j] == hs[i])
				want = -EINVAL;
		if (!want && me->mt[hs[i]].users)
			want = -EBUSY;
	}
	fp = fp_if(m, want);
	ret = n == 1 && chance(m, 50) ? hv_grant_unmap(m->hv, me->id, hs[0])
				      : hv_grant_unmap_batch(m->hv, me->id, hs, n);
	if (!m_call_ok(m, ret, want, fp))
		return;
	for (unsigned i = 0; i < n; i++) {
		struct m_mt *mt = &me->mt[hs[i]];
		struct m_dom *md = &m->dom[0];
		unsigned maps0, writers0, maps1, writers1;

		for (unsigned d = 0; d < PD; d++)
			if (mdom(m, d)->id == mt->granter)
				md = mdom(m, d);
		grant_window(me, mt->mfn, &maps0, &writers0);
		mt->in_use = false;
		grant_window(me, mt->mfn, &maps1, &writers1);
		if (m->s == HV_HOOK && (!maps1 || (writers0 && !writers1))) {
			stale_add(m, me, GRANT_DFN_BASE + mt->mfn, mt->mfn, writers0 ? RW : R);
			md->gnt[mt->ref].maybe_pinned = lazy(m);
		}
		me->p2m[mt->host] = INVALID_MFN;
		me->type[mt->host] = P2M_INVALID;
		md->gnt[mt->ref].maps--;
	}
	check_grant_cover(m, me);
}

static void op_balloon_(struct model *m, bool out)
{
	struct m_dom *md = mdom(m, (unsigned)rnd(m, PD));
	unsigned order = chance(m, 15) ? 9 : 0, n = order ? 1 : 1 + (unsigned)rnd(m, 4);
	gfn_t gfns[4];
	int want = 0, ret;
	uint64_t fp;

	m->what = out ? "decrease_reservation" : "increase_reservation";
	for (unsigned i = 0; i < n; i++) {
		gfn_t g = order ? 512 * rnd(m, MAXPG / 512) : pick_gfn(m, md, out, !out);
		bool dup = false;

		if (g == ~0ULL)
			return;
		for (unsigned j = 0; j < i; j++)
			dup |= gfns[j] == g;
		if (dup)
			return;
		gfns[i] = g;
	}
	if (chance(m, 5))	/* a gfn in the wrong state */
		gfns[rnd(m, n)] = order ? 512 * rnd(m, MAXPG / 512) : pick_gfn(m, md, !out, out);
	for (unsigned i = 0; i < n && !want; i++) {
		if (gfns[i] == ~0ULL)
			return;
		for (unsigned j = 0; j < i; j++)
			if (gfns[j] == gfns[i])
				return;
		for (uint64_t p = 0; p < (1ULL << order); p++) {
			unsigned ty = md->type[gfns[i] + p];

			if (out && ty != P2M_RAM)
				want = -ENOENT;
			if (!out && ty != P2M_INVALID)
				want = -EEXIST;
		}
	}
	fp = fp_if(m, want);
	ret = out ? hv_decrease_reservation(m->hv, md->id, gfns, n, order)
		  : hv_increase_reservation(m->hv, md->id, gfns, n, order);
	if (!m_call_ok(m, ret, want, fp))
		return;
	for (unsigned i = 0; i < n; i++)
		for (uint64_t p = 0; p < (1ULL << order); p++) {
			gfn_t g = gfns[i] + p;

			if (out) {
				if (m->s == HV_HOOK)
					stale_add(m, md, g, md->p2m[g], RW);
				md->p2m[g] = INVALID_MFN;
				md->type[g] = P2M_INVALID;
				continue;
			}
			md->p2m[g] = mfn_of(m->hv, md->id, g);
			md->type[g] = P2M_RAM;
			PCHECK(m, frames_owner(hv_frames(m->hv), md->p2m[g]) == md->id, "owner");
			PCHECK(m, !frames_pending(hv_frames(m->hv), md->p2m[g]),
			       "frame %llu handed out with an invalidation pending",
			       (unsigned long long)md->p2m[g]);
			m->fowner[md->p2m[g]] = md->id;
			/* A frame handed out again: nothing may still translate to it. */
			stale_drop_mfn(m, md->p2m[g]);
		}
}

/* A gfn of @md a device mapping may use: RAM, or a grant it maps. */
static gfn_t pick_mappable(struct model *m, const struct m_dom *md)
{
	for (int tries = 0; tries < 64; tries++) {
		gfn_t g = rnd(m, MAXPG);

		if (md->type[g] == P2M_RAM && chance(m, 70))
			return g;
		if (md->type[g] == P2M_GRANT_RO || md->type[g] == P2M_GRANT_RW)
			return g;
	}
	return pick_gfn(m, md, true, false);
}

static int check_gfn_model(const struct m_dom *md, gfn_t g, unsigned prot)
{
	if (g >= MAXPG || md->type[g] == P2M_INVALID)
		return -EPERM;
	if (md->type[g] == P2M_GRANT_RO && (prot & W))
		return -EACCES;
	return 0;
}

static int mt_of_host(const struct m_dom *md, gfn_t g)
{
	if (g < MAXPG && md->type[g] != P2M_RAM)
		for (unsigned h = 0; h < PMT; h++)
			if (md->mt[h].in_use && md->mt[h].host == g)
				return (int)h;
	return -1;
}

static void map_page(struct m_dom *md, uint64_t page, gfn_t g, unsigned prot)
{
	int h = mt_of_host(md, g);

	cr_assert(g < MAXPG && page < PDFNS);
	md->xm[page] = (struct m_xm){ md->p2m[g], prot, h };
	md->nxm++;
	if (h >= 0)
		md->mt[h].users++;
	stale_drop_page(md, page);
}

/*
 * dmalayer: the grant mapping an unmapped device mapping of @mfn with @prot
 * counts against from now on: a writable mapping a writable grant mapping,
 * a read-only one a read-only grant mapping if there is one (the
 * hypervisor's rule, so that the model predicts -EBUSY exactly; the rule
 * itself is checked by check_grant_cover()). pv's record keeps the grant
 * mapping each dfn came through, and the unmap gives that one back.
 */
static int mt_release_of(const struct m_dom *md, uint64_t mfn, unsigned prot)
{
	int writer = -1;

	for (unsigned h = 0; h < PMT; h++) {
		const struct m_mt *mt = &md->mt[h];

		if (!mt->in_use || mt->mfn != mfn || !mt->users)
			continue;
		if (mt->ro == !(prot & W))
			return (int)h;
		if (!mt->ro)
			writer = (int)h;
	}
	return writer;
}

static void unmap_page(struct model *m, struct m_dom *md, uint64_t page)
{
	struct m_xm *x = &md->xm[page];
	int h = x->mt < 0 ? -1 : m->s == HV_PV ? x->mt : mt_release_of(md, x->mfn, x->prot);

	stale_add(m, md, page, x->mfn, x->prot);
	PCHECK(m, x->mt < 0 || h >= 0, "page 0x%llx came through a grant mapping, none is left",
	       (unsigned long long)page);
	if (h >= 0)
		md->mt[h].users--;
	x->mfn = INVALID_MFN;
	md->nxm--;
}

static unsigned rnd_prot(struct model *m, const struct m_dom *md, gfn_t g)
{
	unsigned p = 1 + (unsigned)rnd(m, 3);

	return g < MAXPG && md->type[g] == P2M_GRANT_RO ? R : p;
}

static void op_pv_map_(struct model *m)
{
	struct m_dom *md = mdom(m, (unsigned)rnd(m, PD));
	struct hv_pv_map_op ops[4];
	unsigned n = 1 + (unsigned)rnd(m, 4), fault = chance(m, 12) ? 1 + (unsigned)rnd(m, 6) : 0;
	int want = 0, ret;
	uint64_t fp;

	m->what = "pv_map";
	if (md->nxm > PDFNS / 3)
		return;
	for (unsigned i = 0; i < n; i++) {
		uint64_t dfn;
		bool used;

		do {
			dfn = 1 + rnd(m, PDFNS - 1);
			used = md->xm[dfn].mfn != INVALID_MFN;
			for (unsigned j = 0; j < i; j++)
				used |= ops[j].dfn == dfn;
		} while (used);
		ops[i].gfn = pick_mappable(m, md);
		if (ops[i].gfn == ~0ULL)
			return;
		ops[i].dfn = dfn;
		ops[i].prot = rnd_prot(m, md, ops[i].gfn);
	}
	switch (fault) {
	case 1:
		if (n > 1)
			ops[n - 1].dfn = ops[0].dfn;
		break;
	case 2:
		for (uint64_t p = 1; p < PDFNS; p++)
			if (md->xm[p].mfn != INVALID_MFN) {
				ops[rnd(m, n)].dfn = p;
				break;
			}
		break;
	case 3:
		ops[rnd(m, n)].dfn = PDFNS + rnd(m, 1 << 20);
		break;
	case 4:
		ops[rnd(m, n)].gfn = chance(m, 50) ? MAXPG + rnd(m, 9) : rnd(m, MAXPG);
		break;
	case 5:
		ops[rnd(m, n)].prot = W;
		break;
	case 6:
		ops[rnd(m, n)].prot = chance(m, 50) ? 0 : 4 | R;
		break;
	}
	for (unsigned i = 0; i < n && !want; i++)
		for (unsigned j = 0; j < i; j++)
			if (ops[j].dfn == ops[i].dfn)
				want = -EEXIST;
	for (unsigned i = 0; i < n && !want; i++) {
		if (!(ops[i].prot & RW) || (ops[i].prot & ~RW))
			want = -EINVAL;
		else if ((want = check_gfn_model(md, ops[i].gfn, ops[i].prot)))
			;
		else if (ops[i].dfn >= PDFNS)
			want = -ERANGE;
		else if (md->xm[ops[i].dfn].mfn != INVALID_MFN)
			want = -EEXIST;
	}
	fp = fp_if(m, want);
	ret = hv_pv_map(m->hv, md->id, ops, n);
	if (!m_call_ok(m, ret, want, fp))
		return;
	for (unsigned i = 0; i < n; i++)
		map_page(md, ops[i].dfn, ops[i].gfn, ops[i].prot);
}

static void op_pv_unmap_(struct model *m)
{
	struct m_dom *md = mdom(m, (unsigned)rnd(m, PD));
	uint64_t dfns[4];
	unsigned n = 1 + (unsigned)rnd(m, 4), k = 0, fault = chance(m, 10) ? 1 + (unsigned)rnd(m, 3) : 0;
	int want = 0, ret;
	uint64_t fp;

	m->what = "pv_unmap";
	for (int tries = 0; tries < 200 && k < n; tries++) {
		uint64_t dfn = 1 + rnd(m, PDFNS - 1);
		bool dup = false;

		for (unsigned j = 0; j < k; j++)
			dup |= dfns[j] == dfn;
		if (md->xm[dfn].mfn != INVALID_MFN && !dup)
			dfns[k++] = dfn;
	}
	if (!k)
		return;
	n = k;
	if (fault == 1 && n > 1)
		dfns[n - 1] = dfns[0];
	else if (fault == 2)
		dfns[rnd(m, n)] = PDFNS + rnd(m, 100);
	else if (fault == 3)
		dfns[rnd(m, n)] = rnd(m, PDFNS);	/* mapped or not */
	for (unsigned i = 0; i < n && !want; i++)
		for (unsigned j = 0; j < i; j++)
			if (dfns[j] == dfns[i])
				want = -EINVAL;
	for (unsigned i = 0; i < n && !want; i++)
		if (dfns[i] >= PDFNS)
			want = -ERANGE;
		else if (md->xm[dfns[i]].mfn == INVALID_MFN)
			want = -ENOENT;
	fp = fp_if(m, want);
	ret = hv_pv_unmap(m->hv, md->id, dfns, n);
	if (!m_call_ok(m, ret, want, fp))
		return;
	for (unsigned i = 0; i < n; i++)
		unmap_page(m, md, dfns[i]);
}

static void op_dma_map_(struct model *m)
{
	unsigned di = (unsigned)rnd(m, PD);
	struct m_dom *md = mdom(m, di);
	gfn_t gfns[8];
	unsigned n = 1 + (unsigned)rnd(m, 8), dir = 1 + (unsigned)rnd(m, 3);
	unsigned fault = chance(m, 10) ? 1 + (unsigned)rnd(m, 4) : 0;
	uint16_t dev = dev_of(md->id);
	iova_t iova = 0;
	int want = 0, ret;
	uint64_t fp, first;

	m->what = "dma_map";
	if (md->ndma >= PDMA)
		return;
	for (unsigned i = 0; i < n; i++) {
		gfns[i] = pick_mappable(m, md);
		if (gfns[i] == ~0ULL)
			return;
		if (md->type[gfns[i]] == P2M_GRANT_RO)
			dir = R;
	}
	if (fault == 1)
		dev = dev_of(mdom(m, (di + 1) % PD)->id);
	else if (fault == 2)
		gfns[rnd(m, n)] = chance(m, 50) ? MAXPG + rnd(m, 5) : rnd(m, MAXPG);
	else if (fault == 3)
		dir = W;
	else if (fault == 4)
		dir = chance(m, 50) ? 0 : 8;
	if (dev != dev_of(md->id))
		want = -ENODEV;
	else if (!(dir & RW) || (dir & ~RW))
		want = -EINVAL;
	for (unsigned i = 0; i < n && !want; i++)
		want = check_gfn_model(md, gfns[i], dir);
	fp = fp_if(m, want);
	ret = hv_dma_map(m->hv, md->id, dev, gfns, n, dir, &iova);
	if (!m_call_ok(m, ret, want, fp))
		return;
	first = iova >> PG_LG2;
	PCHECK(m, iova && !(iova & ((uint64_t)pop2(n) * PG - 1)) && first + n <= PDFNS,
	       "iova 0x%llx for %u pages", (unsigned long long)iova, n);
	for (unsigned i = 0; i < n; i++) {
		PCHECK(m, md->xm[first + i].mfn == INVALID_MFN, "iova 0x%llx handed out twice",
		       (unsigned long long)(first + i) << PG_LG2);
		map_page(md, first + i, gfns[i], dir);
	}
	md->dmas[md->ndma++] = (struct m_dma){ iova, n, dir };
}

static void op_dma_unmap_(struct model *m)
{
	unsigned di = (unsigned)rnd(m, PD);
	struct m_dom *md = mdom(m, di);
	struct hv_dma_seg segs[3];
	unsigned idx[3], n = 1 + (unsigned)rnd(m, 3), k = 0;
	unsigned fault = chance(m, 10) ? 1 + (unsigned)rnd(m, 5) : 0;
	uint16_t dev = dev_of(md->id);
	int want = 0, ret;
	uint64_t fp;

	m->what = "dma_unmap";
	if (!md->ndma)
		return;
	if (n > md->ndma)
		n = md->ndma;
	while (k < n) {
		unsigned i = (unsigned)rnd(m, md->ndma);
		bool dup = false;

		for (unsigned j = 0; j < k; j++)
			dup |= idx[j] == i;
		if (dup)
			continue;
		idx[k] = i;
		segs[k].iova = md->dmas[i].iova;
		segs[k].len = (uint64_t)md->dmas[i].n * PG - rnd(m, PG);
		k++;
	}
	switch (fault) {
	case 1:
		segs[rnd(m, n)].len += PG;
		break;
	case 2:
		segs[rnd(m, n)].iova += 8;
		break;
	case 3:
		if (n > 1)
			segs[n - 1] = segs[0];
		break;
	case 4:
		dev = dev_of(mdom(m, (di + 1) % PD)->id);
		break;
	case 5:
		segs[rnd(m, n)].iova = (1 + rnd(m, PDFNS - 1)) << PG_LG2;
		break;
	}
	if (dev != dev_of(md->id))
		want = -ENODEV;
	for (unsigned i = 0; i < n && !want; i++) {
		bool found = false;

		if (!segs[i].len || (segs[i].iova & (PG - 1)))
			want = -EINVAL;
		for (unsigned j = 0; j < i && !want; j++)
			if (segs[j].iova == segs[i].iova)
				want = -EINVAL;
		for (unsigned j = 0; j < md->ndma && !want; j++)
			found |= md->dmas[j].iova == segs[i].iova &&
				 (uint64_t)md->dmas[j].n * PG == ((segs[i].len + PG - 1) & ~(PG - 1));
		if (!want && !found)
			want = -ENOENT;
	}
	fp = fp_if(m, want);
	ret = n == 1 && chance(m, 50) ? hv_dma_unmap(m->hv, md->id, dev, segs[0].iova, segs[0].len)
				      : hv_dma_unmap_batch(m->hv, md->id, dev, segs, n);
	if (!m_call_ok(m, ret, want, fp))
		return;
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < md->ndma; j++)
			if (md->dmas[j].iova == segs[i].iova) {
				struct m_dma *x = &md->dmas[j];

				for (unsigned p = 0; p < x->n; p++)
					unmap_page(m, md, (x->iova >> PG_LG2) + p);
				*x = md->dmas[--md->ndma];
				break;
			}
}

static void m_step(struct model *m)
{
	unsigned r = (unsigned)rnd(m, 100);

	if (r < 8)
		op_grant_access_(m);
	else if (r < 11)
		op_grant_end_(m);
	else if (r < 20)
		op_grant_map_(m);
	else if (r < 27)
		op_grant_unmap_(m);
	else if (r < 35)
		op_balloon_(m, true);
	else if (r < 44)
		op_balloon_(m, false);
	else if (r < 45) {
		m->what = "sync";
		hv_sync(m->hv);
	} else if (r < 47) {
		m->what = "batch_end";
		hv_batch_end(m->hv, mdom(m, (unsigned)rnd(m, PD))->id);
	} else if (r < 48) {
		m->what = "tick";
		hv_tick(m->hv);
	} else if (m->s == HV_PV) {
		if (r < 80)
			op_pv_map_(m);
		else
			op_pv_unmap_(m);
	} else if (m->s == HV_DMALAYER) {
		if (r < 80)
			op_dma_map_(m);
		else
			op_dma_unmap_(m);
	} else {
		/* hook, swiotlb: grants and ballooning change what the device reaches */
		if (r < 62)
			op_grant_map_(m);
		else if (r < 76)
			op_grant_unmap_(m);
		else if (r < 88)
			op_balloon_(m, false);
		else
			op_balloon_(m, true);
	}
}

static void m_run(struct model *m, enum hv_strategy s, enum flush_mode mode, bool sp, uint64_t salt)
{
	struct hv_cfg cfg = {
		.machine_frames = MACHINE,
		.strategy = s,
		.tune = {
			.flush = mode, .superpages = sp,
			/* Flushes come from a full queue or a sync, never the clock: replayable. */
			.fq_entries = 8 + (unsigned)(splitmix64(&salt) % 40),
			.fq_timeout_ns = 1ULL << 60,
		},
		.dfn_limit = PDFNS,
	};
	int64_t live0 = iob_alloc_live();

	m->s = s;
	m->mode = mode;
	m->sp = sp;
	m->op = 0;
	m->what = "setup";
	m->warn0 = iob_warn_count();
	prng_seed(&m->rng, m->seed ^ salt);
	cr_assert_eq(hv_create(&cfg, &m->hv), 0);
	for (unsigned d = 0; d < PD; d++) {
		struct m_dom *md = mdom(m, d);

		free(md->stale);
		memset(md, 0, sizeof(*md));
		for (gfn_t g = 0; g < MAXPG; g++)
			md->p2m[g] = INVALID_MFN;
		for (uint64_t p = 0; p < PDFNS; p++)
			md->xm[p].mfn = INVALID_MFN;
		cr_assert_eq(hv_domain_create(m->hv, MAXPG, &md->id), 0);
		cr_assert_eq(hv_populate(m->hv, md->id, 0, 9), 0);
		for (unsigned i = 0; i < 64; i++) {
			gfn_t g = 512 + rnd(m, MAXPG - 512);

			if (hv_p2m_lookup(m->hv, md->id, g, NULL) == INVALID_MFN)
				cr_assert_eq(hv_populate(m->hv, md->id, g, 0), 0);
		}
		for (gfn_t g = 0; g < MAXPG; g++) {
			md->p2m[g] = hv_p2m_lookup(m->hv, md->id, g, NULL);
			if (md->p2m[g] != INVALID_MFN) {
				md->type[g] = P2M_RAM;
				m->fowner[md->p2m[g]] = md->id;
			}
		}
		cr_assert_eq(hv_assign_device(m->hv, dev_of(md->id), md->id), 0);
	}
	for (m->op = 1; m->op <= POPS; m->op++) {
		m_step(m);
		m_after(m);
		if (m->op % 97 == 0)
			m_full_check(m);
	}
	m->what = "end";
	m_full_check(m);
	hv_destroy(m->hv);
	m->hv = NULL;
	PCHECK(m, iob_warn_count() == m->warn0, "IOB_WARN_ON fired at destroy: %s",
	       iob_warn_message(0) ? iob_warn_message(0) : "?");
	PCHECK(m, iob_alloc_live() == live0, "%lld allocations leaked",
	       (long long)(iob_alloc_live() - live0));
}

/* All three modes, superpages on and off; returns operations run. */
static void property(enum hv_strategy s, uint64_t salt)
{
	struct model *m = calloc(1, sizeof(*m));

	cr_assert_not_null(m);
	m->seed = test_seed(salt);
	for (int mi = 0; mi < 3; mi++)
		for (int sp = 0; sp < 2; sp++)
			m_run(m, s, modes[mi], sp, 0x1000 * (uint64_t)(mi + 1) + (uint64_t)sp);
	/* The mix must really have exercised both outcomes and the devices. */
	cr_assert_gt(m->n_ok, 6 * POPS / 4, "IOB_TEST_SEED=0x%016llx: %llu calls succeeded",
		     (unsigned long long)m->seed, (unsigned long long)m->n_ok);
	cr_assert_gt(m->n_err, 6 * POPS / 50, "IOB_TEST_SEED=0x%016llx: %llu calls failed",
		     (unsigned long long)m->seed, (unsigned long long)m->n_err);
	cr_assert_gt(m->n_dma_hits, m->n_dma / 5, "IOB_TEST_SEED=0x%016llx: %llu of %llu DMAs hit",
		     (unsigned long long)m->seed, (unsigned long long)m->n_dma_hits,
		     (unsigned long long)m->n_dma);
	/* The reference's verdict on threat 1 under swiotlb: open (the others: check_dma()). */
	if (s == HV_SWIOTLB)
		cr_assert_gt(m->n_cross, m->n_dma / 10, "IOB_TEST_SEED=0x%016llx: swiotlb stopped "
			     "cross-domain DMA (%llu of %llu)", (unsigned long long)m->seed,
			     (unsigned long long)m->n_cross, (unsigned long long)m->n_dma);
	cr_log_info("%s: seed 0x%016llx, %d operations, %llu hypercalls ok, %llu refused, "
		    "%llu DMAs (%llu translated, %llu through stale entries)", hv_strategy_name(s),
		    (unsigned long long)m->seed, 6 * POPS, (unsigned long long)m->n_ok,
		    (unsigned long long)m->n_err, (unsigned long long)m->n_dma,
		    (unsigned long long)m->n_dma_hits, (unsigned long long)m->n_stale_hits);
	for (unsigned d = 0; d < PD; d++)
		free(m->dom[d].stale);
	free(m);
}

Test(hv_property, hook_devices_reach_only_what_the_model_allows, .timeout = 300)
{
	property(HV_HOOK, 0xa1);
}

Test(hv_property, pv_devices_reach_only_what_the_model_allows, .timeout = 300)
{
	property(HV_PV, 0xa2);
}

Test(hv_property, dmalayer_devices_reach_only_what_the_model_allows, .timeout = 300)
{
	property(HV_DMALAYER, 0xa3);
}

/* swiotlb: the model allows everything, and the devices do reach other domains' frames. */
Test(hv_property, swiotlb_devices_reach_every_machine_frame_as_the_model_says, .timeout = 300)
{
	property(HV_SWIOTLB, 0xa4);
}

/* ---- 3. allocation failure at every site ---------------------------------------------------- */

/* Table pages set aside by iopt_reserve() in every domain's table (freed with the table). */
static int64_t pool_pages(struct hv *hv)
{
	int64_t n = 0;

	for (domid_t d = 1; d < 8; d++)
		if (hv_domain_iopt(hv, d))
			n += (int64_t)iopt_reserved(hv_domain_iopt(hv, d));
	return n;
}

/*
 * Run @op with allocation n failing, n = 0, 1, 2, ... until it succeeds.
 * Each failure must be -ENOMEM and leave the hypervisor's fingerprint as
 * it was, and every allocation made given back, or kept as a table page
 * set aside for the next call (iopt_unreserve() keeps them, by design).
 * Returns the failures seen.
 */
static unsigned fail_each_allocation(struct tb *t, const char *what,
				     int (*op)(struct tb *, const void *), const void *ctx)
{
	for (long n = 0;; n++) {
		uint64_t fp = hv_fingerprint(t->hv);
		int64_t live = iob_alloc_live(), pool = pool_pages(t->hv);
		uint64_t calls = iob_alloc_calls();
		int ret;

		iob_fail_after(n);
		ret = op(t, ctx);
		iob_fail_after(-1);
		if (!ret)
			return (unsigned)n;
		cr_assert_eq(ret, -ENOMEM, "%s, allocation %ld failing: got %d", what, n, ret);
		cr_assert_gt(iob_alloc_calls() - calls, (uint64_t)n,
			     "%s failed before allocation %ld", what, n);
		cr_assert_eq(hv_fingerprint(t->hv), fp, "%s, allocation %ld failing: state changed",
			     what, n);
		cr_assert_eq(iob_alloc_live() - live, pool_pages(t->hv) - pool,
			     "%s, allocation %ld failing: %lld leaked", what, n,
			     (long long)(iob_alloc_live() - live - (pool_pages(t->hv) - pool)));
		cr_assert_lt(n, 100000);
	}
}

struct mem_op {
	domid_t which;		/* 0: a, 1: b, 2: c */
	unsigned n, order;
	gfn_t gfns[4];
};

static domid_t pick(const struct tb *t, domid_t which)
{
	return which == 0 ? t->a : which == 1 ? t->b : t->c;
}

static int op_populate(struct tb *t, const void *ctx)
{
	const struct mem_op *o = ctx;

	return hv_populate(t->hv, pick(t, o->which), o->gfns[0], o->order);
}

static int op_increase(struct tb *t, const void *ctx)
{
	const struct mem_op *o = ctx;

	return hv_increase_reservation(t->hv, pick(t, o->which), o->gfns, o->n, o->order);
}

static int op_decrease(struct tb *t, const void *ctx)
{
	const struct mem_op *o = ctx;

	return hv_decrease_reservation(t->hv, pick(t, o->which), o->gfns, o->n, o->order);
}

Test(hv_alloc_fail, populate_and_increase_reservation_fail_cleanly_at_every_allocation)
{
	for (int s = 0; s < HV_STRATEGY_NR; s++)
		for (int mi = 0; mi < 3; mi++) {
			struct tb t;
			struct mem_op big = { 2, 1, 9, { 512 } }, one = { 2, 1, 0, { 100 } };
			struct mem_op many = { 2, 3, 0, { 200, 301, 402 } };

			tb_init(&t, s, modes[mi], true);
			cr_assert_gt(fail_each_allocation(&t, "populate order 9", op_populate, &big), 0);
			cr_assert_gt(fail_each_allocation(&t, "populate order 0", op_populate, &one), 0);
			cr_assert_gt(fail_each_allocation(&t, "increase_reservation", op_increase,
							  &many), 0);
			for (gfn_t g = 512; g < MAXPG; g += 97)
				cr_assert_eq(hv_p2m_lookup(t.hv, t.c, g, NULL), mfn_of(t.hv, t.c, 512) + g - 512);
			if (s == HV_HOOK) {
				uint64_t got;

				cr_assert_eq(dma(t.hv, t.c, 301, W, &got), 0);
				cr_assert_eq(got, mfn_of(t.hv, t.c, 301));
				cr_assert_eq(dma(t.hv, t.c, 1000, W, &got), 0);
			}
			tb_fini(&t);
		}
}

Test(hv_alloc_fail, decrease_reservation_fails_cleanly_at_every_allocation_splitting_2m_leaves)
{
	for (int s = 0; s < HV_STRATEGY_NR; s++)
		for (int mi = 0; mi < 3; mi++) {
			struct tb t;
			struct amdvi_walk w;
			struct mem_op split = { 0, 3, 0, { 10, 300, 601 } };
			struct mem_op whole = { 1, 1, 9, { 0 } };
			unsigned fails;

			tb_init(&t, s, modes[mi], true);
			if (s == HV_HOOK) {
				cr_assert_eq(iopt_translate(hv_domain_iopt(t.hv, t.a), 10 << PG_LG2, &w), 0);
				cr_assert_eq(w.size_lg2, 21, "gfn 10 sits in a 2 MiB leaf");
			}
			fails = fail_each_allocation(&t, "decrease_reservation split", op_decrease, &split);
			cr_assert_gt(fails, 0);
			cr_assert_gt(fail_each_allocation(&t, "decrease_reservation 2M", op_decrease,
							  &whole), 0);
			hv_sync(t.hv);
			for (unsigned i = 0; i < 3; i++)
				cr_assert_eq(hv_p2m_lookup(t.hv, t.a, split.gfns[i], NULL), INVALID_MFN);
			cr_assert_eq(hv_p2m_lookup(t.hv, t.b, 100, NULL), INVALID_MFN);
			if (s == HV_HOOK) {
				cr_assert_eq(dma(t.hv, t.a, 10, R, NULL), -EFAULT);
				cr_assert_eq(dma(t.hv, t.a, 11, W, NULL), 0);
				cr_assert_eq(iopt_translate(hv_domain_iopt(t.hv, t.a), 11 << PG_LG2, &w), 0);
				cr_assert_eq(w.size_lg2, 12, "split");
				cr_assert_eq(dma(t.hv, t.b, 100, R, NULL), -EFAULT);
			}
			tb_fini(&t);
		}
}

struct grant_op {
	grant_ref_t ref;
	bool ro;
	gfn_t host;
	unsigned n;
	grant_handle_t h[3];
};

static int op_grant_access(struct tb *t, const void *ctx)
{
	struct grant_op *o = (struct grant_op *)ctx;

	return hv_grant_access(t->hv, t->b, t->a, 600, o->ro, &o->ref);
}

static int op_grant_map(struct tb *t, const void *ctx)
{
	struct grant_op *o = (struct grant_op *)ctx;
	uint64_t bus;

	return hv_grant_map(t->hv, t->a, t->b, o->ref, o->ro, o->host, &o->h[0], &bus);
}

static int op_grant_unmap_batch(struct tb *t, const void *ctx)
{
	const struct grant_op *o = ctx;

	return o->n == 1 ? hv_grant_unmap(t->hv, t->a, o->h[0])
			 : hv_grant_unmap_batch(t->hv, t->a, o->h, o->n);
}

Test(hv_alloc_fail, grant_calls_fail_cleanly_at_every_allocation)
{
	for (int s = 0; s < HV_STRATEGY_NR; s++)
		for (int mi = 0; mi < 3; mi++) {
			struct tb t;
			struct grant_op ga = { .ro = false }, gm;
			grant_handle_t hs[3];
			grant_ref_t ref;

			tb_init(&t, s, modes[mi], true);
			/* Each new grant grows the table: every one can fail. */
			for (int i = 0; i < 3; i++)
				cr_assert_gt(fail_each_allocation(&t, "grant_access", op_grant_access,
								  &ga), 0);
			ref = ga.ref;
			/* Read-only first, then a writer (hook: an upgrade), then another reader. */
			for (int i = 0; i < 3; i++) {
				gm = (struct grant_op){ .ref = ref, .ro = i != 1, .host = 800 + i };
				cr_assert_gt(fail_each_allocation(&t, "grant_map", op_grant_map, &gm), 0);
				hs[i] = gm.h[0];
			}
			if (s == HV_HOOK) {
				cr_assert_eq(dma(t.hv, t.a, GRANT_DFN_BASE + mfn_of(t.hv, t.b, 600), W,
						 NULL), 0);
			}
			/* The writer alone (hook: a downgrade), then the two readers in one batch. */
			gm = (struct grant_op){ .n = 1, .h = { hs[1] } };
			cr_assert_gt(fail_each_allocation(&t, "grant_unmap", op_grant_unmap_batch, &gm), 0);
			if (s == HV_HOOK) {
				hv_sync(t.hv);
				cr_assert_eq(dma(t.hv, t.a, GRANT_DFN_BASE + mfn_of(t.hv, t.b, 600), W,
						 NULL), -EFAULT);
			}
			gm = (struct grant_op){ .n = 2, .h = { hs[2], hs[0] } };
			cr_assert_gt(fail_each_allocation(&t, "grant_unmap_batch", op_grant_unmap_batch,
							  &gm), 0);
			hv_sync(t.hv);
			cr_assert_eq(hv_grant_end(t.hv, t.b, ref), 0);
			tb_fini(&t);
		}
}

struct pv_op {
	domid_t which;		/* 0: a, 2: c */
	unsigned n;
	struct hv_pv_map_op ops[4];
	uint64_t dfns[4];
};

static int op_pv_map(struct tb *t, const void *ctx)
{
	const struct pv_op *o = ctx;

	return hv_pv_map(t->hv, pick(t, o->which), o->ops, o->n);
}

static int op_pv_unmap(struct tb *t, const void *ctx)
{
	const struct pv_op *o = ctx;

	return hv_pv_unmap(t->hv, pick(t, o->which), o->dfns, o->n);
}

Test(hv_alloc_fail, pv_map_and_unmap_fail_cleanly_at_every_allocation)
{
	for (int mi = 0; mi < 3; mi++) {
		struct tb t;
		struct amdvi_walk w;
		grant_ref_t ref;
		/* dfns in three different level-2 and level-3 tables */
		struct pv_op map = { 2, 3, .ops = { { 0, 5, RW }, { 1, 1ULL << 20, R },
						    { 800, (1ULL << 27) + 5, RW } } };
		struct pv_op unmap = { 2, 3, .dfns = { 5, 1ULL << 20, (1ULL << 27) + 5 } };
		struct pv_op split = { 0, 1, .dfns = { 0x40000 + 77 } };

		tb_init(&t, HV_PV, modes[mi], true);
		ref = grant(t.hv, t.a, t.c, 9, false);
		gmap(t.hv, t.c, t.a, ref, false, 800, NULL);
		cr_assert_gt(fail_each_allocation(&t, "pv_map", op_pv_map, &map), 0);
		cr_assert_eq(dma(t.hv, t.c, (1ULL << 27) + 5, W, NULL), 0);
		cr_assert_gt(fail_each_allocation(&t, "pv_unmap", op_pv_unmap, &unmap), 0);
		hv_sync(t.hv);
		cr_assert_eq(dma(t.hv, t.c, (1ULL << 27) + 5, R, NULL), -EFAULT);
		cr_assert_eq(dma(t.hv, t.c, 5, R, NULL), -EFAULT);

		/* 512 contiguous pages coalesce into a 2 MiB leaf; unmapping one splits it. */
		for (unsigned i = 0; i < 512; i++)
			pv_map1(t.hv, t.a, i, 0x40000 + i, RW);
		cr_assert_eq(iopt_translate(hv_domain_iopt(t.hv, t.a), 0x40000ULL << PG_LG2, &w), 0);
		cr_assert_eq(w.size_lg2, 21);
		cr_assert_gt(fail_each_allocation(&t, "pv_unmap split", op_pv_unmap, &split), 0);
		hv_sync(t.hv);
		cr_assert_eq(dma(t.hv, t.a, 0x40000 + 77, R, NULL), -EFAULT);
		cr_assert_eq(dma(t.hv, t.a, 0x40000 + 78, R, NULL), 0);
		tb_fini(&t);
	}
}

struct dma_op {
	unsigned n;
	gfn_t gfns[8];
	unsigned dir;
	iova_t iova;
	struct hv_dma_seg segs[3];
};

static int op_dma_map(struct tb *t, const void *ctx)
{
	struct dma_op *o = (struct dma_op *)ctx;

	return hv_dma_map(t->hv, t->c, dev_of(t->c), o->gfns, o->n, o->dir, &o->iova);
}

static int op_dma_unmap(struct tb *t, const void *ctx)
{
	const struct dma_op *o = ctx;

	return o->n == 1 ? hv_dma_unmap(t->hv, t->c, dev_of(t->c), o->segs[0].iova, o->segs[0].len)
			 : hv_dma_unmap_batch(t->hv, t->c, dev_of(t->c), o->segs, o->n);
}

Test(hv_alloc_fail, dma_map_and_unmap_fail_cleanly_at_every_allocation)
{
	for (int mi = 0; mi < 3; mi++) {
		struct tb t;
		grant_ref_t ref;
		struct dma_op m1 = { 4, { 0, 1, 2, 800 }, RW, .iova = 0 };
		struct dma_op m2 = { 1, { 3 }, R, .iova = 0 }, m3 = { 3, { 3, 2, 1 }, W, .iova = 0 }, u;

		tb_init(&t, HV_DMALAYER, modes[mi], true);
		ref = grant(t.hv, t.a, t.c, 9, false);
		gmap(t.hv, t.c, t.a, ref, false, 800, NULL);
		cr_assert_gt(fail_each_allocation(&t, "dma_map", op_dma_map, &m1), 0);
		cr_assert_gt(fail_each_allocation(&t, "dma_map", op_dma_map, &m2), 0);
		cr_assert_gt(fail_each_allocation(&t, "dma_map", op_dma_map, &m3), 0);
		cr_assert_eq(dma(t.hv, t.c, (m1.iova >> PG_LG2) + 3, W, NULL), 0);
		u = (struct dma_op){ 1, .segs = { { m2.iova, PG } } };
		cr_assert_gt(fail_each_allocation(&t, "dma_unmap", op_dma_unmap, &u), 0);
		u = (struct dma_op){ 2, .segs = { { m3.iova, 3 * PG }, { m1.iova, 4 * PG } } };
		cr_assert_gt(fail_each_allocation(&t, "dma_unmap_batch", op_dma_unmap, &u), 0);
		hv_sync(t.hv);
		cr_assert_eq(dma(t.hv, t.c, (m1.iova >> PG_LG2) + 3, R, NULL), -EFAULT);
		cr_assert_eq(hv_grant_unmap(t.hv, t.c, 0), 0);
		tb_fini(&t);
	}
}

/* ---- 4. bad arguments ---------------------------------------------------------------------- */

Test(hv_args, memory_ops_reject_unaligned_out_of_range_and_overlapping_extents)
{
	struct tb t;
	gfn_t big[HV_BATCH_MAX + 1];

	tb_init(&t, HV_HOOK, FLUSH_STRICT, true);
	for (unsigned i = 0; i <= HV_BATCH_MAX; i++)
		big[i] = 700 + i;
	EXPECT_ERR(t.hv, -EINVAL, hv_populate(t.hv, t.c, 513, 9));
	EXPECT_ERR(t.hv, -EINVAL, hv_populate(t.hv, t.c, MAXPG, 0));
	EXPECT_ERR(t.hv, -EINVAL, hv_populate(t.hv, t.c, ~0ULL, 0));
	EXPECT_ERR(t.hv, -EINVAL, hv_populate(t.hv, t.c, 512, 10));
	EXPECT_ERR(t.hv, -EINVAL, hv_populate(t.hv, t.c, 0, 18));	/* past max_pages */
	EXPECT_ERR(t.hv, -EEXIST, hv_populate(t.hv, t.a, 600, 0));
	EXPECT_ERR(t.hv, -EEXIST, hv_populate(t.hv, t.a, 0, 9));
	EXPECT_ERR(t.hv, -ESRCH, hv_populate(t.hv, 40, 0, 0));
	EXPECT_ERR(t.hv, -ESRCH, hv_populate(t.hv, 0, 0, 0));
	EXPECT_ERR(t.hv, -EEXIST, hv_increase_reservation(t.hv, t.c, (gfn_t[]){ 10, 11, 10 }, 3, 0));
	EXPECT_ERR(t.hv, -EEXIST, hv_increase_reservation(t.hv, t.c, (gfn_t[]){ 10, 2 }, 2, 0));
	EXPECT_ERR(t.hv, -EINVAL, hv_increase_reservation(t.hv, t.c, (gfn_t[]){ 512, 1000 }, 2, 9));
	EXPECT_ERR(t.hv, -EINVAL, hv_increase_reservation(t.hv, t.c, big, 0, 0));
	EXPECT_ERR(t.hv, -EINVAL, hv_increase_reservation(t.hv, t.c, NULL, 1, 0));
	EXPECT_ERR(t.hv, -EOVERFLOW, hv_increase_reservation(t.hv, t.c, big, HV_BATCH_MAX + 1, 0));

	EXPECT_ERR(t.hv, -EINVAL, hv_decrease_reservation(t.hv, t.a, (gfn_t[]){ 1 }, 1, 9));
	EXPECT_ERR(t.hv, -EINVAL, hv_decrease_reservation(t.hv, t.a, (gfn_t[]){ MAXPG }, 1, 0));
	/* Extents whose end wraps around must not pass the range check. */
	EXPECT_ERR(t.hv, -EINVAL, hv_decrease_reservation(t.hv, t.a, (gfn_t[]){ ~0ULL }, 1, 0));
	EXPECT_ERR(t.hv, -EINVAL, hv_decrease_reservation(t.hv, t.a,
							  (gfn_t[]){ ~0ULL << 9 }, 1, 9));
	EXPECT_ERR(t.hv, -EINVAL, hv_decrease_reservation(t.hv, t.a,
							  (gfn_t[]){ 600, 601, 600 }, 3, 0));
	EXPECT_ERR(t.hv, -ENOENT, hv_decrease_reservation(t.hv, t.a, (gfn_t[]){ 600, 700 }, 2, 0));
	EXPECT_ERR(t.hv, -ENOENT, hv_decrease_reservation(t.hv, t.a, (gfn_t[]){ 512 }, 1, 9));
	EXPECT_ERR(t.hv, -EINVAL, hv_decrease_reservation(t.hv, t.a, big, 0, 0));
	EXPECT_ERR(t.hv, -EOVERFLOW, hv_decrease_reservation(t.hv, t.a, big, HV_BATCH_MAX + 1, 0));
	EXPECT_ERR(t.hv, -ESRCH, hv_decrease_reservation(t.hv, 9, (gfn_t[]){ 600 }, 1, 0));
	tb_fini(&t);
}

Test(hv_args, grant_calls_reject_self_non_ram_strangers_and_busy_grants)
{
	struct tb t;
	grant_ref_t ref, ro, mine;
	grant_handle_t h;

	tb_init(&t, HV_PV, FLUSH_STRICT, false);
	EXPECT_ERR(t.hv, -EINVAL, hv_grant_access(t.hv, t.a, t.a, 1, false, &ref));
	EXPECT_ERR(t.hv, -ENOENT, hv_grant_access(t.hv, t.a, t.b, 700, false, &ref));
	EXPECT_ERR(t.hv, -ENOENT, hv_grant_access(t.hv, t.a, t.b, MAXPG + 5, false, &ref));
	EXPECT_ERR(t.hv, -ESRCH, hv_grant_access(t.hv, t.a, 33, 1, false, &ref));
	ref = grant(t.hv, t.b, t.a, 2, false);
	ro = grant(t.hv, t.b, t.a, 3, true);
	mine = grant(t.hv, t.b, t.c, 4, false);
	/* A grant mapped at a host gfn is not the grantee's RAM: it cannot pass it on. */
	h = gmap(t.hv, t.a, t.b, ref, false, 800, NULL);
	EXPECT_ERR(t.hv, -ENOENT, hv_grant_access(t.hv, t.a, t.c, 800, false, &(grant_ref_t){ 0 }));

	EXPECT_ERR(t.hv, -ENOENT, hv_grant_map(t.hv, t.a, t.b, 99, false, 801, &h, NULL));
	EXPECT_ERR(t.hv, -EPERM, hv_grant_map(t.hv, t.a, t.b, mine, false, 801, &h, NULL));
	EXPECT_ERR(t.hv, -EACCES, hv_grant_map(t.hv, t.a, t.b, ro, false, 801, &h, NULL));
	EXPECT_ERR(t.hv, -EEXIST, hv_grant_map(t.hv, t.a, t.b, ref, false, 600, &h, NULL));
	EXPECT_ERR(t.hv, -EEXIST, hv_grant_map(t.hv, t.a, t.b, ref, false, 800, &h, NULL));
	EXPECT_ERR(t.hv, -EINVAL, hv_grant_map(t.hv, t.a, t.b, ref, false, MAXPG, &h, NULL));
	EXPECT_ERR(t.hv, -ESRCH, hv_grant_map(t.hv, t.a, 50, ref, false, 801, &h, NULL));

	EXPECT_ERR(t.hv, -EBUSY, hv_grant_end(t.hv, t.b, ref));
	EXPECT_ERR(t.hv, -EINVAL, hv_grant_end(t.hv, t.b, 99));
	EXPECT_ERR(t.hv, -ESRCH, hv_grant_end(t.hv, 60, ref));

	/* A pv mapping through the grant keeps it mapped. */
	pv_map1(t.hv, t.a, 800, 20, RW);
	EXPECT_ERR(t.hv, -EBUSY, hv_grant_unmap(t.hv, t.a, h));
	EXPECT_ERR(t.hv, -EINVAL, hv_grant_unmap(t.hv, t.a, h + 7));
	EXPECT_ERR(t.hv, -EINVAL, hv_grant_unmap_batch(t.hv, t.a, &h, 0));
	EXPECT_ERR(t.hv, -EOVERFLOW, hv_grant_unmap_batch(t.hv, t.a, &h, HV_BATCH_MAX + 1));
	cr_assert_eq(hv_pv_unmap(t.hv, t.a, (uint64_t[]){ 20 }, 1), 0);
	EXPECT_ERR(t.hv, -EINVAL, hv_grant_unmap_batch(t.hv, t.a, (grant_handle_t[]){ h, h }, 2));
	cr_assert_eq(hv_grant_unmap(t.hv, t.a, h), 0);
	EXPECT_ERR(t.hv, -EINVAL, hv_grant_unmap(t.hv, t.a, h));
	cr_assert_eq(hv_grant_end(t.hv, t.b, ref), 0);
	EXPECT_ERR(t.hv, -EINVAL, hv_grant_end(t.hv, t.b, ref));
	EXPECT_ERR(t.hv, -ENOENT, hv_grant_map(t.hv, t.a, t.b, ref, false, 801, &h, NULL));
	/* A granted page ballooned out by its owner cannot be mapped any more. */
	cr_assert_eq(hv_decrease_reservation(t.hv, t.b, (gfn_t[]){ 3 }, 1, 0), 0);
	EXPECT_ERR(t.hv, -ENOENT, hv_grant_map(t.hv, t.a, t.b, ro, true, 801, &h, NULL));
	tb_fini(&t);
}

Test(hv_args, grant_unmap_while_a_dma_layer_mapping_uses_it_is_ebusy)
{
	struct tb t;
	grant_ref_t ref;
	grant_handle_t h;
	iova_t iova;

	tb_init(&t, HV_DMALAYER, FLUSH_STRICT, false);
	ref = grant(t.hv, t.b, t.a, 2, false);
	h = gmap(t.hv, t.a, t.b, ref, false, 800, NULL);
	cr_assert_eq(hv_dma_map(t.hv, t.a, dev_of(t.a), (gfn_t[]){ 1, 800 }, 2, W, &iova), 0);
	EXPECT_ERR(t.hv, -EBUSY, hv_grant_unmap(t.hv, t.a, h));
	EXPECT_ERR(t.hv, -EBUSY, hv_grant_end(t.hv, t.b, ref));
	cr_assert_eq(hv_dma_unmap(t.hv, t.a, dev_of(t.a), iova, 2 * PG), 0);
	cr_assert_eq(hv_grant_unmap(t.hv, t.a, h), 0);
	cr_assert_eq(hv_grant_end(t.hv, t.b, ref), 0);
	tb_fini(&t);
}

Test(hv_args, pv_calls_reject_bad_batches_and_change_nothing)
{
	struct tb t;
	struct hv_pv_map_op ops[HV_BATCH_MAX + 1];
	uint64_t dfns[HV_BATCH_MAX + 1];
	uint64_t lim;

	tb_init(&t, HV_PV, FLUSH_BATCHED, true);
	lim = hv_config(t.hv)->dfn_limit;
	for (unsigned i = 0; i <= HV_BATCH_MAX; i++) {
		ops[i] = (struct hv_pv_map_op){ i, 1000 + i, RW };
		dfns[i] = 1000 + i;
	}
	EXPECT_ERR(t.hv, -EINVAL, hv_pv_map(t.hv, t.a, ops, 0));
	EXPECT_ERR(t.hv, -EINVAL, hv_pv_map(t.hv, t.a, NULL, 1));
	EXPECT_ERR(t.hv, -EOVERFLOW, hv_pv_map(t.hv, t.a, ops, HV_BATCH_MAX + 1));
	EXPECT_ERR(t.hv, -ESRCH, hv_pv_map(t.hv, 42, ops, 1));
	EXPECT_ERR(t.hv, -EINVAL, hv_pv_map(t.hv, t.a, &(struct hv_pv_map_op){ 1, 5, 0 }, 1));
	EXPECT_ERR(t.hv, -EINVAL, hv_pv_map(t.hv, t.a, &(struct hv_pv_map_op){ 1, 5, 4 }, 1));
	EXPECT_ERR(t.hv, -ERANGE, hv_pv_map(t.hv, t.a, &(struct hv_pv_map_op){ 1, lim, R }, 1));
	EXPECT_ERR(t.hv, -ERANGE, hv_pv_map(t.hv, t.a, &(struct hv_pv_map_op){ 1, ~0ULL, R }, 1));
	EXPECT_ERR(t.hv, -ERANGE, hv_pv_map(t.hv, t.a,
		   &(struct hv_pv_map_op){ 1, GRANT_DFN_BASE + 1, R }, 1));
	/* The same dfn twice in one batch, even for different gfns. */
	EXPECT_ERR(t.hv, -EEXIST, hv_pv_map(t.hv, t.a, (struct hv_pv_map_op[]){
		{ 1, 5, R }, { 2, 6, R }, { 3, 5, R } }, 3));
	cr_assert_eq(hv_pv_map(t.hv, t.a, ops, HV_BATCH_MAX), 0, "a full batch is fine");
	EXPECT_ERR(t.hv, -EEXIST, hv_pv_map(t.hv, t.a, &(struct hv_pv_map_op){ 7, 1000, R }, 1));
	/* Overlap with a live mapping anywhere in the batch refuses all of it. */
	EXPECT_ERR(t.hv, -EEXIST, hv_pv_map(t.hv, t.a, (struct hv_pv_map_op[]){
		{ 7, 3000, R }, { 8, 1511, R } }, 2));

	EXPECT_ERR(t.hv, -EINVAL, hv_pv_unmap(t.hv, t.a, dfns, 0));
	EXPECT_ERR(t.hv, -EOVERFLOW, hv_pv_unmap(t.hv, t.a, dfns, HV_BATCH_MAX + 1));
	EXPECT_ERR(t.hv, -EINVAL, hv_pv_unmap(t.hv, t.a, (uint64_t[]){ 1000, 1001, 1000 }, 3));
	EXPECT_ERR(t.hv, -ERANGE, hv_pv_unmap(t.hv, t.a, (uint64_t[]){ 1000, lim }, 2));
	EXPECT_ERR(t.hv, -ENOENT, hv_pv_unmap(t.hv, t.a, (uint64_t[]){ 1000, 999 }, 2));
	EXPECT_ERR(t.hv, -ENOENT, hv_pv_unmap(t.hv, t.b, (uint64_t[]){ 1000 }, 1));
	cr_assert_eq(hv_pv_unmap(t.hv, t.a, (uint64_t[]){ 1000, 1001 }, 2), 0);
	EXPECT_ERR(t.hv, -ENOENT, hv_pv_unmap(t.hv, t.a, (uint64_t[]){ 1000 }, 1));
	EXPECT_ERR(t.hv, -ENOENT, hv_pv_unmap(t.hv, t.a, (uint64_t[]){ 1002, 1001 }, 2));
	hv_batch_end(t.hv, t.a);

	/* Other strategies' hypercalls. */
	EXPECT_ERR(t.hv, -EOPNOTSUPP, hv_dma_map(t.hv, t.a, dev_of(t.a), (gfn_t[]){ 1 }, 1, R,
						 &(iova_t){ 0 }));
	EXPECT_ERR(t.hv, -EOPNOTSUPP, hv_dma_unmap(t.hv, t.a, dev_of(t.a), PG, PG));
	tb_fini(&t);
}

Test(hv_args, dma_layer_calls_reject_bad_devices_lengths_and_batches)
{
	struct tb t;
	gfn_t gfns[HV_DMA_PAGES_MAX + 1];
	struct hv_dma_seg segs[HV_BATCH_MAX + 1];
	iova_t a1, a2;

	tb_init(&t, HV_DMALAYER, FLUSH_LAZY, false);
	for (unsigned i = 0; i <= HV_DMA_PAGES_MAX; i++)
		gfns[i] = i % 512;
	EXPECT_ERR(t.hv, -ENODEV, hv_dma_map(t.hv, t.a, dev_of(t.b), gfns, 1, R, &a1));
	EXPECT_ERR(t.hv, -ENODEV, hv_dma_map(t.hv, t.a, 0x7777, gfns, 1, R, &a1));
	EXPECT_ERR(t.hv, -EINVAL, hv_dma_map(t.hv, t.a, dev_of(t.a), gfns, 0, R, &a1));
	EXPECT_ERR(t.hv, -EINVAL, hv_dma_map(t.hv, t.a, dev_of(t.a), gfns, 1, 0, &a1));
	EXPECT_ERR(t.hv, -EINVAL, hv_dma_map(t.hv, t.a, dev_of(t.a), gfns, 1, 8, &a1));
	EXPECT_ERR(t.hv, -EINVAL, hv_dma_map(t.hv, t.a, dev_of(t.a), gfns, 1, R, NULL));
	EXPECT_ERR(t.hv, -EOVERFLOW, hv_dma_map(t.hv, t.a, dev_of(t.a), gfns,
						HV_DMA_PAGES_MAX + 1, R, &a1));
	EXPECT_ERR(t.hv, -EPERM, hv_dma_map(t.hv, t.a, dev_of(t.a), (gfn_t[]){ 1, 700 }, 2, R, &a1));
	EXPECT_ERR(t.hv, -ESRCH, hv_dma_map(t.hv, 44, dev_of(t.a), gfns, 1, R, &a1));
	EXPECT_ERR(t.hv, -EOPNOTSUPP, hv_pv_map(t.hv, t.a, &(struct hv_pv_map_op){ 1, 1, R }, 1));
	EXPECT_ERR(t.hv, -EOPNOTSUPP, hv_pv_unmap(t.hv, t.a, (uint64_t[]){ 1 }, 1));

	cr_assert_eq(hv_dma_map(t.hv, t.a, dev_of(t.a), gfns, 3, RW, &a1), 0);
	cr_assert_eq(hv_dma_map(t.hv, t.a, dev_of(t.a), gfns, 1, RW, &a2), 0);
	cr_assert_eq(a1 & (4 * PG - 1), 0, "3 pages round to 4, aligned to 4");
	EXPECT_ERR(t.hv, -EINVAL, hv_dma_unmap(t.hv, t.a, dev_of(t.a), a1 + 8, 3 * PG));
	EXPECT_ERR(t.hv, -EINVAL, hv_dma_unmap(t.hv, t.a, dev_of(t.a), a1, 0));
	EXPECT_ERR(t.hv, -EINVAL, hv_dma_unmap(t.hv, t.a, dev_of(t.a), a1,
					       ((uint64_t)HV_DMA_PAGES_MAX + 1) << PG_LG2));
	EXPECT_ERR(t.hv, -ENOENT, hv_dma_unmap(t.hv, t.a, dev_of(t.a), a1, 2 * PG));
	EXPECT_ERR(t.hv, -ENOENT, hv_dma_unmap(t.hv, t.a, dev_of(t.a), a1 + PG, 2 * PG));
	EXPECT_ERR(t.hv, -ENODEV, hv_dma_unmap(t.hv, t.a, dev_of(t.b), a1, 3 * PG));
	EXPECT_ERR(t.hv, -ENOENT, hv_dma_unmap(t.hv, t.b, dev_of(t.b), a1, 3 * PG));
	EXPECT_ERR(t.hv, -EINVAL, hv_dma_unmap_batch(t.hv, t.a, dev_of(t.a),
		   (struct hv_dma_seg[]){ { a1, 3 * PG }, { a2, PG }, { a1, 3 * PG } }, 3));
	EXPECT_ERR(t.hv, -ENOENT, hv_dma_unmap_batch(t.hv, t.a, dev_of(t.a),
		   (struct hv_dma_seg[]){ { a2, PG }, { a1, 4 * PG + 1 } }, 2));
	for (unsigned i = 0; i <= HV_BATCH_MAX; i++)
		segs[i] = (struct hv_dma_seg){ a2, PG };
	EXPECT_ERR(t.hv, -EINVAL, hv_dma_unmap_batch(t.hv, t.a, dev_of(t.a), segs, 0));
	EXPECT_ERR(t.hv, -EOVERFLOW, hv_dma_unmap_batch(t.hv, t.a, dev_of(t.a), segs,
							HV_BATCH_MAX + 1));
	/* A length that rounds up to the mapping's pages is the mapping. */
	cr_assert_eq(hv_dma_unmap(t.hv, t.a, dev_of(t.a), a1, 2 * PG + 1), 0);
	EXPECT_ERR(t.hv, -ENOENT, hv_dma_unmap(t.hv, t.a, dev_of(t.a), a1, 3 * PG));
	cr_assert_eq(hv_dma_unmap(t.hv, t.a, dev_of(t.a), a2, PG), 0);
	tb_fini(&t);
}

/* ---- 5. grant reference counting under hook ---------------------------------------------- */

static int grant_window_xlate(struct hv *hv, domid_t d, uint64_t m, struct amdvi_walk *w)
{
	return iopt_translate(hv_domain_iopt(hv, d), (GRANT_DFN_BASE + m) << PG_LG2, w);
}

Test(hv_grant_refs, same_grant_mapped_twice_is_one_entry_until_the_last_unmap)
{
	for (int mi = 0; mi < 3; mi++) {
		struct tb t;
		struct amdvi_walk w;
		grant_ref_t ref;
		grant_handle_t h1, h2;
		uint64_t m, b1, b2, leaves0;

		tb_init(&t, HV_HOOK, modes[mi], false);
		m = mfn_of(t.hv, t.b, 9);
		ref = grant(t.hv, t.b, t.a, 9, false);
		leaves0 = leaves_in(t.hv, t.a);
		h1 = gmap(t.hv, t.a, t.b, ref, false, 800, &b1);
		h2 = gmap(t.hv, t.a, t.b, ref, false, 801, &b2);
		cr_assert_eq(b1, b2);
		cr_assert_eq(leaves_in(t.hv, t.a), leaves0 + 1, "one IOMMU entry for both");
		cr_assert_eq(grant_window_xlate(t.hv, t.a, m, &w), 0);
		cr_assert_eq(w.pa, m << PG_LG2);
		cr_assert_eq(w.prot, RW);
		cr_assert_eq(hv_grant_unmap(t.hv, t.a, h1), 0);
		hv_sync(t.hv);
		cr_assert_eq(grant_window_xlate(t.hv, t.a, m, &w), 0, "the second map keeps it");
		cr_assert_eq(dma(t.hv, t.a, b1 >> PG_LG2, W, NULL), 0);
		EXPECT_ERR(t.hv, -EBUSY, hv_grant_end(t.hv, t.b, ref));
		cr_assert_eq(hv_grant_unmap(t.hv, t.a, h2), 0);
		cr_assert_eq(grant_window_xlate(t.hv, t.a, m, &w), -EFAULT, "the last unmap removes it");
		cr_assert_eq(leaves_in(t.hv, t.a), leaves0);
		hv_sync(t.hv);
		cr_assert_eq(dma(t.hv, t.a, b1 >> PG_LG2, R, NULL), -EFAULT);
		cr_assert_eq(hv_grant_end(t.hv, t.b, ref), 0);
		tb_fini(&t);
	}
}

Test(hv_grant_refs, unmapping_the_writer_of_a_rw_and_ro_pair_leaves_the_entry_read_only)
{
	for (int mi = 0; mi < 3; mi++)
		for (int rw_first = 0; rw_first < 2; rw_first++) {
			struct tb t;
			struct amdvi_walk w;
			grant_ref_t ref;
			grant_handle_t hrw, hro;
			uint64_t m, bus;
			struct hv_stats st;

			tb_init(&t, HV_HOOK, modes[mi], true);
			m = mfn_of(t.hv, t.b, 4);
			ref = grant(t.hv, t.b, t.a, 4, false);
			if (rw_first) {
				hrw = gmap(t.hv, t.a, t.b, ref, false, 800, &bus);
				hro = gmap(t.hv, t.a, t.b, ref, true, 801, &bus);
			} else {
				hro = gmap(t.hv, t.a, t.b, ref, true, 801, &bus);
				cr_assert_eq(grant_window_xlate(t.hv, t.a, m, &w), 0);
				cr_assert_eq(w.prot, R, "read-only while only a reader maps it");
				hrw = gmap(t.hv, t.a, t.b, ref, false, 800, &bus);
			}
			hv_sync(t.hv);
			cr_assert_eq(grant_window_xlate(t.hv, t.a, m, &w), 0);
			cr_assert_eq(w.prot, RW);
			cr_assert_eq(dma(t.hv, t.a, bus >> PG_LG2, W, NULL), 0);
			cr_assert_eq(hv_grant_unmap(t.hv, t.a, hrw), 0);
			hv_stats_get(t.hv, &st);
			cr_assert_eq(st.grant_downgrades, 1);
			cr_assert_eq(grant_window_xlate(t.hv, t.a, m, &w), 0);
			cr_assert_eq(w.prot, R);
			cr_assert_eq(w.pa, m << PG_LG2);
			hv_sync(t.hv);
			cr_assert_eq(dma(t.hv, t.a, bus >> PG_LG2, W, NULL), -EFAULT);
			cr_assert_eq(dma(t.hv, t.a, bus >> PG_LG2, R, NULL), 0);
			cr_assert_eq(hv_grant_unmap(t.hv, t.a, hro), 0);
			hv_sync(t.hv);
			cr_assert_eq(dma(t.hv, t.a, bus >> PG_LG2, R, NULL), -EFAULT);
			tb_fini(&t);
		}
}

/* ---- 6. exposure ------------------------------------------------------------------------------ */

/*
 * The strategies with an IOMMU in the way (HV_HOOK .. HV_DMALAYER); swiotlb
 * has no window that closes (hv_swiotlb).
 */

/*
 * Map, warm the IOTLB, unmap, probe at once, @rounds times; @pages gets
 * the pages probed. Returns the probes that got through.
 */
static unsigned unmap_and_probe(struct tb *t, enum hv_strategy s, unsigned rounds,
				uint64_t *pages)
{
	unsigned through = 0;

	for (unsigned i = 0; i < rounds; i++) {
		uint64_t page;
		iova_t iova = 0;
		gfn_t g = 600 + i % 8;

		if (s == HV_PV) {
			page = 100 + i;
			pv_map1(t->hv, t->a, g, page, RW);
		} else if (s == HV_DMALAYER) {
			cr_assert_eq(hv_dma_map(t->hv, t->a, dev_of(t->a), &g, 1, RW, &iova), 0);
			page = iova >> PG_LG2;
		} else {
			page = 700 + i;
			cr_assert_eq(hv_populate(t->hv, t->a, page, 0), 0);
		}
		cr_assert_eq(dma(t->hv, t->a, page, W, NULL), 0);
		if (s == HV_PV)
			cr_assert_eq(hv_pv_unmap(t->hv, t->a, &page, 1), 0);
		else if (s == HV_DMALAYER)
			cr_assert_eq(hv_dma_unmap(t->hv, t->a, dev_of(t->a), iova, PG), 0);
		else
			cr_assert_eq(hv_decrease_reservation(t->hv, t->a, &page, 1, 0), 0);
		through += hv_stale_probe(t->hv, dev_of(t->a), t->a, page << PG_LG2, INVALID_MFN);
		pages[i] = page;
	}
	return through;
}

static unsigned probe_again(struct tb *t, const uint64_t *pages, unsigned n)
{
	unsigned through = 0;

	for (unsigned i = 0; i < n; i++)
		through += hv_stale_probe(t->hv, dev_of(t->a), t->a, pages[i] << PG_LG2,
					  INVALID_MFN);
	return through;
}

Test(hv_exposure, strict_unmaps_leave_no_window)
{
	for (int s = HV_HOOK; s <= HV_DMALAYER; s++) {
		struct tb t;
		struct flush_stats *fs = malloc(sizeof(*fs));
		struct hv_stats st;

		uint64_t pages[40];

		tb_init(&t, s, FLUSH_STRICT, s != HV_PV);
		cr_assert_eq(unmap_and_probe(&t, s, 40, pages), 0, "%s: a stale DMA got through",
			     hv_strategy_name(s));
		flush_stats_get(hv_domain_flush(t.hv, t.a), fs);
		cr_assert_geq(fs->exposure_ops.count, 40);
		cr_assert_eq(hist_percentile(&fs->exposure_ops, 0.99), 0);
		cr_assert_eq(fs->exposure_ops.max, 0);
		cr_assert_eq(fs->pending, 0);
		hv_stats_get(t.hv, &st);
		cr_assert_eq(st.stale_dmas_own + st.stale_dmas_foreign + st.stale_dmas_free, 0,
			     "%s: %llu/%llu/%llu", hv_strategy_name(s),
			     (unsigned long long)st.stale_dmas_own,
			     (unsigned long long)st.stale_dmas_foreign,
			     (unsigned long long)st.stale_dmas_free);
		free(fs);
		tb_fini(&t);
	}
}

Test(hv_exposure, lazy_stale_probes_get_through_to_own_frames_only)
{
	for (int s = HV_HOOK; s <= HV_DMALAYER; s++) {
		struct tb t;
		struct hv_stats st;
		unsigned through;
		uint64_t pages[40];

		tb_init(&t, s, FLUSH_LAZY, false);
		through = unmap_and_probe(&t, s, 40, pages);
		hv_stats_get(t.hv, &st);
		cr_assert_gt(through, 0, "%s: lazy mode left no window", hv_strategy_name(s));
		cr_assert_eq(st.stale_dmas_own, through, "%s: own %llu of %u, foreign %llu free %llu",
			     hv_strategy_name(s), (unsigned long long)st.stale_dmas_own, through,
			     (unsigned long long)st.stale_dmas_foreign,
			     (unsigned long long)st.stale_dmas_free);
		cr_assert_eq(st.stale_dmas_free, 0);
		cr_assert_eq(st.stale_dmas_foreign, 0);
		/* After the flush nothing is left. */
		hv_sync(t.hv);
		cr_assert_eq(probe_again(&t, pages, 40), 0, "%s: stale after the flush",
			     hv_strategy_name(s));
		tb_fini(&t);
	}
}

Test(hv_exposure, batched_unmaps_are_settled_when_the_hypercall_returns)
{
	for (int s = HV_HOOK; s <= HV_DMALAYER; s++) {
		struct tb t;
		struct flush_stats *fs = malloc(sizeof(*fs));
		uint64_t pages[40];

		tb_init(&t, s, FLUSH_BATCHED, true);
		cr_assert_eq(unmap_and_probe(&t, s, 40, pages), 0);
		flush_stats_get(hv_domain_flush(t.hv, t.a), fs);
		cr_assert_eq(fs->pending, 0);
		cr_assert_geq(fs->released, 40);
		free(fs);
		tb_fini(&t);
	}
}

/* ---- 7. structure: pv's dfn records, the hypercall prologue and epilogue ------------------ */

/* Change @d's table behind the hypervisor's back: dfn @dfn leads to @mfn, or nowhere. */
static void table_poke(struct hv *hv, domid_t d, uint64_t dfn, uint64_t mfn)
{
	struct iopt *pt = hv_domain_iopt(hv, d);
	struct iopt_gather g;
	struct amdvi_walk w;

	iopt_gather_init(&g, NULL, NULL);
	if (!iopt_translate(pt, dfn << PG_LG2, &w))
		cr_assert_eq(iopt_unmap(pt, dfn << PG_LG2, PG, &g, NULL), 0);
	iopt_gather_release(pt, &g);
	if (mfn != INVALID_MFN)
		cr_assert_eq(iopt_map(pt, dfn << PG_LG2, mfn << PG_LG2, PG, RW, NULL), 0);
}

Test(hv_structure, pv_calls_read_the_dfn_record_not_the_table)
{
	struct tb t;
	uint64_t m1, m2;
	struct frames *fr;

	tb_init(&t, HV_PV, FLUSH_STRICT, false);
	fr = hv_frames(t.hv);
	m1 = mfn_of(t.hv, t.a, 1);
	m2 = mfn_of(t.hv, t.a, 2);
	pv_map1(t.hv, t.a, 1, 50, RW);
	cr_assert_eq(frames_refs(fr, m1), 2, "the p2m's and the mapping's");
	/* The table forgets dfn 50: the record still says it is in use. */
	table_poke(t.hv, t.a, 50, INVALID_MFN);
	EXPECT_ERR(t.hv, -EEXIST, hv_pv_map(t.hv, t.a, &(struct hv_pv_map_op){ 3, 50, R }, 1));
	/* The table now says frame m2: the unmap gives back the frame the record holds. */
	table_poke(t.hv, t.a, 50, m2);
	cr_assert_eq(hv_pv_unmap(t.hv, t.a, (uint64_t[]){ 50 }, 1), 0);
	cr_assert_eq(frames_refs(fr, m1), 1, "the mapping's reference went back");
	cr_assert_eq(frames_refs(fr, m2), 1, "the table's frame was never the mapping's");
	cr_assert_eq(dma(t.hv, t.a, 50, R, NULL), -EFAULT);
	EXPECT_ERR(t.hv, -ENOENT, hv_pv_unmap(t.hv, t.a, (uint64_t[]){ 50 }, 1));
	tb_fini(&t);
}

Test(hv_structure, pv_record_of_a_pending_unmap_is_in_the_fingerprint)
{
	struct tb t1, t2;

	/* Two hypervisors built alike; each unmaps a different dfn, lazily. */
	tb_init(&t1, HV_PV, FLUSH_LAZY, false);
	tb_init(&t2, HV_PV, FLUSH_LAZY, false);
	cr_assert_eq(hv_fingerprint(t1.hv), hv_fingerprint(t2.hv));
	pv_map1(t1.hv, t1.a, 1, 50, RW);
	pv_map1(t2.hv, t2.a, 1, 51, RW);
	cr_assert_neq(hv_fingerprint(t1.hv), hv_fingerprint(t2.hv), "live records differ");
	cr_assert_eq(hv_pv_unmap(t1.hv, t1.a, (uint64_t[]){ 50 }, 1), 0);
	cr_assert_eq(hv_pv_unmap(t2.hv, t2.a, (uint64_t[]){ 51 }, 1), 0);
	/* Same tables, same frames: only the pending records tell them apart. */
	cr_assert_neq(hv_fingerprint(t1.hv), hv_fingerprint(t2.hv), "pending records differ");
	hv_sync(t1.hv);
	hv_sync(t2.hv);
	cr_assert_eq(hv_fingerprint(t1.hv), hv_fingerprint(t2.hv), "records gone after the flush");
	/* A dfn reused before its flush: the hypervisor settles it first. */
	pv_map1(t1.hv, t1.a, 2, 60, R);
	cr_assert_eq(hv_pv_unmap(t1.hv, t1.a, (uint64_t[]){ 60 }, 1), 0);
	pv_map1(t1.hv, t1.a, 3, 60, RW);
	{
		struct hv_stats st;

		hv_stats_get(t1.hv, &st);
		cr_assert_eq(st.pv_forced_syncs, 1);
	}
	cr_assert_eq(dma(t1.hv, t1.a, 60, W, NULL), 0);
	/* t1's baseline predates t2: its check covers both. */
	hv_destroy(t2.hv);
	tb_fini(&t1);
}

struct hc_case {
	const char *what;
	int want;
	bool path;		/* records the hypercall path when it succeeds */
};

static uint64_t hypercall_paths(void)
{
	struct pathctr_rec rec[PATH_NR];

	pathctr_sum(rec);
	return rec[PATH_hypercall].count;
}

/* Run @call; check what the prologue and epilogue counted. */
#define HC_CHECK(t, c, call)							\
	do {									\
		struct hv_stats s0_, s1_;					\
		uint64_t p0_ = hypercall_paths(), fp_ = hv_fingerprint((t)->hv);\
		int ret_;							\
		hv_stats_get((t)->hv, &s0_);					\
		ret_ = (call);							\
		hv_stats_get((t)->hv, &s1_);					\
		cr_assert_eq(ret_, (c).want, "%s: got %d, want %d", (c).what, ret_, (c).want); \
		cr_assert_eq(s1_.hypercalls, s0_.hypercalls + 1, "%s: counted", (c).what); \
		cr_assert_eq(s1_.hypercall_errors, s0_.hypercall_errors + ((c).want != 0), \
			     "%s: errors", (c).what);				\
		cr_assert_eq(hypercall_paths(), p0_ + (pathctr_enabled() && !(c).want && (c).path), \
			     "%s: hypercall path", (c).what);			\
		if ((c).want)							\
			cr_assert_eq(hv_fingerprint((t)->hv), fp_, "%s changed state", (c).what); \
	} while (0)

Test(hv_structure, every_hypercall_enters_and_leaves_through_one_prologue_and_epilogue)
{
	for (int s = 0; s < HV_STRATEGY_NR; s++) {
		bool pv = s == HV_PV, dl = s == HV_DMALAYER;
		struct tb t;
		grant_ref_t ref;
		grant_handle_t h;
		iova_t iova = 0;

		tb_init(&t, s, FLUSH_STRICT, false);
		ref = grant(t.hv, t.b, t.a, 5, false);
		HC_CHECK(&t, ((struct hc_case){ "populate, no domain", -ESRCH, false }),
			 hv_populate(t.hv, 33, 0, 0));
		HC_CHECK(&t, ((struct hc_case){ "populate", 0, false }),
			 hv_populate(t.hv, t.c, 100, 0));
		HC_CHECK(&t, ((struct hc_case){ "increase, bad order", -EINVAL, true }),
			 hv_increase_reservation(t.hv, t.c, (gfn_t[]){ 101 }, 1, 3));
		HC_CHECK(&t, ((struct hc_case){ "increase", 0, true }),
			 hv_increase_reservation(t.hv, t.c, (gfn_t[]){ 101 }, 1, 0));
		HC_CHECK(&t, ((struct hc_case){ "decrease, not RAM", -ENOENT, true }),
			 hv_decrease_reservation(t.hv, t.c, (gfn_t[]){ 102 }, 1, 0));
		HC_CHECK(&t, ((struct hc_case){ "decrease", 0, true }),
			 hv_decrease_reservation(t.hv, t.c, (gfn_t[]){ 101 }, 1, 0));
		HC_CHECK(&t, ((struct hc_case){ "grant_map, no such grant", -ENOENT, false }),
			 hv_grant_map(t.hv, t.a, t.b, ref + 1, false, 800, &h, NULL));
		HC_CHECK(&t, ((struct hc_case){ "grant_map", 0, false }),
			 hv_grant_map(t.hv, t.a, t.b, ref, false, 800, &h, NULL));
		HC_CHECK(&t, ((struct hc_case){ "pv_map", pv ? 0 : -EOPNOTSUPP, true }),
			 hv_pv_map(t.hv, t.a, &(struct hv_pv_map_op){ 1, 40, RW }, 1));
		HC_CHECK(&t, ((struct hc_case){ "pv_map, in use", pv ? -EEXIST : -EOPNOTSUPP, true }),
			 hv_pv_map(t.hv, t.a, &(struct hv_pv_map_op){ 2, 40, RW }, 1));
		HC_CHECK(&t, ((struct hc_case){ "pv_unmap", pv ? 0 : -EOPNOTSUPP, true }),
			 hv_pv_unmap(t.hv, t.a, (uint64_t[]){ 40 }, 1));
		HC_CHECK(&t, ((struct hc_case){ "pv_unmap, no domain", pv ? -ESRCH : -EOPNOTSUPP, true }),
			 hv_pv_unmap(t.hv, 44, (uint64_t[]){ 40 }, 1));
		HC_CHECK(&t, ((struct hc_case){ "dma_map", dl ? 0 : -EOPNOTSUPP, false }),
			 hv_dma_map(t.hv, t.a, dev_of(t.a), (gfn_t[]){ 1 }, 1, RW, &iova));
		HC_CHECK(&t, ((struct hc_case){ "dma_map, not its device", dl ? -ENODEV : -EOPNOTSUPP,
					     false }),
			 hv_dma_map(t.hv, t.a, dev_of(t.b), (gfn_t[]){ 1 }, 1, RW, &iova));
		HC_CHECK(&t, ((struct hc_case){ "dma_unmap", dl ? 0 : -EOPNOTSUPP, true }),
			 hv_dma_unmap(t.hv, t.a, dev_of(t.a), iova, PG));
		HC_CHECK(&t, ((struct hc_case){ "grant_unmap, bad handle", -EINVAL, true }),
			 hv_grant_unmap(t.hv, t.a, h + 1));
		HC_CHECK(&t, ((struct hc_case){ "grant_unmap", 0, true }),
			 hv_grant_unmap(t.hv, t.a, h));
		tb_fini(&t);
	}
}

/* ---- 8. exchange: machine-contiguous frames below an address limit ------------------------- */

#define BIG_MACHINE	(1ULL << 21)	/* 8 GiB: half of it above 4 GiB */

static struct hv *hv_big(enum hv_strategy s, enum flush_mode m)
{
	struct hv_cfg cfg = { .machine_frames = BIG_MACHINE, .strategy = s, .tune = { .flush = m } };
	struct hv *hv = NULL;

	cr_assert_eq(hv_create(&cfg, &hv), 0);
	return hv;
}

Test(hv_exchange, extents_come_back_machine_contiguous_below_the_limit_at_the_same_gfns)
{
	for (int s = HV_HOOK; s <= HV_DMALAYER; s++)
		for (int mi = 0; mi < 3; mi++) {
			int64_t live0 = iob_alloc_live();
			struct hv *hv = hv_big(s, modes[mi]);
			uint64_t old[128], mfn[2];
			struct hv_stats st;
			domid_t d;

			cr_assert_eq(hv_domain_create(hv, 256, &d), 0);
			for (gfn_t g = 0; g < 128; g++) {
				cr_assert_eq(hv_populate(hv, d, g, 0), 0);
				old[g] = hv_p2m_lookup(hv, d, g, NULL);
			}
			cr_assert_geq(old[0], 1ULL << 20, "the allocator hands out high frames first");
			cr_assert_eq(hv_assign_device(hv, 0x100, d), 0);
			cr_assert_eq(hv_memory_exchange(hv, d, (gfn_t[]){ 0, 64 }, 2, 6, 32, mfn), 0);
			hv_sync(hv);
			for (unsigned e = 0; e < 2; e++) {
				cr_assert_eq(mfn[e] % 64, 0, "aligned extent");
				cr_assert_leq(mfn[e] + 64, 1ULL << 20, "below 4 GiB");
				for (gfn_t i = 0; i < 64; i++) {
					enum p2m_type ty;

					cr_assert_eq(hv_p2m_lookup(hv, d, 64 * e + i, &ty), mfn[e] + i);
					cr_assert_eq(ty, P2M_RAM);
					cr_assert_eq(frames_owner(hv_frames(hv), mfn[e] + i), d);
					cr_assert_eq(frames_refs(hv_frames(hv), old[64 * e + i]), 0,
						     "the old frame went back");
				}
			}
			if (s == HV_HOOK) {
				struct hv_dma_result r;

				cr_assert_eq(hv_device_dma(hv, 0x100, 70 << PG_LG2, 8, W, &r), 0);
				cr_assert_eq(r.mfn_first, mfn[1] + 6, "the mirror follows the p2m");
			}
			hv_stats_get(hv, &st);
			cr_assert_eq(st.exchanged_pages, 128);
			cr_assert_eq(frames_pending(hv_frames(hv), old[5]), 0);
			hv_destroy(hv);
			cr_assert_eq(iob_alloc_live(), live0);
		}
}

Test(hv_exchange, refuses_bad_extents_busy_frames_and_limits_nothing_can_meet)
{
	struct tb t;
	grant_ref_t ref;
	gfn_t big[HV_BATCH_MAX + 1];
	gfn_t z = 0, six = 600;

	tb_init(&t, HV_PV, FLUSH_STRICT, false);
	for (unsigned i = 0; i <= HV_BATCH_MAX; i++)
		big[i] = i;
	EXPECT_ERR(t.hv, -EINVAL, hv_memory_exchange(t.hv, t.a, &z, 0, 0, 32, NULL));
	EXPECT_ERR(t.hv, -EINVAL, hv_memory_exchange(t.hv, t.a, NULL, 1, 0, 32, NULL));
	EXPECT_ERR(t.hv, -EINVAL, hv_memory_exchange(t.hv, t.a, &z, 1, 19, 40, NULL));
	EXPECT_ERR(t.hv, -EINVAL, hv_memory_exchange(t.hv, t.a, (gfn_t[]){ 8 }, 1, 6, 32, NULL));
	EXPECT_ERR(t.hv, -EINVAL, hv_memory_exchange(t.hv, t.a, &z, 1, 6, 17, NULL));
	EXPECT_ERR(t.hv, -EINVAL, hv_memory_exchange(t.hv, t.a, &z, 1, 6, 65, NULL));
	EXPECT_ERR(t.hv, -EINVAL, hv_memory_exchange(t.hv, t.a, (gfn_t[]){ MAXPG }, 1, 0, 32, NULL));
	EXPECT_ERR(t.hv, -EINVAL, hv_memory_exchange(t.hv, t.a, (gfn_t[]){ 64, 0, 64 }, 3, 6, 32,
						     NULL));
	EXPECT_ERR(t.hv, -EOVERFLOW, hv_memory_exchange(t.hv, t.a, big, HV_BATCH_MAX + 1, 0, 32,
							NULL));
	EXPECT_ERR(t.hv, -ENOENT, hv_memory_exchange(t.hv, t.a, (gfn_t[]){ 512 }, 1, 6, 32, NULL));
	EXPECT_ERR(t.hv, -ESRCH, hv_memory_exchange(t.hv, 50, &z, 1, 0, 32, NULL));
	/* A frame mapped for a device, or by another domain, is not the domain's alone. */
	pv_map1(t.hv, t.a, 3, 40, RW);
	EXPECT_ERR(t.hv, -EBUSY, hv_memory_exchange(t.hv, t.a, &z, 1, 6, 32, NULL));
	cr_assert_eq(hv_pv_unmap(t.hv, t.a, (uint64_t[]){ 40 }, 1), 0);
	ref = grant(t.hv, t.a, t.b, 600, false);
	gmap(t.hv, t.b, t.a, ref, false, 800, NULL);
	EXPECT_ERR(t.hv, -EBUSY, hv_memory_exchange(t.hv, t.a, &six, 1, 0, 32, NULL));
	/* Below 2^18 bytes are frames 0 to 63, which the domains' first extents took. */
	cr_assert_neq(frames_owner(hv_frames(t.hv), 0), DOMID_INVALID);
	EXPECT_ERR(t.hv, -ENOMEM, hv_memory_exchange(t.hv, t.a, &z, 1, 6, 18, NULL));
	cr_assert_eq(hv_memory_exchange(t.hv, t.a, &z, 1, 6, 32, NULL), 0);
	cr_assert_eq(hv_grant_unmap(t.hv, t.b, 0), 0);
	tb_fini(&t);
}

static int op_exchange(struct tb *t, const void *ctx)
{
	const struct mem_op *o = ctx;

	return hv_memory_exchange(t->hv, pick(t, o->which), o->gfns, o->n, o->order, 32, NULL);
}

Test(hv_alloc_fail, exchange_fails_cleanly_at_every_allocation)
{
	for (int s = HV_HOOK; s <= HV_DMALAYER; s++)
		for (int mi = 0; mi < 3; mi++) {
			struct tb t;
			struct mem_op split = { 0, 2, 6, { 64, 192 } };
			struct mem_op pages = { 1, 3, 0, { 600, 601, 605 } };

			tb_init(&t, s, modes[mi], true);
			cr_assert_gt(fail_each_allocation(&t, "exchange in a 2M leaf", op_exchange,
							  &split), 0);
			cr_assert_gt(fail_each_allocation(&t, "exchange of pages", op_exchange,
							  &pages), 0);
			hv_sync(t.hv);
			if (s == HV_HOOK) {
				uint64_t got;

				cr_assert_eq(dma(t.hv, t.a, 65, W, &got), 0);
				cr_assert_eq(got, mfn_of(t.hv, t.a, 65));
				cr_assert_eq(dma(t.hv, t.b, 601, W, &got), 0);
				cr_assert_eq(got, mfn_of(t.hv, t.b, 601));
			}
			tb_fini(&t);
		}
}

/* ---- 9. swiotlb -------------------------------------------------------------------------------- */

#define POOL_GFN	MAXPG		/* the guest's boot memory for its pool: 4 segments */
#define POOL_PAGES	256

static void fill(void *mem, uint8_t seed)
{
	uint8_t *b = mem;

	for (unsigned i = 0; i < PG; i++)
		b[i] = (uint8_t)(seed + i * 7);
}

static bool filled(const void *mem, uint8_t seed)
{
	const uint8_t *b = mem;

	for (unsigned i = 0; i < PG; i++)
		if (b[i] != (uint8_t)(seed + i * 7))
			return false;
	return true;
}

static void *gmem(struct hv *hv, domid_t d, gfn_t g)
{
	void *m = hv_frame_mem(hv, mfn_of(hv, d, g));

	cr_assert_not_null(m);
	return m;
}

/* A guest with @MAXPG gfns of RAM and its pool's boot memory above, its device, its DMA API. */
static struct dps *sw_guest(struct tb *t, domid_t *d)
{
	struct dps_cfg pc;
	struct dps *p;

	cr_assert_eq(hv_domain_create(t->hv, MAXPG + POOL_PAGES, d), 0);
	for (gfn_t g = 0; g < MAXPG + POOL_PAGES; g += 64)
		for (gfn_t i = 0; i < 64; i++)
			cr_assert_eq(hv_populate(t->hv, *d, g + i, 0), 0);
	cr_assert_eq(hv_assign_device(t->hv, dev_of(*d), *d), 0);
	pc = (struct dps_cfg){ .hv = t->hv, .dom = *d, .devid = dev_of(*d), .batch = 1,
			       .boot_gfn = POOL_GFN, .boot_pages = POOL_PAGES };
	cr_assert_eq(dps_create(&pc, &p), 0);
	return p;
}

/* Is @mfn one of the pool's frames? */
static bool in_pool(struct hv *hv, domid_t d, uint64_t mfn)
{
	for (gfn_t g = POOL_GFN; g < POOL_GFN + POOL_PAGES; g++)
		if (hv_p2m_lookup(hv, d, g, NULL) == mfn)
			return true;
	return false;
}

Test(hv_swiotlb, devices_dma_untranslated_to_any_machine_frame)
{
	struct tb t;
	const uint64_t *dte;
	uint64_t foreign, got;
	uint8_t buf[PG];
	struct hv_dma_result r;

	tb_init(&t, HV_SWIOTLB, FLUSH_STRICT, false);
	dte = iommu_dte_raw(hv_iommu(t.hv), dev_of(t.a));
	cr_assert_eq(dte[0] & (AMDVI_DTE_V | AMDVI_DTE_TV), AMDVI_DTE_V | AMDVI_DTE_TV);
	cr_assert_eq(dte[0] & AMDVI_DTE_MODE, 0, "Mode 000b: translation disabled");
	cr_assert_eq(dte[0] & (AMDVI_DTE_IR | AMDVI_DTE_IW), AMDVI_DTE_IR | AMDVI_DTE_IW);
	cr_assert_eq(leaves_in(t.hv, t.a), 0, "nothing is mirrored");
	/* a's device writes into b's frame, reads it back, and b sees it. */
	foreign = mfn_of(t.hv, t.b, 600);
	fill(buf, 3);
	cr_assert_eq(hv_device_rw(t.hv, dev_of(t.a), foreign << PG_LG2, buf, PG, W, &r), 0);
	cr_assert_eq(r.owner_first, t.b);
	cr_assert(filled(gmem(t.hv, t.b, 600), 3));
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(hv_device_rw(t.hv, dev_of(t.a), foreign << PG_LG2, buf, PG, R, &r), 0);
	cr_assert(filled(buf, 3));
	/* A free frame, too; past the machine there is nothing: an abort. */
	cr_assert_eq(dma(t.hv, t.a, MACHINE - 1, W, &got), 0);
	cr_assert_eq(frames_owner(hv_frames(t.hv), got), DOMID_INVALID);
	cr_assert_eq(hv_device_rw(t.hv, dev_of(t.a), MACHINE << PG_LG2, buf, 8, W, &r), -EFAULT);
	cr_assert_eq(r.faults, 1);
	/* The frames' bytes exist only where a strategy copies data. */
	cr_assert_eq(hv_device_rw(t.hv, dev_of(t.a), 0, NULL, 8, W, &r), -EINVAL);
	cr_assert_eq(hv_device_rw(t.hv, dev_of(t.a), 0, buf, 0, W, &r), -EINVAL);
	cr_assert_eq(hv_device_rw(t.hv, dev_of(t.a), 0, buf, 8, RW, &r), -EINVAL);
	tb_fini(&t);
}

Test(hv_swiotlb, a_device_reaches_a_foreign_frame_under_swiotlb_but_not_under_the_others)
{
	for (int s = 0; s < HV_STRATEGY_NR; s++) {
		struct tb t;
		uint64_t foreign;
		unsigned reached = 0;
		uint64_t pages[MAXPG + 2];

		tb_init(&t, s, FLUSH_STRICT, false);
		foreign = mfn_of(t.hv, t.b, 600);
		/* Every page of a's device space that maps anything, and the frame's own numbers. */
		for (uint64_t g = 0; g < MAXPG; g++)
			pages[g] = g;
		pages[MAXPG] = foreign;
		pages[MAXPG + 1] = GRANT_DFN_BASE + foreign;
		for (unsigned i = 0; i < MAXPG + 2; i++) {
			uint64_t got;

			if (!dma(t.hv, t.a, pages[i], W, &got) && got == foreign)
				reached++;
		}
		if (s == HV_SWIOTLB) {
			cr_assert_eq(reached, 1 + (foreign < MAXPG), "swiotlb: at its machine address");
			cr_assert(hv_frame_mem(t.hv, foreign));
		} else {
			cr_assert_eq(reached, 0, "%s: a reached b's frame", hv_strategy_name(s));
			cr_assert_null(hv_frame_mem(t.hv, foreign), "no bytes behind frames");
		}
		tb_fini(&t);
	}
}

Test(hv_swiotlb, a_bounced_dma_lands_in_the_pool_and_reaches_the_guest_after_unmap)
{
	struct tb t;
	struct dps *p;
	struct hv_dma_result r;
	uint64_t addr;
	uint8_t buf[PG];
	domid_t d;

	tb_init(&t, HV_SWIOTLB, FLUSH_STRICT, false);
	p = sw_guest(&t, &d);
	for (gfn_t g = POOL_GFN; g < POOL_GFN + POOL_PAGES; g += 64)
		cr_assert_lt(mfn_of(t.hv, d, g) + 64, 1ULL << 20, "the pool is below 4 GiB");
	/* From the device: the device's bytes land in the pool, the guest's after the unmap. */
	fill(gmem(t.hv, d, 77), 1);
	cr_assert_eq(dps_map(p, (gfn_t[]){ 77 }, 1, W, &addr), 0);
	cr_assert(in_pool(t.hv, d, addr >> PG_LG2), "bounced, not the buffer's own frame");
	cr_assert(filled(hv_frame_mem(t.hv, addr >> PG_LG2), 1), "copied in at map (Linux 6.1)");
	fill(buf, 2);
	cr_assert_eq(hv_device_rw(t.hv, dev_of(d), addr, buf, PG, W, &r), 0);
	cr_assert(in_pool(t.hv, d, r.mfn_first));
	cr_assert(filled(gmem(t.hv, d, 77), 1), "not before the unmap");
	cr_assert_eq(dps_unmap(p, addr, 1), 0);
	cr_assert(filled(gmem(t.hv, d, 77), 2), "the device's bytes arrived");
	/* To the device: the guest's bytes reach it; nothing comes back. */
	fill(gmem(t.hv, d, 78), 4);
	cr_assert_eq(dps_map(p, (gfn_t[]){ 78 }, 1, R, &addr), 0);
	memset(buf, 0, sizeof(buf));
	cr_assert_eq(hv_device_rw(t.hv, dev_of(d), addr, buf, PG, R, &r), 0);
	cr_assert(filled(buf, 4));
	fill(buf, 5);
	cr_assert_eq(hv_device_rw(t.hv, dev_of(d), addr, buf, PG, W, &r), 0, "nothing stops it");
	cr_assert_eq(dps_unmap(p, addr, 1), 0);
	cr_assert(filled(gmem(t.hv, d, 78), 4), "a to-device mapping is not copied back");
	dps_destroy(p);
	tb_fini(&t);
}

Test(hv_swiotlb, the_exposure_window_never_closes)
{
	for (int mi = 0; mi < 3; mi++) {
		struct tb t;
		struct dps *p;
		struct hv_stats st;
		struct flush_stats *fs = malloc(sizeof(*fs));
		uint64_t addr, mfn;
		domid_t d;

		cr_assert_not_null(fs);
		tb_init(&t, HV_SWIOTLB, modes[mi], false);
		p = sw_guest(&t, &d);
		cr_assert_eq(dps_map(p, (gfn_t[]){ 5 }, 1, W, &addr), 0);
		mfn = addr >> PG_LG2;
		cr_assert_eq(dps_unmap(p, addr, 1), 0);
		cr_assert_eq(dps_flush(p), 0);
		hv_sync(t.hv);
		cr_assert_eq(hv_stale_probe(t.hv, dev_of(d), d, addr, mfn), 1);
		hv_stats_get(t.hv, &st);
		cr_assert_eq(st.stale_dmas_own, 1, "the slot, the guest's own pool frame");
		flush_stats_get(hv_domain_flush(t.hv, d), fs);
		cr_assert_eq(fs->exposure_cyc.count, 0, "no unmap ever reaches a flush: -1 in CSVs");
		free(fs);
		dps_destroy(p);
		tb_fini(&t);
	}
}

static int op_sw_dps_create(struct tb *t, const void *ctx)
{
	const domid_t *d = ctx;
	struct dps_cfg pc = { .hv = t->hv, .dom = *d, .devid = dev_of(*d), .batch = 1,
			      .boot_gfn = POOL_GFN, .boot_pages = POOL_PAGES };
	struct dps *p = NULL;
	int ret = dps_create(&pc, &p);

	/* The pool stays exchanged: what this checks is that a failure changed nothing. */
	if (!ret)
		dps_destroy(p);
	return ret;
}

Test(hv_alloc_fail, swiotlb_paths_fail_cleanly_at_every_allocation)
{
	struct hv_cfg cfg = { .machine_frames = MACHINE, .strategy = HV_SWIOTLB };
	int64_t live0 = iob_alloc_live();
	struct tb t;
	struct dps *p;
	domid_t d;
	uint64_t addr, calls;
	long n;

	/* Creation: the frames' bytes are one of its allocations. */
	for (n = 0;; n++) {
		struct hv *hv = NULL;
		int ret;

		iob_fail_after(n);
		ret = hv_create(&cfg, &hv);
		iob_fail_after(-1);
		if (!ret) {
			cr_assert_not_null(hv_frame_mem(hv, MACHINE - 1));
			hv_destroy(hv);
			break;
		}
		cr_assert_eq(ret, -ENOMEM);
		cr_assert_eq(iob_alloc_live(), live0, "hv_create, allocation %ld failing: leak", n);
	}
	cr_assert_gt(n, 0);
	tb_init(&t, HV_SWIOTLB, FLUSH_STRICT, false);
	cr_assert_eq(hv_domain_create(t.hv, MAXPG + POOL_PAGES, &d), 0);
	for (gfn_t g = 0; g < MAXPG; g += 512)
		cr_assert_eq(hv_populate(t.hv, d, g, 9), 0);
	for (gfn_t g = POOL_GFN; g < POOL_GFN + POOL_PAGES; g++)
		cr_assert_eq(hv_populate(t.hv, d, g, 0), 0);
	cr_assert_eq(hv_assign_device(t.hv, dev_of(d), d), 0);
	/* The guest's start: its allocations, then the exchange of the whole pool. */
	cr_assert_gt(fail_each_allocation(&t, "swiotlb dps_create", op_sw_dps_create, &d), 0);
	/* Map and unmap allocate nothing: there is nothing to fail. */
	{
		struct dps_cfg pc = { .hv = t.hv, .dom = d, .devid = dev_of(d), .batch = 1,
				      .boot_gfn = POOL_GFN, .boot_pages = POOL_PAGES };
		struct mem_op pages = { 0, 2, 0, { 600, 601 } };

		cr_assert_eq(dps_create(&pc, &p), 0);
		calls = iob_alloc_calls();
		cr_assert_eq(dps_map(p, (gfn_t[]){ 9, 10 }, 2, RW, &addr), 0);
		cr_assert_eq(dps_unmap(p, addr, 2), 0);
		cr_assert_eq(iob_alloc_calls(), calls, "swiotlb's map and unmap allocate nothing");
		dps_destroy(p);
		cr_assert_gt(fail_each_allocation(&t, "swiotlb exchange", op_exchange, &pages), 0);
	}
	tb_fini(&t);
}

/*
 * A PV hardware domain as Xen has it (dfn = mfn): an identity domain gets
 * the very frames it asks for, and a page typed as a page table leaves
 * the IOMMU table with a flush of its own at once, in every flush mode
 * (Xen's PV rule; bench/xen_fidelity.c replays a real dom0's log with it).
 */
Test(hv_memory, identity_domain_frames_and_pv_page_table_types)
{
	for (int mi = 0; mi < 3; mi++) {
		struct hv *hv = hv_new(HV_HOOK, modes[mi], true);
		struct flush_stats a, b;
		struct amdvi_walk w;
		uint64_t mfn;
		domid_t d, o;
		gfn_t g = 4096 + 512;

		cr_assert_eq(hv_domain_create(hv, MACHINE, &d), 0);
		cr_assert_eq(hv_domain_create(hv, MAXPG, &o), 0);
		cr_assert_eq(hv_populate(hv, o, 0, 0), 0);
		cr_assert_eq(hv_domain_identity(hv, o), -EBUSY, "it has pages already");
		cr_assert_eq(hv_pv_retype(hv, o, 0, true), -EOPNOTSUPP, "not an identity domain");
		cr_assert_eq(hv_domain_identity(hv, d), 0);
		cr_assert_eq(hv_assign_device(hv, dev_of(d), d), 0);
		cr_assert_eq(hv_populate(hv, d, g, 9), 0);
		cr_assert_eq(hv_p2m_lookup(hv, d, g + 5, NULL), g + 5, "gfn is the frame");
		cr_assert_eq(hv_populate(hv, d, 700, 0), 0);
		cr_assert_eq(hv_p2m_lookup(hv, d, 700, NULL), 700);
		/* Frame 0 is domain o's: the identity domain cannot have it. */
		mfn = hv_p2m_lookup(hv, o, 0, NULL);
		cr_assert_eq(hv_populate(hv, d, mfn, 0), -EBUSY);
		cr_assert_eq(iopt_translate(hv_domain_iopt(hv, d), (g + 3) << PG_LG2, &w), 0);
		cr_assert_eq(w.size_lg2, 21, "the block sits in a 2 MiB leaf");

		hv_sync(hv);
		flush_stats_get(hv_domain_flush(hv, d), &a);
		cr_assert_eq(hv_pv_retype(hv, d, g + 3, true), 0);
		flush_stats_get(hv_domain_flush(hv, d), &b);
		cr_assert_eq(b.inv_cmds, a.inv_cmds + 1, "mode %d: the type change's own flush, at once",
			     mi);
		cr_assert_eq(dma(hv, d, g + 3, R, NULL), -EFAULT, "a page table is out of reach");
		cr_assert_eq(dma(hv, d, g + 4, W, NULL), 0, "its neighbours are not");
		cr_assert_eq(hv_pv_retype(hv, d, g + 3, true), -EINVAL, "typed already");
		cr_assert_eq(hv_decrease_reservation(hv, d, (gfn_t[]){ g + 3 }, 1, 0), -EBUSY,
			     "a typed page is not given back");
		cr_assert_eq(hv_pv_retype(hv, d, 701, true), -EINVAL, "not RAM of the domain");
		cr_assert_eq(hv_pv_retype(hv, d, g + 3, false), 0);
		cr_assert_eq(dma(hv, d, g + 3, W, &mfn), 0);
		cr_assert_eq(mfn, g + 3, "mapped back at dfn = mfn");
		hv_sync(hv);
		cr_assert_eq(iopt_translate(hv_domain_iopt(hv, d), (g + 3) << PG_LG2, &w), 0);
		cr_assert_eq(w.size_lg2, 21, "the table filled again and was coalesced");
		cr_assert_eq(hv_decrease_reservation(hv, d, (gfn_t[]){ g + 3 }, 1, 0), 0);
		hv_destroy(hv);
	}
}
