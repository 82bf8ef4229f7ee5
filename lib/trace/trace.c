// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Trace files. The suite's format, one event per line:
 *
 *     # comment or key=value
 *     <t_ns> map <dev> <iova> <paddr> <size> <r|w|rw>
 *     <t_ns> unmap <dev> <iova> <size>
 *
 * and Linux's tracefs text for include/trace/events/iommu.h:
 *
 *     <task>-<pid> [<cpu>] <flags> <secs>.<usecs>: map: IOMMU: iova=0x... - 0x... paddr=0x... size=N
 *     <task>-<pid> [<cpu>] <flags> <secs>.<usecs>: unmap: IOMMU: iova=0x... - 0x... size=N unmapped_size=N
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iob/alloc.h>
#include <iob/textfile.h>
#include <iob/trace.h>

static int fail(char *err, size_t len, size_t line, const char *why)
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

static int push(struct trace *t, size_t *cap, const struct trace_event *e)
{
	if (t->n == *cap) {
		size_t nc = *cap ? 2 * *cap : 1024;
		struct trace_event *ne = iob_realloc(t->ev, nc * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		t->ev = ne;
		*cap = nc;
	}
	t->ev[t->n++] = *e;
	return 0;
}

/* Strict unsigned number, decimal or 0x hex, whole token. */
static int num(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end ? -1 : 0;
}

static int parse_iob_line(char *line, struct trace_event *e, char *err, size_t len,
			  size_t lineno)
{
	char *tok[8], *save = NULL;
	unsigned n = 0;
	uint64_t v;

	for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == 8)
			return fail(err, len, lineno, "too many fields");
		tok[n++] = t;
	}
	if (n < 2 || num(tok[0], &e->t_ns))
		return fail(err, len, lineno, "expected <t_ns> map|unmap ...");
	if (!strcmp(tok[1], "map")) {
		if (n != 7)
			return fail(err, len, lineno, "map needs: <t_ns> map <dev> <iova> <paddr> <size> <r|w|rw>");
		e->op = TRACE_MAP;
		if (num(tok[2], &v) || v > 0xffff)
			return fail(err, len, lineno, "device is not a 16-bit number");
		e->dev = (uint16_t)v;
		if (num(tok[3], &e->iova) || num(tok[4], &e->paddr) || num(tok[5], &e->size))
			return fail(err, len, lineno, "iova, paddr and size must be numbers");
		if (!strcmp(tok[6], "r"))
			e->dir = TRACE_DIR_READ;
		else if (!strcmp(tok[6], "w"))
			e->dir = TRACE_DIR_WRITE;
		else if (!strcmp(tok[6], "rw"))
			e->dir = TRACE_DIR_RW;
		else
			return fail(err, len, lineno, "direction must be r, w or rw");
	} else if (!strcmp(tok[1], "unmap")) {
		if (n != 5)
			return fail(err, len, lineno, "unmap needs: <t_ns> unmap <dev> <iova> <size>");
		e->op = TRACE_UNMAP;
		if (num(tok[2], &v) || v > 0xffff)
			return fail(err, len, lineno, "device is not a 16-bit number");
		e->dev = (uint16_t)v;
		if (num(tok[3], &e->iova) || num(tok[4], &e->size))
			return fail(err, len, lineno, "iova and size must be numbers");
	} else {
		return fail(err, len, lineno, "operation must be map or unmap");
	}
	return 0;
}

/* Find "key=" in @s and parse the number after it. */
static int field(const char *s, const char *key, uint64_t *v)
{
	const char *p = strstr(s, key);
	char buf[32];
	size_t n = 0;

	if (!p)
		return -1;
	p += strlen(key);
	while (p[n] && !isspace((unsigned char)p[n]) && n + 1 < sizeof(buf))
		n++;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return num(buf, v);
}

static int parse_tracefs_line(const char *line, struct trace_event *e, uint64_t *t0,
			      char *err, size_t len, size_t lineno)
{
	const char *colon = strstr(line, ": map: IOMMU: ");
	const char *p;
	unsigned long long sec, usec;
	int is_map = colon != NULL;

	if (!colon)
		colon = strstr(line, ": unmap: IOMMU: ");
	if (!colon)
		return fail(err, len, lineno, "not an iommu:map or iommu:unmap event");
	/* The timestamp: the last token before the event name. */
	p = colon;
	while (p > line && !isspace((unsigned char)p[-1]))
		p--;
	if (sscanf(p, "%llu.%llu", &sec, &usec) != 2)
		return fail(err, len, lineno, "no <secs>.<usecs> timestamp before the event");
	e->t_ns = (uint64_t)sec * 1000000000ULL + (uint64_t)usec * 1000ULL;
	if (*t0 == UINT64_MAX)
		*t0 = e->t_ns;
	e->t_ns = e->t_ns >= *t0 ? e->t_ns - *t0 : 0;
	e->dev = 0;
	if (field(colon, "iova=", &e->iova) || field(colon, "size=", &e->size))
		return fail(err, len, lineno, "iova= or size= missing or not a number");
	/* "iova=A - B": B must be A + size. */
	p = strstr(colon, " - ");
	if (p) {
		char buf[32];
		uint64_t end;

		if (sscanf(p + 3, "%31s", buf) != 1 || num(buf, &end) || end != e->iova + e->size)
			return fail(err, len, lineno, "end address is not iova + size");
	}
	if (is_map) {
		e->op = TRACE_MAP;
		e->dir = TRACE_DIR_RW;
		if (field(colon, "paddr=", &e->paddr))
			return fail(err, len, lineno, "map without paddr=");
	} else {
		uint64_t unmapped;

		e->op = TRACE_UNMAP;
		e->paddr = 0;
		e->dir = 0;
		/* Linux records what was asked and what went: replay what went. */
		if (!field(colon, "unmapped_size=", &unmapped) && unmapped)
			e->size = unmapped;
	}
	return 0;
}

