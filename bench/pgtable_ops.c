// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Built twice: as is (pgtable_ops_default), and with -include
 * iob/iopt_kflags.h and PGTABLE_OPS_KFLAGS (pgtable_ops_kflags), where the
 * same names are the kernel-flags build's.
 */
#include "pgtable_ops.h"

#ifdef PGTABLE_OPS_KFLAGS
#define PGTABLE_OPS	pgtable_ops_kflags
#define PGTABLE_CFLAGS	"kernel"
#else
#define PGTABLE_OPS	pgtable_ops_default
#define PGTABLE_CFLAGS	"default"
#endif

const struct pgtable_ops PGTABLE_OPS = {
	.cflags = PGTABLE_CFLAGS,
	.create = iopt_create,
	.destroy = iopt_destroy,
	.map = iopt_map,
	.unmap = iopt_unmap,
	.gather_init = iopt_gather_init,
	.gather_flush = iopt_gather_flush,
	.gather_release = iopt_gather_release,
	.stats_get = iopt_stats_get,
	.count_tables = iopt_count_tables,
	.check = iopt_check,
	.pages_stats = ptpage_stats_get,
};
