// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Repetitions (repeat.h). Each run is a forked child: the family's state,
 * the allocator's free lists and the path counters start fresh every
 * time, as they would in a new process, without paying for exec. The
 * child sends its rows back over a pipe, one per line, 'M' (the main CSV)
 * or 'C' (the second CSV) first.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iob/alloc.h>
#include <iob/perfctr.h>
#include <iob/proc.h>
#include <iob/stats.h>

#include "repeat.h"
#include "util.h"

struct rep_unit {
	char **main, **cdf;
	size_t nmain, ncdf;
};

static void unit_free(struct rep_unit *u)
{
	csv_rows_free(u->main, u->nmain);
	csv_rows_free(u->cdf, u->ncdf);
	memset(u, 0, sizeof(*u));
}

static int send_rows(FILE *f, char tag, char **rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fputc(tag, f) == EOF || fputs(rows[i], f) == EOF || fputc('\n', f) == EOF)
			return -EIO;
	return 0;
}

/* @row with the run's counters appended (-1: not counted); @row is freed. */
static char *with_hw(char *row, const int64_t *hw)
{
	size_t len = strlen(row) + PERFCTR_EVENT_NR * 22 + 1;
	char *r = iob_malloc(len);
	size_t n;

	if (!r)
		run_error("out of memory");
	n = (size_t)snprintf(r, len, "%s", row);
	for (int e = 0; e < PERFCTR_EVENT_NR; e++)
		n += (size_t)snprintf(r + n, len - n, ",%lld", (long long)hw[e]);
	iob_free(row);
	return r;
}

__attribute__((noreturn))
static void child(struct bench_ctx *ctx, const struct family *fam, const void *opts,
		  struct csv *csv, struct csv *cdf, int fd)
{
	FILE *f = fdopen(fd, "w");
	char **rows = NULL, **crows = NULL;
	size_t n = 0, nc = 0;
	int ret;

	struct perfctr_set pc;
	int64_t hw[PERFCTR_EVENT_NR];

	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	csv_capture_start(csv, REP_NCOLS + REP_NHW);
	if (cdf)
		csv_capture_start(cdf, 0);
	perfctr_set_open(&pc);
	ret = fam->run(ctx, opts, csv, cdf);
	perfctr_set_read(&pc, hw);
	perfctr_set_close(&pc);
	ret |= csv_capture_take(csv, &rows, &n);
	for (size_t i = 0; i < n; i++)
		rows[i] = with_hw(rows[i], hw);
	if (cdf)
		ret |= csv_capture_take(cdf, &crows, &nc);
	if (!f || send_rows(f, 'M', rows, n) || send_rows(f, 'C', crows, nc) || fclose(f))
		ret = -EIO;
	fflush(stdout);
	fflush(stderr);
	_exit(ret ? 1 : 0);
}

/* Append @line (without newline) to @u's rows by its tag. */
static void unit_add(struct rep_unit *u, char *line)
{
	bool m = line[0] == 'M';
	char ***rows = m ? &u->main : &u->cdf;
	size_t *n = m ? &u->nmain : &u->ncdf;
	size_t len = strlen(line);
	char **v = iob_realloc(*rows, (*n + 1) * sizeof(*v));
	char *copy = iob_malloc(len);

	if (!v || !copy)
		run_error("out of memory");
	memcpy(copy, line + 1, len);
	*rows = v;
	v[(*n)++] = copy;
}

/* One run of @opts in a child; its rows into @u. Return: 0 or -EIO. */
static int unit_run(struct bench_ctx *ctx, const struct family *fam, const void *opts,
		    struct csv *csv, struct csv *cdf, struct rep_unit *u)
{
	char *line = NULL;
	size_t cap = 0;
	int pfd[2], status;
	FILE *f;
	pid_t pid;

