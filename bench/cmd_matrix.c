// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob matrix [FILE]: run a list of benchmark configurations into one run
 * folder, results/<date>_<host>_<cpu>_<label>/, with one CSV per family,
 * meta.json, and the plots. The folder is built under a hidden temporary
 * name and renamed only when everything in it is written.
 *
 * Matrix file format (docs/methodology.md): one configuration per line,
 *     FAMILY [key=value ...]
 * '#' starts a comment; blank lines are ignored. Keys are the family's
 * options (`iob micro --help`). Errors give FILE:LINE:COLUMN and nothing
 * runs.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <iob/alloc.h>
#include <iob/cost.h>
#include <iob/proc.h>
#include <iob/pathctr.h>
#include <iob/rundir.h>
#include <iob/csv.h>
#include <iob/textfile.h>

#include "bench.h"
#include "matrix_file.h"
#include "iob.h"
#include "plot.h"
#include "repeat.h"
#include "session.h"
#include "util.h"

static const char default_matrix[] =
	"# The default matrix: the micro families, then the head-to-head of the three\n"
	"# strategies and the status quo they replace (swiotlb: no IOMMU, every buffer bounced). Sized so that 4 repetitions finish within 3 minutes on two busy cores; `iob matrix --full`\n"
	"# is the larger list for real hosts. a|b|c runs every alternative.\n"
	"pgtable rounds=600\n"
	"# The page table as kernel code is built (no vector registers), with both page-size sets;\n"
	"# callers sharing one table on 1 and 2 threads.\n"
	"pgtable rounds=500 impls=tuned,tuned-kflags pgsizes=default|pow2 sizes=4K counts=1,256 layout=contig threads=1,2\n"
	"reach accesses=100000\n"
	"cmdq rounds=2000\n"
	"inval unmaps=100000\n"
	"dmamap mode=strict|lazy threads=1|2 ms=300\n"
	"dmamap mode=strict|lazy np_cache=yes granule=1|16 ms=300\n"
	"# Head to head: strategy x tuning, superpages off and on.\n"
	"workload workload=netrx strategy=hook|pv|dmalayer flush=strict|batched|lazy superpages=no|yes io_size=4K ios=30000\n"
	"workload workload=blk shape=virtio strategy=hook|pv|dmalayer flush=strict|batched|lazy superpages=no|yes ring=16 budget=16 io_size=4K|16K|64K|256K|1M ios=20000 max_mib=256\n"
	"workload workload=blk shape=nvme strategy=hook|pv|dmalayer flush=strict|batched|lazy superpages=no|yes ring=16 budget=16 io_size=64K ios=20000\n"
	"workload workload=nettx strategy=hook|pv|dmalayer flush=strict|batched|lazy io_size=4K ios=30000\n"
	"workload workload=netback strategy=hook|pv|dmalayer flush=strict|batched|lazy budget=64 ios=30000\n"
	"workload workload=balloon strategy=hook|dmalayer flush=strict|batched|lazy superpages=no|yes chunk=64 ios=500\n"
	"workload workload=dombuild strategy=hook|dmalayer superpages=no|yes build_mib=256 ios=2\n"
	"# swiotlb: no IOMMU, so no tuning; beside every head-to-head line.\n"
	"workload workload=netrx|nettx strategy=swiotlb io_size=4K ios=10000\n"
	"workload workload=blk shape=virtio strategy=swiotlb ring=16 budget=16 io_size=4K|16K|64K|256K|1M ios=5000 max_mib=256\n"
	"workload workload=blk shape=nvme strategy=swiotlb ring=16 budget=16 io_size=64K ios=5000\n"
	"workload workload=netback strategy=swiotlb budget=64 ios=10000\n"
	"# The baseline beside the tuned paths: Xen 4.17's choices and the per-page table code.\n"
	"workload workload=netrx|blk strategy=hook|pv|dmalayer flush=strict policy=xen impl=baseline ring=16 budget=16 io_size=64K ios=20000\n"
	"# Protection: an attacking device after every unmap.\n"
	"workload workload=netrx strategy=hook|pv|dmalayer flush=strict|batched|lazy attack=yes io_size=4K ios=10000\n"
	"workload workload=netback strategy=hook|pv|dmalayer flush=strict|batched|lazy attack=yes ios=10000\n"
	"workload workload=netrx strategy=swiotlb attack=yes io_size=4K ios=10000\n"
	"workload workload=netback strategy=swiotlb attack=yes ios=10000\n";

