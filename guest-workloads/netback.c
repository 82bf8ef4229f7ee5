// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * netback: a PV network backend in a driver domain (with the NIC) moving
 * packets for a frontend domain (without one). The frontend grants its
 * buffers once; for every packet the backend maps the grant, lets the
 * device DMA into the frame, and unmaps it, @budget packets per batch of
 * grant operations (Xen's netback maps and unmaps grants in batches).
 *
 * Under hook the grant map itself gives the device its address (Xen maps
 * granted frames into the backend's IOMMU table); under pv and dmalayer
 * the backend must also map the granted page for its device.
 */
#include <errno.h>
#include <stdlib.h>

#include "workload.h"

#define NB_GRANTS 512

static int netback_run(const struct wl_params *p, struct wl_env *e, struct wl_result *r)
{
	bool hook = hv_config(e->hv)->strategy == HV_HOOK;
	unsigned batch = (unsigned)(p->budget < NB_GRANTS ? p->budget : NB_GRANTS);
	grant_ref_t *ref = calloc(NB_GRANTS, sizeof(*ref));
	grant_handle_t *h = calloc(batch, sizeof(*h));
	uint64_t *bus = calloc(batch, sizeof(*bus));
	uint64_t *dev = calloc(batch, sizeof(*dev));
	uint64_t *dmfn = calloc(batch, sizeof(*dmfn));	/* the frame each DMA reached */
	struct wl_attacker atk = { .on = p->attack };
	struct wl_timer t = { 0 };
	uint64_t len = p->io_bytes > 4096 ? 4096 : p->io_bytes;
	int ret = 0;

	if (!ref || !h || !bus || !dev || !dmfn) {
		ret = -ENOMEM;
		goto out;
	}
	if (!e->peer || e->hole_pages < batch) {
		ret = -EINVAL;
		goto out;
	}
	/* The frontend grants its receive buffers once (untimed: its side). */
	for (unsigned i = 0; i < NB_GRANTS && !ret; i++) {
		/* Resident, as a running guest's are (where frames hold bytes: swiotlb copies). */
		volatile uint8_t *b = hv_frame_mem(e->hv, hv_p2m_lookup(e->hv, e->peer, i, NULL));

		if (b)
			*b = *b;
		ret = hv_grant_access(e->hv, e->peer, e->dom, i, false, &ref[i]);
	}
	for (uint64_t done = 0; done < p->ios && !ret;) {
		unsigned n = (unsigned)(p->ios - done < batch ? p->ios - done : batch);

		wl_seg_start(&t);
		for (unsigned k = 0; k < n && !ret; k++) {
			gfn_t host = e->hole_base + k;	/* backend's slot for the foreign page */

			ret = hv_grant_map(e->hv, e->dom, e->peer, ref[(done + k) % NB_GRANTS], false,
					   host, &h[k], &bus[k]);
			if (!ret)
				ret = hook ? (dev[k] = bus[k], 0) :
					     dps_map(e->dps, &host, 1, IOPT_PROT_WRITE, &dev[k]);
		}
		wl_seg_stop(&t);
		for (unsigned k = 0; k < n && !ret; k++)
			ret = wl_dma(e, dev[k], len, IOPT_PROT_WRITE, r, &dmfn[k]);
		wl_seg_start(&t);
		for (unsigned k = 0; k < n && !ret && !hook; k++)
			ret = dps_unmap(e->dps, dev[k], 1);
		if (!ret && !hook)
			ret = dps_flush(e->dps);
		if (!ret)
			ret = hv_grant_unmap_batch(e->hv, e->dom, h, n);
		wl_seg_stop(&t);
		for (unsigned k = 0; k < n; k++)
			wl_attack_unmapped(&atk, e, dev[k], dmfn[k]);
		{
			uint64_t share = t.acc / n;

			for (unsigned k = 0; k < n; k++) {
				t.acc = share;
				wl_io_done(&t, r, len);
			}
		}
		done += n;
		hv_tick(e->hv);
	}
	hv_sync(e->hv);
	for (unsigned i = 0; i < NB_GRANTS && !ret; i++)
		ret = hv_grant_end(e->hv, e->peer, ref[i]);
out:
	free(ref);
	free(h);
	free(bus);
	free(dev);
	free(dmfn);
	return ret;
}

const struct workload wl_netback = {
	.name = "netback",
	.summary = "PV backend: grant map, DMA, grant unmap per packet, in batches",
	.needs_peer = true,
	.run = netback_run,
};
