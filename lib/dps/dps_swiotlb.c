// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * swiotlb's guest side: xen-swiotlb, the DMA API of a Xen PV driver domain
 * without IOMMU protection (Linux 6.1: drivers/xen/swiotlb-xen.c over
 * kernel/dma/swiotlb.c). At start the guest exchanges the RAM set aside for
 * its bounce pool for machine-contiguous segments below 4 GiB, one
 * XENMEM_exchange for the whole pool (Linux: xen_swiotlb_fixup() calls
 * xen_create_contiguous_region() per segment, from 2^18 bytes up to its
 * 32-bit limit). Then every map takes slots in the pool and copies the
 * buffer in; every unmap copies it back when the device may have written
 * it, and frees the slots. A device address is the slot's machine address:
 * the device's DTE translates nothing. No hypercall on the I/O path.
 *
 * Geometry, as Linux 6.1 (include/linux/swiotlb.h, kernel/dma/swiotlb.c):
 * slots of IO_TLB_SIZE = 2 KiB (IO_TLB_SHIFT 11) in segments of
 * IO_TLB_SEGSIZE = 128 slots (256 KiB) that no mapping crosses (a segment
 * is machine-contiguous, the next one need not follow it); a mapping of a
 * page or more starts on a page (a stride of two slots); the default pool
 * is IO_TLB_DEFAULT_SIZE, 64 MiB. The search (swiotlb_do_find_slots()) is
 * next-fit from a cursor, stride by stride, reading per slot the count of
 * free slots from it to the end of its run in the segment; a release
 * (swiotlb_release_slots()) merges the counts with the free slots after
 * and before. One area: Linux has one per CPU since 5.19, the model's
 * guest maps from one.
 *
 * Copies as Linux 6.1 makes them: into the slots at map whatever the
 * direction (swiotlb_tbl_map_single() bounces unconditionally since 5.18,
 * so a device that writes less than the buffer does not leave the pool's
 * old contents in it), back at unmap for DMA_FROM_DEVICE and
 * bidirectional. The memory on both sides is the frames' real bytes
 * (hv_frame_mem()), so the cost grows with the bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <iob/alloc.h>

#include "dps_impl.h"

#define IO_TLB_SHIFT		11
#define IO_TLB_SIZE		(1U << IO_TLB_SHIFT)
#define IO_TLB_SEGSIZE		128
#define IO_TLB_DEFAULT_PAGES	((64U << 20) >> DPS_PAGE_LG2)
#define SLOTS_PER_PAGE		(DPS_PAGE >> IO_TLB_SHIFT)
#define SEG_PAGES		(IO_TLB_SEGSIZE / SLOTS_PER_PAGE)
#define SEG_ORDER		6			/* 64 pages */
#define DMA_BITS		32			/* xen-swiotlb's MAX_DMA_BITS */

_Static_assert(SEG_PAGES == 1U << SEG_ORDER, "a segment is one exchanged extent");

struct slot {
	uint64_t orig;		/* guest address of the bytes it holds */
	uint16_t free;		/* free slots from here to the end of the run (Linux: list) */
	uint16_t nslots;	/* on a mapping's first slot: its slots */
	uint8_t dir;		/* on a mapping's first slot: IOPT_PROT_* */
};

struct seg_index {
	uint64_t mfn;
	uint32_t seg;
};

struct swiotlb {
	uint32_t nslots, nsegs;
	uint32_t cursor;	/* where the next search starts (Linux: area->index) */
	uint32_t used;
	struct slot *slot;
	uint64_t *seg_mfn;	/* each segment's first frame */
	struct seg_index *by_mfn;	/* segments by frame: bus address to slot */
};

static struct swiotlb *pool_of(const struct dps *p)
{
	return p->priv;
}

static uint8_t *slot_mem(const struct dps *p, const struct swiotlb *t, uint32_t i)
{
	uint64_t mfn = t->seg_mfn[i / IO_TLB_SEGSIZE] + (i % IO_TLB_SEGSIZE) / SLOTS_PER_PAGE;

	return (uint8_t *)hv_frame_mem(p->cfg.hv, mfn) + (i % SLOTS_PER_PAGE) * IO_TLB_SIZE;
}

static uint64_t slot_bus(const struct swiotlb *t, uint32_t i)
{
	return (t->seg_mfn[i / IO_TLB_SEGSIZE] << DPS_PAGE_LG2) +
	       (uint64_t)(i % IO_TLB_SEGSIZE) * IO_TLB_SIZE;
}

