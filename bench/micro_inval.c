// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob micro inval: what each range policy sends for a stream of unmaps.
 * Unmaps are gathered B at a time the way Linux's iotlb_gather does it
 * (adjacent ranges merge, a disjoint one sends what is pending first);
 * each range sent becomes commands under exact, merged and xen. Reported:
 * commands per MiB unmapped, bytes invalidated per byte unmapped, "all
 * pages" flushes, and the software time of the policy decision.
 *
 * Streams: ring (a NIC ring of 4 KiB buffers unmapped in order, wrapping
 * in 2 MiB), random (single pages anywhere in 1 GiB), sg (block requests
 * of 64 KiB to 1 MiB at random aligned places in 4 GiB).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <iob/inval.h>
#include <iob/iopt.h>

#include "bench.h"
#include "util.h"

enum { STREAM_RING, STREAM_RANDOM, STREAM_SG, STREAM_NR };
static const char *const stream_names[STREAM_NR] = { "ring", "random", "sg" };

struct inval_opts {
	uint64_t batches[8];
	unsigned nbatches;
	uint64_t unmaps;
	bool streams[STREAM_NR];
	uint64_t space_lg2;
};

static void inval_defaults(void *opts)
{
	struct inval_opts *o = opts;

	memset(o, 0, sizeof(*o));
	o->batches[0] = 1;
	o->batches[1] = 16;
	o->batches[2] = 64;
	o->nbatches = 3;
	o->unmaps = 100000;
	for (int i = 0; i < STREAM_NR; i++)
		o->streams[i] = true;
	o->space_lg2 = 48;
}

static int inval_set(void *opts, const char *key, const char *val, char *err, size_t len)
{
	struct inval_opts *o = opts;

	if (!strcmp(key, "batches"))
		return opt_u64_list(val, 1, 4096, o->batches, 8, &o->nbatches, err, len);
	if (!strcmp(key, "unmaps"))
		return opt_u64(val, 100, 100000000, &o->unmaps, err, len);
	if (!strcmp(key, "space_lg2"))
		return opt_u64(val, 39, 64, &o->space_lg2, err, len);
	if (!strcmp(key, "streams")) {
		bool any = false;

		for (int i = 0; i < STREAM_NR; i++)
			any |= o->streams[i] = strstr(val, stream_names[i]) != NULL;
		if (!any) {
			snprintf(err, len, "'%s' names none of ring, random, sg", val);
			return -EINVAL;
		}
		return 0;
	}
	snprintf(err, len, "unknown option '%s'", key);
	return -EINVAL;
}

static double inval_estimate(const void *opts)
{
	const struct inval_opts *o = opts;

	return STREAM_NR * o->nbatches * (double)o->unmaps * INVAL_POLICY_NR * 120e-9 + 0.05;
}

struct inval_acc {
	enum inval_policy policy;
	unsigned space_lg2;
	uint64_t cmds, over, whole, ranges;
	struct hist *decide;
};

static void acc_flush(void *ctx, iova_t iova, uint64_t size, bool pde)
{
	struct inval_acc *a = ctx;
	struct inval_result r;
	uint64_t t0, t1;

	(void)pde;
	t0 = cycles_now();
	inval_split(a->policy, iova, size, a->space_lg2, &r);
	t1 = cycles_end();
	bench_record(a->decide, t0, t1);
	a->cmds += r.nblocks;
	a->over = a->over + r.over_bytes < a->over ? UINT64_MAX : a->over + r.over_bytes;
	a->whole += r.whole_domain;
	a->ranges++;
}

static inline uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void next_unmap(int stream, uint64_t i, uint64_t *rng, iova_t *iova, uint64_t *size)
{
	switch (stream) {
	case STREAM_RING:
		*iova = (1ULL << 32) + (i % 512) * 4096;
		*size = 4096;
		break;
	case STREAM_RANDOM:
		*iova = (1ULL << 32) + (xs(rng) % (1ULL << 18)) * 4096;
		*size = 4096;
		break;
	default: {
		unsigned lg2 = 16 + (unsigned)(xs(rng) % 5);	/* 64K .. 1M */

		*size = 1ULL << lg2;
		*iova = (1ULL << 32) + (xs(rng) % ((4ULL << 30) >> lg2)) * *size;
		break;
	}
	}
}

