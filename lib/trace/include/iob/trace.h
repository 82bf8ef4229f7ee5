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
 * trace_parse() - Parse @text, either format, told apart by its first
 * event line ("IOMMU:" in it: tracefs).
 * @text:   the whole trace, NUL terminated; lines of at most 1023 bytes
 * @t:      the events in file order; zeroed on error
 * @err:    if not NULL, on failure "line N: reason"
 * @errlen: size of @err
 *
 * Blank lines and '#' lines are skipped, and in tracefs text any event
 * that is not iommu:map or iommu:unmap. tracefs times are rebased to the
 * first event.
 *
 * Return: 0; -EINVAL for a malformed line, an address or size not 4 KiB
 * aligned, a zero size, a range past 2^64, time going backwards, or no
 * event at all; -ENOMEM.
 */
int trace_parse(const char *text, struct trace *t, char *err, size_t errlen);

/**
 * trace_read() - trace_parse() of a file.
 * @path:   the file, at most 512 MiB of text
 * @t:      the events; zeroed on error
 * @err:    if not NULL, on failure "PATH: line N: reason" or "PATH: reason"
 * @errlen: size of @err
 *
 * Return: 0; the errors of trace_parse(); or those of textfile_read()
 * (-errno of fopen(3), -EINVAL for binary data or a file too large,
 * -ENOMEM, -EIO).
 */
int trace_read(const char *path, struct trace *t, char *err, size_t errlen);

/**
 * trace_write() - Write @t in the suite's format, whole: as PATH.tmp,
 * renamed to @path once complete.
 * @path:    the file
 * @t:       the events
 * @comment: if not NULL, written after the format line, each of its lines
 *           as a "# " comment
 *
 * Return: 0; -errno of fopen(3), fclose(3) or rename(2); -EIO when a
 * write fails. On error the temporary file is removed and @path is as it
 * was.
 */
int trace_write(const char *path, const struct trace *t, const char *comment);

/**
 * trace_free() - Free the events and zero @t.
 * @t: the trace (a zeroed one is fine)
 */
void trace_free(struct trace *t);

#endif /* IOB_TRACE_H */
