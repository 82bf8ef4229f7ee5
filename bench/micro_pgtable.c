// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob micro pgtable: map and unmap cost of the tuned and the baseline
 * page table, software only (no invalidation is sent: the gather's flush
 * callback only counts), in the same process, alternating. Each build of
 * the page table can run: the default one and, with the meson option
 * pgtable_kflags, the one compiled with the kernel's code-generation
 * flags (impls tuned-kflags, baseline-kflags), which is what the
 * comparison with Linux's page tables is about: kernel code has no vector
 * registers.
 *
 * Setup follows the Linux measurements it is compared with: upper levels
 * already present (untimed rounds first), IOVAs from 4 GiB up, physical
 * addresses offset by one page from any larger alignment so that no larger
 * page can be used. Tables are created with IOPT_F_SHARED, the mode in
 * which callers share a table without a lock; --lock spin puts every call
 * under one spinlock instead, as a DMA domain around a single-caller table
 * does.
 *
 * --threads N,M,...: after the latency rows of a case, the same case on N
 * threads at once, each on its own range of the one table, for
 * throughput: map+unmap operations per second, and the scaling efficiency
 * against one thread run the same way. The ranges start at least 2 MiB
 * apart, so that threads share the upper tables but not a leaf table's
 * cache lines, as CPUs with per-CPU IOVA caches (Linux's rcaches) rarely
 * do: side by side, two threads mapping one page each wrote neighbouring
 * entries of one cache line and made 33 M operations/s where one made 95 M.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "pgtable_ops.h"
#include "util.h"

#define IOVA_BASE	(4ULL << 30)
#define PA_BASE		(1ULL << 40)
/*
 * Calls per timed region: enough pages that a region lasts well over the
 * TSC's step (21 cycles, 10 ns, on the development VM).
 */
#define BATCH_PAGES	1024
#define BATCH_MAX	256
#define THREADS_MAX	64

/* What can run: an implementation of one build. */
enum pg_var { PG_TUNED, PG_BASELINE, PG_TUNED_KFLAGS, PG_BASELINE_KFLAGS, PG_VAR_NR };

static const struct {
	const char *name;
	enum iopt_impl impl;
	bool kflags;
} pg_vars[PG_VAR_NR] = {
	[PG_TUNED] = { "tuned", IOPT_IMPL_TUNED, false },
	[PG_BASELINE] = { "baseline", IOPT_IMPL_BASELINE, false },
	[PG_TUNED_KFLAGS] = { "tuned-kflags", IOPT_IMPL_TUNED, true },
	[PG_BASELINE_KFLAGS] = { "baseline-kflags", IOPT_IMPL_BASELINE, true },
};

struct micro_pgtable_opts {
	uint64_t pgsizes;	/* bitmap of page sizes to sweep */
	uint64_t counts[16];	/* pages per call */
	unsigned ncounts;
	bool contig, random;
	uint64_t rounds;	/* timed rounds per case */
	uint64_t levels;
	unsigned vars;		/* bit per enum pg_var */
	bool pow2;		/* the table's page sizes: every power of two */
	bool lock;		/* every call under one spinlock */
	uint64_t threads[8];	/* thread counts of the throughput sweep */
	unsigned nthreads;
};

static void pgtable_defaults(void *opts)
{
	static const uint64_t counts[] = { 1, 16, 256, 4096 };
	struct micro_pgtable_opts *o = opts;

	memset(o, 0, sizeof(*o));
	o->pgsizes = IOPT_PGSIZE_4K | IOPT_PGSIZE_2M | IOPT_PGSIZE_1G;
	memcpy(o->counts, counts, sizeof(counts));
	o->ncounts = 4;
	o->contig = o->random = true;
	o->rounds = 300;
	o->levels = 4;
	o->vars = 1U << PG_TUNED | 1U << PG_BASELINE;
	o->threads[0] = 1;
	o->nthreads = 1;
}

static const struct pgtable_ops *var_ops(enum pg_var v)
{
#ifdef IOB_HAVE_PGTABLE_KFLAGS
	if (pg_vars[v].kflags)
		return &pgtable_ops_kflags;
#endif
	return pg_vars[v].kflags ? NULL : &pgtable_ops_default;
}

static int set_impls(struct micro_pgtable_opts *o, const char *val, char *err, size_t len)
{
	char buf[128], *save = NULL;

	if (strlen(val) >= sizeof(buf)) {
		snprintf(err, len, "'%s' is too long", val);
		return -EINVAL;
	}
	strcpy(buf, val);
	o->vars = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		unsigned v;

		for (v = 0; v < PG_VAR_NR; v++)
			if (!strcmp(t, pg_vars[v].name))
				break;
		if (v == PG_VAR_NR) {
			snprintf(err, len, "'%s' is not tuned, baseline, tuned-kflags or "
				 "baseline-kflags", t);
			return -EINVAL;
		}
		if (!var_ops(v)) {
			snprintf(err, len, "'%s': this build has no page table with kernel flags "
				 "(meson option pgtable_kflags)", t);
			return -EINVAL;
		}
		o->vars |= 1U << v;
	}
	if (!o->vars) {
		snprintf(err, len, "no implementation named");
		return -EINVAL;
	}
	return 0;
}

