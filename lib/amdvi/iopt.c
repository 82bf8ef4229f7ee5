// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * AMD-Vi v1 I/O page table: map, unmap (with splitting), coalescing,
 * gather and freelist, in a tuned and a baseline implementation that must
 * build identical tables (tests/test_iopt.c proves it on random streams).
 *
 * Memory: each table is one 4 KiB page of 512 entries, exactly what the
 * IOMMU walks; the page after it holds software metadata (present count,
 * parent link) that the hardware never sees. Entries hold the table's own
 * address, so the walker in walk.c dereferences what the hardware would.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <iob/alloc.h>
#include <iob/iopt.h>
#include <iob/warn.h>

#define TABLE_BYTES	4096
#define SPLIT_UNDO_MAX	16	/* 2 boundaries x at most 5 split levels, with room */

struct iopt_meta {
	uint32_t used;		/* entries with PR set */
	uint32_t level;
	uint32_t pidx;		/* index of our PDE in the parent */
	uint32_t ntables;	/* entries that point to tables */
	uint64_t *parent;	/* NULL for the root */
	uint64_t *next;		/* freelist, or this map call's new-table chain */
	uint64_t *next_full;	/* tables this map call filled */
	uint64_t undo_old;	/* parent entry before we were installed */
};

struct split_undo {
	uint64_t *slot;		/* first entry rewritten */
	uint64_t old;		/* value every rewritten entry had */
	uint64_t *newtbl;	/* table allocated by the split, or NULL */
	unsigned count;		/* entries rewritten */
};

struct iopt {
	uint64_t *root;
	iova_t iova_max;	/* last address the paging mode reaches */
	unsigned levels;
	unsigned flags;
	uint64_t pgsize_bitmap;
	enum iopt_impl impl;
	bool has_sized;		/* bitmap holds Next Level = 7 sizes */
	struct iopt_alloc alloc;
	uint64_t *new_chain;	/* tables allocated by the current map call */
	uint64_t *full_chain;	/* tables the current map call filled */
	struct split_undo undo[SPLIT_UNDO_MAX];
	unsigned nundo;
	uint64_t *pool;		/* pages set aside by iopt_reserve() */
	uint64_t npool;
	struct iopt_stats stats;
};

static void pool_trim(struct iopt *pt, uint64_t keep);

/* ---- helpers ------------------------------------------------------------ */

static inline struct iopt_meta *meta_of(const uint64_t *t)
{
	return (struct iopt_meta *)((char *)t + TABLE_BYTES);
}

static inline uint64_t *entry_table(uint64_t e)
{
	return (uint64_t *)(uintptr_t)(e & AMDVI_PTE_ADDR);
}

static inline unsigned lvl_shift(unsigned level)
{
	return amdvi_level_shift(level);
}

static inline unsigned lvl_index(iova_t a, unsigned level)
{
	return (unsigned)(a >> lvl_shift(level)) & (AMDVI_PT_ENTRIES - 1);
}

/* First address of the span of the level-@level table that holds @a. */
static inline iova_t table_base(iova_t a, unsigned level)
{
	unsigned s = lvl_shift(level) + AMDVI_PT_ENTRIES_LG2;

	return s >= 64 ? 0 : a & ~((1ULL << s) - 1);
}

static inline iova_t table_last(iova_t a, unsigned level)
{
	unsigned s = lvl_shift(level) + AMDVI_PT_ENTRIES_LG2;

	return s >= 64 ? ~0ULL : a | ((1ULL << s) - 1);
}

static inline bool entry_is_pde(uint64_t e, unsigned level)
{
	unsigned nl = amdvi_pte_next_level(e);

	return level > 1 && nl != AMDVI_NEXT_LEVEL_LEAF && nl != AMDVI_NEXT_LEVEL_SIZED;
}

/* Page size of a present leaf found at @level. */
static inline unsigned leaf_lg2(uint64_t e, unsigned level)
{
	if (amdvi_pte_next_level(e) == AMDVI_NEXT_LEVEL_SIZED)
		return amdvi_sized_lg2(e);
	return lvl_shift(level);
}

static inline unsigned lg2_level(unsigned lg2)
{
	return (lg2 - AMDVI_PAGE_SIZE_LG2) / AMDVI_PT_ENTRIES_LG2 + 1;
}

static inline uint64_t prot_bits(unsigned prot)
{
	return ((prot & IOPT_PROT_READ) ? AMDVI_PTE_IR : 0) |
	       ((prot & IOPT_PROT_WRITE) ? AMDVI_PTE_IW : 0);
}

/*
 * A leaf for a page of 2^@lg2 at @pa. FC is set as Linux sets it: DMA
 * through the IOMMU stays cache-coherent whatever the device asks for.
 */
static inline uint64_t leaf_entry(paddr_t pa, unsigned lg2, unsigned level,
				  unsigned prot)
{
	uint64_t e = AMDVI_PTE_PR | AMDVI_PTE_FC | prot_bits(prot);

	if (lg2 == lvl_shift(level))
		return e | (pa & AMDVI_PTE_ADDR);
	return e | amdvi_next_level_enc(AMDVI_NEXT_LEVEL_SIZED) |
	       amdvi_sized_addr(pa, lg2);
}

/*
 * PDEs grant IR and IW: the walk ANDs rights over every level, so the
 * leaf alone decides (as in Linux and Xen).
 */
static inline uint64_t pde_entry(const uint64_t *child, unsigned child_level)
{
	return AMDVI_PTE_PR | AMDVI_PTE_IR | AMDVI_PTE_IW |
	       amdvi_next_level_enc(child_level) |
	       ((uint64_t)(uintptr_t)child & AMDVI_PTE_ADDR);
}

static inline unsigned fls64_(uint64_t x)
{
	return 63 - (unsigned)__builtin_clzll(x);
}

/*
 * Largest allowed page for @cur -> @pa with @remaining bytes left, and no
 * larger than 2^@max_lg2 (63: no limit).
 */
static inline unsigned best_lg2(const struct iopt *pt, iova_t cur, paddr_t pa,
				uint64_t remaining, unsigned max_lg2)
{
	uint64_t m = pt->pgsize_bitmap;
	uint64_t a = cur | pa;
	unsigned r = fls64_(remaining);

	if (r > max_lg2)
		r = max_lg2;
	if (a)
		m &= (a & -a) | ((a & -a) - 1);
	m &= r >= 63 ? ~0ULL : (2ULL << r) - 1;
	return fls64_(m);
}

