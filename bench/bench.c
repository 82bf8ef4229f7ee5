// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <string.h>

#include <iob/cost.h>

#include "bench.h"
#include "repeat.h"
#include "util.h"

void bench_ctx_init(struct bench_ctx *ctx, int argc, char **argv, uint64_t seed, int cpu)
{
	memset(ctx, 0, sizeof(*ctx));
	/*
	 * Memory the model frees stays with the process. By default glibc
	 * gives the heap's top back to the kernel past 128 KiB free, and
	 * serves blocks from 128 KiB up with mmap: the next allocation then
	 * page-faults, a host-process cost that no hypervisor's page
	 * allocator pays. The lazy flush queue, which frees page-table pages
	 * in bursts, was charged for it most (dmalayer, 1 MiB blk: 87k
	 * cycles per request with trimming, 34k without).
	 */
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	ctx->cpu = bench_pin(cpu);
	cycles_init(NULL);
	ctx->seed = seed;
	ctx->scale = 1.0;
	results_env_collect(&ctx->env, argc, argv, seed);
}

void bench_print_header(const struct bench_ctx *ctx, FILE *f)
{
	fprintf(f, "# tsc %llu kHz (%s), step %llu cycles, probe overhead %.1f cycles, cpu %d, "
		"perf %s\n",
		(unsigned long long)ctx->env.tsc_khz, ctx->env.tsc_source,
		(unsigned long long)cycles_info()->quantum_cyc, cycles_info()->overhead_cyc,
		ctx->cpu, ctx->env.counters);
}

void bench_load_cost(const char *path)
{
	struct cost_model m;
	char err[512];
	int ret;

	cost_defaults(&m);
	ret = cost_load(&m, path, err, sizeof(err));
	if (ret)
		usage_error("--cost: %s", err);
	cost_set_current(&m);
}

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

/* ---- family option helpers --------------------------------------------------- */

int opt_u64(const char *val, uint64_t lo, uint64_t hi, uint64_t *out, char *err, size_t len)
{
	uint64_t v;

	if (try_parse_u64(val, &v) && try_parse_size(val, &v)) {
		snprintf(err, len, "'%s' is not a number", val);
		return -EINVAL;
	}
	if (v < lo || v > hi) {
		snprintf(err, len, "%s is not in %llu..%llu", val, (unsigned long long)lo,
			 (unsigned long long)hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int list_each(const char *val, unsigned max, unsigned *n, char *err, size_t len,
		     int (*one)(const char *tok, unsigned i, void *arg, char *err, size_t len),
		     void *arg)
{
	char buf[512], *save = NULL, *t;

	if (strlen(val) >= sizeof(buf) || list_has_empty(val, ',')) {
		snprintf(err, len, "'%s' is too long, empty or has an empty item", val);
		return -EINVAL;
	}
	strcpy(buf, val);
	*n = 0;
	for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (*n == max) {
			snprintf(err, len, "at most %u values", max);
			return -EINVAL;
		}
		if (one(t, *n, arg, err, len))
			return -EINVAL;
		(*n)++;
	}
	if (!*n) {
		snprintf(err, len, "empty list");
		return -EINVAL;
	}
	return 0;
}

struct size_arg {
	uint64_t *out;
	bool pow2;
};

static int one_size(const char *tok, unsigned i, void *arg, char *err, size_t len)
{
	struct size_arg *a = arg;
	uint64_t v;

	if (try_parse_size(tok, &v) || !v) {
		snprintf(err, len, "'%s' is not a size (4K, 2M, ...)", tok);
		return -EINVAL;
	}
	if (a->pow2 && (v < 4096 || (v & (v - 1)))) {
		snprintf(err, len, "'%s' is not a power of two of at least 4K", tok);
		return -EINVAL;
	}
	a->out[i] = v;
	return 0;
}

int opt_size_list(const char *val, uint64_t *out, unsigned max, unsigned *n, bool pow2,
		  char *err, size_t len)
{
	struct size_arg a = { out, pow2 };

	return list_each(val, max, n, err, len, one_size, &a);
}

struct u64_arg {
	uint64_t *out, lo, hi;
};

static int one_u64(const char *tok, unsigned i, void *arg, char *err, size_t len)
{
	struct u64_arg *a = arg;

	return opt_u64(tok, a->lo, a->hi, &a->out[i], err, len);
}

int opt_u64_list(const char *val, uint64_t lo, uint64_t hi, uint64_t *out, unsigned max,
		 unsigned *n, char *err, size_t len)
{
	struct u64_arg a = { out, lo, hi };

	return list_each(val, max, n, err, len, one_u64, &a);
}

int opt_bool(const char *val, bool *out, char *err, size_t len)
{
	if (!strcmp(val, "1") || !strcmp(val, "yes") || !strcmp(val, "on") || !strcmp(val, "true"))
		*out = true;
	else if (!strcmp(val, "0") || !strcmp(val, "no") || !strcmp(val, "off") ||
		 !strcmp(val, "false"))
		*out = false;
	else {
		snprintf(err, len, "'%s' is not yes or no", val);
		return -EINVAL;
	}
	return 0;
}

const struct family *const families[] = {
	&family_pgtable, &family_reach, &family_cmdq, &family_inval, &family_dmamap,
	&family_workload, NULL,
};

const struct family *family_find(const char *name)
{
	for (size_t i = 0; families[i]; i++)
		if (!strcmp(families[i]->name, name))
			return families[i];
	return NULL;
}

void family_csv_start(const struct family *f, struct csv *csv, struct csv *cdf)
{
	if (csv) {
		csv_meta(csv, "family", "%s", f->name);
		csv_meta(csv, "key", "%s", f->key);
		csv_header(csv, rep_header(f));
	}
	if (cdf) {
		csv_meta(cdf, "family", "%s", f->name);
		csv_header(cdf, f->cdf_cols_fn ? f->cdf_cols_fn() : f->cdf_cols);
	}
}

void family_csv_open(struct bench_ctx *ctx, const struct family *f, struct csv **csv,
		     struct csv **cdf)
{
	*csv = bench_csv(ctx, f->csv_name);
	*cdf = f->cdf_name ? bench_csv(ctx, f->cdf_name) : NULL;
	family_csv_start(f, *csv, *cdf);
}
