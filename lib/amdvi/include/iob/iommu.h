/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * iommu: the AMD-Vi device model. It owns a device table (real 256-bit
 * DTEs), a DTE cache, the IOTLB and page-directory cache, a command buffer
 * it consumes (inline, or on its own thread so that a completion-wait round
 * trip between two cores can be timed) and an event log it writes.
 *
 * Device DMA goes through iommu_translate(): DTE, IOTLB, walk on a miss,
 * fill, permission check, fault logged. Every step is counted and charged
 * to the modeled hardware time of the cost model.
 *
 * Calling rules:
 *  - without cfg.shared, the command producer and iommu_translate() run on
 *    one thread; with it, any threads may (a lock guards the caches, and
 *    producers take turns, holding their turn through a completion wait
 *    as Linux holds iommu->lock);
 *  - in threaded mode the consumer thread takes the caches' lock per batch;
 *  - after changing a DTE, software must send INVALIDATE_DEVTAB_ENTRY
 *    (the model caches DTEs, as hardware does);
 *  - lib/ never blocks forever: the consumer thread is stopped by destroy.
 */
#ifndef IOB_IOMMU_H
#define IOB_IOMMU_H

#include <stdbool.h>
#include <stdint.h>

#include <iob/amdvi.h>
#include <iob/cmdq.h>
#include <iob/cost.h>
#include <iob/inval.h>
#include <iob/iotlb.h>
#include <iob/walk.h>

struct iommu;

#define IOMMU_DEVICES		65536	/* 16-bit device IDs */
#define IOMMU_DTE_CACHE		64
#define IOMMU_EVTLOG_MIN	256	/* EventLen 1000b */
#define IOMMU_EVTLOG_MAX	32768	/* EventLen 1111b */

struct iommu_cfg {
	struct iotlb_cfg tlb;
	unsigned cmdq_entries;		/* 0: CMDQ_ENTRIES_LINUX */
	unsigned evtlog_entries;	/* power of two, 256..32768; 0: 512 */
	bool threaded;			/* consume on a thread of its own */
	bool shared;			/* several threads submit or translate */
	int cpu;			/* pin that thread; -1: no pinning */
	bool np_cache;			/* cache not-present results (NpCache) */
	const struct cost_model *cost;	/* NULL: cost_current() */
};

/* What one device access found. */
struct iommu_xlate {
	enum amdvi_fault fault;
	paddr_t pa;
	unsigned size_lg2;
	bool tlb_hit;
	bool passthrough;		/* DTE V=0 or mode 0: untranslated */
	unsigned levels_read;		/* table entries read on the walk */
	double model_ns;		/* modeled hardware time of this access */
};

#define IOMMU_STATS(X)							\
	X(translations) X(faults) X(passthrough) X(walks) X(levels_read) \
	X(dte_fetches) X(cmds) X(completion_waits) X(inv_pages)		\
	X(inv_all) X(inv_devtab) X(inv_iotlb) X(illegal_cmds)		\
	X(events) X(event_overflows) X(doorbells)

struct iommu_stats {
#define IOMMU_STAT_FIELD(n) uint64_t n;
	IOMMU_STATS(IOMMU_STAT_FIELD)
#undef IOMMU_STAT_FIELD
	double model_cmd_ns;		/* modeled time of commands executed */
	double model_xlate_ns;		/* modeled time of translations */
	uint64_t model_exec_cyc;	/* measured cycles spent inside the model inline */
};

/* A decoded event log entry. */
struct iommu_event {
	enum amdvi_event_code code;
	uint16_t devid;
	domid_t domid;
	uint16_t flags;			/* AMDVI_EVENT_F_* */
	uint64_t addr;
};

/**
 * iommu_create() - A model IOMMU with an empty device table (every DTE
 * zero: V clear, DMA untranslated) and empty caches.
 * @cfg: caches, ring and log sizes, threading, cost model; validated here
 * @out: the new IOMMU; untouched on error
 *
 * In threaded mode the consumer thread starts last and is pinned to
 * @cfg->cpu if it is not negative (best effort: pinning that fails is
 * not an error).
 *
 * Return: 0; -EINVAL for a NULL argument, an event log size that is not a
 * power of two in IOMMU_EVTLOG_MIN..IOMMU_EVTLOG_MAX, a bad IOTLB or PDE
 * cache geometry (iotlb_create()) or a bad ring size (cmdq_create());
 * -ENOMEM; or -errno of pthread_create(3) (-EAGAIN).
 */
