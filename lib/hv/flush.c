// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Invalidation policies: strict, batched, lazy (flush queue).
 *
 * Lock order: a flush queue's lock, then the IOMMU's producer lock (inside
 * iommu_*), then release callbacks' own locks; a stats shard's lock is a
 * leaf.
 *
 * Statistics are kept per CPU (a shard each, summed when read): one shared
 * set, updated twice per unmap under one lock, was where two threads spent
 * most of their time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <iob/alloc.h>
#include <iob/cycles.h>
#include <iob/flush.h>
#include <iob/pathctr.h>

struct pending {
	struct iopt_freelist fl;
	struct flush_release rel;
	uint64_t t_cyc, t_op;
	uint64_t counter;		/* lazy: flush start count when queued */
	unsigned cpu;
};

/*
 * Batched mode, one per CPU: the ranges its unmaps gathered and what the
 * next wait releases. One batch shared by every CPU took a mutex on every
 * unmap; per CPU, flush_batch_end() settles them all with one wait and
 * flush_batch_end_cpu() settles one CPU's.
 */
struct batch {
	_Alignas(IOB_CACHELINE) pthread_mutex_t lock;
	struct iopt_gather g;		/* ranges gathered across the batch */
	struct pending *e;
	size_t n, cap;
	bool sent;			/* commands went out since the last wait */
};

struct fq {
	_Alignas(IOB_CACHELINE) pthread_spinlock_t lock;
	unsigned head, tail;		/* ring; full when tail + 1 == head */
	struct pending *e;
	uint64_t deadline_cyc;		/* 0: no timer pending */
};

struct flush {
	struct flush_cfg cfg;
	struct iommu *mmu;
	struct iopt *pt;
	domid_t domid;
	unsigned space_lg2;
	uint64_t timeout_cyc;

	struct batch *batch;		/* batched: one per CPU */
	struct fq *fq;			/* lazy: one per CPU */
	/* Written by every CPU: lines of their own, away from what is only read. */
	_Alignas(IOB_CACHELINE) atomic_uint_fast64_t start_cnt, finish_cnt;

	struct shard *sh;		/* ncpus */
};

/*
 * A CPU's statistics, and its count of unmaps (never reset): an entry's
 * exposure in operations is the number of unmaps its CPU made between
 * queueing it and its release. One count shared by every CPU cost a
 * lock-prefixed add on a line that moved between CPUs on every unmap.
 */
struct shard {
	_Alignas(IOB_CACHELINE) pthread_spinlock_t lock;
	uint64_t ops;
	struct flush_stats s;
};

/* The CPU this thread last acted as (flush_unmapped, flush_poll): its stats shard. */
static _Thread_local unsigned cur_cpu;

static inline struct shard *shard_of(struct flush *f, unsigned cpu)
{
	return &f->sh[cpu % f->cfg.ncpus];
}

#define STAT_ADD(f, field, v)						\
	do {								\
		struct shard *sh_ = shard_of((f), cur_cpu);		\
									\
		pthread_spin_lock(&sh_->lock);				\
		sh_->s.field += (v);					\
		pthread_spin_unlock(&sh_->lock);			\
	} while (0)

/* The time deadlines are kept in: the TSC, or the configured clock (in TSC cycles). */
static uint64_t now_cyc(const struct flush *f)
{
	if (f->cfg.clock_ns)
		return (uint64_t)((unsigned __int128)f->cfg.clock_ns(f->cfg.clock_ctx) *
				  cycles_info()->tsc_khz / 1000000U);
	return cycles_now();
}

/*
 * Lazy mode under Xen's policy (hv-patches/xen-4.17 0004): each CPU's
 * queue is its own: its timer starts when a batch leaves it frames, and
 * only its own drain (timer or full queue) frees them, even when another
 * CPU's flush already covered them.
 */
static bool xen_fq(const struct flush *f)
{
	return f->cfg.mode == FLUSH_LAZY && f->cfg.policy == INVAL_XEN;
}

/* ---- release ------------------------------------------------------------------ */

static void release(struct flush *f, struct pending *p)
{
	struct iopt_gather g;
	uint64_t now = now_cyc(f);
	uint64_t pages = p->fl.pages;

	if (p->fl.head) {
		iopt_gather_init(&g, NULL, NULL);
		g.freelist = p->fl;
		iopt_gather_release(f->pt, &g);
	}
	if (p->rel.fn)
		p->rel.fn(p->rel.ctx, p->cpu, &p->rel);
	{
		struct shard *sh = shard_of(f, p->cpu);

		pthread_spin_lock(&sh->lock);
		sh->s.released++;
		sh->s.pages_released += pages;
		sh->s.pending--;	/* may wrap in this shard: the sum is right */
		hist_record(&sh->s.exposure_cyc, now - p->t_cyc);
		hist_record(&sh->s.exposure_ops, sh->ops - p->t_op);
		pthread_spin_unlock(&sh->lock);
	}
}

