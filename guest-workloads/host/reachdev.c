// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The reach probe's engines (reachdev.h): the dispatch, and NVMe reads
 * over nvmed's I/O queue pair. PTDMA is in reachdev_ptdma.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "reachdev.h"
#include "reachdev_ptdma.h"

const char *reachdev_kind_name(enum reachdev_kind k)
{
	return k == REACHDEV_NVME ? "nvme" : k == REACHDEV_PTDMA ? "ptdma" : "?";
}

/* Identify Controller and the namespace; checks what reads this probe can make of it. */
static int nvme_identify(struct reachdev *r, char *err, size_t len)
{
	const struct reachdev_cfg *c = &r->cfg;
	const uint8_t *id = r->id.va;
	uint64_t mdts, bytes;
	char model[41];
	int ret;

	ret = nvmed_identify(&r->d, NVME_IDENTIFY_CNS_CTRL, 0, r->id.iova, NULL);
	if (ret) {
		snprintf(err, len, "Identify Controller: %s", strerror(-ret));
		return ret;
	}
	mdts = nvme_id_ctrl_mdts(id);
	/* Model number: bytes 63:24, ASCII, space-padded. */
	memcpy(model, id + 24, 40);
	model[40] = '\0';
	for (int i = 39; i >= 0 && model[i] == ' '; i--)
		model[i] = '\0';
	ret = nvmed_identify(&r->d, NVME_IDENTIFY_CNS_NS, c->nsid, r->id.iova, NULL);
	if (!ret)
		ret = nvme_id_ns_parse(id, &r->ns);
	if (ret) {
		snprintf(err, len, "namespace %u: %s", c->nsid,
			 ret == -ENODEV ? "inactive (size 0)" : ret == -EINVAL ? "malformed Identify"
										 : strerror(-ret));
		return ret;
	}
	if (r->ns.ms || r->ns.lba_bytes > NVME_PAGE) {
		snprintf(err, len, "namespace %u: blocks of %u bytes with %u of metadata: only 512 "
			 "to 4096-byte blocks without metadata are read", c->nsid, r->ns.lba_bytes,
			 r->ns.ms);
		return -ENOTSUP;
	}
	bytes = r->ns.nsze * r->ns.lba_bytes;
	if (c->lba_bytes_first % NVME_PAGE || c->span_bytes < (uint64_t)c->io_pages * NVME_PAGE ||
	    c->lba_bytes_first + c->span_bytes > bytes || c->lba_bytes_first + c->span_bytes <
	    c->lba_bytes_first) {
		snprintf(err, len, "namespace %u holds %llu bytes: the span [%llu, +%llu) must be "
			 "4 KiB-aligned, inside it, and hold one transfer of %u pages", c->nsid,
			 (unsigned long long)bytes, (unsigned long long)c->lba_bytes_first,
			 (unsigned long long)c->span_bytes, c->io_pages);
		return -EINVAL;
	}
	if (mdts && (uint64_t)c->io_pages * NVME_PAGE > mdts) {
		snprintf(err, len, "%u pages per read exceed the controller's MDTS (%llu bytes)",
			 c->io_pages, (unsigned long long)mdts);
		return -EINVAL;
	}
	r->first_lba = c->lba_bytes_first / r->ns.lba_bytes;
	r->span_blocks = c->span_bytes / NVME_PAGE;
	snprintf(r->desc, sizeof(r->desc), "NVMe %s, namespace %u: %llu blocks of %u bytes, MDTS %llu",
		 model[0] ? model : "(no model)", c->nsid, (unsigned long long)r->ns.nsze,
		 r->ns.lba_bytes, (unsigned long long)mdts);
	return 0;
}

static int nvme_open(struct vfioc *v, struct reachdev *r, char *err, size_t len)
{
	unsigned qsize = 2 * r->cfg.qd < 2 ? 2 : 2 * r->cfg.qd;
	int ret;

	ret = nvmed_open(v, REACHDEV_IOVA, &r->d, err, len);
	if (ret)
		return ret;
	ret = nvmed_mem(&r->d, NVME_PAGE, &r->id);
	if (ret)
		snprintf(err, len, "memory for Identify: %s", strerror(-ret));
	if (!ret)
		ret = nvme_identify(r, err, len);
	if (!ret) {
		ret = nvmed_ioq_create(&r->d, 1, qsize, &r->q);
		if (ret)
			snprintf(err, len, "I/O queue pair of %u entries: %s", qsize,
				 ret == -EINVAL ? "more than the controller's MQES" : strerror(-ret));
	}
	if (!ret) {
		ret = nvmed_mem(&r->d, (size_t)r->cfg.qd * NVME_PAGE, &r->prp);
		if (ret)
			snprintf(err, len, "PRP list pages: %s", strerror(-ret));
	}
	r->tested = true;
	return ret;
}

