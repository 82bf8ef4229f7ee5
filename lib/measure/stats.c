// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Order statistics and the Mann-Whitney U distribution (stats.h).
 * References: Hollander, Wolfe and Chicken, "Nonparametric Statistical
 * Methods", the sign-test interval for a median and the Moses interval for
 * a shift; the count of arrangements with a given U is the coefficient of
 * a Gaussian binomial, computed here as a polynomial product.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <iob/alloc.h>
#include <iob/stats.h>

/* Above this na * nb the U distribution is taken as normal. */
#define STATS_EXACT_MAX 2500

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

static bool finite_all(const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return false;
	return true;
}

static double *sorted_copy(const double *v, size_t n)
{
	double *s = iob_malloc(n * sizeof(*s));

	if (!s)
		return NULL;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return s;
}

static double median_sorted(const double *s, size_t n)
{
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

double stats_median(const double *v, size_t n)
{
	double *s, m;

	if (!n || n > STATS_MAX_N || !(s = sorted_copy(v, n)))
		return NAN;
	m = median_sorted(s, n);
	iob_free(s);
	return m;
}

/* P(Bin(n, 1/2) <= k). */
static double binom_half_cdf(size_t n, size_t k)
{
	double term = exp(-(double)n * M_LN2), sum = 0;

	for (size_t i = 0; i <= k && i <= n; i++) {
		sum += term;
		term *= (double)(n - i) / (double)(i + 1);
	}
	return sum;
}

int stats_summarize(const double *v, size_t n, struct stats_summary *out)
{
	double *s;
	size_t k = 1;

	if (!n || n > STATS_MAX_N || !finite_all(v, n))
		return -EINVAL;
	s = sorted_copy(v, n);
	if (!s)
		return -ENOMEM;
	/* Largest k with coverage 1 - 2 P(B <= k - 1) >= 0.95. */
	while (k + 1 <= (n + 1) / 2 && 1 - 2 * binom_half_cdf(n, k) >= 0.95)
		k++;
	out->n = n;
	out->median = median_sorted(s, n);
	out->min = s[0];
	out->max = s[n - 1];
	out->ci_lo = s[k - 1];
	out->ci_hi = s[n - k];
	out->ci_level = n > 1 ? 1 - 2 * binom_half_cdf(n, k - 1) : 0;
	out->spread = out->median != 0 ? (out->max - out->min) / fabs(out->median) : 0;
	iob_free(s);
	return 0;
}

/*
 * Null distribution of U for samples of @na and @nb: count[u] is the number
 * of the C(na + nb, na) arrangements giving U = u, the coefficients of the
 * Gaussian binomial prod_{i=1..na} (1 - q^(nb+i)) / (1 - q^i).
 */
static double *u_counts(size_t na, size_t nb)
{
	size_t deg = na * nb;
	double *c = iob_calloc(deg + 1, sizeof(*c));

	if (!c)
		return NULL;
	c[0] = 1;
	for (size_t i = 1; i <= na; i++) {
		size_t up = nb + i;

		for (size_t u = deg; u >= up; u--)	/* times (1 - q^up) */
			c[u] -= c[u - up];
		for (size_t u = i; u <= deg; u++)	/* divided by (1 - q^i) */
			c[u] += c[u - i];
	}
	return c;
}

/* P(U <= u) under the null, from @counts (NULL: normal approximation). */
static double u_cdf(const double *counts, size_t na, size_t nb, double u)
{
	double mu = (double)(na * nb) / 2, sd = sqrt((double)(na * nb) * (double)(na + nb + 1) / 12);
	double total = 0, below = 0;

	if (!counts)
		return 0.5 * erfc(-(u + 0.5 - mu) / (sd * M_SQRT2));
	for (size_t k = 0; k <= na * nb; k++) {
		total += counts[k];
		if ((double)k <= u + 1e-9)
			below += counts[k];
	}
	return below / total;
}

/* U of @b against @a: pairs with b > a, ties counted half. */
static double u_stat(const double *a, size_t na, const double *b, size_t nb)
{
	double u = 0;

	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			u += b[j] > a[i] ? 1 : b[j] == a[i] ? 0.5 : 0;
	return u;
}

static bool sample_ok(const double *v, size_t n)
{
	return n && n <= STATS_MAX_N && finite_all(v, n);
}

/* Normal approximation with the tie correction. */
static double mw_normal_p(const double *a, size_t na, const double *b, size_t nb, double u)
{
	size_t n = na + nb;
	double *all = iob_malloc(n * sizeof(*all)), ties = 0, var, z;

	if (!all)
		return NAN;
	memcpy(all, a, na * sizeof(*all));
	memcpy(all + na, b, nb * sizeof(*all));
	qsort(all, n, sizeof(*all), cmp_double);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i; j < n && all[j] == all[i]; j++)
			;
		ties += pow((double)(j - i), 3) - (double)(j - i);
	}
	iob_free(all);
	var = (double)(na * nb) / 12 * ((double)(n + 1) - ties / ((double)n * (double)(n - 1)));
	if (var <= 0)
		return 1;
	z = (fabs(u - (double)(na * nb) / 2) - 0.5) / sqrt(var);
	return z <= 0 ? 1 : erfc(z / M_SQRT2);
}

int stats_mann_whitney(const double *a, size_t na, const double *b, size_t nb, double *p)
{
	double u, umin, *counts;

	if (!sample_ok(a, na) || !sample_ok(b, nb))
		return -EINVAL;
	u = u_stat(a, na, b, nb);
	umin = fmin(u, (double)(na * nb) - u);
	if (na * nb > STATS_EXACT_MAX) {
		*p = mw_normal_p(a, na, b, nb, u);
		return isnan(*p) ? -ENOMEM : 0;
	}
	counts = u_counts(na, nb);
	if (!counts)
		return -ENOMEM;
	*p = fmin(1, 2 * u_cdf(counts, na, nb, floor(umin + 1e-9)));
	iob_free(counts);
	return 0;
}

static bool positive_all(const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!(v[i] > 0))
			return false;
	return true;
}

int stats_ratio(const double *a, size_t na, const double *b, size_t nb, struct stats_ratio *out)
{
	size_t m = na * nb, k = 1;
	double *d, *counts = NULL;
	int ret;

	if (!sample_ok(a, na) || !sample_ok(b, nb) || !positive_all(a, na) || !positive_all(b, nb))
		return -EINVAL;
	ret = stats_mann_whitney(a, na, b, nb, &out->p);
	if (ret)
		return ret;
	d = iob_malloc(m * sizeof(*d));
	if (!d)
		return -ENOMEM;
	if (m <= STATS_EXACT_MAX && !(counts = u_counts(na, nb))) {
		iob_free(d);
		return -ENOMEM;
	}
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			d[i * nb + j] = log(b[j]) - log(a[i]);
	qsort(d, m, sizeof(*d), cmp_double);
	/* [d(k), d(m+1-k)] covers 1 - 2 P(U <= k - 1); largest k with >= 95%. */
	while (k + 1 <= (m + 1) / 2 && 1 - 2 * u_cdf(counts, na, nb, (double)k) >= 0.95)
		k++;
	out->ratio = stats_median(b, nb) / stats_median(a, na);
	out->ci_lo = exp(d[k - 1]);
	out->ci_hi = exp(d[m - k]);
	out->ci_level = m > 1 ? 1 - 2 * u_cdf(counts, na, nb, (double)(k - 1)) : 0;
	iob_free(counts);
	iob_free(d);
	return 0;
}
