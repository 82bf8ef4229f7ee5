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
 * unmap).
 *
 * The records sit in an open-addressing hash table on the dfn (linear
 * probing, at most half full, backward-shift deletion), not in a
 * red-black tree like the hypervisor's other indexes: a tree node per
 * record cost a malloc and free per map/unmap pair and a descent of
 * log2(live mappings) per lookup, 85 to 100 cycles per packet at the p50
 * of netrx and nettx (pv, 4 KiB, 50,000 packets: 320 -> 446 and 298 -> 384
 * cycles); the table costs none of that. It grows only in a map's phase
 * one, so phase two never allocates; the fingerprint adds up a hash per
 * record, so it does not depend on where records sit.
 */
#include <errno.h>

#include <iob/alloc.h>
#include <iob/warn.h>

#include "hv_impl.h"

struct pv_rec {
	uint64_t dfn;
	uint64_t mfn;		/* live: the frame it maps */
	int32_t mt;		/* live: the grant mapping it came through, or -1 */
	uint32_t pending;	/* unmaps whose invalidation has not completed */
	uint8_t prot;
	bool live;
	bool used;		/* the slot holds a record (live or pending) */
};

struct pv_recs {
	struct pv_rec *slot;
	uint32_t cap;		/* a power of two; 0 before the first map */
	uint32_t count;		/* records, at most cap / 2 */
};

static struct pv_recs *recs_of(const struct hv_domain *dm)
{
	return dm->priv;
}

static uint32_t home_of(const struct pv_recs *t, uint64_t dfn)
{
	return (uint32_t)((dfn * 0x9e3779b97f4a7c15ULL) >> 32) & (t->cap - 1);
}

/* The slot of @dfn's record, or NULL. */
static struct pv_rec *rec_find(const struct pv_recs *t, uint64_t dfn)
{
	if (!t->cap)
		return NULL;
	for (uint32_t i = home_of(t, dfn);; i = (i + 1) & (t->cap - 1)) {
		if (!t->slot[i].used)
			return NULL;
		if (t->slot[i].dfn == dfn)
			return &t->slot[i];
	}
}

/* A new record for @dfn, not in the table; room was made by rec_reserve(). */
static struct pv_rec *rec_insert(struct pv_recs *t, uint64_t dfn)
{
	uint32_t i = home_of(t, dfn);

	while (t->slot[i].used)
		i = (i + 1) & (t->cap - 1);
	t->slot[i] = (struct pv_rec){ .dfn = dfn, .used = true, .mt = -1 };
	t->count++;
	return &t->slot[i];
}

/* Remove @r; later records of its probe run shift back, so lookups stop at the first hole. */
static void rec_remove(struct pv_recs *t, struct pv_rec *r)
{
	uint32_t hole = (uint32_t)(r - t->slot), mask = t->cap - 1;

	for (uint32_t j = (hole + 1) & mask; t->slot[j].used; j = (j + 1) & mask) {
		uint32_t home = home_of(t, t->slot[j].dfn);

		/* Move j into the hole unless its home lies cyclically in (hole, j]. */
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			t->slot[hole] = t->slot[j];
			hole = j;
		}
	}
	t->slot[hole].used = false;
	t->count--;
}

/* Room for @more records, growing the table (the call's only allocation for them). */
static int rec_reserve(struct pv_recs *t, uint32_t more)
{
	struct pv_recs g = { NULL, t->cap ? t->cap : 64, 0 };

	while (2 * ((uint64_t)t->count + more) > g.cap)
		g.cap *= 2;
	if (g.cap == t->cap)
		return 0;
	g.slot = iob_calloc(g.cap, sizeof(*g.slot));
	if (!g.slot)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->cap; i++)
		if (t->slot[i].used)
			*rec_insert(&g, t->slot[i].dfn) = t->slot[i];
	iob_free(t->slot);
	*t = g;
	return 0;
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

/* Every entry valid, its dfn free; *@fresh the dfns that have no record yet. */
static int pv_map_check(struct hv *hv, const struct hv_domain *dm,
			const struct hv_pv_map_op *ops, unsigned n, uint32_t *fresh)
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
	*fresh = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct pv_rec *rec;
		int ret;

		if (!(ops[i].prot & IOPT_PROT_RW) || (ops[i].prot & ~IOPT_PROT_RW))
			return -EINVAL;
		ret = hv_gfn_check(dm, ops[i].gfn, ops[i].prot);
		if (ret)
			return ret;
		if (ops[i].dfn >= hv->cfg.dfn_limit)
			return -ERANGE;
		rec = rec_find(recs_of(dm), ops[i].dfn);
		if (rec && rec->live)
			return -EEXIST;
		*fresh += !rec;
	}
	return 0;
}

