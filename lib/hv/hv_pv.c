// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pv: the guest asks, with batched hypercalls map(gfn, dfn, prot) and
 * unmap(dfn); every entry is verified.
 *
 * Each dfn has a record: what it maps (frame, rights, the grant mapping it
 * came through) while live, and how many of its unmaps still wait for
 * their invalidation. The map's "dfn in use" check and the unmap's "what
 * does it map" both read the record, so neither walks the I/O page table
 * (the unmap used to walk it three times: to check, to translate, to
 * unmap). A libbsd red-black tree, like the hypervisor's other per-domain
 * indexes: ordered, so the fingerprint sees the same sequence whatever
 * order the records came in; no rehash, so phase one can allocate exactly
 * the nodes phase two needs; one node serves as both the live record and
 * the pending count, so an unmap allocates nothing for it.
 */
#include <errno.h>

#include <bsd/sys/tree.h>

#include <iob/alloc.h>
#include <iob/warn.h>

#include "hv_impl.h"

struct pv_dfn {
	RB_ENTRY(pv_dfn) rb;
	uint64_t dfn;
	uint64_t mfn;		/* live: the frame it maps */
	int32_t mt;		/* live: the grant mapping it came through, or -1 */
	uint8_t prot;
	bool live;
	uint32_t pending;	/* unmaps whose invalidation has not completed */
};

static int pv_dfn_cmp(struct pv_dfn *a, struct pv_dfn *b)
{
	return a->dfn < b->dfn ? -1 : a->dfn > b->dfn;
}

RB_HEAD(pv_tree, pv_dfn);
/* RB_GENERATE_STATIC needs BSD's __unused, which libbsd leaves undefined. */
RB_GENERATE_INTERNAL(pv_tree, pv_dfn, rb, pv_dfn_cmp, static __attribute__((unused)))

static struct pv_tree *tree_of(const struct hv_domain *dm)
{
	return dm->priv;
}

static struct pv_dfn *pv_find(const struct hv_domain *dm, uint64_t dfn)
{
	struct pv_dfn key = { .dfn = dfn };

	return RB_FIND(pv_tree, tree_of(dm), &key);
}

static void pv_forget(struct hv_domain *dm, struct pv_dfn *n)
{
	RB_REMOVE(pv_tree, tree_of(dm), n);
	iob_free(n);
}

/* True if @v holds a value twice. Hashing keeps a 512-entry batch linear. */
static bool has_duplicates(const uint64_t *v, unsigned n)
{
	uint64_t slot[2 * HV_BATCH_MAX];
	bool used[2 * HV_BATCH_MAX] = { false };

	for (unsigned i = 0; i < n; i++) {
		unsigned h = (unsigned)((v[i] * 0x9e3779b97f4a7c15ULL) >> 54) % (2 * HV_BATCH_MAX);

		while (used[h]) {
			if (slot[h] == v[i])
				return true;
			h = (h + 1) % (2 * HV_BATCH_MAX);
		}
		used[h] = true;
		slot[h] = v[i];
	}
	return false;
}

/* ---- map ---------------------------------------------------------------------------------- */

/* Every entry valid, its dfn free; @rec[i] the dfn's record if it has one (pending). */
static int pv_map_check(struct hv *hv, const struct hv_domain *dm,
			const struct hv_pv_map_op *ops, unsigned n, struct pv_dfn **rec)
{
	uint64_t dfns[HV_BATCH_MAX];

	if (!ops || !n)
		return -EINVAL;
	if (n > HV_BATCH_MAX)
		return -EOVERFLOW;
	for (unsigned i = 0; i < n; i++)
		dfns[i] = ops[i].dfn;
	if (has_duplicates(dfns, n))
		return -EEXIST;
	for (unsigned i = 0; i < n; i++) {
		int ret;

		if (!(ops[i].prot & IOPT_PROT_RW) || (ops[i].prot & ~IOPT_PROT_RW))
			return -EINVAL;
		ret = hv_gfn_check(dm, ops[i].gfn, ops[i].prot);
		if (ret)
			return ret;
		if (ops[i].dfn >= hv->cfg.dfn_limit)
			return -ERANGE;
		rec[i] = pv_find(dm, ops[i].dfn);
		if (rec[i] && rec[i]->live)
			return -EEXIST;
	}
	return 0;
}

