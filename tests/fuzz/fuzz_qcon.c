// SPDX-License-Identifier: GPL-2.0-or-later
/* qcon_parse(): the QEMU guest's console log, IOB-* lines with key=value fields. */
#include "qemu.h"

#include "fuzz.h"

int fuzz_qcon(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "status", "mode", "pages", "ns", "name", "" };
	char *s = fuzz_str(data, size), err[256];
	struct qcon c;

	if (!qcon_parse(s, &c, err, sizeof(err))) {
		for (size_t i = 0; i < c.n; i++)
			for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
				uint64_t u;
				double d;

				qcon_get(&c.rec[i], keys[k]);
				qcon_get_u64(&c.rec[i], keys[k], &u);
				qcon_get_double(&c.rec[i], keys[k], &d);
			}
		qcon_free(&c);
	}
	free(s);
	return 0;
}

FUZZ_MAIN(fuzz_qcon)
