// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob compare RUN_A RUN_B [RUN...]: every later run against the first.
 * Rows are joined on the configuration key each family CSV names in its
 * `# key=` line; per row, the headline figure's ratio B/A (of medians)
 * with its 95% interval and the Mann-Whitney p value over the
 * repetitions (stats.h), as benchstat and pyperf's compare_to report
 * them. A row is better or worse when p < 0.05 and the change is beyond
 * --threshold; exit 1 when a row is worse (CI gating), 2 on bad input.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <iob/csv.h>
#include <iob/proc.h>
#include <iob/stats.h>

#include "bench.h"
#include "iob.h"
#include "util.h"

static const char compare_usage[] =
	"usage: iob compare RUN_A RUN_B [RUN...] [--threshold P%] [--format text|md|csv]\n"
	"\n"
	"Compares every run folder after the first against the first (the baseline):\n"
	"rows of each family CSV are joined on their configuration (the CSV's `# key=`\n"
	"line), and the headline figure (`figure` column) of both is compared over\n"
	"the repetitions: ratio of medians B/A, its 95% interval, Mann-Whitney p.\n"
	"  --threshold P%  smallest change reported as better/worse (default 5%)\n"
	"  --alpha X       significance level (default 0.05)\n"
	"  --format F      text (default), md (a Markdown table) or csv\n"
	"  --ignore COLS   leave these key columns out of the join (comma-separated):\n"
	"                  `--ignore impl` compares a baseline run with a tuned one\n"
	"  --within COL=A,B  one RUN: its rows with COL=A against its rows with COL=B,\n"
	"                  joined on the other key columns (`--within impl=baseline,tuned`).\n"
	"                  The variants ran in one session, alternating: on a host whose\n"
	"                  speed drifts between sessions, the fair comparison\n"
	"Exit status: 0 no significant regression, 1 at least one row worse by more\n"
	"than the threshold (p < alpha), 2 bad input (not run folders, nothing to join).\n";

enum fmt { FMT_TEXT, FMT_MD, FMT_CSV };

struct cmp_args {
	double threshold, alpha;
	enum fmt fmt;
	const char *ignore;	/* key columns left out of the join, "a,b" */
	/* --within COL=A,B: one run, its COL=A rows against its COL=B rows */
	char within_col[64], within_a[64], within_b[64];
	int nruns;
	char **runs;
};

struct cmp_count {
	unsigned rows, better, worse, same, only_a, only_b, skipped;
};

static const char *const family_csvs[] = {
	"pgtable.csv", "reach.csv", "cmdq.csv", "inval.csv", "dmamap.csv", "workloads.csv", NULL,
};

static double parse_threshold(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || (*end && strcmp(end, "%")) || !(v >= 0 && v < 1000))
		usage_error("--threshold: '%s' is not a percentage like 5%%", s);
	return v / 100;
}

static void parse_within(const char *arg, struct cmp_args *a)
{
	const char *eq = strchr(arg, '='), *comma = eq ? strchr(eq, ',') : NULL;

	if (!eq || !comma || eq == arg || comma == eq + 1 || !comma[1] || strchr(comma + 1, ',') ||
	    (size_t)(eq - arg) >= sizeof(a->within_col) ||
	    (size_t)(comma - eq - 1) >= sizeof(a->within_a) || strlen(comma + 1) >= sizeof(a->within_b))
		usage_error("--within: '%s' is not COL=A,B", arg);
	snprintf(a->within_col, sizeof(a->within_col), "%.*s", (int)(eq - arg), arg);
	snprintf(a->within_a, sizeof(a->within_a), "%.*s", (int)(comma - eq - 1), eq + 1);
	snprintf(a->within_b, sizeof(a->within_b), "%s", comma + 1);
}

