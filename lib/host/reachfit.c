// SPDX-License-Identifier: GPL-2.0-or-later
/* A measured reach curve explained by an IOTLB geometry (iob/reachfit.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iob/alloc.h>

#include <iob/reachfit.h>

const char *reachfit_geo_name(const struct iotlb_cfg *g, char *buf, size_t len)
{
	if (g->ways >= g->entries)
		snprintf(buf, len, "%u full %s", g->entries, iotlb_repl_name(g->repl));
	else
		snprintf(buf, len, "%ux%u %s", g->entries, g->ways, iotlb_repl_name(g->repl));
	return buf;
}

void reachfit_free(struct reachfit_result *r)
{
	iob_free(r->x);
	iob_free(r->data_share);
	r->x = r->data_share = NULL;
}

/* Every candidate's misses per I/O at point @i (model built once per point). */
static int predict_point(const struct reachfit_point *p0, size_t i, size_t n,
			 struct reachfit_result *r, char *err, size_t len)
{
	const struct reachfit_point *p = &p0[i];
	uint64_t warm = p->warm < REACHFIT_IOS_MAX ? p->warm : REACHFIT_IOS_MAX;
	uint64_t ios = p->ios < REACHFIT_IOS_MAX ? p->ios : REACHFIT_IOS_MAX;
	struct reach_model *m;
	int ret = reach_model_create(&p->pt, &p->lay, &m);

	if (ret) {
		snprintf(err, len, "point %zu (window %" PRIu64 "): the model cannot replay it (%s)",
			 i, p->pt.window, strerror(-ret));
		return ret;
	}
	for (size_t g = 0; g < r->ngeo && !ret; g++) {
		struct reach_pred pr;

		ret = reach_model_run(m, &p->pt, &r->geo[g], NULL, warm, ios, &pr);
		if (ret) {
			snprintf(err, len, "point %zu: replay: %s", i, strerror(-ret));
			break;
		}
		r->x[g * n + i] = (double)pr.misses / (double)pr.ios;
		r->data_share[g * n + i] = pr.data_translations ?
			(double)pr.data_misses / (double)pr.data_translations : 0;
	}
	reach_model_destroy(m);
	return ret;
}

int reachfit_run(const struct reachfit_point *p, size_t n, unsigned resamples, uint64_t seed,
		 struct reachfit_result *out, char *err, size_t len)
{
	const double **samples;
	size_t *ns;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (n < 3) {
		snprintf(err, len, "%zu points: a fit needs at least 3 windows", n);
		return -EINVAL;
	}
	out->ngeo = reach_geo_candidates(out->geo, REACHFIT_GEO_MAX);
	out->npoints = n;
	out->x = iob_calloc(out->ngeo * n, sizeof(double));
	out->data_share = iob_calloc(out->ngeo * n, sizeof(double));
	samples = iob_calloc(n, sizeof(*samples));
	ns = iob_calloc(n, sizeof(*ns));
	if (!out->x || !out->data_share || !samples || !ns) {
		snprintf(err, len, "out of memory");
		ret = -ENOMEM;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		samples[i] = p[i].y;
		ns[i] = p[i].ny;
		ret = predict_point(p, i, n, out, err, len);
	}
	if (!ret) {
		out->fit.chosen = out->chosen;
		ret = reach_fit_select(out->x, out->ngeo, n, samples, ns, resamples, seed, &out->fit);
		if (ret)
			snprintf(err, len, "the fit: %s", strerror(-ret));
	}
	if (!ret) {
		/* The knee: the smallest window where the chosen geometry misses on half the data. */
		for (size_t i = 0; i < n; i++)
			if (out->data_share[out->fit.best * n + i] >= 0.5 &&
			    (!out->knee_window || p[i].pt.window < out->knee_window))
				out->knee_window = p[i].pt.window;
	}
	iob_free(samples);
	iob_free(ns);
	if (ret)
		reachfit_free(out);
	return ret;
}

