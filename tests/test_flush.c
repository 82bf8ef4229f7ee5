// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flush: when each invalidation policy releases what an unmap gave back.
 * Every release callback here checks, at that moment, that the device can
 * no longer reach any page of the range (the IOTLB entry, warmed before
 * the unmap, is really gone): nothing may be reused while a stale
 * translation to it remains. Strict releases inside flush_unmapped();
 * batched at flush_batch_end(), after one completion wait; lazy after a
 * flush that started after the entry was queued (start/finish counters),
 * on a full queue, a timeout or flush_sync().
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <iob/alloc.h>
#include <iob/cycles.h>
#include <iob/flush.h>
#include <iob/iommu.h>
#include <iob/iopt.h>
#include <iob/warn.h>

#define PG	AMDVI_PAGE_SIZE
#define DOM	7
#define DEV	0x42
#define R	IOPT_PROT_READ
#define RW	IOPT_PROT_RW

struct fx {
	struct iommu *mmu;
	struct iopt *pt;
	struct flush *f;
	unsigned released;
	uint64_t order[1024];		/* iova of each release, in order */
	unsigned stale_at_release;	/* pages a device still reached at release time */
	void (*during)(struct fx *x);	/* called from inside the next release */
	int64_t live0;
	uint64_t warn0;
	struct flush_stats st;		/* large: kept out of the stack */
};

static struct fx *fx_new(enum flush_mode mode, unsigned ncpus, unsigned fq_entries,
			 uint64_t timeout_ns)
{
	struct iommu_cfg mc = {
		.tlb = { .entries = IOTLB_DEFAULT_ENTRIES, .ways = IOTLB_DEFAULT_WAYS,
			 .pde_entries = IOTLB_DEFAULT_PDE_ENTRIES,
			 .pde_ways = IOTLB_DEFAULT_PDE_WAYS },
		.cpu = -1,
	};
	struct iopt_cfg pc = { .levels = 4, .pgsize_bitmap = IOPT_PGSIZE_4K };
	struct flush_cfg fc = { .mode = mode, .policy = INVAL_EXACT, .ncpus = ncpus,
				.fq_entries = fq_entries, .fq_timeout_ns = timeout_ns };
	struct fx *x = calloc(1, sizeof(*x));

	cr_assert_not_null(x);
	x->live0 = iob_alloc_live();
	x->warn0 = iob_warn_count();
	cr_assert_eq(iommu_create(&mc, &x->mmu), 0);
	cr_assert_eq(iopt_create(&pc, &x->pt), 0);
	cr_assert_eq(iommu_dte_set(x->mmu, DEV, DOM, iopt_root(x->pt), 4, RW), 0);
	cr_assert_eq(flush_create(&fc, x->mmu, x->pt, DOM, &x->f), 0);
	return x;
}

static void fx_free(struct fx *x)
{
	flush_destroy(x->f);
	iopt_destroy(x->pt);
	iommu_destroy(x->mmu);
	cr_assert_eq(iob_warn_count(), x->warn0);
	cr_assert_eq(iob_alloc_live(), x->live0, "leaked %lld",
		     (long long)(iob_alloc_live() - x->live0));
	free(x);
}

static struct flush_stats *fst(struct fx *x)
{
	flush_stats_get(x->f, &x->st);
	return &x->st;
}

static uint64_t waits(struct fx *x)
{
	struct iommu_stats st;

	iommu_stats_get(x->mmu, &st);
	return st.completion_waits;
}

static bool reaches(struct fx *x, iova_t iova)
{
	struct iommu_xlate xl;

	return iommu_translate(x->mmu, DEV, iova, R, &xl) == 0;
}

/* Release of the range @rel->iova, @rel->pages pages. */
static void on_release(void *ctx, unsigned cpu, const struct flush_release *rel)
{
	struct fx *x = ctx;
	void (*during)(struct fx *) = x->during;

	(void)cpu;
	cr_assert_null(rel->obj);
	for (uint64_t p = 0; p < rel->pages; p++)
		x->stale_at_release += reaches(x, rel->iova + p * PG);
	cr_assert_lt(x->released, 1024);
	x->order[x->released++] = rel->iova;
	if (during) {
		x->during = NULL;
		during(x);
	}
}

