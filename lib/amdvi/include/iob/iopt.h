/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * iopt: an AMD-Vi v1 I/O page table in real, page-aligned memory.
 *
 * Two implementations build bit-identical tables:
 *  - IOPT_IMPL_TUNED walks once per range, keeps the path between tables,
 *    writes runs of contiguous entries in one loop and gathers the whole
 *    range once;
 *  - IOPT_IMPL_BASELINE walks from the root for every page and adds every
 *    page to the gather separately, as drivers did before map_pages and
 *    iotlb_gather existed.
 *
 * Each table is one 4 KiB page; what software keeps about it is a 32-byte
 * descriptor elsewhere (ptpage.h). Pages come from the library's page
 * cache, which never gives memory back mid-run, or from an allocator the
 * configuration names.
 *
 * Calling rules:
 *  - map and unmap are all-or-nothing: on error nothing changed and nothing
 *    leaked (with IOPT_F_SHARED: no translation changed; tables a failed
 *    map installed stay, empty, as Linux leaves them).
 *  - Table pages that unmap (or coalescing) frees go on the gather's
 *    freelist. Release them with iopt_gather_release() only after the
 *    invalidation that covers the gathered range has completed.
 *  - Without IOPT_F_SHARED: one caller at a time per table.
 *  - With IOPT_F_SHARED: map, unmap, translate and iopt_gather_release()
 *    may run on several threads at once, without a lock, on disjoint
 *    ranges (each range's pages are mapped and unmapped by one caller at a
 *    time; ranges may share tables). Everything else runs alone.
 */
#ifndef IOB_IOPT_H
#define IOB_IOPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <iob/amdvi.h>
#include <iob/walk.h>

struct iopt;

enum iopt_impl {
	IOPT_IMPL_TUNED,
	IOPT_IMPL_BASELINE,
	IOPT_IMPL_NR
};

/* Leaf sizes: bit n set allows pages of 2^n bytes (the Linux pgsize_bitmap). */
#define IOPT_PGSIZE_4K		(1ULL << 12)
#define IOPT_PGSIZE_2M		(1ULL << 21)
#define IOPT_PGSIZE_1G		(1ULL << 30)
#define IOPT_PGSIZE_DEFAULT	(IOPT_PGSIZE_4K | IOPT_PGSIZE_2M | IOPT_PGSIZE_1G)
/* Every power of two from 4 KiB to 256 GiB: Next Level = 7 pages included. */
#define IOPT_PGSIZE_ALL_POW2	(((1ULL << 39) - 1) & ~((1ULL << 12) - 1))

/* Fold a table whose 512 entries map one aligned block into one leaf. */
#define IOPT_F_COALESCE		(1U << 0)
/* Free a table as soon as unmap leaves it empty, not only when covered. */
#define IOPT_F_RECLAIM		(1U << 1)
/*
 * Callers on disjoint ranges at once, without a lock (see the calling
 * rules). Not with IOPT_F_COALESCE or IOPT_F_RECLAIM: both change tables
 * that other callers' ranges share.
 */
#define IOPT_F_SHARED		(1U << 2)

/* Bytes one table allocation takes: the 4 KiB table, nothing else. */
#define IOPT_TABLE_ALLOC_BYTES	4096

/* Where table memory comes from; tests inject failures through it. */
struct iopt_alloc {
	/* IOPT_TABLE_ALLOC_BYTES aligned to 4096, below 2^47, or NULL. */
	void *(*alloc)(void *ctx);
	void (*free)(void *ctx, void *mem);
	void *ctx;
};

struct iopt_cfg {
	unsigned levels;		/* 3..6; 4 covers 48-bit IOVAs */
	uint64_t pgsize_bitmap;		/* 0 means IOPT_PGSIZE_DEFAULT; must allow 4 KiB */
	enum iopt_impl impl;
	unsigned flags;			/* IOPT_F_* */
	const struct iopt_alloc *alloc;	/* NULL: the library's page cache */
};

