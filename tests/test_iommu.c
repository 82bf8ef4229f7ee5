// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iommu: the AMD-Vi device model. Device DMA through tables built with
 * iopt_map(); the DTE layout and cache; fault events bit for bit; what
 * stays cached without an invalidation (as on hardware) and what an
 * invalidation plus completion wait guarantees; the command consumer,
 * inline and on its own thread. Seeded tests replay with IOB_TEST_SEED.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <iob/iommu.h>
#include <iob/iopt.h>

#include "failinject.h"
#include "prng.h"

#define SZ_4K	0x1000ULL
#define SZ_2M	0x200000ULL
#define SZ_1G	0x40000000ULL

#define PCHECK(seed, cond, fmt, ...)					\
	cr_assert((cond), "IOB_TEST_SEED=0x%016llx: " fmt,		\
		  (unsigned long long)(seed), ##__VA_ARGS__)

static struct iommu *mk_iommu(bool threaded, bool np_cache, unsigned cmdq_entries)
{
	struct iommu_cfg cfg = {
		.tlb = {
			.entries = IOTLB_DEFAULT_ENTRIES, .ways = IOTLB_DEFAULT_WAYS,
			.repl = IOTLB_REPL_LRU,
			.pde_entries = IOTLB_DEFAULT_PDE_ENTRIES,
			.pde_ways = IOTLB_DEFAULT_PDE_WAYS,
		},
		.cmdq_entries = cmdq_entries,
		.threaded = threaded,
		.cpu = -1,
		.np_cache = np_cache,
	};
	struct iommu *mmu = NULL;

	cr_assert_eq(iommu_create(&cfg, &mmu), 0);
	return mmu;
}

static struct iopt *mk_pt(unsigned levels, uint64_t pgsizes, const struct iopt_alloc *a)
{
	struct iopt_cfg cfg = { .levels = levels, .pgsize_bitmap = pgsizes, .alloc = a };
	struct iopt *pt = NULL;

	cr_assert_eq(iopt_create(&cfg, &pt), 0);
	return pt;
}

static void attach(struct iommu *mmu, uint16_t devid, domid_t dom, struct iopt *pt)
{
	cr_assert_eq(iommu_dte_set(mmu, devid, dom, iopt_root(pt), iopt_levels(pt),
				   IOPT_PROT_RW), 0);
}

static void map(struct iopt *pt, iova_t iova, paddr_t pa, uint64_t len, unsigned prot)
{
	cr_assert_eq(iopt_map(pt, iova, pa, len, prot, NULL), 0, "map 0x%llx",
		     (unsigned long long)iova);
}

/* Unmap, invalidate what the gather collected, wait, release freed tables. */
static void unmap_flush(struct iommu *mmu, domid_t dom, struct iopt *pt, iova_t iova,
			uint64_t len)
{
	struct iopt_gather g;

	iopt_gather_init(&g, NULL, NULL);
	cr_assert_eq(iopt_unmap(pt, iova, len, &g, NULL), 0);
	cr_assert(g.pending);
	cr_assert_gt(iommu_flush_range(mmu, dom, g.start, g.last - g.start + 1, g.pde,
				       INVAL_EXACT, 48, NULL), 0);
	iommu_completion_wait(mmu);
	iopt_gather_release(pt, &g);
}

static int xlate(struct iommu *mmu, uint16_t devid, iova_t iova, unsigned access,
		 struct iommu_xlate *x)
{
	return iommu_translate(mmu, devid, iova, access, x);
}

static unsigned count_events(struct iommu *mmu)
{
	struct amdvi_cmd raw;
	unsigned n = 0;

	while (iommu_event_pop(mmu, &raw))
		n++;
	return n;
}

/* ---- configuration and the device table ---------------------------------------- */

Test(iommu, create_rejects_bad_sizes)
{
	struct iommu_cfg cfg = { .tlb = { .entries = 64, .ways = 4 }, .cpu = -1 };
	struct iommu *mmu = NULL;

	cfg.tlb.ways = 3;
	cr_assert_eq(iommu_create(&cfg, &mmu), -EINVAL, "IOTLB ways");
	cfg.tlb.ways = 4;
	cfg.cmdq_entries = 100;
	cr_assert_eq(iommu_create(&cfg, &mmu), -EINVAL, "ring size");
	cfg.cmdq_entries = 0;
	cfg.evtlog_entries = 3;
	cr_assert_eq(iommu_create(&cfg, &mmu), -EINVAL, "event log size");
	cfg.evtlog_entries = 128;
	cr_assert_eq(iommu_create(&cfg, &mmu), -EINVAL, "EventLen below 1000b is reserved");
	cfg.evtlog_entries = 65536;
	cr_assert_eq(iommu_create(&cfg, &mmu), -EINVAL, "EventLen above 1111b");
	cr_assert_eq(iommu_create(NULL, &mmu), -EINVAL);
	cfg.evtlog_entries = 0;
	cr_assert_eq(iommu_create(&cfg, &mmu), 0);
	cr_assert_eq(cmdq_entries(iommu_cmdq(mmu)), CMDQ_ENTRIES_LINUX);
	cr_assert_eq(iotlb_entries(iommu_iotlb(mmu)), 64);
	cr_assert_eq(iommu_cost(mmu)->completion_wait_ns, 800.0, "default cost model");
	iommu_destroy(mmu);
}

struct create_ctx {
	struct iommu_cfg cfg;
	struct iommu *mmu;
};

static int create_op(void *arg)
{
	struct create_ctx *x = arg;

	return iommu_create(&x->cfg, &x->mmu);
}

static void create_undo(void *arg)
{
	struct create_ctx *x = arg;

	cr_assert_eq(cmdq_entries(iommu_cmdq(x->mmu)), CMDQ_ENTRIES_LINUX);
	iommu_destroy(x->mmu);
	x->mmu = NULL;
}

static uint64_t create_out(void *arg)
{
	return (uint64_t)(uintptr_t)((struct create_ctx *)arg)->mmu;
}

Test(iommu, create_fails_cleanly_at_each_allocation)
{
	struct create_ctx x = {
		.cfg = { .tlb = { .entries = 64, .ways = 4, .pde_entries = 16, .pde_ways = 4 },
			 .cpu = -1 },
	};
	struct failinject fi = { "iommu_create", create_op, create_undo, create_out, &x };

	/*
	 * The model, its event log and device table (3), the IOTLB and PDE
	 * cache (1 + 5 + 5), the command ring (2). A threaded model starts
	 * its thread last: no failure leaves one running.
	 */
	cr_assert_eq(failinject_each(&fi), 16);
	x.cfg.threaded = true;
	cr_assert_eq(failinject_each(&fi), 16);
	cr_assert_null(x.mmu);
}

Test(iommu, dte_set_writes_the_spec_bit_layout)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	const uint64_t *d;

	/*
	 * V (bit 0) | TV (bit 1) | mode 4 << 9 = 0x800 | root 0x123456789a000
	 * (bits 51:12) | IR (bit 61) | IW (bit 62) = 0x600123456789a803;
	 * qword 1 bits 15:0 = domain 0xabcd.
	 */
	cr_assert_eq(iommu_dte_set(mmu, 0x1234, 0xabcd, 0x000123456789a000ULL, 4,
				   IOPT_PROT_RW), 0);
	d = iommu_dte_raw(mmu, 0x1234);
	cr_assert_eq(d[0], 0x600123456789a803ULL, "q0 = 0x%016llx", (unsigned long long)d[0]);
	cr_assert_eq(d[1], 0xabcd);
	cr_assert_eq(d[2], 0);
	cr_assert_eq(d[3], 0);

	/* Read only, mode 6: 0x2000... | 6 << 9 = 0xc00. */
	cr_assert_eq(iommu_dte_set(mmu, 0x1234, 1, 0x5000, 6, IOPT_PROT_READ), 0);
	cr_assert_eq(d[0], 0x2000000000005c03ULL, "q0 = 0x%016llx", (unsigned long long)d[0]);
	cr_assert_eq(d[1], 1);

	/* Blocked: V | TV, mode 0, no rights, domain 0. */
	iommu_dte_block(mmu, 0x1234);
	cr_assert_eq(d[0], 0x3);
	cr_assert_eq(d[1], 0);

	cr_assert_eq(iommu_dte_raw(mmu, 0x1235)[0], 0, "neighbours untouched");
	cr_assert_eq(iommu_dte_raw(mmu, 0xffff)[0], 0, "device table is 64K entries");
	iommu_destroy(mmu);
}