/* Map @pages at @iova and let the device use each page, so the IOTLB holds them. */
static void map_warm(struct fx *x, iova_t iova, uint64_t pages)
{
	cr_assert_eq(iopt_map(x->pt, iova, 0x40000000ULL + iova % 0x10000000ULL, pages * PG, RW,
			      NULL), 0);
	for (uint64_t p = 0; p < pages; p++)
		cr_assert(reaches(x, iova + p * PG), "0x%llx", (unsigned long long)(iova + p * PG));
}

static void unmap(struct fx *x, unsigned cpu, iova_t iova, uint64_t pages)
{
	struct iopt_gather g;
	struct flush_release rel = { .fn = on_release, .ctx = x, .iova = iova, .pages = pages };

	flush_gather_init(x->f, &g);
	cr_assert_eq(iopt_unmap(x->pt, iova, pages * PG, &g, NULL), 0);
	flush_unmapped(x->f, cpu, &g, &rel);
	cr_assert_null(g.freelist.head, "the gather is consumed");
}

/* ---- configuration -------------------------------------------------------------------- */

Test(flush, create_rejects_bad_configurations)
{
	struct fx *x = fx_new(FLUSH_STRICT, 1, 0, 0);
	struct flush_cfg ok = { .mode = FLUSH_LAZY, .ncpus = 2 }, c;
	struct flush *f = NULL;

	c = ok, c.mode = FLUSH_MODE_NR;
	cr_assert_eq(flush_create(&c, x->mmu, x->pt, DOM, &f), -EINVAL);
	c = ok, c.policy = INVAL_POLICY_NR;
	cr_assert_eq(flush_create(&c, x->mmu, x->pt, DOM, &f), -EINVAL);
	c = ok, c.ncpus = 0;
	cr_assert_eq(flush_create(&c, x->mmu, x->pt, DOM, &f), -EINVAL);
	c = ok, c.ncpus = 1025;
	cr_assert_eq(flush_create(&c, x->mmu, x->pt, DOM, &f), -EINVAL);
	c = ok, c.fq_entries = (1U << 20) + 1;
	cr_assert_eq(flush_create(&c, x->mmu, x->pt, DOM, &f), -EINVAL);
	cr_assert_eq(flush_create(&ok, NULL, x->pt, DOM, &f), -EINVAL);
	cr_assert_eq(flush_create(NULL, x->mmu, x->pt, DOM, &f), -EINVAL);
	cr_assert_null(f);
	cr_assert_eq(flush_mode_parse("lazy"), FLUSH_LAZY);
	cr_assert_eq(flush_mode_parse("batched"), FLUSH_BATCHED);
	cr_assert_eq(flush_mode_parse("eager"), -EINVAL);
	cr_assert_str_eq(flush_mode_name(FLUSH_STRICT), "strict");
	fx_free(x);
}

Test(flush, create_fails_cleanly_at_every_allocation)
{
	struct fx *x = fx_new(FLUSH_STRICT, 1, 0, 0);
	struct flush_cfg c = { .mode = FLUSH_LAZY, .ncpus = 3, .fq_entries = 16 };
	int64_t live = iob_alloc_live();
	struct flush *f = NULL;
	long n;

	for (n = 0;; n++) {
		int ret;

		iob_fail_after(n);
		ret = flush_create(&c, x->mmu, x->pt, DOM, &f);
		iob_fail_after(-1);
		if (!ret)
			break;
		cr_assert_eq(ret, -ENOMEM);
		cr_assert_eq(iob_alloc_live(), live, "allocation %ld failing leaked", n);
	}
	cr_assert_eq(n, 1 + 1 + 1 + 3, "the policy, its stats shards, its queues, a ring per CPU");
	cr_assert_eq(flush_mode_of(f), FLUSH_LAZY);
	flush_destroy(f);
	fx_free(x);
}

/* ---- strict, and tables in every mode ------------------------------------------------------ */

