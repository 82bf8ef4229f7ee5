/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * inval: how a range to invalidate becomes INVALIDATE_IOMMU_PAGES commands.
 *
 *  - exact:  maximal naturally aligned power-of-two blocks, one command
 *            each; nothing beyond the range is invalidated.
 *  - merged: one command for the smallest naturally aligned block holding
 *            the whole range (Linux's build_inv_address(); past 2^52 bytes
 *            it becomes "all pages").
 *  - xen:    order 0, 9 or 18 if the range fits one such aligned block,
 *            else the whole domain (Xen 4.17's amd_iommu_flush_iotlb_pages()).
 */
#ifndef IOB_INVAL_H
#define IOB_INVAL_H

#include <stdint.h>

#include <iob/amdvi.h>

enum inval_policy {
	INVAL_EXACT,
	INVAL_MERGED,
	INVAL_XEN,
	INVAL_POLICY_NR
};

/* One naturally aligned block; size_lg2 == 64 means all pages of the domain. */
struct inval_block {
	iova_t start;
	unsigned size_lg2;
};

/* Enough for any range: at most two blocks per size class. */
#define INVAL_BLOCKS_MAX	128

struct inval_result {
	unsigned nblocks;
	struct inval_block blocks[INVAL_BLOCKS_MAX];
	/*
	 * Bytes invalidated beyond the range asked for: the size of every
	 * block (an "all pages" block counts as the domain's space,
	 * 2^space_lg2 bytes) minus the bytes of the range it covers (of an
	 * "all pages" block, the range's bytes inside the space). Saturates
	 * at UINT64_MAX.
	 */
	uint64_t over_bytes;
	unsigned whole_domain;	/* blocks that were "all pages" */
};

/**
 * inval_split() - Turn [@iova, @iova + @size) into blocks under @policy.
 * @policy:    how (enum inval_policy)
 * @iova:      start, 4 KiB aligned
 * @size:      bytes, a non-zero multiple of 4 KiB; the range may end at
 *             2^64 but not wrap past it
 * @space_lg2: bytes of the domain's address space (log2, 64 for all of
 *             it): what an "all pages" block counts as in @r->over_bytes
 * @r:         the blocks, lowest address first; emptied on error
 *
 * exact gives the fewest naturally aligned blocks that tile the range
 * (at most INVAL_BLOCKS_MAX); merged and xen give one block.
 *
 * Return: 0, or -EINVAL for a zero or unaligned size or start, a range
 * past 2^64, or an unknown policy.
 */
int inval_split(enum inval_policy policy, iova_t iova, uint64_t size,
		unsigned space_lg2, struct inval_result *r);

/**
 * inval_policy_name() - A policy's name, as the command line spells it.
 * @p: the policy
 *
 * Return: "exact", "merged" or "xen"; "?" for a value out of range.
 */
const char *inval_policy_name(enum inval_policy p);

/**
 * inval_policy_parse() - The policy a name stands for.
 * @name: "exact", "merged" or "xen", exactly
 *
 * Return: the policy, or -EINVAL for any other name.
 */
int inval_policy_parse(const char *name);

#endif /* IOB_INVAL_H */
