// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob plot RUN_DIR: draw a run folder's CSVs with the gnuplot scripts of
 * plot/ (PNG and SVG, next to the CSVs). Every script picks its columns
 * by header name, so any CSV in the suite's format plots, whatever wrote
 * it (the model, the QEMU harness, the Xen counters).
 *
 * The scripts are looked up in $IOB_PLOT_DIR, then the source tree this
 * binary was built from, then the installed data directory.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include <iob/csv.h>
#include <iob/proc.h>
#include <iob/results.h>

#include "iob.h"
#include "plot.h"
#include "util.h"

/* CSV that must exist -> script that draws it. */
static const struct {
	const char *csv;
	const char *script;
} plots[] = {
	{ "pgtable.csv", "pgtable.gp" },
	{ "pgtable_cdf.csv", "pgtable_cdf.gp" },
	{ "reach.csv", "reach.gp" },
	{ "cmdq.csv", "cmdq.gp" },
	{ "inval.csv", "inval.gp" },
	{ "dmamap_cdf.csv", "dmamap_cdf.gp" },
	{ "workloads.csv", "workloads.gp" },
	{ "protection.csv", "protection.gp" },
	{ "qemu.csv", "qemu.gp" },
	{ "xen.csv", "xen.gp" },
	{ "host_vfio.csv", "host.gp" },
	{ "host_reach.csv", "reach_host.gp" },
};

static const char *plot_dir(void)
{
	static const char *const candidates[] = { IOB_SRC_PLOT_DIR, IOB_DATA_PLOT_DIR };
	const char *env = getenv("IOB_PLOT_DIR");
	static char probe[4200];

	if (env && *env)
		return env;
	for (size_t i = 0; i < 2; i++) {
		snprintf(probe, sizeof(probe), "%s/common.gp", candidates[i]);
		if (proc_is_file(probe))
			return candidates[i];
	}
	return NULL;
}

/*
 * "host H, commit C, DATE" from @dir's meta.json (else the CSV's metadata):
 * every figure names its run in a corner. Quotes are dropped (gnuplot string).
 */
static void run_info(const char *dir, const char *csvname, char *buf, size_t len)
{
	char path[4400], err[128];
	json_t *m;
	struct csv_table t;
	const char *host = "?", *commit = "?", *date = "?";

	snprintf(path, sizeof(path), "%s/meta.json", dir);
	m = json_load_file(path, 0, NULL);
	if (m) {
		host = str_or(json_string_value(json_object_get(m, "host")), "?");
		commit = str_or(json_string_value(json_object_get(m, "git_commit")), "?");
		date = str_or(json_string_value(json_object_get(m, "date")), "?");
		snprintf(buf, len, "%s, commit %s, %s", host, commit, date);
		json_decref(m);
	} else {
		snprintf(path, sizeof(path), "%s/%s", dir, csvname);
		if (!csv_read(path, &t, err, sizeof(err))) {
			snprintf(buf, len, "%s, commit %s, %s", str_or(csv_meta_get(&t, "host"), "?"),
				 str_or(csv_meta_get(&t, "git_commit"), "?"), str_or(csv_meta_get(&t, "date"), "?"));
			csv_table_free(&t);
		} else {
			snprintf(buf, len, "%s, commit %s, %s", host, commit, date);
		}
	}
	for (char *p = buf; *p; p++)
		if (*p == '\'' || *p == '"' || *p == '\\')
			*p = ' ';
}

/* 1 when @csvname in @dir has the repetition columns (an interval to draw). */
static int has_ci(const char *dir, const char *csvname)
{
	char path[4400], err[128];
	struct csv_table t;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, csvname);
	if (csv_read(path, &t, err, sizeof(err)))
		return 0;
	ret = csv_col(&t, "ci_lo") >= 0 && csv_col(&t, "figure") >= 0;
	csv_table_free(&t);
	return ret;
}

