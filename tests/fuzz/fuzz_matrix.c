// SPDX-License-Identifier: GPL-2.0-or-later
/* matrix_parse(): `iob matrix` files, every configuration checked by its family. */
#include "matrix_file.h"

#include "fuzz.h"

int fuzz_matrix(const uint8_t *data, size_t size)
{
	static struct mfile m;
	char *s = fuzz_str(data, size), err[512];
	int ret = matrix_parse(&m, s, "fuzz", err, sizeof(err));

	fuzz_check(!ret || err[0], "error %d without a message", ret);
	fuzz_check(m.n <= MATRIX_LINES_MAX, "%u lines", m.n);
	for (unsigned i = 0; i < m.n && !ret; i++)
		fuzz_check(m.lines[i].text && m.lines[i].fam->estimate_s(m.lines[i].opts) >= 0,
			   "line %u", i);
	matrix_free(&m);
	free(s);
	return 0;
}

FUZZ_MAIN(fuzz_matrix)
