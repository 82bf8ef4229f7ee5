/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The page table's calls as a table, one per build: `iob micro pgtable`
 * times the default build and the one with the kernel's code-generation
 * flags (meson option pgtable_kflags, iob/iopt_kflags.h) in one process,
 * each call through the table (one indirect call, as a driver's ops).
 */
#ifndef IOB_BENCH_PGTABLE_OPS_H
#define IOB_BENCH_PGTABLE_OPS_H

#include <iob/iopt.h>
#include <iob/ptpage.h>

struct pgtable_ops {
	const char *cflags;	/* "default" or "kernel" */
	int (*create)(const struct iopt_cfg *cfg, struct iopt **out);
	void (*destroy)(struct iopt *pt);
	int (*map)(struct iopt *pt, iova_t iova, paddr_t pa, uint64_t len, unsigned prot,
		   struct iopt_gather *g);
	int (*unmap)(struct iopt *pt, iova_t iova, uint64_t len, struct iopt_gather *g,
		     uint64_t *unmapped);
	void (*gather_init)(struct iopt_gather *g, iopt_flush_fn flush, void *ctx);
	void (*gather_flush)(struct iopt_gather *g);
	void (*gather_release)(struct iopt *pt, struct iopt_gather *g);
	void (*stats_get)(const struct iopt *pt, struct iopt_stats *out);
	uint64_t (*count_tables)(const struct iopt *pt);
	int (*check)(const struct iopt *pt);
	void (*pages_stats)(struct ptpage_stats *out);
};

extern const struct pgtable_ops pgtable_ops_default;
#ifdef IOB_HAVE_PGTABLE_KFLAGS
extern const struct pgtable_ops pgtable_ops_kflags;
#endif

#endif