/* The slot at device address @bus, or -1: the guest's m2p, for the pool only. */
static int64_t slot_of(const struct swiotlb *t, uint64_t bus)
{
	uint64_t mfn = bus >> DPS_PAGE_LG2;
	uint32_t lo = 0, hi = t->nsegs;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (t->by_mfn[mid].mfn + SEG_PAGES <= mfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == t->nsegs || mfn < t->by_mfn[lo].mfn || (bus & (IO_TLB_SIZE - 1)))
		return -1;
	return (int64_t)t->by_mfn[lo].seg * IO_TLB_SEGSIZE +
	       (int64_t)((bus - (t->by_mfn[lo].mfn << DPS_PAGE_LG2)) >> IO_TLB_SHIFT);
}

/* ---- the slot allocator ---------------------------------------------------------------------- */

/* Next-fit from the cursor, a page at a time: the first run of @need free slots in a segment. */
static int64_t slots_find(struct swiotlb *t, uint32_t need)
{
	const uint32_t stride = SLOTS_PER_PAGE;
	uint32_t start = (t->cursor + stride - 1) / stride * stride, i;

	if (need > t->nslots - t->used)
		return -1;
	if (start >= t->nslots)
		start = 0;
	i = start;
	do {
		if (t->slot[i].free >= need)
			return i;
		i += stride;
		if (i >= t->nslots)
			i = 0;
	} while (i != start);
	return -1;
}

/* The free run before @i (in its segment) now ends at @i: recount it from @count. */
static void slots_recount_before(struct swiotlb *t, uint32_t i, uint16_t count)
{
	while (i % IO_TLB_SEGSIZE && t->slot[i - 1].free) {
		t->slot[--i].free = ++count;
	}
}

static void slots_take(struct swiotlb *t, uint32_t i, uint32_t need)
{
	for (uint32_t k = i; k < i + need; k++)
		t->slot[k].free = 0;
	slots_recount_before(t, i, 0);
	t->cursor = i + need < t->nslots ? i + need : 0;
	t->used += need;
}

static void slots_release(struct swiotlb *t, uint32_t i, uint32_t need)
{
	uint32_t end = i + need;
	uint16_t count = end % IO_TLB_SEGSIZE ? t->slot[end].free : 0;

	for (uint32_t k = end; k-- > i;) {
		t->slot[k] = (struct slot){ .free = ++count };
	}
	slots_recount_before(t, i, count);
	t->used -= need;
}

/* ---- map, unmap -------------------------------------------------------------------------------- */

/* The guest's bytes at @gfn, if a device may reach them with @dir: 0, -EPERM or -EACCES. */
static int guest_page(const struct dps *p, gfn_t gfn, unsigned dir, uint8_t **mem)
{
	enum p2m_type ty;
	uint64_t mfn = hv_p2m_lookup(p->cfg.hv, p->cfg.dom, gfn, &ty);

	if (mfn == INVALID_MFN || !(*mem = hv_frame_mem(p->cfg.hv, mfn)))
		return -EPERM;
	return ty == P2M_GRANT_RO && (dir & IOPT_PROT_WRITE) ? -EACCES : 0;
}

static int sw_map(struct dps *p, const gfn_t *gfns, unsigned n, unsigned dir, uint64_t *addr)
{
	struct swiotlb *t = pool_of(p);
	uint8_t *src[SEG_PAGES];
	int64_t i;
	int ret = 0;

	if (!n || n > SEG_PAGES || !(dir & IOPT_PROT_RW) || (dir & ~IOPT_PROT_RW))
		return -EINVAL;
	for (unsigned k = 0; k < n && !ret; k++)
		ret = guest_page(p, gfns[k], dir, &src[k]);
	i = ret ? -1 : slots_find(t, n * SLOTS_PER_PAGE);
	if (i < 0) {
		p->stats.errors++;
		return ret ? ret : -ENOSPC;	/* Linux: "swiotlb buffer is full" */
	}
	slots_take(t, (uint32_t)i, n * SLOTS_PER_PAGE);
	for (uint32_t k = 0; k < n * SLOTS_PER_PAGE; k++)
		t->slot[i + k].orig = (gfns[k / SLOTS_PER_PAGE] << DPS_PAGE_LG2) +
				      (k % SLOTS_PER_PAGE) * IO_TLB_SIZE;
	t->slot[i].nslots = (uint16_t)(n * SLOTS_PER_PAGE);
	t->slot[i].dir = (uint8_t)dir;
	for (unsigned k = 0; k < n; k++)
		memcpy(slot_mem(p, t, (uint32_t)i + k * SLOTS_PER_PAGE), src[k], DPS_PAGE);
	p->stats.maps++;
	*addr = slot_bus(t, (uint32_t)i);
	return 0;
}

