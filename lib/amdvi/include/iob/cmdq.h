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
 * cmdq_create() - Allocate an empty ring (head = tail = 0).
 * @cfg: size and kick callback, validated here
 * @out: the new ring; untouched on error
 *
 * Return: 0; -EINVAL for a NULL argument, @cfg->entries not a power of
 * two in CMDQ_ENTRIES_MIN..CMDQ_ENTRIES_MAX, or no @cfg->kick; -ENOMEM.
 */
int cmdq_create(const struct cmdq_cfg *cfg, struct cmdq **out);

/**
 * cmdq_destroy() - Free the ring; commands still in it are dropped.
 * @q: the ring, or NULL (nothing to do)
 */
void cmdq_destroy(struct cmdq *q);

/**
 * cmdq_submit() - Copy commands to the tail and publish them (the tail
 * "doorbell" is one release store per piece).
 * @q:    the ring
 * @cmds: the commands, in order
 * @n:    how many; 0 does nothing
 *
 * Waits (calling the kick) while the ring lacks room; a batch larger than
 * the ring goes in ring-sized pieces. Producer side only.
 */
void cmdq_submit(struct cmdq *q, const struct amdvi_cmd *cmds, size_t n);

/**
 * cmdq_wait_store() - Wait as software polls a COMPLETION_WAIT store.
 * @q:     the ring whose kick runs between polls
 * @sem:   the store's target
 * @value: the value the store writes
 *
 * Returns once *@sem == @value (an acquire load): every command before
 * the COMPLETION_WAIT has then taken effect. Never times out.
 */
void cmdq_wait_store(struct cmdq *q, const volatile uint64_t *sem, uint64_t value);

/**
 * cmdq_fetch() - Consumer side: take the command at head and advance head.
 * @q:   the ring
 * @out: the command, when there is one
 *
 * Return: true with @out filled, false when the ring is empty.
 */
bool cmdq_fetch(struct cmdq *q, struct amdvi_cmd *out);

/**
 * cmdq_pending() - Commands published and not yet fetched.
 * @q: the ring
 *
 * Return: 0 to entries - 1.
 */
unsigned cmdq_pending(const struct cmdq *q);

/**
 * cmdq_entries() - The ring's size.
 * @q: the ring
 *
 * Return: slots, as configured (one always stays empty).
 */
unsigned cmdq_entries(const struct cmdq *q);

/**
 * cmdq_head() - The CMD_HEAD register: where the consumer reads next.
 * @q: the ring
 *
 * Return: a byte offset into the ring, a multiple of 16.
 */
uint32_t cmdq_head(const struct cmdq *q);

/**
 * cmdq_base() - The ring's address, as the CMD_BASE register holds it.
 * @q: the ring
 *
 * Return: the address of the first slot, 4 KiB aligned.
 */
paddr_t cmdq_base(const struct cmdq *q);

/**
 * cmdq_tail() - The CMD_TAIL register: where the producer writes next.
 * @q: the ring
 *
 * Return: a byte offset into the ring, a multiple of 16.
 */
uint32_t cmdq_tail(const struct cmdq *q);

/**
 * cmdq_stats_get() - Copy the counters (CMDQ_STATS).
 * @q:   the ring
 * @out: the counters; @out->consumed is the consumer's, the rest the
 *       producer's
 */
void cmdq_stats_get(const struct cmdq *q, struct cmdq_stats *out);

/**
 * cmdq_stats_reset() - Zero the counters; call while the ring is idle.
 * @q: the ring
 */
void cmdq_stats_reset(struct cmdq *q);

/* ---- encoders ------------------------------------------------------------
 *
 * Each fills all four dwords of @c: fields as given, opcode in dword 1
 * bits 31:28, every reserved bit zero.
 */

