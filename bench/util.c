// SPDX-License-Identifier: GPL-2.0-or-later
#include <ctype.h>
#include <sched.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <iob/results.h>

#include "iob.h"
#include "util.h"

void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("iob: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_USAGE);
}

void run_error(const char *fmt, ...)
{
	va_list ap;

	fputs("iob: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/*
 * Decimal, or hex after 0x: what the usage texts promise. strtoull() with
 * base 0 also took a leading 0 as octal, so "--size 010" was 8 bytes
 * (found by tests/fuzz/fuzz_args.c). A 0x without a hex digit after it
 * leaves *@end at the x.
 */
static unsigned long long strtou_dec_hex(const char *s, char **end)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (!isxdigit((unsigned char)s[2])) {
			*end = (char *)s + 1;
			return 0;
		}
		return strtoull(s + 2, end, 16);
	}
	return strtoull(s, end, 10);
}

int try_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtou_dec_hex(s, &end);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

uint64_t parse_u64(const char *s, const char *what)
{
	uint64_t v;

	if (try_parse_u64(s, &v))
		usage_error("%s: '%s' is not an unsigned number (decimal or 0x hex)",
			    what, s ? s : "");
	return v;
}

int try_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtou_dec_hex(s, &end);
	if (errno)
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	case 't': case 'T':
		shift = 40;
		break;
	default:
		return -1;
	}
	if (shift) {
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "B"))
			end += strlen(end);
	}
	if (*end || (shift && v > (~0ULL >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

uint64_t parse_size(const char *s, const char *what)
{
	uint64_t v;

	if (try_parse_size(s, &v))
		usage_error("%s: '%s' is not a size (a number with an optional K, M, G or T; e.g. 4096, 4K, 2M)",
			    what, s ? s : "");
	return v;
}

unsigned parse_page_size(const char *s, const char *what)
{
	uint64_t v = parse_size(s, what);

	if (v < 4096 || (v & (v - 1)))
		usage_error("%s: '%s' must be a power of two of at least 4K", what, s);
	return (unsigned)__builtin_ctzll(v);
}

const char *fmt_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	unsigned u = 0;

	while (u + 1 < sizeof(units) / sizeof(units[0]) && bytes &&
	       !(bytes & 1023)) {
		bytes >>= 10;
		u++;
	}
	snprintf(buf, len, "%llu %s", (unsigned long long)bytes, units[u]);
	return buf;
}

unsigned parse_repeat(const char *s)
{
	uint64_t v = parse_u64(s, "--repeat");

	if (v < 1 || v > 1000)
		usage_error("--repeat: %s is not in 1..1000", s);
	return (unsigned)v;
}

const char *iob_version(void)
{
	return results_tool_version();
}

int parse_cpu(const char *s)
{
	uint64_t v = parse_u64(s, "--cpu");
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		run_error("sched_getaffinity: %s", strerror(errno));
	if (v >= CPU_SETSIZE || !CPU_ISSET((int)v, &set))
		usage_error("--cpu: CPU %s is not one this process may run on (%d allowed)", s,
			    CPU_COUNT(&set));
	return (int)v;
}

bool list_has_empty(const char *val, char sep)
{
	size_t n = strlen(val);

	if (!n || val[0] == sep || val[n - 1] == sep)
		return true;
	for (const char *p = val; p[1]; p++)
		if (p[0] == sep && p[1] == sep)
			return true;
	return false;
}

void check_list(const char *val, const char *what)
{
	if (list_has_empty(val, ','))
		usage_error("%s: '%s' has an empty item", what, val);
}
