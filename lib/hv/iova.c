// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * IOVA allocator: red-black tree of allocated ranges plus per-CPU
 * magazines, after the design of Linux's drivers/iommu/iova.c (Magazines:
 * Bonwick and Adams, USENIX ATC 2001). Addresses cached in magazines stay
 * allocated in the tree, as in Linux, so the tree alone says what is free.
 *
 * The tree is libbsd's <bsd/sys/tree.h> (Debian package libbsd-dev) rather
 * than a hand-written one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/sys/tree.h>

#include <iob/alloc.h>
#include <iob/iova.h>

struct iova_node {
	RB_ENTRY(iova_node) rb;
	uint64_t lo, hi;	/* granule numbers, inclusive */
};

static int node_cmp(struct iova_node *a, struct iova_node *b)
{
	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

RB_HEAD(iova_tree, iova_node);
/* RB_GENERATE_STATIC needs BSD's __unused, which libbsd leaves undefined. */
RB_GENERATE_INTERNAL(iova_tree, iova_node, rb, node_cmp, static __attribute__((unused)))

struct iova_mag {
	unsigned n;
	uint64_t pfn[];		/* granule numbers */
};

/*
 * One CPU's magazines of one size class, and what that CPU counted while
 * it held their lock: allocations served from them and frees into them.
 * Counted here, on the CPU's own line under the lock it already holds,
 * rather than in the allocator's shared counters: two CPUs adding to one
 * line with a lock prefix on every call took half of iova_alloc()'s time
 * with two threads (docs/methodology.md, "Threads"). Summed when read.
 */
struct iova_cpu_cache {
	_Alignas(IOB_CACHELINE) pthread_spinlock_t lock;
	struct iova_mag *loaded, *prev;
	uint64_t hits, frees;
};

struct iova_rcache {
	struct iova_mag **depot;
	unsigned ndepot;
	struct iova_cpu_cache *cpu;
};

struct iova {
	struct iova_cfg cfg;
	uint64_t start_pfn, end_pfn;	/* [start, end) in granules */
	pthread_mutex_t lock;		/* tree and depots */
	struct iova_tree tree;
	struct iova_node *cached;	/* last allocation: searches start below it */
	struct iova_rcache *rc;		/* classes of them, or NULL */
	struct iova_stats stats;
};

static struct iova_mag *mag_new(const struct iova *iv)
{
	struct iova_mag *m = iob_malloc(sizeof(*m) + iv->cfg.mag_size * sizeof(uint64_t));

	if (m)
		m->n = 0;
	return m;
}

int iova_create(const struct iova_cfg *cfg, struct iova **out)
{
	struct iova *iv;
	uint64_t g;

	if (!cfg || !out || cfg->granule_lg2 < 12 || cfg->granule_lg2 > 30)
		return -EINVAL;
	g = 1ULL << cfg->granule_lg2;
	if (!cfg->start || (cfg->start & (g - 1)) || (cfg->limit & (g - 1)) ||
	    cfg->limit <= cfg->start)
		return -EINVAL;
	if (!cfg->ncpus || cfg->ncpus > IOVA_CPUS_MAX)
		return -EINVAL;
	iv = iob_calloc(1, sizeof(*iv));
	if (!iv)
		return -ENOMEM;
	iv->cfg = *cfg;
	if (!iv->cfg.mag_size)
		iv->cfg.mag_size = IOVA_MAG_SIZE_LINUX;
	if (!iv->cfg.depot_max)
		iv->cfg.depot_max = IOVA_DEPOT_LINUX;
	if (!iv->cfg.classes)
		iv->cfg.classes = IOVA_CLASSES_LINUX;
	if (iv->cfg.classes > 16) {
		iob_free(iv);
		return -EINVAL;
	}
	iv->start_pfn = cfg->start >> cfg->granule_lg2;
	iv->end_pfn = cfg->limit >> cfg->granule_lg2;
	pthread_mutex_init(&iv->lock, NULL);
	RB_INIT(&iv->tree);

	if (cfg->rcache) {
		iv->rc = iob_calloc(iv->cfg.classes, sizeof(*iv->rc));
		if (!iv->rc)
			goto nomem;
		for (unsigned c = 0; c < iv->cfg.classes; c++) {
			struct iova_rcache *rc = &iv->rc[c];

			rc->depot = iob_calloc(iv->cfg.depot_max, sizeof(*rc->depot));
			rc->cpu = iob_aligned_calloc(_Alignof(struct iova_cpu_cache), cfg->ncpus,
						     sizeof(*rc->cpu));
			if (!rc->depot || !rc->cpu)
				goto nomem;
			for (unsigned i = 0; i < cfg->ncpus; i++) {
				pthread_spin_init(&rc->cpu[i].lock, PTHREAD_PROCESS_PRIVATE);
				rc->cpu[i].loaded = mag_new(iv);
				rc->cpu[i].prev = mag_new(iv);
				if (!rc->cpu[i].loaded || !rc->cpu[i].prev)
					goto nomem;
			}
		}
	}
	*out = iv;
	return 0;
nomem:
	iova_destroy(iv);
	return -ENOMEM;
}

void iova_destroy(struct iova *iv)
{
	struct iova_node *n, *next;

	if (!iv)
		return;
	if (iv->rc) {
		for (unsigned c = 0; c < iv->cfg.classes; c++) {
			struct iova_rcache *rc = &iv->rc[c];

			for (unsigned i = 0; rc->cpu && i < iv->cfg.ncpus; i++) {
				iob_free(rc->cpu[i].loaded);
				iob_free(rc->cpu[i].prev);
				pthread_spin_destroy(&rc->cpu[i].lock);
			}
			for (unsigned i = 0; i < rc->ndepot; i++)
				iob_free(rc->depot[i]);
			iob_free(rc->depot);
			iob_free(rc->cpu);
		}
		iob_free(iv->rc);
	}
	RB_FOREACH_SAFE(n, iova_tree, &iv->tree, next) {
		RB_REMOVE(iova_tree, &iv->tree, n);
		iob_free(n);
	}
	pthread_mutex_destroy(&iv->lock);
	iob_free(iv);
}

static inline unsigned lg2_ceil(uint64_t x)
{
	return x <= 1 ? 0 : 64 - (unsigned)__builtin_clzll(x - 1);
}

uint64_t iova_round(const struct iova *iv, uint64_t pages)
{
	/* Linux: roundup_pow_of_two() below 1 << (IOVA_RANGE_CACHE_MAX_SIZE - 1). */
	if (pages && pages < (1ULL << (iv->cfg.classes - 1)))
		return 1ULL << lg2_ceil(pages);
	return pages;
}

/* ---- tree ------------------------------------------------------------------ */

/*
 * Highest free range of @size granules aligned to the power of two at or
 * above @size, at or below the cached node (then from the top if that
 * fails). Called with the lock held.
 */
static int tree_alloc(struct iova *iv, uint64_t size, uint64_t *out)
{
	uint64_t align = 1ULL << lg2_ceil(size);
	struct iova_node *n, *prev, *node;
	uint64_t hi_limit;

	for (int pass = 0; pass < 2; pass++) {
		/* Walk down from just below the cached node (pass 0) or the top. */
		if (pass == 0 && iv->cached) {
			n = iv->cached;
			hi_limit = n->lo;	/* exclusive upper bound of the gap below n */
		} else {
			n = NULL;
			hi_limit = iv->end_pfn;
		}
		for (;;) {
			uint64_t gap_lo, cand;

			prev = n ? RB_PREV(iova_tree, &iv->tree, n) : RB_MAX(iova_tree, &iv->tree);
			gap_lo = prev ? prev->hi + 1 : iv->start_pfn;
			if (gap_lo < iv->start_pfn)
				gap_lo = iv->start_pfn;
			if (hi_limit >= size + gap_lo) {
				cand = (hi_limit - size) & ~(align - 1);
				if (cand >= gap_lo && cand + size <= hi_limit) {
					node = iob_malloc(sizeof(*node));
					if (!node)
						return -ENOMEM;
					node->lo = cand;
					node->hi = cand + size - 1;
					RB_INSERT(iova_tree, &iv->tree, node);
					iv->cached = node;
					iv->stats.tree_nodes++;
					*out = cand;
					return 0;
				}
			}
			if (!prev || prev->lo <= iv->start_pfn)
				break;
			n = prev;
			hi_limit = prev->lo;
		}
		if (pass == 0 && !iv->cached)
			break;
	}
	return -ENOSPC;
}

static struct iova_node *tree_find(struct iova *iv, uint64_t pfn)
{
	struct iova_node key = { .lo = pfn };
	struct iova_node *n = RB_NFIND(iova_tree, &iv->tree, &key);

	/* NFIND gives the first node with lo >= pfn; the one holding pfn may be before. */
	if (n && n->lo == pfn)
		return n;
	n = n ? RB_PREV(iova_tree, &iv->tree, n) : RB_MAX(iova_tree, &iv->tree);
	return n && n->lo <= pfn && pfn <= n->hi ? n : NULL;
}

static void tree_free(struct iova *iv, uint64_t pfn)
{
	struct iova_node *n = tree_find(iv, pfn);

	if (!n || n->lo != pfn)
		return;
	if (iv->cached == n)
		iv->cached = RB_NEXT(iova_tree, &iv->tree, n);
	RB_REMOVE(iova_tree, &iv->tree, n);
	iob_free(n);
	iv->stats.tree_nodes--;
	iv->stats.tree_frees++;
}

bool iova_is_allocated(struct iova *iv, iova_t addr, uint64_t pages)
{
	uint64_t pfn = addr >> iv->cfg.granule_lg2;
	struct iova_node *n;
	bool ok;

	if (!pages || (addr & ((1ULL << iv->cfg.granule_lg2) - 1)))
		return false;
	pthread_mutex_lock(&iv->lock);
	n = tree_find(iv, pfn);
	ok = n && pfn + pages - 1 <= n->hi;
	pthread_mutex_unlock(&iv->lock);
	return ok;
}

/* ---- magazines --------------------------------------------------------------- */

static int class_of(const struct iova *iv, uint64_t size)
{
	unsigned c = lg2_ceil(size);

	return iv->rc && size == 1ULL << c && c < iv->cfg.classes ? (int)c : -1;
}

static bool rcache_get(struct iova *iv, unsigned cls, unsigned cpu, uint64_t *pfn)
{
	struct iova_rcache *rc = &iv->rc[cls];
	struct iova_cpu_cache *cc = &rc->cpu[cpu];
	bool ok = false;

	pthread_spin_lock(&cc->lock);
	if (!cc->loaded->n && cc->prev->n) {
		struct iova_mag *t = cc->loaded;

		cc->loaded = cc->prev;
		cc->prev = t;
	}
	if (!cc->loaded->n) {
		/* Lock order: a CPU's spinlock, then the allocator's mutex. */
		pthread_mutex_lock(&iv->lock);
		if (rc->ndepot) {
			iob_free(cc->loaded);
			cc->loaded = rc->depot[--rc->ndepot];
			rc->depot[rc->ndepot] = NULL;
			iv->stats.depot_gets++;
		}
		pthread_mutex_unlock(&iv->lock);
	}
	if (cc->loaded->n) {
		*pfn = cc->loaded->pfn[--cc->loaded->n];
		cc->hits++;
		ok = true;
	}
	pthread_spin_unlock(&cc->lock);
	return ok;
}

/* Free a whole magazine's addresses back to the tree. Lock held. */
static void mag_drain(struct iova *iv, struct iova_mag *m)
{
	for (unsigned i = 0; i < m->n; i++)
		tree_free(iv, m->pfn[i]);
	m->n = 0;
	iv->stats.mag_flushes++;
}

static bool rcache_put(struct iova *iv, unsigned cls, unsigned cpu, uint64_t pfn)
{
	struct iova_rcache *rc = &iv->rc[cls];
	struct iova_cpu_cache *cc = &rc->cpu[cpu];

	pthread_spin_lock(&cc->lock);
	if (cc->loaded->n == iv->cfg.mag_size && cc->prev->n < iv->cfg.mag_size) {
		struct iova_mag *t = cc->loaded;

		cc->loaded = cc->prev;
		cc->prev = t;
	}
	if (cc->loaded->n == iv->cfg.mag_size) {
		struct iova_mag *fresh = mag_new(iv);

		pthread_mutex_lock(&iv->lock);
		if (fresh && rc->ndepot < iv->cfg.depot_max) {
			rc->depot[rc->ndepot++] = cc->loaded;
			cc->loaded = fresh;
			iv->stats.depot_puts++;
		} else {
			/* Depot full (or no memory): the magazine's addresses go back. */
			mag_drain(iv, cc->loaded);
			iob_free(fresh);
		}
		pthread_mutex_unlock(&iv->lock);
	}
	cc->loaded->pfn[cc->loaded->n++] = pfn;
	cc->frees++;
	pthread_spin_unlock(&cc->lock);
	return true;
}

/* ---- public -------------------------------------------------------------------- */

int iova_alloc(struct iova *iv, unsigned cpu, uint64_t pages, iova_t *out)
{
	uint64_t size, pfn;
	int cls, ret;

	if (!pages || cpu >= iv->cfg.ncpus)
		return -EINVAL;
	size = iova_round(iv, pages);
	cls = class_of(iv, size);
	if (cls >= 0 && rcache_get(iv, (unsigned)cls, cpu, &pfn)) {
		*out = pfn << iv->cfg.granule_lg2;
		return 0;
	}
	pthread_mutex_lock(&iv->lock);
	if (cls >= 0)
		iv->stats.rcache_misses++;
	ret = tree_alloc(iv, size, &pfn);
	if (ret) {
		iv->stats.failures++;
	} else {
		iv->stats.tree_allocs++;
		iv->stats.allocs++;
	}
	pthread_mutex_unlock(&iv->lock);
	if (!ret)
		*out = pfn << iv->cfg.granule_lg2;
	return ret;
}

void iova_free(struct iova *iv, unsigned cpu, iova_t addr, uint64_t pages)
{
	uint64_t pfn = addr >> iv->cfg.granule_lg2;
	int cls = class_of(iv, iova_round(iv, pages));

	if (cls >= 0 && cpu < iv->cfg.ncpus && rcache_put(iv, (unsigned)cls, cpu, pfn))
		return;
	pthread_mutex_lock(&iv->lock);
	iv->stats.frees++;
	tree_free(iv, pfn);
	pthread_mutex_unlock(&iv->lock);
}

void iova_stats_get(struct iova *iv, struct iova_stats *out)
{
	uint64_t cached = 0, hits = 0, frees = 0;

	/* CPU caches first, each under its own lock: never a spinlock under the mutex. */
	for (unsigned c = 0; iv->rc && c < iv->cfg.classes; c++)
		for (unsigned i = 0; i < iv->cfg.ncpus; i++) {
			struct iova_cpu_cache *cc = &iv->rc[c].cpu[i];

			pthread_spin_lock(&cc->lock);
			cached += cc->loaded->n + cc->prev->n;
			hits += cc->hits;
			frees += cc->frees;
			pthread_spin_unlock(&cc->lock);
		}
	pthread_mutex_lock(&iv->lock);
	for (unsigned c = 0; iv->rc && c < iv->cfg.classes; c++)
		for (unsigned i = 0; i < iv->rc[c].ndepot; i++)
			cached += iv->rc[c].depot[i]->n;
	*out = iv->stats;
	out->rcache_hits = hits;
	out->allocs += hits;
	out->frees += frees;
	out->cached = cached;
	pthread_mutex_unlock(&iv->lock);
}

void iova_stats_reset(struct iova *iv)
{
	uint64_t nodes;

	for (unsigned c = 0; iv->rc && c < iv->cfg.classes; c++)
		for (unsigned i = 0; i < iv->cfg.ncpus; i++) {
			struct iova_cpu_cache *cc = &iv->rc[c].cpu[i];

			pthread_spin_lock(&cc->lock);
			cc->hits = cc->frees = 0;
			pthread_spin_unlock(&cc->lock);
		}
	pthread_mutex_lock(&iv->lock);
	nodes = iv->stats.tree_nodes;
	memset(&iv->stats, 0, sizeof(iv->stats));
	iv->stats.tree_nodes = nodes;
	pthread_mutex_unlock(&iv->lock);
}
