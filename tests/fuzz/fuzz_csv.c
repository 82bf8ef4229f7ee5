// SPDX-License-Identifier: GPL-2.0-or-later
/* csv_parse(): the suite's own CSV files, as `iob plot` and `iob compare` read them. */
#include <iob/csv.h>

#include "fuzz.h"

int fuzz_csv(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size), err[256];
	struct csv_table t;

	if (!csv_parse(s, &t, err, sizeof(err))) {
		fuzz_check(t.ncols > 0, "no columns");
		for (size_t c = 0; c < t.ncols; c++)
			fuzz_check(csv_col(&t, t.cols[c]) >= 0 && (size_t)csv_col(&t, t.cols[c]) <= c,
				   "column %zu not found", c);
		for (size_t r = 0; r < t.nrows; r++)
			for (size_t c = 0; c < t.ncols; c++)
				fuzz_check(t.rows[r][c] != NULL, "row %zu col %zu", r, c);
		for (size_t k = 0; k < t.nmeta; k++)
			fuzz_check(csv_meta_get(&t, t.meta_key[k]) != NULL, "meta %zu", k);
		csv_table_free(&t);
	}
	free(s);
	return 0;
}

FUZZ_MAIN(fuzz_csv)
