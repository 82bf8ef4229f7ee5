// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob xen fidelity RUN_DIR: the model's hypervisor (lib/hv, Xen 4.17's
 * invalidation policy) replays the workloads of a Xen run as the guest
 * issued them, and xen_fidelity.csv puts its counts beside Xen's own
 * counters from the same run (xen.csv, xen_paths.csv).
 *
 * What the guest did, read from guest-workloads/xen/iob_xenctl.c,
 * hv-patches/xen-4.17/dom0-init.sh and Linux 6.1's drivers (docs/xen.md):
 *  - balloon_out:MIB  Linux's balloon driver: decrease_reservation of
 *    order-0 frames, at most 512 a call (its frame_list, one page of
 *    xen_pfn_t); balloon_in:MIB the same frames back by
 *    increase_reservation, after the out (the run's order). The number of
 *    calls is the guest's (xen.csv hypercalls): the driver sends a short
 *    batch when it cannot allocate more pages at once.
 *  - pv:N  iob-xenctl pv-check, then pv-loop: 16 frames from
 *    increase_reservation, N x (map 16, unmap 16), the frames given back.
 *  - dmalayer:N  the same loop with dma_map / dma_unmap.
 *  - blk_read/blk_write:MIB  blkback, one 64 KiB request at a time: the
 *    indirect page mapped and unmapped (one grant call each), then the 16
 *    data grants mapped in one call and unmapped in one.
 *  - ghook/gpv/gdma:N  dom0 maps 16 of the domU's grants (hook: Xen's
 *    IOMMU mirror; gpv, gdma: no mirror, then XENMEM_iob_iommu_op map or
 *    dma_map of them), unmaps, and unmaps the grants.
 * Xen flushes once per XENMEM_iob_iommu_op call in every tuning (patch
 * 0005), once per grant-unmap call under batch and lazy (0003), and only
 * decrease_reservation's frees go through lazy's flush queue (0004); so
 * the model's pv and dmalayer run batched, grant unmaps strict under
 * baseline and batched otherwise, and ballooning in the tuning's mode.
 *
 * Xen's counters also hold dom0's own activity in the same window: a PV
 * dom0's page becoming a page table leaves the IOMMU table (unmap, order-0
 * flush) and comes back when freed (map). Xen's p2m_set path counts those
 * and the workload's own page changes; the latter the model knows, so the
 * pairs are (p2m_set - model's pages) / 2, taken off Xen's maps, unmaps,
 * invalidations and waits before the comparison. Both values are in the
 * table.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <iob/alloc.h>
#include <iob/csv.h>
#include <iob/hv.h>
#include <iob/textfile.h>

#include "xen_fidelity.h"
#include "xeniolog.h"

#define DOM0_PAGES	(512ULL * 256)	/* dom0_mem=512M */
#define DOMU_PAGES	(128ULL * 256)	/* domu:128 */
#define BALLOON_BATCH	512		/* Linux: frame_list, PAGE_SIZE / sizeof(xen_pfn_t) */
#define LOOP_PAGES	16		/* iob-xenctl's loops and grant sets */
#define PV_DFN		0x100000ULL	/* the pv window (any free dfns) */
#define DEV0		0x0100		/* dom0's NVMe */
#define XEN_FQ_ENTRIES	4096		/* the lazy tuning: iommu-fq=4096,10 */

static const char *const skipped[][2] = {
	{ "disk_read", "dom0's own NVMe DMA: its RAM stays mapped, Xen does no IOMMU work for it" },
	{ "disk_write", "dom0's own NVMe DMA: its RAM stays mapped, Xen does no IOMMU work for it" },
	{ "domu", "domain build by the toolstack: not modelled" },
	{ "net_tx", "netback's grant maps per packet follow TCP segmentation and GSO at run time "
		    "(docs/xen.md), not the workload size" },
	{ "net_rx", "netback copies into the domU's grants (GNTTABOP_copy): no grant maps, "
		    "no IOMMU work to compare" },
	{ "pblk_read", "persistent grants: mapped once at connect, before the counters were reset" },
	{ "pblk_write", "persistent grants: mapped once at connect, before the counters were reset" },
	{ "domu_bad", "refused requests: nothing to count" },
	{ "console", "not a workload" },
};

const char *xen_fid_skip_reason(const char *workload)
{
	static const char *const modelled[] = { "balloon_out", "balloon_in", "pv", "dmalayer",
						"blk_read", "blk_write", "ghook", "gpv", "gdma" };

	for (size_t i = 0; i < sizeof(modelled) / sizeof(modelled[0]); i++)
		if (!strcmp(workload, modelled[i]))
			return NULL;
	for (size_t i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++)
		if (!strcmp(workload, skipped[i][0]))
			return skipped[i][1];
	return "unknown workload";
}

/* ---- the model ----------------------------------------------------------------------- */

struct fid_hv {
	struct hv *hv;
	domid_t dom0, domu;
	enum hv_strategy s;
};

/* dom0 (512 MiB, its NVMe assigned: hook builds the table), a domU if @domu. */
static int fid_hv_new(struct fid_hv *m, enum hv_strategy s, enum flush_mode mode, bool domu)
{
	struct hv_cfg cfg = {
		.machine_frames = 1ULL << 19,
		.strategy = s,
		.tune = { .flush = mode, .policy = INVAL_XEN, .superpages = true,
			  .fq_entries = XEN_FQ_ENTRIES, .fq_timeout_ns = 10000000ULL },
	};
	int ret;

	*m = (struct fid_hv){ .s = s };
	ret = hv_create(&cfg, &m->hv);
	if (!ret)
		ret = hv_domain_create(m->hv, DOM0_PAGES + 4096, &m->dom0);
	for (gfn_t g = 0; !ret && g < DOM0_PAGES; g += 512)
		ret = hv_populate(m->hv, m->dom0, g, 9);
	if (!ret)
		ret = hv_assign_device(m->hv, DEV0, m->dom0);
	if (!ret && domu)
		ret = hv_domain_create(m->hv, DOMU_PAGES, &m->domu);
	for (gfn_t g = 0; !ret && domu && g < DOMU_PAGES; g += 512)
		ret = hv_populate(m->hv, m->domu, g, 9);
	if (!ret) {
		hv_stats_reset(m->hv);
		flush_stats_reset(hv_domain_flush(m->hv, m->dom0));
		iopt_stats_reset(hv_domain_iopt(m->hv, m->dom0));
	}
	return ret;
}

/* What dom0's table and flush policy did since the reset, added to @c. */
static void fid_hv_take(struct fid_hv *m, struct xen_fid_counts *c)
{
	struct hv_stats hs;
	struct flush_stats fs;
	struct iopt_stats is;

	hv_sync(m->hv);
	hv_stats_get(m->hv, &hs);
	flush_stats_get(hv_domain_flush(m->hv, m->dom0), &fs);
	iopt_stats_get(hv_domain_iopt(m->hv, m->dom0), &is);
	/* Pages: hook maps and unmaps one page a call; pv and dmalayer count leaves (all 4K here). */
	c->iommu_maps += m->s == HV_HOOK ? hs.iommu_maps : is.entries_written;
	c->iommu_unmaps += m->s == HV_HOOK ? hs.iommu_unmaps : is.entries_cleared;
	c->inv_cmds += fs.inv_cmds;
	c->completion_waits += fs.completion_waits;
	c->grant_maps += hs.grant_maps;
	c->grant_unmaps += hs.grant_unmaps;
	c->p2m_pages += hs.ballooned_pages + hs.populated_pages;
	c->shatters += is.splits;
	hv_destroy(m->hv);
	m->hv = NULL;
}

/* Lazy: the guest's next call comes after Xen's 10 ms flush-queue timer fired. */
static void fid_timer(struct hv *hv)
{
	struct timespec ts = { 0, 11000000L };

	nanosleep(&ts, NULL);
	hv_tick(hv);
}

/*
 * Balloon out @pages from the top of dom0's RAM, then (if @count_in) the
 * same frames back in; @calls calls for the pass counted (the in when
 * @count_in), 512 frames a call for the other.
 */
static int fid_balloon(struct fid_hv *m, uint64_t pages, uint64_t calls, bool count_in,
		       enum flush_mode mode)
{
	static gfn_t g[HV_BATCH_MAX];
	int ret = 0;

	for (int pass = 0; pass < 1 + count_in && !ret; pass++) {
		uint64_t done = 0, top = DOM0_PAGES, nc = pass == count_in ? calls : 0;

		if (pass && count_in) {
			hv_stats_reset(m->hv);
			flush_stats_reset(hv_domain_flush(m->hv, m->dom0));
			iopt_stats_reset(hv_domain_iopt(m->hv, m->dom0));
		}
		if (!nc || nc > pages)
			nc = (pages + BALLOON_BATCH - 1) / BALLOON_BATCH;
		for (uint64_t c = 0; c < nc && !ret; c++) {
			/* Spread evenly: the guest's batch sizes are not recorded, their count is. */
			uint64_t n = (pages * (c + 1)) / nc - done;

			if (n > HV_BATCH_MAX)
				return -EINVAL;
			for (uint64_t i = 0; i < n; i++)
				g[i] = --top;
			ret = pass ? hv_increase_reservation(m->hv, m->dom0, g, (unsigned)n, 0)
				   : hv_decrease_reservation(m->hv, m->dom0, g, (unsigned)n, 0);
			done += n;
			if (!pass && mode == FLUSH_LAZY)
				fid_timer(m->hv);
		}
	}
	return ret;
}

/* iob-xenctl's frames_get / frames_put: @n frames in or out, one call (hook). */
static int fid_frames(struct fid_hv *m, gfn_t first, unsigned n, bool get)
{
	gfn_t g[LOOP_PAGES];

	for (unsigned i = 0; i < n; i++)
		g[i] = first + i;
	return get ? hv_increase_reservation(m->hv, m->dom0, g, n, 0)
		   : hv_decrease_reservation(m->hv, m->dom0, g, n, 0);
}

/*
 * dom0's side of pv:N or dmalayer:N on the hook (balloon headroom first):
 * pv-check's 3 frames (pv only) and the loop's 16, in and out.
 */
static int fid_loop_frames(struct fid_hv *m, bool pv, enum flush_mode mode)
{
	gfn_t top = DOM0_PAGES - 64;
	int ret = fid_balloon(m, 64, 0, false, mode);

	if (ret)
		return ret;
	hv_stats_reset(m->hv);
	flush_stats_reset(hv_domain_flush(m->hv, m->dom0));
	iopt_stats_reset(hv_domain_iopt(m->hv, m->dom0));
	if (pv && !(ret = fid_frames(m, top, 3, true)))
		ret = fid_frames(m, top, 3, false);
	if (!ret && pv && mode == FLUSH_LAZY)
		fid_timer(m->hv);
	if (!ret && !(ret = fid_frames(m, top, LOOP_PAGES, true)))
		ret = fid_frames(m, top, LOOP_PAGES, false);
	if (!ret && mode == FLUSH_LAZY)
		fid_timer(m->hv);
	return ret;
}

/* One pv map of @n entries at PV_DFN.. and its unmap (one flush: the call's). */
static int fid_pv_pair(struct hv *hv, domid_t d, const gfn_t *gfns, unsigned n, unsigned prot)
{
	struct hv_pv_map_op ops[LOOP_PAGES];
	uint64_t dfns[LOOP_PAGES];
	int ret;

	for (unsigned i = 0; i < n; i++) {
		ops[i] = (struct hv_pv_map_op){ .gfn = gfns[i], .dfn = PV_DFN + i, .prot = prot };
		dfns[i] = PV_DFN + i;
	}
	ret = hv_pv_map(hv, d, ops, n);
	return ret ? ret : hv_pv_unmap(hv, d, dfns, n);
}

static int fid_dma_pair(struct hv *hv, domid_t d, const gfn_t *gfns, unsigned n, unsigned dir)
{
	iova_t iova;
	int ret = hv_dma_map(hv, d, DEV0, gfns, n, dir, &iova);

	return ret ? ret : hv_dma_unmap(hv, d, DEV0, iova, (uint64_t)n << 12);
}

/*
 * pv:N / dmalayer:N on their strategy. pv-check's accepted calls: a map
 * of 2 and its unmap, a dma_map of 3 and its dma_unmap (here as pv of 3:
 * the same IOMMU work); its refused calls change nothing.
 */
static int fid_loop(const struct xen_fid_work *w, bool pv, enum flush_mode mode,
		    struct xen_fid_counts *c)
{
	struct fid_hv m;
	gfn_t g[LOOP_PAGES];
	int ret;

	ret = fid_hv_new(&m, HV_HOOK, mode, false);
	if (!ret)
		ret = fid_loop_frames(&m, pv, mode);
	if (m.hv)
		fid_hv_take(&m, c);
	if (ret || (ret = fid_hv_new(&m, pv ? HV_PV : HV_DMALAYER, FLUSH_BATCHED, false)))
		goto out;
	for (unsigned i = 0; i < LOOP_PAGES; i++)
		g[i] = DOM0_PAGES - 64 + i;
	if (pv && !(ret = fid_pv_pair(m.hv, m.dom0, g, 2, IOPT_PROT_RW)))
		ret = fid_pv_pair(m.hv, m.dom0, g, 3, IOPT_PROT_RW);
	for (uint64_t it = 0; it < w->arg && !ret; it++)
		ret = pv ? fid_pv_pair(m.hv, m.dom0, g, LOOP_PAGES, IOPT_PROT_RW)
			 : fid_dma_pair(m.hv, m.dom0, g, LOOP_PAGES, IOPT_PROT_RW);
out:
	if (m.hv)
		fid_hv_take(&m, c);
	return ret;
}

/* The domU grants dom0 @n of its pages (gntalloc, writable). */
static int fid_grants(struct fid_hv *m, gfn_t first, unsigned n, grant_ref_t *refs)
{
	int ret = 0;

	for (unsigned i = 0; i < n && !ret; i++)
		ret = hv_grant_access(m->hv, m->domu, m->dom0, first + i, false, &refs[i]);
	return ret;
}

/* dom0 maps @n grants at its gfns past its RAM, (pv, dma: then maps them), unmaps all. */
static int fid_grant_io(struct fid_hv *m, const grant_ref_t *refs, unsigned n, bool batched)
{
	grant_handle_t h[LOOP_PAGES + 1];
	gfn_t host[LOOP_PAGES + 1];
	int ret = 0;

	for (unsigned i = 0; i < n && !ret; i++) {
		host[i] = DOM0_PAGES + i;
		ret = hv_grant_map(m->hv, m->dom0, m->domu, refs[i], false, host[i], &h[i], NULL);
	}
	if (!ret && m->s == HV_PV)
		ret = fid_pv_pair(m->hv, m->dom0, host, n, IOPT_PROT_RW);
	if (!ret && m->s == HV_DMALAYER)
		ret = fid_dma_pair(m->hv, m->dom0, host, n, IOPT_PROT_RW);
	if (!ret)
		ret = hv_grant_unmap_batch(m->hv, m->dom0, h, n);
	if (!ret && batched)
		hv_batch_end(m->hv, m->dom0);
	return ret;
}

/*
 * The domU's grant traffic, dom0 its driver domain: blk_* one 64 KiB
 * request at a time (the indirect page, then 16 data grants), the g*
 * loops 16 grants at a time.
 */
static int fid_grant_work(const struct xen_fid_work *w, enum hv_strategy s, bool batched,
			  struct xen_fid_counts *c)
{
	bool blk = !strncmp(w->workload, "blk_", 4);
	uint64_t iters = blk ? w->arg * 16 : w->arg;
	grant_ref_t refs[LOOP_PAGES + 1];
	struct fid_hv m;
	int ret;

	ret = fid_hv_new(&m, s, batched ? FLUSH_BATCHED : FLUSH_STRICT, true);
	if (!ret)
		ret = fid_grants(&m, 0, LOOP_PAGES + 1, refs);
	if (!ret) {
		hv_stats_reset(m.hv);
		flush_stats_reset(hv_domain_flush(m.hv, m.dom0));
		iopt_stats_reset(hv_domain_iopt(m.hv, m.dom0));
	}
	/* gpv: grant-check's one accepted entry (a read-only grant: here writable, same work). */
	if (!ret && s == HV_PV)
		ret = fid_grant_io(&m, refs, 1, batched);
	for (uint64_t it = 0; it < iters && !ret; it++) {
		if (blk)
			ret = fid_grant_io(&m, &refs[LOOP_PAGES], 1, batched);
		if (!ret)
			ret = fid_grant_io(&m, refs, LOOP_PAGES, batched);
	}
	if (m.hv)
		fid_hv_take(&m, c);
	return ret;
}

int xen_fid_model(const struct xen_fid_work *w, struct xen_fid_counts *out)
{
	bool base = !strcmp(w->tuning, "baseline"), lazy = !strcmp(w->tuning, "lazy");
	enum flush_mode mode = base ? FLUSH_STRICT : lazy ? FLUSH_LAZY : FLUSH_BATCHED;
	const char *wl = w->workload;
	struct fid_hv m;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((!base && !lazy && strcmp(w->tuning, "batch")) || xen_fid_skip_reason(wl) ||
	    !w->arg || w->arg > 100000)
		return -EINVAL;
	if (!strcmp(wl, "pv") || !strcmp(wl, "dmalayer"))
		return fid_loop(w, !strcmp(wl, "pv"), mode, out);
	if (!strcmp(wl, "ghook") || !strncmp(wl, "blk_", 4))
		return fid_grant_work(w, HV_HOOK, !base, out);
	if (!strcmp(wl, "gpv") || !strcmp(wl, "gdma"))
		return fid_grant_work(w, !strcmp(wl, "gpv") ? HV_PV : HV_DMALAYER, true, out);
	if (w->arg * 256 > DOM0_PAGES / 2)
		return -EINVAL;
	/* Ballooning: out, then in; balloon_in's row counts only the in. */
	ret = fid_hv_new(&m, HV_HOOK, mode, false);
	if (!ret)
		ret = fid_balloon(&m, w->arg * 256, w->calls, !strcmp(wl, "balloon_in"), mode);
	if (m.hv)
		fid_hv_take(&m, out);
	return ret;
}

/* ---- replaying Xen's log of dom0's table (patch 0007) --------------------------------- */

/*
 * A PV dom0's I/O page table is indexed by machine frame (dfn = mfn), so
 * which tables ballooning empties, shatters and fills again depends on the
 * frames Linux gave back and Xen's allocator handed out; the lazy timer
 * depends on when the calls came. Xen's log has both: the model's dom0 is
 * an identity domain (hv_domain_identity()), set up as the log's blocks
 * were before their first change, then every call is replayed with its
 * very frames. dom0's own changes outside the calls (pages typed as page
 * tables and back) are replayed too (hv_pv_retype()), and their counts,
 * the model's and Xen's, are kept apart from the workload's.
 */
struct fid_replay {
	struct hv *hv;
	domid_t dom0;
	enum flush_mode mode;
	uint64_t tsc_khz;		/* Xen's, for the clock */
	uint64_t now_ns;		/* the model's clock: Xen's TSC at the event replayed */
	gfn_t *g;			/* a call's frames */
	unsigned ng;
	char gop;			/* 'm' or 'u': what g holds */
	struct xen_fid_counts other;	/* the model's, outside the calls */
	uint64_t mismatch;		/* outside changes the model's state could not take */
};

/* Model counts so far (no sync: what is still queued stays queued, as in Xen). */
static void fid_counts_now(struct fid_replay *r, struct xen_fid_counts *c)
{
	struct hv_stats hs;
	struct flush_stats fs;
	struct iopt_stats is;

	hv_stats_get(r->hv, &hs);
	flush_stats_get(hv_domain_flush(r->hv, r->dom0), &fs);
	iopt_stats_get(hv_domain_iopt(r->hv, r->dom0), &is);
	*c = (struct xen_fid_counts){ .iommu_maps = hs.iommu_maps, .iommu_unmaps = hs.iommu_unmaps,
				      .inv_cmds = fs.inv_cmds,
				      .completion_waits = fs.completion_waits,
				      .shatters = is.splits };
}

/* The call's frames, handed to the model as one call. */
static int fid_replay_flush_call(struct fid_replay *r)
{
	int ret = 0;

	for (unsigned i = 0; i < r->ng && !ret; i += HV_BATCH_MAX) {
		unsigned n = r->ng - i < HV_BATCH_MAX ? r->ng - i : HV_BATCH_MAX;

		ret = r->gop == 'u' ? hv_decrease_reservation(r->hv, r->dom0, r->g + i, n, 0)
				    : hv_increase_reservation(r->hv, r->dom0, r->g + i, n, 0);
	}
	r->ng = 0;
	return ret;
}

/* A page dom0 typed as a page table (@table) or made writable again, outside any call. */
static void fid_replay_retype(struct fid_replay *r, gfn_t g, bool table)
{
	struct xen_fid_counts a, b;
	enum p2m_type t;
	int ret;

	fid_counts_now(r, &a);
	if (hv_p2m_lookup(r->hv, r->dom0, g, &t) == INVALID_MFN && !table)
		ret = hv_populate(r->hv, r->dom0, g, 0);	/* typed before the window */
	else
		ret = hv_pv_retype(r->hv, r->dom0, g, table);
	fid_counts_now(r, &b);
	r->mismatch += ret != 0;
#define FID_SUB(n) r->other.n += b.n - a.n;
	XEN_FID_COUNTERS(FID_SUB)
#undef FID_SUB
	r->other.shatters += b.shatters - a.shatters;
}

/* The model's lazy deadlines run on Xen's own times (hv_tuning.clock_ns). */
static uint64_t fid_replay_clock(void *ctx)
{
	return ((const struct fid_replay *)ctx)->now_ns;
}

/* The clock at Xen's TSC @tsc; then whatever timer is due fires. */
static void fid_replay_at(struct fid_replay *r, uint64_t tsc)
{
	uint64_t ns = (uint64_t)((unsigned __int128)tsc * 1000000U / r->tsc_khz);

	if (ns > r->now_ns)
		r->now_ns = ns;
	hv_tick(r->hv);
}

/* Add one m or u run of the log: a call's frames, or dom0's own change outside calls. */
static int fid_replay_pages(struct fid_replay *r, const struct xeniolog_ev *e, bool in_call)
{
	int ret = 0;

	if (e->c)
		return -EOPNOTSUPP;	/* dom0's table changes 4 KiB at a time */
	for (uint64_t j = 0; j < e->b && !ret; j++) {
		gfn_t g = e->dir > 0 ? e->a + j : e->a - j;
		char op = e->kind == 'M' || e->kind == 'm' ? 'm' : 'u';

		if (islower(e->kind) || !in_call) {
			/*
			 * Another CPU's change in the middle of a populate: the maps
			 * before it go first (populate is no batch in Xen, so
			 * splitting it changes no flush; a decrease stays whole).
			 */
			if (r->ng && r->gop == 'm')
				ret = fid_replay_flush_call(r);
			if (!ret)
				fid_replay_retype(r, g, op == 'u');
			continue;
		}
		if (r->ng && r->gop != op)
			ret = fid_replay_flush_call(r);
		r->gop = op;
		r->g[r->ng++] = g;
	}
	return ret;
}

static int fid_replay_events(struct fid_replay *r, const struct xeniolog *l)
{
	bool in_call = false;
	int ret = 0;

	for (size_t i = 0; i < l->n && !ret; i++) {
		const struct xeniolog_ev *e = &l->ev[i];

		switch (e->kind) {
		case 'c':
			fid_replay_at(r, e->c);
			hv_set_cpu(r->hv, (unsigned)e->d);
			in_call = true;
			break;
		case 'r':
			/* The call runs at its end: its queue's timer starts there. */
			fid_replay_at(r, e->c);
			ret = fid_replay_flush_call(r);
			in_call = false;
			break;
		case 'm':
		case 'u':
		case 'M':
		case 'U':
			ret = fid_replay_pages(r, e, in_call);
			break;
		default:
			break;
		}
	}
	if (!ret)
		ret = fid_replay_flush_call(r);
	/* The window went on past the timers (dom0 polled the balloon, then dumped). */
	if (!ret) {
		r->now_ns += 1000000000ULL;
		hv_tick(r->hv);
	}
	return ret;
}

/* Frames the model's machine needs for the log's dfns (0: past what it can hold). */
static uint64_t fid_replay_frames(const struct xeniolog *l)
{
	uint64_t top = 1ULL << 19;

	for (size_t i = 0; i < l->n; i++) {
		const struct xeniolog_ev *e = &l->ev[i];
		uint64_t end = 0;

		if (e->kind == 'b')
			end = e->a + 512;
		else if (strchr("muMU", e->kind))
			end = (e->dir > 0 ? e->a + ((e->b - 1) << e->c) : e->a) + (1ULL << e->c);
		if (end > top)
			top = end;
	}
	top = (top + (1ULL << 18) - 1) & ~((1ULL << 18) - 1);
	return top > (1ULL << 22) ? 0 : top;
}

/* Xen's CPUs the calls ran on: the model keeps a batch and a queue for each. */
static unsigned fid_replay_cpus(const struct xeniolog *l)
{
	uint64_t n = 1;

	for (size_t i = 0; i < l->n; i++)
		if (l->ev[i].kind == 'c' && l->ev[i].d + 1 > n)
			n = l->ev[i].d + 1;
	return (unsigned)n;
}

/* dom0's blocks as the log found them before their first change. */
static int fid_replay_setup(struct fid_replay *r, const struct xeniolog *l, uint64_t *foreign)
{
	int ret = 0;

	for (size_t i = 0; i < l->n && !ret; i++) {
		const struct xeniolog_ev *e = &l->ev[i];
		unsigned st = (unsigned)e->c & 0x7f;

		if (e->kind != 'b')
			continue;
		*foreign += (e->c & XENIOLOG_BLOCK_FOREIGN) != 0;
		if (st == XENIOLOG_BLOCK_2M || st == XENIOLOG_BLOCK_1G) {
			unsigned order = st == XENIOLOG_BLOCK_2M ? 9 : 18;

			ret = hv_populate(r->hv, r->dom0, e->a & ~((1ULL << order) - 1), order);
			if (ret == -EEXIST)	/* a 1 GiB block another block's line set up */
				ret = 0;
		}
		for (unsigned k = 0; st == XENIOLOG_BLOCK_TABLE && k < 512 && !ret; k++)
			if (e->bits[k / 64] >> (k % 64) & 1)
				ret = hv_populate(r->hv, r->dom0, e->a + k, 0);
	}
	if (!ret) {
		hv_sync(r->hv);
		hv_stats_reset(r->hv);
		flush_stats_reset(hv_domain_flush(r->hv, r->dom0));
		iopt_stats_reset(hv_domain_iopt(r->hv, r->dom0));
	}
	return ret;
}

/* What Xen did outside the calls (dom0's own page-table pages), from the log. */
static void fid_replay_xen_other(const struct xeniolog *l, struct xen_fid_counts *x)
{
	memset(x, 0, sizeof(*x));
	for (size_t i = 0; i < l->n; i++) {
		const struct xeniolog_ev *e = &l->ev[i];

		if (e->kind == 'm')
			x->iommu_maps += e->b;
		if (e->kind == 'u')
			x->iommu_unmaps += e->b;
		if (e->kind == 's')
			x->shatters++;
		if (e->kind == 'x') {
			x->inv_cmds += e->d + e->e;
			x->completion_waits += e->d + e->e;
		}
	}
}

int xen_fid_replay(const struct xen_fid_work *w, const struct xeniolog *l,
		   struct xen_fid_counts *model, struct xen_fid_counts *xen_other,
		   struct xen_fid_replay_notes *notes)
{
	bool base = !strcmp(w->tuning, "baseline"), lazy = !strcmp(w->tuning, "lazy");
	struct fid_replay r = { .mode = base ? FLUSH_STRICT : lazy ? FLUSH_LAZY : FLUSH_BATCHED,
				.tsc_khz = w->tsc_khz };
	uint64_t frames = fid_replay_frames(l);
	struct hv_cfg cfg = {
		.machine_frames = frames, .strategy = HV_HOOK, .ncpus = fid_replay_cpus(l),
		.tune = { .flush = r.mode, .policy = INVAL_XEN, .superpages = true,
			  .fq_entries = XEN_FQ_ENTRIES, .fq_timeout_ns = 10000000ULL,
			  .clock_ns = fid_replay_clock, .clock_ctx = &r },
	};
	struct xen_fid_counts all;
	int ret;

	memset(notes, 0, sizeof(*notes));
	if ((!base && !lazy && strcmp(w->tuning, "batch")) || !frames || !w->tsc_khz)
		return -EINVAL;
	r.g = iob_calloc(l->total + 1, sizeof(*r.g));
	if (!r.g)
		return -ENOMEM;
	ret = hv_create(&cfg, &r.hv);
	if (!ret)
		ret = hv_domain_create(r.hv, frames, &r.dom0);
	if (!ret)
		ret = hv_domain_identity(r.hv, r.dom0);
	if (!ret)
		ret = hv_assign_device(r.hv, DEV0, r.dom0);
	if (!ret)
		ret = fid_replay_setup(&r, l, &notes->foreign_blocks);
	if (!ret)
		ret = fid_replay_events(&r, l);
	if (!ret) {
		fid_counts_now(&r, &all);
#define FID_SUB(n) model->n = all.n - r.other.n;
		XEN_FID_COUNTERS(FID_SUB)
#undef FID_SUB
		model->shatters = all.shatters - r.other.shatters;
		model->p2m_pages = 0;
		notes->mismatches = r.mismatch;
		notes->model_other = r.other;
		fid_replay_xen_other(l, xen_other);
	}
	hv_destroy(r.hv);
	iob_free(r.g);
	return ret;
}

/* ---- the table ----------------------------------------------------------------------- */

#define FID_COLS "tuning,workload,counter,xen,xen_dom0_other,xen_workload,model,diff_pct," \
		 "target_pct,ok,why"

/*
 * Why the model's count differs from Xen's by more than one operation
 * (docs/xen.md, "Fidelity"). No commas: they would split the field.
 */
static const char *const whys[][4] = {
	/* tuning, workload, counter ("*": any), why */
	{ "lazy", "balloon_out", "*",
	  "Xen's 10 ms flush-queue timer is armed when the queue opens: calls that came while "
	  "it was open shared its flush (fq_timeout); the model lets it fire after every call: "
	  "a workload description holds no timing" },
	{ "batch", "balloon_out", "*",
	  "not traced: besides one flush per guest call (batch_flushes) and dom0's page-table "
	  "pairs Xen sent a few flushes of other sizes (up to 5 a window in the runs seen)" },
	{ "batch", "pv", "*",
	  "not traced: besides one flush per call and dom0's page-table pairs Xen sent a few "
	  "flushes of other sizes (up to 5 a window in the runs seen)" },
	{ "batch", "dmalayer", "*",
	  "not traced: besides one flush per call and dom0's page-table pairs Xen sent a few "
	  "flushes of other sizes (up to 5 a window in the runs seen)" },
	{ "*", "balloon_out", "shatters",
	  "the guest's pages came from more of dom0's 2 MiB superpages than the aligned blocks "
	  "the model balloons out (Xen's flush_all counts those emptied whole): which pages "
	  "Linux's allocator gave the balloon is not in the workload" },
	{ "*", "balloon_in", "shatters",
	  "not traced here: Xen split superpages while mapping the returned frames at "
	  "dfn = mfn (a PV dom0's table is 1:1 and maps more than dom0's RAM at boot); the "
	  "model's dom0 table holds its RAM by gfn and the frames refill the holes the out "
	  "left" },
	{ "*", "balloon_in", "*",
	  "Xen coalesced tables that the returned frames filled (dfn = mfn for a PV dom0) and "
	  "flushed the whole domain for each (IOMMU_FLUSHF_all); which fill depends on the "
	  "frames Xen's allocator handed back; the model's never fill one" },
};

static const char *why_of(const char *tuning, const char *wl, const char *counter, double d,
			  bool replayed, bool logged)
{
	if (fabs(d) < 0.05)
		return "";
	if (replayed)
		return fabs(d) <= 1.0 + 1e-9
		       ? "one operation: dom0 changed its own table on another CPU during a call "
			 "(Xen's log has the order); the model replays a call's frames at its end"
		       : !strcmp(counter, "shatters")
		       ? "a call's frames and dom0's own changes on another CPU hit the same blocks: "
			 "the model replays a call's frames at its end; so a shatter can move between "
			 "the call and dom0's own"
		       : "not explained";
	if (fabs(d) <= 1.0 + 1e-9 && strcmp(counter, "shatters") && !logged)
		return "one operation: dom0's page-table pairs are estimated from p2m_set in halves "
		       "(a page typed in this window and freed in another leaves one over)";
	/* An entry naming the counter wins over one for every counter. */
	for (int any = 0; any < 2; any++)
		for (size_t i = 0; i < sizeof(whys) / sizeof(whys[0]); i++)
			if ((!strcmp(whys[i][0], "*") || !strcmp(whys[i][0], tuning)) &&
			    !strcmp(whys[i][1], wl) &&
			    !strcmp(whys[i][2], any ? "*" : counter))
				return whys[i][3];
	return "not explained";
}

static double target_of(const char *wl)
{
	return !strncmp(wl, "blk_", 4) || wl[0] == 'g' ? 10.0 : 2.0;
}

/*
 * Within target: the percentage, or one operation (the dom0 estimate's
 * resolution: a count of 0 or 1 has no meaningful percentage).
 */
static bool fid_ok(double diff_pct, double model, double xw, const char *wl)
{
	return fabs(diff_pct) <= target_of(wl) + 1e-9 || fabs(model - xw) <= 1.0 + 1e-9;
}

struct fid_in {
	struct csv_table runs, paths;
	int c_tuning, c_wl, c_mib, c_iters, c_status, c_hc, c_maps, c_unmaps, c_inv, c_waits,
		c_gmaps, c_gunmaps, c_submits, c_shatter, c_tsc;
	int p_tuning, p_wl, p_path, p_count;
};

static int fid_col(struct fid_in *in, const char *name, int *out, char *err, size_t errlen,
		   const char *path)
{
	*out = csv_col(&in->runs, name);
	if (*out < 0)
		snprintf(err, errlen, "%s: not a xen.csv of iob xen run (no column '%s')", path, name);
	return *out < 0 ? -EINVAL : 0;
}

/* csv_read()'s message, naming the file when it does not. */
static void fid_read_err(char *err, size_t errlen, const char *path, const char *e)
{
	if (!strncmp(e, path, strlen(path)))
		snprintf(err, errlen, "%s", e);
	else
		snprintf(err, errlen, "%s: %s", path, e);
}

/* Both files read and checked: columns, numbers. */
static int fid_read(const char *dir, struct fid_in *in, char *err, size_t errlen)
{
	static const char *const names[] = { "tuning", "workload", "mib", "iterations", "status",
		"hypercalls", "iommu_maps", "iommu_unmaps", "inv_pages_cmds", "completion_waits",
		"grant_maps", "grant_unmaps", "cmd_submits", "pt_shatter", "xen_tsc_khz" };
	int *cols[] = { &in->c_tuning, &in->c_wl, &in->c_mib, &in->c_iters, &in->c_status,
			&in->c_hc, &in->c_maps, &in->c_unmaps, &in->c_inv, &in->c_waits,
			&in->c_gmaps, &in->c_gunmaps, &in->c_submits, &in->c_shatter, &in->c_tsc };
	char p[4200], e[256];
	int ret;

	snprintf(p, sizeof(p), "%s/xen.csv", dir);
	ret = csv_read(p, &in->runs, e, sizeof(e));
	if (ret) {
		fid_read_err(err, errlen, p, e);
		return ret;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((ret = fid_col(in, names[i], cols[i], err, errlen, p)))
			return ret;
	for (size_t r = 0; r < in->runs.nrows; r++)
		for (size_t i = 2; i < sizeof(names) / sizeof(names[0]); i++) {
			uint64_t v;
			char *end;

			if (i == 4)
				continue;
			errno = 0;
			v = strtoull(in->runs.rows[r][*cols[i]], &end, 10);
			if (errno || *end || end == in->runs.rows[r][*cols[i]] || v > (1ULL << 48)) {
				snprintf(err, errlen, "%s: row %zu: %s '%s' is not a count", p, r + 1,
					 names[i], in->runs.rows[r][*cols[i]]);
				return -EINVAL;
			}
		}
	snprintf(p, sizeof(p), "%s/xen_paths.csv", dir);
	ret = csv_read(p, &in->paths, e, sizeof(e));
	if (ret) {
		fid_read_err(err, errlen, p, e);
		return ret;
	}
	in->p_tuning = csv_col(&in->paths, "tuning");
	in->p_wl = csv_col(&in->paths, "workload");
	in->p_path = csv_col(&in->paths, "path");
	in->p_count = csv_col(&in->paths, "count");
	if (in->p_tuning < 0 || in->p_wl < 0 || in->p_path < 0 || in->p_count < 0) {
		snprintf(err, errlen, "%s: not a xen_paths.csv (tuning, workload, path, count)", p);
		return -EINVAL;
	}
	return 0;
}

/* Xen's p2m_set count of one tuning x workload. */
static uint64_t fid_p2m_set(const struct fid_in *in, const char *tuning, const char *wl)
{
	for (size_t r = 0; r < in->paths.nrows; r++) {
		char **row = in->paths.rows[r];

		if (!strcmp(row[in->p_tuning], tuning) && !strcmp(row[in->p_wl], wl) &&
		    !strcmp(row[in->p_path], "p2m_set"))
			return strtoull(row[in->p_count], NULL, 10);
	}
	return 0;
}

static uint64_t fid_u(const struct fid_in *in, size_t r, int col)
{
	return strtoull(in->runs.rows[r][col], NULL, 10);
}

/*
 * What Xen counted that is not the workload's IOMMU work, per counter:
 * dom0's page-table pairs (a map, an unmap, an order-0 flush and its wait
 * each) and, for waits, those after commands that are not page
 * invalidations (cmd_submits counts both the command and its wait).
 */
static double fid_other(const struct fid_in *in, size_t r, const char *counter, double pairs)
{
	double x = (double)fid_u(in, r, csv_col(&in->runs, !strcmp(counter, "inv_cmds") ?
						"inv_pages_cmds" : counter));
	double cmds = (double)fid_u(in, r, in->c_submits), waits = (double)fid_u(in, r, in->c_waits);
	double inv = (double)fid_u(in, r, in->c_inv), o = pairs;

	if (!strcmp(counter, "completion_waits") && cmds - waits > inv)
		o += cmds - waits - inv;
	return fmin(o, x);
}

/*
 * What Xen counted outside the workload's calls, from its log: dom0's own
 * maps, unmaps, flushes and shatters; for waits also those after commands
 * that are not page invalidations, as fid_other().
 */
static double fid_other_log(const struct fid_in *in, size_t r, const char *counter,
			    const struct xen_fid_counts *x)
{
	double v = !strcmp(counter, "iommu_maps") ? (double)x->iommu_maps
		 : !strcmp(counter, "iommu_unmaps") ? (double)x->iommu_unmaps
		 : !strcmp(counter, "shatters") ? (double)x->shatters
		 : (double)x->inv_cmds;

	if (!strcmp(counter, "completion_waits"))
		v = fid_other(in, r, counter, v);
	return v;
}

/* One row per counter of one workload; returns rows written. */
static int fid_rows(struct csv *out, const struct fid_in *in, size_t r,
		    const struct xen_fid_counts *m, const struct xen_fid_counts *xother,
		    bool replayed, bool *all_ok, FILE *report)
{
	const char *tn = in->runs.rows[r][in->c_tuning], *wl = in->runs.rows[r][in->c_wl];
	bool grants = !strncmp(wl, "blk_", 4) || !strcmp(wl, "ghook");
	bool balloon = !strncmp(wl, "balloon_", 8);
	double pairs = fmax(0, ((double)fid_p2m_set(in, tn, wl) - (double)m->p2m_pages) / 2.0);
	const struct { const char *name; int col; uint64_t model; bool other, show; } c[] = {
		{ "iommu_maps", in->c_maps, m->iommu_maps, true, true },
		{ "iommu_unmaps", in->c_unmaps, m->iommu_unmaps, true, true },
		{ "inv_cmds", in->c_inv, m->inv_cmds, true, true },
		{ "completion_waits", in->c_waits, m->completion_waits, true, true },
		{ "shatters", in->c_shatter, m->shatters, xother != NULL, balloon },
		{ "grant_maps", in->c_gmaps, m->grant_maps, false, grants },
		{ "grant_unmaps", in->c_gunmaps, m->grant_unmaps, false, grants },
	};
	int n = 0;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint64_t x = fid_u(in, r, c[i].col);
		double other = !c[i].other ? 0
			       : xother ? fid_other_log(in, r, c[i].name, xother)
					: fid_other(in, r, c[i].name, pairs);
		double xw = (double)x - other, diff = ((double)c[i].model - xw) / fmax(xw, 1.0) * 100.0;
		bool ok = fid_ok(diff, (double)c[i].model, xw, wl);

		if (!c[i].show)
			continue;
		*all_ok &= ok;
		csv_row(out, "%s,%s,%s,%" PRIu64 ",%.1f,%.1f,%" PRIu64 ",%.2f,%.0f,%s,%s", tn, wl,
			c[i].name, x, other, xw, c[i].model, diff, target_of(wl), ok ? "yes" : "no",
			why_of(tn, wl, c[i].name, (double)c[i].model - xw, replayed, xother != NULL));
		if (report)
			fprintf(report, "%-8s %-11s %-16s %8" PRIu64 " %8.1f %8" PRIu64 " %8.2f%% %s\n",
				tn, wl, c[i].name, x, xw, c[i].model, diff, ok ? "ok" : "MISSES");
		n++;
	}
	return n;
}

/*
 * The IOMMU log of @tuning x @wl in @dir's console log of that boot:
 * 1 read, 0 none (an older run, or a Xen without patch 0007), or a
 * negative errno with @err set.
 */
static int fid_log(const char *dir, const char *tuning, const char *wl, struct xeniolog *l,
		   char *err, size_t errlen)
{
	char p[4200], e[256], *text = NULL;
	int ret;

	memset(l, 0, sizeof(*l));
	snprintf(p, sizeof(p), "%s/console-%s.log", dir, tuning);
	ret = textfile_read(p, 256u << 20, "a console log", &text, e, sizeof(e));
	if (ret == -ENOENT)
		return 0;
	if (ret) {
		snprintf(err, errlen, "%s", e);
		return ret;
	}
	ret = xeniolog_parse(text, wl, l, e, sizeof(e));
	iob_free(text);
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", p, e);
		xeniolog_free(l);	/* the parser leaves what it read (found by LeakSanitizer) */
	}
	return ret;
}

