// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdatomic.h>
#include <stdio.h>

#include <iob/warn.h>

#define WARN_SITES_MAX 32

static atomic_uint_fast64_t warn_count;
static atomic_uint warn_sites;
static char warn_msgs[WARN_SITES_MAX][160];

bool iob_warn_report(bool *once, const char *file, int line, const char *what)
{
	atomic_fetch_add_explicit(&warn_count, 1, memory_order_relaxed);
	if (!__atomic_exchange_n(once, true, __ATOMIC_RELAXED)) {
		unsigned i = atomic_fetch_add(&warn_sites, 1);

		if (i < WARN_SITES_MAX)
			snprintf(warn_msgs[i], sizeof(warn_msgs[i]),
				 "%s:%d: WARN_ON(%s)", file, line, what);
	}
	return true;
}

uint64_t iob_warn_count(void)
{
	return atomic_load(&warn_count);
}

const char *iob_warn_message(size_t i)
{
	unsigned n = atomic_load(&warn_sites);

	if (n > WARN_SITES_MAX)
		n = WARN_SITES_MAX;
	return i < n ? warn_msgs[i] : NULL;
}
