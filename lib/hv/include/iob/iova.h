/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * iova: the allocator of device addresses, shaped like Linux's
 * drivers/iommu/iova.c so that its costs compare: a red-black tree of
 * allocated ranges (libbsd's <bsd/sys/tree.h>) searched top-down from the
 * DMA limit, in front of it per-CPU magazine caches ("rcache") of
 * IOVA_MAG_SIZE entries per size class, two magazines per CPU and a
 * depot of full magazines.
 *
 * Sizes under 2^(classes-1) pages are rounded up to a power of two, and
 * every allocation is aligned to its rounded size, as Linux's
 * alloc_iova_fast() does.
 *
 * Calling rules: thread-safe; @cpu picks the magazine pair and must be
 * below cfg.ncpus. iova_free() trusts the caller (as Linux does): callers
 * that take addresses from untrusted parties check them first.
 */
#ifndef IOB_IOVA_H
#define IOB_IOVA_H

#include <stdbool.h>
#include <stdint.h>

#include <iob/amdvi.h>

struct iova;

#define IOVA_MAG_SIZE_LINUX	127	/* IOVA_MAG_SIZE, Linux 6.x */
#define IOVA_DEPOT_LINUX	32	/* MAX_GLOBAL_MAGS */
#define IOVA_CLASSES_LINUX	6	/* IOVA_RANGE_CACHE_MAX_SIZE: 1..32 pages */
#define IOVA_CPUS_MAX		256

struct iova_cfg {
	unsigned granule_lg2;	/* 12 */
	iova_t start;		/* lowest address handed out (non-zero) */
	iova_t limit;		/* one past the highest (the DMA mask + 1) */
	bool rcache;		/* per-CPU magazines in front of the tree */
	unsigned ncpus;		/* 1..IOVA_CPUS_MAX */
	unsigned mag_size;	/* 0: IOVA_MAG_SIZE_LINUX */
	unsigned depot_max;	/* 0: IOVA_DEPOT_LINUX */
	unsigned classes;	/* 0: IOVA_CLASSES_LINUX */
};

#define IOVA_STATS(X)							\
	X(allocs) X(frees) X(rcache_hits) X(rcache_misses) X(tree_allocs) \
	X(tree_frees) X(depot_puts) X(depot_gets) X(mag_flushes) X(failures)

struct iova_stats {
#define IOVA_STAT_FIELD(n) uint64_t n;
	IOVA_STATS(IOVA_STAT_FIELD)
#undef IOVA_STAT_FIELD
	uint64_t tree_nodes;	/* ranges in the tree now */
	uint64_t cached;	/* addresses sitting in magazines and depot */
};

/**
 * iova_create() - An empty allocator over [start, limit).
 * @cfg: granule, range, caches; zeroes in mag_size, depot_max and classes
 *       take Linux's values
 * @out: the new allocator; untouched on error
 *
 * Return: 0; -EINVAL for a NULL argument, a granule outside 2^12..2^30, a
 * start of 0 or not granule-aligned, a limit not granule-aligned or not
 * above start, ncpus outside 1..IOVA_CPUS_MAX, or more than 16 classes;
 * -ENOMEM.
 */
int iova_create(const struct iova_cfg *cfg, struct iova **out);

/**
 * iova_destroy() - Free everything, cached and allocated ranges alike.
 * @iv: the allocator, or NULL (nothing to do)
 */
void iova_destroy(struct iova *iv);

/**
 * iova_round() - Granules an allocation really takes.
 * @iv:    the allocator
 * @pages: granules asked for
 *
 * Return: @pages rounded up to a power of two when below
 * 2^(classes - 1), as Linux's alloc_iova_fast() does; @pages otherwise.
 */
uint64_t iova_round(const struct iova *iv, uint64_t pages);

/**
 * iova_alloc() - Allocate @pages granules, highest free range first.
 * @iv:    the allocator
 * @cpu:   the calling CPU: its magazines are tried first
 * @pages: granules; rounded by iova_round(), and the range is aligned to
 *         the power of two at or above that
 * @out:   the first address
 *
 * Return: 0 with *@out set; -EINVAL for zero pages or @cpu not below
 * cfg.ncpus; -ENOSPC when no free range of that size is left below the
 * limit; -ENOMEM (the tree's node).
 */
int iova_alloc(struct iova *iv, unsigned cpu, uint64_t pages, iova_t *out);

/**
 * iova_free() - Give back what iova_alloc() returned.
 * @iv:    the allocator
 * @cpu:   the calling CPU: a cacheable size goes to its magazine (with
 *         @cpu out of range, to the tree)
 * @addr:  what iova_alloc() returned
 * @pages: the count asked for then
 *
 * Both are trusted, as Linux trusts them: the tree ignores an @addr that
 * starts no allocated range, but a magazine takes it unchecked and hands
 * it out again. A full magazine goes to the depot; when the depot is full,
 * or a fresh magazine cannot be had, its addresses go back to the tree:
 * freeing never fails.
 */
void iova_free(struct iova *iv, unsigned cpu, iova_t addr, uint64_t pages);

/**
 * iova_is_allocated() - Whether a range lies inside one allocated range of
 * the tree (a range cached in a magazine still counts as allocated).
 * @iv:    the allocator
 * @addr:  the start, granule-aligned
 * @pages: granules, non-zero
 *
 * Return: true if so; false for zero pages or an unaligned @addr.
 */
bool iova_is_allocated(struct iova *iv, iova_t addr, uint64_t pages);

/**
 * iova_stats_get() - Copy the counters (IOVA_STATS), with the ranges in
 * the tree and the addresses cached now. Allocations served by a CPU's
 * magazines and frees into them are counted per CPU, under that CPU's
 * magazine lock, and added up here.
 * @iv:  the allocator
 * @out: the counters
 */
void iova_stats_get(struct iova *iv, struct iova_stats *out);

/**
 * iova_stats_reset() - Zero the counters; tree_nodes, a state and not a
 * count, stays.
 * @iv: the allocator
 */
void iova_stats_reset(struct iova *iv);

#endif /* IOB_IOVA_H */
