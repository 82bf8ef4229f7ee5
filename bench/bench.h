/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every benchmark of the iob command shares: the run context (where
 * results go, the environment recorded with them), pinning, and turning a
 * histogram of timed regions into the suite's latency columns.
 *
 * Rules the benchmarks follow: warm up first; time regions between two
 * fenced TSC reads into preallocated histograms; subtract the measured
 * probe overhead; run baseline and tuned in the same process, alternating;
 * report percentiles and the ratio. A benchmark never asserts a time.
 */
#ifndef IOB_BENCH_BENCH_H
#define IOB_BENCH_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <iob/csv.h>
#include <iob/cycles.h>
#include <iob/hist.h>
#include <iob/results.h>

struct bench_ctx {
	struct results_env env;
	const char *outdir;	/* CSVs go here; NULL: none written */
	FILE *table;		/* human-readable table; NULL: none */
	uint64_t seed;
	int cpu;		/* pinned CPU, -1 if not pinned */
	double scale;		/* 1.0 normal; smaller for quick runs */
	unsigned repeat;	/* repetitions of each configuration (recorded) */
	/* Progress within the current family, 0..1. */
	void (*progress)(void *arg, double frac);
	void *progress_arg;
};

/**
 * bench_ctx_init() - Start a run: keep freed memory in the process, pin,
 * find the TSC, collect the environment recorded with the results.
 * @argc, @argv: the command line recorded (from the program name)
 * @seed:       recorded, and given to the families
 * @cpu:        CPU to pin to, -1 for the default (bench_pin())
 */
void bench_ctx_init(struct bench_ctx *ctx, int argc, char **argv, uint64_t seed, int cpu);
/* The "# tsc ..." line a table printed to @f starts with. */
void bench_print_header(const struct bench_ctx *ctx, FILE *f);
/* --cost FILE: load the cost model every IOMMU of this run uses (exit 2 on errors). */
void bench_load_cost(const char *path);

/* Latency columns of DESIGN.md, in ns. */
#define BENCH_LAT_COLS "samples,mean_ns,stddev_ns,min_ns,p50_ns,p90_ns,p99_ns,p999_ns,max_ns"

/*
 * bench_lat_fields() - The BENCH_LAT_COLS values of @h (cycles of regions
 * each holding @per operations), in ns per operation.
 */
const char *bench_lat_fields(const struct hist *h, double per, char *buf, size_t len);

/* Median of @h in ns per operation. */
double bench_p50_ns(const struct hist *h, double per);
double bench_cyc_to_ns(double cyc);

/* Record one timed region, probe overhead taken off (never below zero). */
static inline void bench_record(struct hist *h, uint64_t t0, uint64_t t1)
{
	double ov = cycles_info()->overhead_cyc;
	uint64_t d = t1 - t0;

	hist_record(h, d > ov ? d - (uint64_t)ov : 0);
}

/* Pin the calling thread to @cpu (-1: stay where we are, pin to it). Returns the CPU. */
int bench_pin(int cpu);

/*
 * bench_write_cdf() - Append the histogram of @h as CDF rows to @c, whose
 * header must start with the @key columns then "bucket_ns,cum_fraction".
 * Only non-empty buckets are written.
 */
void bench_write_cdf(struct csv *c, const char *key, const struct hist *h, double per);

/* Open @name in the context's output folder, if any (NULL otherwise). */
struct csv *bench_csv(struct bench_ctx *ctx, const char *name);
/* Close and report errors (exit 1 on failure: the run must not look complete). */
void bench_csv_close(struct csv *c);

void bench_progress(struct bench_ctx *ctx, double frac);

/*
 * A benchmark family: its options (settable as `--key value` on the command
 * line and as `key=value` in a matrix file), its CSV columns and its run.
 */
struct family_key {
	const char *name;
	const char *help;
};

struct family {
	const char *name;
	const char *summary;
	const struct family_key *keys;	/* NULL-terminated */
	size_t opts_size;
	void (*defaults)(void *opts);
	/* Return: 0, or -EINVAL with @err naming the problem. */
	int (*set)(void *opts, const char *key, const char *val, char *err, size_t errlen);
	/* Whole-configuration checks (options that depend on each other); may be NULL. */
	int (*check)(const void *opts, char *err, size_t errlen);
	/* Rough wall time of run() at scale 1.0, for the matrix ETA. */
	double (*estimate_s)(const void *opts);
	const char *csv_name, *csv_cols;	/* written once per run folder */
	/* The headline column repetitions are summarized on (repeat.h). */
	const char *figure;
	/* The columns that name a configuration: `iob compare` joins rows on them. */
	const char *key;
	const char *cdf_name, *cdf_cols;	/* a second CSV; may be NULL */
	const char *(*cdf_cols_fn)(void);	/* its header, when built at run time */
	int (*run)(struct bench_ctx *ctx, const void *opts, struct csv *csv,
		   struct csv *cdf);
};

extern const struct family family_pgtable, family_reach, family_cmdq, family_inval,
	family_dmamap, family_workload;
/* All families, NULL-terminated. */
extern const struct family *const families[];
const struct family *family_find(const char *name);

/* Option value helpers for family set() functions: 0 or -EINVAL with @err. */
int opt_u64(const char *val, uint64_t lo, uint64_t hi, uint64_t *out, char *err, size_t len);
int opt_size_list(const char *val, uint64_t *out, unsigned max, unsigned *n, bool pow2,
		  char *err, size_t len);
int opt_u64_list(const char *val, uint64_t lo, uint64_t hi, uint64_t *out, unsigned max,
		 unsigned *n, char *err, size_t len);
int opt_bool(const char *val, bool *out, char *err, size_t len);

/* Write a family's metadata line and header into its opened CSVs (either may be NULL). */
void family_csv_start(const struct family *f, struct csv *csv, struct csv *cdf);
/* Open a family's CSVs in the context's folder, metadata and header written. */
void family_csv_open(struct bench_ctx *ctx, const struct family *f, struct csv **csv,
		     struct csv **cdf);

#endif