static int inval_run(struct bench_ctx *ctx, const void *opts, struct csv *csv,
		     struct csv *cdf)
{
	const struct inval_opts *o = opts;
	static struct hist decide;
	uint64_t n = (uint64_t)((double)o->unmaps * ctx->scale);
	unsigned total = 0, done = 0;

	(void)cdf;
	if (n < 100)
		n = 100;
	for (int s = 0; s < STREAM_NR; s++)
		total += o->streams[s] * o->nbatches * INVAL_POLICY_NR;
	if (ctx->table)
		fprintf(ctx->table, "%-7s %6s %-7s %12s %14s %10s %10s\n", "stream", "batch",
			"policy", "cmds/MiB", "inval/unmapped", "all-flush", "decide_ns");
	for (int s = 0; s < STREAM_NR; s++) {
		if (!o->streams[s])
			continue;
		for (unsigned bi = 0; bi < o->nbatches; bi++) {
			for (int p = 0; p < INVAL_POLICY_NR; p++) {
				struct inval_acc a = { .policy = p, .space_lg2 = (unsigned)o->space_lg2,
						       .decide = &decide };
				uint64_t rng = ctx->seed * 0x9e3779b97f4a7c15ULL + 1, bytes = 0;
				struct iopt_gather g;
				double mib, per_byte;

				hist_init(&decide);
				iopt_gather_init(&g, acc_flush, &a);
				for (uint64_t i = 0; i < n; i++) {
					iova_t iova;
					uint64_t size;

					next_unmap(s, i, &rng, &iova, &size);
					iopt_gather_add(&g, iova, size);
					bytes += size;
					if ((i + 1) % o->batches[bi] == 0)
						iopt_gather_flush(&g);
				}
				iopt_gather_flush(&g);
				mib = (double)bytes / (1 << 20);
				per_byte = a.over == UINT64_MAX ? -1 :
					   1.0 + (double)a.over / (double)bytes;
				if (csv)
					csv_row(csv, "%s,%llu,%s,%llu,%llu,%llu,%.3f,%.6f,%llu,%llu,%.3f",
						stream_names[s], (unsigned long long)o->batches[bi],
						inval_policy_name(p), (unsigned long long)n,
						(unsigned long long)bytes, (unsigned long long)a.cmds,
						a.cmds / mib, per_byte, (unsigned long long)a.whole,
						(unsigned long long)a.ranges, bench_p50_ns(&decide, 1));
				if (ctx->table)
					fprintf(ctx->table, "%-7s %6llu %-7s %12.1f %14.4g %10llu %10.1f\n",
						stream_names[s], (unsigned long long)o->batches[bi],
						inval_policy_name(p), a.cmds / mib, per_byte,
						(unsigned long long)a.whole, bench_p50_ns(&decide, 1));
				bench_progress(ctx, (double)++done / total);
			}
		}
	}
	return 0;
}

static const struct family_key inval_keys[] = {
	{ "streams", "ring, random, sg (any of them, comma separated)" },
	{ "batches", "unmaps gathered per flush: 1,16,64" },
	{ "unmaps", "unmaps per stream and point (100000)" },
	{ "space_lg2", "domain address space for 'all pages' accounting (48)" },
	{ NULL, NULL },
};

const struct family family_inval = {
	.name = "inval",
	.summary = "invalidation commands and bytes per byte unmapped, per range policy",
	.keys = inval_keys,
	.opts_size = sizeof(struct inval_opts),
	.defaults = inval_defaults,
	.set = inval_set,
	.estimate_s = inval_estimate,
	.csv_name = "inval.csv",
	.figure = "decide_p50_ns",
	.key = "stream,batch_unmaps,policy",
	.csv_cols = "stream,batch_unmaps,policy,unmaps,unmapped_bytes,inv_cmds,cmds_per_mib,"
		    "inval_bytes_per_unmapped_byte,whole_domain_flushes,ranges_sent,decide_p50_ns",
	.run = inval_run,
};
