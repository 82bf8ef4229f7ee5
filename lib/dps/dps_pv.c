// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pv's guest side: the guest picks device frame numbers from an IOVA
 * allocator of its own and asks the hypervisor to map them; unmaps wait in
 * a queue and go in batches of up to cfg.batch per hypercall, never more
 * than HV_BATCH_MAX pages in one.
 */
#include <errno.h>

#include <iob/alloc.h>
#include <iob/iova.h>

#include "dps_impl.h"

static struct iova *dfns_of(const struct dps *p)
{
	return p->priv;
}

static int pv_issue(struct dps *p)
{
	uint64_t dfns[HV_BATCH_MAX];
	unsigned k = 0;
	int ret;

	if (!p->nq)
		return 0;
	for (unsigned i = 0; i < p->nq; i++)
		for (unsigned j = 0; j < p->q[i].n; j++)
			dfns[k++] = (p->q[i].addr >> DPS_PAGE_LG2) + j;
	ret = hv_pv_unmap(p->cfg.hv, p->cfg.dom, dfns, k);
	p->stats.unmap_calls++;
	if (ret) {
		/* Refused whole: nothing was unmapped, and the batch is dropped, or it would
		 * refuse every batch after it. */
		p->stats.errors++;
		p->nq = 0;
		return ret;
	}
	/* The hypervisor owns the invalidation; the guest may reuse the dfns. */
	for (unsigned i = 0; i < p->nq; i++)
		iova_free(dfns_of(p), p->cfg.cpu, p->q[i].addr, p->q[i].n);
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
	ret = iova_alloc(dfns_of(p), p->cfg.cpu, n, &a);
	if (ret)
		return ret;
	for (unsigned i = 0; i < n; i++)
		ops[i] = (struct hv_pv_map_op){ gfns[i], (a >> DPS_PAGE_LG2) + i, dir };
	ret = hv_pv_map(p->cfg.hv, p->cfg.dom, ops, n);
	p->stats.map_calls++;
	if (ret) {
		iova_free(dfns_of(p), p->cfg.cpu, a, n);
		p->stats.errors++;
		return ret;
	}
	p->stats.maps++;
	*addr = a;
	return 0;
}

static int pv_unmap(struct dps *p, uint64_t addr, unsigned n)
{
	if (!n || n > HV_BATCH_MAX)
		return -EINVAL;
	return dps_defer_unmap(p, addr, n, pv_issue, HV_BATCH_MAX);
}

static int pv_flush(struct dps *p)
{
	int ret = pv_issue(p);

	hv_batch_end(p->cfg.hv, p->cfg.dom);
	return ret;
}

static int pv_init(struct dps *p)
{
	struct iova_cfg ic = {
		.granule_lg2 = DPS_PAGE_LG2,
		.start = 1ULL << DPS_PAGE_LG2,
		.limit = hv_config(p->cfg.hv)->dfn_limit << DPS_PAGE_LG2,
		.rcache = true,
		.ncpus = p->cfg.cpu + 1,
	};
	struct iova *iv;
	int ret = iova_create(&ic, &iv);

	if (!ret)
		p->priv = iv;
	return ret;
}

static void pv_fini(struct dps *p)
{
	iova_destroy(dfns_of(p));
}

const struct dps_ops dps_pv_ops = {
	.name = "pv",
	.map = pv_map,
	.unmap = pv_unmap,
	.flush = pv_flush,
	.init = pv_init,
	.fini = pv_fini,
	.max_pages = HV_BATCH_MAX,
};
