// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dmalayer's guest side: the hypervisor picks the IOVA; unmaps wait in a
 * queue and go in batches of up to cfg.batch per hypercall.
 */
#include <errno.h>

#include "dps_impl.h"

static int dl_issue(struct dps *p)
{
	struct hv_dma_seg segs[HV_BATCH_MAX];
	int ret;

	if (!p->nq)
		return 0;
	for (unsigned i = 0; i < p->nq; i++)
		segs[i] = (struct hv_dma_seg){ p->q[i].addr, (uint64_t)p->q[i].n << DPS_PAGE_LG2 };
	ret = hv_dma_unmap_batch(p->cfg.hv, p->cfg.dom, p->cfg.devid, segs, p->nq);
	p->stats.unmap_calls++;
	if (ret) {
		/* Refused whole: nothing was unmapped, and the batch is dropped, or it would
		 * refuse every batch after it. */
		p->stats.errors++;
		p->nq = 0;
		return ret;
	}
	p->nq = 0;
	return 0;
}

static int dl_map(struct dps *p, const gfn_t *gfns, unsigned n, unsigned dir, uint64_t *addr)
{
	int ret = hv_dma_map(p->cfg.hv, p->cfg.dom, p->cfg.devid, gfns, n, dir, addr);

	p->stats.map_calls++;
	if (ret) {
		p->stats.errors++;
		return ret;
	}
	p->stats.maps++;
	return 0;
}

static int dl_unmap(struct dps *p, uint64_t addr, unsigned n)
{
	if (!n || n > HV_DMA_PAGES_MAX)
		return -EINVAL;
	return dps_defer_unmap(p, addr, n, dl_issue, UINT32_MAX);
}

static int dl_flush(struct dps *p)
{
	int ret = dl_issue(p);

	hv_batch_end(p->cfg.hv, p->cfg.dom);
	return ret;
}

const struct dps_ops dps_dmalayer_ops = {
	.name = "dmalayer",
	.map = dl_map,
	.unmap = dl_unmap,
	.flush = dl_flush,
	.max_pages = HV_DMA_PAGES_MAX,
};
