/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internal-invariant checks for lib/. The library never prints or exits:
 * a failed check is counted, and the first report from each site is kept
 * for the program (iob) to print. Thread-safe.
 *
 * Names: IOB_WARN_ON() after the kernel's WARN_ON(), and iob_warn_* for
 * its records; the library prefix, since every layer uses them.
 */
#ifndef IOB_WARN_H
#define IOB_WARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * iob_warn_report() - Record one failed check; IOB_WARN_ON() calls it.
 * @once: the site's flag: the first report from a site keeps its message
 * @file: source file of the check
 * @line: its line
 * @what: the condition, as written
 *
 * Every call counts; only the first 32 sites keep a message.
 *
 * Return: true, so that it can sit in a condition.
 */
bool iob_warn_report(bool *once, const char *file, int line, const char *what);

/* IOB_WARN_ON() - true if @cond holds; then counts it and records it once. */
#define IOB_WARN_ON(cond) ({						\
	static bool iob_warn_once_;					\
	bool iob_warn_c_ = !!(cond);					\
	if (__builtin_expect(iob_warn_c_, 0))				\
		iob_warn_report(&iob_warn_once_, __FILE__, __LINE__, #cond); \
	iob_warn_c_;							\
})

/**
 * iob_warn_count() - Failed checks so far, all sites, all threads.
 *
 * Return: the count; 0 in a healthy run.
 */
uint64_t iob_warn_count(void);

/**
 * iob_warn_message() - The @i-th recorded report, in the order the sites
 * first failed.
 * @i: 0 for the first
 *
 * Return: "FILE:LINE: WARN_ON(condition)", or NULL past the last one.
 */
const char *iob_warn_message(size_t i);

#endif /* IOB_WARN_H */
