// SPDX-License-Identifier: GPL-2.0-or-later
/* qgc_count(): the guest's tracefs capture of amd_iommu commands. */
#include "qemu.h"

#include "fuzz.h"

int fuzz_qgc(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size), err[256];
	struct qtr_counts c;

	if (!qgc_count(s, &c, err, sizeof(err))) {
		uint64_t sized = 0;

		for (int i = 0; i < QTR_SIZE_NR; i++)
			sized += c.inval_by_size[i];
		fuzz_check(sized == c.ev[QTR_PAGES_INVAL], "%llu sized, %llu page invalidations",
			   (unsigned long long)sized, (unsigned long long)c.ev[QTR_PAGES_INVAL]);
	}
	if (size >= 8) {
		uint32_t c2, c3;

		memcpy(&c2, data, 4);
		memcpy(&c3, data + 4, 4);
		fuzz_check(qgc_inval_size(c2, c3) >= 0 && qgc_inval_size(c2, c3) < QTR_SIZE_NR,
			   "size class %d", qgc_inval_size(c2, c3));
	}
	free(s);
	return 0;
}

FUZZ_MAIN(fuzz_qgc)
