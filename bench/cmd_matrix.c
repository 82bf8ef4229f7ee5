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
#include <iob/textfile.h>

#include "bench.h"
#include "matrix_file.h"
#include "iob.h"
#include "plot.h"
#include "session.h"
#include "util.h"

static const char default_matrix[] =
	"# The default matrix: the micro families, then the head-to-head of the three\n"
	"# strategies and the status quo they replace (swiotlb: no IOMMU, every buffer bounced). Sized to finish in a few minutes on two cores; `iob matrix --full`\n"
	"# is the larger list for real hosts. a|b|c runs every alternative.\n"
	"pgtable rounds=1500\n"
	"# The page table as kernel code is built (no vector registers), with both page-size sets;\n"
	"# callers sharing one table on 1 and 2 threads.\n"
	"pgtable rounds=500 impls=tuned,tuned-kflags pgsizes=default|pow2 sizes=4K counts=1,256 layout=contig threads=1,2\n"
	"reach accesses=400000\n"
	"cmdq rounds=5000\n"
	"inval unmaps=200000\n"
	"dmamap mode=strict|lazy threads=1|2 ms=1000\n"
	"dmamap mode=strict|lazy np_cache=yes granule=1|16 ms=1000\n"
	"# Head to head: strategy x tuning, superpages off and on.\n"
	"workload workload=netrx strategy=hook|pv|dmalayer flush=strict|batched|lazy superpages=no|yes io_size=4K ios=50000\n"
	"workload workload=blk shape=virtio strategy=hook|pv|dmalayer flush=strict|batched|lazy superpages=no|yes ring=16 budget=16 io_size=4K|16K|64K|256K|1M ios=20000 max_mib=512\n"
	"workload workload=blk shape=nvme strategy=hook|pv|dmalayer flush=strict|batched|lazy superpages=no|yes ring=16 budget=16 io_size=64K ios=20000\n"
	"workload workload=nettx strategy=hook|pv|dmalayer flush=strict|batched|lazy io_size=4K ios=50000\n"
	"workload workload=netback strategy=hook|pv|dmalayer flush=strict|batched|lazy budget=64 ios=50000\n"
	"workload workload=balloon strategy=hook|dmalayer flush=strict|batched|lazy superpages=no|yes chunk=64 ios=500\n"
	"workload workload=dombuild strategy=hook|dmalayer superpages=no|yes build_mib=256 ios=2\n"
	"# swiotlb: no IOMMU, so no tuning; beside every head-to-head line.\n"
	"workload workload=netrx|nettx strategy=swiotlb io_size=4K ios=50000\n"
	"workload workload=blk shape=virtio strategy=swiotlb ring=16 budget=16 io_size=4K|16K|64K|256K|1M ios=20000 max_mib=512\n"
	"workload workload=blk shape=nvme strategy=swiotlb ring=16 budget=16 io_size=64K ios=20000\n"
	"workload workload=netback strategy=swiotlb budget=64 ios=50000\n"
	"# The baseline beside the tuned paths: Xen 4.17's choices and the per-page table code.\n"
	"workload workload=netrx|blk strategy=hook|pv|dmalayer flush=strict policy=xen impl=baseline ring=16 budget=16 io_size=64K ios=20000\n"
	"# Protection: an attacking device after every unmap.\n"
	"workload workload=netrx strategy=hook|pv|dmalayer flush=strict|batched|lazy attack=yes io_size=4K ios=20000\n"
	"workload workload=netback strategy=hook|pv|dmalayer flush=strict|batched|lazy attack=yes ios=20000\n"
	"workload workload=netrx strategy=swiotlb attack=yes io_size=4K ios=20000\n"
	"workload workload=netback strategy=swiotlb attack=yes ios=20000\n";

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
	"                  [--no-plot] [--seed N] [--cpu N] [--print-default]\n"
	"\n"
	"Runs every line of FILE (default: the built-in list) into one run folder\n"
	"RESULTS/<date>_<host>_<cpu>_<label>/ (RESULTS defaults to ./results), then\n"
	"draws the plots. Progress goes to stderr; the folder's path to stdout.\n"
	"  --full          the larger built-in list, for real hosts (about an hour)\n"
	"  --label NAME    folder label, [A-Za-z0-9._-], default 'default' ('full' with --full)\n"
	"  --scale X       multiply rounds/accesses by X (0.01..100)\n"
	"  --no-plot       CSVs and meta.json only\n"
	"  --cost FILE     hardware cost model parameters (docs/cost-model.md)\n";

/* ---- progress ---------------------------------------------------------------------- */

