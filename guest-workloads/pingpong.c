// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pingpong: the DMA API's simplest pattern, one I/O at a time. Map a
 * buffer of @io_bytes for the device, the device writes it, unmap it;
 * every @budget I/Os the DMA API is flushed (the deferred unmaps issued
 * and their invalidation waited for: in strict mode there is nothing
 * left to flush). @ring buffers in the guest's buffer area are reused
 * round-robin, as a driver's ring reuses its slots. The per-I/O cost of
 * each strategy and tuning with nothing else going on (it was `iob
 * strategy`).
 */
#include <errno.h>

#include "workload.h"

static int pingpong_run(const struct wl_params *p, struct wl_env *e, struct wl_result *r)
{
	unsigned pages = (unsigned)((p->io_bytes + 4095) / 4096);
	struct wl_attacker atk = { .on = p->attack };
	struct wl_timer t = { 0 };
	gfn_t gfns[HV_DMA_PAGES_MAX];
	int ret = 0;

	if (pages > HV_DMA_PAGES_MAX || pages > dps_max_pages(e->dps) ||
	    p->ring * pages > e->buf_pages)
		return -E2BIG;
	for (uint64_t i = 0; i < p->ios && !ret; i++) {
		gfn_t base = e->buf_base + (i % p->ring) * pages;
		uint64_t addr, mfn = INVALID_MFN;

		for (unsigned k = 0; k < pages; k++)
			gfns[k] = base + k;
		wl_seg_start(&t);
		ret = dps_map(e->dps, gfns, pages, IOPT_PROT_WRITE, &addr);
		wl_seg_stop(&t);
		/* The device's DMA is hardware: not timed; a fault fails the run. */
		if (!ret)
			ret = wl_dma(e, addr, p->io_bytes, IOPT_PROT_WRITE, r, &mfn);
		if (ret)
			break;
		wl_seg_start(&t);
		ret = dps_unmap(e->dps, addr, pages);
		if (!ret && (i + 1) % p->budget == 0)
			ret = dps_flush(e->dps);
		wl_seg_stop(&t);
		wl_io_done(&t, r, p->io_bytes);
		/* The attacker hits what was just unmapped, and what was unmapped lately. */
		wl_attack_unmapped(&atk, e, addr, mfn);
		if ((i & 63) == 63)
			hv_tick(e->hv);
	}
	return ret ? ret : dps_flush(e->dps);
}

const struct workload wl_pingpong = {
	.name = "pingpong",
	.summary = "map, device DMA, unmap, one I/O at a time; a flush every budget I/Os",
	.run = pingpong_run,
};
