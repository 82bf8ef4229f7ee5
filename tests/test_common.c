// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The bottom layer: the allocator's failure injection and counts, the
 * warnings lib/ records instead of printing, and whole text files.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iob/alloc.h>
#include <iob/textfile.h>
#include <iob/warn.h>

#include "tmpname.h"

/* ---- alloc ------------------------------------------------------------------ */

Test(alloc, fail_after_fails_exactly_the_chosen_allocation_once)
{
	void *p[5];

	iob_fail_after(2);
	for (int i = 0; i < 5; i++)
		p[i] = iob_malloc(16);
	iob_fail_after(-1);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(p[i] == NULL, i == 2, "allocation %d", i);
	for (int i = 0; i < 5; i++)
		iob_free(p[i]);
}

Test(alloc, every_allocator_is_an_injection_site_and_counted)
{
	uint64_t calls = iob_alloc_calls();
	int64_t live = iob_alloc_live();
	void *p;

	for (int site = 0; site < 5; site++) {
		iob_fail_after(0);
		switch (site) {
		case 0: p = iob_malloc(8); break;
		case 1: p = iob_calloc(2, 8); break;
		case 2: p = iob_realloc(NULL, 8); break;
		case 3: p = iob_aligned_alloc(4096, 8); break;
		default: p = iob_aligned_calloc(64, 2, 8); break;
		}
		iob_fail_after(-1);
		cr_assert_null(p, "site %d did not fail", site);
	}
	cr_assert_eq(iob_alloc_calls() - calls, 5);
	cr_assert_eq(iob_alloc_live(), live);
}

Test(alloc, failed_realloc_keeps_the_old_block)
{
	int64_t live = iob_alloc_live();
	char *p = iob_malloc(4), *q;

	memcpy(p, "abc", 4);
	cr_assert_eq(iob_alloc_live(), live + 1);
	iob_fail_after(0);
	q = iob_realloc(p, 1 << 20);
	iob_fail_after(-1);
	cr_assert_null(q);
	cr_assert_str_eq(p, "abc");
	q = iob_realloc(p, 1 << 20);
	cr_assert_not_null(q);
	cr_assert_str_eq(q, "abc");
	cr_assert_eq(iob_alloc_live(), live + 1, "a move is not a new allocation");
	iob_free(q);
	cr_assert_eq(iob_alloc_live(), live);
}

Test(alloc, aligned_memory_is_aligned_and_zeroed)
{
	uint8_t *p = iob_aligned_calloc(4096, 3, 1000);

	cr_assert_not_null(p);
	cr_assert_eq((uintptr_t)p & 4095, 0);
	for (int i = 0; i < 3000; i++)
		cr_assert_eq(p[i], 0);
	iob_free(p);
	{
		uint64_t calls = iob_alloc_calls();

		cr_assert_null(iob_aligned_calloc(64, SIZE_MAX / 2, 4), "overflow");
		cr_assert_null(iob_calloc(SIZE_MAX / 2, 4), "overflow");
		cr_assert_eq(iob_alloc_calls(), calls, "an overflow is no allocation");
	}
}

Test(alloc, untracked_memory_leaves_the_live_count)
{
	int64_t live = iob_alloc_live();
	void *kept = iob_malloc(32);

	cr_assert_eq(iob_alloc_live(), live + 1);
	iob_alloc_untrack(kept);
	iob_alloc_untrack(NULL);
	cr_assert_eq(iob_alloc_live(), live);
	/* Untracked memory never goes to iob_free(); it is malloc(3)'s. */
	free(kept);
}

/* ---- warn ------------------------------------------------------------------- */

static bool check(int v)
{
	return IOB_WARN_ON(v > 2);
}

Test(warn, each_failed_check_counts_and_each_site_reports_once)
{
	uint64_t n = iob_warn_count();

	cr_assert_null(iob_warn_message(0), "a fresh process has no reports");
	cr_assert_not(check(1));
	cr_assert_eq(iob_warn_count(), n);
	cr_assert(check(3));
	cr_assert(check(4));
	cr_assert_eq(iob_warn_count(), n + 2);
	cr_assert_not_null(iob_warn_message(0));
	cr_assert(strstr(iob_warn_message(0), "test_common.c"), "%s", iob_warn_message(0));
	cr_assert(strstr(iob_warn_message(0), "WARN_ON(v > 2)"), "%s", iob_warn_message(0));
	cr_assert_null(iob_warn_message(1), "one report per site");
	cr_assert(IOB_WARN_ON(true));
	cr_assert_not_null(iob_warn_message(1));
	cr_assert_null(iob_warn_message(2));
}

/* ---- textfile ----------------------------------------------------------------- */

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, n, f), n);
	fclose(f);
}

Test(textfile, reads_a_file_whole_and_terminates_it)
{
	int64_t live = iob_alloc_live();
	char *text, err[256] = "", path[256];

	tmpname_file(path, sizeof(path), "iobtest-text");
	write_file(path, "a = 1\nb = 2", 11);
	cr_assert_eq(textfile_read(path, 11, "a test file", &text, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(text, "a = 1\nb = 2");
	iob_free(text);
	write_file(path, "", 0);
	cr_assert_eq(textfile_read(path, 11, "a test file", &text, NULL, 0), 0);
	cr_assert_str_eq(text, "");
	iob_free(text);
	cr_assert_eq(iob_alloc_live(), live);
	unlink(path);
}

Test(textfile, refuses_what_it_cannot_use_naming_the_file_and_reason)
{
	int64_t live = iob_alloc_live();
	char *text = (char *)1, err[256], path[256];

	tmpname_file(path, sizeof(path), "iobtest-text");
	write_file(path, "0123456789", 10);
	cr_assert_eq(textfile_read(path, 9, "a test file", &text, err, sizeof(err)), -EINVAL);
	cr_assert_null(text);
	cr_assert(strstr(err, path) == err, "%s", err);
	cr_assert(strstr(err, "larger than 9 bytes"), "%s", err);
	cr_assert_eq(textfile_read(path, 10 << 20, "x", &text, err, sizeof(err)), 0);
	iob_free(text);
	cr_assert_eq(textfile_read(path, 5 << 20, "x", &text, err, sizeof(err)), 0);
	iob_free(text);

	write_file(path, "ab\0cd", 5);
	cr_assert_eq(textfile_read(path, 100, "a trace", &text, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "binary data, not a trace"), "%s", err);
	cr_assert_null(text);

	write_file(path, "abc", 3);
	snprintf(err, sizeof(err), "stale");
	iob_fail_after(0);
	cr_assert_eq(textfile_read(path, 100, "x", &text, err, sizeof(err)), -ENOMEM);
	iob_fail_after(-1);
	cr_assert_null(text);
	cr_assert(strstr(err, path) == err, "%s", err);
	cr_assert(strstr(err, "out of memory"), "%s", err);
	unlink(path);

	cr_assert_eq(textfile_read(path, 100, "x", &text, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, path) == err, "%s", err);
	cr_assert(strstr(err, strerror(ENOENT)), "%s", err);
	cr_assert_eq(iob_alloc_live(), live);
}
