// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob micro cmdq: a batch of INVALIDATE_IOMMU_PAGES commands, then one
 * COMPLETION_WAIT, timed until the wait's store is seen, by batch size.
 *
 *  - inline: the IOMMU model runs on the submitting thread inside the
 *    wait; its cycles are measured apart, so the driver's own cost (encode,
 *    ring write, doorbell, poll) is reported beside the total;
 *  - thread: the model consumes on another CPU, so the round trip includes
 *    two cache-line transfers each way, as with a real IOMMU polling memory.
 *
 * Modeled hardware time for the batch comes from the cost model.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iob/iommu.h>

#include "bench.h"
#include "util.h"

struct cmdq_opts {
	uint64_t batches[16];
	unsigned nbatches;
	uint64_t rounds;
	bool inl, thread;
	uint64_t ring;
};

static void cmdq_defaults(void *opts)
{
	struct cmdq_opts *o = opts;

	memset(o, 0, sizeof(*o));
	for (unsigned i = 0; i < 9; i++)
		o->batches[i] = 1ULL << i;	/* 1 .. 256 */
	o->nbatches = 9;
	o->rounds = 2000;
	o->inl = o->thread = true;
	o->ring = CMDQ_ENTRIES_LINUX;
}

static int cmdq_set(void *opts, const char *key, const char *val, char *err, size_t len)
{
	struct cmdq_opts *o = opts;

	if (!strcmp(key, "batches"))
		return opt_u64_list(val, 1, 4096, o->batches, 16, &o->nbatches, err, len);
	if (!strcmp(key, "rounds"))
		return opt_u64(val, 10, 10000000, &o->rounds, err, len);
	if (!strcmp(key, "ring")) {
		if (opt_u64(val, CMDQ_ENTRIES_MIN, CMDQ_ENTRIES_MAX, &o->ring, err, len))
			return -EINVAL;
		if (o->ring & (o->ring - 1)) {
			snprintf(err, len, "%s is not a power of two", val);
			return -EINVAL;
		}
		return 0;
	}
	if (!strcmp(key, "modes")) {
		o->inl = strstr(val, "inline") != NULL;
		o->thread = strstr(val, "thread") != NULL;
		if (!o->inl && !o->thread) {
			snprintf(err, len, "'%s' names neither inline nor thread", val);
			return -EINVAL;
		}
		return 0;
	}
	snprintf(err, len, "unknown option '%s'", key);
	return -EINVAL;
}

static double cmdq_estimate(const void *opts)
{
	const struct cmdq_opts *o = opts;
	double cmds = 0;

	for (unsigned i = 0; i < o->nbatches; i++)
		cmds += (double)o->batches[i] + 1;
	return (o->inl + o->thread) * (double)o->rounds * (cmds * 150e-9 + 2e-6) + 0.05;
}

static int cmdq_run(struct bench_ctx *ctx, const void *opts, struct csv *csv,
		    struct csv *cdf)
{
	const struct cmdq_opts *o = opts;
	static struct hist tot, drv;
	unsigned rounds = (unsigned)((double)o->rounds * ctx->scale);
	unsigned done = 0, total = (o->inl + o->thread) * o->nbatches;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct amdvi_cmd *cmds;
	char lat[256];

	if (rounds < 10)
		rounds = 10;
	cmds = calloc(4096, sizeof(*cmds));
	if (!cmds)
		run_error("out of memory");
	if (ctx->table)
		fprintf(ctx->table, "%-7s %6s %12s %12s %12s\n", "mode", "batch", "total_ns",
			"driver_ns", "model_hw_ns");
	for (int mode = 0; mode < 2; mode++) {
		struct iommu_cfg mc = {
			.cmdq_entries = (unsigned)o->ring,
			.threaded = mode == 1,
			/* The consumer on another CPU than ours, if there is one. */
			.cpu = mode == 1 && ncpu > 1 ? (int)((ctx->cpu + 1) % ncpu) : -1,
		};
		struct iommu *mmu;

		if ((mode == 0 && !o->inl) || (mode == 1 && !o->thread))
			continue;
		iotlb_cfg_default(NULL, &mc.tlb);
		if (iommu_create(&mc, &mmu))
			run_error("cmdq: cannot create the IOMMU model");
		for (unsigned bi = 0; bi < o->nbatches; bi++) {
			unsigned b = (unsigned)o->batches[bi];
			struct iommu_stats s0, s1;

			for (unsigned i = 0; i < b; i++)
				cmdq_enc_inv_iommu_pages(&cmds[i], 1, (uint64_t)i << 12, false, false);
			hist_init(&tot);
			hist_init(&drv);
			for (unsigned w = 0; w < 50; w++) {
				cmdq_submit(iommu_cmdq(mmu), cmds, b);
				iommu_completion_wait(mmu);
			}
			iommu_stats_get(mmu, &s0);
			for (unsigned r = 0; r < rounds; r++) {
				uint64_t x0 = iommu_thread_exec_cyc(), t0, t1, x;

				t0 = cycles_now();
				cmdq_submit(iommu_cmdq(mmu), cmds, b);
				iommu_completion_wait(mmu);
				t1 = cycles_end();
				x = iommu_thread_exec_cyc() - x0;
				bench_record(&tot, t0, t1);
				bench_record(&drv, t0, t1 - x);
			}
			iommu_stats_get(mmu, &s1);

			double hw = (s1.model_cmd_ns - s0.model_cmd_ns) / rounds;
			const char *mname = mode ? "thread" : "inline";

			if (csv)
				csv_row(csv, "%s,%u,%s,%.3f,%.3f,%.1f", mname, b,
					bench_lat_fields(&tot, 1, lat, sizeof(lat)),
					bench_p50_ns(&drv, 1), bench_p50_ns(&tot, 1) / (b + 1), hw);
			if (cdf) {
				char key[64];

				snprintf(key, sizeof(key), "%s,%u", mname, b);
				bench_write_cdf(cdf, key, &tot, 1);
			}
			if (ctx->table)
				fprintf(ctx->table, "%-7s %6u %12.1f %12.1f %12.1f\n", mname, b,
					bench_p50_ns(&tot, 1),
					mode ? bench_p50_ns(&tot, 1) : bench_p50_ns(&drv, 1), hw);
			bench_progress(ctx, (double)++done / total);
		}
		iommu_destroy(mmu);
	}
	free(cmds);
	return 0;
}

static const struct family_key cmdq_keys[] = {
	{ "batches", "invalidations per completion wait: 1,2,4,...,256" },
	{ "rounds", "timed round trips per batch size (2000)" },
	{ "modes", "inline, thread, or inline,thread" },
	{ "ring", "command ring entries, power of two 256..32768 (512)" },
	{ NULL, NULL },
};

const struct family family_cmdq = {
	.name = "cmdq",
	.summary = "submit + completion-wait round trip by batch size, inline and cross-thread",
	.keys = cmdq_keys,
	.opts_size = sizeof(struct cmdq_opts),
	.defaults = cmdq_defaults,
	.set = cmdq_set,
	.estimate_s = cmdq_estimate,
	.csv_name = "cmdq.csv",
	.figure = "p50_ns",
	.key = "mode,batch_cmds",
	.csv_cols = "mode,batch_cmds," BENCH_LAT_COLS ",driver_p50_ns,p50_ns_per_cmd,model_hw_ns",
	.cdf_name = "cmdq_cdf.csv",
	.cdf_cols = "mode,batch_cmds,bucket_ns,cum_fraction",
	.run = cmdq_run,
};
