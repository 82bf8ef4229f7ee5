// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dmadom: the DMA domain behind `iob dmamap` (an IOMMU-aware DMA layer:
 * IOVA, page table, invalidation policy). Every check goes through the
 * IOMMU model: a device access (iommu_translate()) says what the device
 * can reach after each call, so strict, batched and lazy unmaps are told
 * apart by what a stale IOTLB entry still serves, not by internal state.
 *
 * A property test runs random map/unmap streams against a list of live
 * mappings (IOB_TEST_SEED replays a failure); allocation failure is
 * injected at every site of create and map.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <iob/alloc.h>
#include <iob/dmadom.h>
#include <iob/pathctr.h>
#include <iob/warn.h>

#include "failinject.h"
#include "prng.h"

#define PG	AMDVI_PAGE_SIZE
#define DOM	5
#define DEV	0x10
#define R	IOPT_PROT_READ
#define W	IOPT_PROT_WRITE
#define RW	IOPT_PROT_RW

#define PCHECK(seed, cond, fmt, ...)					\
	cr_assert((cond), "IOB_TEST_SEED=0x%016llx: " fmt,		\
		  (unsigned long long)(seed), ##__VA_ARGS__)

struct dd {
	struct iommu *mmu;
	struct dmadom *d;
	struct dmadom_cfg cfg;
	int64_t live0;
	uint64_t warn0;
	struct flush_stats *st;		/* large: on the heap */
};

struct dd_opts {
	enum flush_mode mode;
	enum inval_policy policy;
	unsigned ncpus;			/* 0: 1 */
	unsigned fq_entries;		/* 0: Linux's */
	iova_t limit;			/* 0: 4 GiB */
	bool shared, np_cache, flush_on_map, no_rcache, superpages;
	unsigned pt_flags;		/* IOPT_F_*: COALESCE or RECLAIM lock the table */
};

static void dd_cfg(struct dd *t, struct iommu *mmu, const struct dd_opts *o)
{
	unsigned ncpus = o->ncpus ? o->ncpus : 1;

	t->cfg = (struct dmadom_cfg){
		.mmu = mmu,
		.devid = DEV,
		.domid = DOM,
		.pt = { .levels = 4,
			.pgsize_bitmap = o->superpages ? IOPT_PGSIZE_DEFAULT : IOPT_PGSIZE_4K,
			.flags = o->pt_flags },
		.iova = { .granule_lg2 = 12, .start = PG, .limit = o->limit ? o->limit : 1ULL << 32,
			  .rcache = !o->no_rcache, .ncpus = ncpus },
		.flush = { .mode = o->mode, .policy = o->policy, .ncpus = ncpus,
			   .fq_entries = o->fq_entries },
		.flush_on_map = o->flush_on_map,
	};
}

static void dd_init(struct dd *t, const struct dd_opts *o)
{
	struct iommu_cfg mc = {
		.tlb = { .entries = IOTLB_DEFAULT_ENTRIES, .ways = IOTLB_DEFAULT_WAYS,
			 .pde_entries = IOTLB_DEFAULT_PDE_ENTRIES,
			 .pde_ways = IOTLB_DEFAULT_PDE_WAYS },
		.shared = o->shared,
		.np_cache = o->np_cache,
		.cpu = -1,
	};

	memset(t, 0, sizeof(*t));
	/* This thread's path counters exist before anything is counted as live. */
	pathctr_thread_recs();
	t->live0 = iob_alloc_live();
	t->warn0 = iob_warn_count();
	t->st = malloc(sizeof(*t->st));
	cr_assert_not_null(t->st);
	cr_assert_eq(iommu_create(&mc, &t->mmu), 0);
	dd_cfg(t, t->mmu, o);
	cr_assert_eq(dmadom_create(&t->cfg, &t->d), 0);
}

/*
 * Destroy and check that every allocation came back. Counts are per
 * thread: @others is what other threads allocated and did not free
 * themselves (this thread may have freed it), so the sum is what leaked.
 */
static void dd_fini_threads(struct dd *t, int64_t others)
{
	dmadom_destroy(t->d);
	iommu_destroy(t->mmu);
	free(t->st);
	cr_assert_eq(iob_warn_count(), t->warn0, "IOB_WARN_ON fired: %s",
		     iob_warn_message(0) ? iob_warn_message(0) : "?");
	cr_assert_eq(iob_alloc_live() - t->live0 + others, 0, "%lld allocations leaked",
		     (long long)(iob_alloc_live() - t->live0 + others));
}

static void dd_fini(struct dd *t)
{
	dd_fini_threads(t, 0);
}

static struct flush_stats *fst(struct dd *t)
{
	flush_stats_get(dmadom_flush(t->d), t->st);
	return t->st;
}

/* What the device reaches at @iova with @access: 0 and *pa, or the fault. */
static enum amdvi_fault dev(struct dd *t, iova_t iova, unsigned access, paddr_t *pa)
{
	struct iommu_xlate x;
	int ret = iommu_translate(t->mmu, DEV, iova, access, &x);

	cr_assert(ret == 0 || ret == -EFAULT);
	if (pa)
		*pa = ret ? 0 : x.pa;
	return ret ? x.fault : AMDVI_FAULT_NONE;
}

static bool reaches(struct dd *t, iova_t iova)
{
	return dev(t, iova, R, NULL) == AMDVI_FAULT_NONE;
}

static iova_t map(struct dd *t, paddr_t pa, uint64_t len, unsigned prot)
{
	iova_t iova = 0;
	int ret = dmadom_map(t->d, 0, pa, len, prot, &iova);

	cr_assert_eq(ret, 0, "map pa 0x%llx len %llu: %d", (unsigned long long)pa,
		     (unsigned long long)len, ret);
	return iova;
}

static uint64_t inv_cmds(struct dd *t)
{
	struct iommu_stats st;

	iommu_stats_get(t->mmu, &st);
	return st.inv_pages + st.inv_all;
}

/* ---- map and unmap ----------------------------------------------------------------- */

Test(dmadom, map_gives_a_device_address_that_reaches_the_buffer_with_its_rights)
{
	struct dd t;
	paddr_t pa;
	iova_t a, b;

	dd_init(&t, &(struct dd_opts){ .mode = FLUSH_STRICT });
	a = map(&t, 0x12345678, 100, R);
	cr_assert_eq(a & (PG - 1), 0x678, "the buffer's offset in its page is kept");
	cr_assert_eq(dev(&t, a, R, &pa), AMDVI_FAULT_NONE);
	cr_assert_eq(pa, 0x12345678);
	cr_assert_eq(dev(&t, a, W, NULL), AMDVI_FAULT_PERMISSION, "mapped to the device only");

	/* 32 bytes across a page boundary: two pages, both reached, in order. */
	b = map(&t, 0x40001ff0, 0x20, RW);
	cr_assert_eq(dev(&t, b, W, &pa), AMDVI_FAULT_NONE);
	cr_assert_eq(pa, 0x40001ff0);
	cr_assert_eq(dev(&t, b + 0x1f, W, &pa), AMDVI_FAULT_NONE);
	cr_assert_eq(pa, 0x4000200f);
	cr_assert_eq(iova_round(dmadom_iova(t.d), 2), 2);
	cr_assert_eq((b & ~(PG - 1)) % (2 * PG), 0, "aligned to its rounded size");
	cr_assert((b & ~(PG - 1)) + 2 * PG <= a - 0x678 || b >= a + PG,
		  "two live mappings overlap");
	cr_assert_eq(dmadom_unmap(t.d, 0, a, 100), 0);
	cr_assert_eq(dmadom_unmap(t.d, 0, b, 0x20), 0);
	dd_fini(&t);
}

Test(dmadom, strict_unmap_leaves_no_stale_translation_and_waits_once)
{
	struct dd t;
	struct iommu_stats st0, st1;
	iova_t a;

	dd_init(&t, &(struct dd_opts){ .mode = FLUSH_STRICT });
	a = map(&t, 0x100000, 3 * PG, RW);
	for (int i = 0; i < 3; i++)
		cr_assert(reaches(&t, a + i * PG));	/* the IOTLB now holds them */
	iommu_stats_get(t.mmu, &st0);
	cr_assert_eq(dmadom_unmap(t.d, 0, a, 3 * PG), 0);
	iommu_stats_get(t.mmu, &st1);
	for (int i = 0; i < 3; i++)
		cr_assert_not(reaches(&t, a + i * PG), "page %d still reached", i);
	cr_assert_eq(st1.completion_waits - st0.completion_waits, 1);
	cr_assert_geq(st1.inv_pages - st0.inv_pages, 1);
	cr_assert_eq(fst(&t)->pending, 0);
	cr_assert_eq(t.st->released, 1);
	dd_fini(&t);
}

Test(dmadom, batched_unmap_stays_reachable_and_its_iova_unused_until_batch_end)
{
	struct dd t;
	iova_t a[4], b;

	dd_init(&t, &(struct dd_opts){ .mode = FLUSH_BATCHED });
	for (int i = 0; i < 4; i++) {
		a[i] = map(&t, 0x200000 + (paddr_t)i * PG, PG, RW);
		cr_assert(reaches(&t, a[i]));
	}
	for (int i = 0; i < 4; i++)
		cr_assert_eq(dmadom_unmap(t.d, 0, a[i], PG), 0);
	/* The window the suite measures: stale entries serve until the batch ends. */
	for (int i = 0; i < 4; i++)
		cr_assert(reaches(&t, a[i]), "batched unmap %d took effect at once", i);
	cr_assert_eq(fst(&t)->pending, 4);
	b = map(&t, 0x300000, PG, RW);
	for (int i = 0; i < 4; i++)
		cr_assert_neq(b, a[i], "an IOVA was reused before its invalidation");
	flush_batch_end(dmadom_flush(t.d));
	for (int i = 0; i < 4; i++)
		cr_assert_not(reaches(&t, a[i]), "unmap %d survived the batch end", i);
	cr_assert(reaches(&t, b));
	cr_assert_eq(fst(&t)->pending, 0);
	cr_assert_eq(dmadom_unmap(t.d, 0, b, PG), 0);
	dd_fini(&t);
}

Test(dmadom, batched_unmap_without_memory_to_remember_it_settles_at_once)
{
	struct dd t;
	iova_t a;
	int ret;

	dd_init(&t, &(struct dd_opts){ .mode = FLUSH_BATCHED });
	a = map(&t, 0x200000, PG, RW);
	cr_assert(reaches(&t, a));
	iob_fail_after(0);
	ret = dmadom_unmap(t.d, 0, a, PG);
	iob_fail_after(-1);
	cr_assert_eq(ret, 0, "an unmap never fails for want of memory");
	cr_assert_not(reaches(&t, a), "settled without waiting for the batch end");
	cr_assert_eq(fst(&t)->pending, 0);
	dd_fini(&t);
}

Test(dmadom, lazy_unmap_is_released_only_after_the_queue_is_flushed)
{
	struct dd t;
	uint64_t cmds;
	iova_t a[3];

	dd_init(&t, &(struct dd_opts){ .mode = FLUSH_LAZY });
	for (int i = 0; i < 3; i++) {
		a[i] = map(&t, 0x400000 + (paddr_t)i * PG, PG, RW);
		cr_assert(reaches(&t, a[i]));
	}
	cmds = inv_cmds(&t);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(dmadom_unmap(t.d, 0, a[i], PG), 0);
	cr_assert_eq(inv_cmds(&t), cmds, "lazy unmaps send nothing");
	for (int i = 0; i < 3; i++)
		cr_assert(reaches(&t, a[i]));
	cr_assert_eq(fst(&t)->pending, 3);
	flush_sync(dmadom_flush(t.d));
	cr_assert_eq(inv_cmds(&t), cmds + 1, "one domain-wide flush for the queue");
	for (int i = 0; i < 3; i++)
		cr_assert_not(reaches(&t, a[i]));
	cr_assert_eq(fst(&t)->pending, 0);
	dd_fini(&t);
}

/*
 * Each round maps a new buffer, has the device use it (the IOTLB holds
 * it) and unmaps it. An IOVA handed out again before the flush covering
 * its unmap would still reach the old buffer through that entry.
 */
Test(dmadom, lazy_full_queue_flushes_the_domain_before_an_iova_is_reused)
{
	enum { QUEUE = 4, ROUNDS = 40 };
	unsigned reused = 0;
	iova_t seen[ROUNDS];
	struct dd t;

	dd_init(&t, &(struct dd_opts){ .mode = FLUSH_LAZY, .fq_entries = QUEUE });
	for (int i = 0; i < ROUNDS; i++) {
		paddr_t want = 0x800000 + (paddr_t)i * PG, pa;

		seen[i] = map(&t, want, PG, RW);
		for (int j = 0; j < i; j++)
			reused += seen[j] == seen[i];
		cr_assert_eq(dev(&t, seen[i], R, &pa), AMDVI_FAULT_NONE);
		cr_assert_eq(pa, want, "round %d reached round %lld's buffer: its IOVA came back "
			     "before the flush", i, (long long)(pa - 0x800000) / (long long)PG);
		cr_assert_eq(dmadom_unmap(t.d, 0, seen[i], PG), 0);
		cr_assert_leq(fst(&t)->pending, QUEUE);
	}
	cr_assert_geq(t.st->fq_full_flushes, ROUNDS / (QUEUE + 1) - 1);
	cr_assert_gt(reused, 0, "the test never saw an IOVA come back");
	dd_fini(&t);
}

/*
 * An IOMMU that caches not-present results (QEMU's sets NpCache) keeps
 * faulting on a new mapping until it is invalidated: Linux flushes after
 * every map then, and so does cfg.flush_on_map.
 */
static void np_cache_case(bool flush_on_map)
{
	struct dd t;
	iova_t top = (1ULL << 32) - PG, a;

	dd_init(&t, &(struct dd_opts){ .mode = FLUSH_STRICT, .np_cache = true,
				       .flush_on_map = flush_on_map });
	cr_assert_eq(dev(&t, top, R, NULL), AMDVI_FAULT_NOT_PRESENT);
	a = map(&t, 0x500000, PG, RW);
	cr_assert_eq(a, top, "IOVAs come from the top of the window");
	cr_assert_eq(reaches(&t, a), flush_on_map);
	cr_assert_eq(fst(&t)->map_flushes, flush_on_map);
	cr_assert_eq(dmadom_unmap(t.d, 0, a, PG), 0);
	dd_fini(&t);
}

Test(dmadom, with_np_cache_a_new_mapping_is_seen_only_with_flush_on_map)
{
	np_cache_case(false);
	np_cache_case(true);
}

Test(dmadom, large_aligned_buffers_get_superpages_and_unmap_whole)
{
	struct dd t;
	struct iopt_stats ps;
	paddr_t pa;
	iova_t a;

	dd_init(&t, &(struct dd_opts){ .mode = FLUSH_STRICT, .superpages = true });
	a = map(&t, 64ULL << 20, 4ULL << 20, RW);
	cr_assert_eq(a % (4ULL << 20), 0);
	cr_assert_eq(dev(&t, a + 0x234567, W, &pa), AMDVI_FAULT_NONE);
	cr_assert_eq(pa, (64ULL << 20) + 0x234567);
	iopt_stats_get(dmadom_iopt(t.d), &ps);
	cr_assert_eq(ps.entries_written, 2, "two 2 MiB leaves");
	cr_assert_eq(dmadom_unmap(t.d, 0, a, 4ULL << 20), 0);
	cr_assert_not(reaches(&t, a + 0x234567));
	dd_fini(&t);
}

/* ---- errors -------------------------------------------------------------------------- */

/* The translations and the IOVAs handed out or cached. */
static uint64_t dd_mappings(struct dd *t)
{
	struct iova_stats is;

	iova_stats_get(dmadom_iova(t->d), &is);
	return iopt_fingerprint(dmadom_iopt(t->d)) ^ (is.tree_nodes << 48) ^ (is.cached << 32);
}

/* What a failed call must leave as it was: the above, and the heap. */
static uint64_t dd_state(struct dd *t)
{
	return dd_mappings(t) ^ (uint64_t)iob_alloc_live();
}

Test(dmadom, bad_arguments_are_refused_and_change_nothing)
{
	struct dd t;
	iova_t a, out = 0x5a5a;
	uint64_t s;

	/* Without magazines, where a failed map's IOVA would stay cached. */
	dd_init(&t, &(struct dd_opts){ .mode = FLUSH_STRICT, .ncpus = 2, .no_rcache = true });
	a = map(&t, 0x600000, PG, RW);
	s = dd_state(&t);
	cr_assert_eq(dmadom_map(t.d, 0, 0x700000, 0, RW, &out), -EINVAL, "empty");
	cr_assert_eq(dmadom_map(t.d, 0, 0x700000, (1ULL << 40) + 1, RW, &out), -EINVAL);
	cr_assert_eq(dmadom_map(t.d, 0, 0x700000, PG, 0, &out), -EINVAL, "no right");
	cr_assert_eq(dmadom_map(t.d, 0, 0x700000, PG, RW | 4, &out), -EINVAL, "other bits");
	cr_assert_eq(dmadom_map(t.d, 2, 0x700000, PG, RW, &out), -EINVAL, "no such CPU");
	cr_assert_eq(dmadom_map(t.d, 0, 1ULL << 52, PG, RW, &out), -EINVAL, "past 2^52");
	cr_assert_eq(out, 0x5a5a, "an address was handed out on error");
	cr_assert_eq(dmadom_unmap(t.d, 0, a, 0), -EINVAL);
	cr_assert_eq(dmadom_unmap(t.d, 0, a, (1ULL << 40) + 1), -EINVAL);
	cr_assert_eq(dmadom_unmap(t.d, 0, 1ULL << 48, PG), -EINVAL, "past the table");
	cr_assert_eq(dmadom_unmap(t.d, 0, 0x10000, PG), -EINVAL, "never mapped");
	cr_assert_eq(dd_state(&t), s);
	cr_assert(reaches(&t, a));
	cr_assert_eq(dmadom_unmap(t.d, 0, a, PG), 0);
	dd_fini(&t);
}

Test(dmadom, a_full_window_is_enospc_and_frees_up_after_unmap)
{
	enum { PAGES = 15 };		/* [4 KiB, 64 KiB) */
	iova_t a[PAGES], out;
	struct dd t;
	uint64_t s;

	dd_init(&t, &(struct dd_opts){ .mode = FLUSH_STRICT, .limit = 16 * PG,
				       .no_rcache = true });
	for (int i = 0; i < PAGES; i++)
		a[i] = map(&t, 0x900000, PG, R);
	s = dd_state(&t);
	cr_assert_eq(dmadom_map(t.d, 0, 0x900000, PG, R, &out), -ENOSPC);
	cr_assert_eq(dd_state(&t), s);
	cr_assert_eq(dmadom_unmap(t.d, 0, a[7], PG), 0);
	cr_assert_eq(map(&t, 0xa00000, PG, R), a[7]);
	for (int i = 0; i < PAGES; i++)
		cr_assert_eq(dmadom_unmap(t.d, 0, a[i], PG), 0);
	dd_fini(&t);
}

/*
 * Documented, and as Linux: an unmap whose range was not wholly mapped is
 * refused, but what was mapped in it goes (and is invalidated), and the
 * IOVA stays allocated, since the caller plainly did not say which it was.
 */
Test(dmadom, unmap_of_a_range_not_wholly_mapped_removes_what_was_there_and_keeps_the_iova)
{
	struct dd t;
	iova_t a;

	dd_init(&t, &(struct dd_opts){ .mode = FLUSH_STRICT, .no_rcache = true });
	a = map(&t, 0xb00000, PG, RW);
	cr_assert(reaches(&t, a));
	cr_assert_eq(dmadom_unmap(t.d, 0, a - PG, 2 * PG), -EINVAL);
	cr_assert_not(reaches(&t, a), "the mapped half survived");
	cr_assert(iova_is_allocated(dmadom_iova(t.d), a, 1), "the IOVA was given back");
	dd_fini(&t);
}

Test(dmadom, create_refuses_bad_configurations_leaving_the_device_table)
{
	struct dd_opts o = { .mode = FLUSH_STRICT };
	struct iommu_cfg mc = { .tlb = { .entries = 64, .ways = 4 }, .cpu = -1 };
	struct dmadom *d = NULL;
	uint64_t dte[4];
	struct dd t;

	pathctr_thread_recs();
	t.live0 = iob_alloc_live();
	cr_assert_eq(iommu_create(&mc, &t.mmu), 0);
	memcpy(dte, iommu_dte_raw(t.mmu, DEV), sizeof(dte));
	dd_cfg(&t, t.mmu, &o);
	cr_assert_eq(dmadom_create(NULL, &d), -EINVAL);
	cr_assert_eq(dmadom_create(&t.cfg, NULL), -EINVAL);
	t.cfg.mmu = NULL;
	cr_assert_eq(dmadom_create(&t.cfg, &d), -EINVAL, "no IOMMU");
	dd_cfg(&t, t.mmu, &o);
	t.cfg.pt.levels = 2;
	cr_assert_eq(dmadom_create(&t.cfg, &d), -EINVAL, "page table");
	dd_cfg(&t, t.mmu, &o);
	t.cfg.iova.start = 0;
	cr_assert_eq(dmadom_create(&t.cfg, &d), -EINVAL, "IOVA window");
	dd_cfg(&t, t.mmu, &o);
	t.cfg.flush.ncpus = 0;
	cr_assert_eq(dmadom_create(&t.cfg, &d), -EINVAL, "flush");
	cr_assert_null(d);
	cr_assert_eq(memcmp(dte, iommu_dte_raw(t.mmu, DEV), sizeof(dte)), 0);
	iommu_destroy(t.mmu);
	cr_assert_eq(iob_alloc_live(), t.live0);
}

/* ---- allocation failure ------------------------------------------------------------ */

struct create_ctx {
	struct dd t;
	struct dmadom *d;
};

static int create_op(void *arg)
{
	struct create_ctx *x = arg;

	return dmadom_create(&x->t.cfg, &x->d);
}

static void create_undo(void *arg)
{
	struct create_ctx *x = arg;

	dmadom_destroy(x->d);
	x->d = NULL;
}

/* The out pointer, the device's DTE and the commands the IOMMU was sent. */
static uint64_t create_state(void *arg)
{
	struct create_ctx *x = arg;
	const uint64_t *dte = iommu_dte_raw(x->t.mmu, DEV);
	struct iommu_stats st;

	iommu_stats_get(x->t.mmu, &st);
	return (uint64_t)(uintptr_t)x->d ^ dte[0] ^ (dte[1] << 7) ^ (st.cmds << 40) ^
	       st.doorbells;
}

Test(dmadom, create_fails_cleanly_at_each_allocation)
{
	static const struct dd_opts opts[] = {
		{ .mode = FLUSH_STRICT, .no_rcache = true },
		{ .mode = FLUSH_LAZY, .ncpus = 2 },
	};
	struct iommu_cfg mc = { .tlb = { .entries = 64, .ways = 4 }, .cpu = -1 };
	struct create_ctx x = { .d = NULL };
	struct failinject fi = { "dmadom_create", create_op, create_undo, create_state, &x };

	pathctr_thread_recs();
	x.t.live0 = iob_alloc_live();
	cr_assert_eq(iommu_create(&mc, &x.t.mmu), 0);
	for (unsigned i = 0; i < 2; i++) {
		unsigned fails;

		dd_cfg(&x.t, x.t.mmu, &opts[i]);
		fails = failinject_each(&fi);
		/*
		 * Strict without magazines: the domain, the table and its
		 * root, the allocator, the flush state and its statistics.
		 * Lazy on two CPUs adds magazines, depots and flush queues.
		 */
		cr_assert_geq(fails, i ? 20 : 6, "configuration %u: only %u sites", i, fails);
	}
	iommu_destroy(x.t.mmu);
	cr_assert_eq(iob_alloc_live(), x.t.live0);
}

struct map_ctx {
	struct dd *t;
	paddr_t pa;
	uint64_t len;
	iova_t iova;
};

static int map_op(void *arg)
{
	struct map_ctx *x = arg;

	return dmadom_map(x->t->d, 0, x->pa, x->len, RW, &x->iova);
}

static void map_undo(void *arg)
{
	struct map_ctx *x = arg;
	paddr_t pa;

	cr_assert_eq(dev(x->t, x->iova, W, &pa), AMDVI_FAULT_NONE);
	cr_assert_eq(pa, x->pa);
	cr_assert_eq(dmadom_unmap(x->t->d, 0, x->iova, x->len), 0);
}

static uint64_t map_state(void *arg)
{
	return dd_state(((struct map_ctx *)arg)->t);
}

static void hash_leaf(void *ctx, iova_t iova, paddr_t pa, unsigned lg2, unsigned prot)
{
	uint64_t *h = ctx;

	*h = (*h ^ iova ^ (pa << 1) ^ ((uint64_t)lg2 << 56) ^ prot) * 0x100000001b3ULL;
}

/* What a failed map into a shared table must not change: what it translates. */
static uint64_t dd_translations(struct dd *t)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	struct iova_stats is;

	iopt_for_each_leaf(dmadom_iopt(t->d), hash_leaf, &h);
	iova_stats_get(dmadom_iova(t->d), &is);
	return h ^ (is.tree_nodes << 48) ^ (is.cached << 32);
}

