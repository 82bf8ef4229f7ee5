/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * AMD-Vi (AMD I/O Virtualization Technology) definitions, named as the
 * specification names them.
 *
 * Source: AMD I/O Virtualization Technology (IOMMU) Specification, pub.
 * 48882, sections "I/O Page Tables for Host Translations" (v1 format),
 * "Device Table Entry Format", "Commands" and "Event Log". Field positions
 * were cross-checked against the encoders of Linux 6.1
 * (drivers/iommu/amd/amd_iommu_types.h), Xen 4.17
 * (xen/drivers/passthrough/amd/iommu-defs.h) and QEMU 7.2
 * (hw/i386/amd_iommu.h), which agree on every field used here.
 *
 * Levels are numbered as in the specification: a level-1 table holds 4 KiB
 * PTEs, a level-n entry spans 2^(12 + 9 * (n - 1)) bytes.
 */
#ifndef IOB_AMDVI_H
#define IOB_AMDVI_H

#include <stdbool.h>
#include <stdint.h>

typedef uint64_t iova_t;	/* device (I/O virtual) address */
typedef uint64_t paddr_t;	/* system physical address, as the IOMMU sees it */
typedef uint16_t domid_t;	/* domain ID, DTE bits 79:64 */

/* ---- I/O page table, v1 (host) format ---------------------------------- */

#define AMDVI_PAGE_SIZE_LG2		12
#define AMDVI_PAGE_SIZE			(1ULL << AMDVI_PAGE_SIZE_LG2)
#define AMDVI_PT_ENTRIES_LG2		9	/* 512 eight-byte entries per 4 KiB table */
#define AMDVI_PT_ENTRIES		(1U << AMDVI_PT_ENTRIES_LG2)
#define AMDVI_PT_LEVELS_MIN		1
#define AMDVI_PT_LEVELS_MAX		6

/* PTE and PDE fields (one 64-bit entry; the two share the layout). */
#define AMDVI_PTE_PR			(1ULL << 0)	/* present */
#define AMDVI_PTE_IGN0			(0xfULL << 1)	/* bits 4:1 ignored */
#define AMDVI_PTE_A			(1ULL << 5)	/* accessed */
#define AMDVI_PTE_D			(1ULL << 6)	/* dirty (leaf) */
#define AMDVI_PTE_IGN1			(0x3ULL << 7)	/* bits 8:7 ignored */
#define AMDVI_PTE_NEXT_LEVEL_SHIFT	9
#define AMDVI_PTE_NEXT_LEVEL		(0x7ULL << 9)	/* bits 11:9 */
#define AMDVI_PTE_ADDR			0x000ffffffffff000ULL	/* bits 51:12 */
#define AMDVI_PTE_RSVD			(0x7fULL << 52)	/* bits 58:52, must be zero */
#define AMDVI_PTE_U			(1ULL << 59)	/* untranslated access only */
#define AMDVI_PTE_FC			(1ULL << 60)	/* force coherent */
#define AMDVI_PTE_IR			(1ULL << 61)	/* read permission */
#define AMDVI_PTE_IW			(1ULL << 62)	/* write permission */
#define AMDVI_PTE_IGN2			(1ULL << 63)

/*
 * Next Level encodings. 0 in a PTE above level 1 makes it a leaf of that
 * level's size; 1..6 point to a table of that level (a value below
 * current-1 skips levels, whose address bits must then be zero); 7 marks a
 * leaf whose size is encoded in the address field: the lowest clear bit of
 * address bits 51:12, at position k, gives a page of 2^(k+1) bytes. Such a
 * page is written into every entry it spans.
 */
#define AMDVI_NEXT_LEVEL_LEAF		0
#define AMDVI_NEXT_LEVEL_SIZED		7

/**
 * amdvi_pte_next_level() - The Next Level field of an entry.
 * @pte: a PTE or PDE
 *
 * Return: bits 11:9, 0 to 7 (see AMDVI_NEXT_LEVEL_*).
 */
static inline unsigned amdvi_pte_next_level(uint64_t pte)
{
	return (unsigned)((pte & AMDVI_PTE_NEXT_LEVEL) >> AMDVI_PTE_NEXT_LEVEL_SHIFT);
}