static int pgtable_set(void *opts, const char *key, const char *val, char *err, size_t len)
{
	struct micro_pgtable_opts *o = opts;

	if (!strcmp(key, "sizes")) {
		uint64_t v[8];
		unsigned n;

		if (opt_size_list(val, v, 8, &n, true, err, len))
			return -EINVAL;
		o->pgsizes = 0;
		for (unsigned i = 0; i < n; i++) {
			if (v[i] != IOPT_PGSIZE_4K && v[i] != IOPT_PGSIZE_2M && v[i] != IOPT_PGSIZE_1G) {
				snprintf(err, len, "page size %llu is not 4K, 2M or 1G",
					 (unsigned long long)v[i]);
				return -EINVAL;
			}
			o->pgsizes |= v[i];
		}
		return 0;
	}
	if (!strcmp(key, "counts"))
		return opt_u64_list(val, 1, 1 << 16, o->counts, 16, &o->ncounts, err, len);
	if (!strcmp(key, "layout")) {
		o->contig = !strcmp(val, "contig") || !strcmp(val, "both");
		o->random = !strcmp(val, "random") || !strcmp(val, "both");
		if (o->contig || o->random)
			return 0;
		snprintf(err, len, "'%s' is not contig, random or both", val);
		return -EINVAL;
	}
	if (!strcmp(key, "rounds"))
		return opt_u64(val, 10, 1000000, &o->rounds, err, len);
	if (!strcmp(key, "levels"))
		return opt_u64(val, 3, 6, &o->levels, err, len);
	if (!strcmp(key, "impls"))
		return set_impls(o, val, err, len);
	if (!strcmp(key, "pgsizes")) {
		o->pow2 = !strcmp(val, "pow2");
		if (o->pow2 || !strcmp(val, "default"))
			return 0;
		snprintf(err, len, "'%s' is not default or pow2", val);
		return -EINVAL;
	}
	if (!strcmp(key, "lock")) {
		o->lock = !strcmp(val, "spin");
		if (o->lock || !strcmp(val, "none"))
			return 0;
		snprintf(err, len, "'%s' is not none or spin", val);
		return -EINVAL;
	}
	if (!strcmp(key, "threads"))
		return opt_u64_list(val, 1, THREADS_MAX, o->threads, 8, &o->nthreads, err, len);
	snprintf(err, len, "unknown option '%s'", key);
	return -EINVAL;
}

static bool sweeping(const struct micro_pgtable_opts *o)
{
	return o->nthreads > 1 || o->threads[0] > 1;
}

static double pgtable_estimate(const void *opts)
{
	const struct micro_pgtable_opts *o = opts;
	double pages = 0, threads = 0;

	for (unsigned i = 0; i < o->ncounts; i++)
		pages += (double)o->counts[i] + 64;
	if (sweeping(o)) {
		threads = 1;	/* the one-thread reference */
		for (unsigned i = 0; i < o->nthreads; i++)
			threads += (double)o->threads[i];
	}
	/* About 20 ns per page per round for each implementation, map and unmap. */
	return __builtin_popcountll(o->pgsizes) * (o->contig + o->random) * pages *
	       (double)o->rounds * 20e-9 * __builtin_popcount(o->vars) * (1 + threads) + 0.1;
}

struct call {
	iova_t iova;
	paddr_t pa;
	uint64_t len;
};

static void noop_flush(void *ctx, iova_t iova, uint64_t size, bool pde)
{
	(void)iova;
	(void)size;
	(void)pde;
	++*(uint64_t *)ctx;
}

