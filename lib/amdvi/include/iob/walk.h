/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The IOMMU's table walk for the v1 host format, shared by iopt_translate()
 * and the device model (lib/amdvi/iommu.c): one walker, so that software
 * and "hardware" can never disagree about what a table means.
 *
 * Names: the walk and its faults are the hardware's, as the specification
 * describes them, so they carry amdvi.h's prefix (amdvi_walk(), enum
 * amdvi_fault); the access rights are the page table's IOPT_PROT_*, defined
 * here because the walk ANDs them and iopt.h includes this file.
 */
#ifndef IOB_WALK_H
#define IOB_WALK_H

#include <iob/amdvi.h>

/* Access rights, mapped onto IR/IW. */
#define IOPT_PROT_READ		(1U << 0)
#define IOPT_PROT_WRITE		(1U << 1)
#define IOPT_PROT_RW		(IOPT_PROT_READ | IOPT_PROT_WRITE)

/* Result of one translation, as the hardware walk found it. */
enum amdvi_fault {
	AMDVI_FAULT_NONE,
	AMDVI_FAULT_NOT_PRESENT,	/* an entry on the path had PR = 0 */
	AMDVI_FAULT_PERMISSION,		/* IR/IW along the path deny the access */
	AMDVI_FAULT_BAD_LEVEL,		/* Next Level not below the current level */
	AMDVI_FAULT_RESERVED,		/* reserved bits 58:52 set */
	AMDVI_FAULT_SKIPPED_BITS,	/* a skipped level's address bits not zero */
	AMDVI_FAULT_ADDR_RANGE,		/* IOVA beyond what the paging mode covers */
	AMDVI_FAULT_DTE_INVALID,	/* no valid DTE, or translation not valid */
	AMDVI_FAULT_NR
};

struct amdvi_walk_step {
	unsigned level;
	unsigned index;
	paddr_t table;
	uint64_t entry;
};

struct amdvi_walk {
	enum amdvi_fault fault;
	paddr_t pa;			/* translated address (no fault) */
	unsigned size_lg2;		/* page size found */
	unsigned prot;			/* IOPT_PROT_* ANDed along the path */
	unsigned fault_level;
	unsigned nsteps;		/* entries read */
	struct amdvi_walk_step steps[AMDVI_PT_LEVELS_MAX];
};

/**
 * amdvi_walk() - Translate @iova as the IOMMU's table walker would.
 * @table: address of the table to start at (the DTE root, or a table
 *         taken from a page-directory cache)
 * @level: level of @table (the DTE mode when starting at the root)
 * @top:   paging mode (levels) of the whole table, for the range check
 * @prot:  rights accumulated above @table (IOPT_PROT_RW at the root)
 * @iova:  device address
 * @w:     filled with the result, fault or not
 *
 * Reads entries through the addresses they hold, checks Next Level,
 * reserved bits and skipped-level bits, and ANDs IR/IW along the path.
 * It does not check the access against @w->prot: callers do. A fault is
 * an output (@w->fault, @w->fault_level), not an error: a @level or @top
 * out of 1..6, or @level above @top, is AMDVI_FAULT_BAD_LEVEL.
 */
void amdvi_walk(paddr_t table, unsigned level, unsigned top, unsigned prot,
		iova_t iova, struct amdvi_walk *w);

/**
 * amdvi_fault_name() - A fault's name, for output.
 * @f: the fault
 *
 * Return: "none", "not-present", "permission", "bad-next-level",
 * "reserved-bits", "skipped-level-bits", "address-out-of-range" or
 * "dte-invalid"; "?" for a value out of range.
 */
const char *amdvi_fault_name(enum amdvi_fault f);

#endif /* IOB_WALK_H */
