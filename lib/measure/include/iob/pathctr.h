/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pathctr: cycle counters on named code paths. The record per path is the
 * suite's contract, produced alike by the model, the benchmarks and the
 * Xen patch series (docs/csv-schema.md): count, total, min and max cycles,
 * and a log2 histogram (bucket i counts samples with floor(log2(c)) == i,
 * 0 and 1 in bucket 0).
 *
 * Counters are per thread (no sharing, no atomics on the hot path) and
 * summed when read. Built with -Dpathctr=false, PATHCTR_START/STOP compile
 * to nothing.
 *
 * Times are raw TSC deltas of fenced reads, probe overhead included (the
 * run's metadata reports it); paths nest, so an outer path's time includes
 * its inner paths.
 */
#ifndef IOB_PATHCTR_H
#define IOB_PATHCTR_H

#include <stdbool.h>
#include <stdint.h>

#include <iob/cycles.h>

#ifndef IOB_PATHCTR
#define IOB_PATHCTR 1
#endif

/* X(name, what it times). The names are shared with hv-patches/. */
#define PATHCTR_PATHS(X)							\
	X(map,			"one map request into an I/O page table")	\
	X(unmap,		"one unmap request, table update only")		\
	X(map_page,		"one leaf update (Xen: amd_iommu_map_page)")	\
	X(unmap_page,		"one leaf removal (Xen: amd_iommu_unmap_page)")	\
	X(pde_alloc,		"finding or allocating the tables above a leaf (Xen: iommu_pde_from_dfn)") \
	X(flush_decision,	"turning a range into invalidation commands (Xen: amd_iommu_flush_iotlb_pages)") \
	X(cmd_submit,		"writing commands and the tail doorbell (Xen: send_iommu_command)") \
	X(completion_wait,	"COMPLETION_WAIT until its store is seen (Xen: flush_command_buffer)") \
	X(grant_map,		"IOMMU work of a grant map (Xen: map_grant_ref)") \
	X(grant_unmap,		"IOMMU work of a grant unmap (Xen: unmap_common)") \
	X(balloon,		"one decrease_reservation chunk (Xen: guest_remove_page)") \
	X(populate,		"one populate_physmap extent")			\
	X(p2m_set,		"one p2m entry update with its IOMMU mirror")	\
	X(hypercall,		"one hypercall from entry to return")		\
	X(dma_map,		"dma_map: IOVA allocation plus map")		\
	X(dma_unmap,		"dma_unmap: unmap plus invalidation policy")	\
	X(iova_alloc,		"IOVA allocation (magazine or tree)")		\
	X(iova_free,		"IOVA release (magazine or tree)")		\
	X(fq_flush,		"lazy mode: one flush queue drain")

enum pathctr_path {
#define PATHCTR_ENUM(name, doc) PATH_##name,
	PATHCTR_PATHS(PATHCTR_ENUM)
#undef PATHCTR_ENUM
	PATH_NR
};

#define PATHCTR_LOG2_BUCKETS 64
#define PATHCTR_SCHEMA_VERSION 1

struct pathctr_rec {
	uint64_t count;
	uint64_t total_cyc;
	uint64_t min_cyc;	/* UINT64_MAX while count == 0 */
	uint64_t max_cyc;
	uint64_t log2[PATHCTR_LOG2_BUCKETS];
};

struct pathctr_block;
extern _Thread_local struct pathctr_block *pathctr_tls;

/**
 * pathctr_thread_recs() - This thread's records, allocated and registered
 * for summing on first use (kept after the thread exits).
 *
 * Return: PATH_NR records. A thread that cannot get memory for its own
 * counts into a shared block that is summed too (racy, but counting never
 * fails) and tries again on its next count.
 */
struct pathctr_rec *pathctr_thread_recs(void);

/**
 * pathctr_rec_add() - Count one event of @cyc cycles in @r.
 * @r:   a record (pathctr_rec_init() first)
 * @cyc: its cycles; into count, total, min, max and log2 bucket
 *       floor(log2(@cyc)) (0 and 1 in bucket 0)
 */
static inline void pathctr_rec_add(struct pathctr_rec *r, uint64_t cyc)
{
	r->count++;
	r->total_cyc += cyc;
	if (cyc < r->min_cyc)
		r->min_cyc = cyc;
	if (cyc > r->max_cyc)
		r->max_cyc = cyc;
	r->log2[cyc > 1 ? 63 - __builtin_clzll(cyc) : 0]++;
}

/**
 * pathctr_add() - Count one traversal of a path in this thread's records.
 * @p:   the path
 * @cyc: its cycles
 */
static inline void pathctr_add(enum pathctr_path p, uint64_t cyc)
{
	pathctr_rec_add(&pathctr_thread_recs()[p], cyc);
}

/*
 * Counting can also be switched off at run time (pathctr_set_enabled()),
 * leaving one predictable branch per probe: a latency benchmark then does
 * not pay for the fenced TSC reads of the paths nested inside what it times.
 */
extern bool pathctr_on;

#if IOB_PATHCTR
#define PATHCTR_START()		(pathctr_on ? cycles_now() : 0)
#define PATHCTR_STOP(p, t0)	do {					\
	if (pathctr_on)							\
		pathctr_add(PATH_##p, cycles_end() - (t0));		\
} while (0)
/* Stop, minus cycles spent elsewhere (e.g. in the IOMMU model run inline). */
#define PATHCTR_STOP_LESS(p, t0, less)	do {				\
	if (pathctr_on) {						\
		uint64_t pathctr_d_ = cycles_end() - (t0);		\
		uint64_t pathctr_l_ = (less);				\
		pathctr_add(PATH_##p, pathctr_d_ > pathctr_l_ ?		\
			    pathctr_d_ - pathctr_l_ : 0);		\
	}								\
} while (0)
#else
#define PATHCTR_START()		((uint64_t)0)
#define PATHCTR_STOP(p, t0)	((void)(t0))
#define PATHCTR_STOP_LESS(p, t0, less)	((void)(t0), (void)(less))
#endif