/*
 * Does a leaf of @count entries at t[@idx] land on a table? Then it must go
 * into that table as smaller pages: tables are descended into, never
 * replaced (an empty one is left behind by unmap without IOPT_F_RECLAIM).
 */
static inline bool group_has_table(const uint64_t *t, unsigned level,
				   unsigned idx, unsigned count)
{
	for (unsigned i = 0; i < count; i++)
		if ((t[idx + i] & AMDVI_PTE_PR) && entry_is_pde(t[idx + i], level))
			return true;
	return false;
}

/* ---- table allocation ---------------------------------------------------- */

static void *heap_alloc(void *ctx)
{
	(void)ctx;
	return iob_aligned_alloc(TABLE_BYTES, IOPT_TABLE_ALLOC_BYTES);
}

static void heap_free(void *ctx, void *mem)
{
	(void)ctx;
	iob_free(mem);
}

static const struct iopt_alloc heap_allocator = { heap_alloc, heap_free, NULL };

static uint64_t *table_alloc(struct iopt *pt, unsigned level, uint64_t *parent,
			     unsigned pidx)
{
	uint64_t *t;
	struct iopt_meta *m;

	if (pt->pool) {
		t = pt->pool;
		pt->pool = meta_of(t)->next;
		pt->npool--;
	} else {
		t = pt->alloc.alloc(pt->alloc.ctx);
	}
	if (!t) {
		pt->stats.alloc_failures++;
		return NULL;
	}
	if (IOB_WARN_ON((uintptr_t)t & (TABLE_BYTES - 1))) {
		pt->alloc.free(pt->alloc.ctx, t);
		pt->stats.alloc_failures++;
		return NULL;
	}
	memset(t, 0, TABLE_BYTES);
	m = meta_of(t);
	memset(m, 0, sizeof(*m));
	m->level = level;
	m->parent = parent;
	m->pidx = pidx;
	pt->stats.tables_allocated++;
	pt->stats.tables_live++;
	return t;
}

static void table_free_now(struct iopt *pt, uint64_t *t)
{
	pt->alloc.free(pt->alloc.ctx, t);
	pt->stats.tables_live--;
}

static void freelist_push(struct iopt_freelist *fl, uint64_t *t)
{
	meta_of(t)->next = fl->head;
	fl->head = t;
	fl->pages++;
}

/* ---- gather --------------------------------------------------------------- */

void iopt_gather_init(struct iopt_gather *g, iopt_flush_fn flush, void *ctx)
{
	memset(g, 0, sizeof(*g));
	g->flush = flush;
	g->ctx = ctx;
}

void iopt_gather_flush(struct iopt_gather *g)
{
	if (!g->pending)
		return;
	if (g->flush) {
		g->flush(g->ctx, g->start, g->last - g->start + 1, g->pde);
		g->ranges_flushed++;
	}
	g->pending = false;
	g->pde = false;
}

void iopt_gather_add(struct iopt_gather *g, iova_t iova, uint64_t size)
{
	iova_t last = iova + size - 1;

	if (!size)	/* nothing to invalidate; last would wrap below iova */
		return;
	g->adds++;
	if (!g->pending) {
		g->start = iova;
		g->last = last;
		g->pending = true;
		return;
	}
	/* Touching or overlapping: one range (careful at both ends of 2^64). */
	if ((iova <= g->last || g->last + 1 == iova) &&
	    (last >= g->start || last + 1 == g->start)) {
		if (iova < g->start)
			g->start = iova;
		if (last > g->last)
			g->last = last;
		return;
	}
	if (g->flush) {
		iopt_gather_flush(g);
		g->start = iova;
		g->last = last;
		g->pending = true;
		return;
	}
	if (iova < g->start)
		g->start = iova;
	if (last > g->last)
		g->last = last;
}

/* One range per call, never merged: the baseline's per-page flushing. */
static void gather_add_separate(struct iopt_gather *g, iova_t iova, uint64_t size)
{
	if (g->flush)
		iopt_gather_flush(g);
	iopt_gather_add(g, iova, size);
}

static void gather_add_pde(struct iopt_gather *g, iova_t iova, uint64_t size)
{
	iopt_gather_add(g, iova, size);
	g->pde = true;
}

void iopt_gather_release(struct iopt *pt, struct iopt_gather *g)
{
	uint64_t *t = g->freelist.head;

	while (t) {
		uint64_t *next = meta_of(t)->next;

		table_free_now(pt, t);
		t = next;
	}
	g->freelist.head = NULL;
	g->freelist.pages = 0;
}

/* ---- create / destroy --------------------------------------------------- */

int iopt_create(const struct iopt_cfg *cfg, struct iopt **out)
{
	struct iopt *pt;
	uint64_t bm, allowed;
	unsigned top_lg2;

	if (!cfg || !out)
		return -EINVAL;
	if (cfg->levels < 3 || cfg->levels > AMDVI_PT_LEVELS_MAX)
		return -EINVAL;
	if (cfg->impl >= IOPT_IMPL_NR)
		return -EINVAL;
	if (cfg->flags & ~(IOPT_F_COALESCE | IOPT_F_RECLAIM))
		return -EINVAL;
	bm = cfg->pgsize_bitmap ? cfg->pgsize_bitmap : IOPT_PGSIZE_DEFAULT;
	/* Largest leaf: a Next Level = 7 page at the top level. */
	top_lg2 = lvl_shift(cfg->levels) + AMDVI_PT_ENTRIES_LG2 - 1;
	if (top_lg2 > 63)
		top_lg2 = 63;
	allowed = (top_lg2 == 63 ? ~0ULL : (2ULL << top_lg2) - 1) &
		  ~((1ULL << AMDVI_PAGE_SIZE_LG2) - 1);
	if (!(bm & IOPT_PGSIZE_4K) || (bm & ~allowed))
		return -EINVAL;
	if (cfg->alloc && (!cfg->alloc->alloc || !cfg->alloc->free))
		return -EINVAL;

	pt = iob_calloc(1, sizeof(*pt));
	if (!pt)
		return -ENOMEM;
	pt->levels = cfg->levels;
	pt->iova_max = table_last(0, cfg->levels);
	pt->flags = cfg->flags;
	pt->pgsize_bitmap = bm;
	pt->impl = cfg->impl;
	pt->alloc = cfg->alloc ? *cfg->alloc : heap_allocator;
	for (unsigned lg2 = AMDVI_PAGE_SIZE_LG2; lg2 < 64; lg2++)
		if ((bm >> lg2) & 1 &&
		    (lg2 - AMDVI_PAGE_SIZE_LG2) % AMDVI_PT_ENTRIES_LG2)
			pt->has_sized = true;
	pt->root = table_alloc(pt, pt->levels, NULL, 0);
	if (!pt->root) {
		iob_free(pt);
		return -ENOMEM;
	}
	*out = pt;
	return 0;
}

