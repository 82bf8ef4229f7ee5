/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmdq: the AMD-Vi command buffer. A ring of 16-byte commands in 4 KiB
 * aligned memory with a head (consumer, the IOMMU) and a tail (producer,
 * software) held as byte offsets, as in the CMD_HEAD/CMD_TAIL registers
 * (MMIO 0x2000/0x2008). Encoders and a decoder for the commands the suite
 * uses, bit for bit as the specification lays them out.
 *
 * Calling rules:
 *  - one producer and one consumer; they may be different threads.
 *  - a full ring makes the producer call @kick until the consumer frees
 *    room: commands are never dropped or overwritten.
 */
#ifndef IOB_CMDQ_H
#define IOB_CMDQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <iob/amdvi.h>

struct cmdq;

#define CMDQ_ENTRIES_MIN	256	/* ComLen 8: 2^8 entries */
#define CMDQ_ENTRIES_MAX	32768	/* ComLen 15 */
#define CMDQ_ENTRIES_LINUX	512	/* Linux's 8 KiB buffer */

struct cmdq_cfg {
	unsigned entries;		/* power of two, 256..32768 (one slot stays empty) */
	/*
	 * Called while the producer waits for the consumer: a full ring or a
	 * completion-wait store not yet seen. Inline mode runs the IOMMU
	 * model here; a threaded consumer needs only a pause.
	 */
	void (*kick)(void *ctx);
	void *kick_ctx;
};

#define CMDQ_STATS(X)							\
	X(submitted) X(completion_waits) X(inv_iommu_pages)		\
	X(inv_iotlb_pages) X(inv_devtab) X(inv_all) X(other)		\
	X(full_waits) X(kicks) X(consumed)

struct cmdq_stats {
#define CMDQ_STAT_FIELD(n) uint64_t n;
	CMDQ_STATS(CMDQ_STAT_FIELD)
#undef CMDQ_STAT_FIELD
};

/**
 * cmdq_create() - Allocate a ring.
 * Return: 0, -EINVAL (size not a power of two in range, no @kick), -ENOMEM.
 */
int cmdq_create(const struct cmdq_cfg *cfg, struct cmdq **out);
void cmdq_destroy(struct cmdq *q);

/**
 * cmdq_submit() - Copy @n commands to the tail and publish them.
 * Waits (calling @kick) while the ring lacks room; larger batches than the
 * ring go in ring-sized pieces.
 */
void cmdq_submit(struct cmdq *q, const struct amdvi_cmd *cmds, size_t n);

/*
 * cmdq_wait_store() - Wait until *@sem == @value, as software polls a
 * COMPLETION_WAIT store. Calls @kick between polls.
 */
void cmdq_wait_store(struct cmdq *q, const volatile uint64_t *sem, uint64_t value);

/* Consumer side: fetch the command at head, if any, and advance head. */
bool cmdq_fetch(struct cmdq *q, struct amdvi_cmd *out);
/* Commands published and not yet fetched. */
unsigned cmdq_pending(const struct cmdq *q);
unsigned cmdq_entries(const struct cmdq *q);
/* Register views: byte offsets of head and tail, and the ring's base address. */
uint32_t cmdq_head(const struct cmdq *q);
paddr_t cmdq_base(const struct cmdq *q);
uint32_t cmdq_tail(const struct cmdq *q);

void cmdq_stats_get(const struct cmdq *q, struct cmdq_stats *out);
void cmdq_stats_reset(struct cmdq *q);

/* ---- encoders ------------------------------------------------------------ */

/* COMPLETION_WAIT: store @data at @store_addr (8-byte aligned) when done. */
void cmdq_enc_completion_wait(struct amdvi_cmd *c, paddr_t store_addr,
			      uint64_t data, bool interrupt);
void cmdq_enc_inv_devtab_entry(struct amdvi_cmd *c, uint16_t devid);
/*
 * INVALIDATE_IOMMU_PAGES. @addr is the raw address field: with @s clear a
 * single 4 KiB page, with @s set a naturally aligned range encoded by its
 * lowest clear bit (see cmdq_range_addr()).
 */
void cmdq_enc_inv_iommu_pages(struct amdvi_cmd *c, domid_t domid, uint64_t addr,
			      bool s, bool pde);
void cmdq_enc_inv_iotlb_pages(struct amdvi_cmd *c, uint16_t devid,
			      uint8_t maxpend, uint16_t queueid, uint64_t addr,
			      bool s);
void cmdq_enc_inv_iommu_all(struct amdvi_cmd *c);

/*
 * cmdq_range_addr() - Address field and S bit for the aligned block of
 * 2^@size_lg2 bytes at @start; @size_lg2 >= 64 means every page.
 */
uint64_t cmdq_range_addr(iova_t start, unsigned size_lg2, bool *s);

/* ---- decoder ----------------------------------------------------------- */

struct cmdq_decoded {
	enum amdvi_cmd_opcode op;
	uint16_t devid;
	domid_t domid;
	uint16_t queueid;
	uint8_t maxpend;
	uint32_t pasid;
	bool s, pde, gn;		/* invalidations */
	bool store, interrupt, flush;	/* completion wait */
	uint64_t addr;			/* raw address field, or store address */
	uint64_t data;			/* completion-wait store data */
	iova_t range_start;		/* invalidations: the block covered */
	unsigned range_lg2;		/* 64: all pages */
};

/**
 * cmdq_decode() - Take a command apart.
 * Return: 0, or -EINVAL for an opcode this model does not know or a
 * reserved field that is not zero (the IOMMU logs ILLEGAL_COMMAND_ERROR).
 */
int cmdq_decode(const struct amdvi_cmd *c, struct cmdq_decoded *d);
const char *cmdq_opcode_name(unsigned op);

#endif /* IOB_CMDQ_H */