/* Pages freed by unmap, linked through their descriptors. */
struct iopt_freelist {
	void *head;
	uint64_t pages;
};

/*
 * Called when the gather must send its pending range before taking a
 * disjoint one. @pde: table pages under the range changed, so cached
 * page-directory entries must go too.
 */
typedef void (*iopt_flush_fn)(void *ctx, iova_t iova, uint64_t size, bool pde);

struct iopt_gather {
	iova_t start;			/* pending range [start, last] */
	iova_t last;
	bool pending;
	bool pde;
	iopt_flush_fn flush;		/* NULL: disjoint ranges merge into their span */
	void *ctx;
	struct iopt_freelist freelist;
	uint64_t ranges_flushed;	/* calls made to @flush */
	uint64_t adds;			/* ranges added */
};

#define IOPT_STATS(X)						\
	X(maps) X(unmaps) X(walks) X(entries_written)		\
	X(entries_cleared) X(tables_allocated) X(tables_freed)	\
	X(splits) X(coalesces) X(alloc_failures)

struct iopt_stats {
#define IOPT_STAT_FIELD(n) uint64_t n;
	IOPT_STATS(IOPT_STAT_FIELD)
#undef IOPT_STAT_FIELD
	uint64_t tables_live;		/* allocated and not yet released */
};

/**
 * iopt_create() - Allocate an empty table (the root only).
 * @cfg: configuration, validated here
 * @out: the new table; untouched on error
 *
 * Return: 0; -EINVAL for a NULL argument, levels outside 3..6, an unknown
 * implementation or flag, IOPT_F_SHARED with IOPT_F_COALESCE or
 * IOPT_F_RECLAIM, a page-size bitmap without 4 KiB or with sizes
 * below 4 KiB or above the largest leaf the levels hold, or an allocator
 * missing a callback; -ENOMEM.
 */
int iopt_create(const struct iopt_cfg *cfg, struct iopt **out);

/**
 * iopt_destroy() - Free every table page and the pages set aside. The
 * caller has flushed first: no IOMMU may walk the table any more.
 * @pt: the table, or NULL (nothing to do)
 *
 * Tables on a gather's freelist are not the table's: release them with
 * iopt_gather_release() before.
 */
void iopt_destroy(struct iopt *pt);

/**
 * iopt_root() - Where the root table is, for a DTE's Page Table Root
 * Pointer.
 * @pt: the table
 *
 * Return: its address, 4 KiB aligned; fixed for the table's life.
 */
paddr_t iopt_root(const struct iopt *pt);

/**
 * iopt_levels() - The table's levels, for a DTE's paging mode.
 * @pt: the table
 *
 * Return: 3 to 6.
 */
unsigned iopt_levels(const struct iopt *pt);

/**
 * iopt_pgsize_bitmap() - The leaf sizes map may choose.
 * @pt: the table
 *
 * Return: the configured bitmap (IOPT_PGSIZE_DEFAULT if it was 0).
 */
uint64_t iopt_pgsize_bitmap(const struct iopt *pt);

/**
 * iopt_impl_of() - Which implementation the table runs.
 * @pt: the table
 *
 * Return: IOPT_IMPL_TUNED or IOPT_IMPL_BASELINE.
 */
enum iopt_impl iopt_impl_of(const struct iopt *pt);

/**
 * iopt_flags() - The IOPT_F_* the table was created with.
 * @pt: the table
 *
 * Return: the flags.
 */
unsigned iopt_flags(const struct iopt *pt);

/**
 * iopt_impl_name() - An implementation's name, for output.
 * @impl: the implementation
 *
 * Return: "tuned" or "baseline"; "?" for a value out of range.
 */
const char *iopt_impl_name(enum iopt_impl impl);

