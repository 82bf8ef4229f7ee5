// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A domain's I/O page table as the hypervisor updates it: the tables a
 * call must reserve before it changes anything, map and unmap of a range
 * with the flush the mode asks for, and the release records an unmap
 * hands to the flush policy, given back only once the invalidation that
 * covers them completed.
 */
#include <errno.h>

#include <iob/alloc.h>
#include <iob/warn.h>

#include "hv_impl.h"

/* ---- release records ------------------------------------------------------------------ */

struct hv_release *hv_release_new(domid_t d, unsigned n)
{
	struct hv_release *r = iob_calloc(1, sizeof(*r) + n * sizeof(struct hv_release_page));

	if (r) {
		r->d = d;
		r->n = n;
		for (unsigned i = 0; i < n; i++)
			r->pg[i].mt = -1;
	}
	return r;
}

void hv_release_array_free(struct hv_release **rel, uint64_t n)
{
	for (uint64_t i = 0; rel && i < n; i++)
		iob_free(rel[i]);
	iob_free(rel);
}

struct hv_release **hv_release_array(domid_t d, uint64_t n)
{
	struct hv_release **rel = iob_calloc(n, sizeof(*rel));

	for (uint64_t i = 0; rel && i < n; i++)
		if (!(rel[i] = hv_release_new(d, 1))) {
			hv_release_array_free(rel, n);
			return NULL;
		}
	return rel;
}

void hv_release_done(struct hv *hv, struct hv_release *r, unsigned cpu)
{
	struct hv_domain *dm = &hv->dom[r->d];

	for (unsigned i = 0; i < r->n; i++) {
		int32_t h = r->pg[i].mt;

		frames_pending_dec(hv->fr, r->pg[i].mfn);
		if (r->put_frames)
			frames_put(hv->fr, r->pg[i].mfn);
		if (h >= 0 && !IOB_WARN_ON((uint32_t)h >= dm->nmt || !dm->mt[h].iommu_pending))
			dm->mt[h].iommu_pending--;
	}
	if (r->has_grant) {
		struct hv_domain *g = &hv->dom[r->granter];

		if (!IOB_WARN_ON(r->gref >= g->ngnt || !g->gnt[r->gref].pins))
			g->gnt[r->gref].pins--;
	}
	if (r->done)
		r->done(hv, dm, r, cpu);
	iob_free(r);
}

void hv_release_now(struct hv *hv, struct hv_release *r)
{
	for (unsigned i = 0; i < r->n; i++)
		frames_pending_inc(hv->fr, r->pg[i].mfn);
	hv_release_done(hv, r, 0);
}

/* Called by the flush policy once the invalidation covering @fr completed. */
static void release_flushed(void *ctx, unsigned cpu, const struct flush_release *fr)
{
	hv_release_done(ctx, fr->obj, cpu);
}

/* ---- table reservation bounds ------------------------------------------------------------ */

/*
 * Tables that a map or unmap of this range could allocate at worst: per
 * level below the root, the tables the range touches plus two splits.
 */
uint64_t hv_iopt_map_bound(const struct hv_domain *dm, uint64_t dfn, uint64_t pages)
{
	unsigned levels = iopt_levels(dm->pt);
	uint64_t n = 0;

	for (unsigned l = 1; l < levels; l++) {
		unsigned span = amdvi_level_shift(l) + AMDVI_PT_ENTRIES_LG2 - HV_PAGE_LG2;
		uint64_t first = dfn >> span, last = (dfn + pages - 1) >> span;

		n += last - first + 1;
	}
	return n;
}

/*
 * Tables an unmap can allocate: only splits of superpages, one table per
 * superpage level at each end of the range; none without superpages.
 */
uint64_t hv_iopt_unmap_bound(const struct hv_domain *dm)
{
	if (!(iopt_pgsize_bitmap(dm->pt) & ~IOPT_PGSIZE_4K))
		return 0;
	return 2ULL * (iopt_levels(dm->pt) - 2);
}

/* ---- map and unmap ------------------------------------------------------------------------ */

void hv_iopt_map(struct hv *hv, struct hv_domain *dm, uint64_t dfn, uint64_t mfn,
		 uint64_t pages, unsigned prot)
{
	struct iopt_gather g;
	uint64_t t0 = PATHCTR_START();
	int ret;

	bool xen = hv->cfg.tune.policy == INVAL_XEN;

	/* Xen flushes a coalesced table at once, outside any batch (IOMMU_FLUSHF_all). */
	if (xen)
		flush_gather_init_now(dm->fl, &g);
	else
		flush_gather_init(dm->fl, &g);
	ret = iopt_map(dm->pt, dfn << HV_PAGE_LG2, mfn << HV_PAGE_LG2, pages << HV_PAGE_LG2, prot,
		       hv->cfg.tune.superpages ? &g : NULL);
	PATHCTR_STOP(map, t0);
	IOB_WARN_ON(ret);
	hv->stats.iommu_maps++;
	/* Coalescing freed tables: their PDE-cache entries must go first. */
	if ((g.freelist.head || g.pending) && xen)
		flush_unmapped_now(dm->fl, hv->cpu, &g);
	else if (g.freelist.head || g.pending)
		flush_unmapped(dm->fl, hv->cpu, &g, NULL);
	if (hv->cfg.np_cache)
		flush_mapped(dm->fl, dfn << HV_PAGE_LG2, pages << HV_PAGE_LG2);
}

void hv_iopt_unmap(struct hv *hv, struct hv_domain *dm, uint64_t dfn, uint64_t pages,
		   struct hv_release *rel)
{
	struct iopt_gather g;
	struct flush_release fr = { .fn = release_flushed, .ctx = hv, .obj = rel };
	uint64_t t0 = PATHCTR_START();
	int ret;

	flush_gather_init(dm->fl, &g);
	ret = iopt_unmap(dm->pt, dfn << HV_PAGE_LG2, pages << HV_PAGE_LG2, &g, NULL);
	PATHCTR_STOP(unmap, t0);
	IOB_WARN_ON(ret);
	hv->stats.iommu_unmaps++;
	if (rel)
		for (unsigned i = 0; i < rel->n; i++)
			frames_pending_inc(hv->fr, rel->pg[i].mfn);
	flush_unmapped(dm->fl, hv->cpu, &g, rel ? &fr : NULL);
}

void hv_iopt_unmap_now(struct hv *hv, struct hv_domain *dm, uint64_t dfn, uint64_t pages)
{
	struct iopt_gather g;
	uint64_t t0 = PATHCTR_START();
	int ret;

	flush_gather_init_now(dm->fl, &g);
	ret = iopt_unmap(dm->pt, dfn << HV_PAGE_LG2, pages << HV_PAGE_LG2, &g, NULL);
	PATHCTR_STOP(unmap, t0);
	IOB_WARN_ON(ret);
	hv->stats.iommu_unmaps++;
	flush_unmapped_now(dm->fl, hv->cpu, &g);
}
