// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xeniolog: reads Xen's log of dom0's IOMMU table out of a console log
 * (xeniolog.h has the line formats).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iob/alloc.h>

#include "xeniolog.h"

#define FIELDS_MAX	10
#define DFN_MAX		(1ULL << 48)

struct iolog_parser {
	struct xeniolog *l;
	const char *label;
	bool in_log;
	unsigned lineno;
	char *err;
	size_t errlen;
};

void xeniolog_free(struct xeniolog *l)
{
	iob_free(l->ev);
	memset(l, 0, sizeof(*l));
}

/* A decimal count below @max, the whole field. */
static bool num(const char *s, uint64_t max, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return !errno && !*end && *v <= max;
}

static bool hex_bits(const char *s, uint64_t bits[8])
{
	if (strlen(s) != 128)
		return false;
	for (int i = 0; i < 8; i++) {
		char w[17], *end;

		memcpy(w, s + 16 * i, 16);
		w[16] = 0;
		for (int j = 0; j < 16; j++)
			if (!strchr("0123456789abcdefABCDEF", w[j]))
				return false;
		bits[i] = strtoull(w, &end, 16);
	}
	return true;
}

static int ev_push(struct xeniolog *l, const struct xeniolog_ev *e)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		struct xeniolog_ev *ev = iob_realloc(l->ev, cap * sizeof(*ev));

		if (!ev)
			return -ENOMEM;
		l->ev = ev;
		l->cap = cap;
	}
	l->ev[l->n++] = *e;
	return 0;
}

/* Fields f[3..] of one event line, by its letter; NULL or why it is malformed. */
static const char *ev_parse(char **f, int nf, struct xeniolog_ev *e)
{
	char k = f[2][0];
	uint64_t v[5] = { 0 };
	static const struct {
		char k;
		int nf;
		uint64_t max[5];
	} shape[] = {
		{ 'c', 7, { 255, 1ULL << 32, UINT64_MAX, 4095 } },
		{ 'r', 8, { 255, 1ULL << 32, UINT64_MAX, 1ULL << 32, 1ULL << 32 } },
		{ 'x', 5, { 1ULL << 32, 1ULL << 32 } },
		{ 'm', 7, { DFN_MAX, 1ULL << 32, 18 } },
		{ 'u', 7, { DFN_MAX, 1ULL << 32, 18 } },
		{ 'M', 7, { DFN_MAX, 1ULL << 32, 18 } },
		{ 'U', 7, { DFN_MAX, 1ULL << 32, 18 } },
		{ 'b', 6, { DFN_MAX, 255 } },
		{ 's', 5, { DFN_MAX, 6 } },
		{ 'k', 5, { DFN_MAX, 6 } },
		{ 'z', 5, { DFN_MAX, 6 } },
		{ 'S', 5, { DFN_MAX, 6 } },
		{ 'K', 5, { DFN_MAX, 6 } },
		{ 'Z', 5, { DFN_MAX, 6 } },
		{ 't', 6, { UINT64_MAX, 1ULL << 32, 1ULL << 32 } },
		{ 'o', 8, { 1ULL << 40, 1ULL << 40, 1ULL << 40, 1ULL << 40, 1ULL << 40 } },
	};
	size_t i;
	int nv;

	if (f[2][1])
		return "an event letter is one character";
	for (i = 0; i < sizeof(shape) / sizeof(shape[0]) && shape[i].k != k; i++)
		;
	if (i == sizeof(shape) / sizeof(shape[0]))
		return "an unknown event letter";
	if (nf != shape[i].nf)
		return "the wrong number of fields for its letter";
	nv = strchr("muMU", k) ? 3 : k == 'b' ? 2 : nf - 3;
	for (int j = 0; j < nv; j++)
		if (!num(f[3 + j], shape[i].max[j], &v[j]))
			return "a field that is not a count in range";
	*e = (struct xeniolog_ev){ .kind = k, .dir = 1 };
	switch (k) {
	case 'c':
		e->a = v[0], e->b = v[1], e->c = v[2], e->d = v[3];
		break;
	case 'r':
		e->a = v[0], e->b = v[1], e->c = v[2], e->d = v[3], e->e = v[4];
		break;
	case 'x':
		e->d = v[0], e->e = v[1];
		break;
	case 'm':
	case 'u':
	case 'M':
	case 'U':
		if (!v[1])
			return "an empty run";
		if (strcmp(f[6], "1") && strcmp(f[6], "-1"))
			return "a run's direction is 1 or -1";
		e->dir = f[6][0] == '-' ? -1 : 1;
		/* Every dfn of the run stays in range, going up or down. */
		if (e->dir > 0 ? v[0] + ((v[1] - 1) << v[2]) >= DFN_MAX
			       : ((v[1] - 1) << v[2]) > v[0])
			return "a run that leaves the dfn space";
		e->a = v[0], e->b = v[1], e->c = v[2];
		break;
	case 'b':
		if (v[0] & 511)
			return "a block's first dfn is not 2 MiB aligned";
		e->a = v[0], e->c = v[1];
		if ((v[1] & 0x7f) > XENIOLOG_BLOCK_1G)
			return "an unknown block state";
		if ((v[1] & 0x7f) == XENIOLOG_BLOCK_TABLE ? !hex_bits(f[5], e->bits)
							   : strcmp(f[5], "-"))
			return "a block's entries are 128 hex digits (a table) or '-'";
		break;
	case 't':
		e->c = v[0], e->d = v[1], e->e = v[2];
		break;
	case 'o':
		e->a = v[0], e->b = v[1], e->d = v[2], e->e = v[3], e->c = v[4];
		break;
	default:	/* s k z S K Z */
		e->a = v[0], e->c = v[1];
		break;
	}
	return NULL;
}