Test(flush, strict_releases_before_flush_unmapped_returns)
{
	struct fx *x = fx_new(FLUSH_STRICT, 1, 0, 0);
	uint64_t w0;

	for (unsigned i = 0; i < 16; i++)
		map_warm(x, (1 + i) * 0x200000ULL, 1 + i % 3);
	w0 = waits(x);
	for (unsigned i = 0; i < 16; i++) {
		unmap(x, 0, (1 + i) * 0x200000ULL, 1 + i % 3);
		cr_assert_eq(x->released, i + 1, "released inside the call");
		cr_assert_eq(x->order[i], (1 + i) * 0x200000ULL);
		cr_assert_eq(waits(x), w0 + i + 1, "one wait per unmap");
	}
	cr_assert_eq(x->stale_at_release, 0);
	cr_assert_eq(fst(x)->pending, 0);
	cr_assert_eq(fst(x)->released, 16);
	cr_assert_eq(x->st.exposure_ops.max, 0, "nothing ever waited for a later unmap");
	cr_assert_eq(hist_percentile(&x->st.exposure_ops, 0.99), 0);
	fx_free(x);
}

Test(flush, freed_tables_are_given_back_only_after_the_wait)
{
	for (int m = 0; m < FLUSH_MODE_NR; m++) {
		struct fx *x = fx_new(m, 1, 16, 1ULL << 60);
		struct iopt_stats before, after;

		/* A whole 2 MiB of 4 KiB pages: unmapping it takes its level-1 table away. */
		map_warm(x, 0x40000000ULL, 512);
		iopt_stats_get(x->pt, &before);
		unmap(x, 0, 0x40000000ULL, 512);
		iopt_stats_get(x->pt, &after);
		cr_assert_lt(iopt_count_tables(x->pt), before.tables_live, "%s: unlinked",
			     flush_mode_name(m));
		if (m == FLUSH_STRICT) {
			cr_assert_lt(after.tables_live, before.tables_live);
		} else {
			cr_assert_eq(after.tables_live, before.tables_live,
				     "%s: the walker may still be in it", flush_mode_name(m));
			flush_sync(x->f);
			iopt_stats_get(x->pt, &after);
			cr_assert_lt(after.tables_live, before.tables_live);
		}
		cr_assert_eq(fst(x)->pages_released, before.tables_live - after.tables_live);
		cr_assert_eq(x->stale_at_release, 0);
		fx_free(x);
	}
}

/* ---- batched --------------------------------------------------------------------------- */

Test(flush, batched_releases_only_at_batch_end_after_one_wait)
{
	struct fx *x = fx_new(FLUSH_BATCHED, 1, 0, 0);
	uint64_t w0;

	for (unsigned i = 0; i < 40; i++)
		map_warm(x, 0x100000000ULL + i * PG, 1);
	map_warm(x, 0x7000000ULL, 4);
	w0 = waits(x);
	for (unsigned i = 0; i < 40; i++)
		unmap(x, 0, 0x100000000ULL + i * PG, 1);
	unmap(x, 0, 0x7000000ULL, 4);
	cr_assert_eq(x->released, 0, "nothing before the batch ends");
	cr_assert_eq(waits(x), w0, "no wait inside the batch");
	cr_assert_eq(fst(x)->pending, 41);
	cr_assert_eq(x->st.inv_ranges, 1, "the 40 adjacent pages went out as one range");
	flush_batch_end(x->f);
	cr_assert_eq(x->released, 41);
	cr_assert_eq(waits(x), w0 + 1, "one completion wait for the whole batch");
	cr_assert_eq(x->stale_at_release, 0);
	cr_assert_eq(fst(x)->pending, 0);
	cr_assert_eq(x->st.inv_ranges, 2);
	cr_assert_eq(x->st.exposure_ops.max, 40, "the first waited for 40 more unmaps");
	/* An empty batch sends nothing. */
	flush_batch_end(x->f);
	cr_assert_eq(waits(x), w0 + 1);
	fx_free(x);
}

