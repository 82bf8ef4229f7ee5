/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Repetitions of a family's configurations (--repeat N): every run in a
 * fresh child process, the configurations of a group alternating (ABC
 * then CBA ...), then one row per configuration: the row of the median
 * repetition with the statistics of the family's headline figure appended
 * (docs/csv-schema.md, docs/methodology.md).
 */
#ifndef IOB_BENCH_REPEAT_H
#define IOB_BENCH_REPEAT_H

#include <stdbool.h>

#include "bench.h"

/* Appended to every family's CSV header. */
#define REP_COLS "figure,n,median,ci_lo,ci_hi,ci_level,spread,rep_values"
#define REP_NCOLS 8
/*
 * Hardware counters of the whole configuration run (user space, every
 * thread; the median repetition's), before REP_COLS; -1 where the host
 * cannot count (meta.json's counters.perf says why).
 */
#define REP_HW_COLS "hw_cycles,hw_instructions,hw_cache_misses,hw_dtlb_misses"
#define REP_NHW 4

struct rep_hooks {
	/* Before configuration @cfg's repetition @rep runs; may be NULL. */
	void (*before)(void *arg, unsigned cfg, unsigned rep);
	/* After it, with its wall time; may be NULL. */
	void (*after)(void *arg, unsigned cfg, unsigned rep, double seconds);
	/* True to stop between runs (a signal arrived); may be NULL. */
	bool (*stop)(void);
	void *arg;
};

/**
 * rep_run() - Run @n configurations of @fam @repeat times each, alternating.
 * @ctx:    the run context (its table gets the first repetition and a summary)
 * @fam:    the family
 * @opts:   @n option blocks
 * @n:      configurations in the group
 * @repeat: repetitions, 1..1000
 * @csv:    the family's CSV (header with REP_COLS written), or NULL
 * @cdf:    its second CSV, or NULL
 * @hooks:  progress and stop callbacks; may be NULL
 *
 * Nothing is written to @csv or @cdf until every run of the group is done.
 *
 * Return: 0; -EINTR when @hooks->stop said so (nothing written); -EIO when
 * a run failed (its child exited non-zero or died).
 */
int rep_run(struct bench_ctx *ctx, const struct family *fam, void *const *opts, unsigned n,
	    unsigned repeat, struct csv *csv, struct csv *cdf, const struct rep_hooks *hooks);

/**
 * rep_header() - A family's CSV header with REP_COLS appended.
 * @fam: the family
 *
 * Return: a static buffer, valid until the next call.
 */
const char *rep_header(const struct family *fam);

#endif