Test(iommu, dte_set_rejects_bad_mode_root_and_rights_leaving_the_entry)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	const uint64_t *d = iommu_dte_raw(mmu, 9);
	uint64_t q0, q1;

	cr_assert_eq(iommu_dte_set(mmu, 9, 3, 0x7000, 3, IOPT_PROT_RW), 0);
	q0 = d[0];
	q1 = d[1];
	cr_assert_eq(iommu_dte_set(mmu, 9, 4, 0x7000, 7, IOPT_PROT_RW), -EINVAL, "mode 7");
	cr_assert_eq(iommu_dte_set(mmu, 9, 4, 0x7800, 3, IOPT_PROT_RW), -EINVAL, "unaligned");
	cr_assert_eq(iommu_dte_set(mmu, 9, 4, 1ULL << 52, 3, IOPT_PROT_RW), -EINVAL,
		     "root past bit 51");
	cr_assert_eq(iommu_dte_set(mmu, 9, 4, 0x7000, 3, 4), -EINVAL, "unknown right");
	cr_assert_eq(d[0], q0);
	cr_assert_eq(d[1], q1);
	iommu_destroy(mmu);
}

/* ---- DMA ------------------------------------------------------------------------- */

Test(iommu, dma_walks_all_levels_on_a_cold_miss_then_hits)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	struct iopt *pt = mk_pt(4, 0, NULL);
	struct iommu_xlate x;
	const struct cost_model *cost = iommu_cost(mmu);
	struct iommu_stats st;
	struct iotlb_stats ts;

	attach(mmu, 5, 9, pt);
	map(pt, 0x12345000, 0xabc000, SZ_4K, IOPT_PROT_RW);
	cr_assert_eq(xlate(mmu, 5, 0x12345678, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(x.fault, AMDVI_FAULT_NONE);
	cr_assert_eq(x.pa, 0xabc678);
	cr_assert_eq(x.size_lg2, 12);
	cr_assert(!x.tlb_hit);
	cr_assert(!x.passthrough);
	cr_assert_eq(x.levels_read, 4, "a 4-level table: 4 entries on a cold walk");
	/* Modeled (not measured) time: DTE fetch plus four entry reads. */
	cr_assert_eq(x.model_ns, cost->dte_fetch_ns + 4 * cost->walk_level_ns);

	cr_assert_eq(xlate(mmu, 5, 0x12345ff0, IOPT_PROT_WRITE, &x), 0);
	cr_assert_eq(x.pa, 0xabcff0);
	cr_assert(x.tlb_hit);
	cr_assert_eq(x.levels_read, 0);
	cr_assert_eq(x.model_ns, cost->iotlb_hit_ns, "DTE cached, IOTLB hit");

	iommu_stats_get(mmu, &st);
	cr_assert_eq(st.translations, 2);
	cr_assert_eq(st.walks, 1);
	cr_assert_eq(st.levels_read, 4);
	cr_assert_eq(st.dte_fetches, 1, "the DTE is cached after the first access");
	cr_assert_eq(st.faults, 0);
	cr_assert_eq(st.model_xlate_ns, cost->dte_fetch_ns + 4 * cost->walk_level_ns +
					cost->iotlb_hit_ns);
	iotlb_stats_get(iommu_iotlb(mmu), &ts);
	cr_assert_eq(ts.hits, 1);
	cr_assert_eq(ts.misses, 1);
	cr_assert_eq(ts.fills, 1);
	cr_assert_eq(count_events(mmu), 0);
	iommu_destroy(mmu);
	iopt_destroy(pt);
}

Test(iommu, a_given_cost_model_prices_modeled_time)
{
	struct cost_model cm;
	struct iommu_cfg cfg = { .tlb = { .entries = 64, .ways = 4 }, .cpu = -1, .cost = &cm };
	struct iommu *mmu = NULL;
	struct iopt *pt = mk_pt(3, 0, NULL);
	struct iommu_xlate x;
	struct iommu_stats st;

	cost_defaults(&cm);
	cm.dte_fetch_ns = 1000;
	cm.walk_level_ns = 7;
	cm.inv_pages_ns = 11;
	cm.cmd_ns = 3;
	cm.completion_wait_ns = 100;
	cm.doorbell_ns = 50;
	cr_assert_eq(iommu_create(&cfg, &mmu), 0);
	cm.walk_level_ns = 1e6;		/* the model took a copy */
	attach(mmu, 1, 1, pt);
	map(pt, 0x1000, 0x2000, SZ_4K, IOPT_PROT_RW);
	cr_assert_eq(xlate(mmu, 1, 0x1000, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(x.model_ns, 1000 + 3 * 7);
	cr_assert_eq(iommu_flush_range(mmu, 1, 0x1000, SZ_4K, false, INVAL_EXACT, 48, NULL), 1);
	iommu_completion_wait(mmu);
	iommu_stats_get(mmu, &st);
	/* Two doorbells, two commands, one page invalidation, one wait. */
	cr_assert_eq(st.model_cmd_ns, 2 * 50 + 2 * 3 + 11 + 100);
	iommu_destroy(mmu);
	iopt_destroy(pt);
}

Test(iommu, pde_cache_shortens_later_walks)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	struct iopt *pt = mk_pt(4, 0, NULL);
	const iova_t x0 = 0x7f0040000000ULL;
	struct iommu_xlate x;
	struct iotlb_stats ts;

	attach(mmu, 1, 1, pt);
	map(pt, x0, 0x100000, SZ_4K, IOPT_PROT_RW);
	map(pt, x0 + SZ_4K, 0x200000, SZ_4K, IOPT_PROT_RW);
	map(pt, x0 + SZ_2M, 0x300000, SZ_4K, IOPT_PROT_RW);
	map(pt, x0 + SZ_1G, 0x400000, SZ_4K, IOPT_PROT_RW);

	cr_assert_eq(xlate(mmu, 1, x0, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(x.levels_read, 4);
	/* Same level-1 table: start there, read one entry. */
	cr_assert_eq(xlate(mmu, 1, x0 + SZ_4K, IOPT_PROT_READ, &x), 0);
	cr_assert(!x.tlb_hit);
	cr_assert_eq(x.levels_read, 1);
	cr_assert_eq(x.pa, 0x200000);
	cr_assert_eq(x.model_ns, iommu_cost(mmu)->pde_hit_ns + iommu_cost(mmu)->walk_level_ns);
	/* Next 2M: same level-2 table, read its entry and the leaf. */
	cr_assert_eq(xlate(mmu, 1, x0 + SZ_2M, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(x.levels_read, 2);
	cr_assert_eq(x.pa, 0x300000);
	/* Next 1G: same level-3 table. */
	cr_assert_eq(xlate(mmu, 1, x0 + SZ_1G, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(x.levels_read, 3);
	cr_assert_eq(x.pa, 0x400000);
	iotlb_stats_get(iommu_iotlb(mmu), &ts);
	cr_assert_eq(ts.pde_hits, 3);
	iommu_destroy(mmu);
	iopt_destroy(pt);
}

static uint64_t *raw_table(void)
{
	void *p = NULL;

	cr_assert_eq(posix_memalign(&p, 4096, 4096), 0);
	memset(p, 0, 4096);
	return p;
}

/*
 * A hand-built 3-level table whose level-3 entry grants read only: the
 * leaves' IW must not win, whether the walk starts at the root or at a
 * table taken from the PDE cache.
 */
Test(iommu, directory_rights_limit_walks_that_start_from_the_pde_cache)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	uint64_t *t3 = raw_table(), *t2 = raw_table(), *t1 = raw_table();
	struct iommu_xlate x;

	t3[0] = (uint64_t)(uintptr_t)t2 | amdvi_next_level_enc(2) | AMDVI_PTE_PR |
		AMDVI_PTE_IR;
	t2[0] = (uint64_t)(uintptr_t)t1 | amdvi_next_level_enc(1) | AMDVI_PTE_PR |
		AMDVI_PTE_IR | AMDVI_PTE_IW;
	for (unsigned i = 0; i < 4; i++)
		t1[i] = (0x5000 + i * SZ_4K) | AMDVI_PTE_PR | AMDVI_PTE_IR | AMDVI_PTE_IW;
	cr_assert_eq(iommu_dte_set(mmu, 1, 1, (paddr_t)(uintptr_t)t3, 3, IOPT_PROT_RW), 0);

	cr_assert_eq(xlate(mmu, 1, 0x0, IOPT_PROT_WRITE, &x), -EFAULT);
	cr_assert_eq(x.fault, AMDVI_FAULT_PERMISSION);
	cr_assert_eq(x.levels_read, 3);
	cr_assert_eq(xlate(mmu, 1, 0x1000, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(x.levels_read, 1, "from the cached level-1 table");
	cr_assert_eq(x.pa, 0x6000);
	cr_assert_eq(xlate(mmu, 1, 0x2000, IOPT_PROT_WRITE, &x), -EFAULT,
		     "the level-3 entry's read-only right travels with the PDE cache");
	cr_assert_eq(x.levels_read, 1);
	cr_assert_eq(x.fault, AMDVI_FAULT_PERMISSION);
	cr_assert_eq(xlate(mmu, 1, 0x1000, IOPT_PROT_WRITE, &x), -EFAULT);
	cr_assert(x.tlb_hit, "and with the IOTLB entry");

	/* The DTE's rights limit as well: IR only in the DTE, all RW below. */
	t3[0] |= AMDVI_PTE_IW;
	cr_assert_eq(iommu_dte_set(mmu, 2, 2, (paddr_t)(uintptr_t)t3, 3, IOPT_PROT_READ), 0);
	cr_assert_eq(xlate(mmu, 2, 0x3000, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(xlate(mmu, 2, 0x2000, IOPT_PROT_WRITE, &x), -EFAULT);
	cr_assert_eq(x.levels_read, 1);
	cr_assert_eq(x.fault, AMDVI_FAULT_PERMISSION);
	iommu_destroy(mmu);
	free(t1);
	free(t2);
	free(t3);
}

Test(iommu, a_2m_mapping_is_walked_once_for_all_its_pages)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	struct iopt *pt = mk_pt(4, 0, NULL);
	struct iommu_xlate x;
	struct iommu_stats st;

	attach(mmu, 1, 1, pt);
	map(pt, 0x40200000, 0x80200000, SZ_2M, IOPT_PROT_RW);
	cr_assert_eq(xlate(mmu, 1, 0x40200000, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(x.size_lg2, 21);
	cr_assert_eq(x.levels_read, 3, "a 2M leaf sits at level 2");
	for (unsigned i = 1; i < 512; i++) {
		cr_assert_eq(xlate(mmu, 1, 0x40200000 + i * SZ_4K + 8, IOPT_PROT_WRITE, &x), 0);
		cr_assert(x.tlb_hit, "page %u", i);
		cr_assert_eq(x.pa, 0x80200000 + i * SZ_4K + 8);
	}
	iommu_stats_get(mmu, &st);
	cr_assert_eq(st.walks, 1);
	cr_assert_eq(iotlb_occupancy(iommu_iotlb(mmu)), 1);
	iommu_destroy(mmu);
	iopt_destroy(pt);
}

Test(iommu, write_through_a_read_only_mapping_logs_an_io_page_fault)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	struct iopt *pt = mk_pt(4, 0, NULL);
	const iova_t va = 0x00007f12345678a8ULL;
	struct iommu_event ev;
	struct amdvi_cmd raw;
	struct iommu_xlate x;
	struct iommu_stats st;

	cr_assert_eq(iommu_dte_set(mmu, 0xbeef, 0x4321, iopt_root(pt), 4, IOPT_PROT_RW), 0);
	map(pt, va & ~(SZ_4K - 1), 0x9000, SZ_4K, IOPT_PROT_READ);
	cr_assert_eq(xlate(mmu, 0xbeef, va, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(count_events(mmu), 0);

	cr_assert_eq(xlate(mmu, 0xbeef, va, IOPT_PROT_WRITE, &x), -EFAULT);
	cr_assert_eq(x.fault, AMDVI_FAULT_PERMISSION);
	cr_assert_eq(x.pa, 0, "no address on a fault");
	cr_assert(iommu_event_pop(mmu, &raw));
	/*
	 * IO_PAGE_FAULT: dw0 15:0 DeviceID; dw1 15:0 DomainID, 27:16 flags
	 * (PR bit 20, RW bit 21, PE bit 22), 31:28 code 2; dw2/dw3 address.
	 */
	cr_assert_eq(raw.dw[0] & 0xffff, 0xbeef);
	cr_assert_eq(raw.dw[1] >> 28, 2);
	cr_assert_eq(raw.dw[1] & 0xffff, 0x4321);
	cr_assert(raw.dw[1] & (1U << 21), "RW: it was a write");
	cr_assert(raw.dw[1] & (1U << 22), "PE: permission violation");
	cr_assert(raw.dw[1] & (1U << 20), "PR: the page was present");
	cr_assert_eq(raw.dw[1] & (1U << 23), 0, "not a reserved-bit fault");
	cr_assert_eq(raw.dw[2], 0x345678a8);
	cr_assert_eq(raw.dw[3], 0x00007f12);
	iommu_event_decode(&raw, &ev);
	cr_assert_eq(ev.code, AMDVI_EVENT_IO_PAGE_FAULT);
	cr_assert_eq(ev.devid, 0xbeef);
	cr_assert_eq(ev.domid, 0x4321);
	cr_assert_eq(ev.flags, AMDVI_EVENT_F_RW | AMDVI_EVENT_F_PE | AMDVI_EVENT_F_PR);
	cr_assert_eq(ev.addr, va);
	cr_assert(!iommu_event_pop(mmu, &raw), "one fault, one event");

	/* The same fault served from the IOTLB logs the same event. */
	cr_assert_eq(xlate(mmu, 0xbeef, va, IOPT_PROT_WRITE, &x), -EFAULT);
	cr_assert(x.tlb_hit);
	cr_assert_eq(x.fault, AMDVI_FAULT_PERMISSION);
	cr_assert(iommu_event_pop(mmu, &raw));
	cr_assert_eq(raw.dw[1] >> 16, (2U << 12) | AMDVI_EVENT_F_RW | AMDVI_EVENT_F_PE |
				       AMDVI_EVENT_F_PR);
	iommu_stats_get(mmu, &st);
	cr_assert_eq(st.faults, 2);
	cr_assert_eq(st.events, 2);
	iommu_destroy(mmu);
	iopt_destroy(pt);
}

Test(iommu, unmapped_page_faults_not_present_with_an_event)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	struct iopt *pt = mk_pt(4, 0, NULL);
	struct amdvi_cmd raw;
	struct iommu_xlate x;

	attach(mmu, 3, 7, pt);
	map(pt, 0x10000, 0x20000, SZ_4K, IOPT_PROT_RW);
	cr_assert_eq(xlate(mmu, 3, 0x11000, IOPT_PROT_READ, &x), -EFAULT);
	cr_assert_eq(x.fault, AMDVI_FAULT_NOT_PRESENT);
	cr_assert_eq(x.levels_read, 4, "a cold walk reads down to the empty leaf");
	cr_assert(iommu_event_pop(mmu, &raw));
	cr_assert_eq(raw.dw[0], 3);
	cr_assert_eq(raw.dw[1], (2U << 28) | 7, "read, not present: no flags");
	cr_assert_eq(raw.dw[2], 0x11000);
	cr_assert_eq(raw.dw[3], 0);
	cr_assert_eq(xlate(mmu, 3, 0x12345678000ULL, IOPT_PROT_WRITE, &x), -EFAULT);
	cr_assert_eq(x.fault, AMDVI_FAULT_NOT_PRESENT);
	cr_assert(iommu_event_pop(mmu, &raw));
	cr_assert_eq(raw.dw[1], (2U << 28) | (AMDVI_EVENT_F_RW << 16) | 7, "write: RW only");
	cr_assert_eq(raw.dw[2], 0x45678000);
	cr_assert_eq(raw.dw[3], 0x123);
	iommu_destroy(mmu);
	iopt_destroy(pt);
}

Test(iommu, address_beyond_the_paging_mode_faults)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	struct iopt *pt = mk_pt(3, 0, NULL);	/* 39-bit IOVAs */
	struct iommu_xlate x;

	attach(mmu, 1, 1, pt);
	map(pt, (1ULL << 39) - SZ_4K, 0x5000, SZ_4K, IOPT_PROT_RW);
	cr_assert_eq(xlate(mmu, 1, (1ULL << 39) - SZ_4K, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(xlate(mmu, 1, 1ULL << 39, IOPT_PROT_READ, &x), -EFAULT);
	cr_assert_eq(x.fault, AMDVI_FAULT_ADDR_RANGE);
	cr_assert_eq(count_events(mmu), 1);
	iommu_destroy(mmu);
	iopt_destroy(pt);
}

Test(iommu, device_without_a_valid_dte_is_not_translated)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	struct iommu_xlate x;
	struct iommu_stats st;

	cr_assert_eq(iommu_dte_raw(mmu, 77)[0] & AMDVI_DTE_V, 0);
	cr_assert_eq(xlate(mmu, 77, 0x123456789000ULL, IOPT_PROT_WRITE, &x), 0);
	cr_assert(x.passthrough);
	cr_assert_eq(x.pa, 0x123456789000ULL);
	cr_assert_eq(x.levels_read, 0);
	iommu_stats_get(mmu, &st);
	cr_assert_eq(st.passthrough, 1);
	cr_assert_eq(st.walks, 0);
	cr_assert_eq(count_events(mmu), 0);
	iommu_destroy(mmu);
}

Test(iommu, mode_0_passes_through_with_the_dte_rights)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	struct iommu_xlate x;
	struct amdvi_cmd raw;

	cr_assert_eq(iommu_dte_set(mmu, 4, 44, 0, 0, IOPT_PROT_READ), 0);
	cr_assert_eq(xlate(mmu, 4, 0xabc123, IOPT_PROT_READ, &x), 0);
	cr_assert(x.passthrough);
	cr_assert_eq(x.pa, 0xabc123);
	cr_assert_eq(xlate(mmu, 4, 0xabc123, IOPT_PROT_WRITE, &x), -EFAULT);
	cr_assert_eq(x.fault, AMDVI_FAULT_PERMISSION);
	cr_assert(iommu_event_pop(mmu, &raw));
	cr_assert_eq(raw.dw[1] >> 28, 2);
	cr_assert(raw.dw[1] & (1U << 21));
	cr_assert(raw.dw[1] & (1U << 22));
	cr_assert_eq(raw.dw[1] & 0xffff, 44);

	/* A blocked device: mode 0, no rights, nothing gets through. */
	iommu_dte_block(mmu, 5);
	cr_assert_eq(xlate(mmu, 5, 0x1000, IOPT_PROT_READ, &x), -EFAULT);
	cr_assert_eq(x.fault, AMDVI_FAULT_PERMISSION);
	iommu_destroy(mmu);
}

/* ---- caching without and with invalidation ---------------------------------------- */

Test(iommu, stale_iotlb_entry_serves_until_invalidated_and_waited_for)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	struct iopt *pt = mk_pt(4, 0, NULL);
	struct iopt_gather g;
	struct iommu_xlate x;

	attach(mmu, 1, 1, pt);
	map(pt, 0x40000000, 0x5000000, 4 * SZ_4K, IOPT_PROT_RW);
	cr_assert_eq(xlate(mmu, 1, 0x40001000, IOPT_PROT_READ, &x), 0);

	iopt_gather_init(&g, NULL, NULL);
	cr_assert_eq(iopt_unmap(pt, 0x40000000, 4 * SZ_4K, &g, NULL), 0);
	/* No invalidation sent: the IOTLB still translates, as hardware would. */
	cr_assert_eq(xlate(mmu, 1, 0x40001000, IOPT_PROT_READ, &x), 0);
	cr_assert(x.tlb_hit);
	cr_assert_eq(x.pa, 0x5001000);
	/* A page never cached is walked and faults. */
	cr_assert_eq(xlate(mmu, 1, 0x40002000, IOPT_PROT_READ, &x), -EFAULT);

	/* Queued but not yet processed (inline mode): still stale. */
	cr_assert_eq(iommu_flush_range(mmu, 1, g.start, g.last - g.start + 1, g.pde,
				       INVAL_EXACT, 48, NULL), 1);
	cr_assert_eq(cmdq_pending(iommu_cmdq(mmu)), 1);
	cr_assert_eq(xlate(mmu, 1, 0x40001000, IOPT_PROT_READ, &x), 0);
	cr_assert(x.tlb_hit);

	iommu_completion_wait(mmu);
	cr_assert_eq(cmdq_pending(iommu_cmdq(mmu)), 0);
	cr_assert_eq(xlate(mmu, 1, 0x40001000, IOPT_PROT_READ, &x), -EFAULT);
	cr_assert_eq(x.fault, AMDVI_FAULT_NOT_PRESENT);
	cr_assert(!x.tlb_hit);
	iopt_gather_release(pt, &g);
	iommu_destroy(mmu);
	iopt_destroy(pt);
}

Test(iommu, all_pages_invalidation_empties_one_domain_only)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	struct iopt *a = mk_pt(4, 0, NULL), *b = mk_pt(4, 0, NULL);
	struct iommu_xlate x;
	uint64_t over = 0;

	attach(mmu, 1, 1, a);
	attach(mmu, 2, 2, b);
	/* One page per 1G, in distinct IOTLB sets. */
	for (unsigned i = 0; i < 8; i++) {
		iova_t va = (uint64_t)i * (SZ_1G + SZ_4K);

		map(a, va, 0x10000000 + i * SZ_4K, SZ_4K, IOPT_PROT_RW);
		map(b, va, 0x20000000 + i * SZ_4K, SZ_4K, IOPT_PROT_RW);
		cr_assert_eq(xlate(mmu, 1, va, IOPT_PROT_READ, &x), 0);
		cr_assert_eq(xlate(mmu, 2, va, IOPT_PROT_READ, &x), 0);
	}
	cr_assert_eq(iotlb_occupancy(iommu_iotlb(mmu)), 16);
	/* Xen's policy across a 1G line: one "all pages" command. */
	cr_assert_eq(iommu_flush_range(mmu, 1, SZ_1G - SZ_4K, 2 * SZ_4K, true, INVAL_XEN,
				       48, &over), 1);
	cr_assert_eq(over, (1ULL << 48) - 2 * SZ_4K);
	iommu_completion_wait(mmu);
	cr_assert_eq(iotlb_occupancy(iommu_iotlb(mmu)), 8);
	for (unsigned i = 0; i < 8; i++) {
		iova_t va = (uint64_t)i * (SZ_1G + SZ_4K);

		cr_assert_eq(xlate(mmu, 2, va, IOPT_PROT_READ, &x), 0);
		cr_assert(x.tlb_hit, "domain 2 page %u kept", i);
		cr_assert_eq(xlate(mmu, 1, va, IOPT_PROT_READ, &x), 0);
		cr_assert(!x.tlb_hit, "domain 1 page %u dropped", i);
		/* PDE set: the first walk starts at the root, later ones below it. */
		cr_assert_eq(x.levels_read, i ? 3 : 4, "page %u", i);
	}
	iommu_destroy(mmu);
	iopt_destroy(a);
	iopt_destroy(b);
}

Test(iommu, invalidation_of_another_domain_or_range_keeps_the_entry)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	struct iopt *pt = mk_pt(4, 0, NULL);
	struct iommu_xlate x;

	attach(mmu, 1, 1, pt);
	map(pt, 0x40000000, 0x5000000, SZ_4K, IOPT_PROT_RW);
	cr_assert_eq(xlate(mmu, 1, 0x40000000, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(iommu_flush_range(mmu, 2, 0x40000000, SZ_4K, true, INVAL_EXACT,
				       48, NULL), 1);
	cr_assert_eq(iommu_flush_range(mmu, 1, 0x40001000, SZ_4K, true, INVAL_EXACT,
				       48, NULL), 1);
	iommu_completion_wait(mmu);
	cr_assert_eq(xlate(mmu, 1, 0x40000000, IOPT_PROT_READ, &x), 0);
	cr_assert(x.tlb_hit, "neither command covered this domain's page");
	iommu_destroy(mmu);
	iopt_destroy(pt);
}

/*
 * Table memory that, once freed, reads as present pages at POISON_PA: a walk
 * through a freed table then translates to an address no mapping uses.
 */
#define POISON_PA	0x000fdead00000000ULL

struct poison_alloc {
	void *graveyard[64];
	unsigned dead;
};

static void *poison_alloc_fn(void *ctx)
{
	void *p = NULL;

	(void)ctx;
	return posix_memalign(&p, 4096, IOPT_TABLE_ALLOC_BYTES) ? NULL : p;
}

static void poison_free_fn(void *ctx, void *mem)
{
	struct poison_alloc *pa = ctx;
	uint64_t *t = mem;

	for (unsigned i = 0; i < 512; i++)
		t[i] = POISON_PA | AMDVI_PTE_PR | AMDVI_PTE_IR | AMDVI_PTE_IW;
	cr_assert_lt(pa->dead, 64);
	pa->graveyard[pa->dead++] = mem;
}

static void poison_bury(struct poison_alloc *pa)
{
	for (unsigned i = 0; i < pa->dead; i++)
		free(pa->graveyard[i]);
}

/*
 * Unmap a whole 2M region of 4K pages (its level-1 table is freed), flush
 * with or without PDE, release the table, then access a page of the region
 * never cached in the IOTLB.
 */
static void freed_table_case(bool pde, struct iommu_xlate *after)
{
	struct poison_alloc pa = { .dead = 0 };
	struct iopt_alloc a = { poison_alloc_fn, poison_free_fn, &pa };
	struct iommu *mmu = mk_iommu(false, false, 0);
	struct iopt *pt = mk_pt(4, IOPT_PGSIZE_4K, &a);
	const iova_t r = 0x40000000;
	struct iopt_gather g;
	struct iommu_xlate x;

	attach(mmu, 1, 1, pt);
	map(pt, r, 0x80000000, SZ_2M, IOPT_PROT_RW);
	map(pt, r + SZ_2M, 0x90000000, SZ_4K, IOPT_PROT_RW);	/* keeps level 2 alive */
	cr_assert_eq(xlate(mmu, 1, r + 0x5000, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(x.levels_read, 4);
	cr_assert_eq(xlate(mmu, 1, r + 0x6000, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(x.levels_read, 1, "the level-1 table is in the PDE cache");

	iopt_gather_init(&g, NULL, NULL);
	cr_assert_eq(iopt_unmap(pt, r, SZ_2M, &g, NULL), 0);
	cr_assert(g.pde, "a freed table asks for a PDE invalidation");
	cr_assert_eq(g.freelist.pages, 1);
	cr_assert_gt(iommu_flush_range(mmu, 1, g.start, g.last - g.start + 1, pde,
				       INVAL_EXACT, 48, NULL), 0);
	iommu_completion_wait(mmu);
	iopt_gather_release(pt, &g);
	cr_assert_eq(pa.dead, 1, "the level-1 table was freed (and poisoned)");
	xlate(mmu, 1, r + 0x7000, IOPT_PROT_READ, after);
	iommu_destroy(mmu);
	iopt_destroy(pt);
	poison_bury(&pa);
}

Test(iommu, freed_table_is_not_walked_after_a_flush_with_pde)
{
	struct iommu_xlate x;

	freed_table_case(true, &x);
	cr_assert_eq(x.fault, AMDVI_FAULT_NOT_PRESENT, "pa 0x%llx", (unsigned long long)x.pa);
	cr_assert_neq(x.pa >> 32, POISON_PA >> 32);
}

Test(iommu, flush_without_pde_leaves_the_freed_table_reachable)
{
	struct iommu_xlate x;

	/* What hardware does when software forgets the PDE bit. */
	freed_table_case(false, &x);
	cr_assert_eq(x.fault, AMDVI_FAULT_NONE);
	cr_assert_eq(x.pa >> 32, POISON_PA >> 32, "pa 0x%llx", (unsigned long long)x.pa);
	cr_assert_eq(x.levels_read, 1);
}

Test(iommu, dte_cache_keeps_the_old_entry_until_invalidated)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	struct iopt *a = mk_pt(4, 0, NULL), *b = mk_pt(4, 0, NULL);
	const iova_t x0 = 0x100000, y0 = 0x200000;
	struct iommu_xlate x;
	struct iommu_stats st;

	map(a, x0, 0xa0000, SZ_4K, IOPT_PROT_RW);
	map(a, y0, 0xa1000, SZ_4K, IOPT_PROT_RW);
	map(b, x0, 0xb0000, SZ_4K, IOPT_PROT_RW);
	map(b, y0, 0xb1000, SZ_4K, IOPT_PROT_RW);
	attach(mmu, 1, 1, a);
	cr_assert_eq(xlate(mmu, 1, x0, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(x.pa, 0xa0000);

	/* Rewrite the DTE: new domain, new table. No invalidation yet. */
	attach(mmu, 1, 2, b);
	cr_assert_eq(xlate(mmu, 1, x0, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(x.pa, 0xa0000, "old DTE, old domain's IOTLB entry");
	cr_assert_eq(xlate(mmu, 1, y0, IOPT_PROT_READ, &x), 0);
	cr_assert(!x.tlb_hit);
	cr_assert_eq(x.pa, 0xa1000, "a fresh walk still starts at the old root");
	iommu_stats_get(mmu, &st);
	cr_assert_eq(st.dte_fetches, 1);

	iommu_flush_dte(mmu, 1);
	iommu_completion_wait(mmu);
	cr_assert_eq(xlate(mmu, 1, x0, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(x.pa, 0xb0000);
	cr_assert_eq(xlate(mmu, 1, y0, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(x.pa, 0xb1000);
	iommu_stats_get(mmu, &st);
	cr_assert_eq(st.dte_fetches, 2);
	cr_assert_eq(st.inv_devtab, 1);

	/* Invalidating another device's DTE does not help device 1. */
	attach(mmu, 1, 1, a);
	iommu_flush_dte(mmu, 1 + IOMMU_DTE_CACHE);	/* same cache line, other device */
	iommu_completion_wait(mmu);
	cr_assert_eq(xlate(mmu, 1, x0, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(x.pa, 0xb0000);
	iommu_destroy(mmu);
	iopt_destroy(a);
	iopt_destroy(b);
}

Test(iommu, invalidate_all_drops_iotlb_pde_and_dte_caches)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	struct iopt *a = mk_pt(4, 0, NULL), *b = mk_pt(4, 0, NULL);
	struct amdvi_cmd c;
	struct iommu_xlate x;
	struct iommu_stats st;

	map(a, 0x1000, 0xa000, SZ_4K, IOPT_PROT_RW);
	map(b, 0x1000, 0xb000, SZ_4K, IOPT_PROT_RW);
	attach(mmu, 1, 1, a);
	cr_assert_eq(xlate(mmu, 1, 0x1000, IOPT_PROT_READ, &x), 0);
	attach(mmu, 1, 1, b);	/* same domain ID, other table */
	cmdq_enc_inv_iommu_all(&c);
	cmdq_submit(iommu_cmdq(mmu), &c, 1);
	iommu_completion_wait(mmu);
	cr_assert_eq(xlate(mmu, 1, 0x1000, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(x.pa, 0xb000);
	cr_assert_eq(x.levels_read, 4, "no PDE survived");
	iommu_stats_get(mmu, &st);
	cr_assert_eq(st.inv_all, 1);
	iommu_destroy(mmu);
	iopt_destroy(a);
	iopt_destroy(b);
}

Test(iommu, np_cache_caches_not_present_until_invalidated)
{
	struct iommu *mmu = mk_iommu(false, true, 0);
	struct iopt *pt = mk_pt(4, 0, NULL);
	struct iommu_xlate x;

	attach(mmu, 1, 1, pt);
	cr_assert_eq(xlate(mmu, 1, 0x7000, IOPT_PROT_READ, &x), -EFAULT);
	cr_assert_eq(x.fault, AMDVI_FAULT_NOT_PRESENT);
	cr_assert(!x.tlb_hit);
	map(pt, 0x7000, 0x3000, SZ_4K, IOPT_PROT_RW);
	cr_assert_eq(xlate(mmu, 1, 0x7000, IOPT_PROT_READ, &x), -EFAULT);
	cr_assert_eq(x.fault, AMDVI_FAULT_NOT_PRESENT);
	cr_assert(x.tlb_hit, "the not-present result was cached");
	cr_assert_eq(x.levels_read, 0);
	cr_assert_eq(count_events(mmu), 2);
	/* Linux flushes on map when NpCache is set: that is why. */
	cr_assert_eq(iommu_flush_range(mmu, 1, 0x7000, SZ_4K, false, INVAL_EXACT, 48, NULL), 1);
	iommu_completion_wait(mmu);
	cr_assert_eq(xlate(mmu, 1, 0x7000, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(x.pa, 0x3000);
	iommu_destroy(mmu);
	iopt_destroy(pt);
}

Test(iommu, without_np_cache_a_new_mapping_is_seen_at_once)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	struct iopt *pt = mk_pt(4, 0, NULL);
	struct iommu_xlate x;

	attach(mmu, 1, 1, pt);
	cr_assert_eq(xlate(mmu, 1, 0x7000, IOPT_PROT_READ, &x), -EFAULT);
	map(pt, 0x7000, 0x3000, SZ_4K, IOPT_PROT_RW);
	cr_assert_eq(xlate(mmu, 1, 0x7000, IOPT_PROT_READ, &x), 0);
	cr_assert_eq(x.pa, 0x3000);
	iommu_destroy(mmu);
	iopt_destroy(pt);
}

/* ---- commands ------------------------------------------------------------------------ */

Test(iommu, flush_range_queues_the_policy_blocks_and_adds_over_bytes)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	struct cmdq *q = iommu_cmdq(mmu);
	struct cmdq_decoded d;
	struct amdvi_cmd c;
	uint64_t over = 100;

	/* [0x3000, 0x5000) merged: the 32K block at 0, 24K over. */
	cr_assert_eq(iommu_flush_range(mmu, 6, 0x3000, 0x2000, true, INVAL_MERGED, 48,
				       &over), 1);
	cr_assert_eq(over, 100 + 0x6000);
	/* Exact [0x1000, 0x8000): 4K, 8K, 16K, nothing over. */
	cr_assert_eq(iommu_flush_range(mmu, 6, 0x1000, 0x7000, false, INVAL_EXACT, 48,
				       &over), 3);
	cr_assert_eq(over, 100 + 0x6000);
	/* Xen across a 1G boundary: the whole 2^48 domain. */
	cr_assert_eq(iommu_flush_range(mmu, 6, SZ_1G - SZ_4K, 2 * SZ_4K, false, INVAL_XEN,
				       48, &over), 1);
	cr_assert_eq(over, 100 + 0x6000 + (1ULL << 48) - 2 * SZ_4K);
	cr_assert_eq(iommu_flush_range(mmu, 6, 0x1800, SZ_4K, false, INVAL_EXACT, 48, &over),
		     -EINVAL);
	cr_assert_eq(iommu_flush_range(mmu, 6, 0x1000, SZ_4K, false, INVAL_POLICY_NR, 48,
				       &over), -EINVAL);
	cr_assert_eq(cmdq_pending(q), 5, "errors queue nothing");

	/* Take the commands off the ring ourselves and read them. */
	static const struct { iova_t start; unsigned lg2; bool pde; } want[5] = {
		{ 0, 15, true }, { 0x1000, 12, false }, { 0x2000, 13, false },
		{ 0x4000, 14, false }, { 0, 64, false },
	};
	for (unsigned i = 0; i < 5; i++) {
		cr_assert(cmdq_fetch(q, &c));
		cr_assert_eq(cmdq_decode(&c, &d), 0);
		cr_assert_eq(d.op, AMDVI_CMD_INVALIDATE_IOMMU_PAGES);
		cr_assert_eq(d.domid, 6);
		cr_assert_eq(d.range_lg2, want[i].lg2, "command %u", i);
		cr_assert_eq(d.range_start, want[i].start, "command %u", i);
		cr_assert_eq(d.pde, want[i].pde, "command %u", i);
	}
	iommu_destroy(mmu);
}

Test(iommu, illegal_command_logs_an_event_and_is_counted)
{
	struct iommu *mmu = mk_iommu(false, false, 0);
	struct cmdq *q = iommu_cmdq(mmu);
	struct amdvi_cmd bad[2] = {
		{ { 0, 0, 0, 0 } },				/* opcode 0 */
		{ { 0x1234, 0x20000000, 1, 0 } },		/* DEVTAB, dw2 reserved */
	};
	struct iommu_event ev;
	struct iommu_stats st;
	struct amdvi_cmd raw;
	uint32_t at;

	iommu_completion_wait(mmu);	/* move the tail off zero */
	at = cmdq_tail(q);
	cmdq_submit(q, bad, 2);
	iommu_completion_wait(mmu);
	iommu_stats_get(mmu, &st);
	cr_assert_eq(st.illegal_cmds, 2);
	cr_assert_eq(st.cmds, 4);
	cr_assert_eq(st.completion_waits, 2);
	cr_assert_eq(st.inv_devtab, 0);
	for (unsigned i = 0; i < 2; i++) {
		cr_assert(iommu_event_pop(mmu, &raw));
		cr_assert_eq(raw.dw[1] >> 28, AMDVI_EVENT_ILLEGAL_COMMAND_ERROR);
		iommu_event_decode(&raw, &ev);
		cr_assert_eq(ev.code, AMDVI_EVENT_ILLEGAL_COMMAND_ERROR);
		/* The event points at the command: its address in the ring. */
		cr_assert_eq(ev.addr, cmdq_base(q) + at + i * AMDVI_CMD_SIZE, "event %u at 0x%llx", i,
			     (unsigned long long)ev.addr);
	}
	cr_assert(!iommu_event_pop(mmu, &raw));
	iommu_destroy(mmu);
}

static void full_ring_case(bool threaded)
{
	struct iommu *mmu = mk_iommu(threaded, false, CMDQ_ENTRIES_MIN);
	struct iopt *pt = mk_pt(4, 0, NULL);
	struct cmdq_stats qs;
	struct iommu_stats st;
	struct iommu_xlate x;
	unsigned sent = 0;

	attach(mmu, 1, 1, pt);
	map(pt, 0, 0x100000, 1000 * SZ_4K, IOPT_PROT_RW);
	for (unsigned i = 0; i < 1000; i++)
		cr_assert_eq(xlate(mmu, 1, i * SZ_4K, IOPT_PROT_READ, &x), 0);
	/* More commands than the ring holds before any wait. */
	for (unsigned i = 0; i < 1000; i++)
		sent += (unsigned)iommu_flush_range(mmu, 1, i * SZ_4K, SZ_4K, false,
						    INVAL_EXACT, 48, NULL);
	/* One range of 52 blocks in a single submission. */
	sent += (unsigned)iommu_flush_range(mmu, 1, 0, 0 - SZ_4K, false, INVAL_EXACT, 48,
					    NULL);
	iommu_completion_wait(mmu);
	iommu_stats_get(mmu, &st);
	cr_assert_eq(sent, 1052);
	cr_assert_eq(st.inv_pages, sent);
	cr_assert_eq(st.completion_waits, 1);
	cmdq_stats_get(iommu_cmdq(mmu), &qs);
	cr_assert_eq(qs.submitted, sent + 1);
	if (!threaded)
		cr_assert_geq(qs.full_waits, 3, "the ring did fill");
	cr_assert_eq(iotlb_occupancy(iommu_iotlb(mmu)), 0);
	iommu_destroy(mmu);
	iopt_destroy(pt);
}

Test(iommu, full_ring_with_inline_consumer_never_deadlocks)
{
	full_ring_case(false);
}

Test(iommu, full_ring_with_threaded_consumer_never_deadlocks, .timeout = 60)
{
	full_ring_case(true);
}

Test(iommu, event_log_overflow_drops_new_events_and_counts_them)
{
	struct iommu_cfg cfg = {
		.tlb = { .entries = 64, .ways = 4 }, .evtlog_entries = IOMMU_EVTLOG_MIN, .cpu = -1,
	};
	struct iommu *mmu = NULL;
	struct iommu_xlate x;
	struct iommu_stats st;
	struct amdvi_cmd raw;

	cr_assert_eq(iommu_create(&cfg, &mmu), 0);
	iommu_dte_block(mmu, 1);
	for (unsigned i = 0; i < IOMMU_EVTLOG_MIN + 1; i++)
		cr_assert_eq(xlate(mmu, 1, i * SZ_4K, IOPT_PROT_READ, &x), -EFAULT);
	iommu_stats_get(mmu, &st);
	cr_assert_eq(st.events, IOMMU_EVTLOG_MIN - 1, "one slot stays empty");
	cr_assert_eq(st.event_overflows, 2);
	for (unsigned i = 0; i < IOMMU_EVTLOG_MIN - 1; i++) {
		cr_assert(iommu_event_pop(mmu, &raw));
		cr_assert_eq(raw.dw[2], i * SZ_4K, "oldest first");
	}
	cr_assert(!iommu_event_pop(mmu, &raw));
	cr_assert_eq(xlate(mmu, 1, 0x9000, IOPT_PROT_READ, &x), -EFAULT);
	cr_assert(iommu_event_pop(mmu, &raw), "logging resumes once drained");
	cr_assert_eq(raw.dw[2], 0x9000);
	iommu_destroy(mmu);
}

/*
 * Completion wait, threaded: the store must land only after the
 * invalidations queued before it took effect. A consumer that stored early
 * would let the access after the wait hit the stale entry.
 */
Test(iommu, completion_wait_returns_only_after_the_invalidations_took_effect,
     .timeout = 60)
{
	struct iommu *mmu = mk_iommu(true, false, 0);
	struct iopt *pt = mk_pt(4, 0, NULL);
	struct iommu_xlate x;
	struct iommu_stats st;

	attach(mmu, 1, 1, pt);
	for (unsigned i = 0; i < 3000; i++) {
		iova_t va = 0x10000000 + (uint64_t)i * SZ_4K;

		map(pt, va, 0x40000000 + (uint64_t)i * SZ_4K, SZ_4K, IOPT_PROT_RW);
		cr_assert_eq(xlate(mmu, 1, va, IOPT_PROT_WRITE, &x), 0, "iter %u", i);
		unmap_flush(mmu, 1, pt, va, SZ_4K);
		cr_assert_eq(xlate(mmu, 1, va, IOPT_PROT_WRITE, &x), -EFAULT,
			     "iter %u: served pa 0x%llx after the wait", i,
			     (unsigned long long)x.pa);
		cr_assert_eq(x.fault, AMDVI_FAULT_NOT_PRESENT);
		iommu_stats_get(mmu, &st);
		cr_assert_eq(st.inv_pages, i + 1, "iter %u", i);
		cr_assert_eq(st.completion_waits, i + 1, "iter %u", i);
		cr_assert_eq(cmdq_pending(iommu_cmdq(mmu)), 0);
	}
	iommu_destroy(mmu);
	iopt_destroy(pt);
}

/* ---- random streams ------------------------------------------------------------------ */

#define WB	(0x00007f0000000000ULL + SZ_1G - 16 * SZ_2M)	/* straddles a 1G line */
#define WSZ	(32 * SZ_2M)

struct side {
	struct iommu *mmu;
	struct iopt *pt;
};

static void side_init(struct side *s, bool threaded, bool np_cache)
{
	s->mmu = mk_iommu(threaded, np_cache, 0);
	s->pt = mk_pt(4, 0, NULL);
	attach(s->mmu, 1, 1, s->pt);
	attach(s->mmu, 2, 1, s->pt);
}

static void side_fini(struct side *s)
{
	iommu_destroy(s->mmu);
	iopt_destroy(s->pt);
}

/* The device's view must be exactly the table's: the strict-mode oracle. */
static void check_oracle(uint64_t seed, unsigned op, const struct side *s,
			 uint16_t dev, iova_t va, unsigned access, int ret,
			 const struct iommu_xlate *x)
{
	struct amdvi_walk w;

	if (dev == 3) {
		PCHECK(seed, ret == 0 && x->passthrough && x->pa == va, "op %u: passthrough", op);
		return;
	}
	if (iopt_translate(s->pt, va, &w)) {
		PCHECK(seed, ret == -EFAULT && x->fault == w.fault,
		       "op %u: 0x%llx unmapped (%s) but got ret %d pa 0x%llx fault %s",
		       op, (unsigned long long)va, amdvi_fault_name(w.fault), ret,
		       (unsigned long long)x->pa, amdvi_fault_name(x->fault));
		return;
	}
	if (access & ~w.prot) {
		PCHECK(seed, ret == -EFAULT && x->fault == AMDVI_FAULT_PERMISSION,
		       "op %u: 0x%llx prot %u access %u: ret %d", op,
		       (unsigned long long)va, w.prot, access, ret);
		return;
	}
	PCHECK(seed, ret == 0 && x->pa == w.pa && x->size_lg2 == w.size_lg2,
	       "op %u: 0x%llx table says 0x%llx/%u, device got ret %d 0x%llx/%u (hit %d)",
	       op, (unsigned long long)va, (unsigned long long)w.pa, w.size_lg2, ret,
	       (unsigned long long)x->pa, x->size_lg2, x->tlb_hit);
}

/*
 * Apply one random stream to two models in lockstep. With @strict every
 * unmap is invalidated and waited for, and each access is checked against
 * the page table itself; without it some unmaps leave stale entries and
 * the models are only compared with each other (that needs every command
 * to be waited for, so that thread timing cannot show).
 */
static void run_stream(uint64_t seed, unsigned ops, bool strict, struct side *sd,
		       unsigned nsides)
{
	iova_t recent[64] = { 0 }, last_va = 0;
	unsigned nrecent = 0;
	struct prng rng;
	uint64_t gen = 0;

	prng_seed(&rng, seed);
	for (unsigned op = 0; op < ops; op++) {
		unsigned x = (unsigned)prng_below(&rng, 100);

		if (x < 33) {				/* map */
			bool big = prng_below(&rng, 4) == 0;
			iova_t va = WB + (big ? prng_below(&rng, 32) * SZ_2M :
						prng_below(&rng, WSZ / SZ_4K) * SZ_4K);
			uint64_t len = big ? SZ_2M : (1 + prng_below(&rng, 64)) * SZ_4K;
			paddr_t pa = ((++gen) << 33) + (va - WB);
			unsigned prot = 1 + (unsigned)prng_below(&rng, 3);
			int r0 = 0;

			if (va + len > WB + WSZ)
				len = WB + WSZ - va;
			for (unsigned i = 0; i < nsides; i++) {
				int r = iopt_map(sd[i].pt, va, pa, len, prot, NULL);

				PCHECK(seed, r == 0 || r == -EEXIST, "op %u: map %d", op, r);
				if (i == 0)
					r0 = r;
				PCHECK(seed, r == r0, "op %u: map results differ", op);
			}
			if (!r0)
				recent[nrecent++ % 64] = va;
		} else if (x < 45) {			/* unmap, usually invalidated */
			iova_t va = WB + prng_below(&rng, WSZ / SZ_4K) * SZ_4K;
			uint64_t len = (1 + prng_below(&rng, prng_below(&rng, 8) ? 8 : 1024)) * SZ_4K;
			bool flush = strict || prng_below(&rng, 10) < 7;
			enum inval_policy pol = (enum inval_policy)prng_below(&rng, INVAL_POLICY_NR);

			if (va + len > WB + WSZ)
				len = WB + WSZ - va;
			for (unsigned i = 0; i < nsides; i++) {
				struct iopt_gather g;
				uint64_t un = 0;

				iopt_gather_init(&g, NULL, NULL);
				PCHECK(seed, iopt_unmap(sd[i].pt, va, len, &g, &un) == 0, "op %u", op);
				if (!g.pending)
					continue;
				/* Freed tables may be released only after a flush. */
				if (flush || g.freelist.pages) {
					PCHECK(seed, iommu_flush_range(sd[i].mmu, 1, g.start,
								       g.last - g.start + 1,
								       g.pde, pol, 48, NULL) > 0,
					       "op %u", op);
					iommu_completion_wait(sd[i].mmu);
				}
				iopt_gather_release(sd[i].pt, &g);
			}
		} else if (x < 99) {			/* device access */
			uint16_t dev = prng_below(&rng, 10) ? 1 + (uint16_t)prng_below(&rng, 2) : 3;
			unsigned where = (unsigned)prng_below(&rng, 100);
			iova_t va;

			if (where < 25 && last_va)	/* the page accessed last, again */
				va = (last_va & ~(SZ_4K - 1)) + (prng_below(&rng, SZ_4K) & ~7ULL);
			else if (where < 70 && nrecent)	/* near something mapped lately */
				va = recent[(nrecent - 1 - prng_below(&rng, nrecent < 16 ? nrecent : 16)) % 64] +
				     (prng_below(&rng, 8 * SZ_4K) & ~7ULL);
			else if (where < 97)
				va = WB + (prng_below(&rng, WSZ) & ~7ULL);
			else
				va = prng_below(&rng, 1ULL << 48) & ~7ULL;
			last_va = va;
			unsigned access = prng_below(&rng, 2) ? IOPT_PROT_READ : IOPT_PROT_WRITE;
			struct iommu_xlate xs[2];
			int rs[2];

			for (unsigned i = 0; i < nsides; i++) {
				rs[i] = iommu_translate(sd[i].mmu, dev, va, access, &xs[i]);
				if (strict)
					check_oracle(seed, op, &sd[i], dev, va, access, rs[i], &xs[i]);
			}
			if (nsides == 2)
				PCHECK(seed, rs[0] == rs[1] && xs[0].fault == xs[1].fault &&
					     xs[0].pa == xs[1].pa &&
					     xs[0].size_lg2 == xs[1].size_lg2 &&
					     xs[0].tlb_hit == xs[1].tlb_hit &&
					     xs[0].passthrough == xs[1].passthrough &&
					     xs[0].levels_read == xs[1].levels_read &&
					     xs[0].model_ns == xs[1].model_ns,
				       "op %u: dev %u 0x%llx: inline ret %d pa 0x%llx hit %d "
				       "levels %u, threaded ret %d pa 0x%llx hit %d levels %u",
				       op, dev, (unsigned long long)va, rs[0],
				       (unsigned long long)xs[0].pa, xs[0].tlb_hit,
				       xs[0].levels_read, rs[1], (unsigned long long)xs[1].pa,
				       xs[1].tlb_hit, xs[1].levels_read);
		} else {				/* other commands, waited for */
			unsigned y = (unsigned)prng_below(&rng, 3);

			for (unsigned i = 0; i < nsides; i++) {
				struct amdvi_cmd c;

				if (y == 0) {
					iommu_flush_dte(sd[i].mmu, 1);
				} else if (y == 1) {
					cmdq_enc_inv_iommu_all(&c);
					cmdq_submit(iommu_cmdq(sd[i].mmu), &c, 1);
				} else {
					iommu_flush_range(sd[i].mmu, 1, WB, WSZ, true,
							  INVAL_MERGED, 48, NULL);
				}
				iommu_completion_wait(sd[i].mmu);
			}
		}
	}
}

static void compare_sides(uint64_t seed, struct side *sd)
{
	struct iommu_stats a, b;
	struct iotlb_stats ta, tb;
	struct amdvi_cmd ra, rb;
	unsigned n = 0;

	iommu_stats_get(sd[0].mmu, &a);
	iommu_stats_get(sd[1].mmu, &b);
#define SAME(f) PCHECK(seed, a.f == b.f, #f " inline %llu, threaded %llu",	\
		       (unsigned long long)a.f, (unsigned long long)b.f);
	SAME(translations) SAME(faults) SAME(passthrough) SAME(walks)
	SAME(levels_read) SAME(dte_fetches) SAME(cmds) SAME(completion_waits)
	SAME(inv_pages) SAME(inv_all) SAME(inv_devtab) SAME(illegal_cmds)
	SAME(events) SAME(event_overflows)
#undef SAME
	iotlb_stats_get(iommu_iotlb(sd[0].mmu), &ta);
	iotlb_stats_get(iommu_iotlb(sd[1].mmu), &tb);
	PCHECK(seed, !memcmp(&ta, &tb, sizeof(ta)), "IOTLB stats differ");
	for (;;) {
		bool ga = iommu_event_pop(sd[0].mmu, &ra);
		bool gb = iommu_event_pop(sd[1].mmu, &rb);

		PCHECK(seed, ga == gb, "event logs differ in length at %u", n);
		if (!ga)
			break;
		PCHECK(seed, !memcmp(&ra, &rb, sizeof(ra)), "event %u differs", n);
		n++;
	}
	PCHECK(seed, a.walks > 1000 && a.translations - a.walks > 1000 && a.faults > 100,
	       "the stream should walk, hit and fault: %llu walks %llu xlates %llu faults",
	       (unsigned long long)a.walks, (unsigned long long)a.translations,
	       (unsigned long long)a.faults);
}

Test(iommu_stream, strict_invalidation_always_shows_the_device_the_table, .timeout = 120)
{
	uint64_t seed = test_seed(0x61);
	struct side sd[2];

	side_init(&sd[0], false, false);
	side_init(&sd[1], true, false);
	run_stream(seed, 40000, true, sd, 2);
	compare_sides(seed, sd);
	side_fini(&sd[0]);
	side_fini(&sd[1]);
}

Test(iommu_stream, threaded_consumer_gives_the_same_results_as_inline, .timeout = 120)
{
	uint64_t seed = test_seed(0x62);
	struct side sd[2];

	side_init(&sd[0], false, true);
	side_init(&sd[1], true, true);
	run_stream(seed, 40000, false, sd, 2);
	compare_sides(seed, sd);
	side_fini(&sd[0]);
	side_fini(&sd[1]);
}
