// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * AMD PTDMA (the passthru DMA engine of EPYC processors, PCI 1022:1498)
 * from user space, for the reach probe: memory-to-memory copies of 4 KiB,
 * one descriptor each, completion by polling the queue's head pointer.
 *
 * Written from the facts of Linux's drivers/dma/ptdma (5.15 to 6.13:
 * ptdma.h, ptdma-dev.c pt_core_init, pt_core_execute_cmd,
 * pt_core_perform_passthru) and FreeBSD's ccp(4) for the head-pointer
 * completion of the sibling CCP v5 queue; the notes are in docs/host.md.
 * Registers are in BAR 2; queue 0's block at 0x1000. UNTESTED: no machine
 * the project runs on has the device and QEMU does not emulate it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "reachdev_ptdma.h"

/* Global registers (offsets in BAR 2) and the values pt_core_init writes. */
#define PT_CMD_CONFIG		0x1120	/* VHB_EN = 1, written first */
#define PT_QUEUE_PRIO		0x0000	/* 0x6 */
#define PT_TIMEOUT		0x0008	/* 0: disabled */
#define PT_CLK_GATE		0x6004	/* 0x1001 */
#define PT_REQID		0x0004	/* 0, written last */
#define PT_VERSION		0x0010	/* version 5:0, queues 18:15 */
/* Queue 0. */
#define PT_Q			0x1000
#define PT_Q_CONTROL		(PT_Q + 0x000)	/* RUN b0, size 7:3 = log2(n) - 1, ring 47:32 in 31:16 */
#define PT_Q_TAIL_LO		(PT_Q + 0x004)	/* byte addresses, not indices */
#define PT_Q_HEAD_LO		(PT_Q + 0x008)
#define PT_Q_INT_ENABLE		(PT_Q + 0x00c)
#define PT_Q_INT_STATUS		(PT_Q + 0x010)	/* completion b0, error b1; write 1 to clear */
#define PT_Q_STATUS		(PT_Q + 0x100)	/* error code 5:0 */
#define PT_Q_INT_STATUS2	(PT_Q + 0x104)
#define PT_Q_RUN		1U
#define PT_INT_ERROR		2U
/* dw0 of a plain copy: engine 5 (passthru) in 23:20, end of message b4. */
#define PT_DW0_COPY		((5U << 20) | (1U << 4))
#define PT_DESC_BYTES		32

static uint32_t rd(struct reachdev *r, uint32_t off)
{
	return *(volatile uint32_t *)(r->regs + off);
}

static void wr(struct reachdev *r, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(r->regs + off) = v;
}

static unsigned log2u(unsigned n)
{
	unsigned l = 0;

	while ((1U << l) < n)
		l++;
	return l;
}

/* The ring aligned to its size (and so within 4 GiB): the allocator's next IOVA rounded up. */
static int ring_alloc(struct reachdev *r)
{
	uint64_t bytes = (uint64_t)r->ring_n * PT_DESC_BYTES;
	uint64_t align = bytes < NVME_PAGE ? NVME_PAGE : bytes;

	r->d.iova_next = (r->d.iova_next + align - 1) & ~(align - 1);
	return nvmed_mem(&r->d, bytes, &r->ring);
}

int ptdma_open(struct vfioc *v, struct reachdev *r, char *err, size_t len)
{
	uint64_t need = 2ULL * r->cfg.qd * r->cfg.io_pages;
	uint16_t cmd;
	uint32_t ver;
	int ret;

	r->d.v = v;
	r->d.iova_next = REACHDEV_IOVA;
	r->ring_n = 1U << log2u(need < 32 ? 32 : (unsigned)need);
	if (r->ring_n > 8192) {
		snprintf(err, len, "PTDMA: %llu descriptors in flight: the ring holds at most 8192",
			 (unsigned long long)need);
		return -EINVAL;
	}
	ret = vfioc_bar_map(v, 2);
	if (ret) {
		snprintf(err, len, "PTDMA: BAR 2: %s", strerror(-ret));
		return ret == -ENOTSUP ? -ENOTSUP : ret;
	}
	r->regs = v->bar[2];
	ret = vfioc_config_read(v, 4, &cmd, 2);
	cmd |= 0x6;	/* memory space, bus master */
	if (!ret)
		ret = vfioc_config_write(v, 4, &cmd, 2);
	if (!ret)
		ret = ring_alloc(r);
	if (!ret)
		ret = nvmed_mem(&r->d, NVME_PAGE, &r->src);
	if (ret) {
		snprintf(err, len, "PTDMA: setup: %s", strerror(-ret));
		return ret;
	}
	memset(r->src.va, 0x5a, NVME_PAGE);
	wr(r, PT_CMD_CONFIG, 1);
	wr(r, PT_QUEUE_PRIO, 0x6);
	wr(r, PT_TIMEOUT, 0);
	wr(r, PT_CLK_GATE, 0x1001);
	wr(r, PT_REQID, 0);
	wr(r, PT_Q_INT_ENABLE, 0);	/* polled */
	wr(r, PT_Q_CONTROL, 0);
	(void)rd(r, PT_Q_INT_STATUS2);
	(void)rd(r, PT_Q_STATUS);
	wr(r, PT_Q_INT_STATUS, 0xf);
	r->qcontrol = (log2u(r->ring_n) - 1) << 3 | (uint32_t)((r->ring.iova >> 32) & 0xffff) << 16;
	wr(r, PT_Q_TAIL_LO, (uint32_t)r->ring.iova);
	wr(r, PT_Q_HEAD_LO, (uint32_t)r->ring.iova);
	wr(r, PT_Q_CONTROL, r->qcontrol);
	ver = rd(r, PT_VERSION);
	snprintf(r->desc, sizeof(r->desc), "PTDMA version %u, %u queues, ring of %u descriptors "
		 "(UNTESTED engine)", ver & 0x3f, (ver >> 15) & 0xf, r->ring_n);
	r->tested = false;
	return 0;
}

