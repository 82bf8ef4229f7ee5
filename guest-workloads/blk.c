// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * blk: storage requests of @io_bytes at queue depth @ring, shaped like
 * virtio-blk (a 16-byte header the device reads, the data, a status byte
 * it writes: three mappings per request) or like NVMe (the data as one
 * scatter-gather list: one mapping). Reads and writes alternate. A batch
 * of @ring requests is submitted, the device serves them, then they
 * complete together and the DMA API is flushed.
 */
#include <errno.h>
#include <stdlib.h>

#include "workload.h"

struct req {
	uint64_t hdr, data, status;
	gfn_t gfn;	/* first page of the data */
	unsigned dir;
};

static int blk_run(const struct wl_params *p, struct wl_env *e, struct wl_result *r)
{
	unsigned pages = (unsigned)((p->io_bytes + 4095) / 4096);
	unsigned per_req = pages + (p->shape == BLK_VIRTIO ? 2 : 0);
	uint64_t slots = e->buf_pages / per_req;
	struct req *q = calloc(p->ring, sizeof(*q));
	struct wl_attacker atk = { .on = p->attack };
	struct wl_timer t = { 0 };
	gfn_t gfns[HV_DMA_PAGES_MAX];
	uint64_t done = 0, next = 0;
	int ret = 0;

	if (!q)
		return -ENOMEM;
	if (slots < p->ring || pages > HV_DMA_PAGES_MAX) {
		free(q);
		return -E2BIG;
	}
	while (done < p->ios && !ret) {
		unsigned n = (unsigned)(p->ios - done < p->ring ? p->ios - done : p->ring);

		/* Submit: map every request's buffers. */
		for (unsigned k = 0; k < n && !ret; k++) {
			gfn_t base = e->buf_base + (next++ % slots) * per_req;
			struct req *rq = &q[k];

			rq->gfn = base;
			rq->dir = (done + k) & 1 ? IOPT_PROT_READ : IOPT_PROT_WRITE;
			for (unsigned i = 0; i < pages; i++)
				gfns[i] = base + i;
			wl_seg_start(&t);
			if (p->shape == BLK_VIRTIO) {
				gfn_t h = base + pages, s = base + pages + 1;

				ret = dps_map(e->dps, &h, 1, IOPT_PROT_READ, &rq->hdr);
				if (!ret)
					ret = dps_map(e->dps, gfns, pages, rq->dir, &rq->data);
				if (!ret)
					ret = dps_map(e->dps, &s, 1, IOPT_PROT_WRITE, &rq->status);
			} else {
				ret = dps_map(e->dps, gfns, pages, rq->dir, &rq->data);
			}
			wl_seg_stop(&t);
		}
		/* The device serves them. */
		for (unsigned k = 0; k < n && !ret; k++) {
			struct req *rq = &q[k];

			if (p->shape == BLK_VIRTIO)
				ret = wl_dma(e, rq->hdr, 16, IOPT_PROT_READ, r);
			if (!ret)
				ret = wl_dma(e, rq->data, p->io_bytes, rq->dir, r);
			if (!ret && p->shape == BLK_VIRTIO)
				ret = wl_dma(e, rq->status, 1, IOPT_PROT_WRITE, r);
		}
		/* Complete: unmap, then one flush for the batch. */
		wl_seg_start(&t);
		for (unsigned k = 0; k < n && !ret; k++) {
			struct req *rq = &q[k];

			if (p->shape == BLK_VIRTIO) {
				ret = dps_unmap(e->dps, rq->hdr, 1);
				if (!ret)
					ret = dps_unmap(e->dps, rq->status, 1);
			}
			if (!ret)
				ret = dps_unmap(e->dps, rq->data, pages);
		}
		if (!ret)
			ret = dps_flush(e->dps);
		wl_seg_stop(&t);
		for (unsigned k = 0; k < n; k++)
			wl_attack_unmapped(&atk, e, q[k].data, wl_mfn(e, q[k].gfn));
		/* The batch's cycles spread evenly over its requests. */
		{
			uint64_t share = t.acc / n;

			for (unsigned k = 0; k < n; k++) {
				t.acc = share;
				wl_io_done(&t, r, p->io_bytes);
			}
		}
		done += n;
		hv_tick(e->hv);
	}
	free(q);
	return ret;
}

const struct workload wl_blk = {
	.name = "blk",
	.summary = "storage requests, virtio-blk (3 mappings) or NVMe (1 SG list) shape, queue depth",
	.run = blk_run,
};
