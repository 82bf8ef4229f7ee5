// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * blk: storage requests of @io_bytes at queue depth @ring, shaped like
 * virtio-blk (a 16-byte header the device reads, the data, a status byte
 * it writes: three mappings per request) or like NVMe (the data as one
 * scatter-gather list: one mapping). Reads and writes alternate. A batch
 * of @ring requests is submitted, the device serves them, then they
 * complete together and the DMA API is flushed.
 *
 * Data larger than the DMA API maps at once (dps_max_pages(): swiotlb's
 * 256 KiB segment) goes as several mappings, as a driver splits its
 * scatter-gather list by dma_max_mapping_size().
 */
#include <errno.h>
#include <stdlib.h>

#include "workload.h"

#define BLK_SEGS_MAX	16	/* data mappings per request */

struct req {
	uint64_t hdr, status;
	uint64_t data[BLK_SEGS_MAX];	/* one per dps_max_pages() of data */
	uint64_t mfn;	/* the frame the data's first page reached */
	unsigned dir;
};

/* Map the data as @nseg mappings of at most @seg pages. */
static int map_data(struct wl_env *e, struct req *rq, gfn_t base, unsigned pages, unsigned seg,
		    unsigned nseg)
{
	gfn_t gfns[HV_DMA_PAGES_MAX];
	int ret = 0;

	for (unsigned i = 0; i < pages; i++)
		gfns[i] = base + i;
	for (unsigned k = 0; k < nseg && !ret; k++) {
		unsigned n = pages - k * seg < seg ? pages - k * seg : seg;

		ret = dps_map(e->dps, gfns + k * seg, n, rq->dir, &rq->data[k]);
	}
	return ret;
}

/* The device moves the data, mapping by mapping; the first one's frame is remembered. */
static int dma_data(struct wl_env *e, struct req *rq, uint64_t bytes, unsigned seg,
		    unsigned nseg, struct wl_result *r)
{
	int ret = 0;

	for (unsigned k = 0; k < nseg && !ret; k++) {
		uint64_t off = (uint64_t)k * seg * 4096;
		uint64_t len = bytes - off < (uint64_t)seg * 4096 ? bytes - off : (uint64_t)seg * 4096;

		ret = wl_dma(e, rq->data[k], len, rq->dir, r, k ? NULL : &rq->mfn);
	}
	return ret;
}

static int unmap_data(struct wl_env *e, const struct req *rq, unsigned pages, unsigned seg,
		      unsigned nseg)
{
	int ret = 0;

	for (unsigned k = 0; k < nseg && !ret; k++)
		ret = dps_unmap(e->dps, rq->data[k],
				pages - k * seg < seg ? pages - k * seg : seg);
	return ret;
}

static int blk_run(const struct wl_params *p, struct wl_env *e, struct wl_result *r)
{
	unsigned pages = (unsigned)((p->io_bytes + 4095) / 4096);
	unsigned per_req = pages + (p->shape == BLK_VIRTIO ? 2 : 0);
	unsigned seg = dps_max_pages(e->dps), nseg = (pages + seg - 1) / seg;
	uint64_t slots = e->buf_pages / per_req;
	struct req *q = calloc(p->ring, sizeof(*q));
	struct wl_attacker atk = { .on = p->attack };
	struct wl_timer t = { 0 };
	uint64_t done = 0, next = 0;
	int ret = 0;

	if (!q)
		return -ENOMEM;
	if (slots < p->ring || pages > HV_DMA_PAGES_MAX || nseg > BLK_SEGS_MAX) {
		free(q);
		return -E2BIG;
	}
	while (done < p->ios && !ret) {
		unsigned n = (unsigned)(p->ios - done < p->ring ? p->ios - done : p->ring);

		/* Submit: map every request's buffers. */
		for (unsigned k = 0; k < n && !ret; k++) {
			gfn_t base = e->buf_base + (next++ % slots) * per_req;
			struct req *rq = &q[k];

			rq->dir = (done + k) & 1 ? IOPT_PROT_READ : IOPT_PROT_WRITE;
			wl_seg_start(&t);
			if (p->shape == BLK_VIRTIO) {
				gfn_t h = base + pages, s = base + pages + 1;

				ret = dps_map(e->dps, &h, 1, IOPT_PROT_READ, &rq->hdr);
				if (!ret)
					ret = map_data(e, rq, base, pages, seg, nseg);
				if (!ret)
					ret = dps_map(e->dps, &s, 1, IOPT_PROT_WRITE, &rq->status);
			} else {
				ret = map_data(e, rq, base, pages, seg, nseg);
			}
			wl_seg_stop(&t);
		}
		/* The device serves them. */
		for (unsigned k = 0; k < n && !ret; k++) {
			struct req *rq = &q[k];

			if (p->shape == BLK_VIRTIO)
				ret = wl_dma(e, rq->hdr, 16, IOPT_PROT_READ, r, NULL);
			if (!ret)
				ret = dma_data(e, rq, p->io_bytes, seg, nseg, r);
			if (!ret && p->shape == BLK_VIRTIO)
				ret = wl_dma(e, rq->status, 1, IOPT_PROT_WRITE, r, NULL);
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
				ret = unmap_data(e, rq, pages, seg, nseg);
		}
		if (!ret)
			ret = dps_flush(e->dps);
		wl_seg_stop(&t);
		for (unsigned k = 0; k < n; k++)
			wl_attack_unmapped(&atk, e, q[k].data[0], q[k].mfn);
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
