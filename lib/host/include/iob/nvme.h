/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nvme: the NVMe encodings a user-space driver needs to make a controller
 * DMA into memory the IOMMU maps: controller registers, the 64-byte
 * submission queue entry, the 16-byte completion queue entry, PRP lists.
 *
 * Source: NVM Express Base Specification 2.0 (sections 3.1.3
 * "Controller Registers", 4.1 "Submission Queue Entry", 4.2.1
 * "Completion Queue Entry", 4.1.1 "Physical Region Page Entry and List",
 * 5.17 "Identify"); field positions cross-checked against Linux 6.1's
 * include/linux/nvme.h. Pure encoding: nothing here touches a device.
 */
#ifndef IOB_NVME_H
#define IOB_NVME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Controller registers (BAR0 offsets). */
#define NVME_REG_CAP		0x00	/* 64-bit */
#define NVME_REG_VS		0x08
#define NVME_REG_INTMS		0x0c
#define NVME_REG_INTMC		0x10
#define NVME_REG_CC		0x14
#define NVME_REG_CSTS		0x1c
#define NVME_REG_AQA		0x24
#define NVME_REG_ASQ		0x28	/* 64-bit */
#define NVME_REG_ACQ		0x30	/* 64-bit */
#define NVME_REG_DBS		0x1000	/* doorbells */

/* CAP fields. */
#define NVME_CAP_MQES(cap)	((unsigned)((cap) & 0xffff) + 1)	/* entries per queue */
#define NVME_CAP_TO_MS(cap)	((unsigned)(((cap) >> 24) & 0xff) * 500)
#define NVME_CAP_DSTRD(cap)	((unsigned)(((cap) >> 32) & 0xf))
#define NVME_CAP_MPSMIN(cap)	((unsigned)(((cap) >> 48) & 0xf))	/* 2^(12 + n) */

/* CC fields. */
#define NVME_CC_EN		(1U << 0)
#define NVME_CC_CSS_NVM		(0U << 4)
#define NVME_CC_MPS_SHIFT	7
#define NVME_CC_IOSQES_SHIFT	16
#define NVME_CC_IOCQES_SHIFT	20
#define NVME_CSTS_RDY		(1U << 0)
#define NVME_CSTS_CFS		(1U << 1)

/* Admin and NVM opcodes used. */
#define NVME_ADMIN_DELETE_SQ	0x00
#define NVME_ADMIN_CREATE_SQ	0x01
#define NVME_ADMIN_DELETE_CQ	0x04
#define NVME_ADMIN_CREATE_CQ	0x05
#define NVME_ADMIN_IDENTIFY	0x06
#define NVME_NVM_READ		0x02

#define NVME_IDENTIFY_CNS_NS	0x00
#define NVME_IDENTIFY_CNS_CTRL	0x01

#define NVME_SQE_BYTES		64
#define NVME_CQE_BYTES		16
#define NVME_PAGE		4096ULL	/* the memory page size this driver sets (MPS 0) */

struct nvme_sqe {
	uint32_t cdw[16];	/* as the controller reads them, little-endian */
};

struct nvme_cqe {
	uint32_t dw[4];
};

/**
 * nvme_cc() - The CC value that enables a controller for the NVM command
 * set with 4 KiB memory pages and 64/16-byte queue entries.
 *
 * Return: CC with EN set.
 */
uint32_t nvme_cc(void);

/**
 * nvme_aqa() - The AQA value for admin queues of @sq and @cq entries.
 * @sq: submission queue entries, 2..4096
 * @cq: completion queue entries, 2..4096
 *
 * Return: AQA, or 0 for sizes out of range.
 */
uint32_t nvme_aqa(unsigned sq, unsigned cq);

/**
 * nvme_doorbell() - BAR0 offset of a queue's doorbell.
 * @qid:   queue ID (0: admin)
 * @cq:    the completion queue's head doorbell rather than the SQ tail's
 * @dstrd: CAP.DSTRD
 *
 * Return: the offset, 1000h + (2 * qid + cq) * (4 << dstrd).
 */
uint32_t nvme_doorbell(unsigned qid, bool cq, unsigned dstrd);

/**
 * nvme_sqe_identify() - Identify (admin 06h) into the 4 KiB at @prp1.
 * @e:    the entry, overwritten
 * @cid:  command identifier
 * @cns:  NVME_IDENTIFY_CNS_*
 * @nsid: namespace (CNS 0), else 0
 * @prp1: IOVA of a 4 KiB-aligned page
 */
void nvme_sqe_identify(struct nvme_sqe *e, uint16_t cid, uint8_t cns, uint32_t nsid,
		       uint64_t prp1);

/**
 * nvme_sqe_create_cq() - Create I/O Completion Queue (admin 05h),
 * physically contiguous, interrupts off.
 * @e:       the entry
 * @cid:     command identifier
 * @qid:     the new queue's ID (1..)
 * @entries: its size, 2..65536
 * @iova:    its memory, 4 KiB-aligned
 */
void nvme_sqe_create_cq(struct nvme_sqe *e, uint16_t cid, uint16_t qid, unsigned entries,
			uint64_t iova);

