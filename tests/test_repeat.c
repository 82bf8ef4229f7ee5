// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Repetitions and comparisons from outside: `--repeat N` rows carry the
 * median, its interval, the spread and every repetition's value; `iob
 * compare` joins two run folders on the configuration key and exits 0
 * (nothing worse), 1 (a significant regression beyond the threshold) or
 * 2 (bad input). The compare tests use hand-written folders, so their
 * verdicts do not depend on this machine's timing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iob/csv.h>

#include "iobrun.h"

static struct iob_out o;

static void make_tmpdir(char *buf, size_t len, const char *stem)
{
	const char *t = getenv("TMPDIR");

	snprintf(buf, len, "%s/%s-XXXXXX", t && *t ? t : P_tmpdir, stem);
	cr_assert(mkdtemp(buf));
}

static void rm_rf(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(repeat, micro_repeat_appends_median_interval_and_every_value)
{
	char dir[256], path[300], err[256];
	struct csv_table t;
	int n, med, lo, hi, vals, fig;

	make_tmpdir(dir, sizeof(dir), "iobtest-rep");
	iob_run(&o, "micro", "cmdq", "--rounds", "200", "--batches", "1,8", "--repeat", "3",
		"--out", dir);
	cr_assert_eq(o.status, 0, "%s", o.err);
	snprintf(path, sizeof(path), "%s/cmdq.csv", dir);
	cr_assert_eq(csv_read(path, &t, err, sizeof(err)), 0, "%s", err);
	n = csv_col(&t, "n");
	med = csv_col(&t, "median");
	lo = csv_col(&t, "ci_lo");
	hi = csv_col(&t, "ci_hi");
	vals = csv_col(&t, "rep_values");
	fig = csv_col(&t, "figure");
	cr_assert(n >= 0 && med >= 0 && lo >= 0 && hi >= 0 && vals >= 0 && fig >= 0);
	cr_assert_str_eq(csv_meta_get(&t, "key"), "mode,batch_cmds");
	{
		int hw = csv_col(&t, "hw_instructions");

		cr_assert_geq(hw, 0, "the hardware counter columns");
		for (size_t r = 0; r < t.nrows; r++) {
			long long v = strtoll(t.rows[r][hw], NULL, 10);

			cr_assert(v == -1 || v > 0, "counted or -1: %lld", v);
		}
	}
	cr_assert_gt(t.nrows, 0);
	for (size_t r = 0; r < t.nrows; r++) {
		double m = strtod(t.rows[r][med], NULL);
		const char *v = t.rows[r][vals];

		cr_assert_str_eq(t.rows[r][n], "3");
		cr_assert_str_eq(t.rows[r][fig], "p50_ns");
		cr_assert(strtod(t.rows[r][lo], NULL) <= m && m <= strtod(t.rows[r][hi], NULL));
		cr_assert(strchr(v, ';') && strchr(strchr(v, ';') + 1, ';'), "3 values: %s", v);
	}
	csv_table_free(&t);
	rm_rf(dir);
}

Test(repeat, repeat_out_of_range_is_a_usage_error)
{
	iob_run(&o, "micro", "cmdq", "--repeat", "0");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "--repeat"), "%s", o.err);
	iob_run(&o, "matrix", "--repeat", "x");
	cr_assert_eq(o.status, 2);
}

/* A run folder with one family CSV: rows "mode,batch_cmds" with the given repetitions. */
static void fake_run(const char *root, const char *name, const char *const *rows)
{
	char dir[512], path[600];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	cr_assert_eq(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/meta.json", dir);
	f = fopen(path, "w");
	cr_assert(f);
	fprintf(f, "{\"host\": \"h\", \"git_commit\": \"c\", \"repeat\": 4, \"status\": \"complete\"}\n");
	fclose(f);
	snprintf(path, sizeof(path), "%s/cmdq.csv", dir);
	f = fopen(path, "w");
	cr_assert(f);
	fprintf(f, "# family=cmdq\n# key=mode,batch_cmds\nmode,batch_cmds,p50_ns,figure,n,rep_values\n");
	for (size_t i = 0; rows[i]; i++)
		fprintf(f, "%s\n", rows[i]);
	fclose(f);
}

Test(repeat, compare_exits_1_on_a_significant_regression_only)
{
	static const char *const base[] = { "inline,1,100,p50_ns,4,100;101;99;100.5",
					     "inline,8,400,p50_ns,4,400;402;398;401", NULL };
	static const char *const slower[] = { "inline,8,480,p50_ns,4,480;482;478;481",
					       "inline,1,100,p50_ns,4,100;102;98;100", NULL };
	static const char *const faster[] = { "inline,1,80,p50_ns,4,80;81;79;80.5",
					       "inline,8,401,p50_ns,4,401;399;403;400", NULL };
	char root[256], a[300], b[300], c[300];

	make_tmpdir(root, sizeof(root), "iobtest-cmp");
	fake_run(root, "a", base);
	fake_run(root, "b", slower);
	fake_run(root, "c", faster);
	snprintf(a, sizeof(a), "%s/a", root);
	snprintf(b, sizeof(b), "%s/b", root);
	snprintf(c, sizeof(c), "%s/c", root);
	iob_run(&o, "compare", a, b);
	cr_assert_eq(o.status, 1, "%s%s", o.out, o.err);
	cr_assert(strstr(o.out, "batch_cmds=8"), "%s", o.out);
	cr_assert(strstr(o.out, "1.200"), "rows joined by key, not by position: %s", o.out);
	cr_assert(strstr(o.out, "worse"), "%s", o.out);
	iob_run(&o, "compare", a, c, "--format", "md");
	cr_assert_eq(o.status, 0, "%s%s", o.out, o.err);
	cr_assert(strstr(o.out, "| better |"), "%s", o.out);
	/* Joined without a key column: another mode's rows against the baseline's. */
	{
		static const char *const thread[] = { "thread,8,480,p50_ns,4,480;482;478;481", NULL };
		char d[300];

		fake_run(root, "d", thread);
		snprintf(d, sizeof(d), "%s/d", root);
		iob_run(&o, "compare", a, d);
		cr_assert_eq(o.status, 2, "nothing joins on mode: %s", o.out);
		iob_run(&o, "compare", a, d, "--ignore", "mode");
		cr_assert_eq(o.status, 1, "%s%s", o.out, o.err);
		cr_assert(strstr(o.out, "1.200"), "%s", o.out);
	}
	/* Within one run: its inline rows against its thread rows (one session). */
	{
		static const char *const both[] = { "inline,8,400,p50_ns,4,400;402;398;401",
						    "thread,8,480,p50_ns,4,480;482;478;481", NULL };
		char e[300];

		fake_run(root, "e", both);
		snprintf(e, sizeof(e), "%s/e", root);
		iob_run(&o, "compare", e, "--within", "mode=inline,thread");
		cr_assert_eq(o.status, 1, "%s%s", o.out, o.err);
		cr_assert(strstr(o.out, "1.200"), "%s", o.out);
		iob_run(&o, "compare", e, "--within", "mode=inline");
		cr_assert_eq(o.status, 2, "not COL=A,B");
		iob_run(&o, "compare", e, e, "--within", "mode=inline,thread");
		cr_assert_eq(o.status, 2, "one run only");
	}
	/* 20% worse is not beyond a 25% threshold. */
	iob_run(&o, "compare", a, b, "--threshold", "25%");
	cr_assert_eq(o.status, 0, "%s%s", o.out, o.err);
	iob_run(&o, "compare", a, b, "--format", "csv");
	cr_assert(strstr(o.out, "file,configuration,figure"), "%s", o.out);
	/* The same as figures: both runs' medians and the ratio, into a new folder. */
	snprintf(c, sizeof(c), "%s/cmp", root);
	iob_run(&o, "plot", "--compare", a, b, "--out", c);
	cr_assert_eq(o.status, 1, "exit as iob compare: %s", o.err);
	snprintf(c, sizeof(c), "%s/cmp/compare_cmdq.svg", root);
	cr_assert_eq(access(c, R_OK), 0, "%s", o.err);
	snprintf(c, sizeof(c), "%s/cmp/compare.md", root);
	cr_assert_eq(access(c, R_OK), 0);
	iob_run(&o, "plot", "--compare", a, b);
	cr_assert_eq(o.status, 2, "--out is required");
	rm_rf(root);
}

Test(repeat, compare_of_missing_or_unrelated_folders_exits_2)
{
	char root[256], a[300], path[400];
	static const char *const base[] = { "inline,1,100,p50_ns,4,100;101;99;100.5", NULL };

	make_tmpdir(root, sizeof(root), "iobtest-cmp");
	fake_run(root, "a", base);
	snprintf(a, sizeof(a), "%s/a", root);
	iob_run(&o, "compare", a);
	cr_assert_eq(o.status, 2);
	iob_run(&o, "compare", a, "/nonexistent/run");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "/nonexistent/run"), "%s", o.err);
	iob_run(&o, "compare", a, root);	/* no meta.json */
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "meta.json"), "%s", o.err);
	snprintf(path, sizeof(path), "%s/a/cmdq.csv", root);
	cr_assert_eq(unlink(path), 0);
	iob_run(&o, "compare", a, a);	/* nothing to join */
	cr_assert_eq(o.status, 2);
	iob_run(&o, "compare", a, a, "--threshold", "five");
	cr_assert_eq(o.status, 2);
	rm_rf(root);
}

/*
 * Start `iob matrix FILE ...` with stderr on a pipe, wait for @marker in
 * its progress, send @sig. Return: its exit status; its stdout in @out.
 */
static int matrix_signalled(const char *file, const char *root, const char *marker, int sig,
			    char *out, size_t len)
{
	int perr[2], pout[2], st;
	char buf[65536];
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	cr_assert_eq(pipe(perr), 0);
	cr_assert_eq(pipe(pout), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		dup2(perr[1], 2);
		dup2(pout[1], 1);
		close(perr[0]);
		close(pout[0]);
		execl(getenv("IOB"), "iob", "matrix", file, "--results", root, "--repeat", "2",
		      "--no-plot", (char *)NULL);
		_exit(127);
	}
	close(perr[1]);
	close(pout[1]);
	buf[0] = '\0';
	while (!strstr(buf, marker) && n + 1 < sizeof(buf) &&
	       (r = read(perr[0], buf + n, sizeof(buf) - 1 - n)) > 0) {
		n += (size_t)r;
		buf[n] = '\0';
	}
	cr_assert(strstr(buf, marker), "never reached '%s': %s", marker, buf);
	kill(pid, sig);
	while (read(perr[0], buf, sizeof(buf)) > 0)
		;
	n = 0;
	while (n + 1 < len && (r = read(pout[0], out + n, len - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	close(perr[0]);
	close(pout[0]);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int count_rows(const char *dir, const char *name)
{
	char path[4400], err[256];
	struct csv_table t;
	int n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (csv_read(path, &t, err, sizeof(err)))
		return -1;
	n = (int)t.nrows;
	csv_table_free(&t);
	return n;
}

Test(repeat, sigterm_keeps_finished_lines_and_resume_finishes_the_run)
{
	char root[256], m[64], dir[4096], done[4096], cmd[4400];

	make_tmpdir(root, sizeof(root), "iobtest-int");
	write_tmp(m, sizeof(m), "inval unmaps=2000 batches=1,16\n"
				"dmamap mode=strict|lazy ms=200\n"
				"cmdq rounds=200 batches=1,8\n");
	cr_assert_eq(matrix_signalled(m, root, "rep 2/2 dmamap", SIGTERM, dir, sizeof(dir)), 143);
	cr_assert(strstr(dir, "_interrupted"), "%s", dir);
	cr_assert_gt(count_rows(dir, "inval.csv"), 0, "the finished line is kept");
	cr_assert_leq(count_rows(dir, "dmamap.csv"), 0, "the unfinished line is not");
	snprintf(cmd, sizeof(cmd), "grep -q '\"status\": \"interrupted\"' %s/meta.json", dir);
	cr_assert_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "ls -a %s | grep -q tmp", dir);
	cr_assert_neq(system(cmd), 0, "no .tmp file left");
	iob_run(&o, "matrix", "--resume", dir, "--no-plot");
	cr_assert_eq(o.status, 0, "%s", o.err);
	snprintf(done, sizeof(done), "%.4000s", o.out);
	done[strcspn(done, "\n")] = '\0';
	cr_assert_gt(count_rows(done, "inval.csv"), 0);
	cr_assert_eq(count_rows(done, "dmamap.csv"), 4, "map and unmap rows of strict and lazy");
	cr_assert_gt(count_rows(done, "cmdq.csv"), 0);
	cr_assert(access(dir, F_OK), "the interrupted folder is gone");
	snprintf(cmd, sizeof(cmd), "grep -q '\"status\": \"complete\"' %s/meta.json", done);
	cr_assert_eq(system(cmd), 0);
	/* A finished run cannot be resumed. */
	iob_run(&o, "matrix", "--resume", done);
	cr_assert_eq(o.status, 2);
	unlink(m);
	rm_rf(root);
}

Test(repeat, a_failing_plot_makes_the_matrix_exit_1_with_the_folder_kept)
{
	char root[256], plots[300], m[64], path[400];
	FILE *f;

	make_tmpdir(root, sizeof(root), "iobtest-plot");
	snprintf(plots, sizeof(plots), "%s/plots", root);
	cr_assert_eq(mkdir(plots, 0755), 0);
	snprintf(path, sizeof(path), "%s/common.gp", plots);
	f = fopen(path, "w");
	cr_assert(f);
	fprintf(f, "this is not gnuplot\n");
	fclose(f);
	snprintf(path, sizeof(path), "%s/cmdq.gp", plots);
	f = fopen(path, "w");
	cr_assert(f);
	fprintf(f, "load lib.'/common.gp'\n");
	fclose(f);
	write_tmp(m, sizeof(m), "cmdq rounds=100 batches=1\n");
	setenv("IOB_PLOT_DIR", plots, 1);
	iob_run(&o, "matrix", m, "--results", root, "--repeat", "1");
	unsetenv("IOB_PLOT_DIR");
	cr_assert_eq(o.status, 1, "%s", o.err);
	cr_assert(strstr(o.err, "plotting failed"), "%s", o.err);
	cr_assert(strstr(o.out, root), "the folder is still published: %s", o.out);
	unlink(m);
	rm_rf(root);
}

/* Does @path contain @needle? */
static bool file_has(const char *path, const char *needle)
{
	char cmd[8400];

	snprintf(cmd, sizeof(cmd), "grep -qF -- '%.100s' '%.4096s'", needle, path);
	return system(cmd) == 0;
}

Test(repeat, plots_name_their_run_show_tails_and_draw_intervals)
{
	char root[256], m[64], dir[4096], path[4400];

	make_tmpdir(root, sizeof(root), "iobtest-plots");
	/* One page size, one request size: each plot still draws (both failed once). */
	write_tmp(m, sizeof(m), "pgtable rounds=40 sizes=4K counts=1,256 layout=contig\n"
				"cmdq rounds=100 batches=1,8\n"
				"workload workload=blk shape=virtio strategy=pv io_size=64K ring=16 "
				"budget=16 ios=200\n");
	iob_run(&o, "matrix", m, "--results", root, "--repeat", "2");
	cr_assert_eq(o.status, 0, "%s", o.err);
	snprintf(dir, sizeof(dir), "%.4000s", o.out);
	dir[strcspn(dir, "\n")] = '\0';
	snprintf(path, sizeof(path), "%s/meta.json", dir);
	for (const char *const *k = (const char *const[]){ "\"tool_version\"", "\"build_type\"",
			"\"compiler\"", "\"cpu_governor\"", "\"boost\"", "\"smt\"",
			"\"online_cpus\"", "\"loadavg_start\"", "\"loadavg_end\"",
			"\"iommu_cmdline\"", "\"hw_events\"", "\"repeat\": 2", NULL }; *k; k++)
		cr_assert(file_has(path, *k), "meta.json records %s", *k);
	cr_assert(!file_has(path, "likwid"), "no LIKWID claim");
	{
		struct stat st;

		cr_assert_eq(stat(dir, &st), 0);
		cr_assert_eq(st.st_mode & 0777, 0755, "run folders readable by others");
	}
	snprintf(path, sizeof(path), "%s/cmdq.svg", dir);
	cr_assert(file_has(path, ", commit "), "every figure names its run");
	cr_assert(file_has(path, "interval of the median covering 50.0%, 2 repetitions"),
		  "the median's interval is drawn and its real coverage said");
	snprintf(path, sizeof(path), "%s/pgtable_cdf.svg", dir);
	cr_assert(file_has(path, "tail (1 - CDF)"), "the tail on a log axis");
	cr_assert(file_has(path, ", commit "));
	unlink(m);
	rm_rf(root);
}