/**
 * iopt_map() - Map [@iova, @iova + @len) to [@pa, @pa + @len).
 * @pt:   the table
 * @iova: device address, 4 KiB aligned
 * @pa:   physical address, 4 KiB aligned
 * @len:  bytes, a non-zero multiple of 4 KiB
 * @prot: IOPT_PROT_* (at least one)
 * @g:    gather for tables that coalescing frees; may be NULL, which
 *        turns coalescing off for this call
 *
 * Each piece gets the largest leaf that the alignment of both addresses,
 * the remaining length and the configured sizes allow. Tables are created
 * as needed; an existing table is descended into, never replaced. The
 * tuned implementation writes each run of same-sized pages in one loop,
 * Next Level = 7 pages included.
 *
 * Return: 0; -EINVAL for a zero, unaligned or wrapping range, one past
 * the reach of the table's levels, @pa unaligned or the physical range
 * past 2^52, or @prot without a right or with other bits; -EEXIST if any
 * page in the range is already mapped; -ENOMEM. On error nothing changed
 * and nothing leaked.
 */
int iopt_map(struct iopt *pt, iova_t iova, paddr_t pa, uint64_t len,
	     unsigned prot, struct iopt_gather *g);

/**
 * iopt_unmap() - Remove every translation in [@iova, @iova + @len).
 * @pt:       the table
 * @iova:     4 KiB aligned
 * @len:      non-zero multiple of 4 KiB
 * @g:        collects the range to invalidate and the freed tables
 * @unmapped: if not NULL, bytes that were mapped and now are not
 *
 * A leaf that straddles either end is split first, so translations outside
 * the range survive. A split goes one level at a time, as Xen shatters a
 * superpage: a 1 GiB leaf becomes 2 MiB leaves (and 4 KiB only where the
 * boundary falls), even when pgsize_bitmap leaves 2 MiB out. That bitmap is
 * what map chooses; every level's leaf is valid to the hardware.
 * Tables whose whole span lies in the range are freed
 * (and, with IOPT_F_RECLAIM, any table left empty).
 *
 * Unmapping what is not mapped is not an error: @unmapped says what went.
 *
 * Return: 0; -EINVAL for no @g, or a zero, unaligned or wrapping range or
 * one past the reach of the table's levels; -ENOMEM when a split cannot
 * get a table. On error nothing changed.
 */
int iopt_unmap(struct iopt *pt, iova_t iova, uint64_t len,
	       struct iopt_gather *g, uint64_t *unmapped);

/**
 * iopt_translate() - The hardware walk of amdvi_walk() from this root,
 * with every right allowed above it.
 * @pt:   the table
 * @iova: the device address
 * @w:    the walk, fault or not
 *
 * Return: 0 if @iova translates (see @w->pa, @w->prot), -EFAULT with
 * @w->fault set.
 */
int iopt_translate(const struct iopt *pt, iova_t iova, struct amdvi_walk *w);

/**
 * iopt_stats_get() - Sum the counters (IOPT_STATS, tables_live).
 * @pt:  the table
 * @out: the counters
 *
 * Each thread counts in a slot of its own; with calls running on other
 * threads the sum is of counts taken at slightly different moments.
 */
void iopt_stats_get(const struct iopt *pt, struct iopt_stats *out);

/**
 * iopt_stats_reset() - Zero the counters; tables_live, a state and not a
 * count, stays. Runs alone.
 * @pt: the table
 */
void iopt_stats_reset(struct iopt *pt);

/* ---- gather ------------------------------------------------------------ */

/**
 * iopt_gather_init() - An empty gather: no range pending, no freelist.
 * @g:     the gather
 * @flush: called with the pending range when a disjoint one is added;
 *         NULL: disjoint ranges merge into their span instead
 * @ctx:   passed to @flush
 */
void iopt_gather_init(struct iopt_gather *g, iopt_flush_fn flush, void *ctx);

/**
 * iopt_gather_add() - Add a range to invalidate.
 * @g:    the gather
 * @iova: start
 * @size: bytes; 0 adds nothing
 *
 * Adjacent or overlapping ranges merge; a disjoint one first sends the
 * pending range to the flush callback (or, without one, widens the
 * pending range to the span of both).
 */
