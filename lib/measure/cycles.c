// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <iob/cycles.h>

static struct cycles_info found;

static uint64_t read_sysfs_khz(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/cpu0/tsc_freq_khz", "r");
	unsigned long long v = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

static bool cpuinfo_has(const char *flag)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[8192];
	bool yes = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *p;

		if (strncmp(line, "flags", 5))
			continue;
		for (p = strstr(line, flag); p; p = strstr(p + 1, flag)) {
			size_t n = strlen(flag);

			if ((p == line || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n')) {
				yes = true;
				break;
			}
		}
		break;
	}
	fclose(f);
	return yes;
}

static uint64_t ns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Three 30 ms windows, the median taken: a preemption inside one window
 * moves both clocks together, so each window is good to well under 0.1%.
 */
static uint64_t calibrate_khz(void)
{
	uint64_t khz[3];

	for (int i = 0; i < 3; i++) {
		uint64_t n0 = ns_now(), c0 = cycles_now(), n1, c1;

		do {
			n1 = ns_now();
		} while (n1 - n0 < 30000000ULL);
		c1 = cycles_now();
		khz[i] = (uint64_t)((double)(c1 - c0) * 1e6 / (double)(n1 - n0) + 0.5);
	}
	for (int i = 0; i < 2; i++)
		for (int j = i + 1; j < 3; j++)
			if (khz[j] < khz[i]) {
				uint64_t t = khz[i];

				khz[i] = khz[j];
				khz[j] = t;
			}
	return khz[1];
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int cycles_init(struct cycles_info *info)
{
	enum { N = 20001 };
	static uint64_t d[N];

	memset(&found, 0, sizeof(found));
	found.invariant = cpuinfo_has("constant_tsc") && cpuinfo_has("nonstop_tsc");
	found.tsc_khz = read_sysfs_khz();
	if (found.tsc_khz) {
		found.tsc_source = "sysfs";
	} else {
		found.tsc_khz = calibrate_khz();
		found.tsc_source = "calibrated";
	}

	/* Warm the path, then time empty regions exactly as callers time work. */
	for (int i = 0; i < 1000; i++)
		(void)(cycles_end() - cycles_now());
	for (int i = 0; i < N; i++) {
		uint64_t t0 = cycles_now();
		uint64_t t1 = cycles_end();

		d[i] = t1 - t0;
	}
	qsort(d, N, sizeof(d[0]), cmp_u64);
	{
		double sum = 0;
		int n = 0;

		/* Drop the top 1%: interrupts, not probe cost. */
		for (int i = 0; i < N - N / 100; i++, n++)
			sum += (double)d[i];
		found.overhead_cyc = sum / n;
	}
	found.overhead_min_cyc = (double)d[0];
	found.quantum_cyc = 0;
	for (int i = 0; i < N; i++)
		if (d[i]) {
			found.quantum_cyc = d[i];
			break;
		}
	if (info)
		*info = found;
	return found.invariant ? 0 : -ENOTSUP;
}

const struct cycles_info *cycles_info(void)
{
	return &found;
}
