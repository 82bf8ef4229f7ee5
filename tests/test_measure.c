// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The measurement layer: histogram percentiles against exact percentiles
 * of random data (within the stated 1/256 relative error), merging, path
 * counters summed over threads, CSV written and read back, run folders
 * that only appear when complete.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iob/alloc.h>
#include <iob/csv.h>
#include <iob/hist.h>
#include <iob/pathctr.h>
#include <iob/perfctr.h>
#include <iob/results.h>
#include <iob/rundir.h>
#include <iob/warn.h>

#include "failinject.h"
#include "prng.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The exact value at quantile q by the histogram's own definition. */
static uint64_t exact_quantile(const uint64_t *sorted, size_t n, double q)
{
	size_t rank = (size_t)ceil(q * (double)n);

	if (rank < 1)
		rank = 1;
	return sorted[rank - 1];
}

Test(hist, index_and_bucket_bounds_agree)
{
	/* Every bucket's bounds map back to it, and buckets tile the line. */
	for (unsigned i = 0; i + 1 < HIST_BUCKETS; i++) {
		cr_assert_eq(hist_index(hist_bucket_low(i)), i, "bucket %u", i);
		cr_assert_eq(hist_index(hist_bucket_high(i)), i, "bucket %u", i);
		cr_assert_eq(hist_bucket_high(i) + 1, hist_bucket_low(i + 1), "bucket %u", i);
	}
	cr_assert_eq(hist_index(UINT64_MAX), HIST_BUCKETS - 1);
	cr_assert_eq(hist_index(127), 127);
	cr_assert_eq(hist_index(128), 128);
}

Test(hist, percentiles_within_stated_error_of_exact)
{
	uint64_t seed = test_seed(1);
	struct prng r;
	struct hist *h = malloc(sizeof(*h));
	enum { N = 200000 };
	uint64_t *v = malloc(N * sizeof(*v));
	static const double qs[] = { 0.5, 0.9, 0.99, 0.999, 0.0001, 1.0 };

	cr_assert(h && v);
	prng_seed(&r, seed);
	for (int dist = 0; dist < 3; dist++) {
		hist_init(h);
		for (size_t i = 0; i < N; i++) {
			/* uniform small, log-uniform 1..1e12, heavy-tailed */
			if (dist == 0)
				v[i] = prng_below(&r, 1000);
			else if (dist == 1)
				v[i] = (uint64_t)exp((double)prng_below(&r, 1000000) / 1e6 * log(1e12));
			else
				v[i] = 100 + (prng_below(&r, 100) == 0 ? prng_below(&r, 1ULL << 40) : 0);
			hist_record(h, v[i]);
		}
		qsort(v, N, sizeof(*v), cmp_u64);
		for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
			double got = hist_percentile(h, qs[k]);
			double want = (double)exact_quantile(v, N, qs[k]);

			cr_assert(fabs(got - want) <= want / 256 + 0.5,
				  "seed=0x%llx dist=%d q=%g: got %.1f want %.1f",
				  (unsigned long long)seed, dist, qs[k], got, want);
		}
		cr_assert_eq(h->count, N);
		cr_assert_eq(h->min, v[0]);
		cr_assert_eq(h->max, v[N - 1]);
	}
	free(h);
	free(v);
}

Test(hist, mean_and_stddev_are_exact)
{
	struct hist *h = malloc(sizeof(*h));

	hist_init(h);
	for (uint64_t v = 1; v <= 1000; v++)
		hist_record(h, v * 1000);
	/* 1000 * mean of 1..1000 = 500500; sample stddev of 1..1000 = 288.819... */
	cr_assert_float_eq(hist_mean(h), 500500.0, 1e-6);
	cr_assert_float_eq(hist_stddev(h), 288819.436, 0.01);
	free(h);
}

