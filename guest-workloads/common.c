// SPDX-License-Identifier: GPL-2.0-or-later
#include <string.h>

#include <iob/cycles.h>
#include <iob/iommu.h>

#include "workload.h"

const struct workload *const workloads[] = {
	&wl_netrx, &wl_nettx, &wl_blk, &wl_netback, &wl_balloon, &wl_dombuild, &wl_replay, NULL,
};

const struct workload *workload_find(const char *name)
{
	for (size_t i = 0; workloads[i]; i++)
		if (!strcmp(workloads[i]->name, name))
			return workloads[i];
	return NULL;
}

void wl_seg_start(struct wl_timer *t)
{
	t->x0 = iommu_thread_exec_cyc();
	t->t0 = cycles_now();
}

void wl_seg_stop(struct wl_timer *t)
{
	uint64_t d = cycles_end() - t->t0;
	uint64_t model = iommu_thread_exec_cyc() - t->x0;
	double ov = cycles_info()->overhead_cyc;

	/* The IOMMU model ran inline inside this segment: that is "hardware". */
	d = d > model ? d - model : 0;
	d = d > ov ? d - (uint64_t)ov : 0;
	t->acc += d;
}

void wl_io_done(struct wl_timer *t, struct wl_result *r, uint64_t bytes)
{
	hist_record(&r->lat, t->acc);
	r->sw_cyc += t->acc;
	r->ios++;
	r->bytes += bytes;
	t->acc = 0;
}

int wl_dma(struct wl_env *e, uint64_t addr, uint64_t len, unsigned access,
	   struct wl_result *r)
{
	struct hv_dma_result d;
	int ret = hv_device_dma(e->hv, e->devid, addr, len, access, &d);

	r->dma_pages += d.pages;
	r->dma_faults += d.faults;
	r->xlate_ns += d.model_ns;
	return ret;
}

void wl_attack_unmapped(struct wl_attacker *a, struct wl_env *e, uint64_t addr)
{
	unsigned n;

	if (!a->on)
		return;
	a->recent[a->n++ % 16] = addr;
	n = a->n < 16 ? a->n : 16;
	for (unsigned i = 0; i < n; i++)
		hv_stale_probe(e->hv, e->devid, e->dom, a->recent[i]);
}