static int sw_unmap(struct dps *p, uint64_t addr, unsigned n)
{
	struct swiotlb *t = pool_of(p);
	int64_t i;

	if (!n || n > SEG_PAGES)
		return -EINVAL;
	i = slot_of(t, addr);
	if (i < 0 || t->slot[i].nslots != n * SLOTS_PER_PAGE) {
		p->stats.errors++;
		return -ENOENT;
	}
	if (t->slot[i].dir & IOPT_PROT_WRITE)
		for (unsigned k = 0; k < n; k++) {
			uint8_t *dst;

			/* A page the guest no longer has gets nothing. */
			if (!guest_page(p, t->slot[i + k * SLOTS_PER_PAGE].orig >> DPS_PAGE_LG2, 0,
					&dst))
				memcpy(dst, slot_mem(p, t, (uint32_t)i + k * SLOTS_PER_PAGE),
				       DPS_PAGE);
		}
	slots_release(t, (uint32_t)i, n * SLOTS_PER_PAGE);
	p->stats.unmaps++;
	return 0;
}

static int sw_flush(struct dps *p)
{
	(void)p;
	return 0;
}

/* ---- the pool ------------------------------------------------------------------------------------ */

static int by_mfn_cmp(const void *a, const void *b)
{
	const struct seg_index *x = a, *y = b;

	return x->mfn < y->mfn ? -1 : x->mfn > y->mfn;
}

static void sw_free(struct swiotlb *t)
{
	if (!t)
		return;
	iob_free(t->slot);
	iob_free(t->seg_mfn);
	iob_free(t->by_mfn);
	iob_free(t);
}

static struct swiotlb *sw_alloc(uint32_t nsegs)
{
	struct swiotlb *t = iob_calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->nsegs = nsegs;
	t->nslots = nsegs * IO_TLB_SEGSIZE;
	t->slot = iob_calloc(t->nslots, sizeof(*t->slot));
	t->seg_mfn = iob_calloc(nsegs, sizeof(*t->seg_mfn));
	t->by_mfn = iob_calloc(nsegs, sizeof(*t->by_mfn));
	if (!t->slot || !t->seg_mfn || !t->by_mfn) {
		sw_free(t);
		return NULL;
	}
	for (uint32_t i = 0; i < t->nslots; i++)
		t->slot[i].free = (uint16_t)(IO_TLB_SEGSIZE - i % IO_TLB_SEGSIZE);
	return t;
}

/*
 * The guest's RAM is resident, as a running guest's is: touch each page
 * once, here, so that the first bounce into it does not time the host's
 * page fault.
 */
static void touch_ram(const struct dps *p)
{
	for (gfn_t g = 0; g < hv_domain_max_gfn(p->cfg.hv, p->cfg.dom); g++) {
		enum p2m_type ty;
		uint64_t mfn = hv_p2m_lookup(p->cfg.hv, p->cfg.dom, g, &ty);
		uint8_t *b = ty == P2M_RAM ? hv_frame_mem(p->cfg.hv, mfn) : NULL;

		/*
		 * One write access, content kept: a read first would map the
		 * shared zero page and the write then copy it, two faults and a
		 * TLB flush per 4K page (2 s of a 2 s run on a busy VM); a write
		 * fault can take a whole transparent huge page at once.
		 */
		if (b)
			__atomic_fetch_add(b, 0, __ATOMIC_RELAXED);
	}
}

static int sw_init(struct dps *p)
{
	uint64_t pages = p->cfg.boot_pages;
	uint32_t nsegs = (uint32_t)(pages / SEG_PAGES);
	struct swiotlb *t;
	gfn_t *gfns;
	int ret;

	if (!pages || pages % SEG_PAGES || p->cfg.boot_gfn % SEG_PAGES ||
	    nsegs > HV_BATCH_MAX || !hv_frame_mem(p->cfg.hv, 0))
		return -EINVAL;
	t = sw_alloc(nsegs);
	gfns = iob_calloc(nsegs, sizeof(*gfns));
	if (!t || !gfns) {
		sw_free(t);
		iob_free(gfns);
		return -ENOMEM;
	}
	for (uint32_t s = 0; s < nsegs; s++)
		gfns[s] = p->cfg.boot_gfn + (uint64_t)s * SEG_PAGES;
	ret = hv_memory_exchange(p->cfg.hv, p->cfg.dom, gfns, nsegs, SEG_ORDER, DMA_BITS,
				 t->seg_mfn);
	iob_free(gfns);
	if (ret) {
		sw_free(t);
		return ret;
	}
	for (uint32_t s = 0; s < nsegs; s++)
		t->by_mfn[s] = (struct seg_index){ t->seg_mfn[s], s };
	qsort(t->by_mfn, nsegs, sizeof(*t->by_mfn), by_mfn_cmp);
	p->priv = t;
	touch_ram(p);
	return 0;
}

static void sw_fini(struct dps *p)
{
	sw_free(pool_of(p));
}

const struct dps_ops dps_swiotlb_ops = {
	.name = "swiotlb",
	.map = sw_map,
	.unmap = sw_unmap,
	.flush = sw_flush,
	.init = sw_init,
	.fini = sw_fini,
	.max_pages = SEG_PAGES,
	.boot_pages = IO_TLB_DEFAULT_PAGES,
};
