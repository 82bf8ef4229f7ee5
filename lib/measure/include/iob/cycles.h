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

/**
 * cycles_now() - Read the TSC after every earlier instruction has
 * completed (lfence; rdtsc): starts a timed region.
 *
 * Return: the TSC.
 */
static inline uint64_t cycles_now(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence\n\trdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

/**
 * cycles_end() - Read the TSC to end a timed region: the same read, whose
 * lfence waits for the region's instructions. No fence after it: the
 * caller only stores the value, and a third fence would add its cost
 * (about 7 cycles here) to every region.
 *
 * Return: the TSC.
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
 * @info: if not NULL, a copy of what was found (cycles_info() keeps it)
 *
 * The overhead is the mean of many empty regions (the slowest 1% left
 * out), not their median: some virtual machines advance the TSC in steps
 * (21 cycles on the development VM), and only the mean of a dithered
 * quantity estimates it without bias. Reads
 * /sys/devices/system/cpu/cpu0/tsc_freq_khz when the kernel has it,
 * otherwise calibrates against CLOCK_MONOTONIC_RAW over about 100 ms.
 * Not thread-safe: call once, before timing.
 *
 * Return: 0, or -ENOTSUP when the CPU has no invariant TSC (the info is
 * still filled; times are then suspect and runs say so).
 */
int cycles_init(struct cycles_info *info);

/**
 * cycles_info() - What cycles_init() found.
 *
 * Return: the values, zeroes (tsc_source NULL) before it ran.
 */
const struct cycles_info *cycles_info(void);

/**
 * cycles_to_ns() - Convert TSC cycles to nanoseconds.
 * @cyc: cycles
 * @ci:  the frequency (cycles_info())
 *
 * Return: @cyc * 10^6 / tsc_khz; 0 when the frequency is unknown.
 */
static inline double cycles_to_ns(double cyc, const struct cycles_info *ci)
{
	return ci->tsc_khz ? cyc * 1e6 / (double)ci->tsc_khz : 0;
}

#endif /* IOB_CYCLES_H */
