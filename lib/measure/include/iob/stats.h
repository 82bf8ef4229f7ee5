/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stats: what repetitions of a benchmark say, without assuming a
 * distribution. Benchmark times are skewed and have outliers (a context
 * switch, a page fault), so the centre is the median, its 95% interval
 * comes from order statistics (the binomial argument: each repetition
 * falls below the true median with probability 1/2), and two runs are
 * compared with the Mann-Whitney U test and the distribution-free
 * interval for their ratio built from the same U distribution (Hodges and
 * Lehmann; Moses). docs/methodology.md says why and what small counts give.
 */
#ifndef IOB_STATS_H
#define IOB_STATS_H

#include <stddef.h>

/* Most values stats_* take (repetitions per configuration). */
#define STATS_MAX_N 1000

struct stats_summary {
	size_t n;
	double median;
	double ci_lo, ci_hi;	/* interval for the median */
	double ci_level;	/* its exact coverage: >= 0.95 when n >= 6, less below */
	double min, max;
	double spread;		/* (max - min) / |median|; 0 when the median is 0 */
};

/**
 * stats_median() - Median of @n values (the mean of the middle two for even @n).
 * @v: the values; not changed
 * @n: how many, 1..STATS_MAX_N
 *
 * Return: the median, NAN when @n is 0 or too large.
 */
double stats_median(const double *v, size_t n);

/**
 * stats_summarize() - Median, its 95% order-statistic interval, range and spread.
 * @v:   the values (one per repetition); not changed
 * @n:   how many, 1..STATS_MAX_N
 * @out: filled
 *
 * The interval is [x(k), x(n+1-k)] of the sorted values, with the largest k
 * whose coverage 1 - 2 P(Bin(n, 1/2) < k) is at least 95%; when even k = 1
 * (min..max) covers less (n < 6), it is min..max and @out->ci_level says
 * how much it covers (0.75 for 3, 0.875 for 4, 0.9375 for 5, 0 for 1).
 *
 * Return: 0, or -EINVAL when @n is 0 or above STATS_MAX_N or a value is not finite.
 */
int stats_summarize(const double *v, size_t n, struct stats_summary *out);

/**
 * stats_mann_whitney() - Two-sided Mann-Whitney U test of @a against @b.
 * @a, @na: first sample
 * @b, @nb: second sample
 * @p:      the two-sided p value
 *
 * Exact null distribution (ties counted half) for na * nb up to 2500,
 * normal approximation with tie correction above. The smallest p that few
 * repetitions can give: 0.1 for 3 against 3, 0.029 for 4 against 4.
 *
 * Return: 0, or -EINVAL when a sample is empty, too large or not finite.
 */
int stats_mann_whitney(const double *a, size_t na, const double *b, size_t nb, double *p);

struct stats_ratio {
	double ratio;		/* median(b) / median(a) */
	double ci_lo, ci_hi;	/* 95% interval of the ratio */
	double ci_level;	/* its coverage (below 0.95 for very few repetitions) */
	double p;		/* Mann-Whitney two-sided p value */
};

/**
 * stats_ratio() - How @b compares to @a: ratio of medians, its interval, p.
 * @a, @na: baseline sample, all values > 0
 * @b, @nb: new sample, all values > 0
 * @out:    filled
 *
 * The interval is the order-statistic interval of the na * nb pairwise
 * ratios b_j / a_i, cut at the ranks the U distribution gives, so it
 * agrees with the test: it excludes 1 exactly when p is small enough.
 *
 * Return: 0, or -EINVAL for an empty, too large, non-positive or
 * non-finite sample.
 */
int stats_ratio(const double *a, size_t na, const double *b, size_t nb, struct stats_ratio *out);

#endif /* IOB_STATS_H */