static const char full_matrix[] =
	"# The full matrix, for real hosts: larger runs, more sizes, both IOTLB geometries.\n"
	"pgtable rounds=2000 counts=1,4,16,64,256,1024,4096\n"
	"reach accesses=1000000\n"
	"cmdq rounds=20000\n"
	"inval unmaps=1000000 batches=1,4,16,64,256\n"
	"dmamap mode=strict|lazy threads=1|2|4|8 granule=1|4|16|64 ms=2000\n"
	"dmamap mode=strict|lazy np_cache=yes granule=1|16 ms=2000\n"
	"workload workload=netrx strategy=hook|pv|dmalayer flush=strict|batched|lazy superpages=no|yes io_size=64|1500|4K|16K|64K ios=200000 recycle=no|yes guest_mib=512\n"
	"workload workload=blk shape=virtio|nvme strategy=hook|pv|dmalayer flush=strict|batched|lazy superpages=no|yes ring=32 budget=32 io_size=4K|16K|64K|256K|1M ios=100000 max_mib=4096 guest_mib=512\n"
	"workload workload=nettx strategy=hook|pv|dmalayer flush=strict|batched|lazy io_size=64|1500|4K|64K ios=200000 guest_mib=512\n"
	"workload workload=netback strategy=hook|pv|dmalayer flush=strict|batched|lazy budget=1|8|64 ios=200000\n"
	"workload workload=balloon strategy=hook|dmalayer flush=strict|batched|lazy superpages=no|yes chunk=1|64|512 ios=2000\n"
	"workload workload=dombuild strategy=hook|dmalayer superpages=no|yes build_mib=4096 ios=3\n"
	"workload workload=netrx|blk strategy=hook|pv|dmalayer flush=strict policy=xen impl=baseline ring=32 budget=32 io_size=4K|64K ios=100000 guest_mib=512\n"
	"workload workload=netrx|netback strategy=hook|pv|dmalayer flush=strict|batched|lazy attack=yes ios=100000\n"
	"workload workload=netrx|nettx|netback strategy=swiotlb io_size=4K ios=200000 guest_mib=512\n"
	"workload workload=blk shape=virtio|nvme strategy=swiotlb ring=32 budget=32 io_size=4K|16K|64K|256K|1M ios=100000 max_mib=4096 guest_mib=512\n"
	"workload workload=netrx|netback strategy=swiotlb attack=yes ios=100000\n";

static const char matrix_usage[] =
	"usage: iob matrix [FILE | --full] [--label NAME] [--results DIR] [--scale X]\n"
	"                  [--no-plot] [--seed N] [--cpu N] [--repeat N] [--print-default]\n"
	"       iob matrix --resume DIR [--no-plot]\n"
	"\n"
	"Runs every line of FILE (default: the built-in list) into one run folder\n"
	"RESULTS/<date>_<host>_<cpu>_<label>/ (RESULTS defaults to ./results), then\n"
	"draws the plots. Progress goes to stderr; the folder's path to stdout.\n"
	"  --full          the larger built-in list, for real hosts (about an hour)\n"
	"  --label NAME    folder label, [A-Za-z0-9._-], default 'default' ('full' with --full)\n"
	"  --scale X       multiply rounds/accesses by X (0.01..100)\n"
	"  --repeat N      run every configuration N times (default 4), each in a fresh\n"
	"                  process, alternating the configurations of a line; rows give\n"
	"                  the median, its 95%% interval and spread (docs/csv-schema.md)\n"
	"  --no-plot       CSVs and meta.json only\n"
	"  --cost FILE     hardware cost model parameters (docs/cost-model.md)\n"
	"  --resume DIR    finish an interrupted run (DIR ends in _interrupted): the\n"
	"                  configurations not done yet run, into a new folder beside DIR\n"
	"                  with DIR's rows; DIR is removed\n"
	"\n"
	"Matrix file: one configuration per line, FAMILY key=value ...  ('#' starts a\n"
	"comment). Keys are the family's options (`iob micro --help`; io_size or io-size).\n"
	"A value a|b|c runs every alternative: a line stands for the cross product of\n"
	"its alternatives, the last key varying fastest, and these configurations\n"
	"alternate within each repetition. A key given twice, an empty alternative\n"
	"(10|) or an empty list item (1,,2) is an error naming FILE:LINE:COLUMN, and\n"
	"nothing runs. Example:\n"
	"    pgtable rounds=800 sizes=4K,2M\n"
	"    workload workload=netrx strategy=hook|pv|dmalayer flush=strict|lazy ios=50000\n"
	"`iob matrix --print-default` prints the built-in list.\n"
	"The time announced is each family's estimate times the rate measured by the\n"
	"last complete run into the same RESULTS (RESULTS/.iob-rates.json).\n"
	"\n"
	"A signal (Ctrl-C, SIGTERM) stops at the next configuration boundary: the lines\n"
	"completed are kept in RESULTS/..._interrupted (meta.json status \"interrupted\"),\n"
	"and the exit status is 130 (SIGINT) or 143 (SIGTERM).\n";

