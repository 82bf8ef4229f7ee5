/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nvmed: a user-space NVMe driver over VFIO (nvmed.c): polled admin
 * commands, so the device can be made to DMA into memory the IOMMU maps,
 * and the result checked; an I/O queue pair with polled reads for the
 * reach probe (iob host reach). Encodings in lib/host (iob/nvme.h). Reads
 * only: nothing here can write to the media.
 */
#ifndef IOB_HOST_NVMED_H
#define IOB_HOST_NVMED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <iob/nvme.h>

#include "host.h"

#define NVMED_ADMIN_ENTRIES	16
/* Where the driver maps its own queues: 64 GiB, clear of iob host's windows. */
#define NVMED_IOVA		(64ULL << 30)

/* Memory mapped for the device. */
struct nvmed_mem {
	void *va;
	uint64_t iova, len;
};

struct nvmed {
	struct vfioc *v;
	unsigned dstrd, timeout_ms, qsize;
	struct nvmed_mem asq, acq;
	unsigned sq_tail, cq_head, phase;
	uint16_t cid;
	uint64_t iova_next;
	bool enabled;
};

/**
 * nvmed_open() - Reset the controller, set up admin queues in memory
 * mapped at @iova_base and up, enable it; bus mastering is switched on.
 * @v:         the VFIO client (BAR0 is mapped here if it was not)
 * @iova_base: where the driver's own memory goes
 * @d:         filled
 * @err:       the step that failed
 *
 * Return: 0; -ENOTSUP (the controller's smallest page is not 4 KiB),
 * -ETIMEDOUT (not ready within CAP.TO), -EIO (fatal status), or a mapping
 * or config-space -errno.
 */
int nvmed_open(struct vfioc *v, uint64_t iova_base, struct nvmed *d, char *err, size_t errlen);

/**
 * nvmed_mem() - @len bytes (rounded up to 4 KiB) of anonymous memory,
 * mapped for the device at the driver's next IOVA.
 * @d:   the driver
 * @len: bytes
 * @m:   filled
 *
 * Return: 0 or the mmap/map -errno.
 */
int nvmed_mem(struct nvmed *d, size_t len, struct nvmed_mem *m);

/**
 * nvmed_mem_free() - Unmap @m for the device and free it (idempotent).
 * @d: the driver
 * @m: the memory
 */
void nvmed_mem_free(struct nvmed *d, struct nvmed_mem *m);

/**
 * nvmed_admin() - Submit @e on the admin queue (its CID is set here) and
 * poll for the completion.
 * @d:   the driver
 * @e:   the command
 * @out: the completion (may be NULL)
 *
 * Return: 0; -EIO (non-zero status), -EPROTO (a completion for another
 * command), -ETIMEDOUT.
 */
int nvmed_admin(struct nvmed *d, struct nvme_sqe *e, struct nvme_cqe *out);

/**
 * nvmed_identify() - Identify into the 4 KiB at device address @iova.
 * @d:    the driver
 * @cns:  NVME_IDENTIFY_CNS_*
 * @nsid: namespace for CNS 0
 * @iova: where the controller writes
 * @out:  the completion (may be NULL)
 *
 * Return: as nvmed_admin().
 */
int nvmed_identify(struct nvmed *d, uint8_t cns, uint32_t nsid, uint64_t iova,
		   struct nvme_cqe *out);

/* An I/O queue pair, polled (interrupts off). */
struct nvmed_ioq {
	struct nvmed_mem sq, cq;
	unsigned qid, qsize, sq_tail, cq_head, phase;
	unsigned sq_head_guard;	/* the slot before the controller's SQ head: full at it */
	bool live;
};

/**
 * nvmed_ioq_create() - Create I/O completion queue @qid, then the
 * submission queue posting to it, both of @qsize entries, in memory mapped
 * at the driver's next IOVAs.
 * @d:     the driver
 * @qid:   1..
 * @qsize: 2..CAP.MQES
 * @q:     filled
 *
 * Return: 0; -EINVAL (@qsize out of range), or nvmed_mem()'s or
 * nvmed_admin()'s -errno (then nothing is left behind).
 */
int nvmed_ioq_create(struct nvmed *d, unsigned qid, unsigned qsize, struct nvmed_ioq *q);

/**
 * nvmed_ioq_put() - Copy @e into the submission queue at its tail (the
 * caller sets the CID); the doorbell is not rung.
 * @q: the queue pair
 * @e: the command
 *
 * Return: 0, or -EBUSY when the queue is full (qsize - 1 outstanding is
 * the caller's to keep track of: this only guards the tail).
 */
int nvmed_ioq_put(struct nvmed_ioq *q, const struct nvme_sqe *e);

/**
 * nvmed_ioq_ring() - Ring the submission queue's tail doorbell.
 * @d: the driver
 * @q: the queue pair
 */
void nvmed_ioq_ring(struct nvmed *d, struct nvmed_ioq *q);

/**
 * nvmed_ioq_reap() - Take the completions posted so far (at most @max)
 * and tell the controller with the head doorbell (once, if any).
 * @d:   the driver
 * @q:   the queue pair
 * @out: filled with the completions, in order
 * @max: capacity of @out
 *
 * Return: how many, 0 if none yet.
 */
unsigned nvmed_ioq_reap(struct nvmed *d, struct nvmed_ioq *q, struct nvme_cqe *out, unsigned max);

/**
 * nvmed_ioq_delete() - Delete the submission queue, then the completion
 * queue, and free their memory (idempotent).
 * @d: the driver
 * @q: the queue pair
 */
void nvmed_ioq_delete(struct nvmed *d, struct nvmed_ioq *q);

/**
 * nvmed_close() - Disable the controller and free the queues (idempotent).
 * @d: the driver
 */
void nvmed_close(struct nvmed *d);

#endif /* IOB_HOST_NVMED_H */
