// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Command buffer ring and command encodings.
 *
 * Ring protocol (as with the CMD_HEAD/CMD_TAIL registers): software writes
 * commands at tail and then moves tail (release); the IOMMU reads from
 * head up to tail and then moves head (release). One slot always stays
 * empty so that head == tail means empty.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include <iob/alloc.h>
#include <iob/cmdq.h>

struct cmdq {
	struct amdvi_cmd *ring;		/* 4 KiB aligned, entries * 16 bytes */
	unsigned entries;
	uint32_t mask;			/* ring bytes - 1 */
	_Alignas(64) _Atomic uint32_t tail;	/* producer's line */
	_Alignas(64) _Atomic uint32_t head;	/* consumer's line */
	_Alignas(64) void (*kick)(void *ctx);
	void *kick_ctx;
	struct cmdq_stats stats;	/* producer-side counters */
	_Alignas(64) uint64_t consumed;	/* consumer-side counter */
};

int cmdq_create(const struct cmdq_cfg *cfg, struct cmdq **out)
{
	struct cmdq *q;
	void *ring = NULL;
	size_t bytes;

	if (!cfg || !out || !cfg->kick)
		return -EINVAL;
	if (cfg->entries < CMDQ_ENTRIES_MIN || cfg->entries > CMDQ_ENTRIES_MAX ||
	    (cfg->entries & (cfg->entries - 1)))
		return -EINVAL;
	bytes = (size_t)cfg->entries * AMDVI_CMD_SIZE;
	q = iob_aligned_calloc(IOB_CACHELINE, 1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	/* The ring is 4 KiB aligned, as the CMD_BASE register requires. */
	ring = iob_aligned_calloc(4096, 1, bytes);
	if (!ring) {
		iob_free(q);
		return -ENOMEM;
	}
	q->ring = ring;
	q->entries = cfg->entries;
	q->mask = (uint32_t)bytes - 1;
	q->kick = cfg->kick;
	q->kick_ctx = cfg->kick_ctx;
	atomic_init(&q->head, 0);
	atomic_init(&q->tail, 0);
	*out = q;
	return 0;
}

void cmdq_destroy(struct cmdq *q)
{
	if (!q)
		return;
	iob_free(q->ring);
	iob_free(q);
}

unsigned cmdq_entries(const struct cmdq *q)
{
	return q->entries;
}

paddr_t cmdq_base(const struct cmdq *q)
{
	return (paddr_t)(uintptr_t)q->ring;
}

uint32_t cmdq_head(const struct cmdq *q)
{
	return atomic_load_explicit(&q->head, memory_order_acquire);
}

uint32_t cmdq_tail(const struct cmdq *q)
{
	return atomic_load_explicit(&q->tail, memory_order_acquire);
}

unsigned cmdq_pending(const struct cmdq *q)
{
	uint32_t h = cmdq_head(q), t = cmdq_tail(q);

	return ((t - h) & q->mask) / AMDVI_CMD_SIZE;
}

static void count_op(struct cmdq_stats *st, const struct amdvi_cmd *c)
{
	switch (c->dw[1] >> AMDVI_CMD_OPCODE_SHIFT) {
	case AMDVI_CMD_COMPLETION_WAIT:
		st->completion_waits++;
		break;
	case AMDVI_CMD_INVALIDATE_IOMMU_PAGES:
		st->inv_iommu_pages++;
		break;
	case AMDVI_CMD_INVALIDATE_IOTLB_PAGES:
		st->inv_iotlb_pages++;
		break;
	case AMDVI_CMD_INVALIDATE_DEVTAB_ENTRY:
		st->inv_devtab++;
		break;
	case AMDVI_CMD_INVALIDATE_IOMMU_ALL:
		st->inv_all++;
		break;
	default:
		st->other++;
		break;
	}
}

void cmdq_submit(struct cmdq *q, const struct amdvi_cmd *cmds, size_t n)
{
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);

	while (n) {
		uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);
		unsigned room = ((head - tail - AMDVI_CMD_SIZE) & q->mask) / AMDVI_CMD_SIZE;

		if (!room) {
			q->stats.full_waits++;
			do {
				q->stats.kicks++;
				q->kick(q->kick_ctx);
				head = atomic_load_explicit(&q->head, memory_order_acquire);
				room = ((head - tail - AMDVI_CMD_SIZE) & q->mask) /
				       AMDVI_CMD_SIZE;
			} while (!room);
		}
		if (room > n)
			room = (unsigned)n;
		for (unsigned i = 0; i < room; i++) {
			q->ring[tail / AMDVI_CMD_SIZE] = cmds[i];
			count_op(&q->stats, &cmds[i]);
			tail = (tail + AMDVI_CMD_SIZE) & q->mask;
		}
		/* The doorbell: everything before it is visible to the consumer. */
		atomic_store_explicit(&q->tail, tail, memory_order_release);
		q->stats.submitted += room;
		cmds += room;
		n -= room;
	}
}

void cmdq_wait_store(struct cmdq *q, const volatile uint64_t *sem, uint64_t value)
{
	while (__atomic_load_n(sem, __ATOMIC_ACQUIRE) != value) {
		q->stats.kicks++;
		q->kick(q->kick_ctx);
	}
}

