// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iova: the IOVA allocator against a reference interval set (aligned to
 * the rounded power of two, inside [start, limit), never overlapping,
 * -ENOSPC exactly when no aligned gap is left), the per-CPU magazines and
 * their depot step by step, allocation failure, and two threads sharing
 * it. Seeded tests replay with IOB_TEST_SEED.
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
#include <iob/iova.h>

#include "prng.h"

#define PG	4096ULL

#define PCHECK(seed, cond, fmt, ...)					\
	cr_assert((cond), "IOB_TEST_SEED=0x%016llx: " fmt,		\
		  (unsigned long long)(seed), ##__VA_ARGS__)

static struct iova *mk(iova_t start, iova_t limit, bool rcache, unsigned ncpus, unsigned mag,
		       unsigned depot)
{
	struct iova_cfg cfg = {
		.granule_lg2 = 12, .start = start, .limit = limit, .rcache = rcache,
		.ncpus = ncpus, .mag_size = mag, .depot_max = depot,
	};
	struct iova *iv = NULL;

	cr_assert_eq(iova_create(&cfg, &iv), 0);
	return iv;
}

static struct iova_stats stats(struct iova *iv)
{
	struct iova_stats st;

	iova_stats_get(iv, &st);
	return st;
}

static iova_t alloc_ok(struct iova *iv, unsigned cpu, uint64_t pages)
{
	iova_t a = 0;

	cr_assert_eq(iova_alloc(iv, cpu, pages, &a), 0, "%llu pages", (unsigned long long)pages);
	return a;
}

/* ---- configuration -------------------------------------------------------------------- */

Test(iova, create_rejects_bad_granules_ranges_and_cpu_counts)
{
	struct iova_cfg ok = { .granule_lg2 = 12, .start = PG, .limit = 1ULL << 32, .ncpus = 1 };
	struct iova_cfg c;
	struct iova *iv = NULL;

	c = ok, c.granule_lg2 = 11;
	cr_assert_eq(iova_create(&c, &iv), -EINVAL);
	c = ok, c.granule_lg2 = 31;
	cr_assert_eq(iova_create(&c, &iv), -EINVAL);
	c = ok, c.start = 0;
	cr_assert_eq(iova_create(&c, &iv), -EINVAL, "address 0 is never handed out");
	c = ok, c.start = PG + 8;
	cr_assert_eq(iova_create(&c, &iv), -EINVAL);
	c = ok, c.limit = PG;
	cr_assert_eq(iova_create(&c, &iv), -EINVAL);
	c = ok, c.limit = (1ULL << 32) + 1;
	cr_assert_eq(iova_create(&c, &iv), -EINVAL);
	c = ok, c.ncpus = 0;
	cr_assert_eq(iova_create(&c, &iv), -EINVAL);
	c = ok, c.ncpus = IOVA_CPUS_MAX + 1;
	cr_assert_eq(iova_create(&c, &iv), -EINVAL);
	c = ok, c.rcache = true, c.classes = 17;
	cr_assert_eq(iova_create(&c, &iv), -EINVAL);
	cr_assert_eq(iova_create(NULL, &iv), -EINVAL);
	cr_assert_null(iv);
	c = ok, c.granule_lg2 = 21, c.start = 1ULL << 21;
	cr_assert_eq(iova_create(&c, &iv), 0, "2 MiB granules");
	iova_destroy(iv);
}

Test(iova, create_fails_cleanly_at_every_allocation)
{
	struct iova_cfg c = { .granule_lg2 = 12, .start = PG, .limit = 1ULL << 32, .ncpus = 3,
			      .rcache = true };
	int64_t live = iob_alloc_live();
	struct iova *iv = NULL;
	long n;

	for (n = 0;; n++) {
		int ret;

		iob_fail_after(n);
		ret = iova_create(&c, &iv);
		iob_fail_after(-1);
		if (!ret)
			break;
		cr_assert_eq(ret, -ENOMEM);
		cr_assert_eq(iob_alloc_live(), live, "allocation %ld failing leaked", n);
	}
	/* the allocator, its classes, per class a depot, CPUs and two magazines each */
	cr_assert_eq(n, 1 + 1 + IOVA_CLASSES_LINUX * (2 + 3 * 2));
	iova_destroy(iv);
	cr_assert_eq(iob_alloc_live(), live);
}

Test(iova, rounds_below_the_largest_class_only)
{
	struct iova *iv = mk(PG, 1ULL << 40, true, 1, 0, 0);

	cr_assert_eq(iova_round(iv, 1), 1);
	cr_assert_eq(iova_round(iv, 3), 4);
	cr_assert_eq(iova_round(iv, 17), 32);
	cr_assert_eq(iova_round(iv, 31), 32);
	cr_assert_eq(iova_round(iv, 32), 32);
	cr_assert_eq(iova_round(iv, 33), 33, "2^(classes-1) and up: as asked");
	cr_assert_eq(iova_round(iv, 1000), 1000);
	iova_destroy(iv);
}

/* ---- allocation ------------------------------------------------------------------------ */

Test(iova, allocates_top_down_from_the_limit_aligned_to_the_rounded_size)
{
	struct iova *iv = mk(PG, 1ULL << 32, false, 1, 0, 0);
	iova_t a, b, c, d;

	a = alloc_ok(iv, 0, 1);
	cr_assert_eq(a, (1ULL << 32) - PG);
	b = alloc_ok(iv, 0, 3);		/* 4 pages, 4-page aligned, just below a */
	cr_assert_eq(b, (1ULL << 32) - 8 * PG);
	c = alloc_ok(iv, 0, 1);
	cr_assert_eq(c, b - PG, "below the last allocation, as Linux's cached node");
	d = alloc_ok(iv, 0, 40);	/* not rounded, but aligned to 64 */
	cr_assert_eq(d % (64 * PG), 0);
	cr_assert_lt(d + 40 * PG, c + 1);
	cr_assert_eq(iova_alloc(iv, 0, 0, &a), -EINVAL);
	cr_assert_eq(iova_alloc(iv, 1, 1, &a), -EINVAL, "cpu past ncpus");
	iova_destroy(iv);
}

Test(iova, freed_space_is_found_again_above_the_cached_node)
{
	struct iova *iv = mk(PG, 65 * PG, false, 1, 0, 0);
	iova_t a[64];

	for (int i = 0; i < 64; i++)
		a[i] = alloc_ok(iv, 0, 1);
	cr_assert_eq(iova_alloc(iv, 0, 1, &a[0]) , -ENOSPC);
	iova_free(iv, 0, a[3], 1);	/* near the top, above where the search starts */
	cr_assert_eq(alloc_ok(iv, 0, 1), a[3]);
	iova_destroy(iv);
}

Test(iova, enospc_when_no_aligned_gap_is_left)
{
	struct iova *iv = mk(PG, 17 * PG, false, 1, 0, 0);	/* pages 1..16 */
	struct iova_stats st;
	iova_t a, b, x;

	a = alloc_ok(iv, 0, 8);		/* [8, 16) */
	b = alloc_ok(iv, 0, 4);		/* [4, 8) */
	cr_assert_eq(a, 8 * PG);
	cr_assert_eq(b, 4 * PG);
	cr_assert_eq(iova_alloc(iv, 0, 4, &x), -ENOSPC, "pages 1..3: no aligned 4");
	cr_assert_eq(alloc_ok(iv, 0, 2), 2 * PG);
	cr_assert_eq(alloc_ok(iv, 0, 1), 1 * PG);
	cr_assert_eq(alloc_ok(iv, 0, 1), 16 * PG, "the last page, above the cached node");
	cr_assert_eq(iova_alloc(iv, 0, 1, &x), -ENOSPC);
	st = stats(iv);
	cr_assert_eq(st.failures, 2);
	cr_assert_eq(st.tree_nodes, 5);
	iova_free(iv, 0, b, 4);
	cr_assert_eq(alloc_ok(iv, 0, 3), b, "the gap is back");
	iova_destroy(iv);
}

Test(iova, is_allocated_answers_for_whole_ranges_inside_one_allocation)
{
	struct iova *iv = mk(PG, 1ULL << 30, false, 1, 0, 0);
	iova_t a = alloc_ok(iv, 0, 5);	/* 8 pages taken */

	cr_assert(iova_is_allocated(iv, a, 8));
	cr_assert(iova_is_allocated(iv, a + 3 * PG, 5));
	cr_assert_not(iova_is_allocated(iv, a + 3 * PG, 6), "runs past the end");
	cr_assert_not(iova_is_allocated(iv, a - PG, 1));
	cr_assert_not(iova_is_allocated(iv, a + 8, 1), "unaligned");
	cr_assert_not(iova_is_allocated(iv, a, 0));
	iova_free(iv, 0, a, 5);
	cr_assert_not(iova_is_allocated(iv, a, 1));
	cr_assert_eq(stats(iv).tree_nodes, 0);
	iova_destroy(iv);
}

Test(iova, tree_allocation_failure_changes_nothing)
{
	struct iova *iv = mk(PG, 1ULL << 30, true, 1, 0, 0);
	struct iova_stats st;
	int64_t live;
	iova_t a = 0, b;

	alloc_ok(iv, 0, 2);
	live = iob_alloc_live();
	iob_fail_after(0);
	cr_assert_eq(iova_alloc(iv, 0, 2, &a), -ENOMEM);
	iob_fail_after(-1);
	cr_assert_eq(a, 0);
	cr_assert_eq(iob_alloc_live(), live);
	st = stats(iv);
	cr_assert_eq(st.tree_nodes, 1);
	cr_assert_eq(st.failures, 1);
	b = alloc_ok(iv, 0, 2);
	cr_assert(iova_is_allocated(iv, b, 2));
	iova_destroy(iv);
}

/* ---- the magazines ---------------------------------------------------------------------- */

Test(iova, a_freed_range_comes_back_from_the_cpu_cache)
{
	struct iova *iv = mk(PG, 1ULL << 36, true, 2, 0, 0);
	struct iova_stats st;
	iova_t a = alloc_ok(iv, 0, 3), b;

	iova_free(iv, 0, a, 3);
	st = stats(iv);
	cr_assert_eq(st.cached, 1);
	cr_assert_eq(st.tree_nodes, 1, "a cached range stays allocated in the tree");
	cr_assert(iova_is_allocated(iv, a, 4));
	b = alloc_ok(iv, 0, 4);		/* same class: 3 and 4 both round to 4 */
	cr_assert_eq(b, a);
	st = stats(iv);
	cr_assert_eq(st.rcache_hits, 1);
	cr_assert_eq(st.tree_allocs, 1);
	cr_assert_eq(st.cached, 0);
	/* Another CPU's magazine does not hold it. */
	iova_free(iv, 1, b, 4);
	cr_assert_neq(alloc_ok(iv, 0, 4), b);
	cr_assert_eq(alloc_ok(iv, 1, 4), b);
	/* Sizes from 2^(classes-1) up are never cached. */
	a = alloc_ok(iv, 0, 33);
	iova_free(iv, 0, a, 33);
	cr_assert_not(iova_is_allocated(iv, a, 1));
	iova_destroy(iv);
}

Test(iova, full_magazines_go_to_the_depot_and_a_full_depot_drains_to_the_tree)
{
	struct iova *iv = mk(PG, 1ULL << 36, true, 1, 2, 1);	/* 2 per magazine, 1 in the depot */
	struct iova_stats st;
	iova_t a[10];
	int64_t live;

	for (int i = 0; i < 10; i++)
		a[i] = alloc_ok(iv, 0, 1);
	live = iob_alloc_live();
	/* loaded fills (2), swaps with the empty prev (4), then the depot takes one (6) ... */
	for (int i = 0; i < 6; i++)
		iova_free(iv, 0, a[i], 1);
	st = stats(iv);
	cr_assert_eq(st.depot_puts, 1);
	cr_assert_eq(st.mag_flushes, 0);
	cr_assert_eq(st.cached, 6);
	cr_assert_eq(iob_alloc_live(), live + 1, "one fresh magazine");
	/* ... and with the depot full, the loaded magazine's ranges go back to the tree. */
	iova_free(iv, 0, a[6], 1);
	st = stats(iv);
	cr_assert_eq(st.mag_flushes, 1);
	cr_assert_eq(st.tree_frees, 2);
	cr_assert_eq(st.cached, 5);
	cr_assert_eq(st.tree_nodes, 3 + 5);
	cr_assert_not(iova_is_allocated(iv, a[4], 1));
	cr_assert_not(iova_is_allocated(iv, a[5], 1));
	cr_assert(iova_is_allocated(iv, a[0], 1));

	/* Allocations: loaded (1), prev (2), then the depot's magazine (2), then the tree. */
	for (int i = 0; i < 5; i++)
		alloc_ok(iv, 0, 1);
	st = stats(iv);
	cr_assert_eq(st.rcache_hits, 5);
	cr_assert_eq(st.depot_gets, 1);
	cr_assert_eq(st.cached, 0);
	cr_assert_eq(st.rcache_misses, 10, "only the first ten");
	alloc_ok(iv, 0, 1);
	st = stats(iv);
	cr_assert_eq(st.rcache_misses, 11);
	cr_assert_eq(st.tree_allocs, 11);
	iova_destroy(iv);
}

Test(iova, no_memory_for_a_fresh_magazine_drains_instead_of_leaking)
{
	struct iova *iv = mk(PG, 1ULL << 36, true, 1, 2, 4);
	int64_t live;
	iova_t a[5];

	for (int i = 0; i < 5; i++)
		a[i] = alloc_ok(iv, 0, 1);
	for (int i = 0; i < 4; i++)
		iova_free(iv, 0, a[i], 1);
	live = iob_alloc_live();
	iob_fail_after(0);
	iova_free(iv, 0, a[4], 1);
	iob_fail_after(-1);
	cr_assert_eq(iob_alloc_live(), live - 2, "two ranges back to the tree, no magazine");
	cr_assert_eq(stats(iv).mag_flushes, 1);
	cr_assert_eq(stats(iv).cached, 3);
	iova_destroy(iv);
}

Test(iova, destroy_frees_cached_and_allocated_ranges)
{
	int64_t live = iob_alloc_live();
	struct iova *iv = mk(PG, 1ULL << 36, true, 4, 3, 2);

	for (int i = 0; i < 200; i++) {
		iova_t a = alloc_ok(iv, (unsigned)i % 4, 1 + (uint64_t)i % 40);

		if (i % 3)
			iova_free(iv, (unsigned)i % 4, a, 1 + (uint64_t)i % 40);
	}
	cr_assert_gt(stats(iv).cached, 0);
	iova_destroy(iv);
	cr_assert_eq(iob_alloc_live(), live);
}

/* ---- property: against a reference interval set ------------------------------------------------ */

struct live_range {
	uint64_t pfn, pages, size;	/* asked, taken */
	unsigned cpu;
};

static bool overlaps(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
	return a < b + bn && b < a + an;
}

/* Is there an aligned free slot of @size granules in [lo, hi) avoiding @occ? */
static bool slot_exists(const struct live_range *occ, size_t n, uint64_t lo, uint64_t hi,
			uint64_t size, uint8_t *map)
{
	uint64_t align = 1;

	while (align < size)
		align <<= 1;
	memset(map, 0, hi);
	for (size_t i = 0; i < n; i++)
		memset(map + occ[i].pfn, 1, occ[i].size);
	for (uint64_t p = (lo + align - 1) & ~(align - 1); p + size <= hi; p += align) {
		bool free = true;

		for (uint64_t k = 0; k < size && free; k++)
			free = !map[p + k];
		if (free)
			return true;
	}
	return false;
}

static void property_run(uint64_t seed, bool rcache, unsigned ops)
{
	/* pages [16, 4096): small enough to run full */
	const uint64_t lo = 16, hi = 4096;
	struct iova *iv = mk(lo * PG, hi * PG, rcache, 2, 4, 2);
	struct live_range *live = calloc(hi, sizeof(*live)), *occ = calloc(2 * hi, sizeof(*occ));
	uint8_t *map = malloc(hi);
	size_t nlive = 0;
	uint64_t nospc = 0, taken = 0;
	struct prng rng;

	cr_assert(live && occ && map);
	prng_seed(&rng, seed);
	for (unsigned op = 0; op < ops; op++) {
		bool do_alloc = !nlive || prng_below(&rng, 100) < (taken < hi / 2 ? 60 : 45);
		unsigned cpu = (unsigned)prng_below(&rng, 2);
		struct iova_stats st;

		if (do_alloc) {
			uint64_t x = prng_below(&rng, 100);
			uint64_t pages = x < 60 ? 1 + prng_below(&rng, 4) : x < 95 ? 1 + prng_below(&rng, 31)
									 : 33 + prng_below(&rng, 100);
			uint64_t size = iova_round(iv, pages), align = 1;
			iova_t a = 0;
			int ret = iova_alloc(iv, cpu, pages, &a);
			uint64_t pfn = a / PG;

			while (align < size)
				align <<= 1;
			if (ret) {
				size_t nocc = nlive;

				PCHECK(seed, ret == -ENOSPC, "op %u: %d", op, ret);
				/* What the tree holds: live ranges plus cached ones (still allocated). */
				memcpy(occ, live, nlive * sizeof(*live));
				if (rcache)
					for (uint64_t p = lo; p < hi; p++)
						if (iova_is_allocated(iv, p * PG, 1)) {
							bool known = false;

							for (size_t i = 0; i < nlive && !known; i++)
								known = p >= live[i].pfn && p < live[i].pfn + live[i].size;
							if (!known)
								occ[nocc++] = (struct live_range){ p, 1, 1, 0 };
						}
				PCHECK(seed, !slot_exists(occ, nocc, lo, hi, size, map),
				       "op %u: -ENOSPC for %llu pages but an aligned gap is free", op,
				       (unsigned long long)pages);
				nospc++;
				continue;
			}
			PCHECK(seed, !(a % PG) && pfn % align == 0, "op %u: 0x%llx for %llu pages", op,
			       (unsigned long long)a, (unsigned long long)pages);
			PCHECK(seed, pfn >= lo && pfn + size <= hi, "op %u: [%llu, +%llu) outside", op,
			       (unsigned long long)pfn, (unsigned long long)size);
			for (size_t i = 0; i < nlive; i++)
				PCHECK(seed, !overlaps(pfn, size, live[i].pfn, live[i].size),
				       "op %u: [%llu, +%llu) overlaps [%llu, +%llu)", op,
				       (unsigned long long)pfn, (unsigned long long)size,
				       (unsigned long long)live[i].pfn, (unsigned long long)live[i].size);
			live[nlive++] = (struct live_range){ pfn, pages, size, cpu };
			taken += size;
		} else {
			size_t i = (size_t)prng_below(&rng, nlive);

			iova_free(iv, cpu, live[i].pfn * PG, live[i].pages);
			taken -= live[i].size;
			live[i] = live[--nlive];
		}
		iova_stats_get(iv, &st);
		PCHECK(seed, st.tree_nodes == nlive + st.cached,
		       "op %u: %llu nodes in the tree, %zu live + %llu cached", op,
		       (unsigned long long)st.tree_nodes, nlive, (unsigned long long)st.cached);
		if (op % 64 == 0)
			for (size_t k = 0; k < nlive; k++)
				PCHECK(seed, iova_is_allocated(iv, live[k].pfn * PG, live[k].size),
				       "op %u: live range %llu not allocated", op,
				       (unsigned long long)live[k].pfn);
	}
	PCHECK(seed, nospc > ops / 400, "only %llu allocations ran out of space",
	       (unsigned long long)nospc);
	if (rcache) {
		struct iova_stats st;

		iova_stats_get(iv, &st);
		PCHECK(seed, st.rcache_hits > ops / 10 && st.depot_puts && st.depot_gets &&
			     st.mag_flushes, "magazines barely used: %llu hits",
		       (unsigned long long)st.rcache_hits);
	}
	iova_destroy(iv);
	free(live);
	free(occ);
	free(map);
}

Test(iova_property, random_allocs_and_frees_match_a_reference_interval_set, .timeout = 120)
{
	uint64_t seed = test_seed(0x10a);
	int64_t live = iob_alloc_live();

	property_run(seed, false, 40000);
	property_run(seed ^ 0x77, true, 40000);
	cr_assert_eq(iob_alloc_live(), live, "IOB_TEST_SEED=0x%016llx: leaked",
		     (unsigned long long)seed);
}

/* ---- two threads ------------------------------------------------------------------------------ */

struct thr {
	struct iova *iv;
	unsigned cpu;
	atomic_uchar *owner;	/* per page: 0 free, else thread + 1 */
	uint64_t seed;
	int bad;
};

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	iova_t mine[64];
	uint64_t pages[64];
	unsigned n = 0;
	struct prng rng;

	prng_seed(&rng, t->seed);
	for (int i = 0; i < 40000 && !t->bad; i++) {
		if (n < 64 && (n == 0 || prng_below(&rng, 2))) {
			uint64_t p = 1 + prng_below(&rng, 8), size;
			iova_t a;

			if (iova_alloc(t->iv, t->cpu, p, &a))
				continue;
			size = iova_round(t->iv, p);
			for (uint64_t k = 0; k < size; k++) {
				unsigned char z = 0;

				if (!atomic_compare_exchange_strong(&t->owner[a / PG + k], &z,
								    (unsigned char)(t->cpu + 1)))
					t->bad = 1;
			}
			mine[n] = a;
			pages[n++] = p;
		} else {
			unsigned j = (unsigned)prng_below(&rng, n);
			uint64_t size = iova_round(t->iv, pages[j]);

			for (uint64_t k = 0; k < size; k++)
				atomic_store(&t->owner[mine[j] / PG + k], 0);
			iova_free(t->iv, t->cpu, mine[j], pages[j]);
			mine[j] = mine[--n];
			pages[j] = pages[n];
		}
	}
	return NULL;
}