/* ---- commands -------------------------------------------------------------------- */

static void send_range(void *ctx, iova_t iova, uint64_t size, bool pde)
{
	struct flush *f = ctx;
	uint64_t over = 0;
	uint64_t t0 = PATHCTR_START();
	int n = iommu_flush_range(f->mmu, f->domid, iova, size, pde, f->cfg.policy,
				  f->space_lg2, &over);

	PATHCTR_STOP(flush_decision, t0);
	if (n < 0)
		return;
	{
		struct shard *sh = shard_of(f, cur_cpu);

		pthread_spin_lock(&sh->lock);
		sh->s.inv_ranges++;
		sh->s.inv_cmds += (uint64_t)n;
		sh->s.over_bytes += over;
		pthread_spin_unlock(&sh->lock);
	}
}

static void wait_done(struct flush *f)
{
	uint64_t t0 = PATHCTR_START();
	uint64_t exec0 = iommu_thread_exec_cyc();

	/*
	 * Inline, the IOMMU model runs inside this wait: its own cycles are
	 * not the driver's and come off the path counter.
	 */
	iommu_completion_wait(f->mmu);
	PATHCTR_STOP_LESS(completion_wait, t0, iommu_thread_exec_cyc() - exec0);
	STAT_ADD(f, completion_waits, 1);
}

/* Lazy: invalidate the whole domain once; entries queued before it may go. */
static void flush_all(struct flush *f)
{
	uint64_t t0 = PATHCTR_START();

	atomic_fetch_add(&f->start_cnt, 1);
	iommu_flush_domain(f->mmu, f->domid);
	wait_done(f);
	atomic_fetch_add(&f->finish_cnt, 1);
	STAT_ADD(f, flush_alls, 1);
	STAT_ADD(f, inv_cmds, 1);
	PATHCTR_STOP(fq_flush, t0);
}

/* Release the entries of @q that a finished flush covers. q->lock held. */
static void fq_ring_free(struct flush *f, struct fq *q)
{
	uint64_t done = atomic_load(&f->finish_cnt);
	unsigned n = f->cfg.fq_entries + 1;

	while (q->head != q->tail && q->e[q->head].counter < done) {
		release(f, &q->e[q->head]);
		q->head = (q->head + 1) % n;
	}
	if (q->head == q->tail)
		q->deadline_cyc = 0;
}

static void fq_flush_timeout(struct flush *f)
{
	flush_all(f);
	for (unsigned c = 0; c < f->cfg.ncpus; c++) {
		pthread_spin_lock(&f->fq[c].lock);
		fq_ring_free(f, &f->fq[c]);
		pthread_spin_unlock(&f->fq[c].lock);
	}
}

/* ---- public ------------------------------------------------------------------------- */