Test(hist, merge_equals_recording_everything_in_one)
{
	struct hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b)), *all = malloc(sizeof(*all));
	struct prng r;

	prng_seed(&r, test_seed(2));
	hist_init(a);
	hist_init(b);
	hist_init(all);
	for (int i = 0; i < 50000; i++) {
		uint64_t v = prng_below(&r, 1ULL << (prng_below(&r, 40) + 1));

		hist_record(i & 1 ? a : b, v);
		hist_record(all, v);
	}
	hist_merge(a, b);
	cr_assert_eq(memcmp(a->bucket, all->bucket, sizeof(a->bucket)), 0);
	cr_assert_eq(a->count, all->count);
	cr_assert_eq(a->min, all->min);
	cr_assert_eq(a->max, all->max);
	cr_assert_float_eq(hist_percentile(a, 0.99), hist_percentile(all, 0.99), 1e-9);
	free(a);
	free(b);
	free(all);
}

Test(hist, empty_histogram_reports_zeroes)
{
	struct hist *h = malloc(sizeof(*h));
	struct hist_summary s;

	hist_init(h);
	hist_summarize(h, &s);
	cr_assert_eq(s.count, 0);
	cr_assert_eq(s.min, 0);
	cr_assert_float_eq(s.p99, 0.0, 0);
	free(h);
}

static void *count_paths(void *arg)
{
	for (int i = 0; i < 1000; i++)
		pathctr_add(PATH_map, 100 + (uint64_t)(uintptr_t)arg);
	return NULL;
}

Test(pathctr, records_from_threads_are_summed_on_read)
{
	struct pathctr_rec sum[PATH_NR];
	pthread_t t[4];

	pathctr_reset();
	for (uintptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, count_paths, (void *)(i * 1000));
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	pathctr_sum(sum);
	cr_assert_eq(sum[PATH_map].count, 4000);
	cr_assert_eq(sum[PATH_map].total_cyc, 1000 * (100 + 1100 + 2100 + 3100));
	cr_assert_eq(sum[PATH_map].min_cyc, 100);
	cr_assert_eq(sum[PATH_map].max_cyc, 3100);
	/* log2 buckets: 100 -> 6, 1100 -> 10, 2100 -> 11, 3100 -> 11 */
	cr_assert_eq(sum[PATH_map].log2[6], 1000);
	cr_assert_eq(sum[PATH_map].log2[10], 1000);
	cr_assert_eq(sum[PATH_map].log2[11], 2000);
	cr_assert_eq(sum[PATH_unmap].count, 0);
	pathctr_reset();
	pathctr_sum(sum);
	cr_assert_eq(sum[PATH_map].count, 0);
	cr_assert_eq(sum[PATH_map].min_cyc, UINT64_MAX);
}

Test(pathctr, names_round_trip)
{
	for (int p = 0; p < PATH_NR; p++)
		cr_assert_eq(pathctr_lookup(pathctr_name(p)), p);
	cr_assert_eq(pathctr_lookup("no_such_path"), -1);
	cr_assert_str_eq(pathctr_name(PATH_completion_wait), "completion_wait");
}

static void *count_without_memory(void *arg)
{
	(void)arg;
	/* This thread's first counter cannot get its records: it must still count. */
	iob_fail_after(0);
	for (int i = 0; i < 10; i++)
		pathctr_add(PATH_unmap, 50);
	iob_fail_after(-1);
	return NULL;
}

Test(pathctr, a_thread_without_memory_for_its_records_still_counts)
{
	struct pathctr_rec sum[PATH_NR];
	pthread_t t;

	pathctr_reset();
	pthread_create(&t, NULL, count_without_memory, NULL);
	pthread_join(t, NULL);
	pathctr_sum(sum);
	cr_assert_eq(sum[PATH_unmap].count, 10, "counted into a block nobody sums");
	cr_assert_eq(sum[PATH_unmap].total_cyc, 500);
	cr_assert_eq(sum[PATH_unmap].min_cyc, 50);
	pathctr_reset();
	pathctr_sum(sum);
	cr_assert_eq(sum[PATH_unmap].count, 0, "the fallback is reset like the rest");
}

static void *first_count_live(void *arg)
{
	int64_t live = iob_alloc_live();

	pathctr_add(PATH_map, 1);
	*(int64_t *)arg = iob_alloc_live() - live;
	return NULL;
}

