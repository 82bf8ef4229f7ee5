// SPDX-License-Identifier: GPL-2.0-or-later
/* NVMe register values, queue entries and PRP lists (NVMe Base 2.0). */
#include <errno.h>
#include <string.h>

#include <iob/nvme.h>

uint32_t nvme_cc(void)
{
	/* IOSQES 6 (64 bytes), IOCQES 4 (16 bytes), MPS 0 (4 KiB), CSS 0 (NVM). */
	return NVME_CC_EN | NVME_CC_CSS_NVM | (0U << NVME_CC_MPS_SHIFT) |
	       (6U << NVME_CC_IOSQES_SHIFT) | (4U << NVME_CC_IOCQES_SHIFT);
}

uint32_t nvme_aqa(unsigned sq, unsigned cq)
{
	/* Zero-based sizes: ASQS bits 11:0, ACQS bits 27:16. */
	if (sq < 2 || sq > 4096 || cq < 2 || cq > 4096)
		return 0;
	return (uint32_t)(cq - 1) << 16 | (uint32_t)(sq - 1);
}

uint32_t nvme_doorbell(unsigned qid, bool cq, unsigned dstrd)
{
	return NVME_REG_DBS + (2 * qid + (cq ? 1 : 0)) * (4U << dstrd);
}

/* CDW0: opcode bits 7:0, fused 9:8 (0), PSDT 15:14 (0: PRPs), CID 31:16. */
static void sqe_init(struct nvme_sqe *e, uint8_t opcode, uint16_t cid)
{
	memset(e, 0, sizeof(*e));
	e->cdw[0] = opcode | (uint32_t)cid << 16;
}

/* DPTR: PRP1 in CDW7:6, PRP2 in CDW9:8. */
static void sqe_prp(struct nvme_sqe *e, uint64_t prp1, uint64_t prp2)
{
	e->cdw[6] = (uint32_t)prp1;
	e->cdw[7] = (uint32_t)(prp1 >> 32);
	e->cdw[8] = (uint32_t)prp2;
	e->cdw[9] = (uint32_t)(prp2 >> 32);
}

void nvme_sqe_identify(struct nvme_sqe *e, uint16_t cid, uint8_t cns, uint32_t nsid,
		       uint64_t prp1)
{
	sqe_init(e, NVME_ADMIN_IDENTIFY, cid);
	e->cdw[1] = nsid;
	sqe_prp(e, prp1, 0);
	e->cdw[10] = cns;
}

void nvme_sqe_create_cq(struct nvme_sqe *e, uint16_t cid, uint16_t qid, unsigned entries,
			uint64_t iova)
{
	sqe_init(e, NVME_ADMIN_CREATE_CQ, cid);
	sqe_prp(e, iova, 0);
	/* CDW10: QSIZE (zero-based) 31:16, QID 15:0. CDW11: IEN bit 1 off, PC bit 0 on. */
	e->cdw[10] = (uint32_t)(entries - 1) << 16 | qid;
	e->cdw[11] = 1;
}

void nvme_sqe_create_sq(struct nvme_sqe *e, uint16_t cid, uint16_t qid, unsigned entries,
			uint64_t iova, uint16_t cqid)
{
	sqe_init(e, NVME_ADMIN_CREATE_SQ, cid);
	sqe_prp(e, iova, 0);
	/* CDW11: CQID 31:16, QPRIO 2:1 (0), PC bit 0. */
	e->cdw[10] = (uint32_t)(entries - 1) << 16 | qid;
	e->cdw[11] = (uint32_t)cqid << 16 | 1;
}

void nvme_sqe_delete_q(struct nvme_sqe *e, uint16_t cid, uint8_t opcode, uint16_t qid)
{
	sqe_init(e, opcode, cid);
	e->cdw[10] = qid;	/* CDW10: QID 15:0 */
}

void nvme_sqe_read(struct nvme_sqe *e, uint16_t cid, uint32_t nsid, uint64_t slba,
		   unsigned nlb, uint64_t prp1, uint64_t prp2)
{
	sqe_init(e, NVME_NVM_READ, cid);
	e->cdw[1] = nsid;
	sqe_prp(e, prp1, prp2);
	/* SLBA in CDW11:10, NLB zero-based in CDW12 15:0. */
	e->cdw[10] = (uint32_t)slba;
	e->cdw[11] = (uint32_t)(slba >> 32);
	e->cdw[12] = (nlb - 1) & 0xffff;
}

int nvme_prp(uint64_t iova, uint64_t len, const uint64_t *pages, size_t npages,
	     uint64_t *list, size_t list_max, uint64_t list_iova, uint64_t *prp1, uint64_t *prp2)
{
	uint64_t first = NVME_PAGE - (iova & (NVME_PAGE - 1));
	size_t need;

	if (!len)
		return -EINVAL;
	need = len <= first ? 0 : (size_t)((len - first + NVME_PAGE - 1) / NVME_PAGE);
	if (npages != need)
		return -EINVAL;
	for (size_t i = 0; i < npages; i++)
		if (pages[i] & (NVME_PAGE - 1))
			return -EINVAL;
	*prp1 = iova;
	if (!need) {
		*prp2 = 0;
	} else if (need == 1) {
		*prp2 = pages[0];
	} else {
		/* One list page; its last entry would chain to another, not used here. */
		if (need > list_max || need > NVME_PAGE / 8 || (list_iova & 7))
			return -E2BIG;
		memcpy(list, pages, need * sizeof(*list));
		*prp2 = list_iova;
	}
	return 0;
}

/* DW3: CID 15:0, phase tag bit 16, status 31:17. */
unsigned nvme_cqe_phase(const struct nvme_cqe *c)
{
	return (c->dw[3] >> 16) & 1;
}

unsigned nvme_cqe_status(const struct nvme_cqe *c)
{
	return c->dw[3] >> 17;
}

uint16_t nvme_cqe_cid(const struct nvme_cqe *c)
{
	return (uint16_t)c->dw[3];
}

/* DW2: SQ head pointer 15:0, SQ identifier 31:16. */
uint16_t nvme_cqe_sqhd(const struct nvme_cqe *c)
{
	return (uint16_t)c->dw[2];
}

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int nvme_id_ns_parse(const uint8_t *id, struct nvme_ns_info *out)
{
	unsigned nlbaf = id[25] + 1U;	/* zero-based */
	unsigned flbas = id[26];
	unsigned fmt = flbas & 0xf;
	uint32_t lbaf;
	unsigned lbads;

	memset(out, 0, sizeof(*out));
	out->nsze = le(id, 8);
	if (!out->nsze)
		return -ENODEV;
	if (nlbaf > 16)
		fmt |= ((flbas >> 5) & 3) << 4;
	if (fmt >= nlbaf || fmt >= 64)
		return -EINVAL;
	lbaf = (uint32_t)le(id + 128 + 4 * fmt, 4);
	lbads = (lbaf >> 16) & 0xff;
	if (lbads < 9 || lbads > 16)
		return -EINVAL;
	out->lba_bytes = 1U << lbads;
	out->ms = lbaf & 0xffff;
	out->extended = (flbas >> 4) & 1;
	return 0;
}

uint64_t nvme_id_ctrl_mdts(const uint8_t *id)
{
	return id[77] ? NVME_PAGE << id[77] : 0;
}
