// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Buddy allocator over machine frames. Free blocks sit on per-order
 * doubly linked lists threaded through the frame array (frame numbers,
 * not pointers, keep an entry at 20 bytes).
 */
#include <errno.h>
#include <string.h>

#include <iob/alloc.h>
#include <iob/frames.h>
#include <iob/warn.h>

#define NIL UINT32_MAX

struct frame {
	uint32_t refs;
	uint32_t pending;	/* invalidations not yet completed */
	uint32_t next, prev;	/* free list, valid on a free block's head */
	uint16_t owner;
	uint8_t order;		/* free block head: its order */
	uint8_t free_head;
};

struct frames {
	struct frame *f;
	uint64_t n;
	uint32_t head[FRAMES_MAX_ORDER + 1];
	struct frames_stats stats;
};

static void list_push(struct frames *fr, uint32_t m, unsigned order)
{
	struct frame *x = &fr->f[m];

	x->free_head = 1;
	x->order = (uint8_t)order;
	x->prev = NIL;
	x->next = fr->head[order];
	if (x->next != NIL)
		fr->f[x->next].prev = m;
	fr->head[order] = m;
}

static void list_del(struct frames *fr, uint32_t m)
{
	struct frame *x = &fr->f[m];

	if (x->prev != NIL)
		fr->f[x->prev].next = x->next;
	else
		fr->head[x->order] = x->next;
	if (x->next != NIL)
		fr->f[x->next].prev = x->prev;
	x->free_head = 0;
}

int frames_create(uint64_t nframes, struct frames **out)
{
	struct frames *fr;
	uint64_t m = 0;

	if (!nframes || nframes > (1ULL << 32) - 1)
		return -EINVAL;
	fr = iob_calloc(1, sizeof(*fr));
	if (!fr)
		return -ENOMEM;
	fr->f = iob_calloc(nframes, sizeof(*fr->f));
	if (!fr->f) {
		iob_free(fr);
		return -ENOMEM;
	}
	fr->n = nframes;
	for (unsigned o = 0; o <= FRAMES_MAX_ORDER; o++)
		fr->head[o] = NIL;
	for (uint64_t i = 0; i < nframes; i++)
		fr->f[i].owner = DOMID_INVALID;
	/* Carve the range into the largest aligned blocks that fit. */
	while (m < nframes) {
		unsigned o = FRAMES_MAX_ORDER;

		while (o && ((m & ((1ULL << o) - 1)) || m + (1ULL << o) > nframes))
			o--;
		list_push(fr, (uint32_t)m, o);
		m += 1ULL << o;
	}
	fr->stats.free_frames = nframes;
	*out = fr;
	return 0;
}

void frames_destroy(struct frames *fr)
{
	if (!fr)
		return;
	iob_free(fr->f);
	iob_free(fr);
}

uint64_t frames_count(const struct frames *fr)
{
	return fr->n;
}

static void hand_out(struct frames *fr, uint32_t m, unsigned order, domid_t owner);

/* Hand out the low 2^@order frames of free block @m of order @o. */
static void take(struct frames *fr, uint32_t m, unsigned o, unsigned order, domid_t owner)
{
	list_del(fr, m);
	/* Split down, giving back the upper halves. */
	while (o > order) {
		o--;
		list_push(fr, m + (1U << o), o);
		fr->stats.splits++;
	}
	hand_out(fr, m, order, owner);
}

/* Frames @m.. of an order-@order block just taken off the free lists. */
static void hand_out(struct frames *fr, uint32_t m, unsigned order, domid_t owner)
{
	for (uint64_t i = 0; i < (1ULL << order); i++) {
		struct frame *x = &fr->f[m + i];

		if (x->pending)
			fr->stats.reuse_before_flush++;
		IOB_WARN_ON(x->refs);
		x->refs = 1;
		x->owner = owner;
	}
	fr->stats.allocs++;
	fr->stats.free_frames -= 1ULL << order;
}

int frames_alloc(struct frames *fr, unsigned order, domid_t owner, uint64_t *mfn)
{
	unsigned o = order;

	if (order > FRAMES_MAX_ORDER)
		return -EINVAL;
	while (o <= FRAMES_MAX_ORDER && fr->head[o] == NIL)
		o++;
	if (o > FRAMES_MAX_ORDER) {
		fr->stats.alloc_failures++;
		return -ENOMEM;
	}
	*mfn = fr->head[o];
	take(fr, (uint32_t)*mfn, o, order, owner);
	return 0;
}

