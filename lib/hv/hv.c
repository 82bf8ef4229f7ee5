// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The model hypervisor: domains, p2m, frames, grants, memory operations,
 * and the hook / pv / DMA-layer strategies on a shared model IOMMU.
 *
 * Every operation runs in two phases. Phase one checks every argument and
 * takes every resource the operation can need (release records, IOVAs,
 * page-table pages reserved with iopt_reserve()); an error there returns
 * with nothing changed. Phase two cannot fail. That is how "all or
 * nothing" holds even when the N-th allocation on the path is made to fail.
 */
#include <errno.h>
#include <string.h>

#include <bsd/sys/tree.h>

#include <iob/alloc.h>
#include <iob/hv.h>
#include <iob/iova.h>
#include <iob/pathctr.h>
#include <iob/warn.h>

#define HV_DOMAINS_MAX	64
#define PAGE		AMDVI_PAGE_SIZE
#define PAGE_LG2	AMDVI_PAGE_SIZE_LG2

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

/* ---- per-domain structures ---------------------------------------------------------- */

struct grant_entry {
	bool in_use, ro;
	domid_t grantee;
	gfn_t gfn;
	uint32_t pins;		/* live maps plus releases still pending */
};

struct maptrack {
	bool in_use, ro;
	domid_t granter;
	grant_ref_t ref;
	gfn_t host_gfn;
	uint64_t mfn;
	uint32_t iommu_live;	/* pv / DMA-layer mappings of this grant */
	uint32_t iommu_pending;	/* unmapped, invalidation not yet completed */
};

/* HV_HOOK: one IOMMU entry per granted frame, counted. */
struct gmap_node {
	RB_ENTRY(gmap_node) rb;
	uint64_t mfn;
	uint32_t maps, writers;
};

/* HV_PV: dfns whose invalidation is still pending (lazy and batched). */
struct dfn_node {
	RB_ENTRY(dfn_node) rb;
	uint64_t dfn;
	uint32_t count;
};

/* HV_DMALAYER: live mappings, by IOVA. */
struct dma_node {
	RB_ENTRY(dma_node) rb;
	iova_t iova;
	uint16_t devid;
	unsigned dir;
	unsigned n;
	uint64_t mfn[];
};

static int gmap_cmp(struct gmap_node *a, struct gmap_node *b)
{
	return a->mfn < b->mfn ? -1 : a->mfn > b->mfn;
}

static int dfn_cmp(struct dfn_node *a, struct dfn_node *b)
{
	return a->dfn < b->dfn ? -1 : a->dfn > b->dfn;
}

static int dma_cmp(struct dma_node *a, struct dma_node *b)
{
	return a->iova < b->iova ? -1 : a->iova > b->iova;
}

RB_HEAD(gmap_tree, gmap_node);
RB_HEAD(dfn_tree, dfn_node);
RB_HEAD(dma_tree, dma_node);
/* RB_GENERATE_STATIC needs BSD's __unused, which libbsd leaves undefined. */
RB_GENERATE_INTERNAL(gmap_tree, gmap_node, rb, gmap_cmp, static __attribute__((unused)))
RB_GENERATE_INTERNAL(dfn_tree, dfn_node, rb, dfn_cmp, static __attribute__((unused)))
RB_GENERATE_INTERNAL(dma_tree, dma_node, rb, dma_cmp, static __attribute__((unused)))

struct domain {
	bool live;
	domid_t id;
	uint64_t max_gfn;
	uint64_t *p2m;		/* mfn or INVALID_MFN */
	uint8_t *type;		/* enum p2m_type */
	uint64_t pages;		/* RAM frames owned through the p2m */
	struct iopt *pt;
	struct flush *fl;
	struct iova *iova;	/* HV_DMALAYER */
	struct grant_entry *gnt;
	uint32_t ngnt;
	struct maptrack *mt;
	uint32_t nmt;
	struct gmap_tree gmaps;
	struct dfn_tree pending;
	struct dma_tree dmas;
	unsigned ndev;
	bool mirrored;		/* HV_HOOK: the table mirrors the p2m */
};

struct hv {
	struct hv_cfg cfg;
	struct iommu *mmu;
	struct frames *fr;
	struct domain dom[HV_DOMAINS_MAX];
	domid_t devowner[IOMMU_DEVICES];
	struct hv_stats stats;
};

/*
 * What an unmap gives back once its invalidation completed: frame
 * references, pending-invalidation marks, a grant pin, a maptrack's IOMMU
 * reference, a pending dfn, an IOVA range.
 */
struct release_page {
	uint64_t mfn;
	int32_t mt;		/* maptrack handle whose IOMMU reference this holds, or -1 */
};

struct release {
	struct hv *hv;
	domid_t d;
	bool has_grant, has_dfn, has_iova, put_frames;
	domid_t granter;
	grant_ref_t gref;
	uint64_t dfn;
	iova_t iova;
	uint64_t iova_pages;
	unsigned n;
	struct release_page pg[];
};

static struct domain *dom_get(struct hv *hv, domid_t d)
{
	if (!d || d >= HV_DOMAINS_MAX || !hv->dom[d].live)
		return NULL;
	return &hv->dom[d];
}

static const struct domain *dom_cget(const struct hv *hv, domid_t d)
{
	if (!d || d >= HV_DOMAINS_MAX || !hv->dom[d].live)
		return NULL;
	return &hv->dom[d];
}

static struct release *release_new(struct hv *hv, domid_t d, unsigned n)
{
	struct release *r = iob_calloc(1, sizeof(*r) + n * sizeof(struct release_page));

	if (r) {
		r->hv = hv;
		r->d = d;
		r->n = n;
		for (unsigned i = 0; i < n; i++)
			r->pg[i].mt = -1;
	}
	return r;
}

static struct dfn_node *pending_find(struct domain *dm, uint64_t dfn)
{
	struct dfn_node key = { .dfn = dfn };

	return RB_FIND(dfn_tree, &dm->pending, &key);
}

/* Called by the flush policy once the invalidation covering @a completed. */
static void release_fn(void *ctx, unsigned cpu, const struct flush_release *fr)
{
	struct release *r = fr->obj;
	struct hv *hv = ctx;
	struct domain *dm = &hv->dom[r->d];

	for (unsigned i = 0; i < r->n; i++) {
		int32_t h = r->pg[i].mt;

		frames_pending_dec(hv->fr, r->pg[i].mfn);
		if (r->put_frames)
			frames_put(hv->fr, r->pg[i].mfn);
		if (h >= 0 && !IOB_WARN_ON((uint32_t)h >= dm->nmt || !dm->mt[h].iommu_pending))
			dm->mt[h].iommu_pending--;
	}
	if (r->has_grant) {
		struct domain *g = &hv->dom[r->granter];

		if (!IOB_WARN_ON(r->gref >= g->ngnt || !g->gnt[r->gref].pins))
			g->gnt[r->gref].pins--;
	}
	if (r->has_dfn) {
		struct dfn_node *n = pending_find(dm, r->dfn);

		if (!IOB_WARN_ON(!n) && !--n->count) {
			RB_REMOVE(dfn_tree, &dm->pending, n);
			iob_free(n);
		}
	}
	if (r->has_iova)
		iova_free(dm->iova, cpu, r->iova, r->iova_pages);
	iob_free(r);
}

/* ---- IOMMU updates (phase two: cannot fail once tables are reserved) ---------------- */

/*
 * Tables that a map or unmap of this range could allocate at worst: per
 * level below the root, the tables the range touches plus two splits.
 */