static void cmp_args_parse(int argc, char **argv, struct cmp_args *a)
{
	static const struct option opts[] = {
		{ "threshold", required_argument, NULL, 't' },
		{ "alpha", required_argument, NULL, 'a' },
		{ "format", required_argument, NULL, 'f' },
		{ "ignore", required_argument, NULL, 'i' },
		{ "within", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char *end;
	int c;

	*a = (struct cmp_args){ .threshold = 0.05, .alpha = 0.05, .fmt = FMT_TEXT };
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			a->threshold = parse_threshold(optarg);
			break;
		case 'a':
			a->alpha = strtod(optarg, &end);
			if (*end || !(a->alpha > 0 && a->alpha < 1))
				usage_error("--alpha: '%s' is not a number in (0, 1)", optarg);
			break;
		case 'f':
			if (!strcmp(optarg, "text"))
				a->fmt = FMT_TEXT;
			else if (!strcmp(optarg, "md"))
				a->fmt = FMT_MD;
			else if (!strcmp(optarg, "csv"))
				a->fmt = FMT_CSV;
			else
				usage_error("--format: '%s' is not text, md or csv", optarg);
			break;
		case 'i':
			check_list(optarg, "--ignore");
			a->ignore = optarg;
			break;
		case 'w':
			parse_within(optarg, a);
			break;
		case 'h':
			fputs(compare_usage, stdout);
			exit(0);
		default:
			usage_error("compare: bad option (see `iob compare --help`)");
		}
	}
	a->nruns = argc - optind;
	a->runs = argv + optind;
	if (a->within_col[0]) {
		static char *same[2];

		if (a->nruns != 1 || a->ignore)
			usage_error("compare: --within takes one run folder and no --ignore");
		same[0] = same[1] = argv[optind];
		a->runs = same;
		a->nruns = 2;
		a->ignore = a->within_col;
	}
	if (a->nruns < 2)
		usage_error("compare: give at least two run folders (see `iob compare --help`)");
}

/* A run folder's meta.json, checked; exits 2 when it is not a run folder. */
static json_t *run_meta(const char *dir)
{
	char path[4400];
	json_error_t e;
	json_t *m;
	struct stat st;

	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		usage_error("compare: '%s' is not a directory", dir);
	snprintf(path, sizeof(path), "%s/meta.json", dir);
	m = json_load_file(path, 0, &e);
	if (!m || !json_is_object(m))
		usage_error("compare: %s: not a run folder (no readable meta.json: %s)", dir, e.text);
	return m;
}

static const char *meta_str(json_t *m, const char *key)
{
	const char *s = json_string_value(json_object_get(m, key));

	return s ? s : "?";
}

/* What differs between the runs' conditions, so that a reader weighs the ratios. */
static void meta_notes(json_t *a, json_t *b, const char *bname, FILE *out, enum fmt fmt)
{
	static const char *const keys[] = { "host", "cpu", "kernel", "tsc_source", "accel",
					    "build_type", "sanitizer", "family", NULL };
	const char *pre = fmt == FMT_CSV ? "# " : fmt == FMT_MD ? "- " : "  ";

	for (size_t i = 0; keys[i]; i++) {
		const char *x = meta_str(a, keys[i]), *y = meta_str(b, keys[i]);

		if (strcmp(x, y))
			fprintf(out, "%snote: %s differs (%s: '%s', baseline: '%s')%s\n", pre, keys[i],
				bname, y, x, !strcmp(keys[i], "accel") ?
				": times under TCG emulation do not compare with hardware times" : "");
	}
	if (!strcmp(meta_str(b, "accel"), "tcg") || !strcmp(meta_str(a, "accel"), "tcg"))
		fprintf(out, "%snote: a run used QEMU's TCG: its times are emulation times\n", pre);
}

/* The key of row @r: the values of @kcols joined by '\x1f'. */
static void row_key(const struct csv_table *t, size_t r, const int *kcols, int nk, char *buf,
		    size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int k = 0; k < nk && n < len; k++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", k ? "\x1f" : "",
				      kcols[k] >= 0 ? t->rows[r][kcols[k]] : "");
}

static bool in_list(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = list; p && *p; p = strchr(p, ','), p = p ? p + 1 : NULL)
		if (!strncmp(p, name, len) && (p[len] == ',' || !p[len]))
			return true;
	return false;
}

/*
 * The key's columns in @t by the names of @keyspec, less those in @ignore;
 * -1 where @t lacks one.
 */
static int key_cols(const struct csv_table *t, const char *keyspec, const char *ignore,
		    int *kcols, int max)
{
	char spec[1024], *tok, *save = NULL;
	int n = 0;

	snprintf(spec, sizeof(spec), "%s", keyspec);
	for (tok = strtok_r(spec, ",", &save); tok && n < max; tok = strtok_r(NULL, ",", &save))
		if (!in_list(ignore, tok))
			kcols[n++] = csv_col(t, tok);
	return n;
}