/*
 * One workload by the model: a balloon workload by replaying Xen's log
 * when the run has one (@xother then holds Xen's counts outside the
 * calls, *@replayed is set), else from its description.
 */
static int fid_model_row(const char *dir, const struct xen_fid_work *w,
			 struct xen_fid_counts *m, struct xen_fid_counts *xother, bool *replayed,
			 bool *other_logged, char *err, size_t errlen)
{
	struct xen_fid_replay_notes notes;
	struct xeniolog l;
	int ret = 0;

	*replayed = false;
	*other_logged = false;
	ret = fid_log(dir, w->tuning, w->workload, &l, err, errlen);
	if (ret < 0)
		return ret;
	if (ret == 1 && strncmp(w->workload, "balloon_", 8)) {
		/* Not replayed, but what dom0 changed itself is in the log's summary. */
		for (size_t i = 0; i < l.n; i++)
			if (l.ev[i].kind == 'o') {
				*xother = (struct xen_fid_counts){
					.iommu_maps = l.ev[i].a, .iommu_unmaps = l.ev[i].b,
					.inv_cmds = l.ev[i].d + l.ev[i].e,
					.completion_waits = l.ev[i].d + l.ev[i].e,
					.shatters = l.ev[i].c };
				*other_logged = true;
			}
		xeniolog_free(&l);
		ret = 0;
	} else if (ret == 1) {
		ret = xen_fid_replay(w, &l, m, xother, &notes);
		xeniolog_free(&l);
		*replayed = !ret;
		if (ret)
			snprintf(err, errlen, "%s/console-%s.log: the IOMMU log of %s: the model "
				 "cannot replay it: %s", dir, w->tuning, w->workload, strerror(-ret));
		return ret;
	}
	ret = xen_fid_model(w, m);
	if (ret)
		snprintf(err, errlen, "%s/xen.csv: (%s, %s:%" PRIu64 "): the model cannot replay "
			 "it: %s", dir, w->tuning, w->workload, w->arg, strerror(-ret));
	return ret;
}

