/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Allocation failure at every site of one call (lib/common/alloc.h): run
 * it with allocation n failing, n = 0, 1, 2, ... until it succeeds. Each
 * failure must return -ENOMEM, must have reached allocation n (so the
 * walk visits every site in turn), must give back every allocation it
 * made and must leave the caller's state as it was.
 */
#ifndef IOB_TEST_FAILINJECT_H
#define IOB_TEST_FAILINJECT_H

#include <errno.h>
#include <stdint.h>

#include <criterion/criterion.h>

#include <iob/alloc.h>

struct failinject {
	const char *what;
	/* The call under test: 0 or a negative errno. */
	int (*op)(void *ctx);
	/* After the call succeeded: undo it (free what it made). May be NULL. */
	void (*undo)(void *ctx);
	/* A fingerprint of what a failed call must not change. May be NULL. */
	uint64_t (*state)(void *ctx);
	void *ctx;
};

/* Returns the failures seen: the allocation sites the call reached. */
static inline unsigned failinject_each(const struct failinject *fi)
{
	for (long n = 0;; n++) {
		uint64_t before = fi->state ? fi->state(fi->ctx) : 0;
		int64_t live = iob_alloc_live();
		uint64_t calls = iob_alloc_calls();
		int ret;

		iob_fail_after(n);
		ret = fi->op(fi->ctx);
		iob_fail_after(-1);
		if (!ret) {
			if (fi->undo)
				fi->undo(fi->ctx);
			return (unsigned)n;
		}
		cr_assert_eq(ret, -ENOMEM, "%s, allocation %ld failing: got %d", fi->what, n, ret);
		cr_assert_gt(iob_alloc_calls() - calls, (uint64_t)n,
			     "%s failed with -ENOMEM before reaching allocation %ld", fi->what, n);
		cr_assert_eq(iob_alloc_live(), live, "%s, allocation %ld failing: %lld leaked",
			     fi->what, n, (long long)(iob_alloc_live() - live));
		if (fi->state)
			cr_assert_eq(fi->state(fi->ctx), before,
				     "%s, allocation %ld failing: state changed", fi->what, n);
		cr_assert_lt(n, 100000, "%s never succeeds", fi->what);
	}
}

#endif
