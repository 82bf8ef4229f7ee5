/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hv_impl.h: what the rooms of the model hypervisor share. Private to
 * lib/hv (not installed, not under include/).
 *
 * The rooms, one file each:
 *   hv.c           the hypervisor: create and destroy, the strategy table,
 *                  the hypercall prologue and epilogue, batches, time,
 *                  statistics, the fingerprint
 *   hv_domain.c    domains and devices
 *   hv_iopt.c      a domain's I/O page table as the hypervisor updates it:
 *                  map and unmap a range, table reservation bounds, the
 *                  release records an unmap hands to the flush policy
 *   hv_memory.c    p2m and memory operations: populate, decrease and
 *                  increase reservation, exchange
 *   hv_grant.c     grant tables, and the maptrack rules pv and dmalayer share
 *   hv_hook.c, hv_pv.c, hv_dmalayer.c, hv_swiotlb.c
 *                  one strategy each, behind struct hv_strategy_ops
 *   hv_dma.c       device DMA and the attacker's probes
 *
 * Every operation runs in two phases. Phase one checks every argument and
 * takes every resource the operation can need (release records, IOVAs,
 * page-table pages reserved with iopt_reserve()); an error there returns
 * with nothing changed. Phase two cannot fail. That is how "all or
 * nothing" holds even when the N-th allocation on the path is made to fail.
 */
#ifndef IOB_HV_IMPL_H
#define IOB_HV_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include <iob/hv.h>
#include <iob/pathctr.h>

#define HV_DOMAINS_MAX	64
#define HV_PAGE		AMDVI_PAGE_SIZE
#define HV_PAGE_LG2	AMDVI_PAGE_SIZE_LG2

/* ---- per-domain state the core keeps --------------------------------------------- */

struct hv_grant {
	bool in_use, ro;
	domid_t grantee;
	gfn_t gfn;
	uint32_t pins;		/* live maps plus releases still pending */
};

struct hv_maptrack {
	bool in_use, ro;
	domid_t granter;
	grant_ref_t ref;
	gfn_t host_gfn;
	uint64_t mfn;
	uint32_t iommu_live;	/* pv / DMA-layer mappings of this grant */
	uint32_t iommu_pending;	/* unmapped, invalidation not yet completed */
};

struct hv_domain {
	bool live;
	domid_t id;
	uint64_t max_gfn;
	uint64_t *p2m;		/* mfn or INVALID_MFN */
	uint8_t *type;		/* enum p2m_type */
	uint64_t pages;		/* RAM frames owned through the p2m */
	/*
	 * A PV guest whose frames are its machine frames (Xen's PV hardware
	 * domain: its I/O page table is indexed by machine frame): populate
	 * hands out frame gfn itself (hv_domain_identity()), and @pvtable
	 * marks the pages typed as page tables (hv_pv_retype()), one bit each.
	 */
	bool identity;
	uint64_t *pvtable;
	struct iopt *pt;
	struct flush *fl;
	struct hv_grant *gnt;
	uint32_t ngnt;
	struct hv_maptrack *mt;
	uint32_t nmt;
	unsigned ndev;
	void *priv;		/* the strategy's own state (its domain_init) */
};

struct hv_strategy_ops;

struct hv {
	struct hv_cfg cfg;
	const struct hv_strategy_ops *ops;
	struct iommu *mmu;
	struct frames *fr;
	uint8_t *mem;		/* 4 KiB per machine frame, if the strategy moves data */
	struct hv_domain dom[HV_DOMAINS_MAX];
	/*
	 * Who owns each device ID, stored as domain + 1 so that 0 (what
	 * calloc gives) is "nobody": a fresh hv then costs no 128 KiB
	 * fill, which was a third of a fuzzing run's time (fuzz_hv makes
	 * an hv per input). Read and written through hv_devowner*().
	 */
	uint16_t devowner1[IOMMU_DEVICES];
	/*
	 * The XOR of hv_dev_hash() over every assigned device: devowner[] in
	 * hv_fingerprint() without walking 65536 entries, which made the
	 * fingerprint cost most of a fuzzing run (tests/fuzz/fuzz_hv.c).
	 */
	uint64_t devhash;
	struct hv_stats stats;
	unsigned cpu;		/* the CPU the calls run on (hv_set_cpu()): per-CPU flush state */
};

/* ---- release records ------------------------------------------------------------- */

