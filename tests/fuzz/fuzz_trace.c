// SPDX-License-Identifier: GPL-2.0-or-later
/* trace_parse(): the project's trace format and Linux tracefs iommu events. */
#include <iob/trace.h>

#include "fuzz.h"

int fuzz_trace(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size), err[256];
	struct trace t;

	if (!trace_parse(s, &t, err, sizeof(err))) {
		for (size_t i = 0; i < t.n; i++) {
			const struct trace_event *e = &t.ev[i];

			fuzz_check(e->op == TRACE_MAP || e->op == TRACE_UNMAP, "op %d", e->op);
			fuzz_check(e->size && !(e->size & 4095), "event %zu: size %llu", i,
				   (unsigned long long)e->size);
		}
		trace_free(&t);
	} else {
		fuzz_check(err[0], "an error without a message");
	}
	free(s);
	return 0;
}

FUZZ_MAIN(fuzz_trace)
