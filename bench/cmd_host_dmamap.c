// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob host dmamap: Linux's dma_map_benchmark on the running kernel, through
 * the project's dmabench module (guest-workloads/qemu/dmabench), built
 * against this kernel's headers (or given with --module), borrowing the
 * struct device of a PCI function its own driver keeps: the DMA API, the
 * IOMMU domain and the invalidations are exactly that driver's. Same flags
 * and the same summary lines as iob dmamap on the model, so one command
 * line runs on both and the outputs compare line by line; where kprobes
 * exist, the commands the AMD driver queued per map/unmap pair too.
 */
#include <elf.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <iob/alloc.h>
#include <iob/amdvi.h>
#include <iob/csv.h>
#include <iob/cycles.h>
#include <iob/hostinfo.h>
#include <iob/proc.h>
#include <iob/textfile.h>

#include "bench.h"
#include "dmamap.h"
#include "host_cmds.h"
#include "phases.h"
#include "qemu.h"
#include "util.h"

#ifndef IOB_DMABENCH_SRC
#define IOB_DMABENCH_SRC ""
#endif

static const char dmamap_usage[] =
	"usage: iob host dmamap --device BDF [-t THREADS] [-s SECONDS] [-n NODE] [-b BITS]\n"
	"                       [-d DIR] [-x DELAY_NS] [-g GRANULE] [--ms N]\n"
	"                       [--api single|sg|both] [--module FILE] [--out DIR]\n"
	"\n"
	"Linux's dma_map_benchmark on this kernel, with iob dmamap's flags and output\n"
	"(the kernel tool's two summary lines, then percentiles and commands): the\n"
	"dmabench module maps and unmaps through the DMA API of DEVICE, which stays\n"
	"bound to its own driver (the device is never handed a buffer). The module is\n"
	"built against /lib/modules/$(uname -r)/build unless --module names one.\n"
	"Writes host_dmamap.csv into --out.\n";

struct hdm_opts {
	struct dm_opts dm;
	const char *bdf, *module, *api, *out;
};

/*
 * Is @path a loadable x86-64 kernel module? A .ko is an ELF64 relocatable
 * object for the running machine with a ".gnu.linkonce.this_module"
 * section (the struct module that modpost adds; Linux's load_module()
 * refuses a file without it). Anything else failed late in insmod, exit 1,
 * after the results folder was made. NULL when it is one, else what is wrong.
 */
static const char *not_a_module(const char *path)
{
	static const char want[] = ".gnu.linkonce.this_module";
	FILE *f = fopen(path, "rb");
	const char *why = NULL;
	Elf64_Ehdr eh;
	Elf64_Shdr sh, str;
	char name[sizeof(want)];
	bool scan = false;

	if (!f)
		return "cannot be read";
	if (fread(&eh, sizeof(eh), 1, f) != 1 || memcmp(eh.e_ident, ELFMAG, SELFMAG))
		why = "no ELF header";
	else if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
		 eh.e_machine != EM_X86_64)
		why = "not an x86-64 ELF file";
	else if (eh.e_type != ET_REL)
		why = "an ELF file, but not a relocatable object (a program or a library?)";
	else if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shstrndx >= eh.e_shnum ||
		 fseeko(f, (off_t)(eh.e_shoff + (uint64_t)eh.e_shstrndx * sizeof(sh)), SEEK_SET) ||
		 fread(&str, sizeof(str), 1, f) != 1)
		why = "an ELF object with a broken section table";
	else
		scan = true;
	for (unsigned i = 0; scan && i < eh.e_shnum; i++) {
		if (fseeko(f, (off_t)(eh.e_shoff + (uint64_t)i * sizeof(sh)), SEEK_SET) ||
		    fread(&sh, sizeof(sh), 1, f) != 1)
			break;
		if (sh.sh_name >= str.sh_size ||
		    fseeko(f, (off_t)(str.sh_offset + sh.sh_name), SEEK_SET) ||
		    fread(name, 1, sizeof(name), f) != sizeof(name))
			continue;
		if (!memcmp(name, want, sizeof(want)))
			scan = false;
	}
	if (scan)
		why = "an ELF object without .gnu.linkonce.this_module (not built as a module)";
	fclose(f);
	return why;
}

