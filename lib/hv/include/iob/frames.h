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
 *
 * Names: DOMID_XEN, DOMID_INVALID and INVALID_MFN are Xen's own, kept so
 * that the model reads like the code it models.
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
 * frames_create() - A machine of @nframes frames, all free, owned by
 * DOMID_INVALID.
 * @nframes: 1 to 2^32 - 1 (a multiple of 2^18 keeps every order
 *           available; any count works)
 * @out:     the new machine; untouched on error
 *
 * Return: 0; -EINVAL for 0 or 2^32 frames or more; -ENOMEM.
 */
int frames_create(uint64_t nframes, struct frames **out);

/**
 * frames_destroy() - Free the machine, whatever its frames' state.
 * @fr: the machine, or NULL (nothing to do)
 */
void frames_destroy(struct frames *fr);

/**
 * frames_count() - The machine's size.
 * @fr: the machine
 *
 * Return: frames, as created.
 */
uint64_t frames_count(const struct frames *fr);

/**
 * frames_alloc() - 2^@order contiguous frames, aligned to their size,
 * owned by @owner, each with one reference.
 * @fr:    the machine
 * @order: 0 to FRAMES_MAX_ORDER
 * @owner: the new owner
 * @mfn:   the first frame
 *
 * A frame handed out with an invalidation still pending against it is
 * counted in stats.reuse_before_flush (the bug this model exists to
 * catch); one that still has references is an IOB_WARN_ON.
 *
 * Return: 0 with *@mfn set; -EINVAL for @order above 18; -ENOMEM when no
 * free block of that order is left (counted in stats.alloc_failures).
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

/**
 * frames_alloc_at() - frames_alloc() of the block at @mfn itself, as a PV
 * guest whose frame numbers are its machine frames sees it (Xen's
 * hardware domain: dfn = mfn), for replaying what a real Xen handed out.
 * @fr:    the machine
 * @order: 0 to FRAMES_MAX_ORDER
 * @owner: the new owner
 * @mfn:   the first frame, aligned to 2^@order
 *
 * Return: 0; -EINVAL (order above 18, @mfn unaligned or past the
 * machine); -EBUSY when a frame of the block is not free (counted in
 * stats.alloc_failures).
 */
int frames_alloc_at(struct frames *fr, unsigned order, domid_t owner, uint64_t mfn);

/**
 * frames_get() - Take a reference to a frame in use.
 * @fr:  the machine
 * @mfn: the frame; out of range, or free (no references), is an
 *       IOB_WARN_ON and nothing changes
 */
void frames_get(struct frames *fr, uint64_t mfn);

/**
 * frames_put() - Drop a reference; the last one frees the frame (owner
 * DOMID_INVALID), merging it with its free buddies.
 * @fr:  the machine
 * @mfn: the frame; out of range, or free, is an IOB_WARN_ON and nothing
 *       changes
 */
void frames_put(struct frames *fr, uint64_t mfn);

/**
 * frames_owner() - Who owns a frame.
 * @fr:  the machine
 * @mfn: the frame
 *
 * Return: the owner; DOMID_INVALID for a free frame or one out of range.
 */
domid_t frames_owner(const struct frames *fr, uint64_t mfn);

/**
 * frames_refs() - A frame's reference count.
 * @fr:  the machine
 * @mfn: the frame
 *
 * Return: the count; 0 for a free frame or one out of range.
 */
uint32_t frames_refs(const struct frames *fr, uint64_t mfn);

/**
 * frames_valid() - Whether @mfn names a frame of this machine.
 * @fr:  the machine
 * @mfn: the frame number
 *
 * Return: true if it is below frames_count().
 */
bool frames_valid(const struct frames *fr, uint64_t mfn);

/**
 * frames_pending_inc() - An unmap may have left a stale translation to
 * @mfn: one more invalidation pending against it.
 * @fr:  the machine
 * @mfn: the frame; out of range is ignored
 */
void frames_pending_inc(struct frames *fr, uint64_t mfn);

/**
 * frames_pending_dec() - An invalidation against @mfn completed.
 * @fr:  the machine
 * @mfn: the frame; out of range is ignored, none pending is an
 *       IOB_WARN_ON
 */
void frames_pending_dec(struct frames *fr, uint64_t mfn);

/**
 * frames_pending() - Invalidations still pending against a frame.
 * @fr:  the machine
 * @mfn: the frame
 *
 * Return: the count; 0 for a frame out of range.
 */
uint32_t frames_pending(const struct frames *fr, uint64_t mfn);

/**
 * frames_stats_get() - Copy the counters (FRAMES_STATS, free_frames).
 * @fr:  the machine
 * @out: the counters
 */
void frames_stats_get(const struct frames *fr, struct frames_stats *out);

/**
 * frames_fingerprint() - A hash of every frame's owner, references and
 * pending count: tests compare it before and after a call that must
 * change nothing.
 * @fr: the machine
 *
 * Return: the hash.
 */
uint64_t frames_fingerprint(const struct frames *fr);

#endif /* IOB_FRAMES_H */
