/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dmadom: a DMA domain as an IOMMU-aware DMA layer runs it (Linux's
 * dma-iommu, and the suite's "dmalayer" strategy in the hypervisor): the
 * layer picks the IOVA, maps it in the domain's I/O page table, and on
 * unmap invalidates per the flush mode before the IOVA may be reused.
 *
 * One device, one domain, one page table, one IOVA allocator, one flush
 * policy; the IOMMU may be shared between domains.
 */
#ifndef IOB_DMADOM_H
#define IOB_DMADOM_H

#include <stdbool.h>
#include <stdint.h>

#include <iob/flush.h>
#include <iob/iommu.h>
#include <iob/iopt.h>
#include <iob/iova.h>

struct dmadom;

struct dmadom_cfg {
	struct iommu *mmu;
	uint16_t devid;
	domid_t domid;
	struct iopt_cfg pt;
	struct iova_cfg iova;		/* limit: the device's DMA mask + 1 */
	struct flush_cfg flush;
	/*
	 * Invalidate after every map: what Linux does when the IOMMU caches
	 * not-present entries (NpCache, set by QEMU's AMD IOMMU).
	 */
	bool flush_on_map;
};

/**
 * dmadom_create() - Build the domain and point @devid's DTE at it.
 * Return: 0, -EINVAL, -ENOMEM.
 */
int dmadom_create(const struct dmadom_cfg *cfg, struct dmadom **out);
/* dmadom_destroy() - Flush what is pending, block the device, free all. */
void dmadom_destroy(struct dmadom *d);

/**
 * dmadom_map() - dma_map_single(): map [@pa, @pa + @len) for the device.
 * @cpu:  the calling CPU (IOVA magazines, flush queue)
 * @prot: IOPT_PROT_READ (to the device), _WRITE (from it) or both
 * @out:  the device address, with @pa's offset in its page
 * Return: 0, -EINVAL, -ENOSPC (no IOVA), -ENOMEM.
 */
int dmadom_map(struct dmadom *d, unsigned cpu, paddr_t pa, uint64_t len,
	       unsigned prot, iova_t *out);

/**
 * dmadom_unmap() - dma_unmap_single() of what dmadom_map() returned.
 * Return: 0, or -EINVAL for a range this domain did not hand out.
 */
int dmadom_unmap(struct dmadom *d, unsigned cpu, iova_t iova, uint64_t len);

struct iopt *dmadom_iopt(struct dmadom *d);
struct iova *dmadom_iova(struct dmadom *d);
struct flush *dmadom_flush(struct dmadom *d);

#endif /* IOB_DMADOM_H */
