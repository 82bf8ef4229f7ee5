// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * replay: a captured stream of map and unmap events (docs/trace-format.md)
 * through the DMA API. Each map is re-made by this guest (its physical
 * page folded into the guest's buffer region), touched once by the device,
 * and unmapped when the trace unmaps it. Unmaps of what was never mapped
 * (a trace that starts mid-stream) are skipped and counted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <iob/trace.h>

#include "workload.h"

_Static_assert(TRACE_DIR_READ == IOPT_PROT_READ && TRACE_DIR_WRITE == IOPT_PROT_WRITE,
	       "a trace direction is passed to the page table as its protection");

struct live {
	uint64_t trace_iova, addr;
	unsigned pages;
	bool used;
};

/* Open addressing on the trace's IOVA: maps stay until their unmap. */
static struct live *slot_of(struct live *tab, size_t cap, uint64_t iova, bool insert)
{
	size_t i = (size_t)((iova >> 12) * 0x9e3779b97f4a7c15ULL) & (cap - 1);

	for (size_t probes = 0; probes < cap; probes++, i = (i + 1) & (cap - 1)) {
		if (!tab[i].used)
			return insert ? &tab[i] : NULL;
		if (tab[i].trace_iova == iova)
			return &tab[i];
	}
	return NULL;
}

static void remove_slot(struct live *tab, size_t cap, struct live *s)
{
	size_t i = (size_t)(s - tab);

	s->used = false;
	/* Backward-shift deletion keeps probe chains intact. */
	for (size_t j = (i + 1) & (cap - 1); tab[j].used; j = (j + 1) & (cap - 1)) {
		size_t home = (size_t)((tab[j].trace_iova >> 12) * 0x9e3779b97f4a7c15ULL) & (cap - 1);

		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			tab[i] = tab[j];
			tab[j].used = false;
			i = j;
		}
	}
}

static int replay_run(const struct wl_params *p, struct wl_env *e, struct wl_result *r)
{
	struct trace tr;
	struct wl_timer t = { 0 };
	size_t cap = 1 << 16;
	struct live *tab;
	char err[256];
	int ret;

	if (!p->trace)
		return -EINVAL;
	ret = trace_read(p->trace, &tr, err, sizeof(err));
	if (ret)
		return ret;
	tab = calloc(cap, sizeof(*tab));
	if (!tab) {
		trace_free(&tr);
		return -ENOMEM;
	}
	for (size_t i = 0; i < tr.n && !ret; i++) {
		const struct trace_event *ev = &tr.ev[i];
		unsigned pages = (unsigned)(ev->size / 4096);

		if (pages > dps_max_pages(e->dps) || pages > e->buf_pages) {
			r->skipped++;
			continue;
		}
		if (ev->op == TRACE_MAP) {
			gfn_t gfns[HV_DMA_PAGES_MAX];
			gfn_t base = e->buf_base + (ev->paddr >> 12) % (e->buf_pages - pages + 1);
			struct live *s = slot_of(tab, cap, ev->iova, true);
			uint64_t addr;

			if (!s || s->used) {
				r->skipped++;	/* table full, or mapped twice in the trace */
				continue;
			}
			for (unsigned k = 0; k < pages; k++)
				gfns[k] = base + k;
			wl_seg_start(&t);
			ret = dps_map(e->dps, gfns, pages, ev->dir, &addr);
			wl_seg_stop(&t);
			if (ret)
				break;
			*s = (struct live){ ev->iova, addr, pages, true };
			ret = wl_dma(e, addr, ev->size, ev->dir & IOPT_PROT_WRITE ? IOPT_PROT_WRITE :
				     IOPT_PROT_READ, r, NULL);
		} else {
			struct live *s = slot_of(tab, cap, ev->iova, false);

			if (!s) {
				r->skipped++;
				continue;
			}
			wl_seg_start(&t);
			ret = dps_unmap(e->dps, s->addr, s->pages);
			wl_seg_stop(&t);
			wl_io_done(&t, r, (uint64_t)s->pages * 4096);
			remove_slot(tab, cap, s);
			if ((r->ios & 63) == 0) {
				dps_flush(e->dps);
				hv_tick(e->hv);
			}
		}
	}
	for (size_t i = 0; i < cap && !ret; i++)
		if (tab[i].used)
			ret = dps_unmap(e->dps, tab[i].addr, tab[i].pages);
	if (!ret)
		ret = dps_flush(e->dps);
	free(tab);
	trace_free(&tr);
	return ret;
}

const struct workload wl_replay = {
	.name = "replay",
	.summary = "replay a captured map/unmap trace (iommubench or Linux tracefs format)",
	.run = replay_run,
};