Test(dmadom, map_fails_cleanly_at_each_allocation)
{
	struct dd t;
	struct map_ctx x = { .t = &t, .pa = 0xc00000, .len = 8 * PG };
	struct failinject fi = { "dmadom_map", map_op, map_undo, map_state, &x };

	/*
	 * Without magazines the IOVA's tree node is an allocation site too.
	 * Coalescing changes tables other CPUs' ranges share: the domain
	 * locks such a table, and a failed map gives back all it took.
	 */
	dd_init(&t, &(struct dd_opts){ .mode = FLUSH_STRICT, .no_rcache = true,
				       .pt_flags = IOPT_F_COALESCE });
	cr_assert_eq(iopt_flags(dmadom_iopt(t.d)) & IOPT_F_SHARED, 0);
	/* Into an empty table: the IOVA node, then tables at levels 3, 2 and 1. */
	cr_assert_eq(failinject_each(&fi), 4);
	dd_fini(&t);
}

Test(dmadom, map_into_a_shared_table_fails_cleanly_keeping_only_empty_tables)
{
	struct dd t;
	struct iopt *pt;
	unsigned fails = 0;
	iova_t iova;

	dd_init(&t, &(struct dd_opts){ .mode = FLUSH_STRICT, .no_rcache = true });
	pt = dmadom_iopt(t.d);
	cr_assert_neq(iopt_flags(pt) & IOPT_F_SHARED, 0,
		      "a table without coalescing or reclaim is shared without a lock");
	/*
	 * Other CPUs may already be inside a table a failed map installed:
	 * it stays, empty, as in Linux, and the next try needs one table
	 * less. IOVA node, level 3; IOVA node, level 3 (kept), level 2; then
	 * levels 2 (kept) and 1 run through: three failures, not four. Each
	 * failure changes no translation and leaks nothing but the tables
	 * it kept.
	 */
	for (long n = 0;; n++) {
		uint64_t before = dd_translations(&t), tables = iopt_count_tables(pt);
		int64_t live = iob_alloc_live();
		int ret;

		iob_fail_after(n);
		ret = dmadom_map(t.d, 0, 0xc00000, 8 * PG, RW, &iova);
		iob_fail_after(-1);
		if (!ret)
			break;
		fails++;
		cr_assert_eq(ret, -ENOMEM, "allocation %ld failing: %d", n, ret);
		cr_assert_eq(dd_translations(&t), before, "allocation %ld failing: mapped", n);
		cr_assert_eq(iob_alloc_live() - live, (int64_t)(iopt_count_tables(pt) - tables),
			     "allocation %ld failing: %lld leaked", n,
			     (long long)(iob_alloc_live() - live));
		cr_assert_eq(iopt_check(pt), 0);
		cr_assert_lt(n, 16);
	}
	cr_assert_eq(fails, 3);
	cr_assert(reaches(&t, iova));
	cr_assert_eq(dmadom_unmap(t.d, 0, iova, 8 * PG), 0);
	dd_fini(&t);
}