int flush_create(const struct flush_cfg *cfg, struct iommu *mmu, struct iopt *pt,
		 domid_t domid, struct flush **out)
{
	struct flush *f;
	unsigned top;

	if (!cfg || !mmu || !pt || !out || cfg->mode >= FLUSH_MODE_NR ||
	    cfg->policy >= INVAL_POLICY_NR || !cfg->ncpus || cfg->ncpus > 1024)
		return -EINVAL;
	if (cfg->fq_entries > (1U << 20))
		return -EINVAL;
	f = iob_aligned_calloc(_Alignof(struct flush), 1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->cfg = *cfg;
	if (!f->cfg.fq_entries)
		f->cfg.fq_entries = FLUSH_FQ_ENTRIES_LINUX;
	if (!f->cfg.fq_timeout_ns)
		f->cfg.fq_timeout_ns = FLUSH_FQ_TIMEOUT_NS_LINUX;
	f->mmu = mmu;
	f->pt = pt;
	f->domid = domid;
	top = amdvi_level_shift(iopt_levels(pt)) + AMDVI_PT_ENTRIES_LG2;
	f->space_lg2 = top > 64 ? 64 : top;
	if (!cycles_info()->tsc_khz)
		cycles_init(NULL);
	{
		/*
		 * ns * kHz passes 64 bits for timeouts from about 100 minutes
		 * up (at 3 GHz): a long timeout must not wrap to a short one.
		 * Capped so that a deadline (now + timeout) cannot wrap either.
		 */
		unsigned __int128 cyc = (unsigned __int128)f->cfg.fq_timeout_ns *
					cycles_info()->tsc_khz / 1000000U;

		f->timeout_cyc = cyc > UINT64_MAX / 2 ? UINT64_MAX / 2 : (uint64_t)cyc;
	}
	f->sh = iob_aligned_calloc(_Alignof(struct shard), f->cfg.ncpus, sizeof(*f->sh));
	if (!f->sh)
		goto nomem;
	for (unsigned c = 0; c < f->cfg.ncpus; c++) {
		pthread_spin_init(&f->sh[c].lock, PTHREAD_PROCESS_PRIVATE);
		hist_init(&f->sh[c].s.exposure_cyc);
		hist_init(&f->sh[c].s.exposure_ops);
	}
	if (f->cfg.mode == FLUSH_BATCHED) {
		f->batch = iob_aligned_calloc(_Alignof(struct batch), f->cfg.ncpus,
					      sizeof(*f->batch));
		if (!f->batch)
			goto nomem;
		for (unsigned c = 0; c < f->cfg.ncpus; c++) {
			pthread_mutex_init(&f->batch[c].lock, NULL);
			iopt_gather_init(&f->batch[c].g, send_range, f);
		}
	}
	if (f->cfg.mode == FLUSH_LAZY) {
		f->fq = iob_aligned_calloc(_Alignof(struct fq), f->cfg.ncpus, sizeof(*f->fq));
		if (!f->fq)
			goto nomem;
		for (unsigned c = 0; c < f->cfg.ncpus; c++) {
			pthread_spin_init(&f->fq[c].lock, PTHREAD_PROCESS_PRIVATE);
			f->fq[c].e = iob_calloc(f->cfg.fq_entries + 1, sizeof(struct pending));
			if (!f->fq[c].e)
				goto nomem;
		}
	}
	*out = f;
	return 0;
nomem:
	for (unsigned c = 0; f->fq && c < f->cfg.ncpus; c++)
		iob_free(f->fq[c].e);
	iob_free(f->fq);
	iob_free(f->batch);
	iob_free(f->sh);
	iob_free(f);
	return -ENOMEM;
}

void flush_destroy(struct flush *f)
{
	if (!f)
		return;
	flush_sync(f);
	for (unsigned c = 0; f->fq && c < f->cfg.ncpus; c++) {
		iob_free(f->fq[c].e);
		pthread_spin_destroy(&f->fq[c].lock);
	}
	iob_free(f->fq);
	for (unsigned c = 0; f->batch && c < f->cfg.ncpus; c++)
		pthread_mutex_destroy(&f->batch[c].lock);
	iob_free(f->batch);
	for (unsigned c = 0; c < f->cfg.ncpus; c++)
		pthread_spin_destroy(&f->sh[c].lock);
	iob_free(f->sh);
	iob_free(f);
}

enum flush_mode flush_mode_of(const struct flush *f)
{
	return f->cfg.mode;
}

void flush_gather_init(struct flush *f, struct iopt_gather *g)
{
	if (f->cfg.mode == FLUSH_LAZY)
		iopt_gather_init(g, NULL, NULL);	/* ranges unused: one flush covers all */
	else
		iopt_gather_init(g, send_range, f);
}

void flush_gather_init_now(struct flush *f, struct iopt_gather *g)
{
	iopt_gather_init(g, send_range, f);
}

static bool batch_push(struct batch *b, const struct pending *p)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		struct pending *nb = iob_realloc(b->e, cap * sizeof(*nb));

		if (!nb)
			return false;
		b->e = nb;
		b->cap = cap;
	}
	b->e[b->n++] = *p;
	return true;
}

/* Batched: the range joins this CPU's gather, the release waits for its wait. */
static void batched_queue(struct flush *f, unsigned cpu, struct iopt_gather *g,
			  struct pending *p)
{
	struct batch *b = &f->batch[cpu % f->cfg.ncpus];

	pthread_mutex_lock(&b->lock);
	/*
	 * Gathered across the batch: adjacent unmaps (a ring's buffers)
	 * become one range; a disjoint one sends what is pending.
	 */
	if (g->pending && f->cfg.policy == INVAL_XEN && b->g.pending) {
		/*
		 * Xen's batches (hv-patches/xen-4.17 0003) keep one range,
		 * lowest dfn to highest, gaps and all: one flush a batch.
		 */
		b->g.start = g->start < b->g.start ? g->start : b->g.start;
		b->g.last = g->last > b->g.last ? g->last : b->g.last;
		b->g.pde |= g->pde;
		b->g.adds++;
		g->pending = false;
	} else if (g->pending) {
		bool pde = g->pde;

		iopt_gather_add(&b->g, g->start, g->last - g->start + 1);
		b->g.pde |= pde;
		g->pending = false;
	}
	b->sent = true;
	if (!batch_push(b, p)) {
		/* No room to remember it: settle the batch now, safely. */
		iopt_gather_flush(&b->g);
		pthread_mutex_unlock(&b->lock);
		wait_done(f);
		release(f, p);
		return;
	}
	pthread_mutex_unlock(&b->lock);
}

