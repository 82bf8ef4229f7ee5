// SPDX-License-Identifier: GPL-2.0-or-later
/* qtr_count() and qtr_count_marked(): QEMU's trace log, by windows and by markers. */
#include "qemu.h"

#include "fuzz.h"

int fuzz_qtr(const uint8_t *data, size_t size)
{
	static struct qtr_counts win[8];
	struct qtr_window w[3] = { { .t0_us = 0, .t1_us = 1000 }, { .t0_us = 500, .t1_us = 2000000 },
				   { .t0_us = 0, .t1_us = UINT64_MAX } };
	struct qtr_counts total;
	char err[256];
	size_t marks = 0;
	FILE *f;

	if (!size)
		return 0;
	f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	if (!qtr_count(f, w, 3, &total, err, sizeof(err)))
		for (int e = 0; e < QTR_EVENT_NR; e++)
			fuzz_check(w[2].c.ev[e] <= total.ev[e], "event %d: window %llu > total %llu",
				   e, (unsigned long long)w[2].c.ev[e],
				   (unsigned long long)total.ev[e]);
	rewind(f);
	if (!qtr_count_marked(f, "iob-mark", win, 8, &marks, err, sizeof(err)))
		fuzz_check(marks <= 9, "%zu marks for 8 windows", marks);
	fclose(f);
	return 0;
}

FUZZ_MAIN(fuzz_qtr)
