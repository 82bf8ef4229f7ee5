/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hv: the model hypervisor. Domains with a p2m (gfn -> mfn, type), machine
 * frames with owners and references, device assignment, a grant table,
 * memory operations (populate, decrease and increase reservation), one
 * I/O page table and flush policy per domain on a shared model IOMMU, and
 * the three DMA-protection strategies of the 2008 xen-devel proposal:
 *
 *  - HV_HOOK: the hypervisor mirrors every p2m change of a domain into
 *    its I/O page table (gfn -> mfn); granted frames are mapped the way
 *    Xen maps them for a PV backend, at a bus address derived from the
 *    frame (GRANT_DFN_BASE + mfn), reference counted per frame. The guest
 *    does nothing for DMA.
 *  - HV_PV: the guest asks, with batched hypercalls map(gfn, dfn, prot)
 *    and unmap(dfn); every entry is verified.
 *  - HV_DMALAYER: the guest calls dma_map(dev, gfns, dir) and gets an IOVA
 *    the hypervisor chose; dma_unmap(iova, len) gives it back.
 *
 * Every hypercall is all-or-nothing: on any error (bad argument, or an
 * allocation failure anywhere on the path) nothing changed. Frames,
 * grant pins and IOVAs are released only after the invalidation that
 * covers them completed.
 *
 * Not thread-safe: one caller at a time (the model is the hypervisor's
 * single point of serialization; the lock costs are not what is studied).
 */
#ifndef IOB_HV_H
#define IOB_HV_H

#include <stdbool.h>
#include <stdint.h>

#include <iob/flush.h>
#include <iob/frames.h>
#include <iob/iommu.h>
#include <iob/iopt.h>

typedef uint64_t gfn_t;
typedef uint32_t grant_ref_t;
typedef uint32_t grant_handle_t;

struct hv;

enum hv_strategy {
	HV_HOOK,
	HV_PV,
	HV_DMALAYER,
	HV_STRATEGY_NR
};

/* p2m entry types. */
enum p2m_type {
	P2M_INVALID,
	P2M_RAM,		/* the domain's own memory */
	P2M_GRANT_RO,		/* a frame of another domain, mapped read-only */
	P2M_GRANT_RW,
	P2M_TYPE_NR
};

/* Bus addresses of grant mappings under HV_HOOK: frame number + this. */
#define GRANT_DFN_BASE		(1ULL << 28)	/* dfn 2^28: 1 TiB up */
#define HV_BATCH_MAX		512		/* entries per pv hypercall */
#define HV_DMA_PAGES_MAX	1024		/* pages per dma_map */

struct hv_tuning {
	enum flush_mode flush;		/* strict, batched, lazy */
	enum inval_policy policy;	/* exact, merged, xen */
	bool superpages;		/* 2M/1G leaves where aligned; coalesce on fill */
	enum iopt_impl impl;		/* tuned or baseline page-table code */
	unsigned fq_entries;		/* lazy; 0: Linux's 256 */
	uint64_t fq_timeout_ns;		/* lazy; 0: 10 ms */
};

struct hv_cfg {
	uint64_t machine_frames;	/* 0: 2^20 (4 GiB) */
	enum hv_strategy strategy;
	struct hv_tuning tune;
	struct iotlb_cfg tlb;		/* zeroes: the model's defaults */
	bool np_cache;			/* IOMMU caches non-present entries */
	unsigned ncpus;			/* 0: 1 */
	unsigned levels;		/* 4..6, 0: 4 (the grant window at 1 TiB needs 4) */
	uint64_t dfn_limit;		/* pv: dfns below this, at most GRANT_DFN_BASE; 0: that */
};

#define HV_STATS(X)							\
	X(hypercalls) X(hypercall_errors) X(p2m_sets) X(iommu_maps)	\
	X(iommu_unmaps) X(grant_maps) X(grant_unmaps) X(grant_downgrades) \
	X(populated_pages) X(ballooned_pages) X(pv_maps) X(pv_unmaps)	\
	X(pv_forced_syncs) X(grant_forced_syncs) X(dma_maps) X(dma_unmaps) X(dmas) X(dma_faults) \
	X(attack_probes) X(probe_hits_remapped) \
	X(stale_dmas_own) X(stale_dmas_granted) X(stale_dmas_foreign)	\
	X(stale_dmas_free)

struct hv_stats {
#define HV_STAT_FIELD(n) uint64_t n;
	HV_STATS(HV_STAT_FIELD)
#undef HV_STAT_FIELD
};

/**
 * hv_create() - A hypervisor with no domains.
 * Return: 0, -EINVAL, -ENOMEM.
 */
int hv_create(const struct hv_cfg *cfg, struct hv **out);
/* hv_destroy() - Destroy every domain, flush, free everything. */
void hv_destroy(struct hv *hv);