bool cmdq_fetch(struct cmdq *q, struct amdvi_cmd *out)
{
	uint32_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);

	if (head == tail)
		return false;
	*out = q->ring[head / AMDVI_CMD_SIZE];
	atomic_store_explicit(&q->head, (head + AMDVI_CMD_SIZE) & q->mask,
			      memory_order_release);
	q->consumed++;
	return true;
}

void cmdq_stats_get(const struct cmdq *q, struct cmdq_stats *out)
{
	*out = q->stats;
	out->consumed = q->consumed;
}

void cmdq_stats_reset(struct cmdq *q)
{
	memset(&q->stats, 0, sizeof(q->stats));
	q->consumed = 0;
}

/* ---- encoders -------------------------------------------------------------- */

static inline void set_opcode(struct amdvi_cmd *c, unsigned op)
{
	c->dw[1] |= (uint32_t)op << AMDVI_CMD_OPCODE_SHIFT;
}

void cmdq_enc_completion_wait(struct amdvi_cmd *c, paddr_t store_addr,
			      uint64_t data, bool interrupt)
{
	memset(c, 0, sizeof(*c));
	if (store_addr) {
		c->dw[0] = ((uint32_t)store_addr & AMDVI_CMD_CW_ADDR_LO) | AMDVI_CMD_CW_S;
		c->dw[1] = (uint32_t)(store_addr >> 32) & AMDVI_CMD_CW_ADDR_HI;
		c->dw[2] = (uint32_t)data;
		c->dw[3] = (uint32_t)(data >> 32);
	}
	if (interrupt)
		c->dw[0] |= AMDVI_CMD_CW_I;
	set_opcode(c, AMDVI_CMD_COMPLETION_WAIT);
}

void cmdq_enc_inv_devtab_entry(struct amdvi_cmd *c, uint16_t devid)
{
	memset(c, 0, sizeof(*c));
	c->dw[0] = devid;
	set_opcode(c, AMDVI_CMD_INVALIDATE_DEVTAB_ENTRY);
}

void cmdq_enc_inv_iommu_pages(struct amdvi_cmd *c, domid_t domid, uint64_t addr,
			      bool s, bool pde)
{
	memset(c, 0, sizeof(*c));
	c->dw[1] = domid;
	c->dw[2] = (uint32_t)addr & AMDVI_CMD_INV_ADDR_LO;
	c->dw[3] = (uint32_t)(addr >> 32);
	if (s)
		c->dw[2] |= AMDVI_CMD_INV_S;
	if (pde)
		c->dw[2] |= AMDVI_CMD_INV_PDE;
	set_opcode(c, AMDVI_CMD_INVALIDATE_IOMMU_PAGES);
}

void cmdq_enc_inv_iotlb_pages(struct amdvi_cmd *c, uint16_t devid,
			      uint8_t maxpend, uint16_t queueid, uint64_t addr,
			      bool s)
{
	memset(c, 0, sizeof(*c));
	c->dw[0] = devid | ((uint32_t)maxpend << AMDVI_CMD_IOTLB_MAXPEND_SHIFT);
	c->dw[1] = queueid;
	c->dw[2] = (uint32_t)addr & AMDVI_CMD_INV_ADDR_LO;
	c->dw[3] = (uint32_t)(addr >> 32);
	if (s)
		c->dw[2] |= AMDVI_CMD_INV_S;
	set_opcode(c, AMDVI_CMD_INVALIDATE_IOTLB_PAGES);
}

void cmdq_enc_inv_iommu_all(struct amdvi_cmd *c)
{
	memset(c, 0, sizeof(*c));
	set_opcode(c, AMDVI_CMD_INVALIDATE_IOMMU_ALL);
}

uint64_t cmdq_range_addr(iova_t start, unsigned size_lg2, bool *s)
{
	if (size_lg2 >= 64) {
		*s = true;
		return AMDVI_INV_ALL_PAGES_ADDR;
	}
	if (size_lg2 <= AMDVI_PAGE_SIZE_LG2) {
		*s = false;
		return start & ~(AMDVI_PAGE_SIZE - 1);
	}
	*s = true;
	/* Bits size_lg2-2..12 set, bit size_lg2-1 clear: the lowest clear bit says the size. */
	start &= ~((1ULL << size_lg2) - 1);
	return (start | ((1ULL << (size_lg2 - 1)) - 1)) & ~(AMDVI_PAGE_SIZE - 1);
}

/* ---- decoder ---------------------------------------------------------------- */