/* ---- threads ------------------------------------------------------------------------ */

#define TH_WINDOW_PAGES	4096		/* IOVAs in [4 KiB, 16 MiB) */
#define TH_ROUNDS	3000

struct th {
	struct dd *t;
	unsigned cpu;
	_Atomic uint8_t *owner;		/* per IOVA page: 0 free, else cpu + 1 */
	unsigned errors, overlaps, wrong;
	int64_t live;			/* allocations this thread made less those it freed */
	uint64_t seed;
};

static void *th_run(void *arg)
{
	struct th *h = arg;
	struct { iova_t iova; uint64_t len; paddr_t pa; } live[8];
	unsigned nlive = 0;
	struct prng r;

	int64_t live0;

	pathctr_thread_recs();
	live0 = iob_alloc_live();
	prng_seed(&r, h->seed);
	for (unsigned i = 0; i < TH_ROUNDS; i++) {
		if (nlive < 8 && (nlive == 0 || prng_below(&r, 2))) {
			uint64_t len = (1 + prng_below(&r, 4 * PG));
			paddr_t pa = ((paddr_t)(h->cpu + 1) << 32) + prng_below(&r, 1 << 20);
			iova_t iova;

			if (dmadom_map(h->t->d, h->cpu, pa, len, RW, &iova)) {
				h->errors++;
				continue;
			}
			for (uint64_t p = iova >> 12; p <= (iova + len - 1) >> 12; p++) {
				uint8_t none = 0;

				if (p >= TH_WINDOW_PAGES ||
				    !atomic_compare_exchange_strong(&h->owner[p], &none,
								    (uint8_t)(h->cpu + 1)))
					h->overlaps++;
			}
			live[nlive].iova = iova;
			live[nlive].len = len;
			live[nlive++].pa = pa;
		} else {
			unsigned k = (unsigned)prng_below(&r, nlive);
			struct iommu_xlate x;

			/* The device reaches what this thread mapped, nothing else. */
			if (iommu_translate(h->t->mmu, DEV, live[k].iova + live[k].len - 1, W, &x) ||
			    x.pa != live[k].pa + live[k].len - 1)
				h->wrong++;
			/* Given back before the unmap, which may release it to the other CPU. */
			for (uint64_t p = live[k].iova >> 12;
			     p <= (live[k].iova + live[k].len - 1) >> 12 && p < TH_WINDOW_PAGES; p++)
				atomic_store(&h->owner[p], 0);
			if (dmadom_unmap(h->t->d, h->cpu, live[k].iova, live[k].len))
				h->errors++;
			live[k] = live[--nlive];
		}
		if (!(i % 64))
			flush_poll(dmadom_flush(h->t->d), h->cpu);
	}
	while (nlive) {
		nlive--;
		for (uint64_t p = live[nlive].iova >> 12;
		     p <= (live[nlive].iova + live[nlive].len - 1) >> 12 && p < TH_WINDOW_PAGES; p++)
			atomic_store(&h->owner[p], 0);
		if (dmadom_unmap(h->t->d, h->cpu, live[nlive].iova, live[nlive].len))
			h->errors++;
	}
	h->live = iob_alloc_live() - live0;
	return NULL;
}