int trace_parse(const char *text, struct trace *t, char *err, size_t errlen)
{
	const char *p = text;
	size_t lineno = 0, cap = 0;
	uint64_t t0 = UINT64_MAX, last_t = 0;
	int fmt = -1, ret = 0;

	memset(t, 0, sizeof(*t));
	while (*p && !ret) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[1024];
		struct trace_event e;
		const char *s;

		lineno++;
		if (len >= sizeof(line)) {
			ret = fail(err, errlen, lineno, "line too long");
			break;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (nl ? 1 : 0);
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		for (s = line; isspace((unsigned char)*s); s++)
			;
		if (!*s || *s == '#')
			continue;
		if (fmt < 0)
			fmt = strstr(s, "IOMMU:") ? TRACE_FMT_TRACEFS : TRACE_FMT_IOB;
		memset(&e, 0, sizeof(e));
		if (fmt == TRACE_FMT_TRACEFS) {
			/* tracefs files carry other events too: only the iommu ones count. */
			if (!strstr(s, ": map: IOMMU: ") && !strstr(s, ": unmap: IOMMU: "))
				continue;
			ret = parse_tracefs_line(s, &e, &t0, err, errlen, lineno);
		} else {
			ret = parse_iob_line(line, &e, err, errlen, lineno);
		}
		if (ret)
			break;
		if (!e.size || (e.size & 0xfff) || (e.iova & 0xfff) || (e.paddr & 0xfff))
			ret = fail(err, errlen, lineno, "iova, paddr and size must be 4 KiB aligned, size non-zero");
		else if (e.iova + e.size - 1 < e.iova)
			ret = fail(err, errlen, lineno, "iova + size runs past 2^64");
		else if (e.t_ns < last_t)
			ret = fail(err, errlen, lineno, "time goes backwards");
		else if (push(t, &cap, &e))
			ret = nomem(err, errlen, lineno);
		last_t = e.t_ns;
	}
	if (!ret && !t->n)
		ret = fail(err, errlen, lineno, "no map or unmap events");
	if (ret) {
		trace_free(t);
		return ret;
	}
	t->format = fmt == TRACE_FMT_TRACEFS ? TRACE_FMT_TRACEFS : TRACE_FMT_IOB;
	return 0;
}

int trace_read(const char *path, struct trace *t, char *err, size_t errlen)
{
	char *buf;
	int ret;

	memset(t, 0, sizeof(*t));
	ret = textfile_read(path, (size_t)512 << 20, "a trace", &buf, err, errlen);
	if (ret)
		return ret;
	ret = trace_parse(buf, t, err, errlen);
	iob_free(buf);
	if (ret && err && errlen) {
		char why[512];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "%s: %s", path, why);	/* "FILE: line N: reason" */
	}
	return ret;
}

int trace_write(const char *path, const struct trace *t, const char *comment)
{
	char tmp[4200];
	FILE *f;
	int ret = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "# iommubench trace v1\n");
	/* Every line of the comment stays a comment. */
	while (comment && *comment) {
		size_t len = strcspn(comment, "\n");

		fprintf(f, "# %.*s\n", (int)len, comment);
		comment += len + (comment[len] == '\n');
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct trace_event *e = &t->ev[i];

		if (e->op == TRACE_MAP)
			fprintf(f, "%" PRIu64 " map %u 0x%" PRIx64 " 0x%" PRIx64 " %" PRIu64 " %s\n",
				e->t_ns, e->dev, e->iova, e->paddr, e->size,
				e->dir == TRACE_DIR_READ ? "r" : e->dir == TRACE_DIR_WRITE ? "w" : "rw");
		else
			fprintf(f, "%" PRIu64 " unmap %u 0x%" PRIx64 " %" PRIu64 "\n", e->t_ns, e->dev,
				e->iova, e->size);
	}
	if (fflush(f) || ferror(f))
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		remove(tmp);
	return ret;
}

void trace_free(struct trace *t)
{
	iob_free(t->ev);
	memset(t, 0, sizeof(*t));
}
