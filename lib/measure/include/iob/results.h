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

/**
 * results_tool_version() - This build's version: `git describe` of its source.
 *
 * Return: a static string ("unknown" for a tarball without .git).
 */
const char *results_tool_version(void);

/* What else about the host decides whether two runs compare (meta.json). */
struct results_host {
	char governor[160];	/* cpu0's cpufreq governor, or "unavailable: ..." */
	char boost[160];		/* "on", "off", or "unavailable: ..." */
	char smt[160];		/* "on", "off", "notsupported", or "unavailable: ..." */
	long ncpus;		/* online CPUs */
	char iommu_cmdline[512];	/* the kernel command line's IOMMU words, space-separated */
};

/**
 * results_host_collect() - Fill @h from /sys and /proc.
 * @h: filled whole; a fact the host does not expose says "unavailable: REASON"
 */
void results_host_collect(struct results_host *h);

/**
 * results_loadavg() - The one-minute load average (/proc/loadavg).
 *
 * Return: the load average, or -1 when it cannot be read.
 */
double results_loadavg(void);

/**
 * results_iommu_words() - The IOMMU-related words of a kernel command line.
 * @cmdline: the command line (as /proc/cmdline holds it)
 * @out:     the words containing "iommu" or starting with "swiotlb", space-separated
 * @len:     size of @out
 */
void results_iommu_words(const char *cmdline, char *out, size_t len);

#endif /* IOB_RESULTS_H */