/* Lazy: on this CPU's queue; a full queue or an expired head flushes the domain. */
static void lazy_queue(struct flush *f, unsigned cpu, struct iopt_gather *g, struct pending *p)
{
	struct fq *q = &f->fq[cpu % f->cfg.ncpus];
	unsigned n = f->cfg.fq_entries + 1;
	bool timed_out;

	g->pending = false;	/* the domain-wide flush covers the range */
	g->pde = false;
	pthread_spin_lock(&q->lock);
	if (!xen_fq(f))
		fq_ring_free(f, q);
	if ((q->tail + 1) % n == q->head) {
		STAT_ADD(f, fq_full_flushes, 1);
		flush_all(f);
		fq_ring_free(f, q);
	}
	p->counter = atomic_load(&f->start_cnt);
	q->e[q->tail] = *p;
	q->tail = (q->tail + 1) % n;
	if (!q->deadline_cyc && !xen_fq(f))
		q->deadline_cyc = p->t_cyc + f->timeout_cyc;
	timed_out = !xen_fq(f) && p->t_cyc >= q->deadline_cyc && q->head != q->tail &&
		    q->e[q->head].t_cyc + f->timeout_cyc <= p->t_cyc;
	pthread_spin_unlock(&q->lock);
	if (timed_out) {
		STAT_ADD(f, fq_timeout_flushes, 1);
		fq_flush_timeout(f);
	}
}

static void unmapped(struct flush *f, unsigned cpu, struct iopt_gather *g,
		     const struct flush_release *rel, enum flush_mode mode)
{
	struct pending p = {
		.fl = g->freelist,
		.t_cyc = now_cyc(f),
		.cpu = cpu,
	};

	if (rel)
		p.rel = *rel;
	g->freelist.head = NULL;
	g->freelist.pages = 0;
	cur_cpu = cpu;
	{
		struct shard *sh = shard_of(f, cpu);

		pthread_spin_lock(&sh->lock);
		p.t_op = ++sh->ops;
		sh->s.unmaps++;
		sh->s.pending++;
		pthread_spin_unlock(&sh->lock);
	}

	switch (mode) {
	case FLUSH_STRICT:
		iopt_gather_flush(g);
		wait_done(f);
		release(f, &p);
		return;
	case FLUSH_BATCHED:
		batched_queue(f, cpu, g, &p);
		return;
	case FLUSH_LAZY:
		lazy_queue(f, cpu, g, &p);
		return;
	default:
		return;
	}
}

void flush_unmapped(struct flush *f, unsigned cpu, struct iopt_gather *g,
		    const struct flush_release *rel)
{
	unmapped(f, cpu, g, rel, f->cfg.mode);
}

void flush_unmapped_now(struct flush *f, unsigned cpu, struct iopt_gather *g)
{
	unmapped(f, cpu, g, NULL, FLUSH_STRICT);
}

/* Send what CPU @c's batch gathered and take its list (empty: NULL). */
static struct pending *batch_take(struct flush *f, unsigned c, size_t *n, bool *sent)
{
	struct batch *b = &f->batch[c];
	struct pending *list;

	pthread_mutex_lock(&b->lock);
	iopt_gather_flush(&b->g);
	list = b->e;
	*n = b->n;
	*sent |= b->sent;
	b->e = NULL;
	b->n = b->cap = 0;
	b->sent = false;
	pthread_mutex_unlock(&b->lock);
	return list;
}

#define BATCH_END_CPUS	64	/* batches one wait settles (on the stack) */

/*
 * Settle the batches of CPUs [@lo, @hi): one wait for every BATCH_END_CPUS
 * of them (all of them on any machine this runs on), then their releases.
 */
static void batch_end(struct flush *f, unsigned lo, unsigned hi)
{
	struct pending *list[BATCH_END_CPUS];
	size_t n[BATCH_END_CPUS];

	for (unsigned c0 = lo; c0 < hi; c0 += BATCH_END_CPUS) {
		unsigned k = hi - c0 < BATCH_END_CPUS ? hi - c0 : BATCH_END_CPUS;
		bool sent = false, any = false;

		for (unsigned i = 0; i < k; i++) {
			list[i] = batch_take(f, c0 + i, &n[i], &sent);
			any |= n[i] != 0;
		}
		if (sent || any)
			wait_done(f);
		for (unsigned i = 0; i < k; i++) {
			for (size_t j = 0; j < n[i]; j++)
				release(f, &list[i][j]);
			iob_free(list[i]);
		}
	}
}

