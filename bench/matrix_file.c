// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The matrix file parser. It returns its errors (FILE:LINE:COLUMN) rather
 * than exiting, so that the fuzzer (tests/fuzz/fuzz_matrix.c) can run it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matrix_file.h"
#include "util.h"

__attribute__((format(printf, 4, 5)))
static int merr(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

static void trim_comment(char *s)
{
	char *h = strchr(s, '#');

	if (h)
		*h = '\0';
	s[strcspn(s, "\r\n")] = '\0';
}

/*
 * One line: FAMILY key=value ...; a value may list alternatives a|b|c and
 * the line stands for every combination (the cross product, the last key
 * varying fastest). Every combination is checked here, before anything
 * runs.
 */
#define MAX_KEYS 32
#define MAX_ALTS 16

struct mkey {
	char *key;
	char *alt[MAX_ALTS];
	unsigned nalt;
	long col;
};

static int matrix_keys(const char *name, unsigned lineno, char *line, char *rest,
		       struct mkey *keys, unsigned *nkeys, char *err, size_t errlen)
{
	char *tok, *save = NULL;

	while ((tok = strtok_r(rest, " \t", &save))) {
		char *eq = strchr(tok, '='), *a, *asave = NULL;
		long col = (long)(tok - line) + 1;
		struct mkey *k;

		rest = NULL;
		if (!eq || eq == tok || !eq[1])
			return merr(err, errlen, -EINVAL, "%s:%u:%ld: expected key=value, got '%s'",
				    name, lineno, col, tok);
		if (*nkeys == MAX_KEYS)
			return merr(err, errlen, -E2BIG, "%s:%u:%ld: more than %d keys", name,
				    lineno, col, MAX_KEYS);
		*eq = '\0';
		for (char *d = tok; *d; d++)	/* io-size= is io_size= */
			if (*d == '-')
				*d = '_';
		for (unsigned j = 0; j < *nkeys; j++)
			if (!strcmp(keys[j].key, tok))
				return merr(err, errlen, -EINVAL,
					    "%s:%u:%ld: %s given twice on the line (first at column %ld)",
					    name, lineno, col, tok, keys[j].col);
		if (list_has_empty(eq + 1, '|'))
			return merr(err, errlen, -EINVAL, "%s:%u:%ld: %s=%s has an empty alternative",
				    name, lineno, col, tok, eq + 1);
		k = &keys[(*nkeys)++];
		k->key = tok;
		k->col = col;
		k->nalt = 0;
		for (a = strtok_r(eq + 1, "|", &asave); a; a = strtok_r(NULL, "|", &asave)) {
			if (k->nalt == MAX_ALTS)
				return merr(err, errlen, -E2BIG,
					    "%s:%u:%ld: more than %d alternatives", name, lineno,
					    col, MAX_ALTS);
			k->alt[k->nalt++] = a;
		}
		if (!k->nalt)
			return merr(err, errlen, -EINVAL, "%s:%u:%ld: %s has no value", name,
				    lineno, col, tok);
	}
	return 0;
}

/* One combination of @keys' alternatives (@idx) as the next configuration. */
static int matrix_combo(struct mfile *m, const char *name, unsigned lineno,
			const struct family *fam, const struct mkey *keys, unsigned nkeys,
			const unsigned *idx, char *err, size_t errlen)
{
	struct mline *ml;
	char why[256], text[1024];
	size_t tl;

	if (m->n == MATRIX_LINES_MAX)
		return merr(err, errlen, -E2BIG, "%s:%u:1: more than %d configurations", name,
			    lineno, MATRIX_LINES_MAX);
	ml = &m->lines[m->n];
	memset(ml, 0, sizeof(*ml));
	ml->lineno = lineno;
	ml->fam = fam;
	ml->opts = calloc(1, fam->opts_size);
	if (!ml->opts)
		return merr(err, errlen, -ENOMEM, "out of memory");
	m->n++;		/* from here on matrix_free() frees it */
	fam->defaults(ml->opts);
	tl = (size_t)snprintf(text, sizeof(text), "%s", fam->name);
	for (unsigned k = 0; k < nkeys; k++) {
		const char *v = keys[k].alt[idx[k]];

		if (fam->set(ml->opts, keys[k].key, v, why, sizeof(why)))
			return merr(err, errlen, -EINVAL, "%s:%u:%ld: %s %s: %s", name, lineno,
				    keys[k].col, fam->name, keys[k].key, why);
		if (tl < sizeof(text))
			tl += (size_t)snprintf(text + tl, sizeof(text) - tl, " %s=%s",
					       keys[k].key, v);
	}
	if (fam->check && fam->check(ml->opts, why, sizeof(why)))
		return merr(err, errlen, -EINVAL, "%s:%u:1: %s: %s", name, lineno, fam->name, why);
	ml->text = strdup(text);
	if (!ml->text)
		return merr(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

static int matrix_line(struct mfile *m, const char *name, unsigned lineno, char *line,
		       const struct family *fam, char *rest, char *err, size_t errlen)
{
	struct mkey keys[MAX_KEYS];
	unsigned nkeys = 0, idx[MAX_KEYS] = { 0 };
	int ret = matrix_keys(name, lineno, line, rest, keys, &nkeys, err, errlen);

	while (!ret) {
		int i;

		ret = matrix_combo(m, name, lineno, fam, keys, nkeys, idx, err, errlen);
		/* Next combination: odometer over the alternatives. */
		for (i = (int)nkeys - 1; i >= 0; i--) {
			if (++idx[i] < keys[i].nalt)
				break;
			idx[i] = 0;
		}
		if (i < 0)
			break;
	}
	return ret;
}

static int matrix_unknown_family(const char *name, unsigned lineno, long col, const char *tok,
				 char *err, size_t errlen)
{
	char known[256];
	size_t n = 0;

	if (!strcmp(tok, "strategy"))
		return merr(err, errlen, -EINVAL,
			    "%s:%u:%ld: the strategy family is now a workload: "
			    "'workload workload=pingpong' (batch= is budget=, buffers= is ring=)",
			    name, lineno, col);
	known[0] = '\0';
	for (size_t i = 0; families[i] && n < sizeof(known); i++)
		n += (size_t)snprintf(known + n, sizeof(known) - n, "%s%s", i ? ", " : "",
				      families[i]->name);
	return merr(err, errlen, -EINVAL, "%s:%u:%ld: unknown family '%s' (%s)", name, lineno,
		    col, tok, known);
}

int matrix_parse(struct mfile *m, const char *text, const char *name, char *err, size_t errlen)
{
	const char *p = text;
	unsigned lineno = 0;
	int ret = 0;

	m->n = 0;
	m->name = name;
	while (*p && !ret) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[1024], *tok, *save = NULL;
		const struct family *fam;

		lineno++;
		if (len >= sizeof(line))
			return merr(err, errlen, -E2BIG, "%s:%u:1: line longer than %zu characters",
				    name, lineno, sizeof(line) - 1);
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (nl ? 1 : 0);
		trim_comment(line);
		tok = strtok_r(line, " \t", &save);
		if (!tok)
			continue;
		fam = family_find(tok);
		if (!fam)
			return matrix_unknown_family(name, lineno, (long)(tok - line) + 1, tok, err,
						     errlen);
		ret = matrix_line(m, name, lineno, line, fam, save, err, errlen);
	}
	if (!ret && !m->n)
		ret = merr(err, errlen, -EINVAL, "%s: no configurations in the matrix", name);
	return ret;
}

void matrix_free(struct mfile *m)
{
	for (unsigned i = 0; i < m->n; i++) {
		free(m->lines[i].opts);
		free(m->lines[i].text);
	}
	m->n = 0;
}
