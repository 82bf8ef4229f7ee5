// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The p2m and the memory operations that change it: populate_physmap,
 * increase and decrease reservation (ballooning), and exchange (what
 * xen_create_contiguous_region() asks for: frames below an address limit,
 * machine-contiguous). What the strategy does to the I/O page table at
 * each change is its p2m_* operations.
 */
#include <errno.h>

#include <iob/alloc.h>

#include "hv_impl.h"

void hv_p2m_set(struct hv *hv, struct hv_domain *dm, gfn_t gfn, uint64_t mfn, enum p2m_type t)
{
	uint64_t t0 = PATHCTR_START();

	dm->p2m[gfn] = mfn;
	dm->type[gfn] = (uint8_t)t;
	hv->stats.p2m_sets++;
	PATHCTR_STOP(p2m_set, t0);
}

/*
 * 2^@order pages, 0 for an order no call accepts: populate and decrease
 * compute it before their checks refuse the order, and a shift by 64 or
 * more is undefined (found by tests/fuzz/fuzz_hv.c under UBSan).
 */
static uint64_t extent_pages(unsigned order)
{
	return order < 64 ? 1ULL << order : 0;
}

static bool order_valid(unsigned order)
{
	return order == 0 || order == 9 || order == 18;
}

/* Extent @gfn of 2^@order pages lies in @dm (gfn first: gfn + np wraps near 2^64). */
static bool extent_in(const struct hv_domain *dm, gfn_t gfn, unsigned order)
{
	uint64_t np = 1ULL << order;

	return !(gfn & (np - 1)) && gfn < dm->max_gfn && gfn + np <= dm->max_gfn;
}

static bool extent_is(const struct hv_domain *dm, gfn_t gfn, unsigned order, bool ram)
{
	for (uint64_t i = 0; i < (1ULL << order); i++)
		if (ram ? dm->p2m[gfn + i] == INVALID_MFN || dm->type[gfn + i] != P2M_RAM
			: dm->p2m[gfn + i] != INVALID_MFN)
			return false;
	return true;
}

static uint64_t add_tables(const struct hv *hv, const struct hv_domain *dm, gfn_t gfn,
			   uint64_t pages)
{
	return hv->ops->p2m_add_tables ? hv->ops->p2m_add_tables(dm, gfn, pages) : 0;
}

static uint64_t unmap_tables(const struct hv *hv, const struct hv_domain *dm)
{
	return hv->ops->unmap_tables ? hv->ops->unmap_tables(dm) : 0;
}

static void added(struct hv *hv, struct hv_domain *dm, gfn_t gfn, uint64_t mfn, uint64_t pages)
{
	if (hv->ops->p2m_added)
		hv->ops->p2m_added(hv, dm, gfn, mfn, pages);
}

/* The RAM page @gfn, whose frame @r holds, left the p2m: the strategy's, or now. */
static void removed(struct hv *hv, struct hv_domain *dm, gfn_t gfn, struct hv_release *r)
{
	if (!hv->ops->p2m_removed || !hv->ops->p2m_removed(hv, dm, gfn, r))
		hv_release_now(hv, r);
}

/* ---- populate, increase reservation ------------------------------------------------------ */

static int populate_check(const struct hv_domain *dm, const gfn_t *gfns, unsigned n,
			  unsigned order)
{
	if (!gfns || !n || !order_valid(order))
		return -EINVAL;
	if (n > HV_BATCH_MAX)
		return -EOVERFLOW;
	for (unsigned e = 0; e < n; e++) {
		if (!extent_in(dm, gfns[e], order))
			return -EINVAL;
		if (!extent_is(dm, gfns[e], order, false))
			return -EEXIST;
		for (unsigned f = 0; f < e; f++)
			if (gfns[f] == gfns[e])
				return -EEXIST;
	}
	return 0;
}

/*
 * populate_physmap for @n extents: phase one checks them, reserves tables
 * and allocates every frame (giving all back if one allocation fails).
 */
static int populate(struct hv *hv, struct hv_domain *dm, const gfn_t *gfns, unsigned n,
		    unsigned order)
{
	uint64_t np = extent_pages(order), t0 = PATHCTR_START(), *mfn, tables = 0;
	unsigned got = 0;
	int ret = populate_check(dm, gfns, n, order);

	if (ret)
		return ret;
	mfn = iob_calloc(n, sizeof(*mfn));
	if (!mfn)
		return -ENOMEM;
	for (unsigned e = 0; e < n; e++)
		tables += add_tables(hv, dm, gfns[e], np);
	ret = iopt_reserve(dm->pt, tables);
	for (; !ret && got < n; got++) {
		mfn[got] = gfns[got];
		ret = dm->identity ? frames_alloc_at(hv->fr, order, dm->id, gfns[got])
				   : frames_alloc(hv->fr, order, dm->id, &mfn[got]);
	}
	if (ret) {
		if (got)
			got--;		/* the one that failed holds nothing */
		for (unsigned e = 0; e < got; e++)
			for (uint64_t i = 0; i < np; i++)
				frames_put(hv->fr, mfn[e] + i);
		iopt_unreserve(dm->pt);
		iob_free(mfn);
		return ret;
	}
	for (unsigned e = 0; e < n; e++) {
		for (uint64_t i = 0; i < np; i++)
			hv_p2m_set(hv, dm, gfns[e] + i, mfn[e] + i, P2M_RAM);
		dm->pages += np;
		hv->stats.populated_pages += np;
		/* hook mirrors; aligned gfn and mfn let superpages through. */
		added(hv, dm, gfns[e], mfn[e], np);
	}
	iopt_unreserve(dm->pt);
	iob_free(mfn);
	PATHCTR_STOP(populate, t0);
	return 0;
}

