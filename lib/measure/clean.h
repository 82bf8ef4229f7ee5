/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Private to lib/measure: metadata values as the results format wants them. */
#ifndef IOB_MEASURE_CLEAN_H
#define IOB_MEASURE_CLEAN_H

#include <stddef.h>

/*
 * Copy @src into @dst (@len bytes, NUL included), single-line: metadata
 * values are one line each, so control characters become spaces. @dst may
 * be @src.
 */
static inline void clean_copy(char *dst, size_t len, const char *src)
{
	size_t n = 0;

	for (; *src && n + 1 < len; src++) {
		unsigned char ch = (unsigned char)*src;

		dst[n++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
	}
	dst[n] = '\0';
}

#endif /* IOB_MEASURE_CLEAN_H */
