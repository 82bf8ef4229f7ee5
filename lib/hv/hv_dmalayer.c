// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dmalayer: the guest calls dma_map(dev, gfns, dir) and gets an IOVA the
 * hypervisor chose from the domain's own allocator (Linux-shaped);
 * dma_unmap(iova, len) gives it back, in batches. Every page is verified,
 * every live mapping remembered by its IOVA.
 */
#include <errno.h>

#include <bsd/sys/tree.h>

#include <iob/alloc.h>
#include <iob/iova.h>

#include "hv_impl.h"

struct dma_node {
	RB_ENTRY(dma_node) rb;
	iova_t iova;
	uint16_t devid;
	unsigned dir;
	unsigned n;
	uint64_t mfn[];
};

static int dma_cmp(struct dma_node *a, struct dma_node *b)
{
	return a->iova < b->iova ? -1 : a->iova > b->iova;
}

RB_HEAD(dma_tree, dma_node);
/* RB_GENERATE_STATIC needs BSD's __unused, which libbsd leaves undefined. */
RB_GENERATE_INTERNAL(dma_tree, dma_node, rb, dma_cmp, static __attribute__((unused)))

struct dl_dom {
	struct iova *iova;
	struct dma_tree dmas;
};

static struct dl_dom *dl_of(const struct hv_domain *dm)
{
	return dm->priv;
}

static struct dma_node *dma_find(struct dl_dom *dl, iova_t iova)
{
	struct dma_node key = { .iova = iova };

	return RB_FIND(dma_tree, &dl->dmas, &key);
}

/* ---- map ------------------------------------------------------------------------------------ */

static int dma_map_check(const struct hv *hv, const struct hv_domain *dm, uint16_t devid,
			 const gfn_t *gfns, unsigned n, unsigned dir, const iova_t *out)
{
	if (hv_devowner(hv, devid) != dm->id)
		return -ENODEV;
	if (!gfns || !n || !out || !(dir & IOPT_PROT_RW) || (dir & ~IOPT_PROT_RW))
		return -EINVAL;
	if (n > HV_DMA_PAGES_MAX)
		return -EOVERFLOW;
	for (unsigned i = 0; i < n; i++) {
		int ret = hv_gfn_check(dm, gfns[i], dir);

		if (ret)
			return ret;
	}
	return 0;
}

/* Phase one: the node, tables, then the IOVA. */
static int dma_map_take(struct hv_domain *dm, unsigned n, struct dma_node **dn, iova_t *iova)
{
	int ret;

	*dn = iob_malloc(sizeof(**dn) + n * sizeof(uint64_t));
	if (!*dn)
		return -ENOMEM;
	/*
	 * Tables before the IOVA, for a range anywhere (one more table per
	 * level than from 0): an IOVA given back after a failure would stay
	 * in the per-CPU cache, and the call would not be all or nothing.
	 */
	ret = iopt_reserve(dm->pt, hv_iopt_map_bound(dm, 0, n) + iopt_levels(dm->pt) - 1);
	if (!ret) {
		uint64_t t1 = PATHCTR_START();

		ret = iova_alloc(dl_of(dm)->iova, 0, n, iova);
		PATHCTR_STOP(iova_alloc, t1);
	}
	if (ret) {
		iopt_unreserve(dm->pt);
		iob_free(*dn);
	}
	return ret;
}