Test(flush, batched_with_no_memory_to_remember_an_unmap_settles_it_at_once)
{
	struct fx *x = fx_new(FLUSH_BATCHED, 1, 0, 0);
	uint64_t w0;

	for (unsigned i = 0; i < 65; i++)
		map_warm(x, (1 + i) * 0x100000ULL, 1);
	/* 64 remembered: the batch's first array is full. */
	for (unsigned i = 0; i < 64; i++)
		unmap(x, 0, (1 + i) * 0x100000ULL, 1);
	w0 = waits(x);
	iob_fail_after(0);
	unmap(x, 0, 65 * 0x100000ULL, 1);
	iob_fail_after(-1);
	cr_assert_eq(x->released, 1, "released inside the call");
	cr_assert_eq(x->order[0], 65 * 0x100000ULL);
	cr_assert_eq(waits(x), w0 + 1);
	cr_assert_eq(x->stale_at_release, 0);
	cr_assert_eq(fst(x)->pending, 64);
	flush_batch_end(x->f);
	cr_assert_eq(x->released, 65);
	cr_assert_eq(x->stale_at_release, 0);
	fx_free(x);
}

Test(flush, batched_batch_end_of_one_cpu_settles_that_cpus_unmaps_only)
{
	struct fx *x = fx_new(FLUSH_BATCHED, 2, 0, 0);
	uint64_t w0;

	for (unsigned i = 0; i < 6; i++)
		map_warm(x, 0x100000000ULL + i * 0x100000ULL, 1);
	w0 = waits(x);
	for (unsigned i = 0; i < 6; i++)
		unmap(x, i % 2, 0x100000000ULL + i * 0x100000ULL, 1);
	cr_assert_eq(fst(x)->pending, 6);
	flush_batch_end_cpu(x->f, 1);
	cr_assert_eq(x->released, 3, "CPU 1's three, not CPU 0's");
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(x->order[i] % 0x200000ULL, 0x100000ULL, "released 0x%llx of CPU 0",
			     (unsigned long long)x->order[i]);
	cr_assert_eq(waits(x), w0 + 1);
	cr_assert_eq(x->stale_at_release, 0);
	cr_assert_eq(fst(x)->pending, 3);
	flush_batch_end_cpu(x->f, 1);
	cr_assert_eq(waits(x), w0 + 1, "an empty batch sends nothing");
	flush_batch_end(x->f);
	cr_assert_eq(x->released, 6);
	cr_assert_eq(waits(x), w0 + 2);
	cr_assert_eq(x->stale_at_release, 0);
	cr_assert_eq(fst(x)->pending, 0);
	cr_assert_eq(x->st.unmaps, 6, "the CPUs' shards add up");
	cr_assert_eq(x->st.released, 6);
	fx_free(x);
}

Test(flush, batched_batch_end_of_every_cpu_takes_one_wait)
{
	struct fx *x = fx_new(FLUSH_BATCHED, 3, 0, 0);
	uint64_t w0;

	for (unsigned i = 0; i < 9; i++)
		map_warm(x, 0x100000000ULL + i * 0x100000ULL, 1);
	w0 = waits(x);
	for (unsigned i = 0; i < 9; i++)
		unmap(x, i % 3, 0x100000000ULL + i * 0x100000ULL, 1);
	flush_batch_end(x->f);
	cr_assert_eq(x->released, 9);
	cr_assert_eq(waits(x), w0 + 1, "one wait covers every CPU's batch");
	cr_assert_eq(x->stale_at_release, 0);
	/* Each CPU's first unmap waited for that CPU's two later ones. */
	cr_assert_eq(fst(x)->exposure_ops.max, 2);
	cr_assert_eq(x->st.exposure_ops.count, 9);
	fx_free(x);
}

/* ---- lazy --------------------------------------------------------------------------------- */