int frames_alloc_below(struct frames *fr, unsigned order, domid_t owner, uint64_t limit,
		       uint64_t *mfn)
{
	if (order > FRAMES_MAX_ORDER)
		return -EINVAL;
	/* Any free block that starts low enough: its low part is what is handed out. */
	for (unsigned o = order; o <= FRAMES_MAX_ORDER; o++)
		for (uint32_t m = fr->head[o]; m != NIL; m = fr->f[m].next)
			if (m + (1ULL << order) <= limit) {
				take(fr, m, o, order, owner);
				*mfn = m;
				return 0;
			}
	fr->stats.alloc_failures++;
	return -ENOMEM;
}

int frames_alloc_at(struct frames *fr, unsigned order, domid_t owner, uint64_t mfn)
{
	if (order > FRAMES_MAX_ORDER || (mfn & ((1ULL << order) - 1)) || mfn >= fr->n ||
	    mfn + (1ULL << order) > fr->n)
		return -EINVAL;
	/* The free block holding @mfn, if any: its head is @mfn rounded down to its order. */
	for (unsigned o = order; o <= FRAMES_MAX_ORDER; o++) {
		uint64_t h = mfn & ~((1ULL << o) - 1);

		if (!fr->f[h].free_head || fr->f[h].order != o)
			continue;
		list_del(fr, (uint32_t)h);
		/* Split down towards @mfn, giving back the other halves. */
		while (o > order) {
			uint64_t half = 1ULL << --o;

			if (mfn & half) {
				list_push(fr, (uint32_t)h, o);
				h += half;
			} else {
				list_push(fr, (uint32_t)(h + half), o);
			}
			fr->stats.splits++;
		}
		hand_out(fr, (uint32_t)mfn, order, owner);
		return 0;
	}
	fr->stats.alloc_failures++;
	return -EBUSY;
}

static void free_one(struct frames *fr, uint32_t m)
{
	unsigned o = 0;

	fr->f[m].owner = DOMID_INVALID;
	fr->stats.frees++;
	fr->stats.free_frames++;
	/* Merge with the buddy while it is a free block of the same order. */
	while (o < FRAMES_MAX_ORDER) {
		uint64_t buddy = (uint64_t)m ^ (1ULL << o);

		if (buddy + (1ULL << o) > fr->n || !fr->f[buddy].free_head ||
		    fr->f[buddy].order != o)
			break;
		list_del(fr, (uint32_t)buddy);
		m = (uint32_t)(m < buddy ? m : buddy);
		o++;
		fr->stats.merges++;
	}
	list_push(fr, m, o);
}

bool frames_valid(const struct frames *fr, uint64_t mfn)
{
	return mfn < fr->n;
}

void frames_get(struct frames *fr, uint64_t mfn)
{
	if (IOB_WARN_ON(mfn >= fr->n || !fr->f[mfn].refs))
		return;
	fr->f[mfn].refs++;
}

void frames_put(struct frames *fr, uint64_t mfn)
{
	if (IOB_WARN_ON(mfn >= fr->n || !fr->f[mfn].refs))
		return;
	if (!--fr->f[mfn].refs)
		free_one(fr, (uint32_t)mfn);
}

domid_t frames_owner(const struct frames *fr, uint64_t mfn)
{
	return mfn < fr->n ? fr->f[mfn].owner : DOMID_INVALID;
}

uint32_t frames_refs(const struct frames *fr, uint64_t mfn)
{
	return mfn < fr->n ? fr->f[mfn].refs : 0;
}

void frames_pending_inc(struct frames *fr, uint64_t mfn)
{
	if (mfn < fr->n)
		fr->f[mfn].pending++;
}

void frames_pending_dec(struct frames *fr, uint64_t mfn)
{
	if (mfn < fr->n && !IOB_WARN_ON(!fr->f[mfn].pending))
		fr->f[mfn].pending--;
}

uint32_t frames_pending(const struct frames *fr, uint64_t mfn)
{
	return mfn < fr->n ? fr->f[mfn].pending : 0;
}

void frames_stats_get(const struct frames *fr, struct frames_stats *out)
{
	*out = fr->stats;
}

uint64_t frames_fingerprint(const struct frames *fr)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (uint64_t i = 0; i < fr->n; i++) {
		const struct frame *x = &fr->f[i];
		uint64_t v = ((uint64_t)x->owner << 48) ^ ((uint64_t)x->refs << 16) ^ x->pending;

		h = (h ^ v ^ i) * 0x100000001b3ULL;
	}
	return h;
}
