// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dps: each strategy's guest side. hook's addresses are the gfns and cost
 * no hypercall; pv's own dfn allocator hands out what is free and takes
 * back what an issued unmap freed (never a deferred one); pv and dmalayer
 * defer unmaps into batches of cfg.batch hypercall entries, and pv never
 * puts more than HV_BATCH_MAX pages in one; errors come back and are
 * counted. Every test checks that every allocation was given back.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <iob/alloc.h>
#include <iob/dps.h>
#include <iob/warn.h>

#include "prng.h"

#define PG		AMDVI_PAGE_SIZE
#define PG_LG2		AMDVI_PAGE_SIZE_LG2
#define R		IOPT_PROT_READ
#define W		IOPT_PROT_WRITE
#define RW		IOPT_PROT_RW
#define DEV		0x10
#define GUEST		2048		/* gfns of RAM */
#define POOL		512		/* swiotlb's boot memory above it: 8 segments */
#define SEG		64		/* pages per swiotlb segment */

/* ---- fixture: a hypervisor, a guest with RAM and a device, its DMA API ---------------- */

struct fx {
	struct hv *hv;
	domid_t dom;
	struct dps *dps;
	int64_t live0;
	uint64_t warn0;
};

/* The guest's RAM, and above it the boot memory its DMA API takes (swiotlb). */
static void fx_guest(struct fx *x, enum hv_strategy s, enum flush_mode m, struct dps_cfg *pc)
{
	struct hv_cfg hc = {
		.machine_frames = 1ULL << 16,
		.strategy = s,
		.tune = { .flush = m },
	};
	uint64_t boot = dps_boot_pages(s) ? POOL : 0;

	memset(x, 0, sizeof(*x));
	x->live0 = iob_alloc_live();
	x->warn0 = iob_warn_count();
	cr_assert_eq(hv_create(&hc, &x->hv), 0);
	cr_assert_eq(hv_domain_create(x->hv, GUEST + boot, &x->dom), 0);
	for (gfn_t g = 0; g < GUEST + boot; g += 512)
		cr_assert_eq(hv_populate(x->hv, x->dom, g, 9), 0);
	cr_assert_eq(hv_assign_device(x->hv, DEV, x->dom), 0);
	*pc = (struct dps_cfg){ .hv = x->hv, .dom = x->dom, .devid = DEV,
				.boot_gfn = GUEST, .boot_pages = boot };
}

static void fx_init(struct fx *x, enum hv_strategy s, enum flush_mode m, unsigned batch)
{
	struct dps_cfg pc;

	fx_guest(x, s, m, &pc);
	pc.batch = batch;
	cr_assert_eq(dps_create(&pc, &x->dps), 0);
}

static void fx_fini(struct fx *x)
{
	dps_destroy(x->dps);
	hv_destroy(x->hv);
	cr_assert_eq(iob_warn_count(), x->warn0, "IOB_WARN_ON fired: %s",
		     iob_warn_message(0) ? iob_warn_message(0) : "?");
	cr_assert_eq(iob_alloc_live(), x->live0, "%lld allocations leaked",
		     (long long)(iob_alloc_live() - x->live0));
}

static struct hv_stats hstats(const struct fx *x)
{
	struct hv_stats s;

	hv_stats_get(x->hv, &s);
	return s;
}

static struct dps_stats pstats(const struct fx *x)
{
	struct dps_stats s;

	dps_stats_get(x->dps, &s);
	return s;
}

/* Map @n gfn-contiguous pages from @g. */
static uint64_t map_n(struct fx *x, gfn_t g, unsigned n, unsigned dir)
{
	gfn_t gfns[HV_DMA_PAGES_MAX];
	uint64_t addr = 0;

	for (unsigned i = 0; i < n; i++)
		gfns[i] = g + i;
	cr_assert_eq(dps_map(x->dps, gfns, n, dir, &addr), 0, "map of %u pages at gfn %llu", n,
		     (unsigned long long)g);
	return addr;
}

/* Does the device reach @addr (writing), and which frame? */
static bool reaches(struct fx *x, uint64_t addr, uint64_t *mfn)
{
	struct hv_dma_result r;
	int ret = hv_device_dma(x->hv, DEV, addr, 8, W, &r);

	if (mfn)
		*mfn = r.mfn_first;
	return ret == 0;
}

/* ---- creation ------------------------------------------------------------------------------- */