static size_t parse_values(const char *s, double *v, size_t max)
{
	size_t n = 0;
	char *end;

	while (*s && n < max) {
		v[n] = strtod(s, &end);
		if (end == s)
			break;
		n++;
		s = *end == ';' ? end + 1 : end;
	}
	return n;
}

static bool higher_is_better(const char *figure)
{
	size_t n = strlen(figure);

	return (n > 6 && !strcmp(figure + n - 6, "_per_s")) || strstr(figure, "gbps") ||
	       strstr(figure, "kiops");
}

struct cmp_file {
	const struct cmp_args *args;
	const struct csv_table *ta, *tb;
	int kcols_a[32], kcols_b[32], nk;
	bool varies[32];
	int fa, fb, va, vb;	/* figure and rep_values columns */
	bool up;		/* higher is better */
	const char *figure;
	FILE *out;
	const char *name, *bname;
};

/* "key=value ..." of the key columns that vary in the baseline. */
static void row_label(const struct cmp_file *f, size_t r, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int k = 0; k < f->nk && n < len; k++)
		if (f->varies[k] && f->kcols_a[k] >= 0)
			n += (size_t)snprintf(buf + n, len - n, "%s%s=%s", n ? " " : "",
					      f->ta->cols[f->kcols_a[k]], f->ta->rows[r][f->kcols_a[k]]);
	if (!n)
		snprintf(buf, len, "(all)");
}

static const char *verdict(const struct cmp_file *f, const struct stats_ratio *s, bool ok)
{
	double change = s->ratio - 1;

	if (!ok)
		return "n/a";
	if (!(s->p < f->args->alpha) || fabs(change) <= f->args->threshold)
		return "~";
	return (change > 0) == f->up ? "better" : "worse";
}

static void print_row(const struct cmp_file *f, size_t ra, size_t rb, struct cmp_count *cnt)
{
	double a[STATS_MAX_N], b[STATS_MAX_N];
	size_t na = parse_values(f->ta->rows[ra][f->va], a, STATS_MAX_N);
	size_t nb = parse_values(f->tb->rows[rb][f->vb], b, STATS_MAX_N);
	struct stats_ratio s = { NAN, NAN, NAN, 0, NAN };
	bool ok = na && nb && !stats_ratio(a, na, b, nb, &s);
	const char *v = verdict(f, &s, ok);
	char label[512];

	row_label(f, ra, label, sizeof(label));
	cnt->rows++;
	cnt->better += !strcmp(v, "better");
	cnt->worse += !strcmp(v, "worse");
	cnt->same += !strcmp(v, "~");
	cnt->skipped += !ok;
	switch (f->args->fmt) {
	case FMT_TEXT:
		fprintf(f->out, "  %-56s %10.4g %10.4g  %6.3f  [%.3f, %.3f] %3.0f%%  %6.3f  %s\n",
			label, stats_median(a, na), stats_median(b, nb), s.ratio, s.ci_lo, s.ci_hi,
			100 * s.ci_level, s.p, v);
		break;
	case FMT_MD:
		fprintf(f->out, "| %s | %s | %.4g | %.4g | %.3f | %.3f..%.3f (%.0f%%) | %.3f | %s |\n",
			f->name, label, stats_median(a, na), stats_median(b, nb), s.ratio, s.ci_lo,
			s.ci_hi, 100 * s.ci_level, s.p, v);
		break;
	case FMT_CSV: {
		struct stats_summary sa = { 0 }, sb = { 0 };

		if (na)
			stats_summarize(a, na, &sa);
		if (nb)
			stats_summarize(b, nb, &sb);
		fprintf(f->out, "%s,\"%s\",%s,%s,%zu,%.6g,%.6g,%.6g,%zu,%.6g,%.6g,%.6g,%.5f,%.5f,%.5f,"
			"%.4f,%.5f,%s\n", f->name, label, f->figure, f->bname, na, sa.median, sa.ci_lo,
			sa.ci_hi, nb, sb.median, sb.ci_lo, sb.ci_hi, s.ratio, s.ci_lo, s.ci_hi,
			s.ci_level, s.p, v);
		break;
	}
	}
}

