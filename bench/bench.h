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
/**
 * bench_print_header() - Print the "# tsc ..." line a table starts with.
 * @ctx: the run (its TSC, pinned CPU and counters)
 * @f:   where the table goes
 */
void bench_print_header(const struct bench_ctx *ctx, FILE *f);
/**
 * bench_load_cost() - --cost FILE: the cost model every IOMMU of this run uses.
 * @path: the cost file (docs/cost-model.md)
 *
 * Exits 2, naming the file and the problem, when it cannot be used.
 */
void bench_load_cost(const char *path);

/* Latency columns of DESIGN.md, in ns. */
#define BENCH_LAT_COLS "samples,mean_ns,stddev_ns,min_ns,p50_ns,p90_ns,p99_ns,p999_ns,max_ns"

/**
 * bench_lat_fields() - The BENCH_LAT_COLS values of a histogram, in ns per operation.
 * @h:   cycles of timed regions
 * @per: operations per region
 * @buf: where the comma-separated fields are written
 * @len: size of @buf
 *
 * Return: @buf.
 */
const char *bench_lat_fields(const struct hist *h, double per, char *buf, size_t len);

/**
 * bench_p50_ns() - Median of a histogram in ns per operation.
 * @h:   cycles of timed regions
 * @per: operations per region
 *
 * Return: the median in ns divided by @per.
 */
double bench_p50_ns(const struct hist *h, double per);
/**
 * bench_cyc_to_ns() - TSC cycles in ns, with this run's calibration.
 * @cyc: cycles
 *
 * Return: nanoseconds.
 */
double bench_cyc_to_ns(double cyc);

/* Record one timed region, probe overhead taken off (never below zero). */
static inline void bench_record(struct hist *h, uint64_t t0, uint64_t t1)
{
	double ov = cycles_info()->overhead_cyc;
	uint64_t d = t1 - t0;

	hist_record(h, d > ov ? d - (uint64_t)ov : 0);
}

/**
 * bench_pin() - Pin the calling thread to a CPU.
 * @cpu: the CPU; -1 pins to the one it runs on now
 *
 * Return: the CPU pinned to. Exits 2 when @cpu does not exist.
 */
int bench_pin(int cpu);

/**
 * bench_write_cdf() - Append a histogram as CDF rows.
 * @c:   CSV whose header starts with the @key columns then "bucket_ns,cum_fraction"
 * @key: the row's key values, comma-separated
 * @h:   cycles of timed regions
 * @per: operations per region
 *
 * Only non-empty buckets are written.
 */
void bench_write_cdf(struct csv *c, const char *key, const struct hist *h, double per);

/**
 * bench_csv() - Open a CSV in the context's output folder.
 * @ctx:  the run
 * @name: file name
 *
 * Return: the CSV, or NULL when the run writes no files.
 */
struct csv *bench_csv(struct bench_ctx *ctx, const char *name);
/**
 * bench_csv_close() - Close a CSV and report its errors.
 * @c: the CSV, or NULL
 *
 * Exits 1 on a write error: the run must not look complete.
 */
void bench_csv_close(struct csv *c);

/**
 * bench_progress() - Report progress within the current family.
 * @ctx:  the run; its progress callback, if any, is called
 * @frac: done so far, 0..1
 */
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
/**
 * family_find() - A benchmark family by name.
 * @name: "pgtable", "reach", ...
 *
 * Return: the family, or NULL if there is none of that name.
 */
const struct family *family_find(const char *name);

/**
 * opt_u64() - A family option's number (decimal, 0x hex, or a size like 4K).
 * @val: the value given
 * @lo:  smallest allowed
 * @hi:  largest allowed
 * @out: the number
 * @err: the problem, on error
 * @len: size of @err
 *
 * Return: 0, or -EINVAL with @err naming the problem.
 */
int opt_u64(const char *val, uint64_t lo, uint64_t hi, uint64_t *out, char *err, size_t len);
/**
 * opt_size_list() - A family option's comma-separated list of sizes.
 * @val:  the value given ("4K,2M")
 * @out:  the sizes in bytes
 * @max:  room in @out
 * @n:    how many were given
 * @pow2: each must be a power of two of at least 4K
 * @err:  the problem, on error
 * @len:  size of @err
 *
 * Return: 0, or -EINVAL (an empty list or item, a bad size, too many).
 */
int opt_size_list(const char *val, uint64_t *out, unsigned max, unsigned *n, bool pow2,
		  char *err, size_t len);
/**
 * opt_u64_list() - A family option's comma-separated list of numbers.
 * @val: the value given
 * @lo:  smallest allowed
 * @hi:  largest allowed
 * @out: the numbers
 * @max: room in @out
 * @n:   how many were given
 * @err: the problem, on error
 * @len: size of @err
 *
 * Return: 0, or -EINVAL (an empty list or item, a bad or out-of-range number, too many).
 */
int opt_u64_list(const char *val, uint64_t lo, uint64_t hi, uint64_t *out, unsigned max,
		 unsigned *n, char *err, size_t len);
/**
 * opt_bool() - A family option's yes/no (also 1/0, on/off, true/false).
 * @val: the value given
 * @out: the answer
 * @err: the problem, on error
 * @len: size of @err
 *
 * Return: 0, or -EINVAL when @val is none of those.
 */
int opt_bool(const char *val, bool *out, char *err, size_t len);

/**
 * family_csv_start() - Write a family's metadata lines and headers.
 * @f:   the family
 * @csv: its main CSV, opened, or NULL
 * @cdf: its second CSV, opened, or NULL
 */
void family_csv_start(const struct family *f, struct csv *csv, struct csv *cdf);
/**
 * family_csv_open() - Open a family's CSVs in the context's folder.
 * @ctx: the run
 * @f:   the family
 * @csv: its main CSV, metadata and header written (NULL when the run writes no files)
 * @cdf: its second CSV likewise, or NULL when the family has none
 */
void family_csv_open(struct bench_ctx *ctx, const struct family *f, struct csv **csv,
		     struct csv **cdf);

#endif