static int dma_map(struct hv *hv, struct hv_domain *dm, uint16_t devid, const gfn_t *gfns,
		   unsigned n, unsigned dir, iova_t *out)
{
	struct dma_node *dn;
	iova_t iova;
	int ret = dma_map_check(hv, dm, devid, gfns, n, dir, out);

	if (!ret)
		ret = dma_map_take(dm, n, &dn, &iova);
	if (ret)
		return ret;
	dn->iova = iova;
	dn->devid = devid;
	dn->dir = dir;
	dn->n = n;
	/* Contiguous frames go in one map call, so superpages can form. */
	for (unsigned i = 0; i < n;) {
		unsigned run = 1;

		dn->mfn[i] = dm->p2m[gfns[i]];
		while (i + run < n && dm->p2m[gfns[i + run]] == dn->mfn[i] + run)
			dn->mfn[i + run] = dn->mfn[i] + run, run++;
		for (unsigned k = 0; k < run; k++) {
			int32_t h = hv_maptrack_of_gfn(dm, gfns[i + k]);

			frames_get(hv->fr, dn->mfn[i + k]);
			if (h >= 0)
				dm->mt[h].iommu_live++;
		}
		hv_iopt_map(hv, dm, (iova >> HV_PAGE_LG2) + i, dn->mfn[i], run, dir);
		i += run;
	}
	RB_INSERT(dma_tree, &dl_of(dm)->dmas, dn);
	iopt_unreserve(dm->pt);
	hv->stats.dma_maps++;
	*out = iova;
	return 0;
}

int hv_dma_map(struct hv *hv, domid_t d, uint16_t devid, const gfn_t *gfns, unsigned n,
	       unsigned dir, iova_t *out)
{
	struct hv_call c;
	int ret = hv_call_enter(hv, &c, HV_CALL_DMA, d, PATH_dma_map);

	if (!ret)
		ret = dma_map(hv, c.dm, devid, gfns, n, dir, out);
	return hv_call_exit(hv, &c, ret);
}

/* ---- unmap ---------------------------------------------------------------------------------- */

/* The flush released an unmap: its IOVA range may be handed out again. */
static void dma_released(struct hv *hv, struct hv_domain *dm, const struct hv_release *r,
			 unsigned cpu)
{
	(void)hv;
	iova_free(dl_of(dm)->iova, cpu, r->iova, r->pages);
}

/* Every segment a live mapping of @devid, none twice; @dn[i] its node. */
static int dma_unmap_check(const struct hv *hv, const struct hv_domain *dm, uint16_t devid,
			   const struct hv_dma_seg *segs, unsigned n, struct dma_node **dn)
{
	if (hv_devowner(hv, devid) != dm->id)
		return -ENODEV;
	if (!segs || !n)
		return -EINVAL;
	if (n > HV_BATCH_MAX)
		return -EOVERFLOW;
	for (unsigned i = 0; i < n; i++) {
		if (!segs[i].len || segs[i].len > ((uint64_t)HV_DMA_PAGES_MAX << HV_PAGE_LG2) ||
		    (segs[i].iova & (HV_PAGE - 1)))
			return -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (segs[j].iova == segs[i].iova)
				return -EINVAL;
		dn[i] = dma_find(dl_of(dm), segs[i].iova);
		if (!dn[i] || dn[i]->devid != devid ||
		    ((uint64_t)dn[i]->n << HV_PAGE_LG2) !=
			    ((segs[i].len + HV_PAGE - 1) & ~(HV_PAGE - 1)))
			return -ENOENT;
	}
	return 0;
}

/* Phase one: a release record per segment, and tables. */
static int dma_unmap_take(struct hv_domain *dm, struct dma_node *const *dn, unsigned n,
			  struct hv_release ***rel)
{
	int ret = 0;

	*rel = iob_calloc(n, sizeof(**rel));
	if (!*rel)
		return -ENOMEM;
	for (unsigned i = 0; i < n && !ret; i++)
		if (!((*rel)[i] = hv_release_new(dm->id, dn[i]->n)))
			ret = -ENOMEM;
	if (!ret)
		ret = iopt_reserve(dm->pt, n * hv_iopt_unmap_bound(dm));
	if (ret)
		hv_release_array_free(*rel, n);
	return ret;
}

static void dma_unmap_one(struct hv *hv, struct hv_domain *dm, struct dma_node *dn,
			  struct hv_release *r)
{
	uint64_t t1 = PATHCTR_START();

