// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob host phases and iob host pmu: what the kernel and the IOMMU did
 * while a command ran.
 *
 *  - phases: kprobe/kretprobe pairs on the kernel's IOMMU functions
 *    (guest-workloads/host/phases.h), one path record per phase, the AMD
 *    driver's commands by opcode, and the tracing overhead per probed
 *    call, measured here on a getppid() probe.
 *  - pmu: the AMD IOMMU performance counters through `perf stat -a`, one
 *    row per IOMMU and event; where the kernel has no such PMU (QEMU does
 *    not emulate it), one line saying so and exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iob/alloc.h>
#include <iob/amdvi.h>
#include <iob/cycles.h>
#include <iob/hostinfo.h>
#include <iob/perfstat.h>
#include <iob/textfile.h>

#include "bench.h"
#include "host_cmds.h"
#include "phases.h"
#include "util.h"

static const char phases_usage[] =
	"usage: iob host phases [--out DIR] [--no-overhead] -- CMD [ARGS...]\n"
	"\n"
	"Times the kernel's IOMMU phases (IOVA alloc/free, page-table map/unmap,\n"
	"the AMD driver's flush and completion wait, flush-queue flushes, VFIO\n"
	"map/unmap) with tracefs kprobes while CMD runs; counts the commands the\n"
	"driver queues. Writes host_phases.csv and host_commands.csv into --out.\n";

static const char pmu_usage[] =
	"usage: iob host pmu [--out DIR] [--perf PROG] [--root DIR] -- CMD [ARGS...]\n"
	"\n"
	"Counts the AMD IOMMU PMU's events (IOTLB PTE/PDE hits and misses, DTE hits\n"
	"and misses, page-table reads, commands and invalidations processed) for\n"
	"every IOMMU with `perf stat -a` while CMD runs. Without the PMU it says so\n"
	"and exits 0. Writes host_pmu.csv into --out.\n";

static const char *const opcode_names[PHASES_OPCODES] = {
	[AMDVI_CMD_COMPLETION_WAIT] = "COMPLETION_WAIT",
	[AMDVI_CMD_INVALIDATE_DEVTAB_ENTRY] = "INVALIDATE_DEVTAB_ENTRY",
	[AMDVI_CMD_INVALIDATE_IOMMU_PAGES] = "INVALIDATE_IOMMU_PAGES",
	[AMDVI_CMD_INVALIDATE_IOTLB_PAGES] = "INVALIDATE_IOTLB_PAGES",
	[AMDVI_CMD_INVALIDATE_INTERRUPT_TABLE] = "INVALIDATE_INTERRUPT_TABLE",
	[AMDVI_CMD_INVALIDATE_IOMMU_ALL] = "INVALIDATE_IOMMU_ALL",
};

/* Options up to "--", then CMD. Return: the index of CMD in @argv. */
static int parse_common(int argc, char **argv, const char *usage, const char **out,
			const char **perf, const char **root, bool *overhead)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' }, { "perf", required_argument, NULL, 'p' },
		{ "root", required_argument, NULL, 'r' },
		{ "no-overhead", no_argument, NULL, 'n' }, { "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': *out = optarg; break;
		case 'p':
			if (!perf)
				usage_error("--perf: only for iob host pmu");
			*perf = optarg;
			break;
		case 'r':
			if (!root)
				usage_error("--root: only for iob host pmu");
			*root = optarg;
			break;
		case 'n':
			if (!overhead)
				usage_error("--no-overhead: only for iob host phases");
			*overhead = false;
			break;
		case 'h': fputs(usage, stdout); exit(0);
		default: usage_error("%s: bad option (see --help)", argv[0]);
		}
	}
	if (optind >= argc)
		usage_error("%s: give the command to watch after --", argv[0]);
	if (*out && mkdir(*out, 0777) && errno != EEXIST)
		usage_error("--out: cannot create %s: %s", *out, strerror(errno));
	return optind;
}