int reachdev_open(struct vfioc *v, const struct reachdev_cfg *cfg, struct reachdev *r,
		  char *err, size_t len)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->cfg = *cfg;
	r->v = v;
	if ((unsigned)cfg->kind >= REACHDEV_KIND_NR || !cfg->qd || cfg->qd > REACHDEV_QD_MAX ||
	    !cfg->io_pages || cfg->io_pages > REACH_IO_PAGES_MAX) {
		snprintf(err, len, "queue depth 1..%d and 1..%d pages per transfer", REACHDEV_QD_MAX,
			 REACH_IO_PAGES_MAX);
		return -EINVAL;
	}
	ret = cfg->kind == REACHDEV_NVME ? nvme_open(v, r, err, len) : ptdma_open(v, r, err, len);
	if (ret)
		reachdev_close(r);
	return ret;
}

void reachdev_layout(const struct reachdev *r, struct reach_layout *lay)
{
	memset(lay, 0, sizeof(*lay));
	lay->slots = r->cfg.qd;
	lay->first = r->cmds;
	if (r->cfg.kind == REACHDEV_PTDMA) {
		lay->engine = REACH_ENGINE_PTDMA;
		lay->sq_iova = r->ring.iova;
		lay->qsize = r->ring_n;
		lay->src_iova = r->src.iova;
		/* Descriptors, not transfers, index the ring. */
		return;
	}
	lay->engine = REACH_ENGINE_NVME;
	lay->sq_iova = r->q.sq.iova;
	lay->cq_iova = r->q.cq.iova;
	lay->qsize = r->q.qsize;
	lay->prp_iova = r->prp.iova;
}

static uint64_t span_block(const struct reachdev *r, uint64_t block, unsigned npages)
{
	return block % (r->span_blocks - npages + 1);
}

uint64_t reachdev_block_of(const struct reachdev *r, uint64_t block)
{
	return r->cfg.lba_bytes_first / NVME_PAGE + span_block(r, block, r->cfg.io_pages);
}

static int nvme_submit(struct reachdev *r, unsigned slot, const uint64_t *iova, unsigned npages,
		       uint64_t block)
{
	uint64_t p1, p2, b = span_block(r, block, r->cfg.io_pages);
	uint64_t *list = (uint64_t *)((uint8_t *)r->prp.va + (size_t)slot * NVME_PAGE);
	uint64_t slba = r->first_lba + b * (NVME_PAGE / r->ns.lba_bytes);
	unsigned nlb = npages * (unsigned)(NVME_PAGE / r->ns.lba_bytes);
	struct nvme_sqe e;

	if (nvme_prp(iova[0], (uint64_t)npages * NVME_PAGE, iova + 1, npages - 1, list,
		     NVME_PAGE / 8, r->prp.iova + (uint64_t)slot * NVME_PAGE, &p1, &p2))
		return -EINVAL;
	nvme_sqe_read(&e, (uint16_t)slot, r->cfg.nsid, slba, nlb, p1, p2);
	return nvmed_ioq_put(&r->q, &e);
}

int reachdev_submit(struct reachdev *r, unsigned slot, const uint64_t *iova, unsigned npages,
		    uint64_t block)
{
	int ret;

	if (slot >= r->cfg.qd || !npages || npages > r->cfg.io_pages)
		return -EINVAL;
	ret = r->cfg.kind == REACHDEV_NVME ? nvme_submit(r, slot, iova, npages, block) :
					     ptdma_submit(r, slot, iova, npages);
	if (!ret)
		r->cmds++;
	return ret;
}

void reachdev_ring(struct reachdev *r)
{
	if (r->cfg.kind == REACHDEV_NVME)
		nvmed_ioq_ring(&r->d, &r->q);
	else
		ptdma_ring(r);
}

unsigned reachdev_reap(struct reachdev *r, unsigned *slots, unsigned max, unsigned *error)
{
	struct nvme_cqe c[64];
	unsigned n;

	if (r->cfg.kind == REACHDEV_PTDMA)
		return ptdma_reap(r, slots, max, error);
	n = nvmed_ioq_reap(&r->d, &r->q, c, max < 64 ? max : 64);
	for (unsigned i = 0; i < n; i++) {
		slots[i] = nvme_cqe_cid(&c[i]);
		if (nvme_cqe_status(&c[i]))
			*error = nvme_cqe_status(&c[i]);
	}
	return n;
}

void reachdev_close(struct reachdev *r)
{
	if (r->cfg.kind == REACHDEV_PTDMA) {
		ptdma_close(r);
		return;
	}
	if (r->d.enabled)
		nvmed_ioq_delete(&r->d, &r->q);
	nvmed_mem_free(&r->d, &r->prp);
	nvmed_mem_free(&r->d, &r->id);
	nvmed_close(&r->d);
}