/*
 * Repetitions by default: enough for a median with an interval and for
 * `iob compare` to call a difference significant (4 against 4 can give
 * p = 0.029; 3 against 3 never goes below 0.1), and the default matrix
 * still within 3 minutes on two busy cores (docs/methodology.md).
 */
#define MATRIX_REPEAT 4

/* ---- progress ---------------------------------------------------------------------- */

struct progress {
	bool tty;
	unsigned repeat;
	double total_est, done_est, t0;
	unsigned idx, n;
	const struct mline *cur;
	double last_draw;
};

static void progress_draw(void *arg, double frac)
{
	struct progress *pg = arg;
	double t = proc_now_s(), elapsed = t - pg->t0;
	double done = pg->done_est + frac * pg->cur->est_s;
	double eta = done > 0 ? elapsed * (pg->total_est - done) / done : 0;
	int width = 30, fill;

	if (!pg->tty || t - pg->last_draw < 0.1)
		return;
	pg->last_draw = t;
	fill = (int)(width * done / pg->total_est);
	if (fill > width)
		fill = width;
	fprintf(stderr, "\r[%.*s%*s] %3.0f%%  %u/%u %-8s ETA %3.0fs ",
		fill, "##############################", width - fill, "",
		100 * done / pg->total_est, pg->idx + 1, pg->n, pg->cur->fam->name, eta);
	fflush(stderr);
}

/* ---- the command ------------------------------------------------------------------------ */

struct matrix_args {
	const char *label, *root, *fname, *resume;
	char *root_buf, *label_buf;	/* --resume's, freed at the end */
	double scale;
	bool plot, full, labelled;
	unsigned repeat;
	uint64_t seed;
	int cpu;
};