/* A thread's records outlive it on purpose: no caller owes a free for them. */
Test(pathctr, records_are_not_counted_as_live_allocations)
{
	int64_t grew = -1;
	pthread_t t;

	pthread_create(&t, NULL, first_count_live, &grew);
	pthread_join(t, NULL);
	cr_assert_eq(grew, 0);
}

/*
 * Most virtual machines have no counters: open fails, and must leave
 * nothing that perfctr_close() would close. Where they exist they count.
 */
Test(perfctr, open_either_counts_or_leaves_nothing_open)
{
	struct perfctr p;
	struct perfctr_sample a, b;
	char line[160];
	int ret;

	memset(&p, 0x55, sizeof(p));
	ret = perfctr_open(&p);
	perfctr_probe(line, sizeof(line));
	if (ret) {
		cr_assert_eq(p.fd_cycles, -1);
		cr_assert_eq(p.fd_instr, -1);
		cr_assert(strstr(line, "unavailable ("), "%s", line);
	} else {
		cr_assert_eq(perfctr_read(&p, &a), 0);
		for (volatile int i = 0; i < 100000; i++)
			;
		cr_assert_eq(perfctr_read(&p, &b), 0);
		cr_assert_gt(b.instructions, a.instructions);
		cr_assert_str_eq(line, "cycles,instructions");
	}
	perfctr_close(&p);
	perfctr_close(&p);
	cr_assert_eq(p.fd_cycles, -1);
	cr_assert_eq(p.fd_instr, -1);
}

static void make_tmpdir(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/iobtest-res-XXXXXX");
	cr_assert(mkdtemp(buf));
}

