/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A temporary file for a test, where the system keeps them ($TMPDIR or P_tmpdir). */
#ifndef IOB_TEST_TMPNAME_H
#define IOB_TEST_TMPNAME_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <criterion/criterion.h>

/* Create an empty file named @stem-XXXXXX there; its path in @buf. */
static inline void tmpname_file(char *buf, size_t len, const char *stem)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(buf, len, "%s/%s-XXXXXX", dir && *dir ? dir : P_tmpdir, stem);
	fd = mkstemp(buf);
	cr_assert_geq(fd, 0, "%s", buf);
	close(fd);
}

#endif
