/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * reachfit: a measured reach curve explained by an IOTLB geometry (what
 * iob host reach and iob qemu host share): every candidate geometry of
 * reach_geo_candidates() replays every point of the curve on the AMD-Vi
 * model and reach_fit_select() picks the one whose misses per transfer
 * explain the measured values best; and the columns of host_reach.csv
 * that let a point be replayed afterwards. Nothing here prints or exits.
 */
#ifndef IOB_REACHFIT_H
#define IOB_REACHFIT_H

#include <stddef.h>
#include <stdint.h>

#include <iob/csv.h>
#include <iob/reach.h>

/* The fit replays at most this many warm-up and counted I/Os per point. */
#define REACHFIT_IOS_MAX	8192
#define REACHFIT_GEO_MAX	128

/* A point of a measured curve, as the fit sees it. */
struct reachfit_point {
	struct reach_point pt;
	struct reach_layout lay;	/* as the device saw it when the warm-up began */
	uint64_t warm, ios;
	const double *y;		/* samples: ns per I/O, or one exact value */
	size_t ny;
};

struct reachfit_result {
	struct iotlb_cfg geo[REACHFIT_GEO_MAX];	/* the candidates */
	size_t ngeo;
	struct reach_fit fit;
	unsigned chosen[REACHFIT_GEO_MAX];
	size_t npoints;
	double *x;		/* [geometry][point]: predicted misses per I/O */
	double *data_share;	/* [geometry][point]: share of data DMAs that missed */
	uint64_t knee_window;	/* smallest window where half the data DMAs miss (0: none) */
};

/**
 * reachfit_run() - Which IOTLB geometry of reach_geo_candidates() best
 * explains the curve @p (points of one page size, pattern and transfer
 * size, queue depth 1), as y = a + b * (misses per I/O); b is the cost of
 * a miss when y is a latency, and 1 when y is a miss count from a trace.
 * @p:         the points (at least 3)
 * @n:         how many
 * @resamples: bootstrap resamples for the intervals (0: none)
 * @seed:      for the resampling
 * @out:       filled; free with reachfit_free()
 * @err:       why not
 * @len:       size of @err
 *
 * Return: 0; -EINVAL (fewer than 3 points, a point the model cannot
 * replay), -ENOMEM.
 */
int reachfit_run(const struct reachfit_point *p, size_t n, unsigned resamples, uint64_t seed,
		 struct reachfit_result *out, char *err, size_t len);

/**
 * reachfit_free() - Free what reachfit_run() allocated (idempotent).
 * @r: the result
 */
void reachfit_free(struct reachfit_result *r);

/**
 * reachfit_geo_name() - "512x8 lru", "1024 full", "1024 full reset".
 * @g:   the geometry
 * @buf: where
 * @len: size of @buf
 *
 * Return: @buf.
 */
const char *reachfit_geo_name(const struct iotlb_cfg *g, char *buf, size_t len);

/* host_reach_fit.csv: the header, and the row of one fitted curve. */
#define REACHFIT_COLS                                                                         \
	"source,engine,page_size_bytes,pattern,io_pages,points,iotlb_entries,iotlb_ways,"      \
	"iotlb_repl,a_ns,a_lo_ns,a_hi_ns,b_ns_per_miss,b_lo_ns,b_hi_ns,r2,resamples,"           \
	"best_share,ties,reach_bytes,knee_window_bytes"

/**
 * reachfit_row() - One host_reach_fit.csv row of @r.
 * @c:      the CSV
 * @source: "latency" or "qemu_trace"
 * @engine: "nvme" or "ptdma"
 * @p:      the points @r was fitted on (their first gives page size,
 *          pattern and transfer size)
 * @r:      the fit
 * @extra:  appended to the row (",value" of extra columns), or NULL
 */
void reachfit_row(struct csv *c, const char *source, const char *engine,
		  const struct reachfit_point *p, const struct reachfit_result *r, const char *extra);

/*
 * The columns of host_reach.csv that say how to replay a point on the
 * model (reach_model_create()/reach_model_run()).
 */
#define REACH_REPLAY_COLS                                                                   \
	"pattern,page_size_bytes,window_bytes,io_pages,qd,seed,warm_ios,ios,first_cmd,"        \
	"window_iova,sq_iova,cq_iova,prp_iova,src_iova,qsize,slots"

/**
 * reach_replay_parse() - A point and its layout back from a host_reach.csv
 * row.
 * @t:   the table
 * @r:   the row
 * @out: filled (y left NULL)
 * @qd:  the row's queue depth
 * @err: why not
 * @len: size of @err
 *
 * Return: 0, or -EINVAL naming the column that is missing or malformed.
 */
int reach_replay_parse(const struct csv_table *t, size_t r, struct reachfit_point *out,
		       unsigned *qd, char *err, size_t len);

#endif /* IOB_REACHFIT_H */