/* Join @f's rows on their key (the k-th duplicate with the k-th) and print each pair. */
static void join_rows(struct cmp_file *f, struct cmp_count *cnt)
{
	const struct csv_table *ta = f->ta, *tb = f->tb;
	bool *used = calloc(tb->nrows + 1, sizeof(*used));
	char ka[2048], kb[2048];
	const struct cmp_args *a = f->args;
	int wa = a->within_col[0] ? csv_col(ta, a->within_col) : -1;
	int wb = a->within_col[0] ? csv_col(tb, a->within_col) : -1;

	if (!used)
		run_error("out of memory");
	/* --within: B's rows are the COL=B ones only, A's the COL=A ones. */
	for (size_t q = 0; wb >= 0 && q < tb->nrows; q++)
		used[q] = strcmp(tb->rows[q][wb], a->within_b) != 0;
	for (int k = 0; k < f->nk; k++)
		for (size_t r = 1; r < ta->nrows && f->kcols_a[k] >= 0; r++)
			if (strcmp(ta->rows[r][f->kcols_a[k]], ta->rows[0][f->kcols_a[k]]))
				f->varies[k] = true;
	for (size_t r = 0; r < ta->nrows; r++) {
		size_t q;

		if (wa >= 0 && strcmp(ta->rows[r][wa], a->within_a))
			continue;
		row_key(ta, r, f->kcols_a, f->nk, ka, sizeof(ka));
		for (q = 0; q < tb->nrows; q++) {
			if (used[q])
				continue;
			row_key(tb, q, f->kcols_b, f->nk, kb, sizeof(kb));
			if (!strcmp(ka, kb))
				break;
		}
		if (q == tb->nrows) {
			cnt->only_a++;
			continue;
		}
		used[q] = true;
		print_row(f, r, q, cnt);
	}
	for (size_t q = 0; q < tb->nrows; q++)
		cnt->only_b += !used[q] && (wb < 0 || !strcmp(tb->rows[q][wb], a->within_b));
	free(used);
}

static void file_header(const struct cmp_file *f)
{
	const char *fig = f->figure;

	if (f->args->fmt == FMT_TEXT)
		fprintf(f->out, "\n%s: %s, %s is better\n  %-56s %10s %10s  %6s  %-16s %4s  %6s\n",
			f->name, fig, f->up ? "higher" : "lower", "configuration", "A median",
			"B median", "B/A", "95% CI of B/A", "cov", "p");
	else if (f->args->fmt == FMT_MD)
		fprintf(f->out, "\n%s: `%s`, %s is better\n\n| file | configuration | A median | "
			"B median | B/A | CI of B/A (coverage) | p | verdict |\n|---|---|---|---|---|---|---|---|\n",
			f->name, fig, f->up ? "higher" : "lower");
}

/* One family CSV of both runs. Return: 1 when compared, 0 when absent or not comparable. */
static int compare_file(const char *dira, const char *dirb, const char *name,
			const struct cmp_args *args, FILE *out, struct cmp_count *cnt)
{
	struct csv_table ta, tb;
	struct cmp_file f = { .args = args, .ta = &ta, .tb = &tb, .out = out, .name = name,
			      .bname = dirb };
	char pa[4400], pb[4400], err[256];
	const char *key;
	int done = 0;

	snprintf(pa, sizeof(pa), "%s/%s", dira, name);
	snprintf(pb, sizeof(pb), "%s/%s", dirb, name);
	if (!proc_is_file(pa) && !proc_is_file(pb))
		return 0;
	if (!proc_is_file(pa) || !proc_is_file(pb)) {
		fprintf(stderr, "iob compare: %s only in %s\n", name, proc_is_file(pa) ? dira : dirb);
		return 0;
	}
	if (csv_read(pa, &ta, err, sizeof(err)))
		usage_error("compare: %s: %s", pa, err);
	if (csv_read(pb, &tb, err, sizeof(err)))
		usage_error("compare: %s: %s", pb, err);
	key = csv_meta_get(&ta, "key");
	f.fa = csv_col(&ta, "figure");
	f.fb = csv_col(&tb, "figure");
	f.va = csv_col(&ta, "rep_values");
	f.vb = csv_col(&tb, "rep_values");
	if (args->within_col[0] && csv_col(&ta, args->within_col) < 0) {
		fprintf(stderr, "iob compare: %s has no column %s: not compared\n", name,
			args->within_col);
	} else if (!key || f.fa < 0 || f.fb < 0 || f.va < 0 || f.vb < 0 || !ta.nrows) {
		fprintf(stderr, "iob compare: %s: no key or repetition columns (written before "
			"`--repeat`?): not compared\n", name);
	} else {
		f.nk = key_cols(&ta, key, args->ignore, f.kcols_a, 32);
		key_cols(&tb, key, args->ignore, f.kcols_b, 32);
		f.figure = ta.rows[0][f.fa];
		f.up = higher_is_better(f.figure);
		file_header(&f);
		join_rows(&f, cnt);
		done = 1;
	}
	csv_table_free(&ta);
	csv_table_free(&tb);
	return done;
}