static uint64_t tables_bound(const struct domain *dm, uint64_t dfn, uint64_t pages)
{
	unsigned levels = iopt_levels(dm->pt);
	uint64_t n = 0;

	for (unsigned l = 1; l < levels; l++) {
		unsigned span = amdvi_level_shift(l) + AMDVI_PT_ENTRIES_LG2 - PAGE_LG2;
		uint64_t first = dfn >> span, last = (dfn + pages - 1) >> span;

		n += last - first + 1;
	}
	return n;
}

/*
 * Tables an unmap can allocate: only splits of superpages, one table per
 * superpage level at each end of the range; none without superpages.
 */
static uint64_t unmap_bound(const struct domain *dm)
{
	if (!(iopt_pgsize_bitmap(dm->pt) & ~IOPT_PGSIZE_4K))
		return 0;
	return 2ULL * (iopt_levels(dm->pt) - 2);
}

static int reserve(struct domain *dm, uint64_t tables)
{
	return iopt_reserve(dm->pt, tables);
}

static void iommu_map(struct hv *hv, struct domain *dm, uint64_t dfn, uint64_t mfn,
		      uint64_t pages, unsigned prot)
{
	struct iopt_gather g;
	uint64_t t0 = PATHCTR_START();
	int ret;

	flush_gather_init(dm->fl, &g);
	ret = iopt_map(dm->pt, dfn << PAGE_LG2, mfn << PAGE_LG2, pages << PAGE_LG2, prot,
		       hv->cfg.tune.superpages ? &g : NULL);
	PATHCTR_STOP(map, t0);
	IOB_WARN_ON(ret);
	hv->stats.iommu_maps++;
	/* Coalescing freed tables: their PDE-cache entries must go first. */
	if (g.freelist.head || g.pending)
		flush_unmapped(dm->fl, 0, &g, NULL);
	if (hv->cfg.np_cache)
		flush_mapped(dm->fl, dfn << PAGE_LG2, pages << PAGE_LG2);
}

/* Unmap, then hand @rel (may be NULL) to the flush policy. */
static void iommu_unmap(struct hv *hv, struct domain *dm, uint64_t dfn, uint64_t pages,
			struct release *rel)
{
	struct iopt_gather g;
	struct flush_release fr = { .fn = release_fn, .ctx = hv, .obj = rel };
	uint64_t t0 = PATHCTR_START();
	int ret;

	flush_gather_init(dm->fl, &g);
	ret = iopt_unmap(dm->pt, dfn << PAGE_LG2, pages << PAGE_LG2, &g, NULL);
	PATHCTR_STOP(unmap, t0);
	IOB_WARN_ON(ret);
	hv->stats.iommu_unmaps++;
	if (rel)
		for (unsigned i = 0; i < rel->n; i++)
			frames_pending_inc(hv->fr, rel->pg[i].mfn);
	flush_unmapped(dm->fl, 0, &g, rel ? &fr : NULL);
}

/* Per-page invalidation (strict) or one at the end (batched, lazy queues). */
static void op_end(struct domain *dm)
{
	flush_batch_end(dm->fl);
}

/* ---- create / destroy ------------------------------------------------------------------- */

int hv_create(const struct hv_cfg *cfg, struct hv **out)
{
	struct iommu_cfg mc = { .cpu = -1 };
	struct hv *hv;
	int ret;

	if (!cfg || !out || cfg->strategy >= HV_STRATEGY_NR ||
	    cfg->tune.flush >= FLUSH_MODE_NR || cfg->tune.policy >= INVAL_POLICY_NR ||
	    cfg->tune.impl >= IOPT_IMPL_NR || (cfg->levels && (cfg->levels < 4 || cfg->levels > 6)))
		return -EINVAL;
	hv = iob_calloc(1, sizeof(*hv));
	if (!hv)
		return -ENOMEM;
	hv->cfg = *cfg;
	if (!hv->cfg.machine_frames)
		hv->cfg.machine_frames = 1ULL << 20;
	if (!hv->cfg.ncpus)
		hv->cfg.ncpus = 1;
	if (!hv->cfg.levels)
		hv->cfg.levels = 4;
	if (!hv->cfg.dfn_limit)
		hv->cfg.dfn_limit = GRANT_DFN_BASE;
	/* pv and DMA-layer addresses stay below the grant window. */
	if (hv->cfg.dfn_limit > GRANT_DFN_BASE) {
		iob_free(hv);
		return -EINVAL;
	}
	mc.tlb = cfg->tlb;
	if (!mc.tlb.entries) {
		mc.tlb.entries = IOTLB_DEFAULT_ENTRIES;
		mc.tlb.ways = IOTLB_DEFAULT_WAYS;
		mc.tlb.pde_entries = IOTLB_DEFAULT_PDE_ENTRIES;
		mc.tlb.pde_ways = IOTLB_DEFAULT_PDE_WAYS;
	}
	mc.np_cache = cfg->np_cache;
	for (unsigned i = 0; i < IOMMU_DEVICES; i++)
		hv->devowner[i] = DOMID_INVALID;
	ret = frames_create(hv->cfg.machine_frames, &hv->fr);
	if (!ret)
		ret = iommu_create(&mc, &hv->mmu);
	if (ret) {
		frames_destroy(hv->fr);
		iob_free(hv);
		return ret;
	}
	*out = hv;
	return 0;
}

static void domain_unmap_grants(struct hv *hv, struct domain *dm);

void hv_destroy(struct hv *hv)
{
	if (!hv)
		return;
	/*
	 * Every domain lets go of the grants it maps first: then no grant is
	 * pinned, and domains that map each other's grants (or a chain of
	 * them in any order) all go.
	 */
	for (domid_t d = 1; d < HV_DOMAINS_MAX; d++)
		if (hv->dom[d].live)
			domain_unmap_grants(hv, &hv->dom[d]);
	for (domid_t d = 1; d < HV_DOMAINS_MAX; d++)
		if (hv->dom[d].live)
			hv_domain_destroy(hv, d);
	iommu_destroy(hv->mmu);
	frames_destroy(hv->fr);
	iob_free(hv);
}

const struct hv_cfg *hv_config(const struct hv *hv)
{
	return &hv->cfg;
}

struct iommu *hv_iommu(struct hv *hv)
{
	return hv->mmu;
}

struct frames *hv_frames(struct hv *hv)
{
	return hv->fr;
}

static void domain_free(struct domain *dm)
{
	flush_destroy(dm->fl);
	iova_destroy(dm->iova);
	iopt_destroy(dm->pt);
	iob_free(dm->p2m);
	iob_free(dm->type);
	iob_free(dm->gnt);
	iob_free(dm->mt);
	memset(dm, 0, sizeof(*dm));
}

