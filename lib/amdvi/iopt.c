// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * AMD-Vi v1 I/O page table: map, unmap (with splitting), coalescing,
 * gather and freelist, in a tuned and a baseline implementation that must
 * build identical tables (tests/test_iopt.c proves it on random streams).
 *
 * Memory: each table is one 4 KiB page of 512 entries, exactly what the
 * IOMMU walks; what software keeps about it (chain links, parent, level)
 * is its struct ptpage, 32 bytes elsewhere (ptpage.h). Pages come from the
 * library's page cache unless the configuration names an allocator.
 * Entries hold the table's own address, so the walker in walk.c
 * dereferences what the hardware would.
 *
 * No counts of entries per table. Two CPUs mapping side by side in one
 * table would both update a table's count, which takes an atomic add per
 * call: 7 ns on the development VM (a lock-prefixed add), as much as the
 * whole single-page map. What counts were for is read off the entries
 * instead: the bytes an unmap removed, a table left empty
 * (IOPT_F_RECLAIM) or filled (IOPT_F_COALESCE, helped by a remembered
 * hole), except where a table's descriptor says a chunk of entries is
 * all present leaves (see run_note()). Reading is cheap because of one invariant: bits 8:1 of every
 * entry written here are zero (the ignored bits, and A and D, which the
 * IOMMU sets only when the DTE's HAD field asks for it, and iommu.c's DTEs
 * never do), so the sum of a run of entries has the number of present
 * ones in its low 9 bits: one add per entry. What is kept per table (in
 * its descriptor) changes rarely: its number of child tables, changed
 * atomically when one comes or goes.
 *
 * Concurrency (IOPT_F_SHARED): callers on disjoint ranges share the table
 * without a lock, as Linux's drivers share theirs. A table is installed
 * with compare-and-swap (the loser frees its own, never seen by anyone);
 * leaves of a range are written only by its caller; a table is freed only
 * by an unmap that covers its whole span (so nobody else can be inside
 * it) and only after the invalidation that covers it (the gather's
 * freelist). Entries are read and written with relaxed atomics (plain
 * moves on x86), table pointers read with acquire: a new table's zeroes
 * are seen before its entries are. Counters live in per-thread slots.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <iob/alloc.h>
#include <iob/iopt.h>
#include <iob/ptpage.h>
#include <iob/warn.h>

#define TABLE_BYTES	PTPAGE_BYTES
#define SPLIT_UNDO_MAX	16	/* 2 boundaries x at most 5 split levels, with room */
#define STAT_SLOTS	32	/* threads with a counter slot of their own */

/* Bits 8:1, zero in every entry this file writes (see the header). */
#define PTE_SW_ZERO	(AMDVI_PTE_IGN0 | AMDVI_PTE_A | AMDVI_PTE_D | AMDVI_PTE_IGN1)

/* struct ptpage flags */
#define PT_DEAD		1	/* folded by coalescing: on a freelist */

_Static_assert(IOPT_TABLE_ALLOC_BYTES == PTPAGE_BYTES, "a table is one page");

/*
 * One thread's counters. A slot is written by its thread only, with
 * relaxed loads and stores (no lock prefix); readers sum the slots.
 * Threads past STAT_SLOTS share one slot and add atomically.
 */
struct stat_slot {
	_Alignas(IOB_CACHELINE) struct iopt_stats s;	/* s.tables_live unused */
	uint64_t released;	/* tables given back to the allocator */
	bool shared;
};

struct iopt {
	uint64_t *root;
	iova_t iova_max;	/* last address the paging mode reaches */
	unsigned levels;
	unsigned flags;
	uint64_t pgsize_bitmap;
	enum iopt_impl impl;
	bool has_sized;		/* bitmap holds Next Level = 7 sizes */
	bool own_pages;		/* pages from the page cache */
	bool runs;		/* descriptors remember runs of leaves (run_note()) */
	bool noted;		/* some descriptor has (had) a run: run_drop() must look */
	struct iopt_alloc alloc;
	uint64_t *pool;		/* pages set aside by iopt_reserve(), linked through word 0 */
	uint64_t npool;
	int64_t live_base;	/* tables_live when the counters were last reset */
	struct stat_slot over;	/* threads without a slot of their own */
	struct stat_slot slot[STAT_SLOTS];
};

struct split_undo {
	uint64_t *slot;		/* first entry rewritten */
	uint64_t old;		/* value every rewritten entry had */
	uint64_t *newtbl;	/* table allocated by the split, or NULL */
	unsigned count;		/* entries rewritten */
};

struct split_log {
	struct split_undo u[SPLIT_UNDO_MAX];
	unsigned n;
};

static void pool_trim(struct iopt *pt, uint64_t keep);

/* ---- counters ----------------------------------------------------------- */

static pthread_once_t slot_once = PTHREAD_ONCE_INIT;
static pthread_key_t slot_key;
static bool slot_key_ok;
static uint32_t slots_free = ~0U;	/* bit i: slot i unclaimed */
/* 0: not yet claimed; 1..STAT_SLOTS: slot + 1; STAT_SLOTS + 1: the shared slot */
static __thread unsigned my_slot __attribute__((tls_model("initial-exec")));

static void slot_release(void *v)
{
	unsigned s = (unsigned)(uintptr_t)v;

	if (s && s <= STAT_SLOTS)
		__atomic_fetch_or(&slots_free, 1U << (s - 1), __ATOMIC_RELEASE);
}

static void slot_key_make(void)
{
	slot_key_ok = !pthread_key_create(&slot_key, slot_release);
}

