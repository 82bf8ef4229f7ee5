/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * alloc: the heap as lib/ uses it, with a failure-injection point. Every
 * allocation on a hypercall path (hypervisor model, strategies, IOVA
 * allocator, page tables by default) goes through here, so a test can make
 * the N-th one fail and check that the call returned an error, changed
 * nothing and leaked nothing.
 *
 * Injection and the live count are per thread.
 */
#ifndef IOB_ALLOC_H
#define IOB_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *iob_malloc(size_t n);
void *iob_calloc(size_t nmemb, size_t size);
void *iob_realloc(void *p, size_t n);
/* @align a power of two >= sizeof(void *); free with iob_free(). */
void *iob_aligned_alloc(size_t align, size_t n);
/* Zeroed and aligned, for per-CPU arrays whose elements own their cache lines. */
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

/* Per-CPU structures start on a line of their own, so CPUs never share one. */
#define IOB_CACHELINE	64
void iob_free(void *p);

/*
 * iob_fail_after() - Make the (@n + 1)-th allocation from now fail, and
 * only that one (@n = 0: the next). Negative: no injection.
 */
void iob_fail_after(long n);
/* Allocations made on this thread so far (for walking every site). */
uint64_t iob_alloc_calls(void);
/* Allocations not yet freed on this thread (free on another thread skews it). */
int64_t iob_alloc_live(void);

#endif /* IOB_ALLOC_H */