int hv_domain_create(struct hv *hv, uint64_t max_pages, domid_t *out)
{
	struct iopt_cfg pc = {
		.levels = hv->cfg.levels,
		.impl = hv->cfg.tune.impl,
		.pgsize_bitmap = hv->cfg.tune.superpages ? IOPT_PGSIZE_DEFAULT : IOPT_PGSIZE_4K,
		.flags = hv->cfg.tune.superpages ? IOPT_F_COALESCE : 0,
	};
	struct flush_cfg fc = {
		.mode = hv->cfg.tune.flush,
		.policy = hv->cfg.tune.policy,
		.ncpus = hv->cfg.ncpus,
		.fq_entries = hv->cfg.tune.fq_entries,
		.fq_timeout_ns = hv->cfg.tune.fq_timeout_ns,
	};
	struct domain *dm = NULL;
	domid_t d;
	int ret;

	if (!max_pages || max_pages > (1ULL << 32))
		return -EINVAL;
	for (d = 1; d < HV_DOMAINS_MAX; d++)
		if (!hv->dom[d].live) {
			dm = &hv->dom[d];
			break;
		}
	if (!dm)
		return -ENOSPC;
	memset(dm, 0, sizeof(*dm));
	dm->id = d;
	dm->max_gfn = max_pages;
	dm->p2m = iob_malloc(max_pages * sizeof(*dm->p2m));
	dm->type = iob_calloc(max_pages, sizeof(*dm->type));
	if (!dm->p2m || !dm->type) {
		ret = -ENOMEM;
		goto err;
	}
	memset(dm->p2m, 0xff, max_pages * sizeof(*dm->p2m));
	ret = iopt_create(&pc, &dm->pt);
	if (!ret)
		ret = flush_create(&fc, hv->mmu, dm->pt, d, &dm->fl);
	if (!ret && hv->cfg.strategy == HV_DMALAYER) {
		struct iova_cfg ic = {
			.granule_lg2 = PAGE_LG2, .start = PAGE, .limit = hv->cfg.dfn_limit << PAGE_LG2,
			.rcache = true, .ncpus = hv->cfg.ncpus,
		};

		ret = iova_create(&ic, &dm->iova);
	}
	if (ret)
		goto err;
	RB_INIT(&dm->gmaps);
	RB_INIT(&dm->pending);
	RB_INIT(&dm->dmas);
	dm->live = true;
	*out = d;
	return 0;
err:
	domain_free(dm);
	return ret;
}

/* iopt_for_each_leaf() callback: drop the frame reference of each page. */
static void put_leaf_frames(void *ctx, iova_t iova, paddr_t pa, unsigned size_lg2,
			    unsigned prot)
{
	struct hv *hv = ctx;

	(void)prot;
	if ((iova >> PAGE_LG2) >= GRANT_DFN_BASE)
		return;
	for (uint64_t i = 0; i < (1ULL << (size_lg2 - PAGE_LG2)); i++)
		frames_put(hv->fr, (pa >> PAGE_LG2) + i);
}

static uint16_t any_device_of(const struct hv *hv, domid_t d)
{
	for (unsigned i = 0; i < IOMMU_DEVICES; i++)
		if (hv->devowner[i] == d)
			return (uint16_t)i;
	return 0;
}

/* Detach @dm's devices, settle its flushes and drop the grant mappings it holds. */
static void domain_unmap_grants(struct hv *hv, struct domain *dm)
{
	/*
	 * Devices first: once their DTEs are blocked and the domain's
	 * translations invalidated, nothing can reach its frames, and
	 * everything can be released at once without per-unmap flushes.
	 */
	while (dm->ndev)
		hv_deassign_device(hv, any_device_of(hv, dm->id));
	flush_sync(dm->fl);
	iommu_flush_domain(hv->mmu, dm->id);
	iommu_completion_wait(hv->mmu);

	for (uint32_t h = 0; h < dm->nmt; h++)
		if (dm->mt[h].in_use) {
			struct domain *rd = &hv->dom[dm->mt[h].granter];

			frames_put(hv->fr, dm->mt[h].mfn);
			if (!IOB_WARN_ON(!rd->live || !rd->gnt[dm->mt[h].ref].pins))
				rd->gnt[dm->mt[h].ref].pins--;
			dm->mt[h].in_use = false;
		}
}

int hv_domain_destroy(struct hv *hv, domid_t d)
{
	struct domain *dm = dom_get(hv, d);
	struct dma_node *dn, *dnext;
	struct gmap_node *gn, *gnext;
	struct dfn_node *pn, *pnext;

	if (!dm)
		return -ESRCH;
	/* Its grants must be unmapped by the grantees first (Xen refuses too). */
	for (uint32_t r = 0; r < dm->ngnt; r++)
		if (dm->gnt[r].in_use && dm->gnt[r].pins) {
			hv_sync(hv);
			if (dm->gnt[r].pins)
				return -EBUSY;
		}
	domain_unmap_grants(hv, dm);
	/* pv mappings hold a frame reference per page. */
	if (hv->cfg.strategy == HV_PV)
		iopt_for_each_leaf(dm->pt, put_leaf_frames, hv);
	RB_FOREACH_SAFE(dn, dma_tree, &dm->dmas, dnext) {
		for (unsigned i = 0; i < dn->n; i++)
			frames_put(hv->fr, dn->mfn[i]);
		RB_REMOVE(dma_tree, &dm->dmas, dn);
		iob_free(dn);
	}
	for (gfn_t g = 0; g < dm->max_gfn; g++)
		if (dm->p2m[g] != INVALID_MFN && dm->type[g] == P2M_RAM)
			frames_put(hv->fr, dm->p2m[g]);
	RB_FOREACH_SAFE(gn, gmap_tree, &dm->gmaps, gnext) {
		RB_REMOVE(gmap_tree, &dm->gmaps, gn);
		iob_free(gn);
	}
	RB_FOREACH_SAFE(pn, dfn_tree, &dm->pending, pnext) {
		RB_REMOVE(dfn_tree, &dm->pending, pn);
		iob_free(pn);
	}
	domain_free(dm);
	return 0;
}

/* ---- devices ------------------------------------------------------------------------------- */

int hv_assign_device(struct hv *hv, uint16_t devid, domid_t d)
{
	struct domain *dm = dom_get(hv, d);

	if (!dm)
		return -ESRCH;
	if (hv->devowner[devid] != DOMID_INVALID)
		return hv->devowner[devid] == d ? 0 : -EBUSY;
	/*
	 * hook: the first device makes the hypervisor build the table from
	 * the p2m, as Xen does when a device is assigned to a running domain.
	 */
	if (hv->cfg.strategy == HV_HOOK && !dm->mirrored) {
		uint64_t tables = 0;
		int ret;

		for (gfn_t g = 0; g < dm->max_gfn; g++)
			if (dm->type[g] == P2M_RAM)
				tables += 1;
		for (uint32_t h = 0; h < dm->nmt; h++)
			if (dm->mt[h].in_use)
				return -EBUSY;	/* grants first mapped without a device: keep it simple */
		ret = reserve(dm, tables ? tables_bound(dm, 0, dm->max_gfn) : 0);
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
			iommu_map(hv, dm, g, dm->p2m[g], run, IOPT_PROT_RW);
			g += run;
		}
		iopt_unreserve(dm->pt);
		dm->mirrored = true;
	}
	iommu_dte_set(hv->mmu, devid, d, iopt_root(dm->pt), iopt_levels(dm->pt), IOPT_PROT_RW);
	iommu_flush_dte(hv->mmu, devid);
	iommu_completion_wait(hv->mmu);
	hv->devowner[devid] = d;
	dm->ndev++;
	return 0;
}

int hv_deassign_device(struct hv *hv, uint16_t devid)
{
	domid_t d = hv->devowner[devid];

	if (d == DOMID_INVALID)
		return -ENODEV;
	iommu_dte_block(hv->mmu, devid);
	iommu_flush_dte(hv->mmu, devid);
	iommu_completion_wait(hv->mmu);
	hv->devowner[devid] = DOMID_INVALID;
	hv->dom[d].ndev--;
	return 0;
}

domid_t hv_device_owner(const struct hv *hv, uint16_t devid)
{
	return hv->devowner[devid];
}

uint64_t hv_p2m_lookup(const struct hv *hv, domid_t d, gfn_t gfn, enum p2m_type *type)
{
	const struct domain *dm = dom_cget(hv, d);

	if (!dm || gfn >= dm->max_gfn) {
		if (type)
			*type = P2M_INVALID;
		return INVALID_MFN;
	}
	if (type)
		*type = (enum p2m_type)dm->type[gfn];
	return dm->p2m[gfn];
}

