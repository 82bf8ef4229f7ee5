/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dps: a guest's DMA API under one of the hypervisor's strategies, behind
 * one ops table, so that a workload is written once and runs under all of
 * them:
 *
 *  - hook:     the device address is the gfn itself (the hypervisor
 *              mirrored the p2m); map and unmap cost nothing and protect
 *              nothing inside the domain.
 *  - pv:       the guest picks device frame numbers from its own IOVA
 *              allocator and asks the hypervisor to map them; unmaps go
 *              in batches of up to @batch per hypercall.
 *  - dmalayer: the hypervisor picks the IOVA; unmaps go in batches too.
 *  - swiotlb:  no IOMMU: every buffer is bounced, its bytes copied, through
 *              a pool of machine-contiguous frames below 4 GiB the guest
 *              exchanged its boot memory for (xen-swiotlb, Linux's slot
 *              geometry); the device address is a machine address.
 *
 * Unmaps a guest defers for batching are issued at dps_flush() or when the
 * batch is full; until then the device can still reach the buffer, and the
 * exposure-window figures count that.
 */
#ifndef IOB_DPS_H
#define IOB_DPS_H

#include <stdint.h>

#include <iob/hv.h>

struct dps;

/*
 * One strategy's guest side. The calls below go through it; init and fini
 * are the strategy's own setup (pv: its dfn allocator; swiotlb: its pool),
 * NULL for none.
 */
struct dps_ops {
	const char *name;
	/* Map @n guest pages as one device-contiguous buffer; *@addr its start. */
	int (*map)(struct dps *p, const gfn_t *gfns, unsigned n, unsigned dir, uint64_t *addr);
	int (*unmap)(struct dps *p, uint64_t addr, unsigned n);
	/* Issue deferred unmaps and end the hypervisor's batch. */
	int (*flush)(struct dps *p);
	int (*init)(struct dps *p);
	void (*fini)(struct dps *p);
	unsigned max_pages;	/* largest buffer one map takes (Linux: dma_max_mapping_size) */
	uint64_t boot_pages;	/* RAM it takes at start by default (swiotlb's pool) */
};

struct dps_cfg {
	struct hv *hv;
	domid_t dom;
	uint16_t devid;
	unsigned batch;		/* unmaps per hypercall (pv, dmalayer); 0 or 1: none deferred */
	unsigned cpu;
	/* RAM of the domain the DMA API takes for itself at start (swiotlb: its
	 * pool, a multiple of 64 pages, 64-aligned); see dps_boot_pages(). */
	gfn_t boot_gfn;
	uint64_t boot_pages;
};

#define DPS_STATS(X) X(maps) X(unmaps) X(map_calls) X(unmap_calls) X(errors)

struct dps_stats {
#define DPS_STAT_FIELD(n) uint64_t n;
	DPS_STATS(DPS_STAT_FIELD)
#undef DPS_STAT_FIELD
};

/**
 * dps_create() - The DMA API of a domain's device under the hypervisor's
 * strategy.
 * @cfg: the hypervisor, the domain and its device, the unmap batch
 * @out: the DMA API
 *
 * Return: 0; -EINVAL (@cfg, its hypervisor or @out NULL, batch past
 * HV_BATCH_MAX; swiotlb: no boot memory, or not in whole 64-page segments,
 * or more than HV_BATCH_MAX of them); -ENOMEM; swiotlb: the errors of
 * hv_memory_exchange() for the boot memory (-ENOENT: not RAM; -EBUSY).
 * Nothing changed in the hypervisor on error.
 */
int dps_create(const struct dps_cfg *cfg, struct dps **out);

/**
 * dps_boot_pages() - The RAM a strategy's DMA API takes for itself at
 * start, by default: swiotlb's pool (64 MiB, Linux's IO_TLB_DEFAULT_SIZE),
 * 0 for the others. The caller populates that many pages and passes them
 * in dps_cfg.boot_gfn and .boot_pages.
 * @s: the strategy
 *
 * Return: pages.
 */
uint64_t dps_boot_pages(enum hv_strategy s);

/**
 * dps_max_pages() - The largest buffer one dps_map() takes: hook and
 * dmalayer HV_DMA_PAGES_MAX, pv HV_BATCH_MAX, swiotlb 64 (a 128-slot
 * segment of 2 KiB slots). A larger I/O is several mappings, as drivers
 * split by dma_max_mapping_size().
 * @p: the DMA API
 *
 * Return: pages.
 */
unsigned dps_max_pages(const struct dps *p);

/**
 * dps_strategy_max_pages() - dps_max_pages() of strategy @s, before any
 * DMA API exists (to refuse a configuration up front).
 * @s: the strategy
 *
 * Return: pages, 0 for a strategy that does not exist.
 */
unsigned dps_strategy_max_pages(enum hv_strategy s);

/**
 * dps_destroy() - Issue deferred unmaps and free.
 * @p: the DMA API, or NULL
 */
void dps_destroy(struct dps *p);

/**
 * dps_ops_of() - The strategy behind a DMA API.
 * @p: the DMA API
 *
 * Return: its ops.
 */
const struct dps_ops *dps_ops_of(const struct dps *p);

/**
 * dps_map() - dma_map of a buffer of whole pages.
 * @p:    the DMA API
 * @gfns: its pages, in device order (hook: gfn-contiguous)
 * @n:    pages, 1 .. dps_max_pages()
 * @dir:  IOPT_PROT_READ (the device reads it), _WRITE, or both
 * @addr: the device address of its first page
 *
 * Return: 0; -EINVAL (@n out of range, bad @dir, hook: pages not
 * contiguous); -EPERM (a page not the domain's RAM or a grant it maps),
 * -EACCES (a device write through a read-only grant), as the hypervisor
 * (pv, dmalayer) or the guest itself (swiotlb) finds them; -ENOSPC (no
 * device address or bounce slots left); -ENOMEM.
 */
static inline int dps_map(struct dps *p, const gfn_t *gfns, unsigned n, unsigned dir,
			  uint64_t *addr)
{
	return dps_ops_of(p)->map(p, gfns, n, dir, addr);
}

/**
 * dps_unmap() - dma_unmap of what dps_map() returned. pv and dmalayer may
 * defer it (cfg.batch): until it is issued the device still reaches the
 * buffer.
 * @p:    the DMA API
 * @addr: the device address
 * @n:    its pages
 *
 * Return: 0; -EINVAL (@n out of range); -ENOENT (not mapped: swiotlb at
 * once, pv and dmalayer when the batch is issued, in which case nothing of
 * the batch was unmapped and it is dropped); the hypervisor's other errors.
 */
static inline int dps_unmap(struct dps *p, uint64_t addr, unsigned n)
{
	return dps_ops_of(p)->unmap(p, addr, n);
}

/**
 * dps_flush() - Issue deferred unmaps and end the hypervisor's batch (its
 * completion wait in batched mode).
 * @p: the DMA API
 *
 * Return: 0, or the hypervisor's error for the issued unmaps (dropped).
 */
static inline int dps_flush(struct dps *p)
{
	return dps_ops_of(p)->flush(p);
}

/**
 * dps_stats_get() - The counters.
 * @p:   the DMA API
 * @out: filled
 */
void dps_stats_get(const struct dps *p, struct dps_stats *out);

#endif /* IOB_DPS_H */