/* The workloads left out and why, as one metadata value. */
static void fid_skips(struct csv *out, const struct fid_in *in)
{
	char s[2048] = "relaxed (dom0-iommu=no-strict: Xen makes no IOMMU updates)";
	size_t n = strlen(s);

	for (size_t r = 0; r < in->runs.nrows; r++) {
		const char *wl = in->runs.rows[r][in->c_wl], *why = xen_fid_skip_reason(wl);
		bool seen = false;

		for (size_t k = 0; k < r && why; k++)
			seen |= !strcmp(in->runs.rows[k][in->c_wl], wl);
		if (why && !seen && n + strlen(wl) + strlen(why) + 8 < sizeof(s))
			n += (size_t)snprintf(s + n, sizeof(s) - n, "; %s (%s)", wl, why);
	}
	csv_meta(out, "skipped", "%s", s);
}

static void fid_meta(struct csv *out, const struct fid_in *in)
{
	csv_meta(out, "family", "xen_fidelity");
	csv_meta(out, "source", "%s", csv_meta_get(&in->runs, "command") ?
		 csv_meta_get(&in->runs, "command") : "?");
	csv_meta(out, "model", "lib/hv, Xen 4.17's invalidation policy (order 0, 9, 18 or all), "
		 "superpages; dom0 512 MiB (hook, its NVMe assigned), a 128 MiB domU granting; "
		 "baseline strict, batch batched, lazy a 4096-frame flush queue per CPU with a "
		 "10 ms timer for ballooning and batched grant unmaps; pv and dmalayer one flush "
		 "per call; balloon workloads replayed from Xen's log of dom0's table when the run "
		 "has it (an identity dom0 set up as the log's blocks were, each call's frames on "
		 "its CPU, dom0's page-table pages typed and freed, lazy deadlines on Xen's TSC), "
		 "else from their description");
	csv_meta(out, "xen_dom0_other", "dom0's own IOMMU updates in the window (page-table "
		 "pages typed and freed: a map, an unmap, an order-0 flush each pair): for the "
		 "balloon workloads of a run with Xen's log (patch 0007) read from it (maps, "
		 "unmaps, flushes, shatters outside the calls); else estimated as (Xen's p2m_set "
		 "count - the pages the workload changes) / 2 and taken off maps, unmaps, "
		 "invalidations and waits: xen_workload = xen - xen_dom0_other");
	csv_meta(out, "targets", "balloon, pv, dmalayer within 2%%; grant traffic within 10%%");
	fid_skips(out, in);
	csv_header(out, FID_COLS);
}