struct iopt *hv_domain_iopt(struct hv *hv, domid_t d)
{
	struct domain *dm = dom_get(hv, d);

	return dm ? dm->pt : NULL;
}

struct flush *hv_domain_flush(struct hv *hv, domid_t d)
{
	struct domain *dm = dom_get(hv, d);

	return dm ? dm->fl : NULL;
}

/* ---- memory ------------------------------------------------------------------------------------ */

static void p2m_set(struct hv *hv, struct domain *dm, gfn_t gfn, uint64_t mfn,
		    enum p2m_type t)
{
	uint64_t t0 = PATHCTR_START();

	dm->p2m[gfn] = mfn;
	dm->type[gfn] = (uint8_t)t;
	hv->stats.p2m_sets++;
	PATHCTR_STOP(p2m_set, t0);
}

/*
 * populate_physmap for @n extents: phase one checks them, reserves tables
 * and allocates every frame (giving all back if one allocation fails).
 */
static int populate(struct hv *hv, domid_t d, const gfn_t *gfns, unsigned n, unsigned order)
{
	struct domain *dm = dom_get(hv, d);
	uint64_t np = 1ULL << order, t0 = PATHCTR_START(), *mfn;
	unsigned got = 0;
	int ret = 0;

	if (!dm)
		return -ESRCH;
	if (!gfns || !n || (order != 0 && order != 9 && order != 18))
		return -EINVAL;
	if (n > HV_BATCH_MAX)
		return -EOVERFLOW;
	for (unsigned e = 0; e < n; e++) {
		if ((gfns[e] & (np - 1)) || gfns[e] >= dm->max_gfn || gfns[e] + np > dm->max_gfn)
			return -EINVAL;
		for (uint64_t i = 0; i < np; i++)
			if (dm->p2m[gfns[e] + i] != INVALID_MFN)
				return -EEXIST;
		for (unsigned f = 0; f < e; f++)
			if (gfns[f] == gfns[e])
				return -EEXIST;
	}
	mfn = iob_calloc(n, sizeof(*mfn));
	if (!mfn)
		return -ENOMEM;
	if (dm->mirrored) {
		uint64_t tables = 0;

		for (unsigned e = 0; e < n; e++)
			tables += tables_bound(dm, gfns[e], np);
		ret = reserve(dm, tables);
	}
	for (; !ret && got < n; got++)
		ret = frames_alloc(hv->fr, order, d, &mfn[got]);
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
			p2m_set(hv, dm, gfns[e] + i, mfn[e] + i, P2M_RAM);
		dm->pages += np;
		hv->stats.populated_pages += np;
		/* hook: mirror; aligned gfn and mfn let superpages through. */
		if (dm->mirrored)
			iommu_map(hv, dm, gfns[e], mfn[e], np, IOPT_PROT_RW);
	}
	iopt_unreserve(dm->pt);
	iob_free(mfn);
	PATHCTR_STOP(populate, t0);
	return 0;
}

int hv_populate(struct hv *hv, domid_t d, gfn_t gfn, unsigned order)
{
	int ret;

	hv->stats.hypercalls++;
	ret = populate(hv, d, &gfn, 1, order);
	if (ret)
		hv->stats.hypercall_errors++;
	return ret;
}

int hv_increase_reservation(struct hv *hv, domid_t d, const gfn_t *gfns, unsigned n,
			    unsigned order)
{
	uint64_t t0 = PATHCTR_START();
	int ret;

	hv->stats.hypercalls++;
	ret = populate(hv, d, gfns, n, order);
	if (ret)
		hv->stats.hypercall_errors++;
	PATHCTR_STOP(hypercall, t0);
	return ret;
}

int hv_decrease_reservation(struct hv *hv, domid_t d, const gfn_t *gfns, unsigned n,
			    unsigned order)
{
	struct domain *dm = dom_get(hv, d);
	uint64_t np = 1ULL << order, t0 = PATHCTR_START();
	struct release **rel = NULL;
	bool mirror;
	int ret = 0;

	hv->stats.hypercalls++;
	if (!dm)
		return hv->stats.hypercall_errors++, -ESRCH;
	if (!gfns || !n || (order != 0 && order != 9 && order != 18))
		return hv->stats.hypercall_errors++, -EINVAL;
	if (n > HV_BATCH_MAX)
		return hv->stats.hypercall_errors++, -EOVERFLOW;
	/* Phase one: every extent is the domain's RAM; take what phase two needs. */
	for (unsigned e = 0; e < n; e++) {
		/* gfn first: gfn + np wraps for gfns near 2^64. */
		if ((gfns[e] & (np - 1)) || gfns[e] >= dm->max_gfn || gfns[e] + np > dm->max_gfn)
			return hv->stats.hypercall_errors++, -EINVAL;
		for (uint64_t i = 0; i < np; i++)
			if (dm->p2m[gfns[e] + i] == INVALID_MFN || dm->type[gfns[e] + i] != P2M_RAM)
				return hv->stats.hypercall_errors++, -ENOENT;
		for (unsigned f = 0; f < e; f++)
			if (gfns[f] == gfns[e])
				return hv->stats.hypercall_errors++, -EINVAL;
	}
	mirror = dm->mirrored;
	rel = iob_calloc(n * np, sizeof(*rel));
	if (!rel)
		return hv->stats.hypercall_errors++, -ENOMEM;
	for (unsigned e = 0; e < n && !ret; e++)
		for (uint64_t i = 0; i < np && !ret; i++)
			if (!(rel[e * np + i] = release_new(hv, d, 1)))
				ret = -ENOMEM;
	if (!ret && mirror) {
		uint64_t tables = 0;

		for (unsigned e = 0; e < n; e++)
			tables += unmap_bound(dm);
		ret = reserve(dm, tables);
	}
	if (ret) {
		for (uint64_t i = 0; i < n * np; i++)
			iob_free(rel[i]);
		iob_free(rel);
		return hv->stats.hypercall_errors++, ret;
	}

	/* Phase two. Xen 4.17 removes (and, strict, flushes) page by page. */
	for (unsigned e = 0; e < n; e++) {
		uint64_t tb = PATHCTR_START();

		for (uint64_t i = 0; i < np; i++) {
			gfn_t g = gfns[e] + i;
			struct release *r = rel[e * np + i];

			r->pg[0].mfn = dm->p2m[g];
			r->put_frames = true;
			p2m_set(hv, dm, g, INVALID_MFN, P2M_INVALID);
			dm->pages--;
			hv->stats.ballooned_pages++;
			if (mirror) {
				iommu_unmap(hv, dm, g, 1, r);
			} else {
				/* No IOMMU entry to wait for: the frame goes now. */
				frames_put(hv->fr, r->pg[0].mfn);
				iob_free(r);
			}
		}
		PATHCTR_STOP(balloon, tb);
	}
	op_end(dm);
	iopt_unreserve(dm->pt);
	iob_free(rel);
	PATHCTR_STOP(hypercall, t0);
	return 0;
}

/* ---- grants --------------------------------------------------------------------------------------- */