/* Run @argv to its end. Return: its exit status, 128 + a signal, or exits 1. */
static int run_child(char **argv)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		run_error("fork: %s", strerror(errno));
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "iob: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			run_error("waitpid: %s", strerror(errno));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void on_signal(int sig)
{
	phases_cleanup_from_signal();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void phases_report(const struct phases_result *r, struct bench_ctx *ctx, double ovh_ns)
{
	struct csv *rows = bench_csv(ctx, "host_phases.csv"), *cmds = bench_csv(ctx, "host_commands.csv");

	if (rows) {
		csv_meta(rows, "trace_clock", "%s", r->clock);
		csv_meta(rows, "overhead_ns_per_probed_call", "%.1f", ovh_ns);
		csv_header(rows, host_rec_cols("function"));
	}
	printf("# trace clock %s; tracing overhead %.0f ns per probed call; %llu events lost, "
	       "%llu unpaired\n", r->clock, ovh_ns, (unsigned long long)r->lost,
	       (unsigned long long)r->unpaired);
	printf("%-16s %-34s %10s %12s %12s %12s\n", "phase", "function", "calls", "mean_ns",
	       "min_ns", "max_ns");
	for (unsigned p = 0; p < PHASE_NR; p++) {
		const struct pathctr_rec *rec = &r->rec[p];

		if (!r->found[p]) {
			printf("%-16s %-34s (no function of this kernel can be probed)\n", phase_name(p), "-");
			continue;
		}
		host_write_rec(rows, r->func[p], phase_name(p), rec);
		printf("%-16s %-34s %10llu %12.0f %12.0f %12.0f\n", phase_name(p), r->func[p],
		       (unsigned long long)rec->count,
		       rec->count ? bench_cyc_to_ns((double)rec->total_cyc / (double)rec->count) : 0,
		       rec->count ? bench_cyc_to_ns((double)rec->min_cyc) : 0,
		       bench_cyc_to_ns((double)rec->max_cyc));
	}
	if (cmds)
		csv_header(cmds, "opcode,command,count");
	if (!r->cmds_probed)
		printf("# commands not counted: no __iommu_queue_command_sync (not the AMD driver?)\n");
	for (unsigned k = 0; k < PHASES_OPCODES && r->cmds_probed; k++) {
		if (!r->cmds[k] && !opcode_names[k])
			continue;
		if (cmds)
			csv_row(cmds, "%u,%s,%llu", k, opcode_names[k] ? opcode_names[k] : "unknown",
				(unsigned long long)r->cmds[k]);
		if (r->cmds[k])
			printf("# commands %-28s %llu\n", opcode_names[k] ? opcode_names[k] : "unknown",
			       (unsigned long long)r->cmds[k]);
	}
	bench_csv_close(rows);
	bench_csv_close(cmds);
}

static int cmd_phases(int argc, char **argv)
{
	const char *out = NULL;
	bool overhead = true;
	int first = parse_common(argc, argv, phases_usage, &out, NULL, NULL, &overhead);
	struct phases_result *res = iob_calloc(1, sizeof(*res));
	struct bench_ctx ctx;
	struct hostinfo h;
	struct phases *ph;
	double ovh = -1;
	char err[512];
	int st;

	if (!res)
		run_error("out of memory");
	host_info_scan_or_die("", &h);
	if (!h.kprobes)
		run_error("host phases: no kprobe_events in tracefs (%s): this kernel cannot be traced "
			  "(CONFIG_KPROBE_EVENTS, or tracefs not mounted)",
			  h.tracefs[0] ? h.tracefs : "not mounted");
	host_ctx_init(&ctx, argc, argv);
	ctx.outdir = out;
	if (overhead && phases_overhead_ns(h.tracefs, &ovh))
		printf("# tracing overhead not measured: no getppid system call to probe\n");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (phases_start(h.tracefs, PHASES_ALL, cycles_info()->tsc_khz, &ph, err, sizeof(err)))
		run_error("host phases: %s", err);
	st = run_child(argv + first);
	phases_stop(ph, res);
	phases_report(res, &ctx, ovh);
	iob_free(res);
	hostinfo_free(&h);
	if (st)
		run_error("host phases: %s exited with status %d", argv[first], st);
	return 0;
}

/* ---- pmu ----------------------------------------------------------------------------- */

/* The events the issue names, in the driver's spelling (arch/x86/events/amd/iommu.c). */
static const char *const pmu_events[] = {
	"mem_trans_total", "mem_iommu_tlb_pte_hit", "mem_iommu_tlb_pte_mis",
	"mem_iommu_tlb_pde_hit", "mem_iommu_tlb_pde_mis", "mem_dte_hit", "mem_dte_mis",
	"page_tbl_read_tot", "cmd_processed", "cmd_processed_inv", "tlb_inv",
};

#define NEVENTS (sizeof(pmu_events) / sizeof(pmu_events[0]))

static void pmu_event_list(const char *root, const struct hostinfo *h, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned p = 0; p < h->npmu; p++)
		for (size_t e = 0; e < NEVENTS; e++) {
			char rel[256], path[512];
			struct stat st;

			snprintf(rel, sizeof(rel), "/sys/bus/event_source/devices/%s/events/%s",
				 h->pmu[p], pmu_events[e]);
			snprintf(path, sizeof(path), "%s%s", strcmp(root, "/") ? root : "", rel);
			if (stat(path, &st))
				continue;
			n += (size_t)snprintf(buf + n, len - n, "%s%s/%s/", n ? "," : "", h->pmu[p],
					      pmu_events[e]);
			if (n >= len)
				usage_error("host pmu: too many events");
		}
}