Test(flush, lazy_keeps_everything_until_a_flush_and_the_window_is_real)
{
	struct fx *x = fx_new(FLUSH_LAZY, 1, 64, 1ULL << 60);
	uint64_t w0;

	for (unsigned i = 0; i < 10; i++)
		map_warm(x, (1 + i) * 0x10000ULL, 2);
	w0 = waits(x);
	for (unsigned i = 0; i < 10; i++)
		unmap(x, 0, (1 + i) * 0x10000ULL, 2);
	cr_assert_eq(x->released, 0);
	cr_assert_eq(waits(x), w0, "lazy unmaps send nothing");
	/* The accepted risk: the device still reaches what was unmapped. */
	cr_assert(reaches(x, 0x10000ULL));
	flush_poll(x->f, 0);
	cr_assert_eq(x->released, 0, "the timeout is far away");
	flush_sync(x->f);
	cr_assert_eq(x->released, 10);
	cr_assert_eq(x->stale_at_release, 0);
	cr_assert_eq(waits(x), w0 + 1);
	cr_assert_eq(fst(x)->flush_alls, 1);
	cr_assert_eq(x->st.exposure_ops.max, 9);
	cr_assert_eq(x->st.exposure_ops.min, 0);
	cr_assert_eq(x->st.pending, 0);
	fx_free(x);
}

Test(flush, lazy_full_queue_flushes_and_releases_it)
{
	const unsigned n = 8;
	struct fx *x = fx_new(FLUSH_LAZY, 2, n, 1ULL << 60);

	for (unsigned i = 0; i < 2 * n + 1; i++)
		map_warm(x, (1 + i) * PG, 1);
	for (unsigned i = 0; i < n; i++)
		unmap(x, 0, (1 + i) * PG, 1);
	cr_assert_eq(x->released, 0, "%u entries fit", n);
	cr_assert_eq(fst(x)->fq_full_flushes, 0);
	unmap(x, 1, (1 + n) * PG, 1);
	cr_assert_eq(x->released, 0, "the other CPU's queue is its own");
	unmap(x, 0, (2 + n) * PG, 1);
	cr_assert_eq(fst(x)->fq_full_flushes, 1);
	cr_assert_eq(x->released, n, "the full queue went, the new entry waits");
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(x->order[i], (1 + i) * PG, "in queue order");
	cr_assert_eq(x->stale_at_release, 0);
	cr_assert_eq(fst(x)->pending, 2, "CPU 1's entry and the new one");
	/* CPU 1's entry was covered by that flush; its next queueing releases it. */
	unmap(x, 1, (3 + n) * PG, 1);
	cr_assert_eq(x->released, n + 1);
	cr_assert_eq(x->order[n], (1 + n) * PG);
	flush_sync(x->f);
	cr_assert_eq(x->released, n + 3);
	cr_assert_eq(x->stale_at_release, 0);
	fx_free(x);
}

/*
 * Called from inside a release, after the flush: the device reaches the
 * page again (filling the IOTLB anew), then CPU 1 unmaps it while CPU 0's
 * entries are being released.
 */
static void queue_during_release(struct fx *x)
{
	cr_assert(reaches(x, 0x7770000ULL));
	unmap(x, 1, 0x7770000ULL, 1);
}

Test(flush, lazy_entry_queued_after_a_flush_started_waits_for_the_next_one)
{
	struct fx *x = fx_new(FLUSH_LAZY, 2, 16, 1ULL << 60);

	map_warm(x, 0x10000ULL, 1);
	map_warm(x, 0x20000ULL, 1);
	map_warm(x, 0x7770000ULL, 1);
	unmap(x, 0, 0x10000ULL, 1);
	unmap(x, 0, 0x20000ULL, 1);
	x->during = queue_during_release;
	flush_sync(x->f);
	/* The flush started before the CPU 1 entry was queued: it does not cover it. */
	cr_assert_eq(x->released, 2);
	cr_assert(reaches(x, 0x7770000ULL), "its translation is still cached: not invalidated yet");
	cr_assert_eq(fst(x)->pending, 1);
	cr_assert_eq(x->stale_at_release, 0);
	flush_sync(x->f);
	cr_assert_eq(x->released, 3);
	cr_assert_eq(x->order[2], 0x7770000ULL);
	cr_assert_eq(x->stale_at_release, 0);
	cr_assert_eq(fst(x)->flush_alls, 2);
	fx_free(x);
}

