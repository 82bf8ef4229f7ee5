// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob-xenctl: a small static dom0 program that talks to the patched Xen
 * (hv-patches/xen-4.17/) through /dev/xen/privcmd, without the toolstack.
 *
 *   iob-xenctl keys KEYS           press Xen debug keys (XEN_SYSCTL_debug_keys)
 *   iob-xenctl pathctr reset       zero the path counters
 *   iob-xenctl pv-check            the pv-IOMMU interface's checks: own frames
 *                                  accepted, foreign frames, out-of-range and
 *                                  overlapping dfns, bad counts refused with
 *                                  nothing changed; "iob-pv,<check>,ok|FAIL,..."
 *   iob-xenctl pv-loop N           N x (map 16 frames, unmap them): pv strategy
 *   iob-xenctl dma-loop N          N x (dma_map 16 frames, dma_unmap): dmalayer
 *   iob-xenctl pathctr dump LABEL  print the counters as CSV lines:
 *       iob-dom0-begin,<label>,tsc_khz=<k>,tuning=<t>
 *       iob-dom0-path,<label>,<name>,<count>,<total>,<min>,<max>,<64 buckets>
 *       iob-dom0-event,<label>,<name>,<n>
 *       iob-dom0-end,<label>
 *   iob-xenctl pathctr log-start   empty and start Xen's log of dom0's IOMMU
 *                                  table (patch 0007); the next reset stops it
 *   iob-xenctl pathctr log LABEL   print the log (docs/xen.md, "The IOMMU log"):
 *       iob-flog-begin,<label>,total=<n>,lost=<n>
 *       iob-flog,<label>,c,<cmd>,<extents>,<tsc>,<cpu>   a memory_op call begins
 *       iob-flog,<label>,r,<cmd>,<done>,<tsc>,<flushes>,<whole-domain flushes>
 *       iob-flog,<label>,x,<flushes>,<whole-domain flushes>   outside calls
 *       iob-flog,<label>,m|u,<first dfn>,<n>,<order>,<1|-1>  a run of maps
 *                                  or unmaps, dfns stepping by 2^order
 *                                  (M, U: the call's own; m, u: dom0's
 *                                  other changes, as S, K, Z and s, k, z)
 *       iob-flog,<label>,b,<first dfn>,<state>,<128 hex digits|->  a 2 MiB
 *                                  block's state before its first change
 *       iob-flog,<label>,s|k|z,<dfn>,<level>   shatter, coalesce, table freed
 *       iob-flog,<label>,t,<tsc>,<flushes>,<whole-domain flushes>  the flush
 *                                  queue's timer fired, and the flush it sent
 *       iob-flog,<label>,o,<maps>,<unmaps>,<flushes>,<whole-domain flushes>,<shatters>
 *                                  dom0's own changes (the unmarked ones), all
 *       iob-flog-end,<label>
 *   iob-xenctl pathctr log-summary LABEL   the begin, o and end lines only
 *
 * Exit status: 0 ok, 1 a hypercall failed, 2 bad usage.
 *
 * Built with -static so that it runs from a busybox initramfs. The Xen
 * structures are spelled out here (from Xen 4.17's public headers) rather
 * than included, so that building it needs no Xen headers.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* linux/include/uapi/xen/privcmd.h */
struct privcmd_hypercall {
	uint64_t op;
	uint64_t arg[5];
};
#define IOCTL_PRIVCMD_HYPERCALL \
	_IOC(_IOC_NONE, 'P', 0, sizeof(struct privcmd_hypercall))

/* xen/include/public/xen.h, sysctl.h (interface version 0x15, Xen 4.17) */
#define HYPERVISOR_memory_op		12
#define HYPERVISOR_sysctl		35
#define HYPERVISOR_grant_table_op	20
#define GNTTABOP_map_grant_ref		0
#define GNTTABOP_unmap_grant_ref	1
#define GNTMAP_device_map		1U
#define GNTMAP_readonly			4U
#define GNTMAP_iob_noiommu		(1U << 8)	/* the series' 0006 */
#define XENMEM_increase_reservation	0
#define XENMEM_decrease_reservation	1
#define XENMEM_machphys_mfn_list	5
#define DOMID_SELF			0x7FF0U

/* xen/include/public/memory.h, with the series' XENMEM_iob_iommu_op */
#define XENMEM_iob_iommu_op		48
#define XENMEM_IOB_IOMMU_map		0
#define XENMEM_IOB_IOMMU_unmap		1
#define XENMEM_IOB_IOMMU_dma_map	2
#define XENMEM_IOB_IOMMU_dma_unmap	3
#define XEN_IOB_IOMMU_MAX_BATCH		512
#define XEN_IOB_IOMMU_DFN_PAGES		(1UL << 16)
#define XEN_IOB_IOMMU_DFN_BASE		((1UL << 27) - XEN_IOB_IOMMU_DFN_PAGES)
#define XEN_IOB_IOMMU_readonly		1U
#define XEN_IOB_IOMMU_grant		2U

struct xen_memory_reservation {
	uint64_t extent_start;	/* XEN_GUEST_HANDLE(xen_pfn_t) */
	uint64_t nr_extents;
	uint32_t extent_order;
	uint32_t mem_flags;
	uint16_t domid;
};

struct gnttab_map_grant_ref {
	uint64_t host_addr;
	uint32_t flags;
	uint32_t ref;
	uint16_t dom;
	int16_t status;
	uint32_t handle;
	uint64_t dev_bus_addr;
};

struct gnttab_unmap_grant_ref {
	uint64_t host_addr;
	uint64_t dev_bus_addr;
	uint32_t handle;
	int16_t status;
};

/* linux/include/uapi/xen/gntalloc.h */
struct ioctl_gntalloc_alloc_gref {
	uint16_t domid;
	uint16_t flags;
	uint32_t count;
	uint64_t index;
	uint32_t gref_ids[1];
};
#define GNTALLOC_FLAG_WRITABLE		1
#define IOCTL_GNTALLOC_ALLOC_GREF \
	_IOC(_IOC_NONE, 'G', 5, sizeof(struct ioctl_gntalloc_alloc_gref))

struct xen_machphys_mfn_list {
	uint32_t max_extents;
	uint64_t extent_start;
	uint32_t nr_extents;
};

struct xen_iob_iommu_entry {
	uint64_t gfn;
	uint64_t dfn;
	uint32_t flags;
	int32_t status;
};

struct xen_iob_iommu_op {
	uint32_t op;
	uint32_t nr;
	uint64_t entries;	/* XEN_GUEST_HANDLE(xen_iob_iommu_entry_t) */
};
#define XEN_SYSCTL_INTERFACE_VERSION	0x00000015
#define XEN_SYSCTL_debug_keys		7
#define XEN_SYSCTL_iob_pathctr		64
#define XEN_SYSCTL_IOB_PATHCTR_read	0
#define XEN_SYSCTL_IOB_PATHCTR_reset	1
#define XEN_SYSCTL_IOB_PATHCTR_log_start 2	/* the series' 0007 */
#define XEN_SYSCTL_IOB_PATHCTR_log_read	3
enum {	/* XEN_SYSCTL_IOB_FLOG_* */
	FLOG_call = 1, FLOG_ret, FLOG_map, FLOG_unmap, FLOG_block, FLOG_bits,
	FLOG_shatter, FLOG_coalesce, FLOG_free, FLOG_flush, FLOG_fq_timer,
};
#define FLOG_IN_CALL	0x40	/* the entry came from inside dom0's memory_op call */

struct xen_sysctl_debug_keys {
	uint64_t keys;		/* XEN_GUEST_HANDLE_64(char) */
	uint32_t nr_keys;
};

struct xen_sysctl_iob_pathctr {
	uint32_t cmd;
	uint32_t nr_paths;
	uint32_t nr_events;
	uint32_t rec_words;
	uint64_t tsc_khz;
	uint64_t recs;		/* XEN_GUEST_HANDLE_64(uint64) */
	uint64_t events;
	char tuning[64];
	uint32_t log_first;
	uint32_t log_nr;
	uint32_t log_total;
	uint32_t log_lost;
};

struct xen_sysctl {
	uint32_t cmd;
	uint32_t interface_version;
	union {
		struct xen_sysctl_debug_keys debug_keys;
		struct xen_sysctl_iob_pathctr iob_pathctr;
		uint8_t pad[128];
	} u;
};

/* The order of IOB_PATHS and IOB_EVENTS in xen/include/xen/iob_pathctr.h. */
static const char *const path_names[] = {
	"map", "unmap", "map_page", "unmap_page", "pde_alloc", "flush_decision",
	"cmd_submit", "completion_wait", "grant_map", "grant_unmap", "balloon",
	"populate", "p2m_set", "hypercall", "fq_flush", "dma_map", "dma_unmap",
};
static const char *const event_names[] = {
	"pt_alloc", "pt_shatter", "flush_none", "flush_order0", "flush_order9",
	"flush_order18", "flush_all", "flush_range", "inv_pages_cmds",
	"batch_flushes", "deferred_frees", "fq_queued", "fq_full", "fq_timeout",
};
#define NPATHS (sizeof(path_names) / sizeof(path_names[0]))
#define NEVENTS (sizeof(event_names) / sizeof(event_names[0]))
#define REC_WORDS 68

static int privcmd_fd = -1;

static void usage(void)
{
	fprintf(stderr,
		"usage: iob-xenctl keys KEYS\n"
		"       iob-xenctl pathctr reset\n"
		"       iob-xenctl pathctr dump LABEL\n"
		"       iob-xenctl pathctr log-start\n"
		"       iob-xenctl pathctr log LABEL\n"
		"       iob-xenctl pathctr log-summary LABEL\n"
		"       iob-xenctl pv-check\n"
		"       iob-xenctl pv-loop N\n"
		"       iob-xenctl dma-loop N\n"
		"       iob-xenctl domu-bad\n"
		"       iob-xenctl grant N                   (domU: N pages granted to dom0)\n"
		"       iob-xenctl grant-check DOMID REF...  (dom0: bad grant entries refused)\n"
		"       iob-xenctl grant-loop hook|pv|dma N DOMID REF...\n"
		"       iob-xenctl now\n");
	exit(2);
}

static int privcmd(void)
{
	if (privcmd_fd < 0) {
		privcmd_fd = open("/dev/xen/privcmd", O_RDWR | O_CLOEXEC);
		if (privcmd_fd < 0) {
			fprintf(stderr, "iob-xenctl: /dev/xen/privcmd: %s\n", strerror(errno));
			exit(1);
		}
	}
	return privcmd_fd;
}

static long hypercall2(unsigned op, uint64_t arg0, void *arg1)
{
	struct privcmd_hypercall h = { .op = op, .arg = { arg0, (uintptr_t)arg1 } };

	return ioctl(privcmd(), IOCTL_PRIVCMD_HYPERCALL, &h);
}

static long hypercall(unsigned op, void *arg0)
{
	return hypercall2(op, (uintptr_t)arg0, NULL);
}

static int sysctl(struct xen_sysctl *s)
{
	s->interface_version = XEN_SYSCTL_INTERFACE_VERSION;
	return hypercall(HYPERVISOR_sysctl, s) < 0 ? -errno : 0;
}

/* A memory_op: its return value (>= 0) or -errno. */
static long memory_op(unsigned cmd, void *arg)
{
	long r = hypercall2(HYPERVISOR_memory_op, cmd, arg);

	return r < 0 ? -errno : r;
}

/*
 * Frames the kernel does not know of: a PV dom0 with balloon headroom gets
 * them from XENMEM_increase_reservation, which returns machine frames.
 */
static int frames_get(uint64_t *mfn, unsigned n)
{
	struct xen_memory_reservation r = {
		.extent_start = (uintptr_t)mfn, .nr_extents = n, .domid = DOMID_SELF,
	};
	long got = memory_op(XENMEM_increase_reservation, &r);

	if (got != (long)n) {
		fprintf(stderr, "iob-xenctl: increase_reservation of %u frames: %ld (balloon out first)\n",
			n, got);
		if (got > 0) {
			r.nr_extents = (uint64_t)got;
			memory_op(XENMEM_decrease_reservation, &r);
		}
		return -1;
	}
	return 0;
}

static void frames_put(uint64_t *mfn, unsigned n)
{
	struct xen_memory_reservation r = {
		.extent_start = (uintptr_t)mfn, .nr_extents = n, .domid = DOMID_SELF,
	};

	if (memory_op(XENMEM_decrease_reservation, &r) != (long)n)
		fprintf(stderr, "iob-xenctl: decrease_reservation did not take all %u frames back\n", n);
}

static long iommu_op(uint32_t op, struct xen_iob_iommu_entry *e, uint32_t nr)
{
	struct xen_iob_iommu_op o = { .op = op, .nr = nr, .entries = (uintptr_t)e };

	return memory_op(XENMEM_iob_iommu_op, &o);
}

static int failures;

static void verdict(const char *check, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void verdict(const char *check, bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("iob-pv,%s,%s,", check, ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failures += !ok;
}

static int cmd_pv_check(void)
{
	const uint64_t w = XEN_IOB_IOMMU_DFN_BASE;
	static struct xen_iob_iommu_entry e[XEN_IOB_IOMMU_MAX_BATCH + 1];
	uint64_t mfn[3], foreign = 1, m2p[4];
	struct xen_machphys_mfn_list ml = { .max_extents = 4, .extent_start = (uintptr_t)m2p };
	long rc, rc2;

	if (frames_get(mfn, 3))
		return 1;
	/* A frame of Xen's machine-to-phys table: never the caller's. */
	if (memory_op(XENMEM_machphys_mfn_list, &ml) == 0 && ml.nr_extents)
		foreign = m2p[0];

	e[0] = (struct xen_iob_iommu_entry){ .gfn = mfn[0], .dfn = w };
	e[1] = (struct xen_iob_iommu_entry){ .gfn = mfn[1], .dfn = w + 1 };
	rc = iommu_op(XENMEM_IOB_IOMMU_map, e, 2);
	verdict("map_own_frames", rc == 0, "rc=%ld", rc);

	e[0] = (struct xen_iob_iommu_entry){ .gfn = mfn[2], .dfn = w + 2 };
	e[1] = (struct xen_iob_iommu_entry){ .gfn = foreign, .dfn = w + 3 };
	rc = iommu_op(XENMEM_IOB_IOMMU_map, e, 2);
	e[2] = (struct xen_iob_iommu_entry){ .dfn = w + 2 };
	rc2 = iommu_op(XENMEM_IOB_IOMMU_unmap, &e[2], 1);
	verdict("foreign_frame_refused", rc == -EPERM && e[1].status == -EPERM && rc2 == -ENOENT,
		"rc=%ld status=%d mfn=%#" PRIx64 "; the valid entry before it left unmapped: %ld",
		rc, e[1].status, foreign, rc2);

	e[0] = (struct xen_iob_iommu_entry){ .gfn = mfn[2], .dfn = w + XEN_IOB_IOMMU_DFN_PAGES };
	rc = iommu_op(XENMEM_IOB_IOMMU_map, e, 1);
	e[0] = (struct xen_iob_iommu_entry){ .gfn = mfn[2], .dfn = mfn[2] };
	rc2 = iommu_op(XENMEM_IOB_IOMMU_map, e, 1);
	verdict("out_of_range_dfn_refused", rc == -ERANGE && rc2 == -ERANGE,
		"past the window %ld, on the 1:1 map %ld", rc, rc2);

	e[0] = (struct xen_iob_iommu_entry){ .gfn = mfn[2], .dfn = w };
	rc = iommu_op(XENMEM_IOB_IOMMU_map, e, 1);
	e[0] = (struct xen_iob_iommu_entry){ .gfn = mfn[2], .dfn = w + 5 };
	e[1] = (struct xen_iob_iommu_entry){ .gfn = mfn[2], .dfn = w + 5 };
	rc2 = iommu_op(XENMEM_IOB_IOMMU_map, e, 2);
	verdict("overlapping_dfn_refused", rc == -EBUSY && rc2 == -EBUSY,
		"mapped dfn %ld, twice in one call %ld", rc, rc2);

	rc = iommu_op(XENMEM_IOB_IOMMU_map, e, 0);
	rc2 = iommu_op(XENMEM_IOB_IOMMU_map, e, XEN_IOB_IOMMU_MAX_BATCH + 1);
	verdict("bad_count_refused", rc == -EINVAL && rc2 == -EINVAL, "0: %ld, %d: %ld", rc,
		XEN_IOB_IOMMU_MAX_BATCH + 1, rc2);

	e[0] = (struct xen_iob_iommu_entry){ .dfn = w };
	e[1] = (struct xen_iob_iommu_entry){ .dfn = w + 1 };
	rc = iommu_op(XENMEM_IOB_IOMMU_unmap, e, 2);
	rc2 = iommu_op(XENMEM_IOB_IOMMU_unmap, e, 1);
	verdict("unmap_then_unmap_again", rc == 0 && rc2 == -ENOENT, "%ld then %ld", rc, rc2);

	for (int i = 0; i < 3; i++)
		e[i] = (struct xen_iob_iommu_entry){ .gfn = mfn[i], .flags = i == 2 ?
						     XEN_IOB_IOMMU_readonly : 0 };
	rc = iommu_op(XENMEM_IOB_IOMMU_dma_map, e, 3);
	{
		bool in = true;

		for (int i = 0; i < 3; i++)
			in &= e[i].dfn >= w && e[i].dfn < w + XEN_IOB_IOMMU_DFN_PAGES &&
			      (i == 0 || e[i].dfn != e[i - 1].dfn);
		rc2 = iommu_op(XENMEM_IOB_IOMMU_unmap, e, 1);
		verdict("dma_map_picks_dfns", rc == 0 && in && rc2 == -ENOENT,
			"rc=%ld dfns %#" PRIx64 " %#" PRIx64 " %#" PRIx64 "; pv unmap of one: %ld",
			rc, e[0].dfn, e[1].dfn, e[2].dfn, rc2);
	}
	rc = iommu_op(XENMEM_IOB_IOMMU_dma_unmap, e, 3);
	verdict("dma_unmap", rc == 0, "rc=%ld", rc);

	frames_put(mfn, 3);
	return failures ? 1 : 0;
}

static int cmd_loop(bool dma, const char *count)
{
	enum { N = 16 };
	static struct xen_iob_iommu_entry e[N];
	uint64_t mfn[N];
	unsigned long iters = strtoul(count, NULL, 10);
	long rc = 0;

	if (!iters || iters > 1000000)
		usage();
	if (frames_get(mfn, N))
		return 1;
	for (unsigned long it = 0; it < iters && !rc; it++) {
		for (int i = 0; i < N; i++)
			e[i] = (struct xen_iob_iommu_entry){
				.gfn = mfn[i], .dfn = XEN_IOB_IOMMU_DFN_BASE + (uint64_t)i };
		rc = iommu_op(dma ? XENMEM_IOB_IOMMU_dma_map : XENMEM_IOB_IOMMU_map, e, N);
		if (!rc)
			rc = iommu_op(dma ? XENMEM_IOB_IOMMU_dma_unmap : XENMEM_IOB_IOMMU_unmap, e, N);
	}
	if (rc)
		fprintf(stderr, "iob-xenctl: %s loop: %s\n", dma ? "dma" : "pv", strerror((int)-rc));
	frames_put(mfn, N);
	return rc ? 1 : 0;
}

static int cmd_keys(const char *keys)
{
	struct xen_sysctl s = { .cmd = XEN_SYSCTL_debug_keys };
	int rc;

	s.u.debug_keys.keys = (uintptr_t)keys;
	s.u.debug_keys.nr_keys = strlen(keys);
	rc = sysctl(&s);
	if (rc) {
		fprintf(stderr, "iob-xenctl: debug keys '%s': %s\n", keys, strerror(-rc));
		return 1;
	}
	return 0;
}


/* ---- pathctr log: Xen's log of dom0's IOMMU table ------------------------------------ */

/* A run of maps or unmaps of one order, dfns stepping by 2^order one way. */
struct flog_run {
	char op;
	unsigned order;
	int dir;
	uint64_t first, last, n;
};

struct flog_out {
	const char *label;
	struct flog_run run;
	bool in_call;
	uint64_t flushes, flushes_all;	/* the open call's */
	uint64_t out, out_all;		/* outside calls, since the last x line */
	uint64_t block, bits[8];	/* a block line waiting for its bits */
	unsigned state, nbits;
	bool timer;			/* the timer fired: the next flush is its drain's */
	uint64_t timer_tsc;
	bool quiet;			/* summary: the o line only */
	/* dom0's own changes (unmarked), the whole log: the o line. */
	uint64_t own_maps, own_unmaps, own_flushes, own_all, own_shatters;
};

/* A line of the log, unless only the summary is asked for. */
__attribute__((format(printf, 2, 3)))
static void flog_say(const struct flog_out *f, const char *fmt, ...)
{
	va_list ap;

	if (f->quiet)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* The timer's line, with the drain's flush if it sent one. */
static void flog_timer_end(struct flog_out *f, int flush_all)
{
	if (!f->timer)
		return;
	flog_say(f, "iob-flog,%s,t,%" PRIu64 ",%d,%d\n", f->label, f->timer_tsc, flush_all == 0,
	       flush_all == 1);
	f->timer = false;
}

static void flog_run_end(struct flog_out *f)
{
	struct flog_run *r = &f->run;

	if (r->n)
		flog_say(f, "iob-flog,%s,%c,%" PRIu64 ",%" PRIu64 ",%u,%d\n", f->label, r->op, r->first,
		       r->n, r->order, r->dir);
	r->n = 0;
}

static void flog_run_add(struct flog_out *f, char op, uint64_t dfn, unsigned order)
{
	struct flog_run *r = &f->run;
	uint64_t step = order < 48 ? 1ULL << order : 0;

	if (r->n && r->op == op && r->order == order && step) {
		if (r->n == 1 && (dfn == r->last + step || dfn + step == r->last)) {
			r->dir = dfn > r->last ? 1 : -1;
			r->last = dfn;
			r->n++;
			return;
		}
		if (r->n > 1 && dfn == (r->dir > 0 ? r->last + step : r->last - step)) {
			r->last = dfn;
			r->n++;
			return;
		}
	}
	flog_run_end(f);
	*r = (struct flog_run){ .op = op, .order = order, .dir = 1, .first = dfn, .last = dfn,
				.n = 1 };
}

static void flog_block_end(struct flog_out *f)
{
	if (f->state == ~0U)
		return;
	flog_say(f, "iob-flog,%s,b,%" PRIu64 ",%u,", f->label, f->block, f->state);
	if ((f->state & 0x7f) == 1)
		for (int i = 0; i < 8; i++)
			flog_say(f, "%016" PRIx64, f->bits[i]);
	else
		flog_say(f, "-");
	flog_say(f, "\n");
	f->state = ~0U;
}

/* Flushes outside calls, said before the next call and at the end. */
static void flog_outside(struct flog_out *f)
{
	if (f->out || f->out_all)
		flog_say(f, "iob-flog,%s,x,%" PRIu64 ",%" PRIu64 "\n", f->label, f->out, f->out_all);
	f->out = f->out_all = 0;
}

static void flog_entry(struct flog_out *f, uint64_t w0, uint64_t w1)
{
	unsigned op = (unsigned)(w0 >> 56), arg = (unsigned)(w0 >> 48) & 0xff;
	uint64_t val = w0 & ((1ULL << 48) - 1);
	bool in = false;

	if (op >= FLOG_map && op != FLOG_block && op != FLOG_bits && op != FLOG_fq_timer) {
		in = arg & FLOG_IN_CALL;
		arg &= ~FLOG_IN_CALL;
	}

	if (op == FLOG_bits) {
		if (f->state != ~0U && arg < 8)
			f->bits[arg] = w1;
		return;
	}
	flog_block_end(f);
	/*
	 * The timer's drain marks its flush as a call's: the first marked
	 * flush outside a call is it (another CPU's entries may come first).
	 * A drain with nothing to flush is said at the next call line.
	 */
	if (f->timer && op == FLOG_flush && in && !f->in_call) {
		flog_run_end(f);
		flog_timer_end(f, (int)!!arg);
		return;
	}
	if (f->timer && (op == FLOG_call || op == FLOG_ret || op == FLOG_fq_timer)) {
		flog_run_end(f);
		flog_timer_end(f, -1);
	}
	switch (op) {
	case FLOG_map:
	case FLOG_unmap:
		if (!in && arg < 48)
			*(op == FLOG_map ? &f->own_maps : &f->own_unmaps) += 1ULL << arg;
		flog_run_add(f, op == FLOG_map ? (in ? 'M' : 'm') : (in ? 'U' : 'u'), val, arg);
		return;
	case FLOG_flush:
		/* Not a line each: a count on the call's r line, or an x line's. */
		if (in && !f->in_call)
			return;	/* a grant or XENMEM_iob_iommu_op call's */
		if (in && arg)
			f->flushes_all++;
		else if (in)
			f->flushes++;
		else if (arg)
			f->out_all++, f->own_all++;
		else
			f->out++, f->own_flushes++;
		return;
	default:
		break;
	}
	flog_run_end(f);
	switch (op) {
	case FLOG_call:
		flog_outside(f);
		f->in_call = true;
		flog_say(f, "iob-flog,%s,c,%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", f->label, arg,
		       (uint64_t)(val & 0xffffffffU), w1, val >> 32);
		break;
	case FLOG_ret:
		flog_say(f, "iob-flog,%s,r,%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
		       f->label, arg, val, w1, f->flushes, f->flushes_all);
		f->in_call = false;
		f->flushes = f->flushes_all = 0;
		break;
	case FLOG_block:
		f->block = val;
		f->state = arg;
		memset(f->bits, 0, sizeof(f->bits));
		break;
	case FLOG_shatter:
	case FLOG_coalesce:
	case FLOG_free:
		f->own_shatters += op == FLOG_shatter && !in;
		flog_say(f, "iob-flog,%s,%c,%" PRIu64 ",%u\n", f->label,
		       (op == FLOG_shatter ? 's' : op == FLOG_coalesce ? 'k' : 'z') - (in ? 32 : 0),
		       val, arg);
		break;
	case FLOG_fq_timer:
		f->timer = true;
		f->timer_tsc = w1;
		break;
	default:
		flog_say(f, "iob-flog,%s,?,%u,%u,%" PRIu64 ",%" PRIu64 "\n", f->label, op, arg, val, w1);
		break;
	}
}

static int cmd_flog(const char *label, bool quiet)
{
	static uint64_t buf[4096 * 2];
	struct xen_sysctl s = { .cmd = XEN_SYSCTL_iob_pathctr };
	struct xen_sysctl_iob_pathctr *o = &s.u.iob_pathctr;
	struct flog_out f = { .label = label, .state = ~0U, .quiet = quiet };
	uint32_t first = 0, total = 0, lost = 0;

	if (!label || !*label || strchr(label, ','))
		usage();
	do {
		int rc;

		memset(o, 0, sizeof(*o));
		o->cmd = XEN_SYSCTL_IOB_PATHCTR_log_read;
		o->recs = (uintptr_t)buf;
		o->log_first = first;
		o->log_nr = sizeof(buf) / sizeof(buf[0]) / 2;
		rc = sysctl(&s);
		if (rc) {
			fprintf(stderr, "iob-xenctl: pathctr log: %s\n", strerror(-rc));
			return 1;
		}
		if (!first) {
			total = o->log_total;
			lost = o->log_lost;
			printf("iob-flog-begin,%s,total=%" PRIu32 ",lost=%" PRIu32 "\n", label, total,
			       lost);
		}
		for (uint32_t i = 0; i < o->log_nr; i++)
			flog_entry(&f, buf[2 * i], buf[2 * i + 1]);
		first += o->log_nr;
	} while (o->log_nr && first < total);
	flog_block_end(&f);
	flog_run_end(&f);
	flog_timer_end(&f, -1);
	flog_outside(&f);
	printf("iob-flog,%s,o,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
	       label, f.own_maps, f.own_unmaps, f.own_flushes, f.own_all, f.own_shatters);
	printf("iob-flog-end,%s\n", label);
	return fflush(stdout) ? 1 : 0;
}

static int cmd_pathctr(const char *what, const char *label)
{
	static uint64_t recs[NPATHS * REC_WORDS], events[NEVENTS];
	struct xen_sysctl s = { .cmd = XEN_SYSCTL_iob_pathctr };
	struct xen_sysctl_iob_pathctr *o = &s.u.iob_pathctr;
	int rc;

	if (!strcmp(what, "log") || !strcmp(what, "log-summary"))
		return cmd_flog(label, what[3] == '-');
	if (!strcmp(what, "reset") || !strcmp(what, "log-start")) {
		if (label)
			usage();
		o->cmd = what[0] == 'r' ? XEN_SYSCTL_IOB_PATHCTR_reset
					: XEN_SYSCTL_IOB_PATHCTR_log_start;
	} else if (!strcmp(what, "dump")) {
		if (!label || !*label || strchr(label, ','))
			usage();
		o->cmd = XEN_SYSCTL_IOB_PATHCTR_read;
		o->nr_paths = NPATHS;
		o->nr_events = NEVENTS;
		o->recs = (uintptr_t)recs;
		o->events = (uintptr_t)events;
	} else {
		usage();
	}
	rc = sysctl(&s);
	if (rc) {
		fprintf(stderr, "iob-xenctl: pathctr %s: %s%s\n", what, strerror(-rc),
			rc == -EOPNOTSUPP ? " (Xen built without CONFIG_IOB_PATHCTR)" : "");
		return 1;
	}
	if (o->cmd != XEN_SYSCTL_IOB_PATHCTR_read)
		return 0;
	if (o->rec_words != REC_WORDS) {
		fprintf(stderr, "iob-xenctl: Xen's records have %u words, expected %d\n",
			o->rec_words, REC_WORDS);
		return 1;
	}
	o->tuning[sizeof(o->tuning) - 1] = 0;
	printf("iob-dom0-begin,%s,tsc_khz=%" PRIu64 ",tuning=%s,paths=%u,events=%u\n",
	       label, o->tsc_khz, o->tuning, o->nr_paths, o->nr_events);
	for (size_t p = 0; p < NPATHS && p < o->nr_paths; p++) {
		const uint64_t *r = &recs[p * REC_WORDS];

		printf("iob-dom0-path,%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64,
		       label, path_names[p], r[0], r[1], r[0] ? r[2] : UINT64_MAX, r[3]);
		for (int i = 4; i < REC_WORDS; i++)
			printf(",%" PRIu64, r[i]);
		printf("\n");
	}
	for (size_t e = 0; e < NEVENTS && e < o->nr_events; e++)
		printf("iob-dom0-event,%s,%s,%" PRIu64 "\n", label, event_names[e], events[e]);
	printf("iob-dom0-end,%s\n", label);
	return fflush(stdout) ? 1 : 0;
}

/* GNTTABOP_map_grant_ref of one entry: 0 or -errno (the entry's own status apart). */
static long grant_map_one(struct gnttab_map_grant_ref *g)
{
	struct privcmd_hypercall h = {
		.op = HYPERVISOR_grant_table_op,
		.arg = { GNTTABOP_map_grant_ref, (uintptr_t)g, 1 },
	};

	return ioctl(privcmd(), IOCTL_PRIVCMD_HYPERCALL, &h) < 0 ? -errno : 0;
}

/*
 * In a domU: requests Xen must refuse, with nothing changed. The series'
 * IOMMU operations are the hardware domain's; so are the counters; and a
 * grant dom0 never gave this domain cannot be mapped.
 */
static int cmd_domu_bad(void)
{
	struct xen_iob_iommu_entry e = { .gfn = 0, .dfn = XEN_IOB_IOMMU_DFN_BASE };
	struct xen_sysctl s = { .cmd = XEN_SYSCTL_iob_pathctr };
	struct gnttab_map_grant_ref g = { .flags = GNTMAP_device_map, .ref = 1, .dom = 0 };
	long rc;

	rc = iommu_op(XENMEM_IOB_IOMMU_map, &e, 1);
	verdict("domu_iommu_op_refused", rc == -EOPNOTSUPP, "map from a domU: %ld (want %d)", rc,
		-EOPNOTSUPP);
	rc = iommu_op(XENMEM_IOB_IOMMU_dma_map, &e, 1);
	verdict("domu_dma_map_refused", rc == -EOPNOTSUPP, "dma_map from a domU: %ld (want %d)",
		rc, -EOPNOTSUPP);
	s.u.iob_pathctr.cmd = XEN_SYSCTL_IOB_PATHCTR_reset;
	rc = sysctl(&s);
	verdict("domu_pathctr_refused", rc < 0, "counter reset from a domU: %ld (want < 0)", rc);
	rc = grant_map_one(&g);
	/* Hypercall status 0 with the op's own status: refused when that is negative. */
	verdict("domu_foreign_grant_refused", rc < 0 || g.status < 0,
		"device map of dom0's grant 1, never given: rc %ld status %d (want < 0)", rc,
		g.status);
	return failures ? 1 : 0;
}

/*
 * In the domU: @count pages granted to dom0, writable (gntalloc), their
 * refs on one line "iob-grefs,R,R,...", then hold them until killed.
 */
static int cmd_grant(const char *count)
{
	unsigned long n = strtoul(count, NULL, 10);
	struct ioctl_gntalloc_alloc_gref *a;
	int fd;

	if (!n || n > 512)
		usage();
	a = calloc(1, sizeof(*a) + n * sizeof(uint32_t));
	fd = open("/dev/xen/gntalloc", O_RDWR | O_CLOEXEC);
	if (!a || fd < 0) {
		fprintf(stderr, "iob-xenctl: /dev/xen/gntalloc: %s\n", strerror(errno));
		return 1;
	}
	*a = (struct ioctl_gntalloc_alloc_gref){ .domid = 0, .flags = GNTALLOC_FLAG_WRITABLE,
						 .count = (uint32_t)n };
	if (ioctl(fd, IOCTL_GNTALLOC_ALLOC_GREF, a)) {
		fprintf(stderr, "iob-xenctl: gntalloc of %lu pages: %s\n", n, strerror(errno));
		return 1;
	}
	printf("iob-grefs");
	for (unsigned long i = 0; i < n; i++)
		printf(",%u", a->gref_ids[i]);
	printf("\n");
	fflush(stdout);
	for (;;)
		pause();
}

static long grant_op(unsigned cmd, void *ops, unsigned n)
{
	struct privcmd_hypercall h = {
		.op = HYPERVISOR_grant_table_op, .arg = { cmd, (uintptr_t)ops, n },
	};

	return ioctl(privcmd(), IOCTL_PRIVCMD_HYPERCALL, &h) < 0 ? -errno : 0;
}

enum { GRANTS_MAX = 64 };

struct grants {
	uint16_t dom;
	unsigned n;
	uint32_t ref[GRANTS_MAX];
	struct gnttab_map_grant_ref map[GRANTS_MAX];
};

/* Map every grant for devices only (@flags added); 0, or -1 with none left mapped. */
static int grants_map(struct grants *g, uint32_t flags)
{
	struct gnttab_unmap_grant_ref u[GRANTS_MAX];
	unsigned k = 0;
	long rc;

	for (unsigned i = 0; i < g->n; i++)
		g->map[i] = (struct gnttab_map_grant_ref){
			.flags = GNTMAP_device_map | flags, .ref = g->ref[i], .dom = g->dom };
	rc = grant_op(GNTTABOP_map_grant_ref, g->map, g->n);
	for (unsigned i = 0; i < g->n; i++)
		if (!rc && g->map[i].status == 0)
			u[k++] = (struct gnttab_unmap_grant_ref){
				.dev_bus_addr = g->map[i].dev_bus_addr, .handle = g->map[i].handle };
	if (!rc && k == g->n)
		return 0;
	fprintf(stderr, "iob-xenctl: grant map: rc %ld, %u of %u mapped\n", rc, k, g->n);
	if (k)
		grant_op(GNTTABOP_unmap_grant_ref, u, k);
	return -1;
}

static int grants_unmap(struct grants *g)
{
	struct gnttab_unmap_grant_ref u[GRANTS_MAX];
	long rc;

	for (unsigned i = 0; i < g->n; i++)
		u[i] = (struct gnttab_unmap_grant_ref){ .dev_bus_addr = g->map[i].dev_bus_addr,
							.handle = g->map[i].handle };
	rc = grant_op(GNTTABOP_unmap_grant_ref, u, g->n);
	for (unsigned i = 0; i < g->n && !rc; i++)
		if (u[i].status)
			rc = -EIO;
	return rc ? -1 : 0;
}

static int grants_parse(int argc, char **argv, struct grants *g)
{
	unsigned long dom = strtoul(argv[0], NULL, 10);

	if (!dom || dom >= 0x7FF0 || argc < 2 || argc - 1 > GRANTS_MAX)
		return -1;
	g->dom = (uint16_t)dom;
	g->n = (unsigned)(argc - 1);
	for (unsigned i = 0; i < g->n; i++)
		g->ref[i] = (uint32_t)strtoul(argv[1 + i], NULL, 10);
	return 0;
}

static uint64_t grant_gfn(const struct grants *g, uint32_t ref)
{
	return (uint64_t)g->dom << 32 | ref;
}

/*
 * dom0, the domU's driver domain: N times, its grants mapped for devices
 * and then given a device address by the hook (Xen's IOMMU mirror of the
 * grant map), pv (map at dfns dom0 chose) or dma (dfns Xen chose), then
 * all unmapped again.
 */
static int cmd_grant_loop(const char *mode, const char *count, int argc, char **argv)
{
	static struct grants g;
	static struct xen_iob_iommu_entry e[GRANTS_MAX];
	bool hook = !strcmp(mode, "hook"), dma = !strcmp(mode, "dma");
	unsigned long iters = strtoul(count, NULL, 10);
	long rc = 0;

	if ((!hook && !dma && strcmp(mode, "pv")) || !iters || iters > 1000000 ||
	    grants_parse(argc, argv, &g))
		usage();
	for (unsigned long it = 0; it < iters && !rc; it++) {
		if (grants_map(&g, hook ? 0 : GNTMAP_iob_noiommu))
			return 1;
		if (!hook) {
			for (unsigned i = 0; i < g.n; i++)
				e[i] = (struct xen_iob_iommu_entry){
					.gfn = grant_gfn(&g, g.ref[i]), .flags = XEN_IOB_IOMMU_grant,
					.dfn = XEN_IOB_IOMMU_DFN_BASE + (uint64_t)i };
			rc = iommu_op(dma ? XENMEM_IOB_IOMMU_dma_map : XENMEM_IOB_IOMMU_map, e, g.n);
			if (!rc)
				rc = iommu_op(dma ? XENMEM_IOB_IOMMU_dma_unmap : XENMEM_IOB_IOMMU_unmap,
					      e, g.n);
		}
		if (grants_unmap(&g))
			rc = rc ?: -EIO;
	}
	if (rc)
		fprintf(stderr, "iob-xenctl: grant %s loop: %s\n", mode, strerror((int)-rc));
	return rc ? 1 : 0;
}

/*
 * dom0: grant entries Xen must refuse, nothing changed: a grant dom0 does
 * not hold mapped, a ref past the table, its own domid, a writable entry
 * for a read-only mapping, an unknown flag; then one that is fine.
 */
static int cmd_grant_check(int argc, char **argv)
{
	static struct grants g;
	struct xen_iob_iommu_entry e = { .flags = XEN_IOB_IOMMU_grant,
					 .dfn = XEN_IOB_IOMMU_DFN_BASE };
	long rc;

	if (grants_parse(argc, argv, &g) || g.n < 2)
		usage();
	e.gfn = grant_gfn(&g, g.ref[0]);
	rc = iommu_op(XENMEM_IOB_IOMMU_map, &e, 1);
	verdict("grant_not_mapped_refused", rc == -EPERM, "%ld (want %d)", rc, -EPERM);
	e.gfn = grant_gfn(&g, 1U << 30);
	rc = iommu_op(XENMEM_IOB_IOMMU_map, &e, 1);
	verdict("grant_bad_ref_refused", rc == -ENOENT, "%ld (want %d)", rc, -ENOENT);
	e.gfn = g.ref[0];	/* domid 0: the caller's own */
	rc = iommu_op(XENMEM_IOB_IOMMU_map, &e, 1);
	verdict("grant_own_domid_refused", rc == -EINVAL, "%ld (want %d)", rc, -EINVAL);
	g.n = 1;
	if (grants_map(&g, GNTMAP_readonly | GNTMAP_iob_noiommu))
		return 1;
	e.gfn = grant_gfn(&g, g.ref[0]);
	rc = iommu_op(XENMEM_IOB_IOMMU_map, &e, 1);
	verdict("grant_readonly_writable_refused", rc == -EPERM, "%ld (want %d)", rc, -EPERM);
	e.flags = XEN_IOB_IOMMU_grant | XEN_IOB_IOMMU_readonly | 0x80;
	rc = iommu_op(XENMEM_IOB_IOMMU_map, &e, 1);
	verdict("grant_bad_flags_refused", rc == -EINVAL, "%ld (want %d)", rc, -EINVAL);
	e.flags = XEN_IOB_IOMMU_grant | XEN_IOB_IOMMU_readonly;
	rc = iommu_op(XENMEM_IOB_IOMMU_map, &e, 1);
	if (!rc)
		rc = iommu_op(XENMEM_IOB_IOMMU_unmap, &e, 1);
	verdict("grant_readonly_map_unmap", rc == 0, "%ld (want 0)", rc);
	verdict("grant_unmapped_after", grants_unmap(&g) == 0, "grant unmap after the checks");
	return failures ? 1 : 0;
}

/* CLOCK_MONOTONIC in ns: busybox's date has no %N, and the domU workloads are timed with it. */
static int cmd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	printf("%" PRIu64 "\n", (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "now"))
		return cmd_now();
	/* Xen copies to and from these buffers by virtual address: keep them resident. */
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		fprintf(stderr, "iob-xenctl: mlockall: %s (continuing)\n", strerror(errno));
	if (argc == 3 && !strcmp(argv[1], "keys"))
		return cmd_keys(argv[2]);
	if (argc >= 3 && argc <= 4 && !strcmp(argv[1], "pathctr"))
		return cmd_pathctr(argv[2], argc == 4 ? argv[3] : NULL);
	if (argc == 3 && !strcmp(argv[1], "grant"))
		return cmd_grant(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "grant-check"))
		return cmd_grant_check(argc - 2, argv + 2);
	if (argc >= 6 && !strcmp(argv[1], "grant-loop"))
		return cmd_grant_loop(argv[2], argv[3], argc - 4, argv + 4);
	if (argc == 2 && !strcmp(argv[1], "domu-bad"))
		return cmd_domu_bad();
	if (argc == 2 && !strcmp(argv[1], "pv-check"))
		return cmd_pv_check();
	if (argc == 3 && !strcmp(argv[1], "pv-loop"))
		return cmd_loop(false, argv[2]);
	if (argc == 3 && !strcmp(argv[1], "dma-loop"))
		return cmd_loop(true, argv[2]);
	usage();
}
