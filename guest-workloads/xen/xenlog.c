// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iob/alloc.h>

#include "xenlog.h"

#define FIELDS_MAX 96

/* The state between lines: the dump being read, and the workload around it. */
struct parser {
	struct xenlog *lg;
	struct xenlog_dump *cur;	/* dom0's */
	struct xenlog_dump *con;	/* the console's (debug key 'j') */
	char wl[64], wl_arg[24];
	int wl_rc;
	bool has_io;
	uint64_t io[3];		/* the workload's iob-wl-io: ios, bytes, ns */
};

/* Split @s at commas in place. Return: the number of fields, -1 over @max. */
static int split(char *s, char **f, int max)
{
	int n = 0;

	for (;;) {
		if (n == max)
			return -1;
		f[n++] = s;
		s = strchr(s, ',');
		if (!s)
			return n;
		*s++ = 0;
	}
}

/* Strict unsigned decimal or 0x hex, as the dom0 tool and Xen print them. */
static int u64_field(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end ? -1 : 0;
}

static const char *kv(const char *field, const char *key)
{
	size_t n = strlen(key);

	return !strncmp(field, key, n) && field[n] == '=' ? field + n + 1 : NULL;
}

/* f[0] path, f[1..4] count, total, min, max, f[5..] the log2 buckets. */
static void rec_parse(struct xenlog_rec *r, char **f, char *why, size_t len)
{
	uint64_t sum = 0;

	if (strlen(f[0]) >= sizeof(r->path) || !*f[0]) {
		snprintf(why, len, "bad path name");
		return;
	}
	snprintf(r->path, sizeof(r->path), "%s", f[0]);
	if (u64_field(f[1], &r->count) || u64_field(f[2], &r->total) ||
	    u64_field(f[3], &r->min) || u64_field(f[4], &r->max)) {
		snprintf(why, len, "path %s: a field is not a number", r->path);
		return;
	}
	for (int i = 0; i < XENLOG_LOG2; i++) {
		if (u64_field(f[5 + i], &r->log2[i])) {
			snprintf(why, len, "path %s: log2_%d is not a number", r->path, i);
			return;
		}
		sum += r->log2[i];
	}
	if (sum != r->count)
		snprintf(why, len, "path %s: histogram holds %" PRIu64 " samples, count is %" PRIu64,
			 r->path, sum, r->count);
	else if (r->count && (r->min > r->max || r->total < r->max))
		snprintf(why, len, "path %s: min, max and total disagree", r->path);
}

static struct xenlog_dump *dump_new(struct xenlog *lg, const char *label, const char *arg,
				    int rc, char **kvs, int nkv)
{
	struct xenlog_dump *d;

	if (lg->ndumps == XENLOG_DUMPS_MAX)
		return NULL;
	d = &lg->dumps[lg->ndumps++];
	memset(d, 0, sizeof(*d));
	snprintf(d->label, sizeof(d->label), "%s", label);
	snprintf(d->arg, sizeof(d->arg), "%s", arg ? arg : "");
	d->wl_rc = rc;
	for (int i = 0; i < nkv; i++) {
		if (kv(kvs[i], "tsc_khz"))
			u64_field(kv(kvs[i], "tsc_khz"), &d->tsc_khz);
		if (kv(kvs[i], "tuning"))
			snprintf(d->tuning, sizeof(d->tuning), "%s", kv(kvs[i], "tuning"));
	}
	return d;
}

static void event_add(struct xenlog_dump *d, const char *name, const char *val, char *why,
		      size_t len, const char *what)
{
	if (d->nevents == XENLOG_EVENTS_MAX || strlen(name) >= sizeof(d->evname[0]) ||
	    u64_field(val, &d->ev[d->nevents]))
		snprintf(why, len, "malformed %sevent record", what);
	else
		snprintf(d->evname[d->nevents++], sizeof(d->evname[0]), "%s", name);
}