static void free_tree(struct iopt *pt, uint64_t *t, unsigned level)
{
	if (level > 1)
		for (unsigned i = 0; i < AMDVI_PT_ENTRIES; i++)
			if ((t[i] & AMDVI_PTE_PR) && entry_is_pde(t[i], level))
				free_tree(pt, entry_table(t[i]), level - 1);
	table_free_now(pt, t);
}

void iopt_destroy(struct iopt *pt)
{
	if (!pt)
		return;
	pool_trim(pt, 0);
	free_tree(pt, pt->root, pt->levels);
	iob_free(pt);
}

paddr_t iopt_root(const struct iopt *pt)
{
	return (paddr_t)(uintptr_t)pt->root;
}

unsigned iopt_levels(const struct iopt *pt)
{
	return pt->levels;
}

uint64_t iopt_pgsize_bitmap(const struct iopt *pt)
{
	return pt->pgsize_bitmap;
}

enum iopt_impl iopt_impl_of(const struct iopt *pt)
{
	return pt->impl;
}

const char *iopt_impl_name(enum iopt_impl impl)
{
	switch (impl) {
	case IOPT_IMPL_TUNED:
		return "tuned";
	case IOPT_IMPL_BASELINE:
		return "baseline";
	default:
		return "?";
	}
}

void iopt_stats_get(const struct iopt *pt, struct iopt_stats *out)
{
	*out = pt->stats;
}

void iopt_stats_reset(struct iopt *pt)
{
	uint64_t live = pt->stats.tables_live;

	memset(&pt->stats, 0, sizeof(pt->stats));
	pt->stats.tables_live = live;
}

/* ---- argument checks ---------------------------------------------------- */

static inline iova_t iova_max(const struct iopt *pt)
{
	return pt->iova_max;
}

static int check_range(const struct iopt *pt, iova_t iova, uint64_t len)
{
	if (!len || ((iova | len) & (AMDVI_PAGE_SIZE - 1)))
		return -EINVAL;
	if (iova + (len - 1) < iova || iova + (len - 1) > iova_max(pt))
		return -EINVAL;
	return 0;
}

/* ---- map ------------------------------------------------------------------ */

struct map_state {
	iova_t cur;
	paddr_t pa;
	uint64_t remaining;
	unsigned prot;
};

static uint64_t *install_table(struct iopt *pt, uint64_t *t, unsigned level,
			       unsigned idx)
{
	uint64_t *child = table_alloc(pt, level - 1, t, idx);
	struct iopt_meta *cm;

	if (!child)
		return NULL;
	cm = meta_of(child);
	cm->undo_old = t[idx];
	cm->next = pt->new_chain;
	pt->new_chain = child;
	t[idx] = pde_entry(child, level - 1);
	meta_of(t)->used++;
	meta_of(t)->ntables++;
	return child;
}

static inline void note_full(struct iopt *pt, uint64_t *t)
{
	struct iopt_meta *m = meta_of(t);

	if (m->used == AMDVI_PT_ENTRIES && m->parent) {
		m->next_full = pt->full_chain;
		pt->full_chain = t;
	}
}

/*
 * Write @n pages of 2^@lg2 (each @count entries) at t[idx...]. The caller
 * checked that they fit in the table and in the remaining length.
 * Return: -EEXIST if any target entry is present (nothing written).
 */
static int write_leaves(struct iopt *pt, uint64_t *t, unsigned level,
			unsigned idx, unsigned n, unsigned lg2, unsigned count,
			struct map_state *s)
{
	size_t total = (size_t)n * count, i = 0;
	uint64_t *p = t + idx;
	uint64_t acc = 0;
	uint64_t e = leaf_entry(s->pa, lg2, level, s->prot);

	/* Check everything first (all-or-nothing), four entries at a time. */
	for (; i + 4 <= total; i += 4)
		acc |= p[i] | p[i + 1] | p[i + 2] | p[i + 3];
	for (; i < total; i++)
		acc |= p[i];
	if (acc & AMDVI_PTE_PR)
		return -EEXIST;

	if (count == 1) {
		uint64_t step = 1ULL << lg2;

		for (i = 0; i + 4 <= n; i += 4) {
			p[i] = e;
			p[i + 1] = e + step;
			p[i + 2] = e + 2 * step;
			p[i + 3] = e + 3 * step;
			e += 4 * step;
		}
		for (; i < n; i++, e += step)
			p[i] = e;
	} else {
		for (i = 0; i < total; i++)
			p[i] = e;
	}
	meta_of(t)->used += (uint32_t)total;
	pt->stats.entries_written += total;
	s->cur += (uint64_t)n << lg2;
	s->pa += (uint64_t)n << lg2;
	s->remaining -= (uint64_t)n << lg2;
	note_full(pt, t);
	return 0;
}

/*
 * Tuned: one descent per range. The path of tables is kept; after a run of
 * leaves fills a table the walk climbs only as far as it must and goes
 * down again from there, never from the root.
 */