static void threads_case(enum flush_mode mode)
{
	uint64_t seed = test_seed(0xd0 + mode);
	_Atomic uint8_t *owner = calloc(TH_WINDOW_PAGES, sizeof(*owner));
	struct th h[2];
	pthread_t tid[2];
	struct dd t;

	cr_assert_not_null(owner);
	dd_init(&t, &(struct dd_opts){ .mode = mode, .ncpus = 2, .shared = true,
				       .limit = TH_WINDOW_PAGES * PG });
	for (unsigned c = 0; c < 2; c++) {
		h[c] = (struct th){ .t = &t, .cpu = c, .owner = owner, .seed = seed + c };
		cr_assert_eq(pthread_create(&tid[c], NULL, th_run, &h[c]), 0);
	}
	for (unsigned c = 0; c < 2; c++)
		pthread_join(tid[c], NULL);
	flush_batch_end(dmadom_flush(t.d));
	flush_sync(dmadom_flush(t.d));
	for (unsigned c = 0; c < 2; c++) {
		PCHECK(seed, !h[c].errors, "%s: CPU %u: %u calls failed", flush_mode_name(mode), c,
		       h[c].errors);
		PCHECK(seed, !h[c].overlaps, "%s: CPU %u: %u pages handed out twice",
		       flush_mode_name(mode), c, h[c].overlaps);
		PCHECK(seed, !h[c].wrong, "%s: CPU %u: %u accesses reached the wrong page",
		       flush_mode_name(mode), c, h[c].wrong);
	}
	cr_assert_eq(fst(&t)->pending, 0);
	cr_assert_eq(t.st->unmaps, t.st->released);
	/* A range one CPU allocated may be freed by the other, or by this thread. */
	dd_fini_threads(&t, h[0].live + h[1].live);
	free((void *)owner);
}

