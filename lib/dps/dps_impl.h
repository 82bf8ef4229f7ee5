/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dps_impl.h: what the strategies' guest sides share. Private to lib/dps
 * (not installed).
 *
 *   dps.c           creation, the strategy table, deferred unmaps, stats
 *   dps_hook.c, dps_pv.c, dps_dmalayer.c, dps_swiotlb.c
 *                   one strategy's DMA API each, behind struct dps_ops
 */
#ifndef IOB_DPS_IMPL_H
#define IOB_DPS_IMPL_H

#include <iob/dps.h>

#define DPS_PAGE	AMDVI_PAGE_SIZE
#define DPS_PAGE_LG2	AMDVI_PAGE_SIZE_LG2

struct dps_deferred {
	uint64_t addr;
	unsigned n;
};

struct dps {
	struct dps_cfg cfg;
	const struct dps_ops *ops;
	struct dps_deferred *q;		/* unmaps waiting for their hypercall */
	unsigned nq;
	void *priv;			/* the strategy's own (its init) */
	struct dps_stats stats;
};

/**
 * dps_defer_unmap() - Queue an unmap for a batched hypercall, which @issue
 * makes (emptying the queue): first if the queue is full or would pass
 * @max_pages, and again once it holds cfg.batch unmaps (at once when
 * cfg.batch <= 1).
 * @p:         the DMA API
 * @addr:      the device address
 * @n:         its pages
 * @issue:     the strategy's batched unmap hypercall
 * @max_pages: pages one hypercall takes at most
 *
 * Return: 0, or what @issue returned.
 */
int dps_defer_unmap(struct dps *p, uint64_t addr, unsigned n, int (*issue)(struct dps *),
		    unsigned max_pages);

extern const struct dps_ops dps_hook_ops, dps_pv_ops, dps_dmalayer_ops, dps_swiotlb_ops;

#endif /* IOB_DPS_IMPL_H */