/*
 * What an unmap gives back once its invalidation completed: frame
 * references and pending-invalidation marks, a maptrack's IOMMU reference
 * per page, a grant pin, and the strategy's own part (@done: pv's pending
 * device frame, dmalayer's IOVA range).
 */
struct hv_release_page {
	uint64_t mfn;
	int32_t mt;		/* maptrack handle whose IOMMU reference this holds, or -1 */
};

struct hv_release {
	domid_t d;
	bool put_frames, has_grant;
	domid_t granter;
	grant_ref_t gref;
	void (*done)(struct hv *hv, struct hv_domain *dm, const struct hv_release *r,
		     unsigned cpu);
	void *obj;		/* for @done */
	iova_t iova;
	uint64_t pages;
	unsigned n;
	struct hv_release_page pg[];
};

/**
 * hv_release_new() - A release record for @n pages, nothing to give back yet.
 * @d: the domain whose unmap it is
 * @n: pages
 *
 * Return: the record, or NULL (-ENOMEM).
 */
struct hv_release *hv_release_new(domid_t d, unsigned n);

/**
 * hv_release_done() - Give back what a record holds, then free it.
 * @hv:  the hypervisor
 * @r:   the record
 * @cpu: the CPU whose flush released it (IOVA magazines)
 */
void hv_release_done(struct hv *hv, struct hv_release *r, unsigned cpu);

/**
 * hv_release_now() - Release at once a record whose pages no stale entry can
 * reach (no IOMMU change was made for them).
 * @hv: the hypervisor
 * @r:  the record
 */
void hv_release_now(struct hv *hv, struct hv_release *r);

/**
 * hv_release_array() - @n one-page records, all or none.
 * @d: the domain
 * @n: records
 *
 * Return: the array, or NULL (-ENOMEM) with nothing left allocated.
 */
struct hv_release **hv_release_array(domid_t d, uint64_t n);

/**
 * hv_release_array_free() - Free an array of records and what it still holds.
 * @rel: the array, or NULL
 * @n:   its length
 */
void hv_release_array_free(struct hv_release **rel, uint64_t n);

/* ---- I/O page-table updates (phase two: cannot fail once tables are reserved) ---- */

/**
 * hv_iopt_map_bound() - Tables a map or unmap of a range can allocate, at worst.
 * @dm:    the domain
 * @dfn:   first page
 * @pages: pages
 *
 * Return: tables, for iopt_reserve().
 */
uint64_t hv_iopt_map_bound(const struct hv_domain *dm, uint64_t dfn, uint64_t pages);

/**
 * hv_iopt_unmap_bound() - Tables one unmap can allocate: splits of
 * superpages at its two ends, none without superpages.
 * @dm: the domain
 *
 * Return: tables.
 */
uint64_t hv_iopt_unmap_bound(const struct hv_domain *dm);

/**
 * hv_pv_typed() - Whether PV page @gfn of @dm is typed as a page table.
 * @dm:  the domain
 * @gfn: below dm->max_gfn
 *
 * Return: true if hv_pv_retype() made it one (never without identity).
 */
static inline bool hv_pv_typed(const struct hv_domain *dm, gfn_t gfn)
{
	return dm->pvtable && (dm->pvtable[gfn / 64] >> (gfn % 64) & 1);
}

/**
 * hv_iopt_map() - Map a range in @dm's table, with the flush the mode asks
 * for (coalesced tables; a map flush if the IOMMU caches non-present
 * entries). Tables must have been reserved: it cannot fail.
 * @hv:    the hypervisor
 * @dm:    the domain
 * @dfn:   first device page
 * @mfn:   first frame
 * @pages: pages
 * @prot:  IOPT_PROT_*
 */
void hv_iopt_map(struct hv *hv, struct hv_domain *dm, uint64_t dfn, uint64_t mfn,
		 uint64_t pages, unsigned prot);

/**
 * hv_iopt_unmap() - Unmap a range in @dm's table and hand it to the flush
 * policy with what to give back once invalidated (strict: at once).
 * @hv:    the hypervisor
 * @dm:    the domain
 * @dfn:   first device page
 * @pages: pages
 * @rel:   the record (the policy frees it), or NULL
 */
void hv_iopt_unmap(struct hv *hv, struct hv_domain *dm, uint64_t dfn, uint64_t pages,
		   struct hv_release *rel);