Test(dps, create_rejects_bad_configurations_and_fails_cleanly_at_every_allocation)
{
	for (int s = 0; s < HV_STRATEGY_NR; s++) {
		struct fx x;
		struct dps_cfg pc;
		struct dps *p = NULL;
		long n;

		fx_guest(&x, s, FLUSH_STRICT, &pc);
		pc.batch = 1;
		cr_assert_eq(dps_create(NULL, &p), -EINVAL);
		cr_assert_eq(dps_create(&pc, NULL), -EINVAL);
		pc.hv = NULL;
		cr_assert_eq(dps_create(&pc, &p), -EINVAL);
		pc.hv = x.hv;
		pc.batch = HV_BATCH_MAX + 1;
		cr_assert_eq(dps_create(&pc, &p), -EINVAL);
		pc.batch = 4;
		for (n = 0;; n++) {
			uint64_t fp = hv_fingerprint(x.hv);
			int64_t live = iob_alloc_live();
			int ret;

			iob_fail_after(n);
			ret = dps_create(&pc, &p);
			iob_fail_after(-1);
			if (!ret)
				break;
			cr_assert_eq(ret, -ENOMEM, "%s: allocation %ld failing: %d",
				     hv_strategy_name(s), n, ret);
			cr_assert_eq(iob_alloc_live(), live, "%s: allocation %ld failing: leak",
				     hv_strategy_name(s), n);
			cr_assert_eq(hv_fingerprint(x.hv), fp);
			cr_assert_lt(n, 1000);
		}
		cr_assert_gt(n, 0, "%s: dps_create allocates", hv_strategy_name(s));
		cr_assert_str_eq(dps_ops_of(p)->name, hv_strategy_name(s));
		x.dps = p;
		fx_fini(&x);
	}
}

/* ---- hook ----------------------------------------------------------------------------------- */

Test(dps, hook_addresses_are_the_gfns_and_cost_no_hypercall)
{
	struct fx x;
	uint64_t addr, mfn;
	struct hv_stats h0;

	fx_init(&x, HV_HOOK, FLUSH_STRICT, 1);
	h0 = hstats(&x);
	addr = map_n(&x, 700, 3, W);
	cr_assert_eq(addr, 700ULL << PG_LG2);
	cr_assert(reaches(&x, addr + 2 * PG, &mfn));
	cr_assert_eq(mfn, hv_p2m_lookup(x.hv, x.dom, 702, NULL));
	cr_assert_eq(dps_map(x.dps, (gfn_t[]){ 5, 7 }, 2, R, &addr), -EINVAL,
		     "one buffer, one gfn range");
	cr_assert_eq(dps_map(x.dps, (gfn_t[]){ 5 }, 0, R, &addr), -EINVAL);
	cr_assert_eq(dps_unmap(x.dps, 700ULL << PG_LG2, 3), 0);
	cr_assert_eq(dps_flush(x.dps), 0);
	cr_assert(reaches(&x, 700ULL << PG_LG2, NULL), "hook never takes a buffer away");
	cr_assert_eq(hstats(&x).hypercalls, h0.hypercalls);
	cr_assert_eq(pstats(&x).maps, 1);
	cr_assert_eq(pstats(&x).unmaps, 1);
	cr_assert_eq(pstats(&x).map_calls + pstats(&x).unmap_calls, 0);
	fx_fini(&x);
}

/* ---- pv's dfn allocator ----------------------------------------------------------------------- */

Test(dps, pv_dfns_are_distinct_and_come_back_only_after_their_unmap_is_issued)
{
	struct fx x;
	uint64_t a[8], again, mfn;

	fx_init(&x, HV_PV, FLUSH_STRICT, 4);
	for (unsigned i = 0; i < 8; i++) {
		a[i] = map_n(&x, 100 + 8 * i, 1 + i % 3, RW);
		cr_assert_neq(a[i], 0);
		cr_assert(reaches(&x, a[i], &mfn));
		cr_assert_eq(mfn, hv_p2m_lookup(x.hv, x.dom, 100 + 8 * i, NULL));
		for (unsigned j = 0; j < i; j++) {
			uint64_t lo = a[i], hi = a[i] + (1 + i % 3) * PG;
			uint64_t jlo = a[j], jhi = a[j] + (1 + j % 3) * PG;

			cr_assert(hi <= jlo || jhi <= lo, "buffers %u and %u overlap", i, j);
		}
	}
	/* Deferred: the dfn is still mapped, so it is not handed out again. */
	cr_assert_eq(dps_unmap(x.dps, a[0], 1), 0);
	cr_assert(reaches(&x, a[0], NULL), "a deferred unmap has not happened yet");
	again = map_n(&x, 300, 1, RW);
	cr_assert_neq(again, a[0]);
	/* Issued: the dfn goes back to the allocator and comes out again. */
	cr_assert_eq(dps_flush(x.dps), 0);
	cr_assert_not(reaches(&x, a[0], NULL));
	cr_assert_eq(map_n(&x, 301, 1, RW), a[0], "the freed dfn is the next one handed out");
	fx_fini(&x);
}

