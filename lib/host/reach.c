// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The reach probe's pattern, its prediction on the AMD-Vi model, and the
 * fit of an IOTLB geometry to a measured curve (iob/reach.h).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iob/alloc.h>
#include <iob/iommu.h>
#include <iob/iopt.h>
#include <iob/reach.h>

static const char *const pattern_names[REACH_PATTERN_NR] = { "seq", "stride", "random" };

const char *reach_pattern_name(enum reach_pattern p)
{
	return (unsigned)p < REACH_PATTERN_NR ? pattern_names[p] : "?";
}

int reach_pattern_parse(const char *name)
{
	for (int p = 0; p < REACH_PATTERN_NR; p++)
		if (!strcmp(name, pattern_names[p]))
			return p;
	return -EINVAL;
}

int reach_point_check(const struct reach_point *pt, char *err, size_t len)
{
	if (!pt->window || pt->window % REACH_FRAME) {
		snprintf(err, len, "window %llu bytes: not a positive multiple of 4 KiB",
			 (unsigned long long)pt->window);
		return -EINVAL;
	}
	if (pt->page_size != 1ULL << 12 && pt->page_size != 1ULL << 21 &&
	    pt->page_size != 1ULL << 30) {
		snprintf(err, len, "page size %llu: not 4K, 2M or 1G",
			 (unsigned long long)pt->page_size);
		return -EINVAL;
	}
	if ((unsigned)pt->pattern >= REACH_PATTERN_NR) {
		snprintf(err, len, "pattern %d: not seq, stride or random", (int)pt->pattern);
		return -EINVAL;
	}
	if (pt->io_pages < 1 || pt->io_pages > REACH_IO_PAGES_MAX) {
		snprintf(err, len, "%u pages per I/O: not 1..%d", pt->io_pages, REACH_IO_PAGES_MAX);
		return -EINVAL;
	}
	return 0;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static inline uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

void reach_gen_init(struct reach_gen *g, const struct reach_point *pt)
{
	uint64_t span = pt->window < pt->page_size ? pt->window : pt->page_size;

	memset(g, 0, sizeof(*g));
	g->pattern = pt->pattern;
	g->page_size = pt->page_size;
	g->npages = (pt->window + pt->page_size - 1) / pt->page_size;
	g->frames = span / REACH_FRAME;
	g->rng = pt->seed ? pt->seed * 0x9e3779b97f4a7c15ULL | 1 : 0x2545f4914f6cdd1dULL;
	/* The golden-ratio stride spreads consecutive pages over the window. */
	if (g->npages > 2) {
		g->stride = (uint64_t)llround((double)g->npages / 1.6180339887);
		if (g->stride < 2)
			g->stride = 2;
		while (gcd(g->stride, g->npages) != 1)
			g->stride++;
	} else {
		g->stride = 1;
	}
}

uint64_t reach_gen_next(struct reach_gen *g)
{
	uint64_t page, frame;

	switch (g->pattern) {
	case REACH_RANDOM:
		page = xorshift(&g->rng) % g->npages;
		frame = xorshift(&g->rng) % g->frames;
		break;
	case REACH_STRIDE:
		page = g->k % g->npages * g->stride % g->npages;
		frame = g->k / g->npages % g->frames;
		break;
	default:
		page = g->k % g->npages;
		frame = g->k / g->npages % g->frames;
		break;
	}
	g->k++;
	return page * g->page_size + frame * REACH_FRAME;
}

unsigned reach_levels_for(uint64_t max_iova)
{
	unsigned levels = 3;

	while (levels < 6 && max_iova >> (12 + 9 * levels))
		levels++;
	return levels;
}

/* ---- the model ------------------------------------------------------------------ */

struct reach_model {
	struct iopt *pt;
	struct reach_layout lay;
	unsigned levels;
};

struct range {
	uint64_t start, len;
};

static bool overlap(const struct range *a, const struct range *b)
{
	return a->start < b->start + b->len && b->start < a->start + a->len;
}

#define NRANGES 5

static int layout_ranges(const struct reach_point *pt, const struct reach_layout *lay,
			 struct range r[NRANGES])
{
	uint64_t win = (pt->window + pt->page_size - 1) / pt->page_size * pt->page_size;
	bool nvme = lay->engine == REACH_ENGINE_NVME;
	uint64_t ent = nvme ? 64 : 32;

	if ((unsigned)lay->engine >= REACH_ENGINE_NR || lay->qsize < 2 || lay->qsize > 65536 ||
	    !lay->slots || lay->slots > 4096 || lay->window_iova % pt->page_size ||
	    lay->sq_iova % REACH_FRAME || lay->cq_iova % REACH_FRAME ||
	    lay->prp_iova % REACH_FRAME || lay->src_iova % REACH_FRAME)
		return -EINVAL;
	memset(r, 0, NRANGES * sizeof(*r));
	r[0] = (struct range){ lay->window_iova, win };
	r[1] = (struct range){ lay->sq_iova, (lay->qsize * ent + 4095) & ~4095ULL };
	if (nvme) {
		r[2] = (struct range){ lay->cq_iova, ((uint64_t)lay->qsize * 16 + 4095) & ~4095ULL };
		r[3] = (struct range){ lay->prp_iova, (uint64_t)lay->slots * REACH_FRAME };
	} else {
		r[4] = (struct range){ lay->src_iova, REACH_FRAME };
	}
	for (int i = 0; i < NRANGES; i++) {
		if (!r[i].len)
			continue;
		if (r[i].start + r[i].len < r[i].start || r[i].start + r[i].len > 1ULL << 52)
			return -EINVAL;
		for (int j = 0; j < i; j++)
			if (r[j].len && overlap(&r[i], &r[j]))
				return -EINVAL;
	}
	return 0;
}

int reach_model_create(const struct reach_point *pt, const struct reach_layout *lay,
		       struct reach_model **out)
{
	struct reach_model *m;
	struct range r[NRANGES];
	struct iopt_cfg pc = { 0 };
	uint64_t top = 0;
	char err[128];
	int ret;

	if (reach_point_check(pt, err, sizeof(err)) || layout_ranges(pt, lay, r))
		return -EINVAL;
	for (int i = 0; i < NRANGES; i++)
		if (r[i].len && r[i].start + r[i].len - 1 > top)
			top = r[i].start + r[i].len - 1;
	m = iob_calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->lay = *lay;
	m->levels = reach_levels_for(top);
	pc.levels = m->levels;
	pc.pgsize_bitmap = IOPT_PGSIZE_4K | pt->page_size;
	ret = iopt_create(&pc, &m->pt);
	/* Identity addresses: the model needs distinct, aligned frames, no more. */
	for (int i = 0; i < NRANGES && !ret; i++)
		if (r[i].len)
			ret = iopt_map(m->pt, r[i].start, r[i].start, r[i].len, IOPT_PROT_RW, NULL);
	if (ret) {
		reach_model_destroy(m);
		return ret == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	*out = m;
	return 0;
}

void reach_model_destroy(struct reach_model *m)
{
	if (!m)
		return;
	if (m->pt)
		iopt_destroy(m->pt);
	iob_free(m);
}

struct replay {
	struct iommu *mmu;
	struct reach_pred *p;
	bool counting;
	int err;
};

static void dma(struct replay *r, iova_t iova, unsigned access, bool data)
{
	struct iommu_xlate x;

	if (iommu_translate(r->mmu, 1, iova, access, &x)) {
		r->err = -EFAULT;
		return;
	}
	if (!r->counting)
		return;
	r->p->translations++;
	r->p->hits += x.tlb_hit;
	r->p->misses += !x.tlb_hit;
	r->p->levels_read += x.levels_read;
	r->p->model_ns += x.model_ns;
	if (data) {
		r->p->data_translations++;
		r->p->data_misses += !x.tlb_hit;
	}
}

int reach_model_run(struct reach_model *m, const struct reach_point *pt,
		    const struct iotlb_cfg *geo, const struct cost_model *cost, uint64_t warm,
		    uint64_t ios, struct reach_pred *out)
{
	struct iommu_cfg mc = { .tlb = *geo, .cpu = -1, .cost = cost };
	const struct reach_layout *lay = &m->lay;
	struct replay r = { .p = out };
	struct reach_gen g;
	int ret;

	if (!ios)
		return -EINVAL;
	ret = iommu_create(&mc, &r.mmu);
	if (ret)
		return ret;
	ret = iommu_dte_set(r.mmu, 1, 1, iopt_root(m->pt), m->levels, IOPT_PROT_RW);
	if (ret) {
		iommu_destroy(r.mmu);
		return ret;
	}
	memset(out, 0, sizeof(*out));
	reach_gen_init(&g, pt);
	for (uint64_t j = 0; j < warm + ios && !r.err; j++) {
		uint64_t c = lay->first + j;

		r.counting = j >= warm;
		if (lay->engine == REACH_ENGINE_PTDMA) {
			/* A descriptor per page: fetched, its source read, its destination written. */
			for (unsigned i = 0; i < pt->io_pages; i++) {
				uint64_t d = c * pt->io_pages + i;

				dma(&r, lay->sq_iova + d % lay->qsize * 32, IOPT_PROT_READ, false);
				dma(&r, lay->src_iova, IOPT_PROT_READ, false);
				dma(&r, lay->window_iova + reach_gen_next(&g), IOPT_PROT_WRITE, true);
			}
			continue;
		}
		/* The controller fetches the command, reads its PRP list, writes the data, completes. */
		dma(&r, lay->sq_iova + c % lay->qsize * 64, IOPT_PROT_READ, false);
		if (pt->io_pages > 2)
			dma(&r, lay->prp_iova + c % lay->slots * REACH_FRAME, IOPT_PROT_READ, false);
		for (unsigned i = 0; i < pt->io_pages; i++)
			dma(&r, lay->window_iova + reach_gen_next(&g), IOPT_PROT_WRITE, true);
		dma(&r, lay->cq_iova + c % lay->qsize * 16, IOPT_PROT_WRITE, false);
	}
	out->ios = ios;
	iommu_destroy(r.mmu);
	return r.err;
}

size_t reach_geo_candidates(struct iotlb_cfg *out, size_t max)
{
	static const unsigned ways[] = { 1, 2, 4, 8, 16, 32, 0 };	/* 0: fully associative */
	size_t n = 0;

	for (unsigned e = 16; e <= 8192; e *= 2)
		for (size_t w = 0; w < sizeof(ways) / sizeof(ways[0]); w++) {
			unsigned wy = ways[w] ? ways[w] : e;

			if (ways[w] >= e)
				continue;
			if (n < max)
				out[n] = (struct iotlb_cfg){
					.entries = e, .ways = wy, .repl = IOTLB_REPL_LRU,
					.pde_entries = IOTLB_DEFAULT_PDE_ENTRIES,
					.pde_ways = IOTLB_DEFAULT_PDE_WAYS,
				};
			n++;
		}
	if (n < max)
		iotlb_cfg_qemu(&out[n]);
	n++;
	return n < max ? n : max;
}

/* ---- the fit ------------------------------------------------------------------- */

/*
 * The k-th smallest of @v[0..n), Hoare's FIND: afterwards v[k] is where
 * sorting would put it and nothing before it is larger.
 */
static double select_kth(double *v, size_t n, size_t k)
{
	ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;

	while (lo < hi) {
		double p = v[lo + (hi - lo) / 2];
		ptrdiff_t i = lo, j = hi;

		while (i <= j) {
			while (v[i] < p)
				i++;
			while (v[j] > p)
				j--;
			if (i <= j) {
				double t = v[i];

				v[i++] = v[j];
				v[j--] = t;
			}
		}
		if (kk <= j)
			hi = j;
		else if (kk >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

static double median(double *v, size_t n)
{
	double hi = select_kth(v, n, n / 2);

	if (n % 2)
		return hi;
	/* The lower middle is the largest of the half below. */
	double lo = v[0];

	for (size_t i = 1; i < n / 2; i++)
		if (v[i] > lo)
			lo = v[i];
	return (lo + hi) / 2;
}

/* Least squares of y = a + b x with b >= 0; returns the error. */
static double fit_line(const double *x, const double *y, size_t n, double *a, double *b)
{
	double mx = 0, my = 0, sxx = 0, sxy = 0, sse = 0;

	for (size_t i = 0; i < n; i++) {
		mx += x[i];
		my += y[i];
	}
	mx /= (double)n;
	my /= (double)n;
	for (size_t i = 0; i < n; i++) {
		sxx += (x[i] - mx) * (x[i] - mx);
		sxy += (x[i] - mx) * (y[i] - my);
	}
	*b = sxx > 0 && sxy > 0 ? sxy / sxx : 0;
	*a = my - *b * mx;
	for (size_t i = 0; i < n; i++) {
		double e = y[i] - *a - *b * x[i];

		sse += e * e;
	}
	return sse;
}

/* The geometry of least error (the first of equal ones). */
static size_t select_best(const double *x, size_t ngeo, size_t np, const double *y, double *a,
			  double *b, double *sse)
{
	size_t best = 0;

	for (size_t g = 0; g < ngeo; g++) {
		double ga, gb, e = fit_line(x + g * np, y, np, &ga, &gb);

		if (g == 0 || e < *sse * (1 - 1e-9) - 1e-12) {
			best = g;
			*a = ga;
			*b = gb;
			*sse = e;
		}
	}
	return best;
}

static int cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return (a > b) - (a < b);
}

static bool same_curve(const double *u, const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fabs(u[i] - v[i]) > 1e-9 * (1 + fabs(u[i])))
			return false;
	return true;
}

/* The bootstrap: resampled medians, refitted; intervals from the percentiles. */
static int bootstrap(const double *x, size_t ngeo, size_t np, const double *const *samples,
		     const size_t *ns, uint64_t seed, struct reach_fit *fit)
{
	size_t maxn = 1;
	double *buf, *y, *as, *bs;
	uint64_t rng = seed * 0x9e3779b97f4a7c15ULL | 1;

	for (size_t i = 0; i < np; i++)
		if (ns[i] > maxn)
			maxn = ns[i];
	buf = iob_malloc(maxn * sizeof(*buf));
	y = iob_malloc(np * sizeof(*y));
	as = iob_malloc(fit->resamples * sizeof(*as));
	bs = iob_malloc(fit->resamples * sizeof(*bs));
	if (!buf || !y || !as || !bs) {
		iob_free(buf);
		iob_free(y);
		iob_free(as);
		iob_free(bs);
		return -ENOMEM;
	}
	for (unsigned r = 0; r < fit->resamples; r++) {
		double a, b, sse;
		size_t g;

		for (size_t i = 0; i < np; i++) {
			for (size_t k = 0; k < ns[i]; k++)
				buf[k] = samples[i][xorshift(&rng) % ns[i]];
			y[i] = median(buf, ns[i]);
		}
		g = select_best(x, ngeo, np, y, &a, &b, &sse);
		if (fit->chosen)
			fit->chosen[g]++;
		as[r] = a;
		bs[r] = b;
	}
	qsort(as, fit->resamples, sizeof(*as), cmp_double);
	qsort(bs, fit->resamples, sizeof(*bs), cmp_double);
	fit->a_lo = as[(size_t)(0.025 * (fit->resamples - 1))];
	fit->a_hi = as[(size_t)ceil(0.975 * (fit->resamples - 1))];
	fit->b_lo = bs[(size_t)(0.025 * (fit->resamples - 1))];
	fit->b_hi = bs[(size_t)ceil(0.975 * (fit->resamples - 1))];
	iob_free(buf);
	iob_free(y);
	iob_free(as);
	iob_free(bs);
	return 0;
}

int reach_fit_select(const double *x, size_t ngeo, size_t npoints, const double *const *samples,
		     const size_t *nsamples, unsigned resamples, uint64_t seed,
		     struct reach_fit *fit)
{
	unsigned *chosen = fit->chosen;
	size_t maxn = 1;
	double *y, *buf, my = 0, sst = 0;
	bool exact = true;

	if (npoints < 3 || !ngeo)
		return -EINVAL;
	for (size_t i = 0; i < npoints; i++) {
		if (!nsamples[i] || !samples[i])
			return -EINVAL;
		if (nsamples[i] > maxn)
			maxn = nsamples[i];
		exact &= nsamples[i] == 1;
	}
	y = iob_malloc(npoints * sizeof(*y));
	buf = iob_malloc(maxn * sizeof(*buf));
	if (!y || !buf) {
		iob_free(y);
		iob_free(buf);
		return -ENOMEM;
	}
	memset(fit, 0, sizeof(*fit));
	fit->chosen = chosen;
	if (chosen)
		memset(chosen, 0, ngeo * sizeof(*chosen));
	for (size_t i = 0; i < npoints; i++) {
		memcpy(buf, samples[i], nsamples[i] * sizeof(*buf));
		y[i] = median(buf, nsamples[i]);
		my += y[i];
	}
	my /= (double)npoints;
	for (size_t i = 0; i < npoints; i++)
		sst += (y[i] - my) * (y[i] - my);
	fit->best = select_best(x, ngeo, npoints, y, &fit->a, &fit->b, &fit->sse);
	fit->r2 = sst > 0 ? 1 - fit->sse / sst : (fit->sse == 0 ? 1 : 0);
	for (size_t g = 0; g < ngeo; g++)
		fit->ties += g != fit->best &&
			     same_curve(x + g * npoints, x + fit->best * npoints, npoints);
	iob_free(y);
	iob_free(buf);
	fit->a_lo = fit->a_hi = fit->a;
	fit->b_lo = fit->b_hi = fit->b;
	if (!resamples || exact) {
		if (chosen)
			chosen[fit->best] = 1;
		return 0;
	}
	fit->resamples = resamples;
	return bootstrap(x, ngeo, npoints, samples, nsamples, seed, fit);
}
