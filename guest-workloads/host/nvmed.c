// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A user-space NVMe driver over VFIO, as small as a DMA probe needs: reset,
 * admin queues, polled admin commands (interrupts masked), I/O queues and
 * reads. Its own queue memory is mapped for the device like any buffer,
 * at IOVAs from NVMED_IOVA up, far from the ones the probes use.
 *
 * The controller is disabled again on close, so the kernel's driver finds
 * it as after a reset when it is given back.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "nvmed.h"

static uint32_t rd32(struct nvmed *d, uint32_t off)
{
	return *(volatile uint32_t *)(d->v->bar0 + off);
}

static uint64_t rd64(struct nvmed *d, uint32_t off)
{
	return rd32(d, off) | (uint64_t)rd32(d, off + 4) << 32;
}

static void wr32(struct nvmed *d, uint32_t off, uint32_t val)
{
	*(volatile uint32_t *)(d->v->bar0 + off) = val;
}

static void wr64(struct nvmed *d, uint32_t off, uint64_t val)
{
	wr32(d, off, (uint32_t)val);
	wr32(d, off + 4, (uint32_t)(val >> 32));
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int nvmed_mem(struct nvmed *d, size_t len, struct nvmed_mem *m)
{
	int ret;

	len = (len + NVME_PAGE - 1) & ~(NVME_PAGE - 1);
	m->va = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		     -1, 0);
	if (m->va == MAP_FAILED) {
		m->va = NULL;
		return -errno;
	}
	m->len = len;
	m->iova = d->iova_next;
	ret = vfioc_map(d->v, m->va, m->iova, len);
	if (ret) {
		munmap(m->va, len);
		m->va = NULL;
		return ret;
	}
	d->iova_next += len + NVME_PAGE;	/* a hole between: strays fault */
	return 0;
}

void nvmed_mem_free(struct nvmed *d, struct nvmed_mem *m)
{
	if (!m->va)
		return;
	vfioc_unmap(d->v, m->iova, m->len, NULL);
	munmap(m->va, m->len);
	m->va = NULL;
}

static int wait_ready(struct nvmed *d, bool ready)
{
	double end = now_ms() + d->timeout_ms;

	while (!!(rd32(d, NVME_REG_CSTS) & NVME_CSTS_RDY) != ready) {
		if (rd32(d, NVME_REG_CSTS) & NVME_CSTS_CFS)
			return -EIO;
		if (now_ms() > end)
			return -ETIMEDOUT;
	}
	return 0;
}

static int fail(char *err, size_t len, int ret, const char *what)
{
	snprintf(err, len, "nvme %s: %s: %s", what, "user-space driver", strerror(-ret));
	return ret;
}

int nvmed_open(struct vfioc *v, uint64_t iova_base, struct nvmed *d, char *err, size_t errlen)
{
	uint16_t cmd;
	uint64_t cap;
	int ret;

	memset(d, 0, sizeof(*d));
	d->v = v;
	d->iova_next = iova_base;
	ret = vfioc_bar0_map(v);
	if (ret)
		return fail(err, errlen, ret, "BAR0");
	/* Memory space and bus master on: the device may now DMA (through the IOMMU). */
	ret = vfioc_config_read(v, 4, &cmd, 2);
	cmd |= 0x6;
	if (!ret)
		ret = vfioc_config_write(v, 4, &cmd, 2);
	if (ret)
		return fail(err, errlen, ret, "PCI command register");
	cap = rd64(d, NVME_REG_CAP);
	d->dstrd = NVME_CAP_DSTRD(cap);
	d->timeout_ms = NVME_CAP_TO_MS(cap);
	if (!d->timeout_ms)
		d->timeout_ms = 500;
	if (NVME_CAP_MPSMIN(cap) != 0)
		return fail(err, errlen, -ENOTSUP, "4 KiB pages");
	wr32(d, NVME_REG_CC, 0);
	ret = wait_ready(d, false);
	if (ret)
		return fail(err, errlen, ret, "disable");
	d->qsize = NVMED_ADMIN_ENTRIES;
	ret = nvmed_mem(d, NVMED_ADMIN_ENTRIES * NVME_SQE_BYTES, &d->asq);
	if (!ret)
		ret = nvmed_mem(d, NVMED_ADMIN_ENTRIES * NVME_CQE_BYTES, &d->acq);
	if (ret) {
		nvmed_close(d);
		return fail(err, errlen, ret, "admin queue memory");
	}
	wr32(d, NVME_REG_INTMS, 0xffffffff);
	wr32(d, NVME_REG_AQA, nvme_aqa(NVMED_ADMIN_ENTRIES, NVMED_ADMIN_ENTRIES));
	wr64(d, NVME_REG_ASQ, d->asq.iova);
	wr64(d, NVME_REG_ACQ, d->acq.iova);
	wr32(d, NVME_REG_CC, nvme_cc());
	ret = wait_ready(d, true);
	if (ret) {
		nvmed_close(d);
		return fail(err, errlen, ret, "enable");
	}
	d->phase = 1;
	d->enabled = true;
	return 0;
}