Test(dps, pv_map_refused_by_the_hypervisor_gives_its_dfns_back)
{
	struct fx x;
	uint64_t a, b;
	gfn_t bad = GUEST + 5;	/* past the domain */

	fx_init(&x, HV_PV, FLUSH_STRICT, 1);
	a = map_n(&x, 10, 1, RW);
	cr_assert_eq(dps_unmap(x.dps, a, 1), 0);
	cr_assert_eq(dps_map(x.dps, &bad, 1, RW, &b), -EPERM);
	cr_assert_eq(pstats(&x).errors, 1);
	cr_assert_eq(map_n(&x, 11, 1, RW), a, "the refused map's dfn was given back");
	cr_assert_eq(dps_map(x.dps, (gfn_t[]){ 1 }, 0, R, &b), -EINVAL);
	cr_assert_eq(dps_map(x.dps, (gfn_t[]){ 1 }, HV_BATCH_MAX + 1, R, &b), -EINVAL);
	cr_assert_eq(dps_unmap(x.dps, a, 0), -EINVAL);
	cr_assert_eq(dps_unmap(x.dps, a, HV_BATCH_MAX + 1), -EINVAL);
	/* An unmap of what is not mapped: the hypervisor refuses it when issued. */
	cr_assert_eq(dps_unmap(x.dps, a - 64 * PG, 1), -ENOENT);
	cr_assert_eq(pstats(&x).errors, 2);
	cr_assert_eq(dps_unmap(x.dps, a, 1), 0);
	fx_fini(&x);
}

/* ---- deferral and batching ---------------------------------------------------------------------- */

Test(dps, unmaps_wait_for_a_full_batch_or_a_flush)
{
	for (int s = HV_PV; s <= HV_DMALAYER; s++) {
		struct fx x;
		uint64_t a[6];
		struct hv_stats h0;

		fx_init(&x, s, FLUSH_BATCHED, 4);
		for (unsigned i = 0; i < 6; i++)
			a[i] = map_n(&x, 200 + 4 * i, 2, W);
		h0 = hstats(&x);
		for (unsigned i = 0; i < 3; i++)
			cr_assert_eq(dps_unmap(x.dps, a[i], 2), 0);
		cr_assert_eq(pstats(&x).unmap_calls, 0, "%s: three of four queued",
			     hv_strategy_name(s));
		cr_assert_eq(hstats(&x).hypercalls, h0.hypercalls);
		cr_assert(reaches(&x, a[2], NULL));
		cr_assert_eq(dps_unmap(x.dps, a[3], 2), 0);
		cr_assert_eq(pstats(&x).unmap_calls, 1, "%s: the fourth issues the batch",
			     hv_strategy_name(s));
		cr_assert_eq(hstats(&x).hypercalls, h0.hypercalls + 1);
		cr_assert_eq(s == HV_PV ? hstats(&x).pv_unmaps : hstats(&x).dma_unmaps,
			     s == HV_PV ? 8 : 4, "pages (pv) or buffers (dmalayer) in one call");
		cr_assert_eq(dps_unmap(x.dps, a[4], 2), 0);
		cr_assert_eq(pstats(&x).unmap_calls, 1);
		cr_assert_eq(dps_flush(x.dps), 0);
		cr_assert_eq(pstats(&x).unmap_calls, 2, "flush issues what waits");
		cr_assert_not(reaches(&x, a[4], NULL), "batched: settled by the flush's wait");
		/* Destroy issues the rest. */
		cr_assert_eq(dps_unmap(x.dps, a[5], 2), 0);
		dps_destroy(x.dps);
		x.dps = NULL;
		cr_assert_not(reaches(&x, a[5], NULL));
		fx_fini(&x);
	}
}