Test(dmadom, two_cpus_never_share_an_iova_strict, .timeout = 120)
{
	threads_case(FLUSH_STRICT);
}

Test(dmadom, two_cpus_never_share_an_iova_lazy, .timeout = 120)
{
	threads_case(FLUSH_LAZY);
}

/* ---- property: random streams against a list of live mappings ------------------------ */

struct ref_map {
	iova_t iova;		/* as returned */
	uint64_t len;
	paddr_t pa;
	unsigned prot;
};

#define REF_MAX		64

struct ref {
	struct ref_map m[REF_MAX];
	unsigned n;
	/* Unmapped, not yet known to be flushed: a device may still reach them. */
	struct ref_map gone[4096];
	unsigned ngone;
};

static iova_t page_lo(const struct ref_map *m)
{
	return m->iova & ~(PG - 1);
}

static iova_t page_hi(const struct ref_map *m)
{
	return (m->iova + m->len - 1) | (PG - 1);
}

/* Every live mapping reaches exactly its buffer, with its rights, page by page. */
static void check_live(uint64_t seed, struct dd *t, const struct ref *ref)
{
	for (unsigned i = 0; i < ref->n; i++) {
		const struct ref_map *m = &ref->m[i];

		for (iova_t a = page_lo(m); a <= page_hi(m); a += PG) {
			paddr_t pa;
			iova_t at = a < m->iova ? m->iova : a;
			enum amdvi_fault f = dev(t, at, m->prot, &pa);

			PCHECK(seed, f == AMDVI_FAULT_NONE && pa == m->pa + (at - m->iova),
			       "mapping %u: 0x%llx reaches 0x%llx (fault %s), want 0x%llx", i,
			       (unsigned long long)at, (unsigned long long)pa, amdvi_fault_name(f),
			       (unsigned long long)(m->pa + (at - m->iova)));
			if (m->prot != RW)
				PCHECK(seed, dev(t, at, RW & ~m->prot, NULL) == AMDVI_FAULT_PERMISSION,
				       "mapping %u: a right it was not given", i);
		}
	}
}