int iommu_create(const struct iommu_cfg *cfg, struct iommu **out);

/**
 * iommu_destroy() - Stop the consumer thread (if any) and free the model.
 * @mmu: the IOMMU, or NULL (nothing to do)
 *
 * Commands still in the ring are dropped. Page tables the DTEs point to
 * are the caller's and stay.
 */
void iommu_destroy(struct iommu *mmu);

/**
 * iommu_cmdq() - The command ring, to inspect it or to consume from it in
 * tests. Drivers queue through iommu_flush_range() and friends, which
 * take the producer lock.
 * @mmu: the IOMMU
 *
 * Return: the ring, owned by @mmu.
 */
struct cmdq *iommu_cmdq(struct iommu *mmu);

/**
 * iommu_iotlb() - The IOTLB and page-directory cache, for inspection.
 * @mmu: the IOMMU
 *
 * Return: the caches, owned by @mmu (in threaded or shared mode, only
 * their statistics are safe to read while DMA runs).
 */
struct iotlb *iommu_iotlb(struct iommu *mmu);

/**
 * iommu_cost() - The cost model this IOMMU charges from.
 * @mmu: the IOMMU
 *
 * Return: its copy, taken at create.
 */
const struct cost_model *iommu_cost(const struct iommu *mmu);

/**
 * iommu_dte_set() - Write the DTE of @devid.
 * @mmu:   the IOMMU
 * @devid: the device
 * @domid: domain ID, the tag of its IOTLB entries
 * @root:  the page table's root, 4 KiB aligned, below 2^52 (checked even
 *         with @mode 0, where it is not written)
 * @mode:  paging mode = table levels, 1..6; 0: untranslated, with @prot
 * @prot:  IOPT_PROT_* for IR/IW, the rights above the table
 *
 * Writes V=1, TV=1, the domain ID, then qword 0 (a release store): a
 * concurrent walk never sees a half-written entry. The IOMMU caches DTEs:
 * send INVALIDATE_DEVTAB_ENTRY (iommu_flush_dte()) before relying on it.
 *
 * Return: 0, or -EINVAL for @mode above 6, @root unaligned or too high,
 * or @prot with bits other than IOPT_PROT_RW; the entry is then unchanged.
 */
int iommu_dte_set(struct iommu *mmu, uint16_t devid, domid_t domid,
		  paddr_t root, unsigned mode, unsigned prot);

/**
 * iommu_dte_block() - Block @devid's DMA: V=1, TV=1, mode 0, no rights,
 * domain 0. Every access then faults (permission). Needs
 * iommu_flush_dte() like any DTE change.
 * @mmu:   the IOMMU
 * @devid: the device
 */
void iommu_dte_block(struct iommu *mmu, uint16_t devid);

/**
 * iommu_dte_raw() - @devid's DTE as it is in memory.
 * @mmu:   the IOMMU
 * @devid: the device
 *
 * Return: its four quadwords (live, not a copy).
 */
const uint64_t *iommu_dte_raw(const struct iommu *mmu, uint16_t devid);

/**
 * iommu_process() - Execute every published command (inline mode). The
 * model does this itself whenever a producer waits; tests call it to
 * execute at a chosen point.
 * @mmu: the IOMMU
 *
 * Return: commands executed; 0 in threaded mode, where the thread does it.
 */
unsigned iommu_process(struct iommu *mmu);

/**
 * iommu_thread_exec_cyc() - Cycles the calling thread has spent running
 * the IOMMU model inline (inside its own waits), any IOMMU. Taking the
 * difference around a timed region leaves the driver's own time.
 *
 * Return: the thread's total, in TSC cycles.
 */
uint64_t iommu_thread_exec_cyc(void);

