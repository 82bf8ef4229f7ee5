/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * frames: the machine's memory, one 4 KiB frame at a time. A buddy
 * allocator (orders 0 to 18, i.e. up to 1 GiB, as Xen's heap), an owner
 * and a reference count per frame, and a count of invalidations still
 * pending against the frame.
 *
 * The pending count is the referee of the rule that matters most: a frame
 * must not be handed to anyone while an IOTLB may still translate to it.
 * frames_alloc() checks it on every frame it hands out and counts any
 * violation in stats.reuse_before_flush (which must stay 0).
 */
#ifndef IOB_FRAMES_H
#define IOB_FRAMES_H

#include <stdbool.h>
#include <stdint.h>

#include <iob/amdvi.h>

#define DOMID_XEN	0x7ff2	/* Xen's own */
#define DOMID_INVALID	0x7ff4	/* nobody: a free frame */
#define INVALID_MFN	(~0ULL)

#define FRAMES_MAX_ORDER 18

struct frames;

#define FRAMES_STATS(X)							\
	X(allocs) X(frees) X(splits) X(merges) X(alloc_failures)	\
	X(reuse_before_flush)

struct frames_stats {
#define FRAMES_STAT_FIELD(n) uint64_t n;
	FRAMES_STATS(FRAMES_STAT_FIELD)
#undef FRAMES_STAT_FIELD
	uint64_t free_frames;
};

/**
 * frames_create() - @nframes frames, all free (a multiple of 2^18 keeps
 * every order available; any count works).
 * Return: 0, -EINVAL (zero, or more than 2^32), -ENOMEM.
 */
int frames_create(uint64_t nframes, struct frames **out);
void frames_destroy(struct frames *fr);
uint64_t frames_count(const struct frames *fr);

/**
 * frames_alloc() - 2^@order contiguous frames, aligned to their size,
 * owned by @owner, each with one reference.
 * Return: 0 with *@mfn the first frame, -EINVAL (order > 18), -ENOMEM.
 */
int frames_alloc(struct frames *fr, unsigned order, domid_t owner, uint64_t *mfn);
/**
 * frames_alloc_below() - frames_alloc() from frames below @limit only (an
 * address restriction, as Xen's MEMF_bits for XENMEM_exchange): the low
 * part of the first free block, smallest order first, that starts low enough.
 * Return: 0 with *@mfn the first frame, -EINVAL (order > 18), -ENOMEM.
 */
int frames_alloc_below(struct frames *fr, unsigned order, domid_t owner, uint64_t limit,
		       uint64_t *mfn);

/* Take and drop references. The last put frees the frame (owner DOMID_INVALID). */
void frames_get(struct frames *fr, uint64_t mfn);
void frames_put(struct frames *fr, uint64_t mfn);

domid_t frames_owner(const struct frames *fr, uint64_t mfn);
uint32_t frames_refs(const struct frames *fr, uint64_t mfn);
bool frames_valid(const struct frames *fr, uint64_t mfn);

/* An unmap may have left a stale translation to @mfn / it is gone now. */
void frames_pending_inc(struct frames *fr, uint64_t mfn);
void frames_pending_dec(struct frames *fr, uint64_t mfn);
uint32_t frames_pending(const struct frames *fr, uint64_t mfn);

void frames_stats_get(const struct frames *fr, struct frames_stats *out);

/* A hash of every frame's owner, references and pending count. */
uint64_t frames_fingerprint(const struct frames *fr);

#endif /* IOB_FRAMES_H */
