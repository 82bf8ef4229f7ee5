/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * iotlb: the IOMMU's translation caches. A set-associative IOTLB whose tags
 * carry the domain ID and the page size (a 2 MiB leaf is one entry), and a
 * page-directory cache of table pointers so that a miss can start its walk
 * below the root. Invalidation by page range (with or without the PDE
 * bit), by domain and of everything.
 *
 * Sizes are configurable because AMD does not publish them; the defaults
 * are the suite's assumptions (docs/cost-model.md), not facts.
 */
#ifndef IOB_IOTLB_H
#define IOB_IOTLB_H

#include <stdbool.h>
#include <stdint.h>

#include <iob/amdvi.h>
#include <iob/cost.h>

struct iotlb;

enum iotlb_repl {
	IOTLB_REPL_LRU,
	IOTLB_REPL_RANDOM,
	IOTLB_REPL_RESET,	/* a full set is emptied whole, then filled (QEMU) */
	IOTLB_REPL_NR
};

struct iotlb_cfg {
	unsigned entries;	/* power of two; 0 disables the IOTLB */
	unsigned ways;		/* power of two dividing @entries; == entries: fully associative */
	enum iotlb_repl repl;
	uint64_t seed;		/* for IOTLB_REPL_RANDOM */
	unsigned pde_entries;	/* page-directory cache; 0 disables it */
	unsigned pde_ways;
	/*
	 * 0: an entry covers its whole page (a 2 MiB leaf is one entry). N
	 * (12..63): an entry covers at most 2^N bytes, the part of the page
	 * the DMA used, so a 2 MiB page fills up to 512 entries of 4 KiB
	 * (QEMU's IOTLB is keyed by 4 KiB frame whatever the page size).
	 */
	unsigned tag_lg2;
};

#define IOTLB_DEFAULT_ENTRIES		512
#define IOTLB_DEFAULT_WAYS		8
#define IOTLB_DEFAULT_PDE_ENTRIES	64
#define IOTLB_DEFAULT_PDE_WAYS		4

/*
 * QEMU 7.2's emulated AMD IOMMU (hw/i386/amd_iommu.c): a hash table of at
 * most AMDVI_IOTLB_MAX_SIZE (1024) entries keyed by device and 4 KiB frame,
 * emptied whole when an insertion finds it full, no page-directory cache,
 * and INVALIDATE_IOMMU_PAGES drops every entry of the domain.
 */
#define IOTLB_QEMU_ENTRIES		1024

struct iotlb_entry {
	iova_t iova;		/* page base */
	paddr_t pa;		/* page base */
	domid_t domid;
	uint8_t size_lg2;
	uint8_t prot;		/* IOPT_PROT_* */
};

/* A cached pointer to the level-@level table that covers @base. */
struct iotlb_pde {
	iova_t base;		/* first address the table spans */
	paddr_t table;
	domid_t domid;
	uint8_t level;
	uint8_t prot;		/* rights ANDed above and including the PDE */
};

#define IOTLB_STATS(X)							\
	X(lookups) X(hits) X(misses) X(fills) X(evictions)		\
	X(inv_cmds) X(inv_entries) X(pde_lookups) X(pde_hits)		\
	X(pde_misses) X(pde_fills) X(pde_evictions) X(pde_inv_entries)

struct iotlb_stats {
#define IOTLB_STAT_FIELD(n) uint64_t n;
	IOTLB_STATS(IOTLB_STAT_FIELD)
#undef IOTLB_STAT_FIELD
};

/**
 * iotlb_create() - Allocate empty caches.
 * @cfg: geometry and replacement, validated here
 * @out: the new caches; untouched on error
 *
 * Return: 0; -EINVAL for a NULL argument, an unknown replacement policy,
 * a tag_lg2 other than 0 or 12..63, or, for a cache that is enabled,
 * entries that are not a power of two or ways that are 0, not a power of
 * two or more than the entries; -ENOMEM.
 */
int iotlb_create(const struct iotlb_cfg *cfg, struct iotlb **out);

/**
 * iotlb_destroy() - Free the caches.
 * @tlb: the caches, or NULL (nothing to do)
 */
void iotlb_destroy(struct iotlb *tlb);

/**
 * iotlb_lookup() - Look a device address up as the IOMMU would.
 * @tlb:   the IOTLB
 * @domid: domain tag from the device table entry
 * @iova:  device virtual address
 * @out:   filled on a hit (prot 0: a cached not-present result)
 *
 * Return: 0 on a hit, -ENOENT on a miss. Updates replacement state on hits.
 */
int iotlb_lookup(struct iotlb *tlb, domid_t domid, iova_t iova,
		 struct iotlb_entry *out);

