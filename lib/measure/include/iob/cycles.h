/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cycles: the time base. Fenced RDTSC on an invariant TSC: `lfence; rdtsc`
 * at both ends, so that the region's instructions neither start before the
 * first read nor retire after the second. The probe's own cost (an empty
 * region) is measured by cycles_init() and subtracted by the callers that
 * report per-region times.
 */
#ifndef IOB_CYCLES_H
#define IOB_CYCLES_H

#include <stdbool.h>
#include <stdint.h>

static inline uint64_t cycles_now(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence\n\trdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

/*
 * The same read ends a region: the lfence waits for the region's
 * instructions. No fence after it: the caller only stores the value, and
 * a third fence would add its cost (about 7 cycles here) to every region.
 */
static inline uint64_t cycles_end(void)
{
	return cycles_now();
}

struct cycles_info {
	uint64_t tsc_khz;		/* TSC ticks per millisecond */
	const char *tsc_source;		/* "sysfs", "cpuinfo" or "calibrated" */
	bool invariant;			/* constant_tsc and nonstop_tsc */
	double overhead_cyc;		/* mean cost of an empty timed region */
	double overhead_min_cyc;
	uint64_t quantum_cyc;		/* smallest step the TSC was seen to take */
};

/**
 * cycles_init() - Find the TSC frequency and measure the probe overhead.
 * The overhead is the mean of many empty regions, not their median: some
 * virtual machines advance the TSC in steps (21 cycles on the development
 * VM), and only the mean of a dithered quantity estimates it without bias.
 * Reads /sys/devices/system/cpu/cpu0/tsc_freq_khz when the kernel has it,
 * otherwise calibrates against CLOCK_MONOTONIC_RAW over about 100 ms.
 * Return: 0, or -ENOTSUP when the CPU has no invariant TSC (the info is
 * still filled; times are then suspect and runs say so).
 */
int cycles_init(struct cycles_info *info);

/* The values cycles_init() found (zeroes before it ran). */
const struct cycles_info *cycles_info(void);

static inline double cycles_to_ns(double cyc, const struct cycles_info *ci)
{
	return ci->tsc_khz ? cyc * 1e6 / (double)ci->tsc_khz : 0;
}

#endif /* IOB_CYCLES_H */