int hv_populate(struct hv *hv, domid_t d, gfn_t gfn, unsigned order)
{
	struct hv_call c;
	int ret = hv_call_enter(hv, &c, 0, d, PATH_NR);

	if (!ret)
		ret = populate(hv, c.dm, &gfn, 1, order);
	return hv_call_exit(hv, &c, ret);
}

int hv_increase_reservation(struct hv *hv, domid_t d, const gfn_t *gfns, unsigned n,
			    unsigned order)
{
	struct hv_call c;
	int ret = hv_call_enter(hv, &c, 0, d, PATH_hypercall);

	if (!ret)
		ret = populate(hv, c.dm, gfns, n, order);
	return hv_call_exit(hv, &c, ret);
}

/* ---- a PV guest's frames are machine frames ------------------------------------------------ */

int hv_domain_identity(struct hv *hv, domid_t d)
{
	struct hv_domain *dm = hv_dom(hv, d);

	if (!dm)
		return -ESRCH;
	if (dm->pages || dm->ngnt || dm->nmt)
		return -EBUSY;
	if (dm->max_gfn > frames_count(hv->fr))
		return -EINVAL;
	if (!dm->pvtable && !(dm->pvtable = iob_calloc((dm->max_gfn + 63) / 64, sizeof(uint64_t))))
		return -ENOMEM;
	dm->identity = true;
	return 0;
}

int hv_pv_retype(struct hv *hv, domid_t d, gfn_t gfn, bool table)
{
	struct hv_call c;
	int ret = hv_call_enter(hv, &c, 0, d, PATH_NR);
	struct hv_domain *dm = c.dm;

	if (ret)
		return hv_call_exit(hv, &c, ret);
	if (!dm->identity)
		return hv_call_exit(hv, &c, -EOPNOTSUPP);
	if (gfn >= dm->max_gfn || dm->p2m[gfn] == INVALID_MFN || dm->type[gfn] != P2M_RAM ||
	    hv_pv_typed(dm, gfn) == table)
		return hv_call_exit(hv, &c, -EINVAL);
	if (hv->ops->pv_retyped) {
		ret = iopt_reserve(dm->pt, table ? hv_iopt_unmap_bound(dm)
						 : hv_iopt_map_bound(dm, gfn, 1));
		if (ret)
			return hv_call_exit(hv, &c, ret);
		hv->ops->pv_retyped(hv, dm, gfn, table);
		iopt_unreserve(dm->pt);
	}
	dm->pvtable[gfn / 64] ^= 1ULL << (gfn % 64);
	return hv_call_exit(hv, &c, 0);
}

/* ---- decrease reservation ------------------------------------------------------------------ */

/* Every extent is @dm's RAM, none twice. */
static int remove_check(const struct hv_domain *dm, const gfn_t *gfns, unsigned n,
			unsigned order)
{
	for (unsigned e = 0; e < n; e++) {
		if (!extent_in(dm, gfns[e], order))
			return -EINVAL;
		if (!extent_is(dm, gfns[e], order, true))
			return -ENOENT;
		for (unsigned f = 0; f < e; f++)
			if (gfns[f] == gfns[e])
				return -EINVAL;
		for (uint64_t i = 0; dm->pvtable && i < extent_pages(order); i++)
			if (hv_pv_typed(dm, gfns[e] + i))
				return -EBUSY;	/* a PV page table: not while typed */
	}
	return 0;
}

static int decrease(struct hv *hv, struct hv_domain *dm, const gfn_t *gfns, unsigned n,
		    unsigned order)
{
	uint64_t np = extent_pages(order), tables = 0;
	struct hv_release **rel;
	int ret;

	if (!gfns || !n || !order_valid(order))
		return -EINVAL;
	if (n > HV_BATCH_MAX)
		return -EOVERFLOW;
	ret = remove_check(dm, gfns, n, order);
	if (ret)
		return ret;
	rel = hv_release_array(dm->id, n * np);
	if (!rel)
		return -ENOMEM;
	for (unsigned e = 0; e < n; e++)
		tables += unmap_tables(hv, dm);
	ret = iopt_reserve(dm->pt, tables);
	if (ret) {
		hv_release_array_free(rel, n * np);
		return ret;
	}

	/* Phase two. Xen 4.17 removes (and, strict, flushes) page by page. */
	for (unsigned e = 0; e < n; e++) {
		uint64_t tb = PATHCTR_START();

		for (uint64_t i = 0; i < np; i++) {
			gfn_t g = gfns[e] + i;
			struct hv_release *r = rel[e * np + i];

			r->pg[0].mfn = dm->p2m[g];
			r->put_frames = true;
			hv_p2m_set(hv, dm, g, INVALID_MFN, P2M_INVALID);
			dm->pages--;
			hv->stats.ballooned_pages++;
			removed(hv, dm, g, r);
		}
		PATHCTR_STOP(balloon, tb);
	}
	flush_batch_end(dm->fl);
	iopt_unreserve(dm->pt);
	iob_free(rel);
	return 0;
}

