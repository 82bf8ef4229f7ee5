// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * balloon: the guest gives memory back and takes it again, @chunk_pages
 * pages per decrease/increase_reservation call, @ios calls each way,
 * cycling over the balloon region. Under hook every page leaves the I/O
 * page table too; Xen 4.17 invalidates page by page (strict), the tuned
 * path once per call (batched).
 */
#include <errno.h>
#include <stdlib.h>

#include "workload.h"

static int balloon_run(const struct wl_params *p, struct wl_env *e, struct wl_result *r)
{
	unsigned chunk = (unsigned)p->chunk_pages;
	gfn_t *g = calloc(chunk, sizeof(*g));
	struct wl_timer t = { 0 };
	uint64_t chunks = e->buf_pages / chunk;
	int ret = 0;

	if (!g)
		return -ENOMEM;
	if (!chunks || chunk > HV_BATCH_MAX) {
		free(g);
		return -E2BIG;
	}
	for (uint64_t i = 0; i < p->ios && !ret; i++) {
		gfn_t base = e->buf_base + (i % chunks) * chunk;

		for (unsigned k = 0; k < chunk; k++)
			g[k] = base + k;
		wl_seg_start(&t);
		ret = hv_decrease_reservation(e->hv, e->dom, g, chunk, 0);
		wl_seg_stop(&t);
		wl_io_done(&t, r, (uint64_t)chunk * 4096);
		if (ret)
			break;
		wl_seg_start(&t);
		ret = hv_increase_reservation(e->hv, e->dom, g, chunk, 0);
		wl_seg_stop(&t);
		wl_io_done(&t, r, (uint64_t)chunk * 4096);
		hv_tick(e->hv);
	}
	free(g);
	return ret;
}

const struct workload wl_balloon = {
	.name = "balloon",
	.summary = "inflate and deflate the balloon, chunk pages per hypercall",
	.run = balloon_run,
};