/**
 * iotlb_fill() - Insert a translation, evicting per the replacement policy
 * when its set is full; an entry already cached for that page is updated
 * in place.
 * @tlb: the IOTLB
 * @e:   the translation; its addresses are aligned down to its size. A
 *       size below 4 KiB or of 2^64 is no AMD-Vi page: nothing is cached.
 *       Nothing is cached either when the IOTLB is disabled.
 */
void iotlb_fill(struct iotlb *tlb, const struct iotlb_entry *e);

/**
 * iotlb_pde_lookup() - The lowest-level cached table that covers @iova.
 * @tlb:   the caches
 * @domid: domain tag
 * @iova:  device address
 * @top:   paging mode; levels 1..top-1 are searched, deepest first
 * @out:   filled on a hit
 *
 * Return: 0 with @out filled, or -ENOENT (a miss, or the cache disabled).
 */
int iotlb_pde_lookup(struct iotlb *tlb, domid_t domid, iova_t iova,
		     unsigned top, struct iotlb_pde *out);

/**
 * iotlb_pde_fill() - Cache a pointer to a table.
 * @tlb: the caches
 * @p:   the table, its level (1..5; others are not cached) and the rights
 *       above it; @p->base is aligned down to the table's span
 */
void iotlb_pde_fill(struct iotlb *tlb, const struct iotlb_pde *p);

/**
 * iotlb_inv_range() - What INVALIDATE_IOMMU_PAGES does to the caches.
 * @tlb:      the caches
 * @domid:    the domain; other domains' entries stay
 * @start:    start of the block (aligned down to its size)
 * @size_lg2: the block is 2^@size_lg2 bytes; 64 or more: all of the domain
 * @pde:      drop page-directory entries whose span overlaps the block too
 *
 * Drops every IOTLB entry of @domid that overlaps the naturally aligned
 * block, whatever its page size.
 *
 * Return: entries dropped, both caches.
 */
unsigned iotlb_inv_range(struct iotlb *tlb, domid_t domid, iova_t start,
			 unsigned size_lg2, bool pde);

/**
 * iotlb_inv_all() - What INVALIDATE_IOMMU_ALL does: every entry of every
 * domain, both caches.
 * @tlb: the caches
 *
 * Return: entries dropped.
 */
unsigned iotlb_inv_all(struct iotlb *tlb);

/**
 * iotlb_entries() - The IOTLB's size.
 * @tlb: the caches
 *
 * Return: entries, as configured (0: disabled).
 */
unsigned iotlb_entries(const struct iotlb *tlb);

/**
 * iotlb_occupancy() - Valid IOTLB entries now (the PDE cache not counted).
 * @tlb: the caches
 *
 * Return: the count.
 */
unsigned iotlb_occupancy(const struct iotlb *tlb);

/**
 * iotlb_stats_get() - Copy the counters (IOTLB_STATS).
 * @tlb: the caches
 * @out: the counters
 */
void iotlb_stats_get(const struct iotlb *tlb, struct iotlb_stats *out);

/**
 * iotlb_stats_reset() - Zero the counters; the cached entries stay.
 * @tlb: the caches
 */
void iotlb_stats_reset(struct iotlb *tlb);

/**
 * iotlb_repl_name() - A replacement policy's name, as the command line
 * spells it.
 * @r: the policy
 *
 * Return: "lru", "random" or "reset"; "?" for a value out of range.
 */
const char *iotlb_repl_name(enum iotlb_repl r);

/**
 * iotlb_cfg_default() - The model's default geometry: the IOTLB of the
 * cost model's iotlb_entries and iotlb_ways (512 x 8 unless a cost file
 * says otherwise, e.g. one iob host reach fitted), LRU, and the default
 * page-directory cache.
 * @m:   the cost model (NULL: cost_current())
 * @cfg: overwritten
 */
void iotlb_cfg_default(const struct cost_model *m, struct iotlb_cfg *cfg);

/**
 * iotlb_cfg_qemu() - The geometry of QEMU 7.2's AMD IOMMU IOTLB: 1024
 * entries fully associative, emptied when full (IOTLB_REPL_RESET), 4 KiB
 * tags, no page-directory cache.
 * @cfg: overwritten
 */
void iotlb_cfg_qemu(struct iotlb_cfg *cfg);

/**
 * iotlb_repl_parse() - The replacement policy a name stands for.
 * @name: "lru", "random" or "reset", exactly
 *
 * Return: the policy, or -EINVAL for any other name.
 */
int iotlb_repl_parse(const char *name);

#endif /* IOB_IOTLB_H */