int hv_grant_access(struct hv *hv, domid_t granter, domid_t grantee, gfn_t gfn,
		    bool readonly, grant_ref_t *ref)
{
	struct domain *dm = dom_get(hv, granter);
	uint32_t r;

	if (!dm || !dom_get(hv, grantee))
		return -ESRCH;
	if (granter == grantee || !ref)
		return -EINVAL;
	if (gfn >= dm->max_gfn || dm->type[gfn] != P2M_RAM)
		return -ENOENT;
	for (r = 0; r < dm->ngnt; r++)
		if (!dm->gnt[r].in_use)
			break;
	if (r == dm->ngnt) {
		struct grant_entry *ng;

		if (dm->ngnt >= (1U << 20))
			return -ENOSPC;
		ng = iob_realloc(dm->gnt, (dm->ngnt + 1) * sizeof(*ng));
		if (!ng)
			return -ENOMEM;
		dm->gnt = ng;
		dm->ngnt++;
	}
	dm->gnt[r] = (struct grant_entry){ true, readonly, grantee, gfn, 0 };
	*ref = r;
	return 0;
}

int hv_grant_end(struct hv *hv, domid_t granter, grant_ref_t ref)
{
	struct domain *dm = dom_get(hv, granter);

	if (!dm)
		return -ESRCH;
	if (ref >= dm->ngnt || !dm->gnt[ref].in_use)
		return -EINVAL;
	if (dm->gnt[ref].pins)
		return -EBUSY;
	dm->gnt[ref].in_use = false;
	return 0;
}

static struct gmap_node *gmap_find(struct domain *dm, uint64_t mfn)
{
	struct gmap_node key = { .mfn = mfn };

	return RB_FIND(gmap_tree, &dm->gmaps, &key);
}

int hv_grant_map(struct hv *hv, domid_t grantee, domid_t granter, grant_ref_t ref,
		 bool readonly, gfn_t host_gfn, grant_handle_t *handle,
		 uint64_t *dev_bus_addr)
{
	struct domain *gd = dom_get(hv, grantee), *rd = dom_get(hv, granter);
	struct grant_entry *ge;
	struct gmap_node *gn = NULL, *fresh = NULL;
	uint64_t mfn, t0 = PATHCTR_START();
	bool hook;
	uint32_t h;
	int ret = 0;

	hv->stats.hypercalls++;
	if (!gd || !rd)
		return hv->stats.hypercall_errors++, -ESRCH;
	if (!handle || host_gfn >= gd->max_gfn)
		return hv->stats.hypercall_errors++, -EINVAL;
	if (ref >= rd->ngnt || !rd->gnt[ref].in_use)
		return hv->stats.hypercall_errors++, -ENOENT;
	ge = &rd->gnt[ref];
	if (ge->grantee != grantee)
		return hv->stats.hypercall_errors++, -EPERM;
	if (ge->ro && !readonly)
		return hv->stats.hypercall_errors++, -EACCES;
	if (gd->p2m[host_gfn] != INVALID_MFN)
		return hv->stats.hypercall_errors++, -EEXIST;
	mfn = rd->p2m[ge->gfn];
	if (mfn == INVALID_MFN || rd->type[ge->gfn] != P2M_RAM)
		return hv->stats.hypercall_errors++, -ENOENT;
	hook = gd->mirrored;

	/*
	 * Phase one: a maptrack slot, the counting node, tables. A new slot
	 * is counted in phase two, so a failure below leaves nmt as it was.
	 */
	for (h = 0; h < gd->nmt; h++)
		if (!gd->mt[h].in_use)
			break;
	if (h == gd->nmt) {
		struct maptrack *nm = iob_realloc(gd->mt, (gd->nmt + 1) * sizeof(*nm));

		if (!nm)
			return hv->stats.hypercall_errors++, -ENOMEM;
		gd->mt = nm;
	}
	if (hook) {
		gn = gmap_find(gd, mfn);
		if (!gn && !(fresh = iob_calloc(1, sizeof(*fresh))))
			ret = -ENOMEM;
		if (!ret)
			ret = reserve(gd, tables_bound(gd, GRANT_DFN_BASE + mfn, 1));
		if (ret) {
			iob_free(fresh);
			if (!gd->nmt) {
				/* The table was grown from nothing: give it back. */
				iob_free(gd->mt);
				gd->mt = NULL;
			}
			return hv->stats.hypercall_errors++, ret;
		}
	}

	/* Phase two. */
	if (h == gd->nmt)
		gd->nmt++;
	frames_get(hv->fr, mfn);
	ge->pins++;
	gd->mt[h] = (struct maptrack){ true, readonly, granter, ref, host_gfn, mfn, 0, 0 };
	p2m_set(hv, gd, host_gfn, mfn, readonly ? P2M_GRANT_RO : P2M_GRANT_RW);
	if (hook) {
		/* Xen's rule: the first mapping installs, a writer upgrades. */
		if (fresh) {
			fresh->mfn = mfn;
			RB_INSERT(gmap_tree, &gd->gmaps, fresh);
			gn = fresh;
			iommu_map(hv, gd, GRANT_DFN_BASE + mfn, mfn, 1,
				  readonly ? IOPT_PROT_READ : IOPT_PROT_RW);
		} else if (!readonly && !gn->writers) {
			struct release *none = NULL;

			/* Read-only entry becomes read-write: replace it. */
			iommu_unmap(hv, gd, GRANT_DFN_BASE + mfn, 1, none);
			iommu_map(hv, gd, GRANT_DFN_BASE + mfn, mfn, 1, IOPT_PROT_RW);
		}
		gn->maps++;
		if (!readonly)
			gn->writers++;
		op_end(gd);
		iopt_unreserve(gd->pt);
	}
	hv->stats.grant_maps++;
	*handle = h;
	if (dev_bus_addr)
		*dev_bus_addr = hook ? (GRANT_DFN_BASE + mfn) << PAGE_LG2 : 0;
	PATHCTR_STOP(grant_map, t0);
	return 0;
}

/* Phase two of one grant unmap; @r was allocated in phase one. */
static void grant_unmap_commit(struct hv *hv, struct domain *gd, grant_handle_t handle,
			       struct release *r)
{
	struct maptrack *mt = &gd->mt[handle];
	struct gmap_node *gn = gd->mirrored ? gmap_find(gd, mt->mfn) : NULL;
	uint64_t t0 = PATHCTR_START(), mfn = mt->mfn;
	bool drop = false, downgrade = false;

	if (gd->mirrored && !IOB_WARN_ON(!gn)) {
		drop = gn->maps == 1;
		downgrade = !drop && !mt->ro && gn->writers == 1;
		gn->maps--;
		if (!mt->ro)
			gn->writers--;
	}
	p2m_set(hv, gd, mt->host_gfn, INVALID_MFN, P2M_INVALID);
	r->pg[0].mfn = mt->mfn;
	r->put_frames = true;
	r->has_grant = true;
	r->granter = mt->granter;
	r->gref = mt->ref;
	mt->in_use = false;
	/* @r is freed once released, which strict mode does inside iommu_unmap(). */
	if (drop) {
		RB_REMOVE(gmap_tree, &gd->gmaps, gn);
		iob_free(gn);
		iommu_unmap(hv, gd, GRANT_DFN_BASE + mfn, 1, r);
	} else if (downgrade) {
		/* The last writer went: the entry drops to read-only. */
		iommu_unmap(hv, gd, GRANT_DFN_BASE + mfn, 1, r);
		iommu_map(hv, gd, GRANT_DFN_BASE + mfn, mfn, 1, IOPT_PROT_READ);
		hv->stats.grant_downgrades++;
	} else {
		/* No IOMMU change: nothing can be stale, release now. */
		frames_pending_inc(hv->fr, mfn);
		release_fn(hv, 0, &(struct flush_release){ .fn = release_fn, .ctx = hv, .obj = r });
	}
	hv->stats.grant_unmaps++;
	PATHCTR_STOP(grant_unmap, t0);
}

