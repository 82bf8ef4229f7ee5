/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * results: what a run records about where and how it ran, the metadata
 * that heads every CSV file (csv.h) and every run folder's meta.json
 * (docs/csv-schema.md). Run folders are rundir.h, the files in them csv.h.
 */
#ifndef IOB_RESULTS_H
#define IOB_RESULTS_H

#include <stdint.h>

/* The results format's version, written as "# schema_version=N". */
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

/**
 * results_env_collect() - Fill @e from the machine and the command line.
 * @e:    filled whole (zeroed first)
 * @argc: number of words in @argv
 * @argv: the command line recorded, joined by spaces (truncated to fit)
 * @seed: the run's seed
 *
 * Host name, CPU model (/proc/cpuinfo), kernel (uname), perf availability
 * (perfctr_probe()), the TSC frequency and probe overhead found by
 * cycles_init() (zero, and tsc_source "none", if it has not run), the git
 * commit the library was built from and the time now. A host, CPU or
 * kernel that cannot be found reads "unknown". Values are single-line:
 * control characters become spaces.
 */
void results_env_collect(struct results_env *e, int argc, char **argv, uint64_t seed);

#endif /* IOB_RESULTS_H */
