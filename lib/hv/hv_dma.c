// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Device DMA through the model IOMMU, page by page, with or without the
 * bytes; and the attacker's probes of addresses a driver has unmapped.
 */
#include <errno.h>
#include <string.h>

#include <iob/iommu.h>

#include "hv_impl.h"

static void dma_begin(struct hv_dma_result *r)
{
	memset(r, 0, sizeof(*r));
	r->mfn_first = INVALID_MFN;
	r->owner_first = DOMID_INVALID;
}

/*
 * A device no domain has is blocked, whatever its address. The model's
 * device table starts zeroed (V = 0: the IOMMU does not translate the
 * device at all, its DMA goes through untranslated), and only assigning a
 * device writes its entry; an AMD IOMMU driver instead marks every entry
 * valid with translation on and no rights when it sets the table up, so a
 * device nobody configured reaches nothing (Linux: the DTEs written by
 * init_device_table_dma()). Found by tests/fuzz/fuzz_hv.c: an unassigned
 * device reached every domain's memory. Under swiotlb there is no IOMMU in
 * the way for anyone, by design.
 */
static bool dev_blocked(const struct hv *hv, uint16_t devid)
{
	return hv_devowner(hv, devid) == DOMID_INVALID && hv->cfg.strategy != HV_SWIOTLB;
}

/* One page of a DMA: translate it and count; 0 with *@pa, or -EFAULT. */
static int dma_page(struct hv *hv, uint16_t devid, iova_t a, unsigned access,
		    struct hv_dma_result *r, paddr_t *pa)
{
	struct iommu_xlate x = { 0 };
	int ret = dev_blocked(hv, devid) ? -EFAULT : iommu_translate(hv->mmu, devid, a, access, &x);

	r->pages++;
	hv->stats.dmas++;
	if (ret) {
		r->faults++;
		hv->stats.dma_faults++;
	} else if (r->pages == 1) {
		r->mfn_first = x.pa >> HV_PAGE_LG2;
		r->owner_first = frames_owner(hv->fr, r->mfn_first);
	}
	r->tlb_hits += x.tlb_hit;
	r->levels_read += x.levels_read;
	r->model_ns += x.model_ns;
	*pa = x.pa;
	return ret;
}

/*
 * The range [@addr, @addr + @len) must neither wrap past 2^64 nor exceed
 * HV_DMA_BYTES_MAX. Found by tests/fuzz/fuzz_hv.c: an end computed as
 * @addr + @len wrapped, so a DMA near 2^64 translated nothing and returned
 * 0, or (ending at 2^64 - 1) walked 2^52 pages.
 */
static bool dma_range_bad(iova_t addr, uint64_t len)
{
	return len > HV_DMA_BYTES_MAX || addr + (len - 1) < addr;
}

int hv_device_dma(struct hv *hv, uint16_t devid, iova_t addr, uint64_t len,
		  unsigned access, struct hv_dma_result *r)
{
	uint64_t n = len ? len : 1;
	iova_t a = addr & ~(HV_PAGE - 1), last;

	dma_begin(r);
	if (dma_range_bad(addr, n))
		return -EINVAL;
	last = (addr + (n - 1)) & ~(HV_PAGE - 1);
	for (;; a += HV_PAGE) {
		paddr_t pa;

		dma_page(hv, devid, a, access, r, &pa);
		if (a == last)
			break;
	}
	return r->faults ? -EFAULT : 0;
}

int hv_device_rw(struct hv *hv, uint16_t devid, iova_t addr, void *buf, uint64_t len,
		 unsigned access, struct hv_dma_result *r)
{
	uint8_t *b = buf;

	if (!hv->mem)
		return -EOPNOTSUPP;
	dma_begin(r);
	if (!buf || !len || (access != IOPT_PROT_READ && access != IOPT_PROT_WRITE) ||
	    dma_range_bad(addr, len))
		return -EINVAL;
	while (len) {
		uint64_t off = addr & (HV_PAGE - 1), chunk = HV_PAGE - off;
		uint8_t *mem = NULL;
		paddr_t pa;

		if (chunk > len)
			chunk = len;
		if (!dma_page(hv, devid, addr, access, r, &pa) &&
		    !(mem = hv_frame_mem(hv, pa >> HV_PAGE_LG2))) {
			/* No memory behind the address: the access aborts like a fault. */
			r->faults++;
			hv->stats.dma_faults++;
		}
		if (mem && access == IOPT_PROT_WRITE)
			memcpy(mem + off, b, chunk);
		else if (mem)
			memcpy(b, mem + off, chunk);
		addr += chunk;
		b += chunk;
		len -= chunk;
	}
	return r->faults ? -EFAULT : 0;
}

/* Does @granter still hold a pinned grant of frame @mfn to @grantee? */
static bool grant_pinned_to(const struct hv *hv, domid_t granter, domid_t grantee, uint64_t mfn)
{
	const struct hv_domain *g = hv_dom_const(hv, granter);

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
	if (dev_blocked(hv, devid) || iommu_translate(hv->mmu, devid, addr, IOPT_PROT_WRITE, &x))
		return 0;
	/* The address now leads to another buffer: mapped again, not the one unmapped. */
	if (mfn != INVALID_MFN && (x.pa >> HV_PAGE_LG2) != mfn) {
		hv->stats.probe_hits_remapped++;
		return 0;
	}
	o = frames_owner(hv->fr, x.pa >> HV_PAGE_LG2);
	if (o == DOMID_INVALID)
		hv->stats.stale_dmas_free++;
	else if (o == owner)
		hv->stats.stale_dmas_own++;
	else if (grant_pinned_to(hv, o, owner, x.pa >> HV_PAGE_LG2))
		hv->stats.stale_dmas_granted++;
	else
		hv->stats.stale_dmas_foreign++;
	return 1;
}