const struct hv_cfg *hv_config(const struct hv *hv);
struct iommu *hv_iommu(struct hv *hv);
struct frames *hv_frames(struct hv *hv);

/* ---- domains and devices ------------------------------------------------------- */

/**
 * hv_domain_create() - An empty domain with room for @max_pages gfns.
 * Return: 0 with *@out its ID (1, 2, ...), -EINVAL, -ENOMEM, -ENOSPC.
 */
int hv_domain_create(struct hv *hv, uint64_t max_pages, domid_t *out);
/*
 * hv_domain_destroy() - Detach devices, unmap and free everything.
 * Return: 0, -ESRCH, -EBUSY (another domain still maps its grants).
 */
int hv_domain_destroy(struct hv *hv, domid_t d);

/*
 * hv_assign_device() - Give @devid to @d: its DTE points at d's table.
 * Return: 0, -ESRCH, -EBUSY (already assigned elsewhere).
 */
int hv_assign_device(struct hv *hv, uint16_t devid, domid_t d);
int hv_deassign_device(struct hv *hv, uint16_t devid);
/* Owner of @devid, or DOMID_INVALID. */
domid_t hv_device_owner(const struct hv *hv, uint16_t devid);

/* p2m lookup: mfn (INVALID_MFN if none) and type. */
uint64_t hv_p2m_lookup(const struct hv *hv, domid_t d, gfn_t gfn, enum p2m_type *type);
struct iopt *hv_domain_iopt(struct hv *hv, domid_t d);
struct flush *hv_domain_flush(struct hv *hv, domid_t d);

/* ---- memory -------------------------------------------------------------------------- */

/**
 * hv_populate() - populate_physmap: give @d 2^@order new frames at
 * @gfn (aligned to the order). Orders 0, 9 and 18.
 * Return: 0, -EINVAL, -EEXIST (a gfn is in use), -ENOMEM, -ESRCH.
 */
int hv_populate(struct hv *hv, domid_t d, gfn_t gfn, unsigned order);

/**
 * hv_decrease_reservation() - Balloon out: @n extents of 2^@order pages.
 * Each frame returns to the machine only after the invalidation covering
 * it completed. Strict: one invalidation and wait per page (Xen 4.17's
 * guest_remove_page); batched: one for the whole call.
 * Return: 0, -EINVAL, -ENOENT (a gfn is not the domain's RAM), -ENOMEM,
 * -ESRCH.
 */
int hv_decrease_reservation(struct hv *hv, domid_t d, const gfn_t *gfns, unsigned n,
			    unsigned order);
/* hv_increase_reservation() - Balloon in: populate @n extents. */
int hv_increase_reservation(struct hv *hv, domid_t d, const gfn_t *gfns, unsigned n,
			    unsigned order);

/* ---- grants ---------------------------------------------------------------------------- */

/**
 * hv_grant_access() - @granter lets @grantee map its page @gfn.
 * Return: 0 with *@ref, -EINVAL, -ENOENT (not granter's RAM), -ESRCH, -ENOMEM.
 */
int hv_grant_access(struct hv *hv, domid_t granter, domid_t grantee, gfn_t gfn,
		    bool readonly, grant_ref_t *ref);
/* Return: 0, -EINVAL, -EBUSY (still mapped or a flush pending). */
int hv_grant_end(struct hv *hv, domid_t granter, grant_ref_t ref);

/**
 * hv_grant_map() - @grantee maps @granter's grant @ref at its @host_gfn.
 * @dev_bus_addr: where @grantee's devices reach the frame (HV_HOOK), else 0
 * Return: 0, -EINVAL, -ENOENT (no such grant), -EPERM (granted to someone
 * else), -EACCES (writable map of a read-only grant), -EEXIST (host_gfn in
 * use), -ENOMEM, -ESRCH.
 */
int hv_grant_map(struct hv *hv, domid_t grantee, domid_t granter, grant_ref_t ref,
		 bool readonly, gfn_t host_gfn, grant_handle_t *handle,
		 uint64_t *dev_bus_addr);
/*
 * hv_grant_unmap() - Undo a grant mapping. Under HV_HOOK the last mapping
 * of a frame removes its IOMMU entry and the last writer's leaving makes
 * it read-only; the grant stays pinned until that invalidation completed.
 * Return: 0, -EINVAL (no such handle), -EBUSY (a pv or DMA-layer mapping
 * still uses it), -ENOMEM.
 */
int hv_grant_unmap(struct hv *hv, domid_t grantee, grant_handle_t handle);
/*
 * hv_grant_unmap_batch() - gnttab_unmap_grant_ref with @n operations:
 * all or nothing; strict waits per operation, batched once at the end.
 */
int hv_grant_unmap_batch(struct hv *hv, domid_t grantee, const grant_handle_t *handles,
			 unsigned n);

/* ---- pv IOMMU hypercalls ------------------------------------------------------------------ */

