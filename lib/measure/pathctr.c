// SPDX-License-Identifier: GPL-2.0-or-later
#include <pthread.h>
#include <string.h>

#include <iob/alloc.h>
#include <iob/pathctr.h>

struct pathctr_block {
	struct pathctr_rec rec[PATH_NR];
	struct pathctr_block *next;
};

_Thread_local struct pathctr_block *pathctr_tls;
bool pathctr_on = true;

static pthread_mutex_t blocks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pathctr_block *blocks;	/* every thread's, kept after it exits */

static const char *const names[PATH_NR] = {
#define PATHCTR_NAME(name, doc) #name,
	PATHCTR_PATHS(PATHCTR_NAME)
#undef PATHCTR_NAME
};

static const char *const docs[PATH_NR] = {
#define PATHCTR_DOC(name, doc) doc,
	PATHCTR_PATHS(PATHCTR_DOC)
#undef PATHCTR_DOC
};

void pathctr_rec_init(struct pathctr_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->min_cyc = UINT64_MAX;
}

/*
 * Where a thread counts when it cannot get a block of its own: shared, so
 * racy, but a counter must never take the program down, and listed like
 * any block so that what it counts is still summed.
 */
static struct pathctr_block fallback;
static bool fallback_listed;

static struct pathctr_rec *fallback_recs(void)
{
	pthread_mutex_lock(&blocks_lock);
	if (!fallback_listed) {
		for (int i = 0; i < PATH_NR; i++)
			pathctr_rec_init(&fallback.rec[i]);
		fallback.next = blocks;
		blocks = &fallback;
		fallback_listed = true;
	}
	pthread_mutex_unlock(&blocks_lock);
	return fallback.rec;
}

struct pathctr_rec *pathctr_thread_recs(void)
{
	struct pathctr_block *b = pathctr_tls;

	if (__builtin_expect(b != NULL, 1))
		return b->rec;
	b = iob_calloc(1, sizeof(*b));
	if (!b)
		return fallback_recs();
	/* Kept after the thread exits, to be summed: no caller owes a free for it. */
	iob_alloc_untrack(b);
	for (int i = 0; i < PATH_NR; i++)
		pathctr_rec_init(&b->rec[i]);
	pthread_mutex_lock(&blocks_lock);
	b->next = blocks;
	blocks = b;
	pthread_mutex_unlock(&blocks_lock);
	pathctr_tls = b;
	return b->rec;
}

void pathctr_rec_merge(struct pathctr_rec *dst, const struct pathctr_rec *src)
{
	dst->count += src->count;
	dst->total_cyc += src->total_cyc;
	if (src->min_cyc < dst->min_cyc)
		dst->min_cyc = src->min_cyc;
	if (src->max_cyc > dst->max_cyc)
		dst->max_cyc = src->max_cyc;
	for (int i = 0; i < PATHCTR_LOG2_BUCKETS; i++)
		dst->log2[i] += src->log2[i];
}

void pathctr_sum(struct pathctr_rec *out)
{
	for (int i = 0; i < PATH_NR; i++)
		pathctr_rec_init(&out[i]);
	pthread_mutex_lock(&blocks_lock);
	for (struct pathctr_block *b = blocks; b; b = b->next)
		for (int i = 0; i < PATH_NR; i++)
			pathctr_rec_merge(&out[i], &b->rec[i]);
	pthread_mutex_unlock(&blocks_lock);
}

void pathctr_reset(void)
{
	pthread_mutex_lock(&blocks_lock);
	for (struct pathctr_block *b = blocks; b; b = b->next)
		for (int i = 0; i < PATH_NR; i++)
			pathctr_rec_init(&b->rec[i]);
	pthread_mutex_unlock(&blocks_lock);
}

const char *pathctr_name(enum pathctr_path p)
{
	return (unsigned)p < PATH_NR ? names[p] : "?";
}

const char *pathctr_doc(enum pathctr_path p)
{
	return (unsigned)p < PATH_NR ? docs[p] : "?";
}

int pathctr_lookup(const char *name)
{
	for (int i = 0; i < PATH_NR; i++)
		if (!strcmp(name, names[i]))
			return i;
	return -1;
}

int pathctr_enabled(void)
{
	return IOB_PATHCTR;
}

void pathctr_set_enabled(bool on)
{
	pathctr_on = on;
}