/**
 * iommu_translate() - A DMA access by @devid to @iova.
 * @mmu:    the IOMMU
 * @devid:  the device
 * @iova:   the address the device uses
 * @access: IOPT_PROT_READ, IOPT_PROT_WRITE or both
 * @x:      the result: address, page size, hit or walk, modeled time; the
 *          fault when there is one
 *
 * DTE (cached), IOTLB, then on a miss the page-directory cache and a walk
 * (amdvi_walk()), filling both caches; with NpCache a not-present result
 * is cached too. A DTE with V clear passes the access through untranslated,
 * and so does mode 0 within the DTE's rights (@x->passthrough).
 *
 * Return: 0 with @x->pa set, or -EFAULT with @x->fault set and an event
 * logged (counted as an overflow instead when the log is full). A fault
 * is the device's, not the caller's error.
 */
int iommu_translate(struct iommu *mmu, uint16_t devid, iova_t iova,
		    unsigned access, struct iommu_xlate *x);

/**
 * iommu_event_pop() - Take the oldest entry off the event log.
 * @mmu: the IOMMU
 * @raw: the 128-bit entry, as the hardware writes it
 *
 * Return: true with @raw filled, false when the log is empty.
 */
bool iommu_event_pop(struct iommu *mmu, struct amdvi_cmd *raw);

/**
 * iommu_event_decode() - Take an event log entry apart.
 * @raw: the entry (iommu_event_pop())
 * @ev:  its code, device, domain, flags (AMDVI_EVENT_F_*) and address
 */
void iommu_event_decode(const struct amdvi_cmd *raw, struct iommu_event *ev);

/* ---- driver side: what an IOMMU driver sends ------------------------------
 *
 * These queue commands under the producer lock and ring the doorbell once
 * per call; only iommu_completion_wait() waits.
 */

/**
 * iommu_flush_range() - Queue the INVALIDATE_IOMMU_PAGES commands that
 * @policy makes of a range (inval_split()). Does not wait.
 * @mmu:       the IOMMU
 * @domid:     the domain
 * @iova:      start, 4 KiB aligned
 * @size:      bytes, a non-zero multiple of 4 KiB
 * @pde:       set PDE in every command: cached directory entries go too
 *             (needed when page-table pages were freed)
 * @policy:    exact, merged or xen
 * @space_lg2: the domain's address space, for over-invalidation accounting
 * @over:      if not NULL, bytes invalidated beyond the range are added
 *
 * Return: commands queued (at least 1), or -EINVAL (see inval_split())
 * with nothing queued.
 */
int iommu_flush_range(struct iommu *mmu, domid_t domid, iova_t iova,
		      uint64_t size, bool pde, enum inval_policy policy,
		      unsigned space_lg2, uint64_t *over);

/**
 * iommu_completion_wait() - Queue COMPLETION_WAIT with a store to a
 * semaphore and wait for the store: every command queued before it has
 * then taken effect. Holds the producer lock through the wait, as Linux
 * holds iommu->lock: one waiter at a time.
 * @mmu: the IOMMU
 */
void iommu_completion_wait(struct iommu *mmu);

/**
 * iommu_flush_domain() - Queue one INVALIDATE_IOMMU_PAGES for every page
 * of @domid, PDE set (Linux's domain flush). Does not wait.
 * @mmu:   the IOMMU
 * @domid: the domain
 */
void iommu_flush_domain(struct iommu *mmu, domid_t domid);

/**
 * iommu_flush_dte() - Queue INVALIDATE_DEVTAB_ENTRY for @devid. Does not
 * wait.
 * @mmu:   the IOMMU
 * @devid: the device whose cached DTE goes
 */
void iommu_flush_dte(struct iommu *mmu, uint16_t devid);

/**
 * iommu_stats_get() - Copy the counters (IOMMU_STATS and modeled times).
 * @mmu: the IOMMU
 * @out: the counters
 */
void iommu_stats_get(struct iommu *mmu, struct iommu_stats *out);

/**
 * iommu_stats_reset() - Zero the counters and modeled times.
 * @mmu: the IOMMU
 */
void iommu_stats_reset(struct iommu *mmu);

#endif /* IOB_IOMMU_H */
