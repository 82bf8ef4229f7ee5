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
	uint64_t over_bytes;	/* invalidated beyond the range asked for */
	unsigned whole_domain;	/* blocks that were "all pages" */
};

/**
 * inval_split() - Turn [@iova, @iova + @size) into blocks under @policy.
 * @space_lg2: bytes of the domain's address space (log2), what an "all
 *             pages" command is counted as in @r->over_bytes (saturating)
 *
 * Return: 0, or -EINVAL for a zero size, a range past 2^64, an unaligned
 * range or an unknown policy.
 */
int inval_split(enum inval_policy policy, iova_t iova, uint64_t size,
		unsigned space_lg2, struct inval_result *r);

const char *inval_policy_name(enum inval_policy p);
/* Return: the policy, or -EINVAL for an unknown name. */
int inval_policy_parse(const char *name);

#endif /* IOB_INVAL_H */
