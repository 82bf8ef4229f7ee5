// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hook: the hypervisor mirrors every p2m change of a domain into its I/O
 * page table (dfn = gfn), from the first device assignment on, as Xen does
 * for a domain with a passed-through device. Granted frames are mapped the
 * way Xen maps them for a PV backend, at a bus address derived from the
 * frame (GRANT_DFN_BASE + mfn), one entry per frame however often it is
 * mapped, counted: the first mapping installs it, a writer upgrades it,
 * the last writer's leaving downgrades it, the last mapping removes it.
 */
#include <errno.h>

#include <bsd/sys/tree.h>

#include <iob/alloc.h>
#include <iob/warn.h>

#include "hv_impl.h"

/* One IOMMU entry per granted frame, counted. */
struct gmap_node {
	RB_ENTRY(gmap_node) rb;
	uint64_t mfn;
	uint32_t maps, writers;
};

static int gmap_cmp(struct gmap_node *a, struct gmap_node *b)
{
	return a->mfn < b->mfn ? -1 : a->mfn > b->mfn;
}

RB_HEAD(gmap_tree, gmap_node);
/* RB_GENERATE_STATIC needs BSD's __unused, which libbsd leaves undefined. */
RB_GENERATE_INTERNAL(gmap_tree, gmap_node, rb, gmap_cmp, static __attribute__((unused)))

struct hook_dom {
	bool mirrored;		/* a device was assigned: the table mirrors the p2m */
	struct gmap_tree gmaps;
};

static struct hook_dom *hook_of(const struct hv_domain *dm)
{
	return dm->priv;
}

static struct gmap_node *gmap_find(struct hook_dom *hd, uint64_t mfn)
{
	struct gmap_node key = { .mfn = mfn };

	return RB_FIND(gmap_tree, &hd->gmaps, &key);
}

static int hook_domain_init(struct hv *hv, struct hv_domain *dm)
{
	struct hook_dom *hd = iob_calloc(1, sizeof(*hd));

	(void)hv;
	if (!hd)
		return -ENOMEM;
	RB_INIT(&hd->gmaps);
	dm->priv = hd;
	return 0;
}

static void hook_domain_fini(struct hv *hv, struct hv_domain *dm)
{
	struct hook_dom *hd = hook_of(dm);
	struct gmap_node *gn, *next;

	(void)hv;
	RB_FOREACH_SAFE(gn, gmap_tree, &hd->gmaps, next) {
		RB_REMOVE(gmap_tree, &hd->gmaps, gn);
		iob_free(gn);
	}
	iob_free(hd);
	dm->priv = NULL;
}

/*
 * The first device makes the hypervisor build the table from the p2m, as
 * Xen does when a device is assigned to a running domain.
 */
static int hook_device_assign(struct hv *hv, struct hv_domain *dm, uint16_t devid)
{
	struct hook_dom *hd = hook_of(dm);
	uint64_t tables = 0;
	int ret;

	if (hd->mirrored)
		return hv_device_translated(hv, dm, devid);
	for (gfn_t g = 0; g < dm->max_gfn; g++)
		if (dm->type[g] == P2M_RAM)
			tables += 1;
	for (uint32_t h = 0; h < dm->nmt; h++)
		if (dm->mt[h].in_use)
			return -EBUSY;	/* grants first mapped without a device: keep it simple */
	ret = iopt_reserve(dm->pt, tables ? hv_iopt_map_bound(dm, 0, dm->max_gfn) : 0);
	if (ret)
		return ret;
	for (gfn_t g = 0; g < dm->max_gfn;) {
		uint64_t run = 1;

		if (dm->type[g] != P2M_RAM) {
			g++;
			continue;
		}
		while (g + run < dm->max_gfn && dm->type[g + run] == P2M_RAM &&
		       dm->p2m[g + run] == dm->p2m[g] + run)
			run++;
		hv_iopt_map(hv, dm, g, dm->p2m[g], run, IOPT_PROT_RW);
		g += run;
	}
	iopt_unreserve(dm->pt);
	hd->mirrored = true;
	return hv_device_translated(hv, dm, devid);
}

/* ---- the p2m, mirrored ------------------------------------------------------------------- */

static uint64_t hook_p2m_add_tables(const struct hv_domain *dm, gfn_t gfn, uint64_t pages)
{
	return hook_of(dm)->mirrored ? hv_iopt_map_bound(dm, gfn, pages) : 0;
}

static void hook_p2m_added(struct hv *hv, struct hv_domain *dm, gfn_t gfn, uint64_t mfn,
			   uint64_t pages)
{
	if (hook_of(dm)->mirrored)
		hv_iopt_map(hv, dm, gfn, mfn, pages, IOPT_PROT_RW);
}

static uint64_t hook_unmap_tables(const struct hv_domain *dm)
{
	return hook_of(dm)->mirrored ? hv_iopt_unmap_bound(dm) : 0;
}

static bool hook_p2m_removed(struct hv *hv, struct hv_domain *dm, gfn_t gfn,
			     struct hv_release *r)
{
	/* Not mirrored: no IOMMU entry to wait for, the frame goes now. */
	if (!hook_of(dm)->mirrored)
		return false;
	hv_iopt_unmap(hv, dm, gfn, 1, r);
	return true;
}