int hv_grant_unmap_batch(struct hv *hv, domid_t grantee, const grant_handle_t *handles,
			 unsigned n)
{
	struct domain *gd = dom_get(hv, grantee);
	uint64_t t0 = PATHCTR_START(), tables = 0;
	struct release **rel;
	bool pending = false;
	int ret = 0;

	hv->stats.hypercalls++;
	if (!gd)
		return hv->stats.hypercall_errors++, -ESRCH;
	if (!handles || !n)
		return hv->stats.hypercall_errors++, -EINVAL;
	if (n > HV_BATCH_MAX)
		return hv->stats.hypercall_errors++, -EOVERFLOW;
	for (unsigned i = 0; i < n; i++) {
		grant_handle_t h = handles[i];

		if (h >= gd->nmt || !gd->mt[h].in_use)
			return hv->stats.hypercall_errors++, -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (handles[j] == h)
				return hv->stats.hypercall_errors++, -EINVAL;
		if (gd->mt[h].iommu_live)
			return hv->stats.hypercall_errors++, -EBUSY;
		pending |= gd->mt[h].iommu_pending != 0;
		if (gd->mirrored)
			tables += unmap_bound(gd);
	}
	rel = iob_calloc(n, sizeof(*rel));
	if (!rel)
		return hv->stats.hypercall_errors++, -ENOMEM;
	for (unsigned i = 0; i < n && !ret; i++)
		if (!(rel[i] = release_new(hv, grantee, 1)))
			ret = -ENOMEM;
	if (!ret)
		ret = reserve(gd, tables);
	if (ret) {
		for (unsigned i = 0; i < n; i++)
			iob_free(rel[i]);
		iob_free(rel);
		return hv->stats.hypercall_errors++, ret;
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
	op_end(gd);
	iopt_unreserve(gd->pt);
	iob_free(rel);
	PATHCTR_STOP(hypercall, t0);
	return 0;
}

int hv_grant_unmap(struct hv *hv, domid_t grantee, grant_handle_t handle)
{
	return hv_grant_unmap_batch(hv, grantee, &handle, 1);
}

/* ---- pv hypercalls ---------------------------------------------------------------------------------- */

/* Find @d's maptrack handle for a grant mapped at @gfn. */
static int mt_of_gfn(const struct domain *dm, gfn_t gfn)
{
	for (uint32_t h = 0; h < dm->nmt; h++)
		if (dm->mt[h].in_use && dm->mt[h].host_gfn == gfn)
			return (int)h;
	return -1;
}

/*
 * The maptrack handle whose IOMMU reference an unmapped mapping of @mfn
 * with @prot gives back, or -1. A frame mapped through a writable and a
 * read-only grant at once: a writable mapping must count against a
 * writable grant, and a read-only one against a read-only grant when
 * there is one, or unmapping the read-only mapping would let the
 * writable grant go while a writable device mapping of it remains.
 */
static int32_t mt_of_mfn(const struct domain *dm, uint64_t mfn, unsigned prot)
{
	int32_t writer = -1;

	for (uint32_t h = 0; h < dm->nmt; h++) {
		const struct maptrack *mt = &dm->mt[h];

		if (!mt->in_use || mt->mfn != mfn || !mt->iommu_live)
			continue;
		if (mt->ro == !(prot & IOPT_PROT_WRITE))
			return (int32_t)h;
		if (!mt->ro)
			writer = (int32_t)h;
	}
	return writer;
}

/* Can @dm let a device reach its @gfn with @prot? 0 or -errno. */
static int check_gfn(const struct domain *dm, gfn_t gfn, unsigned prot)
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

static bool dfn_mapped(struct domain *dm, uint64_t dfn)
{
	struct amdvi_walk w;

	return !iopt_translate(dm->pt, dfn << PAGE_LG2, &w);
}

/* Hypercall entry: counted; the strategy must offer the call and the domain exist. */
static int hc_enter(struct hv *hv, enum hv_strategy want, const struct domain *dm)
{
	hv->stats.hypercalls++;
	if (hv->cfg.strategy != want)
		return hv->stats.hypercall_errors++, -EOPNOTSUPP;
	if (!dm)
		return hv->stats.hypercall_errors++, -ESRCH;
	return 0;
}

int hv_pv_map(struct hv *hv, domid_t d, const struct hv_pv_map_op *ops, unsigned n)
{
	struct domain *dm = dom_get(hv, d);
	uint64_t t0 = PATHCTR_START(), tables = 0;
	bool pending = false;
	int ret;

	ret = hc_enter(hv, HV_PV, dm);
	if (ret)
		return ret;
	if (!ops || !n)
		return hv->stats.hypercall_errors++, -EINVAL;
	if (n > HV_BATCH_MAX)
		return hv->stats.hypercall_errors++, -EOVERFLOW;
	{
		uint64_t dfns[HV_BATCH_MAX];

		for (unsigned i = 0; i < n; i++)
			dfns[i] = ops[i].dfn;
		if (has_duplicates(dfns, n))
			return hv->stats.hypercall_errors++, -EEXIST;
	}
	for (unsigned i = 0; i < n; i++) {
		if (!(ops[i].prot & IOPT_PROT_RW) || (ops[i].prot & ~IOPT_PROT_RW))
			return hv->stats.hypercall_errors++, -EINVAL;
		ret = check_gfn(dm, ops[i].gfn, ops[i].prot);
		if (ret)
			return hv->stats.hypercall_errors++, ret;
		if (ops[i].dfn >= hv->cfg.dfn_limit)
			return hv->stats.hypercall_errors++, -ERANGE;
		if (dfn_mapped(dm, ops[i].dfn))
			return hv->stats.hypercall_errors++, -EEXIST;
		pending |= pending_find(dm, ops[i].dfn) != NULL;
		tables += tables_bound(dm, ops[i].dfn, 1);
	}
	ret = reserve(dm, tables);
	if (ret)
		return hv->stats.hypercall_errors++, ret;
	/*
	 * A dfn whose unmap still waits for its invalidation may have a stale
	 * IOTLB entry: settle the queue before the dfn is used again.
	 */
	if (pending) {
		flush_sync(dm->fl);
		hv->stats.pv_forced_syncs++;
	}
	for (unsigned i = 0; i < n; i++) {
		uint64_t mfn = dm->p2m[ops[i].gfn];
		int h = dm->type[ops[i].gfn] == P2M_RAM ? -1 : mt_of_gfn(dm, ops[i].gfn);

		/* The mapping holds the frame, and pins the grant it came through. */
		frames_get(hv->fr, mfn);
		if (h >= 0)
			dm->mt[h].iommu_live++;
		iommu_map(hv, dm, ops[i].dfn, mfn, 1, ops[i].prot);
		hv->stats.pv_maps++;
	}
	iopt_unreserve(dm->pt);
	PATHCTR_STOP(hypercall, t0);
	return 0;
}

int hv_pv_unmap(struct hv *hv, domid_t d, const uint64_t *dfns, unsigned n)
{
	struct domain *dm = dom_get(hv, d);
	uint64_t t0 = PATHCTR_START(), tables = 0;
	struct release **rel;
	struct dfn_node **pn;
	int ret;

	ret = hc_enter(hv, HV_PV, dm);
	if (ret)
		return ret;
	if (!dfns || !n)
		return hv->stats.hypercall_errors++, -EINVAL;
	if (n > HV_BATCH_MAX)
		return hv->stats.hypercall_errors++, -EOVERFLOW;
	if (has_duplicates(dfns, n))
		return hv->stats.hypercall_errors++, -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (dfns[i] >= hv->cfg.dfn_limit)
			return hv->stats.hypercall_errors++, -ERANGE;
		if (!dfn_mapped(dm, dfns[i]))
			return hv->stats.hypercall_errors++, -ENOENT;
		tables += unmap_bound(dm);
	}
	rel = iob_calloc(n, sizeof(*rel));
	pn = iob_calloc(n, sizeof(*pn));
	if (!rel || !pn)
		ret = -ENOMEM;
	for (unsigned i = 0; i < n && !ret; i++) {
		rel[i] = release_new(hv, d, 1);
		if (!rel[i] || (!pending_find(dm, dfns[i]) && !(pn[i] = iob_calloc(1, sizeof(**pn)))))
			ret = -ENOMEM;
	}
	if (!ret)
		ret = reserve(dm, tables);
	if (ret) {
		for (unsigned i = 0; rel && i < n; i++) {
			iob_free(rel[i]);
			if (pn)
				iob_free(pn[i]);
		}
		iob_free(rel);
		iob_free(pn);
		return hv->stats.hypercall_errors++, ret;
	}
	for (unsigned i = 0; i < n; i++) {
		struct amdvi_walk w;
		struct release *r = rel[i];
		struct dfn_node *p;
		uint64_t mfn;

		iopt_translate(dm->pt, dfns[i] << PAGE_LG2, &w);
		mfn = w.pa >> PAGE_LG2;
		r->pg[0].mfn = mfn;
		r->put_frames = true;
		r->has_dfn = true;
		r->dfn = dfns[i];
		/* A grant the frame came through stays pinned until the flush. */
		r->pg[0].mt = mt_of_mfn(dm, mfn, w.prot);
		if (r->pg[0].mt >= 0) {
			dm->mt[r->pg[0].mt].iommu_live--;
			dm->mt[r->pg[0].mt].iommu_pending++;
		}
		p = pending_find(dm, dfns[i]);
		if (!p) {
			p = pn[i];
			pn[i] = NULL;
			p->dfn = dfns[i];
			RB_INSERT(dfn_tree, &dm->pending, p);
		}
		p->count++;
		iommu_unmap(hv, dm, dfns[i], 1, r);
		hv->stats.pv_unmaps++;
	}
	op_end(dm);
	iopt_unreserve(dm->pt);
	for (unsigned i = 0; i < n; i++)
		iob_free(pn[i]);
	iob_free(rel);
	iob_free(pn);
	PATHCTR_STOP(hypercall, t0);
	return 0;
}

