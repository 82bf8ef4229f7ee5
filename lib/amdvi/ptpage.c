// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Table pages: a page cache that only grows, and descriptors kept beside
 * the pages (see ptpage.h for why).
 *
 * Directory: dir[va >> 30] points to 512 block pointers (one per 2 MiB),
 * each to 512 descriptors. Lookups take no lock (acquire loads); a missing
 * level is installed with compare-and-swap, the loser frees its copy.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#include <iob/alloc.h>
#include <iob/ptpage.h>

#define CHUNK_BYTES	((uintptr_t)PTPAGE_CHUNK_PAGES * PTPAGE_BYTES)
#define DIR_TOP_LG2	PTPAGE_DIR_TOP_LG2
#define DIR_TOP_N	(1UL << (PTPAGE_VA_LG2 - DIR_TOP_LG2))
#define MID_BYTES	(512 * sizeof(struct ptpage *))
#define BLOCK_BYTES	(PTPAGE_CHUNK_PAGES * sizeof(struct ptpage))

_Static_assert(sizeof(struct ptpage) == 32, "a descriptor is 32 bytes (0.8 % of a page)");

/* The top level: 1 MiB of pointers in .bss, touched only where used. */
struct ptpage **ptpage_dir[DIR_TOP_N];
static uint64_t n_mid, n_blocks;		/* atomics: directory memory */

static struct {
	pthread_mutex_t lock;
	void *free;		/* free pages, linked through their first word */
	char *fresh, *fresh_end;	/* the newest chunk's pages never handed out */
	uint64_t chunks, out, cached;
} cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

static inline uint64_t uload(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/*
 * Memory for the life of the process, from the system as a page
 * allocator takes it (zeroed), not from the heap: the heap's allocations
 * are failure-injection points, and whether a call needs a new chunk
 * depends on what ran before it, not on the call.
 */
static void *sys_zalloc(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* One directory level at *@slot, installed unless another thread did first. */
static void *level_get(void **slot, size_t bytes, uint64_t *count)
{
	void *cur = __atomic_load_n(slot, __ATOMIC_ACQUIRE), *fresh;

	if (cur)
		return cur;
	fresh = sys_zalloc(bytes);
	if (!fresh)
		return NULL;
	if (!__atomic_compare_exchange_n(slot, &cur, fresh, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		munmap(fresh, bytes);
		return cur;
	}
	__atomic_fetch_add(count, 1, __ATOMIC_RELAXED);
	return fresh;
}

struct ptpage *ptpage_attach(const void *page)
{
	uintptr_t va = (uintptr_t)page;
	struct ptpage **mid, *blk;

	if (!page || (va & (PTPAGE_BYTES - 1)) || (va >> PTPAGE_VA_LG2))
		return NULL;
	mid = level_get((void **)&ptpage_dir[va >> DIR_TOP_LG2], MID_BYTES, &n_mid);
	if (!mid)
		return NULL;
	blk = level_get((void **)&mid[(va >> 21) & 511], BLOCK_BYTES, &n_blocks);
	return blk ? &blk[(va >> 12) & 511] : NULL;
}

/*
 * A new 2 MiB chunk, aligned so that it is one descriptor block and, where
 * the kernel allows, one huge page. Called with the lock held.
 */
static bool chunk_add(void)
{
	char *m = sys_zalloc(2 * CHUNK_BYTES), *c;
	uintptr_t pad;

	if (!m)
		return false;
	c = (char *)(((uintptr_t)m + CHUNK_BYTES - 1) & ~(CHUNK_BYTES - 1));
	pad = (uintptr_t)(c - m);
	if (pad)
		munmap(m, pad);
	munmap(c + CHUNK_BYTES, CHUNK_BYTES - pad);
	if (!ptpage_attach(c)) {
		munmap(c, CHUNK_BYTES);
		return false;
	}
	/* Page-table walks by the model touch tables all over: one TLB entry. */
	madvise(c, CHUNK_BYTES, MADV_HUGEPAGE);
	cache.fresh = c;
	cache.fresh_end = c + CHUNK_BYTES;
	cache.chunks++;
	return true;
}

void *ptpage_alloc(void)
{
	void *p = NULL;

	/* A page counts as an allocation: tests make the N-th one fail. */
	if (!iob_alloc_cached())
		return NULL;
	pthread_mutex_lock(&cache.lock);
	if (cache.free) {
		p = cache.free;
		cache.free = *(void **)p;
		cache.cached--;
	} else if (cache.fresh != cache.fresh_end || chunk_add()) {
		p = cache.fresh;
		cache.fresh += PTPAGE_BYTES;
	}
	if (p)
		cache.out++;
	pthread_mutex_unlock(&cache.lock);
	if (!p)
		iob_free_cached();
	return p;
}

void ptpage_free(void *page)
{
	if (!page)
		return;
	pthread_mutex_lock(&cache.lock);
	*(void **)page = cache.free;
	cache.free = page;
	cache.cached++;
	cache.out--;
	pthread_mutex_unlock(&cache.lock);
	iob_free_cached();
}

void ptpage_stats_get(struct ptpage_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&cache.lock);
	out->chunks = cache.chunks;
	out->pages_out = cache.out;
	out->pages_cached = cache.cached + (uint64_t)(cache.fresh_end - cache.fresh) / PTPAGE_BYTES;
	pthread_mutex_unlock(&cache.lock);
	out->desc_blocks = uload(&n_blocks);
	out->desc_bytes = out->desc_blocks * BLOCK_BYTES + uload(&n_mid) * MID_BYTES;
}
