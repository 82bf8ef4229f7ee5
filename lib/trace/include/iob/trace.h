/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * trace: streams of DMA map and unmap events (docs/trace-format.md), read
 * from the suite's own format or from Linux's tracefs output of the
 * iommu:map and iommu:unmap events, and written in the suite's format.
 * Malformed input is refused with the line number and the reason.
 */
#ifndef IOB_TRACE_H
#define IOB_TRACE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Directions of a map, as bits: the device reads memory, writes it, or
 * both. The same values as the page table's IOPT_PROT_* (walk.h), so a
 * direction passes to a mapping unchanged; trace sits below amdvi and
 * cannot include it (replay checks the equality at compile time).
 */
#define TRACE_DIR_READ		(1U << 0)
#define TRACE_DIR_WRITE		(1U << 1)
#define TRACE_DIR_RW		(TRACE_DIR_READ | TRACE_DIR_WRITE)

enum trace_op {
	TRACE_MAP,
	TRACE_UNMAP,
};

struct trace_event {
	uint64_t t_ns;		/* time since the trace began */
	enum trace_op op;
	uint16_t dev;		/* device (the tracefs format has none: 0) */
	uint64_t iova;
	uint64_t paddr;		/* map only */
	uint64_t size;		/* bytes, a multiple of 4 KiB */
	unsigned dir;		/* map: TRACE_DIR_* bits (tracefs: both) */
};

struct trace {
	struct trace_event *ev;
	size_t n;
	enum { TRACE_FMT_IOB, TRACE_FMT_TRACEFS } format;
};

/**
 * trace_parse() - Parse @text (NUL terminated), either format, told apart
 * by its first event line.
 * @err: "line N: reason" on failure
 * Return: 0, -EINVAL (malformed), -ENOMEM.
 */
int trace_parse(const char *text, struct trace *t, char *err, size_t errlen);
/* trace_read() - trace_parse() of a file. Return: also -errno of the read. */
int trace_read(const char *path, struct trace *t, char *err, size_t errlen);
/* trace_write() - The suite's format, written whole (temporary name, then rename). */
int trace_write(const char *path, const struct trace *t, const char *comment);
void trace_free(struct trace *t);

#endif /* IOB_TRACE_H */
