/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vfiomodel: what the model predicts Linux sends to the IOMMU for one VFIO
 * type1 call, from where the caller's memory sits physically.
 *
 * Linux 6.1's path (drivers/vfio/vfio_iommu_type1.c, drivers/iommu/iommu.c,
 * drivers/iommu/amd/iommu.c):
 *  - MAP_DMA pins the pages and calls iommu_map() once per run of
 *    physically contiguous pages (vfio_pin_map_dma); on an IOMMU that
 *    caches not-present entries (NpCache), every iommu_map() ends with a
 *    flush of its range, split into naturally aligned blocks
 *    (domain_flush_pages), and a completion wait. Without NpCache a map
 *    sends nothing.
 *  - UNMAP_DMA unmaps chunk by chunk into one gather (vfio_unmap_unpin,
 *    unmap_unpin_fast) and syncs every VFIO_IOMMU_TLB_SYNC_MAX (512)
 *    chunks and at the end: each sync invalidates the gathered range
 *    (NpCache: aligned blocks; otherwise one command for the naturally
 *    aligned range covering it) and waits once. A chunk is a physically
 *    contiguous run, unless the IOMMU has "fine-grained superpages"
 *    (vfio_test_domain_fgsp(): an 8 KiB mapping cannot be unmapped by
 *    halves, as on AMD's v1 table, which maps every power of two): then
 *    VFIO unmaps a page at a time, and each call takes away the whole
 *    IOMMU page there, whose size iommu_map() chose as the largest
 *    power of two the IOVA and the physical address are both aligned to
 *    (iommu_pgsize()). Checked against QEMU's command trace.
 * The block splitting is the model's own (lib/amdvi inval_split(): exact
 * for NpCache, merged otherwise).
 */
#ifndef IOB_HOST_VFIOMODEL_H
#define IOB_HOST_VFIOMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A physically contiguous run of a call's memory, by device address. */
struct vfiomodel_run {
	uint64_t iova, len;
	uint64_t pa;		/* where it starts in physical memory */
};

struct vfiomodel_counts {
	uint64_t inv_pages;		/* INVALIDATE_IOMMU_PAGES */
	uint64_t completion_waits;	/* COMPLETION_WAIT */
	uint64_t syncs;			/* flush-and-wait rounds */
};

#define VFIOMODEL_TLB_SYNC_MAX	512	/* VFIO_IOMMU_TLB_SYNC_MAX in Linux 6.1 */

/**
 * vfiomodel_map() - Commands of one MAP_DMA whose memory lies in @runs.
 * @runs:     the call's runs, in IOVA order
 * @n:        how many
 * @np_cache: the IOMMU caches not-present entries
 * @out:      the counts
 *
 * Return: 0, or -EINVAL for an empty or unaligned run.
 */
int vfiomodel_map(const struct vfiomodel_run *runs, size_t n, bool np_cache,
		  struct vfiomodel_counts *out);

/**
 * vfiomodel_unmap() - Commands of one UNMAP_DMA of a mapping made of @runs.
 * @runs:     the mapping's runs, in IOVA order and adjacent
 * @n:        how many
 * @np_cache: the IOMMU caches not-present entries
 * @pgsizes:  the page sizes the IOMMU domain offers (VFIO_IOMMU_GET_INFO)
 * @out:      the counts
 *
 * Return: 0, or -EINVAL for an empty, unaligned or non-adjacent run, or
 * @pgsizes without 4 KiB.
 */
int vfiomodel_unmap(const struct vfiomodel_run *runs, size_t n, bool np_cache,
		    uint64_t pgsizes, struct vfiomodel_counts *out);

/**
 * vfiomodel_pages() - How many IOMMU pages iommu_map() makes of a run:
 * repeatedly the largest size in @pgsizes that fits the rest and to which
 * both addresses are aligned.
 * @r:       the run
 * @pgsizes: the domain's page sizes (4 KiB must be one)
 *
 * Return: the number of pages, 0 for a bad run or bitmap.
 */
uint64_t vfiomodel_pages(const struct vfiomodel_run *r, uint64_t pgsizes);

/**
 * vfiomodel_runs() - Cut [@va, @va + @len), to be mapped at @iova, into
 * physically contiguous runs, from /proc/self/pagemap (4 KiB granules;
 * reading frame numbers needs CAP_SYS_ADMIN).
 * @va:   page-aligned, already touched
 * @len:  bytes, a multiple of 4 KiB
 * @iova: device address of @va
 * @runs: filled
 * @max:  capacity
 * @n:    runs found
 *
 * Return: 0; -EPERM (frame numbers read as zero: not root); -ENOENT (a
 * page not present); -ENOSPC (more than @max runs); or the -errno of the
 * read.
 */
int vfiomodel_runs(const void *va, uint64_t len, uint64_t iova, struct vfiomodel_run *runs,
		   size_t max, size_t *n);

#endif /* IOB_HOST_VFIOMODEL_H */
