// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob qemu host: iob host run inside the QEMU guest (docs/host.md), on
 * the guest's NVMe behind QEMU's AMD IOMMU, and its figures checked
 * against QEMU's own trace of the commands the IOMMU executed.
 *
 * The guest's iob host vfio reads the NVMe's INTMS register around each
 * window it counts (--mark-mmio); QEMU logs those reads and the IOMMU's
 * commands on the same vCPU thread, in order, so its log is cut into the
 * same windows (qtr_count_marked()). Per window: INVALIDATE_IOMMU_PAGES
 * and COMPLETION_WAIT counted by the guest's kprobe, predicted by the
 * model, and executed by QEMU's IOMMU, in host_qemu_check.csv.
 *
 * iob host reach reads INTMC (10h) around each point's timed transfers:
 * there, QEMU's IOTLB fills and hits against the misses and hits the
 * probe predicted with QEMU's geometry (host_reach_qemu.csv; exact at
 * queue depth 1), and the geometry fit run on QEMU's miss counts instead
 * of the latency, which must find QEMU's own IOTLB (host_reach_qemu_fit.csv).
 * The run fails (exit 1) when any of these disagree.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <getopt.h>
#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iob/csv.h>
#include <iob/proc.h>
#include <iob/reachfit.h>

#include "plot.h"
#include "qboot.h"
#include "qemu.h"
#include "qemu_cmds.h"
#include "session.h"
#include "util.h"

#define MARKER		"pci_nvme_mmio_read addr 0xc "
#define REACH_MARKER	"pci_nvme_mmio_read addr 0x10 "
/* Deeper queues: QEMU fetches commands ahead of their data, the model does not. */
#define REACH_DEEP_TOL	0.05
#define WINDOWS_MAX	512

static const char host_usage[] =
	"usage: iob qemu host [--full] [--accel auto|kvm|tcg] [--timeout S] [--results DIR]\n"
	"                     [--label NAME] [--no-plot]\n"
	"\n"
	"iob host run inside the Linux guest behind QEMU's AMD IOMMU, on its NVMe\n"
	"(bound to vfio-pci for the run), and every counted window checked against\n"
	"QEMU's trace: host_qemu_check.csv. --full runs iob host's default cases\n"
	"instead of its quick ones. Run folder RESULTS/<date>_<host>_<cpu>_LABEL\n"
	"(results, host-qemu). Exit 1 when a window disagrees or the guest failed.\n";

struct host_opts {
	bool full, plot;
	const char *accel, *results, *label;
	uint64_t timeout_s;
};