static void check_label(const char *label)
{
	for (const char *s = label; *s; s++)
		if (!(*s == '.' || *s == '_' || *s == '-' || (*s >= '0' && *s <= '9') ||
		      (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			usage_error("--label: '%s' may hold only letters, digits, '.', '_', '-'",
				    label);
	if (!*label || strlen(label) > 64)
		usage_error("--label: 1 to 64 characters");
}

/* Return: 0 to run, 1 when an option did all there was to do (--help). */
static int matrix_args_parse(int argc, char **argv, struct matrix_args *a)
{
	static const struct option opts[] = {
		{ "label", required_argument, NULL, 'l' },
		{ "results", required_argument, NULL, 'r' },
		{ "scale", required_argument, NULL, 'x' },
		{ "no-plot", no_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 'S' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "print-default", no_argument, NULL, 'p' },
		{ "full", no_argument, NULL, 'F' },
		{ "cost", required_argument, NULL, 'k' },
		{ "repeat", required_argument, NULL, 'R' },
		{ "resume", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char *end;
	int c;

	*a = (struct matrix_args){ .label = "default", .root = "results", .scale = 1.0,
				   .plot = true, .seed = 1, .cpu = -1, .repeat = MATRIX_REPEAT };
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			a->label = optarg;
			a->labelled = true;
			break;
		case 'F':
			a->full = true;
			break;
		case 'k':
			bench_load_cost(optarg);
			break;
		case 'R':
			a->repeat = parse_repeat(optarg);
			break;
		case 'P':
			a->resume = optarg;
			break;
		case 'r':
			a->root = optarg;
			break;
		case 'x':
			a->scale = strtod(optarg, &end);
			if (*end || !(a->scale >= 0.01 && a->scale <= 100))
				usage_error("--scale: '%s' is not a number in 0.01..100", optarg);
			break;
		case 'n':
			a->plot = false;
			break;
		case 'S':
			a->seed = parse_u64(optarg, "--seed");
			break;
		case 'C':
			a->cpu = parse_cpu(optarg);
			break;
		case 'p':
			fputs(default_matrix, stdout);
			return 1;
		case 'h':
			fputs(matrix_usage, stdout);
			return 1;
		default:
			usage_error("matrix: bad option (see `iob matrix --help`)");
		}
	}
	if (optind < argc)
		a->fname = argv[optind++];
	if (optind < argc)
		usage_error("matrix: unexpected argument '%s'", argv[optind]);
	if (a->full && a->fname)
		usage_error("matrix: give a FILE or --full, not both");
	if (a->resume && (a->full || a->fname || a->labelled))
		usage_error("matrix: --resume takes the matrix and label of the run it finishes");
	if (a->resume) {
		char *slash;

		a->root = a->root_buf = strdup(a->resume);
		if (!a->root_buf)
			run_error("out of memory");
		slash = strrchr(a->root_buf, '/');
		while (slash && slash != a->root_buf && !slash[1]) {	/* "dir/" */
			*slash = '\0';
			slash = strrchr(a->root_buf, '/');
		}
		if (slash)
			*slash = '\0';
		else
			a->root = ".";
	}
	if (a->full && !a->labelled)
		a->label = "full";
	check_label(a->label);
	return 0;
}

/* The matrix's text (free with iob_free()): the file given, or a built-in list. Exits 2 on a bad file. */
static char *matrix_text(const struct matrix_args *a)
{
	char *text, err[512] = "out of memory";

	if (!a->fname) {
		const char *builtin = a->full ? full_matrix : default_matrix;

		text = iob_malloc(strlen(builtin) + 1);
		if (!text)
			run_error("out of memory");
		return strcpy(text, builtin);
	}
	if (textfile_read(a->fname, 1 << 20, "a matrix file", &text, err, sizeof(err)))
		usage_error("%s", err);
	return text;
}

struct group_run {
	struct mfile *m;
	struct progress *pg;
	unsigned first;		/* the group's first line in m->lines */
};

static void group_before(void *arg, unsigned cfg, unsigned rep)
{
	struct group_run *g = arg;
	struct mline *ml = &g->m->lines[g->first + cfg];

	g->pg->cur = ml;
	g->pg->idx = g->first + cfg;
	if (!g->pg->tty)
		fprintf(stderr, "iob matrix: [%u/%u] rep %u/%u %s\n", g->first + cfg + 1, g->m->n,
			rep + 1, g->pg->repeat, ml->text);
	progress_draw(g->pg, 0);
}

static void group_after(void *arg, unsigned cfg, unsigned rep, double seconds)
{
	struct group_run *g = arg;
	struct mline *ml = &g->m->lines[g->first + cfg];

	(void)rep;
	ml->took_s += seconds;
	g->pg->done_est += ml->est_s;
}

/*
 * Every line of @m from @from on, each family's CSVs opened in the run
 * folder at its first line. The configurations of one matrix line are a
 * group: their repetitions alternate, and the group's rows are written when
 * its last repetition is done. Return: the lines completed (m->n unless a
 * signal stopped the run).
 */
static unsigned matrix_run_lines(struct mfile *m, struct bench_ctx *ctx, struct session *s,
				 struct progress *pg, unsigned from, struct csv **csv,
				 struct csv **cdf)
{
	unsigned i = from;

	while (i < m->n) {
		struct mline *ml = &m->lines[i];
		struct group_run g = { m, pg, i };
		struct rep_hooks hooks = { group_before, group_after, session_interrupted, &g };
		void *opts[MATRIX_LINES_MAX];
		unsigned n = 0;
		size_t fi = 0;
		int ret;

		while (families[fi] != ml->fam)
			fi++;
		if (!csv[fi]) {
			csv[fi] = session_csv(s, ml->fam->csv_name);
			cdf[fi] = ml->fam->cdf_name ? session_csv(s, ml->fam->cdf_name) : NULL;
			family_csv_start(ml->fam, csv[fi], cdf[fi]);
		}
		while (i + n < m->n && m->lines[i + n].lineno == ml->lineno) {
			opts[n] = m->lines[i + n].opts;
			n++;
		}
		ret = rep_run(ctx, ml->fam, opts, n, pg->repeat, csv[fi], cdf[fi], &hooks);
		if (ret == -EINTR)
			break;
		if (ret)
			run_error("%s:%u: %s failed", m->name, ml->lineno, ml->fam->name);
		i += n;
	}
	if (pg->tty)
		fprintf(stderr, "\r%*s\r", 78, "");
	return i;
}

/* meta.json's matrix keys, beside the session's common ones. */
static void matrix_meta(struct session *s, const struct bench_ctx *ctx, const struct mfile *m,
			const char *text, unsigned done)
{
	json_t *root = session_meta(s), *arr = json_array(), *cost = json_object();
	json_t *paths = json_array();
	struct cost_model cm;

	cost_current(&cm);
	json_object_set_new(root, "pinned_cpu", json_integer(ctx->cpu));
	json_object_set_new(root, "scale", json_real(ctx->scale));
	json_object_set_new(root, "repeat", json_integer(ctx->repeat));
	json_object_set_new(root, "matrix_file", json_string(m->name));
	json_object_set_new(root, "matrix_text", json_string(text));
	json_object_set_new(root, "completed_configs", json_integer(done));
	for (unsigned i = 0; i < m->n; i++) {
		json_t *e = json_object();

		json_object_set_new(e, "family", json_string(m->lines[i].fam->name));
		json_object_set_new(e, "line", json_string(m->lines[i].text ? m->lines[i].text : ""));
		json_object_set_new(e, "seconds", json_real(m->lines[i].took_s));
		json_array_append_new(arr, e);
	}
	json_object_set_new(root, "matrix", arr);
	for (size_t i = 0; i < cost_nparams(); i++)
		json_object_set_new(cost, cost_param_name(i), json_real(cost_param_get(&cm, i)));
	json_object_set_new(root, "cost_model", cost);
	for (int p = 0; p < PATH_NR; p++)
		json_array_append_new(paths, json_string(pathctr_name(p)));
	json_object_set_new(root, "path_names", paths);
}

/* ---- interrupted runs and --resume ---------------------------------------------------- */

/*
 * --resume DIR: the interrupted run's matrix, repetitions, scale, seed,
 * label and cost model from its meta.json; @done set to the configurations
 * it completed. Exits 2 when DIR is not an interrupted matrix run.
 */
static char *resume_load(struct matrix_args *a, unsigned *done)
{
	char path[4400], costs[2048], err[256];
	json_error_t je;
	json_t *mj, *cost;
	const char *text, *label, *key;
	json_t *v;
	size_t n = 0;
	char *copy;

	snprintf(path, sizeof(path), "%s/meta.json", a->resume);
	mj = json_load_file(path, 0, &je);
	if (!mj)
		usage_error("--resume: %s: %s", path, je.text);
	if (strcmp(str_or(json_string_value(json_object_get(mj, "status")), ""), "interrupted") ||
	    strcmp(str_or(json_string_value(json_object_get(mj, "family")), ""), "matrix"))
		usage_error("--resume: %s is not an interrupted matrix run", a->resume);
	text = json_string_value(json_object_get(mj, "matrix_text"));
	label = json_string_value(json_object_get(mj, "label"));
	if (!text || !label || !json_is_integer(json_object_get(mj, "completed_configs")))
		usage_error("--resume: %s lacks matrix_text, label or completed_configs", path);
	*done = (unsigned)json_integer_value(json_object_get(mj, "completed_configs"));
	a->repeat = (unsigned)json_integer_value(json_object_get(mj, "repeat"));
	a->scale = json_real_value(json_object_get(mj, "scale"));
	if (!a->repeat)
		a->repeat = 1;
	if (!(a->scale > 0))
		a->scale = 1.0;
	a->seed = (uint64_t)json_integer_value(json_object_get(mj, "seed"));
	a->label = a->label_buf = strdup(label);
	cost = json_object_get(mj, "cost_model");
	costs[0] = '\0';
	json_object_foreach(cost, key, v)
		if (n < sizeof(costs))
			n += (size_t)snprintf(costs + n, sizeof(costs) - n, "%s = %.17g\n", key,
					      json_number_value(v));
	if (n) {
		struct cost_model cm;

		cost_defaults(&cm);
		if (cost_parse(&cm, costs, err, sizeof(err)))
			usage_error("--resume: %s: cost_model: %s", path, err);
		cost_set_current(&cm);
	}
	copy = iob_malloc(strlen(text) + 1);
	if (!copy || !a->label_buf)
		run_error("out of memory");
	strcpy(copy, text);
	json_decref(mj);
	return copy;
}

/* The interrupted run's CSV @name into the new folder, header and rows. */
static struct csv *resume_copy(struct session *s, const char *dir, const char *name,
			       const struct family *fam, bool second)
{
	char path[4400], err[256], line[65536];
	struct csv_table t;
	struct csv *c;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!proc_is_file(path))
		return NULL;
	if (csv_read(path, &t, err, sizeof(err)))
		usage_error("--resume: %s: %s", path, err);
	c = session_csv(s, name);
	family_csv_start(fam, second ? NULL : c, second ? c : NULL);
	for (size_t r = 0; r < t.nrows; r++) {
		size_t n = 0;

		for (size_t k = 0; k < t.ncols && n < sizeof(line); k++)
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s", k ? "," : "",
					      t.rows[r][k]);
		csv_row(c, "%s", line);
	}
	csv_table_free(&t);
	return c;
}

static void resume_csvs(struct session *s, const char *dir, struct csv **csv, struct csv **cdf)
{
	for (size_t fi = 0; families[fi]; fi++) {
		const struct family *f = families[fi];

		csv[fi] = resume_copy(s, dir, f->csv_name, f, false);
		cdf[fi] = f->cdf_name && csv[fi] ? resume_copy(s, dir, f->cdf_name, f, true) : NULL;
		if (csv[fi] && f->cdf_name && !cdf[fi])
			usage_error("--resume: %s has %s but not %s", dir, f->csv_name, f->cdf_name);
	}
}

/* Remove the interrupted folder once its rows are in the new one (files only). */
static void resume_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char p[4400];

		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
	}
	closedir(d);
	if (rmdir(dir))
		fprintf(stderr, "iob matrix: could not remove %s: %s\n", dir, strerror(errno));
}