/* ---- DMA-layer hypercalls ------------------------------------------------------------------------- */

static struct dma_node *dma_find(struct domain *dm, iova_t iova)
{
	struct dma_node key = { .iova = iova };

	return RB_FIND(dma_tree, &dm->dmas, &key);
}

int hv_dma_map(struct hv *hv, domid_t d, uint16_t devid, const gfn_t *gfns, unsigned n,
	       unsigned dir, iova_t *out)
{
	struct domain *dm = dom_get(hv, d);
	uint64_t t0 = PATHCTR_START(), t1;
	struct dma_node *dn;
	iova_t iova;
	int ret;

	ret = hc_enter(hv, HV_DMALAYER, dm);
	if (ret)
		return ret;
	if (hv->devowner[devid] != d)
		return hv->stats.hypercall_errors++, -ENODEV;
	if (!gfns || !n || !out || !(dir & IOPT_PROT_RW) || (dir & ~IOPT_PROT_RW))
		return hv->stats.hypercall_errors++, -EINVAL;
	if (n > HV_DMA_PAGES_MAX)
		return hv->stats.hypercall_errors++, -EOVERFLOW;
	for (unsigned i = 0; i < n; i++) {
		ret = check_gfn(dm, gfns[i], dir);
		if (ret)
			return hv->stats.hypercall_errors++, ret;
	}
	dn = iob_malloc(sizeof(*dn) + n * sizeof(uint64_t));
	if (!dn)
		return hv->stats.hypercall_errors++, -ENOMEM;
	/*
	 * Tables before the IOVA, for a range anywhere (one more table per
	 * level than from 0): an IOVA given back after a failure would stay
	 * in the per-CPU cache, and the call would not be all or nothing.
	 */
	ret = reserve(dm, tables_bound(dm, 0, n) + iopt_levels(dm->pt) - 1);
	if (!ret) {
		t1 = PATHCTR_START();
		ret = iova_alloc(dm->iova, 0, n, &iova);
		PATHCTR_STOP(iova_alloc, t1);
	}
	if (ret) {
		iopt_unreserve(dm->pt);
		iob_free(dn);
		return hv->stats.hypercall_errors++, ret;
	}
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
			int h = dm->type[gfns[i + k]] == P2M_RAM ? -1 : mt_of_gfn(dm, gfns[i + k]);

			frames_get(hv->fr, dn->mfn[i + k]);
			if (h >= 0)
				dm->mt[h].iommu_live++;
		}
		iommu_map(hv, dm, (iova >> PAGE_LG2) + i, dn->mfn[i], run, dir);
		i += run;
	}
	RB_INSERT(dma_tree, &dm->dmas, dn);
	iopt_unreserve(dm->pt);
	hv->stats.dma_maps++;
	*out = iova;
	PATHCTR_STOP(dma_map, t0);
	return 0;
}

int hv_dma_unmap_batch(struct hv *hv, domid_t d, uint16_t devid, const struct hv_dma_seg *segs,
		       unsigned n)
{
	struct domain *dm = dom_get(hv, d);
	uint64_t t0 = PATHCTR_START(), tables = 0;
	struct dma_node **dn;
	struct release **rel;
	int ret;

	ret = hc_enter(hv, HV_DMALAYER, dm);
	if (ret)
		return ret;
	if (hv->devowner[devid] != d)
		return hv->stats.hypercall_errors++, -ENODEV;
	if (!segs || !n)
		return hv->stats.hypercall_errors++, -EINVAL;
	if (n > HV_BATCH_MAX)
		return hv->stats.hypercall_errors++, -EOVERFLOW;
	for (unsigned i = 0; i < n; i++) {
		struct dma_node *x;

		if (!segs[i].len || segs[i].len > ((uint64_t)HV_DMA_PAGES_MAX << PAGE_LG2) ||
		    (segs[i].iova & (PAGE - 1)))
			return hv->stats.hypercall_errors++, -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (segs[j].iova == segs[i].iova)
				return hv->stats.hypercall_errors++, -EINVAL;
		x = dma_find(dm, segs[i].iova);
		if (!x || x->devid != devid ||
		    ((uint64_t)x->n << PAGE_LG2) != ((segs[i].len + PAGE - 1) & ~(PAGE - 1)))
			return hv->stats.hypercall_errors++, -ENOENT;
		tables += unmap_bound(dm);
	}
	dn = iob_calloc(n, sizeof(*dn));
	rel = iob_calloc(n, sizeof(*rel));
	if (!dn || !rel)
		ret = -ENOMEM;
	for (unsigned i = 0; i < n && !ret; i++) {
		dn[i] = dma_find(dm, segs[i].iova);
		if (!(rel[i] = release_new(hv, d, dn[i]->n)))
			ret = -ENOMEM;
	}
	if (!ret)
		ret = reserve(dm, tables);
	if (ret) {
		for (unsigned i = 0; rel && i < n; i++)
			iob_free(rel[i]);
		iob_free(rel);
		iob_free(dn);
		return hv->stats.hypercall_errors++, ret;
	}
	for (unsigned i = 0; i < n; i++) {
		struct release *r = rel[i];
		uint64_t t1 = PATHCTR_START();

		for (unsigned k = 0; k < dn[i]->n; k++) {
			r->pg[k].mfn = dn[i]->mfn[k];
			/* A grant the frame came through stays pinned until the flush. */
			r->pg[k].mt = mt_of_mfn(dm, dn[i]->mfn[k], dn[i]->dir);
			if (r->pg[k].mt >= 0) {
				dm->mt[r->pg[k].mt].iommu_live--;
				dm->mt[r->pg[k].mt].iommu_pending++;
			}
		}
		r->put_frames = true;
		r->has_iova = true;
		r->iova = dn[i]->iova;
		r->iova_pages = dn[i]->n;
		RB_REMOVE(dma_tree, &dm->dmas, dn[i]);
		iommu_unmap(hv, dm, dn[i]->iova >> PAGE_LG2, dn[i]->n, r);
		iob_free(dn[i]);
		hv->stats.dma_unmaps++;
		PATHCTR_STOP(dma_unmap, t1);
	}
	op_end(dm);
	iopt_unreserve(dm->pt);
	iob_free(rel);
	iob_free(dn);
	PATHCTR_STOP(hypercall, t0);
	return 0;
}

