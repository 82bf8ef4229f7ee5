/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ptpage: pages for I/O page tables, and what software keeps about each.
 *
 * A table is exactly one 4 KiB page, all of it entries the IOMMU walks.
 * What software keeps about a table page (chain links, parent, level)
 * lives in a descriptor elsewhere, as Linux keeps it in the page's struct
 * page (struct ptdesc): 32 bytes per page, 0.8 % of it, found from the
 * page's address through a two-level directory (one pointer per GiB of
 * address space, one block of 512 descriptors per 2 MiB), whatever
 * allocator the page came from.
 *
 * The library's own pages come from a process-wide page cache: 2 MiB
 * chunks mapped from the system (transparent huge pages where the kernel
 * allows), carved into 4 KiB pages. A freed page goes back to the cache,
 * never to the C library or the system, so a burst of frees in one unmap
 * is not paid for again as page faults in the next map (glibc gives the
 * top of its heap back past 128 KiB free: a map of 4096 pages after an
 * unmap that freed 8 tables took 173 us instead of 1.5 us). The cache
 * only grows; it lives as long as the process. Each page handed out
 * counts as one allocation of <iob/alloc.h> (a failure-injection point,
 * live until freed); chunks and descriptors do not.
 *
 * Calling rules: every function may be called from any thread at once.
 * A page's descriptor belongs to whoever holds the page.
 */
#ifndef IOB_PTPAGE_H
#define IOB_PTPAGE_H

#include <stdint.h>

#define PTPAGE_BYTES		4096
/* Pages per cache chunk (2 MiB), and per descriptor block. */
#define PTPAGE_CHUNK_PAGES	512
/* Addresses a descriptor can be found for: the x86-64 user address space. */
#define PTPAGE_VA_LG2		47

/* What software keeps about a table page. */
struct ptpage {
	void *next;		/* freelists, and a map call's chain of new tables */
	void *next_full;	/* a map call's chain of tables it filled */
	uint64_t *parent;	/* the table holding our PDE; NULL for a root */
	uint16_t pidx;		/* index of our PDE in the parent */
	uint8_t level;		/* 1 (leaves only) to 6 */
	uint8_t flags;		/* the owner's */
	uint16_t ntables;	/* entries pointing to tables (changed atomically) */
	union {
		uint16_t hole;	/* coalescing tables: an entry that was empty when last looked at */
		uint16_t run;	/* other tables: chunks of 32 entries all present leaves (iopt.c) */
	};
};

struct ptpage_stats {
	uint64_t chunks;	/* 2 MiB chunks the cache took from the heap */
	uint64_t pages_out;	/* cache pages handed out and not yet back */
	uint64_t pages_cached;	/* free pages in the cache */
	uint64_t desc_blocks;	/* descriptor blocks (512 descriptors each) */
	uint64_t desc_bytes;	/* memory the descriptors and directory take */
};

/**
 * ptpage_alloc() - A 4 KiB page from the cache (contents undefined).
 *
 * Its descriptor exists (ptpage_of() finds it), contents undefined.
 *
 * Return: the page, 4 KiB aligned; NULL when this allocation is the one
 * iob_fail_after() makes fail, or the system has no memory for a chunk.
 */
void *ptpage_alloc(void);

/**
 * ptpage_free() - Give a page from ptpage_alloc() back to the cache.
 * @page: the page, or NULL (nothing to do)
 *
 * The page may be handed out again at once: no IOMMU may still walk it.
 */
void ptpage_free(void *page);

/**
 * ptpage_attach() - Make sure a page from any allocator has a descriptor.
 * @page: a 4 KiB aligned page below 2^PTPAGE_VA_LG2
 *
 * Descriptor blocks, once made, stay for the life of the process.
 *
 * Return: the descriptor (contents undefined); NULL if @page is not
 * aligned or out of range, or the system has no memory for a block.
 */
struct ptpage *ptpage_attach(const void *page);

/* The directory's top level, for ptpage_of() (ptpage.c keeps it). */
#define PTPAGE_DIR_TOP_LG2	30
extern struct ptpage **ptpage_dir[1UL << (PTPAGE_VA_LG2 - PTPAGE_DIR_TOP_LG2)];

/**
 * ptpage_of() - The descriptor of a page ptpage_attach() (or
 * ptpage_alloc()) has seen: two loads, inline, as virt_to_page().
 * @page: the page
 *
 * Return: its descriptor; never NULL for such a page.
 */
static inline struct ptpage *ptpage_of(const void *page)
{
	uintptr_t va = (uintptr_t)page;
	struct ptpage **mid = __atomic_load_n(&ptpage_dir[va >> PTPAGE_DIR_TOP_LG2],
					      __ATOMIC_ACQUIRE);
	struct ptpage *blk = __atomic_load_n(&mid[(va >> 21) & 511], __ATOMIC_ACQUIRE);

	return &blk[(va >> 12) & 511];
}

/**
 * ptpage_stats_get() - The cache's and the directory's counters.
 * @out: filled
 */
void ptpage_stats_get(struct ptpage_stats *out);

#endif /* IOB_PTPAGE_H */
