// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The reach probe's arithmetic (lib/host/reach.c): the DMA patterns, the
 * prediction on the AMD-Vi model against counts worked by hand and
 * against two reference caches written here (QEMU's emptied-when-full
 * table of 4 KiB frames, and a fully associative LRU of pages), and the
 * geometry fit on curves whose answer is known. Seeded; IOB_TEST_SEED
 * replays a property test.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <iob/reach.h>

#include "failinject.h"
#include "prng.h"

#define K4	4096ULL
#define M2	(2ULL << 20)
#define G1	(1ULL << 30)

#define PCHECK(seed, cond, fmt, ...)					\
	cr_assert((cond), "IOB_TEST_SEED=0x%016llx: " fmt,		\
		  (unsigned long long)(seed), ##__VA_ARGS__)

static const struct reach_layout lay_default = {
	.window_iova = 1ULL << 32, .sq_iova = 64ULL << 30, .cq_iova = (64ULL << 30) + 0x2000,
	.qsize = 64, .prp_iova = (64ULL << 30) + 0x10000, .slots = 4,
};

/* ---- patterns --------------------------------------------------------------------- */

Test(reach, pattern_names_parse_back)
{
	for (int p = 0; p < REACH_PATTERN_NR; p++)
		cr_assert_eq(reach_pattern_parse(reach_pattern_name(p)), p);
	cr_assert_str_eq(reach_pattern_name(REACH_STRIDE), "stride");
	cr_assert_eq(reach_pattern_parse("Random"), -EINVAL);
	cr_assert_eq(reach_pattern_parse(""), -EINVAL);
	cr_assert_str_eq(reach_pattern_name(REACH_PATTERN_NR), "?");
}

Test(reach, point_check_rejects_what_the_probe_cannot_run)
{
	static const struct reach_point bad[] = {
		{ .window = 0, .page_size = K4, .io_pages = 1 },
		{ .window = 6000, .page_size = K4, .io_pages = 1 },
		{ .window = K4, .page_size = 8192, .io_pages = 1 },
		{ .window = K4, .page_size = K4, .io_pages = 0 },
		{ .window = K4, .page_size = K4, .io_pages = 513 },
		{ .window = K4, .page_size = K4, .io_pages = 1, .pattern = REACH_PATTERN_NR },
	};
	struct reach_point ok = { .window = 16 * K4, .page_size = M2, .io_pages = 512 };
	char err[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		cr_assert_eq(reach_point_check(&bad[i], err, sizeof(err)), -EINVAL, "case %zu", i);
		cr_assert_neq(err[0], 0, "case %zu says why", i);
	}
	cr_assert_eq(reach_point_check(&ok, err, sizeof(err)), 0);
}

static void expect_offsets(const struct reach_point *pt, const uint64_t *want, size_t n)
{
	struct reach_gen g;

	reach_gen_init(&g, pt);
	for (size_t i = 0; i < n; i++) {
		uint64_t off = reach_gen_next(&g);

		cr_assert_eq(off, want[i], "DMA %zu: 0x%llx, expected 0x%llx", i,
			     (unsigned long long)off, (unsigned long long)want[i]);
	}
}

Test(reach, seq_walks_the_pages_then_the_next_frame_of_each)
{
	struct reach_point p4 = { .window = 4 * K4, .page_size = K4, .io_pages = 1 };
	struct reach_point p2m = { .window = 4 * M2, .page_size = M2, .io_pages = 1 };
	struct reach_point small = { .window = 3 * K4, .page_size = M2, .io_pages = 1 };
	static const uint64_t w4[] = { 0, K4, 2 * K4, 3 * K4, 0, K4 };
	static const uint64_t w2m[] = { 0, M2, 2 * M2, 3 * M2, K4, M2 + K4, 2 * M2 + K4 };
	/* A window smaller than its page: one page, its first three frames. */
	static const uint64_t ws[] = { 0, K4, 2 * K4, 0, K4 };

	expect_offsets(&p4, w4, 6);
	expect_offsets(&p2m, w2m, 7);
	expect_offsets(&small, ws, 5);
}

Test(reach, stride_is_a_permutation_of_the_pages_with_no_two_neighbours_equal)
{
	static const uint64_t windows[] = { 2, 3, 8, 10, 64, 100, 1000, 4096 };

	for (size_t w = 0; w < sizeof(windows) / sizeof(windows[0]); w++) {
		uint64_t n = windows[w];
		struct reach_point pt = { .window = n * K4, .page_size = K4,
					  .pattern = REACH_STRIDE, .io_pages = 1 };
		bool *seen = calloc(n, 1);
		struct reach_gen g;
		uint64_t prev = ~0ULL;

		cr_assert_not_null(seen);
		reach_gen_init(&g, &pt);
		for (uint64_t k = 0; k < n; k++) {
			uint64_t page = reach_gen_next(&g) / K4;

			cr_assert_lt(page, n);
			cr_assert(!seen[page], "%llu pages: page %llu twice in one round",
				  (unsigned long long)n, (unsigned long long)page);
			cr_assert_neq(page, prev, "%llu pages: the same page twice in a row",
				      (unsigned long long)n);
			seen[page] = true;
			prev = page;
		}
		/* Not the sequential order (except for 2 pages, where both are the same). */
		reach_gen_init(&g, &pt);
		reach_gen_next(&g);
		if (n > 2)
			cr_assert_neq(reach_gen_next(&g), K4, "%llu pages", (unsigned long long)n);
		free(seen);
	}
}

Test(reach, random_stays_in_the_window_and_replays_from_its_seed)
{
	struct reach_point pt = { .window = 3 * M2, .page_size = M2, .pattern = REACH_RANDOM,
				  .io_pages = 1, .seed = 7 };
	struct reach_gen a, b;
	unsigned pages[3] = { 0 };

	reach_gen_init(&a, &pt);
	reach_gen_init(&b, &pt);
	for (int i = 0; i < 3000; i++) {
		uint64_t x = reach_gen_next(&a);

		cr_assert_eq(x, reach_gen_next(&b));
		cr_assert_eq(x % K4, 0);
		cr_assert_lt(x, 3 * M2);
		pages[x / M2]++;
	}
	for (int p = 0; p < 3; p++)
		cr_assert_gt(pages[p], 800, "page %d drawn %u times in 3000", p, pages[p]);
	pt.seed = 8;
	reach_gen_init(&b, &pt);
	reach_gen_init(&a, &(struct reach_point){ .window = 3 * M2, .page_size = M2,
						  .pattern = REACH_RANDOM, .io_pages = 1, .seed = 7 });
	bool differ = false;

	for (int i = 0; i < 16; i++)
		differ |= reach_gen_next(&a) != reach_gen_next(&b);
	cr_assert(differ, "another seed, another sequence");
}

Test(reach, levels_follow_linux_amd_v1_growth)
{
	cr_assert_eq(reach_levels_for(0), 3);
	cr_assert_eq(reach_levels_for((1ULL << 39) - 1), 3);
	cr_assert_eq(reach_levels_for(1ULL << 39), 4);
	cr_assert_eq(reach_levels_for((1ULL << 48) - 1), 4);
	cr_assert_eq(reach_levels_for(1ULL << 48), 5);
	cr_assert_eq(reach_levels_for(~0ULL), 6);
}

/* ---- prediction: worked by hand ---------------------------------------------------------- */

static struct reach_pred predict(const struct reach_point *pt, const struct reach_layout *lay,
				 const struct iotlb_cfg *geo, uint64_t warm, uint64_t ios)
{
	struct reach_model *m = NULL;
	struct reach_pred p;

	cr_assert_eq(reach_model_create(pt, lay, &m), 0);
	cr_assert_eq(reach_model_run(m, pt, geo, NULL, warm, ios, &p), 0);
	reach_model_destroy(m);
	return p;
}

/*
 * QEMU's IOTLB, 4 frames read one after another, 8 reads from cold: the
 * first read misses on its SQ entry, data and CQ entry (3); reads 2 to 4
 * miss on their data frame only (3 more); reads 5 to 8 hit everything.
 */
Test(reach, qemu_geometry_counts_a_small_window_by_hand)
{
	struct reach_point pt = { .window = 4 * K4, .page_size = K4, .io_pages = 1 };
	struct iotlb_cfg geo;
	struct reach_pred p;

	iotlb_cfg_qemu(&geo);
	p = predict(&pt, &lay_default, &geo, 0, 8);
	cr_assert_eq(p.ios, 8);
	cr_assert_eq(p.translations, 24);
	cr_assert_eq(p.misses, 6);
	cr_assert_eq(p.hits, 18);
	cr_assert_eq(p.data_translations, 8);
	cr_assert_eq(p.data_misses, 4);
	/* Warmed up by those 8, the next 8 hit every time. */
	p = predict(&pt, &lay_default, &geo, 8, 8);
	cr_assert_eq(p.misses, 0);
	cr_assert_eq(p.levels_read, 0);
}

/*
 * 64 entries, fully associative, LRU; 64 data pages read in turn plus the
 * SQ and CQ pages touched by every read: 66 pages cycling through 64
 * entries, so every data access misses (LRU's worst case) while the queue
 * pages, used every time, always hit.
 */
Test(reach, lru_thrashes_when_the_window_exceeds_the_entries_by_the_queue_pages)
{
	struct reach_point pt = { .window = 64 * K4, .page_size = K4, .io_pages = 1 };
	struct iotlb_cfg geo = { .entries = 64, .ways = 64, .repl = IOTLB_REPL_LRU };
	struct reach_pred p = predict(&pt, &lay_default, &geo, 200, 100);

	cr_assert_eq(p.translations, 300);
	cr_assert_eq(p.data_misses, 100);
	cr_assert_eq(p.misses, 100);
	/* 62 data pages fit beside the queue pages: no misses at all after warm-up. */
	pt.window = 62 * K4;
	p = predict(&pt, &lay_default, &geo, 200, 100);
	cr_assert_eq(p.misses, 0);
}

/*
 * 2 MiB pages: 32 of them cover 64 MiB. An IOTLB with whole-page entries
 * (512 x 8) holds them all; QEMU's keeps 4 KiB frames and the sequential
 * pattern never returns to one within 1024 inserts, so its every data
 * access misses.
 */
Test(reach, superpages_fit_the_model_iotlb_but_not_qemus)
{
	struct reach_point pt = { .window = 64ULL << 20, .page_size = M2, .io_pages = 1 };
	struct iotlb_cfg def = { .entries = 512, .ways = 8, .pde_entries = 64, .pde_ways = 4 };
	struct iotlb_cfg qemu;
	struct reach_pred p;

	iotlb_cfg_qemu(&qemu);
	p = predict(&pt, &lay_default, &def, 100, 1000);
	cr_assert_eq(p.misses, 0);
	p = predict(&pt, &lay_default, &qemu, 100, 1000);
	cr_assert_eq(p.data_misses, 1000);
	/* 1000 inserts from about 60 after the warm-up's last emptying: one more emptying,
	 * after which the SQ and CQ frames miss once each. */
	cr_assert_eq(p.misses, 1002);
}

Test(reach, a_prp_list_is_read_once_per_io_beyond_two_pages)
{
	struct reach_point pt = { .window = 16 * K4, .page_size = K4, .io_pages = 2 };
	struct iotlb_cfg geo;
	struct reach_pred p;

	iotlb_cfg_qemu(&geo);
	p = predict(&pt, &lay_default, &geo, 0, 10);
	cr_assert_eq(p.translations, 10 * 4, "SQ entry, 2 data pages (PRP1, PRP2), CQ entry");
	pt.io_pages = 3;
	p = predict(&pt, &lay_default, &geo, 0, 10);
	cr_assert_eq(p.translations, 10 * 6, "SQ entry, PRP list, 3 data pages, CQ entry");
	cr_assert_eq(p.data_translations, 30);
}

/*
 * PTDMA, QEMU's IOTLB, 2 pages per copy over a 4-frame window: a copy is
 * two descriptors, each fetched from the ring, its source read and its
 * destination written. Copy 1 misses on the ring page, the source page and
 * both destinations (4); copy 2 on its two new destinations (2); copies 3
 * and 4 hit everything.
 */
Test(reach, ptdma_copies_fetch_a_descriptor_and_read_the_source_per_page)
{
	struct reach_point pt = { .window = 4 * K4, .page_size = K4, .io_pages = 2 };
	struct reach_layout lay = {
		.engine = REACH_ENGINE_PTDMA, .window_iova = 1ULL << 32, .sq_iova = 64ULL << 30,
		.qsize = 32, .slots = 1, .src_iova = (64ULL << 30) + 0x10000,
	};
	struct iotlb_cfg geo;
	struct reach_pred p;

	iotlb_cfg_qemu(&geo);
	p = predict(&pt, &lay, &geo, 0, 4);
	cr_assert_eq(p.translations, 4 * 2 * 3);
	cr_assert_eq(p.data_translations, 8);
	cr_assert_eq(p.misses, 6);
	/* The source page may not sit inside the window. */
	lay.src_iova = lay.window_iova;
	struct reach_model *m = NULL;

	cr_assert_eq(reach_model_create(&pt, &lay, &m), -EINVAL);
}

Test(reach, model_rejects_overlapping_or_misaligned_layouts)
{
	struct reach_point pt = { .window = 8 * M2, .page_size = M2, .io_pages = 1 };
	struct reach_layout l = lay_default;
	struct reach_model *m = NULL;

	l.window_iova = (1ULL << 32) + K4;
	cr_assert_eq(reach_model_create(&pt, &l, &m), -EINVAL, "window not 2M-aligned");
	l = lay_default;
	l.sq_iova = l.window_iova + M2;
	cr_assert_eq(reach_model_create(&pt, &l, &m), -EINVAL, "SQ inside the window");
	l = lay_default;
	l.cq_iova = l.sq_iova;
	cr_assert_eq(reach_model_create(&pt, &l, &m), -EINVAL, "CQ over SQ");
	l = lay_default;
	l.qsize = 1;
	cr_assert_eq(reach_model_create(&pt, &l, &m), -EINVAL, "a queue of one entry");
	cr_assert_null(m);
	pt.window = 0;
	cr_assert_eq(reach_model_create(&pt, &lay_default, &m), -EINVAL);
}

/* ---- prediction against reference caches ------------------------------------------------ */

#define REF_MAX 8192

/* A cache of page keys: QEMU's rule (emptied when full) or fully associative LRU. */
struct ref_cache {
	uint64_t key[REF_MAX], stamp[REF_MAX], clock;
	unsigned n, cap;
	bool lru;
};

static bool ref_access(struct ref_cache *c, uint64_t key)
{
	unsigned victim = 0;

	for (unsigned i = 0; i < c->n; i++)
		if (c->key[i] == key) {
			c->stamp[i] = ++c->clock;
			return true;
		}
	if (c->n < c->cap) {
		victim = c->n++;
	} else if (!c->lru) {
		c->n = 1;		/* emptied, then the new entry */
		victim = 0;
	} else {
		for (unsigned i = 1; i < c->n; i++)
			if (c->stamp[i] < c->stamp[victim])
				victim = i;
	}
	c->key[victim] = key;
	c->stamp[victim] = ++c->clock;
	return false;
}

/* The reference's own replay of the driver's DMAs (the order of reach.h). */
static void ref_run(struct ref_cache *c, const struct reach_point *pt,
		    const struct reach_layout *lay, uint64_t warm, uint64_t ios, uint64_t *misses,
		    uint64_t *trans)
{
	struct reach_gen g;
	uint64_t ptag = c->lru ? pt->page_size : K4;	/* QEMU: 4K frames */

	*misses = *trans = 0;
	reach_gen_init(&g, pt);
	for (uint64_t j = 0; j < warm + ios; j++) {
		uint64_t a[REACH_IO_PAGES_MAX + 3], tag[REACH_IO_PAGES_MAX + 3];
		unsigned n = 0;

		uint64_t cmd = lay->first + j;

		a[n] = lay->sq_iova + cmd % lay->qsize * 64;
		tag[n++] = K4;
		if (pt->io_pages > 2) {
			a[n] = lay->prp_iova + cmd % lay->slots * K4;
			tag[n++] = K4;
		}
		for (unsigned i = 0; i < pt->io_pages; i++) {
			a[n] = lay->window_iova + reach_gen_next(&g);
			tag[n++] = ptag;
		}
		a[n] = lay->cq_iova + cmd % lay->qsize * 16;
		tag[n++] = K4;
		for (unsigned i = 0; i < n; i++) {
			bool hit = ref_access(c, a[i] & ~(tag[i] - 1));

			if (j >= warm) {
				(*trans)++;
				*misses += !hit;
			}
		}
	}
}

static void prediction_matches_reference(uint64_t seed, bool lru, unsigned rounds)
{
	static struct ref_cache c;
	struct prng r;

	prng_seed(&r, seed);
	for (unsigned round = 0; round < rounds; round++) {
		static const uint64_t psz[] = { 1ULL << 12, 1ULL << 21 };
		struct reach_point pt = {
			.page_size = psz[prng_below(&r, 2)],
			.pattern = (enum reach_pattern)prng_below(&r, REACH_PATTERN_NR),
			.io_pages = 1 + (unsigned)prng_below(&r, 5),
			.seed = prng_next(&r),
		};
		struct reach_layout lay = lay_default;
		struct iotlb_cfg geo;
		struct reach_pred p;
		uint64_t warm = prng_below(&r, 300), ios = 1 + prng_below(&r, 400), misses, trans;

		pt.window = (1 + prng_below(&r, 2048)) * K4;
		lay.qsize = 2 + (unsigned)prng_below(&r, 100);
		lay.slots = 1 + (unsigned)prng_below(&r, 8);
		lay.first = prng_below(&r, 1000);
		if (lru) {
			unsigned e = 16U << prng_below(&r, 8);

			geo = (struct iotlb_cfg){ .entries = e, .ways = e, .repl = IOTLB_REPL_LRU,
						  .pde_entries = 64, .pde_ways = 4 };
		} else {
			iotlb_cfg_qemu(&geo);
		}
		memset(&c, 0, sizeof(c));
		c.cap = geo.entries;
		c.lru = lru;
		ref_run(&c, &pt, &lay, warm, ios, &misses, &trans);
		p = predict(&pt, &lay, &geo, warm, ios);
		PCHECK(seed, p.translations == trans && p.misses == misses,
		       "round %u (%s, window %llu, page %llu, %s, %u pages/io, warm %llu, ios %llu, "
		       "%u entries): model %llu/%llu misses/translations, reference %llu/%llu",
		       round, lru ? "lru" : "qemu", (unsigned long long)pt.window,
		       (unsigned long long)pt.page_size, reach_pattern_name(pt.pattern), pt.io_pages,
		       (unsigned long long)warm, (unsigned long long)ios, geo.entries,
		       (unsigned long long)p.misses, (unsigned long long)p.translations,
		       (unsigned long long)misses, (unsigned long long)trans);
		PCHECK(seed, p.hits + p.misses == p.translations, "round %u: hits + misses", round);
	}
}

Test(reach_property, qemu_prediction_equals_a_reference_emptied_when_full, .timeout = 300)
{
	prediction_matches_reference(test_seed(0x61), false, 60);
}

Test(reach_property, lru_prediction_equals_a_fully_associative_lru_reference, .timeout = 300)
{
	prediction_matches_reference(test_seed(0x62), true, 60);
}

/* ---- allocation failure -------------------------------------------------------------------- */

struct model_ctx {
	struct reach_point pt;
	struct reach_model *m;
	struct reach_pred p;
};

static int model_op(void *arg)
{
	struct model_ctx *x = arg;
	struct iotlb_cfg geo = { .entries = 64, .ways = 8, .pde_entries = 16, .pde_ways = 4 };
	int ret = reach_model_create(&x->pt, &lay_default, &x->m);

	if (ret)
		return ret;
	ret = reach_model_run(x->m, &x->pt, &geo, NULL, 10, 10, &x->p);
	if (ret) {
		reach_model_destroy(x->m);
		x->m = NULL;
	}
	return ret;
}

static void model_undo(void *arg)
{
	struct model_ctx *x = arg;

	cr_assert_eq(x->p.translations, 30);
	reach_model_destroy(x->m);
	x->m = NULL;
}

Test(reach, model_fails_cleanly_at_each_allocation)
{
	struct model_ctx x = { .pt = { .window = 3 * M2, .page_size = M2, .io_pages = 1 } };
	struct failinject fi = { "reach model", model_op, model_undo, NULL, &x };

	cr_assert_gt(failinject_each(&fi), 3);
}

/* ---- the fit ------------------------------------------------------------------------------- */

#define NP 6

static const double xs[3][NP] = {
	{ 0, 0, 0, 1, 1, 1 },		/* a small IOTLB: misses from point 4 on */
	{ 0, 0, 0, 0, 0.5, 1 },		/* a larger one */
	{ 0, 0, 0, 0, 0, 0 },		/* larger than every window */
};

Test(reach, fit_finds_the_geometry_and_cost_of_an_exact_curve)
{
	double y[NP];
	const double *s[NP];
	size_t n[NP];
	unsigned chosen[3];
	struct reach_fit f = { .chosen = chosen };

	for (int i = 0; i < NP; i++) {
		y[i] = 800 + 250 * xs[1][i];
		s[i] = &y[i];
		n[i] = 1;
	}
	cr_assert_eq(reach_fit_select(&xs[0][0], 3, NP, s, n, 100, 1, &f), 0);
	cr_assert_eq(f.best, 1);
	cr_assert_float_eq(f.a, 800, 1e-9);
	cr_assert_float_eq(f.b, 250, 1e-9);
	cr_assert_float_eq(f.r2, 1, 1e-12);
	cr_assert_eq(f.resamples, 0, "exact values: nothing to resample");
	cr_assert_float_eq(f.b_lo, 250, 1e-9);
	cr_assert_eq(chosen[1], 1);
	cr_assert_eq(f.ties, 0);
}

Test(reach, fit_bootstraps_noisy_samples_and_brackets_the_true_cost)
{
	static double buf[NP][301];
	const double *s[NP];
	size_t n[NP];
	unsigned chosen[3];
	struct reach_fit f = { .chosen = chosen };
	struct prng r;

	prng_seed(&r, 42);
	for (int i = 0; i < NP; i++) {
		for (int k = 0; k < 301; k++)	/* uniform noise of +-100 ns around the curve */
			buf[i][k] = 800 + 250 * xs[0][i] + (double)prng_below(&r, 201) - 100;
		s[i] = buf[i];
		n[i] = 301;
	}
	cr_assert_eq(reach_fit_select(&xs[0][0], 3, NP, s, n, 200, 9, &f), 0);
	cr_assert_eq(f.best, 0);
	cr_assert_eq(f.resamples, 200);
	cr_assert(f.b_lo <= 250 && 250 <= f.b_hi, "250 outside [%.1f, %.1f]", f.b_lo, f.b_hi);
	cr_assert(f.b_hi - f.b_lo < 60, "interval [%.1f, %.1f] too wide for 301 samples", f.b_lo,
		  f.b_hi);
	cr_assert_eq(chosen[0] + chosen[1] + chosen[2], 200);
	cr_assert_gt(chosen[0], 190, "the true geometry won %u of 200", chosen[0]);
}

Test(reach, fit_keeps_the_cost_non_negative_and_counts_ties)
{
	static const double x2[3][NP] = {
		{ 0, 0, 0, 1, 1, 1 }, { 0, 0, 0, 1, 1, 1 }, { 0, 1, 2, 3, 4, 5 },
	};
	double y[NP] = { 900, 880, 860, 840, 820, 800 };	/* faster with more misses */
	const double *s[NP];
	size_t n[NP];
	struct reach_fit f = { 0 };

	for (int i = 0; i < NP; i++) {
		s[i] = &y[i];
		n[i] = 1;
	}
	cr_assert_eq(reach_fit_select(&x2[0][0], 3, NP, s, n, 0, 1, &f), 0);
	cr_assert_geq(f.b, 0);
	cr_assert_float_eq(f.b, 0, 1e-12);
	cr_assert_float_eq(f.a, 850, 1e-9);
	cr_assert_eq(f.best, 0, "equal errors: the first geometry");
	cr_assert_eq(f.ties, 1, "geometry 1 predicts the same curve");
}

Test(reach, fit_rejects_too_few_points_or_empty_ones)
{
	double y[NP] = { 1, 2, 3, 4, 5, 6 };
	const double *s[NP] = { &y[0], &y[1], &y[2], &y[3], &y[4], &y[5] };
	size_t n[NP] = { 1, 1, 1, 1, 1, 1 };
	struct reach_fit f = { 0 };

	cr_assert_eq(reach_fit_select(&xs[0][0], 3, 2, s, n, 0, 1, &f), -EINVAL);
	cr_assert_eq(reach_fit_select(&xs[0][0], 0, NP, s, n, 0, 1, &f), -EINVAL);
	n[3] = 0;
	cr_assert_eq(reach_fit_select(&xs[0][0], 3, NP, s, n, 0, 1, &f), -EINVAL);
}

Test(reach, geometry_candidates_are_valid_ordered_and_end_with_qemu)
{
	struct iotlb_cfg c[128];
	size_t n = reach_geo_candidates(c, 128);

	cr_assert_gt(n, 50);
	cr_assert_lt(n, 128);
	for (size_t i = 0; i < n; i++) {
		struct iotlb *t = NULL;

		cr_assert_eq(iotlb_create(&c[i], &t), 0, "candidate %zu: %u/%u", i, c[i].entries,
			     c[i].ways);
		iotlb_destroy(t);
		if (i + 1 < n - 1)
			cr_assert(c[i].entries < c[i + 1].entries ||
				  (c[i].entries == c[i + 1].entries && c[i].ways < c[i + 1].ways),
				  "order at %zu", i);
	}
	cr_assert_eq(c[n - 1].repl, IOTLB_REPL_RESET);
	cr_assert_eq(c[n - 1].entries, 1024);
	cr_assert_eq(reach_geo_candidates(c, 5), 5);
}