static int map_tuned(struct iopt *pt, struct map_state *s)
{
	uint64_t *path[AMDVI_PT_LEVELS_MAX + 1];
	iova_t tbase[AMDVI_PT_LEVELS_MAX + 1];
	unsigned level = pt->levels;
	uint64_t *t = pt->root;

	unsigned max_lg2 = 63;

	path[level] = t;
	while (s->remaining) {
		unsigned lg2 = best_lg2(pt, s->cur, s->pa, s->remaining, max_lg2);
		unsigned leaf_level = lg2_level(lg2);
		unsigned idx, n = 1, count;
		int ret;

		/* Climb out of tables the walk has run past, or that are too low. */
		while (level < pt->levels &&
		       (level < leaf_level || table_base(s->cur, level) != tbase[level]))
			t = path[++level];
		while (level > leaf_level) {
			uint64_t e;
			uint64_t *child;

			idx = lvl_index(s->cur, level);
			e = t[idx];
			if (!(e & AMDVI_PTE_PR)) {
				child = install_table(pt, t, level, idx);
				if (!child)
					return -ENOMEM;
			} else if (!entry_is_pde(e, level)) {
				return -EEXIST;
			} else {
				child = entry_table(e);
			}
			t = child;
			path[--level] = t;
			tbase[level] = table_base(s->cur, level);
		}
		idx = lvl_index(s->cur, level);
		count = 1U << ((lg2 - AMDVI_PAGE_SIZE_LG2) % AMDVI_PT_ENTRIES_LG2);
		/*
		 * Standard sizes only grow at a table boundary, so a run keeps
		 * its size to the end of the table or the range.
		 */
		if (count == 1 && !pt->has_sized) {
			uint64_t left = s->remaining >> lg2;

			n = AMDVI_PT_ENTRIES - idx;
			if (left < n)
				n = (unsigned)left;
		}
		ret = write_leaves(pt, t, level, idx, n, lg2, count, s);
		if (ret == -EEXIST) {
			unsigned j = 0;

			/* A run stops before a table and goes on inside it. */
			if (count == 1) {
				while (!(t[idx + j] & AMDVI_PTE_PR))
					j++;
				if (j && entry_is_pde(t[idx + j], level)) {
					ret = write_leaves(pt, t, level, idx, j, lg2, 1, s);
					if (ret)
						return ret;
					continue;
				}
			}
			if (group_has_table(t, level, idx, count)) {
				max_lg2 = lvl_shift(level) - 1;
				continue;
			}
		}
		if (ret)
			return ret;
		max_lg2 = 63;
	}
	return 0;
}

/*
 * One 4 KiB page, the DMA API's commonest request: the walk with nothing
 * generic left in it. Both implementations take it (it is one walk either
 * way).
 */
static int map_one_4k(struct iopt *pt, struct map_state *s)
{
	uint64_t *t = pt->root;
	unsigned idx;

	pt->stats.walks++;
	for (unsigned level = pt->levels; level > 1; level--) {
		uint64_t e;

		idx = lvl_index(s->cur, level);
		e = t[idx];
		if (!(e & AMDVI_PTE_PR)) {
			t = install_table(pt, t, level, idx);
			if (!t)
				return -ENOMEM;
		} else if (!entry_is_pde(e, level)) {
			return -EEXIST;
		} else {
			t = entry_table(e);
		}
	}
	idx = lvl_index(s->cur, 1);
	if (t[idx] & AMDVI_PTE_PR)
		return -EEXIST;
	t[idx] = AMDVI_PTE_PR | AMDVI_PTE_FC | prot_bits(s->prot) | s->pa;
	pt->stats.entries_written++;
	s->cur += AMDVI_PAGE_SIZE;
	s->remaining = 0;
	if (++meta_of(t)->used == AMDVI_PT_ENTRIES)
		note_full(pt, t);
	return 0;
}

