/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cost: the hardware cost model. What user space cannot time (an
 * invalidation's round trip through a real IOMMU, a table walk on an IOTLB
 * miss, an MMIO doorbell) is charged from these parameters and reported as
 * modeled time beside the measured software time, never mixed into it.
 *
 * Every default and its source is in docs/cost-model.md; the parameters can
 * be replaced from a file of "key = value" lines.
 */
#ifndef IOB_COST_H
#define IOB_COST_H

#include <stddef.h>

/* X(name, default_ns, one-line meaning) */
#define COST_PARAMS(X)								\
	X(doorbell_ns,		150.0,	"MMIO write of the command tail register") \
	X(cmd_ns,		60.0,	"fetch and decode of one command by the IOMMU") \
	X(inv_pages_ns,		120.0,	"INVALIDATE_IOMMU_PAGES: IOTLB and PDE cache lookup-and-drop") \
	X(inv_all_ns,		400.0,	"INVALIDATE_IOMMU_ALL") \
	X(inv_devtab_ns,	100.0,	"INVALIDATE_DEVTAB_ENTRY") \
	X(inv_iotlb_ns,		1500.0,	"INVALIDATE_IOTLB_PAGES: ATS round trip to the device") \
	X(completion_wait_ns,	800.0,	"COMPLETION_WAIT: store reaches memory, CPU sees it") \
	X(iotlb_hit_ns,		2.0,	"IOTLB hit, per DMA transaction") \
	X(pde_hit_ns,		10.0,	"page-directory cache hit on a miss") \
	X(walk_level_ns,	90.0,	"one table entry read from memory on a walk") \
	X(dte_fetch_ns,		90.0,	"device table entry fetch on a DTE cache miss") \
	X(dma_bytes_per_ns,	16.0,	"device link bandwidth, bytes per ns (PCIe 3.0 x16: 15.8 GB/s raw)") \
	X(iotlb_entries,	512.0,	"IOTLB entries of the default geometry (a power of two)") \
	X(iotlb_ways,		8.0,	"IOTLB ways of the default geometry (a power of two, at most the entries)")

struct cost_model {
#define COST_FIELD(name, def, doc) double name;
	COST_PARAMS(COST_FIELD)
#undef COST_FIELD
};

/**
 * cost_defaults() - Fill @m with the documented defaults (COST_PARAMS).
 * @m: the model
 */
void cost_defaults(struct cost_model *m);

/**
 * cost_set_current() - Replace the model every IOMMU uses when its
 * configuration names none (iob's --cost FILE does, once, before anything
 * runs). Not thread-safe: call before creating IOMMUs.
 * @m: copied
 */
void cost_set_current(const struct cost_model *m);

/**
 * cost_current() - The model an IOMMU without one of its own uses: the
 * documented defaults until cost_set_current() replaced them.
 * @m: filled
 */
void cost_current(struct cost_model *m);

/**
 * cost_parse() - Read "key = value" lines over @m.
 * @m:      the model; only the keys given change
 * @text:   the file's contents, NUL terminated; '#' starts a comment,
 *          blank lines are skipped, lines are at most 255 bytes
 * @err:    if not NULL, on failure "line N: reason[: key]"
 * @errlen: size of @err
 *
 * Return: 0, or -EINVAL for a line too long, a line without '=', a
 * missing or unknown key, a key given twice, a value that is not a number
 * or has trailing characters, a value outside [0, 1e12] (NaN included),
 * dma_bytes_per_ns of 0 (a transfer would take forever), or, when the
 * text sets iotlb_entries or iotlb_ways, a resulting IOTLB geometry that
 * is not two powers of two with 1 <= ways <= entries <= 65536. On error
 * @m is unchanged.
 */
int cost_parse(struct cost_model *m, const char *text, char *err, size_t errlen);

/**
 * cost_load() - cost_parse() on a file.
 * @m:      the model; unchanged on error
 * @path:   the file, at most 1 MiB of text
 * @err:    if not NULL, on failure "PATH: reason" when the file cannot be
 *          read, "line N: reason" when it does not parse
 * @errlen: size of @err
 *
 * Return: 0; -EINVAL (see cost_parse(), or not a text file of at most
 * 1 MiB); -ENOMEM; or -errno of the read (textfile_read()).
 */
int cost_load(struct cost_model *m, const char *path, char *err, size_t errlen);

/**
 * cost_format() - The model as a cost file (every parameter, "key = value"
 * lines with the meaning as a comment), which cost_parse() reads back to
 * the same values.
 * @m:   the model
 * @buf: where; always NUL-terminated
 * @len: its size (4096 is enough)
 *
 * Return: the length the text needs (as snprintf(3)); larger than or
 * equal to @len means it was cut.
 */
size_t cost_format(const struct cost_model *m, char *buf, size_t len);

/**
 * cost_nparams() - Number of parameters, for writing them out by index.
 *
 * Return: the length of COST_PARAMS.
 */
size_t cost_nparams(void);

/**
 * cost_param_name() - The name of parameter @i, as in the file format.
 * @i: 0 .. cost_nparams() - 1
 *
 * Return: "doorbell_ns", ...; NULL when @i is out of range.
 */
const char *cost_param_name(size_t i);

/**
 * cost_param_doc() - The one-line meaning of parameter @i.
 * @i: 0 .. cost_nparams() - 1
 *
 * Return: the text; NULL when @i is out of range.
 */
const char *cost_param_doc(size_t i);

/**
 * cost_param_get() - The value of parameter @i in @m.
 * @m: the model
 * @i: 0 .. cost_nparams() - 1
 *
 * Return: the value; 0 when @i is out of range.
 */
double cost_param_get(const struct cost_model *m, size_t i);

#endif /* IOB_COST_H */
