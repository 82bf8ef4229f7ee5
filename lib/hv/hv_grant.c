// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Grant tables: a domain grants access to a page of its own, another maps
 * it (a maptrack entry in the grantee, a pin on the grant), and unmaps it
 * again in batches. What a grant map means for the grantee's devices is
 * the strategy's (hook maps the frame; pv and dmalayer leave it to the
 * grantee's own hypercalls, whose rules about grant mappings live here).
 */
#include <errno.h>

#include <iob/alloc.h>

#include "hv_impl.h"

/* ---- granting -------------------------------------------------------------------------- */

int hv_grant_access(struct hv *hv, domid_t granter, domid_t grantee, gfn_t gfn,
		    bool readonly, grant_ref_t *ref)
{
	struct hv_domain *dm = hv_dom(hv, granter);
	uint32_t r;

	if (!dm || !hv_dom(hv, grantee))
		return -ESRCH;
	if (granter == grantee || !ref)
		return -EINVAL;
	if (gfn >= dm->max_gfn || dm->type[gfn] != P2M_RAM)
		return -ENOENT;
	for (r = 0; r < dm->ngnt; r++)
		if (!dm->gnt[r].in_use)
			break;
	if (r == dm->ngnt) {
		struct hv_grant *ng;

		if (dm->ngnt >= (1U << 20))
			return -ENOSPC;
		ng = iob_realloc(dm->gnt, (dm->ngnt + 1) * sizeof(*ng));
		if (!ng)
			return -ENOMEM;
		dm->gnt = ng;
		dm->ngnt++;
	}
	dm->gnt[r] = (struct hv_grant){ true, readonly, grantee, gfn, 0 };
	*ref = r;
	return 0;
}

int hv_grant_end(struct hv *hv, domid_t granter, grant_ref_t ref)
{
	struct hv_domain *dm = hv_dom(hv, granter);

	if (!dm)
		return -ESRCH;
	if (ref >= dm->ngnt || !dm->gnt[ref].in_use)
		return -EINVAL;
	if (dm->gnt[ref].pins)
		return -EBUSY;
	dm->gnt[ref].in_use = false;
	return 0;
}

/* ---- mapping ----------------------------------------------------------------------------- */

static int grant_map_check(struct hv_domain *gd, struct hv_domain *rd, domid_t grantee,
			   grant_ref_t ref, bool readonly, gfn_t host_gfn,
			   const grant_handle_t *handle)
{
	const struct hv_grant *ge;

	if (!rd)
		return -ESRCH;
	if (!handle || host_gfn >= gd->max_gfn)
		return -EINVAL;
	if (ref >= rd->ngnt || !rd->gnt[ref].in_use)
		return -ENOENT;
	ge = &rd->gnt[ref];
	if (ge->grantee != grantee)
		return -EPERM;
	if (ge->ro && !readonly)
		return -EACCES;
	if (gd->p2m[host_gfn] != INVALID_MFN)
		return -EEXIST;
	if (rd->p2m[ge->gfn] == INVALID_MFN || rd->type[ge->gfn] != P2M_RAM)
		return -ENOENT;
	return 0;
}

/*
 * Phase one: a maptrack slot and what the strategy needs. A new slot is
 * counted in phase two, so a failure leaves nmt as it was. *@h the slot.
 */
static int grant_map_take(struct hv *hv, struct hv_domain *gd, uint64_t mfn, uint32_t *h,
			  struct hv_grant_prep *prep)
{
	int ret = 0;

	for (*h = 0; *h < gd->nmt; ++*h)
		if (!gd->mt[*h].in_use)
			break;
	if (*h == gd->nmt) {
		struct hv_maptrack *nm = iob_realloc(gd->mt, (gd->nmt + 1) * sizeof(*nm));

		if (!nm)
			return -ENOMEM;
		gd->mt = nm;
	}
	if (hv->ops->grant_map_prepare)
		ret = hv->ops->grant_map_prepare(hv, gd, mfn, prep);
	if (ret && !gd->nmt) {
		/* The table was grown from nothing: give it back. */
		iob_free(gd->mt);
		gd->mt = NULL;
	}
	return ret;
}

static int grant_map(struct hv *hv, struct hv_domain *gd, domid_t granter, grant_ref_t ref,
		     bool readonly, gfn_t host_gfn, grant_handle_t *handle, uint64_t *dev_bus_addr)
{
	struct hv_domain *rd = hv_dom(hv, granter);
	struct hv_grant_prep prep = { NULL };
	uint64_t mfn, bus = 0;
	uint32_t h;
	int ret = grant_map_check(gd, rd, gd->id, ref, readonly, host_gfn, handle);

	if (ret)
		return ret;
	mfn = rd->p2m[rd->gnt[ref].gfn];
	ret = grant_map_take(hv, gd, mfn, &h, &prep);
	if (ret)
		return ret;

	/* Phase two. */
	if (h == gd->nmt)
		gd->nmt++;
	frames_get(hv->fr, mfn);
	rd->gnt[ref].pins++;
	gd->mt[h] = (struct hv_maptrack){ true, readonly, granter, ref, host_gfn, mfn, 0, 0 };
	hv_p2m_set(hv, gd, host_gfn, mfn, readonly ? P2M_GRANT_RO : P2M_GRANT_RW);
	if (hv->ops->grant_mapped)
		bus = hv->ops->grant_mapped(hv, gd, mfn, readonly, &prep);
	hv->stats.grant_maps++;
	*handle = h;
	if (dev_bus_addr)
		*dev_bus_addr = bus;
	return 0;
}

