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

struct iotlb;

enum iotlb_repl {
	IOTLB_REPL_LRU,
	IOTLB_REPL_RANDOM,
	IOTLB_REPL_NR
};

struct iotlb_cfg {
	unsigned entries;	/* power of two; 0 disables the IOTLB */
	unsigned ways;		/* power of two dividing @entries; == entries: fully associative */
	enum iotlb_repl repl;
	uint64_t seed;		/* for IOTLB_REPL_RANDOM */
	unsigned pde_entries;	/* page-directory cache; 0 disables it */
	unsigned pde_ways;
};

#define IOTLB_DEFAULT_ENTRIES		512
#define IOTLB_DEFAULT_WAYS		8
#define IOTLB_DEFAULT_PDE_ENTRIES	64
#define IOTLB_DEFAULT_PDE_WAYS		4

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
 * Return: 0, -EINVAL (sizes not powers of two, ways not dividing entries,
 * unknown replacement), -ENOMEM.
 */
int iotlb_create(const struct iotlb_cfg *cfg, struct iotlb **out);
void iotlb_destroy(struct iotlb *tlb);

/**
 * iotlb_lookup() - Look a device address up as the IOMMU would.
 * @tlb:   the IOTLB
 * @domid: domain tag from the device table entry
 * @iova:  device virtual address
 * @out:   filled on a hit
 *
 * Return: 0 on a hit, -ENOENT on a miss. Updates replacement state on hits.
 */
int iotlb_lookup(struct iotlb *tlb, domid_t domid, iova_t iova,
		 struct iotlb_entry *out);

/*
 * iotlb_fill() - Insert a translation, evicting per the replacement policy.
 * A size below 4 KiB or of 2^64 is no AMD-Vi page: nothing is cached.
 */
void iotlb_fill(struct iotlb *tlb, const struct iotlb_entry *e);

/**
 * iotlb_pde_lookup() - The lowest-level cached table that covers @iova.
 * @top: paging mode; levels 1..top-1 are searched, deepest first
 * Return: 0 with @out filled, or -ENOENT.
 */
int iotlb_pde_lookup(struct iotlb *tlb, domid_t domid, iova_t iova,
		     unsigned top, struct iotlb_pde *out);
void iotlb_pde_fill(struct iotlb *tlb, const struct iotlb_pde *p);

/*
 * iotlb_inv_range() - Drop every entry of @domid that overlaps the
 * naturally aligned block [@start, @start + 2^@size_lg2) (@size_lg2 >= 64:
 * all of the domain); with @pde, page-directory entries whose span
 * overlaps it too. Returns the entries dropped.
 */
unsigned iotlb_inv_range(struct iotlb *tlb, domid_t domid, iova_t start,
			 unsigned size_lg2, bool pde);
/* Every entry of every domain, both caches. */
unsigned iotlb_inv_all(struct iotlb *tlb);

unsigned iotlb_entries(const struct iotlb *tlb);
/* Valid entries now held (IOTLB only). */
unsigned iotlb_occupancy(const struct iotlb *tlb);

void iotlb_stats_get(const struct iotlb *tlb, struct iotlb_stats *out);
void iotlb_stats_reset(struct iotlb *tlb);

const char *iotlb_repl_name(enum iotlb_repl r);
int iotlb_repl_parse(const char *name);

#endif /* IOB_IOTLB_H */
