/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenlog: the counter dumps in a Xen boot's console log, or in the output
 * of the dom0 tool (iob_xenctl.c) taken on a real host.
 *
 * Records read (fields comma-separated; Xen's own lines may carry the
 * "(XEN) " prefix, which is dropped; every other line is skipped):
 *
 *   iob-wl-begin,<workload>,<arg>          the dom0 script starts a workload
 *   iob-wl-io,<workload>,ios=N,bytes=B,ns=T  a domU workload's I/Os and time
 *   iob-wl-end,<workload>,rc=<n>           ... and its status
 *   iob-dom0-begin,<workload>,k=v...       a dump after a workload (tsc_khz=, tuning=)
 *   iob-dom0-path,<workload>,<path>,<count>,<total>,<min>,<max>,<64 log2 buckets>
 *   iob-dom0-event,<workload>,<event>,<n>
 *   iob-dom0-end,<workload>
 *   iob-dom0-done                          the dom0 script finished
 *   iob-begin,k=v...                       debug key 'j': Xen's own dump
 *   iob-path,<path>,<count>,<total>,<min>,<max>,<64 log2 buckets>
 *   iob-event,<event>,<n>
 *   iob-end
 *
 * A path record is the record of docs/csv-schema.md; it is refused when
 * its histogram does not add up to its count, or min, max and total
 * disagree. The banners "AMD-Vi: IOMMU ... Enabled" and "Dom0 mode:
 * Strict" (or "Relaxed") are noted. Nothing here prints or exits.
 */
#ifndef IOB_XENLOG_H
#define IOB_XENLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XENLOG_LOG2	64
#define XENLOG_PATHS_MAX	32
#define XENLOG_EVENTS_MAX	32
#define XENLOG_DUMPS_MAX	64

struct xenlog_rec {
	char path[32];
	uint64_t count, total, min, max;
	uint64_t log2[XENLOG_LOG2];
};

/* One dump of the counters: after a dom0 workload, or the console's. */
struct xenlog_dump {
	char label[64];		/* the workload, or "console" */
	char tuning[64];	/* as Xen reports it; "" when it did not say */
	char arg[24];		/* the workload's argument (MiB or iterations) */
	int wl_rc;		/* the workload's status in dom0, -1 unknown */
	uint64_t tsc_khz;
	bool has_io;		/* an iob-wl-io line came with the workload */
	uint64_t io_n, io_bytes, io_ns;	/* its I/Os, bytes and nanoseconds */
	unsigned npaths, nevents;
	struct xenlog_rec recs[XENLOG_PATHS_MAX];
	char evname[XENLOG_EVENTS_MAX][32];
	uint64_t ev[XENLOG_EVENTS_MAX];
	bool complete;
};

struct xenlog {
	unsigned ndumps;
	struct xenlog_dump dumps[XENLOG_DUMPS_MAX];
	bool amdvi_enabled;	/* "AMD-Vi: IOMMU <n> Enabled" */
	bool dom0_strict;	/* "Dom0 mode: Strict" */
	bool dom0_relaxed;	/* "Dom0 mode: Relaxed" */
	bool dom0_done;		/* iob-dom0-done */
};

/**
 * xenlog_parse() - Read the dumps of a whole log.
 * @text: the log, NUL-terminated
 * @lg:   filled (about 1 MiB: callers keep it static)
 * @err:  "line N: reason" for a malformed record, or "the dump of 'W' is
 *        cut short" for a dump without its end line
 *
 * Return: 0, or -EINVAL with @err set.
 */
int xenlog_parse(const char *text, struct xenlog *lg, char *err, size_t errlen);

/**
 * xenlog_read() - xenlog_parse() of the file @path, read line by line (a
 * NUL byte in a serial log ends only its line).
 * @err: as xenlog_parse(), prefixed with "PATH: "; or why it cannot be read
 * Return: 0, -EINVAL (malformed), -EIO (read error), or the -errno of
 * opening it.
 */
int xenlog_read(const char *path, struct xenlog *lg, char *err, size_t errlen);

/* The record of @path in @d, or NULL. */
const struct xenlog_rec *xenlog_dump_rec(const struct xenlog_dump *d, const char *path);
/* Its count, or 0 when @d has no such record. */
uint64_t xenlog_dump_count(const struct xenlog_dump *d, const char *path);
/* Its total cycles, or 0. */
uint64_t xenlog_dump_total(const struct xenlog_dump *d, const char *path);
/* The event @name's value, or 0. */
uint64_t xenlog_dump_event(const struct xenlog_dump *d, const char *name);

#endif /* IOB_XENLOG_H */