int nvmed_admin(struct nvmed *d, struct nvme_sqe *e, struct nvme_cqe *out)
{
	struct nvme_cqe *cq = (struct nvme_cqe *)d->acq.va;
	double end;

	e->cdw[0] = (e->cdw[0] & 0xffff) | (uint32_t)++d->cid << 16;
	memcpy((uint8_t *)d->asq.va + d->sq_tail * NVME_SQE_BYTES, e, sizeof(*e));
	d->sq_tail = (d->sq_tail + 1) % d->qsize;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wr32(d, nvme_doorbell(0, false, d->dstrd), d->sq_tail);
	end = now_ms() + d->timeout_ms;
	for (;;) {
		struct nvme_cqe c;

		memcpy(&c, (void *)&cq[d->cq_head], sizeof(c));
		if (nvme_cqe_phase(&c) == d->phase) {
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			memcpy(&c, (void *)&cq[d->cq_head], sizeof(c));
			if (++d->cq_head == d->qsize) {
				d->cq_head = 0;
				d->phase ^= 1;
			}
			wr32(d, nvme_doorbell(0, true, d->dstrd), d->cq_head);
			if (out)
				*out = c;
			if (nvme_cqe_cid(&c) != d->cid)
				return -EPROTO;
			return nvme_cqe_status(&c) ? -EIO : 0;
		}
		if (now_ms() > end)
			return -ETIMEDOUT;
	}
}

int nvmed_identify(struct nvmed *d, uint8_t cns, uint32_t nsid, uint64_t iova,
		   struct nvme_cqe *out)
{
	struct nvme_sqe e;

	nvme_sqe_identify(&e, 0, cns, nsid, iova);
	return nvmed_admin(d, &e, out);
}

int nvmed_ioq_create(struct nvmed *d, unsigned qid, unsigned qsize, struct nvmed_ioq *q)
{
	struct nvme_sqe e;
	int ret;

	memset(q, 0, sizeof(*q));
	if (qsize < 2 || qsize > NVME_CAP_MQES(rd64(d, NVME_REG_CAP)) || !qid)
		return -EINVAL;
	q->qid = qid;
	q->qsize = qsize;
	q->phase = 1;
	q->sq_head_guard = qsize - 1;
	ret = nvmed_mem(d, (size_t)qsize * NVME_CQE_BYTES, &q->cq);
	if (!ret)
		ret = nvmed_mem(d, (size_t)qsize * NVME_SQE_BYTES, &q->sq);
	if (!ret) {
		nvme_sqe_create_cq(&e, 0, (uint16_t)qid, qsize, q->cq.iova);
		ret = nvmed_admin(d, &e, NULL);
	}
	if (!ret) {
		nvme_sqe_create_sq(&e, 0, (uint16_t)qid, qsize, q->sq.iova, (uint16_t)qid);
		ret = nvmed_admin(d, &e, NULL);
		if (ret) {
			nvme_sqe_delete_q(&e, 0, NVME_ADMIN_DELETE_CQ, (uint16_t)qid);
			nvmed_admin(d, &e, NULL);
		}
	}
	if (ret) {
		nvmed_mem_free(d, &q->sq);
		nvmed_mem_free(d, &q->cq);
		return ret;
	}
	q->live = true;
	return 0;
}

int nvmed_ioq_put(struct nvmed_ioq *q, const struct nvme_sqe *e)
{
	unsigned next = (q->sq_tail + 1) % q->qsize;

	if (next == q->sq_head_guard)
		return -EBUSY;
	memcpy((uint8_t *)q->sq.va + (size_t)q->sq_tail * NVME_SQE_BYTES, e, sizeof(*e));
	q->sq_tail = next;
	return 0;
}

void nvmed_ioq_ring(struct nvmed *d, struct nvmed_ioq *q)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	wr32(d, nvme_doorbell(q->qid, false, d->dstrd), q->sq_tail);
}

unsigned nvmed_ioq_reap(struct nvmed *d, struct nvmed_ioq *q, struct nvme_cqe *out, unsigned max)
{
	volatile struct nvme_cqe *cq = (volatile struct nvme_cqe *)q->cq.va;
	unsigned n = 0;

	while (n < max) {
		struct nvme_cqe c;

		c.dw[3] = cq[q->cq_head].dw[3];
		if (nvme_cqe_phase(&c) != q->phase)
			break;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		for (int i = 0; i < 4; i++)
			out[n].dw[i] = cq[q->cq_head].dw[i];
		/* SQHD: how far the controller has consumed the submission queue. */
		q->sq_head_guard = (nvme_cqe_sqhd(&out[n]) + q->qsize - 1) % q->qsize;
		n++;
		if (++q->cq_head == q->qsize) {
			q->cq_head = 0;
			q->phase ^= 1;
		}
	}
	if (n)
		wr32(d, nvme_doorbell(q->qid, true, d->dstrd), q->cq_head);
	return n;
}

void nvmed_ioq_delete(struct nvmed *d, struct nvmed_ioq *q)
{
	struct nvme_sqe e;

	if (q->live) {
		nvme_sqe_delete_q(&e, 0, NVME_ADMIN_DELETE_SQ, (uint16_t)q->qid);
		nvmed_admin(d, &e, NULL);
		nvme_sqe_delete_q(&e, 0, NVME_ADMIN_DELETE_CQ, (uint16_t)q->qid);
		nvmed_admin(d, &e, NULL);
		q->live = false;
	}
	nvmed_mem_free(d, &q->sq);
	nvmed_mem_free(d, &q->cq);
}

void nvmed_close(struct nvmed *d)
{
	if (d->v && d->v->bar0) {
		wr32(d, NVME_REG_CC, 0);
		wait_ready(d, false);
	}
	nvmed_mem_free(d, &d->asq);
	nvmed_mem_free(d, &d->acq);
	d->enabled = false;
}