	for (unsigned k = 0; k < dn->n; k++) {
		r->pg[k].mfn = dn->mfn[k];
		/* A grant the frame came through stays pinned until the flush. */
		r->pg[k].mt = hv_maptrack_of_mfn(dm, dn->mfn[k], dn->dir);
		if (r->pg[k].mt >= 0) {
			dm->mt[r->pg[k].mt].iommu_live--;
			dm->mt[r->pg[k].mt].iommu_pending++;
		}
	}
	r->put_frames = true;
	r->done = dma_released;
	r->iova = dn->iova;
	r->pages = dn->n;
	RB_REMOVE(dma_tree, &dl_of(dm)->dmas, dn);
	hv_iopt_unmap(hv, dm, dn->iova >> HV_PAGE_LG2, dn->n, r);
	iob_free(dn);
	hv->stats.dma_unmaps++;
	PATHCTR_STOP(dma_unmap, t1);
}

static int dma_unmap(struct hv *hv, struct hv_domain *dm, uint16_t devid,
		     const struct hv_dma_seg *segs, unsigned n)
{
	struct dma_node *dn[HV_BATCH_MAX];
	struct hv_release **rel;
	int ret = dma_unmap_check(hv, dm, devid, segs, n, dn);

	if (!ret)
		ret = dma_unmap_take(dm, dn, n, &rel);
	if (ret)
		return ret;
	for (unsigned i = 0; i < n; i++)
		dma_unmap_one(hv, dm, dn[i], rel[i]);
	flush_batch_end(dm->fl);
	iopt_unreserve(dm->pt);
	iob_free(rel);
	return 0;
}

int hv_dma_unmap_batch(struct hv *hv, domid_t d, uint16_t devid, const struct hv_dma_seg *segs,
		       unsigned n)
{
	struct hv_call c;
	int ret = hv_call_enter(hv, &c, HV_CALL_DMA, d, PATH_hypercall);

	if (!ret)
		ret = dma_unmap(hv, c.dm, devid, segs, n);
	return hv_call_exit(hv, &c, ret);
}

int hv_dma_unmap(struct hv *hv, domid_t d, uint16_t devid, iova_t iova, uint64_t len)
{
	struct hv_dma_seg seg = { iova, len };

	return hv_dma_unmap_batch(hv, d, devid, &seg, 1);
}

/* ---- the domain's allocator and mappings -------------------------------------------------- */

static int dl_domain_init(struct hv *hv, struct hv_domain *dm)
{
	struct iova_cfg ic = {
		.granule_lg2 = HV_PAGE_LG2, .start = HV_PAGE,
		.limit = hv->cfg.dfn_limit << HV_PAGE_LG2, .rcache = true, .ncpus = hv->cfg.ncpus,
	};
	struct dl_dom *dl = iob_calloc(1, sizeof(*dl));
	int ret;

	if (!dl)
		return -ENOMEM;
	ret = iova_create(&ic, &dl->iova);
	if (ret) {
		iob_free(dl);
		return ret;
	}
	RB_INIT(&dl->dmas);
	dm->priv = dl;
	return 0;
}

/* Live mappings hold their frames; nothing is pending any more. */
static void dl_domain_fini(struct hv *hv, struct hv_domain *dm)
{
	struct dl_dom *dl = dl_of(dm);
	struct dma_node *dn, *next;

	RB_FOREACH_SAFE(dn, dma_tree, &dl->dmas, next) {
		for (unsigned i = 0; i < dn->n; i++)
			frames_put(hv->fr, dn->mfn[i]);
		RB_REMOVE(dma_tree, &dl->dmas, dn);
		iob_free(dn);
	}
	iova_destroy(dl->iova);
	iob_free(dl);
	dm->priv = NULL;
}

static uint64_t dl_fingerprint(const struct hv_domain *dm, uint64_t h)
{
	struct dma_node *dn;

	RB_FOREACH(dn, dma_tree, &dl_of(dm)->dmas) {
		h = hv_mix(hv_mix(h, dn->iova), dn->n);
		for (unsigned i = 0; i < dn->n; i++)
			h = hv_mix(h, dn->mfn[i]);
	}
	return h;
}

const struct hv_strategy_ops hv_dmalayer_ops = {
	.name = "dmalayer",
	.calls = HV_CALL_DMA,
	.domain_init = dl_domain_init,
	.domain_fini = dl_domain_fini,
	.fingerprint = dl_fingerprint,
};