Test(dps, batch_of_one_or_zero_issues_every_unmap)
{
	for (unsigned batch = 0; batch <= 1; batch++) {
		struct fx x;
		uint64_t a;

		fx_init(&x, HV_DMALAYER, FLUSH_STRICT, batch);
		a = map_n(&x, 9, 1, RW);
		cr_assert_eq(dps_unmap(x.dps, a, 1), 0);
		cr_assert_eq(pstats(&x).unmap_calls, 1);
		cr_assert_not(reaches(&x, a, NULL));
		fx_fini(&x);
	}
}

Test(dps, pv_batch_never_passes_one_hypercalls_worth_of_pages)
{
	struct fx x;
	uint64_t a[6];

	fx_init(&x, HV_PV, FLUSH_BATCHED, 64);
	for (unsigned i = 0; i < 6; i++)
		a[i] = map_n(&x, 128 * i, 100, R);
	for (unsigned i = 0; i < 5; i++)
		cr_assert_eq(dps_unmap(x.dps, a[i], 100), 0);
	cr_assert_eq(pstats(&x).unmap_calls, 0, "500 pages wait");
	cr_assert_eq(dps_unmap(x.dps, a[5], 100), 0);
	cr_assert_eq(pstats(&x).unmap_calls, 1, "600 would not fit: the 500 went first");
	cr_assert_eq(hstats(&x).pv_unmaps, 500);
	cr_assert_eq(dps_flush(x.dps), 0);
	cr_assert_eq(hstats(&x).pv_unmaps, 600);
	fx_fini(&x);
}

Test(dps, dmalayer_errors_come_back_and_are_counted)
{
	struct fx x;
	uint64_t a;
	gfn_t bad = GUEST + 1;

	fx_init(&x, HV_DMALAYER, FLUSH_STRICT, 1);
	cr_assert_eq(dps_map(x.dps, &bad, 1, R, &a), -EPERM);
	cr_assert_eq(dps_map(x.dps, (gfn_t[]){ 1 }, 1, 0, &a), -EINVAL);
	cr_assert_eq(pstats(&x).errors, 2);
	a = map_n(&x, 1, 2, RW);
	cr_assert_eq(dps_unmap(x.dps, a, 0), -EINVAL);
	cr_assert_eq(dps_unmap(x.dps, a, HV_DMA_PAGES_MAX + 1), -EINVAL);
	cr_assert_eq(dps_unmap(x.dps, a, 3), -ENOENT, "not the mapping's length");
	cr_assert_eq(pstats(&x).errors, 3);
	cr_assert_eq(dps_unmap(x.dps, a, 2), 0);
	fx_fini(&x);
}

/* ---- what each strategy takes ------------------------------------------------------------------ */

Test(dps, max_and_boot_pages_say_what_each_strategy_takes)
{
	static const unsigned max[HV_STRATEGY_NR] = {
		[HV_HOOK] = HV_DMA_PAGES_MAX, [HV_PV] = HV_BATCH_MAX,
		[HV_DMALAYER] = HV_DMA_PAGES_MAX, [HV_SWIOTLB] = SEG,
	};

	for (int s = 0; s < HV_STRATEGY_NR; s++) {
		struct fx x;

		fx_init(&x, s, FLUSH_STRICT, 1);
		cr_assert_eq(dps_max_pages(x.dps), max[s], "%s", hv_strategy_name(s));
		cr_assert_eq(dps_boot_pages(s), s == HV_SWIOTLB ? (64ULL << 20) / PG : 0,
			     "%s: Linux's 64 MiB pool, nothing for the others", hv_strategy_name(s));
		fx_fini(&x);
	}
	cr_assert_eq(dps_boot_pages(HV_STRATEGY_NR), 0);
}

/* ---- swiotlb ------------------------------------------------------------------------------------ */

static void fill(void *mem, uint32_t seed)
{
	uint32_t *w = mem;

	for (unsigned i = 0; i < PG / 4; i++)
		w[i] = seed * 0x9e3779b9U + i;
}

static bool filled(const void *mem, uint32_t seed)
{
	const uint32_t *w = mem;

	for (unsigned i = 0; i < PG / 4; i++)
		if (w[i] != seed * 0x9e3779b9U + i)
			return false;
	return true;
}

static void *guest_mem(struct fx *x, gfn_t g)
{
	void *m = hv_frame_mem(x->hv, hv_p2m_lookup(x->hv, x->dom, g, NULL));

	cr_assert_not_null(m);
	return m;
}

