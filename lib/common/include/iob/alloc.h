/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * alloc: the heap as lib/ uses it, with a failure-injection point. Every
 * allocation in lib/ goes through here, so a test can make the N-th one
 * fail and check that the call returned -ENOMEM, changed nothing and
 * leaked nothing (tests/test_hv.c, fail_each_allocation(), shows the
 * pattern: n = 0, 1, 2, ... until the call succeeds).
 *
 * Names: iob_ for the heap, as the kernel has kmalloc() beside malloc():
 * a module prefix "alloc_" would read as a verb.
 *
 * Injection and the counts are per thread: a test's injection never hits
 * another thread (an IOMMU consumer thread, say), and the live count is
 * exact as long as what a thread allocates is freed on that thread.
 */
#ifndef IOB_ALLOC_H
#define IOB_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Per-CPU structures start on a line of their own, so CPUs never share one. */
#define IOB_CACHELINE	64

/**
 * iob_malloc() - malloc(3), or NULL when this allocation is the injected
 * failure.
 * @n: bytes; 0 allocates one byte (never NULL for lack of size)
 *
 * Return: the memory (free with iob_free()), or NULL.
 */
void *iob_malloc(size_t n);

/**
 * iob_calloc() - calloc(3), or NULL when this allocation is the injected
 * failure.
 * @nmemb: elements
 * @size:  bytes each; a zero count or size allocates one byte
 *
 * Return: zeroed memory (free with iob_free()), or NULL (injected
 * failure, no memory, or @nmemb * @size overflowing; an overflow is
 * refused before it counts as an allocation).
 */
void *iob_calloc(size_t nmemb, size_t size);

/**
 * iob_realloc() - realloc(3), or NULL when this allocation is the injected
 * failure.
 * @p: memory from this allocator, or NULL (then it is iob_malloc())
 * @n: new size in bytes; 0 keeps one byte (never frees)
 *
 * Return: the memory, moved or not; NULL on failure, and @p is then
 * still valid and unchanged.
 */
void *iob_realloc(void *p, size_t n);

/**
 * iob_aligned_alloc() - Memory aligned to @align, or NULL when this
 * allocation is the injected failure.
 * @align: a power of two, at least sizeof(void *)
 * @n:     bytes; 0 allocates one byte
 *
 * Return: the memory (free with iob_free()), or NULL.
 */
void *iob_aligned_alloc(size_t align, size_t n);

/**
 * iob_aligned_calloc() - Zeroed and aligned memory, for per-CPU arrays
 * whose elements own their cache lines, rings and tables that hardware
 * wants aligned.
 * @align: a power of two, at least sizeof(void *)
 * @nmemb: elements
 * @size:  bytes each
 *
 * Return: the memory (free with iob_free()), or NULL (injected failure,
 * no memory, or @nmemb * @size overflowing; an overflow is refused before
 * it counts as an allocation).
 */
void *iob_aligned_calloc(size_t align, size_t nmemb, size_t size);

/**
 * iob_zmap() - Zeroed bytes straight from the kernel, backed only where
 * touched, whatever the heap's debugging options (MALLOC_PERTURB_ would
 * make calloc() write every byte): model memory of a machine's size.
 * Counted and failed like the other allocations.
 * @n: bytes
 *
 * Return: the memory, or NULL (-ENOMEM).
 */
void *iob_zmap(size_t n);

/**
 * iob_zunmap() - Give back what iob_zmap() returned.
 * @p: the memory, or NULL
 * @n: the size it was asked for
 */
void iob_zunmap(void *p, size_t n);

/**
 * iob_free() - Free memory from any of the allocators above.
 * @p: the memory, or NULL (nothing to do)
 */
void iob_free(void *p);

/**
 * iob_alloc_untrack() - Stop counting @p in iob_alloc_live(): it was
 * allocated on purpose for the life of the process (pathctr's per-thread
 * records, summed after their thread exits) and nobody owes a free for it.
 * @p: memory just allocated on this thread, never to be passed to
 *     iob_free(); NULL does nothing
 */
void iob_alloc_untrack(const void *p);

/**
 * iob_alloc_cached() - Count an allocation that a cache of the library's
 * own serves (ptpage's table pages) as the heap's are counted: a
 * failure-injection point, and live until iob_free_cached().
 *
 * Return: true if it may go ahead; false when it is the injected failure.
 */
bool iob_alloc_cached(void);

/**
 * iob_free_cached() - Count a free back into such a cache.
 */
void iob_free_cached(void);

/**
 * iob_fail_after() - Make the (@n + 1)-th allocation from now on this
 * thread fail, and only that one.
 * @n: 0 fails the next allocation; negative turns injection off
 */
void iob_fail_after(long n);

/**
 * iob_alloc_calls() - Allocations attempted on this thread so far, failed
 * ones included: the difference around a call says how many sites it
 * reached.
 *
 * Return: the count.
 */
uint64_t iob_alloc_calls(void);

/**
 * iob_alloc_live() - Allocations made on this thread and not yet freed
 * (a free on another thread lowers that thread's count instead).
 *
 * Return: the count; equal before and after a call that failed, or that
 * freed all it took.
 */
int64_t iob_alloc_live(void);

#endif /* IOB_ALLOC_H */
