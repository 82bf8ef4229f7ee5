// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "bench.h"
#include "util.h"

double bench_cyc_to_ns(double cyc)
{
	return cycles_to_ns(cyc, cycles_info());
}

double bench_p50_ns(const struct hist *h, double per)
{
	return bench_cyc_to_ns(hist_percentile(h, 0.5)) / per;
}

const char *bench_lat_fields(const struct hist *h, double per, char *buf, size_t len)
{
	struct hist_summary s;

	hist_summarize(h, &s);
	snprintf(buf, len, "%llu,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f",
		 (unsigned long long)s.count,
		 bench_cyc_to_ns(s.mean) / per, bench_cyc_to_ns(s.stddev) / per,
		 bench_cyc_to_ns((double)s.min) / per, bench_cyc_to_ns(s.p50) / per,
		 bench_cyc_to_ns(s.p90) / per, bench_cyc_to_ns(s.p99) / per,
		 bench_cyc_to_ns(s.p999) / per, bench_cyc_to_ns((double)s.max) / per);
	return buf;
}

int bench_pin(int cpu)
{
	cpu_set_t set;

	/*
	 * Default: the highest CPU we may run on. CPU 0 takes most interrupts
	 * (on the development VM it times 1.5 to 1.9 times slower for the
	 * same code), so the last one is the better default.
	 */
	if (cpu < 0 && !sched_getaffinity(0, sizeof(set), &set))
		for (int c = CPU_SETSIZE - 1; c >= 0; c--)
			if (CPU_ISSET(c, &set)) {
				cpu = c;
				break;
			}
	if (cpu < 0)
		cpu = sched_getcpu();
	if (cpu < 0)
		return -1;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -1;
	return cpu;
}

void bench_write_cdf(struct csv *c, const char *key, const struct hist *h, double per)
{
	uint64_t seen = 0;

	if (!c || !h->count)
		return;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		double mid;

		if (!h->bucket[i])
			continue;
		seen += h->bucket[i];
		mid = (double)hist_bucket_low(i) +
		      (double)(hist_bucket_high(i) - hist_bucket_low(i)) / 2;
		csv_row(c, "%s,%.3f,%.6f", key, bench_cyc_to_ns(mid) / per,
			(double)seen / (double)h->count);
	}
}

struct csv *bench_csv(struct bench_ctx *ctx, const char *name)
{
	struct csv *c;
	int ret;

	if (!ctx->outdir)
		return NULL;
	ret = csv_open(ctx->outdir, name, &ctx->env, &c);
	if (ret)
		run_error("%s/%s: %s", ctx->outdir, name, strerror(-ret));
	return c;
}

void bench_csv_close(struct csv *c)
{
	int ret;

	if (!c)
		return;
	ret = csv_close(c);
	if (ret)
		run_error("writing a CSV failed: %s", strerror(-ret));
}

void bench_progress(struct bench_ctx *ctx, double frac)
{
	if (ctx->progress)
		ctx->progress(ctx->progress_arg, frac);
}
