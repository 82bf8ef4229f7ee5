// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The threaded tests of the page table and the DMA domain as a plain
 * program, so that they run in the ThreadSanitizer build (`./run test`
 * builds build-tsan and runs the "threads" suite there): Criterion's
 * runner does not work under ThreadSanitizer (Snaipe/Criterion#274), so
 * the Criterion suites cannot. The same scenarios also run in the
 * ordinary builds, inside test_iopt and test_dmadom.
 *
 *  - iopt: callers on their own ranges of one IOPT_F_SHARED table, each
 *    against its own reference model (iopt_threads.h), and threads racing
 *    to install the same tables;
 *  - dmadom: CPUs mapping and unmapping buffers of their own through one
 *    domain (its table shared without a lock), every access through the
 *    IOMMU model, strict, batched (each CPU ending its own batches) and
 *    lazy; then the counters kept per CPU (IOVA magazines, flush shards),
 *    summed when read, against the same streams run on one thread.
 *
 * Exit status 0 if all pass; a failure prints what, the seed, and exits 1
 * (IOB_TEST_SEED replays the streams). ThreadSanitizer reports races
 * itself (TSAN_OPTIONS=halt_on_error=1 makes the first one fatal).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iob/dmadom.h>

#include "iopt_threads.h"
#include "prng.h"

#define DD_DEV		0x10
#define DD_THREADS	2
#define DD_ROUNDS	4000
#define DD_WINDOW	4096	/* IOVA pages checked for double hand-outs */

struct dd_thread {
	struct dmadom *d;
	struct iommu *mmu;
	unsigned cpu;
	_Atomic uint8_t *owner;
	uint64_t seed;
	unsigned errors, overlaps, wrong;
	uint64_t maps, unmaps;
};

static void *dd_main(void *arg)
{
	struct dd_thread *h = arg;
	struct { iova_t iova; uint64_t len; paddr_t pa; } live[8];
	unsigned nlive = 0;
	struct prng r;

	prng_seed(&r, h->seed);
	for (unsigned i = 0; i < DD_ROUNDS; i++) {
		if (nlive < 8 && (nlive == 0 || prng_below(&r, 2))) {
			/* Now and then 2M, aligned alike: superpages. */
			uint64_t len = prng_below(&r, 8) ? 1 + prng_below(&r, 16 * 4096) : 1ULL << 21;
			paddr_t pa = ((paddr_t)(h->cpu + 1) << 34) +
				     (len == 1ULL << 21 ? 0 : prng_below(&r, 1 << 20));
			iova_t iova;

			if (dmadom_map(h->d, h->cpu, pa, len, IOPT_PROT_RW, &iova)) {
				h->errors++;
				continue;
			}
			for (uint64_t p = iova >> 12; p <= (iova + len - 1) >> 12 && p < DD_WINDOW; p++) {
				uint8_t none = 0;

				if (!atomic_compare_exchange_strong(&h->owner[p], &none,
								    (uint8_t)(h->cpu + 1)))
					h->overlaps++;
			}
			live[nlive].iova = iova;
			live[nlive].len = len;
			live[nlive++].pa = pa;
			h->maps++;
		} else {
			unsigned k = (unsigned)prng_below(&r, nlive);
			struct iommu_xlate x;

			/* The device reaches what this CPU mapped, at both ends. */
			if (iommu_translate(h->mmu, DD_DEV, live[k].iova, IOPT_PROT_WRITE, &x) ||
			    x.pa != live[k].pa ||
			    iommu_translate(h->mmu, DD_DEV, live[k].iova + live[k].len - 1,
					    IOPT_PROT_READ, &x) ||
			    x.pa != live[k].pa + live[k].len - 1)
				h->wrong++;
			for (uint64_t p = live[k].iova >> 12;
			     p <= (live[k].iova + live[k].len - 1) >> 12 && p < DD_WINDOW; p++)
				atomic_store(&h->owner[p], 0);
			if (dmadom_unmap(h->d, h->cpu, live[k].iova, live[k].len))
				h->errors++;
			h->unmaps++;
			live[k] = live[--nlive];
		}
		if (!(i % 16))
			flush_batch_end_cpu(dmadom_flush(h->d), h->cpu);
		if (!(i % 64))
			flush_poll(dmadom_flush(h->d), h->cpu);
	}
	while (nlive) {
		nlive--;
		for (uint64_t p = live[nlive].iova >> 12;
		     p <= (live[nlive].iova + live[nlive].len - 1) >> 12 && p < DD_WINDOW; p++)
			atomic_store(&h->owner[p], 0);
		if (dmadom_unmap(h->d, h->cpu, live[nlive].iova, live[nlive].len))
			h->errors++;
		h->unmaps++;
	}
	return NULL;
}

/* What the domain counted, every CPU's share added up when read. */
struct dd_counts {
	uint64_t maps, unmaps;		/* what the threads did */
	struct iova_stats iv;
	struct flush_stats fl;
};

/*
 * The counters kept per CPU add up to what was done, and to what the same
 * streams count when one thread runs them one after the other.
 */
static int dd_counts_check(const struct dd_counts *c, const struct dd_counts *one,
			   enum flush_mode mode, uint64_t seed, char *err, size_t errlen)
{
	const char *m = flush_mode_name(mode);
	unsigned long long sd = (unsigned long long)seed;

	if (c->iv.allocs != c->maps || c->iv.frees != c->unmaps ||
	    c->iv.rcache_hits + c->iv.tree_allocs != c->iv.allocs)
		return th_fail(err, errlen, "seed=0x%llx %s: IOVA counters: %llu allocs (%llu "
			       "from magazines, %llu from the tree) for %llu maps, %llu frees for "
			       "%llu unmaps", sd, m,
			       (unsigned long long)c->iv.allocs, (unsigned long long)c->iv.rcache_hits,
			       (unsigned long long)c->iv.tree_allocs, (unsigned long long)c->maps,
			       (unsigned long long)c->iv.frees, (unsigned long long)c->unmaps);
	if (c->fl.unmaps != c->unmaps || c->fl.released != c->unmaps || c->fl.pending ||
	    c->fl.exposure_ops.count != c->unmaps)
		return th_fail(err, errlen, "seed=0x%llx %s: flush counters: %llu unmaps, %llu "
			       "released, %llu pending, %llu exposures for %llu unmaps", sd, m,
			       (unsigned long long)c->fl.unmaps, (unsigned long long)c->fl.released,
			       (unsigned long long)c->fl.pending,
			       (unsigned long long)c->fl.exposure_ops.count,
			       (unsigned long long)c->unmaps);
	if (c->maps != one->maps || c->unmaps != one->unmaps || c->iv.allocs != one->iv.allocs ||
	    c->iv.frees != one->iv.frees || c->fl.unmaps != one->fl.unmaps ||
	    c->fl.released != one->fl.released || c->fl.pages_released != one->fl.pages_released)
		return th_fail(err, errlen, "seed=0x%llx %s: two threads counted %llu allocs, %llu "
			       "frees, %llu unmaps, %llu pages released; one thread %llu, %llu, "
			       "%llu, %llu", sd, m,
			       (unsigned long long)c->iv.allocs, (unsigned long long)c->iv.frees,
			       (unsigned long long)c->fl.unmaps,
			       (unsigned long long)c->fl.pages_released,
			       (unsigned long long)one->iv.allocs, (unsigned long long)one->iv.frees,
			       (unsigned long long)one->fl.unmaps,
			       (unsigned long long)one->fl.pages_released);
	if (mode == FLUSH_STRICT && (c->fl.completion_waits != c->unmaps ||
				     c->fl.completion_waits != one->fl.completion_waits))
		return th_fail(err, errlen, "seed=0x%llx strict: %llu completion waits for %llu "
			       "unmaps (one thread: %llu)", sd,
			       (unsigned long long)c->fl.completion_waits,
			       (unsigned long long)c->unmaps,
			       (unsigned long long)one->fl.completion_waits);
	return 0;
}

/*
 * DD_THREADS CPUs on one domain, on threads of their own (@threaded) or
 * one after the other on this thread; their counts into @c.
 */
static int dd_run(enum flush_mode mode, uint64_t seed, bool threaded, struct dd_counts *c,
		  char *err, size_t errlen)
{
	struct iommu_cfg mc = {
		.tlb = { .entries = IOTLB_DEFAULT_ENTRIES, .ways = IOTLB_DEFAULT_WAYS,
			 .pde_entries = IOTLB_DEFAULT_PDE_ENTRIES, .pde_ways = IOTLB_DEFAULT_PDE_WAYS },
		.shared = true,
		.cpu = -1,
	};
	struct dmadom_cfg dc = {
		.devid = DD_DEV,
		.domid = 5,
		.pt = { .levels = 4 },
		.iova = { .granule_lg2 = 12, .start = 4096, .limit = 1ULL << 32, .rcache = true,
			  .ncpus = DD_THREADS },
		.flush = { .mode = mode, .policy = INVAL_MERGED, .ncpus = DD_THREADS },
	};
	_Atomic uint8_t *owner = calloc(DD_WINDOW, sizeof(*owner));
	struct dd_thread h[DD_THREADS];
	pthread_t tid[DD_THREADS];
	struct iommu *mmu;
	struct dmadom *d;
	int ret = 0;

	if (!owner || iommu_create(&mc, &mmu))
		return th_fail(err, errlen, "setup");
	dc.mmu = mmu;
	if (dmadom_create(&dc, &d))
		return th_fail(err, errlen, "dmadom_create");
	if (!(iopt_flags(dmadom_iopt(d)) & IOPT_F_SHARED))
		ret = th_fail(err, errlen, "the domain's table is not shared");
	for (unsigned i = 0; i < DD_THREADS; i++) {
		h[i] = (struct dd_thread){ .d = d, .mmu = mmu, .cpu = i, .owner = owner,
					   .seed = seed + i };
		if (threaded)
			pthread_create(&tid[i], NULL, dd_main, &h[i]);
		else
			dd_main(&h[i]);
	}
	for (unsigned i = 0; threaded && i < DD_THREADS; i++)
		pthread_join(tid[i], NULL);
	flush_batch_end(dmadom_flush(d));
	flush_sync(dmadom_flush(d));
	memset(c, 0, sizeof(*c));
	for (unsigned i = 0; i < DD_THREADS; i++) {
		c->maps += h[i].maps;
		c->unmaps += h[i].unmaps;
	}
	iova_stats_get(dmadom_iova(d), &c->iv);
	flush_stats_get(dmadom_flush(d), &c->fl);
	for (unsigned i = 0; i < DD_THREADS && !ret; i++)
		if (h[i].errors || h[i].overlaps || h[i].wrong)
			ret = th_fail(err, errlen, "seed=0x%llx %s: CPU %u: %u calls failed, %u pages "
				      "handed out twice, %u accesses reached the wrong page",
				      (unsigned long long)seed, flush_mode_name(mode), i, h[i].errors,
				      h[i].overlaps, h[i].wrong);
	if (!ret && iopt_check(dmadom_iopt(d)))
		ret = th_fail(err, errlen, "%s: iopt_check", flush_mode_name(mode));
	dmadom_destroy(d);
	iommu_destroy(mmu);
	free((void *)owner);
	return ret;
}

static int dd_threads(enum flush_mode mode, char *err, size_t errlen)
{
	/* Large (histograms): kept out of the stack. */
	static struct dd_counts two, one;
	uint64_t seed = test_seed(0xdd00 + mode);
	int ret = dd_run(mode, seed, true, &two, err, errlen);

	if (!ret)
		ret = dd_run(mode, seed, false, &one, err, errlen);
	if (!ret)
		ret = dd_counts_check(&two, &one, mode, seed, err, errlen);
	return ret;
}

int main(void)
{
	char err[512];
	int failed = 0;

	for (unsigned i = 0; i < TH_NCFGS; i++) {
		int ret = th_run_cfg(&th_cfgs[i], err, sizeof(err));

		printf("%s iopt shared table, configuration %u%s%s\n", ret ? "FAIL" : "ok  ", i,
		       ret ? ": " : "", ret ? err : "");
		failed |= ret;
	}
	failed |= th_race(1000, err, sizeof(err));
	printf("%s iopt threads installing the same tables%s%s\n", failed ? "FAIL" : "ok  ",
	       failed ? ": " : "", failed ? err : "");
	for (enum flush_mode m = FLUSH_STRICT; m <= FLUSH_LAZY; m++) {
		int ret = dd_threads(m, err, sizeof(err));

		printf("%s dmadom, %u CPUs, %s%s%s\n", ret ? "FAIL" : "ok  ", DD_THREADS,
		       flush_mode_name(m), ret ? ": " : "", ret ? err : "");
		failed |= ret;
	}
	return failed ? 1 : 0;
}
