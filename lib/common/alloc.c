// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <iob/alloc.h>

static _Thread_local long fail_countdown = -1;
static _Thread_local uint64_t calls;
static _Thread_local int64_t live;

static int inject(void)
{
	calls++;
	if (fail_countdown < 0)
		return 0;
	if (fail_countdown-- == 0)
		return 1;
	return 0;
}

void *iob_malloc(size_t n)
{
	void *p;

	if (inject())
		return NULL;
	p = malloc(n ? n : 1);
	if (p)
		live++;
	return p;
}

void *iob_calloc(size_t nmemb, size_t size)
{
	void *p;

	/* Refused here: a sanitizer's calloc() aborts on it instead of failing. */
	if (nmemb && size > SIZE_MAX / nmemb)
		return NULL;
	if (inject())
		return NULL;
	p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p)
		live++;
	return p;
}

void *iob_realloc(void *old, size_t n)
{
	void *p;

	if (inject())
		return NULL;
	p = realloc(old, n ? n : 1);
	if (p && !old)
		live++;
	return p;
}

void *iob_aligned_alloc(size_t align, size_t n)
{
	void *p = NULL;

	if (inject())
		return NULL;
	if (posix_memalign(&p, align, n ? n : 1))
		return NULL;
	live++;
	return p;
}

void *iob_aligned_calloc(size_t align, size_t nmemb, size_t size)
{
	size_t n;
	void *p;

	if (nmemb && size > SIZE_MAX / nmemb)
		return NULL;
	n = nmemb * size;
	p = iob_aligned_alloc(align, n);
	if (p)
		memset(p, 0, n ? n : 1);
	return p;
}

void *iob_zmap(size_t n)
{
	void *p;

	if (inject())
		return NULL;
	p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	live++;
	return p;
}

void iob_zunmap(void *p, size_t n)
{
	if (!p)
		return;
	live--;
	munmap(p, n ? n : 1);
}

void iob_free(void *p)
{
	if (!p)
		return;
	live--;
	free(p);
}

void iob_alloc_untrack(const void *p)
{
	if (p)
		live--;
}

bool iob_alloc_cached(void)
{
	if (inject())
		return false;
	live++;
	return true;
}

void iob_free_cached(void)
{
	live--;
}

void iob_fail_after(long n)
{
	fail_countdown = n;
}

uint64_t iob_alloc_calls(void)
{
	return calls;
}

int64_t iob_alloc_live(void)
{
	return live;
}
