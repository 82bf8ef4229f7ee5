// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fid_replay(): a guest's captured map/unmap stream through the model's
 * dmalayer strategy, with the invalidation policy Linux 6.1 applies under
 * QEMU's AMD IOMMU (drivers/iommu/amd/iommu.c, dma-iommu.c):
 *
 *  - NpCache is set, so amd_iommu_iotlb_sync_map() flushes every map
 *    (domain_flush_np_cache) and domain_flush_pages() splits a range into
 *    naturally aligned blocks, one INVALIDATE_IOMMU_PAGES each: the
 *    model's "exact" policy. One COMPLETION_WAIT follows each flush.
 *  - iommu_map_sg() makes one iommu:map event per physically contiguous
 *    run but syncs the whole range once, and dma_unmap_sg() unmaps it
 *    with one event: maps that one unmap covers exactly are one call.
 *  - Strict: an unmap is one flush of its range and a wait.
 *  - Lazy (DMA-FQ): the unmap is queued; a full queue (256) or the timer
 *    (10 ms after it was armed by the first entry queued while it was
 *    off) invalidates the whole domain and waits. The timer runs in the
 *    trace's time: the model's own timeout (host TSC) is set out of reach.
 *
 * IOVAs are the model's own (its allocator rounds and aligns sizes as
 * Linux's alloc_iova_fast() does, so block splits agree); the trace's
 * guest-physical pages fold into the model guest's RAM, the pages of one
 * call made contiguous so the call maps (and flushes) as one range.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iob/proc.h>
#include <iob/hv.h>

#include "qemu.h"

#define FID_DEVID	0x10
#define PAGE_LG2	12

struct slot {
	uint64_t key;		/* trace IOVA */
	uint64_t a;		/* model IOVA, or map event index */
	uint32_t pages;
	bool used;
};

struct table {
	struct slot *s;
	size_t cap;
};

static size_t home(const struct table *t, uint64_t key)
{
	return (size_t)((key >> PAGE_LG2) * 0x9e3779b97f4a7c15ULL) & (t->cap - 1);
}

static struct slot *find(struct table *t, uint64_t key, bool insert)
{
	size_t i = home(t, key);

	for (size_t n = 0; n < t->cap; n++, i = (i + 1) & (t->cap - 1)) {
		if (!t->s[i].used)
			return insert ? &t->s[i] : NULL;
		if (t->s[i].key == key)
			return &t->s[i];
	}
	return NULL;
}

static void drop(struct table *t, struct slot *s)
{
	size_t i = (size_t)(s - t->s);

	s->used = false;
	for (size_t j = (i + 1) & (t->cap - 1); t->s[j].used; j = (j + 1) & (t->cap - 1)) {
		size_t h = home(t, t->s[j].key);

		if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
			t->s[i] = t->s[j];
			t->s[j].used = false;
			i = j;
		}
	}
}

static int table_init(struct table *t, size_t want)
{
	t->cap = 1024;
	while (t->cap < 2 * want)
		t->cap *= 2;
	t->s = calloc(t->cap, sizeof(*t->s));
	return t->s ? 0 : -ENOMEM;
}

/*
 * For each map event: -1 (a call of its own), or the index of the first
 * map event of its call; pages[head] the call's pages.
 */
static int group_calls(const struct trace *tr, long *head, uint64_t *pages)
{
	struct table live;
	int ret = table_init(&live, 1 << 16);

	if (ret)
		return ret;
	for (size_t i = 0; i < tr->n; i++) {
		const struct trace_event *ev = &tr->ev[i];

		head[i] = -1;
		pages[i] = ev->size >> PAGE_LG2;
		if (ev->op == TRACE_MAP) {
			struct slot *s = find(&live, ev->iova, true);

			if (s && !s->used)
				*s = (struct slot){ ev->iova, i, 0, true };
			continue;
		}
		/* An unmap: which live maps tile [iova, iova + size) in order? */
		{
			uint64_t cur = ev->iova, end = ev->iova + ev->size;
			size_t first = 0, n = 0;
			struct slot *s;

			while (cur < end && (s = find(&live, cur, false))) {
				const struct trace_event *m = &tr->ev[s->a];

				if (!n)
					first = s->a;
				n++;
				cur += m->size;
			}
			if (cur != end || n < 2) {
				if ((s = find(&live, ev->iova, false)))
					drop(&live, s);
				continue;
			}
			cur = ev->iova;
			while (cur < end) {
				s = find(&live, cur, false);
				head[s->a] = (long)first;
				cur += tr->ev[s->a].size;
				drop(&live, s);
			}
			pages[first] = ev->size >> PAGE_LG2;
		}
	}
	free(live.s);
	return 0;
}