/**
 * hv_iopt_unmap_now() - Unmap a range of @dm's table with its own flush,
 * sent and waited for at once whatever the domain's flush mode (a change
 * outside any batch, as a PV page-table type change in Xen); the frames
 * stay where they are. Tables must have been reserved.
 * @hv:    the hypervisor
 * @dm:    the domain
 * @dfn:   first device page
 * @pages: pages
 */
void hv_iopt_unmap_now(struct hv *hv, struct hv_domain *dm, uint64_t dfn, uint64_t pages);

/* ---- shared rules ---------------------------------------------------------------- */

/**
 * hv_dom() - A live domain.
 * @hv: the hypervisor
 * @d:  its ID
 *
 * Return: the domain, or NULL (none such: -ESRCH for the caller).
 */
struct hv_domain *hv_dom(struct hv *hv, domid_t d);

/**
 * hv_dom_const() - hv_dom() for readers.
 * @hv: the hypervisor
 * @d:  its ID
 *
 * Return: the domain, or NULL.
 */
const struct hv_domain *hv_dom_const(const struct hv *hv, domid_t d);

/**
 * hv_p2m_set() - One p2m entry, counted (stats.p2m_sets) and timed (p2m_set).
 * @hv:  the hypervisor
 * @dm:  the domain
 * @gfn: the entry
 * @mfn: its frame, or INVALID_MFN
 * @t:   its type
 */
void hv_p2m_set(struct hv *hv, struct hv_domain *dm, gfn_t gfn, uint64_t mfn,
		enum p2m_type t);

/**
 * hv_gfn_check() - May @dm let a device reach its @gfn with @prot?
 * @dm:   the domain
 * @gfn:  the page
 * @prot: IOPT_PROT_*
 *
 * Return: 0; -EPERM (not its RAM or a grant it maps); -EACCES (a write
 * through a read-only grant).
 */
int hv_gfn_check(const struct hv_domain *dm, gfn_t gfn, unsigned prot);

/**
 * hv_maptrack_of_gfn() - The grant mapping at a gfn.
 * @dm:  the domain
 * @gfn: the page
 *
 * Return: its maptrack handle, or -1 (the domain's own RAM).
 */
int32_t hv_maptrack_of_gfn(const struct hv_domain *dm, gfn_t gfn);

/**
 * hv_maptrack_of_mfn() - The grant mapping an unmapped device mapping of a
 * frame gives its IOMMU reference back to (dmalayer's rule).
 * @dm:   the domain
 * @mfn:  the frame
 * @prot: the device mapping's rights
 *
 * Return: its maptrack handle, or -1.
 */
int32_t hv_maptrack_of_mfn(const struct hv_domain *dm, uint64_t mfn, unsigned prot);

/**
 * hv_domain_unmap_grants() - Detach @dm's devices, settle its flushes and
 * drop the grant mappings it holds.
 * @hv: the hypervisor
 * @dm: the domain
 */
void hv_domain_unmap_grants(struct hv *hv, struct hv_domain *dm);

/**
 * hv_device_translated() - Point a device's DTE at @dm's I/O page table
 * (the default device_assign; hook's after its mirror).
 * @hv:    the hypervisor
 * @dm:    the domain
 * @devid: the device
 *
 * Return: 0, or -EINVAL from iommu_dte_set().
 */
int hv_device_translated(struct hv *hv, struct hv_domain *dm, uint16_t devid);

/* ---- hypercalls: one prologue, one epilogue ---------------------------------------- */

/* Hypercall families a strategy offers beyond the memory and grant ones all offer. */
#define HV_CALL_PV	(1U << 0)
#define HV_CALL_DMA	(1U << 1)

struct hv_call {
	struct hv_domain *dm;	/* the calling domain, once entered */
	uint64_t t0;
	enum pathctr_path path;	/* recorded on success; PATH_NR: none */
};

/**
 * hv_call_enter() - Every hypercall's prologue: count it, start its clock,
 * check that the strategy offers @family and that @d exists.
 * @hv:     the hypervisor
 * @c:      the call's state, for hv_call_exit()
 * @family: HV_CALL_* (0: every strategy offers it)
 * @d:      the calling domain
 * @path:   the path counter the call records on success (PATH_NR: none)
 *
 * Return: 0 with @c->dm set; -EOPNOTSUPP; -ESRCH. Whatever it returns, the
 * caller passes its result through hv_call_exit().
 */
int hv_call_enter(struct hv *hv, struct hv_call *c, unsigned family, domid_t d,
		  enum pathctr_path path);