	if (pipe(pfd))
		run_error("pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		run_error("fork: %s", strerror(errno));
	if (!pid) {
		close(pfd[0]);
		child(ctx, fam, opts, csv, cdf, pfd[1]);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	if (!f)
		run_error("fdopen: %s", strerror(errno));
	for (ssize_t len; (len = getline(&line, &cap, f)) > 0;) {
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		if (line[0] == 'M' || line[0] == 'C')
			unit_add(u, line);
	}
	free(line);
	fclose(f);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			run_error("waitpid: %s", strerror(errno));
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* Field @col of a CSV line (no quoted commas in the families' rows), as a number. */
static double field_num(const char *line, int col)
{
	for (int c = 0; c < col && line; c++) {
		line = strchr(line, ',');
		if (line)
			line++;
	}
	return line ? strtod(line, NULL) : NAN;
}

static int col_index(const char *cols, const char *name)
{
	size_t len = strlen(name);
	int i = 0;

	for (const char *p = cols; p; p = strchr(p, ','), p = p ? p + 1 : p, i++)
		if (!strncmp(p, name, len) && (p[len] == ',' || !p[len]))
			return i;
	return -1;
}

const char *rep_header(const struct family *fam)
{
	static char buf[8192];
	const char *cols = fam->csv_cols;

	snprintf(buf, sizeof(buf), "%s,%s,%s", cols, REP_HW_COLS, REP_COLS);
	return buf;
}

/*
 * Row @k of configuration @units (one per repetition): the median
 * repetition's row and the statistics. Return: the repetition whose row
 * was used.
 */
static unsigned write_row(struct csv *csv, const struct family *fam, int col,
			  const struct rep_unit *units, unsigned repeat, size_t k)
{
	double v[STATS_MAX_N];
	unsigned order[STATS_MAX_N], med;
	char vals[16384];
	size_t vl = 0;
	struct stats_summary s;

	for (unsigned r = 0; r < repeat; r++) {
		v[r] = field_num(units[r].main[k], col);
		order[r] = r;
		vl += (size_t)snprintf(vals + vl, vl < sizeof(vals) ? sizeof(vals) - vl : 0,
				       "%s%.6g", r ? ";" : "", v[r]);
	}
	/* Insertion sort of the repetitions by their figure: the median's row. */
	for (unsigned i = 1; i < repeat; i++)
		for (unsigned j = i; j > 0 && v[order[j]] < v[order[j - 1]]; j--) {
			unsigned t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	med = order[(repeat - 1) / 2];
	if (vl >= sizeof(vals) || stats_summarize(v, repeat, &s)) {
		csv_row(csv, "%s,%s,%u,nan,nan,nan,0,nan,", units[med].main[k], fam->figure,
			repeat);
		return med;
	}
	csv_row(csv, "%s,%s,%zu,%.6g,%.6g,%.6g,%.4f,%.4f,%s", units[med].main[k], fam->figure,
		s.n, s.median, s.ci_lo, s.ci_hi, s.ci_level, s.spread, vals);
	return med;
}

/* Every row of one configuration, and the second CSV of its median repetition. */
static void write_config(struct bench_ctx *ctx, struct csv *csv, struct csv *cdf,
			 const struct family *fam, const struct rep_unit *units, unsigned repeat)
{
	int col = col_index(fam->csv_cols, fam->figure);
	unsigned first_med = 0;

	if (col < 0)
		run_error("%s: figure column '%s' is not in its header", fam->name, fam->figure);
	for (unsigned r = 1; r < repeat; r++)
		if (units[r].nmain != units[0].nmain)
			run_error("%s: repetitions wrote %zu and %zu rows", fam->name,
				  units[0].nmain, units[r].nmain);
	for (size_t k = 0; k < units[0].nmain; k++) {
		unsigned med = write_row(csv, fam, col, units, repeat, k);

		if (!k)
			first_med = med;
		if (ctx->table && repeat > 1) {
			double v[STATS_MAX_N];
			struct stats_summary s;

			for (unsigned r = 0; r < repeat; r++)
				v[r] = field_num(units[r].main[k], col);
			if (!stats_summarize(v, repeat, &s))
				fprintf(ctx->table, "# row %zu: %s median %.6g (%.0f%% CI %.6g..%.6g) "
					"over %u repetitions, spread %.1f%%\n", k + 1, fam->figure,
					s.median, 100 * s.ci_level, s.ci_lo, s.ci_hi, repeat,
					100 * s.spread);
		}
	}
	for (size_t k = 0; cdf && k < units[first_med].ncdf; k++)
		csv_row(cdf, "%s", units[first_med].cdf[k]);
}

int rep_run(struct bench_ctx *ctx, const struct family *fam, void *const *opts, unsigned n,
	    unsigned repeat, struct csv *csv, struct csv *cdf, const struct rep_hooks *hooks)
{
	struct rep_unit *units = iob_calloc((size_t)n * repeat, sizeof(*units));
	struct csv *mem = NULL;
	FILE *table = ctx->table;
	int ret = 0;

	if (!units || repeat < 1 || repeat > STATS_MAX_N)
		run_error("repetitions: out of memory or bad count");
	if (!csv && csv_open_memory(rep_header(fam), &mem))
		run_error("out of memory");
	for (unsigned r = 0; r < repeat && !ret; r++) {
		ctx->table = r ? NULL : table;
		for (unsigned i = 0; i < n && !ret; i++) {
			/* ABC, CBA, ABC ...: drift and order effects fall on every configuration. */
			unsigned c = r % 2 ? n - 1 - i : i;
			double t0 = proc_now_s();

			if (hooks && hooks->stop && hooks->stop()) {
				ret = -EINTR;
				break;
			}
			if (hooks && hooks->before)
				hooks->before(hooks->arg, c, r);
			ret = unit_run(ctx, fam, opts[c], csv ? csv : mem, cdf,
				       &units[(size_t)c * repeat + r]);
			if (!ret && hooks && hooks->stop && hooks->stop())
				ret = -EINTR;
			if (!ret && hooks && hooks->after)
				hooks->after(hooks->arg, c, r, proc_now_s() - t0);
		}
	}
	ctx->table = table;
	for (unsigned c = 0; c < n && !ret; c++)
		write_config(ctx, csv ? csv : mem, cdf, fam, &units[(size_t)c * repeat], repeat);
	for (size_t u = 0; u < (size_t)n * repeat; u++)
		unit_free(&units[u]);
	iob_free(units);
	if (mem)
		csv_close(mem);
	return ret;
}
