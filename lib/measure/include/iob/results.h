/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * results: run folders and CSV files in the suite's format
 * (docs/csv-schema.md).
 *
 *  - A run folder is built as <root>/.tmp-<label>-XXXXXX and renamed to
 *    <root>/<date>_<host>_<cpu>_<label> only when complete; a crashed run
 *    leaves only a hidden temporary folder, never one that looks done.
 *  - A CSV file is written as NAME.tmp and renamed on csv_close(): a file
 *    named *.csv is always whole.
 *  - Every CSV starts with "# key=value" lines, then one header line, then
 *    rows. Units are in column names.
 */
#ifndef IOB_RESULTS_H
#define IOB_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#define RESULTS_SCHEMA_VERSION 1

/* What every CSV and meta.json of a run records about where it ran. */
struct results_env {
	char git_commit[64];
	char host[64];
	char cpu[128];
	char kernel[160];
	char counters[160];	/* perf availability, said once */
	char command[1024];
	uint64_t tsc_khz;
	const char *tsc_source;
	double probe_overhead_cyc;
	uint64_t seed;
	char date[32];		/* UTC, ISO 8601 */
};

/* Fill @e from the machine; @argv is the command line recorded. */
void results_env_collect(struct results_env *e, int argc, char **argv, uint64_t seed);

struct rundir;

/**
 * rundir_create() - Start a run folder under @root (created if missing).
 * @label: [A-Za-z0-9._-]+, at most 64 characters
 * Return: 0, -EINVAL for a bad label, or -errno.
 */
int rundir_create(const char *root, const char *label,
		  const struct results_env *env, struct rundir **out);
/* Where files go while the run is in progress. */
const char *rundir_path(const struct rundir *rd);
/* The name the folder will have (valid before commit). */
const char *rundir_final_path(const struct rundir *rd);
/**
 * rundir_commit() - Rename the finished folder to its final name (a
 * numeric suffix is added if that name exists) and free @rd.
 * Return: 0 or -errno; the final path, made absolute, is in @final.
 */
int rundir_commit(struct rundir *rd, char *final, size_t len);
/* rundir_abort() - Remove the temporary folder and free @rd. */
void rundir_abort(struct rundir *rd);
/*
 * rundir_release() - Free @rd and leave its folder as it is, under the
 * temporary name (a failed run kept for its logs: it never looks done).
 */
void rundir_release(struct rundir *rd);

struct csv;

/**
 * csv_open() - Start @dir/@name (written as @name.tmp until csv_close()).
 * The environment's metadata lines are written first.
 * Return: 0 or -errno.
 */
int csv_open(const char *dir, const char *name, const struct results_env *env,
	     struct csv **out);
/* Another "# key=value" line; only before csv_header(). */
void csv_meta(struct csv *c, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The header: comma-separated column names. */
void csv_header(struct csv *c, const char *cols);
/* One row, formatted by the caller (fields comma-separated, no newline). */
void csv_row(struct csv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* csv_close() - Flush, check for errors, rename into place. Return: 0 or -errno. */
int csv_close(struct csv *c);
/* Drop a CSV without publishing it. */
void csv_discard(struct csv *c);

/* ---- reading back ----------------------------------------------------- */

struct csv_table {
	size_t nmeta;
	char **meta_key, **meta_val;
	size_t ncols;
	char **cols;
	size_t nrows;
	char ***rows;		/* rows[r][c] */
};

/**
 * csv_read() - Parse a file in this format.
 * @err: "line N: reason" on failure
 * Return: 0, -EINVAL (malformed: no header, wrong field count, metadata
 * after the header), or -errno.
 */
int csv_read(const char *path, struct csv_table *t, char *err, size_t errlen);
void csv_table_free(struct csv_table *t);
/* Column index by name, or -1. */
int csv_col(const struct csv_table *t, const char *name);
/* Metadata value by key, or NULL. */
const char *csv_meta_get(const struct csv_table *t, const char *key);

#endif /* IOB_RESULTS_H */