static void run_line(FILE *out, enum fmt fmt, const char *tag, const char *dir, json_t *m)
{
	json_t *rep = json_object_get(m, "repeat");

	fprintf(out, "%s%s = %s (host %s, commit %s, %s, %lld repetitions, status %s)\n",
		fmt == FMT_CSV ? "# " : fmt == FMT_MD ? "- " : "", tag, dir, meta_str(m, "host"),
		meta_str(m, "git_commit"), meta_str(m, "date"),
		rep ? (long long)json_integer_value(rep) : 1LL, meta_str(m, "status"));
}

static int compare_to(const struct cmp_args *ap, FILE *out)
{
	const struct cmp_args a = *ap;
	struct cmp_count total = { 0 };
	json_t *ma;

	ma = run_meta(a.runs[0]);
	for (int i = 1; i < a.nruns; i++)
		json_decref(run_meta(a.runs[i]));	/* every folder checked before any output */
	if (a.fmt == FMT_CSV)
		fprintf(out, "file,configuration,figure,run,a_n,a_median,a_ci_lo,a_ci_hi,b_n,b_median,"
			"b_ci_lo,b_ci_hi,ratio,ci_lo,ci_hi,ci_level,p,verdict\n");
	for (int i = 1; i < a.nruns; i++) {
		json_t *mb = run_meta(a.runs[i]);
		struct cmp_count cnt = { 0 };
		int files = 0;

		run_line(out, a.fmt, "A", a.runs[0], ma);
		run_line(out, a.fmt, "B", a.runs[i], mb);
		meta_notes(ma, mb, "B", out, a.fmt);
		if (a.within_col[0])
			fprintf(out, "%snote: within one run: A = its rows with %s=%s, B = with %s=%s\n",
				a.fmt == FMT_CSV ? "# " : a.fmt == FMT_MD ? "- " : "  ", a.within_col,
				a.within_a, a.within_col, a.within_b);
		else if (a.ignore)
			fprintf(out, "%snote: rows joined without the key columns %s\n",
				a.fmt == FMT_CSV ? "# " : a.fmt == FMT_MD ? "- " : "  ", a.ignore);
		for (size_t f = 0; family_csvs[f]; f++)
			files += compare_file(a.runs[0], a.runs[i], family_csvs[f], &a, out, &cnt);
		json_decref(mb);
		if (!files || !cnt.rows)
			usage_error("compare: %s and %s have no family CSV rows in common", a.runs[0],
				    a.runs[i]);
		fprintf(out, "%s%s against A: %u rows, %u better, %u worse, %u unchanged or not "
			"significant, %u not comparable; %u only in A, %u only in B "
			"(threshold %.1f%%, p < %.3g)\n", a.fmt == FMT_CSV ? "# " : "\n", a.runs[i],
			cnt.rows, cnt.better, cnt.worse, cnt.same, cnt.skipped, cnt.only_a, cnt.only_b,
			100 * a.threshold, a.alpha);
		total.worse += cnt.worse;
	}
	json_decref(ma);
	if (fflush(out) || ferror(out))
		run_error("compare: writing the table failed");
	return total.worse ? 1 : 0;
}

int cmd_compare(int argc, char **argv)
{
	struct cmp_args a;

	cmp_args_parse(argc, argv, &a);
	return compare_to(&a, stdout);
}

int compare_write(char **runs, int nruns, int fmt, const char *ignore, FILE *out)
{
	struct cmp_args a = { .threshold = 0.05, .alpha = 0.05,
			      .fmt = fmt == 1 ? FMT_MD : fmt == 2 ? FMT_CSV : FMT_TEXT,
			      .nruns = nruns, .runs = runs, .ignore = ignore };

	return compare_to(&a, out);
}
