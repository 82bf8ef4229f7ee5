// SPDX-License-Identifier: GPL-2.0-or-later
/* The command line's value parsers: numbers, sizes, PCI addresses, strategy names. */
#include <ctype.h>

#include <iob/hostinfo.h>
#include <iob/hv.h>

#include "util.h"

#include "fuzz.h"

int fuzz_args(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size), buf[64];
	uint64_t v;

	if (!try_parse_u64(s, &v)) {
		char *end;

		fuzz_check(s[0] >= '0' && s[0] <= '9', "'%s' parsed as %llu", s, (unsigned long long)v);
		/* Decimal, or hex after 0x (docs: "Numbers are decimal or 0x hex"). */
		if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
			fuzz_check(strtoull(s, &end, 10) == v, "'%s' parsed as %llu", s,
				   (unsigned long long)v);
		else
			fuzz_check(isxdigit((unsigned char)s[2]) && strtoull(s + 2, &end, 16) == v,
				   "'%s' parsed as %llu", s, (unsigned long long)v);
	}
	if (!try_parse_size(s, &v))
		fmt_size(v, buf, sizeof(buf));
	if (hostinfo_bdf_valid(s))
		fuzz_check(strlen(s) == 12, "'%s' is a valid BDF", s);
	if (hv_strategy_parse(s) >= 0)
		fuzz_check(!strcmp(hv_strategy_name(hv_strategy_parse(s)), s), "'%s'", s);
	free(s);
	return 0;
}

FUZZ_MAIN(fuzz_args)
