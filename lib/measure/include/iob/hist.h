/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hist: a log-linear (HDR-style) histogram of 64-bit values, cycles
 * usually. 128 linear sub-buckets per power of two: any recorded value is
 * reported within 1/256 (0.4%) of itself, from 1 to 2^64, well inside the
 * 1% asked for. Exact count, sum, sum of squares, min and max are kept
 * beside the buckets, so mean and stddev are exact.
 *
 * No Debian package provides one for C: Debian 12 has HdrHistogram for
 * Java (libhdrhistogram-java) and Go (golang-github-codahale-hdrhistogram-dev)
 * only, so it is written here.
 */
#ifndef IOB_HIST_H
#define IOB_HIST_H

#include <stdint.h>

#define HIST_SUB_LG2	7			/* 128 sub-buckets per octave */
#define HIST_SUB	(1U << HIST_SUB_LG2)
#define HIST_BUCKETS	((64 - HIST_SUB_LG2 + 1) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t min, max;
	long double sum, sumsq;
	uint64_t bucket[HIST_BUCKETS];
};

struct hist_summary {
	uint64_t count;
	double mean, stddev;
	uint64_t min, max;
	double p50, p90, p99, p999;
};

/**
 * hist_init() - An empty histogram.
 * @h: zeroed, min set to UINT64_MAX
 */
void hist_init(struct hist *h);

/**
 * hist_index() - The bucket a value lands in.
 * @v: the value
 *
 * Return: @v itself below HIST_SUB; above, 128 linear buckets per power
 * of two: 0 .. HIST_BUCKETS - 1.
 */
static inline unsigned hist_index(uint64_t v)
{
	unsigned k, shift;

	if (v < HIST_SUB)
		return (unsigned)v;
	k = 63 - (unsigned)__builtin_clzll(v);
	shift = k - HIST_SUB_LG2;
	return (shift + 1) * HIST_SUB + (unsigned)((v >> shift) - HIST_SUB);
}

/**
 * hist_record() - Add one value: its bucket, count, sum, sum of squares,
 * min and max.
 * @h: the histogram
 * @v: the value
 */
static inline void hist_record(struct hist *h, uint64_t v)
{
	h->bucket[hist_index(v)]++;
	h->count++;
	h->sum += v;
	h->sumsq += (long double)v * v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

/**
 * hist_bucket_low() - The lowest value that lands in bucket @i.
 * @i: 0 .. HIST_BUCKETS - 1
 *
 * Return: the value.
 */
uint64_t hist_bucket_low(unsigned i);

/**
 * hist_bucket_high() - The highest value that lands in bucket @i.
 * @i: 0 .. HIST_BUCKETS - 1
 *
 * Return: the value (hist_bucket_low(@i + 1) - 1 below the last bucket).
 */
uint64_t hist_bucket_high(unsigned i);

/**
 * hist_merge() - Add @src to @dst, as if @dst had recorded @src's values
 * too.
 * @dst: the histogram added to
 * @src: the one added; an empty one changes nothing
 */
void hist_merge(struct hist *dst, const struct hist *src);

/**
 * hist_percentile() - The value at a quantile.
 * @h: the histogram
 * @q: the quantile, 0..1 (0: min, 1: max)
 *
 * Return: the smallest recorded value v such that at least q * count
 * values are <= v, reported as the middle of its bucket, clamped to
 * [min, max]; 0 when empty.
 */
double hist_percentile(const struct hist *h, double q);

/**
 * hist_mean() - The exact mean of the values recorded.
 * @h: the histogram
 *
 * Return: the mean; 0 when empty.
 */
double hist_mean(const struct hist *h);

/**
 * hist_stddev() - The exact sample standard deviation (n - 1).
 * @h: the histogram
 *
 * Return: the standard deviation; 0 for fewer than two values.
 */
double hist_stddev(const struct hist *h);

/**
 * hist_summarize() - Count, mean, stddev, min, max and the p50, p90, p99
 * and p99.9 percentiles, in one go.
 * @h: the histogram
 * @s: the summary; all zero for an empty histogram
 */
void hist_summarize(const struct hist *h, struct hist_summary *s);

#endif /* IOB_HIST_H */
