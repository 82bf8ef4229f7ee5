/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xen_fidelity: the model's hypervisor (lib/hv) replaying the workloads of
 * a Xen run (iob xen run) as the real guest issued them, against Xen's own
 * counters from the same run: xen_fidelity.csv (docs/xen.md, "Fidelity").
 */
#ifndef IOB_BENCH_XEN_FIDELITY_H
#define IOB_BENCH_XEN_FIDELITY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <iob/results.h>

/* The counters compared, in the order of the table's rows. */
#define XEN_FID_COUNTERS(X)						\
	X(iommu_maps) X(iommu_unmaps) X(inv_cmds) X(completion_waits)	\
	X(grant_maps) X(grant_unmaps)

struct xen_fid_counts {
#define XEN_FID_FIELD(n) uint64_t n;
	XEN_FID_COUNTERS(XEN_FID_FIELD)
#undef XEN_FID_FIELD
	uint64_t p2m_pages;	/* dom0 RAM pages the workload itself changed (Xen's p2m_set path) */
	uint64_t shatters;	/* superpages split (reported, not compared: see docs/xen.md) */
};

/* What the guest did, from one row of xen.csv. */
struct xen_fid_work {
	const char *tuning;	/* baseline, batch, lazy (relaxed: nothing to model) */
	const char *workload;	/* balloon_out, balloon_in, pv, dmalayer, blk_read, ... */
	uint64_t arg;		/* MiB, or iterations */
	uint64_t calls;		/* balloon: the decrease/increase_reservation calls the guest made */
	uint64_t tsc_khz;	/* Xen's TSC (xen.csv's xen_tsc_khz): the lazy timer's clock */
};

/* What a replay of Xen's log left aside. */
struct xen_fid_replay_notes {
	uint64_t foreign_blocks;	/* blocks with an entry not mapping dfn to mfn = dfn */
	uint64_t mismatches;		/* dom0's own changes the model's state could not take */
	struct xen_fid_counts model_other;	/* the model's counts for dom0's own changes */
};

struct xeniolog;

/**
 * xen_fid_replay() - The model replaying Xen's log of dom0's IOMMU table
 * (hv-patches/xen-4.17 patch 0007) for one balloon workload: dom0 as an
 * identity domain set up as the log's blocks were, the calls with their
 * very frames on the CPUs they ran on, dom0's own page-table pages typed
 * and freed between them, and the model's lazy deadlines kept on Xen's TSC
 * (hv_tuning.clock_ns), so that its per-CPU queues time out as Xen's did.
 * @w:         the workload (tuning, tsc_khz)
 * @l:         its log (xeniolog_parse())
 * @model:     the model's counts for the calls (dom0's own changes apart)
 * @xen_other: Xen's counts outside the calls, from the log (maps, unmaps,
 *             flushes, shatters)
 * @notes:     what the replay left aside
 *
 * Return: 0; -EINVAL (a tuning it does not model, dfns past 16 GiB, no
 * TSC rate); -EOPNOTSUPP (a superpage map or unmap in the log);
 * -ENOMEM; another negative errno when the model refused a call.
 */
int xen_fid_replay(const struct xen_fid_work *w, const struct xeniolog *l,
		   struct xen_fid_counts *model, struct xen_fid_counts *xen_other,
		   struct xen_fid_replay_notes *notes);

/**
 * xen_fid_model() - The model's counts for one workload of a Xen run.
 * @w:   the workload, its tuning, its size
 * @out: the counts
 *
 * Return: 0; -EINVAL (a workload or tuning the model does not replay, or a
 * size out of range); -ENOMEM; another negative errno when a model call
 * failed (a bug).
 */
int xen_fid_model(const struct xen_fid_work *w, struct xen_fid_counts *out);

/**
 * xen_fid_skip_reason() - Why a workload of xen.csv is not replayed.
 * @workload: its name
 *
 * Return: NULL when the model replays it, else a short reason.
 */
const char *xen_fid_skip_reason(const char *workload);

/**
 * xen_fidelity_dir() - Write @dir/xen_fidelity.csv from @dir/xen.csv and
 * @dir/xen_paths.csv (temporary name, then renamed; nothing on error).
 * @dir:    a run folder of iob xen run or import
 * @env:    metadata for the CSV
 * @report: where the table is printed, one line per counter, or NULL
 * @err:    a message naming the problem, on error
 * @errlen: its size
 *
 * Return: rows written (> 0); -ENOENT (no such folder or file); -EINVAL
 * (not a xen.csv: columns missing, a truncated or malformed file, nothing
 * to replay); another negative errno when writing failed.
 */
int xen_fidelity_dir(const char *dir, const struct results_env *env, FILE *report, char *err,
		     size_t errlen);

#endif /* IOB_BENCH_XEN_FIDELITY_H */
