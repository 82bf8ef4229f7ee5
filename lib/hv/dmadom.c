// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A DMA domain: IOVA allocation, page-table update, invalidation policy,
 * in the order Linux's iommu_dma_map_page()/iommu_dma_unmap_page() use.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <iob/alloc.h>
#include <iob/dmadom.h>
#include <iob/pathctr.h>

struct dmadom {
	struct dmadom_cfg cfg;
	struct iommu *mmu;
	struct iopt *pt;
	struct iova *iova;
	struct flush *flush;
	/*
	 * Held around each page-table call only when the table cannot be
	 * shared: coalescing or reclaiming change tables that other CPUs'
	 * ranges share. Otherwise every CPU maps and unmaps its own IOVAs
	 * at once, as Linux's drivers do (with the lock, 2 threads of
	 * `iob dmamap` spent about a fifth of their time in it).
	 */
	bool locked;
	pthread_spinlock_t pt_lock;
};

int dmadom_create(const struct dmadom_cfg *cfg, struct dmadom **out)
{
	struct dmadom *d;
	int ret;

	if (!cfg || !cfg->mmu || !out)
		return -EINVAL;
	d = iob_calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	struct iopt_cfg pc = cfg->pt;

	d->cfg = *cfg;
	d->mmu = cfg->mmu;
	if (!(pc.flags & (IOPT_F_COALESCE | IOPT_F_RECLAIM)))
		pc.flags |= IOPT_F_SHARED;
	d->locked = !(pc.flags & IOPT_F_SHARED);
	pthread_spin_init(&d->pt_lock, PTHREAD_PROCESS_PRIVATE);
	ret = iopt_create(&pc, &d->pt);
	if (!ret)
		ret = iova_create(&cfg->iova, &d->iova);
	if (!ret)
		ret = flush_create(&cfg->flush, d->mmu, d->pt, cfg->domid, &d->flush);
	if (!ret)
		ret = iommu_dte_set(d->mmu, cfg->devid, cfg->domid, iopt_root(d->pt),
				    iopt_levels(d->pt), IOPT_PROT_RW);
	if (ret) {
		flush_destroy(d->flush);
		iova_destroy(d->iova);
		iopt_destroy(d->pt);
		pthread_spin_destroy(&d->pt_lock);
		iob_free(d);
		return ret;
	}
	/* The IOMMU caches DTEs: tell it this one changed. */
	iommu_flush_dte(d->mmu, cfg->devid);
	iommu_completion_wait(d->mmu);
	*out = d;
	return 0;
}

void dmadom_destroy(struct dmadom *d)
{
	if (!d)
		return;
	flush_destroy(d->flush);
	iommu_dte_block(d->mmu, d->cfg.devid);
	iommu_flush_dte(d->mmu, d->cfg.devid);
	iommu_flush_domain(d->mmu, d->cfg.domid);
	iommu_completion_wait(d->mmu);
	iova_destroy(d->iova);
	iopt_destroy(d->pt);
	pthread_spin_destroy(&d->pt_lock);
	iob_free(d);
}

struct iopt *dmadom_iopt(struct dmadom *d)
{
	return d->pt;
}

struct iova *dmadom_iova(struct dmadom *d)
{
	return d->iova;
}

struct flush *dmadom_flush(struct dmadom *d)
{
	return d->flush;
}

static inline uint64_t granule(const struct dmadom *d)
{
	return 1ULL << d->cfg.iova.granule_lg2;
}

int dmadom_map(struct dmadom *d, unsigned cpu, paddr_t pa, uint64_t len,
	       unsigned prot, iova_t *out)
{
	uint64_t g = granule(d);
	uint64_t off = pa & (g - 1);
	uint64_t size, t0 = PATHCTR_START(), t1;
	iova_t iova;
	int ret;

	if (!len || len > (1ULL << 40) || !(prot & IOPT_PROT_RW))
		return -EINVAL;
	size = (len + off + g - 1) & ~(g - 1);
	t1 = PATHCTR_START();
	ret = iova_alloc(d->iova, cpu, size / g, &iova);
	PATHCTR_STOP(iova_alloc, t1);
	if (ret)
		return ret;
	t1 = PATHCTR_START();
	if (d->locked)
		pthread_spin_lock(&d->pt_lock);
	ret = iopt_map(d->pt, iova, pa - off, size, prot, NULL);
	if (d->locked)
		pthread_spin_unlock(&d->pt_lock);
	PATHCTR_STOP(map, t1);
	if (ret) {
		iova_free(d->iova, cpu, iova, size / g);
		return ret;
	}
	if (d->cfg.flush_on_map)
		flush_mapped(d->flush, iova, size);
	*out = iova + off;
	PATHCTR_STOP(dma_map, t0);
	return 0;
}

static void release_iova(void *ctx, unsigned cpu, const struct flush_release *rel)
{
	struct dmadom *d = ctx;
	uint64_t t0 = PATHCTR_START();

	iova_free(d->iova, cpu, rel->iova, rel->pages);
	PATHCTR_STOP(iova_free, t0);
}

int dmadom_unmap(struct dmadom *d, unsigned cpu, iova_t iova, uint64_t len)
{
	uint64_t g = granule(d);
	uint64_t off = iova & (g - 1);
	uint64_t base = iova - off, size, unmapped = 0, t0 = PATHCTR_START(), t1;
	struct iopt_gather gather;
	struct flush_release rel;
	int ret;

	if (!len || len > (1ULL << 40))
		return -EINVAL;
	size = (len + off + g - 1) & ~(g - 1);
	flush_gather_init(d->flush, &gather);
	t1 = PATHCTR_START();
	if (d->locked)
		pthread_spin_lock(&d->pt_lock);
	ret = iopt_unmap(d->pt, base, size, &gather, &unmapped);
	if (d->locked)
		pthread_spin_unlock(&d->pt_lock);
	PATHCTR_STOP(unmap, t1);
	if (ret)
		return ret;
	if (unmapped != size) {
		/* Not (wholly) ours: flush what went, give nothing back. */
		flush_unmapped(d->flush, cpu, &gather, NULL);
		return -EINVAL;
	}
	rel = (struct flush_release){ .fn = release_iova, .ctx = d, .iova = base, .pages = size / g };
	flush_unmapped(d->flush, cpu, &gather, &rel);
	PATHCTR_STOP(dma_unmap, t0);
	return 0;
}