static int fail(struct iolog_parser *p, const char *why)
{
	snprintf(p->err, p->errlen, "line %u: %s", p->lineno, why);
	return -EINVAL;
}

/* One line, "(XEN) " and '\r's already dropped. */
static int iolog_line(struct iolog_parser *p, char *s)
{
	char *f[FIELDS_MAX + 1], *save = NULL;
	int nf = 0;
	struct xeniolog_ev e;
	const char *why;
	uint64_t total, lost;

	if (strncmp(s, "iob-flog", 8))
		return 0;
	for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (nf == FIELDS_MAX)
			return fail(p, "an iob-flog line with too many fields");
		f[nf++] = t;
	}
	if (nf < 2 || strcmp(f[1], p->label))
		return 0;
	if (!strcmp(f[0], "iob-flog-begin")) {
		if (nf != 4 || strncmp(f[2], "total=", 6) || strncmp(f[3], "lost=", 5) ||
		    !num(f[2] + 6, UINT32_MAX, &total) || !num(f[3] + 5, UINT32_MAX, &lost))
			return fail(p, "malformed iob-flog-begin (total=N,lost=N)");
		xeniolog_free(p->l);
		snprintf(p->l->label, sizeof(p->l->label), "%s", p->label);
		p->l->total = total;
		p->l->lost = lost;
		p->in_log = true;
		return 0;
	}
	if (!p->in_log)
		return fail(p, !strcmp(f[0], "iob-flog") || !strcmp(f[0], "iob-flog-end")
				       ? "an iob-flog line outside its log (no iob-flog-begin)"
				       : "an unknown iob-flog record");
	if (!strcmp(f[0], "iob-flog-end")) {
		if (nf != 2)
			return fail(p, "malformed iob-flog-end");
		p->in_log = false;
		p->l->complete = true;
		return 0;
	}
	if (strcmp(f[0], "iob-flog") || nf < 3)
		return fail(p, "an unknown iob-flog record");
	why = ev_parse(f, nf, &e);
	if (why)
		return fail(p, why);
	return ev_push(p->l, &e) ? -ENOMEM : 0;
}

int xeniolog_parse(const char *text, const char *label, struct xeniolog *out, char *err,
		   size_t errlen)
{
	struct iolog_parser p = { .l = out, .label = label, .err = err, .errlen = errlen };
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	while (*text && !ret) {
		size_t n = strcspn(text, "\n");
		char *s;

		if (n + 1 > cap) {
			char *nl = iob_realloc(line, n + 1);

			if (!nl) {
				ret = -ENOMEM;
				break;
			}
			line = nl;
			cap = n + 1;
		}
		memcpy(line, text, n);
		line[n] = 0;
		text += n + (text[n] == '\n');
		p.lineno++;
		while (n > 0 && (line[n - 1] == '\r'))
			line[--n] = 0;
		s = strncmp(line, "(XEN) ", 6) ? line : line + 6;
		ret = iolog_line(&p, s);
	}
	iob_free(line);
	if (!ret && p.in_log) {
		snprintf(err, errlen, "the IOMMU log of '%s' is cut short", label);
		ret = -EINVAL;
	}
	if (!ret && out->complete && out->lost) {
		snprintf(err, errlen, "the IOMMU log of '%s' lost %llu entries (Xen's log was full)",
			 label, (unsigned long long)out->lost);
		ret = -EINVAL;
	}
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	if (ret)
		return ret;
	return out->complete ? 1 : 0;
}
