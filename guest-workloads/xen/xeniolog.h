/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xeniolog: Xen's log of dom0's IOMMU table (patch 0007 of
 * hv-patches/xen-4.17), as `iob-xenctl pathctr log LABEL` prints it on the
 * console after a workload (guest-workloads/xen/iob_xenctl.c):
 *
 *   iob-flog-begin,<label>,total=<n>,lost=<n>
 *   iob-flog,<label>,c,<cmd>,<extents>,<tsc>,<cpu>      a memory_op call begins
 *   iob-flog,<label>,r,<cmd>,<done>,<tsc>,<flushes>,<whole-domain flushes>
 *   iob-flog,<label>,x,<flushes>,<whole-domain flushes>  flushes outside calls
 *   iob-flog,<label>,m|u,<first dfn>,<n>,<order>,<1|-1>  a run of maps or unmaps
 *                                       by dom0 outside its calls (page tables
 *                                       typed and freed); M, U: a call's own
 *   iob-flog,<label>,b,<first dfn>,<state>,<128 hex digits|->  a 2 MiB block
 *                                       before its first change in the window
 *   iob-flog,<label>,s|k|z,<dfn>,<level>  a superpage shattered, a table
 *                                       coalesced, a table freed (emptied);
 *                                       S, K, Z: inside a call
 *   iob-flog,<label>,t,<tsc>,<flushes>,<whole-domain flushes>  the flush queue's
 *                                       timer fired (and the flush it sent)
 *   iob-flog,<label>,o,<maps>,<unmaps>,<flushes>,<whole-domain flushes>,<shatters>
 *                                       dom0's own changes over the whole log (the
 *                                       only event of a summary log)
 *   iob-flog-end,<label>
 *
 * Nothing here prints or exits.
 */
#ifndef IOB_XENIOLOG_H
#define IOB_XENIOLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* XENMEM_* commands a call line carries (Xen's public/memory.h). */
#define XENIOLOG_INCREASE	0
#define XENIOLOG_DECREASE	1
#define XENIOLOG_POPULATE	6

/* Block states (XEN_SYSCTL_IOB_FLOG_block): what held the block's dfns. */
#define XENIOLOG_BLOCK_NONE	0	/* nothing mapped */
#define XENIOLOG_BLOCK_TABLE	1	/* a level-1 table: bits[] its present entries */
#define XENIOLOG_BLOCK_2M	2	/* a 2 MiB superpage */
#define XENIOLOG_BLOCK_1G	3	/* inside a 1 GiB superpage */
#define XENIOLOG_BLOCK_FOREIGN	0x80	/* an entry maps dfn to another frame */

struct xeniolog_ev {
	char kind;		/* c r x m u M U b s k z S K Z t o (the line's letter) */
	/*
	 * c: a cmd, b extents, c tsc, d the CPU;  r: a cmd, b done, c tsc, d flushes,
	 * e whole-domain flushes;  x: d, e as r;  m/u/M/U: a first dfn, b pages
	 * in the run, c order, dir +1 or -1;  b: a first dfn, c state;
	 * s/k/z/S/K/Z: a dfn, c level;  t: c tsc, d, e as r;  o: a maps, b
	 * unmaps, d flushes, e whole-domain flushes, c shatters.
	 */
	uint64_t a, b, c, d, e;
	int dir;
	uint64_t bits[8];	/* b with state TABLE: the present entries */
};

struct xeniolog {
	char label[64];
	uint64_t total, lost;	/* entries Xen logged, and lost (a full log) */
	size_t n, cap;
	struct xeniolog_ev *ev;
	bool complete;		/* its end line came */
};

/**
 * xeniolog_parse() - The log of workload @label in a console log.
 * @text:   the console log, NUL-terminated
 * @label:  the workload (iob-wl-begin's name)
 * @out:    filled; xeniolog_free() it (also after an error)
 * @err:    "line N: reason" for a malformed line of @label's log
 * @errlen: room in @err
 *
 * Lines of other labels and other records are skipped; "(XEN) " prefixes
 * and trailing '\r's are dropped. A second log of @label replaces the
 * first (the last boot's counts are the ones reported).
 *
 * Return: 1 (a complete log read), 0 (no log of @label: out->n == 0),
 * -EINVAL (a malformed line, a log cut short or one that lost entries,
 * with @err set), -ENOMEM.
 */
int xeniolog_parse(const char *text, const char *label, struct xeniolog *out, char *err,
		   size_t errlen);

/**
 * xeniolog_free() - Give back what xeniolog_parse() allocated.
 * @l: the log (zeroed)
 */
void xeniolog_free(struct xeniolog *l);

#endif /* IOB_XENIOLOG_H */
