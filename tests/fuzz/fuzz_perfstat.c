// SPDX-License-Identifier: GPL-2.0-or-later
/* perfstat_parse(): perf stat -x, output, as iob host trace reads it. */
#include <iob/perfstat.h>

#include "fuzz.h"

int fuzz_perfstat(const uint8_t *data, size_t size)
{
	static struct perfstat_row rows[16];
	char *s = fuzz_str(data, size), err[256];
	size_t n = 0;

	if (!perfstat_parse(s, rows, 16, &n, err, sizeof(err))) {
		fuzz_check(n <= 16, "%zu rows", n);
		for (size_t i = 0; i < n; i++)
			fuzz_check(rows[i].running_pct >= 0 && rows[i].running_pct <= 100,
				   "running %g%%", rows[i].running_pct);
	}
	free(s);
	return 0;
}

FUZZ_MAIN(fuzz_perfstat)