/**
 * amdvi_next_level_enc() - A Next Level value placed in its field.
 * @nl: 0 to 7; higher bits are dropped
 *
 * Return: @nl in bits 11:9, every other bit zero.
 */
static inline uint64_t amdvi_next_level_enc(unsigned nl)
{
	return ((uint64_t)nl << AMDVI_PTE_NEXT_LEVEL_SHIFT) & AMDVI_PTE_NEXT_LEVEL;
}

/**
 * amdvi_level_shift() - Span of one entry of a level-@level table.
 * @level: 1 to 6 (1: the table of 4 KiB PTEs)
 *
 * Return: log2 of the bytes one entry maps: 12, 21, 30, 39, 48, 57.
 */
static inline unsigned amdvi_level_shift(unsigned level)
{
	return AMDVI_PAGE_SIZE_LG2 + AMDVI_PT_ENTRIES_LG2 * (level - 1);
}

/**
 * amdvi_sized_addr() - The address field of a Next Level = 7 entry.
 * @pa:       the page's address (its bits below @size_lg2 are ignored)
 * @size_lg2: the page size, 13 to 52
 *
 * Return: @pa with bits size_lg2-2 .. 12 set and bit size_lg2-1 clear,
 * masked to AMDVI_PTE_ADDR: the lowest clear bit says the size.
 */
static inline uint64_t amdvi_sized_addr(paddr_t pa, unsigned size_lg2)
{
	uint64_t ones = (1ULL << (size_lg2 - 1)) - 1;

	return (pa | ones) & ~(1ULL << (size_lg2 - 1)) & AMDVI_PTE_ADDR;
}

/**
 * amdvi_sized_lg2() - The page size a Next Level = 7 entry encodes.
 * @pte: the entry
 *
 * Return: log2 of the page size: one more than the position of the lowest
 * clear bit of address bits 51:12 (13 for bit 12 clear), 53 when every
 * one of those bits is set. Whether the level holding the entry allows
 * that size is amdvi_walk()'s check.
 */
static inline unsigned amdvi_sized_lg2(uint64_t pte)
{
	uint64_t a = (pte & AMDVI_PTE_ADDR) >> AMDVI_PAGE_SIZE_LG2;

	return AMDVI_PAGE_SIZE_LG2 + 1 + (unsigned)__builtin_ctzll(~a);
}

/* ---- Device table entry (256 bits, four quadwords) --------------------- */

#define AMDVI_DTE_SIZE			32
#define AMDVI_DTE_V			(1ULL << 0)	/* qword 0 */
#define AMDVI_DTE_TV			(1ULL << 1)
#define AMDVI_DTE_MODE_SHIFT		9
#define AMDVI_DTE_MODE			(0x7ULL << 9)	/* paging mode = levels, 0 = none */
#define AMDVI_DTE_PT_ROOT		0x000ffffffffff000ULL	/* bits 51:12 */
#define AMDVI_DTE_IR			(1ULL << 61)
#define AMDVI_DTE_IW			(1ULL << 62)
#define AMDVI_DTE_DOMAIN_ID		0xffffULL	/* qword 1 bits 15:0 */
#define AMDVI_DTE_I			(1ULL << 32)	/* qword 1: IOTLB (ATS) enable */

/* ---- Commands (128 bits, four dwords, opcode in dword 1 bits 31:28) ---- */

#define AMDVI_CMD_SIZE			16
#define AMDVI_CMD_OPCODE_SHIFT		28	/* in dword 1: bits 63:60 of the command */

enum amdvi_cmd_opcode {
	AMDVI_CMD_COMPLETION_WAIT		= 0x01,
	AMDVI_CMD_INVALIDATE_DEVTAB_ENTRY	= 0x02,
	AMDVI_CMD_INVALIDATE_IOMMU_PAGES	= 0x03,
	AMDVI_CMD_INVALIDATE_IOTLB_PAGES	= 0x04,
	AMDVI_CMD_INVALIDATE_INTERRUPT_TABLE	= 0x05,
	AMDVI_CMD_PREFETCH_IOMMU_PAGES		= 0x06,
	AMDVI_CMD_COMPLETE_PPR_REQUEST		= 0x07,
	AMDVI_CMD_INVALIDATE_IOMMU_ALL		= 0x08,
};

