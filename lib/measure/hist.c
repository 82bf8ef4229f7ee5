// SPDX-License-Identifier: GPL-2.0-or-later
#include <math.h>
#include <string.h>

#include <iob/hist.h>

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

uint64_t hist_bucket_low(unsigned i)
{
	unsigned shift;

	if (i < HIST_SUB)
		return i;
	shift = i / HIST_SUB - 1;
	return ((uint64_t)(i % HIST_SUB) + HIST_SUB) << shift;
}

uint64_t hist_bucket_high(unsigned i)
{
	unsigned shift;

	if (i < HIST_SUB)
		return i;
	shift = i / HIST_SUB - 1;
	return hist_bucket_low(i) + ((1ULL << shift) - 1);
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	if (!src->count)
		return;
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	dst->sum += src->sum;
	dst->sumsq += src->sumsq;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

double hist_percentile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (!h->count)
		return 0;
	if (q <= 0)
		return (double)h->min;
	if (q >= 1)
		return (double)h->max;
	rank = (uint64_t)ceill((long double)q * h->count);
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			double lo = (double)hist_bucket_low(i);
			double hi = (double)hist_bucket_high(i);
			double v = lo + (hi - lo) / 2;

			if (v < (double)h->min)
				v = (double)h->min;
			if (v > (double)h->max)
				v = (double)h->max;
			return v;
		}
	}
	return (double)h->max;
}

double hist_mean(const struct hist *h)
{
	return h->count ? (double)(h->sum / h->count) : 0;
}

double hist_stddev(const struct hist *h)
{
	long double mean, var;

	if (h->count < 2)
		return 0;
	mean = h->sum / h->count;
	var = (h->sumsq - h->count * mean * mean) / (h->count - 1);
	return var > 0 ? (double)sqrtl(var) : 0;
}

void hist_summarize(const struct hist *h, struct hist_summary *s)
{
	s->count = h->count;
	s->mean = hist_mean(h);
	s->stddev = hist_stddev(h);
	s->min = h->count ? h->min : 0;
	s->max = h->max;
	s->p50 = hist_percentile(h, 0.50);
	s->p90 = hist_percentile(h, 0.90);
	s->p99 = hist_percentile(h, 0.99);
	s->p999 = hist_percentile(h, 0.999);
}
