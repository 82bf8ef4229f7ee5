// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hook's guest side: nothing to do. The hypervisor mirrored the p2m, so a
 * buffer's device address is its gfn's; map and unmap cost nothing and
 * protect nothing inside the domain.
 */
#include <errno.h>

#include "dps_impl.h"

static int hook_map(struct dps *p, const gfn_t *gfns, unsigned n, unsigned dir,
		    uint64_t *addr)
{
	(void)dir;
	if (!n)
		return -EINVAL;
	/* The table mirrors the p2m: a buffer must be gfn-contiguous to be one. */
	for (unsigned i = 1; i < n; i++)
		if (gfns[i] != gfns[0] + i)
			return -EINVAL;
	p->stats.maps++;
	*addr = gfns[0] << DPS_PAGE_LG2;
	return 0;
}

static int hook_unmap(struct dps *p, uint64_t addr, unsigned n)
{
	(void)addr;
	(void)n;
	p->stats.unmaps++;
	return 0;
}

static int hook_flush(struct dps *p)
{
	(void)p;
	return 0;
}

const struct dps_ops dps_hook_ops = {
	.name = "hook",
	.map = hook_map,
	.unmap = hook_unmap,
	.flush = hook_flush,
	.max_pages = HV_DMA_PAGES_MAX,
};