static int pv_map(struct hv *hv, struct hv_domain *dm, const struct hv_pv_map_op *ops,
		  unsigned n)
{
	struct pv_recs *t = recs_of(dm);
	uint64_t tables = 0, mfn[HV_BATCH_MAX];
	int32_t mt[HV_BATCH_MAX];
	bool pending = false;
	uint32_t fresh;
	int ret = pv_map_check(hv, dm, ops, n, &fresh);

	if (ret)
		return ret;
	for (unsigned i = 0; i < n; i++)
		tables += hv_iopt_map_bound(dm, ops[i].dfn, 1);
	/* The records' room last: nothing after it can fail, so it is never given back. */
	ret = iopt_reserve(dm->pt, tables);
	if (!ret && (ret = rec_reserve(t, fresh)))
		iopt_unreserve(dm->pt);
	if (ret)
		return ret;
	/*
	 * Records first, live: a record whose unmap still waits (it exists but
	 * is not live) must outlive the sync below, which gives that back.
	 */
	for (unsigned i = 0; i < n; i++) {
		struct pv_rec *rec = rec_find(t, ops[i].dfn);

		pending |= rec != NULL;
		if (!rec)
			rec = rec_insert(t, ops[i].dfn);
		rec->mfn = mfn[i] = dm->p2m[ops[i].gfn];
		rec->prot = (uint8_t)ops[i].prot;
		rec->mt = mt[i] = hv_maptrack_of_gfn(dm, ops[i].gfn);
		rec->live = true;
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
		frames_get(hv->fr, mfn[i]);
		if (mt[i] >= 0)
			dm->mt[mt[i]].iommu_live++;
		hv_iopt_map(hv, dm, ops[i].dfn, mfn[i], 1, ops[i].prot);
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

/* The flush released an unmap of the dfn at @r->iova. */
static void pv_released(struct hv *hv, struct hv_domain *dm, const struct hv_release *r,
			unsigned cpu)
{
	struct pv_rec *rec = rec_find(recs_of(dm), r->iova >> HV_PAGE_LG2);

	(void)hv;
	(void)cpu;
	if (IOB_WARN_ON(!rec || !rec->pending))
		return;
	if (!--rec->pending && !rec->live)
		rec_remove(recs_of(dm), rec);
}

/* Every dfn mapped, none twice. */
static int pv_unmap_check(struct hv *hv, const struct hv_domain *dm, const uint64_t *dfns,
			  unsigned n)
{
	if (!dfns || !n)
		return -EINVAL;
	if (n > HV_BATCH_MAX)
		return -EOVERFLOW;
	if (has_duplicates(dfns, n))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		const struct pv_rec *rec;

		if (dfns[i] >= hv->cfg.dfn_limit)
			return -ERANGE;
		rec = rec_find(recs_of(dm), dfns[i]);
		if (!rec || !rec->live)
			return -ENOENT;
	}
	return 0;
}

static int pv_unmap(struct hv *hv, struct hv_domain *dm, const uint64_t *dfns, unsigned n)
{
	struct hv_release **rel;
	int ret = pv_unmap_check(hv, dm, dfns, n);

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
		/* Found again each time: a strict unmap's release may move records. */
		struct pv_rec *rec = rec_find(recs_of(dm), dfns[i]);
		struct hv_release *r = rel[i];

		r->pg[0].mfn = rec->mfn;
		r->put_frames = true;
		/* A grant the frame came through stays pinned until the flush. */
		r->pg[0].mt = rec->mt;
		if (rec->mt >= 0) {
			dm->mt[rec->mt].iommu_live--;
			dm->mt[rec->mt].iommu_pending++;
		}
		r->done = pv_released;
		r->iova = dfns[i] << HV_PAGE_LG2;
		rec->live = false;
		rec->pending++;
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
	(void)hv;
	dm->priv = iob_calloc(1, sizeof(struct pv_recs));
	return dm->priv ? 0 : -ENOMEM;
}

/* Every live mapping holds a frame reference; nothing is pending any more. */
static void pv_domain_fini(struct hv *hv, struct hv_domain *dm)
{
	struct pv_recs *t = recs_of(dm);

	for (uint32_t i = 0; i < t->cap; i++)
		if (t->slot[i].used) {
			IOB_WARN_ON(t->slot[i].pending);
			if (t->slot[i].live)
				frames_put(hv->fr, t->slot[i].mfn);
		}
	iob_free(t->slot);
	iob_free(t);
	dm->priv = NULL;
}

/* splitmix64's finalizer: one record's hash, to be added up. */
static uint64_t rec_hash(const struct pv_rec *r)
{
	uint64_t z = r->dfn * 0x9e3779b97f4a7c15ULL ^ (uint64_t)r->pending << 40;

	if (r->live)
		z ^= hv_mix(hv_mix(hv_mix(z, r->mfn), r->prot), (uint64_t)(uint32_t)r->mt);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t pv_fingerprint(const struct hv_domain *dm, uint64_t h)
{
	const struct pv_recs *t = recs_of(dm);
	uint64_t sum = 0;

	for (uint32_t i = 0; i < t->cap; i++)
		if (t->slot[i].used)
			sum += rec_hash(&t->slot[i]);
	return hv_mix(hv_mix(h, t->count), sum);
}

const struct hv_strategy_ops hv_pv_ops = {
	.name = "pv",
	.calls = HV_CALL_PV,
	.domain_init = pv_domain_init,
	.domain_fini = pv_domain_fini,
	.fingerprint = pv_fingerprint,
};