static void leaf_count(void *ctx, iova_t iova, paddr_t pa, unsigned size_lg2, unsigned prot)
{
	(void)iova;
	(void)pa;
	(void)prot;
	*(uint64_t *)ctx += 1ULL << (size_lg2 - 12);
}

static void property(enum flush_mode mode, uint64_t salt)
{
	uint64_t seed = test_seed(salt);
	struct ref *ref = calloc(1, sizeof(*ref));
	struct prng r;
	struct dd t;

	cr_assert_not_null(ref);
	prng_seed(&r, seed);
	dd_init(&t, &(struct dd_opts){ .mode = mode, .policy = (enum inval_policy)(salt % 3),
				       .fq_entries = 16, .superpages = salt & 1 });
	for (unsigned it = 0; it < 4000; it++) {
		unsigned op = (unsigned)prng_below(&r, 16);

		if (op < 7 && ref->n < REF_MAX) {
			struct ref_map m = {
				.len = prng_below(&r, 4) ? 1 + prng_below(&r, 3 * PG) :
							   1 + prng_below(&r, 600 * PG),
				.pa = prng_below(&r, 1ULL << 40),
				.prot = 1 + (unsigned)prng_below(&r, 3),
			};
			int ret;

			/* Some 2 MiB aligned buffers, which superpage domains map with 2 MiB leaves. */
			if (!prng_below(&r, 4))
				m.pa &= ~((2ULL << 20) - 1);
			ret = dmadom_map(t.d, 0, m.pa, m.len, m.prot, &m.iova);

			PCHECK(seed, ret == 0, "it %u: map %llu bytes: %d", it,
			       (unsigned long long)m.len, ret);
			PCHECK(seed, (m.iova & (PG - 1)) == (m.pa & (PG - 1)), "it %u: offset", it);
			/*
			 * The device reaches the new buffer at once, on every page: an
			 * IOVA reused before the flush covering its last unmap would
			 * still reach the old one through a stale IOTLB entry. This
			 * also warms the IOTLB, so that such a reuse later shows.
			 */
			for (iova_t a = page_lo(&m); a <= page_hi(&m); a += PG) {
				iova_t at = a < m.iova ? m.iova : a;
				paddr_t pa;

				PCHECK(seed, dev(&t, at, m.prot, &pa) == AMDVI_FAULT_NONE &&
					     pa == m.pa + (at - m.iova),
				       "it %u: new mapping at 0x%llx reaches 0x%llx, not 0x%llx", it,
				       (unsigned long long)at, (unsigned long long)pa,
				       (unsigned long long)(m.pa + (at - m.iova)));
			}
			for (unsigned i = 0; i < ref->n; i++)
				PCHECK(seed, page_hi(&m) < page_lo(&ref->m[i]) ||
					     page_lo(&m) > page_hi(&ref->m[i]),
				       "it %u: [0x%llx, 0x%llx] overlaps live mapping %u", it,
				       (unsigned long long)page_lo(&m), (unsigned long long)page_hi(&m), i);
			/* Batched releases nothing before the batch ends. */
			for (unsigned i = 0; mode == FLUSH_BATCHED && i < ref->ngone; i++)
				PCHECK(seed, page_hi(&m) < page_lo(&ref->gone[i]) ||
					     page_lo(&m) > page_hi(&ref->gone[i]),
				       "it %u: reused an IOVA before the batch ended", it);
			ref->m[ref->n++] = m;
		} else if (op < 13 && ref->n) {
			unsigned k = (unsigned)prng_below(&r, ref->n);
			struct ref_map m = ref->m[k];

			PCHECK(seed, dmadom_unmap(t.d, 0, m.iova, m.len) == 0, "it %u: unmap", it);
			ref->m[k] = ref->m[--ref->n];
			if (mode == FLUSH_STRICT) {
				for (iova_t a = page_lo(&m); a <= page_hi(&m); a += PG)
					PCHECK(seed, !reaches(&t, a), "it %u: strict unmap left 0x%llx",
					       it, (unsigned long long)a);
			} else {
				PCHECK(seed, ref->ngone < 4096, "it %u: too much pending", it);
				ref->gone[ref->ngone++] = m;
			}
		} else if (op == 13) {
			/* An address nobody mapped: refused, and nothing changes. */
			iova_t a = (PG + prng_below(&r, (1ULL << 32) - 2 * PG)) & ~(PG - 1);
			struct ref_map probe = { a, PG, 0, 0 };
			bool free = !reaches(&t, a);
			/* The table only: the unmap may let the flush queue release others. */
			uint64_t s = iopt_fingerprint(dmadom_iopt(t.d));

			for (unsigned i = 0; i < ref->n; i++)
				free &= page_hi(&probe) < page_lo(&ref->m[i]) ||
					page_lo(&probe) > page_hi(&ref->m[i]);
			if (free) {
				PCHECK(seed, dmadom_unmap(t.d, 0, a, PG) == -EINVAL, "it %u", it);
				PCHECK(seed, iopt_fingerprint(dmadom_iopt(t.d)) == s,
				       "it %u: a refused unmap changed the table", it);
			}
		} else {
			/* The flush points the mode has; after them nothing unmapped is reached. */
			if (mode == FLUSH_BATCHED)
				flush_batch_end(dmadom_flush(t.d));
			else
				flush_sync(dmadom_flush(t.d));
			for (unsigned i = 0; i < ref->ngone; i++)
				for (iova_t a = page_lo(&ref->gone[i]); a <= page_hi(&ref->gone[i]);
				     a += PG) {
					struct ref_map pg = { a, PG, 0, 0 };
					bool live = false;

					/* Unless mapped again since, which lazy allows once flushed. */
					for (unsigned j = 0; j < ref->n; j++)
						live |= !(page_hi(&pg) < page_lo(&ref->m[j]) ||
							  page_lo(&pg) > page_hi(&ref->m[j]));
					PCHECK(seed, live || !reaches(&t, a), "it %u: 0x%llx reached "
					       "after the flush", it, (unsigned long long)a);
				}
			ref->ngone = 0;
			PCHECK(seed, fst(&t)->pending == 0, "it %u: pending after the flush", it);
		}
		if (!(it % 97))
			check_live(seed, &t, ref);
	}
	check_live(seed, &t, ref);
	{
		uint64_t pages = 0, want = 0;

		iopt_for_each_leaf(dmadom_iopt(t.d), leaf_count, &pages);
		for (unsigned i = 0; i < ref->n; i++)
			want += (page_hi(&ref->m[i]) - page_lo(&ref->m[i]) + 1) / PG;
		PCHECK(seed, pages == want, "the table maps %llu pages, the live mappings %llu",
		       (unsigned long long)pages, (unsigned long long)want);
	}
	while (ref->n) {
		ref->n--;
		PCHECK(seed, dmadom_unmap(t.d, 0, ref->m[ref->n].iova, ref->m[ref->n].len) == 0,
		       "final unmap");
	}
	dd_fini(&t);
	free(ref);
}

Test(dmadom_property, strict_streams_match_the_live_mappings, .timeout = 120)
{
	property(FLUSH_STRICT, 0xe0);
}

Test(dmadom_property, batched_streams_match_the_live_mappings, .timeout = 120)
{
	property(FLUSH_BATCHED, 0xe1);
}

Test(dmadom_property, lazy_streams_match_the_live_mappings, .timeout = 120)
{
	property(FLUSH_LAZY, 0xe2);
}

Test(dmadom_property, lazy_superpage_streams_match_the_live_mappings, .timeout = 120)
{
	property(FLUSH_LAZY, 0xe5);
}