struct pg_case {
	unsigned lg2, pages;
	bool random;
	struct call *calls;
	unsigned ncalls;		/* calls per timed region */
	double per_call_pages;
	uint64_t span;			/* bytes of IOVA the calls cover, first to last */
};

/* One implementation's table and what it needs to be called. */
struct pg_table {
	const struct pgtable_ops *ops;
	struct iopt *pt;
	pthread_spinlock_t lock;
	bool locked;
};

static inline int pg_map(struct pg_table *t, const struct call *c, iova_t shift)
{
	int ret;

	if (t->locked)
		pthread_spin_lock(&t->lock);
	ret = t->ops->map(t->pt, c->iova + shift, c->pa + shift, c->len, IOPT_PROT_RW, NULL);
	if (t->locked)
		pthread_spin_unlock(&t->lock);
	return ret;
}

static inline int pg_unmap(struct pg_table *t, const struct call *c, iova_t shift,
			   struct iopt_gather *g)
{
	int ret;

	if (t->locked)
		pthread_spin_lock(&t->lock);
	ret = t->ops->unmap(t->pt, c->iova + shift, c->len, g, NULL);
	if (t->locked)
		pthread_spin_unlock(&t->lock);
	return ret;
}

/*
 * One round: map every call (timed), unmap every call (timed); the calls
 * shifted by @shift (threads each have their own range). @cyc, if not
 * NULL, gets the two regions' cycles.
 */
static int round_once(struct pg_table *t, const struct pg_case *pc, iova_t shift,
		      struct hist *hm, struct hist *hu, uint64_t *flushes, uint64_t *cyc)
{
	const struct pgtable_ops *ops = t->ops;
	struct iopt_gather g;
	uint64_t t0, t1;
	int ret = 0;

	ops->gather_init(&g, noop_flush, flushes);
	t0 = cycles_now();
	for (unsigned i = 0; i < pc->ncalls; i++)
		ret |= pg_map(t, &pc->calls[i], shift);
	t1 = cycles_end();
	if (ret)
		return ret;
	if (hm)
		bench_record(hm, t0, t1);
	if (cyc)
		*cyc = t1 - t0;

	t0 = cycles_now();
	for (unsigned i = 0; i < pc->ncalls; i++)
		ret |= pg_unmap(t, &pc->calls[i], shift, &g);
	ops->gather_flush(&g);
	t1 = cycles_end();
	if (hu)
		bench_record(hu, t0, t1);
	if (cyc)
		*cyc += t1 - t0;
	ops->gather_release(t->pt, &g);
	return ret;
}

