/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * reachdev: the DMA engines of the reach probe (iob host reach), behind
 * one interface: submit a transfer whose pages are given one by one, ring,
 * reap completions. Every transfer writes host memory the probe chose (the
 * window under test), so each page is one translation by the IOMMU.
 *
 *  - NVMe (reachdev_nvme.c): reads over an I/O queue pair of nvmed, one
 *    PRP entry per 4 KiB page, from LBAs the user named. Nothing is ever
 *    written to the media: the only I/O command this engine can issue is
 *    Read.
 *  - PTDMA (reachdev_ptdma.c): AMD's passthru DMA engine on EPYC (PCI
 *    1022:1498), memory-to-memory copies as Linux's drivers/dma/ptdma
 *    programs it, one descriptor per page, completion by polling the
 *    queue's head register. Not tested: no machine of the project has
 *    one, and QEMU does not emulate it; its rows say "untested".
 */
#ifndef IOB_HOST_REACHDEV_H
#define IOB_HOST_REACHDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <iob/reach.h>

#include "nvmed.h"

#define REACHDEV_QD_MAX		256
/* The engines' own memory (queues, lists, source): 64 GiB, clear of the windows. */
#define REACHDEV_IOVA		NVMED_IOVA
/* Stamp at the start of every 4 KiB block of a stamped disk image: magic, block number. */
#define REACHDEV_STAMP_MAGIC	0x4843414552424f49ULL	/* "IOBREACH" */

enum reachdev_kind {
	REACHDEV_NVME,
	REACHDEV_PTDMA,
	REACHDEV_KIND_NR
};

struct reachdev_cfg {
	enum reachdev_kind kind;
	unsigned qd;		/* transfers in flight, 1..REACHDEV_QD_MAX */
	unsigned io_pages;	/* the largest transfer, in 4 KiB pages */
	uint32_t nsid;		/* NVMe namespace (1) */
	uint64_t lba_bytes_first;	/* NVMe: reads start this far into the namespace */
	uint64_t span_bytes;	/* NVMe: and stay within this many bytes */
};

struct reachdev {
	struct reachdev_cfg cfg;
	struct vfioc *v;
	bool tested;
	char desc[256];		/* what was found: model, namespace, format */
	uint64_t cmds;		/* transfers submitted since open */
	/* NVMe */
	struct nvmed d;
	struct nvmed_ioq q;
	struct nvmed_mem prp, id;
	struct nvme_ns_info ns;
	uint64_t first_lba, span_blocks;	/* 4 KiB blocks the reads cycle through */
	/* PTDMA */
	volatile uint8_t *regs;
	struct nvmed_mem ring, src;
	unsigned ring_n, tail, head;
	uint32_t qcontrol;
	unsigned pending[REACHDEV_QD_MAX], npending;	/* slots in submission order */
	unsigned slot_descs[REACHDEV_QD_MAX];		/* descriptors of each slot */
};

/**
 * reachdev_open() - Take the device over for the probe: NVMe: reset,
 * admin queues, Identify Controller and Namespace, an I/O queue pair of
 * 2 * @cfg->qd entries, one PRP list page per slot; PTDMA: the queue's
 * ring and a source page, registers as Linux's pt_core_init writes them.
 * @v:   the VFIO client of the device (bus master is switched on)
 * @cfg: what the probe will do
 * @r:   filled
 * @err: why not
 *
 * Return: 0; -EINVAL (a bad configuration, a transfer the controller's
 * MDTS or the span does not allow), -ENOTSUP (a namespace whose blocks
 * carry metadata or are larger than 4 KiB, a BAR that cannot be mapped),
 * -ENODEV (inactive namespace), or what the device setup returned.
 */
int reachdev_open(struct vfioc *v, const struct reachdev_cfg *cfg, struct reachdev *r,
		  char *err, size_t len);

/**
 * reachdev_layout() - The device addresses of the engine's own memory,
 * for reach_model_run(); the window's is the caller's, first is the
 * transfers submitted so far.
 * @r:   the engine
 * @lay: filled but for window_iova
 */
void reachdev_layout(const struct reachdev *r, struct reach_layout *lay);

/**
 * reachdev_submit() - Queue a transfer into @npages pages at @iova (one
 * translation each), from 4 KiB block @block of the span (NVMe; modulo
 * the span) or from the source page (PTDMA); not started until
 * reachdev_ring().
 * @r:      the engine
 * @slot:   0..qd-1, not in flight
 * @iova:   page-aligned device addresses
 * @npages: 1..cfg.io_pages
 * @block:  NVMe: the first 4 KiB block of the span to read
 *
 * Return: 0; -EINVAL (a bad slot or count), -EBUSY (the queue is full).
 */
int reachdev_submit(struct reachdev *r, unsigned slot, const uint64_t *iova, unsigned npages,
		    uint64_t block);

/**
 * reachdev_ring() - Start what was submitted (one doorbell or tail write).
 * @r: the engine
 */
void reachdev_ring(struct reachdev *r);

/**
 * reachdev_reap() - The slots whose transfers completed since the last
 * call, in completion order.
 * @r:     the engine
 * @slots: filled
 * @max:   capacity
 * @error: set to a device status (NVMe status field, PTDMA error code)
 *         when a transfer failed; left alone otherwise
 *
 * Return: how many (0 if none yet).
 */
unsigned reachdev_reap(struct reachdev *r, unsigned *slots, unsigned max, unsigned *error);

/**
 * reachdev_block_of() - The 4 KiB block of the disk (from the start of
 * the namespace) that span block @block reads.
 * @r:     the engine (NVMe)
 * @block: a span block, as given to reachdev_submit()
 *
 * Return: the block number a stamped image carries there.
 */
uint64_t reachdev_block_of(const struct reachdev *r, uint64_t block);

/**
 * reachdev_close() - Give the device back as found: NVMe: delete the I/O
 * queues, disable the controller; PTDMA: stop the queue. Frees everything
 * (idempotent).
 * @r: the engine
 */
void reachdev_close(struct reachdev *r);

/**
 * reachdev_kind_name() - "nvme" or "ptdma".
 * @k: the kind
 *
 * Return: a static string.
 */
const char *reachdev_kind_name(enum reachdev_kind k);

#endif /* IOB_HOST_REACHDEV_H */
