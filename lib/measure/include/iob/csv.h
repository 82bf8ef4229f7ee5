/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * csv: files in the suite's CSV format (docs/csv-schema.md), written and
 * read back.
 *
 *  - Every file starts with "# key=value" lines, then one header line of
 *    comma-separated column names, then rows. Units are in column names.
 *  - A file is written as NAME.tmp and renamed by csv_close(): a file
 *    named *.csv is always whole.
 *  - csv_meta(), csv_header() and csv_row() return nothing: the first
 *    error sticks to the file and csv_close() returns it (and publishes
 *    nothing), so a writer checks once, at the end.
 */
#ifndef IOB_CSV_H
#define IOB_CSV_H

#include <stddef.h>

#include <iob/results.h>

struct csv;

/**
 * csv_open() - Start writing @dir/@name (as @name.tmp until csv_close()).
 * @dir:  an existing folder (a run folder's rundir_path(), usually)
 * @name: the file name, "family.csv"
 * @env:  if not NULL, its metadata lines are written first
 *        (schema_version, date, git_commit, host, cpu, tsc_khz,
 *        tsc_source, probe_overhead_cyc, kernel, counters, command, seed)
 * @out:  the open file; untouched on error
 *
 * Return: 0, -ENOMEM, or -errno of fopen(3) (-ENOENT: no such folder,
 * -EACCES, ...).
 */
int csv_open(const char *dir, const char *name, const struct results_env *env,
	     struct csv **out);

/**
 * csv_meta() - Write a "# @key=value" line, the value formatted from @fmt.
 * @c:   the file
 * @key: the key, without '=' or a newline
 * @fmt: printf format of the value; control characters in the result
 *       become spaces (values are single-line), and it is cut at 2047
 *       bytes
 *
 * Only before csv_header(): after it the file fails with -EINVAL. A write
 * error fails it with -EIO.
 */
void csv_meta(struct csv *c, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * csv_header() - Write the header line.
 * @c:    the file
 * @cols: comma-separated column names; their number is what every row
 *        must have
 *
 * Once per file: a second call fails the file with -EINVAL. A write error
 * fails it with -EIO.
 */
void csv_header(struct csv *c, const char *cols);

/**
 * csv_row() - Write one row, formatted by the caller.
 * @c:   the file
 * @fmt: printf format of the whole row: fields separated by commas, no
 *       newline; no field may hold a double quote or a control character, nor
 *       start the row with '#' (the format has no quoting: csv_read() could
 *       not give such a row back, so the file fails with -EINVAL)
 *
 * Fails the file with -EINVAL before csv_header() or when the row's
 * field count differs from the header's (a bug in the writer: it is also
 * an IOB_WARN_ON, since a row that does not match its header would be
 * read as other columns); -ENOMEM when a row longer than 4 KiB cannot get
 * its buffer; -EIO on a write error.
 */
void csv_row(struct csv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * csv_close() - Flush and sync the file, then rename it into place; free @c.
 * @c: the file; freed whatever the result
 *
 * On any error the temporary file is removed: nothing is published.
 *
 * Return: 0; the file's first error (-EINVAL, -ENOMEM or -EIO, see
 * csv_meta(), csv_header(), csv_row()); -EINVAL when no header was
 * written; -EIO when flushing fails; or -errno of fsync(2), fclose(3) or
 * rename(2).
 */
int csv_close(struct csv *c);

/**
 * csv_discard() - Drop a file without publishing it: close, remove the
 * temporary file, free @c.
 * @c: the file, or NULL (nothing to do)
 */
void csv_discard(struct csv *c);

/**
 * csv_capture_start() - Keep the next rows of @c in memory, unwritten.
 * @c:     an open CSV whose header is written
 * @fewer: the rows captured have this many fields fewer than the header
 *
 * Repetitions (bench/repeat.c) capture each run's rows, then write one
 * row per configuration with the statistics over the repetitions.
 */
void csv_capture_start(struct csv *c, unsigned fewer);

/**
 * csv_capture_take() - The rows captured since csv_capture_start(), and stop.
 * @c:    the CSV
 * @rows: set to an array of @n lines without newline (csv_rows_free() them)
 * @n:    set to the count
 *
 * Return: 0, or the first error the CSV met (-ENOMEM, -EINVAL for a row
 * with the wrong field count); the rows taken are valid either way.
 */
int csv_capture_take(struct csv *c, char ***rows, size_t *n);

/**
 * csv_rows_free() - Free rows from csv_capture_take().
 * @rows: the array (may be NULL)
 * @n:    its count
 */
void csv_rows_free(char **rows, size_t n);

/**
 * csv_open_memory() - A CSV with header @cols that only captures rows.
 * @cols: the header line
 * @out:  set to the CSV; csv_close() frees it
 *
 * Return: 0 or -ENOMEM.
 */
int csv_open_memory(const char *cols, struct csv **out);

/* ---- reading back ----------------------------------------------------- */

/* A whole file: every string points into @text. */
struct csv_table {
	size_t nmeta;
	char **meta_key, **meta_val;
	size_t ncols;
	char **cols;
	size_t nrows;
	char ***rows;		/* rows[r][c], c < ncols */
	char *text;		/* the file, cut into fields in place */
};

/**
 * csv_read() - Read and parse a file in this format.
 * @path:   the file
 * @t:      the table on success (free with csv_table_free()); zeroed on
 *          error
 * @err:    if not NULL, on error "line N: reason", or "PATH: reason" when
 *          the file cannot be read
 * @errlen: size of @err
 *
 * Blank lines are skipped; "\r\n" line ends are accepted. Fields are not
 * unquoted: the format has no quoting.
 *
 * Return: 0; -EINVAL when malformed (metadata line without '=', metadata
 * after the header, a row whose field count differs from the header's, no
 * header line) or not a text file of at most 1 GiB; -ENOMEM; or the
 * errors of textfile_read() (-errno of fopen(3), -EIO).
 */
int csv_read(const char *path, struct csv_table *t, char *err, size_t errlen);

/**
 * csv_parse() - Parse text in this format, as csv_read() parses a file.
 * @text:   the text, NUL-terminated (copied: the table keeps its own)
 * @t:      the table on success (free with csv_table_free()); zeroed on error
 * @err:    if not NULL, "line N: reason" on error
 * @errlen: size of @err
 * Return: 0; -EINVAL when malformed (as csv_read()); -ENOMEM.
 */
int csv_parse(const char *text, struct csv_table *t, char *err, size_t errlen);

/**
 * csv_table_free() - Free what csv_read() filled, and zero @t.
 * @t: the table (a zeroed one is fine)
 */
void csv_table_free(struct csv_table *t);

/**
 * csv_col() - Find a column by name.
 * @t:    the table
 * @name: the column name, exactly
 *
 * Return: its index, or -1 when the header has no such column.
 */
int csv_col(const struct csv_table *t, const char *name);

/**
 * csv_meta_get() - Find a metadata value by key.
 * @t:   the table
 * @key: the key, exactly (the first line with it wins)
 *
 * Return: the value, or NULL when no "# key=..." line has that key.
 */
const char *csv_meta_get(const struct csv_table *t, const char *key);

#endif /* IOB_CSV_H */