int hv_dma_unmap(struct hv *hv, domid_t d, uint16_t devid, iova_t iova, uint64_t len)
{
	struct hv_dma_seg seg = { iova, len };

	return hv_dma_unmap_batch(hv, d, devid, &seg, 1);
}

/* ---- batches, time, sync --------------------------------------------------------------------------- */

void hv_batch_end(struct hv *hv, domid_t d)
{
	struct domain *dm = dom_get(hv, d);

	if (dm)
		flush_batch_end(dm->fl);
}

void hv_tick(struct hv *hv)
{
	for (domid_t d = 1; d < HV_DOMAINS_MAX; d++)
		if (hv->dom[d].live)
			flush_poll(hv->dom[d].fl, 0);
}

void hv_sync(struct hv *hv)
{
	for (domid_t d = 1; d < HV_DOMAINS_MAX; d++)
		if (hv->dom[d].live)
			flush_sync(hv->dom[d].fl);
}

/* ---- device DMA ------------------------------------------------------------------------------------ */

int hv_device_dma(struct hv *hv, uint16_t devid, iova_t addr, uint64_t len,
		  unsigned access, struct hv_dma_result *r)
{
	iova_t a = addr & ~(PAGE - 1), end = addr + (len ? len : 1);

	memset(r, 0, sizeof(*r));
	r->mfn_first = INVALID_MFN;
	r->owner_first = DOMID_INVALID;
	for (; a < end; a += PAGE) {
		struct iommu_xlate x;

		r->pages++;
		hv->stats.dmas++;
		if (iommu_translate(hv->mmu, devid, a, access, &x)) {
			r->faults++;
			hv->stats.dma_faults++;
		} else if (r->pages == 1) {
			r->mfn_first = x.pa >> PAGE_LG2;
			r->owner_first = frames_owner(hv->fr, r->mfn_first);
		}
		r->tlb_hits += x.tlb_hit;
		r->levels_read += x.levels_read;
		r->model_ns += x.model_ns;
	}
	return r->faults ? -EFAULT : 0;
}

/* Does @granter still hold a pinned grant of frame @mfn to @grantee? */
static bool grant_pinned_to(const struct hv *hv, domid_t granter, domid_t grantee, uint64_t mfn)
{
	const struct domain *g = dom_cget(hv, granter);

	if (!g)
		return false;
	for (uint32_t r = 0; r < g->ngnt; r++)
		if (g->gnt[r].in_use && g->gnt[r].pins && g->gnt[r].grantee == grantee &&
		    g->p2m[g->gnt[r].gfn] == mfn)
			return true;
	return false;
}

int hv_stale_probe(struct hv *hv, uint16_t devid, domid_t owner, iova_t addr,
		   uint64_t mfn)
{
	struct iommu_xlate x;
	domid_t o;

	hv->stats.attack_probes++;
	if (iommu_translate(hv->mmu, devid, addr, IOPT_PROT_WRITE, &x))
		return 0;
	/* The address now leads to another buffer: mapped again, not the one unmapped. */
	if (mfn != INVALID_MFN && (x.pa >> PAGE_LG2) != mfn) {
		hv->stats.probe_hits_remapped++;
		return 0;
	}
	o = frames_owner(hv->fr, x.pa >> PAGE_LG2);
	if (o == DOMID_INVALID)
		hv->stats.stale_dmas_free++;
	else if (o == owner)
		hv->stats.stale_dmas_own++;
	else if (grant_pinned_to(hv, o, owner, x.pa >> PAGE_LG2))
		hv->stats.stale_dmas_granted++;
	else
		hv->stats.stale_dmas_foreign++;
	return 1;
}

void hv_stats_get(const struct hv *hv, struct hv_stats *out)
{
	*out = hv->stats;
}

void hv_stats_reset(struct hv *hv)
{
	memset(&hv->stats, 0, sizeof(hv->stats));
}

/* ---- fingerprint ------------------------------------------------------------------------------------- */

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ULL;
}

uint64_t hv_fingerprint(const struct hv *hv)
{
	uint64_t h = frames_fingerprint(hv->fr);

	for (domid_t d = 1; d < HV_DOMAINS_MAX; d++) {
		/* The tree macros take no const; nothing is modified here. */
		struct domain *dm = (struct domain *)&hv->dom[d];
		struct gmap_node *gn;
		struct dfn_node *dn;
		struct dma_node *mn;

		if (!dm->live)
			continue;
		h = mix(h, d);
		h = mix(h, dm->pages);
		for (gfn_t g = 0; g < dm->max_gfn; g++)
			if (dm->p2m[g] != INVALID_MFN)
				h = mix(mix(mix(h, g), dm->p2m[g]), dm->type[g]);
		for (uint32_t r = 0; r < dm->ngnt; r++)
			if (dm->gnt[r].in_use)
				h = mix(mix(mix(mix(h, r), dm->gnt[r].gfn), dm->gnt[r].pins),
					dm->gnt[r].grantee | (uint64_t)dm->gnt[r].ro << 32);
		for (uint32_t m = 0; m < dm->nmt; m++)
			if (dm->mt[m].in_use)
				h = mix(mix(mix(mix(h, m), dm->mt[m].mfn), dm->mt[m].iommu_live),
					dm->mt[m].iommu_pending);
		RB_FOREACH(gn, gmap_tree, &dm->gmaps)
			h = mix(mix(mix(h, gn->mfn), gn->maps), gn->writers);
		RB_FOREACH(dn, dfn_tree, &dm->pending)
			h = mix(mix(h, dn->dfn), dn->count);
		RB_FOREACH(mn, dma_tree, &dm->dmas) {
			h = mix(mix(h, mn->iova), mn->n);
			for (unsigned i = 0; i < mn->n; i++)
				h = mix(h, mn->mfn[i]);
		}
		h = mix(h, iopt_fingerprint(dm->pt));
	}
	for (unsigned i = 0; i < IOMMU_DEVICES; i++)
		if (hv->devowner[i] != DOMID_INVALID)
			h = mix(mix(h, i), hv->devowner[i]);
	return h;
}

const char *hv_strategy_name(enum hv_strategy s)
{
	switch (s) {
	case HV_HOOK:
		return "hook";
	case HV_PV:
		return "pv";
	case HV_DMALAYER:
		return "dmalayer";
	default:
		return "?";
	}
}

int hv_strategy_parse(const char *name)
{
	for (int s = 0; s < HV_STRATEGY_NR; s++)
		if (!strcmp(name, hv_strategy_name(s)))
			return s;
	return -EINVAL;
}
