// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * stats: medians, the order-statistic interval (its stated coverage
 * checked by simulation), the Mann-Whitney p values textbooks tabulate,
 * and the ratio interval agreeing with the test.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <iob/stats.h>

#include "prng.h"

Test(stats, median_of_odd_and_even_counts)
{
	double odd[] = { 5, 1, 3 }, even[] = { 4, 1, 3, 2 };

	cr_assert_float_eq(stats_median(odd, 3), 3, 1e-12);
	cr_assert_float_eq(stats_median(even, 4), 2.5, 1e-12);
	cr_assert(isnan(stats_median(odd, 0)));
	cr_assert_float_eq(odd[0], 5, 0, "the input is not reordered");
}

Test(stats, few_repetitions_give_min_max_and_say_how_much_it_covers)
{
	double v3[] = { 30, 10, 20 }, v1[] = { 7 };
	struct stats_summary s;

	cr_assert_eq(stats_summarize(v3, 3, &s), 0);
	cr_assert_float_eq(s.median, 20, 1e-12);
	cr_assert_float_eq(s.ci_lo, 10, 1e-12);
	cr_assert_float_eq(s.ci_hi, 30, 1e-12);
	cr_assert_float_eq(s.ci_level, 0.75, 1e-12);
	cr_assert_float_eq(s.spread, 1.0, 1e-12);
	cr_assert_eq(stats_summarize(v1, 1, &s), 0);
	cr_assert_float_eq(s.ci_level, 0, 1e-12);
	cr_assert_float_eq(s.ci_lo, 7, 1e-12);
}

Test(stats, interval_ranks_for_ten_and_twenty)
{
	double v[20];
	struct stats_summary s;

	for (int i = 0; i < 20; i++)
		v[i] = 19 - i;	/* 0..19, reversed */
	/* n = 10: [x(2), x(9)], coverage 1 - 2 * 11/1024. */
	cr_assert_eq(stats_summarize(v + 10, 10, &s), 0);
	cr_assert_float_eq(s.ci_lo, 1, 1e-12);
	cr_assert_float_eq(s.ci_hi, 8, 1e-12);
	cr_assert_float_eq(s.ci_level, 1 - 22.0 / 1024, 1e-12);
	/* n = 20: [x(6), x(15)], coverage 0.9586. */
	cr_assert_eq(stats_summarize(v, 20, &s), 0);
	cr_assert_float_eq(s.ci_lo, 5, 1e-12);
	cr_assert_float_eq(s.ci_hi, 14, 1e-12);
	cr_assert(s.ci_level >= 0.95 && s.ci_level < 0.96, "level %f", s.ci_level);
}

Test(stats, rejects_empty_and_non_finite)
{
	double v[] = { 1, NAN };
	struct stats_summary s;
	double p;

	cr_assert_eq(stats_summarize(v, 0, &s), -EINVAL);
	cr_assert_eq(stats_summarize(v, 2, &s), -EINVAL);
	cr_assert_eq(stats_mann_whitney(v, 1, v, 2, &p), -EINVAL);
}

/* Exponential with median ln 2: the interval holds it as often as it says. */
Test(stats, interval_coverage_matches_its_level)
{
	struct prng r;
	double v[10];
	struct stats_summary s;
	int trials = 4000, hit = 0;

	prng_seed(&r, 42);
	for (int t = 0; t < trials; t++) {
		for (int i = 0; i < 10; i++)
			v[i] = -log(((double)(prng_next(&r) >> 11) + 0.5) / 9007199254740992.0);
		cr_assert_eq(stats_summarize(v, 10, &s), 0);
		hit += s.ci_lo <= M_LN2 && M_LN2 <= s.ci_hi;
	}
	cr_assert(fabs((double)hit / trials - s.ci_level) < 0.015, "coverage %.4f, stated %.4f",
		  (double)hit / trials, s.ci_level);
}

Test(stats, mann_whitney_exact_p_of_separated_samples)
{
	double a[] = { 1, 2, 3, 4, 5 }, b[] = { 6, 7, 8, 9, 10 };
	double p;

	/* Completely separated: p = 2 / C(na + nb, na). */
	cr_assert_eq(stats_mann_whitney(a, 3, b, 3, &p), 0);
	cr_assert_float_eq(p, 2.0 / 20, 1e-12);
	cr_assert_eq(stats_mann_whitney(a, 4, b, 4, &p), 0);
	cr_assert_float_eq(p, 2.0 / 70, 1e-12);
	cr_assert_eq(stats_mann_whitney(b, 5, a, 5, &p), 0);
	cr_assert_float_eq(p, 2.0 / 252, 1e-12);
}

Test(stats, mann_whitney_of_interleaved_samples_is_not_significant)
{
	double a[] = { 1, 3, 5, 7 }, b[] = { 2, 4, 6, 8 };
	double p;

	/*
	 * U = 10 of 16; under the null the 70 arrangements give U = 0..6 in
	 * 1+1+2+3+5+5+7 = 24 of them, so p = 2 * 24/70.
	 */
	cr_assert_eq(stats_mann_whitney(a, 4, b, 4, &p), 0);
	cr_assert_float_eq(p, 48.0 / 70, 1e-9);
}

Test(stats, exact_and_normal_p_agree_for_large_samples)
{
	struct prng r;
	double a[60], b[60], p_exact, p_normal;

	prng_seed(&r, 7);
	for (int i = 0; i < 60; i++) {
		a[i] = (double)prng_below(&r, 1000000);
		b[i] = (double)prng_below(&r, 1000000) + 150000;
	}
	cr_assert_eq(stats_mann_whitney(a, 40, b, 40, &p_exact), 0);	/* 1600: exact */
	cr_assert_eq(stats_mann_whitney(a, 60, b, 60, &p_normal), 0);	/* 3600: normal */
	cr_assert(p_exact > 0 && p_exact < 1 && p_normal > 0 && p_normal < 1);
	/* The 40-sample p by the normal formula, for comparison. */
	{
		double u = 0, mu = 800, sd = sqrt(1600.0 * 81 / 12), pn;

		for (int i = 0; i < 40; i++)
			for (int j = 0; j < 40; j++)
				u += b[j] > a[i];
		pn = erfc((fabs(u - mu) - 0.5) / sd / M_SQRT2);
		cr_assert(fabs(p_exact - pn) < 0.01 + 0.1 * pn, "exact %g normal %g", p_exact, pn);
	}
}

Test(stats, ratio_interval_excludes_one_exactly_when_significant)
{
	double a[] = { 100, 102, 98, 101, 99 }, b[] = { 110, 112, 108, 111, 109 };
	double c[] = { 99, 103, 97, 100, 102 };
	struct stats_ratio r;

	cr_assert_eq(stats_ratio(a, 5, b, 5, &r), 0);
	cr_assert_float_eq(r.ratio, 1.1, 1e-12);
	cr_assert(r.ci_lo > 1 && r.ci_hi > r.ratio && r.ci_lo < r.ratio);
	cr_assert(r.p < 0.05);
	cr_assert(r.ci_level >= 0.95);
	cr_assert_eq(stats_ratio(a, 5, c, 5, &r), 0);
	cr_assert(r.ci_lo < 1 && r.ci_hi > 1);
	cr_assert(r.p > 0.05);
	cr_assert_eq(stats_ratio(a, 0, c, 5, &r), -EINVAL);
	a[0] = 0;
	cr_assert_eq(stats_ratio(a, 5, c, 5, &r), -EINVAL, "ratios need positive values");
}