static int run_gnuplot(const char *dir, const char *scripts, const char *script,
		       const char *csvname, const char *info_given, bool quiet)
{
	char setup[9400], path[4200], info[512];
	pid_t pid;
	int st;

	snprintf(path, sizeof(path), "%s/%s", scripts, script);
	/* Quotes in paths would break the gnuplot string: refuse them. */
	if (strchr(dir, '\'') || strchr(scripts, '\''))
		return -EINVAL;
	if (info_given) {
		snprintf(info, sizeof(info), "%s", info_given);
		for (char *p = info; *p; p++)
			if (*p == '\'' || *p == '"' || *p == '\\')
				*p = ' ';
	} else {
		run_info(dir, csvname, info, sizeof(info));
	}
	snprintf(setup, sizeof(setup), "dir='%s'; lib='%s'; runinfo='%s'; has_ci=%d", dir, scripts,
		 info, has_ci(dir, csvname));
	/* The child's freopen() would write what stdio holds a second time. */
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char log[4400];

		/* Quiet (inside a matrix run): gnuplot's chatter goes to plot.log. */
		snprintf(log, sizeof(log), "%s/plot.log", dir);
		if (quiet && (!freopen("/dev/null", "w", stdout) || !freopen(log, "a", stderr)))
			_exit(126);
		execlp("gnuplot", "gnuplot", "-e", setup, path, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return -ENOENT;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

/*
 * protection.csv: for each workload and I/O size, every configuration's
 * software cycles per I/O against its p99 exposure window, with the
 * Pareto front (lower is better on both) marked. A configuration that
 * never unmaps (hook) has an unbounded window: it is drawn at a ceiling
 * ten times the largest finite window of its group.
 */
struct ppoint {
	size_t row;
	double cyc, exp;
	bool unbounded, front;
};

static int cmp_point(const void *a, const void *b)
{
	const struct ppoint *x = a, *y = b;

	return x->cyc < y->cyc ? -1 : x->cyc > y->cyc;
}

static bool same_group(const struct csv_table *t, size_t a, size_t b, int cw, int cio, int csh)
{
	return !strcmp(t->rows[a][cw], t->rows[b][cw]) && !strcmp(t->rows[a][cio], t->rows[b][cio]) &&
	       (csh < 0 || !strcmp(t->rows[a][csh], t->rows[b][csh]));
}

static int write_protection(const char *dir)
{
	struct csv_table t;
	struct csv *out;
	char path[4400], err[256];
	int cw, cs, cio, ccyc, cexp, catt, ret;
	int keys[6];
	static const char *const kn[6] = { "strategy", "flush", "superpages", "impl", "policy", "shape" };

	snprintf(path, sizeof(path), "%s/workloads.csv", dir);
	if (csv_read(path, &t, err, sizeof(err)))
		return 0;	/* nothing to draw from */
	cw = csv_col(&t, "workload");
	cs = csv_col(&t, "strategy");
	cio = csv_col(&t, "io_bytes");
	ccyc = csv_col(&t, "sw_cyc_per_io");
	cexp = csv_col(&t, "exposure_p99_ns");
	catt = csv_col(&t, "attack");
	for (int k = 0; k < 6; k++)
		keys[k] = csv_col(&t, kn[k]);
	if (cw < 0 || cs < 0 || cio < 0 || ccyc < 0 || cexp < 0 || catt < 0) {
		csv_table_free(&t);
		return -EINVAL;
	}
	ret = csv_open(dir, "protection.csv", NULL, &out);
	if (ret) {
		csv_table_free(&t);
		return ret;
	}
	csv_meta(out, "schema_version", "%d", RESULTS_SCHEMA_VERSION);
	csv_meta(out, "derived_from", "workloads.csv");
	csv_meta(out, "note", "exposure_plot_ns: unbounded windows (no unmap) drawn at 10x the "
		 "group's largest finite window");
	csv_header(out, "workload,io_bytes,strategy,flush,superpages,impl,policy,shape,"
		   "sw_cyc_per_io,exposure_p99_ns,exposure_plot_ns,unbounded,pareto");
	for (size_t r = 0; r < t.nrows; r++) {
		struct ppoint *pts;
		size_t n = 0;
		double maxexp = 0, best = 1e300;
		bool seen = false;

		/* A group: workload, I/O size, shape. Start it at its first row. */
		for (size_t q = 0; q < r; q++)
			if (same_group(&t, q, r, cw, cio, keys[5]) && !strcmp(t.rows[q][catt], "0"))
				seen = true;
		if (seen || strcmp(t.rows[r][catt], "0"))
			continue;
		pts = calloc(t.nrows, sizeof(*pts));
		if (!pts)
			break;
		for (size_t q = r; q < t.nrows; q++) {
			if (!same_group(&t, q, r, cw, cio, keys[5]) || strcmp(t.rows[q][catt], "0"))
				continue;
			pts[n].row = q;
			pts[n].cyc = atof(t.rows[q][ccyc]);
			pts[n].exp = atof(t.rows[q][cexp]);
			pts[n].unbounded = pts[n].exp < 0;
			if (!pts[n].unbounded && pts[n].exp > maxexp)
				maxexp = pts[n].exp;
			n++;
		}
		qsort(pts, n, sizeof(*pts), cmp_point);
		for (size_t i = 0; i < n; i++) {
			double e = pts[i].unbounded ? 1e300 : pts[i].exp;

			if (e < best || i == 0) {
				pts[i].front = true;
				if (e < best)
					best = e;
			}
		}
		for (size_t i = 0; i < n; i++) {
			char **row = t.rows[pts[i].row];

			csv_row(out, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%.1f,%d,%d", row[cw], row[cio], row[cs],
				keys[1] >= 0 ? row[keys[1]] : "", keys[2] >= 0 ? row[keys[2]] : "",
				keys[3] >= 0 ? row[keys[3]] : "", keys[4] >= 0 ? row[keys[4]] : "",
				keys[5] >= 0 ? row[keys[5]] : "", row[ccyc], row[cexp],
				pts[i].unbounded ? (maxexp > 0 ? 10 * maxexp : 1e9) : pts[i].exp,
				pts[i].unbounded, pts[i].front);
		}
		free(pts);
	}
	csv_table_free(&t);
	return csv_close(out);
}

int cmd_plot_dir(const char *dir, bool quiet)
{
	const char *scripts = plot_dir();
	int failed = 0, drawn = 0;

	if (!scripts) {
		fprintf(stderr, "iob: plot: gnuplot scripts not found (set IOB_PLOT_DIR to the "
			"project's plot/ folder)\n");
		return 1;
	}
	if (write_protection(dir)) {
		fprintf(stderr, "iob: plot: cannot derive protection.csv from workloads.csv\n");
		failed++;
	}
	for (size_t i = 0; i < sizeof(plots) / sizeof(plots[0]); i++) {
		char csv[4400];
		int ret;

		snprintf(csv, sizeof(csv), "%s/%s", dir, plots[i].csv);
		if (!proc_is_file(csv))
			continue;
		ret = run_gnuplot(dir, scripts, plots[i].script, plots[i].csv, NULL, quiet);
		if (ret == -ENOENT) {
			fprintf(stderr, "iob: plot: gnuplot is not installed (Debian: gnuplot-nox)\n");
			return 1;
		}
		if (ret) {
			fprintf(stderr, "iob: plot: %s failed on %s\n", plots[i].script, csv);
			failed++;
		} else {
			drawn++;
		}
	}
	if (!quiet)
		fprintf(stderr, "iob: plot: %d script(s) drew into %s\n", drawn, dir);
	return failed;
}

/*
 * iob plot --compare RUN_A RUN_B --out DIR: `iob compare` as compare.csv
 * and compare.md in DIR, and per family compare_<family>.png/svg: both
 * runs' medians per configuration with their intervals, and the ratio B/A
 * with its interval. DIR is a new folder (run folders are written once).
 */
static int plot_compare(int argc, char **argv)
{
	const char *scripts = plot_dir(), *out = NULL, *ignore = NULL;
	char path[4400], *runs[2];
	int nr = 0, ret;
	FILE *f;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--out") && i + 1 < argc)
			out = argv[++i];
		else if (!strcmp(argv[i], "--ignore") && i + 1 < argc)
			ignore = argv[++i];
		else if (argv[i][0] == '-' || nr == 2)
			usage_error("plot --compare: unexpected '%s' (see `iob plot --help`)", argv[i]);
		else
			runs[nr++] = argv[i];
	}
	if (nr != 2 || !out)
		usage_error("plot --compare: give RUN_A RUN_B and --out DIR");
	if (strchr(out, '\''))
		usage_error("plot --compare: --out must not contain a quote");
	if (mkdir(out, 0755))
		usage_error("plot --compare: cannot create %s: %s", out, strerror(errno));
	for (int md = 0; md < 2; md++) {
		snprintf(path, sizeof(path), "%s/compare.%s", out, md ? "md" : "csv");
		f = fopen(path, "w");
		if (!f)
			run_error("%s: %s", path, strerror(errno));
		ret = compare_write(runs, 2, md ? 1 : 2, ignore, f);
		if (fclose(f))
			run_error("%s: write failed", path);
	}
	if (!scripts)
		run_error("plot: gnuplot scripts not found (set IOB_PLOT_DIR)");
	snprintf(path, sizeof(path), "A: %s, B: %s", strrchr(runs[0], '/') ? strrchr(runs[0], '/') + 1 :
		 runs[0], strrchr(runs[1], '/') ? strrchr(runs[1], '/') + 1 : runs[1]);
	if (run_gnuplot(out, scripts, "compare.gp", "compare.csv", path, false)) {
		fprintf(stderr, "iob: plot: compare.gp failed in %s\n", out);
		return 1;
	}
	fprintf(stderr, "iob: plot: compared %s and %s into %s\n", runs[0], runs[1], out);
	return ret;
}

int cmd_plot(int argc, char **argv)
{
	struct stat st;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: iob plot RUN_DIR\n"
		       "       iob plot --compare RUN_A RUN_B --out DIR [--ignore COLS]\n\n"
		       "Draws every known CSV in RUN_DIR as PNG and SVG (gnuplot, scripts in plot/).\n"
		       "--compare writes `iob compare RUN_A RUN_B` as DIR/compare.csv and compare.md,\n"
		       "and per family DIR/compare_FAMILY.png/svg: both runs' medians per configuration\n"
		       "with their 95%% intervals, and the ratio B/A with its interval. Exit status as\n"
		       "`iob compare` (1: a significant regression); --ignore as iob compare's.\n");
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "--compare"))
		return plot_compare(argc, argv);
	if (argc != 2)
		usage_error("plot: expected exactly one RUN_DIR (see `iob plot --help`)");
	if (stat(argv[1], &st) || !S_ISDIR(st.st_mode))
		usage_error("plot: '%s' is not a directory", argv[1]);
	{
		bool any = false;

		for (size_t i = 0; i < sizeof(plots) / sizeof(plots[0]) && !any; i++) {
			char csv[4400];

			snprintf(csv, sizeof(csv), "%s/%s", argv[1], plots[i].csv);
			any = proc_is_file(csv);
		}
		if (!any)
			usage_error("plot: %s has none of the CSVs a plot draws (pgtable.csv, "
				    "workloads.csv, qemu.csv, ...)", argv[1]);
	}
	return cmd_plot_dir(argv[1], false) ? 1 : 0;
}
