// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Every workload under every strategy (swiotlb too) and flush mode, small:
 * it runs, its device DMAs all translate, and the protection invariants
 * hold whatever the tuning. What each strategy must and must not stop is
 * checked with an attacking device.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include <iob/frames.h>

#include "workload.h"

static struct wl_result res;

static void run(const struct workload *wl, enum hv_strategy s, enum flush_mode f, bool sp,
		struct wl_params *p, struct wl_env *e, struct hv_stats *hs)
{
	struct wl_env_cfg c = {
		.strategy = s,
		.tune = { .flush = f, .policy = INVAL_MERGED, .superpages = sp },
		.guest_mib = 16,
		.extra_mib = wl == &wl_dombuild ? p->build_mib : 0,
		.peer = wl->needs_peer,
		.batch = (unsigned)p->budget,
		.io_pages = (p->io_bytes + 4095) / 4096,
		.boot_pages = 1024,	/* swiotlb: a 4 MiB pool is plenty here */
		.seed = 1,
	};
	struct frames_stats fs;
	int ret;

	cr_assert_eq(wl_env_create(&c, e), 0);
	memset(&res, 0, sizeof(res));
	hist_init(&res.lat);
	ret = wl->run(p, e, &res);
	cr_assert_eq(ret, 0, "%s under %s/%s: %d", wl->name, hv_strategy_name(s),
		     flush_mode_name(f), ret);
	hv_sync(e->hv);
	hv_stats_get(e->hv, hs);
	frames_stats_get(hv_frames(e->hv), &fs);
	/* Whatever the tuning: nothing reused before its flush, nothing cross-domain. */
	cr_assert_eq(fs.reuse_before_flush, 0, "%s %s/%s", wl->name, hv_strategy_name(s),
		     flush_mode_name(f));
	cr_assert_eq(hs->stale_dmas_free, 0);
	cr_assert_eq(hs->stale_dmas_foreign, 0);
	cr_assert_eq(res.dma_faults, 0, "%s %s/%s: a DMA to a mapped buffer faulted", wl->name,
		     hv_strategy_name(s), flush_mode_name(f));
}

Test(workloads, every_workload_runs_under_every_strategy_and_mode, .timeout = 300)
{
	static const struct workload *const wls[] = { &wl_netrx, &wl_nettx, &wl_blk, &wl_netback,
						      &wl_balloon, &wl_dombuild, &wl_pingpong };

	for (size_t w = 0; w < sizeof(wls) / sizeof(wls[0]); w++)
		for (int s = 0; s < HV_STRATEGY_NR; s++)
			for (int f = 0; f < FLUSH_MODE_NR; f++)
				for (int sp = 0; sp < 2; sp++) {
					struct wl_params p = {
						.io_bytes = wls[w] == &wl_blk ? 16384 : 4096,
						.ios = wls[w] == &wl_dombuild ? 1 :
						       wls[w] == &wl_balloon ? 20 : 600,
						.ring = 32, .budget = 16, .chunk_pages = 32,
						.build_mib = 8, .attack = true,
					};
					struct wl_env e;
					struct hv_stats hs;

					run(wls[w], s, f, sp, &p, &e, &hs);
					cr_assert_eq(res.ios, wls[w] == &wl_balloon ? 2 * p.ios : p.ios,
						     "%s", wls[w]->name);
					cr_assert_gt(res.bytes, 0);
					wl_env_destroy(&e);
				}
}

/* hook never unmaps: every probe of a "freed" buffer still reaches it. */
Test(workloads, hook_leaves_unmapped_buffers_reachable)
{
	struct wl_params p = { .io_bytes = 4096, .ios = 500, .ring = 32, .budget = 16,
			       .attack = true };
	struct wl_env e;
	struct hv_stats hs;

	run(&wl_netrx, HV_HOOK, FLUSH_STRICT, false, &p, &e, &hs);
	cr_assert_gt(hs.attack_probes, 0);
	cr_assert_eq(hs.stale_dmas_own, hs.attack_probes,
		     "hook: %llu of %llu probes reached the unmapped buffer",
		     (unsigned long long)hs.stale_dmas_own, (unsigned long long)hs.attack_probes);
	cr_assert_eq(hs.probe_hits_remapped + hs.stale_dmas_foreign + hs.stale_dmas_free, 0);
	wl_env_destroy(&e);
}

