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
 * iommu_create() - A model IOMMU with an empty device table.
 * Return: 0, -EINVAL (bad cache or ring sizes), -ENOMEM, or -errno from
 * starting the consumer thread.
 */
int iommu_create(const struct iommu_cfg *cfg, struct iommu **out);
void iommu_destroy(struct iommu *mmu);

struct cmdq *iommu_cmdq(struct iommu *mmu);
struct iotlb *iommu_iotlb(struct iommu *mmu);
const struct cost_model *iommu_cost(const struct iommu *mmu);

/**
 * iommu_dte_set() - Write the DTE of @devid: V, TV, mode (levels), root,
 * IR/IW from @prot, domain ID. Mode 0 means untranslated with @prot.
 * Return: 0 or -EINVAL (mode > 6, root not 4 KiB aligned).
 */
int iommu_dte_set(struct iommu *mmu, uint16_t devid, domid_t domid,
		  paddr_t root, unsigned mode, unsigned prot);
/* Write V=1, TV=1, mode 0, no rights: the device's DMA is blocked. */
void iommu_dte_block(struct iommu *mmu, uint16_t devid);
/* The raw four quadwords of @devid's DTE, as in memory. */
const uint64_t *iommu_dte_raw(const struct iommu *mmu, uint16_t devid);

/*
 * iommu_process() - Execute every published command (inline mode).
 * Returns the number executed. In threaded mode the thread does this.
 */
unsigned iommu_process(struct iommu *mmu);

/*
 * iommu_thread_exec_cyc() - Cycles the calling thread has spent running
 * the IOMMU model inline (inside its own waits). Taking the difference
 * around a timed region leaves the driver's own time.
 */
uint64_t iommu_thread_exec_cyc(void);

/**
 * iommu_translate() - A DMA access by @devid to @iova.
 * @access: IOPT_PROT_READ or IOPT_PROT_WRITE
 * Return: 0 with @x->pa set, or -EFAULT with @x->fault set and an event
 * logged.
 */
int iommu_translate(struct iommu *mmu, uint16_t devid, iova_t iova,
		    unsigned access, struct iommu_xlate *x);

/* Pop the oldest event; false when the log is empty. */
bool iommu_event_pop(struct iommu *mmu, struct amdvi_cmd *raw);
void iommu_event_decode(const struct amdvi_cmd *raw, struct iommu_event *ev);

/* ---- driver side: what an IOMMU driver sends ------------------------------ */

/**
 * iommu_flush_range() - Queue the INVALIDATE_IOMMU_PAGES commands that
 * @policy makes of [@iova, @iova + @size). Does not wait.
 * @space_lg2: the domain's address space, for over-invalidation accounting
 * @over:      if not NULL, bytes invalidated beyond the range are added
 * Return: commands queued, or -EINVAL.
 */
int iommu_flush_range(struct iommu *mmu, domid_t domid, iova_t iova,
		      uint64_t size, bool pde, enum inval_policy policy,
		      unsigned space_lg2, uint64_t *over);

/*
 * iommu_completion_wait() - Queue COMPLETION_WAIT with a store to a
 * semaphore and wait for the store: every command queued before it has
 * then taken effect.
 */
void iommu_completion_wait(struct iommu *mmu);

/* Queue one INVALIDATE_IOMMU_PAGES for every page of @domid, PDE set (no wait). */
void iommu_flush_domain(struct iommu *mmu, domid_t domid);

/* Queue INVALIDATE_DEVTAB_ENTRY for @devid (no wait). */
void iommu_flush_dte(struct iommu *mmu, uint16_t devid);

void iommu_stats_get(struct iommu *mmu, struct iommu_stats *out);
void iommu_stats_reset(struct iommu *mmu);

#endif /* IOB_IOMMU_H */
