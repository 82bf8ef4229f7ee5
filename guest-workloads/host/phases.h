/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * phases: the running kernel's IOMMU phases, timed by kprobe/kretprobe
 * events in tracefs (no out-of-tree tools): IOVA allocation and release,
 * the page-table map and unmap, the AMD driver's invalidation and
 * completion wait, flush-queue flushes, and VFIO's map and unmap. Each
 * phase names candidate functions, newest kernel's first; the first one
 * available_filter_functions lists is probed (static functions the
 * compiler inlined cannot be, and are reported missing). A phase's time
 * is its function's, from entry to return, so nested phases overlap.
 *
 * One more probe counts the commands the AMD driver queues
 * (__iommu_queue_command_sync, with the command's second dword fetched:
 * opcode in bits 31:28), per opcode.
 *
 * Events go to the "iob" group; a tracer is read from trace_pipe by a
 * thread while it runs. With the x86-tsc trace clock, times are TSC
 * cycles; otherwise nanoseconds converted to cycles with the TSC rate.
 */
#ifndef IOB_HOST_PHASES_H
#define IOB_HOST_PHASES_H

#include <stdbool.h>
#include <stdint.h>

#include <iob/pathctr.h>

#define PHASES(X)								\
	X(vfio_ioctl,	"one VFIO type1 ioctl (MAP_DMA, UNMAP_DMA, ...)",		\
	  "vfio_iommu_type1_ioctl")						\
	X(vfio_unmap,	"unpinning and unmapping one VFIO mapping",	"vfio_unmap_unpin") \
	X(iommu_map,	"iommu_map(): one mapping request, with its sync",	"iommu_map") \
	X(iommu_unmap,	"one unmap request, table update (the sync apart)",		\
	  "__iommu_unmap,iommu_unmap")						\
	X(pt_map,	"page-table map",	"iommu_v1_map_pages,iommu_v1_map_page,amdv1_map_pages") \
	X(pt_unmap,	"page-table unmap",	"iommu_v1_unmap_pages,iommu_v1_unmap_page,amdv1_unmap_pages") \
	X(sync_map,	"after a map: flush of cached not-present entries (NpCache)",	\
	  "amd_iommu_iotlb_sync_map")						\
	X(iotlb_sync,	"after unmaps: the gathered range flushed and waited for",	\
	  "amd_iommu_iotlb_sync")						\
	X(flush,	"queueing INVALIDATE_IOMMU_PAGES for a range",			\
	  "amd_iommu_domain_flush_pages,domain_flush_pages,__domain_flush_pages")	\
	X(completion_wait, "COMPLETION_WAIT queued and waited for",		\
	  "iommu_completion_wait,amd_iommu_domain_flush_complete")		\
	X(iova_alloc,	"IOVA allocation (DMA API)",	"iommu_dma_alloc_iova,alloc_iova_fast") \
	X(iova_free,	"IOVA release (DMA API)",	"iommu_dma_free_iova,free_iova_fast") \
	X(fq_flush,	"flush-queue flush (lazy mode)",	"fq_flush_iotlb,fq_flush_timeout")

enum phase {
#define PHASE_ENUM(name, doc, funcs) PHASE_##name,
	PHASES(PHASE_ENUM)
#undef PHASE_ENUM
	PHASE_NR
};

/* AMD-Vi command opcodes counted (bits 31:28 of the second dword). */
#define PHASES_OPCODES 16
/* Windows phases_mark() can open. */
#define PHASES_WINDOWS 256

/* What one window between two marks saw. */
struct phases_window {
	uint64_t cmds[PHASES_OPCODES];
	uint64_t calls[PHASE_NR];	/* entries of each phase */
	uint64_t cyc[PHASE_NR];		/* their durations, in the window they began in */
	uint64_t ended[PHASE_NR];	/* of those, the calls whose return was seen */
};

enum phases_what {
	PHASES_ALL,		/* every phase found, and the command probe */
	PHASES_CMDS,		/* only the command probe: least overhead */
};

struct phases_result {
	bool found[PHASE_NR];			/* a function was probed */
	char func[PHASE_NR][64];		/* which */
	struct pathctr_rec rec[PHASE_NR];	/* cycles per call */
	bool cmds_probed;
	uint64_t cmds[PHASES_OPCODES];		/* commands queued, by opcode */
	uint64_t lost;				/* events the ring dropped */
	uint64_t unpaired;			/* returns without an entry, entries without a return */
	char clock[16];				/* trace clock used */
	unsigned nwin;				/* windows opened by phases_mark() */
	struct phases_window win[PHASES_WINDOWS];
};

struct phases;

/**
 * phases_start() - Create the probes and start reading them.
 * @tracefs: tracefs mount ("/sys/kernel/tracing")
 * @what:    every phase, or the command probe alone
 * @tsc_khz: TSC rate, to turn nanosecond clocks into cycles
 * @out:     the tracer; phases_stop() ends it
 * @err:     what failed
 *
 * Return: 0; -ENOENT (no kprobe_events: CONFIG_KPROBE_EVENTS), -EBUSY (an
 * "iob" group already exists: another run, or one that crashed: remove it
 * with `echo '-:iob/EVENT' >> kprobe_events`), -ENOMEM, or a -errno of
 * tracefs.
 */
int phases_start(const char *tracefs, enum phases_what what, uint64_t tsc_khz,
		 struct phases **out, char *err, size_t errlen);

/**
 * phases_mark() - Open the next window: events from here on count in it
 * (through trace_marker, so the order is the trace's own).
 * @p: the tracer
 *
 * Return: the window's index (0 for the first mark), or -ENOSPC after
 * PHASES_WINDOWS marks, or the -errno of the trace_marker write.
 */
int phases_mark(struct phases *p);

/**
 * phases_stop() - Stop tracing, read what is left, remove every probe
 * made, and give the result.
 * @p:   the tracer (freed)
 * @res: filled
 */
void phases_stop(struct phases *p, struct phases_result *res);

/**
 * phases_cleanup_from_signal() - Disable tracing and the "iob" events
 * with async-signal-safe calls (probes stay defined; the next start
 * removes them).
 */
void phases_cleanup_from_signal(void);

/**
 * phases_overhead_ns() - The cost of one probed call (kprobe + kretprobe
 * on a getppid() system call), measured by timing 20,000 getppid() calls
 * with and without the probes.
 * @tracefs: tracefs mount
 * @ns:      nanoseconds per probed call
 *
 * Return: 0, or -errno when the probes could not be made (@ns unset).
 */
int phases_overhead_ns(const char *tracefs, double *ns);

/**
 * phase_name() - The phase's column name ("pt_map").
 * @p: the phase
 *
 * Return: a static string.
 */
const char *phase_name(enum phase p);

/**
 * phase_doc() - What the phase is, for people.
 * @p: the phase
 *
 * Return: a static string.
 */
const char *phase_doc(enum phase p);

#endif /* IOB_HOST_PHASES_H */