Test(iova, two_cpus_on_two_threads_never_get_the_same_range, .timeout = 60)
{
	const uint64_t hi = 1 << 14;
	struct iova *iv = mk(PG, hi * PG, true, 2, 2, 4);
	atomic_uchar *owner = calloc(hi, sizeof(*owner));
	struct thr t[2];
	pthread_t th[2];
	uint64_t seed = test_seed(0x2ad);

	cr_assert_not_null(owner);
	for (unsigned i = 0; i < 2; i++) {
		t[i] = (struct thr){ iv, i, owner, seed + i, 0 };
		cr_assert_eq(pthread_create(&th[i], NULL, thr_main, &t[i]), 0);
	}
	for (unsigned i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	PCHECK(seed, !t[0].bad && !t[1].bad, "a range was handed to both threads");
	PCHECK(seed, stats(iv).depot_gets > 0, "the shared depot was never used");
	iova_destroy(iv);
	free(owner);
}

Test(iova, per_cpu_counts_summed_on_read_equal_the_single_threaded_count, .timeout = 60)
{
	const uint64_t hi = 1 << 14;
	struct iova *two = mk(PG, hi * PG, true, 2, 2, 4), *one = mk(PG, hi * PG, true, 2, 2, 4);
	atomic_uchar *owner = calloc(hi, sizeof(*owner)), *owner1 = calloc(hi, sizeof(*owner1));
	struct iova_stats s2, s1;
	struct thr t[2];
	pthread_t th[2];
	uint64_t seed = test_seed(0x5c7);

	cr_assert(owner && owner1);
	for (unsigned i = 0; i < 2; i++) {
		t[i] = (struct thr){ two, i, owner, seed + i, 0 };
		cr_assert_eq(pthread_create(&th[i], NULL, thr_main, &t[i]), 0);
	}
	for (unsigned i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	PCHECK(seed, !t[0].bad && !t[1].bad, "a range was handed to both threads");
	/* The same two streams, one after the other on this thread. */
	for (unsigned i = 0; i < 2; i++) {
		t[i] = (struct thr){ one, i, owner1, seed + i, 0 };
		thr_main(&t[i]);
		PCHECK(seed, !t[i].bad, "one thread: a range handed out twice");
	}
	s2 = stats(two);
	s1 = stats(one);
	PCHECK(seed, s2.rcache_hits > 0 && s2.tree_allocs > 0, "both paths taken");
	PCHECK(seed, s2.rcache_hits + s2.tree_allocs == s2.allocs,
	       "%llu from magazines + %llu from the tree != %llu allocs",
	       (unsigned long long)s2.rcache_hits, (unsigned long long)s2.tree_allocs,
	       (unsigned long long)s2.allocs);
	PCHECK(seed, s2.allocs == s1.allocs && s2.frees == s1.frees,
	       "two threads: %llu allocs, %llu frees; one thread: %llu, %llu",
	       (unsigned long long)s2.allocs, (unsigned long long)s2.frees,
	       (unsigned long long)s1.allocs, (unsigned long long)s1.frees);
	iova_stats_reset(two);
	s2 = stats(two);
	cr_assert_eq(s2.allocs + s2.frees + s2.rcache_hits, 0, "reset reaches the CPUs' counts");
	iova_destroy(two);
	iova_destroy(one);
	free(owner);
	free(owner1);
}
