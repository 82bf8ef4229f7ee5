/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flush: when and how unmapped translations are invalidated, and when what
 * they pointed to may be reused. One per domain per IOMMU.
 *
 *  - strict:  every unmap sends its invalidation and waits for it; then
 *             releases (IOVA, frames, table pages).
 *  - batched: unmaps send their invalidations without waiting; one
 *             COMPLETION_WAIT at flush_batch_end() covers the batch, then
 *             everything in it is released. Batches are per CPU:
 *             flush_batch_end_cpu() ends one CPU's alone.
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
	/*
	 * The clock lazy mode's deadlines run on, in nanoseconds; NULL: the
	 * TSC. A replay of a real run sets it to the run's own times.
	 */
	uint64_t (*clock_ns)(void *ctx);
	void *clock_ctx;
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
	struct hist exposure_ops;	/* unmap to release, unmaps its CPU made in between */
};

/**
 * flush_create() - The flush policy of one domain on one IOMMU.
 * @cfg:   mode, range policy, CPUs, flush-queue size and timeout
 * @mmu:   the IOMMU the commands go to
 * @pt:    the domain's I/O page table (its freed tables are released here)
 * @domid: the domain ID the commands name
 * @out:   the policy
 *
 * Return: 0; -EINVAL (a NULL argument, mode or policy out of range, ncpus
 * not 1..1024, fq_entries past 2^20); -ENOMEM.
 */
int flush_create(const struct flush_cfg *cfg, struct iommu *mmu, struct iopt *pt,
		 domid_t domid, struct flush **out);

/**
 * flush_destroy() - Flush and release everything pending, then free.
 * @f: the policy, or NULL
 */
void flush_destroy(struct flush *f);

/**
 * flush_mode_of() - The mode a policy runs in.
 * @f: the policy
 *
 * Return: its mode.
 */
enum flush_mode flush_mode_of(const struct flush *f);

/**
 * flush_gather_init() - A gather for one unmap: strict and batched send its
 * disjoint ranges as commands; lazy ignores ranges (one flush covers all).
 * @f: the policy
 * @g: the gather
 */
void flush_gather_init(struct flush *f, struct iopt_gather *g);

/**
 * flush_unmapped() - The page-table part of an unmap is done; handle it
 * per the mode (strict: invalidate, wait, release; batched: invalidate,
 * release at the batch's end; lazy: queue, release after the flush that
 * covers it).
 * @f:   the policy
 * @cpu: the CPU the unmap ran on (its flush queue and stats shard)
 * @g:   its range and freed tables; consumed (empty on return)
 * @rel: what to give back once invalidated, or NULL
 */
void flush_unmapped(struct flush *f, unsigned cpu, struct iopt_gather *g,
		    const struct flush_release *rel);

/**
 * flush_gather_init_now() - flush_gather_init() for flush_unmapped_now():
 * the gather sends its ranges as strict mode does, whatever the mode.
 * @f: the domain's flush state
 * @g: the gather
 */
void flush_gather_init_now(struct flush *f, struct iopt_gather *g);

/**
 * flush_unmapped_now() - flush_unmapped() with its flush sent and waited
 * for at once whatever the mode (an unmap outside any batch), and nothing
 * to give back after it.
 * @f:   the domain's flush state
 * @cpu: the CPU that unmapped
 * @g:   the gather iopt_unmap() filled, made by flush_gather_init_now()
 */
void flush_unmapped_now(struct flush *f, unsigned cpu, struct iopt_gather *g);

/**
 * flush_batch_end() - Batched mode: one wait for everything every CPU's
 * unmaps sent since their last batch end, then every release of those
 * batches. Other modes: nothing.
 * @f: the policy
 */
void flush_batch_end(struct flush *f);

/**
 * flush_batch_end_cpu() - Batched mode: what @cpu's unmaps sent since its
 * last batch end, waited for once and released; other CPUs' batches stay.
 * Other modes: nothing.
 * @f:   the policy
 * @cpu: the CPU whose batch ends (as given to flush_unmapped())
 */
void flush_batch_end_cpu(struct flush *f, unsigned cpu);

/**
 * flush_mapped() - A map must be made visible (an IOMMU that caches
 * non-present entries): invalidate [@iova, @iova + @size) and wait.
 * @f:    the policy
 * @iova: start
 * @size: bytes
 */
void flush_mapped(struct flush *f, iova_t iova, uint64_t size);

/**
 * flush_poll() - Lazy mode: flush if this CPU's queue has waited past the
 * timeout. Other modes: nothing.
 * @f:   the policy
 * @cpu: the polling CPU
 */
void flush_poll(struct flush *f, unsigned cpu);

/**
 * flush_sync() - Everything pending, every mode: invalidate, wait, release.
 * @f: the policy
 */
void flush_sync(struct flush *f);

/**
 * flush_stats_get() - The counters, every CPU's shard added up.
 * @f:   the policy
 * @out: filled
 */
void flush_stats_get(struct flush *f, struct flush_stats *out);

/**
 * flush_stats_reset() - Zero the counters (what is pending stays counted).
 * @f: the policy
 */
void flush_stats_reset(struct flush *f);

/**
 * flush_mode_name() - "strict", "batched", "lazy".
 * @m: the mode
 *
 * Return: its name, or "?".
 */
const char *flush_mode_name(enum flush_mode m);

/**
 * flush_mode_parse() - The mode of a name.
 * @name: as flush_mode_name() gives it
 *
 * Return: the mode, or -EINVAL.
 */
int flush_mode_parse(const char *name);

#endif /* IOB_FLUSH_H */
