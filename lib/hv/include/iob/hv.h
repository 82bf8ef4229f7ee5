/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hv: the model hypervisor. Domains with a p2m (gfn -> mfn, type), machine
 * frames with owners and references, device assignment, a grant table,
 * memory operations (populate, decrease and increase reservation,
 * exchange), one I/O page table and flush policy per domain on a shared
 * model IOMMU, and four ways to protect memory from device DMA: the three
 * of the 2008 xen-devel proposal, and the status quo it set out to replace:
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
 *  - HV_SWIOTLB: no protection. Devices DMA untranslated (DTE mode 0), to
 *    machine addresses; the guest bounces every buffer through a pool of
 *    machine-contiguous frames below 4 GiB (lib/dps). The machine's frames
 *    hold real bytes under this strategy (hv_frame_mem()), so the copies
 *    are real.
 *
 * Every hypercall is all-or-nothing: on any error (bad argument, or an
 * allocation failure anywhere on the path) nothing changed. Frames,
 * grant pins and IOVAs are released only after the invalidation that
 * covers them completed. Every hypercall is counted in stats.hypercalls,
 * every refused one in stats.hypercall_errors.
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
	HV_SWIOTLB,
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
#define HV_DMA_BYTES_MAX	(1ULL << 30)	/* bytes per device DMA */

