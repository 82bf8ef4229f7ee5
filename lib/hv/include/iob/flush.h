/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flush: when and how unmapped translations are invalidated, and when what
 * they pointed to may be reused. One per domain per IOMMU.
 *
 *  - strict:  every unmap sends its invalidation and waits for it; then
 *             releases (IOVA, frames, table pages).
 *  - batched: unmaps send their invalidations without waiting; one
 *             COMPLETION_WAIT at flush_batch_end() covers the batch, then
 *             everything in it is released.
 *  - lazy:    unmaps go on a per-CPU flush queue (Linux's IOVA flush queue:
 *             256 entries, 10 ms); a full queue or the timeout invalidates
 *             the whole domain once and releases what that flush covers,
 *             decided by start/finish flush counters.
 *
 * Nothing is ever released before an invalidation that covers it has
 * completed: that is the rule that keeps reuse from racing stale
 * translations (Xen XSA-346's fix; Linux's iova flush queue protocol).
 * The time from unmap to release is the exposure window, recorded for
 * every unmap.
 */
#ifndef IOB_FLUSH_H
#define IOB_FLUSH_H

#include <stdbool.h>
#include <stdint.h>

#include <iob/hist.h>
#include <iob/inval.h>
#include <iob/iommu.h>
#include <iob/iopt.h>

struct flush;

enum flush_mode {
	FLUSH_STRICT,
	FLUSH_BATCHED,
	FLUSH_LAZY,
	FLUSH_MODE_NR
};

#define FLUSH_FQ_ENTRIES_LINUX		256		/* IOVA_FQ_SIZE */
#define FLUSH_FQ_TIMEOUT_NS_LINUX	10000000ULL	/* IOVA_FQ_TIMEOUT, 10 ms */

struct flush_cfg {
	enum flush_mode mode;
	enum inval_policy policy;	/* range to commands, strict and batched */
	unsigned ncpus;			/* flush queues (lazy) */
	unsigned fq_entries;		/* 0: FLUSH_FQ_ENTRIES_LINUX */
	uint64_t fq_timeout_ns;		/* 0: FLUSH_FQ_TIMEOUT_NS_LINUX */
};

/*
 * What becomes reusable once an unmap's invalidation completed, handed
 * back to @fn with the CPU that queued it. Kept by value until then, so an
 * IOVA range needs no allocation; a caller with more to give back points
 * @obj at a record of its own.
 */
struct flush_release {
	void (*fn)(void *ctx, unsigned cpu, const struct flush_release *rel);
	void *ctx;		/* the owner, passed back as is */
	void *obj;		/* a record of the owner's, or NULL */
	iova_t iova;		/* an IOVA range to give back, or 0 */
	uint64_t pages;
};

#define FLUSH_STATS(X)							\
	X(unmaps) X(inv_ranges) X(inv_cmds) X(completion_waits)		\
	X(flush_alls) X(fq_full_flushes) X(fq_timeout_flushes)		\
	X(released) X(pages_released) X(map_flushes)

struct flush_stats {
#define FLUSH_STAT_FIELD(n) uint64_t n;
	FLUSH_STATS(FLUSH_STAT_FIELD)
#undef FLUSH_STAT_FIELD
	uint64_t over_bytes;		/* invalidated beyond the ranges asked */
	uint64_t pending;		/* unmaps not yet released */
	struct hist exposure_cyc;	/* unmap to release, cycles */
	struct hist exposure_ops;	/* unmap to release, unmaps in between */
};

/**
 * flush_create() - Flushing for domain @domid whose table is @pt.
 * Return: 0, -EINVAL, -ENOMEM.
 */
int flush_create(const struct flush_cfg *cfg, struct iommu *mmu, struct iopt *pt,
		 domid_t domid, struct flush **out);
/* flush_destroy() - Flush and release everything pending, then free. */
void flush_destroy(struct flush *f);

enum flush_mode flush_mode_of(const struct flush *f);

/* A gather whose disjoint ranges go out as commands (strict, batched). */
void flush_gather_init(struct flush *f, struct iopt_gather *g);

/**
 * flush_unmapped() - The page-table part of an unmap is done; @g holds its
 * range and freed tables, @rel (may be NULL) what to give back. Handled
 * per the mode; @g is consumed (empty on return).
 */
void flush_unmapped(struct flush *f, unsigned cpu, struct iopt_gather *g,
		    const struct flush_release *rel);

/* Batched mode: one wait for everything sent since the last one, then releases. */
void flush_batch_end(struct flush *f);

/*
 * flush_mapped() - A map of [iova, iova + size) must be made visible
 * (an IOMMU that caches non-present entries): invalidate and wait.
 */
void flush_mapped(struct flush *f, iova_t iova, uint64_t size);

/* Lazy mode: flush if this CPU's queue has waited past the timeout. */
void flush_poll(struct flush *f, unsigned cpu);

/* Everything pending, every mode: invalidate, wait, release. */
void flush_sync(struct flush *f);

void flush_stats_get(struct flush *f, struct flush_stats *out);
void flush_stats_reset(struct flush *f);

const char *flush_mode_name(enum flush_mode m);
int flush_mode_parse(const char *name);

#endif /* IOB_FLUSH_H */