/*
 * swiotlb neither: the unmapped buffer's bounce slot stays reachable (and
 * everything else the machine has); the probes land in the guest's own pool.
 */
Test(workloads, swiotlb_leaves_bounce_slots_reachable)
{
	struct wl_params p = { .io_bytes = 4096, .ios = 500, .ring = 32, .budget = 16,
			       .attack = true };
	struct flush_stats *fs = calloc(1, sizeof(*fs));
	struct wl_env e;
	struct hv_stats hs;

	run(&wl_netrx, HV_SWIOTLB, FLUSH_STRICT, false, &p, &e, &hs);
	cr_assert_gt(hs.attack_probes, 0);
	cr_assert_eq(hs.stale_dmas_own, hs.attack_probes,
		     "swiotlb: %llu of %llu probes reached the unmapped buffer's slot",
		     (unsigned long long)hs.stale_dmas_own, (unsigned long long)hs.attack_probes);
	flush_stats_get(hv_domain_flush(e.hv, e.dom), fs);
	cr_assert_eq(fs->exposure_cyc.count, 0, "the window never closes: reported as -1");
	wl_env_destroy(&e);
	free(fs);
}

/* Strict pv and dmalayer: after an unmap the device gets nothing stale. */
Test(workloads, strict_unmap_leaves_nothing_stale)
{
	for (int s = HV_PV; s <= HV_DMALAYER; s++) {
		struct wl_params p = { .io_bytes = 4096, .ios = 500, .ring = 32, .budget = 16,
				       .attack = true };
		struct wl_env e;
		struct hv_stats hs;

		run(&wl_netrx, s, FLUSH_STRICT, false, &p, &e, &hs);
		cr_assert_gt(hs.attack_probes, 0);
		cr_assert_eq(hs.stale_dmas_own + hs.stale_dmas_granted, 0, "%s strict: %llu stale",
			     hv_strategy_name(s),
			     (unsigned long long)(hs.stale_dmas_own + hs.stale_dmas_granted));
		wl_env_destroy(&e);
	}
}

/* Lazy leaves a window: stale DMAs happen, and land only in the domain's own memory. */
Test(workloads, lazy_window_is_measured_and_stays_in_the_domain)
{
	struct wl_params p = { .io_bytes = 4096, .ios = 2000, .ring = 32, .budget = 16,
			       .attack = true };
	struct wl_env e;
	struct hv_stats hs;
	struct flush_stats *fs = calloc(1, sizeof(*fs));

	run(&wl_netrx, HV_DMALAYER, FLUSH_LAZY, false, &p, &e, &hs);
	cr_assert_gt(hs.stale_dmas_own, 0, "lazy: the attacker never got through");
	flush_stats_get(hv_domain_flush(e.hv, e.dom), fs);
	cr_assert_gt(hist_percentile(&fs->exposure_ops, 0.99), 0);
	wl_env_destroy(&e);
	free(fs);
}

/* Strict costs a wait per unmap; batched one per batch; the counts say so. */
Test(workloads, batched_waits_once_per_batch)
{
	struct wl_params p = { .io_bytes = 4096, .ios = 640, .ring = 64, .budget = 16 };
	struct flush_stats *fs = calloc(1, sizeof(*fs));
	struct wl_env e;
	struct hv_stats hs;

	run(&wl_nettx, HV_DMALAYER, FLUSH_STRICT, false, &p, &e, &hs);
	flush_stats_get(hv_domain_flush(e.hv, e.dom), fs);
	cr_assert_eq(fs->completion_waits, 640, "strict: %llu waits",
		     (unsigned long long)fs->completion_waits);
	wl_env_destroy(&e);
	run(&wl_nettx, HV_DMALAYER, FLUSH_BATCHED, false, &p, &e, &hs);
	flush_stats_get(hv_domain_flush(e.hv, e.dom), fs);
	cr_assert_eq(fs->completion_waits, 640 / 16, "batched: %llu waits",
		     (unsigned long long)fs->completion_waits);
	wl_env_destroy(&e);
	free(fs);
}

/*
 * pingpong: one map, one device write, one unmap per I/O. Strict dmalayer
 * waits once per unmap, strict pv once per page (its hypercall unmaps entry
 * by entry); batched, once per budget; the device writes every page of
 * every I/O; hook never flushes an unmap.
 */
