// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The guest side of the three strategies: what a guest's DMA API does to
 * get a device address for a buffer, and to give it back.
 */
#include <errno.h>
#include <string.h>

#include <iob/alloc.h>
#include <iob/dps.h>
#include <iob/iova.h>
#include <iob/pathctr.h>

struct deferred {
	uint64_t addr;
	unsigned n;
};

struct dps {
	struct dps_cfg cfg;
	const struct dps_ops *ops;
	struct iova *dfns;		/* pv: the guest's own device-frame allocator */
	struct deferred *q;		/* unmaps waiting for their hypercall */
	unsigned nq;
	struct dps_stats stats;
};

#define PAGE_LG2 AMDVI_PAGE_SIZE_LG2

/* ---- hook ----------------------------------------------------------------------- */

static int hook_map(struct dps *p, const gfn_t *gfns, unsigned n, unsigned dir,
		    uint64_t *addr)
{
	(void)dir;
	/* The table mirrors the p2m: a buffer must be gfn-contiguous to be one. */
	for (unsigned i = 1; i < n; i++)
		if (gfns[i] != gfns[0] + i)
			return -EINVAL;
	p->stats.maps++;
	*addr = gfns[0] << PAGE_LG2;
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

const struct dps_ops dps_hook_ops = { "hook", hook_map, hook_unmap, hook_flush };

/* ---- pv ---------------------------------------------------------------------------- */

static int pv_issue(struct dps *p)
{
	uint64_t dfns[HV_BATCH_MAX];
	unsigned k = 0;
	int ret;

	if (!p->nq)
		return 0;
	for (unsigned i = 0; i < p->nq; i++)
		for (unsigned j = 0; j < p->q[i].n; j++)
			dfns[k++] = (p->q[i].addr >> PAGE_LG2) + j;
	ret = hv_pv_unmap(p->cfg.hv, p->cfg.dom, dfns, k);
	p->stats.unmap_calls++;
	if (ret) {
		p->stats.errors++;
		return ret;
	}
	/* The hypervisor owns the invalidation; the guest may reuse the dfns. */
	for (unsigned i = 0; i < p->nq; i++)
		iova_free(p->dfns, p->cfg.cpu, p->q[i].addr, p->q[i].n);
	p->nq = 0;
	return 0;
}

static int pv_map(struct dps *p, const gfn_t *gfns, unsigned n, unsigned dir, uint64_t *addr)
{
	struct hv_pv_map_op ops[HV_BATCH_MAX];
	iova_t a;
	int ret;

	if (!n || n > HV_BATCH_MAX)
		return -EINVAL;
	ret = iova_alloc(p->dfns, p->cfg.cpu, n, &a);
	if (ret)
		return ret;
	for (unsigned i = 0; i < n; i++)
		ops[i] = (struct hv_pv_map_op){ gfns[i], (a >> PAGE_LG2) + i, dir };
	ret = hv_pv_map(p->cfg.hv, p->cfg.dom, ops, n);
	p->stats.map_calls++;
	if (ret) {
		iova_free(p->dfns, p->cfg.cpu, a, n);
		p->stats.errors++;
		return ret;
	}
	p->stats.maps++;
	*addr = a;
	return 0;
}

static unsigned queued_pages(const struct dps *p)
{
	unsigned k = 0;

	for (unsigned i = 0; i < p->nq; i++)
		k += p->q[i].n;
	return k;
}

static int defer_unmap(struct dps *p, uint64_t addr, unsigned n, int (*issue)(struct dps *),
		       unsigned max_pages)
{
	int ret;

	if (queued_pages(p) + n > max_pages || p->nq == (p->cfg.batch ? p->cfg.batch : 1)) {
		ret = issue(p);
		if (ret)
			return ret;
	}
	p->q[p->nq++] = (struct deferred){ addr, n };
	p->stats.unmaps++;
	if (p->cfg.batch <= 1 || p->nq == p->cfg.batch)
		return issue(p);
	return 0;
}

static int pv_unmap(struct dps *p, uint64_t addr, unsigned n)
{
	if (!n || n > HV_BATCH_MAX)
		return -EINVAL;
	return defer_unmap(p, addr, n, pv_issue, HV_BATCH_MAX);
}

static int pv_flush(struct dps *p)
{
	int ret = pv_issue(p);

	hv_batch_end(p->cfg.hv, p->cfg.dom);
	return ret;
}

const struct dps_ops dps_pv_ops = { "pv", pv_map, pv_unmap, pv_flush };

/* ---- dmalayer ------------------------------------------------------------------------- */

static int dl_issue(struct dps *p)
{
	struct hv_dma_seg segs[HV_BATCH_MAX];
	int ret;

	if (!p->nq)
		return 0;
	for (unsigned i = 0; i < p->nq; i++)
		segs[i] = (struct hv_dma_seg){ p->q[i].addr, (uint64_t)p->q[i].n << PAGE_LG2 };
	ret = hv_dma_unmap_batch(p->cfg.hv, p->cfg.dom, p->cfg.devid, segs, p->nq);
	p->stats.unmap_calls++;
	if (ret) {
		p->stats.errors++;
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
	return defer_unmap(p, addr, n, dl_issue, UINT32_MAX);
}

static int dl_flush(struct dps *p)
{
	int ret = dl_issue(p);

	hv_batch_end(p->cfg.hv, p->cfg.dom);
	return ret;
}

const struct dps_ops dps_dmalayer_ops = { "dmalayer", dl_map, dl_unmap, dl_flush };

/* ---- common ------------------------------------------------------------------------------ */

int dps_create(const struct dps_cfg *cfg, struct dps **out)
{
	struct dps *p;
	enum hv_strategy s;

	if (!cfg || !cfg->hv || !out || cfg->batch > HV_BATCH_MAX)
		return -EINVAL;
	s = hv_config(cfg->hv)->strategy;
	p = iob_calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = *cfg;
	p->ops = s == HV_HOOK ? &dps_hook_ops : s == HV_PV ? &dps_pv_ops : &dps_dmalayer_ops;
	p->q = iob_calloc(HV_BATCH_MAX, sizeof(*p->q));
	if (!p->q) {
		iob_free(p);
		return -ENOMEM;
	}
	if (s == HV_PV) {
		struct iova_cfg ic = {
			.granule_lg2 = PAGE_LG2,
			.start = 1ULL << PAGE_LG2,
			.limit = hv_config(cfg->hv)->dfn_limit << PAGE_LG2,
			.rcache = true,
			.ncpus = cfg->cpu + 1,
		};
		int ret = iova_create(&ic, &p->dfns);

		if (ret) {
			iob_free(p->q);
			iob_free(p);
			return ret;
		}
	}
	*out = p;
	return 0;
}

void dps_destroy(struct dps *p)
{
	if (!p)
		return;
	dps_flush(p);
	iova_destroy(p->dfns);
	iob_free(p->q);
	iob_free(p);
}

const struct dps_ops *dps_ops_of(const struct dps *p)
{
	return p->ops;
}

void dps_stats_get(const struct dps *p, struct dps_stats *out)
{
	*out = p->stats;
}