/**
 * nvme_sqe_create_sq() - Create I/O Submission Queue (admin 01h),
 * physically contiguous, completing into @cqid.
 * @e:       the entry
 * @cid:     command identifier
 * @qid:     the new queue's ID
 * @entries: its size
 * @iova:    its memory
 * @cqid:    the completion queue it posts to
 */
void nvme_sqe_create_sq(struct nvme_sqe *e, uint16_t cid, uint16_t qid, unsigned entries,
			uint64_t iova, uint16_t cqid);

/**
 * nvme_sqe_delete_q() - Delete I/O Submission Queue (admin 00h) or Delete
 * I/O Completion Queue (admin 04h).
 * @e:      the entry
 * @cid:    command identifier
 * @opcode: NVME_ADMIN_DELETE_SQ or NVME_ADMIN_DELETE_CQ
 * @qid:    the queue
 */
void nvme_sqe_delete_q(struct nvme_sqe *e, uint16_t cid, uint8_t opcode, uint16_t qid);

/**
 * nvme_sqe_read() - Read (NVM 02h) @nlb blocks from @slba of @nsid.
 * @e:    the entry
 * @cid:  command identifier
 * @nsid: namespace
 * @slba: first logical block
 * @nlb:  blocks, 1..65536
 * @prp1: first data page (may start inside a page)
 * @prp2: second page, or a PRP list's IOVA (see nvme_prp())
 */
void nvme_sqe_read(struct nvme_sqe *e, uint16_t cid, uint32_t nsid, uint64_t slba,
		   unsigned nlb, uint64_t prp1, uint64_t prp2);

/**
 * nvme_prp() - The PRP entries for a transfer of @len bytes from @iova,
 * whose pages are given one by one in @pages (page-aligned IOVAs; the
 * first may be @iova's own page with an offset).
 * @iova:      where the data starts (PRP1; may be unaligned)
 * @len:       bytes, at least 1
 * @pages:     IOVA of each 4 KiB page after the first one
 * @npages:    their number (needed: the pages the transfer touches, minus 1)
 * @list:      filled with PRP list entries when more than two pages
 * @list_max:  its capacity (entries in one list page: 512)
 * @list_iova: where @list will sit in device memory
 * @prp1:      PRP1
 * @prp2:      PRP2: 0 (one page), the second page, or @list_iova
 *
 * Return: 0; -EINVAL when @len is 0 or @npages is not the number of pages
 * the transfer needs; -E2BIG when the list would not fit one list page.
 */
int nvme_prp(uint64_t iova, uint64_t len, const uint64_t *pages, size_t npages,
	     uint64_t *list, size_t list_max, uint64_t list_iova, uint64_t *prp1, uint64_t *prp2);

/**
 * nvme_cqe_phase() - The phase tag of a completion (flips each pass).
 * @c: the entry
 *
 * Return: 0 or 1.
 */
unsigned nvme_cqe_phase(const struct nvme_cqe *c);

/**
 * nvme_cqe_status() - Status field (SCT and SC, without the phase bit).
 * @c: the entry
 *
 * Return: 0 for success.
 */
unsigned nvme_cqe_status(const struct nvme_cqe *c);

/**
 * nvme_cqe_sqhd() - The submission queue head pointer a completion reports
 * (the controller has consumed the entries before it).
 * @c: the entry
 *
 * Return: SQHD.
 */
uint16_t nvme_cqe_sqhd(const struct nvme_cqe *c);

struct nvme_ns_info {
	uint64_t nsze;		/* namespace size, logical blocks */
	unsigned lba_bytes;	/* 2^LBADS of the format in use */
	unsigned ms;		/* metadata bytes per block of that format */
	bool extended;		/* metadata interleaved with the data (FLBAS bit 4) */
};

/**
 * nvme_id_ns_parse() - The fields of an Identify Namespace page (CNS 00h)
 * a reader needs: NSZE (bytes 7:0), FLBAS (byte 26: format index bits 3:0,
 * and bits 6:5 above them when NLBAF > 16), and the LBA format it names
 * (bytes 128 + 4n: MS bits 15:0, LBADS bits 23:16).
 * @id:  the 4096-byte page
 * @out: filled
 *
 * Return: 0; -ENODEV for an inactive namespace (NSZE 0); -EINVAL for a
 * format index beyond NLBAF (byte 25) or 64, or LBADS outside 9..16.
 */
int nvme_id_ns_parse(const uint8_t *id, struct nvme_ns_info *out);

/**
 * nvme_id_ctrl_mdts() - Maximum Data Transfer Size of an Identify
 * Controller page (byte 77), in bytes for a controller whose CAP.MPSMIN is
 * 4 KiB: 4 KiB << MDTS, 0 for no limit.
 * @id: the 4096-byte page
 *
 * Return: bytes, or 0.
 */
uint64_t nvme_id_ctrl_mdts(const uint8_t *id);

/**
 * nvme_cqe_cid() - The command identifier a completion answers.
 * @c: the entry
 *
 * Return: the CID.
 */
uint16_t nvme_cqe_cid(const struct nvme_cqe *c);

#endif /* IOB_NVME_H */