void flush_batch_end(struct flush *f)
{
	if (f->cfg.mode == FLUSH_BATCHED)
		batch_end(f, 0, f->cfg.ncpus);
	/* Xen's lazy queue: the timer starts when a batch leaves frames queued. */
	for (unsigned c = 0; xen_fq(f) && c < f->cfg.ncpus; c++) {
		struct fq *q = &f->fq[c];

		pthread_spin_lock(&q->lock);
		if (q->head != q->tail && !q->deadline_cyc)
			q->deadline_cyc = now_cyc(f) + f->timeout_cyc;
		pthread_spin_unlock(&q->lock);
	}
}

void flush_batch_end_cpu(struct flush *f, unsigned cpu)
{
	if (f->cfg.mode != FLUSH_BATCHED)
		return;
	cur_cpu = cpu;
	batch_end(f, cpu % f->cfg.ncpus, cpu % f->cfg.ncpus + 1);
}

void flush_mapped(struct flush *f, iova_t iova, uint64_t size)
{
	send_range(f, iova, size, false);
	wait_done(f);
	STAT_ADD(f, map_flushes, 1);
}

void flush_poll(struct flush *f, unsigned cpu)
{
	struct fq *q;
	bool due;

	if (f->cfg.mode != FLUSH_LAZY)
		return;
	cur_cpu = cpu;
	q = &f->fq[cpu % f->cfg.ncpus];
	pthread_spin_lock(&q->lock);
	due = q->deadline_cyc && now_cyc(f) >= q->deadline_cyc;
	pthread_spin_unlock(&q->lock);
	if (due && xen_fq(f)) {
		STAT_ADD(f, fq_timeout_flushes, 1);
		flush_all(f);
		pthread_spin_lock(&q->lock);
		fq_ring_free(f, q);
		pthread_spin_unlock(&q->lock);
	} else if (due) {
		STAT_ADD(f, fq_timeout_flushes, 1);
		fq_flush_timeout(f);
	}
}

void flush_sync(struct flush *f)
{
	switch (f->cfg.mode) {
	case FLUSH_BATCHED:
		flush_batch_end(f);
		break;
	case FLUSH_LAZY: {
		bool any = false;

		for (unsigned c = 0; c < f->cfg.ncpus; c++)
			any |= f->fq[c].head != f->fq[c].tail;
		if (any)
			fq_flush_timeout(f);
		break;
	}
	default:
		break;
	}
}

void flush_stats_get(struct flush *f, struct flush_stats *out)
{
	memset(out, 0, sizeof(*out));
	hist_init(&out->exposure_cyc);
	hist_init(&out->exposure_ops);
	for (unsigned c = 0; c < f->cfg.ncpus; c++) {
		struct shard *sh = &f->sh[c];

		pthread_spin_lock(&sh->lock);
#define FLUSH_STAT_SUM(n) out->n += sh->s.n;
		FLUSH_STATS(FLUSH_STAT_SUM)
#undef FLUSH_STAT_SUM
		out->over_bytes += sh->s.over_bytes;
		out->pending += sh->s.pending;
		hist_merge(&out->exposure_cyc, &sh->s.exposure_cyc);
		hist_merge(&out->exposure_ops, &sh->s.exposure_ops);
		pthread_spin_unlock(&sh->lock);
	}
}

void flush_stats_reset(struct flush *f)
{
	for (unsigned c = 0; c < f->cfg.ncpus; c++) {
		struct shard *sh = &f->sh[c];
		uint64_t pending;

		pthread_spin_lock(&sh->lock);
		pending = sh->s.pending;
		memset(&sh->s, 0, sizeof(sh->s));
		sh->s.pending = pending;
		hist_init(&sh->s.exposure_cyc);
		hist_init(&sh->s.exposure_ops);
		pthread_spin_unlock(&sh->lock);
	}
}

const char *flush_mode_name(enum flush_mode m)
{
	switch (m) {
	case FLUSH_STRICT:
		return "strict";
	case FLUSH_BATCHED:
		return "batched";
	case FLUSH_LAZY:
		return "lazy";
	default:
		return "?";
	}
}

int flush_mode_parse(const char *name)
{
	for (int m = 0; m < FLUSH_MODE_NR; m++)
		if (!strcmp(name, flush_mode_name(m)))
			return m;
	return -EINVAL;
}
