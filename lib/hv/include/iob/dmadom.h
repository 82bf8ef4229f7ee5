/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dmadom: a DMA domain as an IOMMU-aware DMA layer runs it (Linux's
 * dma-iommu, and the suite's "dmalayer" strategy in the hypervisor): the
 * layer picks the IOVA, maps it in the domain's I/O page table, and on
 * unmap invalidates per the flush mode before the IOVA may be reused.
 *
 * One device, one domain, one page table, one IOVA allocator, one flush
 * policy; the IOMMU may be shared between domains.
 *
 * Calling rules: dmadom_map() and dmadom_unmap() may run on several
 * threads at once if the IOMMU was created with cfg.shared and each
 * thread passes its own @cpu (below cfg.iova.ncpus and cfg.flush.ncpus).
 * The page table is shared without a lock (created with IOPT_F_SHARED:
 * each thread maps and unmaps only its own IOVAs), unless cfg.pt asks for
 * IOPT_F_COALESCE or IOPT_F_RECLAIM, which change tables other threads'
 * ranges share: then one lock serializes its calls. Create and destroy
 * run alone.
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
	struct iopt_cfg pt;		/* IOPT_F_SHARED is added unless it cannot be */
	struct iova_cfg iova;		/* limit: the device's DMA mask + 1 */
	struct flush_cfg flush;
	/*
	 * Invalidate after every map: what Linux does when the IOMMU caches
	 * not-present entries (NpCache, set by QEMU's AMD IOMMU).
	 */
	bool flush_on_map;
};

/**
 * dmadom_create() - Build the domain and point @cfg->devid's DTE at it.
 * @cfg: the IOMMU, device, domain ID, and the page table, IOVA allocator
 *       and flush configurations (each validated by its module)
 * @out: the new domain; untouched on error
 *
 * The DTE change is invalidated and waited for before this returns: the
 * device translates through the (empty) table from then on.
 *
 * Return: 0; -EINVAL for a NULL @cfg, @cfg->mmu or @out, or a
 * configuration iopt_create(), iova_create() or flush_create() refuses;
 * -ENOMEM. On error the DTE is unchanged and nothing leaked.
 */
int dmadom_create(const struct dmadom_cfg *cfg, struct dmadom **out);

/**
 * dmadom_destroy() - Release what is pending (flush_destroy()), block the
 * device (iommu_dte_block()), invalidate its DTE and the whole domain,
 * wait, then free everything.
 * @d: the domain, or NULL (nothing to do)
 */
void dmadom_destroy(struct dmadom *d);

/**
 * dmadom_map() - dma_map_single(): map [@pa, @pa + @len) for the device.
 * @d:    the domain
 * @cpu:  the calling CPU (IOVA magazines, flush statistics), below
 *        cfg.iova.ncpus
 * @pa:   any byte address: whole granules around it are mapped
 * @len:  bytes, 1 to 2^40
 * @prot: IOPT_PROT_READ (to the device), _WRITE (from it) or both
 * @out:  the device address, with @pa's offset in its granule
 *
 * Allocates the IOVA (rounded as iova_round() says), maps it with the
 * largest leaves the alignment allows, and with cfg.flush_on_map
 * invalidates the range and waits.
 *
 * Return: 0; -EINVAL for a @len of 0 or above 2^40, @prot without a right
 * or with other bits, @cpu out of range, a physical range past 2^52, or an
 * IOVA limit beyond the table's reach; -ENOSPC when no IOVA range is left
 * below the limit; -ENOMEM. On error nothing is mapped, and an IOVA
 * taken for the call is freed again (with magazines, into this CPU's,
 * where it stays cached as any freed IOVA does).
 */
int dmadom_map(struct dmadom *d, unsigned cpu, paddr_t pa, uint64_t len,
	       unsigned prot, iova_t *out);

/**
 * dmadom_unmap() - dma_unmap_single() of what dmadom_map() returned.
 * @d:    the domain
 * @cpu:  the calling CPU, as for dmadom_map(); lazy mode queues on it
 * @iova: the address dmadom_map() returned
 * @len:  the length given to dmadom_map() (the IOVA is given back for
 *        this length: iova_free() trusts it)
 *
 * The translation goes at once; the invalidation and the IOVA's release
 * follow the flush mode: strict invalidates and waits, then frees the
 * IOVA; batched sends the invalidation and frees at flush_batch_end();
 * lazy queues it until the queue fills or times out (flush.h). An IOVA
 * is never reused before the invalidation covering it completed.
 *
 * Return: 0; -EINVAL for a @len of 0 or above 2^40, a range past the
 * table's reach, or a range that was not wholly mapped: whatever was
 * mapped in it is unmapped and invalidated all the same, and no IOVA is
 * given back (Linux warns and carries on alike; even with nothing mapped,
 * the call goes through the flush policy: a completion wait in strict
 * mode, a pending entry in batched and lazy); -ENOMEM when the range
 * cuts a larger leaf (a @len other than the map's) and the split cannot
 * get a table, with nothing changed.
 */
int dmadom_unmap(struct dmadom *d, unsigned cpu, iova_t iova, uint64_t len);

/**
 * dmadom_iopt() - The domain's I/O page table, for inspection.
 * @d: the domain
 *
 * Return: the table, owned by @d.
 */
struct iopt *dmadom_iopt(struct dmadom *d);

/**
 * dmadom_iova() - The domain's IOVA allocator, for its statistics.
 * @d: the domain
 *
 * Return: the allocator, owned by @d.
 */
struct iova *dmadom_iova(struct dmadom *d);

/**
 * dmadom_flush() - The domain's invalidation policy: flush_batch_end(),
 * flush_poll(), flush_sync() and statistics go through it.
 * @d: the domain
 *
 * Return: the flush state, owned by @d.
 */
struct flush *dmadom_flush(struct dmadom *d);

#endif /* IOB_DMADOM_H */