struct hv_tuning {
	enum flush_mode flush;		/* strict, batched, lazy */
	enum inval_policy policy;	/* exact, merged, xen */
	bool superpages;		/* 2M/1G leaves where aligned; coalesce on fill */
	enum iopt_impl impl;		/* tuned or baseline page-table code */
	unsigned fq_entries;		/* lazy; 0: Linux's 256 */
	uint64_t fq_timeout_ns;		/* lazy; 0: 10 ms */
	uint64_t (*clock_ns)(void *ctx);	/* lazy's deadlines; NULL: the TSC (flush_cfg) */
	void *clock_ctx;
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
	X(stale_dmas_free) X(exchanged_pages)

struct hv_stats {
#define HV_STAT_FIELD(n) uint64_t n;
	HV_STATS(HV_STAT_FIELD)
#undef HV_STAT_FIELD
};

/**
 * hv_create() - A hypervisor with no domains.
 * @cfg: strategy, tunings and sizes (zeroes: the defaults noted in struct hv_cfg)
 * @out: the hypervisor
 *
 * Return: 0; -EINVAL (a value out of range, levels not 4..6, dfn_limit past
 * GRANT_DFN_BASE); -ENOMEM (including the frames' bytes under HV_SWIOTLB).
 */
int hv_create(const struct hv_cfg *cfg, struct hv **out);

/**
 * hv_destroy() - Unmap every grant, destroy every domain, flush, free all.
 * @hv: the hypervisor, or NULL
 */
void hv_destroy(struct hv *hv);

/**
 * hv_config() - The configuration, defaults filled in.
 * @hv: the hypervisor
 *
 * Return: the configuration (valid while @hv lives).
 */
const struct hv_cfg *hv_config(const struct hv *hv);

/**
 * hv_iommu() - The model IOMMU every domain's devices sit behind.
 * @hv: the hypervisor
 *
 * Return: the IOMMU.
 */
struct iommu *hv_iommu(struct hv *hv);

/**
 * hv_frames() - The machine's frames.
 * @hv: the hypervisor
 *
 * Return: the frame allocator.
 */
struct frames *hv_frames(struct hv *hv);

/**
 * hv_frame_mem() - The real bytes standing for a machine frame.
 * @hv:  the hypervisor
 * @mfn: the frame
 *
 * Return: its 4 KiB when the strategy moves data (HV_SWIOTLB); NULL for
 * the others, or for a frame past the machine.
 */
void *hv_frame_mem(struct hv *hv, uint64_t mfn);

/* ---- domains and devices ------------------------------------------------------- */

/**
 * hv_domain_create() - An empty domain.
 * @hv:        the hypervisor
 * @max_pages: room for gfns 0 .. @max_pages - 1 (1 .. 2^32)
 * @out:       its ID (1, 2, ...)
 *
 * Return: 0; -EINVAL (@max_pages out of range); -ENOMEM; -ENOSPC (every ID
 * in use).
 */
int hv_domain_create(struct hv *hv, uint64_t max_pages, domid_t *out);

/**
 * hv_domain_destroy() - Detach its devices, unmap and free everything.
 * @hv: the hypervisor
 * @d:  the domain
 *
 * Return: 0; -ESRCH (no such domain); -EBUSY (another domain still maps
 * one of its grants).
 */
int hv_domain_destroy(struct hv *hv, domid_t d);

/**
 * hv_assign_device() - Give a device to a domain: its DTE then gives the
 * device what the strategy gives (the domain's table; hook builds it from
 * the p2m on the first device; swiotlb: untranslated, mode 0).
 * @hv:    the hypervisor
 * @devid: the device
 * @d:     the domain
 *
 * Return: 0 (also when @d has it already); -ESRCH (no such domain); -EBUSY
 * (assigned elsewhere, or hook: @d maps grants from before any device);
 * -ENOMEM (hook: the table's pages).
 */
int hv_assign_device(struct hv *hv, uint16_t devid, domid_t d);

/**
 * hv_deassign_device() - Block a device's DMA and take it from its domain.
 * @hv:    the hypervisor
 * @devid: the device
 *
 * Return: 0; -ENODEV (not assigned).
 */
int hv_deassign_device(struct hv *hv, uint16_t devid);

/**
 * hv_device_owner() - Who has a device.
 * @hv:    the hypervisor
 * @devid: the device
 *
 * Return: its domain, or DOMID_INVALID.
 */
domid_t hv_device_owner(const struct hv *hv, uint16_t devid);

/**
 * hv_domain_max_gfn() - The gfns a domain has room for.
 * @hv: the hypervisor
 * @d:  the domain
 *
 * Return: max_pages as created, or 0 if there is no such domain.
 */
uint64_t hv_domain_max_gfn(const struct hv *hv, domid_t d);

/**
 * hv_p2m_lookup() - A domain's p2m entry.
 * @hv:   the hypervisor
 * @d:    the domain
 * @gfn:  the guest frame
 * @type: if not NULL, its type (P2M_INVALID when none)
 *
 * Return: the frame, or INVALID_MFN (none, or no such domain or gfn).
 */
uint64_t hv_p2m_lookup(const struct hv *hv, domid_t d, gfn_t gfn, enum p2m_type *type);

/**
 * hv_domain_iopt() - A domain's I/O page table (for inspection).
 * @hv: the hypervisor
 * @d:  the domain
 *
 * Return: the table, or NULL if there is no such domain.
 */
struct iopt *hv_domain_iopt(struct hv *hv, domid_t d);

/**
 * hv_domain_flush() - A domain's flush policy (for its statistics).
 * @hv: the hypervisor
 * @d:  the domain
 *
 * Return: the policy, or NULL if there is no such domain.
 */
struct flush *hv_domain_flush(struct hv *hv, domid_t d);

/* ---- memory -------------------------------------------------------------------------- */

/**
 * hv_populate() - populate_physmap: give a domain new frames.
 * @hv:    the hypervisor
 * @d:     the domain
 * @gfn:   where, aligned to the order
 * @order: 0, 9 or 18 (2^@order pages)
 *
 * Return: 0; -EINVAL (order, alignment, range); -EEXIST (a gfn is in use);
 * -ENOMEM (no frames, or the table's pages under hook); -ESRCH.
 */
int hv_populate(struct hv *hv, domid_t d, gfn_t gfn, unsigned order);

/**
 * hv_domain_identity() - Make @d a PV guest whose frame numbers are machine
 * frames, as Xen's PV hardware domain (its I/O page table is indexed by
 * machine frame): populate then hands out frame gfn itself, and
 * hv_pv_retype() applies. For replaying a real Xen's frames.
 * @hv: the hypervisor
 * @d:  the domain, with no pages or grants yet
 *
 * Return: 0; -ESRCH; -EBUSY (it has pages or grants); -EINVAL (its gfns
 * reach past the machine's frames); -ENOMEM.
 */
int hv_domain_identity(struct hv *hv, domid_t d);

/**
 * hv_pv_retype() - A PV page of @d becomes a page table (@table) or
 * writable again: Xen's PV rule takes a page-table page out of the IOMMU
 * table, with its own flush at once in every tuning, and maps it back
 * when it is writable again (hook; other strategies only note the type).
 * A typed page cannot be given back by decrease reservation (-EBUSY).
 * @hv:    the hypervisor
 * @d:     the domain (hv_domain_identity())
 * @gfn:   its RAM page
 * @table: true: typed as a page table; false: writable again
 *
 * Return: 0; -ESRCH; -EOPNOTSUPP (not an identity domain); -EINVAL (not
 * RAM of @d, or already of that type); -ENOMEM (tables).
 */
int hv_pv_retype(struct hv *hv, domid_t d, gfn_t gfn, bool table);

/**
 * hv_decrease_reservation() - Balloon out extents of a domain's RAM. Each
 * frame returns to the machine only after the invalidation covering it
 * completed. Strict: one invalidation and wait per page (Xen 4.17's
 * guest_remove_page); batched: one for the whole call.
 * @hv:    the hypervisor
 * @d:     the domain
 * @gfns:  the first gfn of each extent, aligned to the order
 * @n:     extents (1 .. HV_BATCH_MAX)
 * @order: 0, 9 or 18
 *
 * Return: 0; -EINVAL (no extents, order, alignment, range, an extent twice);
 * -EOVERFLOW (@n > HV_BATCH_MAX); -ENOENT (a gfn is not the domain's RAM); -EBUSY (a page typed
 * as a PV page table, hv_pv_retype());
 * -ENOMEM; -ESRCH.
 */
int hv_decrease_reservation(struct hv *hv, domid_t d, const gfn_t *gfns, unsigned n,
			    unsigned order);

/**
 * hv_increase_reservation() - Balloon in: populate @n extents at once.
 * @hv:    the hypervisor
 * @d:     the domain
 * @gfns:  the first gfn of each extent, aligned to the order
 * @n:     extents (1 .. HV_BATCH_MAX)
 * @order: 0, 9 or 18
 *
 * Return: 0; -EINVAL (no extents, order, alignment, range); -EOVERFLOW;
 * -EEXIST (a gfn in use, or an extent twice); -ENOMEM; -ESRCH.
 */
int hv_increase_reservation(struct hv *hv, domid_t d, const gfn_t *gfns, unsigned n,
			    unsigned order);

/**
 * hv_memory_exchange() - XENMEM_exchange, as xen_create_contiguous_region()
 * uses it: each extent of a domain's RAM is given up for one machine-
 * contiguous extent of the same size below an address limit, at the same
 * gfns. The old frames go back to the machine after the invalidation that
 * covers them (hook), as ballooned ones do.
 * @hv:           the hypervisor
 * @d:            the domain
 * @gfns:         the first gfn of each extent, aligned to the order
 * @n:            extents (1 .. HV_BATCH_MAX)
 * @order:        0 .. FRAMES_MAX_ORDER (any order: a swiotlb segment is 6)
 * @address_bits: the new frames end below 2^@address_bits bytes
 *                (@order + 12 .. 64)
 * @mfns:         if not NULL, the new extents' first frames
 *
 * Return: 0; -EINVAL (no extents, order, alignment, range, an extent twice,
 * @address_bits); -EOVERFLOW; -ENOENT (a gfn is not the domain's RAM);
 * -EBUSY (a frame has other users: a device mapping, another domain's grant
 * mapping); -ENOMEM (no free extent that low, or the records); -ESRCH.
 */
int hv_memory_exchange(struct hv *hv, domid_t d, const gfn_t *gfns, unsigned n, unsigned order,
		       unsigned address_bits, uint64_t *mfns);

/* ---- grants ---------------------------------------------------------------------------- */

/**
 * hv_grant_access() - A domain lets another map one page of its RAM (an
 * entry in its grant table; no hypercall in Xen).
 * @hv:       the hypervisor
 * @granter:  the page's owner
 * @grantee:  who may map it
 * @gfn:      the page
 * @readonly: only read-only mappings allowed
 * @ref:      the grant reference
 *
 * Return: 0; -EINVAL (@granter is @grantee, @ref NULL); -ENOENT (@gfn is not
 * @granter's RAM); -ESRCH (either domain); -ENOSPC (2^20 grants); -ENOMEM.
 */
int hv_grant_access(struct hv *hv, domid_t granter, domid_t grantee, gfn_t gfn,
		    bool readonly, grant_ref_t *ref);

/**
 * hv_grant_end() - Withdraw a grant.
 * @hv:      the hypervisor
 * @granter: its owner
 * @ref:     the grant
 *
 * Return: 0; -EINVAL (no such grant); -EBUSY (still mapped, or an unmap of
 * it waits for its flush); -ESRCH.
 */
int hv_grant_end(struct hv *hv, domid_t granter, grant_ref_t ref);

/**
 * hv_grant_map() - A grantee maps a grant at one of its gfns.
 * @hv:           the hypervisor
 * @grantee:      who maps
 * @granter:      whose grant
 * @ref:          the grant
 * @readonly:     map read-only
 * @host_gfn:     where, a free gfn of @grantee
 * @handle:       the mapping's handle
 * @dev_bus_addr: if not NULL, where @grantee's devices reach the frame
 *                (HV_HOOK), else 0
 *
 * Return: 0; -EINVAL (@handle NULL, @host_gfn out of range); -ENOENT (no
 * such grant, or its page is no longer RAM); -EPERM (granted to someone
 * else); -EACCES (writable map of a read-only grant); -EEXIST (@host_gfn in
 * use); -ENOMEM; -ESRCH (either domain).
 */
int hv_grant_map(struct hv *hv, domid_t grantee, domid_t granter, grant_ref_t ref,
		 bool readonly, gfn_t host_gfn, grant_handle_t *handle,
		 uint64_t *dev_bus_addr);

/**
 * hv_grant_unmap_batch() - gnttab_unmap_grant_ref with @n operations, all
 * or nothing; strict waits per operation, batched once at the end. Under
 * HV_HOOK the last mapping of a frame removes its IOMMU entry and the last
 * writer's leaving makes it read-only; the grant stays pinned until that
 * invalidation completed.
 * @hv:      the hypervisor
 * @grantee: who unmaps
 * @handles: the mappings
 * @n:       1 .. HV_BATCH_MAX
 *
 * Return: 0; -EINVAL (no handles, one not mapped, one twice); -EOVERFLOW;
 * -EBUSY (a pv or DMA-layer mapping still uses one); -ENOMEM; -ESRCH.
 */
int hv_grant_unmap_batch(struct hv *hv, domid_t grantee, const grant_handle_t *handles,
			 unsigned n);

/**
 * hv_grant_unmap() - hv_grant_unmap_batch() of one mapping.
 * @hv:      the hypervisor
 * @grantee: who unmaps
 * @handle:  the mapping
 *
 * Return: as hv_grant_unmap_batch().
 */
int hv_grant_unmap(struct hv *hv, domid_t grantee, grant_handle_t handle);

/* ---- pv IOMMU hypercalls ------------------------------------------------------------------ */

struct hv_pv_map_op {
	gfn_t gfn;
	uint64_t dfn;
	unsigned prot;		/* IOPT_PROT_* */
};

/**
 * hv_pv_map() - Map @n entries, each verified: the gfn is @d's RAM or a
 * grant @d holds with matching access, the dfn is below the limit, not
 * mapped, and not repeated in the batch. A dfn whose unmap still waits for
 * its invalidation is settled first (stats.pv_forced_syncs).
 * @hv:  the hypervisor
 * @d:   the calling domain
 * @ops: the entries
 * @n:   1 .. HV_BATCH_MAX
 *
 * Return: 0; -EINVAL (bad prot, no entries); -EOVERFLOW (@n > HV_BATCH_MAX);
 * -EPERM (gfn not @d's); -EACCES (write through a read-only grant); -ERANGE
 * (dfn past the limit); -EEXIST (dfn in use, or twice in the batch);
 * -EOPNOTSUPP (not the pv strategy); -ESRCH; -ENOMEM.
 */
int hv_pv_map(struct hv *hv, domid_t d, const struct hv_pv_map_op *ops, unsigned n);

/**
 * hv_pv_unmap() - Unmap @n dfns; each frame, and the grant it came
 * through, is given back after the invalidation.
 * @hv:   the hypervisor
 * @d:    the calling domain
 * @dfns: the device frame numbers
 * @n:    1 .. HV_BATCH_MAX
 *
 * Return: 0; -EINVAL (no dfns, one twice); -EOVERFLOW; -ERANGE (past the
 * limit); -ENOENT (a dfn not mapped); -EOPNOTSUPP; -ESRCH; -ENOMEM.
 */
int hv_pv_unmap(struct hv *hv, domid_t d, const uint64_t *dfns, unsigned n);

/* ---- DMA-layer hypercalls ------------------------------------------------------------------ */

/**
 * hv_dma_map() - Map pages of @d for @devid; the hypervisor picks the IOVA.
 * @hv:    the hypervisor
 * @d:     the calling domain
 * @devid: its device
 * @gfns:  the pages, in device order
 * @n:     1 .. HV_DMA_PAGES_MAX
 * @dir:   IOPT_PROT_READ (device reads memory), _WRITE, or both
 * @iova:  the device address of the first page
 *
 * Return: 0; -ENODEV (device not @d's); -EINVAL (no pages, bad @dir, @iova
 * NULL); -EOVERFLOW (@n > HV_DMA_PAGES_MAX); -EPERM; -EACCES; -ENOSPC (no
 * IOVA left); -EOPNOTSUPP (not the dmalayer strategy); -ESRCH; -ENOMEM.
 */
int hv_dma_map(struct hv *hv, domid_t d, uint16_t devid, const gfn_t *gfns, unsigned n,
	       unsigned dir, iova_t *iova);

struct hv_dma_seg {
	iova_t iova;
	uint64_t len;
};

/**
 * hv_dma_unmap_batch() - @n unmaps in one call: all or nothing, one wait
 * if batched.
 * @hv:    the hypervisor
 * @d:     the calling domain
 * @devid: its device
 * @segs:  what hv_dma_map() returned, with lengths that round up to the
 *         mapping's pages
 * @n:     1 .. HV_BATCH_MAX
 *
 * Return: 0; -ENODEV; -EINVAL (no segments, a zero, too long or misaligned
 * one, one twice); -EOVERFLOW; -ENOENT (no mapping starts there with that
 * length for @devid); -EOPNOTSUPP; -ESRCH; -ENOMEM.
 */
int hv_dma_unmap_batch(struct hv *hv, domid_t d, uint16_t devid, const struct hv_dma_seg *segs,
		       unsigned n);

/**
 * hv_dma_unmap() - hv_dma_unmap_batch() of one segment.
 * @hv:    the hypervisor
 * @d:     the calling domain
 * @devid: its device
 * @iova:  what hv_dma_map() returned
 * @len:   rounding up to the mapping's pages
 *
 * Return: as hv_dma_unmap_batch().
 */
int hv_dma_unmap(struct hv *hv, domid_t d, uint16_t devid, iova_t iova, uint64_t len);

/**
 * hv_batch_end() - End of a batch of operations (batched mode: the one
 * completion wait, then everything in the batch is released).
 * @hv: the hypervisor
 * @d:  the domain (none: nothing happens)
 */
void hv_batch_end(struct hv *hv, domid_t d);

/**
 * hv_tick() - Time passes: lazy mode's flush-queue timeouts are checked,
 * every CPU's queue.
 * @hv: the hypervisor
 */
void hv_tick(struct hv *hv);

/**
 * hv_set_cpu() - The CPU the following calls run on: which per-CPU batch
 * and flush queue their unmaps join (a replay of a real run's CPUs).
 * @hv:  the hypervisor
 * @cpu: taken modulo hv_cfg.ncpus
 */
void hv_set_cpu(struct hv *hv, unsigned cpu);

/**
 * hv_sync() - Everything pending, every domain: invalidate, wait, release.
 * @hv: the hypervisor
 */
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
 * hv_device_dma() - A device reads or writes a range through the IOMMU,
 * page by page; no bytes move.
 * @hv:     the hypervisor
 * @devid:  the device
 * @addr:   device address
 * @len:    bytes (0 counts as 1), at most HV_DMA_BYTES_MAX
 * @access: IOPT_PROT_READ or IOPT_PROT_WRITE
 * @r:      what happened
 *
 * Return: 0 if every page translated, -EFAULT otherwise (@r says more);
 * -EINVAL (nothing translated) when the range would wrap past 2^64 or
 * is longer than HV_DMA_BYTES_MAX.
 */
int hv_device_dma(struct hv *hv, uint16_t devid, iova_t addr, uint64_t len,
		  unsigned access, struct hv_dma_result *r);

/**
 * hv_device_rw() - hv_device_dma() that moves the bytes, between @buf and
 * the frames' memory (only where the machine's frames hold bytes). Pages
 * that translate get their bytes; a page that faults, or has no memory
 * behind it, is skipped and counted as a fault.
 * @hv:     the hypervisor
 * @devid:  the device
 * @addr:   device address
 * @buf:    the device's side of the transfer
 * @len:    bytes (> 0)
 * @access: IOPT_PROT_WRITE (the device writes @buf to memory) or
 *          IOPT_PROT_READ (it reads memory into @buf)
 * @r:      what happened
 *
 * Return: 0; -EFAULT (a page faulted); -EINVAL (@buf NULL, @len 0, @access
 * not one of the two, the range wrapping past 2^64 or longer than
 * HV_DMA_BYTES_MAX); -EOPNOTSUPP (frames hold no bytes: not HV_SWIOTLB).
 */
int hv_device_rw(struct hv *hv, uint16_t devid, iova_t addr, void *buf, uint64_t len,
		 unsigned access, struct hv_dma_result *r);

/**
 * hv_stale_probe() - An attacking device DMAs to an address that led to a
 * frame until the driver unmapped it. A hit on another frame means the
 * address was mapped again for another buffer: counted apart, not stale.
 * A hit on the frame means the unmapped buffer is still reachable (hook
 * and swiotlb never take it away; batched and lazy until their flush),
 * classified by what it reached: a frame @owner still owns (lazy mode's
 * accepted risk), a frame another domain still has granted to @owner with
 * the grant pinned (the grant's lifetime, not yet over), another domain's
 * frame, or a free frame (the last two must never happen under hook, pv
 * and dmalayer). Counted in the stats.
 * @hv:    the hypervisor
 * @devid: the attacking device
 * @owner: the domain that unmapped
 * @addr:  the address
 * @mfn:   the frame it led to (INVALID_MFN: every hit counts)
 *
 * Return: 1 the unmapped buffer was reached, 0 it faulted or hit another buffer.
 */
int hv_stale_probe(struct hv *hv, uint16_t devid, domid_t owner, iova_t addr,
		   uint64_t mfn);

/**
 * hv_stats_get() - The counters.
 * @hv:  the hypervisor
 * @out: filled
 */
void hv_stats_get(const struct hv *hv, struct hv_stats *out);

/**
 * hv_stats_reset() - Zero the counters.
 * @hv: the hypervisor
 */
void hv_stats_reset(struct hv *hv);

/**
 * hv_fingerprint() - A hash of all hypervisor state: frames, p2ms, grant
 * tables, maptracks, device owners, the strategies' own records (hook's
 * grant entries, pv's dfn records, dmalayer's live mappings), I/O page
 * table contents. Equal before and after a failed call means nothing
 * changed. (The frames' bytes are not state of the hypervisor's.)
 * @hv: the hypervisor
 *
 * Return: the hash.
 */
uint64_t hv_fingerprint(const struct hv *hv);

/**
 * hv_strategy_name() - "hook", "pv", "dmalayer", "swiotlb".
 * @s: the strategy
 *
 * Return: its name, or "?".
 */
const char *hv_strategy_name(enum hv_strategy s);

/**
 * hv_strategy_parse() - The strategy of a name.
 * @name: as hv_strategy_name() gives it
 *
 * Return: the strategy, or -EINVAL.
 */
int hv_strategy_parse(const char *name);

#endif /* IOB_HV_H */