static void parse(int argc, char **argv, struct hdm_opts *o)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'D' }, { "module", required_argument, NULL, 'K' },
		{ "api", required_argument, NULL, 'A' }, { "out", required_argument, NULL, 'o' },
		{ "ms", required_argument, NULL, 'm' }, { "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	*o = (struct hdm_opts){ .dm = DM_OPTS_LINUX, .api = "single" };
	optind = 0;
	while ((c = getopt_long(argc, argv, DMAMAP_KERNEL_FLAGS "h", opts, NULL)) != -1) {
		if (dmamap_kernel_flag(c, optarg, &o->dm))
			continue;
		switch (c) {
		case 'D': o->bdf = optarg; break;
		case 'K':
			if (!proc_is_file(optarg))
				usage_error("--module: %s is not a file", optarg);
			if (not_a_module(optarg))
				usage_error("--module: %s is not a kernel module: %s", optarg,
					    not_a_module(optarg));
			o->module = optarg;
			break;
		case 'A':
			if (strcmp(optarg, "single") && strcmp(optarg, "sg") && strcmp(optarg, "both"))
				usage_error("--api: '%s' is not single, sg or both", optarg);
			o->api = optarg;
			break;
		case 'o': o->out = optarg; break;
		case 'h': fputs(dmamap_usage, stdout); exit(0);
		default: usage_error("host dmamap: bad option (see `iob host dmamap --help`)");
		}
	}
	if (optind < argc)
		usage_error("host dmamap: unexpected argument '%s'", argv[optind]);
	if (!o->bdf)
		usage_error("host dmamap: --device BDF is required");
	if (!hostinfo_bdf_valid(o->bdf))
		usage_error("--device: '%s' is not a PCI address DDDD:BB:DD.F (lower-case hex)", o->bdf);

}

