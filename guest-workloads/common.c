// SPDX-License-Identifier: GPL-2.0-or-later
#include <string.h>

#include <iob/cycles.h>
#include <iob/iommu.h>

#include "workload.h"

const struct workload *const workloads[] = {
	&wl_netrx, &wl_nettx, &wl_blk, &wl_netback, &wl_balloon, &wl_dombuild, &wl_replay,
	&wl_pingpong, NULL,
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
	   struct wl_result *r, uint64_t *mfn)
{
	struct hv_dma_result d;
	int ret = hv_device_dma(e->hv, e->devid, addr, len, access, &d);

	if (mfn)
		*mfn = d.mfn_first;
	r->dma_pages += d.pages;
	r->dma_faults += d.faults;
	r->xlate_ns += d.model_ns;
	return ret;
}

void wl_attack_unmapped(struct wl_attacker *a, struct wl_env *e, uint64_t addr, uint64_t mfn)
{
	unsigned n;

	if (!a->on)
		return;
	a->mfn[a->n % 16] = mfn;
	a->recent[a->n++ % 16] = addr;
	n = a->n < 16 ? a->n : 16;
	for (unsigned i = 0; i < n; i++)
		hv_stale_probe(e->hv, e->devid, e->dom, a->recent[i], a->mfn[i]);
}

int wl_env_create(const struct wl_env_cfg *c, struct wl_env *e)
{
	uint64_t pages = c->guest_mib * 256, boot = dps_boot_pages(c->strategy);
	uint64_t boot_base = (pages + 1024 + 511) & ~511ULL;	/* whole extents */
	unsigned order = c->tune.superpages ? 9 : 0;
	struct dps_cfg pc;
	int ret;

	if (boot && c->boot_pages)
		boot = c->boot_pages;
	memset(e, 0, sizeof(*e));
	e->hv_cfg = (struct hv_cfg){
		.machine_frames = 2 * (pages + boot) + c->extra_mib * 256 + (1 << 18),
		.strategy = c->strategy,
		.tune = c->tune,
		.tlb = { .seed = c->seed },
	};
	e->devid = 0x10;
	ret = hv_create(&e->hv_cfg, &e->hv);
	if (ret)
		return ret;
	/* RAM below @pages; a hole above it for mapping other domains' grants; the DMA API's. */
	ret = hv_domain_create(e->hv, boot ? boot_base + boot : pages + 1024, &e->dom);
	if (!ret)
		ret = hv_assign_device(e->hv, e->devid, e->dom);
	for (gfn_t g = 0; !ret && g < pages; g += 1ULL << order)
		ret = hv_populate(e->hv, e->dom, g, order);
	for (gfn_t g = boot_base; !ret && g < boot_base + boot; g += 1ULL << order)
		ret = hv_populate(e->hv, e->dom, g, order);
	if (!ret && c->peer) {
		uint64_t ppages = 4096;

		ret = hv_domain_create(e->hv, ppages, &e->peer);
		for (gfn_t g = 0; !ret && g < ppages; g += 1ULL << order)
			ret = hv_populate(e->hv, e->peer, g, order);
	}
	e->guest_pages = pages;
	e->buf_base = pages / 2;
	e->buf_pages = pages / 2;
	e->hole_base = pages;
	e->hole_pages = 1024;
	e->boot_base = boot_base;
	e->boot_pages = boot;
	if (!ret) {
		/* Strict means every unmap right away; batching is the other modes' point. */
		pc = (struct dps_cfg){ .hv = e->hv, .dom = e->dom, .devid = e->devid,
				       .batch = c->tune.flush == FLUSH_STRICT ? 1 :
						(c->batch && c->batch <= HV_BATCH_MAX ? c->batch : 64),
				       .boot_gfn = e->boot_base, .boot_pages = boot };
		/* pv: deferred unmaps must fit one hypercall. */
		if (c->strategy == HV_PV && c->io_pages &&
		    pc.batch * c->io_pages > HV_BATCH_MAX)
			pc.batch = (unsigned)(HV_BATCH_MAX / c->io_pages);
		if (!pc.batch)
			pc.batch = 1;
		ret = dps_create(&pc, &e->dps);
	}
	if (ret) {
		hv_destroy(e->hv);
		memset(e, 0, sizeof(*e));
	}
	return ret;
}

void wl_env_destroy(struct wl_env *e)
{
	dps_destroy(e->dps);
	hv_destroy(e->hv);
	memset(e, 0, sizeof(*e));
}