Test(csv, written_then_read_back)
{
	struct results_env env;
	struct csv_table t;
	struct csv *c;
	char dir[64], path[128], err[128];
	char *argv[] = { "iob", "test" };

	make_tmpdir(dir, sizeof(dir));
	results_env_collect(&env, 2, argv, 0x1234);
	cr_assert_eq(csv_open(dir, "x.csv", &env, &c), 0);
	csv_meta(c, "family", "test");
	csv_header(c, "name,size_bytes,p50_ns");
	csv_row(c, "%s,%d,%.1f", "a", 4096, 12.5);
	csv_row(c, "%s,%d,%.1f", "b", 8192, 20.0);
	snprintf(path, sizeof(path), "%s/x.csv", dir);
	cr_assert_neq(access(path, F_OK), 0, "visible before close");
	cr_assert_eq(csv_close(c), 0);
	cr_assert_eq(csv_read(path, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.ncols, 3);
	cr_assert_eq(t.nrows, 2);
	cr_assert_str_eq(t.rows[1][csv_col(&t, "size_bytes")], "8192");
	cr_assert_str_eq(t.rows[0][csv_col(&t, "p50_ns")], "12.5");
	cr_assert_str_eq(csv_meta_get(&t, "family"), "test");
	cr_assert_str_eq(csv_meta_get(&t, "schema_version"), "1");
	cr_assert_str_eq(csv_meta_get(&t, "seed"), "0x0000000000001234");
	cr_assert_str_eq(csv_meta_get(&t, "command"), "iob test");
	cr_assert(csv_meta_get(&t, "git_commit"));
	cr_assert(csv_meta_get(&t, "tsc_khz"));
	cr_assert_eq(csv_col(&t, "nope"), -1);
	csv_table_free(&t);
	unlink(path);
	rmdir(dir);
}

/*
 * A row with more or fewer fields than the header fails the file with
 * -EINVAL, nothing is left, and lib/ prints nothing: the writer's bug is
 * an IOB_WARN_ON for the program to report.
 */
Test(csv, row_that_does_not_match_its_header_fails_the_file_and_warns)
{
	static const char *rows[] = { "a,1", "a,1,2,3", "a,1,2,,," };
	char dir[64], path[128], big[6000];
	struct csv *c;

	make_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/x.csv", dir);
	for (unsigned i = 0; i < 3; i++) {
		uint64_t warns = iob_warn_count();

		cr_assert_eq(csv_open(dir, "x.csv", NULL, &c), 0);
		csv_header(c, "name,a,b");
		csv_row(c, "%s,%d,%d", "ok", 1, 2);
		cr_assert_eq(iob_warn_count(), warns, "a matching row warned");
		csv_row(c, "%s", rows[i]);
		cr_assert_eq(iob_warn_count(), warns + 1, "row %u did not warn", i);
		cr_assert_eq(csv_close(c), -EINVAL, "row %u accepted", i);
		cr_assert_neq(access(path, F_OK), 0, "row %u: a file was left", i);
	}
	cr_assert(strstr(iob_warn_message(0), "csv.c"), "%s", iob_warn_message(0));
	/* A row longer than the stack buffer is checked too. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	cr_assert_eq(csv_open(dir, "x.csv", NULL, &c), 0);
	csv_header(c, "name,a,b");
	csv_row(c, "%s,%d,%s", "q", 1, big);
	cr_assert_eq(csv_close(c), 0);
	cr_assert_eq(access(path, F_OK), 0);
	cr_assert_eq(csv_open(dir, "x.csv", NULL, &c), 0);
	csv_header(c, "name,a,b");
	csv_row(c, "%s,%d", big, 1);
	cr_assert_eq(csv_close(c), -EINVAL);
	unlink(path);
	rmdir(dir);
}

/*
 * Found by tests/fuzz/fuzz_csvwrite.c: the writer published rows the reader
 * gives back otherwise. A quoted comma counted as inside a field (the reader
 * splits at every comma), a newline started another row, a trailing CR was
 * dropped, a '#' first made a metadata line. Each is now refused: -EINVAL,
 * no file; it is the data, not the writer, so no warning.
 */
Test(csv, row_the_reader_would_not_give_back_is_refused)
{
	static const char *rows[] = { "\"q,r\",1", "a\nb,1", "a,1\r", "#a,1", "a\t,1", "\"a\",1" };
	char dir[64], path[128];
	struct csv *c;

	make_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/x.csv", dir);
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t warns = iob_warn_count();

		cr_assert_eq(csv_open(dir, "x.csv", NULL, &c), 0);
		csv_header(c, "name,a");
		csv_row(c, "%s", rows[i]);
		cr_assert_eq(csv_close(c), -EINVAL, "row %u accepted", i);
		cr_assert_neq(access(path, F_OK), 0, "row %u: a file was left", i);
		cr_assert_eq(iob_warn_count(), warns, "row %u warned", i);
	}
	cr_assert_eq(csv_open(dir, "x.csv", NULL, &c), 0);
	csv_header(c, "name,\"a\"");
	csv_row(c, "x,1");
	cr_assert_eq(csv_close(c), -EINVAL, "a quoted header accepted");
	rmdir(dir);
}

/* Entries in @dir other than . and .. */
static unsigned count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	cr_assert(d, "%s", dir);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

struct open_ctx {
	char dir[64];
	struct csv *c;
};

static int open_op(void *arg)
{
	struct open_ctx *x = arg;

	return csv_open(x->dir, "x.csv", NULL, &x->c);
}

static void open_undo(void *arg)
{
	struct open_ctx *x = arg;

	csv_discard(x->c);
	x->c = NULL;
}

static uint64_t open_state(void *arg)
{
	struct open_ctx *x = arg;

	return (uint64_t)(uintptr_t)x->c ^ count_entries(x->dir);
}

Test(csv, open_fails_cleanly_at_each_allocation)
{
	struct open_ctx x = { .c = NULL };
	struct failinject fi = { "csv_open", open_op, open_undo, open_state, &x };

	make_tmpdir(x.dir, sizeof(x.dir));
	cr_assert_eq(failinject_each(&fi), 1);
	cr_assert_eq(count_entries(x.dir), 0, "discard left a file");
	rmdir(x.dir);
}

Test(csv, long_row_without_memory_fails_the_file)
{
	char dir[64], big[6000];
	int64_t live = iob_alloc_live();
	struct csv *c;

	make_tmpdir(dir, sizeof(dir));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	cr_assert_eq(csv_open(dir, "x.csv", NULL, &c), 0);
	csv_header(c, "a,b");
	iob_fail_after(0);
	csv_row(c, "%s,%d", big, 1);
	iob_fail_after(-1);
	csv_row(c, "%s,%d", "short", 2);
	cr_assert_eq(csv_close(c), -ENOMEM, "the first error is the one returned");
	cr_assert_eq(count_entries(dir), 0, "a file was left");
	cr_assert_eq(iob_alloc_live(), live);
	rmdir(dir);
}

struct read_ctx {
	char path[128];
	char err[128];
	struct csv_table t;
};

static int read_op(void *arg)
{
	struct read_ctx *x = arg;

	return csv_read(x->path, &x->t, x->err, sizeof(x->err));
}

static void read_undo(void *arg)
{
	struct read_ctx *x = arg;

	cr_assert_eq(x->t.nmeta, 20);
	cr_assert_eq(x->t.ncols, 12);
	cr_assert_eq(x->t.nrows, 40);
	cr_assert_str_eq(x->t.rows[39][11], "39.11");
	cr_assert_str_eq(csv_meta_get(&x->t, "k19"), "v19");
	csv_table_free(&x->t);
}

/* A failed read leaves the table zeroed, as csv_table_free() does. */
static uint64_t read_state(void *arg)
{
	static const struct csv_table zero;
	struct read_ctx *x = arg;

	return memcmp(&x->t, &zero, sizeof(zero)) != 0;
}

Test(csv, read_fails_cleanly_at_each_allocation)
{
	struct read_ctx x;
	struct failinject fi = { "csv_read", read_op, read_undo, read_state, &x };
	char dir[64];
	unsigned fails;
	FILE *f;

	memset(&x, 0, sizeof(x));
	make_tmpdir(dir, sizeof(dir));
	snprintf(x.path, sizeof(x.path), "%s/t.csv", dir);
	f = fopen(x.path, "w");
	for (int i = 0; i < 20; i++)
		fprintf(f, "# k%d=v%d\n", i, i);
	for (int r = -1; r < 40; r++)
		for (int c = 0; c < 12; c++) {
			if (r < 0)
				fprintf(f, "c%d", c);
			else
				fprintf(f, "%d.%d", r, c);
			fputs(c == 11 ? "\n" : ",", f);
		}
	fclose(f);
	fails = failinject_each(&fi);
	/*
	 * The text, two metadata arrays twice, a field array and its growth
	 * per line (41 lines x 2), the row array three times: every one a
	 * site, each reached in turn.
	 */
	cr_assert_eq(fails, 1 + 4 + 41 * 2 + 3, "%u allocation sites", fails);
	iob_fail_after(3);
	cr_assert_eq(csv_read(x.path, &x.t, x.err, sizeof(x.err)), -ENOMEM);
	iob_fail_after(-1);
	cr_assert(strstr(x.err, "out of memory"), "%s", x.err);
	unlink(x.path);
	rmdir(dir);
}

Test(csv, read_skips_blank_lines_and_takes_crlf_line_ends)
{
	char dir[64], path[128], err[128];
	struct csv_table t;
	FILE *f;

	make_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/crlf.csv", dir);
	f = fopen(path, "w");
	fputs("#  family=x\r\n\r\nname,v\r\n\na,1\r\nb,\r\n", f);
	fclose(f);
	cr_assert_eq(csv_read(path, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(csv_meta_get(&t, "family"), "x");
	cr_assert_eq(t.ncols, 2);
	cr_assert_eq(t.nrows, 2);
	cr_assert_str_eq(t.cols[1], "v");
	cr_assert_str_eq(t.rows[0][1], "1");
	cr_assert_str_eq(t.rows[1][1], "", "an empty last field is a field");
	cr_assert_null(csv_meta_get(&t, "nope"));
	csv_table_free(&t);
	csv_table_free(&t);
	cr_assert_eq(csv_read("/nonexistent/x.csv", &t, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "/nonexistent/x.csv"), "%s", err);
	unlink(path);
	rmdir(dir);
}

Test(csv, malformed_file_is_rejected_with_line)
{
	char dir[64], path[128], err[128];
	struct csv_table t;
	FILE *f;

	make_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/bad.csv", dir);
	f = fopen(path, "w");
	fputs("# a=1\nx,y\n1,2\n3\n", f);
	fclose(f);
	cr_assert_eq(csv_read(path, &t, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "line 4: field count differs from the header");
	f = fopen(path, "w");
	fputs("x,y\n1,2\n# late=1\n", f);
	fclose(f);
	cr_assert_eq(csv_read(path, &t, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "line 3: metadata after the header");
	f = fopen(path, "w");
	fputs("# only=meta\n", f);
	fclose(f);
	cr_assert_eq(csv_read(path, &t, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "no header"), "%s", err);
	unlink(path);
	rmdir(dir);
}

struct rundir_ctx {
	char root[64];
	struct results_env env;
	struct rundir *rd;
};

static int rundir_op(void *arg)
{
	struct rundir_ctx *x = arg;

	return rundir_create(x->root, "unit", &x->env, &x->rd);
}

static void rundir_undo(void *arg)
{
	struct rundir_ctx *x = arg;

	rundir_abort(x->rd);
	x->rd = NULL;
}

static uint64_t rundir_state(void *arg)
{
	struct rundir_ctx *x = arg;

	return (uint64_t)(uintptr_t)x->rd ^ count_entries(x->root);
}

Test(rundir, create_fails_cleanly_at_each_allocation)
{
	struct rundir_ctx x = { .rd = NULL };
	struct failinject fi = { "rundir_create", rundir_op, rundir_undo, rundir_state, &x };
	char *argv[] = { "iob" };

	make_tmpdir(x.root, sizeof(x.root));
	results_env_collect(&x.env, 1, argv, 1);
	cr_assert_eq(failinject_each(&fi), 1);
	cr_assert_eq(count_entries(x.root), 0, "abort left something");
	rmdir(x.root);
}

Test(rundir, too_long_a_root_is_refused_before_anything_is_made)
{
	struct results_env env;
	struct rundir *rd = NULL;
	char *argv[] = { "iob" };
	char root[4200];

	results_env_collect(&env, 1, argv, 1);
	memset(root, 'a', sizeof(root) - 1);
	root[0] = '/';
	root[sizeof(root) - 1] = 0;
	cr_assert_eq(rundir_create(root, "unit", &env, &rd), -ENAMETOOLONG);
	cr_assert_null(rd);
}

Test(rundir, run_folder_appears_only_when_committed)
{
	struct results_env env;
	struct rundir *rd;
	char root[64], final[4400], probe[4500];
	char *argv[] = { "iob" };
	struct stat st;

	make_tmpdir(root, sizeof(root));
	results_env_collect(&env, 1, argv, 1);
	cr_assert_eq(rundir_create(root, "bad label!", &env, &rd), -EINVAL);
	cr_assert_eq(rundir_create(root, "unit", &env, &rd), 0);
	cr_assert(strstr(rundir_path(rd), "/.tmp-unit-"), "%s", rundir_path(rd));
	cr_assert_neq(stat(rundir_final_path(rd), &st), 0);
	cr_assert_eq(rundir_commit(rd, final, sizeof(final)), 0);
	cr_assert_eq(stat(final, &st), 0);
	cr_assert(strstr(final, "_unit"), "%s", final);
	rmdir(final);

	/* Aborted: nothing is left, not even the temporary folder. */
	cr_assert_eq(rundir_create(root, "gone", &env, &rd), 0);
	snprintf(probe, sizeof(probe), "%s/partial.csv", rundir_path(rd));
	fclose(fopen(probe, "w"));
	rundir_abort(rd);
	{
		DIR *d = opendir(root);
		struct dirent *de;
		int n = 0;

		while ((de = readdir(d)))
			n += de->d_name[0] != '.' || strlen(de->d_name) > 2;
		closedir(d);
		cr_assert_eq(n, 0, "something stayed in %s", root);
	}
	rmdir(root);
}
