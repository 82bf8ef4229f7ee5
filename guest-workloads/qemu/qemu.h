/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The QEMU guest harness's readers and the model check:
 *
 *  - qcon: the guest console. Lines the guest's /init prints for the
 *    harness start with "IOB-" (init.sh): IOB-BOOT, IOB-INFO, IOB-MARK,
 *    IOB-RESULT, IOB-DMAMAP, IOB-TRACE, IOB-DONE, IOB-ERR, IOB-KLOG, each
 *    followed by key=value fields. Other lines (the kernel's) are only
 *    scanned for the IOMMU's banner.
 *  - qtr: QEMU's trace log (-trace events=FILE -D LOG -msg timestamp=on),
 *    "PID@SEC.USEC:EVENT text" per line, reduced to counts per time
 *    window. AMD-Vi (amdvi_*) and VT-d (vtd_*) command events.
 *  - fid: a captured map/unmap trace replayed through the model's
 *    dmalayer strategy with Linux's invalidation policy, for comparison
 *    with QEMU's counts.
 *
 * Malformed input is refused whole with "line N: reason"; nothing here
 * prints or exits.
 */
#ifndef IOB_QEMU_H
#define IOB_QEMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <iob/trace.h>

/* ---- console ------------------------------------------------------------------------ */

enum qcon_type {
	QCON_BOOT,	/* kernel=, cpus=, mode=, dev= */
	QCON_INFO,	/* disk=, pci=, iommu_group=, domain_type= */
	QCON_MARK,	/* edge=begin|end (the word after IOB-MARK), id= */
	QCON_RESULT,	/* an O_DIRECT point */
	QCON_DMAMAP,	/* one op of the dmabench module */
	QCON_TRACE,	/* id=, events=, overrun=, file= */
	QCON_DONE,	/* status=ok|error [reason=] */
	QCON_ERR,	/* free text, kept whole in key "text" */
	QCON_KLOG,	/* free text, kept whole in key "text" */
	QCON_TYPE_NR
};

#define QCON_KV_MAX	40
#define QCON_KEY_MAX	32
#define QCON_VAL_MAX	160

struct qcon_kv {
	char key[QCON_KEY_MAX];
	char val[QCON_VAL_MAX];
};

struct qcon_rec {
	enum qcon_type type;
	unsigned lineno;
	unsigned nkv;
	struct qcon_kv kv[QCON_KV_MAX];
};

struct qcon {
	struct qcon_rec *rec;
	size_t n, cap;
	bool amdvi_found;	/* "AMD-Vi: Found IOMMU" */
	bool amdvi_intremap;	/* "AMD-Vi: Interrupt remapping enabled" */
	bool dmar_found;	/* "DMAR: IOMMU enabled" (VT-d) */
	bool done;		/* an IOB-DONE line was seen */
	bool done_ok;		/* ... with status=ok */
};

/**
 * qcon_parse_line() - Parse one console line (no newline; a trailing \r
 * is ignored).
 * @err: "reason" when malformed
 * Return: 0 with @r filled, 1 for a line not meant for the harness (not
 * starting with "IOB-"), -EINVAL for a malformed IOB- line: an unknown
 * type, a field without '=', an empty or over-long key or value, a key
 * not [a-z0-9_], a repeated key, too many fields, or a required field
 * missing (MARK: begin|end and id; DONE: status ok|error; RESULT and
 * DMAMAP: id; TRACE: id, events, overrun).
 */
int qcon_parse_line(const char *line, struct qcon_rec *r, char *err, size_t errlen);

/**
 * qcon_parse() - Parse a whole console log (NUL-terminated @text).
 * @err: "line N: reason" when malformed
 * Return: 0, -EINVAL, -ENOMEM. On error @c is left empty.
 */
int qcon_parse(const char *text, struct qcon *c, char *err, size_t errlen);
void qcon_free(struct qcon *c);

/* Value of @key in @r, or NULL. */
const char *qcon_get(const struct qcon_rec *r, const char *key);

/**
 * qcon_get_u64() - Value of @key as an unsigned decimal integer.
 * Return: 0, -ENOENT (absent), -EINVAL (not a number).
 */
int qcon_get_u64(const struct qcon_rec *r, const char *key, uint64_t *out);
/* Same for a decimal number with an optional fraction. */
int qcon_get_double(const struct qcon_rec *r, const char *key, double *out);

/* ---- QEMU trace log -------------------------------------------------------------------- */

enum qtr_event {
	QTR_COMMAND,		/* a command taken from the ring (amdvi_command_exec, vtd_inv_desc) */
	QTR_PAGES_INVAL,	/* INVALIDATE_IOMMU_PAGES / VT-d page-selective IOTLB */
	QTR_COMPLETION_WAIT,	/* COMPLETION_WAIT / VT-d wait descriptor */
	QTR_ALL_INVAL,		/* INVALIDATE_IOMMU_ALL / VT-d domain or global IOTLB */
	QTR_DEVTAB_INVAL,	/* INVALIDATE_DEVTAB_ENTRY / VT-d context cache */
	QTR_IOTLB_INVAL,	/* INVALIDATE_IOTLB_PAGES (ATS device TLB) */
	QTR_INTR_INVAL,		/* interrupt table / VT-d IEC */
	QTR_IOTLB_FILL,		/* the IOMMU's IOTLB filled after a walk (amdvi_cache_update) */
	QTR_OTHER,		/* any other event in the log */
	/*
	 * An IOTLB hit (amdvi_iotlb_hit): traced only by iob qemu host, so not
	 * among qemu.csv's columns (which end at QTR_OTHER).
	 */
	QTR_IOTLB_HIT,
	QTR_EVENT_NR
};

/*
 * Page invalidations by size: index i < QTR_SIZE_ALL is 4K << i (the last
 * of them, 2M, counts 2M and larger); then the whole domain (AMD's S bit
 * with address 0x7FFFFFFFFFFFF000), then "the event does not say".
 */
#define QTR_SIZE_ALL	10
#define QTR_SIZE_UNKNOWN 11
#define QTR_SIZE_NR	12

struct qtr_counts {
	uint64_t ev[QTR_EVENT_NR];
	uint64_t inval_by_size[QTR_SIZE_NR];
};

/* A time window, host wall-clock microseconds, inclusive at both ends. */
struct qtr_window {
	uint64_t t0_us, t1_us;
	struct qtr_counts c;	/* filled by qtr_count() */
};

/**
 * qtr_count() - Count the events of a QEMU trace log per window.
 * @f:     the log, read to its end
 * @w:     windows (may overlap); their counts are zeroed first
 * @total: every event of the log, in or out of a window (may be NULL)
 * @err:   "line N: reason" when malformed
 *
 * Return: 0; -EINVAL for a line that is not "PID@SEC.USEC:EVENT[ text]"
 * (a log written without -msg timestamp=on, a truncated last line, or
 * foreign text), or a VT-d page invalidation without its mask; -EIO on a
 * read error.
 */
int qtr_count(FILE *f, struct qtr_window *w, size_t nw, struct qtr_counts *total,
	      char *err, size_t errlen);

/**
 * qtr_count_marked() - Count a QEMU trace log per window, the windows cut
 * by marker events rather than by time: the guest makes the device log a
 * register read around each window it counts itself (iob host vfio
 * --mark-mmio), and QEMU logs it in order with the IOMMU's commands, on
 * the same vCPU thread. Window k holds what lies between the (k+1)-th and
 * the (k+2)-th marker; before the first marker nothing counts, and what
 * follows the last one is in a window no marker closed: windows 0 ..
 * @nmarks - 2 are the closed ones.
 * @f:      the log, read to its end
 * @marker: the marker line's event and the start of its text, ending at a
 *          word's end, e.g. "pci_nvme_mmio_read addr 0xc " (the space: not 0xc0)
 * @win:    per window, zeroed first
 * @max:    windows @win holds
 * @nmarks: markers seen
 * @err:    "line N: reason"
 *
 * Return: 0; -EINVAL for a malformed line (as qtr_count()) or more than
 * @max + 1 markers; -EIO on a read error.
 */
int qtr_count_marked(FILE *f, const char *marker, struct qtr_counts *win, size_t max,
		     size_t *nmarks, char *err, size_t errlen);

const char *qtr_event_name(enum qtr_event e);

/**
 * qgc_count() - Count the AMD-Vi commands in a guest's tracefs capture:
 * the lines of init.sh's kprobe "iob_cmd" on the driver's
 * __iommu_queue_command_sync(), "... iob_cmd: (...) c0=0x.. c1=0x.. c2=0x..
 * c3=0x..", the command's four dwords. Other lines are skipped. Opcodes
 * (bits 31:28 of c1) map to the qtr_event classes; page invalidations
 * are counted by size (the S bit and the address's low ones).
 * @err: "line N: reason" when an iob_cmd line is malformed
 * Return: 0 (@c filled), -EINVAL.
 */
int qgc_count(const char *text, struct qtr_counts *c, char *err, size_t errlen);

/* Size class of an INVALIDATE_IOMMU_PAGES command from its dwords 2 and 3. */
int qgc_inval_size(uint32_t c2, uint32_t c3);

/* ---- the model against the guest ---------------------------------------------------------- */

struct fid_cfg {
	bool lazy;		/* Linux's DMA-FQ; else strict */
	bool np_cache;		/* flush after every map (QEMU's AMD IOMMU sets NpCache) */
	unsigned fq_entries;	/* 0: 256 */
	uint64_t fq_timeout_ns;	/* 0: 10 ms, in trace time */
	uint64_t guest_mib;	/* guest RAM the trace's addresses fold into; 0: 1024 */
};

struct fid_result {
	uint64_t map_events, unmap_events;
	uint64_t map_calls;		/* map events merged per DMA API call (one dma_map_sg) */
	uint64_t skipped;		/* unmaps of what the trace never mapped, oversize maps */
	uint64_t left_mapped;		/* live at the trace's end (not unmapped, not counted) */
	uint64_t inv_cmds, completion_waits;
	uint64_t map_flushes, flush_alls, timer_flushes;
};

/**
 * fid_replay() - Replay @t through the model's dmalayer strategy with
 * Linux's policy: strict (one invalidation of naturally aligned blocks
 * and one completion wait per unmap, and per map with @cfg->np_cache), or
 * lazy (a flush queue of 256 entries; the whole domain invalidated when
 * it fills or 10 ms of trace time after the first entry queued since the
 * last timer flush). Map events that one later unmap covers exactly, in
 * IOVA order, are one DMA API call (dma_map_sg): mapped in one call, with
 * one map flush. Counts stop before the mappings left at the end are
 * torn down.
 * Return: 0, -EINVAL (bad @cfg), -ENOMEM, or a model error.
 */
int fid_replay(const struct trace *t, const struct fid_cfg *cfg, struct fid_result *r);

/**
 * fid_trace_read() - trace_read() of @path, or of its compressed form when
 * it ends in .xz or .gz (run folders keep traces compressed; xz or gzip
 * decompress it into a scratch file).
 * @err: "PATH: line N: reason", naming @path, not the scratch copy
 * Return: as trace_read(); -EINVAL when it cannot be decompressed.
 */
int fid_trace_read(const char *path, struct trace *t, char *err, size_t len);

#endif /* IOB_QEMU_H */