/* The dom0 tool's records: iob-wl-*, iob-dom0-*. */
static void parse_dom0(struct parser *p, char **f, int nf, char *why, size_t len)
{
	bool same_wl = nf > 1 && !strcmp(f[1], p->wl);
	bool in_dump = nf > 1 && p->cur && !strcmp(p->cur->label, f[1]) && !p->cur->complete;

	if (!strcmp(f[0], "iob-dom0-done")) {
		p->lg->dom0_done = true;
	} else if (!strcmp(f[0], "iob-wl-begin") && nf == 3) {
		snprintf(p->wl, sizeof(p->wl), "%s", f[1]);
		snprintf(p->wl_arg, sizeof(p->wl_arg), "%s", f[2]);
		p->wl_rc = -1;
		p->has_io = false;
	} else if (!strcmp(f[0], "iob-wl-io")) {
		static const char *const keys[] = { "ios", "bytes", "ns" };

		for (int k = 0; k < 3; k++)
			if (nf != 5 || !kv(f[2 + k], keys[k]) || u64_field(kv(f[2 + k], keys[k]), &p->io[k]))
				snprintf(why, len, "malformed I/O record (ios=N,bytes=B,ns=T)");
		if (!why[0] && !same_wl)
			snprintf(why, len, "I/O record of %s outside its workload", f[1]);
		p->has_io = !why[0];
	} else if (!strcmp(f[0], "iob-wl-end") && nf == 3 && kv(f[2], "rc")) {
		p->wl_rc = atoi(kv(f[2], "rc"));
	} else if (!strcmp(f[0], "iob-dom0-begin") && nf >= 4) {
		p->cur = dump_new(p->lg, f[1], same_wl ? p->wl_arg : "", same_wl ? p->wl_rc : -1,
				  f + 2, nf - 2);
		if (!p->cur) {
			snprintf(why, len, "more than %d dumps", XENLOG_DUMPS_MAX);
		} else if (same_wl && p->has_io) {
			p->cur->has_io = true;
			p->cur->io_n = p->io[0];
			p->cur->io_bytes = p->io[1];
			p->cur->io_ns = p->io[2];
		}
	} else if (!strcmp(f[0], "iob-dom0-path")) {
		if (nf != 3 + 4 + XENLOG_LOG2)
			snprintf(why, len, "a path record has %d fields, not %d", nf,
				 3 + 4 + XENLOG_LOG2);
		else if (!in_dump)
			snprintf(why, len, "path record outside its dump");
		else if (p->cur->npaths == XENLOG_PATHS_MAX)
			snprintf(why, len, "too many paths");
		else
			rec_parse(&p->cur->recs[p->cur->npaths++], f + 2, why, len);
	} else if (!strcmp(f[0], "iob-dom0-event")) {
		if (nf != 4 || !in_dump)
			snprintf(why, len, "malformed event record");
		else
			event_add(p->cur, f[2], f[3], why, len, "");
	} else if (!strcmp(f[0], "iob-dom0-end") && nf == 2) {
		if (!p->cur || strcmp(p->cur->label, f[1]))
			snprintf(why, len, "end of a dump that did not begin");
		else
			p->cur->complete = true;
	}
}

/* Xen's own records (debug key 'j'): iob-begin, iob-path, iob-event, iob-end. */
static void parse_console(struct parser *p, char **f, int nf, char *why, size_t len)
{
	bool in_dump = p->con && !p->con->complete;

	if (!strcmp(f[0], "iob-begin")) {
		p->con = dump_new(p->lg, "console", NULL, -1, f + 1, nf - 1);
		if (!p->con)
			snprintf(why, len, "more than %d dumps", XENLOG_DUMPS_MAX);
	} else if (!strcmp(f[0], "iob-path")) {
		if (nf != 2 + 4 + XENLOG_LOG2)
			snprintf(why, len, "a console path record has %d fields, not %d", nf,
				 2 + 4 + XENLOG_LOG2);
		else if (!in_dump)
			snprintf(why, len, "console path record outside its dump");
		else if (p->con->npaths == XENLOG_PATHS_MAX)
			snprintf(why, len, "too many paths");
		else
			rec_parse(&p->con->recs[p->con->npaths++], f + 1, why, len);
	} else if (!strcmp(f[0], "iob-event")) {
		if (nf != 3 || !in_dump)
			snprintf(why, len, "malformed console event record");
		else
			event_add(p->con, f[1], f[2], why, len, "console ");
	} else if (!strcmp(f[0], "iob-end")) {
		if (!p->con)
			snprintf(why, len, "end of a console dump that did not begin");
		else
			p->con->complete = true;
	}
}