/* Baseline: every page is its own walk from the root. */
static int map_baseline(struct iopt *pt, struct map_state *s)
{
	while (s->remaining) {
		unsigned max_lg2 = 63;
		uint64_t *t = pt->root;
		unsigned level = pt->levels;
		int ret;

		pt->stats.walks++;
		for (;;) {
			unsigned lg2 = best_lg2(pt, s->cur, s->pa, s->remaining, max_lg2);
			unsigned leaf_level = lg2_level(lg2);
			unsigned count = 1U << ((lg2 - AMDVI_PAGE_SIZE_LG2) %
						AMDVI_PT_ENTRIES_LG2);
			unsigned idx;

			while (level > leaf_level) {
				uint64_t e;

				idx = lvl_index(s->cur, level);
				e = t[idx];
				if (!(e & AMDVI_PTE_PR)) {
					t = install_table(pt, t, level, idx);
					if (!t)
						return -ENOMEM;
				} else if (!entry_is_pde(e, level)) {
					return -EEXIST;
				} else {
					t = entry_table(e);
				}
				level--;
			}
			idx = lvl_index(s->cur, level);
			ret = write_leaves(pt, t, level, idx, 1, lg2, count, s);
			/* A table where the leaf would go: smaller pages inside it. */
			if (ret != -EEXIST || !group_has_table(t, level, idx, count))
				break;
			max_lg2 = lvl_shift(level) - 1;
		}
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Undo a failed map: clear what it wrote in [start, last], without freeing
 * anything (new tables go with the chain), and fix present counts.
 */
static void clear_written(uint64_t *t, unsigned level, iova_t start, iova_t last)
{
	unsigned i0 = lvl_index(start, level);
	unsigned i1 = last >= table_last(start, level) ? AMDVI_PT_ENTRIES - 1 :
							 lvl_index(last, level);

	for (unsigned i = i0; i <= i1; i++) {
		uint64_t e = t[i];
		uint64_t es = table_base(start, level) + ((uint64_t)i << lvl_shift(level));
		uint64_t ee = es + ((1ULL << lvl_shift(level)) - 1);

		if (!(e & AMDVI_PTE_PR))
			continue;
		if (entry_is_pde(e, level)) {
			clear_written(entry_table(e), level - 1,
				      es > start ? es : start, ee < last ? ee : last);
			continue;
		}
		t[i] = 0;
		meta_of(t)->used--;
	}
}

static void map_rollback(struct iopt *pt, iova_t iova, iova_t cur)
{
	uint64_t *t = pt->new_chain;

	if (cur > iova)
		clear_written(pt->root, pt->levels, iova, cur - 1);
	while (t) {
		struct iopt_meta *m = meta_of(t);
		uint64_t *next = m->next;

		m->parent[m->pidx] = m->undo_old;
		meta_of(m->parent)->used--;
		meta_of(m->parent)->ntables--;
		table_free_now(pt, t);
		t = next;
	}
	pt->new_chain = NULL;
	pt->full_chain = NULL;
}

/* Address slot @i of a level-@level table maps, for a leaf @e found there. */
static inline paddr_t slot_pa(uint64_t e, unsigned level, unsigned i)
{
	uint64_t mask = (1ULL << leaf_lg2(e, level)) - 1;

	return ((e & AMDVI_PTE_ADDR) & ~mask) + (((uint64_t)i << lvl_shift(level)) & mask);
}

/* Do all 512 slots map @pa0 onwards, contiguously, with @t[0]'s rights? */
static bool table_is_block(const uint64_t *t, unsigned level, paddr_t pa0)
{
	const uint64_t keep = ~(AMDVI_PTE_ADDR | AMDVI_PTE_NEXT_LEVEL);

	for (unsigned i = 0; i < AMDVI_PT_ENTRIES; i++) {
		uint64_t e = t[i];

		if (!(e & AMDVI_PTE_PR) || entry_is_pde(e, level) ||
		    (e & keep) != (t[0] & keep) ||
		    slot_pa(e, level, i) != pa0 + ((uint64_t)i << lvl_shift(level)))
			return false;
	}
	return true;
}

/*
 * A full table whose entries are the 512 consecutive pieces of one block
 * aligned to the parent entry's span becomes one leaf of that size. The
 * table is freed only after the caller invalidates the PDE caches.
 */
static bool try_coalesce(struct iopt *pt, uint64_t *t, struct iopt_gather *g)
{
	struct iopt_meta *m = meta_of(t);
	unsigned level = m->level;
	unsigned shift = lvl_shift(level);
	unsigned pshift = shift + AMDVI_PT_ENTRIES_LG2;
	uint64_t e0 = t[0];
	uint64_t span;
	paddr_t pa0;
	iova_t base;

	if (!m->parent || m->used != AMDVI_PT_ENTRIES)
		return false;
	if (!((pt->pgsize_bitmap >> pshift) & 1))
		return false;
	if (!(e0 & AMDVI_PTE_PR) || entry_is_pde(e0, level))
		return false;
	pa0 = slot_pa(e0, level, 0);
	if (pa0 & ((1ULL << pshift) - 1))
		return false;
	if (pt->has_sized) {
		/* Next Level 7 pages of any size may make up the block. */
		if (!table_is_block(t, level, pa0))
			return false;
	} else {
		for (unsigned i = 1; i < AMDVI_PT_ENTRIES; i++)
			if (t[i] != e0 + ((uint64_t)i << shift))
				return false;
	}

	m->parent[m->pidx] = (e0 & ~(AMDVI_PTE_ADDR | AMDVI_PTE_NEXT_LEVEL)) | pa0;
	meta_of(m->parent)->ntables--;
	span = 1ULL << pshift;
	/* The table's span, rebuilt from the path: walk up the parents. */
	base = 0;
	{
		const uint64_t *c = t;

		while (meta_of(c)->parent) {
			const struct iopt_meta *cm = meta_of(c);

			base |= (uint64_t)cm->pidx << lvl_shift(cm->level + 1);
			c = cm->parent;
		}
	}
	gather_add_pde(g, base, span);
	m->used = 0;	/* dead: a second look from the full chain must not fold it */
	freelist_push(&g->freelist, t);
	pt->stats.tables_freed++;
	pt->stats.coalesces++;
	return true;
}

static void coalesce_full(struct iopt *pt, struct iopt_gather *g)
{
	uint64_t *t = pt->full_chain;

	pt->full_chain = NULL;
	while (t) {
		uint64_t *next = meta_of(t)->next_full;
		uint64_t *c = t;

		/* A fold can fill nothing new, but it can complete the parent. */
		while (c && try_coalesce(pt, c, g)) {
			uint64_t *p = meta_of(c)->parent;

			c = meta_of(p)->used == AMDVI_PT_ENTRIES ? p : NULL;
		}
		t = next;
	}
}

int iopt_map(struct iopt *pt, iova_t iova, paddr_t pa, uint64_t len,
	     unsigned prot, struct iopt_gather *g)
{
	struct map_state s = { iova, pa, len, prot };
	int ret;

	ret = check_range(pt, iova, len);
	if (ret)
		return ret;
	if ((pa & (AMDVI_PAGE_SIZE - 1)) || pa + (len - 1) < pa ||
	    ((pa + (len - 1)) & ~(AMDVI_PTE_ADDR | (AMDVI_PAGE_SIZE - 1))))
		return -EINVAL;
	if (!(prot & IOPT_PROT_RW) || (prot & ~IOPT_PROT_RW))
		return -EINVAL;

	pt->new_chain = NULL;
	pt->full_chain = NULL;
	/* One leaf is one walk either way: the plain walk is the cheaper code. */
	if (len == AMDVI_PAGE_SIZE) {
		ret = map_one_4k(pt, &s);
	} else if (pt->impl == IOPT_IMPL_TUNED &&
	    len != 1ULL << best_lg2(pt, iova, pa, len, 63)) {
		pt->stats.walks++;
		ret = map_tuned(pt, &s);
	} else {
		ret = map_baseline(pt, &s);
	}
	if (ret) {
		map_rollback(pt, iova, s.cur);
		return ret;
	}
	pt->new_chain = NULL;
	pt->stats.maps++;
	if ((pt->flags & IOPT_F_COALESCE) && g)
		coalesce_full(pt, g);
	pt->full_chain = NULL;
	return 0;
}

/* ---- unmap ---------------------------------------------------------------- */

static void split_rollback(struct iopt *pt)
{
	while (pt->nundo) {
		struct split_undo *u = &pt->undo[--pt->nundo];

		for (unsigned i = 0; i < u->count; i++)
			u->slot[i] = u->old;
		if (u->newtbl) {
			/* The slot's table: entries live in page-aligned tables. */
			uint64_t *parent = (uint64_t *)((uintptr_t)u->slot & ~(uintptr_t)(TABLE_BYTES - 1));

			meta_of(parent)->ntables--;
			table_free_now(pt, u->newtbl);
		}
	}
}

/* Tables on the way down to an address; path[l] valid for l >= deepest. */
struct iopt_path {
	uint64_t *t[AMDVI_PT_LEVELS_MAX + 1];
	unsigned deepest;
};

/*
 * Make @b a leaf boundary: no leaf may hold both b - 1 and b. Splits only
 * change how translations are stored, never what they are. The walk
 * starts at @p->t[@level] and records the tables it passes in @p.
 */
static int split_at(struct iopt *pt, iova_t b, unsigned level, uint64_t *t,
		    struct iopt_path *p)
{
	for (;;) {
		unsigned idx = lvl_index(b, level);
		uint64_t e = t[idx];
		unsigned shift = lvl_shift(level);
		unsigned lg2;
		uint64_t flags, base;

		if (p)
			p->deepest = level;
		if (!(e & AMDVI_PTE_PR))
			return 0;
		if (entry_is_pde(e, level)) {
			t = entry_table(e);
			level--;
			if (p)
				p->t[level] = t;
			continue;
		}
		lg2 = leaf_lg2(e, level);
		if (!(b & ((1ULL << lg2) - 1)))
			return 0;
		if (IOB_WARN_ON(pt->nundo >= SPLIT_UNDO_MAX))
			return -ENOMEM;
		flags = e & ~(AMDVI_PTE_ADDR | AMDVI_PTE_NEXT_LEVEL);
		base = (e & AMDVI_PTE_ADDR) & ~((1ULL << lg2) - 1);

		if (lg2 > shift) {
			/* Next Level = 7 group: rewrite in place as this level's leaves. */
			unsigned count = 1U << (lg2 - shift);
			unsigned first = idx & ~(count - 1);
			struct split_undo *u = &pt->undo[pt->nundo++];

			*u = (struct split_undo){ &t[first], e, NULL, count };
			for (unsigned i = 0; i < count; i++)
				t[first + i] = flags | (base + ((uint64_t)i << shift));
			pt->stats.splits++;
			continue;
		}
		if (IOB_WARN_ON(level == 1))
			return 0;

		uint64_t *n = table_alloc(pt, level - 1, t, idx);
		unsigned cshift = lvl_shift(level - 1);

		if (!n)
			return -ENOMEM;
		/* Fill the new table completely before the walker can see it. */
		for (unsigned i = 0; i < AMDVI_PT_ENTRIES; i++)
			n[i] = flags | (base + ((uint64_t)i << cshift));
		meta_of(n)->used = AMDVI_PT_ENTRIES;
		pt->undo[pt->nundo++] = (struct split_undo){ &t[idx], e, n, 1 };
		t[idx] = pde_entry(n, level - 1);
		meta_of(t)->ntables++;
		pt->stats.splits++;
		t = n;
		level--;
		if (p)
			p->t[level] = t;
	}
}

/* Does the level-@level table holding @a also hold @b? */
static inline bool same_table(iova_t a, iova_t b, unsigned level)
{
	return table_base(a, level) == table_base(b, level);
}

/*
 * Split at both ends of [iova, last]. On return @p holds the path to
 * @iova; the walk to the far end starts from the lowest table the two
 * share, so a small range costs one walk, not two.
 */
static int split_ends(struct iopt *pt, iova_t iova, iova_t last, struct iopt_path *p)
{
	int ret;

	pt->nundo = 0;
	p->t[pt->levels] = pt->root;
	ret = split_at(pt, iova, pt->levels, pt->root, p);
	if (!ret && last < iova_max(pt)) {
		unsigned l = p->deepest;

		while (l < pt->levels && !same_table(iova, last + 1, l))
			l++;
		ret = split_at(pt, last + 1, l, p->t[l], NULL);
	}
	if (ret)
		split_rollback(pt);
	pt->nundo = 0;
	return ret;
}

/* Put a whole subtree on the freelist; returns the bytes it mapped. */
static uint64_t free_subtree(struct iopt *pt, uint64_t *t, unsigned level,
			     struct iopt_gather *g)
{
	uint64_t bytes = 0;

	/* A table without child tables holds only leaves: its count says it all. */
	if (level == 1 || !meta_of(t)->ntables)
		bytes = (uint64_t)meta_of(t)->used << lvl_shift(level);
	else
		for (unsigned i = 0; i < AMDVI_PT_ENTRIES; i++) {
			uint64_t e = t[i];

			if (!(e & AMDVI_PTE_PR))
				continue;
			if (entry_is_pde(e, level))
				bytes += free_subtree(pt, entry_table(e), level - 1, g);
			else
				bytes += 1ULL << lvl_shift(level);
		}
	pt->stats.entries_cleared += meta_of(t)->used;
	freelist_push(&g->freelist, t);
	pt->stats.tables_freed++;
	return bytes;
}

/* Detach child @idx of @t and free it with its subtree. */
static uint64_t drop_child(struct iopt *pt, uint64_t *t, unsigned level,
			   unsigned idx, struct iopt_gather *g)
{
	uint64_t bytes = free_subtree(pt, entry_table(t[idx]), level - 1, g);

	t[idx] = 0;
	meta_of(t)->used--;
	meta_of(t)->ntables--;
	return bytes;
}

struct unmap_state {
	uint64_t bytes;
	bool freed;
};

/*
 * Tuned unmap of [start, last] within table @t. After split_ends() every
 * leaf met lies wholly inside the range, Next Level = 7 groups included,
 * so clearing entry by entry is exact.
 */
static void unmap_level(struct iopt *pt, uint64_t *t, unsigned level,
			iova_t start, iova_t last, struct iopt_gather *g,
			struct unmap_state *u)
{
	unsigned shift = lvl_shift(level);
	unsigned i0 = lvl_index(start, level);
	unsigned i1 = last >= table_last(start, level) ? AMDVI_PT_ENTRIES - 1 :
							 lvl_index(last, level);
	struct iopt_meta *m = meta_of(t);

	if (level == 1) {
		unsigned n = 0;

		for (unsigned i = i0; i <= i1; i++) {
			n += (unsigned)(t[i] & AMDVI_PTE_PR);
			t[i] = 0;
		}
		m->used -= n;
		pt->stats.entries_cleared += n;
		u->bytes += (uint64_t)n << shift;
		return;
	}

	iova_t tbase = table_base(start, level);
	unsigned cleared = 0;

	for (unsigned i = i0; i <= i1; i++) {
		uint64_t e = t[i];
		iova_t es, ee;

		if (!(e & AMDVI_PTE_PR))
			continue;
		if (!entry_is_pde(e, level)) {
			t[i] = 0;
			cleared++;
			continue;
		}
		es = tbase + ((uint64_t)i << shift);
		ee = es + ((1ULL << shift) - 1);
		if (es >= start && ee <= last) {
			u->bytes += drop_child(pt, t, level, i, g);
			u->freed = true;
			continue;
		}
		uint64_t *child = entry_table(e);

		unmap_level(pt, child, level - 1, es > start ? es : start,
			    ee < last ? ee : last, g, u);
		if ((pt->flags & IOPT_F_RECLAIM) && meta_of(child)->used == 0) {
			u->bytes += drop_child(pt, t, level, i, g);
			u->freed = true;
		}
	}
	m->used -= cleared;
	pt->stats.entries_cleared += cleared;
	u->bytes += (uint64_t)cleared << shift;
}

/*
 * Baseline unmap: for every page, walk from the root, clear the leaf, add
 * it to the gather on its own; then free the tables it emptied that lie in
 * the range (any emptied table with IOPT_F_RECLAIM).
 */
static void unmap_baseline(struct iopt *pt, iova_t iova, iova_t last,
			   struct iopt_gather *g, struct unmap_state *u)
{
	uint64_t *path[AMDVI_PT_LEVELS_MAX + 1];
	iova_t addr = iova;

	for (;;) {
		unsigned level = pt->levels;
		uint64_t *t = pt->root;
		iova_t next;

		pt->stats.walks++;
		for (;;) {
			unsigned shift = lvl_shift(level);
			unsigned idx = lvl_index(addr, level);
			uint64_t e = t[idx];
			iova_t es = addr & ~((1ULL << shift) - 1);

			path[level] = t;
			next = es + (1ULL << shift);
			if (!(e & AMDVI_PTE_PR))
				break;
			if (entry_is_pde(e, level)) {
				uint64_t *child = entry_table(e);

				if (es >= iova && next - 1 <= last &&
				    meta_of(child)->used == 0) {
					drop_child(pt, t, level, idx, g);
					u->freed = true;
				} else {
					t = child;
					level--;
					continue;
				}
			} else {
				unsigned lg2 = leaf_lg2(e, level);
				unsigned count = lg2 > shift ? 1U << (lg2 - shift) : 1;
				unsigned first = idx & ~(count - 1);

				for (unsigned i = 0; i < count; i++)
					t[first + i] = 0;
				meta_of(t)->used -= count;
				pt->stats.entries_cleared += count;
				es &= ~((1ULL << lg2) - 1);
				next = es + (1ULL << lg2);
				u->bytes += 1ULL << lg2;
				gather_add_separate(g, es, 1ULL << lg2);
			}
			/* Free the tables on the path that are now empty. */
			while (level < pt->levels) {
				uint64_t *c = path[level];
				struct iopt_meta *cm = meta_of(c);
				iova_t cb = table_base(addr, level);
				iova_t cl = table_last(addr, level);

				if (cm->used || !((pt->flags & IOPT_F_RECLAIM) ||
						  (cb >= iova && cl <= last)))
					break;
				drop_child(pt, path[level + 1], level + 1,
					   lvl_index(addr, level + 1), g);
				u->freed = true;
				level++;
			}
			break;
		}
		if (next == 0 || next - 1 >= last)
			break;
		addr = next;
	}
}

int iopt_unmap(struct iopt *pt, iova_t iova, uint64_t len,
	       struct iopt_gather *g, uint64_t *unmapped)
{
	struct unmap_state u = { 0, false };
	struct iopt_path p;
	iova_t last;
	int ret;

	if (!g)
		return -EINVAL;
	ret = check_range(pt, iova, len);
	if (ret)
		return ret;
	last = iova + (len - 1);
	ret = split_ends(pt, iova, last, &p);
	if (ret)
		return ret;

	if (pt->impl == IOPT_IMPL_TUNED) {
		unsigned level = p.deepest;
		uint64_t *t;

		/* Start at the lowest table on the path that holds the whole range. */
		while (level < pt->levels && !same_table(iova, last, level))
			level++;
		/* A table the range covers exactly is freed, from its parent. */
		if (level < pt->levels && table_base(iova, level) == iova &&
		    table_last(iova, level) == last)
			level++;
		t = p.t[level];
		pt->stats.walks++;
		unmap_level(pt, t, level, iova, last, g, &u);
		/* With RECLAIM, tables above the start that are now empty go too. */
		while ((pt->flags & IOPT_F_RECLAIM) && level < pt->levels &&
		       meta_of(t)->used == 0) {
			struct iopt_meta *m = meta_of(t);
			uint64_t *parent = m->parent;

			drop_child(pt, parent, level + 1, m->pidx, g);
			u.freed = true;
			t = parent;
			level++;
		}
		if (u.bytes || u.freed) {
			iopt_gather_add(g, iova, len);
			if (u.freed)
				g->pde = true;
		}
	} else {
		unmap_baseline(pt, iova, last, g, &u);
		/* Tables went away: their range must drop from the PDE caches. */
		if (u.freed) {
			gather_add_separate(g, iova, len);
			g->pde = true;
		}
	}
	pt->stats.unmaps++;
	if (unmapped)
		*unmapped = u.bytes;
	return 0;
}

/* ---- translate and inspection -------------------------------------------- */

int iopt_translate(const struct iopt *pt, iova_t iova, struct amdvi_walk *w)
{
	amdvi_walk(iopt_root(pt), pt->levels, pt->levels, IOPT_PROT_RW, iova, w);
	return w->fault == AMDVI_FAULT_NONE ? 0 : -EFAULT;
}

static bool tables_equal(const uint64_t *a, const uint64_t *b, unsigned level)
{
	for (unsigned i = 0; i < AMDVI_PT_ENTRIES; i++) {
		uint64_t ea = a[i], eb = b[i];

		if ((ea & AMDVI_PTE_PR) && entry_is_pde(ea, level)) {
			if ((ea & ~AMDVI_PTE_ADDR) != (eb & ~AMDVI_PTE_ADDR) ||
			    !(eb & AMDVI_PTE_PR) || !entry_is_pde(eb, level))
				return false;
			if (!tables_equal(entry_table(ea), entry_table(eb), level - 1))
				return false;
		} else if (ea != eb) {
			return false;
		}
	}
	return meta_of(a)->used == meta_of(b)->used;
}

bool iopt_equal(const struct iopt *a, const struct iopt *b)
{
	return a->levels == b->levels && tables_equal(a->root, b->root, a->levels);
}

static uint64_t count_tables(const uint64_t *t, unsigned level)
{
	uint64_t n = 1;

	if (level > 1)
		for (unsigned i = 0; i < AMDVI_PT_ENTRIES; i++)
			if ((t[i] & AMDVI_PTE_PR) && entry_is_pde(t[i], level))
				n += count_tables(entry_table(t[i]), level - 1);
	return n;
}

uint64_t iopt_count_tables(const struct iopt *pt)
{
	return count_tables(pt->root, pt->levels);
}

static int check_table(const uint64_t *t, unsigned level, const uint64_t *parent,
		       unsigned pidx)
{
	const struct iopt_meta *m = meta_of(t);
	unsigned used = 0, ntables = 0;

	if (m->level != level || m->parent != parent || (parent && m->pidx != pidx))
		return -EUCLEAN;
	for (unsigned i = 0; i < AMDVI_PT_ENTRIES; i++) {
		uint64_t e = t[i];

		if (!(e & AMDVI_PTE_PR)) {
			if (e)
				return -EUCLEAN;
			continue;
		}
		used++;
		if (e & AMDVI_PTE_RSVD)
			return -EUCLEAN;
		if (level == 1 && amdvi_pte_next_level(e) != AMDVI_NEXT_LEVEL_LEAF &&
		    amdvi_pte_next_level(e) != AMDVI_NEXT_LEVEL_SIZED)
			return -EUCLEAN;
		if (entry_is_pde(e, level)) {
			ntables++;
			if (amdvi_pte_next_level(e) != level - 1)
				return -EUCLEAN;
			if (check_table(entry_table(e), level - 1, t, i))
				return -EUCLEAN;
		} else if (amdvi_pte_next_level(e) == AMDVI_NEXT_LEVEL_SIZED) {
			unsigned lg2 = amdvi_sized_lg2(e);
			unsigned shift = lvl_shift(level);
			unsigned count;

			if (lg2 <= shift || lg2 >= shift + AMDVI_PT_ENTRIES_LG2)
				return -EUCLEAN;
			count = 1U << (lg2 - shift);
			if (t[i & ~(count - 1)] != e)
				return -EUCLEAN;
		}
	}
	return used == m->used && ntables == m->ntables ? 0 : -EUCLEAN;
}

int iopt_check(const struct iopt *pt)
{
	return check_table(pt->root, pt->levels, NULL, 0);
}

/* ---- reservation, iteration, fingerprint ---------------------------------- */

int iopt_reserve(struct iopt *pt, uint64_t tables)
{
	uint64_t *got = NULL;
	uint64_t n = pt->npool;

	/* Top up only: what an earlier call set aside and did not use still counts. */
	for (; n < tables; n++) {
		uint64_t *t = pt->alloc.alloc(pt->alloc.ctx);

		if (!t || ((uintptr_t)t & (TABLE_BYTES - 1))) {
			if (t)
				pt->alloc.free(pt->alloc.ctx, t);
			while (got) {
				uint64_t *next = meta_of(got)->next;

				pt->alloc.free(pt->alloc.ctx, got);
				got = next;
			}
			pt->stats.alloc_failures++;
			return -ENOMEM;
		}
		meta_of(t)->next = got;
		got = t;
	}
	while (got) {
		uint64_t *next = meta_of(got)->next;

		meta_of(got)->next = pt->pool;
		pt->pool = got;
		pt->npool++;
		got = next;
	}
	return 0;
}

/*
 * Keep a few pages set aside between calls, as a kernel keeps a page cache:
 * the next hypercall then reserves without touching the allocator.
 */
#define POOL_KEEP 2048

static void pool_trim(struct iopt *pt, uint64_t keep)
{
	while (pt->pool && pt->npool > keep) {
		uint64_t *next = meta_of(pt->pool)->next;

		pt->alloc.free(pt->alloc.ctx, pt->pool);
		pt->pool = next;
		pt->npool--;
	}
}

void iopt_unreserve(struct iopt *pt)
{
	pool_trim(pt, POOL_KEEP);
}

uint64_t iopt_reserved(const struct iopt *pt)
{
	return pt->npool;
}

static void leaves(const uint64_t *t, unsigned level, iova_t base,
		   void (*fn)(void *, iova_t, paddr_t, unsigned, unsigned), void *ctx)
{
	unsigned shift = lvl_shift(level);

	for (unsigned i = 0; i < AMDVI_PT_ENTRIES; i++) {
		uint64_t e = t[i];
		iova_t a = base + ((uint64_t)i << shift);
		unsigned lg2;

		if (!(e & AMDVI_PTE_PR))
			continue;
		if (entry_is_pde(e, level)) {
			leaves(entry_table(e), level - 1, a, fn, ctx);
			continue;
		}
		lg2 = leaf_lg2(e, level);
		/* A Next Level = 7 page fills several entries: report it once. */
		if (lg2 > shift && (i & ((1U << (lg2 - shift)) - 1)))
			continue;
		fn(ctx, a, (e & AMDVI_PTE_ADDR) & ~((1ULL << lg2) - 1), lg2,
		   ((e & AMDVI_PTE_IR) ? IOPT_PROT_READ : 0) |
		   ((e & AMDVI_PTE_IW) ? IOPT_PROT_WRITE : 0));
	}
}

void iopt_for_each_leaf(const struct iopt *pt,
			void (*fn)(void *ctx, iova_t iova, paddr_t pa, unsigned size_lg2,
				   unsigned prot),
			void *ctx)
{
	leaves(pt->root, pt->levels, 0, fn, ctx);
}

static uint64_t fp_table(const uint64_t *t, unsigned level, uint64_t h)
{
	for (unsigned i = 0; i < AMDVI_PT_ENTRIES; i++) {
		uint64_t e = t[i];

		if (!e)
			continue;
		if ((e & AMDVI_PTE_PR) && entry_is_pde(e, level)) {
			/* Where a table lives is not part of the state: leave its address out. */
			h = (h ^ ((uint64_t)level << 56 | (uint64_t)i << 40 | (e & ~AMDVI_PTE_ADDR))) *
			    0x100000001b3ULL;
			h = fp_table(entry_table(e), level - 1, h);
		} else {
			h = (h ^ ((uint64_t)level << 56 | (uint64_t)i << 40)) * 0x100000001b3ULL;
			h = (h ^ e) * 0x100000001b3ULL;
		}
	}
	return (h ^ meta_of(t)->used) * 0x100000001b3ULL;
}

uint64_t iopt_fingerprint(const struct iopt *pt)
{
	return fp_table(pt->root, pt->levels, 0xcbf29ce484222325ULL);
}