struct hv_pv_map_op {
	gfn_t gfn;
	uint64_t dfn;
	unsigned prot;		/* IOPT_PROT_* */
};

/**
 * hv_pv_map() - Map @n entries, each verified: the gfn is @d's RAM or a
 * grant @d holds with matching access, the dfn is below the limit, not
 * mapped, and not repeated in the batch.
 * Return: 0; -EINVAL (bad prot, n == 0), -EOVERFLOW (n > HV_BATCH_MAX),
 * -EPERM (gfn not @d's), -EACCES (write through a read-only grant),
 * -ERANGE (dfn past the limit), -EEXIST (dfn in use), -EOPNOTSUPP (not the
 * pv strategy), -ESRCH, -ENOMEM. Nothing changed on error.
 */
int hv_pv_map(struct hv *hv, domid_t d, const struct hv_pv_map_op *ops, unsigned n);
/* Return: 0, -ENOENT (a dfn not mapped), -EINVAL, -EOVERFLOW, ... as above. */
int hv_pv_unmap(struct hv *hv, domid_t d, const uint64_t *dfns, unsigned n);

/* ---- DMA-layer hypercalls ------------------------------------------------------------------ */

/**
 * hv_dma_map() - Map @n pages of @d for @devid; the hypervisor picks the IOVA.
 * @dir: IOPT_PROT_READ (device reads memory), _WRITE, or both
 * Return: 0 with *@iova; -EINVAL, -EOVERFLOW (n > HV_DMA_PAGES_MAX),
 * -EPERM, -EACCES, -ENODEV (device not @d's), -ENOSPC, -ENOMEM, ...
 */
int hv_dma_map(struct hv *hv, domid_t d, uint16_t devid, const gfn_t *gfns, unsigned n,
	       unsigned dir, iova_t *iova);
/* Return: 0, -ENOENT (no mapping starts at @iova with @len), -ENODEV, ... */
int hv_dma_unmap(struct hv *hv, domid_t d, uint16_t devid, iova_t iova, uint64_t len);

struct hv_dma_seg {
	iova_t iova;
	uint64_t len;
};

/* hv_dma_unmap_batch() - @n unmaps in one call: all or nothing, one wait if batched. */
int hv_dma_unmap_batch(struct hv *hv, domid_t d, uint16_t devid, const struct hv_dma_seg *segs,
		       unsigned n);

/* End of a batch of operations (batched mode: the one completion wait). */
void hv_batch_end(struct hv *hv, domid_t d);
/* Time passes (lazy mode's flush-queue timeout is checked). */
void hv_tick(struct hv *hv);
/* Everything pending, every domain: invalidate, wait, release. */
void hv_sync(struct hv *hv);

/* ---- device DMA --------------------------------------------------------------------------- */

struct hv_dma_result {
	unsigned pages;		/* pages the access touched */
	unsigned faults;	/* pages the IOMMU refused */
	unsigned tlb_hits;
	unsigned levels_read;
	double model_ns;	/* modeled translation time */
	uint64_t mfn_first;	/* frame of the first page (INVALID_MFN on fault) */
	domid_t owner_first;	/* its owner */
};

/**
 * hv_device_dma() - @devid reads or writes [@addr, @addr + @len) through
 * the IOMMU, page by page.
 * Return: 0 if every page translated, -EFAULT otherwise (@r says more).
 */
int hv_device_dma(struct hv *hv, uint16_t devid, iova_t addr, uint64_t len,
		  unsigned access, struct hv_dma_result *r);

/*
 * hv_stale_probe() - An attacking device DMAs to @addr, which led to frame
 * @mfn until the driver unmapped it. A hit on another frame means the
 * address was mapped again for another buffer: counted apart, not stale
 * (@mfn INVALID_MFN: every hit counts). A hit on @mfn means the unmapped
 * buffer is still reachable (hook never takes it away; batched and lazy
 * until their flush), classified by what it reached: a
 * frame @owner still owns (lazy mode's accepted risk), a frame another
 * domain still has granted to @owner with the grant pinned (the grant's
 * lifetime, not yet over), another domain's frame, or a free frame (the
 * last two must never happen). Counted in the stats.
 * Return: 1 the unmapped buffer was reached, 0 it faulted or hit another buffer.
 */
int hv_stale_probe(struct hv *hv, uint16_t devid, domid_t owner, iova_t addr,
		   uint64_t mfn);

void hv_stats_get(const struct hv *hv, struct hv_stats *out);
void hv_stats_reset(struct hv *hv);

/*
 * hv_fingerprint() - A hash of all hypervisor state: frames, p2ms, grant
 * tables, maptracks, live pv and DMA-layer mappings, I/O page table
 * contents. Equal before and after a failed call means nothing changed.
 */
uint64_t hv_fingerprint(const struct hv *hv);

const char *hv_strategy_name(enum hv_strategy s);
int hv_strategy_parse(const char *name);

#endif /* IOB_HV_H */
