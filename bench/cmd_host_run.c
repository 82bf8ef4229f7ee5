// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob host run: everything iob host can measure on this machine, into one
 * run folder (RESULTS/<date>_<host>_<cpu>_host): what the kernel found
 * (host_info.json); VFIO map/unmap per call with the commands counted
 * (host_vfio.csv, host_vfio_paths.csv; with an NVMe device, the DMA
 * check); the kernel's IOMMU phases while a shorter VFIO run goes
 * (host_phases.csv, host_commands.csv); the AMD IOMMU PMU where the host
 * has it (host_pmu.csv); on an NVMe controller or a PTDMA engine, the
 * IOTLB's reach from the device side (host_reach*.csv, iob host reach);
 * the cost model fitted (host_cost.conf,
 * host_calibration.csv, host_fidelity.csv); and the plots.
 *
 * Each step is this same program run as a child, so a step fails alone
 * and the device is given back by the step that took it.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <iob/hostinfo.h>
#include <iob/proc.h>

#include "bench.h"
#include "host_cmds.h"
#include "plot.h"
#include "session.h"
#include "util.h"

static const char run_usage[] =
	"usage: iob host run --device BDF [--bind] [--results DIR] [--label NAME] [--quick]\n"
	"                    [--mark-mmio] [--stamped] [--reach-quick] [--module FILE] [--no-plot]\n"
	"\n"
	"Everything iob host can measure here, into RESULTS/<date>_<host>_<cpu>_LABEL\n"
	"(results, host): info, vfio (and the DMA check on an NVMe device), phases,\n"
	"reach (an NVMe controller or PTDMA), pmu, calibrate, plots. Steps this host\n"
	"cannot do say why and are left out.\n"
	"  --bind       give the device to vfio-pci for the run (given back after)\n"
	"  --quick      fewer cases and rounds (4K and 2M, 1..256 pages, 10 rounds)\n"
	"  --mark-mmio  mark the counted windows for an emulator's trace (iob host vfio,\n"
	"               iob host reach)\n"
	"  --stamped    the NVMe's disk carries iob host reach's stamps (its --stamped)\n"
	"  --reach-quick  iob host reach's --quick cases even without --quick (an emulator)\n"
	"  --module     a dmabench.ko for iob host dmamap (else built against this kernel)\n"
	"Exit status: 0 ok, 1 a step failed, 2 bad usage or a refused device.\n";

struct run_opts {
	const char *bdf, *results, *label, *module;
	bool bind, quick, reach_quick, mark_mmio, stamped, plot;
};

