// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The guest's DMA API: which strategy's ops a guest gets, the queue of
 * deferred unmaps pv and dmalayer share, statistics.
 */
#include <errno.h>

#include <iob/alloc.h>

#include "dps_impl.h"

/*
 * The strategies' guest sides, by enum hv_strategy. Adding one: a file
 * with its struct dps_ops and an entry here (its hypervisor side: hv.c).
 */
static const struct dps_ops *const dps_strategies[HV_STRATEGY_NR] = {
	[HV_HOOK] = &dps_hook_ops,
	[HV_PV] = &dps_pv_ops,
	[HV_DMALAYER] = &dps_dmalayer_ops,
	[HV_SWIOTLB] = &dps_swiotlb_ops,
};

int dps_create(const struct dps_cfg *cfg, struct dps **out)
{
	struct dps *p;
	int ret = 0;

	if (!cfg || !cfg->hv || !out || cfg->batch > HV_BATCH_MAX)
		return -EINVAL;
	p = iob_calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = *cfg;
	p->ops = dps_strategies[hv_config(cfg->hv)->strategy];
	p->q = iob_calloc(HV_BATCH_MAX, sizeof(*p->q));
	if (!p->q)
		ret = -ENOMEM;
	if (!ret && p->ops->init)
		ret = p->ops->init(p);
	if (ret) {
		iob_free(p->q);
		iob_free(p);
		return ret;
	}
	*out = p;
	return 0;
}

void dps_destroy(struct dps *p)
{
	if (!p)
		return;
	dps_flush(p);
	if (p->ops->fini)
		p->ops->fini(p);
	iob_free(p->q);
	iob_free(p);
}

const struct dps_ops *dps_ops_of(const struct dps *p)
{
	return p->ops;
}

unsigned dps_max_pages(const struct dps *p)
{
	return p->ops->max_pages;
}

unsigned dps_strategy_max_pages(enum hv_strategy s)
{
	return (unsigned)s < HV_STRATEGY_NR ? dps_strategies[s]->max_pages : 0;
}

uint64_t dps_boot_pages(enum hv_strategy s)
{
	return (unsigned)s < HV_STRATEGY_NR ? dps_strategies[s]->boot_pages : 0;
}

void dps_stats_get(const struct dps *p, struct dps_stats *out)
{
	*out = p->stats;
}

static unsigned queued_pages(const struct dps *p)
{
	unsigned k = 0;

	for (unsigned i = 0; i < p->nq; i++)
		k += p->q[i].n;
	return k;
}

int dps_defer_unmap(struct dps *p, uint64_t addr, unsigned n, int (*issue)(struct dps *),
		    unsigned max_pages)
{
	int ret;

	if (queued_pages(p) + n > max_pages || p->nq == (p->cfg.batch ? p->cfg.batch : 1)) {
		ret = issue(p);
		if (ret)
			return ret;
	}
	p->q[p->nq++] = (struct dps_deferred){ addr, n };
	p->stats.unmaps++;
	if (p->cfg.batch <= 1 || p->nq == p->cfg.batch)
		return issue(p);
	return 0;
}