/* ---- the command ------------------------------------------------------------------------ */

/*
 * Measured rates: per family, seconds taken per second of its built-in
 * estimate, from the last complete run into the same results folder
 * (RESULTS/.iob-rates.json). The built-in estimates are fixed costs per
 * operation; the host's speed, its load and the fork per repetition are
 * not in them.
 */
static json_t *rates_load(const char *root)
{
	char path[4400];

	snprintf(path, sizeof(path), "%s/.iob-rates.json", root);
	return json_load_file(path, 0, NULL);
}

static void rates_save(const char *root, const struct mfile *m, unsigned repeat)
{
	double est[16] = { 0 }, took[16] = { 0 };
	char path[4400], tmp[4500];
	json_t *r = rates_load(root), *fams;

	if (!r || !json_is_object(r))
		r = json_object();
	fams = json_object_get(r, "families");
	if (!json_is_object(fams)) {
		fams = json_object();
		json_object_set_new(r, "families", fams);
	}
	for (unsigned i = 0; i < m->n; i++) {
		size_t fi = 0;

		while (families[fi] != m->lines[i].fam)
			fi++;
		est[fi] += m->lines[i].est_raw * repeat;
		took[fi] += m->lines[i].took_s;
	}
	for (size_t fi = 0; families[fi]; fi++)
		if (est[fi] > 0 && took[fi] > 0)
			json_object_set_new(fams, families[fi]->name, json_real(took[fi] / est[fi]));
	snprintf(path, sizeof(path), "%s/.iob-rates.json", root);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_dump_file(r, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) || rename(tmp, path)) {
		unlink(tmp);
		fprintf(stderr, "iob matrix: could not record the measured rates in %s\n", path);
	}
	json_decref(r);
}

