// SPDX-License-Identifier: GPL-2.0-or-later
/* Reading `perf stat -x,` output. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iob/perfstat.h>

#define FIELDS_MIN 5
#define FIELDS_MAX 16

static int bad(char *err, size_t len, unsigned line, const char *why)
{
	if (err && len)
		snprintf(err, len, "line %u: %s", line, why);
	return -EINVAL;
}

/* Split @s (modified) at commas into at most FIELDS_MAX fields. */
static unsigned split(char *s, char **f)
{
	unsigned n = 0;

	f[n++] = s;
	for (; *s && n < FIELDS_MAX; s++)
		if (*s == ',') {
			*s = '\0';
			f[n++] = s + 1;
		}
	return n;
}

static int one(char *line, unsigned lineno, struct perfstat_row *r, char *err, size_t len)
{
	char *f[FIELDS_MAX], *end;
	unsigned n = split(line, f);
	double pct;

	memset(r, 0, sizeof(*r));
	if (n < FIELDS_MIN)
		return bad(err, len, lineno, "fewer than 5 comma-separated fields");
	if (!f[2][0] || strlen(f[2]) >= sizeof(r->event))
		return bad(err, len, lineno, "no event name, or one over 127 characters");
	strcpy(r->event, f[2]);
	r->supported = true;
	if (!strcmp(f[0], "<not supported>")) {
		r->supported = false;
	} else if (strcmp(f[0], "<not counted>")) {
		errno = 0;
		if (f[0][0] < '0' || f[0][0] > '9')
			return bad(err, len, lineno, "the value is not a number");
		r->value = strtoull(f[0], &end, 10);
		/* perf prints scaled counts of multiplexed events with decimals. */
		if (*end == '.')
			strtoul(end + 1, &end, 10);
		if (errno || *end)
			return bad(err, len, lineno, "the value is not a number");
		r->counted = true;
	}
	if (f[4][0]) {
		pct = strtod(f[4], &end);
		if (*end || !(pct >= 0 && pct <= 100))
			return bad(err, len, lineno, "the running share is not a percentage");
		r->running_pct = pct;
	}
	return 0;
}

int perfstat_parse(const char *text, struct perfstat_row *rows, size_t max, size_t *n,
		   char *err, size_t errlen)
{
	unsigned lineno = 0;
	const char *p = text;

	*n = 0;
	while (*p) {
		size_t l = strcspn(p, "\n");
		char line[1024];
		int ret;

		lineno++;
		if (l >= sizeof(line))
			return bad(err, errlen, lineno, "a line over 1023 characters");
		memcpy(line, p, l);
		line[l] = '\0';
		p += l + (p[l] == '\n');
		if (line[0] == '#' || !line[strspn(line, " \t\r")])
			continue;
		if (*n == max) {
			if (err && errlen)
				snprintf(err, errlen, "line %u: more than %zu events", lineno, max);
			return -ENOSPC;
		}
		ret = one(line, lineno, &rows[*n], err, errlen);
		if (ret)
			return ret;
		(*n)++;
	}
	return 0;
}