struct progress {
	bool tty;
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
	const char *label, *root, *fname;
	double scale;
	bool plot, full, labelled;
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
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char *end;
	uint64_t v;
	int c;

	*a = (struct matrix_args){ .label = "default", .root = "results", .scale = 1.0,
				   .plot = true, .seed = 1, .cpu = -1 };
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
			v = parse_u64(optarg, "--cpu");
			if (v > 4095)
				usage_error("--cpu: %s is out of range", optarg);
			a->cpu = (int)v;
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

/* Every line of @m, each family's CSVs opened in the run folder at its first line. */
static void matrix_run_lines(struct mfile *m, struct bench_ctx *ctx, struct session *s,
			     struct progress *pg)
{
	struct csv *csv[16] = { 0 }, *cdf[16] = { 0 };

	for (unsigned i = 0; i < m->n; i++) {
		struct mline *ml = &m->lines[i];
		size_t fi = 0;
		double t0 = proc_now_s();

		while (families[fi] != ml->fam)
			fi++;
		if (!csv[fi]) {
			csv[fi] = session_csv(s, ml->fam->csv_name);
			cdf[fi] = ml->fam->cdf_name ? session_csv(s, ml->fam->cdf_name) : NULL;
			family_csv_start(ml->fam, csv[fi], cdf[fi]);
		}
		pg->idx = i;
		pg->cur = ml;
		if (!pg->tty)
			fprintf(stderr, "iob matrix: [%u/%u] %s\n", i + 1, m->n, ml->text);
		progress_draw(pg, 0);
		if (ml->fam->run(ctx, ml->opts, csv[fi], cdf[fi]))
			run_error("%s:%u: %s failed", m->name, ml->lineno, ml->fam->name);
		ml->took_s = proc_now_s() - t0;
		pg->done_est += ml->est_s;
	}
	if (pg->tty)
		fprintf(stderr, "\r%*s\r", 78, "");
}

/* meta.json's matrix keys, beside the session's common ones. */
static void matrix_meta(struct session *s, const struct bench_ctx *ctx, const struct mfile *m)
{
	json_t *root = session_meta(s), *arr = json_array(), *cost = json_object();
	json_t *paths = json_array();
	struct cost_model cm;

	cost_current(&cm);
	json_object_set_new(root, "pinned_cpu", json_integer(ctx->cpu));
	json_object_set_new(root, "scale", json_real(ctx->scale));
	json_object_set_new(root, "matrix_file", json_string(m->name));
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

int cmd_matrix(int argc, char **argv)
{
	static struct mfile m;
	struct matrix_args a;
	struct progress pg = { 0 };
	struct bench_ctx ctx;
	struct session *s;
	char *text, final[4400], err[512];
	double t_start;
	int ret;

	if (matrix_args_parse(argc, argv, &a))
		return 0;
	text = matrix_text(&a);
	ret = matrix_parse(&m, text, a.fname ? a.fname : a.full ? "<full matrix>" : "<default matrix>",
			   err, sizeof(err));
	if (ret == -ENOMEM)
		run_error("%s", err);
	if (ret)
		usage_error("%s", err);

	bench_ctx_init(&ctx, argc + 1, argv - 1, a.seed, a.cpu);
	ctx.scale = a.scale;
	s = session_create(&(struct session_cfg){ .root = a.root, .label = a.label,
						  .family = "matrix", .env = &ctx.env,
						  .on_signal = SESSION_SIGNAL_REMOVE });
	ctx.outdir = session_dir(s);
	ctx.progress = progress_draw;
	ctx.progress_arg = &pg;

	pg.tty = isatty(2);
	pg.n = m.n;
	for (unsigned i = 0; i < m.n; i++) {
		m.lines[i].est_s = m.lines[i].fam->estimate_s(m.lines[i].opts) * a.scale;
		pg.total_est += m.lines[i].est_s;
	}
	fprintf(stderr, "iob matrix: %u configurations, about %.0f s, into %s\n", m.n,
		pg.total_est, session_final_dir(s));
	t_start = pg.t0 = proc_now_s();
	matrix_run_lines(&m, &ctx, s, &pg);
	matrix_meta(s, &ctx, &m);
	session_finish(s);
	if (a.plot && cmd_plot_dir(session_dir(s), true))
		fprintf(stderr, "iob matrix: plotting failed; the CSVs are complete\n");
	session_commit(s, final, sizeof(final));
	fprintf(stderr, "iob matrix: done in %.0f s\n", proc_now_s() - t_start);
	printf("%s\n", final);
	matrix_free(&m);
	iob_free(text);
	return 0;
}
