/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internal-invariant checks for lib/. The library never prints or exits:
 * a failed check is counted, and the first report from each site is kept
 * for the program (iob) to print.
 */
#ifndef IOB_WARN_H
#define IOB_WARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Records one failed check. Returns true so it can sit in a condition. */
bool iob_warn_report(bool *once, const char *file, int line, const char *what);

/* IOB_WARN_ON() - true if @cond holds; then counts it and records it once. */
#define IOB_WARN_ON(cond) ({						\
	static bool iob_warn_once_;					\
	bool iob_warn_c_ = !!(cond);					\
	if (__builtin_expect(iob_warn_c_, 0))				\
		iob_warn_report(&iob_warn_once_, __FILE__, __LINE__, #cond); \
	iob_warn_c_;							\
})

/* Failed checks so far, all sites. */
uint64_t iob_warn_count(void);

/*
 * iob_warn_message() - The @i-th recorded report (first from each site),
 * or NULL past the last one.
 */
const char *iob_warn_message(size_t i);

#endif /* IOB_WARN_H */
