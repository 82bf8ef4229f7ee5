// SPDX-License-Identifier: GPL-2.0-or-later
/* A dynamic PMU's event from its sysfs description (iob/pmuev.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iob/pmuev.h>
#include <iob/textfile.h>
#include <iob/alloc.h>

#define SYSFS_PMU "/sys/bus/event_source/devices"

/* The first line of @root/<pmu dir>/@rel, trimmed, into @buf. */
static int read_line(const char *root, const char *pmu, const char *rel, char *buf, size_t n,
		     char *err, size_t len)
{
	char path[1024], *text = NULL, e[256];
	int ret;

	snprintf(path, sizeof(path), "%s" SYSFS_PMU "/%s/%s", root, pmu, rel);
	ret = textfile_read(path, 4096, rel, &text, e, sizeof(e));
	if (ret) {
		snprintf(err, len, "%s: %s", path, ret == -ENOENT ? "absent" : e);
		return ret;
	}
	snprintf(buf, n, "%s", text);
	buf[strcspn(buf, "\n")] = '\0';
	iob_free(text);
	return 0;
}

/* Put @v into the bits of @fmt ("config:0-7", "config1:16", "config:0-7,32-35"). */
static int apply(struct pmuev *ev, const char *fmt, uint64_t v)
{
	char word[16];
	const char *p = strchr(fmt, ':');
	uint64_t *dst;
	unsigned shift = 0;

	if (!p || (size_t)(p - fmt) >= sizeof(word))
		return -EINVAL;
	memcpy(word, fmt, (size_t)(p - fmt));
	word[p - fmt] = '\0';
	dst = !strcmp(word, "config") ? &ev->config : !strcmp(word, "config1") ? &ev->config1 :
	      !strcmp(word, "config2") ? &ev->config2 : NULL;
	if (!dst)
		return -EINVAL;
	for (p++; *p;) {
		char *end;
		unsigned long lo = strtoul(p, &end, 10), hi = lo;

		if (end == p || lo > 63)
			return -EINVAL;
		if (*end == '-') {
			p = end + 1;
			hi = strtoul(p, &end, 10);
			if (end == p || hi > 63 || hi < lo)
				return -EINVAL;
		}
		for (unsigned long b = lo; b <= hi; b++, shift++)
			if (v >> shift & 1)
				*dst |= 1ULL << b;
		if (*end == ',')
			end++;
		else if (*end)
			return -EINVAL;
		p = end;
	}
	return shift < 64 && v >> shift ? -EINVAL : 0;
}

static int term(const char *root, const char *pmu, const char *name, uint64_t v,
		struct pmuev *ev, char *err, size_t len)
{
	char rel[256], fmt[256];
	int ret;

	snprintf(rel, sizeof(rel), "format/%s", name);
	ret = read_line(root, pmu, rel, fmt, sizeof(fmt), err, len);
	if (ret)
		return ret;
	if (apply(ev, fmt, v)) {
		snprintf(err, len, "%s/%s: '%s' is not config[12]:BITS or %s = 0x%llx is wider", pmu,
			 rel, fmt, name, (unsigned long long)v);
		return -EINVAL;
	}
	return 0;
}

int pmuev_resolve(const char *root, const char *pmu, const char *event,
		  const struct pmuev_term *terms, size_t nterms, struct pmuev *out, char *err,
		  size_t len)
{
	char buf[512], rel[256], *save = NULL, *end;
	unsigned long type;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = read_line(root, pmu, "type", buf, sizeof(buf), err, len);
	if (ret)
		return ret;
	errno = 0;
	type = strtoul(buf, &end, 10);
	if (errno || end == buf || *end || type > UINT32_MAX) {
		snprintf(err, len, "%s/type: '%s' is not a number", pmu, buf);
		return -EINVAL;
	}
	out->type = (uint32_t)type;
	snprintf(rel, sizeof(rel), "events/%s", event);
	ret = read_line(root, pmu, rel, buf, sizeof(buf), err, len);
	for (char *t = ret ? NULL : strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		uint64_t v = 1;

		if (eq) {
			*eq = '\0';
			errno = 0;
			v = strtoull(eq + 1, &end, 0);
			if (errno || end == eq + 1 || *end) {
				snprintf(err, len, "%s/%s: '%s' is not a number", pmu, rel, eq + 1);
				return -EINVAL;
			}
		}
		ret = term(root, pmu, t, v, out, err, len);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < nterms && !ret; i++)
		ret = term(root, pmu, terms[i].name, terms[i].value, out, err, len);
	return ret;
}