/* The pool as the hypervisor sees it: each segment's first frame. */
static void pool_segments(struct fx *x, uint64_t *mfn)
{
	for (unsigned k = 0; k < POOL / SEG; k++) {
		mfn[k] = hv_p2m_lookup(x->hv, x->dom, GUEST + (uint64_t)k * SEG, NULL);
		for (unsigned i = 1; i < SEG; i++)
			cr_assert_eq(hv_p2m_lookup(x->hv, x->dom, GUEST + (uint64_t)k * SEG + i, NULL),
				     mfn[k] + i, "a segment is machine-contiguous");
		cr_assert_eq(mfn[k] % SEG, 0);
		cr_assert_leq(mfn[k] + SEG, 1ULL << 20, "below 4 GiB");
	}
}

Test(dps, swiotlb_start_refuses_boot_memory_it_cannot_use)
{
	struct { gfn_t gfn; uint64_t pages; int want; } bad[] = {
		{ GUEST, 0, -EINVAL },			/* none set aside */
		{ GUEST, 63, -EINVAL },			/* not whole segments */
		{ GUEST + 32, 64, -EINVAL },		/* not on a segment */
		{ GUEST, 64ULL * (HV_BATCH_MAX + 1), -EINVAL },	/* more than one exchange */
		{ GUEST + POOL, 64, -EINVAL },		/* past the domain */
		{ GUEST + 64, 64, -ENOENT },		/* a page ballooned out below */
	};
	struct fx x;
	struct dps_cfg pc;

	fx_guest(&x, HV_SWIOTLB, FLUSH_STRICT, &pc);
	cr_assert_eq(hv_decrease_reservation(x.hv, x.dom, (gfn_t[]){ GUEST + 100 }, 1, 0), 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t fp = hv_fingerprint(x.hv);
		int64_t live = iob_alloc_live();
		struct dps *p = NULL;

		pc.boot_gfn = bad[i].gfn;
		pc.boot_pages = bad[i].pages;
		cr_assert_eq(dps_create(&pc, &p), bad[i].want, "case %u", i);
		cr_assert_eq(hv_fingerprint(x.hv), fp, "case %u changed the hypervisor", i);
		cr_assert_eq(iob_alloc_live(), live, "case %u leaked", i);
	}
	fx_fini(&x);
}

Test(dps, swiotlb_bounces_scattered_pages_through_machine_contiguous_slots)
{
	struct fx x;
	struct hv_dma_result r;
	gfn_t gfns[3] = { 5, 900, 17 };
	uint64_t seg[POOL / SEG], addr, h0;
	uint8_t *pool;

	fx_init(&x, HV_SWIOTLB, FLUSH_STRICT, 1);
	pool_segments(&x, seg);
	for (unsigned i = 0; i < 3; i++)
		fill(guest_mem(&x, gfns[i]), 10 + i);
	h0 = hstats(&x).hypercalls;
	cr_assert_eq(dps_map(x.dps, gfns, 3, RW, &addr), 0);
	cr_assert_eq(addr % PG, 0, "a mapping of pages starts on a page");
	cr_assert_eq(addr >> PG_LG2, seg[0], "the first slots of the pool");
	pool = hv_frame_mem(x.hv, addr >> PG_LG2);
	for (unsigned i = 0; i < 3; i++) {
		cr_assert(filled(pool + i * PG, 10 + i), "page %u copied in", i);
		fill(pool + i * PG, 20 + i);		/* what the device writes */
	}
	cr_assert_eq(hv_device_dma(x.hv, DEV, addr, 3 * PG, W, &r), 0);
	cr_assert_eq(r.mfn_first, seg[0]);
	cr_assert_eq(dps_unmap(x.dps, addr, 3), 0);
	for (unsigned i = 0; i < 3; i++)
		cr_assert(filled(guest_mem(&x, gfns[i]), 20 + i), "page %u copied back", i);
	cr_assert_eq(hstats(&x).hypercalls, h0, "no hypercall on the I/O path");
	cr_assert_eq(pstats(&x).maps, 1);
	cr_assert_eq(pstats(&x).unmaps, 1);
	fx_fini(&x);
}