/* Return: true when measured rates were applied. */
static bool matrix_estimate(struct mfile *m, struct progress *pg, const struct matrix_args *a,
			    unsigned from)
{
	json_t *r = rates_load(a->root), *fams = json_object_get(r, "families");
	bool measured = false;

	pg->tty = isatty(2);
	pg->n = m->n;
	pg->repeat = a->repeat;
	for (unsigned i = 0; i < m->n; i++) {
		json_t *rate = json_object_get(fams, m->lines[i].fam->name);

		m->lines[i].est_raw = m->lines[i].fam->estimate_s(m->lines[i].opts) * a->scale;
		m->lines[i].est_s = m->lines[i].est_raw *
				    (json_is_number(rate) ? json_number_value(rate) : 1);
		if (i < from)
			continue;
		pg->total_est += m->lines[i].est_s * a->repeat;
		measured |= json_is_number(rate);
	}
	json_decref(r);
	return measured;
}

/*
 * The end of an interrupted run: the lines completed are kept in a folder
 * named ..._interrupted with status "interrupted". Return: 128 + the signal.
 */
static int matrix_interrupted(struct session *s, unsigned done, unsigned n)
{
	int sig = session_signal();
	char final[4400];

	json_object_set_new(session_meta(s), "status", json_string("interrupted"));
	session_finish(s);
	session_set_suffix(s, "_interrupted");
	session_commit(s, final, sizeof(final));
	fprintf(stderr, "iob matrix: interrupted (signal %d) after %u of %u configurations; "
		"kept in %s\niob matrix: finish it with `iob matrix --resume %s`\n", sig, done, n,
		final, final);
	printf("%s\n", final);
	return 128 + sig;
}