static unsigned ring_free(const struct reachdev *r)
{
	return (r->head + r->ring_n - r->tail - 1) % r->ring_n;
}

int ptdma_submit(struct reachdev *r, unsigned slot, const uint64_t *iova, unsigned npages)
{
	if (ring_free(r) < npages || r->npending >= REACHDEV_QD_MAX)
		return -EBUSY;
	for (unsigned i = 0; i < npages; i++) {
		uint32_t *d = (uint32_t *)((uint8_t *)r->ring.va + (size_t)r->tail * PT_DESC_BYTES);

		d[0] = PT_DW0_COPY;
		d[1] = (uint32_t)NVME_PAGE;
		d[2] = (uint32_t)r->src.iova;
		d[3] = (uint32_t)(r->src.iova >> 32) & 0xffff;	/* memory type 0: system */
		d[4] = (uint32_t)iova[i];
		d[5] = (uint32_t)(iova[i] >> 32) & 0xffff;
		d[6] = d[7] = 0;
		r->tail = (r->tail + 1) % r->ring_n;
	}
	r->slot_descs[slot] = npages;
	r->pending[r->npending++] = slot;
	return 0;
}

void ptdma_ring(struct reachdev *r)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wr(r, PT_Q_TAIL_LO, (uint32_t)(r->ring.iova + (uint64_t)r->tail * PT_DESC_BYTES));
	wr(r, PT_Q_CONTROL, r->qcontrol | PT_Q_RUN);
}

unsigned ptdma_reap(struct reachdev *r, unsigned *slots, unsigned max, unsigned *error)
{
	uint32_t head = (rd(r, PT_Q_HEAD_LO) - (uint32_t)r->ring.iova) / PT_DESC_BYTES;
	unsigned done = (head + r->ring_n - r->head) % r->ring_n, n = 0;

	/* HEAD_LO points at the first descriptor not done: whole transfers before it are. */
	while (n < max && r->npending && r->slot_descs[r->pending[0]] <= done) {
		unsigned s = r->pending[0];

		done -= r->slot_descs[s];
		r->head = (r->head + r->slot_descs[s]) % r->ring_n;
		slots[n++] = s;
		memmove(r->pending, r->pending + 1, --r->npending * sizeof(r->pending[0]));
	}
	if (rd(r, PT_Q_INT_STATUS) & PT_INT_ERROR) {
		/* The queue stopped at the failed descriptor: report, drop what is queued. */
		*error = rd(r, PT_Q_STATUS) & 0x3f;
		wr(r, PT_Q_INT_STATUS, 0xf);
		wr(r, PT_Q_HEAD_LO, (uint32_t)(r->ring.iova + (uint64_t)r->tail * PT_DESC_BYTES));
		r->head = r->tail;
		while (n < max && r->npending) {
			slots[n++] = r->pending[0];
			memmove(r->pending, r->pending + 1, --r->npending * sizeof(r->pending[0]));
		}
	}
	return n;
}

void ptdma_close(struct reachdev *r)
{
	if (r->regs) {
		wr(r, PT_Q_CONTROL, 0);
		wr(r, PT_Q_INT_ENABLE, 0);
		wr(r, PT_Q_INT_STATUS, 0xf);
		r->regs = NULL;
	}
	nvmed_mem_free(&r->d, &r->ring);
	nvmed_mem_free(&r->d, &r->src);
}
