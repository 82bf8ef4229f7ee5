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

/* ---- fixture: a hypervisor, a guest with RAM and a device, its DMA API ---------------- */

struct fx {
	struct hv *hv;
	domid_t dom;
	struct dps *dps;
	int64_t live0;
	uint64_t warn0;
};

static void fx_init(struct fx *x, enum hv_strategy s, enum flush_mode m, unsigned batch)
{
	struct hv_cfg hc = {
		.machine_frames = 1ULL << 16,
		.strategy = s,
		.tune = { .flush = m },
	};
	struct dps_cfg pc;

	memset(x, 0, sizeof(*x));
	x->live0 = iob_alloc_live();
	x->warn0 = iob_warn_count();
	cr_assert_eq(hv_create(&hc, &x->hv), 0);
	cr_assert_eq(hv_domain_create(x->hv, GUEST, &x->dom), 0);
	for (gfn_t g = 0; g < GUEST; g += 512)
		cr_assert_eq(hv_populate(x->hv, x->dom, g, 9), 0);
	cr_assert_eq(hv_assign_device(x->hv, DEV, x->dom), 0);
	pc = (struct dps_cfg){ .hv = x->hv, .dom = x->dom, .devid = DEV, .batch = batch };
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

		fx_init(&x, s, FLUSH_STRICT, 1);
		pc = (struct dps_cfg){ .hv = x.hv, .dom = x.dom, .devid = DEV, .batch = 1 };
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
		dps_destroy(p);
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
