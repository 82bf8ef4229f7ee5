// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * netrx and nettx: a NIC ring.
 *
 * netrx: a ring of @ring receive buffers. For each packet the device
 * writes it into the buffer at the ring's head; the driver unmaps that
 * buffer, hands it up the stack and maps a fresh one into the slot
 * (Linux's per-packet dma_map/unmap), or, with recycle=yes, keeps every
 * buffer mapped and only reuses it (a page pool). At the end of each NAPI
 * poll of @budget packets the DMA API is flushed (deferred unmaps issued,
 * the batch's invalidation waited for).
 *
 * nettx: each packet is mapped, read by the device, and unmapped at
 * completion, completions reaped @budget at a time.
 */
#include <errno.h>
#include <stdlib.h>

#include "workload.h"

static unsigned pages_of(uint64_t bytes)
{
	return (unsigned)((bytes + 4095) / 4096);
}

static int map_buf(struct wl_env *e, gfn_t base, unsigned pages, unsigned dir, uint64_t *addr)
{
	gfn_t gfns[HV_DMA_PAGES_MAX];

	for (unsigned i = 0; i < pages; i++)
		gfns[i] = base + i;
	return dps_map(e->dps, gfns, pages, dir, addr);
}

static int netrx_run(const struct wl_params *p, struct wl_env *e, struct wl_result *r)
{
	unsigned pages = pages_of(p->io_bytes);
	uint64_t nbuf = 2 * p->ring;	/* a spare per slot: fresh buffers while others are up the stack */
	uint64_t *slot = calloc(p->ring, sizeof(*slot));
	gfn_t *sgfn = calloc(p->ring, sizeof(*sgfn));	/* the buffer behind each slot */
	struct wl_attacker atk = { .on = p->attack };
	struct wl_timer t = { 0 };
	uint64_t next = p->ring;
	int ret = 0;

	if (!slot || !sgfn) {
		ret = -ENOMEM;
		goto out;
	}
	if (nbuf * pages > e->buf_pages) {
		ret = -E2BIG;
		goto out;
	}
	for (uint64_t s = 0; s < p->ring && !ret; s++) {
		sgfn[s] = e->buf_base + s * pages;
		ret = map_buf(e, sgfn[s], pages, IOPT_PROT_WRITE, &slot[s]);
	}
	ret = ret ? ret : dps_flush(e->dps);
	for (uint64_t i = 0; i < p->ios && !ret; i++) {
		uint64_t s = i % p->ring, mfn;

		ret = wl_dma(e, slot[s], p->io_bytes, IOPT_PROT_WRITE, r, &mfn);
		if (ret)
			break;
		if (!p->recycle) {
			uint64_t b = next++ % nbuf, old = slot[s];

			sgfn[s] = e->buf_base + b * pages;
			wl_seg_start(&t);
			ret = dps_unmap(e->dps, old, pages);
			if (!ret)
				ret = map_buf(e, sgfn[s], pages, IOPT_PROT_WRITE, &slot[s]);
			wl_seg_stop(&t);
			wl_attack_unmapped(&atk, e, old, mfn);
		}
		if ((i + 1) % p->budget == 0 && !ret) {
			wl_seg_start(&t);
			ret = dps_flush(e->dps);
			wl_seg_stop(&t);
			hv_tick(e->hv);
		}
		wl_io_done(&t, r, p->io_bytes);
	}
	/* Tear down untimed: the ring's buffers go back. */
	for (uint64_t s = 0; s < p->ring && !ret; s++)
		ret = dps_unmap(e->dps, slot[s], pages);
	if (!ret)
		ret = dps_flush(e->dps);
out:
	free(slot);
	free(sgfn);
	return ret;
}

const struct workload wl_netrx = {
	.name = "netrx",
	.summary = "NIC receive ring: map per packet or recycled buffers, NAPI budget",
	.run = netrx_run,
};

static int nettx_run(const struct wl_params *p, struct wl_env *e, struct wl_result *r)
{
	unsigned pages = pages_of(p->io_bytes);
	uint64_t nbuf = p->ring;
	uint64_t *inflight = calloc(p->budget, sizeof(*inflight));
	uint64_t *imfn = calloc(p->budget, sizeof(*imfn));	/* the frame each reached */
	struct wl_attacker atk = { .on = p->attack };
	struct wl_timer t = { 0 };
	unsigned n = 0;
	int ret = 0;

	if (!inflight || !imfn) {
		ret = -ENOMEM;
		goto out;
	}
	if (nbuf * pages > e->buf_pages || p->budget > p->ring) {
		ret = -E2BIG;
		goto out;
	}
	for (uint64_t i = 0; i < p->ios && !ret; i++) {
		gfn_t g = e->buf_base + (i % nbuf) * pages;
		uint64_t addr;

		wl_seg_start(&t);
		ret = map_buf(e, g, pages, IOPT_PROT_READ, &addr);
		wl_seg_stop(&t);
		if (ret)
			break;
		ret = wl_dma(e, addr, p->io_bytes, IOPT_PROT_READ, r, &imfn[n]);
		inflight[n++] = addr;
		/* Reap completions a budget at a time, as the TX interrupt does. */
		if (n == p->budget && !ret) {
			wl_seg_start(&t);
			for (unsigned k = 0; k < n && !ret; k++)
				ret = dps_unmap(e->dps, inflight[k], pages);
			if (!ret)
				ret = dps_flush(e->dps);
			wl_seg_stop(&t);
			for (unsigned k = 0; k < n; k++)
				wl_attack_unmapped(&atk, e, inflight[k], imfn[k]);
			n = 0;
			hv_tick(e->hv);
		}
		wl_io_done(&t, r, p->io_bytes);
	}
	for (unsigned k = 0; k < n && !ret; k++)
		ret = dps_unmap(e->dps, inflight[k], pages);
	if (!ret)
		ret = dps_flush(e->dps);
out:
	free(inflight);
	free(imfn);
	return ret;
}

const struct workload wl_nettx = {
	.name = "nettx",
	.summary = "NIC transmit: map per packet, unmap at completion, reaped per budget",
	.run = nettx_run,
};
