// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dombuild: build a domain of @build_mib MiB with its device, then destroy
 * it, @ios times. With superpages the build populates 1 GiB and 2 MiB
 * extents (and, under hook, the I/O page table gets 1G/2M leaves); without,
 * 4 KiB pages one by one.
 */
#include <errno.h>

#include "workload.h"

static int dombuild_run(const struct wl_params *p, struct wl_env *e, struct wl_result *r)
{
	uint64_t pages = p->build_mib * 256;
	bool sp = e->hv_cfg.tune.superpages;
	struct wl_timer t = { 0 };
	int ret = 0;

	for (uint64_t i = 0; i < p->ios && !ret; i++) {
		domid_t d;
		uint16_t dev = (uint16_t)(e->devid + 1);

		wl_seg_start(&t);
		ret = hv_domain_create(e->hv, pages, &d);
		if (!ret)
			ret = hv_assign_device(e->hv, dev, d);
		for (gfn_t g = 0; !ret && g < pages;) {
			unsigned order = sp && !(g & ((1 << 18) - 1)) && g + (1 << 18) <= pages ? 18 :
					 sp && !(g & 511) && g + 512 <= pages ? 9 : 0;

			ret = hv_populate(e->hv, d, g, order);
			g += 1ULL << order;
		}
		if (!ret)
			ret = hv_domain_destroy(e->hv, d);
		wl_seg_stop(&t);
		wl_io_done(&t, r, pages * 4096);
	}
	return ret;
}

const struct workload wl_dombuild = {
	.name = "dombuild",
	.summary = "build and destroy a domain of N MiB, 4K pages or superpages",
	.run = dombuild_run,
};