/**
 * pathctr_name() - A path's name, shared with hv-patches/ and the CSVs.
 * @p: the path
 *
 * Return: "map", "unmap", ...; "?" for a value out of range.
 */
const char *pathctr_name(enum pathctr_path p);

/**
 * pathctr_doc() - What a path times, in one line.
 * @p: the path
 *
 * Return: the text; "?" for a value out of range.
 */
const char *pathctr_doc(enum pathctr_path p);

/**
 * pathctr_lookup() - The path a name stands for.
 * @name: as pathctr_name() gives it, exactly
 *
 * Return: the path, or -1 for an unknown name.
 */
int pathctr_lookup(const char *name);

/**
 * pathctr_sum() - Every thread's records added up, living threads and
 * exited ones.
 * @out: PATH_NR records, overwritten
 */
void pathctr_sum(struct pathctr_rec *out);

/**
 * pathctr_reset() - Zero every thread's records. Call while no path is
 * being counted: a count racing the reset may survive it or be torn.
 */
void pathctr_reset(void);

/**
 * pathctr_rec_init() - An empty record (min_cyc UINT64_MAX).
 * @r: the record
 */
void pathctr_rec_init(struct pathctr_rec *r);

/**
 * pathctr_rec_merge() - Add @src to @dst, as if @dst had counted @src's
 * traversals too.
 * @dst: the record added to
 * @src: the one added
 */
void pathctr_rec_merge(struct pathctr_rec *dst, const struct pathctr_rec *src);

/**
 * pathctr_enabled() - Whether this build counts at all (-Dpathctr).
 *
 * Return: 1 if PATHCTR_START/STOP count, 0 if they compile to nothing.
 */
int pathctr_enabled(void);

/**
 * pathctr_set_enabled() - Turn counting on or off at run time (on by
 * default). Not synchronized: switch while no path runs.
 * @on: count or not
 */
void pathctr_set_enabled(bool on);

#endif /* IOB_PATHCTR_H */
