/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * reach: the arithmetic of the device-side IOTLB reach probe (iob host
 * reach), shared with the model (iob micro reach) and the QEMU check.
 *
 *  - The pattern: which 4 KiB frame of a DMA window each data DMA of a
 *    point touches. Consecutive DMAs touch distinct pages of the window's
 *    mapping (distinct IOTLB entries): sequentially, with a stride, or at
 *    random, as pcie-bench (Neugebauer et al., SIGCOMM 2018) does with
 *    its FPGA.
 *  - The prediction: the translations a user-space NVMe driver's reads
 *    make an IOMMU perform (the submission queue entry fetched, the PRP
 *    list read, every data page written, the completion queue entry
 *    written, in that order; or a PTDMA engine's descriptor, source and
 *    destination), replayed on the AMD-Vi model (iommu.h) with a chosen
 *    IOTLB geometry: hits, misses, table reads, modeled time.
 *  - The fit: which of a list of IOTLB geometries best explains a measured
 *    curve (latency, or an exact miss count) as a + b * misses per I/O,
 *    with bootstrap intervals; b is the cost of a miss.
 *
 * Nothing here touches a device, prints or exits.
 */
#ifndef IOB_REACH_H
#define IOB_REACH_H

#include <stddef.h>
#include <stdint.h>

#include <iob/cost.h>
#include <iob/iotlb.h>

enum reach_pattern {
	REACH_SEQ,		/* page 0, 1, 2, ... of the window, wrapping */
	REACH_STRIDE,		/* a stride of about n/1.618 pages, coprime with n */
	REACH_RANDOM,		/* a uniformly random page (and frame) each time */
	REACH_PATTERN_NR
};

#define REACH_FRAME		4096ULL
#define REACH_IO_PAGES_MAX	512	/* one PRP list page */

struct reach_point {
	uint64_t window;	/* bytes the data DMAs spread over: 4 KiB multiple */
	uint64_t page_size;	/* the window's mapping: 4 KiB, 2 MiB or 1 GiB */
	enum reach_pattern pattern;
	unsigned io_pages;	/* 4 KiB data pages per I/O, 1..REACH_IO_PAGES_MAX */
	uint64_t seed;		/* for REACH_RANDOM */
};

/* The pattern's state; see reach_gen_init(). */
struct reach_gen {
	uint64_t k, rng, npages, frames, stride, page_size;
	enum reach_pattern pattern;
};

/* The engine whose DMAs a prediction replays. */
enum reach_engine {
	/*
	 * An NVMe read: the controller fetches the 64-byte submission queue
	 * entry, reads the PRP list (more than two pages), writes each data
	 * page, writes the 16-byte completion queue entry.
	 */
	REACH_ENGINE_NVME,
	/*
	 * AMD PTDMA: per page, the engine fetches a 32-byte descriptor from
	 * its ring, reads the source page, writes the destination page.
	 */
	REACH_ENGINE_PTDMA,
	REACH_ENGINE_NR
};

/* Where the driver's own memory sits for the device (the prediction's input). */
struct reach_layout {
	enum reach_engine engine;
	uint64_t window_iova;	/* aligned to the point's page size */
	uint64_t sq_iova;	/* NVMe I/O submission queue (PTDMA: descriptor ring) */
	uint64_t cq_iova;	/* its completion queue, 16-byte entries (NVMe) */
	unsigned qsize;		/* entries of each (PTDMA: ring descriptors) */
	uint64_t prp_iova;	/* PRP list pages, one 4 KiB page per command slot (NVMe) */
	unsigned slots;		/* command slots: the queue depth */
	uint64_t src_iova;	/* the source page every copy reads (PTDMA) */
	uint64_t first;		/* commands the queue took before the point's first I/O */
};

struct reach_pred {
	uint64_t ios;
	uint64_t translations, hits, misses;	/* every DMA of the timed I/Os */
	uint64_t data_translations, data_misses;	/* the data pages only */
	uint64_t levels_read;			/* page-table entries read on misses */
	double model_ns;			/* modeled translation time, summed */
};

/**
 * reach_pattern_name() - "seq", "stride" or "random".
 * @p: the pattern
 *
 * Return: a static string; "?" out of range.
 */
const char *reach_pattern_name(enum reach_pattern p);

/**
 * reach_pattern_parse() - The pattern a name stands for.
 * @name: "seq", "stride" or "random"
 *
 * Return: the pattern, or -EINVAL.
 */
int reach_pattern_parse(const char *name);

/**
 * reach_point_check() - Whether @pt describes a point the probe can run.
 * @pt:  the point
 * @err: why not
 * @len: size of @err
 *
 * Return: 0; -EINVAL for a window that is 0 or not a multiple of 4 KiB,
 * a page size other than 4 KiB, 2 MiB or 1 GiB, a pattern out of range, or
 * io_pages outside 1..REACH_IO_PAGES_MAX.
 */
int reach_point_check(const struct reach_point *pt, char *err, size_t len);

