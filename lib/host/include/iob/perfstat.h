/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * perfstat: the CSV that `perf stat -x,` writes (tools/perf/Documentation/
 * perf-stat.txt, "CSV format"): one line per event,
 *     <value>,<unit>,<event>,<run time ns>,<running %>[,<metric>,<metric unit>]
 * where value is "<not counted>" or "<not supported>" when there is none.
 * Lines starting with '#' and empty lines are skipped.
 */
#ifndef IOB_PERFSTAT_H
#define IOB_PERFSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct perfstat_row {
	char event[128];
	bool counted;		/* a value was read */
	bool supported;		/* false for "<not supported>" */
	uint64_t value;		/* as perf scaled it */
	double running_pct;	/* share of the time the event had a counter */
};

/**
 * perfstat_parse() - Parse perf stat's -x, output.
 * @text: the output, NUL-terminated
 * @rows: filled with up to @max rows
 * @max:  capacity
 * @n:    rows found
 * @err:  "line N: reason" on failure
 *
 * Return: 0; -EINVAL for a malformed line (too few fields, a value that is
 * neither a number nor a <not ...> marker, a percentage out of 0..100);
 * -ENOSPC when more than @max rows.
 */
int perfstat_parse(const char *text, struct perfstat_row *rows, size_t max, size_t *n,
		   char *err, size_t errlen);

#endif /* IOB_PERFSTAT_H */