Test(dps, swiotlb_refuses_what_linux_refuses)
{
	struct fx x;
	uint64_t a[8], b;
	grant_ref_t ref;
	grant_handle_t h;
	domid_t peer;
	gfn_t host = 1000, ro_buf = 3;

	fx_init(&x, HV_SWIOTLB, FLUSH_STRICT, 1);
	cr_assert_eq(dps_map(x.dps, (gfn_t[]){ 1 }, 0, R, &b), -EINVAL);
	cr_assert_eq(dps_map(x.dps, (gfn_t[]){ 1 }, SEG + 1, R, &b), -EINVAL,
		     "more than a segment: larger than dma_max_mapping_size()");
	cr_assert_eq(dps_map(x.dps, (gfn_t[]){ 1 }, 1, 0, &b), -EINVAL);
	cr_assert_eq(dps_map(x.dps, (gfn_t[]){ GUEST + POOL }, 1, R, &b), -EPERM);
	/* A read-only grant of another domain, mapped by the guest: no device writes. */
	cr_assert_eq(hv_domain_create(x.hv, 8, &peer), 0);
	cr_assert_eq(hv_populate(x.hv, peer, ro_buf, 0), 0);
	cr_assert_eq(hv_grant_access(x.hv, peer, x.dom, ro_buf, true, &ref), 0);
	cr_assert_eq(hv_decrease_reservation(x.hv, x.dom, &host, 1, 0), 0);
	cr_assert_eq(hv_grant_map(x.hv, x.dom, peer, ref, true, host, &h, NULL), 0);
	cr_assert_eq(dps_map(x.dps, &host, 1, W, &b), -EACCES);
	cr_assert_eq(dps_map(x.dps, &host, 1, R, &b), 0);
	cr_assert_eq(dps_unmap(x.dps, b, 1), 0);
	cr_assert_eq(pstats(&x).errors, 2);
	/* The pool holds 8 segments of 64 pages: 8 such buffers, not 9. */
	for (unsigned i = 0; i < 8; i++)
		a[i] = map_n(&x, (gfn_t)i * SEG, SEG, RW);
	cr_assert_eq(dps_map(x.dps, (gfn_t[]){ 1 }, 1, R, &b), -ENOSPC, "swiotlb buffer is full");
	cr_assert_eq(dps_unmap(x.dps, a[3] + PG, SEG - 1), -ENOENT, "not where a mapping starts");
	cr_assert_eq(dps_unmap(x.dps, a[3], SEG - 1), -ENOENT, "not its size");
	cr_assert_eq(dps_unmap(x.dps, 1ULL << 40, 1), -ENOENT, "not the pool");
	cr_assert_eq(dps_unmap(x.dps, a[3], SEG + 1), -EINVAL);
	cr_assert_eq(dps_unmap(x.dps, a[3], SEG), 0);
	cr_assert_eq(dps_unmap(x.dps, a[3], SEG), -ENOENT, "twice");
	cr_assert_eq(map_n(&x, 700, 2, R), a[3], "the freed segment serves the next map");
	cr_assert_eq(hv_grant_unmap(x.hv, x.dom, h), 0);
	fx_fini(&x);
}

/* ---- swiotlb's slot allocator against a reference ----------------------------------------------- */

#define SLOTS		(POOL * 2)	/* 2 KiB slots */
#define SEGSLOTS	128
#define BUFS		(GUEST / SEG)	/* 64-page buffers of guest RAM, one per live mapping */
#define SOPS		4000

struct sref {
	bool used[SLOTS];
	unsigned cursor;
	struct { bool live; uint64_t addr; unsigned n, dir, first; uint32_t seed; } buf[BUFS];
};

/* Linux's search, spelled plainly: the first page-aligned run from the cursor on, wrapping. */
static int sref_find(const struct sref *m, unsigned need)
{
	unsigned start = (m->cursor + 1) / 2 * 2;

	if (start >= SLOTS)
		start = 0;
	for (unsigned k = 0; k < SLOTS; k += 2) {
		unsigned i = (start + k) % SLOTS;
		bool ok = i % SEGSLOTS + need <= SEGSLOTS;

		for (unsigned j = 0; ok && j < need; j++)
			ok = !m->used[i + j];
		if (ok)
			return (int)i;
	}
	return -1;
}