static void pmu_report(const char *text, struct bench_ctx *ctx)
{
	struct perfstat_row rows[256];
	struct csv *c;
	char err[256];
	size_t n;

	if (perfstat_parse(text, rows, 256, &n, err, sizeof(err)))
		run_error("host pmu: perf's output: %s", err);
	c = bench_csv(ctx, "host_pmu.csv");
	if (c)
		csv_header(c, "pmu,event,value,running_pct,counted,supported");
	printf("%-14s %-24s %16s %8s\n", "iommu", "event", "count", "running");
	for (size_t i = 0; i < n; i++) {
		char pmu[64] = "", ev[64] = "";

		/* "amd_iommu_0/mem_dte_hit/" */
		sscanf(rows[i].event, "%63[^/]/%63[^/]", pmu, ev);
		if (c)
			csv_row(c, "%s,%s,%llu,%.2f,%d,%d", pmu, ev, (unsigned long long)rows[i].value,
				rows[i].running_pct, rows[i].counted, rows[i].supported);
		if (rows[i].counted)
			printf("%-14s %-24s %16llu %7.1f%%\n", pmu, ev,
			       (unsigned long long)rows[i].value, rows[i].running_pct);
		else
			printf("%-14s %-24s %16s\n", pmu, ev,
			       rows[i].supported ? "<not counted>" : "<not supported>");
	}
	bench_csv_close(c);
}

static int cmd_pmu(int argc, char **argv)
{
	const char *out = NULL, *perf = "perf", *root = "";
	int first = parse_common(argc, argv, pmu_usage, &out, &perf, &root, NULL);
	char events[8192], tmp[] = "/tmp/iob-perf-XXXXXX", *text = NULL, err[512];
	char *pargv[64 + 8];
	struct bench_ctx ctx;
	struct hostinfo h;
	int fd, st, k = 0;

	host_info_scan_or_die(root, &h);
	if (!h.npmu) {
		printf("no AMD IOMMU PMU (/sys/bus/event_source/devices/amd_iommu_* absent: not an AMD "
		       "IOMMU, or an emulated one; QEMU has none): nothing to count\n");
		hostinfo_free(&h);
		return 0;
	}
	pmu_event_list(root, &h, events, sizeof(events));
	if (!events[0])
		run_error("host pmu: the PMU lists none of the IOMMU events");
	fd = mkstemp(tmp);
	if (fd < 0)
		run_error("host pmu: %s: %s", tmp, strerror(errno));
	close(fd);
	pargv[k++] = (char *)perf;
	pargv[k++] = "stat";
	pargv[k++] = "-x,";
	pargv[k++] = "-a";
	pargv[k++] = "-o";
	pargv[k++] = tmp;
	pargv[k++] = "-e";
	pargv[k++] = events;
	pargv[k++] = "--";
	for (int i = first; i < argc && k < 64 + 7; i++)
		pargv[k++] = argv[i];
	pargv[k] = NULL;
	host_ctx_init(&ctx, argc, argv);
	ctx.outdir = out;
	st = run_child(pargv);
	if (st == 127)
		run_error("host pmu: %s could not run (Debian: apt-get install linux-perf)", perf);
	if (textfile_read(tmp, 1 << 20, "perf output", &text, err, sizeof(err)))
		run_error("host pmu: %s", err);
	remove(tmp);
	pmu_report(text, &ctx);
	iob_free(text);
	hostinfo_free(&h);
	if (st)
		run_error("host pmu: perf stat exited with status %d", st);
	return 0;
}

int host_trace_main(int argc, char **argv)
{
	if (!strcmp(argv[0], "phases"))
		return cmd_phases(argc, argv);
	return cmd_pmu(argc, argv);
}