/* Phase one: a record for every dfn without one (@fresh[i], else NULL), and tables. */
static int pv_map_take(struct hv_domain *dm, const struct hv_pv_map_op *ops, unsigned n,
		       struct pv_dfn *const *rec, struct pv_dfn **fresh)
{
	uint64_t tables = 0;
	int ret = 0;

	for (unsigned i = 0; i < n; i++) {
		fresh[i] = NULL;
		if (!rec[i] && !ret && !(fresh[i] = iob_calloc(1, sizeof(*fresh[i]))))
			ret = -ENOMEM;
		tables += hv_iopt_map_bound(dm, ops[i].dfn, 1);
	}
	if (!ret)
		ret = iopt_reserve(dm->pt, tables);
	if (ret)
		for (unsigned i = 0; i < n; i++)
			iob_free(fresh[i]);
	return ret;
}

static int pv_map(struct hv *hv, struct hv_domain *dm, const struct hv_pv_map_op *ops,
		  unsigned n)
{
	struct pv_dfn *fresh[HV_BATCH_MAX], *rec[HV_BATCH_MAX];
	bool pending = false;
	int ret = pv_map_check(hv, dm, ops, n, rec);

	if (!ret)
		ret = pv_map_take(dm, ops, n, rec, fresh);
	if (ret)
		return ret;
	/*
	 * Records first, live: a record whose unmap still waits (it exists but
	 * is not live) must outlive the sync below, which gives that back.
	 */
	for (unsigned i = 0; i < n; i++) {
		pending |= rec[i] != NULL;
		if (fresh[i]) {
			rec[i] = fresh[i];
			rec[i]->dfn = ops[i].dfn;
			RB_INSERT(pv_tree, tree_of(dm), rec[i]);
		}
		rec[i]->mfn = dm->p2m[ops[i].gfn];
		rec[i]->prot = (uint8_t)ops[i].prot;
		rec[i]->mt = hv_maptrack_of_gfn(dm, ops[i].gfn);
		rec[i]->live = true;
	}
	/*
	 * A dfn whose unmap still waits for its invalidation may have a stale
	 * IOTLB entry: settle the queue before the dfn is used again.
	 */
	if (pending) {
		flush_sync(dm->fl);
		hv->stats.pv_forced_syncs++;
	}
	for (unsigned i = 0; i < n; i++) {
		/* The mapping holds the frame, and pins the grant it came through. */
		frames_get(hv->fr, rec[i]->mfn);
		if (rec[i]->mt >= 0)
			dm->mt[rec[i]->mt].iommu_live++;
		hv_iopt_map(hv, dm, ops[i].dfn, rec[i]->mfn, 1, ops[i].prot);
		hv->stats.pv_maps++;
	}
	iopt_unreserve(dm->pt);
	return 0;
}

int hv_pv_map(struct hv *hv, domid_t d, const struct hv_pv_map_op *ops, unsigned n)
{
	struct hv_call c;
	int ret = hv_call_enter(hv, &c, HV_CALL_PV, d, PATH_hypercall);

	if (!ret)
		ret = pv_map(hv, c.dm, ops, n);
	return hv_call_exit(hv, &c, ret);
}

/* ---- unmap -------------------------------------------------------------------------------- */

/* The flush released an unmap of @r->obj's dfn. */
static void pv_released(struct hv *hv, struct hv_domain *dm, const struct hv_release *r,
			unsigned cpu)
{
	struct pv_dfn *rec = r->obj;

	(void)hv;
	(void)cpu;
	if (!IOB_WARN_ON(!rec->pending) && !--rec->pending && !rec->live)
		pv_forget(dm, rec);
}