static void parse(int argc, char **argv, struct host_opts *o)
{
	static const struct option opts[] = {
		{ "full", no_argument, NULL, 'f' }, { "accel", required_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' }, { "results", required_argument, NULL, 'r' },
		{ "label", required_argument, NULL, 'l' }, { "no-plot", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	*o = (struct host_opts){ .plot = true, .accel = "auto", .results = "results",
				 .label = "host-qemu" };
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': o->full = true; break;
		case 'a':
			if (strcmp(optarg, "auto") && strcmp(optarg, "kvm") && strcmp(optarg, "tcg"))
				usage_error("--accel: '%s' is not auto, kvm or tcg", optarg);
			o->accel = optarg;
			break;
		case 't':
			o->timeout_s = parse_u64(optarg, "--timeout");
			if (!o->timeout_s || o->timeout_s > 86400)
				usage_error("--timeout: %s is not 1..86400 seconds", optarg);
			break;
		case 'r': o->results = optarg; break;
		case 'l': o->label = optarg; break;
		case 'n': o->plot = false; break;
		case 'h': fputs(host_usage, stdout); exit(0);
		default: usage_error("qemu host: bad option (see `iob qemu host --help`)");
		}
	}
	if (optind < argc)
		usage_error("qemu host: unexpected argument '%s'", argv[optind]);
	for (const char *s = o->label; *s; s++)
		if (!(*s == '.' || *s == '_' || *s == '-' || (*s >= '0' && *s <= '9') ||
		      (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			usage_error("--label: '%s' may hold only letters, digits, '.', '_', '-'", o->label);
	if (!*o->label || strlen(o->label) > 64)
		usage_error("--label: 1 to 64 characters");
}

/* Copy the guest's run folder (unpacked from its results disk) into @dir. */
static void copy_guest_run(const char *scratch, const char *name, const char *dir)
{
	char pat[4400], src[4400];
	char *cp[] = { "cp", "-R", "--", src, (char *)dir, NULL };
	glob_t g;

	snprintf(pat, sizeof(pat), "%s/guest-%s/*_host-guest*", scratch, name);
	if (glob(pat, 0, NULL, &g) || g.gl_pathc != 1)
		run_error("qemu host: the guest left no iob host run folder (%s)", pat);
	snprintf(src, sizeof(src), "%s/.", g.gl_pathv[0]);
	globfree(&g);
	if (proc_run(cp, NULL, false))
		run_error("qemu host: cannot copy the guest's run folder into %s", dir);
	snprintf(src, sizeof(src), "%s/guest-%s/host-run.log", scratch, name);
	if (proc_is_file(src) && proc_run(cp, NULL, false))
		run_error("qemu host: cannot copy %s", src);
}

/*
 * List what came from the guest in meta.json; its own meta.json is kept
 * as guest_meta.json (this folder's is written at the end).
 */
static void list_guest_files(struct session *s)
{
	char a[4400], b[4400];
	struct dirent *de;
	DIR *d;

	snprintf(a, sizeof(a), "%s/meta.json", session_dir(s));
	snprintf(b, sizeof(b), "%s/guest_meta.json", session_dir(s));
	if (proc_is_file(a) && rename(a, b))
		run_error("qemu host: %s: %s", a, strerror(errno));
	d = opendir(session_dir(s));
	if (!d)
		run_error("qemu host: %s: %s", session_dir(s), strerror(errno));
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && strncmp(de->d_name, "console-", 8))
			session_add_file(s, de->d_name);
	closedir(d);
}

/* QEMU's commands per window, cut at the guest's marker reads. */
static size_t qemu_windows(const char *log, struct qtr_counts *w)
{
	char err[512];
	size_t marks;
	FILE *f = fopen(log, "r");

	if (!f)
		run_error("qemu host: %s: %s", log, strerror(errno));
	if (qtr_count_marked(f, MARKER, w, WINDOWS_MAX, &marks, err, sizeof(err)))
		run_error("qemu host: %s: %s", log, err);
	fclose(f);
	return marks;
}

static const char *col(const struct csv_table *t, size_t r, const char *name)
{
	int c = csv_col(t, name);

	if (c < 0)
		run_error("qemu host: host_windows.csv has no column %s", name);
	return t->rows[r][c];
}

/* host_qemu_check.csv; returns the windows that disagree. */
static unsigned check(struct session *s, const struct qtr_counts *w, size_t marks)
{
	struct csv *out = session_csv(s, "host_qemu_check.csv");
	struct csv_table t;
	char path[4400], err[512];
	unsigned bad = 0;

	snprintf(path, sizeof(path), "%s/host_windows.csv", session_dir(s));
	if (csv_read(path, &t, err, sizeof(err)))
		run_error("qemu host: %s: %s", path, err);
	csv_header(out, "window,backend,op,page_size_bytes,pages_per_call,pattern,calls,"
			"guest_inv_pages,guest_completion_waits,model_inv_pages,"
			"model_completion_waits,qemu_inv_pages,qemu_completion_waits,agree");
	for (size_t r = 0; r < t.nrows; r++) {
		unsigned long win = strtoul(col(&t, r, "window"), NULL, 10);
		unsigned long long qi, qw;
		bool ok;

		if (win + 1 >= marks)
			run_error("qemu host: window %lu has no closing marker in QEMU's log "
				  "(%zu markers)", win, marks);
		qi = (unsigned long long)w[win].ev[QTR_PAGES_INVAL];
		qw = (unsigned long long)w[win].ev[QTR_COMPLETION_WAIT];
		ok = strtoull(col(&t, r, "inv_pages"), NULL, 10) == qi &&
		     strtoull(col(&t, r, "completion_waits"), NULL, 10) == qw &&
		     strtod(col(&t, r, "model_inv_pages"), NULL) == (double)qi &&
		     strtod(col(&t, r, "model_completion_waits"), NULL) == (double)qw;
		bad += !ok;
		csv_row(out, "%lu,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%llu,%llu,%d", win,
			col(&t, r, "backend"), col(&t, r, "op"), col(&t, r, "page_size_bytes"),
			col(&t, r, "pages_per_call"), col(&t, r, "pattern"), col(&t, r, "calls"),
			col(&t, r, "inv_pages"), col(&t, r, "completion_waits"),
			col(&t, r, "model_inv_pages"), col(&t, r, "model_completion_waits"), qi, qw, ok);
	}
	/* Windows 3k + 2 (from a case's end to the next one's start) hold its timed rounds. */
	printf("qemu host: %zu counted windows; guest = model = QEMU in %zu, %u disagree\n",
	       t.nrows, t.nrows - bad, bad);
	fflush(stdout);
	json_object_set_new(session_meta(s), "windows", json_integer((json_int_t)t.nrows));
	json_object_set_new(session_meta(s), "windows_disagreeing", json_integer(bad));
	csv_table_free(&t);
	return bad;
}

static const char *rcol(const struct csv_table *t, size_t r, const char *name)
{
	int c = csv_col(t, name);

	if (c < 0)
		run_error("qemu host: host_reach.csv has no column %s", name);
	return t->rows[r][c];
}

struct reach_trace {
	struct reachfit_point *pts;
	double *y;
	unsigned *qd;
	size_t n;
};

/* One host_reach_qemu.csv row; returns whether trace and prediction agree. */
static bool reach_row(struct csv *out, const struct csv_table *t, size_t r,
		      const struct qtr_counts *w, size_t marks, struct reach_trace *rt)
{
	long win = strtol(rcol(t, r, "mark_window"), NULL, 10);
	uint64_t pm = strtoull(rcol(t, r, "qemu_misses"), NULL, 10);
	uint64_t ph = strtoull(rcol(t, r, "qemu_hits"), NULL, 10);
	uint64_t tm, th, ios;
	char err[256];
	unsigned qd;
	double diff;
	bool ok;

	if (win < 0)
		run_error("qemu host: host_reach.csv row %zu has no marked window", r + 1);
	if ((size_t)win + 1 >= marks)
		run_error("qemu host: reach window %ld has no closing marker in QEMU's log "
			  "(%zu markers)", win, marks);
	if (reach_replay_parse(t, r, &rt->pts[rt->n], &qd, err, sizeof(err)))
		run_error("qemu host: host_reach.csv: %s", err);
	tm = w[win].ev[QTR_IOTLB_FILL];
	th = w[win].ev[QTR_IOTLB_HIT];
	ios = rt->pts[rt->n].ios;
	diff = pm ? ((double)tm - (double)pm) / (double)pm : (tm ? 1.0 : 0.0);
	ok = qd == 1 ? tm == pm && th == ph : fabs(diff) <= REACH_DEEP_TOL;
	csv_row(out, "%zu,%s,%s,%s,%s,%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
		",%" PRIu64 ",%.4f,%.4f,%.2f,%s,%d", r, rcol(t, r, "pattern"),
		rcol(t, r, "page_size_bytes"), rcol(t, r, "window_bytes"), rcol(t, r, "io_pages"), qd,
		ios, pm, tm, ph, th, (double)pm / (double)ios, (double)tm / (double)ios, 100 * diff,
		qd == 1 ? "exact" : "5%", ok);
	rt->y[rt->n] = (double)tm / (double)ios;
	rt->qd[rt->n] = qd;
	rt->pts[rt->n].y = &rt->y[rt->n];
	rt->pts[rt->n].ny = 1;
	rt->n++;
	return ok;
}

/* Least squares of y = a + b * x with b >= 0 over the points' single values: the error. */
static double sse_of(const double *x, const struct reachfit_point *p, size_t n)
{
	double mx = 0, my = 0, sxx = 0, sxy = 0, a, b, sse = 0;

	for (size_t i = 0; i < n; i++) {
		mx += x[i] / (double)n;
		my += p[i].y[0] / (double)n;
	}
	for (size_t i = 0; i < n; i++) {
		sxx += (x[i] - mx) * (x[i] - mx);
		sxy += (x[i] - mx) * (p[i].y[0] - my);
	}
	b = sxx > 0 && sxy > 0 ? sxy / sxx : 0;
	a = my - b * mx;
	for (size_t i = 0; i < n; i++)
		sse += (p[i].y[0] - a - b * x[i]) * (p[i].y[0] - a - b * x[i]);
	return sse;
}

/* The fit on QEMU's miss counts, per queue-depth-1 curve: it should find QEMU's IOTLB. */
static unsigned reach_trace_fit(struct session *s, const struct reach_trace *rt)
{
	struct csv *out = session_csv(s, "host_reach_qemu_fit.csv");
	struct reachfit_point *pts = calloc(rt->n, sizeof(*pts));
	unsigned wrong = 0;

	if (!pts)
		run_error("qemu host: out of memory");
	csv_header(out, REACHFIT_COLS ",qemu_geometry_found");
	for (size_t i = 0; i < rt->n; i++) {
		const struct reach_point *a = &rt->pts[i].pt;
		struct reachfit_result r;
		char err[256], g[64];
		size_t n = 0;
		bool first = rt->qd[i] == 1, found;

		for (size_t j = 0; j < i && first; j++)
			first = !(rt->qd[j] == 1 && rt->pts[j].pt.page_size == a->page_size &&
				  rt->pts[j].pt.pattern == a->pattern);
		for (size_t j = i; j < rt->n && first; j++)
			if (rt->qd[j] == 1 && rt->pts[j].pt.page_size == a->page_size &&
			    rt->pts[j].pt.pattern == a->pattern)
				pts[n++] = rt->pts[j];
		if (!first || n < 3)
			continue;
		if (reachfit_run(pts, n, 0, 1, &r, err, sizeof(err)))
			run_error("qemu host: fitting QEMU's misses: %s", err);
		/*
		 * QEMU's geometry (the last candidate) is found when it explains
		 * the counts as well as the best: a curve that is a step (no
		 * misses, then a constant) fits every geometry with the same step
		 * exactly, and the smallest of them comes first.
		 */
		found = sse_of(&r.x[(r.ngeo - 1) * n], pts, n) <= r.fit.sse + 1e-9 * (1 + r.fit.sse);
		wrong += !found;
		reachfit_row(out, "qemu_trace",
			     pts[0].lay.engine == REACH_ENGINE_PTDMA ? "ptdma" : "nvme", pts, &r,
			     found ? ",1" : ",0");
		printf("qemu host: reach fit of QEMU's misses, %s %llu-byte pages: %s (QEMU's own "
		       "%s), b = %.3f\n", reach_pattern_name(a->pattern),
		       (unsigned long long)a->page_size,
		       reachfit_geo_name(&r.geo[r.fit.best], g, sizeof(g)), found ? "found" : "MISSED",
		       r.fit.b);
		reachfit_free(&r);
	}
	free(pts);
	return wrong;
}

/*
 * host_reach_qemu.csv: per point, QEMU's IOTLB fills and hits between the
 * probe's markers against its prediction; then the trace fit. Returns the
 * points and fits that disagree.
 */
static unsigned reach_check(struct session *s, const char *log)
{
	static struct qtr_counts w[WINDOWS_MAX];
	struct reach_trace rt = { 0 };
	struct csv_table t;
	struct csv *out;
	char path[4400], err[512];
	unsigned bad = 0;
	size_t marks;
	FILE *f;

	snprintf(path, sizeof(path), "%s/host_reach.csv", session_dir(s));
	if (!proc_is_file(path))
		run_error("qemu host: the guest's run has no host_reach.csv (iob host reach did not "
			  "run)");
	if (csv_read(path, &t, err, sizeof(err)))
		run_error("qemu host: %s: %s", path, err);
	f = fopen(log, "r");
	if (!f || qtr_count_marked(f, REACH_MARKER, w, WINDOWS_MAX, &marks, err, sizeof(err)))
		run_error("qemu host: %s: %s", log, f ? err : strerror(errno));
	fclose(f);
	rt.pts = calloc(t.nrows + 1, sizeof(*rt.pts));
	rt.y = calloc(t.nrows + 1, sizeof(*rt.y));
	rt.qd = calloc(t.nrows + 1, sizeof(*rt.qd));
	if (!rt.pts || !rt.y || !rt.qd)
		run_error("qemu host: out of memory");
	out = session_csv(s, "host_reach_qemu.csv");
	csv_header(out, "point,pattern,page_size_bytes,window_bytes,io_pages,qd,ios,"
			"predicted_misses,qemu_misses,predicted_hits,qemu_hits,"
			"predicted_misses_per_io,qemu_misses_per_io,miss_diff_pct,rule,agree");
	for (size_t r = 0; r < t.nrows; r++)
		bad += !reach_row(out, &t, r, w, marks, &rt);
	printf("qemu host: %zu reach points; QEMU's IOTLB = prediction in %zu, %u disagree\n",
	       t.nrows, t.nrows - bad, bad);
	json_object_set_new(session_meta(s), "reach_points", json_integer((json_int_t)t.nrows));
	json_object_set_new(session_meta(s), "reach_points_disagreeing", json_integer(bad));
	json_object_set_new(session_meta(s), "reach_latency",
			    json_string("TCG artefact: QEMU's timings say nothing of hardware"));
	bad += reach_trace_fit(s, &rt);
	free(rt.pts);
	free(rt.y);
	free(rt.qd);
	csv_table_free(&t);
	return bad;
}

static struct qboot_cfg boot_cfg(const struct host_opts *o, const struct qguest *g,
				 const char *scratch, const char *accel)
{
	return (struct qboot_cfg){
		.iommu = QBOOT_AMD, .dev = QBOOT_NVME, .mode = QBOOT_STRICT, .accel = accel,
		.smp = 1, .mem_mib = 2048, .kernel = g->kernel, .initrd = g->initrd,
		.scratch = scratch, .timeout_s = o->timeout_s, .stop = session_interrupted,
		.host = o->full ? "full" : "quick",
	};
}

static void boot(struct session *s, struct qboot_cfg *bc, struct qboot *b, const char *scratch)
{
	char name[64], con[4400], log[4400], xz[4400], err[512];

	qboot_name(bc, name, sizeof(name));
	snprintf(con, sizeof(con), "%s/console-%s.log", session_dir(s), name);
	snprintf(log, sizeof(log), "%s/qemu-trace.log", scratch);
	bc->console = con;
	bc->trace_log = log;
	session_add_file(s, strrchr(con, '/') + 1);
	fprintf(stderr, "iob qemu host: booting %s (%s, timeout %llu s)\n", name, bc->accel,
		(unsigned long long)(bc->timeout_s ? bc->timeout_s : qboot_timeout_s(bc)));
	if (qboot_run(bc, b, err, sizeof(err)))
		run_error("qemu host: %s", err);
	if (!b->ok || b->interrupted)
		return;
	snprintf(xz, sizeof(xz), "%s/traces", scratch);
	if (qboot_collect(bc, b, "", xz, err, sizeof(err)))
		run_error("qemu host: %s", err);
	if (!b->ok)
		return;
	copy_guest_run(scratch, name, session_dir(s));
	list_guest_files(s);
	snprintf(xz, sizeof(xz), "%s/qemu-trace-%s.log.xz", session_dir(s), name);
	if (qboot_compress(log, xz))
		run_error("qemu host: cannot compress QEMU's trace (xz-utils)");
	session_add_file(s, strrchr(xz, '/') + 1);
}

int qemu_host_main(int argc, char **argv)
{
	static struct qtr_counts win[WINDOWS_MAX];
	static struct qboot b;
	struct host_opts o;
	struct qguest g;
	struct qboot_cfg bc;
	struct session *s;
	char scratch[4200], final[4400], log[4400];
	const char *accel;
	unsigned bad;
	bool probed;

	parse(argc, argv, &o);
	qemu_guest_build(&g, false);
	qemu_scratch_make(scratch, sizeof(scratch));
	bc = boot_cfg(&o, &g, scratch, "kvm");
	accel = strcmp(o.accel, "auto") ? o.accel : qboot_pick_accel(&bc, &probed);
	bc.accel = accel;
	s = session_create(&(struct session_cfg){ .root = o.results, .label = o.label,
		.family = "host", .argc = argc + 2, .argv = argv - 2, .seed = 1,
		.on_signal = SESSION_SIGNAL_FLAG });
	json_object_set_new(session_meta(s), "source", json_string("qemu"));
	json_object_set_new(session_meta(s), "accel", json_string(accel));
	json_object_set_new(session_meta(s), "qemu", json_string(qboot_qemu_version()));
	snprintf(log, sizeof(log), "%s/qemu-trace.log", scratch);
	boot(s, &bc, &b, scratch);
	if (session_interrupted()) {
		session_abort(s);
		return 130;
	}
	if (!b.ok) {
		fprintf(stderr, "iob qemu host: the guest failed: %s; the incomplete folder stays at "
			"%s (its console log says why)\n", b.reason, session_dir(s));
		session_keep(s);
		return 1;
	}
	bad = check(s, win, qemu_windows(log, win));
	bad += reach_check(s, log);
	session_finish(s);
	if (o.plot && cmd_plot_dir(session_dir(s), true))
		fprintf(stderr, "iob qemu host: plotting failed; the CSVs are complete\n");
	session_commit(s, final, sizeof(final));
	qboot_free(&b);
	printf("%s\n", final);
	return bad ? 1 : 0;
}