/* The module, built in @dir against this kernel's headers. */
static void build_module(char *dir, size_t len, char *ko, size_t kolen)
{
	char kb[512], src[1024], log[1100];
	struct utsname u;
	int st;

	if (uname(&u))
		run_error("host dmamap: uname: %s", strerror(errno));
	snprintf(kb, sizeof(kb), "/lib/modules/%s/build", u.release);
	if (access(kb, F_OK))
		run_error("host dmamap: %s is missing: install this kernel's headers "
			  "(Debian: linux-headers-%s), or give --module", kb, u.release);
	if (!*IOB_DMABENCH_SRC)
		run_error("host dmamap: this iob knows no dmabench source; give --module");
	snprintf(dir, len, "%s/iob-dmabench-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		run_error("host dmamap: %s: %s", dir, strerror(errno));
	for (int i = 0; i < 2; i++) {
		snprintf(src, sizeof(src), "%s/%s", IOB_DMABENCH_SRC, i ? "Kbuild" : "dmabench.c");
		char *cp[] = { "cp", src, dir, NULL };

		if (proc_run(cp, NULL, false))
			run_error("host dmamap: cannot copy %s", src);
	}
	snprintf(src, sizeof(src), "M=%s", dir);
	snprintf(log, sizeof(log), "%s/build.log", dir);
	{
		char *mk[] = { "make", "-s", "-C", kb, src, "modules", NULL };

		st = proc_run(mk, log, false);
	}
	if (st)
		run_error("host dmamap: the module did not build (%s)", log);
	snprintf(ko, kolen, "%s/dmabench.ko", dir);
}

/* This run's IOB-DMAMAP lines from the kernel log, after its START line. */
static size_t read_lines(const char *bdf, struct qcon_rec *rec, size_t max)
{
	char tmp[] = "/tmp/iob-dmesg-XXXXXX", start[64], err[256], *text, *from;
	char *dm[] = { "dmesg", NULL };
	size_t n = 0;
	int fd = mkstemp(tmp);

	if (fd < 0)
		run_error("host dmamap: %s: %s", tmp, strerror(errno));
	close(fd);
	if (proc_run(dm, tmp, true))
		run_error("host dmamap: dmesg failed (are you root?)");
	if (textfile_read(tmp, 64 << 20, "the kernel log", &text, err, sizeof(err)))
		run_error("host dmamap: %s", err);
	remove(tmp);
	snprintf(start, sizeof(start), "IOB-DMAMAP-START dev=%s", bdf);
	from = text;
	for (char *p = text; (p = strstr(p, start)); p++)
		from = p;
	for (char *p = from; (p = strstr(p, "IOB-DMAMAP ")) && n < max; p++) {
		char line[2048];
		size_t l = strcspn(p, "\n");

		/* The console reader wants an id, which init.sh adds in the guest's runs. */
		snprintf(line, sizeof(line), "IOB-DMAMAP id=host %.*s",
			 (int)(l - 11 < sizeof(line) - 32 ? l - 11 : sizeof(line) - 32), p + 11);
		if (qcon_parse_line(line, &rec[n], err, sizeof(err)) == 0)
			n++;
	}
	iob_free(text);
	return n;
}

static uint64_t u64(const struct qcon_rec *r, const char *k)
{
	uint64_t v;

	if (qcon_get_u64(r, k, &v))
		run_error("host dmamap: the module's line has no %s", k);
	return v;
}

/* One module load: its lines, and the commands the driver queued meanwhile. */
static size_t run_module(const struct hdm_opts *o, const char *ko, const char *api,
			 const char *tracefs, struct qcon_rec *rec, size_t max, uint64_t *cmds)
{
	char a[16][64];
	char *ins[20], *rm[] = { "rmmod", "dmabench", NULL };
	struct phases_result *pr = NULL;
	struct phases *ph = NULL;
	char err[512];
	int k = 0, st;

	ins[k++] = "insmod";
	ins[k++] = (char *)ko;
	snprintf(a[0], 64, "dev=%s", o->bdf);
	snprintf(a[1], 64, "threads=%d", o->dm.threads);
	snprintf(a[2], 64, "ms=%llu", (unsigned long long)(o->dm.run_ms ? o->dm.run_ms :
							   (uint64_t)o->dm.seconds * 1000));
	snprintf(a[3], 64, "node=%d", o->dm.node);
	snprintf(a[4], 64, "bits=%d", o->dm.bits);
	snprintf(a[5], 64, "dir=%d", o->dm.dir);
	snprintf(a[6], 64, "delay_ns=%ld", o->dm.xdelay);
	snprintf(a[7], 64, "granule=%d", o->dm.granule);
	snprintf(a[8], 64, "api=%s", api);
	for (int i = 0; i < 9; i++)
		ins[k++] = a[i];
	ins[k] = NULL;
	if (tracefs && phases_start(tracefs, PHASES_CMDS, cycles_info()->tsc_khz, &ph, err,
				    sizeof(err)))
		ph = NULL;
	st = proc_run(ins, NULL, false);
	if (ph) {
		pr = iob_calloc(1, sizeof(*pr));
		if (!pr)
			run_error("out of memory");
		phases_stop(ph, pr);
		for (unsigned i = 0; i < PHASES_OPCODES; i++)
			cmds[i] = pr->cmds_probed ? pr->cmds[i] : 0;
		iob_free(pr);
	}
	if (st)
		run_error("host dmamap: insmod %s failed (%d; the kernel log says why)", ko, st);
	k = (int)read_lines(o->bdf, rec, max);
	if (proc_run(rm, NULL, false))
		run_error("host dmamap: rmmod dmabench failed");
	return (size_t)k;
}

static void report(const struct hdm_opts *o, const struct hostinfo_pci *pci,
		   const struct qcon_rec *rec, size_t n, const uint64_t *cmds, bool counted,
		   struct csv *csv)
{
	const struct qcon_rec *op[2] = { NULL, NULL };
	uint64_t loops;

	for (size_t i = 0; i < n; i++)
		op[!strcmp(qcon_get(&rec[i], "op"), "unmap")] = &rec[i];
	if (!op[0] || !op[1])
		run_error("host dmamap: the module printed no map and unmap lines");
	loops = u64(op[0], "loops");
	printf("dma mapping benchmark: threads:%d seconds:%d node:%d dir:%s granule: %d\n",
	       o->dm.threads, o->dm.seconds, o->dm.node, dmamap_dir_names[o->dm.dir], o->dm.granule);
	if (o->dm.run_ms)
		printf("# ran %llu ms (--ms), not the %d s of -s\n",
		       (unsigned long long)o->dm.run_ms, o->dm.seconds);
	for (int k = 0; k < 2; k++)
		printf("average %s latency(us):%.1f standard deviation:%.1f\n", k ? "unmap" : "map",
		       (double)u64(op[k], "avg_100ns") / 10.0, (double)u64(op[k], "stddev_100ns") / 10.0);
	printf("# kernel: %s via %s (IOMMU group %d), api %s, %llu map/unmap pairs\n", o->bdf,
	       pci->driver, pci->group, qcon_get(op[0], "api"), (unsigned long long)loops);
	printf("# %-6s %9s %9s %9s %9s %9s %9s  (ns)\n", "op", "mean", "p50", "p90", "p99",
	       "p99.9", "max");
	for (int k = 0; k < 2; k++) {
		double khz = (double)u64(op[k], "tsc_khz"), c2ns = khz ? 1e6 / khz : 0;

		printf("# %-6s %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n", k ? "unmap" : "map",
		       (double)u64(op[k], "mean_cyc") * c2ns, (double)u64(op[k], "p50_cyc") * c2ns,
		       (double)u64(op[k], "p90_cyc") * c2ns, (double)u64(op[k], "p99_cyc") * c2ns,
		       (double)u64(op[k], "p999_cyc") * c2ns, (double)u64(op[k], "max_cyc") * c2ns);
		if (csv)
			csv_row(csv, "%s,%s,%s,%d,%d,%ld,%d,%llu,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,"
				"%.1f,%.3f,%.3f",
				k ? "unmap" : "map", qcon_get(op[k], "api"), pci->driver, o->dm.threads,
				o->dm.granule, o->dm.xdelay, o->dm.dir, (unsigned long long)loops,
				(double)u64(op[k], "mean_cyc") * c2ns, (double)u64(op[k], "min_cyc") * c2ns,
				(double)u64(op[k], "p50_cyc") * c2ns, (double)u64(op[k], "p90_cyc") * c2ns,
				(double)u64(op[k], "p99_cyc") * c2ns, (double)u64(op[k], "p999_cyc") * c2ns,
				(double)u64(op[k], "max_cyc") * c2ns,
				(double)u64(op[k], "avg_100ns") / 10.0,
				(double)u64(op[k], "stddev_100ns") / 10.0,
				counted && loops ? (double)cmds[AMDVI_CMD_INVALIDATE_IOMMU_PAGES] / (double)loops : -1,
				counted && loops ? (double)cmds[AMDVI_CMD_COMPLETION_WAIT] / (double)loops : -1);
	}
	if (counted && loops)
		printf("# invalidation commands per unmap %.2f, completion waits per unmap %.2f "
		       "(the kernel's, counted by kprobe)\n",
		       (double)cmds[AMDVI_CMD_INVALIDATE_IOMMU_PAGES] / (double)loops,
		       (double)cmds[AMDVI_CMD_COMPLETION_WAIT] / (double)loops);
}

int host_dmamap_main(int argc, char **argv)
{
	struct hdm_opts o;
	struct hostinfo_pci pci;
	struct hostinfo h;
	struct bench_ctx ctx;
	struct csv *csv = NULL;
	static struct qcon_rec rec[8];
	char dir[512] = "", ko[600];
	const char *apis[2] = { NULL, NULL };
	uint64_t cmds[PHASES_OPCODES] = { 0 };

	parse(argc, argv, &o);
	if (hostinfo_pci_read("", o.bdf, &pci) || !pci.exists)
		usage_error("--device: no PCI function %s", o.bdf);
	if (!pci.driver[0] || !strcmp(pci.driver, "vfio-pci"))
		usage_error("--device: %s must stay bound to its own driver (it has %s): dmabench "
			    "borrows that driver's DMA API", o.bdf, pci.driver[0] ? pci.driver : "none");
	host_info_scan_or_die("", &h);
	/* Only once every input is checked: a refused run leaves no folder behind. */
	if (o.out && mkdir(o.out, 0777) && errno != EEXIST)
		usage_error("--out: cannot create %s: %s", o.out, strerror(errno));
	if (o.module)
		snprintf(ko, sizeof(ko), "%s", o.module);
	else
		build_module(dir, sizeof(dir), ko, sizeof(ko));
	host_ctx_init(&ctx, argc, argv);
	ctx.outdir = o.out;
	csv = bench_csv(&ctx, "host_dmamap.csv");
	if (csv)
		csv_header(csv, "op,api,driver,threads,granule_pages,delay_ns,dir,loops,mean_ns,min_ns,"
				"p50_ns,p90_ns,p99_ns,p999_ns,max_ns,kernel_avg_us,kernel_stddev_us,"
				"inv_cmds_per_pair,completion_waits_per_pair");
	apis[0] = !strcmp(o.api, "sg") ? "sg" : "single";
	if (!strcmp(o.api, "both"))
		apis[1] = "sg";
	for (int i = 0; i < 2 && apis[i]; i++) {
		size_t n = run_module(&o, ko, apis[i], h.kprobes ? h.tracefs : NULL, rec, 8, cmds);

		report(&o, &pci, rec, n, cmds, h.kprobes, csv);
	}
	bench_csv_close(csv);
	hostinfo_free(&h);
	if (dir[0]) {
		char *rm[] = { "rm", "-rf", "--", dir, NULL };

		proc_run(rm, NULL, true);
	}
	return 0;
}