/**
 * cmdq_enc_completion_wait() - COMPLETION_WAIT (opcode 01h).
 * @c:          the command
 * @store_addr: where the IOMMU stores @data when every earlier command is
 *              done (bits 51:3; 8-byte aligned); 0: no store (S clear)
 * @data:       the 64-bit store data (ignored without a store)
 * @interrupt:  set I: interrupt when done
 */
void cmdq_enc_completion_wait(struct amdvi_cmd *c, paddr_t store_addr,
			      uint64_t data, bool interrupt);

/**
 * cmdq_enc_inv_devtab_entry() - INVALIDATE_DEVTAB_ENTRY (opcode 02h).
 * @c:     the command
 * @devid: the device whose cached DTE goes
 */
void cmdq_enc_inv_devtab_entry(struct amdvi_cmd *c, uint16_t devid);

/**
 * cmdq_enc_inv_iommu_pages() - INVALIDATE_IOMMU_PAGES (opcode 03h).
 * @c:     the command
 * @domid: the domain whose translations go
 * @addr:  the raw address field (bits 63:12 kept): with @s clear the one
 *         4 KiB page at @addr, with @s set a naturally aligned range
 *         encoded by its lowest clear bit (cmdq_range_addr() makes it)
 * @s:     set S: @addr encodes a range
 * @pde:   set PDE: cached page-directory entries go too
 */
void cmdq_enc_inv_iommu_pages(struct amdvi_cmd *c, domid_t domid, uint64_t addr,
			      bool s, bool pde);

/**
 * cmdq_enc_inv_iotlb_pages() - INVALIDATE_IOTLB_PAGES (opcode 04h): the
 * device's own (ATS) TLB.
 * @c:       the command
 * @devid:   the device
 * @maxpend: maximum pending invalidations the device accepts
 * @queueid: the device's invalidation queue
 * @addr:    the raw address field, as for cmdq_enc_inv_iommu_pages()
 * @s:       set S: @addr encodes a range
 */
void cmdq_enc_inv_iotlb_pages(struct amdvi_cmd *c, uint16_t devid,
			      uint8_t maxpend, uint16_t queueid, uint64_t addr,
			      bool s);

/**
 * cmdq_enc_inv_iommu_all() - INVALIDATE_IOMMU_ALL (opcode 08h): every
 * cached translation, directory entry and DTE.
 * @c: the command
 */
void cmdq_enc_inv_iommu_all(struct amdvi_cmd *c);

/**
 * cmdq_range_addr() - Address field and S bit for an aligned block.
 * @start:    any address in the block (its bits below @size_lg2 are
 *            ignored)
 * @size_lg2: the block's size: 12 or less means the single 4 KiB page at
 *            @start, 64 or more every page of the domain
 * @s:        set to the S bit the command needs
 *
 * Return: the address field: the page's address with S clear; for a
 * larger block, its start with bits size_lg2-2 .. 12 set and bit
 * size_lg2-1 clear, S set; AMDVI_INV_ALL_PAGES_ADDR with S set for every
 * page.
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
 * cmdq_decode() - Take a command apart, as the IOMMU does before it acts.
 * @c: the raw command
 * @d: zeroed, then the fields of @c's opcode; for invalidations also the
 *     block the address field and S bit cover (range_start, range_lg2)
 *
 * Return: 0; -EINVAL for an opcode this model does not execute
 * (PREFETCH_IOMMU_PAGES, COMPLETE_PPR_REQUEST, anything above 08h) or a
 * reserved bit that is set: the IOMMU logs ILLEGAL_COMMAND_ERROR for it.
 */
int cmdq_decode(const struct amdvi_cmd *c, struct cmdq_decoded *d);

/**
 * cmdq_opcode_name() - An opcode's name as the specification spells it.
 * @op: the opcode (dword 1 bits 31:28)
 *
 * Return: "COMPLETION_WAIT", "INVALIDATE_IOMMU_PAGES", ...; "UNKNOWN" for
 * an opcode the specification does not define.
 */
const char *cmdq_opcode_name(unsigned op);

#endif /* IOB_CMDQ_H */
