// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <iob/alloc.h>
#include <iob/csv.h>
#include <iob/textfile.h>
#include <iob/warn.h>

#include "clean.h"

/* What csv_read() takes in: results files are kilobytes, CDFs a few MiB. */
#define CSV_READ_MAX	((size_t)1 << 30)

/* ---- writing -------------------------------------------------------------------- */

struct csv {
	FILE *f;
	char tmp[4400];
	char path[4400];
	bool header_done;
	unsigned ncols;		/* the header's columns: every row must have as many */
	int err;		/* the first error; csv_close() returns it */
	bool capturing;		/* rows go to cap[] instead of the file */
	unsigned cap_fewer;	/* captured rows have this many fields fewer */
	char **cap;
	size_t ncap, capmax;
};

static void fail(struct csv *c, int err)
{
	if (!c->err)
		c->err = err;
}

/* Fields of a CSV line: its commas plus one (the format has no quoting). */
static unsigned csv_fields(const char *line)
{
	unsigned n = 1;

	for (; *line; line++)
		n += *line == ',';
	return n;
}

/*
 * What the reader could not give back as written: a double quote (the
 * writer used to count a quoted comma as inside a field, the reader splits
 * at every comma), a control character (a newline starts another row, a
 * trailing CR is dropped), or a '#' first (read as a metadata line). Found
 * by tests/fuzz/fuzz_csvwrite.c.
 */
static bool csv_line_unreadable(const char *line)
{
	if (line[0] == '#')
		return true;
	for (; *line; line++)
		if (*line == '"' || (unsigned char)*line < 0x20 || *line == 0x7f)
			return true;
	return false;
}

int csv_open(const char *dir, const char *name, const struct results_env *env,
	     struct csv **out)
{
	struct csv *c = iob_calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	snprintf(c->path, sizeof(c->path), "%s/%s", dir, name);
	snprintf(c->tmp, sizeof(c->tmp), "%s/%s.tmp", dir, name);
	c->f = fopen(c->tmp, "w");
	if (!c->f) {
		int err = -errno;

		iob_free(c);
		return err;
	}
	if (env) {
		csv_meta(c, "schema_version", "%d", RESULTS_SCHEMA_VERSION);
		csv_meta(c, "date", "%s", env->date);
		csv_meta(c, "git_commit", "%s", env->git_commit);
		csv_meta(c, "host", "%s", env->host);
		csv_meta(c, "cpu", "%s", env->cpu);
		csv_meta(c, "tsc_khz", "%llu", (unsigned long long)env->tsc_khz);
		csv_meta(c, "tsc_source", "%s", env->tsc_source);
		csv_meta(c, "probe_overhead_cyc", "%.1f", env->probe_overhead_cyc);
		csv_meta(c, "kernel", "%s", env->kernel);
		csv_meta(c, "counters", "perf %s", env->counters);
		csv_meta(c, "command", "%s", env->command);
		csv_meta(c, "seed", "0x%016llx", (unsigned long long)env->seed);
	}
	*out = c;
	return 0;
}