Test(workloads, pingpong_maps_dmas_and_unmaps_each_io)
{
	struct wl_params p = { .io_bytes = 16384, .ios = 320, .ring = 8, .budget = 16,
			       .attack = true };
	struct flush_stats *fs = calloc(1, sizeof(*fs));
	struct wl_env e;
	struct hv_stats hs;

	run(&wl_pingpong, HV_DMALAYER, FLUSH_STRICT, false, &p, &e, &hs);
	flush_stats_get(hv_domain_flush(e.hv, e.dom), fs);
	cr_assert_eq(res.ios, 320);
	cr_assert_eq(res.bytes, 320 * 16384);
	cr_assert_eq(res.dma_pages, 320 * 4, "the device writes the 4 pages of each I/O");
	cr_assert_eq(fs->completion_waits, 320, "strict: one wait per unmap, %llu",
		     (unsigned long long)fs->completion_waits);
	cr_assert_gt(hs.attack_probes, 0);
	cr_assert_eq(hs.stale_dmas_own, 0, "strict: nothing stale");
	wl_env_destroy(&e);

	run(&wl_pingpong, HV_PV, FLUSH_STRICT, false, &p, &e, &hs);
	flush_stats_get(hv_domain_flush(e.hv, e.dom), fs);
	cr_assert_eq(fs->completion_waits, 320 * 4, "strict pv: one wait per page, %llu",
		     (unsigned long long)fs->completion_waits);
	cr_assert_eq(hs.stale_dmas_own, 0, "strict: nothing stale");
	wl_env_destroy(&e);

	run(&wl_pingpong, HV_PV, FLUSH_BATCHED, false, &p, &e, &hs);
	flush_stats_get(hv_domain_flush(e.hv, e.dom), fs);
	cr_assert_eq(fs->completion_waits, 320 / 16, "batched: one wait per budget, %llu",
		     (unsigned long long)fs->completion_waits);
	cr_assert_gt(hs.stale_dmas_own, 0, "batched: the window between unmap and flush");
	wl_env_destroy(&e);

	run(&wl_pingpong, HV_HOOK, FLUSH_STRICT, false, &p, &e, &hs);
	flush_stats_get(hv_domain_flush(e.hv, e.dom), fs);
	cr_assert_eq(fs->exposure_cyc.count, 0, "hook: no unmap, no window closes");
	cr_assert_eq(hs.stale_dmas_own, hs.attack_probes);
	wl_env_destroy(&e);
	free(fs);
}

Test(workloads, pingpong_refuses_buffers_that_do_not_fit)
{
	struct wl_params p = { .io_bytes = 1 << 20, .ios = 10, .ring = 64, .budget = 16 };
	struct wl_env_cfg c = { .strategy = HV_DMALAYER, .tune = { .flush = FLUSH_STRICT },
				.guest_mib = 16, .io_pages = 256, .seed = 1 };
	struct wl_env e;

	/* 64 buffers of 1 MiB, in the upper 8 MiB of a 16 MiB guest. */
	cr_assert_eq(wl_env_create(&c, &e), 0);
	memset(&res, 0, sizeof(res));
	cr_assert_eq(wl_pingpong.run(&p, &e, &res), -E2BIG);
	cr_assert_eq(res.ios, 0);
	wl_env_destroy(&e);
}

Test(workloads, replay_follows_the_trace)
{
	char path[] = "/tmp/iobtest-replay-XXXXXX";
	FILE *f;
	int fd = mkstemp(path);
	struct wl_params p = { .ios = 1, .budget = 16 };
	struct wl_env e;
	struct hv_stats hs;

	cr_assert(fd >= 0);
	f = fdopen(fd, "w");
	for (int i = 0; i < 100; i++)
		fprintf(f, "%d map 0 0x%x 0x%x 8192 w\n%d unmap 0 0x%x 8192\n", 2 * i,
			0x100000 + i * 0x2000, 0x4000000 + i * 0x2000, 2 * i + 1, 0x100000 + i * 0x2000);
	fprintf(f, "300 unmap 0 0x900000 4096\n");	/* never mapped: skipped */
	fclose(f);
	p.trace = path;
	run(&wl_replay, HV_DMALAYER, FLUSH_STRICT, false, &p, &e, &hs);
	cr_assert_eq(res.ios, 100);
	cr_assert_eq(res.bytes, 100 * 8192);
	cr_assert_eq(res.dma_pages, 200);
	cr_assert_eq(res.skipped, 1);
	wl_env_destroy(&e);
	unlink(path);
}
