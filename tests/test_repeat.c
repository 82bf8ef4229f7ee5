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
#include <sys/stat.h>
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
	/* 20% worse is not beyond a 25% threshold. */
	iob_run(&o, "compare", a, b, "--threshold", "25%");
	cr_assert_eq(o.status, 0, "%s%s", o.out, o.err);
	iob_run(&o, "compare", a, b, "--format", "csv");
	cr_assert(strstr(o.out, "file,configuration,figure"), "%s", o.out);
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
