/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * reachdev's PTDMA engine (reachdev_ptdma.c), for reachdev.c only. Each
 * function is the PTDMA half of the reachdev_*() call of the same name.
 */
#ifndef IOB_HOST_REACHDEV_PTDMA_H
#define IOB_HOST_REACHDEV_PTDMA_H

#include "reachdev.h"

/**
 * ptdma_open() - Map BAR 2, switch bus mastering on, write the global
 * registers, set up queue 0 with a ring of at least 2 * qd * io_pages
 * descriptors (aligned to its size) and a 4 KiB source page.
 * @v:   the device's VFIO client
 * @r:   the engine, cfg set
 * @err: why not
 * @len: size of @err
 *
 * Return: 0 or -errno (-ENOTSUP: BAR 2 not mappable).
 */
int ptdma_open(struct vfioc *v, struct reachdev *r, char *err, size_t len);

/**
 * ptdma_submit() - One descriptor per page into the ring.
 * @r:      the engine
 * @slot:   the transfer's slot
 * @iova:   destination pages
 * @npages: how many
 *
 * Return: 0, or -EBUSY when the ring has no room.
 */
int ptdma_submit(struct reachdev *r, unsigned slot, const uint64_t *iova, unsigned npages);

/**
 * ptdma_ring() - Write the tail and set RUN.
 * @r: the engine
 */
void ptdma_ring(struct reachdev *r);

/**
 * ptdma_reap() - Transfers whose descriptors the head register has passed.
 * @r:     the engine
 * @slots: filled in completion order
 * @max:   capacity
 * @error: the queue's error code, if it stopped on one
 *
 * Return: how many.
 */
unsigned ptdma_reap(struct reachdev *r, unsigned *slots, unsigned max, unsigned *error);

/**
 * ptdma_close() - Stop the queue, clear its events, free the memory.
 * @r: the engine
 */
void ptdma_close(struct reachdev *r);

#endif /* IOB_HOST_REACHDEV_PTDMA_H */