int fid_replay(const struct trace *tr, const struct fid_cfg *cfg, struct fid_result *r)
{
	uint64_t guest_pages = (cfg->guest_mib ? cfg->guest_mib : 1024) << (20 - PAGE_LG2);
	uint64_t timeout_ns = cfg->fq_timeout_ns ? cfg->fq_timeout_ns : FLUSH_FQ_TIMEOUT_NS_LINUX;
	uint64_t deadline = 0;
	bool armed = false;
	struct hv_cfg hc = {
		.strategy = HV_DMALAYER,
		.tune = {
			.flush = cfg->lazy ? FLUSH_LAZY : FLUSH_STRICT,
			.policy = INVAL_EXACT,
			.impl = IOPT_IMPL_TUNED,
			.fq_entries = cfg->fq_entries ? cfg->fq_entries : FLUSH_FQ_ENTRIES_LINUX,
			/* Out of reach: the timer below runs in trace time. */
			.fq_timeout_ns = 3600ULL * 1000000000ULL,
		},
		.np_cache = cfg->np_cache,
		.machine_frames = guest_pages + (1 << 18),
	};
	struct flush_stats fs;
	struct table live = { 0 };
	uint64_t *pages = NULL;
	gfn_t *gfns = NULL;
	long *head = NULL;
	struct hv *hv = NULL;
	domid_t dom;
	int ret;

	memset(r, 0, sizeof(*r));
	if (!tr || guest_pages < 1024 || guest_pages > (1ULL << 24))
		return -EINVAL;
	head = calloc(tr->n ? tr->n : 1, sizeof(*head));
	pages = calloc(tr->n ? tr->n : 1, sizeof(*pages));
	gfns = calloc(HV_DMA_PAGES_MAX, sizeof(*gfns));
	if (!head || !pages || !gfns) {
		ret = -ENOMEM;
		goto out;
	}
	ret = group_calls(tr, head, pages);
	if (!ret)
		ret = table_init(&live, 1 << 16);
	if (!ret)
		ret = hv_create(&hc, &hv);
	if (!ret)
		ret = hv_domain_create(hv, guest_pages, &dom);
	if (!ret)
		ret = hv_assign_device(hv, FID_DEVID, dom);
	for (gfn_t g = 0; !ret && g < guest_pages; g += 512)
		ret = hv_populate(hv, dom, g, 9);
	if (ret)
		goto out;
	flush_stats_reset(hv_domain_flush(hv, dom));

	for (size_t i = 0; i < tr->n && !ret; i++) {
		const struct trace_event *ev = &tr->ev[i];
		struct slot *s;

		if (cfg->lazy && armed && ev->t_ns >= deadline) {
			/* fq_flush_timeout(): flush everything, free what it covers. */
			hv_sync(hv);
			r->timer_flushes++;
			armed = false;
		}
		if (ev->op == TRACE_MAP) {
			uint64_t n = pages[i];
			gfn_t base;
			iova_t iova;

			r->map_events++;
			if (head[i] >= 0 && (size_t)head[i] != i)
				continue;	/* a later run of a call already mapped */
			s = find(&live, ev->iova, true);
			if (!n || n > HV_DMA_PAGES_MAX || !s || s->used) {
				r->skipped++;
				continue;
			}
			base = (ev->paddr >> PAGE_LG2) % (guest_pages - n + 1);
			for (uint64_t k = 0; k < n; k++)
				gfns[k] = base + k;
			ret = hv_dma_map(hv, dom, FID_DEVID, gfns, (unsigned)n,
					 ev->dir ? ev->dir : IOPT_PROT_RW, &iova);
			if (ret)
				break;
			*s = (struct slot){ ev->iova, iova, (uint32_t)n, true };
			r->map_calls++;
		} else {
			r->unmap_events++;
			s = find(&live, ev->iova, false);
			if (!s) {
				r->skipped++;
				continue;
			}
			ret = hv_dma_unmap(hv, dom, FID_DEVID, s->a, (uint64_t)s->pages << PAGE_LG2);
			drop(&live, s);
			if (cfg->lazy && !armed) {
				armed = true;
				deadline = ev->t_ns + timeout_ns;
			}
		}
	}
	if (ret)
		goto out;
	flush_stats_get(hv_domain_flush(hv, dom), &fs);
	r->inv_cmds = fs.inv_cmds;
	r->completion_waits = fs.completion_waits;
	r->map_flushes = fs.map_flushes;
	r->flush_alls = fs.flush_alls;
	for (size_t i = 0; i < live.cap; i++)
		r->left_mapped += live.s[i].used;
out:
	if (hv)
		hv_destroy(hv);
	free(live.s);
	free(gfns);
	free(pages);
	free(head);
	return ret;
}

int fid_trace_read(const char *path, struct trace *t, char *err, size_t len)
{
	size_t n = strlen(path);
	char tmp[] = "/tmp/iob-trace-XXXXXX";
	bool xz = n > 3 && !strcmp(path + n - 3, ".xz");
	char *argv[] = { xz ? "xz" : "gzip", "-dc", (char *)path, NULL };
	int fd, ret;

	if (!xz && (n < 3 || strcmp(path + n - 3, ".gz")))
		return trace_read(path, t, err, len);
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	close(fd);
	ret = proc_run(argv, tmp, true);
	if (ret) {
		unlink(tmp);
		memset(t, 0, sizeof(*t));
		snprintf(err, len, "%s: cannot decompress it (%s -dc exited %d)", path, argv[0], ret);
		return -EINVAL;
	}
	ret = trace_read(tmp, t, err, len);
	unlink(tmp);
	if (ret && len && !strncmp(err, tmp, strlen(tmp))) {
		/* Name the file the user gave, not the scratch copy. */
		size_t pl = strlen(path), tl = strlen(tmp), rest = strlen(err) - tl;

		if (pl + rest < len) {
			memmove(err + pl, err + tl, rest + 1);
			memcpy(err, path, pl);
		}
	}
	return ret;
}