int cmd_matrix(int argc, char **argv)
{
	static struct mfile m;
	struct matrix_args a;
	struct progress pg = { 0 };
	struct bench_ctx ctx;
	struct session *s;
	struct csv *csv[16] = { 0 }, *cdf[16] = { 0 };
	char *text, final[4400], err[512];
	unsigned from = 0, done;
	bool measured;
	int ret = 0;

	if (matrix_args_parse(argc, argv, &a))
		return 0;
	text = a.resume ? resume_load(&a, &from) : matrix_text(&a);
	ret = matrix_parse(&m, text, a.resume ? a.resume : a.fname ? a.fname :
			   a.full ? "<full matrix>" : "<default matrix>", err, sizeof(err));
	if (ret == -ENOMEM)
		run_error("%s", err);
	if (ret)
		usage_error("%s", err);
	if (from > m.n)
		usage_error("--resume: %s: completed_configs %u of %u", a.resume, from, m.n);
	bench_ctx_init(&ctx, argc + 1, argv - 1, a.seed, a.cpu);
	ctx.scale = a.scale;
	ctx.repeat = a.repeat;
	s = session_create(&(struct session_cfg){ .root = a.root, .label = a.label,
						  .family = "matrix", .env = &ctx.env,
						  .on_signal = SESSION_SIGNAL_FLAG });
	ctx.outdir = session_dir(s);
	ctx.progress = progress_draw;
	ctx.progress_arg = &pg;
	if (a.resume)
		resume_csvs(s, a.resume, csv, cdf);
	measured = matrix_estimate(&m, &pg, &a, from);
	fprintf(stderr, "iob matrix: %u configurations x %u repetitions, about %.0f s (%s), "
		"into %s\n", m.n - from, a.repeat, pg.total_est,
		measured ? "rates measured by the last run here" : "built-in estimates",
		session_final_dir(s));
	pg.t0 = proc_now_s();
	done = matrix_run_lines(&m, &ctx, s, &pg, from, csv, cdf);
	matrix_meta(s, &ctx, &m, text, done);
	if (a.resume)
		json_object_set_new(session_meta(s), "resumed_from",
				    json_string(strrchr(a.resume, '/') ? strrchr(a.resume, '/') + 1 : a.resume));
	if (done < m.n) {
		ret = matrix_interrupted(s, done, m.n);
	} else {
		session_finish(s);
		if (a.plot && cmd_plot_dir(session_dir(s), true)) {
			fprintf(stderr, "iob matrix: plotting failed (plot.log in the folder); "
				"the CSVs are complete\n");
			ret = 1;
		}
		session_commit(s, final, sizeof(final));
		if (!a.resume)
			rates_save(a.root, &m, a.repeat);
		fprintf(stderr, "iob matrix: done in %.0f s\n", proc_now_s() - pg.t0);
		printf("%s\n", final);
	}
	if (a.resume)
		resume_remove(a.resume);
	matrix_free(&m);
	iob_free(text);
	free(a.root_buf);
	free(a.label_buf);
	return ret;
}
