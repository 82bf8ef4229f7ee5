// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iob/alloc.h>
#include <iob/cost.h>
#include <iob/textfile.h>

static const struct {
	const char *name;
	const char *doc;
	size_t off;
	double def;
} params[] = {
#define COST_ROW(n, d, doc) { #n, doc, offsetof(struct cost_model, n), d },
	COST_PARAMS(COST_ROW)
#undef COST_ROW
};

#define NPARAMS (sizeof(params) / sizeof(params[0]))

void cost_defaults(struct cost_model *m)
{
	for (size_t i = 0; i < NPARAMS; i++)
		*(double *)((char *)m + params[i].off) = params[i].def;
}

static struct cost_model current;
static bool current_set;

void cost_set_current(const struct cost_model *m)
{
	current = *m;
	current_set = true;
}

void cost_current(struct cost_model *m)
{
	if (current_set)
		*m = current;
	else
		cost_defaults(m);
}

size_t cost_nparams(void)
{
	return NPARAMS;
}

const char *cost_param_name(size_t i)
{
	return i < NPARAMS ? params[i].name : NULL;
}

const char *cost_param_doc(size_t i)
{
	return i < NPARAMS ? params[i].doc : NULL;
}

double cost_param_get(const struct cost_model *m, size_t i)
{
	return i < NPARAMS ? *(const double *)((const char *)m + params[i].off) : 0;
}

static bool pow2_in(double v, double lo, double hi)
{
	unsigned long u = (unsigned long)v;

	return v >= lo && v <= hi && (double)u == v && !(u & (u - 1));
}

static bool geometry_ok(double entries, double ways)
{
	return pow2_in(entries, 1, 65536) && pow2_in(ways, 1, entries);
}

static size_t geo_index(const char *name)
{
	size_t i = 0;

	while (i < NPARAMS - 1 && strcmp(params[i].name, name))
		i++;
	return i;
}

static int fail(char *err, size_t errlen, unsigned line, const char *why,
		const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "line %u: %s%s%s", line, why,
			 what ? ": " : "", what ? what : "");
	return -EINVAL;
}

int cost_parse(struct cost_model *m, const char *text, char *err, size_t errlen)
{
	struct cost_model tmp = *m;
	bool seen[NPARAMS] = { false };
	unsigned lineno = 0;
	const char *p = text;

	while (*p) {
		char line[256], key[64];
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *s, *eq, *end, *k;
		size_t i;
		double v;

		lineno++;
		if (len >= sizeof(line))
			return fail(err, errlen, lineno, "line too long", NULL);
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (nl ? 1 : 0);

		if ((s = strchr(line, '#')))
			*s = '\0';
		for (s = line; isspace((unsigned char)*s); s++)
			;
		if (!*s)
			continue;
		eq = strchr(s, '=');
		if (!eq)
			return fail(err, errlen, lineno, "expected key = value", NULL);
		*eq = '\0';
		k = s;
		for (end = eq; end > k && isspace((unsigned char)end[-1]); end--)
			;
		*end = '\0';
		if (!*k || strlen(k) >= sizeof(key))
			return fail(err, errlen, lineno, "missing key", NULL);
		strcpy(key, k);
		for (i = 0; i < NPARAMS; i++)
			if (!strcmp(key, params[i].name))
				break;
		if (i == NPARAMS)
			return fail(err, errlen, lineno, "unknown parameter", key);
		if (seen[i])
			return fail(err, errlen, lineno, "parameter given twice", key);
		seen[i] = true;
		errno = 0;
		v = strtod(eq + 1, &end);
		if (end == eq + 1 || errno)
			return fail(err, errlen, lineno, "value is not a number", key);
		while (isspace((unsigned char)*end))
			end++;
		if (*end)
			return fail(err, errlen, lineno, "trailing characters after value", key);
		if (!(v >= 0) || v > 1e12)
			return fail(err, errlen, lineno, "value out of range [0, 1e12]", key);
		if (!strcmp(key, "dma_bytes_per_ns") && v == 0)
			return fail(err, errlen, lineno, "a link of 0 bytes per ns never moves data", key);
		*(double *)((char *)&tmp + params[i].off) = v;
	}
	if ((seen[geo_index("iotlb_entries")] || seen[geo_index("iotlb_ways")]) &&
	    !geometry_ok(tmp.iotlb_entries, tmp.iotlb_ways))
		return fail(err, errlen, lineno, "IOTLB geometry must be powers of two with 1 <= "
			    "iotlb_ways <= iotlb_entries <= 65536", NULL);
	*m = tmp;
	return 0;
}

size_t cost_format(const struct cost_model *m, char *buf, size_t len)
{
	size_t n = 0;

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < NPARAMS; i++) {
		int k = snprintf(buf + (n < len ? n : len), n < len ? len - n : 0, "%s = %.17g  # %s\n",
				 params[i].name, cost_param_get(m, i), params[i].doc);

		if (k < 0)
			break;
		n += (size_t)k;
	}
	return n;
}

int cost_load(struct cost_model *m, const char *path, char *err, size_t errlen)
{
	char *buf;
	int ret;

	ret = textfile_read(path, (size_t)1 << 20, "a cost model", &buf, err, errlen);
	if (ret)
		return ret;
	ret = cost_parse(m, buf, err, errlen);
	iob_free(buf);
	return ret;
}