/* One line, without its newline. Return: 0, or -EINVAL with @why. */
static int parse_line(struct parser *p, char *s, char *why, size_t len)
{
	char *f[FIELDS_MAX];
	int nf;

	if (strstr(s, "AMD-Vi: IOMMU ") && strstr(s, " Enabled"))
		p->lg->amdvi_enabled = true;
	if (strstr(s, "Dom0 mode: Strict"))
		p->lg->dom0_strict = true;
	if (strstr(s, "Dom0 mode: Relaxed"))
		p->lg->dom0_relaxed = true;
	if (!strncmp(s, "(XEN) ", 6))
		s += 6;
	if (strncmp(s, "iob-", 4))
		return 0;
	why[0] = 0;
	nf = split(s, f, FIELDS_MAX);
	if (nf < 0)
		snprintf(why, len, "more than %d fields", FIELDS_MAX);
	else if (!strncmp(s, "iob-dom0-", 9) || !strncmp(s, "iob-wl-", 7))
		parse_dom0(p, f, nf, why, len);
	else
		parse_console(p, f, nf, why, len);
	return why[0] ? -EINVAL : 0;
}

/* After the last line: every dump that began has ended. */
static int parse_finish(struct xenlog *lg, char *err, size_t errlen)
{
	for (unsigned i = 0; i < lg->ndumps; i++) {
		if (!lg->dumps[i].complete) {
			snprintf(err, errlen, "the dump of '%s' is cut short", lg->dumps[i].label);
			memset(lg, 0, sizeof(*lg));
			return -EINVAL;
		}
	}
	return 0;
}

/* One line of @n bytes: '\r's at its end dropped, parsed. */
static int feed(struct parser *p, char *line, size_t n, unsigned lineno, char *err,
		size_t errlen)
{
	char why[160];

	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
		line[--n] = 0;
	if (!parse_line(p, line, why, sizeof(why)))
		return 0;
	snprintf(err, errlen, "line %u: %s", lineno, why);
	memset(p->lg, 0, sizeof(*p->lg));
	return -EINVAL;
}

int xenlog_parse(const char *text, struct xenlog *lg, char *err, size_t errlen)
{
	struct parser p = { .lg = lg, .wl_rc = -1 };
	unsigned lineno = 0;
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	memset(lg, 0, sizeof(*lg));
	while (*text && !ret) {
		size_t n = strcspn(text, "\n");

		if (n + 1 > cap) {
			char *nl = iob_realloc(line, n + 1);

			if (!nl) {
				iob_free(line);
				snprintf(err, errlen, "line %u: out of memory", lineno + 1);
				memset(lg, 0, sizeof(*lg));
				return -ENOMEM;
			}
			line = nl;
			cap = n + 1;
		}
		memcpy(line, text, n);
		line[n] = 0;
		text += n + (text[n] == '\n');
		ret = feed(&p, line, n, ++lineno, err, errlen);
	}
	iob_free(line);
	return ret ? ret : parse_finish(lg, err, errlen);
}

/*
 * Line by line with getline(), not as one string: a serial console log may
 * hold NUL bytes (a guest's garbage before its first line), which end only
 * that line here.
 */
int xenlog_read(const char *path, struct xenlog *lg, char *err, size_t errlen)
{
	struct parser p = { .lg = lg, .wl_rc = -1 };
	FILE *f = fopen(path, "r");
	unsigned lineno = 0;
	char *line = NULL, why[256];
	size_t cap = 0;
	ssize_t n;
	int ret = 0;

	memset(lg, 0, sizeof(*lg));
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	while (!ret && (n = getline(&line, &cap, f)) >= 0)
		ret = feed(&p, line, (size_t)n, ++lineno, why, sizeof(why));
	if (!ret && ferror(f)) {
		ret = -EIO;
		snprintf(why, sizeof(why), "read error");
	}
	free(line);
	fclose(f);
	if (!ret)
		ret = parse_finish(lg, why, sizeof(why));
	if (ret)
		snprintf(err, errlen, "%s: %s", path, why);
	return ret;
}

const struct xenlog_rec *xenlog_dump_rec(const struct xenlog_dump *d, const char *path)
{
	for (unsigned i = 0; i < d->npaths; i++)
		if (!strcmp(d->recs[i].path, path))
			return &d->recs[i];
	return NULL;
}

uint64_t xenlog_dump_count(const struct xenlog_dump *d, const char *path)
{
	const struct xenlog_rec *r = xenlog_dump_rec(d, path);

	return r ? r->count : 0;
}

uint64_t xenlog_dump_total(const struct xenlog_dump *d, const char *path)
{
	const struct xenlog_rec *r = xenlog_dump_rec(d, path);

	return r ? r->total : 0;
}

uint64_t xenlog_dump_event(const struct xenlog_dump *d, const char *name)
{
	for (unsigned i = 0; i < d->nevents; i++)
		if (!strcmp(d->evname[i], name))
			return d->ev[i];
	return 0;
}