int xen_fidelity_dir(const char *dir, const struct results_env *env, FILE *report, char *err,
		     size_t errlen)
{
	struct fid_in in = { 0 };
	struct csv *out = NULL;
	bool all_ok = true;
	int ret, n = 0;

	ret = fid_read(dir, &in, err, errlen);
	if (!ret && (!csv_meta_get(&in.runs, "family") ||
		     strcmp(csv_meta_get(&in.runs, "family"), "xen"))) {
		snprintf(err, errlen, "%s/xen.csv: not a xen.csv of iob xen run (family is not xen)",
			 dir);
		ret = -EINVAL;
	}
	if (!ret && (ret = csv_open(dir, "xen_fidelity.csv", env, &out)))
		snprintf(err, errlen, "%s/xen_fidelity.csv: %s", dir, strerror(-ret));
	if (!ret)
		fid_meta(out, &in);
	for (size_t r = 0; !ret && r < in.runs.nrows; r++) {
		struct xen_fid_work w = {
			.tuning = in.runs.rows[r][in.c_tuning], .workload = in.runs.rows[r][in.c_wl],
			.calls = fid_u(&in, r, in.c_hc),
		};
		struct xen_fid_counts m, xother;
		bool replayed, logged;

		w.arg = fid_u(&in, r, in.c_mib) ? fid_u(&in, r, in.c_mib) : fid_u(&in, r, in.c_iters);
		w.tsc_khz = fid_u(&in, r, in.c_tsc);
		if (xen_fid_skip_reason(w.workload) || !strcmp(w.tuning, "relaxed") ||
		    strcmp(in.runs.rows[r][in.c_status], "ok"))
			continue;
		ret = fid_model_row(dir, &w, &m, &xother, &replayed, &logged, err, errlen);
		if (!ret)
			n += fid_rows(out, &in, r, &m, replayed || logged ? &xother : NULL, replayed,
				      &all_ok, report);
	}
	if (!ret && !n) {
		snprintf(err, errlen, "%s/xen.csv: no workload the model replays", dir);
		ret = -EINVAL;
	}
	if (ret) {
		csv_discard(out);
	} else if ((ret = csv_close(out))) {
		snprintf(err, errlen, "%s/xen_fidelity.csv: %s", dir, strerror(-ret));
	}
	csv_table_free(&in.runs);
	csv_table_free(&in.paths);
	if (!ret && report)
		fprintf(report, "%d counters compared: %s\n", n, all_ok ? "all within their targets"
					: "some miss their targets (why column)");
	return ret ? ret : n;
}
