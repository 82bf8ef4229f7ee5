/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Guest workloads: the DMA patterns real guests produce, written once
 * against the DMA API of lib/dps so that each runs under every strategy
 * (hook, pv, dmalayer, swiotlb) alike. Deterministic for a given seed.
 *
 * What a workload times (software cycles, on this host) is only what the
 * protection strategy costs: the DMA API calls and the hypercalls behind
 * them, with the IOMMU model's own inline work taken off. The device's
 * DMA is not timed; its translations are charged as modeled hardware time.
 */
#ifndef IOB_WORKLOAD_H
#define IOB_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include <iob/dps.h>
#include <iob/hist.h>
#include <iob/hv.h>

enum blk_shape {
	BLK_VIRTIO,	/* header, data, status: three mappings per request */
	BLK_NVME,	/* one scatter-gather list per request */
};

struct wl_params {
	uint64_t io_bytes;	/* packet or request size */
	uint64_t ios;		/* I/Os (dombuild: builds; balloon: chunks) */
	uint64_t ring;		/* ring entries, queue depth */
	uint64_t budget;	/* NAPI budget, grant batch, requests per completion */
	bool recycle;		/* netrx: page pool, buffers stay mapped */
	enum blk_shape shape;
	uint64_t chunk_pages;	/* balloon: pages per call */
	uint64_t build_mib;	/* dombuild: guest size */
	const char *trace;	/* replay: file */
	bool attack;		/* an attacking device probes recent unmaps */
	uint64_t seed;
};

/* The guest a workload runs in: one domain with a device, and a peer. */
struct wl_env {
	struct hv *hv;
	domid_t dom;
	uint16_t devid;
	struct dps *dps;
	domid_t peer;		/* netback: the frontend (no device) */
	uint64_t guest_pages;
	gfn_t buf_base;		/* gfns [buf_base, buf_base + buf_pages) are buffers */
	uint64_t buf_pages;
	gfn_t hole_base;	/* gfns [hole_base, +hole_pages): no RAM, for grant maps */
	uint64_t hole_pages;
	gfn_t boot_base;	/* gfns [boot_base, +boot_pages): RAM the DMA API took */
	uint64_t boot_pages;
	struct hv_cfg hv_cfg;	/* dombuild builds domains of its own with it */
};

struct wl_result {
	uint64_t ios, bytes, dma_pages, dma_faults;
	uint64_t skipped;	/* replay: events that could not be replayed */
	uint64_t sw_cyc;	/* measured: protection paths only */
	double xlate_ns;	/* modeled: translations of the workload's own DMAs */
	struct hist lat;	/* software cycles per I/O */
};

struct workload {
	const char *name;
	const char *summary;
	bool needs_peer;
	int (*run)(const struct wl_params *p, struct wl_env *e, struct wl_result *r);
};

extern const struct workload wl_netrx, wl_nettx, wl_blk, wl_netback, wl_balloon,
	wl_dombuild, wl_replay, wl_pingpong;
extern const struct workload *const workloads[];
const struct workload *workload_find(const char *name);

/* ---- the guest ------------------------------------------------------------------ */

struct wl_env_cfg {
	enum hv_strategy strategy;
	struct hv_tuning tune;
	uint64_t guest_mib;	/* the driver domain's RAM */
	uint64_t extra_mib;	/* machine memory beyond the guests (dombuild) */
	bool peer;		/* a frontend domain without a device (netback) */
	unsigned batch;		/* unmaps the guest defers per hypercall (pv, dmalayer) */
	uint64_t io_pages;	/* largest I/O, to fit pv's deferred batch in a hypercall */
	uint64_t boot_pages;	/* RAM the DMA API takes at start, if it takes any
				 * (swiotlb's pool); 0: dps_boot_pages() */
	uint64_t seed;		/* IOTLB random replacement */
};

/**
 * wl_env_create() - A hypervisor, a driver domain of @guest_mib with a
 * device (0x10) and its RAM (2 MiB extents with superpages, 4 KiB pages
 * without), a hole of 1024 gfns above it for grant maps, above that the
 * RAM its DMA API takes at start (dps_boot_pages(): swiotlb's pool),
 * optionally a frontend, and the DMA API. Buffers are the upper half of
 * the @guest_mib.
 * Return: 0 or -errno.
 */
int wl_env_create(const struct wl_env_cfg *cfg, struct wl_env *e);
void wl_env_destroy(struct wl_env *e);

/* ---- helpers shared by the workloads ---------------------------------------- */

/* Times one I/O in pieces: start/stop around each protection call, then end. */
struct wl_timer {
	uint64_t t0, x0;	/* segment start: TSC and model cycles */
	uint64_t acc;		/* this I/O so far */
};

void wl_seg_start(struct wl_timer *t);
void wl_seg_stop(struct wl_timer *t);
/* Close the I/O: record it and add @bytes. */
void wl_io_done(struct wl_timer *t, struct wl_result *r, uint64_t bytes);

/*
 * The device DMAs to [addr, addr + len); counts pages, faults, model time.
 * @mfn (may be NULL): the frame the first page reached (what an attacker
 * probing the address later compares with).
 */
int wl_dma(struct wl_env *e, uint64_t addr, uint64_t len, unsigned access,
	   struct wl_result *r, uint64_t *mfn);

/* An attacker behind the device: remembers unmapped addresses and probes them. */
struct wl_attacker {
	bool on;
	uint64_t recent[16];
	uint64_t mfn[16];	/* the frame each address led to before its unmap */
	unsigned n;
};

/*
 * The driver just unmapped @addr, whose first page led the device to frame
 * @mfn (wl_dma()): the attacker remembers it and probes the 16 latest such
 * buffers.
 */
void wl_attack_unmapped(struct wl_attacker *a, struct wl_env *e, uint64_t addr, uint64_t mfn);

#endif /* IOB_WORKLOAD_H */
