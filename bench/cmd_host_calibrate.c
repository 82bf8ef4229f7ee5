// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob host calibrate RUN_DIR: the cost model fitted to what iob host vfio
 * measured on this host, and the model held against the measurement.
 *
 * From each counted window of host_vfio.csv (one call type: map or unmap,
 * a page size, pages per call, a layout) it takes the kernel's commands
 * per call and two phase times from the kprobes: the flush (queueing the
 * INVALIDATE_IOMMU_PAGES commands of a sync: building each, copying it to
 * the ring, writing the tail register) and the completion wait (queueing
 * COMPLETION_WAIT and spinning until the IOMMU has executed everything
 * before it and stored the semaphore). Then:
 *
 *  - doorbell_ns: the median flush time per INVALIDATE_IOMMU_PAGES (an
 *    upper bound: the command's building is in it too);
 *  - completion_wait_ns: the smallest completion-wait time of an unmap
 *    window, less what the model charges for the rest of the round trip
 *    (a doorbell, the fetch of the invalidations and of the wait itself,
 *    the invalidations' own work at inv_pages_ns). The IOMMU executes the
 *    invalidation and the wait back to back, so user space cannot tell
 *    inv_pages_ns apart: it keeps its current value, and the completion
 *    wait time by range size (host_calibration.csv) shows whether larger
 *    ranges cost the IOMMU more.
 *
 * host_fidelity.csv then puts, per window, the model's commands (from
 * vfiomodel) and the model's hardware time with the fitted costs beside
 * what was measured.
 */
#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iob/cost.h>
#include <iob/csv.h>

#include "bench.h"
#include "host_cmds.h"
#include "util.h"

static const char calibrate_usage[] =
	"usage: iob host calibrate RUN_DIR\n"
	"\n"
	"Fits the cost model to RUN_DIR/host_vfio.csv (made by iob host vfio or iob host\n"
	"run with the command count on) and writes into RUN_DIR: host_cost.conf (a\n"
	"--cost file: doorbell_ns, completion_wait_ns), host_calibration.csv (the\n"
	"completion wait by invalidated range) and host_fidelity.csv (model against\n"
	"measured, per window). docs/host.md says how each figure is derived.\n";

struct win {
	char op[8], pattern[8];
	uint64_t psize, pages;
	double calls, inv, waits, m_inv, m_waits, flush_ns, cw_ns;
};

static double num(const struct csv_table *t, size_t r, const char *col, const char *path)
{
	int c = csv_col(t, col);
	char *end;
	double v;

	if (c < 0)
		usage_error("%s: no column %s (made by an older iob, or without the command count)",
			    path, col);
	v = strtod(t->rows[r][c], &end);
	if (*end || end == t->rows[r][c] || !isfinite(v))
		usage_error("%s: row %zu: %s is '%s', not a number", path, r + 1, col, t->rows[r][c]);
	return v;
}

static const char *str(const struct csv_table *t, size_t r, const char *col, const char *path)
{
	int c = csv_col(t, col);

	if (c < 0)
		usage_error("%s: no column %s", path, col);
	return t->rows[r][c];
}

static size_t read_windows(const char *path, struct win **out)
{
	struct csv_table t;
	struct win *w;
	char err[512];
	size_t n = 0;

	if (csv_read(path, &t, err, sizeof(err)))
		usage_error("%s: %s", path, err);
	if (!t.nrows)
		usage_error("%s: no rows", path);
	w = calloc(t.nrows, sizeof(*w));
	if (!w)
		run_error("out of memory");
	for (size_t r = 0; r < t.nrows; r++) {
		struct win *x = &w[n];

		snprintf(x->op, sizeof(x->op), "%s", str(&t, r, "op", path));
		snprintf(x->pattern, sizeof(x->pattern), "%s", str(&t, r, "pattern", path));
		if (strcmp(x->op, "map") && strcmp(x->op, "unmap"))
			usage_error("%s: row %zu: op '%s' is not map or unmap", path, r + 1, x->op);
		x->psize = (uint64_t)num(&t, r, "page_size_bytes", path);
		x->pages = (uint64_t)num(&t, r, "pages_per_call", path);
		x->calls = num(&t, r, "calls_per_round", path);
		x->inv = num(&t, r, "inv_pages_cmds_per_call", path);
		x->waits = num(&t, r, "completion_waits_per_call", path);
		x->m_inv = num(&t, r, "model_inv_pages_per_call", path);
		x->m_waits = num(&t, r, "model_completion_waits_per_call", path);
		x->flush_ns = num(&t, r, "flush_phase_ns_per_call", path);
		x->cw_ns = num(&t, r, "completion_wait_phase_mean_ns", path);
		/* Windows without the count (-1) cannot calibrate anything. */
		if (x->inv >= 0 && x->waits >= 0)
			n++;
	}
	csv_table_free(&t);
	if (!n)
		usage_error("%s: no window has a command count (run iob host vfio without --no-cmds)",
			    path);
	*out = w;
	return n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Fit doorbell_ns and completion_wait_ns into @m; says on stdout from what. */
static void fit(const struct win *w, size_t n, struct cost_model *m)
{
	double per_inv[1024], best = 0;
	size_t k = 0, used = 0;

	for (size_t i = 0; i < n && k < 1024; i++)
		if (w[i].inv > 0 && w[i].flush_ns > 0)
			per_inv[k++] = w[i].flush_ns / w[i].inv;
	if (k) {
		qsort(per_inv, k, sizeof(*per_inv), cmp_double);
		m->doorbell_ns = per_inv[k / 2];
	}
	for (size_t i = 0; i < n; i++) {
		double inv_per_sync, rest;

		if (strcmp(w[i].op, "unmap") || w[i].waits <= 0 || w[i].cw_ns <= 0)
			continue;
		inv_per_sync = w[i].inv / w[i].waits;
		rest = w[i].cw_ns - m->doorbell_ns - m->cmd_ns * (inv_per_sync + 1) -
		       m->inv_pages_ns * inv_per_sync;
		if (!used++ || rest < best)
			best = rest;
	}
	if (used)
		m->completion_wait_ns = best > 0 ? best : 0;
	printf("doorbell_ns %.0f (median of %zu flush windows), completion_wait_ns %.0f "
	       "(fastest of %zu unmap windows)%s\n", m->doorbell_ns, k, m->completion_wait_ns, used,
	       !used ? ": no unmap window had a wait time, kept" :
	       best < 0 ? ": the waits were shorter than the model's other charges" : "");
}

/* What the model charges for a window's commands, per call. */
static double model_ns(const struct cost_model *m, double inv, double waits)
{
	return inv * (m->doorbell_ns + m->cmd_ns + m->inv_pages_ns) +
	       waits * (m->doorbell_ns + m->cmd_ns + m->completion_wait_ns);
}

static void write_cost(const char *dir, const struct cost_model *m)
{
	char path[4200], tmp[4300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/host_cost.conf", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		run_error("%s: %s", tmp, strerror(errno));
	fprintf(f, "# iob host calibrate: the cost model fitted to this host (docs/host.md).\n"
		   "# The other parameters keep their values; load with --cost.\n");
	for (size_t i = 0; i < cost_nparams(); i++)
		fprintf(f, "%-20s = %.1f\n", cost_param_name(i), cost_param_get(m, i));
	if (fclose(f) || rename(tmp, path))
		run_error("%s: cannot write", path);
}

static void write_tables(struct bench_ctx *ctx, const struct win *w, size_t n,
			 const struct cost_model *m)
{
	struct csv *cal = bench_csv(ctx, "host_calibration.csv");
	struct csv *fid = bench_csv(ctx, "host_fidelity.csv");
	unsigned agree = 0;

	csv_header(cal, "op,page_size_bytes,pages_per_call,pattern,range_bytes,inv_pages_per_sync,"
			"completion_wait_phase_mean_ns");
	csv_header(fid, "op,page_size_bytes,pages_per_call,pattern,inv_pages_per_call,"
			"model_inv_pages_per_call,completion_waits_per_call,"
			"model_completion_waits_per_call,counts_equal,measured_hw_ns_per_call,"
			"model_hw_ns_per_call,model_over_measured");
	for (size_t i = 0; i < n; i++) {
		const struct win *x = &w[i];
		bool eq = fabs(x->inv - x->m_inv) < 1e-9 && fabs(x->waits - x->m_waits) < 1e-9;
		double meas = x->flush_ns >= 0 && x->cw_ns >= 0 ? x->flush_ns + x->cw_ns * x->waits : -1;
		double mod = x->m_inv >= 0 ? model_ns(m, x->m_inv, x->m_waits) : -1;

		agree += eq;
		if (!strcmp(x->op, "unmap") && x->waits > 0 && x->cw_ns > 0)
			csv_row(cal, "%s,%llu,%llu,%s,%llu,%.3f,%.1f", x->op,
				(unsigned long long)x->psize, (unsigned long long)x->pages, x->pattern,
				(unsigned long long)(x->psize * (strcmp(x->pattern, "random") ? x->pages : 1)),
				x->inv / x->waits, x->cw_ns);
		csv_row(fid, "%s,%llu,%llu,%s,%.3f,%.3f,%.3f,%.3f,%d,%.1f,%.1f,%.3f", x->op,
			(unsigned long long)x->psize, (unsigned long long)x->pages, x->pattern, x->inv,
			x->m_inv, x->waits, x->m_waits, eq, meas, mod,
			meas > 0 && mod >= 0 ? mod / meas : -1);
	}
	printf("commands: the model agrees with the kernel in %u of %zu windows\n", agree, n);
	bench_csv_close(cal);
	bench_csv_close(fid);
}

int host_calibrate_main(int argc, char **argv)
{
	char path[4200];
	struct cost_model m;
	struct bench_ctx ctx;
	struct win *w;
	struct stat st;
	size_t n;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(calibrate_usage, stdout);
		return 0;
	}
	if (argc > 2)
		usage_error("host calibrate: unexpected argument '%s': give one run folder (see `iob "
			    "host calibrate --help`)", argv[2]);
	if (argc != 2 || argv[1][0] == '-')
		usage_error("host calibrate: give one run folder (see `iob host calibrate --help`)");
	if (stat(argv[1], &st) || !S_ISDIR(st.st_mode))
		usage_error("host calibrate: %s is not a folder", argv[1]);
	snprintf(path, sizeof(path), "%s/host_vfio.csv", argv[1]);
	n = read_windows(path, &w);
	cost_current(&m);
	fit(w, n, &m);
	host_ctx_init(&ctx, argc, argv);
	ctx.outdir = argv[1];
	write_cost(argv[1], &m);
	write_tables(&ctx, w, n, &m);
	free(w);
	return 0;
}