void reachfit_row(struct csv *c, const char *source, const char *engine,
		  const struct reachfit_point *p, const struct reachfit_result *r, const char *extra)
{
	const struct iotlb_cfg *g = &r->geo[r->fit.best];
	const struct reach_fit *f = &r->fit;
	double share = f->resamples ? (double)r->chosen[f->best] / f->resamples : 1.0;

	if (!c)
		return;
	csv_row(c, "%s,%s,%" PRIu64 ",%s,%u,%zu,%u,%u,%s,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.5f,%u,"
		"%.3f,%zu,%" PRIu64 ",%" PRIu64 "%s", source, engine, p->pt.page_size,
		reach_pattern_name(p->pt.pattern), p->pt.io_pages, r->npoints, g->entries, g->ways,
		iotlb_repl_name(g->repl), f->a, f->a_lo, f->a_hi, f->b, f->b_lo, f->b_hi, f->r2,
		f->resamples, share, f->ties, (uint64_t)g->entries * p->pt.page_size,
		r->knee_window, extra ? extra : "");
}

/* The value of column @name of row @r as an unsigned number. */
static int col_u64(const struct csv_table *t, size_t r, const char *name, uint64_t *v,
		   char *err, size_t len)
{
	int c = csv_col(t, name);
	char *end;

	if (c < 0) {
		snprintf(err, len, "no column %s", name);
		return -EINVAL;
	}
	errno = 0;
	*v = strtoull(t->rows[r][c], &end, 0);
	if (errno || end == t->rows[r][c] || *end || t->rows[r][c][0] == '-') {
		snprintf(err, len, "row %zu: %s '%s' is not a number", r + 1, name, t->rows[r][c]);
		return -EINVAL;
	}
	return 0;
}

int reach_replay_parse(const struct csv_table *t, size_t r, struct reachfit_point *out,
		       unsigned *qd, char *err, size_t len)
{
	static const char *const names[] = {
		"page_size_bytes", "window_bytes", "io_pages", "qd", "seed", "warm_ios", "ios",
		"first_cmd", "window_iova", "sq_iova", "cq_iova", "prp_iova", "src_iova", "qsize",
		"slots",
	};
	uint64_t v[sizeof(names) / sizeof(names[0])];
	int pc = csv_col(t, "pattern"), ec = csv_col(t, "engine"), pat;

	memset(out, 0, sizeof(*out));
	if (pc < 0 || ec < 0) {
		snprintf(err, len, "no column %s", pc < 0 ? "pattern" : "engine");
		return -EINVAL;
	}
	pat = reach_pattern_parse(t->rows[r][pc]);
	if (pat < 0) {
		snprintf(err, len, "row %zu: pattern '%s' is not seq, stride or random", r + 1,
			 t->rows[r][pc]);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (col_u64(t, r, names[i], &v[i], err, len))
			return -EINVAL;
	if (v[2] > REACH_IO_PAGES_MAX || v[3] > UINT32_MAX || v[13] > UINT32_MAX ||
	    v[14] > UINT32_MAX) {
		snprintf(err, len, "row %zu: io_pages, qd, qsize or slots out of range", r + 1);
		return -EINVAL;
	}
	out->pt = (struct reach_point){ .page_size = v[0], .window = v[1],
					.io_pages = (unsigned)v[2], .seed = v[4],
					.pattern = (enum reach_pattern)pat };
	*qd = (unsigned)v[3];
	out->warm = v[5];
	out->ios = v[6];
	out->lay = (struct reach_layout){
		.engine = !strcmp(t->rows[r][ec], "ptdma") ? REACH_ENGINE_PTDMA : REACH_ENGINE_NVME,
		.first = v[7], .window_iova = v[8], .sq_iova = v[9], .cq_iova = v[10],
		.prp_iova = v[11], .src_iova = v[12], .qsize = (unsigned)v[13],
		.slots = (unsigned)v[14],
	};
	if (reach_point_check(&out->pt, err, len))
		return -EINVAL;
	return 0;
}