int hv_decrease_reservation(struct hv *hv, domid_t d, const gfn_t *gfns, unsigned n,
			    unsigned order)
{
	struct hv_call c;
	int ret = hv_call_enter(hv, &c, 0, d, PATH_hypercall);

	if (!ret)
		ret = decrease(hv, c.dm, gfns, n, order);
	return hv_call_exit(hv, &c, ret);
}

/* ---- exchange ------------------------------------------------------------------------------ */

static int exchange_check(const struct hv *hv, const struct hv_domain *dm, const gfn_t *gfns,
			  unsigned n, unsigned order, unsigned address_bits)
{
	int ret;

	if (!gfns || !n || order > FRAMES_MAX_ORDER || address_bits < order + HV_PAGE_LG2 ||
	    address_bits > 64)
		return -EINVAL;
	if (n > HV_BATCH_MAX)
		return -EOVERFLOW;
	ret = remove_check(dm, gfns, n, order);
	for (unsigned e = 0; e < n && !ret; e++)
		for (uint64_t i = 0; i < (1ULL << order); i++)
			/* A device or another domain holds the frame: Xen's steal_page() fails. */
			if (frames_refs(hv->fr, dm->p2m[gfns[e] + i]) != 1)
				return -EBUSY;
	return ret;
}

/* Phase one's allocations: the extents below the limit, release records, tables. */
static int exchange_take(struct hv *hv, struct hv_domain *dm, const gfn_t *gfns, unsigned n,
			 unsigned order, uint64_t limit, uint64_t *mfn, struct hv_release ***rel)
{
	uint64_t np = 1ULL << order, tables = 0;
	unsigned got = 0;
	int ret = 0;

	*rel = hv_release_array(dm->id, n * np);
	if (!*rel)
		return -ENOMEM;
	for (unsigned e = 0; e < n; e++)
		tables += unmap_tables(hv, dm) + add_tables(hv, dm, gfns[e], np);
	ret = iopt_reserve(dm->pt, tables);
	for (; !ret && got < n; got++)
		ret = frames_alloc_below(hv->fr, order, dm->id, limit, &mfn[got]);
	if (!ret)
		return 0;
	if (got)
		got--;
	for (unsigned e = 0; e < got; e++)
		for (uint64_t i = 0; i < np; i++)
			frames_put(hv->fr, mfn[e] + i);
	iopt_unreserve(dm->pt);
	hv_release_array_free(*rel, n * np);
	return ret;
}

static int exchange(struct hv *hv, struct hv_domain *dm, const gfn_t *gfns, unsigned n,
		    unsigned order, unsigned address_bits, uint64_t *out)
{
	uint64_t np, mfn[HV_BATCH_MAX], limit;
	struct hv_release **rel;
	/*
	 * The shifts only after the check: found by tests/fuzz/fuzz_hv.c, an
	 * order of 64 or more (or address_bits below 12) shifted by more than
	 * the width, undefined behaviour before the call was refused.
	 */
	int ret = exchange_check(hv, dm, gfns, n, order, address_bits);

	if (ret)
		return ret;
	np = 1ULL << order;
	limit = address_bits >= 64 ? UINT64_MAX : 1ULL << (address_bits - HV_PAGE_LG2);
	ret = exchange_take(hv, dm, gfns, n, order, limit, mfn, &rel);
	if (ret)
		return ret;
	for (unsigned e = 0; e < n; e++) {
		/* The old frames leave (hook: their entries too), then the new extent comes. */
		for (uint64_t i = 0; i < np; i++) {
			gfn_t g = gfns[e] + i;
			struct hv_release *r = rel[e * np + i];

			r->pg[0].mfn = dm->p2m[g];
			r->put_frames = true;
			hv_p2m_set(hv, dm, g, mfn[e] + i, P2M_RAM);
			removed(hv, dm, g, r);
		}
		added(hv, dm, gfns[e], mfn[e], np);
		hv->stats.exchanged_pages += np;
		if (out)
			out[e] = mfn[e];
	}
	flush_batch_end(dm->fl);
	iopt_unreserve(dm->pt);
	iob_free(rel);
	return 0;
}

int hv_memory_exchange(struct hv *hv, domid_t d, const gfn_t *gfns, unsigned n, unsigned order,
		       unsigned address_bits, uint64_t *mfns)
{
	struct hv_call c;
	int ret = hv_call_enter(hv, &c, 0, d, PATH_hypercall);

	if (!ret)
		ret = exchange(hv, c.dm, gfns, n, order, address_bits, mfns);
	return hv_call_exit(hv, &c, ret);
}