#define SCHECK(seed, op, cond, fmt, ...)					\
	cr_assert((cond), "IOB_TEST_SEED=0x%016llx op %u: " fmt,		\
		  (unsigned long long)(seed), (op), ##__VA_ARGS__)

Test(dps, swiotlb_slots_are_handed_out_as_a_reference_of_linuxs_search_says, .timeout = 120)
{
	uint64_t seed = test_seed(0xd5), seg[POOL / SEG];
	struct sref *m = calloc(1, sizeof(*m));
	struct prng rng;
	struct fx x;
	unsigned full = 0, maps = 0;

	cr_assert_not_null(m);
	prng_seed(&rng, seed);
	fx_init(&x, HV_SWIOTLB, FLUSH_STRICT, 1);
	pool_segments(&x, seg);
	for (unsigned op = 0; op < SOPS; op++) {
		unsigned b = (unsigned)prng_below(&rng, BUFS);
		gfn_t base = (gfn_t)b * SEG;

		if (!m->buf[b].live) {
			unsigned n = prng_below(&rng, 4) ? 1 + (unsigned)prng_below(&rng, 8)
							 : 1 + (unsigned)prng_below(&rng, SEG);
			unsigned dir = 1 + (unsigned)prng_below(&rng, 3);
			uint32_t sd = (uint32_t)prng_next(&rng);
			int want = sref_find(m, 2 * n);
			uint64_t addr = 0;
			gfn_t gfns[SEG];
			int ret;

			for (unsigned i = 0; i < n; i++) {
				gfns[i] = base + i;
				fill(guest_mem(&x, gfns[i]), sd + i);
			}
			ret = dps_map(x.dps, gfns, n, dir, &addr);
			if (want < 0) {
				SCHECK(seed, op, ret == -ENOSPC, "no run of %u slots, map gave %d",
				       2 * n, ret);
				full++;
				continue;
			}
			SCHECK(seed, op, ret == 0, "map of %u pages: %d", n, ret);
			SCHECK(seed, op, addr == (seg[want / SEGSLOTS] << PG_LG2) +
					    (uint64_t)(want % SEGSLOTS) * 2048,
			       "map of %u pages at 0x%llx, the reference says slot %d", n,
			       (unsigned long long)addr, want);
			for (unsigned j = 0; j < 2 * n; j++)
				m->used[want + j] = true;
			m->cursor = want + 2 * n < SLOTS ? want + 2 * n : 0;
			m->buf[b].live = true;
			m->buf[b].addr = addr;
			m->buf[b].n = n;
			m->buf[b].dir = dir;
			m->buf[b].first = (unsigned)want;
			m->buf[b].seed = sd;
			/* Copied in; then the device writes its own bytes. */
			for (unsigned i = 0; i < n; i++) {
				uint8_t *slot = hv_frame_mem(x.hv, (addr >> PG_LG2) + i);

				SCHECK(seed, op, filled(slot, sd + i), "page %u not copied in", i);
				fill(slot, ~sd + i);
				fill(guest_mem(&x, base + i), sd + 1000 + i);
			}
			maps++;
			continue;
		}
		/* Unmap, sometimes wrongly first. */
		if (prng_below(&rng, 8) == 0) {
			int ret = dps_unmap(x.dps, m->buf[b].addr + (m->buf[b].n > 1 ? PG : 0),
					    m->buf[b].n > 1 ? m->buf[b].n - 1 : 2);

			SCHECK(seed, op, ret == -ENOENT, "a bad unmap gave %d", ret);
		}
		SCHECK(seed, op, dps_unmap(x.dps, m->buf[b].addr, m->buf[b].n) == 0, "unmap");
		for (unsigned i = 0; i < m->buf[b].n; i++) {
			uint32_t want = m->buf[b].dir & W ? ~m->buf[b].seed + i
							 : m->buf[b].seed + 1000 + i;

			SCHECK(seed, op, filled(guest_mem(&x, base + i), want),
			       "page %u after the unmap (dir %u)", i, m->buf[b].dir);
		}
		for (unsigned j = 0; j < 2 * m->buf[b].n; j++)
			m->used[m->buf[b].first + j] = false;
		m->buf[b].live = false;
	}
	cr_assert_gt(maps, SOPS / 4, "IOB_TEST_SEED=0x%016llx: %u maps", (unsigned long long)seed,
		     maps);
	cr_assert_gt(full, 0, "IOB_TEST_SEED=0x%016llx: the pool never filled",
		     (unsigned long long)seed);
	cr_log_info("swiotlb slots: seed 0x%016llx, %u maps, %u refused full",
		    (unsigned long long)seed, maps, full);
	fx_fini(&x);
	free(m);
}