Test(flush, lazy_timeout_flushes_on_poll_and_on_the_next_unmap)
{
	struct fx *x = fx_new(FLUSH_LAZY, 1, 256, 1);	/* 1 ns: past at once */
	volatile unsigned spin = 0;

	for (unsigned i = 0; i < 4; i++)
		map_warm(x, (1 + i) * PG, 1);
	unmap(x, 0, PG, 1);
	for (unsigned i = 0; i < 1000000 && !x->released; i++)
		flush_poll(x->f, 0);
	cr_assert_eq(x->released, 1);
	cr_assert_geq(fst(x)->fq_timeout_flushes, 1);
	unmap(x, 0, 2 * PG, 1);
	while (spin < 100000)
		spin++;
	unmap(x, 0, 3 * PG, 1);
	cr_assert_eq(x->released, 3, "the next unmap found the queue timed out");
	cr_assert_eq(x->stale_at_release, 0);
	cr_assert_eq(fst(x)->pending, 0);
	fx_free(x);
}

Test(flush, lazy_timeout_of_hours_does_not_wrap_to_nothing)
{
	struct fx *x;
	uint64_t ns;
	volatile unsigned spin = 0;

	if (!cycles_info()->tsc_khz)
		cycles_init(NULL);
	/* ns * kHz just past 2^64: computed in 64 bits it is a timeout of a cycle or two. */
	ns = UINT64_MAX / cycles_info()->tsc_khz + 1;
	x = fx_new(FLUSH_LAZY, 1, 64, ns);
	for (unsigned i = 0; i < 3; i++)
		map_warm(x, (1 + i) * PG, 1);
	for (unsigned i = 0; i < 3; i++) {
		unmap(x, 0, (1 + i) * PG, 1);
		while (spin < 10000 * (i + 1))
			spin++;
	}
	flush_poll(x->f, 0);
	cr_assert_eq(x->released, 0, "a timeout of %llu ns fired", (unsigned long long)ns);
	cr_assert_eq(fst(x)->fq_timeout_flushes, 0);
	fx_free(x);
}

Test(flush, destroy_releases_what_is_pending_in_every_mode)
{
	for (int m = 0; m < FLUSH_MODE_NR; m++) {
		struct fx *x = fx_new(m, 2, 32, 1ULL << 60);
		unsigned rel;

		for (unsigned i = 0; i < 6; i++)
			map_warm(x, (1 + i) * 0x3000ULL, 3);
		for (unsigned i = 0; i < 6; i++)
			unmap(x, i % 2, (1 + i) * 0x3000ULL, 3);
		rel = x->released;
		cr_assert_eq(rel, m == FLUSH_STRICT ? 6 : 0);
		flush_destroy(x->f);
		x->f = NULL;
		cr_assert_eq(x->released, 6, "%s", flush_mode_name(m));
		cr_assert_eq(x->stale_at_release, 0);
		iopt_destroy(x->pt);
		iommu_destroy(x->mmu);
		cr_assert_eq(iob_alloc_live(), x->live0);
		free(x);
	}
}

Test(flush, np_cache_map_flush_makes_a_new_mapping_visible)
{
	struct iommu_cfg mc = {
		.tlb = { .entries = 64, .ways = 4, .pde_entries = 16, .pde_ways = 4 },
		.cpu = -1, .np_cache = true,
	};
	struct fx *x = fx_new(FLUSH_STRICT, 1, 0, 0);
	struct flush_cfg fc = { .mode = FLUSH_STRICT, .ncpus = 1 };

	flush_destroy(x->f);
	iommu_destroy(x->mmu);
	cr_assert_eq(iommu_create(&mc, &x->mmu), 0);
	cr_assert_eq(iommu_dte_set(x->mmu, DEV, DOM, iopt_root(x->pt), 4, RW), 0);
	cr_assert_eq(flush_create(&fc, x->mmu, x->pt, DOM, &x->f), 0);
	cr_assert_not(reaches(x, 0x5000ULL), "not mapped: and the miss is cached");
	cr_assert_eq(iopt_map(x->pt, 0x5000ULL, 0x9000ULL, PG, RW, NULL), 0);
	cr_assert_not(reaches(x, 0x5000ULL), "the cached not-present entry still answers");
	flush_mapped(x->f, 0x5000ULL, PG);
	cr_assert(reaches(x, 0x5000ULL));
	cr_assert_eq(fst(x)->map_flushes, 1);
	fx_free(x);
}
