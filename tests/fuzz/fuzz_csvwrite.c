// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The CSV writer against its reader: a row of two fuzzed fields (the input
 * cut at its first 0xff byte) is either refused by csv_close() or read back
 * as exactly those two fields.
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iob/csv.h>

#include "fuzz.h"

static char dir[128];

int fuzz_csvwrite(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size), *a = s, *b = strchr(s, '\xff'), path[192], err[256];
	struct csv_table t;
	struct csv *c;
	int ret;

	if (!dir[0])
		snprintf(dir, sizeof(dir), "%s", fuzz_tmpdir("csv"));
	if (b)
		*b++ = '\0';
	else
		b = "";
	snprintf(path, sizeof(path), "%s/f.csv", dir);
	unlink(path);
	fuzz_check(!csv_open(dir, "f.csv", NULL, &c), "csv_open");
	csv_meta(c, "k", "%s", a);
	csv_header(c, "x,y");
	csv_row(c, "%s,%s", a, b);
	ret = csv_close(c);
	if (!ret) {
		fuzz_check(!csv_read(path, &t, err, sizeof(err)), "written, then unreadable: %s", err);
		fuzz_check(t.nrows == 1 && t.ncols == 2, "%zu rows of %zu columns back", t.nrows,
			   t.ncols);
		fuzz_check(!strcmp(t.rows[0][0], a) && !strcmp(t.rows[0][1], b),
			   "fields '%s','%s' back as '%s','%s'", a, b, t.rows[0][0], t.rows[0][1]);
		csv_table_free(&t);
	} else {
		fuzz_check(access(path, F_OK) != 0, "refused (%d), yet published", ret);
	}
	free(s);
	return 0;
}

FUZZ_MAIN(fuzz_csvwrite)