static void build_calls(struct pg_case *pc, uint64_t *rng)
{
	uint64_t psize = 1ULL << pc->lg2;

	if (!pc->random) {
		/* N contiguous pages in one call; tiny calls are batched to beat timer noise. */
		pc->ncalls = BATCH_PAGES / pc->pages;
		if (pc->ncalls > BATCH_MAX)
			pc->ncalls = BATCH_MAX;
		if (!pc->ncalls)
			pc->ncalls = 1;
		for (unsigned i = 0; i < pc->ncalls; i++) {
			pc->calls[i].iova = IOVA_BASE + (uint64_t)i * pc->pages * psize;
			pc->calls[i].pa = PA_BASE + psize + (uint64_t)i * 2 * pc->pages * psize;
			pc->calls[i].len = (uint64_t)pc->pages * psize;
		}
		pc->per_call_pages = pc->pages;
		pc->span = (uint64_t)pc->ncalls * pc->pages * psize;
		return;
	}
	/* N one-page calls at distinct random slots of a window 8 times larger. */
	unsigned slots = pc->pages * 8;
	unsigned *perm = malloc(slots * sizeof(*perm));

	if (!perm)
		run_error("out of memory");
	for (unsigned i = 0; i < slots; i++)
		perm[i] = i;
	for (unsigned i = slots - 1; i > 0; i--) {
		unsigned j;

		*rng ^= *rng << 13;
		*rng ^= *rng >> 7;
		*rng ^= *rng << 17;
		j = (unsigned)(*rng % (i + 1));
		unsigned t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	pc->ncalls = pc->pages;
	for (unsigned i = 0; i < pc->ncalls; i++) {
		pc->calls[i].iova = IOVA_BASE + (uint64_t)perm[i] * psize;
		pc->calls[i].pa = PA_BASE + psize + (uint64_t)i * 2 * psize;
		pc->calls[i].len = psize;
	}
	pc->per_call_pages = 1;
	pc->span = (uint64_t)slots * psize;
	free(perm);
}

/* ---- threads ---------------------------------------------------------------- */

struct sweep_thread {
	_Alignas(64) pthread_t tid;
	struct pg_table *t;
	const struct pg_case *pc;
	iova_t shift;
	unsigned rounds;
	int cpu;
	pthread_barrier_t *start;
	struct hist h;			/* map + unmap of one round */
	uint64_t t0, t1, flushes;
	int err;
};

static void *sweep_main(void *arg)
{
	struct sweep_thread *s = arg;

	if (s->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(s->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	hist_init(&s->h);
	/* Warm-up: this thread's tables exist before the clock starts. */
	for (int w = 0; w < 2 && !s->err; w++)
		s->err = round_once(s->t, s->pc, s->shift, NULL, NULL, &s->flushes, NULL);
	pthread_barrier_wait(s->start);
	s->t0 = cycles_now();
	for (unsigned r = 0; r < s->rounds && !s->err; r++) {
		uint64_t cyc;

		s->err = round_once(s->t, s->pc, s->shift, NULL, NULL, &s->flushes, &cyc);
		/* One sample per round: its map and unmap regions together. */
		bench_record(&s->h, 0, cyc);
	}
	s->t1 = cycles_end();
	return NULL;
}

#define SWEEP_GAP	(2ULL << 20)	/* between the starts of threads' ranges */

/*
 * @n threads on @t, each on its own copy of the case's range, the copies
 * SWEEP_GAP-aligned apart. Return: operations (maps + unmaps) per second; @h gets every
 * thread's rounds.
 */
static double sweep(struct bench_ctx *ctx, struct pg_table *t, const struct pg_case *pc,
		    unsigned n, unsigned rounds, struct hist *h)
{
	struct sweep_thread *th = aligned_alloc(64, n * sizeof(*th));
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_barrier_t start;
	uint64_t t0 = UINT64_MAX, t1 = 0;
	double s;

	if (!th || pthread_barrier_init(&start, NULL, n))
		run_error("micro pgtable: cannot set up %u threads", n);
	memset(th, 0, n * sizeof(*th));
	hist_init(h);
	for (unsigned k = 0; k < n; k++) {
		th[k].t = t;
		th[k].pc = pc;
		th[k].shift = (iova_t)k * ((pc->span + SWEEP_GAP - 1) & ~(SWEEP_GAP - 1));
		th[k].rounds = rounds;
		th[k].cpu = ctx->cpu < 0 || ncpu < 1 ? -1 : (int)((ctx->cpu + k) % (unsigned long)ncpu);
		th[k].start = &start;
		if (pthread_create(&th[k].tid, NULL, sweep_main, &th[k]))
			run_error("micro pgtable: cannot start thread %u", k);
	}
	for (unsigned k = 0; k < n; k++) {
		pthread_join(th[k].tid, NULL);
		if (th[k].err)
			run_error("micro pgtable: thread %u: map/unmap failed (%d)", k, th[k].err);
		hist_merge(h, &th[k].h);
		if (th[k].t0 < t0)
			t0 = th[k].t0;
		if (th[k].t1 > t1)
			t1 = th[k].t1;
	}
	pthread_barrier_destroy(&start);
	free(th);
	s = bench_cyc_to_ns((double)(t1 - t0)) * 1e-9;
	return s > 0 ? 2.0 * n * rounds * pc->ncalls / s : 0;
}

/* ---- the run ------------------------------------------------------------------- */

/* The variant's name in the CSV: the implementation, then what differs from the default. */
static const char *var_label(enum pg_var v, const struct micro_pgtable_opts *o, char *buf,
			     size_t len)
{
	snprintf(buf, len, "%s%s%s", pg_vars[v].name, o->pow2 ? "-pow2" : "",
		 o->lock ? "-spin" : "");
	return buf;
}

/*
 * Memory per table page of the build behind @ops: the page plus its share
 * of descriptors and directory (descriptor blocks cover whole 2 MiB
 * chunks, 512 pages each).
 */
static double table_bytes_per_page(const struct pgtable_ops *ops)
{
	struct ptpage_stats ps;

	ops->pages_stats(&ps);
	return ps.desc_blocks ? PTPAGE_BYTES + (double)ps.desc_bytes /
					       ((double)ps.desc_blocks * PTPAGE_CHUNK_PAGES) : 0;
}

/* The variants asked for, in the order they alternate. Return: how many. */
static unsigned pgtable_order(const struct micro_pgtable_opts *o, enum pg_var *order)
{
	unsigned nv = 0;

	for (unsigned v = 0; v < PG_VAR_NR; v++)
		if (o->vars & (1U << v))
			order[nv++] = (enum pg_var)v;
	return nv;
}

static void pgtable_header(struct bench_ctx *ctx, const struct micro_pgtable_opts *o,
			   const enum pg_var *order, unsigned nv)
{
	char label[64];

	if (!ctx->table)
		return;
	fprintf(ctx->table, "# table page sizes %s, %s; %s\n",
		o->pow2 ? "every power of two" : "4K/2M/1G",
		o->lock ? "every call under a spinlock" : "no lock (IOPT_F_SHARED)",
		"ns per call, median");
	fprintf(ctx->table, "%-6s %6s %-6s %-9s", "size", "pages", "layout", "op");
	for (unsigned i = 0; i < nv; i++)
		fprintf(ctx->table, " %16s", var_label(order[i], o, label, sizeof(label)));
	fprintf(ctx->table, " %8s\n", "b/t");
}

/*
 * One case: a table per variant, warmed up, then @rounds rounds of the
 * case's calls, the variants alternating (baseline and tuned in the same
 * process, neither always first). The tables stay for the thread sweep.
 */
static void pgtable_case(const struct micro_pgtable_opts *o, const struct pg_case *pc,
			 const enum pg_var *order, unsigned nv, unsigned rounds,
			 struct pg_table *tab, struct hist *hm, struct hist *hu, uint64_t *flushes)
{
	for (unsigned i = 0; i < nv; i++) {
		enum pg_var v = order[i];
		struct iopt_cfg cfg = {
			.levels = (unsigned)o->levels,
			.impl = pg_vars[v].impl,
			.pgsize_bitmap = o->pow2 ? IOPT_PGSIZE_ALL_POW2 : 0,
			.flags = IOPT_F_SHARED,
		};

		tab[v].ops = var_ops(v);
		tab[v].locked = o->lock;
		pthread_spin_init(&tab[v].lock, PTHREAD_PROCESS_PRIVATE);
		if (tab[v].ops->create(&cfg, &tab[v].pt))
			run_error("iopt_create failed");
		hist_init(&hm[v]);
		hist_init(&hu[v]);
		/* Warm-up: upper levels exist, caches hot. */
		for (int w = 0; w < 3; w++)
			if (round_once(&tab[v], pc, 0, NULL, NULL, flushes, NULL))
				run_error("micro pgtable: map/unmap failed");
	}
	for (unsigned r = 0; r < rounds; r++)
		for (unsigned k = 0; k < nv; k++) {
			enum pg_var v = order[(r & 1) ? nv - 1 - k : k];

			if (round_once(&tab[v], pc, 0, &hm[v], &hu[v], flushes, NULL))
				run_error("micro pgtable: map/unmap failed");
		}
}

/* A case's rows (per call), CDFs and table lines, map then unmap. */
static void pgtable_report(struct bench_ctx *ctx, const struct micro_pgtable_opts *o,
			   const struct pg_case *pc, const enum pg_var *order, unsigned nv,
			   const struct pg_table *tab, const struct hist *hm, const struct hist *hu,
			   struct csv *csv, struct csv *cdf)
{
	double per = pc->ncalls;	/* report per call */
	const char *layout = pc->random ? "random" : "contig";
	char lat[256], label[64], key[128], sz[32];

	for (int op = 0; op < 2; op++) {
		const struct hist *h = op ? hu : hm;

		for (unsigned i = 0; i < nv && csv; i++) {
			enum pg_var v = order[i];
			/* Against the baseline of the same build, else the default one. */
			enum pg_var b = pg_vars[v].kflags && (o->vars & 1U << PG_BASELINE_KFLAGS) ?
					PG_BASELINE_KFLAGS : PG_BASELINE;
			double p50 = bench_p50_ns(&h[v], per);
			double tb = o->vars & 1U << b ? bench_p50_ns(&h[b], per) : 0;

			csv_row(csv, "%s,%s,%llu,%u,%s,%u,%u,%s,%.3f,%.1f,%.3f,%s,%s,%s,1,%.0f,1.000,%.1f",
				var_label(v, o, label, sizeof(label)), op ? "unmap" : "map",
				1ULL << pc->lg2, pc->pages, layout, (unsigned)o->levels, pc->ncalls,
				bench_lat_fields(&h[v], per, lat, sizeof(lat)),
				p50 / pc->per_call_pages, hist_percentile(&h[v], 0.5) / per,
				p50 > 0 ? tb / p50 : 0, tab[v].ops->cflags,
				o->pow2 ? "pow2" : "default", o->lock ? "spin" : "none",
				p50 > 0 ? 1e9 / p50 : 0, table_bytes_per_page(tab[v].ops));
		}
		for (unsigned i = 0; i < nv && cdf; i++) {
			snprintf(key, sizeof(key), "%s,%s,%llu,%u,%s",
				 var_label(order[i], o, label, sizeof(label)), op ? "unmap" : "map",
				 1ULL << pc->lg2, pc->pages, layout);
			bench_write_cdf(cdf, key, &h[order[i]], per);
		}
		if (!ctx->table)
			continue;
		fprintf(ctx->table, "%-6s %6u %-6s %-9s", fmt_size(1ULL << pc->lg2, sz, sizeof(sz)),
			pc->pages, layout, op ? "unmap" : "map");
		for (unsigned i = 0; i < nv; i++)
			fprintf(ctx->table, " %16.1f", bench_p50_ns(&h[order[i]], per));
		if ((o->vars & 1U << PG_TUNED) && (o->vars & 1U << PG_BASELINE))
			fprintf(ctx->table, " %7.1fx", bench_p50_ns(&h[PG_BASELINE], per) /
							bench_p50_ns(&h[PG_TUNED], per));
		fprintf(ctx->table, "\n");
	}
}

/* The throughput sweep of one case: every thread count, every variant. */
static void pgtable_sweep(struct bench_ctx *ctx, const struct micro_pgtable_opts *o,
			  const struct pg_case *pc, const enum pg_var *order, unsigned nv,
			  unsigned rounds, struct pg_table *tab, struct csv *csv)
{
	const char *layout = pc->random ? "random" : "contig";
	char lat[256], label[64];

	for (unsigned i = 0; i < nv; i++) {
		enum pg_var v = order[i];
		struct hist hs;
		double one = sweep(ctx, &tab[v], pc, 1, rounds, &hs);

		var_label(v, o, label, sizeof(label));
		for (unsigned k = 0; k < o->nthreads; k++) {
			unsigned n = (unsigned)o->threads[k];
			double ops = n == 1 ? one : sweep(ctx, &tab[v], pc, n, rounds, &hs);
			double eff = one > 0 ? ops / (n * one) : 0;
			double per = 2.0 * pc->ncalls;	/* a sample is a round's maps and unmaps */

			if (csv)
				csv_row(csv, "%s,map+unmap,%llu,%u,%s,%u,%u,%s,%.3f,%.1f,0,%s,%s,%s,"
					"%u,%.0f,%.3f,%.1f",
					label, 1ULL << pc->lg2, pc->pages, layout, (unsigned)o->levels,
					pc->ncalls, bench_lat_fields(&hs, per, lat, sizeof(lat)),
					bench_p50_ns(&hs, per) / pc->per_call_pages,
					hist_percentile(&hs, 0.5) / per, tab[v].ops->cflags,
					o->pow2 ? "pow2" : "default", o->lock ? "spin" : "none", n, ops,
					eff, table_bytes_per_page(tab[v].ops));
			if (ctx->table)
				fprintf(ctx->table, "  %s %u thread%s: %.2f M map+unmap/s, "
					"scaling efficiency %.2f\n", label, n, n > 1 ? "s" : "",
					ops / 1e6, eff);
		}
	}
}

/* Memory per table page, once per build of the page table that ran. */
static void pgtable_footer(struct bench_ctx *ctx, const enum pg_var *order, unsigned nv)
{
	if (!ctx->table)
		return;
	for (unsigned i = 0; i < nv; i++) {
		const struct pgtable_ops *ops = var_ops(order[i]);
		struct ptpage_stats ps;

		if (i && ops == var_ops(order[i - 1]))
			continue;
		ops->pages_stats(&ps);
		fprintf(ctx->table, "# %s build: a table page takes %.1f bytes (4096 + "
			"%.1f%% for its descriptor and directory); cache: %llu chunks of 2 MiB, "
			"%llu pages in use, %llu free\n", ops->cflags,
			table_bytes_per_page(ops), (table_bytes_per_page(ops) / 4096 - 1) * 100,
			(unsigned long long)ps.chunks, (unsigned long long)ps.pages_out,
			(unsigned long long)ps.pages_cached);
	}
}

static int pgtable_run(struct bench_ctx *ctx, const void *opts, struct csv *csv,
		       struct csv *cdf)
{
	const struct micro_pgtable_opts *o = opts;
	static struct hist hm[PG_VAR_NR], hu[PG_VAR_NR];
	uint64_t rng = ctx->seed | 1, flushes = 0;
	unsigned rounds = (unsigned)(o->rounds * ctx->scale);
	unsigned ncases = 0, done = 0;
	enum pg_var order[PG_VAR_NR];
	unsigned nv = pgtable_order(o, order);

	if (rounds < 10)
		rounds = 10;
	for (unsigned lg2 = 12; lg2 < 64; lg2++)
		if ((o->pgsizes >> lg2) & 1)
			ncases += o->ncounts * (o->contig + o->random);
	pgtable_header(ctx, o, order, nv);
	for (unsigned lg2 = 12; lg2 < 64; lg2++) {
		if (!((o->pgsizes >> lg2) & 1))
			continue;
		for (unsigned ci = 0; ci < o->ncounts; ci++) {
			for (int pat = 0; pat < 2; pat++) {
				struct pg_case pc = { .lg2 = lg2, .pages = (unsigned)o->counts[ci],
						      .random = pat == 1 };
				struct pg_table tab[PG_VAR_NR];

				if ((pat == 0 && !o->contig) || (pat == 1 && !o->random))
					continue;
				done++;
				if (pat == 1 && pc.pages == 1)
					continue;	/* one random page is the contiguous case */
				pc.calls = calloc(pc.pages > BATCH_MAX ? pc.pages : BATCH_MAX,
						  sizeof(*pc.calls));
				if (!pc.calls)
					run_error("out of memory");
				build_calls(&pc, &rng);
				pgtable_case(o, &pc, order, nv, rounds, tab, hm, hu, &flushes);
				pgtable_report(ctx, o, &pc, order, nv, tab, hm, hu, csv, cdf);
				if (sweeping(o))
					pgtable_sweep(ctx, o, &pc, order, nv, rounds, tab, csv);
				for (unsigned i = 0; i < nv; i++)
					tab[order[i]].ops->destroy(tab[order[i]].pt);
				free(pc.calls);
				bench_progress(ctx, (double)done / ncases);
			}
		}
	}
	pgtable_footer(ctx, order, nv);
	return 0;
}

static const struct family_key pgtable_keys[] = {
	{ "sizes", "page sizes to sweep: 4K,2M,1G" },
	{ "counts", "pages per call: 1,16,256,4096" },
	{ "layout", "contig (N pages in one call), random (N one-page calls), both" },
	{ "rounds", "timed rounds per case (300)" },
	{ "levels", "page-table levels, 3..6 (4)" },
	{ "impls", "tuned,baseline (default), tuned-kflags, baseline-kflags" },
	{ "pgsizes", "the table's page sizes: default (4K/2M/1G) or pow2 (every power of two)" },
	{ "lock", "none (callers share the table) or spin (one spinlock around every call)" },
	{ "threads", "thread counts for a throughput sweep, e.g. 1,2 (1: latency only)" },
	{ NULL, NULL },
};

const struct family family_pgtable = {
	.name = "pgtable",
	.summary = "map and unmap cost, tuned vs baseline page table (software only)",
	.keys = pgtable_keys,
	.opts_size = sizeof(struct micro_pgtable_opts),
	.defaults = pgtable_defaults,
	.set = pgtable_set,
	.estimate_s = pgtable_estimate,
	.csv_name = "pgtable.csv",
	.csv_cols = "impl,op,page_size_bytes,pages_per_call,pattern,levels,calls_per_sample,"
		    BENCH_LAT_COLS ",per_page_p50_ns,p50_cyc,baseline_over_tuned_p50,"
		    "cflags,pgsizes,lock,threads,ops_per_s,scaling_efficiency,table_bytes_per_page",
	.cdf_name = "pgtable_cdf.csv",
	.cdf_cols = "impl,op,page_size_bytes,pages_per_call,pattern,bucket_ns,cum_fraction",
	.run = pgtable_run,
};