/**
 * reach_gen_init() - Start @pt's sequence of data frames.
 * @g:  the state
 * @pt: a point that passed reach_point_check()
 *
 * The window holds n = ceil(window / page_size) pages of the mapping and
 * f = min(window, page_size) / 4 KiB frames per page. DMA k goes to page
 * p(k) (seq: k mod n; stride: k * s mod n; random: uniform) and to frame
 * (k / n) mod f of it (random: uniform), so consecutive DMAs touch
 * distinct pages while the whole window is used over time.
 */
void reach_gen_init(struct reach_gen *g, const struct reach_point *pt);

/**
 * reach_gen_next() - The next data frame.
 * @g: the state
 *
 * Return: its byte offset in the window (a multiple of 4 KiB, below the
 * window rounded up to the page size).
 */
uint64_t reach_gen_next(struct reach_gen *g);

/**
 * reach_levels_for() - The page-table depth Linux's AMD v1 table reaches
 * for device addresses up to @max_iova (it starts at 3 levels and adds one
 * per 9 bits).
 * @max_iova: the highest address mapped
 *
 * Return: 3..6.
 */
unsigned reach_levels_for(uint64_t max_iova);

struct reach_model;

/**
 * reach_model_create() - The AMD-Vi model set up as the probe's device
 * sees it: the window mapped with the point's page size, the queues, PRP
 * list pages and source page (PTDMA) with 4 KiB pages, at @lay's
 * addresses.
 * @pt:  the point (window and page size are used)
 * @lay: the addresses; the window aligned to the page size, the rest to
 *       4 KiB, nothing overlapping (the CQ and PRP lists are ignored for
 *       PTDMA, the source page for NVMe)
 * @out: the model; reach_model_destroy() it
 *
 * Return: 0; -EINVAL for a bad point or layout (overlap, alignment, no
 * queue), -ENOMEM.
 */
int reach_model_create(const struct reach_point *pt, const struct reach_layout *lay,
		       struct reach_model **out);

/**
 * reach_model_run() - Replay @warm + @ios I/Os of the point on a fresh
 * IOMMU with IOTLB geometry @geo (empty caches, as after the invalidation
 * that mapping the window causes) and count the last @ios.
 * @m:    the model
 * @pt:   the point the model was made for (pattern, io_pages, seed)
 * @geo:  IOTLB and page-directory cache geometry
 * @cost: cost model for the modeled time (NULL: the current one)
 * @warm: I/Os replayed before counting
 * @ios:  I/Os counted
 * @out:  the counts
 *
 * Return: 0; -EINVAL (a bad geometry, @ios 0), -ENOMEM, or -EFAULT if a
 * translation faulted (the layout does not cover a DMA: a bug).
 */
int reach_model_run(struct reach_model *m, const struct reach_point *pt,
		    const struct iotlb_cfg *geo, const struct cost_model *cost, uint64_t warm,
		    uint64_t ios, struct reach_pred *out);

/**
 * reach_model_destroy() - Free the model (NULL: nothing to do).
 * @m: the model
 */
void reach_model_destroy(struct reach_model *m);

/**
 * reach_geo_candidates() - The IOTLB geometries a fit chooses from: LRU,
 * 16 to 8192 entries, 1 to 32 ways or fully associative, each with the
 * model's default page-directory cache; then QEMU's (iotlb_cfg_qemu()).
 * @out: filled, in order of entries then ways
 * @max: capacity of @out
 *
 * Return: the number of geometries (at most @max).
 */
size_t reach_geo_candidates(struct iotlb_cfg *out, size_t max);

struct reach_fit {
	size_t best;		/* index of the chosen geometry */
	double a, b;		/* y = a + b * x at the best geometry */
	double sse, r2;
	double a_lo, a_hi, b_lo, b_hi;	/* 95% percentile bootstrap intervals */
	unsigned resamples;	/* 0: y exact, no intervals (lo = hi) */
	unsigned *chosen;	/* per geometry: resamples that chose it (caller's array) */
	size_t ties;		/* geometries whose curve equals the best one's */
};

/**
 * reach_fit_select() - The geometry whose predicted curve best explains
 * the measured one, by least squares of y = a + b * x with b >= 0.
 * @x:         @ngeo rows of @npoints predictions (misses per I/O), row-major
 * @ngeo:      geometries
 * @npoints:   points, at least 3
 * @samples:   per point, the measured values (latency per I/O, ns; or one
 *             exact value, e.g. a miss count from a trace)
 * @nsamples:  per point, how many (at least 1)
 * @resamples: bootstrap resamples (each point's samples drawn with
 *             replacement, its median refitted); 0 for none
 * @seed:      for the resampling
 * @fit:       filled; @fit->chosen must point to @ngeo counters (or NULL)
 *
 * Each point's y is the median of its samples. Among geometries of equal
 * error the first wins (the smallest, given reach_geo_candidates()' order);
 * ties counts those whose predictions equal the winner's at every point:
 * the measurement cannot tell them apart.
 *
 * Return: 0; -EINVAL for fewer than 3 points, no geometry, or a point
 * without samples; -ENOMEM.
 */
int reach_fit_select(const double *x, size_t ngeo, size_t npoints, const double *const *samples,
		     const size_t *nsamples, unsigned resamples, uint64_t seed,
		     struct reach_fit *fit);

#endif /* IOB_REACH_H */
