// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * frames: the buddy allocator of machine frames against a reference model
 * (which frames are free; an allocation of order k succeeds exactly when an
 * aligned block of 2^k free frames exists, since free buddies always
 * merge), references and owners, and the pending-invalidation referee
 * (reuse_before_flush). Seeded tests replay with IOB_TEST_SEED.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <iob/alloc.h>
#include <iob/frames.h>
#include <iob/warn.h>

#include "prng.h"

#define PCHECK(seed, cond, fmt, ...)					\
	cr_assert((cond), "IOB_TEST_SEED=0x%016llx: " fmt,		\
		  (unsigned long long)(seed), ##__VA_ARGS__)

static struct frames *mk(uint64_t n)
{
	struct frames *fr = NULL;

	cr_assert_eq(frames_create(n, &fr), 0);
	cr_assert_eq(frames_count(fr), n);
	return fr;
}

static uint64_t free_frames(const struct frames *fr)
{
	struct frames_stats st;

	frames_stats_get(fr, &st);
	return st.free_frames;
}

static uint64_t reuses(const struct frames *fr)
{
	struct frames_stats st;

	frames_stats_get(fr, &st);
	return st.reuse_before_flush;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Allocate order 18, then 9, then 0 until each fails; the sorted first
 * frames of each order go to @out (room for frames_count() entries).
 * Returns how many. Frees nothing: the allocator ends up full.
 */
static size_t drain(struct frames *fr, uint64_t *out, size_t counts[3])
{
	static const unsigned orders[3] = { 18, 9, 0 };
	size_t k = 0;

	for (int i = 0; i < 3; i++) {
		size_t first = k;
		uint64_t mfn;

		while (frames_alloc(fr, orders[i], 1, &mfn) == 0)
			out[k++] = mfn;
		counts[i] = k - first;
		qsort(out + first, counts[i], sizeof(*out), cmp_u64);
	}
	return k;
}

/* ---- units ------------------------------------------------------------------------ */

Test(frames, create_rejects_zero_and_2_32_or_more_frames)
{
	struct frames *fr = NULL;

	cr_assert_eq(frames_create(0, &fr), -EINVAL);
	cr_assert_eq(frames_create(1ULL << 32, &fr), -EINVAL);
	cr_assert_null(fr);
	fr = mk(1);
	frames_destroy(fr);
}

Test(frames, create_fails_cleanly_when_memory_runs_out)
{
	int64_t live = iob_alloc_live();
	struct frames *fr = NULL;

	for (long n = 0; n < 2; n++) {
		iob_fail_after(n);
		cr_assert_eq(frames_create(1024, &fr), -ENOMEM, "allocation %ld", n);
		iob_fail_after(-1);
		cr_assert_eq(iob_alloc_live(), live, "allocation %ld failing leaked", n);
	}
	fr = mk(1024);
	frames_destroy(fr);
	cr_assert_eq(iob_alloc_live(), live);
}

Test(frames, every_frame_starts_free_unowned_and_unreferenced)
{
	struct frames *fr = mk(1000);

	cr_assert_eq(free_frames(fr), 1000);
	for (uint64_t m = 0; m < 1000; m++) {
		cr_assert_eq(frames_owner(fr, m), DOMID_INVALID);
		cr_assert_eq(frames_refs(fr, m), 0);
		cr_assert_eq(frames_pending(fr, m), 0);
		cr_assert(frames_valid(fr, m));
	}
	cr_assert_not(frames_valid(fr, 1000));
	cr_assert_eq(frames_owner(fr, 1000), DOMID_INVALID, "past the end: nobody");
	cr_assert_eq(frames_refs(fr, 5000), 0);
	frames_destroy(fr);
}

Test(frames, alloc_is_aligned_owned_and_referenced_once)
{
	struct frames *fr = mk(1ULL << 20);
	static const unsigned orders[] = { 0, 3, 9, 12, 18 };

	for (unsigned i = 0; i < 5; i++) {
		uint64_t mfn;
		unsigned o = orders[i];

		cr_assert_eq(frames_alloc(fr, o, (domid_t)(i + 1), &mfn), 0);
		cr_assert_eq(mfn & ((1ULL << o) - 1), 0, "order %u at %llu", o, (unsigned long long)mfn);
		cr_assert_leq(mfn + (1ULL << o), 1ULL << 20);
		for (uint64_t k = 0; k < (1ULL << o); k++) {
			cr_assert_eq(frames_owner(fr, mfn + k), i + 1);
			cr_assert_eq(frames_refs(fr, mfn + k), 1);
		}
	}
	cr_assert_eq(free_frames(fr), (1ULL << 20) - 1 - 8 - 512 - 4096 - (1ULL << 18));
	frames_destroy(fr);
}

Test(frames, alloc_rejects_orders_above_18_and_fails_when_no_block_is_left)
{
	struct frames *fr = mk(3 * 512 + 7);
	struct frames_stats st;
	uint64_t mfn;

	cr_assert_eq(frames_alloc(fr, 19, 1, &mfn), -EINVAL);
	cr_assert_eq(frames_alloc(fr, 11, 1, &mfn), -ENOMEM, "2048 frames in 1543");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(frames_alloc(fr, 9, 1, &mfn), 0);
	cr_assert_eq(frames_alloc(fr, 9, 1, &mfn), -ENOMEM);
	cr_assert_eq(frames_alloc(fr, 3, 1, &mfn), -ENOMEM, "7 frames, none 8-aligned");
	cr_assert_eq(frames_alloc(fr, 2, 1, &mfn), 0);
	frames_stats_get(fr, &st);
	cr_assert_eq(st.alloc_failures, 3);
	cr_assert_eq(st.free_frames, 3);
	frames_destroy(fr);
}

Test(frames, last_put_frees_and_a_freed_frame_has_no_owner)
{
	struct frames *fr = mk(64);
	uint64_t mfn;

	cr_assert_eq(frames_alloc(fr, 0, 7, &mfn), 0);
	frames_get(fr, mfn);
	frames_get(fr, mfn);
	cr_assert_eq(frames_refs(fr, mfn), 3);
	frames_put(fr, mfn);
	frames_put(fr, mfn);
	cr_assert_eq(frames_owner(fr, mfn), 7, "still referenced");
	cr_assert_eq(free_frames(fr), 63);
	frames_put(fr, mfn);
	cr_assert_eq(frames_owner(fr, mfn), DOMID_INVALID);
	cr_assert_eq(frames_refs(fr, mfn), 0);
	cr_assert_eq(free_frames(fr), 64);
	frames_destroy(fr);
}

Test(frames, put_of_a_free_frame_and_pending_dec_of_zero_warn_and_change_nothing)
{
	struct frames *fr = mk(64);
	uint64_t w = iob_warn_count(), fp = frames_fingerprint(fr);

	frames_put(fr, 5);
	frames_get(fr, 5);
	frames_pending_dec(fr, 5);
	cr_assert_eq(iob_warn_count(), w + 3);
	cr_assert_eq(frames_fingerprint(fr), fp);
	cr_assert_eq(free_frames(fr), 64);
	frames_destroy(fr);
}

Test(frames, allocating_a_frame_with_an_invalidation_pending_counts_reuse_before_flush)
{
	struct frames *fr = mk(1);
	uint64_t mfn;

	cr_assert_eq(frames_alloc(fr, 0, 1, &mfn), 0);
	frames_pending_inc(fr, mfn);
	frames_put(fr, mfn);
	cr_assert_eq(frames_pending(fr, mfn), 1, "the mark outlives the free");
	cr_assert_eq(reuses(fr), 0, "freeing is not reuse");
	cr_assert_eq(frames_alloc(fr, 0, 2, &mfn), 0);
	cr_assert_eq(reuses(fr), 1);
	/* Once the invalidation completed, reuse is fine. */
	frames_pending_dec(fr, mfn);
	frames_put(fr, mfn);
	cr_assert_eq(frames_alloc(fr, 0, 3, &mfn), 0);
	cr_assert_eq(reuses(fr), 1);
	frames_destroy(fr);

	/* Each pending frame of a block counts. */
	fr = mk(512);
	cr_assert_eq(frames_alloc(fr, 9, 1, &mfn), 0);
	frames_pending_inc(fr, 3);
	frames_pending_inc(fr, 3);
	frames_pending_inc(fr, 200);
	frames_pending_inc(fr, 511);
	for (uint64_t k = 0; k < 512; k++)
		frames_put(fr, k);
	cr_assert_eq(free_frames(fr), 512);
	cr_assert_eq(frames_alloc(fr, 9, 2, &mfn), 0);
	cr_assert_eq(reuses(fr), 3);
	frames_destroy(fr);
}

Test(frames, fingerprint_sees_owner_references_and_pending)
{
	struct frames *fr = mk(64);
	uint64_t fp0 = frames_fingerprint(fr), fp1, mfn;

	cr_assert_eq(frames_alloc(fr, 0, 1, &mfn), 0);
	fp1 = frames_fingerprint(fr);
	cr_assert_neq(fp1, fp0);
	frames_get(fr, mfn);
	cr_assert_neq(frames_fingerprint(fr), fp1);
	frames_put(fr, mfn);
	cr_assert_eq(frames_fingerprint(fr), fp1);
	frames_pending_inc(fr, mfn);
	cr_assert_neq(frames_fingerprint(fr), fp1);
	frames_pending_dec(fr, mfn);
	frames_put(fr, mfn);
	cr_assert_eq(frames_fingerprint(fr), fp0);
	frames_destroy(fr);
}

Test(frames, splitting_one_block_and_freeing_its_pieces_merges_it_back)
{
	struct frames *fr = mk(1ULL << 18);
	struct frames_stats st;
	uint64_t mfn, again;

	cr_assert_eq(frames_alloc(fr, 0, 1, &mfn), 0);
	frames_stats_get(fr, &st);
	cr_assert_eq(st.splits, 18, "one split per order on the way down");
	frames_put(fr, mfn);
	frames_stats_get(fr, &st);
	cr_assert_eq(st.merges, 18);
	cr_assert_eq(frames_alloc(fr, 18, 1, &again), 0, "whole again");
	cr_assert_eq(again, 0);
	frames_destroy(fr);
}

/* ---- property: random allocations and frees against a reference -------------------------- */

struct ref {
	uint64_t n;
	uint8_t *used;		/* per frame */
	uint32_t *free9;	/* free frames per aligned 512 block */
	uint32_t *free18;	/* per aligned 2^18 block */
	uint64_t nfree;
};

struct block {
	uint64_t mfn;
	unsigned order;
	uint64_t live;		/* frames of it not yet put */
	uint64_t next;		/* frames below this were put (pieces go in order or at random) */
};

static void ref_set(struct ref *r, uint64_t m, bool used)
{
	int d = used ? -1 : 1;

	r->used[m] = used;
	r->free9[m >> 9] += d;
	r->free18[m >> 18] += d;
	r->nfree += d;
}

/* Is there an aligned, completely free block of order @o? (Buddies merge eagerly, so
 * the allocator must find it.) */
static bool ref_has_block(const struct ref *r, unsigned o)
{
	if (o == 0)
		return r->nfree > 0;
	for (uint64_t b = 0; (b + 1) << o <= r->n; b++)
		if ((o == 9 ? r->free9[b] : r->free18[b]) == (1U << o))
			return true;
	return false;
}

static void property_run(uint64_t nframes, uint64_t seed, unsigned ops)
{
	struct frames *fr = mk(nframes), *fresh = mk(nframes);
	struct ref r = { .n = nframes };
	struct block *blk = calloc(nframes, sizeof(*blk));
	uint64_t *a = malloc(nframes * sizeof(*a)), *b = malloc(nframes * sizeof(*b));
	size_t nblk = 0, ca[3], cb[3];
	struct prng rng;

	cr_assert(blk && a && b);
	r.used = calloc(nframes, 1);
	r.free9 = calloc((nframes >> 9) + 1, sizeof(*r.free9));
	r.free18 = calloc((nframes >> 18) + 1, sizeof(*r.free18));
	cr_assert(r.used && r.free9 && r.free18);
	for (uint64_t m = 0; m < nframes; m++)
		ref_set(&r, m, false);
	prng_seed(&rng, seed);

	for (unsigned op = 0; op < ops; op++) {
		uint64_t x = prng_below(&rng, 100);
		/* Keep the machine between a quarter and three quarters full. */
		bool do_free = nblk && (x < 35 || r.nfree < nframes / 4);

		if (!do_free && r.nfree > nframes / 4) {
			unsigned o = x < 80 ? 0 : x < 97 ? 9 : 18;
			domid_t owner = (domid_t)(1 + prng_below(&rng, 60));
			bool want = ref_has_block(&r, o);
			uint64_t mfn = INVALID_MFN;
			int ret = frames_alloc(fr, o, owner, &mfn);

			PCHECK(seed, ret == (want ? 0 : -ENOMEM), "op %u: order %u returned %d, want %s",
			       op, o, ret, want ? "a block" : "-ENOMEM");
			if (ret)
				continue;
			PCHECK(seed, !(mfn & ((1ULL << o) - 1)) && mfn + (1ULL << o) <= nframes,
			       "op %u: order %u block at %llu", op, o, (unsigned long long)mfn);
			for (uint64_t k = 0; k < (1ULL << o); k++) {
				PCHECK(seed, !r.used[mfn + k], "op %u: frame %llu handed out twice", op,
				       (unsigned long long)(mfn + k));
				PCHECK(seed, frames_owner(fr, mfn + k) == owner &&
					     frames_refs(fr, mfn + k) == 1, "op %u: frame %llu", op,
				       (unsigned long long)(mfn + k));
				ref_set(&r, mfn + k, true);
			}
			blk[nblk++] = (struct block){ mfn, o, 1ULL << o, 0 };
		} else if (nblk) {
			size_t i = (size_t)prng_below(&rng, nblk);
			struct block *bk = &blk[i];
			uint64_t pieces = 1 + prng_below(&rng, bk->order ? 600 : 1);

			/* Single-frame puts of pieces, lowest first, some with an extra reference. */
			for (uint64_t p = 0; p < pieces && bk->live; p++) {
				uint64_t m = bk->mfn + bk->next++;

				if (prng_below(&rng, 16) == 0) {
					frames_get(fr, m);
					frames_put(fr, m);
					PCHECK(seed, frames_refs(fr, m) == 1, "op %u: refs", op);
				}
				frames_put(fr, m);
				PCHECK(seed, frames_owner(fr, m) == DOMID_INVALID && !frames_refs(fr, m),
				       "op %u: frame %llu still owned after its last put", op,
				       (unsigned long long)m);
				ref_set(&r, m, false);
				bk->live--;
			}
			if (!bk->live)
				*bk = blk[--nblk];
		}
		PCHECK(seed, free_frames(fr) == r.nfree, "op %u: %llu free, reference %llu", op,
		       (unsigned long long)free_frames(fr), (unsigned long long)r.nfree);
	}
	{
		struct frames_stats st;

		frames_stats_get(fr, &st);
		cr_log_info("frames %llu: %u operations, %llu allocations, %llu failed, %llu splits, "
			    "%llu merges", (unsigned long long)nframes, ops,
			    (unsigned long long)st.allocs, (unsigned long long)st.alloc_failures,
			    (unsigned long long)st.splits, (unsigned long long)st.merges);
		PCHECK(seed, st.allocs > ops / 4 && st.merges > ops / 4, "too little happened");
	}
	/* Give everything back: the allocator is as it was made. */
	for (size_t i = 0; i < nblk; i++)
		for (uint64_t m = blk[i].mfn + blk[i].next; m < blk[i].mfn + (1ULL << blk[i].order); m++)
			frames_put(fr, m);
	PCHECK(seed, free_frames(fr) == nframes, "%llu of %llu free at the end",
	       (unsigned long long)free_frames(fr), (unsigned long long)nframes);
	PCHECK(seed, frames_fingerprint(fr) == frames_fingerprint(fresh), "state differs from new");
	drain(fr, a, ca);
	drain(fresh, b, cb);
	for (int i = 0; i < 3; i++)
		PCHECK(seed, ca[i] == cb[i], "after freeing all: %zu blocks of order %d, new: %zu",
		       ca[i], i == 0 ? 18 : i == 1 ? 9 : 0, cb[i]);
	PCHECK(seed, !memcmp(a, b, (ca[0] + ca[1] + ca[2]) * sizeof(*a)),
	       "merged blocks are not the ones a new allocator has");
	PCHECK(seed, ca[0] == nframes >> 18, "%zu order-18 blocks, want %llu", ca[0],
	       (unsigned long long)(nframes >> 18));
	frames_destroy(fr);
	frames_destroy(fresh);
	free(r.used);
	free(r.free9);
	free(r.free18);
	free(blk);
	free(a);
	free(b);
}

Test(frames_property, random_allocs_and_piecewise_frees_match_the_reference, .timeout = 120)
{
	uint64_t seed = test_seed(0xf1);

	/* A multiple of 2^18, and an odd size whose tail blocks cannot merge past the end. */
	property_run(1ULL << 20, seed, 60000);
	property_run((3ULL << 18) + (5ULL << 9) + 77, seed ^ 0x5555, 60000);
}

/*
 * frames_alloc_at() against a reference of used frames: a block at a
 * chosen frame is handed out exactly when all its frames are free (and
 * aligned, and inside the machine), mixed with frames_alloc() and
 * piecewise frees; at the end the allocator is as new. The replay of a
 * real Xen's frames (bench/xen_fidelity.c) depends on it.
 */
Test(frames_property, alloc_at_a_frame_matches_the_reference)
{
	uint64_t seed = test_seed(0xa7), n = (1ULL << 18) + (3ULL << 9) + 5;
	struct frames *fr = mk(n), *fresh = mk(n);
	uint8_t *used = calloc(n, 1);
	struct prng p;
	unsigned ok = 0, busy = 0;

	cr_assert_not_null(used);
	prng_seed(&p, seed);
	for (unsigned op = 0; op < 40000; op++) {
		unsigned order = prng_below(&p, 4) == 0 ? 9 : 0;
		uint64_t m = prng_below(&p, n + 600) & ~((1ULL << order) - 1), mfn;
		bool inside = m + (1ULL << order) <= n, all_free = inside;
		int ret;

		if (prng_below(&p, 3) == 0) {	/* free one used frame near m */
			for (uint64_t k = m; k < n && k < m + 2048; k++)
				if (used[k]) {
					frames_put(fr, k);
					used[k] = 0;
					break;
				}
			continue;
		}
		if (prng_below(&p, 8) == 0) {	/* frames_alloc() in between */
			if (frames_alloc(fr, 0, 2, &mfn) == 0) {
				PCHECK(seed, !used[mfn], "frames_alloc gave used frame %llu",
				       (unsigned long long)mfn);
				used[mfn] = 1;
			}
			continue;
		}
		for (uint64_t k = m; inside && k < m + (1ULL << order); k++)
			all_free &= !used[k];
		ret = frames_alloc_at(fr, order, 1, m);
		PCHECK(seed, ret == (!inside ? -EINVAL : all_free ? 0 : -EBUSY),
		       "op %u: alloc_at(order %u, %llu) = %d, reference says %s", op, order,
		       (unsigned long long)m, ret, !inside ? "outside" : all_free ? "free" : "busy");
		if (!ret)
			for (uint64_t k = m; k < m + (1ULL << order); k++)
				used[k] = 1;
		ok += !ret;
		busy += ret == -EBUSY;
	}
	PCHECK(seed, frames_alloc_at(fr, 9, 1, 7) == -EINVAL, "an unaligned block is refused");
	PCHECK(seed, frames_alloc_at(fr, 19, 1, 0) == -EINVAL, "order 19 is refused");
	PCHECK(seed, ok > 1000 && busy > 1000, "too little happened: %u handed out, %u busy", ok,
	       busy);
	for (uint64_t k = 0; k < n; k++)
		if (used[k])
			frames_put(fr, k);
	PCHECK(seed, free_frames(fr) == n, "%llu of %llu free at the end",
	       (unsigned long long)free_frames(fr), (unsigned long long)n);
	PCHECK(seed, frames_fingerprint(fr) == frames_fingerprint(fresh), "state differs from new");
	frames_destroy(fr);
	frames_destroy(fresh);
	free(used);
}
