// SPDX-License-Identifier: GPL-2.0-or-later
/* xenlog_parse(): Xen's console with the patched counters' CSV dump lines. */
#include "xenlog.h"

#include "fuzz.h"

int fuzz_xenlog(const uint8_t *data, size_t size)
{
	static struct xenlog lg;	/* large: 64 dumps */
	char *s = fuzz_str(data, size), err[256];

	if (!xenlog_parse(s, &lg, err, sizeof(err))) {
		fuzz_check(lg.ndumps <= XENLOG_DUMPS_MAX, "%u dumps", lg.ndumps);
		for (unsigned d = 0; d < lg.ndumps; d++) {
			const struct xenlog_dump *x = &lg.dumps[d];

			fuzz_check(x->npaths <= XENLOG_PATHS_MAX && x->nevents <= XENLOG_EVENTS_MAX,
				   "%u paths, %u events", x->npaths, x->nevents);
			for (unsigned p = 0; p < x->npaths; p++) {
				xenlog_dump_rec(x, x->recs[p].path);
				xenlog_dump_count(x, x->recs[p].path);
				xenlog_dump_total(x, x->recs[p].path);
			}
			xenlog_dump_event(x, "iotlb_flush");
		}
	}
	free(s);
	return 0;
}

FUZZ_MAIN(fuzz_xenlog)