/* Every dfn mapped, none twice; @rec[i] its record. */
static int pv_unmap_check(struct hv *hv, const struct hv_domain *dm, const uint64_t *dfns,
			  unsigned n, struct pv_dfn **rec)
{
	if (!dfns || !n)
		return -EINVAL;
	if (n > HV_BATCH_MAX)
		return -EOVERFLOW;
	if (has_duplicates(dfns, n))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (dfns[i] >= hv->cfg.dfn_limit)
			return -ERANGE;
		rec[i] = pv_find(dm, dfns[i]);
		if (!rec[i] || !rec[i]->live)
			return -ENOENT;
	}
	return 0;
}

static int pv_unmap(struct hv *hv, struct hv_domain *dm, const uint64_t *dfns, unsigned n)
{
	struct pv_dfn *rec[HV_BATCH_MAX];
	struct hv_release **rel;
	int ret = pv_unmap_check(hv, dm, dfns, n, rec);

	if (ret)
		return ret;
	rel = hv_release_array(dm->id, n);
	if (!rel)
		return -ENOMEM;
	ret = iopt_reserve(dm->pt, n * hv_iopt_unmap_bound(dm));
	if (ret) {
		hv_release_array_free(rel, n);
		return ret;
	}
	for (unsigned i = 0; i < n; i++) {
		struct hv_release *r = rel[i];

		r->pg[0].mfn = rec[i]->mfn;
		r->put_frames = true;
		/* A grant the frame came through stays pinned until the flush. */
		r->pg[0].mt = rec[i]->mt;
		if (rec[i]->mt >= 0) {
			dm->mt[rec[i]->mt].iommu_live--;
			dm->mt[rec[i]->mt].iommu_pending++;
		}
		r->done = pv_released;
		r->obj = rec[i];
		rec[i]->live = false;
		rec[i]->pending++;
		hv_iopt_unmap(hv, dm, dfns[i], 1, r);
		hv->stats.pv_unmaps++;
	}
	flush_batch_end(dm->fl);
	iopt_unreserve(dm->pt);
	iob_free(rel);
	return 0;
}

int hv_pv_unmap(struct hv *hv, domid_t d, const uint64_t *dfns, unsigned n)
{
	struct hv_call c;
	int ret = hv_call_enter(hv, &c, HV_CALL_PV, d, PATH_hypercall);

	if (!ret)
		ret = pv_unmap(hv, c.dm, dfns, n);
	return hv_call_exit(hv, &c, ret);
}

/* ---- the domain's records ----------------------------------------------------------------- */

static int pv_domain_init(struct hv *hv, struct hv_domain *dm)
{
	struct pv_tree *t = iob_calloc(1, sizeof(*t));

	(void)hv;
	if (!t)
		return -ENOMEM;
	RB_INIT(t);
	dm->priv = t;
	return 0;
}

/* Every live mapping holds a frame reference; nothing is pending any more. */
static void pv_domain_fini(struct hv *hv, struct hv_domain *dm)
{
	struct pv_dfn *rec, *next;

	RB_FOREACH_SAFE(rec, pv_tree, tree_of(dm), next) {
		IOB_WARN_ON(rec->pending);
		if (rec->live)
			frames_put(hv->fr, rec->mfn);
		pv_forget(dm, rec);
	}
	iob_free(dm->priv);
	dm->priv = NULL;
}

static uint64_t pv_fingerprint(const struct hv_domain *dm, uint64_t h)
{
	struct pv_dfn *rec;

	RB_FOREACH(rec, pv_tree, tree_of(dm)) {
		h = hv_mix(hv_mix(h, rec->dfn), rec->pending);
		if (rec->live)
			h = hv_mix(hv_mix(hv_mix(h, rec->mfn), rec->prot), (uint64_t)rec->mt);
	}
	return h;
}

const struct hv_strategy_ops hv_pv_ops = {
	.name = "pv",
	.calls = HV_CALL_PV,
	.domain_init = pv_domain_init,
	.domain_fini = pv_domain_fini,
	.fingerprint = pv_fingerprint,
};
