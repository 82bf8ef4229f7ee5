// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Domains and devices: create and destroy a domain (its p2m, I/O page
 * table, flush policy and the strategy's own state), assign and deassign
 * devices.
 */
#include <errno.h>
#include <string.h>

#include <iob/alloc.h>
#include <iob/iommu.h>
#include <iob/warn.h>

#include "hv_impl.h"

struct hv_domain *hv_dom(struct hv *hv, domid_t d)
{
	if (!d || d >= HV_DOMAINS_MAX || !hv->dom[d].live)
		return NULL;
	return &hv->dom[d];
}

const struct hv_domain *hv_dom_const(const struct hv *hv, domid_t d)
{
	if (!d || d >= HV_DOMAINS_MAX || !hv->dom[d].live)
		return NULL;
	return &hv->dom[d];
}

/* Everything but the strategy's state, which domain_fini has given back. */
static void domain_free(struct hv_domain *dm)
{
	flush_destroy(dm->fl);
	iopt_destroy(dm->pt);
	iob_free(dm->p2m);
	iob_free(dm->type);
	iob_free(dm->pvtable);
	iob_free(dm->gnt);
	iob_free(dm->mt);
	memset(dm, 0, sizeof(*dm));
}

static int domain_tables(struct hv *hv, struct hv_domain *dm)
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
		.clock_ns = hv->cfg.tune.clock_ns,
		.clock_ctx = hv->cfg.tune.clock_ctx,
	};
	int ret = iopt_create(&pc, &dm->pt);

	if (!ret)
		ret = flush_create(&fc, hv->mmu, dm->pt, dm->id, &dm->fl);
	if (!ret && hv->ops->domain_init)
		ret = hv->ops->domain_init(hv, dm);
	return ret;
}

int hv_domain_create(struct hv *hv, uint64_t max_pages, domid_t *out)
{
	struct hv_domain *dm = NULL;
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
		domain_free(dm);
		return -ENOMEM;
	}
	memset(dm->p2m, 0xff, max_pages * sizeof(*dm->p2m));
	ret = domain_tables(hv, dm);
	if (ret) {
		domain_free(dm);
		return ret;
	}
	dm->live = true;
	*out = d;
	return 0;
}

static uint16_t any_device_of(const struct hv *hv, domid_t d)
{
	for (unsigned i = 0; i < IOMMU_DEVICES; i++)
		if (hv_devowner(hv, i) == d)
			return (uint16_t)i;
	return 0;
}

void hv_domain_unmap_grants(struct hv *hv, struct hv_domain *dm)
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
			struct hv_domain *rd = &hv->dom[dm->mt[h].granter];

			frames_put(hv->fr, dm->mt[h].mfn);
			if (!IOB_WARN_ON(!rd->live || !rd->gnt[dm->mt[h].ref].pins))
				rd->gnt[dm->mt[h].ref].pins--;
			dm->mt[h].in_use = false;
		}
}

int hv_domain_destroy(struct hv *hv, domid_t d)
{
	struct hv_domain *dm = hv_dom(hv, d);

	if (!dm)
		return -ESRCH;
	/* Its grants must be unmapped by the grantees first (Xen refuses too). */
	for (uint32_t r = 0; r < dm->ngnt; r++)
		if (dm->gnt[r].in_use && dm->gnt[r].pins) {
			hv_sync(hv);
			if (dm->gnt[r].pins)
				return -EBUSY;
		}
	hv_domain_unmap_grants(hv, dm);
	/* Device mappings hold frame references: they go before the p2m's. */
	if (hv->ops->domain_fini)
		hv->ops->domain_fini(hv, dm);
	for (gfn_t g = 0; g < dm->max_gfn; g++)
		if (dm->p2m[g] != INVALID_MFN && dm->type[g] == P2M_RAM)
			frames_put(hv->fr, dm->p2m[g]);
	domain_free(dm);
	return 0;
}

uint64_t hv_domain_max_gfn(const struct hv *hv, domid_t d)
{
	const struct hv_domain *dm = hv_dom_const(hv, d);

	return dm ? dm->max_gfn : 0;
}

uint64_t hv_p2m_lookup(const struct hv *hv, domid_t d, gfn_t gfn, enum p2m_type *type)
{
	const struct hv_domain *dm = hv_dom_const(hv, d);

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
	struct hv_domain *dm = hv_dom(hv, d);

	return dm ? dm->pt : NULL;
}

struct flush *hv_domain_flush(struct hv *hv, domid_t d)
{
	struct hv_domain *dm = hv_dom(hv, d);

	return dm ? dm->fl : NULL;
}

/* ---- devices ------------------------------------------------------------------------ */

int hv_device_translated(struct hv *hv, struct hv_domain *dm, uint16_t devid)
{
	return iommu_dte_set(hv->mmu, devid, dm->id, iopt_root(dm->pt), iopt_levels(dm->pt),
			     IOPT_PROT_RW);
}

int hv_assign_device(struct hv *hv, uint16_t devid, domid_t d)
{
	struct hv_domain *dm = hv_dom(hv, d);
	int ret;

	if (!dm)
		return -ESRCH;
	if (hv_devowner(hv, devid) != DOMID_INVALID)
		return hv_devowner(hv, devid) == d ? 0 : -EBUSY;
	ret = hv->ops->device_assign ? hv->ops->device_assign(hv, dm, devid)
				     : hv_device_translated(hv, dm, devid);
	if (ret)
		return ret;
	/* The IOMMU caches DTEs: tell it this one changed. */
	iommu_flush_dte(hv->mmu, devid);
	iommu_completion_wait(hv->mmu);
	hv_devowner_set(hv, devid, d);
	hv->devhash ^= hv_dev_hash(devid, d);
	dm->ndev++;
	return 0;
}

int hv_deassign_device(struct hv *hv, uint16_t devid)
{
	domid_t d = hv_devowner(hv, devid);

	if (d == DOMID_INVALID)
		return -ENODEV;
	iommu_dte_block(hv->mmu, devid);
	iommu_flush_dte(hv->mmu, devid);
	iommu_completion_wait(hv->mmu);
	hv_devowner_set(hv, devid, DOMID_INVALID);
	hv->devhash ^= hv_dev_hash(devid, d);
	hv->dom[d].ndev--;
	return 0;
}

domid_t hv_device_owner(const struct hv *hv, uint16_t devid)
{
	return hv_devowner(hv, devid);
}