void iopt_gather_add(struct iopt_gather *g, iova_t iova, uint64_t size);

/**
 * iopt_gather_flush() - Send the pending range, if any, to the flush
 * callback and clear it (without a callback it is just cleared).
 * @g: the gather
 */
void iopt_gather_flush(struct iopt_gather *g);

/**
 * iopt_gather_release() - Free the tables on @g's freelist to @pt's
 * allocator and empty it.
 * @pt: the table they came from
 * @g:  the gather
 *
 * Call only after the invalidation covering them completed: the hardware
 * may walk a freed table until then.
 */
void iopt_gather_release(struct iopt *pt, struct iopt_gather *g);

/* ---- reservation ----------------------------------------------------- */

/**
 * iopt_reserve() - Make sure @tables table pages are set aside for the
 * map and unmap calls that follow (they use them before asking the
 * allocator). A caller that must not fail half way (a hypercall) reserves
 * its worst case first.
 * @pt:     the table
 * @tables: pages wanted in reserve; pages already set aside count
 *
 * Return: 0; -EINVAL for a table with IOPT_F_SHARED (the pool is one
 * caller's); -ENOMEM (also when the allocator returned memory that is
 * not 4 KiB aligned) with nothing reserved by this call.
 */
int iopt_reserve(struct iopt *pt, uint64_t tables);

/**
 * iopt_unreserve() - Done with the reservation: what was not used stays
 * set aside for the next iopt_reserve(), up to 2048 pages; the rest is
 * given back. iopt_destroy() frees all of it.
 * @pt: the table
 */
void iopt_unreserve(struct iopt *pt);

/**
 * iopt_reserved() - Pages set aside now.
 * @pt: the table
 *
 * Return: the count.
 */
uint64_t iopt_reserved(const struct iopt *pt);

/* ---- inspection, for tests and `iob amdvi` ----------------------------- */

/**
 * iopt_for_each_leaf() - Call @fn once per leaf page, lowest IOVA first.
 * @pt:  the table
 * @fn:  called with the page's IOVA and physical address (both aligned to
 *       its size), its size (log2) and rights (IOPT_PROT_*); a Next Level
 *       = 7 page that fills several entries is reported once
 * @ctx: passed to @fn
 */
void iopt_for_each_leaf(const struct iopt *pt,
			void (*fn)(void *ctx, iova_t iova, paddr_t pa, unsigned size_lg2,
				   unsigned prot),
			void *ctx);

/**
 * iopt_fingerprint() - A hash of the table's contents and shape, table
 * addresses left out: different fingerprints, different tables (equal
 * ones: equal tables, but for a 64-bit hash's collisions).
 * @pt: the table
 *
 * Return: the hash (FNV-1a over every non-zero entry and present count).
 */
uint64_t iopt_fingerprint(const struct iopt *pt);

/**
 * iopt_equal() - Whether @a and @b hold the same entries, table for table
 * (where each table lives aside).
 * @a: a table
 * @b: another
 *
 * Return: true if they are equal; false if not, or if their levels differ.
 */
bool iopt_equal(const struct iopt *a, const struct iopt *b);

/**
 * iopt_count_tables() - Tables reachable from the root, counted by
 * walking them (the root included).
 * @pt: the table
 *
 * Return: the count.
 */
uint64_t iopt_count_tables(const struct iopt *pt);

/**
 * iopt_check() - Verify the table's invariants.
 * @pt: the table
 *
 * Every table's descriptor has its level and parent link; a non-present
 * entry is all zero; no entry has reserved bits, or any of bits 8:1, set;
 * a PDE's Next Level is its level minus one; a level-1 entry is a leaf; a
 * Next Level = 7 page fits its level and fills every entry it spans.
 *
 * Return: 0, or -EUCLEAN at the first violation.
 */
int iopt_check(const struct iopt *pt);

#endif /* IOB_IOPT_H */