/*
 * Xen's PV rule: a page typed as a page table leaves the IOMMU table (the
 * device must not write it), with its flush at once: the type change is
 * no batch's (iommu_legacy_unmap outside iommu_batch_begin/end).
 */
static void hook_pv_retyped(struct hv *hv, struct hv_domain *dm, gfn_t gfn, bool table)
{
	if (!hook_of(dm)->mirrored)
		return;
	if (table)
		hv_iopt_unmap_now(hv, dm, gfn, 1);
	else
		hv_iopt_map(hv, dm, gfn, dm->p2m[gfn], 1, IOPT_PROT_RW);
}

/* ---- grants: one entry per frame in the grant window ---------------------------------------- */

static int hook_grant_map_prepare(struct hv *hv, struct hv_domain *gd, uint64_t mfn,
				  struct hv_grant_prep *prep)
{
	struct hook_dom *hd = hook_of(gd);
	struct gmap_node *fresh = NULL;
	int ret;

	(void)hv;
	if (!hd->mirrored)
		return 0;
	if (!gmap_find(hd, mfn) && !(fresh = iob_calloc(1, sizeof(*fresh))))
		return -ENOMEM;
	ret = iopt_reserve(gd->pt, hv_iopt_map_bound(gd, GRANT_DFN_BASE + mfn, 1));
	if (ret) {
		iob_free(fresh);
		return ret;
	}
	prep->node = fresh;
	return 0;
}

static uint64_t hook_grant_mapped(struct hv *hv, struct hv_domain *gd, uint64_t mfn, bool ro,
				  struct hv_grant_prep *prep)
{
	struct hook_dom *hd = hook_of(gd);
	struct gmap_node *gn = prep->node;
	uint64_t dfn = GRANT_DFN_BASE + mfn;

	if (!hd->mirrored)
		return 0;
	/* Xen's rule: the first mapping installs, a writer upgrades. */
	if (gn) {
		gn->mfn = mfn;
		RB_INSERT(gmap_tree, &hd->gmaps, gn);
		hv_iopt_map(hv, gd, dfn, mfn, 1, ro ? IOPT_PROT_READ : IOPT_PROT_RW);
	} else {
		gn = gmap_find(hd, mfn);
		if (!ro && !gn->writers) {
			/* Read-only entry becomes read-write: replace it. */
			hv_iopt_unmap(hv, gd, dfn, 1, NULL);
			hv_iopt_map(hv, gd, dfn, mfn, 1, IOPT_PROT_RW);
		}
	}
	gn->maps++;
	if (!ro)
		gn->writers++;
	flush_batch_end(gd->fl);
	iopt_unreserve(gd->pt);
	return dfn << HV_PAGE_LG2;
}

/* @r is freed once released, which strict mode does inside hv_iopt_unmap(). */
static bool hook_grant_unmapped(struct hv *hv, struct hv_domain *gd, const struct hv_maptrack *mt,
				struct hv_release *r)
{
	struct hook_dom *hd = hook_of(gd);
	struct gmap_node *gn;
	uint64_t mfn = mt->mfn, dfn = GRANT_DFN_BASE + mfn;
	bool drop, downgrade;

	if (!hd->mirrored || IOB_WARN_ON(!(gn = gmap_find(hd, mfn))))
		return false;
	drop = gn->maps == 1;
	downgrade = !drop && !mt->ro && gn->writers == 1;
	gn->maps--;
	if (!mt->ro)
		gn->writers--;
	if (drop) {
		RB_REMOVE(gmap_tree, &hd->gmaps, gn);
		iob_free(gn);
		hv_iopt_unmap(hv, gd, dfn, 1, r);
		return true;
	}
	if (downgrade) {
		/* The last writer went: the entry drops to read-only. */
		hv_iopt_unmap(hv, gd, dfn, 1, r);
		hv_iopt_map(hv, gd, dfn, mfn, 1, IOPT_PROT_READ);
		hv->stats.grant_downgrades++;
		return true;
	}
	return false;
}

static uint64_t hook_fingerprint(const struct hv_domain *dm, uint64_t h)
{
	struct hook_dom *hd = hook_of(dm);
	struct gmap_node *gn;

	h = hv_mix(h, hd->mirrored);
	RB_FOREACH(gn, gmap_tree, &hd->gmaps)
		h = hv_mix(hv_mix(hv_mix(h, gn->mfn), gn->maps), gn->writers);
	return h;
}

const struct hv_strategy_ops hv_hook_ops = {
	.name = "hook",
	.domain_init = hook_domain_init,
	.domain_fini = hook_domain_fini,
	.device_assign = hook_device_assign,
	.p2m_add_tables = hook_p2m_add_tables,
	.p2m_added = hook_p2m_added,
	.unmap_tables = hook_unmap_tables,
	.p2m_removed = hook_p2m_removed,
	.pv_retyped = hook_pv_retyped,
	.grant_map_prepare = hook_grant_map_prepare,
	.grant_mapped = hook_grant_mapped,
	.grant_unmapped = hook_grant_unmapped,
	.fingerprint = hook_fingerprint,
};
