/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The matrix file format of `iob matrix` (docs/methodology.md): one
 * configuration per line, FAMILY [key=value ...], a value listing
 * alternatives a|b|c; '#' starts a comment.
 */
#ifndef IOB_BENCH_MATRIX_FILE_H
#define IOB_BENCH_MATRIX_FILE_H

#include <stddef.h>

#include "bench.h"

#define MATRIX_LINES_MAX 1024

struct mline {
	const struct family *fam;
	void *opts;
	char *text;
	unsigned lineno;
	double est_raw, est_s, took_s;	/* built-in estimate, times the measured rate, taken */
};

struct mfile {
	struct mline lines[MATRIX_LINES_MAX];
	unsigned n;
	const char *name;
};

/**
 * matrix_parse() - Parse a matrix file, every combination checked by its family.
 * @m:      filled; free with matrix_free() whatever the result
 * @text:   the file's text
 * @name:   the file's name, for messages
 * @err:    "NAME:LINE:COLUMN: reason" on error
 * @errlen: size of @err
 * Return: 0; -EINVAL (a malformed line, an unknown family or key, a bad
 * value, no configuration); -E2BIG (a line too long, too many keys,
 * alternatives or configurations); -ENOMEM.
 */
int matrix_parse(struct mfile *m, const char *text, const char *name, char *err, size_t errlen);

/**
 * matrix_free() - Free the options and texts matrix_parse() made; @m is empty after.
 * @m: the matrix
 */
void matrix_free(struct mfile *m);

#endif
