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
 * model, and executed by QEMU's IOMMU, in host_qemu_check.csv. The run
 * fails (exit 1) when they do not all agree.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iob/csv.h>
#include <iob/proc.h>

#include "plot.h"
#include "qboot.h"
#include "qemu.h"
#include "qemu_cmds.h"
#include "session.h"
#include "util.h"

#define MARKER		"pci_nvme_mmio_read addr 0xc "
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
	session_finish(s);
	if (o.plot && cmd_plot_dir(session_dir(s), true))
		fprintf(stderr, "iob qemu host: plotting failed; the CSVs are complete\n");
	session_commit(s, final, sizeof(final));
	qboot_free(&b);
	printf("%s\n", final);
	return bad ? 1 : 0;
}