/* COMPLETION_WAIT */
#define AMDVI_CMD_CW_S			(1U << 0)	/* dword 0: store data when done */
#define AMDVI_CMD_CW_I			(1U << 1)	/* dword 0: interrupt when done */
#define AMDVI_CMD_CW_F			(1U << 2)	/* dword 0: flush queue */
#define AMDVI_CMD_CW_ADDR_LO		0xfffffff8U	/* dword 0: store address 31:3 */
#define AMDVI_CMD_CW_ADDR_HI		0x000fffffU	/* dword 1: store address 51:32 */
/* dwords 2 and 3: the 64-bit store data */

/* INVALIDATE_DEVTAB_ENTRY, INVALIDATE_INTERRUPT_TABLE */
#define AMDVI_CMD_DEVICE_ID		0x0000ffffU	/* dword 0 */

/* INVALIDATE_IOMMU_PAGES */
#define AMDVI_CMD_PASID			0x000fffffU	/* dword 0 */
#define AMDVI_CMD_DOMAIN_ID		0x0000ffffU	/* dword 1 */
#define AMDVI_CMD_INV_S			(1U << 0)	/* dword 2: range, size in address */
#define AMDVI_CMD_INV_PDE		(1U << 1)	/* dword 2: page directory entries too */
#define AMDVI_CMD_INV_GN		(1U << 2)	/* dword 2: guest (PASID) address */
#define AMDVI_CMD_INV_ADDR_LO		0xfffff000U	/* dword 2: address 31:12 */
/* dword 3: address 63:32 */

/* INVALIDATE_IOTLB_PAGES (device TLB, ATS) */
#define AMDVI_CMD_IOTLB_MAXPEND_SHIFT	24		/* dword 0 bits 31:24 */
#define AMDVI_CMD_IOTLB_PASID_HI_SHIFT	16		/* dword 0 bits 23:16: PASID 15:8 */
#define AMDVI_CMD_IOTLB_QUEUEID		0x0000ffffU	/* dword 1 */
#define AMDVI_CMD_IOTLB_PASID_LO_SHIFT	16		/* dword 1 bits 23:16: PASID 7:0 */

/*
 * With S set, an address whose bits 62:12 are all one invalidates every
 * page of the domain (the specification's "all pages" encoding; Linux
 * writes 0x7fffffffffffffff and masks bits 11:0).
 */
#define AMDVI_INV_ALL_PAGES_ADDR	0x7ffffffffffff000ULL

/* ---- Event log (128-bit entries, code in dword 1 bits 31:28) ----------- */

#define AMDVI_EVENT_SIZE		16
#define AMDVI_EVENT_CODE_SHIFT		28
#define AMDVI_EVENT_FLAGS_SHIFT		16	/* dword 1 bits 27:16 */

enum amdvi_event_code {
	AMDVI_EVENT_ILLEGAL_DEV_TABLE_ENTRY	= 0x1,
	AMDVI_EVENT_IO_PAGE_FAULT		= 0x2,
	AMDVI_EVENT_DEV_TAB_HARDWARE_ERROR	= 0x3,
	AMDVI_EVENT_PAGE_TAB_HARDWARE_ERROR	= 0x4,
	AMDVI_EVENT_ILLEGAL_COMMAND_ERROR	= 0x5,
	AMDVI_EVENT_COMMAND_HARDWARE_ERROR	= 0x6,
};

/* IO_PAGE_FAULT flags (dword 1 bits 27:16, listed from bit 16 up) */
#define AMDVI_EVENT_F_GN		(1U << 0)
#define AMDVI_EVENT_F_NX		(1U << 1)
#define AMDVI_EVENT_F_US		(1U << 2)
#define AMDVI_EVENT_F_I			(1U << 3)	/* interrupt request */
#define AMDVI_EVENT_F_PR		(1U << 4)	/* the final entry was present */
#define AMDVI_EVENT_F_RW		(1U << 5)	/* 1 = write access */
#define AMDVI_EVENT_F_PE		(1U << 6)	/* permission violation */
#define AMDVI_EVENT_F_RZ		(1U << 7)	/* reserved bit not zero / bad level */
#define AMDVI_EVENT_F_TR		(1U << 8)	/* translation request */

/* One raw 128-bit command or event as the hardware reads it. */
struct amdvi_cmd {
	uint32_t dw[4];
};

#endif /* IOB_AMDVI_H */