/**
 * hv_call_exit() - Every hypercall's epilogue: count an error, or record
 * @c->path on success.
 * @hv:  the hypervisor
 * @c:   from hv_call_enter()
 * @ret: the call's result
 *
 * Return: @ret.
 */
int hv_call_exit(struct hv *hv, const struct hv_call *c, int ret);

/* ---- the strategies -------------------------------------------------------------- */

/* State a grant map's phase one hands to its phase two. */
struct hv_grant_prep {
	void *node;
};

/*
 * What a strategy does at each point where the strategies differ. NULL
 * means "nothing" (or, for device_assign, hv_device_translated()).
 *
 * Adding a strategy takes, in lib/hv: one file with its ops (and its
 * hypercalls, if it has any, entering through hv_call_enter() with a new
 * HV_CALL_* bit), one entry in hv_strategies[] (hv.c), its enum value in
 * <iob/hv.h> and the file in lib/meson.build.
 */
struct hv_strategy_ops {
	const char *name;
	unsigned calls;			/* HV_CALL_* families it offers */
	bool frame_memory;		/* machine frames hold real bytes (it copies data) */

	/* Set up and tear down dm->priv. fini: the domain's grants are unmapped and
	 * its flushes settled; give back every device mapping's frames. */
	int (*domain_init)(struct hv *hv, struct hv_domain *dm);
	void (*domain_fini)(struct hv *hv, struct hv_domain *dm);
	/* Make @devid's DTE give @dm's devices what the strategy gives them;
	 * may refuse (-EBUSY, -ENOMEM) before changing anything. */
	int (*device_assign)(struct hv *hv, struct hv_domain *dm, uint16_t devid);

	/* p2m changes: tables to reserve in phase one, then the change itself. */
	uint64_t (*p2m_add_tables)(const struct hv_domain *dm, gfn_t gfn, uint64_t pages);
	void (*p2m_added)(struct hv *hv, struct hv_domain *dm, gfn_t gfn, uint64_t mfn,
			  uint64_t pages);
	uint64_t (*unmap_tables)(const struct hv_domain *dm);
	/* One RAM page left the p2m; @r holds its frame. True: @r was taken (given
	 * back after an invalidation); false: the core releases it now. */
	bool (*p2m_removed)(struct hv *hv, struct hv_domain *dm, gfn_t gfn,
			    struct hv_release *r);

	/* Grant mapping into @gd of frame @mfn: phase one, then phase two,
	 * which returns the bus address the grantee's devices reach it at, or 0. */
	int (*grant_map_prepare)(struct hv *hv, struct hv_domain *gd, uint64_t mfn,
				 struct hv_grant_prep *prep);
	uint64_t (*grant_mapped)(struct hv *hv, struct hv_domain *gd, uint64_t mfn, bool ro,
				 struct hv_grant_prep *prep);
	/* @mt was just unmapped (in_use cleared); as p2m_removed for @r. */
	bool (*grant_unmapped)(struct hv *hv, struct hv_domain *gd, const struct hv_maptrack *mt,
			       struct hv_release *r);

	/* A PV page of @dm became a page table (@table) or writable again; the
	 * core has checked it and reserved the tables a map or unmap needs. */
	void (*pv_retyped)(struct hv *hv, struct hv_domain *dm, gfn_t gfn, bool table);

	/* Mix the strategy's own state of @dm into @h. */
	uint64_t (*fingerprint)(const struct hv_domain *dm, uint64_t h);
};

extern const struct hv_strategy_ops hv_hook_ops, hv_pv_ops, hv_dmalayer_ops, hv_swiotlb_ops;

/* The fingerprint's mixing step. */
static inline uint64_t hv_mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ULL;
}

/* One device's ownership, for hv->devhash. */
/* The domain that owns @devid, or DOMID_INVALID. */
static inline domid_t hv_devowner(const struct hv *hv, uint16_t devid)
{
	return hv->devowner1[devid] ? (domid_t)(hv->devowner1[devid] - 1) : DOMID_INVALID;
}

/* @devid now belongs to @d (DOMID_INVALID: to nobody). */
static inline void hv_devowner_set(struct hv *hv, uint16_t devid, domid_t d)
{
	hv->devowner1[devid] = d == DOMID_INVALID ? 0 : (uint16_t)(d + 1);
}

static inline uint64_t hv_dev_hash(uint16_t devid, domid_t d)
{
	return hv_mix(hv_mix(0x9e3779b97f4a7c15ULL, devid), d);
}

#endif /* IOB_HV_IMPL_H */
