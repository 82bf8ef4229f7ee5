// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The model hypervisor: creation, the strategy table, the hypercall
 * prologue and epilogue, batches and time, statistics and the fingerprint.
 * The rooms it is made of are listed in hv_impl.h.
 */
#include <errno.h>
#include <string.h>

#include <iob/alloc.h>
#include <iob/iommu.h>

#include "hv_impl.h"

/*
 * The strategies, by enum hv_strategy. Adding one: a file with its
 * struct hv_strategy_ops, an entry here, its enum value in <iob/hv.h>,
 * the file in lib/meson.build (and its guest side in lib/dps, see dps.c).
 */
static const struct hv_strategy_ops *const hv_strategies[HV_STRATEGY_NR] = {
	[HV_HOOK] = &hv_hook_ops,
	[HV_PV] = &hv_pv_ops,
	[HV_DMALAYER] = &hv_dmalayer_ops,
	[HV_SWIOTLB] = &hv_swiotlb_ops,
};

/* ---- create / destroy ------------------------------------------------------------- */

static bool cfg_valid(const struct hv_cfg *cfg)
{
	return cfg->strategy < HV_STRATEGY_NR && cfg->tune.flush < FLUSH_MODE_NR &&
	       cfg->tune.policy < INVAL_POLICY_NR && cfg->tune.impl < IOPT_IMPL_NR &&
	       (!cfg->levels || (cfg->levels >= 4 && cfg->levels <= 6));
}

static void hv_free(struct hv *hv)
{
	iommu_destroy(hv->mmu);
	frames_destroy(hv->fr);
	iob_zunmap(hv->mem, hv->mem ? hv->cfg.machine_frames * HV_PAGE : 0);
	iob_free(hv);
}

int hv_create(const struct hv_cfg *cfg, struct hv **out)
{
	struct iommu_cfg mc = { .cpu = -1 };
	struct hv *hv;
	int ret;

	if (!cfg || !out || !cfg_valid(cfg))
		return -EINVAL;
	hv = iob_calloc(1, sizeof(*hv));
	if (!hv)
		return -ENOMEM;
	hv->cfg = *cfg;
	hv->ops = hv_strategies[cfg->strategy];
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
	if (!mc.tlb.entries)
		iotlb_cfg_default(NULL, &mc.tlb);
	mc.np_cache = cfg->np_cache;
	ret = frames_create(hv->cfg.machine_frames, &hv->fr);
	if (!ret)
		ret = iommu_create(&mc, &hv->mmu);
	/* Real bytes behind every frame, for a strategy that copies data; untouched ones cost nothing. */
	if (!ret && hv->ops->frame_memory &&
	    !(hv->mem = iob_zmap(hv->cfg.machine_frames * HV_PAGE)))
		ret = -ENOMEM;
	if (ret) {
		hv_free(hv);
		return ret;
	}
	*out = hv;
	return 0;
}

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
			hv_domain_unmap_grants(hv, &hv->dom[d]);
	for (domid_t d = 1; d < HV_DOMAINS_MAX; d++)
		if (hv->dom[d].live)
			hv_domain_destroy(hv, d);
	hv_free(hv);
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

void *hv_frame_mem(struct hv *hv, uint64_t mfn)
{
	if (!hv->mem || mfn >= hv->cfg.machine_frames)
		return NULL;
	return hv->mem + (mfn << HV_PAGE_LG2);
}

/* ---- hypercall prologue and epilogue -------------------------------------------------- */

int hv_call_enter(struct hv *hv, struct hv_call *c, unsigned family, domid_t d,
		  enum pathctr_path path)
{
	c->t0 = PATHCTR_START();
	c->path = path;
	c->dm = NULL;
	hv->stats.hypercalls++;
	if ((hv->ops->calls & family) != family)
		return -EOPNOTSUPP;
	c->dm = hv_dom(hv, d);
	return c->dm ? 0 : -ESRCH;
}

int hv_call_exit(struct hv *hv, const struct hv_call *c, int ret)
{
	if (ret) {
		hv->stats.hypercall_errors++;
		return ret;
	}
#if IOB_PATHCTR
	if (c->path < PATH_NR && pathctr_on)
		pathctr_add(c->path, cycles_end() - c->t0);
#else
	(void)c;
#endif
	return 0;
}

/* ---- batches, time, sync ---------------------------------------------------------------- */

void hv_batch_end(struct hv *hv, domid_t d)
{
	struct hv_domain *dm = hv_dom(hv, d);

	if (dm)
		flush_batch_end(dm->fl);
}

void hv_tick(struct hv *hv)
{
	for (domid_t d = 1; d < HV_DOMAINS_MAX; d++)
		for (unsigned c = 0; hv->dom[d].live && c < hv->cfg.ncpus; c++)
			flush_poll(hv->dom[d].fl, c);
}

void hv_set_cpu(struct hv *hv, unsigned cpu)
{
	hv->cpu = cpu % hv->cfg.ncpus;
}

void hv_sync(struct hv *hv)
{
	for (domid_t d = 1; d < HV_DOMAINS_MAX; d++)
		if (hv->dom[d].live)
			flush_sync(hv->dom[d].fl);
}

/* ---- statistics, fingerprint, names ------------------------------------------------------- */

void hv_stats_get(const struct hv *hv, struct hv_stats *out)
{
	*out = hv->stats;
}

void hv_stats_reset(struct hv *hv)
{
	memset(&hv->stats, 0, sizeof(hv->stats));
}

static uint64_t domain_fingerprint(const struct hv *hv, const struct hv_domain *dm, uint64_t h)
{
	h = hv_mix(h, dm->id);
	h = hv_mix(h, dm->pages);
	for (gfn_t g = 0; g < dm->max_gfn; g++)
		if (dm->p2m[g] != INVALID_MFN)
			h = hv_mix(hv_mix(hv_mix(h, g), dm->p2m[g]),
				   dm->type[g] | (uint64_t)hv_pv_typed(dm, g) << 8);
	h = hv_mix(h, dm->identity);
	for (uint32_t r = 0; r < dm->ngnt; r++)
		if (dm->gnt[r].in_use)
			h = hv_mix(hv_mix(hv_mix(hv_mix(h, r), dm->gnt[r].gfn), dm->gnt[r].pins),
				   dm->gnt[r].grantee | (uint64_t)dm->gnt[r].ro << 32);
	for (uint32_t m = 0; m < dm->nmt; m++)
		if (dm->mt[m].in_use)
			h = hv_mix(hv_mix(hv_mix(hv_mix(h, m), dm->mt[m].mfn), dm->mt[m].iommu_live),
				   dm->mt[m].iommu_pending);
	if (hv->ops->fingerprint)
		h = hv->ops->fingerprint(dm, h);
	return hv_mix(h, iopt_fingerprint(dm->pt));
}

uint64_t hv_fingerprint(const struct hv *hv)
{
	uint64_t h = frames_fingerprint(hv->fr);

	for (domid_t d = 1; d < HV_DOMAINS_MAX; d++)
		if (hv->dom[d].live)
			h = domain_fingerprint(hv, &hv->dom[d], h);
	return hv_mix(h, hv->devhash);
}

const char *hv_strategy_name(enum hv_strategy s)
{
	return (unsigned)s < HV_STRATEGY_NR ? hv_strategies[s]->name : "?";
}

int hv_strategy_parse(const char *name)
{
	for (int s = 0; s < HV_STRATEGY_NR; s++)
		if (!strcmp(name, hv_strategy_name(s)))
			return s;
	return -EINVAL;
}