int hv_grant_map(struct hv *hv, domid_t grantee, domid_t granter, grant_ref_t ref,
		 bool readonly, gfn_t host_gfn, grant_handle_t *handle,
		 uint64_t *dev_bus_addr)
{
	struct hv_call c;
	int ret = hv_call_enter(hv, &c, 0, grantee, PATH_grant_map);

	if (!ret)
		ret = grant_map(hv, c.dm, granter, ref, readonly, host_gfn, handle, dev_bus_addr);
	return hv_call_exit(hv, &c, ret);
}

/* ---- unmapping ---------------------------------------------------------------------------- */

/* Phase two of one grant unmap; @r was allocated in phase one. */
static void grant_unmap_commit(struct hv *hv, struct hv_domain *gd, grant_handle_t handle,
			       struct hv_release *r)
{
	struct hv_maptrack *mt = &gd->mt[handle];
	uint64_t t0 = PATHCTR_START();

	hv_p2m_set(hv, gd, mt->host_gfn, INVALID_MFN, P2M_INVALID);
	r->pg[0].mfn = mt->mfn;
	r->put_frames = true;
	r->has_grant = true;
	r->granter = mt->granter;
	r->gref = mt->ref;
	mt->in_use = false;
	/* No IOMMU change (or none the strategy made): nothing can be stale, release now. */
	if (!hv->ops->grant_unmapped || !hv->ops->grant_unmapped(hv, gd, mt, r))
		hv_release_now(hv, r);
	hv->stats.grant_unmaps++;
	PATHCTR_STOP(grant_unmap, t0);
}

/* Every handle mapped, none twice, none used by a device mapping. *@pending: flush first. */
static int grant_unmap_check(const struct hv_domain *gd, const grant_handle_t *handles,
			     unsigned n, bool *pending)
{
	if (!handles || !n)
		return -EINVAL;
	if (n > HV_BATCH_MAX)
		return -EOVERFLOW;
	for (unsigned i = 0; i < n; i++) {
		grant_handle_t h = handles[i];

		if (h >= gd->nmt || !gd->mt[h].in_use)
			return -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (handles[j] == h)
				return -EINVAL;
		if (gd->mt[h].iommu_live)
			return -EBUSY;
		*pending |= gd->mt[h].iommu_pending != 0;
	}
	return 0;
}

static int grant_unmap(struct hv *hv, struct hv_domain *gd, const grant_handle_t *handles,
		       unsigned n)
{
	uint64_t tables = 0;
	struct hv_release **rel;
	bool pending = false;
	int ret = grant_unmap_check(gd, handles, n, &pending);

	if (ret)
		return ret;
	for (unsigned i = 0; hv->ops->unmap_tables && i < n; i++)
		tables += hv->ops->unmap_tables(gd);
	rel = hv_release_array(gd->id, n);
	if (!rel)
		return -ENOMEM;
	ret = iopt_reserve(gd->pt, tables);
	if (ret) {
		hv_release_array_free(rel, n);
		return ret;
	}
	/*
	 * A device mapping of the granted frame is gone but its invalidation
	 * has not completed (lazy, batched): wait for it before the grant goes
	 * back, or the frontend could reuse a page a device still reaches.
	 */
	if (pending) {
		flush_sync(gd->fl);
		hv->stats.grant_forced_syncs++;
	}
	for (unsigned i = 0; i < n; i++)
		grant_unmap_commit(hv, gd, handles[i], rel[i]);
	flush_batch_end(gd->fl);
	iopt_unreserve(gd->pt);
	iob_free(rel);
	return 0;
}

int hv_grant_unmap_batch(struct hv *hv, domid_t grantee, const grant_handle_t *handles,
			 unsigned n)
{
	struct hv_call c;
	int ret = hv_call_enter(hv, &c, 0, grantee, PATH_hypercall);

	if (!ret)
		ret = grant_unmap(hv, c.dm, handles, n);
	return hv_call_exit(hv, &c, ret);
}

int hv_grant_unmap(struct hv *hv, domid_t grantee, grant_handle_t handle)
{
	return hv_grant_unmap_batch(hv, grantee, &handle, 1);
}

/* ---- the rules pv and dmalayer share about what a device may reach ------------------------ */

int hv_gfn_check(const struct hv_domain *dm, gfn_t gfn, unsigned prot)
{
	if (gfn >= dm->max_gfn || dm->p2m[gfn] == INVALID_MFN)
		return -EPERM;
	switch (dm->type[gfn]) {
	case P2M_RAM:
	case P2M_GRANT_RW:
		return 0;
	case P2M_GRANT_RO:
		return (prot & IOPT_PROT_WRITE) ? -EACCES : 0;
	default:
		return -EPERM;
	}
}

int32_t hv_maptrack_of_gfn(const struct hv_domain *dm, gfn_t gfn)
{
	if (dm->type[gfn] == P2M_RAM)
		return -1;
	for (uint32_t h = 0; h < dm->nmt; h++)
		if (dm->mt[h].in_use && dm->mt[h].host_gfn == gfn)
			return (int32_t)h;
	return -1;
}

/*
 * A frame mapped through a writable and a read-only grant at once: a
 * writable mapping must count against a writable grant, and a read-only
 * one against a read-only grant when there is one, or unmapping the
 * read-only mapping would let the writable grant go while a writable
 * device mapping of it remains.
 */
int32_t hv_maptrack_of_mfn(const struct hv_domain *dm, uint64_t mfn, unsigned prot)
{
	int32_t writer = -1;

	for (uint32_t h = 0; h < dm->nmt; h++) {
		const struct hv_maptrack *mt = &dm->mt[h];

		if (!mt->in_use || mt->mfn != mfn || !mt->iommu_live)
			continue;
		if (mt->ro == !(prot & IOPT_PROT_WRITE))
			return (int32_t)h;
		if (!mt->ro)
			writer = (int32_t)h;
	}
	return writer;
}