static void parse(int argc, char **argv, struct run_opts *o)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'D' }, { "bind", no_argument, NULL, 'B' },
		{ "results", required_argument, NULL, 'r' }, { "label", required_argument, NULL, 'l' },
		{ "quick", no_argument, NULL, 'q' }, { "mark-mmio", no_argument, NULL, 'M' },
		{ "no-plot", no_argument, NULL, 'n' }, { "help", no_argument, NULL, 'h' },
		{ "module", required_argument, NULL, 'K' }, { "stamped", no_argument, NULL, 'T' },
		{ "reach-quick", no_argument, NULL, 'R' },
		{ 0 }
	};
	int c;

	*o = (struct run_opts){ .results = "results", .label = "host", .plot = true };
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'D': o->bdf = optarg; break;
		case 'B': o->bind = true; break;
		case 'r': o->results = optarg; break;
		case 'l': o->label = optarg; break;
		case 'q': o->quick = true; break;
		case 'M': o->mark_mmio = true; break;
		case 'T': o->stamped = true; break;
		case 'R': o->reach_quick = true; break;
		case 'n': o->plot = false; break;
		case 'K':
			if (!proc_is_file(optarg))
				usage_error("--module: %s is not a file", optarg);
			o->module = optarg;
			break;
		case 'h': fputs(run_usage, stdout); exit(0);
		default: usage_error("host run: bad option (see `iob host run --help`)");
		}
	}
	if (optind < argc)
		usage_error("host run: unexpected argument '%s'", argv[optind]);
	if (!o->bdf)
		usage_error("host run: --device BDF is required");
	if (!hostinfo_bdf_valid(o->bdf))
		usage_error("--device: '%s' is not a PCI address DDDD:BB:DD.F (lower-case hex)", o->bdf);
	for (const char *s = o->label; *s; s++)
		if (!(*s == '.' || *s == '_' || *s == '-' || (*s >= '0' && *s <= '9') ||
		      (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			usage_error("--label: '%s' may hold only letters, digits, '.', '_', '-'", o->label);
	if (!*o->label || strlen(o->label) > 64)
		usage_error("--label: 1 to 64 characters");
}

/* argv of a step: this program, then the words given, NULL-terminated. */
struct step {
	char *v[48];
	int n;
};

static void step_add(struct step *s, const char *w)
{
	if (s->n == 47)
		run_error("host run: a step's command line is too long");
	s->v[s->n++] = (char *)w;
	s->v[s->n] = NULL;
}

/* The VFIO run the phases and PMU steps watch: short, one size, contiguous. */
static void watched_vfio(struct step *s, const struct run_opts *o)
{
	step_add(s, "/proc/self/exe");
	step_add(s, "host");
	step_add(s, "vfio");
	step_add(s, "--device");
	step_add(s, o->bdf);
	if (o->bind)
		step_add(s, "--bind");
	step_add(s, "--no-cmds");
	step_add(s, "--sizes");
	step_add(s, "4K");
	step_add(s, "--counts");
	step_add(s, "1,16,256");
	step_add(s, "--layout");
	step_add(s, "contig");
	step_add(s, "--rounds");
	step_add(s, "10");
}

static void run_step(const char *what, struct step *s)
{
	int st;

	fprintf(stderr, "iob host run: %s\n", what);
	fflush(stdout);
	st = proc_run(s->v, NULL, false);
	if (st < 0)
		run_error("host run: %s: %s", what, strerror(-st));
	if (st)
		run_error("host run: %s failed (exit %d)", what, st);
}

/* A step that takes the device: `iob host SUB --device BDF --out DIR [--bind] [--mark-mmio]`. */
static void device_step(struct step *s, const struct run_opts *o, const char *sub, const char *dir)
{
	step_add(s, "/proc/self/exe");
	step_add(s, "host");
	step_add(s, sub);
	step_add(s, "--device");
	step_add(s, o->bdf);
	step_add(s, "--out");
	step_add(s, dir);
	if (o->bind)
		step_add(s, "--bind");
	if (o->mark_mmio)
		step_add(s, "--mark-mmio");
}

static void do_vfio(const struct run_opts *o, const char *dir, const struct hostinfo_pci *pci)
{
	struct step s = { .n = 0 };

	device_step(&s, o, "vfio", dir);
	if (pci->class_code == 0x010802)
		step_add(&s, "--check-dma");
	if (o->quick) {
		step_add(&s, "--counts");
		step_add(&s, "1,16,256");
		step_add(&s, "--rounds");
		step_add(&s, "10");
	}
	run_step("vfio: map/unmap per call, commands counted", &s);
}

/* The IOTLB's reach from the device side. */
static void do_reach(const struct run_opts *o, const char *dir)
{
	struct step s = { .n = 0 };

	device_step(&s, o, "reach", dir);
	if (o->stamped)
		step_add(&s, "--stamped");
	if (o->quick || o->reach_quick)
		step_add(&s, "--quick");
	run_step("reach: the IOTLB's reach from the device side", &s);
}

static void do_watched(const struct run_opts *o, const char *dir, const char *sub)
{
	struct step s = { .n = 0 };

	step_add(&s, "/proc/self/exe");
	step_add(&s, "host");
	step_add(&s, sub);
	step_add(&s, "--out");
	step_add(&s, dir);
	step_add(&s, "--");
	watched_vfio(&s, o);
	run_step(!strcmp(sub, "phases") ? "phases: the kernel's IOMMU functions under kprobes" :
					  "pmu: the AMD IOMMU's counters", &s);
}

/* dma_map_benchmark through the device's own driver (it has it back after vfio). */
static void do_dmamap(const struct run_opts *o, const char *dir)
{
	struct step s = { .n = 0 };

	step_add(&s, "/proc/self/exe");
	step_add(&s, "host");
	step_add(&s, "dmamap");
	step_add(&s, "--device");
	step_add(&s, o->bdf);
	step_add(&s, "--out");
	step_add(&s, dir);
	step_add(&s, "--ms");
	step_add(&s, o->quick ? "500" : "2000");
	step_add(&s, "--api");
	step_add(&s, "both");
	if (o->module) {
		step_add(&s, "--module");
		step_add(&s, o->module);
	}
	run_step("dmamap: dma_map_benchmark through the device's driver", &s);
}

/* Why dmamap cannot run here, or NULL. */
static const char *no_dmamap(const struct run_opts *o, const struct hostinfo_pci *pci)
{
	static char why[256];
	struct utsname u;

	if (!pci->driver[0] || !strcmp(pci->driver, "vfio-pci"))
		return "the device has no driver of its own to borrow the DMA API of";
	if (o->module)
		return NULL;
	if (uname(&u))
		return "uname failed";
	snprintf(why, sizeof(why), "/lib/modules/%s/build", u.release);
	if (access(why, F_OK)) {
		snprintf(why, sizeof(why), "no kernel headers to build dmabench "
			 "(linux-headers-%s) and no --module", u.release);
		return why;
	}
	return NULL;
}

static void do_calibrate(const char *dir)
{
	struct step s = { .n = 0 };

	step_add(&s, "/proc/self/exe");
	step_add(&s, "host");
	step_add(&s, "calibrate");
	step_add(&s, dir);
	run_step("calibrate: the cost model fitted", &s);
}

/* The files the steps wrote, listed in meta.json (host_info.json is already). */
static void list_files(struct session *s)
{
	struct dirent *de;
	DIR *d = opendir(session_dir(s));

	if (!d)
		run_error("%s: %s", session_dir(s), strerror(errno));
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && strcmp(de->d_name, "host_info.json") &&
		    strcmp(de->d_name, "meta.json"))
			session_add_file(s, de->d_name);
	closedir(d);
}

/* What was left out, and why, in meta.json and on the terminal. */
static void skipped(json_t *meta, const char *step, const char *why)
{
	json_t *s = json_object_get(meta, "skipped");

	if (!s) {
		s = json_object();
		json_object_set_new(meta, "skipped", s);
	}
	json_object_set_new(s, step, json_string(why));
	fprintf(stderr, "iob host run: %s left out: %s\n", step, why);
}

int host_run_main(int argc, char **argv)
{
	struct run_opts o;
	struct hostinfo h;
	struct hostinfo_pci pci;
	struct session *s;
	char path[4400], final[4400];
	json_t *meta, *info;

	parse(argc, argv, &o);
	host_check_device(o.bdf, o.bind, &pci);
	host_info_scan_or_die("", &h);
	s = session_create(&(struct session_cfg){ .root = o.results, .label = o.label,
		.family = "host", .argc = argc + 1, .argv = argv - 1, .seed = 1,
		.on_signal = SESSION_SIGNAL_REMOVE });
	meta = session_meta(s);
	info = host_info_json(&h);
	snprintf(path, sizeof(path), "%s/host_info.json", session_dir(s));
	host_json_write(info, path);
	json_decref(info);
	session_add_file(s, "host_info.json");
	json_object_set_new(meta, "device", json_string(o.bdf));
	json_object_set_new(meta, "device_driver", json_string(pci.driver));
	do_vfio(&o, session_dir(s), &pci);
	if (pci.class_code == 0x010802 || (pci.vendor_id == 0x1022 && pci.device_id == 0x1498))
		do_reach(&o, session_dir(s));
	else
		skipped(meta, "reach", "the device is neither an NVMe controller nor AMD's PTDMA");
	if (!no_dmamap(&o, &pci))
		do_dmamap(&o, session_dir(s));
	else
		skipped(meta, "dmamap", no_dmamap(&o, &pci));
	if (h.kprobes)
		do_watched(&o, session_dir(s), "phases");
	else
		skipped(meta, "phases", "no kprobe_events in tracefs");
	if (h.npmu)
		do_watched(&o, session_dir(s), "pmu");
	else
		skipped(meta, "pmu", "no AMD IOMMU PMU (/sys/bus/event_source/devices/amd_iommu_*)");
	if (h.kprobes)
		do_calibrate(session_dir(s));
	else
		skipped(meta, "calibrate", "needs the command count (kprobes)");
	hostinfo_free(&h);
	list_files(s);
	session_finish(s);
	if (o.plot && cmd_plot_dir(session_dir(s), true))
		fprintf(stderr, "iob host run: plotting failed (is gnuplot installed?); the CSVs "
			"are complete\n");
	session_commit(s, final, sizeof(final));
	printf("%s\n", final);
	return 0;
}
