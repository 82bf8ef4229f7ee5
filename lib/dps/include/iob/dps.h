/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dps: a guest's DMA API under one of the three protection strategies,
 * behind one ops table, so that a workload is written once and runs under
 * all of them:
 *
 *  - hook:     the device address is the gfn itself (the hypervisor
 *              mirrored the p2m); map and unmap cost nothing and protect
 *              nothing inside the domain.
 *  - pv:       the guest picks device frame numbers from its own IOVA
 *              allocator and asks the hypervisor to map them; unmaps go
 *              in batches of up to @batch per hypercall.
 *  - dmalayer: the hypervisor picks the IOVA; unmaps go in batches too.
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

struct dps_ops {
	const char *name;
	/* Map @n guest pages as one device-contiguous buffer; *@addr its start. */
	int (*map)(struct dps *p, const gfn_t *gfns, unsigned n, unsigned dir, uint64_t *addr);
	int (*unmap)(struct dps *p, uint64_t addr, unsigned n);
	/* Issue deferred unmaps and end the hypervisor's batch. */
	int (*flush)(struct dps *p);
};

struct dps_cfg {
	struct hv *hv;
	domid_t dom;
	uint16_t devid;
	unsigned batch;		/* unmaps per hypercall (pv, dmalayer); 0 or 1: none deferred */
	unsigned cpu;
};

#define DPS_STATS(X) X(maps) X(unmaps) X(map_calls) X(unmap_calls) X(errors)

struct dps_stats {
#define DPS_STAT_FIELD(n) uint64_t n;
	DPS_STATS(DPS_STAT_FIELD)
#undef DPS_STAT_FIELD
};

/**
 * dps_create() - The DMA API of @cfg->dom's device under the hypervisor's
 * strategy. Return: 0, -EINVAL, -ENOMEM.
 */
int dps_create(const struct dps_cfg *cfg, struct dps **out);
/* dps_destroy() - Flush deferred unmaps and free. */
void dps_destroy(struct dps *p);

const struct dps_ops *dps_ops_of(const struct dps *p);

static inline int dps_map(struct dps *p, const gfn_t *gfns, unsigned n, unsigned dir,
			  uint64_t *addr)
{
	return dps_ops_of(p)->map(p, gfns, n, dir, addr);
}

static inline int dps_unmap(struct dps *p, uint64_t addr, unsigned n)
{
	return dps_ops_of(p)->unmap(p, addr, n);
}

static inline int dps_flush(struct dps *p)
{
	return dps_ops_of(p)->flush(p);
}

void dps_stats_get(const struct dps *p, struct dps_stats *out);

extern const struct dps_ops dps_hook_ops, dps_pv_ops, dps_dmalayer_ops;

#endif /* IOB_DPS_H */