void csv_meta(struct csv *c, const char *key, const char *fmt, ...)
{
	char val[2048];
	va_list ap;

	if (c->header_done) {
		fail(c, -EINVAL);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	clean_copy(val, sizeof(val), val);
	if (c->f && fprintf(c->f, "# %s=%s\n", key, val) < 0)
		fail(c, -EIO);
}

void csv_header(struct csv *c, const char *cols)
{
	if (c->header_done) {
		fail(c, -EINVAL);
		return;
	}
	c->header_done = true;
	c->ncols = csv_fields(cols);
	if (csv_line_unreadable(cols) || !cols[0])
		fail(c, -EINVAL);
	else if (c->f && fprintf(c->f, "%s\n", cols) < 0)
		fail(c, -EIO);
}

static void capture(struct csv *c, const char *line)
{
	size_t len = strlen(line) + 1;
	char *copy;

	if (c->ncap == c->capmax) {
		size_t max = c->capmax ? 2 * c->capmax : 64;
		char **v = iob_realloc(c->cap, max * sizeof(*v));

		if (!v) {
			fail(c, -ENOMEM);
			return;
		}
		c->cap = v;
		c->capmax = max;
	}
	copy = iob_malloc(len);
	if (!copy) {
		fail(c, -ENOMEM);
		return;
	}
	c->cap[c->ncap++] = memcpy(copy, line, len);
}

void csv_capture_start(struct csv *c, unsigned fewer)
{
	c->capturing = true;
	c->cap_fewer = fewer;
}

int csv_capture_take(struct csv *c, char ***rows, size_t *n)
{
	*rows = c->cap;
	*n = c->ncap;
	c->cap = NULL;
	c->ncap = c->capmax = 0;
	c->capturing = c->f == NULL;
	c->cap_fewer = 0;
	return c->err;
}

void csv_rows_free(char **rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		iob_free(rows[i]);
	iob_free(rows);
}

int csv_open_memory(const char *cols, struct csv **out)
{
	struct csv *c = iob_calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->capturing = true;
	csv_header(c, cols);
	*out = c;
	return 0;
}

void csv_row(struct csv *c, const char *fmt, ...)
{
	char small[4096], *line = small;
	va_list ap;
	int len;

	if (!c->header_done) {
		fail(c, -EINVAL);
		return;
	}
	va_start(ap, fmt);
	len = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (len < 0) {
		fail(c, -EINVAL);
		return;
	}
	if ((size_t)len >= sizeof(small)) {
		line = iob_malloc((size_t)len + 1);
		if (!line) {
			fail(c, -ENOMEM);
			return;
		}
		va_start(ap, fmt);
		vsnprintf(line, (size_t)len + 1, fmt, ap);
		va_end(ap);
	}
	/* A row that does not match its header would be read as other columns. */
	if (csv_line_unreadable(line))
		fail(c, -EINVAL);
	else if (IOB_WARN_ON(csv_fields(line) + (c->capturing ? c->cap_fewer : 0) != c->ncols))
		fail(c, -EINVAL);
	else if (c->capturing)
		capture(c, line);
	else if (fputs(line, c->f) == EOF || fputc('\n', c->f) == EOF)
		fail(c, -EIO);
	if (line != small)
		iob_free(line);
}

int csv_close(struct csv *c)
{
	int ret = c->err;

	csv_rows_free(c->cap, c->ncap);
	if (!c->f) {
		iob_free(c);
		return ret;
	}
	if (fflush(c->f) || ferror(c->f))
		ret = ret ? ret : -EIO;
	if (!ret && fsync(fileno(c->f)))
		ret = -errno;
	if (fclose(c->f) && !ret)
		ret = -errno;
	if (!ret && !c->header_done)
		ret = -EINVAL;
	if (!ret && rename(c->tmp, c->path))
		ret = -errno;
	if (ret)
		unlink(c->tmp);
	iob_free(c);
	return ret;
}

void csv_discard(struct csv *c)
{
	if (!c)
		return;
	csv_rows_free(c->cap, c->ncap);
	if (c->f) {
		fclose(c->f);
		unlink(c->tmp);
	}
	iob_free(c);
}

/* ---- reading -------------------------------------------------------------------- */

static int rerr(char *err, size_t len, size_t line, const char *why)
{
	if (err && len)
		snprintf(err, len, "line %zu: %s", line, why);
	return -EINVAL;
}

static int nomem(char *err, size_t len, size_t line)
{
	if (err && len)
		snprintf(err, len, "line %zu: out of memory", line);
	return -ENOMEM;
}

/* Cut @line at its commas, in place, into a new array of @n fields. */
static int split_fields(char *line, char ***out, size_t *n)
{
	size_t cap = 8, k = 0;
	char **v = iob_malloc(cap * sizeof(*v));
	char *p = line;

	if (!v)
		return -ENOMEM;
	for (;;) {
		char *comma = strchr(p, ',');

		if (k == cap) {
			char **nv = iob_realloc(v, 2 * cap * sizeof(*v));

			if (!nv) {
				iob_free(v);
				return -ENOMEM;
			}
			v = nv;
			cap *= 2;
		}
		if (comma)
			*comma = '\0';
		v[k++] = p;
		if (!comma)
			break;
		p = comma + 1;
	}
	*out = v;
	*n = k;
	return 0;
}

/* "# key=value": both cut in place and kept. */
static int add_meta(struct csv_table *t, size_t *cap, char *line, size_t lineno,
		    char *err, size_t errlen)
{
	char *eq, *k = line + 1;

	if (t->ncols)
		return rerr(err, errlen, lineno, "metadata after the header");
	while (*k == ' ')
		k++;
	eq = strchr(k, '=');
	if (!eq)
		return rerr(err, errlen, lineno, "metadata line without '='");
	if (t->nmeta == *cap) {
		size_t nc = *cap ? 2 * *cap : 16;
		char **nk = iob_realloc(t->meta_key, nc * sizeof(*nk));

		if (!nk)
			return nomem(err, errlen, lineno);
		t->meta_key = nk;
		nk = iob_realloc(t->meta_val, nc * sizeof(*nk));
		if (!nk)
			return nomem(err, errlen, lineno);
		t->meta_val = nk;
		*cap = nc;
	}
	*eq = '\0';
	t->meta_key[t->nmeta] = k;
	t->meta_val[t->nmeta] = eq + 1;
	t->nmeta++;
	return 0;
}

/* The header (first non-metadata line) or a row. */
static int add_line(struct csv_table *t, size_t *cap, char *line, size_t lineno,
		    char *err, size_t errlen)
{
	char **fields;
	size_t n;

	if (split_fields(line, &fields, &n))
		return nomem(err, errlen, lineno);
	if (!t->ncols) {
		t->cols = fields;
		t->ncols = n;
		return 0;
	}
	if (n != t->ncols) {
		iob_free(fields);
		return rerr(err, errlen, lineno, "field count differs from the header");
	}
	if (t->nrows == *cap) {
		size_t nc = *cap ? 2 * *cap : 16;
		char ***nr = iob_realloc(t->rows, nc * sizeof(*nr));

		if (!nr) {
			iob_free(fields);
			return nomem(err, errlen, lineno);
		}
		t->rows = nr;
		*cap = nc;
	}
	t->rows[t->nrows++] = fields;
	return 0;
}

/* Cut @t->text (owned by @t) into the table; on error @t is freed. */
static int csv_cut(struct csv_table *t, char *err, size_t errlen)
{
	size_t lineno = 0, mcap = 0, rcap = 0;
	char *p;
	int ret = 0;

	for (p = t->text; *p && !ret;) {
		char *line = p;
		size_t len = strcspn(p, "\n");

		p += len + (p[len] == '\n');
		line[len] = '\0';
		lineno++;
		while (len && line[len - 1] == '\r')
			line[--len] = '\0';
		if (line[0] == '#')
			ret = add_meta(t, &mcap, line, lineno, err, errlen);
		else if (len)
			ret = add_line(t, &rcap, line, lineno, err, errlen);
	}
	if (!ret && !t->ncols)
		ret = rerr(err, errlen, lineno, "no header line");
	if (ret)
		csv_table_free(t);
	return ret;
}

int csv_read(const char *path, struct csv_table *t, char *err, size_t errlen)
{
	int ret;

	memset(t, 0, sizeof(*t));
	ret = textfile_read(path, CSV_READ_MAX, "a CSV file", &t->text, err, errlen);
	return ret ? ret : csv_cut(t, err, errlen);
}

int csv_parse(const char *text, struct csv_table *t, char *err, size_t errlen)
{
	size_t n = strlen(text);

	memset(t, 0, sizeof(*t));
	t->text = iob_malloc(n + 1);
	if (!t->text)
		return nomem(err, errlen, 0);
	memcpy(t->text, text, n + 1);
	return csv_cut(t, err, errlen);
}

void csv_table_free(struct csv_table *t)
{
	iob_free(t->meta_key);
	iob_free(t->meta_val);
	iob_free(t->cols);
	for (size_t r = 0; r < t->nrows; r++)
		iob_free(t->rows[r]);
	iob_free(t->rows);
	iob_free(t->text);
	memset(t, 0, sizeof(*t));
}

int csv_col(const struct csv_table *t, const char *name)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (!strcmp(t->cols[i], name))
			return (int)i;
	return -1;
}

const char *csv_meta_get(const struct csv_table *t, const char *key)
{
	for (size_t i = 0; i < t->nmeta; i++)
		if (!strcmp(t->meta_key[i], key))
			return t->meta_val[i];
	return NULL;
}