static unsigned slot_claim(void)
{
	uint32_t f;

	pthread_once(&slot_once, slot_key_make);
	f = __atomic_load_n(&slots_free, __ATOMIC_ACQUIRE);
	/* Without a key a slot could not be given back at thread exit. */
	while (f && slot_key_ok) {
		unsigned b = (unsigned)__builtin_ctz(f);

		if (__atomic_compare_exchange_n(&slots_free, &f, f & ~(1U << b), false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			my_slot = b + 1;
			if (pthread_setspecific(slot_key, (void *)(uintptr_t)my_slot)) {
				slot_release((void *)(uintptr_t)my_slot);
				break;
			}
			return my_slot;
		}
	}
	my_slot = STAT_SLOTS + 1;
	return my_slot;
}

static inline struct stat_slot *stat_slot(struct iopt *pt)
{
	unsigned s = my_slot;

	if (__builtin_expect(!s, 0))
		s = slot_claim();
	return s <= STAT_SLOTS ? &pt->slot[s - 1] : &pt->over;
}

static inline void stat_add(const struct stat_slot *st, uint64_t *f, uint64_t n)
{
	if (__builtin_expect(st->shared, 0))
		__atomic_fetch_add(f, n, __ATOMIC_RELAXED);
	else
		__atomic_store_n(f, __atomic_load_n(f, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

#define STAT(st, field, n)	stat_add((st), &(st)->s.field, (n))

/* ---- entries -------------------------------------------------------------- */

static inline uint64_t pte_get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* An entry that may point to a table: its contents are seen after it. */
static inline uint64_t pde_get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void pte_set(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/*
 * An entry of the caller's own range, which no other caller writes: a
 * plain load, which the compiler may fold into an add (one micro-op
 * where an atomic load takes two: half the time of a 256-entry count).
 */
static inline uint64_t pte_peek(const uint64_t *p)
{
	return *p;
}

/*
 * @n entries set to @v. From 128 entries on (96 for zeroes), one string
 * instruction, as Linux's memset64() and memset() on x86: 64 bytes a
 * cycle without vector registers, which kernel code does not have; below
 * that its start-up (11 to 13 ns on the development VM) costs more than
 * a loop of stores (256 entries: 16 ns with rep stosb, 17 with rep stosq,
 * 37 with a loop; 64: 12, 14 and 10). ThreadSanitizer does not see inside
 * asm, so its build takes the loop.
 */
static inline void ptes_fill(uint64_t *p, size_t n, uint64_t v)
{
	size_t i = 0;

#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
	if (!v && n >= 96) {
		size_t bytes = n * sizeof(*p);

		__asm__ volatile("rep stosb" : "+D"(p), "+c"(bytes) : "a"(0) : "memory");
		return;
	}
	if (n >= 128) {
		__asm__ volatile("rep stosq" : "+D"(p), "+c"(n) : "a"(v) : "memory");
		return;
	}
#endif
	for (; i + 4 <= n; i += 4) {
		pte_set(&p[i], v);
		pte_set(&p[i + 1], v);
		pte_set(&p[i + 2], v);
		pte_set(&p[i + 3], v);
	}
	for (; i < n; i++)
		pte_set(&p[i], v);
}

/*
 * Sum of @n entries: present ones are counted in its low 9 bits. Sixteen
 * loads an iteration into four sums: 256 entries in 22 ns on the
 * development VM, against 30 ns four at a time (loads fold into the adds).
 */
static inline uint64_t ptes_sum(const uint64_t *p, size_t n)
{
	uint64_t a = 0, b = 0, c = 0, d = 0;
	const uint64_t *end16 = p + (n & ~(size_t)15), *end = p + n;

	for (; p < end16; p += 16) {
		a += pte_peek(&p[0]) + pte_peek(&p[4]) + pte_peek(&p[8]) + pte_peek(&p[12]);
		b += pte_peek(&p[1]) + pte_peek(&p[5]) + pte_peek(&p[9]) + pte_peek(&p[13]);
		c += pte_peek(&p[2]) + pte_peek(&p[6]) + pte_peek(&p[10]) + pte_peek(&p[14]);
		d += pte_peek(&p[3]) + pte_peek(&p[7]) + pte_peek(&p[11]) + pte_peek(&p[15]);
	}
	for (; p < end; p++)
		a += pte_peek(p);
	return a + b + c + d;
}

/* Present entries among @n (at most 512) whose sum is @sum. */
static inline unsigned present_of(uint64_t sum, const uint64_t *p, size_t n)
{
	unsigned c = (unsigned)(sum & (AMDVI_PT_ENTRIES - 1));

	/* 512 present wrap to 0: the first entry tells which. */
	if (!c && n == AMDVI_PT_ENTRIES && (pte_get(p) & AMDVI_PTE_PR))
		c = AMDVI_PT_ENTRIES;
	return c;
}

static inline unsigned count_present(const uint64_t *p, size_t n)
{
	return present_of(ptes_sum(p, n), p, n);
}

/*
 * Runs. An unmap must say what it removed, and with 4K/2M/1G a megabyte
 * is 256 leaves whose entries it would read (22 ns of a 62 ns unmap on
 * the development VM, where Linux, with a Next Level = 7 page, reads one
 * entry). So a table's descriptor keeps a word of 16 bits, one per chunk
 * of RUN_CHUNK entries: a map that writes a whole chunk sets its bit, and
 * an unmap of whole chunks whose bits are all set clears them without
 * reading them.
 *
 * The invariant: every entry of a chunk whose bit is set is a present
 * leaf of the table's level (not a Next Level 7 page). Whoever removes or
 * replaces an entry drops the bits of the chunks it touches (run_drop()),
 * before the table can be read as anything else; iopt_check() verifies it.
 * Under IOPT_F_SHARED a bit is only ever set by a map that wrote its whole
 * chunk, so the chunk lies in that caller's range, and only that caller
 * (the range's owner) changes its entries or clears its bit; other callers
 * set and clear other bits of the same word, so the updates are atomic
 * (lock or / lock and: one each per map and unmap of 32 entries or more).
 * Without IOPT_F_SHARED one caller at a time: plain loads and stores.
 *
 * Not for coalescing tables, whose descriptor word holds their hole, nor
 * for the baseline implementation, which reads what it clears.
 */
#define RUN_CHUNK_LG2	5	/* 32 entries, 256 bytes: 512 / 16 bits */
#define RUN_CHUNK	(1U << RUN_CHUNK_LG2)

/* The chunks wholly inside entries [@idx, @idx + @n) of a table, as bits. */
static inline uint16_t run_mask_in(unsigned idx, size_t n)
{
	unsigned lo = (idx + RUN_CHUNK - 1) >> RUN_CHUNK_LG2;
	unsigned hi = (unsigned)((idx + n) >> RUN_CHUNK_LG2);	/* exclusive */

	return hi > lo ? (uint16_t)(((1U << hi) - 1) & ~((1U << lo) - 1)) : 0;
}

/* The chunks that hold any of entries [@i0, @i1]. */
static inline uint16_t run_mask_touching(unsigned i0, unsigned i1)
{
	return (uint16_t)(((2U << (i1 >> RUN_CHUNK_LG2)) - 1) &
			  ~((1U << (i0 >> RUN_CHUNK_LG2)) - 1));
}

static inline uint16_t run_get(const uint64_t *t)
{
	return __atomic_load_n(&ptpage_of(t)->run, __ATOMIC_RELAXED);
}

/*
 * Might any table of @pt have a bit set? Until the first one, nobody
 * needs to look (no descriptor loads on one-page unmaps, 2 ns on the
 * development VM). The flag is set by the caller that sets a bit, before
 * it, so that caller and whoever it hands the range to see it.
 */
static inline bool run_any(const struct iopt *pt)
{
	return __atomic_load_n(&pt->noted, __ATOMIC_RELAXED);
}

/* A map wrote present leaves (not Next Level 7 pages) at t[@idx...@idx + @n - 1]. */
static inline void run_note(struct iopt *pt, uint64_t *t, unsigned idx, size_t n)
{
	uint16_t m;
	struct ptpage *d;

	if (!pt->runs || !(m = run_mask_in(idx, n)))
		return;
	if (!__atomic_load_n(&pt->noted, __ATOMIC_RELAXED))
		__atomic_store_n(&pt->noted, true, __ATOMIC_RELAXED);
	d = ptpage_of(t);
	if (pt->flags & IOPT_F_SHARED)
		__atomic_fetch_or(&d->run, m, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&d->run, (uint16_t)(__atomic_load_n(&d->run, __ATOMIC_RELAXED) | m),
				 __ATOMIC_RELAXED);
}

/* Clear bits @m of @t's word, which held @w (some of @m set). */
static inline void run_clear(const struct iopt *pt, const uint64_t *t, uint16_t w, uint16_t m)
{
	struct ptpage *d = ptpage_of(t);

	if (pt->flags & IOPT_F_SHARED)
		__atomic_fetch_and(&d->run, (uint16_t)~m, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&d->run, (uint16_t)(w & ~m), __ATOMIC_RELAXED);
}

/* Entries t[@i0...@i1] go or change: the bits of their chunks go. */
static inline void run_drop(const struct iopt *pt, const uint64_t *t, unsigned i0, unsigned i1)
{
	uint16_t w, m;

	if (!run_any(pt))
		return;
	w = run_get(t);
	m = run_mask_touching(i0, i1);
	if (w & m)
		run_clear(pt, t, w, m);
}

/* ---- helpers ------------------------------------------------------------ */

static inline struct ptpage *desc(const uint64_t *t)
{
	return ptpage_of(t);
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

/*
 * Any table among @n entries of @t from @p on? The table's count of PDEs
 * answers for the whole table; only where it has some are the entries
 * read. A present entry is a leaf when its Next Level is 0 or 7: adding 1
 * leaves bits 11:10 clear exactly then. Non-present entries are zero.
 */
static inline bool ptes_have_pde(const uint64_t *t, const uint64_t *p, size_t n)
{
	uint64_t acc = 0;

	if (!__atomic_load_n(&ptpage_of(t)->ntables, __ATOMIC_RELAXED))
		return false;
	for (size_t i = 0; i < n; i++)
		acc |= pte_get(&p[i]) + (1ULL << AMDVI_PTE_NEXT_LEVEL_SHIFT);
	return acc & (3ULL << (AMDVI_PTE_NEXT_LEVEL_SHIFT + 1));
}

static inline void ntables_add(uint64_t *t, int d)
{
	__atomic_fetch_add(&ptpage_of(t)->ntables, (uint16_t)d, __ATOMIC_RELAXED);
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

/* Bits at and below the lowest set bit of @x (all bits for 0). */
static inline uint64_t upto_lowest(uint64_t x)
{
	return x ? (x & -x) | ((x & -x) - 1) : ~0ULL;
}

/*
 * Largest allowed page for @cur -> @pa with @remaining bytes left, and no
 * larger than 2^@max_lg2 (63: no limit).
 */
static inline unsigned best_lg2(const struct iopt *pt, iova_t cur, paddr_t pa,
				uint64_t remaining, unsigned max_lg2)
{
	uint64_t m = pt->pgsize_bitmap & upto_lowest(cur | pa);
	unsigned r = fls64_(remaining);

	if (r > max_lg2)
		r = max_lg2;
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
	for (unsigned i = 0; i < count; i++) {
		uint64_t e = pte_get(&t[idx + i]);

		if ((e & AMDVI_PTE_PR) && entry_is_pde(e, level))
			return true;
	}
	return false;
}

/*
 * Is every entry of @t present, now that a map wrote into it? The
 * descriptor remembers a hole: while it is still empty the answer is no at
 * once; otherwise the look goes on from there to the next hole, which it
 * remembers. Entries only fill one by one between looks, so a table's
 * looks add up to about one pass over it (a plain scan from the written
 * entries cost a receive ring, mostly mapped, 15 % more time per packet).
 * Coalescing tables have one caller: the hint needs no atomics.
 */
static bool table_full(const uint64_t *t)
{
	struct ptpage *d = ptpage_of(t);
	unsigned h = d->hole;

	if (!(pte_get(&t[h]) & AMDVI_PTE_PR))
		return false;
	for (unsigned k = 1; k < AMDVI_PT_ENTRIES; k++) {
		unsigned i = (h + k) & (AMDVI_PT_ENTRIES - 1);

		if (!(pte_get(&t[i]) & AMDVI_PTE_PR)) {
			d->hole = (uint16_t)i;
			return false;
		}
	}
	return true;
}

/* Is @t empty? Cleared entries end at @idx: the look starts after them. */
static bool table_empty_from(const uint64_t *t, unsigned idx)
{
	for (unsigned i = idx; i < AMDVI_PT_ENTRIES; i++)
		if (pte_get(&t[i]))
			return false;
	for (unsigned i = 0; i < idx; i++)
		if (pte_get(&t[i]))
			return false;
	return true;
}

/* ---- table allocation ---------------------------------------------------- */

static inline void page_give_back(struct iopt *pt, void *p)
{
	if (pt->own_pages)
		ptpage_free(p);
	else
		pt->alloc.free(pt->alloc.ctx, p);
}

static uint64_t *table_alloc(struct iopt *pt, struct stat_slot *st, unsigned level,
			     uint64_t *parent, unsigned pidx)
{
	uint64_t *t;
	struct ptpage *d;

	if (pt->pool) {
		t = pt->pool;
		pt->pool = *(uint64_t **)t;
		pt->npool--;
	} else if (pt->own_pages) {
		t = ptpage_alloc();
	} else {
		t = pt->alloc.alloc(pt->alloc.ctx);
	}
	if (!t) {
		STAT(st, alloc_failures, 1);
		return NULL;
	}
	d = IOB_WARN_ON((uintptr_t)t & (TABLE_BYTES - 1)) ? NULL : ptpage_attach(t);
	if (!d) {
		page_give_back(pt, t);
		STAT(st, alloc_failures, 1);
		return NULL;
	}
	memset(t, 0, TABLE_BYTES);
	d->next = NULL;
	d->next_full = NULL;
	d->parent = parent;
	d->pidx = (uint16_t)pidx;
	d->level = (uint8_t)level;
	d->flags = 0;
	d->ntables = 0;
	d->hole = 0;
	STAT(st, tables_allocated, 1);
	return t;
}

static void table_free_now(struct iopt *pt, struct stat_slot *st, uint64_t *t)
{
	page_give_back(pt, t);
	stat_add(st, &st->released, 1);
}

/* A table that was never seen by anyone: as if it had not been allocated. */
static void table_unalloc(struct iopt *pt, struct stat_slot *st, uint64_t *t)
{
	page_give_back(pt, t);
	STAT(st, tables_allocated, (uint64_t)-1);
}

static void freelist_push(struct iopt_freelist *fl, uint64_t *t)
{
	desc(t)->next = fl->head;
	fl->head = t;
	fl->pages++;
}

/* ---- gather --------------------------------------------------------------- */

/*
 * Field by field: with the kernel's flags (no vector registers) gcc turns
 * a memset() of these 72 bytes into `rep stosq`, whose start-up was a
 * quarter of a 1 MiB unmap in the peer harness (every unmap starts a
 * gather, as iommu_unmap() does).
 */
void iopt_gather_init(struct iopt_gather *g, iopt_flush_fn flush, void *ctx)
{
	g->start = 0;
	g->last = 0;
	g->pending = false;
	g->pde = false;
	g->flush = flush;
	g->ctx = ctx;
	g->freelist.head = NULL;
	g->freelist.pages = 0;
	g->ranges_flushed = 0;
	g->adds = 0;
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

static inline void gather_add(struct iopt_gather *g, iova_t iova, uint64_t size)
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

void iopt_gather_add(struct iopt_gather *g, iova_t iova, uint64_t size)
{
	gather_add(g, iova, size);
}

/* One range per call, never merged: the baseline's per-page flushing. */
static void gather_add_separate(struct iopt_gather *g, iova_t iova, uint64_t size)
{
	if (g->flush)
		iopt_gather_flush(g);
	gather_add(g, iova, size);
}

static void gather_add_pde(struct iopt_gather *g, iova_t iova, uint64_t size)
{
	gather_add(g, iova, size);
	g->pde = true;
}

void iopt_gather_release(struct iopt *pt, struct iopt_gather *g)
{
	uint64_t *t = g->freelist.head;
	struct stat_slot *st;

	if (!t)
		return;
	st = stat_slot(pt);
	while (t) {
		uint64_t *next = desc(t)->next;

		table_free_now(pt, st, t);
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
	if (cfg->flags & ~(IOPT_F_COALESCE | IOPT_F_RECLAIM | IOPT_F_SHARED))
		return -EINVAL;
	/* Folding and reclaiming change tables that other callers' ranges share. */
	if ((cfg->flags & IOPT_F_SHARED) && (cfg->flags & (IOPT_F_COALESCE | IOPT_F_RECLAIM)))
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

	pt = iob_aligned_calloc(IOB_CACHELINE, 1, sizeof(*pt));
	if (!pt)
		return -ENOMEM;
	pt->levels = cfg->levels;
	pt->iova_max = table_last(0, cfg->levels);
	pt->flags = cfg->flags;
	pt->pgsize_bitmap = bm;
	pt->impl = cfg->impl;
	pt->runs = cfg->impl == IOPT_IMPL_TUNED && !(cfg->flags & IOPT_F_COALESCE);
	pt->own_pages = !cfg->alloc;
	if (cfg->alloc)
		pt->alloc = *cfg->alloc;
	pt->over.shared = true;
	for (unsigned lg2 = AMDVI_PAGE_SIZE_LG2; lg2 < 64; lg2++)
		if ((bm >> lg2) & 1 &&
		    (lg2 - AMDVI_PAGE_SIZE_LG2) % AMDVI_PT_ENTRIES_LG2)
			pt->has_sized = true;
	pt->root = table_alloc(pt, stat_slot(pt), pt->levels, NULL, 0);
	if (!pt->root) {
		iob_free(pt);
		return -ENOMEM;
	}
	*out = pt;
	return 0;
}

static void free_tree(struct iopt *pt, struct stat_slot *st, uint64_t *t, unsigned level)
{
	if (level > 1)
		for (unsigned i = 0; i < AMDVI_PT_ENTRIES; i++) {
			uint64_t e = pte_get(&t[i]);

			if ((e & AMDVI_PTE_PR) && entry_is_pde(e, level))
				free_tree(pt, st, entry_table(e), level - 1);
		}
	table_free_now(pt, st, t);
}

void iopt_destroy(struct iopt *pt)
{
	if (!pt)
		return;
	pool_trim(pt, 0);
	free_tree(pt, stat_slot(pt), pt->root, pt->levels);
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

unsigned iopt_flags(const struct iopt *pt)
{
	return pt->flags;
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

static uint64_t sload(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void iopt_stats_get(const struct iopt *pt, struct iopt_stats *out)
{
	uint64_t released = 0;

	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i <= STAT_SLOTS; i++) {
		const struct stat_slot *sl = i < STAT_SLOTS ? &pt->slot[i] : &pt->over;

#define IOPT_STAT_SUM(n) out->n += sload(&sl->s.n);
		IOPT_STATS(IOPT_STAT_SUM)
#undef IOPT_STAT_SUM
		released += sload(&sl->released);
	}
	out->tables_live = (uint64_t)pt->live_base + out->tables_allocated - released;
}

void iopt_stats_reset(struct iopt *pt)
{
	struct iopt_stats now;

	iopt_stats_get(pt, &now);
	for (unsigned i = 0; i < STAT_SLOTS; i++) {
		memset(&pt->slot[i].s, 0, sizeof(pt->slot[i].s));
		pt->slot[i].released = 0;
	}
	memset(&pt->over.s, 0, sizeof(pt->over.s));
	pt->over.released = 0;
	pt->live_base = (int64_t)now.tables_live;
}

/* ---- argument checks ---------------------------------------------------- */

static int check_range(const struct iopt *pt, iova_t iova, uint64_t len)
{
	if (!len || ((iova | len) & (AMDVI_PAGE_SIZE - 1)))
		return -EINVAL;
	if (iova + (len - 1) < iova || iova + (len - 1) > pt->iova_max)
		return -EINVAL;
	return 0;
}

/* ---- map ------------------------------------------------------------------ */

struct map_state {
	iova_t cur;
	paddr_t pa;
	uint64_t remaining;
	unsigned prot;
	bool find_full;		/* coalescing: note the tables this call fills */
	struct stat_slot *st;
	uint64_t *new_chain;	/* tables this call installed (single caller) */
	uint64_t *full_chain;	/* tables this call filled */
};

/*
 * The table under t[@idx], installed if the slot is empty. With
 * IOPT_F_SHARED another caller may install one there at the same moment
 * for a range beside ours: the compare-and-swap decides, and the loser's
 * table, never seen by anyone, goes straight back.
 * Return: 0 with *@child set; -EEXIST if a leaf is there; -ENOMEM.
 */
static __attribute__((noinline)) int descend_new(struct iopt *pt, struct map_state *s,
						  uint64_t *t, unsigned level, unsigned idx,
						  uint64_t **child)
{
	uint64_t e = 0;
	uint64_t *n = table_alloc(pt, s->st, level - 1, t, idx);

	if (!n)
		return -ENOMEM;
	if (!__atomic_compare_exchange_n(&t[idx], &e, pde_entry(n, level - 1), false,
					 __ATOMIC_RELEASE, __ATOMIC_ACQUIRE)) {
		table_unalloc(pt, s->st, n);
		if (!entry_is_pde(e, level))
			return -EEXIST;
		*child = entry_table(e);
		return 0;
	}
	ntables_add(t, 1);
	/* Shared tables keep what a failed map installed: others may be in it. */
	if (!(pt->flags & IOPT_F_SHARED)) {
		desc(n)->next = s->new_chain;
		s->new_chain = n;
	}
	*child = n;
	return 0;
}

static inline __attribute__((always_inline)) int
descend(struct iopt *pt, struct map_state *s, uint64_t *t, unsigned level, unsigned idx,
	uint64_t **child)
{
	uint64_t e = pde_get(&t[idx]);

	if (__builtin_expect(!(e & AMDVI_PTE_PR), 0))
		return descend_new(pt, s, t, level, idx, child);
	if (!entry_is_pde(e, level))
		return -EEXIST;
	*child = entry_table(e);
	return 0;
}

static inline void note_full(struct iopt *pt, struct map_state *s, uint64_t *t,
			     unsigned level)
{
	if (s->find_full && level < pt->levels && table_full(t)) {
		desc(t)->next_full = s->full_chain;
		s->full_chain = t;
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
	uint64_t step = 1ULL << lg2;

	/* Check everything first (all-or-nothing), four entries at a time. */
	for (; i + 4 <= total; i += 4)
		acc |= pte_peek(&p[i]) | pte_peek(&p[i + 1]) | pte_peek(&p[i + 2]) |
		       pte_peek(&p[i + 3]);
	for (; i < total; i++)
		acc |= pte_peek(&p[i]);
	if (acc & AMDVI_PTE_PR)
		return -EEXIST;

	if (count == 1) {
		for (i = 0; i + 4 <= n; i += 4) {
			pte_set(&p[i], e);
			pte_set(&p[i + 1], e + step);
			pte_set(&p[i + 2], e + 2 * step);
			pte_set(&p[i + 3], e + 3 * step);
			e += 4 * step;
		}
		for (; i < n; i++, e += step)
			pte_set(&p[i], e);
		run_note(pt, t, idx, n);
	} else {
		/* A Next Level = 7 page fills every entry it spans. */
		for (i = 0; i < n; i++, e += step)
			ptes_fill(p + i * count, count, e);
	}
	STAT(s->st, entries_written, total);
	s->cur += (uint64_t)n << lg2;
	s->pa += (uint64_t)n << lg2;
	s->remaining -= (uint64_t)n << lg2;
	note_full(pt, s, t, level);
	return 0;
}

/*
 * How many pages of 2^@lg2 from @s->cur on keep that size in this table
 * (at @idx, @count entries a page). A larger size can start only where
 * the IOVA reaches the next allowed size's alignment, and only if the
 * IOVA and the physical address are aligned alike that far; the end of
 * the range can only make pages smaller. So a whole run is one loop of
 * stores, for Next Level = 7 sizes as for the standard ones.
 */
static inline unsigned run_pages(const struct iopt *pt, const struct map_state *s,
				 unsigned lg2, unsigned idx, unsigned count,
				 unsigned max_lg2)
{
	uint64_t n = s->remaining >> lg2;
	uint64_t room = (AMDVI_PT_ENTRIES - idx) / count;
	uint64_t bigger = pt->pgsize_bitmap & ~((2ULL << lg2) - 1) &
			  upto_lowest(s->cur - s->pa);

	if (max_lg2 < 63)
		bigger &= (2ULL << max_lg2) - 1;
	if (room < n)
		n = room;
	if (bigger) {
		unsigned m = (unsigned)__builtin_ctzll(bigger);
		uint64_t edge = ((1ULL << m) - (s->cur & ((1ULL << m) - 1))) >> lg2;

		if (edge < n)
			n = edge;
	}
	return (unsigned)n;
}

/*
 * Tuned: one descent per range. The path of tables is kept; after a run of
 * leaves fills a table the walk climbs only as far as it must and goes
 * down again from there, never from the root.
 */
static __attribute__((noinline)) int map_tuned(struct iopt *pt, struct map_state *s)
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
		unsigned idx, n, count;
		int ret;

		/* Climb out of tables the walk has run past, or that are too low. */
		while (level < pt->levels &&
		       (level < leaf_level || table_base(s->cur, level) != tbase[level]))
			t = path[++level];
		while (level > leaf_level) {
			ret = descend(pt, s, t, level, lvl_index(s->cur, level), &t);
			if (ret)
				return ret;
			path[--level] = t;
			tbase[level] = table_base(s->cur, level);
		}
		idx = lvl_index(s->cur, level);
		count = 1U << ((lg2 - AMDVI_PAGE_SIZE_LG2) % AMDVI_PT_ENTRIES_LG2);
		n = run_pages(pt, s, lg2, idx, count, max_lg2);
		ret = write_leaves(pt, t, level, idx, n, lg2, count, s);
		if (ret == -EEXIST) {
			const uint64_t *p = t + idx;
			unsigned j = 0, g;

			while (!(pte_get(&p[j]) & AMDVI_PTE_PR))
				j++;
			g = j / count;
			/* A run stops before a table and goes on inside it. */
			if (g && entry_is_pde(pte_get(&p[j]), level)) {
				ret = write_leaves(pt, t, level, idx, g, lg2, count, s);
				if (ret)
					return ret;
				continue;
			}
			if (!g && group_has_table(t, level, idx, count)) {
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
 * One page, the whole call (one 4 KiB page is the DMA API's commonest
 * request): the walk with nothing generic left in it. Both
 * implementations take it; it is one walk either way.
 * Return: 0; 1 when a table sits where the page would go (nothing was
 * changed: an installed table would be empty): the general path then
 * maps smaller pages inside it; -EEXIST; -ENOMEM.
 */
static int map_one(struct iopt *pt, struct map_state *s, unsigned lg2)
{
	unsigned level = lg2_level(lg2);
	unsigned count = 1U << ((lg2 - AMDVI_PAGE_SIZE_LG2) % AMDVI_PT_ENTRIES_LG2);
	uint64_t *t = pt->root;
	unsigned idx;
	uint64_t e;
	int ret;

	for (unsigned l = pt->levels; l > level; l--) {
		ret = descend(pt, s, t, l, lvl_index(s->cur, l), &t);
		if (ret)
			return ret;
	}
	idx = lvl_index(s->cur, level);
	if (count > 1) {
		ret = write_leaves(pt, t, level, idx, 1, lg2, count, s);
		if (ret == -EEXIST && group_has_table(t, level, idx, count))
			return 1;
		if (!ret)
			STAT(s->st, walks, 1);
		return ret;
	}
	e = pde_get(&t[idx]);
	if (e & AMDVI_PTE_PR)
		return entry_is_pde(e, level) ? 1 : -EEXIST;
	pte_set(&t[idx], leaf_entry(s->pa, lg2, level, s->prot));
	STAT(s->st, walks, 1);
	STAT(s->st, entries_written, 1);
	s->cur += 1ULL << lg2;
	s->pa += 1ULL << lg2;
	s->remaining = 0;
	note_full(pt, s, t, level);
	return 0;
}

/* Baseline: every page is its own walk from the root. */
static __attribute__((noinline)) int map_baseline(struct iopt *pt, struct map_state *s)
{
	while (s->remaining) {
		unsigned max_lg2 = 63;
		uint64_t *t = pt->root;
		unsigned level = pt->levels;
		int ret;

		STAT(s->st, walks, 1);
		for (;;) {
			unsigned lg2 = best_lg2(pt, s->cur, s->pa, s->remaining, max_lg2);
			unsigned leaf_level = lg2_level(lg2);
			unsigned count = 1U << ((lg2 - AMDVI_PAGE_SIZE_LG2) %
						AMDVI_PT_ENTRIES_LG2);
			unsigned idx;

			while (level > leaf_level) {
				ret = descend(pt, s, t, level, lvl_index(s->cur, level), &t);
				if (ret)
					return ret;
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
 * anything (new tables go with the chain).
 */
static void clear_written(const struct iopt *pt, uint64_t *t, unsigned level, iova_t start,
			  iova_t last)
{
	unsigned i0 = lvl_index(start, level);
	unsigned i1 = last >= table_last(start, level) ? AMDVI_PT_ENTRIES - 1 :
							 lvl_index(last, level);

	run_drop(pt, t, i0, i1);
	for (unsigned i = i0; i <= i1; i++) {
		uint64_t e = pde_get(&t[i]);
		uint64_t es = table_base(start, level) + ((uint64_t)i << lvl_shift(level));
		uint64_t ee = es + ((1ULL << lvl_shift(level)) - 1);

		if (!(e & AMDVI_PTE_PR))
			continue;
		if (entry_is_pde(e, level)) {
			clear_written(pt, entry_table(e), level - 1,
				      es > start ? es : start, ee < last ? ee : last);
			continue;
		}
		pte_set(&t[i], 0);
	}
}

static __attribute__((noinline)) void map_rollback(struct iopt *pt, struct map_state *s, iova_t iova)
{
	uint64_t *t = s->new_chain;

	if (s->cur > iova)
		clear_written(pt, pt->root, pt->levels, iova, s->cur - 1);
	/* Newest first: a table goes before the one that holds its PDE. */
	while (t) {
		struct ptpage *d = desc(t);
		uint64_t *next = d->next;

		pte_set(&d->parent[d->pidx], 0);
		ntables_add(d->parent, -1);
		table_free_now(pt, s->st, t);
		t = next;
	}
	s->new_chain = NULL;
	s->full_chain = NULL;
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
	uint64_t e0 = pte_get(&t[0]);

	for (unsigned i = 0; i < AMDVI_PT_ENTRIES; i++) {
		uint64_t e = pte_get(&t[i]);

		if (!(e & AMDVI_PTE_PR) || entry_is_pde(e, level) ||
		    (e & keep) != (e0 & keep) ||
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
static bool try_coalesce(struct iopt *pt, struct stat_slot *st, uint64_t *t,
			 struct iopt_gather *g)
{
	struct ptpage *d = desc(t);
	unsigned level = d->level;
	unsigned shift = lvl_shift(level);
	unsigned pshift = shift + AMDVI_PT_ENTRIES_LG2;
	uint64_t e0 = pte_get(&t[0]);
	paddr_t pa0;
	iova_t base;

	if (!d->parent || (d->flags & PT_DEAD))
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
			if (pte_get(&t[i]) != e0 + ((uint64_t)i << shift))
				return false;
	}

	pte_set(&d->parent[d->pidx], (e0 & ~(AMDVI_PTE_ADDR | AMDVI_PTE_NEXT_LEVEL)) | pa0);
	ntables_add(d->parent, -1);
	/* The table's span, rebuilt from the path: walk up the parents. */
	base = 0;
	for (const uint64_t *c = t; desc(c)->parent; c = desc(c)->parent) {
		const struct ptpage *cd = desc(c);

		base |= (uint64_t)cd->pidx << lvl_shift(cd->level + 1U);
	}
	gather_add_pde(g, base, 1ULL << pshift);
	d->flags |= PT_DEAD;	/* a second look from the full chain must not fold it */
	freelist_push(&g->freelist, t);
	STAT(st, tables_freed, 1);
	STAT(st, coalesces, 1);
	return true;
}

static __attribute__((noinline)) void coalesce_full(struct iopt *pt, struct map_state *s, struct iopt_gather *g)
{
	uint64_t *t = s->full_chain;

	s->full_chain = NULL;
	while (t) {
		uint64_t *next = desc(t)->next_full;

		/* A fold can fill nothing new, but it can complete the parent. */
		for (uint64_t *c = t; c && try_coalesce(pt, s->st, c, g);)
			c = desc(c)->parent;
		t = next;
	}
}

int iopt_map(struct iopt *pt, iova_t iova, paddr_t pa, uint64_t len,
	     unsigned prot, struct iopt_gather *g)
{
	struct map_state s;
	unsigned lg2;
	int ret;

	ret = check_range(pt, iova, len);
	if (ret)
		return ret;
	if ((pa & (AMDVI_PAGE_SIZE - 1)) || pa + (len - 1) < pa ||
	    ((pa + (len - 1)) & ~(AMDVI_PTE_ADDR | (AMDVI_PAGE_SIZE - 1))))
		return -EINVAL;
	if (!(prot & IOPT_PROT_RW) || (prot & ~IOPT_PROT_RW))
		return -EINVAL;

	s.cur = iova;
	s.pa = pa;
	s.remaining = len;
	s.prot = prot;
	s.find_full = (pt->flags & IOPT_F_COALESCE) && g;
	s.st = stat_slot(pt);
	s.new_chain = NULL;
	s.full_chain = NULL;
	/* One leaf is one walk either way: the plain walk is the cheaper code. */
	lg2 = len == AMDVI_PAGE_SIZE ? AMDVI_PAGE_SIZE_LG2 : best_lg2(pt, iova, pa, len, 63);
	if (len == 1ULL << lg2) {
		ret = map_one(pt, &s, lg2);
		if (ret == 1)
			ret = map_baseline(pt, &s);
	} else if (pt->impl == IOPT_IMPL_TUNED) {
		STAT(s.st, walks, 1);
		ret = map_tuned(pt, &s);
	} else {
		ret = map_baseline(pt, &s);
	}
	if (ret) {
		map_rollback(pt, &s, iova);
		return ret;
	}
	STAT(s.st, maps, 1);
	if (s.full_chain)
		coalesce_full(pt, &s, g);
	return 0;
}

/* ---- unmap ---------------------------------------------------------------- */

static void split_rollback(struct iopt *pt, struct stat_slot *st, struct split_log *log)
{
	while (log->n) {
		struct split_undo *u = &log->u[--log->n];

		for (unsigned i = 0; i < u->count; i++)
			pte_set(&u->slot[i], u->old);
		if (u->newtbl) {
			/* The slot's table: entries live in page-aligned tables. */
			ntables_add((uint64_t *)((uintptr_t)u->slot & ~(uintptr_t)(TABLE_BYTES - 1)), -1);
			table_free_now(pt, st, u->newtbl);
		}
	}
}

/* Tables on the way down to an address; t[l] valid for l >= deepest. */
struct iopt_path {
	uint64_t *t[AMDVI_PT_LEVELS_MAX + 1];
	unsigned deepest;
};

/*
 * Make @b a leaf boundary: no leaf may hold both b - 1 and b. Splits only
 * change how translations are stored, never what they are. The walk
 * starts at @p->t[@level] and records the tables it passes in @p.
 */
static int split_at(struct iopt *pt, struct stat_slot *st, struct split_log *log,
		    iova_t b, unsigned level, uint64_t *t, struct iopt_path *p)
{
	for (;;) {
		unsigned idx = lvl_index(b, level);
		uint64_t e = pde_get(&t[idx]);
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
		if (IOB_WARN_ON(log->n >= SPLIT_UNDO_MAX))
			return -ENOMEM;
		flags = e & ~(AMDVI_PTE_ADDR | AMDVI_PTE_NEXT_LEVEL);
		base = (e & AMDVI_PTE_ADDR) & ~((1ULL << lg2) - 1);

		if (lg2 > shift) {
			/* Next Level = 7 group: rewrite in place as this level's leaves. */
			unsigned count = 1U << (lg2 - shift);
			unsigned first = idx & ~(count - 1);

			log->u[log->n++] = (struct split_undo){ &t[first], e, NULL, count };
			for (unsigned i = 0; i < count; i++)
				pte_set(&t[first + i], flags | (base + ((uint64_t)i << shift)));
			STAT(st, splits, 1);
			continue;
		}
		if (IOB_WARN_ON(level == 1))
			return 0;

		uint64_t *n = table_alloc(pt, st, level - 1, t, idx);
		unsigned cshift = lvl_shift(level - 1);

		if (!n)
			return -ENOMEM;
		/* Fill the new table completely before the walker can see it. */
		for (unsigned i = 0; i < AMDVI_PT_ENTRIES; i++)
			pte_set(&n[i], flags | (base + ((uint64_t)i << cshift)));
		log->u[log->n++] = (struct split_undo){ &t[idx], e, n, 1 };
		run_drop(pt, t, idx, idx);
		__atomic_store_n(&t[idx], pde_entry(n, level - 1), __ATOMIC_RELEASE);
		ntables_add(t, 1);
		STAT(st, splits, 1);
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
static int split_ends(struct iopt *pt, struct stat_slot *st, iova_t iova, iova_t last,
		      struct iopt_path *p)
{
	struct split_log log;
	int ret;

	log.n = 0;
	p->t[pt->levels] = pt->root;
	ret = split_at(pt, st, &log, iova, pt->levels, pt->root, p);
	if (!ret && last < pt->iova_max) {
		unsigned l = p->deepest;

		while (l < pt->levels && !same_table(iova, last + 1, l))
			l++;
		ret = split_at(pt, st, &log, last + 1, l, p->t[l], NULL);
	}
	if (ret)
		split_rollback(pt, st, &log);
	return ret;
}

/* Put a whole subtree on the freelist; returns the bytes it mapped. */
static uint64_t free_subtree(struct iopt *pt, struct stat_slot *st, uint64_t *t,
			     unsigned level, struct iopt_gather *g)
{
	uint64_t bytes = 0;
	unsigned present;

	/* Entries stay as they are: the IOMMU may walk the table until the flush. */
	if (level == 1 || !ptes_have_pde(t, t, AMDVI_PT_ENTRIES)) {
		present = count_present(t, AMDVI_PT_ENTRIES);
		bytes = (uint64_t)present << lvl_shift(level);
	} else {
		present = 0;
		for (unsigned i = 0; i < AMDVI_PT_ENTRIES; i++) {
			uint64_t e = pte_get(&t[i]);

			if (!(e & AMDVI_PTE_PR))
				continue;
			present++;
			if (entry_is_pde(e, level))
				bytes += free_subtree(pt, st, entry_table(e), level - 1, g);
			else
				bytes += 1ULL << lvl_shift(level);
		}
	}
	STAT(st, entries_cleared, present);
	freelist_push(&g->freelist, t);
	STAT(st, tables_freed, 1);
	return bytes;
}

/* Detach child @idx of @t and free it with its subtree. */
static uint64_t drop_child(struct iopt *pt, struct stat_slot *st, uint64_t *t,
			   unsigned level, unsigned idx, struct iopt_gather *g)
{
	uint64_t bytes = free_subtree(pt, st, entry_table(pte_get(&t[idx])), level - 1, g);

	pte_set(&t[idx], 0);
	run_drop(pt, t, idx, idx);
	ntables_add(t, -1);
	return bytes;
}

struct unmap_state {
	uint64_t bytes;
	bool freed;
	struct stat_slot *st;
};

/*
 * @n entries of a table at @level, all leaves, each wholly in the range:
 * count them and clear them in one go.
 */
static inline void clear_leaves(const struct iopt *pt, uint64_t *p, size_t n, unsigned level,
				struct unmap_state *u)
{
	unsigned shift = lvl_shift(level), c = 0;
	uint64_t *t = (uint64_t *)((uintptr_t)p & ~(uintptr_t)(TABLE_BYTES - 1));
	unsigned i0 = (unsigned)(p - t);
	uint16_t w = run_any(pt) ? run_get(t) : 0;
	uint64_t e0;

	if (w) {
		uint16_t m = run_mask_touching(i0, i0 + (unsigned)n - 1);

		if (!((i0 | n) & (RUN_CHUNK - 1)) && (w & m) == m) {
			/* Whole chunks, each written whole by a map: all present, nothing to read. */
			ptes_fill(p, n, 0);
			run_clear(pt, t, w, m);
			STAT(u->st, entries_cleared, n);
			u->bytes += (uint64_t)n << shift;
			return;
		}
		if (w & m)
			run_clear(pt, t, w, m);
	}
	e0 = pte_peek(p);
	if (amdvi_pte_next_level(e0) == AMDVI_NEXT_LEVEL_SIZED) {
		/* Next Level = 7 pages: one entry read per page, not per entry. */
		for (size_t i = 0, k; i < n; i += k) {
			uint64_t e = pte_peek(&p[i]);

			k = amdvi_pte_next_level(e) == AMDVI_NEXT_LEVEL_SIZED ?
			    1U << (amdvi_sized_lg2(e) - shift) : 1;
			c += (unsigned)(e & AMDVI_PTE_PR) * (unsigned)k;
		}
	} else {
		c = count_present(p, n);
	}
	ptes_fill(p, n, 0);
	STAT(u->st, entries_cleared, c);
	u->bytes += (uint64_t)c << shift;
}

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

	if (level == 1 || !ptes_have_pde(t, t + i0, i1 - i0 + 1)) {
		clear_leaves(pt, t + i0, i1 - i0 + 1, level, u);
		return;
	}

	iova_t tbase = table_base(start, level);
	unsigned cleared = 0;

	run_drop(pt, t, i0, i1);
	for (unsigned i = i0; i <= i1; i++) {
		uint64_t e = pde_get(&t[i]);
		iova_t es, ee;

		if (!(e & AMDVI_PTE_PR))
			continue;
		if (!entry_is_pde(e, level)) {
			pte_set(&t[i], 0);
			cleared++;
			continue;
		}
		es = tbase + ((uint64_t)i << shift);
		ee = es + ((1ULL << shift) - 1);
		if (es >= start && ee <= last) {
			u->bytes += drop_child(pt, u->st, t, level, i, g);
			u->freed = true;
			continue;
		}
		uint64_t *child = entry_table(e);

		unmap_level(pt, child, level - 1, es > start ? es : start,
			    ee < last ? ee : last, g, u);
		if ((pt->flags & IOPT_F_RECLAIM) &&
		    table_empty_from(child, lvl_index(ee < last ? ee : last, level - 1))) {
			u->bytes += drop_child(pt, u->st, t, level, i, g);
			u->freed = true;
		}
	}
	STAT(u->st, entries_cleared, cleared);
	u->bytes += (uint64_t)cleared << shift;
}

/*
 * Tuned unmap of one 4 KiB page, the DMA API's commonest: the walk and a
 * store. Return: false, with nothing changed, when a larger leaf must be
 * split first.
 */
static bool unmap_one_4k(struct iopt *pt, iova_t iova, struct iopt_gather *g,
			 struct unmap_state *u)
{
	uint64_t *t = pt->root, *p, e;

	for (unsigned level = pt->levels; level > 1; level--) {
		e = pde_get(&t[lvl_index(iova, level)]);
		if (!(e & AMDVI_PTE_PR))
			goto done;	/* nothing mapped there */
		if (!entry_is_pde(e, level))
			return false;
		t = entry_table(e);
	}
	p = &t[lvl_index(iova, 1)];
	e = pte_peek(p);
	if (amdvi_pte_next_level(e) == AMDVI_NEXT_LEVEL_SIZED)
		return false;
	if (e & AMDVI_PTE_PR) {
		pte_set(p, 0);
		run_drop(pt, t, (unsigned)(p - t), (unsigned)(p - t));
		STAT(u->st, entries_cleared, 1);
		u->bytes = AMDVI_PAGE_SIZE;
		gather_add(g, iova, AMDVI_PAGE_SIZE);
	}
done:
	STAT(u->st, walks, 1);
	return true;
}

/*
 * Tuned unmap when nothing must be split or freed, the common case: go
 * down while the range lies inside one entry and is smaller than it (that
 * entry must be a table), then count and clear the range's entries in one
 * go.
 * Return: true if done; false, with nothing changed, when the general
 * path must run (a leaf straddles an end, a table lies in the range).
 */
static bool unmap_fast(struct iopt *pt, iova_t iova, iova_t last, struct iopt_gather *g,
		       struct unmap_state *u)
{
	uint64_t len = last - iova + 1;
	unsigned level = pt->levels, shift = lvl_shift(level);
	uint64_t *t = pt->root, *p, e0;
	size_t n;

	while (!(len >> shift) && !((iova ^ last) >> shift)) {
		uint64_t e = pde_get(&t[lvl_index(iova, level)]);

		if (!(e & AMDVI_PTE_PR))
			goto done;		/* nothing mapped there */
		if (!entry_is_pde(e, level))
			return false;		/* a larger leaf: split it */
		t = entry_table(e);
		level--;
		shift -= AMDVI_PT_ENTRIES_LG2;
	}
	/* The ends cut entries: split or descend. */
	if ((iova | (last + 1)) & ((1ULL << shift) - 1))
		return false;
	p = t + lvl_index(iova, level);
	n = (size_t)(len >> shift);
	e0 = pte_peek(p);
	if (n == 1) {
		/* One entry, a leaf of exactly its size (a table goes whole, the general way). */
		if ((e0 & AMDVI_PTE_PR) && (entry_is_pde(e0, level) ||
					    amdvi_pte_next_level(e0) == AMDVI_NEXT_LEVEL_SIZED))
			return false;
		if (e0 & AMDVI_PTE_PR) {
			pte_set(p, 0);
			run_drop(pt, t, lvl_index(iova, level), lvl_index(iova, level));
			STAT(u->st, entries_cleared, 1);
			u->bytes = len;
		}
	} else {
		unsigned i0 = lvl_index(iova, level);
		uint64_t e1;

		/* A Next Level = 7 page must not straddle either end. */
		if (amdvi_pte_next_level(e0) == AMDVI_NEXT_LEVEL_SIZED) {
			size_t c0 = (size_t)1 << (amdvi_sized_lg2(e0) - shift);

			if (i0 & (c0 - 1))
				return false;
			if (c0 == n) {
				/*
				 * Exactly one page, what one map of this size wrote.
				 * No run bit to drop: every chunk it touches holds
				 * its Next Level = 7 entries, and a set bit means
				 * none does (1.5..2 ns of a 38 ns unmap of 1 MiB in
				 * the peer harness, where Linux 6.1 takes 36).
				 */
				ptes_fill(p, n, 0);
				STAT(u->st, entries_cleared, n);
				u->bytes = len;
				goto gather;
			}
		}
		if (level > 1 && ptes_have_pde(t, p, n))
			return false;	/* tables inside: descend or free them */
		e1 = pte_peek(p + n - 1);
		if (amdvi_pte_next_level(e1) == AMDVI_NEXT_LEVEL_SIZED &&
		    ((i0 + n) & ((1U << (amdvi_sized_lg2(e1) - shift)) - 1)))
			return false;
		clear_leaves(pt, p, n, level, u);
	}
gather:
	if (u->bytes)
		gather_add(g, iova, len);
done:
	STAT(u->st, walks, 1);
	return true;
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

		STAT(u->st, walks, 1);
		for (;;) {
			unsigned shift = lvl_shift(level);
			unsigned idx = lvl_index(addr, level);
			uint64_t e = pde_get(&t[idx]);
			iova_t es = addr & ~((1ULL << shift) - 1);

			path[level] = t;
			next = es + (1ULL << shift);
			if (!(e & AMDVI_PTE_PR))
				break;
			if (entry_is_pde(e, level)) {
				uint64_t *child = entry_table(e);

				if (es >= iova && next - 1 <= last &&
				    table_empty_from(child, lvl_index(addr, level - 1))) {
					drop_child(pt, u->st, t, level, idx, g);
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
					pte_set(&t[first + i], 0);
				run_drop(pt, t, first, first + count - 1);
				STAT(u->st, entries_cleared, count);
				es &= ~((1ULL << lg2) - 1);
				next = es + (1ULL << lg2);
				u->bytes += 1ULL << lg2;
				gather_add_separate(g, es, 1ULL << lg2);
				idx = first + count - 1;
			}
			/* Free the tables on the path that are now empty. */
			while (level < pt->levels) {
				uint64_t *c = path[level];
				iova_t cb = table_base(addr, level);
				iova_t cl = table_last(addr, level);

				if (!((pt->flags & IOPT_F_RECLAIM) || (cb >= iova && cl <= last)) ||
				    !table_empty_from(c, (idx + 1) & (AMDVI_PT_ENTRIES - 1)))
					break;
				drop_child(pt, u->st, path[level + 1], level + 1,
					   lvl_index(addr, level + 1), g);
				u->freed = true;
				level++;
				idx = lvl_index(addr, level);
			}
			break;
		}
		if (next == 0 || next - 1 >= last)
			break;
		addr = next;
	}
}

/*
 * Every unmap the fast paths leave: split both ends, then clear (tuned) or
 * walk page by page (baseline). Out of line: its frame (the split log,
 * the path) is not set up for the fast paths.
 */
static __attribute__((noinline)) int unmap_general(struct iopt *pt, iova_t iova, iova_t last,
						   struct iopt_gather *g, struct unmap_state *u)
{
	uint64_t len = last - iova + 1;
	struct iopt_path p;
	int ret;

	ret = split_ends(pt, u->st, iova, last, &p);
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
		STAT(u->st, walks, 1);
		unmap_level(pt, t, level, iova, last, g, u);
		/* With RECLAIM, tables above the start that are now empty go too. */
		while ((pt->flags & IOPT_F_RECLAIM) && level < pt->levels &&
		       table_empty_from(t, lvl_index(iova, level))) {
			struct ptpage *d = desc(t);
			uint64_t *parent = d->parent;

			drop_child(pt, u->st, parent, level + 1, d->pidx, g);
			u->freed = true;
			t = parent;
			level++;
		}
		if (u->bytes || u->freed) {
			gather_add(g, iova, len);
			if (u->freed)
				g->pde = true;
		}
	} else {
		unmap_baseline(pt, iova, last, g, u);
		/* Tables went away: their range must drop from the PDE caches. */
		if (u->freed) {
			gather_add_separate(g, iova, len);
			g->pde = true;
		}
	}
	return 0;
}

int iopt_unmap(struct iopt *pt, iova_t iova, uint64_t len,
	       struct iopt_gather *g, uint64_t *unmapped)
{
	struct unmap_state u;
	iova_t last;
	int ret;

	if (!g)
		return -EINVAL;
	ret = check_range(pt, iova, len);
	if (ret)
		return ret;
	last = iova + (len - 1);
	u.bytes = 0;
	u.freed = false;
	u.st = stat_slot(pt);

	if (!(pt->impl == IOPT_IMPL_TUNED && !(pt->flags & IOPT_F_RECLAIM) &&
	      (len == AMDVI_PAGE_SIZE ? unmap_one_4k(pt, iova, g, &u) :
					unmap_fast(pt, iova, last, g, &u)))) {
		ret = unmap_general(pt, iova, last, g, &u);
		if (ret)
			return ret;
	}
	STAT(u.st, unmaps, 1);
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
		uint64_t ea = pte_get(&a[i]), eb = pte_get(&b[i]);

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
	return true;
}

bool iopt_equal(const struct iopt *a, const struct iopt *b)
{
	return a->levels == b->levels && tables_equal(a->root, b->root, a->levels);
}

static uint64_t count_tables(const uint64_t *t, unsigned level)
{
	uint64_t n = 1;

	if (level > 1)
		for (unsigned i = 0; i < AMDVI_PT_ENTRIES; i++) {
			uint64_t e = pte_get(&t[i]);

			if ((e & AMDVI_PTE_PR) && entry_is_pde(e, level))
				n += count_tables(entry_table(e), level - 1);
		}
	return n;
}

uint64_t iopt_count_tables(const struct iopt *pt)
{
	return count_tables(pt->root, pt->levels);
}

static int check_table(const struct iopt *pt, const uint64_t *t, unsigned level,
		       const uint64_t *parent, unsigned pidx)
{
	const struct ptpage *d = desc(t);
	unsigned ntables = 0;

	if (d->level != level || d->parent != parent || (parent && d->pidx != pidx) ||
	    (d->flags & PT_DEAD))
		return -EUCLEAN;
	if (pt->runs && d->run) {
		/* A chunk whose bit is set: every entry a present leaf, not a sized page. */
		for (unsigned i = 0; i < AMDVI_PT_ENTRIES; i++) {
			uint64_t e = pte_get(&t[i]);

			if (!(d->run & (1U << (i >> RUN_CHUNK_LG2))))
				continue;
			if (!(e & AMDVI_PTE_PR) || entry_is_pde(e, level) ||
			    amdvi_pte_next_level(e) == AMDVI_NEXT_LEVEL_SIZED)
				return -EUCLEAN;
		}
	}
	for (unsigned i = 0; i < AMDVI_PT_ENTRIES; i++) {
		uint64_t e = pte_get(&t[i]);

		if (!(e & AMDVI_PTE_PR)) {
			if (e)
				return -EUCLEAN;
			continue;
		}
		if (e & (AMDVI_PTE_RSVD | PTE_SW_ZERO))
			return -EUCLEAN;
		if (level == 1 && amdvi_pte_next_level(e) != AMDVI_NEXT_LEVEL_LEAF &&
		    amdvi_pte_next_level(e) != AMDVI_NEXT_LEVEL_SIZED)
			return -EUCLEAN;
		if (entry_is_pde(e, level)) {
			ntables++;
			if (amdvi_pte_next_level(e) != level - 1)
				return -EUCLEAN;
			if (check_table(pt, entry_table(e), level - 1, t, i))
				return -EUCLEAN;
		} else if (amdvi_pte_next_level(e) == AMDVI_NEXT_LEVEL_SIZED) {
			unsigned lg2 = amdvi_sized_lg2(e);
			unsigned shift = lvl_shift(level);
			unsigned count;

			if (lg2 <= shift || lg2 >= shift + AMDVI_PT_ENTRIES_LG2)
				return -EUCLEAN;
			count = 1U << (lg2 - shift);
			if (pte_get(&t[i & ~(count - 1)]) != e)
				return -EUCLEAN;
		}
	}
	return ntables == d->ntables ? 0 : -EUCLEAN;
}

int iopt_check(const struct iopt *pt)
{
	return check_table(pt, pt->root, pt->levels, NULL, 0);
}

/* ---- reservation, iteration, fingerprint ---------------------------------- */

int iopt_reserve(struct iopt *pt, uint64_t tables)
{
	uint64_t *got = NULL;
	uint64_t n = pt->npool;

	/* The pool is the caller's alone: shared tables allocate as they go. */
	if (pt->flags & IOPT_F_SHARED)
		return -EINVAL;
	/* Top up only: what an earlier call set aside and did not use still counts. */
	for (; n < tables; n++) {
		uint64_t *t = pt->own_pages ? ptpage_alloc() : pt->alloc.alloc(pt->alloc.ctx);

		if (!t || ((uintptr_t)t & (TABLE_BYTES - 1))) {
			if (t)
				page_give_back(pt, t);
			while (got) {
				uint64_t *next = *(uint64_t **)got;

				page_give_back(pt, got);
				got = next;
			}
			STAT(stat_slot(pt), alloc_failures, 1);
			return -ENOMEM;
		}
		*(uint64_t **)t = got;
		got = t;
	}
	while (got) {
		uint64_t *next = *(uint64_t **)got;

		*(uint64_t **)got = pt->pool;
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
		uint64_t *next = *(uint64_t **)pt->pool;

		page_give_back(pt, pt->pool);
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
		uint64_t e = pte_get(&t[i]);
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
	unsigned used = 0;

	for (unsigned i = 0; i < AMDVI_PT_ENTRIES; i++) {
		uint64_t e = pte_get(&t[i]);

		if (!e)
			continue;
		used += (unsigned)(e & AMDVI_PTE_PR);
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
	return (h ^ used) * 0x100000001b3ULL;
}

uint64_t iopt_fingerprint(const struct iopt *pt)
{
	return fp_table(pt->root, pt->levels, 0xcbf29ce484222325ULL);
}