/* Block covered by an invalidation's address field and S bit. */
static void decode_range(struct cmdq_decoded *d)
{
	uint64_t a = d->addr & ~(AMDVI_PAGE_SIZE - 1);
	uint64_t ones;

	if (!d->s) {
		d->range_start = a;
		d->range_lg2 = AMDVI_PAGE_SIZE_LG2;
		return;
	}
	ones = ~(a >> AMDVI_PAGE_SIZE_LG2) & (~0ULL >> AMDVI_PAGE_SIZE_LG2);
	if (!ones) {
		d->range_start = 0;
		d->range_lg2 = 64;
		return;
	}
	/* Lowest clear bit at k gives a block of 2^(k+1). */
	d->range_lg2 = AMDVI_PAGE_SIZE_LG2 + (unsigned)__builtin_ctzll(ones) + 1;
	if (d->range_lg2 >= 64) {
		d->range_start = 0;
		d->range_lg2 = 64;
		return;
	}
	d->range_start = a & ~((1ULL << d->range_lg2) - 1);
}

int cmdq_decode(const struct amdvi_cmd *c, struct cmdq_decoded *d)
{
	uint32_t w0 = c->dw[0], w1 = c->dw[1], w2 = c->dw[2], w3 = c->dw[3];

	memset(d, 0, sizeof(*d));
	d->op = (enum amdvi_cmd_opcode)(w1 >> AMDVI_CMD_OPCODE_SHIFT);
	switch (d->op) {
	case AMDVI_CMD_COMPLETION_WAIT:
		if (w1 & 0x0ff00000U)
			return -EINVAL;
		d->store = w0 & AMDVI_CMD_CW_S;
		d->interrupt = w0 & AMDVI_CMD_CW_I;
		d->flush = w0 & AMDVI_CMD_CW_F;
		d->addr = (w0 & AMDVI_CMD_CW_ADDR_LO) |
			  ((uint64_t)(w1 & AMDVI_CMD_CW_ADDR_HI) << 32);
		d->data = w2 | ((uint64_t)w3 << 32);
		return 0;
	case AMDVI_CMD_INVALIDATE_DEVTAB_ENTRY:
	case AMDVI_CMD_INVALIDATE_INTERRUPT_TABLE:
		if ((w0 & ~AMDVI_CMD_DEVICE_ID) || (w1 & 0x0fffffffU) || w2 || w3)
			return -EINVAL;
		d->devid = (uint16_t)w0;
		return 0;
	case AMDVI_CMD_INVALIDATE_IOMMU_PAGES:
		if ((w0 & ~AMDVI_CMD_PASID) || (w1 & 0x0fff0000U) || (w2 & 0xff8U))
			return -EINVAL;
		d->pasid = w0 & AMDVI_CMD_PASID;
		d->domid = (domid_t)(w1 & AMDVI_CMD_DOMAIN_ID);
		d->s = w2 & AMDVI_CMD_INV_S;
		d->pde = w2 & AMDVI_CMD_INV_PDE;
		d->gn = w2 & AMDVI_CMD_INV_GN;
		d->addr = (w2 & AMDVI_CMD_INV_ADDR_LO) | ((uint64_t)w3 << 32);
		decode_range(d);
		return 0;
	case AMDVI_CMD_INVALIDATE_IOTLB_PAGES:
		if ((w1 & 0x0f000000U) || (w2 & 0xffaU))
			return -EINVAL;
		d->devid = (uint16_t)w0;
		d->maxpend = (uint8_t)(w0 >> AMDVI_CMD_IOTLB_MAXPEND_SHIFT);
		d->queueid = (uint16_t)(w1 & AMDVI_CMD_IOTLB_QUEUEID);
		d->pasid = (((w0 >> AMDVI_CMD_IOTLB_PASID_HI_SHIFT) & 0xff) << 8) |
			   ((w1 >> AMDVI_CMD_IOTLB_PASID_LO_SHIFT) & 0xff);
		d->s = w2 & AMDVI_CMD_INV_S;
		d->gn = w2 & AMDVI_CMD_INV_GN;
		d->addr = (w2 & AMDVI_CMD_INV_ADDR_LO) | ((uint64_t)w3 << 32);
		decode_range(d);
		return 0;
	case AMDVI_CMD_INVALIDATE_IOMMU_ALL:
		if (w0 || (w1 & 0x0fffffffU) || w2 || w3)
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

const char *cmdq_opcode_name(unsigned op)
{
	switch (op) {
	case AMDVI_CMD_COMPLETION_WAIT:
		return "COMPLETION_WAIT";
	case AMDVI_CMD_INVALIDATE_DEVTAB_ENTRY:
		return "INVALIDATE_DEVTAB_ENTRY";
	case AMDVI_CMD_INVALIDATE_IOMMU_PAGES:
		return "INVALIDATE_IOMMU_PAGES";
	case AMDVI_CMD_INVALIDATE_IOTLB_PAGES:
		return "INVALIDATE_IOTLB_PAGES";
	case AMDVI_CMD_INVALIDATE_INTERRUPT_TABLE:
		return "INVALIDATE_INTERRUPT_TABLE";
	case AMDVI_CMD_PREFETCH_IOMMU_PAGES:
		return "PREFETCH_IOMMU_PAGES";
	case AMDVI_CMD_COMPLETE_PPR_REQUEST:
		return "COMPLETE_PPR_REQUEST";
	case AMDVI_CMD_INVALIDATE_IOMMU_ALL:
		return "INVALIDATE_IOMMU_ALL";
	default:
		return "UNKNOWN";
	}
}
