// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob qemu: a real Linux guest (Debian's kernel, unmodified AMD IOMMU
 * driver) behind QEMU's emulated AMD IOMMU (or Intel's, to compare).
 *
 *   iob qemu build               build the guest (guest-workloads/qemu/build-guest.sh)
 *   iob qemu run [options]       boot it per IOMMU x device x mode, run the
 *                                workloads, write a run folder
 *   iob qemu fidelity RUN_DIR    the model replaying each captured trace,
 *                                against QEMU's counts (fidelity.csv)
 *   iob qemu fidelity --trace F  the model's counts for any trace (both formats)
 *
 * One boot per configuration. The guest's /init (init.sh) prints IOB- lines
 * on the serial console, which this process reads through a pipe: around
 * each workload the guest prints "IOB-MARK begin" and waits for a line on
 * the console; this side stamps the host clock and answers, and stamps
 * again at "IOB-MARK end". QEMU's trace log (-msg timestamp=on) is cut
 * into those windows, so every count belongs to one workload. A guest
 * that does not finish in --timeout seconds is killed and the run fails;
 * the folder then stays hidden (.tmp-*), with its console log, and is
 * never renamed into place.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <iob/host.h>
#include <iob/results.h>
#include <iob/trace.h>

#include "iob.h"
#include "plot.h"
#include "qemu.h"
#include "util.h"

#ifndef IOB_QEMU_IODIRECT
#define IOB_QEMU_IODIRECT ""
#endif
#ifndef IOB_QEMU_CACHE
#define IOB_QEMU_CACHE ""
#endif

static const char qemu_usage[] =
	"usage: iob qemu build [--force]\n"
	"       iob qemu run [--mode LIST] [--device LIST] [--iommu LIST] [--workload LIST]\n"
	"                    [--points LIST] [--ios N] [--ms MS] [--dmamap ARGS]\n"
	"                    [--accel auto|kvm|tcg] [--smp N] [--mem MIB] [--timeout S]\n"
	"                    [--results DIR] [--label NAME] [--no-trace] [--no-plot] [--keep-going]\n"
	"       iob qemu fidelity RUN_DIR\n"
	"       iob qemu fidelity --trace FILE [--mode strict|lazy] [--ios N] [--no-np-cache]\n"
	"\n"
	"A Debian guest behind QEMU's emulated IOMMU; docs/qemu.md says what is measured.\n"
	"run options (lists are comma-separated):\n"
	"  --mode      strict, lazy (DMA-FQ set at run time), passthrough, noiommu\n"
	"              (default strict,lazy,passthrough,noiommu)\n"
	"  --device    virtio (virtio-blk, iommu_platform=on), nvme (default virtio,nvme)\n"
	"  --iommu     amd, intel (default amd)\n"
	"  --workload  io (O_DIRECT points), dmamap (the dmabench module) (default io,dmamap)\n"
	"  --points    OP:SIZE:QD, OP read or write, SIZE 4K..4M, QD 1..256\n"
	"              (default read:4K:1,read:4K:32,read:64K:1,read:64K:8,read:1M:4,\n"
	"               write:4K:1,write:64K:8)\n"
	"  --ios N     I/Os per point (default 2000), at most --ms milliseconds (default 3000)\n"
	"  --dmamap A  iob dmamap's flags for the module: -t -s -n -b -d -x -g, and --ms\n"
	"              (default \"--ms 1000\")\n"
	"  --accel     auto (KVM if it runs a guest, else TCG), kvm, tcg (default auto)\n"
	"  --smp N --mem MIB   guest CPUs (default 1) and memory (default 1024)\n"
	"  --timeout S per boot; the guest is killed after it (default: from the points)\n"
	"  --results DIR --label NAME   run folder DIR/<date>_<host>_<cpu>_NAME (results, qemu)\n"
	"  --no-trace  do not capture the guest's iommu:map/unmap events\n"
	"  --keep-going  a failed boot is recorded in qemu_runs.csv; the rest go on\n"
	"Exit status: 0 ok, 1 a boot or step failed, 2 bad usage.\n";

enum qmode { M_STRICT, M_LAZY, M_PASSTHROUGH, M_NOIOMMU, M_NR };
enum qdev { D_VIRTIO, D_NVME, D_NR };
enum qiommu { I_AMD, I_INTEL, I_NR };

static const char *const mode_names[M_NR] = { "strict", "lazy", "passthrough", "noiommu" };
static const char *const dev_names[D_NR] = { "virtio", "nvme" };
static const char *const iommu_names[I_NR] = { "amd", "intel" };

#define MAX_POINTS 32

struct qpoint {
	bool write;
	uint64_t bs;
	unsigned qd;
};

struct qopts {
	bool mode[M_NR], dev[D_NR], iommu[I_NR];
	bool io, dmamap, trace, plot, keep_going;
	struct qpoint pt[MAX_POINTS];
	unsigned npt;
	uint64_t ios, ms, timeout_s;
	unsigned smp, mem_mib;
	const char *accel;
	const char *results, *label;
	/* dmabench parameters, as iob dmamap's flags */
	int dm_threads, dm_node, dm_bits, dm_dir, dm_granule;
	long dm_delay_ns, dm_ms;
};

/* ---- small helpers ------------------------------------------------------------------ */

/* SIGINT, SIGTERM, SIGHUP: QEMU is killed, the partial folder removed. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* The tmpfs scratch folder (disk images: 1.5 GiB) goes on every exit, errors included. */
static char scratch_for_exit[4200];

static void remove_scratch(void)
{
	char *argv[] = { "rm", "-rf", "--", scratch_for_exit, NULL };
	pid_t pid;

	if (!scratch_for_exit[0])
		return;
	pid = fork();
	if (!pid) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	scratch_for_exit[0] = '\0';
}

static uint64_t wall_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000ULL + (uint64_t)tv.tv_usec;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		size_t got;

		if (cap - n < 65536) {
			char *nb = realloc(buf, cap ? 2 * cap : 1 << 20);

			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap = cap ? 2 * cap : 1 << 20;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (!got)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* ---- option parsing ------------------------------------------------------------------- */

static void parse_list(const char *arg, const char *what, const char *const *names, unsigned n,
		       bool *out)
{
	char *dup = strdup(arg), *tok, *save = NULL;

	memset(out, 0, n * sizeof(*out));
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned i;

		for (i = 0; i < n && strcmp(names[i], tok); i++)
			;
		if (i == n)
			usage_error("%s: unknown value '%s'", what, tok);
		out[i] = true;
	}
	free(dup);
	for (unsigned i = 0; i < n; i++)
		if (out[i])
			return;
	usage_error("%s: empty list", what);
}

static void parse_points(const char *arg, struct qopts *o)
{
	char *dup = strdup(arg), *tok, *save = NULL;

	o->npt = 0;
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *c1 = strchr(tok, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		struct qpoint *p = &o->pt[o->npt];
		uint64_t bs, qd;

		if (o->npt == MAX_POINTS)
			usage_error("--points: more than %d points", MAX_POINTS);
		if (!c1 || !c2)
			usage_error("--points: '%s' is not OP:SIZE:QD (e.g. read:4K:1)", tok);
		*c1 = *c2 = '\0';
		if (!strcmp(tok, "read"))
			p->write = false;
		else if (!strcmp(tok, "write"))
			p->write = true;
		else
			usage_error("--points: operation '%s' is not read or write", tok);
		if (try_parse_size(c1 + 1, &bs) || bs < 4096 || bs > (4 << 20) || bs % 4096)
			usage_error("--points: size '%s' is not a multiple of 4K in 4K..4M", c1 + 1);
		if (try_parse_u64(c2 + 1, &qd) || qd < 1 || qd > 256)
			usage_error("--points: queue depth '%s' is not in 1..256", c2 + 1);
		p->bs = bs;
		p->qd = (unsigned)qd;
		o->npt++;
	}
	free(dup);
	if (!o->npt)
		usage_error("--points: empty list");
}

static long dm_num(const char *flag, const char *v, long lo, long hi)
{
	char *end;
	long x;

	if (!v)
		usage_error("--dmamap: %s needs a value", flag);
	errno = 0;
	x = strtol(v, &end, 10);
	if (errno || *end || !*v || x < lo || x > hi)
		usage_error("--dmamap: %s %s is not in %ld..%ld", flag, v, lo, hi);
	return x;
}

/* iob dmamap's flags and limits (Linux's dma_map_benchmark). */
static void parse_dmamap(const char *arg, struct qopts *o)
{
	char *dup = strdup(arg), *tok, *save = NULL;

	for (tok = strtok_r(dup, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		char *v = strtok_r(NULL, " \t", &save);

		if (!strcmp(tok, "-t"))
			o->dm_threads = (int)dm_num(tok, v, 1, 1024);
		else if (!strcmp(tok, "-s"))
			o->dm_ms = dm_num(tok, v, 1, 300) * 1000;
		else if (!strcmp(tok, "--ms"))
			o->dm_ms = dm_num(tok, v, 1, 300000);
		else if (!strcmp(tok, "-n"))
			o->dm_node = (int)dm_num(tok, v, -1, 1023);
		else if (!strcmp(tok, "-b"))
			o->dm_bits = (int)dm_num(tok, v, 20, 64);
		else if (!strcmp(tok, "-d"))
			o->dm_dir = (int)dm_num(tok, v, 0, 2);
		else if (!strcmp(tok, "-x"))
			o->dm_delay_ns = dm_num(tok, v, 0, 10000000);
		else if (!strcmp(tok, "-g"))
			o->dm_granule = (int)dm_num(tok, v, 1, 1024);
		else
			usage_error("--dmamap: unknown flag '%s' (iob dmamap's -t -s -n -b -d -x -g, --ms)",
				    tok);
	}
	free(dup);
}

/* ---- the guest image ----------------------------------------------------------------- */

struct guest {
	char kver[128], kernel[1024], initrd[1024];
};

static const char *cache_dir(void)
{
	const char *e = getenv("IOB_QEMU_CACHE");

	return e && *e ? e : IOB_QEMU_CACHE;
}

static void guest_build(struct guest *g, bool force)
{
	char script[4200], out[4200], *text, *line, *save = NULL;
	const char *iodirect = getenv("IOB_QEMU_IODIRECT");
	char *argv[8];
	int n = 0, ret;

	if (!iodirect || !*iodirect)
		iodirect = IOB_QEMU_IODIRECT;
	if (!*iodirect || !*cache_dir())
		run_error("qemu: this iob was built without the guest program (a sanitizer build?); "
			  "use the default build");
	snprintf(script, sizeof(script), "%s/build-guest.sh", IOB_QEMU_GUEST_SRC);
	snprintf(out, sizeof(out), "%s/build.out", cache_dir());
	if (mkdir(cache_dir(), 0755) && errno != EEXIST)
		run_error("qemu: %s: %s", cache_dir(), strerror(errno));
	argv[n++] = "bash";
	argv[n++] = script;
	argv[n++] = "--out";
	argv[n++] = (char *)cache_dir();
	argv[n++] = "--iodirect";
	argv[n++] = (char *)iodirect;
	if (force)
		argv[n++] = "--force";
	argv[n] = NULL;
	ret = host_run(argv, out, false);
	if (ret == 2)
		usage_error("qemu: the guest cannot be built here (see above)");
	if (ret)
		run_error("qemu: building the guest failed (%s exited %d)", script, ret);
	text = slurp(out, NULL);
	if (!text)
		run_error("qemu: %s: cannot read", out);
	memset(g, 0, sizeof(*g));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "kver=", 5))
			snprintf(g->kver, sizeof(g->kver), "%s", line + 5);
		else if (!strncmp(line, "kernel=", 7))
			snprintf(g->kernel, sizeof(g->kernel), "%s", line + 7);
		else if (!strncmp(line, "initrd=", 7))
			snprintf(g->initrd, sizeof(g->initrd), "%s", line + 7);
	}
	free(text);
	if (!*g->kver || !host_is_file(g->kernel) || !host_is_file(g->initrd))
		run_error("qemu: build-guest.sh did not name a kernel and an initramfs");
}

/* ---- one boot ------------------------------------------------------------------------- */

/*
 * One argument of the recorded command line, with the working directory
 * taken off the paths under it: the log is committed with reference runs,
 * and this machine's checkout path has no place in the repository.
 */
static void print_rel(FILE *f, const char *arg)
{
	static char cwd[4096];
	size_t n;
	const char *hit;

	if (!*cwd && !getcwd(cwd, sizeof(cwd) - 1))
		cwd[0] = '\0';
	n = strlen(cwd);
	if (n > 1 && cwd[n - 1] != '/') {
		cwd[n++] = '/';
		cwd[n] = '\0';
	}
	fputc(' ', f);
	while (n > 1 && (hit = strstr(arg, cwd))) {
		fwrite(arg, 1, (size_t)(hit - arg), f);
		arg = hit + n;
	}
	fputs(arg, f);
}

#define MAX_WINDOWS (MAX_POINTS + 4)

struct boot {
	enum qiommu iommu;
	enum qdev dev;
	enum qmode mode;
	char name[64];			/* amd-virtio-strict */
	/* outcome */
	bool ok, timed_out;
	char reason[512];
	double secs;
	struct qcon con;
	unsigned nwin;
	char win_id[MAX_WINDOWS][32];
	struct qtr_window win[MAX_WINDOWS];
	struct qtr_counts total;
	/* The guest driver's own commands (kprobe), per window, when captured. */
	struct qtr_counts gc[MAX_WINDOWS];
	bool gc_ok[MAX_WINDOWS];
	/* Events of the guest's map/unmap capture, per window. */
	uint64_t tmaps[MAX_WINDOWS], tunmaps[MAX_WINDOWS];
};

static const char *qemu_version(void)
{
	static char v[128];
	char *argv[] = { "qemu-system-x86_64", "--version", NULL };
	char tmp[] = "/tmp/iob-qemu-version-XXXXXX";
	char *text;
	int fd;

	if (v[0])
		return v;
	snprintf(v, sizeof(v), "unknown");
	fd = mkstemp(tmp);
	if (fd < 0)
		return v;
	close(fd);
	if (!host_run(argv, tmp, true) && (text = slurp(tmp, NULL))) {
		text[strcspn(text, "\n")] = '\0';
		snprintf(v, sizeof(v), "%s", text);
		free(text);
	}
	unlink(tmp);
	return v;
}

struct qemu_argv {
	char *v[96];
	int n;
	char buf[16384];
	size_t used;
};

static void qa_add(struct qemu_argv *a, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (a->n == 95)
		run_error("qemu: too many arguments");
	va_start(ap, fmt);
	w = vsnprintf(a->buf + a->used, sizeof(a->buf) - a->used, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= sizeof(a->buf) - a->used)
		run_error("qemu: command line too long");
	a->v[a->n++] = a->buf + a->used;
	a->v[a->n] = NULL;
	a->used += (size_t)w + 1;
}

static const char *const amd_events[] = {
	"amdvi_command_exec", "amdvi_completion_wait", "amdvi_pages_inval", "amdvi_iotlb_inval",
	"amdvi_all_inval", "amdvi_devtab_inval", "amdvi_intr_inval", "amdvi_cache_update", NULL,
};
static const char *const intel_events[] = {
	"vtd_inv_desc", "vtd_inv_desc_iotlb_pages", "vtd_inv_desc_iotlb_domain",
	"vtd_inv_desc_iotlb_global", "vtd_inv_desc_wait_sw", "vtd_inv_desc_wait_irq",
	"vtd_inv_desc_cc_domain", "vtd_inv_desc_cc_global", "vtd_inv_desc_cc_device",
	"vtd_inv_desc_cc_devices", "vtd_inv_desc_iec", "vtd_iotlb_page_update", NULL,
};

static int make_image(const char *path, uint64_t bytes)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)bytes))
		ret = -errno;
	close(fd);
	return ret;
}

struct run_state {
	const struct qopts *o;
	const struct guest *g;
	const char *accel;	/* kvm or tcg, decided */
	char dir[4200];		/* the run folder (temporary name) */
	char scratch[4200];	/* disk images and raw logs, tmpfs */
};

/*
 * Boot the guest once with @cmdline_extra, read its console until it
 * powers off or the timeout, stamping windows. Console to @con_path, the
 * QEMU trace log to @log_path.
 */
static void boot_qemu(struct run_state *rs, struct boot *b, const char *accel, bool probe,
		      uint64_t timeout_s, const char *con_path, const char *log_path)
{
	const struct qopts *o = rs->o;
	struct qemu_argv a = { .n = 0 };
	char dut[4400], outimg[4400], events[4400], append[2048];
	int in_pipe[2], out_pipe[2], status;
	FILE *con;
	char pending[8192];
	size_t plen = 0;
	double t0 = host_now_s(), deadline = t0 + (double)timeout_s;
	bool exited = false;
	pid_t pid;

	b->ok = false;
	b->timed_out = false;
	b->reason[0] = '\0';
	b->nwin = 0;
	snprintf(dut, sizeof(dut), "%s/dut.img", rs->scratch);
	snprintf(outimg, sizeof(outimg), "%s/out.img", rs->scratch);
	snprintf(events, sizeof(events), "%s/events", rs->scratch);
	/* Fresh disks: 1 GiB under test (sparse), 512 MiB for the results. */
	if (make_image(dut, 1ULL << 30) || make_image(outimg, 512ULL << 20))
		run_error("qemu: cannot create disk images in %s", rs->scratch);
	{
		FILE *ef = fopen(events, "w");
		const char *const *ev = b->iommu == I_INTEL ? intel_events : amd_events;

		if (!ef)
			run_error("qemu: %s: %s", events, strerror(errno));
		for (; *ev; ev++)
			fprintf(ef, "%s\n", *ev);
		if (fclose(ef))
			run_error("qemu: %s: cannot write", events);
	}

	qa_add(&a, "qemu-system-x86_64");
	qa_add(&a, "-accel");
	qa_add(&a, "%s", accel);
	qa_add(&a, "-machine");
	qa_add(&a, b->iommu == I_INTEL && b->mode != M_NOIOMMU ? "q35,kernel-irqchip=split" : "q35");
	qa_add(&a, "-cpu");
	qa_add(&a, !strcmp(accel, "kvm") ? "host" : "max");
	qa_add(&a, "-smp");
	qa_add(&a, "%u", o->smp);
	qa_add(&a, "-m");
	qa_add(&a, "%u", o->mem_mib);
	qa_add(&a, "-nodefaults");
	qa_add(&a, "-display");
	qa_add(&a, "none");
	qa_add(&a, "-no-reboot");
	qa_add(&a, "-chardev");
	qa_add(&a, "stdio,id=con,signal=off");
	qa_add(&a, "-serial");
	qa_add(&a, "chardev:con");
	if (b->mode != M_NOIOMMU) {
		qa_add(&a, "-device");
		qa_add(&a, b->iommu == I_INTEL ? "intel-iommu,intremap=on,caching-mode=on" : "amd-iommu");
	}
	qa_add(&a, "-kernel");
	qa_add(&a, "%s", rs->g->kernel);
	qa_add(&a, "-initrd");
	qa_add(&a, "%s", rs->g->initrd);
	{
		size_t n = 0;
		char pts[1024] = "";

		for (unsigned i = 0; i < o->npt && o->io; i++)
			n += (size_t)snprintf(pts + n, sizeof(pts) - n, "%s%s:%" PRIu64 ":%u",
					      i ? "," : "", o->pt[i].write ? "write" : "read",
					      o->pt[i].bs, o->pt[i].qd);
		snprintf(append, sizeof(append),
			 "console=ttyS0 panic=-1 %s%s iob.dev=%s iob.mode=%s iob.points=%s "
			 "iob.ios=%" PRIu64 " iob.ms=%" PRIu64 " iob.trace=%d iob.sync=1 iob.probe=%d "
			 "iob.dmamap=%s",
			 b->iommu == I_INTEL && b->mode != M_NOIOMMU ? "intel_iommu=on " : "",
			 b->mode == M_PASSTHROUGH ? "iommu.passthrough=1" : "iommu.passthrough=0",
			 dev_names[b->dev], mode_names[b->mode], o->io ? pts : "",
			 o->ios, o->ms, o->trace && b->mode != M_NOIOMMU, probe, "off");
		if (o->dmamap) {
			size_t l = strlen(append) - 3;

			snprintf(append + l, sizeof(append) - l,
				 "threads=%d,ms=%ld,node=%d,bits=%d,dir=%d,delay_ns=%ld,granule=%d,api=both",
				 o->dm_threads, o->dm_ms, o->dm_node, o->dm_bits, o->dm_dir,
				 o->dm_delay_ns, o->dm_granule);
		}
	}
	qa_add(&a, "-append");
	qa_add(&a, "%s", append);
	qa_add(&a, "-drive");
	qa_add(&a, "file=%s,if=none,id=d0,format=raw", dut);
	qa_add(&a, "-device");
	qa_add(&a, b->dev == D_NVME ? "nvme,drive=d0,serial=iobdut" :
	       "virtio-blk-pci,drive=d0,disable-legacy=on,iommu_platform=on,serial=iobdut");
	/* The results disk bypasses the IOMMU (no iommu_platform): no DMA API traffic. */
	qa_add(&a, "-drive");
	qa_add(&a, "file=%s,if=none,id=o0,format=raw", outimg);
	qa_add(&a, "-device");
	qa_add(&a, "virtio-blk-pci,drive=o0,serial=iobout");
	if (log_path) {
		qa_add(&a, "-trace");
		qa_add(&a, "events=%s", events);
		qa_add(&a, "-D");
		qa_add(&a, "%s", log_path);
		qa_add(&a, "-msg");
		qa_add(&a, "timestamp=on");
	}

	con = fopen(con_path, "w");
	if (!con)
		run_error("qemu: %s: %s", con_path, strerror(errno));
	fprintf(con, "# qemu command:");
	for (int i = 0; i < a.n; i++)
		print_rel(con, a.v[i]);
	fprintf(con, "\n");
	fflush(con);
	if (pipe(in_pipe) || pipe(out_pipe))
		run_error("qemu: pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		run_error("qemu: fork: %s", strerror(errno));
	if (!pid) {
		dup2(in_pipe[0], 0);
		dup2(out_pipe[1], 1);
		dup2(out_pipe[1], 2);
		close(in_pipe[1]);
		close(out_pipe[0]);
		execvp(a.v[0], a.v);
		fprintf(stderr, "iob: cannot run qemu-system-x86_64: %s\n", strerror(errno));
		_exit(127);
	}
	close(in_pipe[0]);
	close(out_pipe[1]);
	signal(SIGPIPE, SIG_IGN);

	for (;;) {
		struct pollfd pf = { .fd = out_pipe[0], .events = POLLIN };
		double left = deadline - host_now_s();
		int r;

		if (interrupted) {
			kill(pid, SIGKILL);
			snprintf(b->reason, sizeof(b->reason), "interrupted");
			break;
		}
		if (left <= 0) {
			kill(pid, SIGKILL);
			b->timed_out = true;
			snprintf(b->reason, sizeof(b->reason),
				 "timeout: the guest did not finish in %" PRIu64 " s; killed", timeout_s);
			break;
		}
		r = poll(&pf, 1, left > 0.5 ? 500 : (int)(left * 1000) + 1);
		if (r < 0 && errno != EINTR)
			run_error("qemu: poll: %s", strerror(errno));
		if (r <= 0)
			continue;
		{
			ssize_t got = read(out_pipe[0], pending + plen, sizeof(pending) - plen - 1);
			char *nl, *start;

			if (got <= 0)
				break;	/* QEMU exited */
			fwrite(pending + plen, 1, (size_t)got, con);
			fflush(con);
			plen += (size_t)got;
			pending[plen] = '\0';
			start = pending;
			while ((nl = strchr(start, '\n'))) {
				struct qcon_rec rec;
				char why[200];

				*nl = '\0';
				if (qcon_parse_line(start, &rec, why, sizeof(why)) == 0 &&
				    rec.type == QCON_MARK) {
					const char *id = qcon_get(&rec, "id");
					bool begin = !strcmp(qcon_get(&rec, "edge"), "begin");
					unsigned w;

					for (w = 0; w < b->nwin && strcmp(b->win_id[w], id); w++)
						;
					if (begin && w == b->nwin && w < MAX_WINDOWS) {
						snprintf(b->win_id[w], sizeof(b->win_id[w]), "%s", id);
						b->win[w].t0_us = wall_us();
						b->win[w].t1_us = UINT64_MAX;
						b->nwin++;
					} else if (!begin && w < b->nwin) {
						b->win[w].t1_us = wall_us();
					}
					if (begin && write(in_pipe[1], "go\n", 3) != 3) {
						snprintf(b->reason, sizeof(b->reason),
							 "cannot answer the guest: %s", strerror(errno));
					}
				}
				start = nl + 1;
			}
			plen = (size_t)(pending + plen - start);
			memmove(pending, start, plen);
			if (plen == sizeof(pending) - 1)
				plen = 0;	/* a line too long to be ours: drop it */
		}
	}
	close(out_pipe[0]);
	close(in_pipe[1]);
	if (waitpid(pid, &status, 0) == pid)
		exited = true;
	fclose(con);
	b->secs = host_now_s() - t0;
	{
		char *text = slurp(con_path, NULL), err[256];

		if (!text)
			run_error("qemu: %s: cannot read back", con_path);
		if (qcon_parse(text, &b->con, err, sizeof(err))) {
			if (!b->reason[0])
				snprintf(b->reason, sizeof(b->reason), "console: %s", err);
		} else if (!b->reason[0]) {
			if (!b->con.done)
				snprintf(b->reason, sizeof(b->reason),
					 "the guest stopped without IOB-DONE (QEMU %s)",
					 exited && WIFEXITED(status) ? "exited" : "died");
			else if (!b->con.done_ok)
				snprintf(b->reason, sizeof(b->reason), "the guest reported an error");
			else
				b->ok = true;
		}
		free(text);
	}
	if (!b->ok && b->con.done && !b->con.done_ok) {
		for (size_t i = 0; i < b->con.n; i++)
			if (b->con.rec[i].type == QCON_DONE && qcon_get(&b->con.rec[i], "reason")) {
				size_t l = strlen(b->reason);

				snprintf(b->reason + l, sizeof(b->reason) - l, ": %s",
					 qcon_get(&b->con.rec[i], "reason"));
			}
	}
}

/* KVM when /dev/kvm opens and really runs the guest to its shell; else TCG. */
static const char *pick_accel(struct run_state *rs)
{
	struct boot b = { .iommu = I_AMD, .dev = D_VIRTIO, .mode = M_STRICT };
	char con[4400];
	int fd;

	if (strcmp(rs->o->accel, "auto"))
		return rs->o->accel;
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return "tcg";
	close(fd);
	snprintf(con, sizeof(con), "%s/kvm-probe.log", rs->scratch);
	boot_qemu(rs, &b, "kvm", true, 30, con, NULL);
	qcon_free(&b.con);
	fprintf(stderr, "iob qemu: KVM %s\n", b.ok ? "runs guests: using it" :
		"cannot run a guest here: using TCG");
	return b.ok ? "kvm" : "tcg";
}

/* ---- rows --------------------------------------------------------------------------- */

static const char *qget(const struct qcon_rec *r, const char *k)
{
	const char *v = qcon_get(r, k);

	return v ? v : "NaN";
}

static const struct qcon_rec *find_rec(const struct boot *b, enum qcon_type t, const char *id,
				       const char *key2, const char *val2)
{
	for (size_t i = 0; i < b->con.n; i++) {
		const struct qcon_rec *r = &b->con.rec[i];
		const char *v;

		if (r->type != t || (id && (!(v = qcon_get(r, "id")) || strcmp(v, id))))
			continue;
		if (key2 && (!(v = qcon_get(r, key2)) || strcmp(v, val2)))
			continue;
		return r;
	}
	return NULL;
}

static double per(uint64_t n, uint64_t d)
{
	return d ? (double)n / (double)d : NAN;
}

/*
 * trace_read() of a file, or of its compressed form (NAME.xz, NAME.gz):
 * traces are kept compressed in run folders.
 */
static int read_trace_any(const char *path, struct trace *t, char *err, size_t len)
{
	size_t n = strlen(path);
	char tmp[] = "/tmp/iob-trace-XXXXXX";
	bool xz = n > 3 && !strcmp(path + n - 3, ".xz");
	char *argv[] = { xz ? "xz" : "gzip", "-dc", (char *)path, NULL };
	int fd, ret;

	if (!xz && (n < 3 || strcmp(path + n - 3, ".gz")))
		return trace_read(path, t, err, len);
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	close(fd);
	ret = host_run(argv, tmp, true);
	if (ret) {
		unlink(tmp);
		memset(t, 0, sizeof(*t));
		snprintf(err, len, "%s: cannot decompress it (%s -dc exited %d)", path, argv[0], ret);
		return -EINVAL;
	}
	ret = trace_read(tmp, t, err, len);
	unlink(tmp);
	if (ret && len && !strncmp(err, tmp, strlen(tmp))) {
		/* Name the file the user gave, not the scratch copy. */
		size_t pl = strlen(path), tl = strlen(tmp), rest = strlen(err) - tl;

		if (pl + rest < len) {
			memmove(err + pl, err + tl, rest + 1);
			memcpy(err, path, pl);
		}
	}
	return ret;
}

#define QEMU_CSV_COLS								\
	"iommu,device,mode,accel,domain_type,point,op,bs_bytes,qd,ios,secs,iops,mb_per_s,"	\
	"samples,mean_ns,stddev_ns,min_ns,p50_ns,p90_ns,p99_ns,p999_ns,max_ns,"	\
	"pages_inval_per_io,completion_waits_per_io,all_inval_per_io,commands_per_io,"	\
	"iotlb_fills_per_io,trace_maps_per_io,trace_unmaps_per_io,trace_overrun"

#define COUNT_COLS								\
	"commands,pages_inval,completion_waits,all_inval,devtab_inval,iotlb_inval,"	\
	"intr_inval,iotlb_fills,other_events,guest_commands,guest_pages_inval,"	\
	"guest_completion_waits,inval_sizes_from,inval_4k,inval_8k,inval_16k,inval_32k,"	\
	"inval_64k,inval_128k,inval_256k,inval_512k,inval_1m,inval_2m_plus,inval_all,"	\
	"inval_size_unknown"

#define DMAMAP_CSV_COLS								\
	"iommu,device,mode,accel,api,op,threads,granule_pages,dir,delay_ns,bits,loops,"	\
	"guest_tsc_khz,mean_cyc,min_cyc,p50_cyc,p90_cyc,p99_cyc,p999_cyc,max_cyc,"	\
	"mean_ns,p50_ns,p99_ns,kernel_avg_us,kernel_stddev_us,pages_inval_per_pair,"	\
	"completion_waits_per_pair"

/*
 * QEMU's counts @c, the guest's own @g (NULL: not captured), and the page
 * invalidations by size from whichever has them: QEMU's VT-d events carry
 * the size, its AMD-Vi events do not (the guest's commands do).
 */
static void count_fields(const struct qtr_counts *c, const struct qtr_counts *g, bool vtd,
			 char *buf, size_t len)
{
	const struct qtr_counts *sz = g && !vtd ? g : c;
	size_t n = 0;

	for (int e = 0; e < QTR_EVENT_NR; e++)
		n += (size_t)snprintf(buf + n, len - n, "%s%" PRIu64, e ? "," : "", c->ev[e]);
	if (g)
		n += (size_t)snprintf(buf + n, len - n, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64,
				      g->ev[QTR_COMMAND], g->ev[QTR_PAGES_INVAL],
				      g->ev[QTR_COMPLETION_WAIT]);
	else
		n += (size_t)snprintf(buf + n, len - n, ",NaN,NaN,NaN");
	n += (size_t)snprintf(buf + n, len - n, ",%s", vtd ? "qemu" : g ? "guest" : "none");
	for (int s = 0; s < QTR_SIZE_NR; s++)
		n += (size_t)snprintf(buf + n, len - n, ",%" PRIu64, sz->inval_by_size[s]);
}

/* Per-I/O counts of a window; @ios 0 gives NaN. */
static void write_point_rows(struct run_state *rs, struct boot *b, struct csv *q,
			     struct csv *counts, struct csv *dm)
{
	const char *dtype = "none";
	const struct qcon_rec *info = find_rec(b, QCON_INFO, NULL, NULL, NULL);
	char cf[1024];

	if (info && qcon_get(info, "domain_type"))
		dtype = qcon_get(info, "domain_type");
	for (unsigned w = 0; w < b->nwin; w++) {
		const char *id = b->win_id[w];
		const struct qtr_counts *c = &b->win[w].c;
		const struct qcon_rec *res = find_rec(b, QCON_RESULT, id, NULL, NULL);
		const struct qcon_rec *tr = find_rec(b, QCON_TRACE, id, NULL, NULL);
		const struct qcon_rec *dmr = find_rec(b, QCON_DMAMAP, id, "op", "map");
		uint64_t ios = 0, maps = b->tmaps[w], unmaps = b->tunmaps[w];

		if (res)
			qcon_get_u64(res, "ios", &ios);
		else if (dmr)
			qcon_get_u64(dmr, "loops", &ios);
		count_fields(c, b->gc_ok[w] ? &b->gc[w] : NULL, b->iommu == I_INTEL, cf, sizeof(cf));
		csv_row(counts, "%s,%s,%s,%s,%" PRIu64 ",%.0f,%s", iommu_names[b->iommu],
			dev_names[b->dev], mode_names[b->mode], id, ios,
			b->win[w].t1_us != UINT64_MAX ? (double)(b->win[w].t1_us - b->win[w].t0_us) : NAN,
			cf);
		if (res) {
			csv_row(q, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%" PRIu64 ",%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
				"%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%s",
				iommu_names[b->iommu], dev_names[b->dev], mode_names[b->mode], rs->accel,
				dtype, id, qget(res, "op"), qget(res, "bs"), qget(res, "qd"), ios,
				qget(res, "secs"), qget(res, "iops"), qget(res, "mbps"),
				qget(res, "samples"), qget(res, "mean_ns"), qget(res, "stddev_ns"),
				qget(res, "min_ns"), qget(res, "p50_ns"), qget(res, "p90_ns"),
				qget(res, "p99_ns"), qget(res, "p999_ns"), qget(res, "max_ns"),
				per(c->ev[QTR_PAGES_INVAL], ios), per(c->ev[QTR_COMPLETION_WAIT], ios),
				per(c->ev[QTR_ALL_INVAL], ios), per(c->ev[QTR_COMMAND], ios),
				per(c->ev[QTR_IOTLB_FILL], ios), tr ? per(maps, ios) : NAN,
				tr ? per(unmaps, ios) : NAN, tr ? qget(tr, "overrun") : "NaN");
		}
		for (int op = 0; op < 2 && dmr; op++) {
			const struct qcon_rec *d = find_rec(b, QCON_DMAMAP, id, "op", op ? "unmap" : "map");
			double khz = 0, mean = 0, p50 = 0, p99 = 0, avg = 0, sd = 0;
			uint64_t loops = 0;

			if (!d)
				continue;
			qcon_get_double(d, "tsc_khz", &khz);
			qcon_get_double(d, "mean_cyc", &mean);
			qcon_get_double(d, "p50_cyc", &p50);
			qcon_get_double(d, "p99_cyc", &p99);
			qcon_get_double(d, "avg_100ns", &avg);
			qcon_get_double(d, "stddev_100ns", &sd);
			qcon_get_u64(d, "loops", &loops);
			csv_row(dm, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%" PRIu64 ",%s,%s,%s,%s,%s,%s,%s,%s,"
				"%.1f,%.1f,%.1f,%.1f,%.1f,%.4f,%.4f",
				iommu_names[b->iommu], dev_names[b->dev], mode_names[b->mode], rs->accel,
				qget(d, "api"), qget(d, "op"), qget(d, "threads"), qget(d, "granule"),
				qget(d, "dir"), qget(d, "delay_ns"), qget(d, "bits"), loops,
				qget(d, "tsc_khz"), qget(d, "mean_cyc"), qget(d, "min_cyc"),
				qget(d, "p50_cyc"), qget(d, "p90_cyc"), qget(d, "p99_cyc"),
				qget(d, "p999_cyc"), qget(d, "max_cyc"),
				khz > 0 ? mean * 1e6 / khz : NAN, khz > 0 ? p50 * 1e6 / khz : NAN,
				khz > 0 ? p99 * 1e6 / khz : NAN, avg / 10.0, sd / 10.0,
				per(c->ev[QTR_PAGES_INVAL], loops), per(c->ev[QTR_COMPLETION_WAIT], loops));
		}
	}
}

/* ---- fidelity ------------------------------------------------------------------------- */

#define FID_COLS								\
	"iommu,device,mode,window,ios,trace_maps,trace_unmaps,map_calls,skipped,"	\
	"qemu_pages_inval,model_inv_cmds,qemu_completion_waits,model_completion_waits,"	\
	"qemu_pages_inval_per_io,model_inv_cmds_per_io,qemu_waits_per_io,"		\
	"model_waits_per_io,inval_model_over_qemu,waits_model_over_qemu,target,verdict"

static const char *verdict(bool lazy, uint64_t q_inv, uint64_t m_inv, uint64_t q_w, uint64_t m_w)
{
	if (!lazy)
		return q_inv == m_inv && q_w == m_w ? "exact" : "differs";
	if (!q_inv || !q_w)
		return q_inv == m_inv && q_w == m_w ? "exact" : "differs";
	return fabs((double)m_inv / (double)q_inv - 1) <= 0.2 &&
	       fabs((double)m_w / (double)q_w - 1) <= 0.2 ? "within_20pct" : "differs";
}

/*
 * fidelity.csv of @dir from its qemu_trace_counts.csv and traces/: every
 * AMD window in strict or lazy mode that has a trace. Prints the table.
 * Return: windows compared, or -1 when there was nothing to compare.
 */
static int fidelity_dir(const char *dir, const struct results_env *env)
{
	struct csv_table t;
	struct csv *out;
	char path[4400], err[256];
	int ci, cd, cm, cw, cios, cpi, ccw, n = 0, ret;

	snprintf(path, sizeof(path), "%s/qemu_trace_counts.csv", dir);
	if (csv_read(path, &t, err, sizeof(err)))
		usage_error("qemu fidelity: %s: %s", path, err);
	ci = csv_col(&t, "iommu");
	cd = csv_col(&t, "device");
	cm = csv_col(&t, "mode");
	cw = csv_col(&t, "window");
	cios = csv_col(&t, "ios");
	cpi = csv_col(&t, "pages_inval");
	ccw = csv_col(&t, "completion_waits");
	if (ci < 0 || cd < 0 || cm < 0 || cw < 0 || cios < 0 || cpi < 0 || ccw < 0)
		usage_error("qemu fidelity: %s: not a qemu_trace_counts.csv (columns missing)", path);
	ret = csv_open(dir, "fidelity.csv", env, &out);
	if (ret)
		run_error("qemu fidelity: %s/fidelity.csv: %s", dir, strerror(-ret));
	csv_meta(out, "family", "qemu_fidelity");
	csv_meta(out, "model", "dmalayer strategy, exact (naturally aligned) invalidation blocks, "
		 "flush on map (NpCache); lazy: flush queue 256 entries, 10 ms timer in trace time");
	csv_meta(out, "targets", "strict: the same counts; lazy: within 20%%");
	csv_header(out, FID_COLS);
	printf("%-6s %-7s %-7s %-10s %6s | %9s %9s %7s | %9s %9s %7s | %s\n", "iommu", "device",
	       "mode", "window", "ios", "qemu inv", "model inv", "ratio", "qemu wait", "model wait",
	       "ratio", "verdict");
	for (size_t r = 0; r < t.nrows; r++) {
		char **row = t.rows[r];
		bool lazy = !strcmp(row[cm], "lazy");
		struct fid_cfg fc = { .lazy = lazy, .np_cache = true };
		struct fid_result fr;
		struct trace tr;
		uint64_t ios = strtoull(row[cios], NULL, 10);
		uint64_t qi = strtoull(row[cpi], NULL, 10), qw = strtoull(row[ccw], NULL, 10);
		char tp[4400];

		if (strcmp(row[ci], "amd") || (strcmp(row[cm], "strict") && !lazy))
			continue;
		snprintf(tp, sizeof(tp), "%s/traces/%s-%s-%s-%s.trace.xz", dir, row[ci], row[cd],
			 row[cm], row[cw]);
		if (!host_is_file(tp))
			tp[strlen(tp) - 3] = '\0';	/* uncompressed, e.g. written by hand */
		if (!host_is_file(tp))
			continue;
		if (read_trace_any(tp, &tr, err, sizeof(err)))
			usage_error("qemu fidelity: %s", err);
		ret = fid_replay(&tr, &fc, &fr);
		trace_free(&tr);
		if (ret)
			run_error("qemu fidelity: replaying %s failed: %s", tp, strerror(-ret));
		csv_row(out, "%s,%s,%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
			",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%s,%s",
			row[ci], row[cd], row[cm], row[cw], ios, fr.map_events, fr.unmap_events,
			fr.map_calls, fr.skipped, qi, fr.inv_cmds, qw, fr.completion_waits,
			per(qi, ios), per(fr.inv_cmds, ios), per(qw, ios), per(fr.completion_waits, ios),
			per(fr.inv_cmds, qi), per(fr.completion_waits, qw),
			lazy ? "within_20pct" : "exact", verdict(lazy, qi, fr.inv_cmds, qw, fr.completion_waits));
		printf("%-6s %-7s %-7s %-10s %6" PRIu64 " | %9.3f %9.3f %7.3f | %9.3f %9.3f %7.3f | %s\n",
		       row[ci], row[cd], row[cm], row[cw], ios, per(qi, ios), per(fr.inv_cmds, ios),
		       per(fr.inv_cmds, qi), per(qw, ios), per(fr.completion_waits, ios),
		       per(fr.completion_waits, qw), verdict(lazy, qi, fr.inv_cmds, qw, fr.completion_waits));
		n++;
	}
	csv_table_free(&t);
	ret = csv_close(out);
	if (ret)
		run_error("qemu fidelity: %s/fidelity.csv: %s", dir, strerror(-ret));
	printf("(invalidations and completion waits per I/O; dmamap windows per map/unmap pair)\n");
	fflush(stdout);	/* before any fork: a child's exit must not print it again */
	return n ? n : -1;
}

static int cmd_fidelity(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "trace", required_argument, NULL, 't' },
		{ "mode", required_argument, NULL, 'm' },
		{ "ios", required_argument, NULL, 'i' },
		{ "no-np-cache", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *tfile = NULL;
	struct fid_cfg fc = { .np_cache = true };
	uint64_t ios = 0;
	struct results_env env;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			tfile = optarg;
			break;
		case 'm':
			if (!strcmp(optarg, "lazy"))
				fc.lazy = true;
			else if (strcmp(optarg, "strict"))
				usage_error("qemu fidelity: --mode must be strict or lazy, not '%s'", optarg);
			break;
		case 'i':
			ios = parse_u64(optarg, "--ios");
			break;
		case 'N':
			fc.np_cache = false;
			break;
		case 'h':
			fputs(qemu_usage, stdout);
			return 0;
		default:
			usage_error("qemu fidelity: bad option (see `iob qemu --help`)");
		}
	}
	if (tfile) {
		struct fid_result fr;
		struct trace tr;
		char err[256];
		int ret;

		if (optind < argc)
			usage_error("qemu fidelity: give --trace FILE or RUN_DIR, not both");
		ret = read_trace_any(tfile, &tr, err, sizeof(err));
		if (ret)
			usage_error("qemu fidelity: %s", err);
		ret = fid_replay(&tr, &fc, &fr);
		if (ret)
			run_error("qemu fidelity: replay failed: %s", strerror(-ret));
		printf("trace %s (%s format): %" PRIu64 " maps, %" PRIu64 " unmaps, %" PRIu64
		       " map calls, %" PRIu64 " skipped, %" PRIu64 " left mapped\n", tfile,
		       tr.format == TRACE_FMT_TRACEFS ? "Linux tracefs" : "iommubench", fr.map_events,
		       fr.unmap_events, fr.map_calls, fr.skipped, fr.left_mapped);
		printf("model (%s%s): %" PRIu64 " page invalidations, %" PRIu64 " completion waits, %"
		       PRIu64 " map flushes, %" PRIu64 " domain flushes (%" PRIu64 " on the timer)\n",
		       fc.lazy ? "lazy, 256 entries, 10 ms" : "strict",
		       fc.np_cache ? ", flush on map" : "", fr.inv_cmds, fr.completion_waits,
		       fr.map_flushes, fr.flush_alls, fr.timer_flushes);
		if (ios)
			printf("per I/O (%" PRIu64 "): %.3f page invalidations, %.3f completion waits\n",
			       ios, per(fr.inv_cmds, ios), per(fr.completion_waits, ios));
		trace_free(&tr);
		return 0;
	}
	if (optind + 1 != argc)
		usage_error("qemu fidelity: expected one RUN_DIR or --trace FILE");
	{
		struct stat st;

		if (stat(argv[optind], &st) || !S_ISDIR(st.st_mode) ||
		    access(argv[optind], R_OK | W_OK | X_OK))
			usage_error("qemu fidelity: '%s' is not a writable directory", argv[optind]);
	}
	results_env_collect(&env, argc + 1, argv - 1, 0);
	if (fidelity_dir(argv[optind], &env) < 0)
		usage_error("qemu fidelity: %s has no AMD strict or lazy window with a trace",
			    argv[optind]);
	return 0;
}

/* ---- run ------------------------------------------------------------------------------ */

/* xz -3: a third of gzip's size on these logs, at 10 s per 80 MB. */
static void compress_into(const char *src, const char *dst)
{
	char *argv[] = { "xz", "-3", "-T1", "-c", (char *)src, NULL };
	char tmp[4600];

	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	if (host_run(argv, tmp, false) || rename(tmp, dst))
		run_error("qemu: cannot compress %s into %s (xz-utils)", src, dst);
}

/* Move the guest's tar of results and traces into the run folder. */
static void collect_guest_files(struct run_state *rs, struct boot *b)
{
	char gdir[4400], outimg[4400], tdir[4400];
	char *tar[] = { "tar", "-xf", outimg, "-C", gdir, NULL };
	int ret;

	snprintf(gdir, sizeof(gdir), "%s/guest-%s", rs->scratch, b->name);
	snprintf(outimg, sizeof(outimg), "%s/out.img", rs->scratch);
	snprintf(tdir, sizeof(tdir), "%s/traces", rs->dir);
	if (mkdir(gdir, 0755) && errno != EEXIST)
		run_error("qemu: %s: %s", gdir, strerror(errno));
	mkdir(tdir, 0755);
	ret = host_run(tar, NULL, true);
	if (ret) {
		snprintf(b->reason, sizeof(b->reason), "the results disk holds no readable tar (%d)", ret);
		b->ok = false;
		return;
	}
	for (size_t i = 0; i < b->con.n; i++) {
		const struct qcon_rec *r = &b->con.rec[i];
		char src[4600], dst[4600], err[256], note[512];
		const char *id = qcon_get(r, "id");
		struct trace t;

		if (r->type != QCON_TRACE)
			continue;
		snprintf(src, sizeof(src), "%s/trace-%s.txt", gdir, id);
		snprintf(dst, sizeof(dst), "%s/%s-%s.trace", gdir, b->name, id);
		if (strcmp(qget(r, "cmds"), "0") && strcmp(qget(r, "cmds"), "NaN")) {
			char *text = slurp(src, NULL);
			unsigned w;

			for (w = 0; w < b->nwin && strcmp(b->win_id[w], id); w++)
				;
			if (!text || w == b->nwin || qgc_count(text, &b->gc[w], err, sizeof(err))) {
				snprintf(b->reason, sizeof(b->reason), "guest commands %s: %s", id,
					 text ? err : "unreadable");
				b->ok = false;
				free(text);
				return;
			}
			b->gc_ok[w] = true;
			free(text);
		}
		if (!strcmp(qget(r, "events"), "0"))
			continue;
		ret = trace_read(src, &t, err, sizeof(err));
		if (ret) {
			snprintf(b->reason, sizeof(b->reason), "guest trace %s: %s", id, err);
			b->ok = false;
			return;
		}
		snprintf(note, sizeof(note), "captured in the guest (tracefs iommu:map/unmap), %s %s "
			 "%s, window %s, kernel %s, overrun=%s", iommu_names[b->iommu], dev_names[b->dev],
			 mode_names[b->mode], id, rs->g->kver, qget(r, "overrun"));
		for (unsigned w = 0; w < b->nwin; w++) {
			if (strcmp(b->win_id[w], id))
				continue;
			for (size_t e = 0; e < t.n; e++)
				t.ev[e].op == TRACE_MAP ? b->tmaps[w]++ : b->tunmaps[w]++;
		}
		ret = trace_write(dst, &t, note);
		trace_free(&t);
		if (ret)
			run_error("qemu: %s: %s", dst, strerror(-ret));
		snprintf(src, sizeof(src), "%s/%s-%s.trace.xz", tdir, b->name, id);
		compress_into(dst, src);
	}
}


static void run_one(struct run_state *rs, struct boot *b, struct csv *q, struct csv *counts,
		    struct csv *dm, struct csv *runs)
{
	const struct qopts *o = rs->o;
	char con[4400], log[4400], gz[4400], err[256];
	uint64_t timeout = o->timeout_s;

	snprintf(b->name, sizeof(b->name), "%s-%s-%s", iommu_names[b->iommu], dev_names[b->dev],
		 mode_names[b->mode]);
	snprintf(con, sizeof(con), "%s/console-%s.log", rs->dir, b->name);
	snprintf(log, sizeof(log), "%s/qemu-trace.log", rs->scratch);
	if (!timeout)
		/* TCG: about 5 s to boot; a point takes at most --ms plus the trace dump. */
		timeout = 90 + (o->io ? o->npt : 0) * (o->ms * 3 / 1000 + 20) +
			  (o->dmamap ? 2 * ((uint64_t)o->dm_ms * 3 / 1000 + 20) : 0);
	fprintf(stderr, "iob qemu: booting %s (%s, timeout %" PRIu64 " s)\n", b->name, rs->accel,
		timeout);
	unlink(log);
	boot_qemu(rs, b, rs->accel, false, timeout, con, log);
	if (interrupted)
		return;
	if (b->ok) {
		FILE *f = fopen(log, "r");

		if (!f) {
			b->ok = false;
			snprintf(b->reason, sizeof(b->reason), "no QEMU trace log");
		} else {
			if (qtr_count(f, b->win, b->nwin, &b->total, err, sizeof(err))) {
				b->ok = false;
				snprintf(b->reason, sizeof(b->reason), "QEMU trace log: %s", err);
			}
			fclose(f);
		}
	}
	if (b->ok)
		collect_guest_files(rs, b);
	if (host_is_file(log)) {
		snprintf(gz, sizeof(gz), "%s/qemu-trace-%s.log.xz", rs->dir, b->name);
		compress_into(log, gz);
		unlink(log);
	}
	fprintf(stderr, "iob qemu: %s: %s in %.0f s%s%s\n", b->name, b->ok ? "done" : "FAILED",
		b->secs, b->ok ? "" : ": ", b->ok ? "" : b->reason);
	csv_row(runs, "%s,%s,%s,%s,%s,%.1f,%d,%d,%d,%s", iommu_names[b->iommu], dev_names[b->dev],
		mode_names[b->mode], rs->accel, b->ok ? "ok" : b->timed_out ? "timeout" : "failed",
		b->secs, b->con.amdvi_found, b->con.amdvi_intremap, b->con.dmar_found,
		b->ok ? "" : b->reason);
	if (b->ok) {
		char cf[1024];

		write_point_rows(rs, b, q, counts, dm);
		count_fields(&b->total, NULL, b->iommu == I_INTEL, cf, sizeof(cf));
		csv_row(counts, "%s,%s,%s,all,0,NaN,%s", iommu_names[b->iommu], dev_names[b->dev],
			mode_names[b->mode], cf);
	}
}

static void write_meta(const struct run_state *rs, const struct results_env *env,
		       const struct boot *boots, unsigned nb, double took)
{
	json_t *root = json_object(), *arr = json_array(), *files = json_array();
	static const char *const fl[] = { "qemu.csv", "qemu_dmamap.csv", "qemu_trace_counts.csv",
					   "qemu_runs.csv", "fidelity.csv" };
	char path[4400], tmp[4400];

	json_object_set_new(root, "schema_version", json_integer(RESULTS_SCHEMA_VERSION));
	json_object_set_new(root, "tool", json_string("iommubench"));
	json_object_set_new(root, "family", json_string("qemu"));
	json_object_set_new(root, "date", json_string(env->date));
	json_object_set_new(root, "git_commit", json_string(env->git_commit));
	json_object_set_new(root, "host", json_string(env->host));
	json_object_set_new(root, "cpu", json_string(env->cpu));
	json_object_set_new(root, "kernel", json_string(env->kernel));
	json_object_set_new(root, "tsc_khz", json_integer((json_int_t)env->tsc_khz));
	json_object_set_new(root, "command", json_string(env->command));
	json_object_set_new(root, "label", json_string(rs->o->label));
	json_object_set_new(root, "accel", json_string(rs->accel));
	json_object_set_new(root, "qemu", json_string(qemu_version()));
	json_object_set_new(root, "guest_kernel", json_string(rs->g->kver));
	json_object_set_new(root, "guest_smp", json_integer(rs->o->smp));
	json_object_set_new(root, "guest_mem_mib", json_integer(rs->o->mem_mib));
	json_object_set_new(root, "duration_s", json_real(took));
	for (unsigned i = 0; i < nb; i++) {
		json_t *e = json_object();

		json_object_set_new(e, "config", json_string(boots[i].name));
		json_object_set_new(e, "status", json_string(boots[i].ok ? "ok" : "failed"));
		json_object_set_new(e, "seconds", json_real(boots[i].secs));
		if (!boots[i].ok)
			json_object_set_new(e, "reason", json_string(boots[i].reason));
		json_array_append_new(arr, e);
	}
	json_object_set_new(root, "boots", arr);
	for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++)
		json_array_append_new(files, json_string(fl[i]));
	json_object_set_new(root, "files", files);
	snprintf(path, sizeof(path), "%s/meta.json", rs->dir);
	snprintf(tmp, sizeof(tmp), "%s/meta.json.tmp", rs->dir);
	if (json_dump_file(root, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) || rename(tmp, path))
		run_error("qemu: %s: cannot write", path);
	json_decref(root);
}

static struct csv *open_csv(struct run_state *rs, const struct results_env *env, const char *name,
			    const char *family, const char *note, const char *cols)
{
	struct csv *c;
	int ret = csv_open(rs->dir, name, env, &c);

	if (ret)
		run_error("qemu: %s/%s: %s", rs->dir, name, strerror(-ret));
	csv_meta(c, "family", "%s", family);
	csv_meta(c, "accel", "%s", rs->accel);
	csv_meta(c, "qemu", "%s", qemu_version());
	csv_meta(c, "guest_kernel", "%s", rs->g->kver);
	csv_meta(c, "guest_smp", "%u", rs->o->smp);
	if (note)
		csv_meta(c, "note", "%s", note);
	csv_header(c, cols);
	return c;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "device", required_argument, NULL, 'd' },
		{ "iommu", required_argument, NULL, 'I' },
		{ "workload", required_argument, NULL, 'w' },
		{ "points", required_argument, NULL, 'p' },
		{ "ios", required_argument, NULL, 'n' },
		{ "ms", required_argument, NULL, 't' },
		{ "dmamap", required_argument, NULL, 'D' },
		{ "accel", required_argument, NULL, 'a' },
		{ "smp", required_argument, NULL, 's' },
		{ "mem", required_argument, NULL, 'M' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "results", required_argument, NULL, 'r' },
		{ "label", required_argument, NULL, 'l' },
		{ "no-trace", no_argument, NULL, 'N' },
		{ "no-plot", no_argument, NULL, 'P' },
		{ "keep-going", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct qopts o;
	static struct boot boots[M_NR * D_NR * I_NR];
	struct run_state rs = { .o = &o };
	struct results_env env;
	struct rundir *rd;
	struct guest g;
	struct csv *q, *counts, *dm, *runs;
	unsigned nb = 0, failed = 0;
	double t_start = host_now_s();
	char final[4400];
	int c, ret;

	memset(&o, 0, sizeof(o));
	parse_list("strict,lazy,passthrough,noiommu", "--mode", mode_names, M_NR, o.mode);
	parse_list("virtio,nvme", "--device", dev_names, D_NR, o.dev);
	parse_list("amd", "--iommu", iommu_names, I_NR, o.iommu);
	parse_points("read:4K:1,read:4K:32,read:64K:1,read:64K:8,read:1M:4,write:4K:1,write:64K:8", &o);
	o.io = o.dmamap = o.trace = o.plot = true;
	o.ios = 2000;
	o.ms = 3000;
	o.smp = 1;
	o.mem_mib = 1024;
	o.accel = "auto";
	o.results = "results";
	o.label = "qemu";
	o.dm_threads = 1;
	o.dm_node = -1;
	o.dm_bits = 32;
	o.dm_granule = 1;
	o.dm_ms = 1000;
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			parse_list(optarg, "--mode", mode_names, M_NR, o.mode);
			break;
		case 'd':
			parse_list(optarg, "--device", dev_names, D_NR, o.dev);
			break;
		case 'I':
			parse_list(optarg, "--iommu", iommu_names, I_NR, o.iommu);
			break;
		case 'w': {
			static const char *const wl[] = { "io", "dmamap" };
			bool w[2];

			parse_list(optarg, "--workload", wl, 2, w);
			o.io = w[0];
			o.dmamap = w[1];
			break;
		}
		case 'p':
			parse_points(optarg, &o);
			break;
		case 'n':
			o.ios = parse_u64(optarg, "--ios");
			if (!o.ios || o.ios > 10000000)
				usage_error("--ios: %s is not in 1..10000000", optarg);
			break;
		case 't':
			o.ms = parse_u64(optarg, "--ms");
			if (o.ms < 10 || o.ms > 600000)
				usage_error("--ms: %s is not in 10..600000", optarg);
			break;
		case 'D':
			parse_dmamap(optarg, &o);
			break;
		case 'a':
			if (strcmp(optarg, "auto") && strcmp(optarg, "kvm") && strcmp(optarg, "tcg"))
				usage_error("--accel: '%s' is not auto, kvm or tcg", optarg);
			o.accel = optarg;
			break;
		case 's':
			o.smp = (unsigned)parse_u64(optarg, "--smp");
			if (o.smp < 1 || o.smp > 64)
				usage_error("--smp: %s is not in 1..64", optarg);
			break;
		case 'M':
			o.mem_mib = (unsigned)parse_u64(optarg, "--mem");
			if (o.mem_mib < 512 || o.mem_mib > 16384)
				usage_error("--mem: %s MiB is not in 512..16384", optarg);
			break;
		case 'T':
			o.timeout_s = parse_u64(optarg, "--timeout");
			if (o.timeout_s < 5 || o.timeout_s > 86400)
				usage_error("--timeout: %s is not in 5..86400 seconds", optarg);
			break;
		case 'r':
			o.results = optarg;
			break;
		case 'l':
			o.label = optarg;
			break;
		case 'N':
			o.trace = false;
			break;
		case 'P':
			o.plot = false;
			break;
		case 'k':
			o.keep_going = true;
			break;
		case 'h':
			fputs(qemu_usage, stdout);
			return 0;
		default:
			usage_error("qemu run: bad option (see `iob qemu --help`)");
		}
	}
	if (optind < argc)
		usage_error("qemu run: unexpected argument '%s'", argv[optind]);
	if (!o.io && !o.dmamap)
		usage_error("--workload: nothing to run");
	for (const char *s = o.label; *s; s++)
		if (!(*s == '.' || *s == '_' || *s == '-' || (*s >= '0' && *s <= '9') ||
		      (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			usage_error("--label: '%s' may hold only letters, digits, '.', '_', '-'", o.label);
	if (!*o.label || strlen(o.label) > 64)
		usage_error("--label: 1 to 64 characters");

	guest_build(&g, false);
	rs.g = &g;
	{
		const char *base = access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";

		snprintf(rs.scratch, sizeof(rs.scratch), "%s/iob-qemu-XXXXXX", base);
		if (!mkdtemp(rs.scratch))
			run_error("qemu: %s: %s", rs.scratch, strerror(errno));
		snprintf(scratch_for_exit, sizeof(scratch_for_exit), "%s", rs.scratch);
		atexit(remove_scratch);
	}
	rs.accel = pick_accel(&rs);
	results_env_collect(&env, argc + 1, argv - 1, 0);
	ret = rundir_create(o.results, o.label, &env, &rd);
	if (ret)
		run_error("%s: cannot create the run folder: %s", o.results, strerror(-ret));
	snprintf(rs.dir, sizeof(rs.dir), "%s", rundir_path(rd));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);

	q = open_csv(&rs, &env, "qemu.csv", "qemu",
		     "iops, mb_per_s and latency (submit to completion; O_DIRECT; Linux AIO) measured "
		     "in the guest; *_per_io: QEMU's trace events in the point's window",
		     QEMU_CSV_COLS);
	dm = open_csv(&rs, &env, "qemu_dmamap.csv", "qemu_dmamap",
		      "the dmabench module: TSC cycles of the guest (guest_tsc_khz) per call; "
		      "kernel_*_us as dma_map_benchmark reports them (100 ns units)", DMAMAP_CSV_COLS);
	counts = open_csv(&rs, &env, "qemu_trace_counts.csv", "qemu_trace_counts",
			  "QEMU trace events per window (window=all: the whole boot); "
			  "inval_<size>: page invalidations by size where the event gives it (VT-d)",
			  "iommu,device,mode,window,ios,window_us," COUNT_COLS);
	runs = open_csv(&rs, &env, "qemu_runs.csv", "qemu_runs", NULL,
			"iommu,device,mode,accel,status,seconds,amdvi_found,amdvi_intremap,dmar_found,"
			"reason");

	for (int i = 0; i < I_NR; i++) {
		for (int d = 0; d < D_NR; d++) {
			for (int m = 0; m < M_NR; m++) {
				struct boot *b = &boots[nb];

				if (!o.iommu[i] || !o.dev[d] || !o.mode[m] || interrupted)
					continue;
				/* Without an IOMMU the IOMMU kind does not matter: run it once. */
				if (m == M_NOIOMMU && i != I_AMD && o.iommu[I_AMD])
					continue;
				b->iommu = (enum qiommu)i;
				b->dev = (enum qdev)d;
				b->mode = (enum qmode)m;
				run_one(&rs, b, q, counts, dm, runs);
				nb++;
				if (!b->ok) {
					failed++;
					if (!o.keep_going)
						goto done;
				}
			}
		}
	}
done:
	{
		struct csv *all[] = { q, dm, counts, runs };

		for (size_t i = 0; i < 4; i++) {
			ret = csv_close(all[i]);
			if (ret)
				run_error("qemu: closing a CSV: %s", strerror(-ret));
		}
	}
	remove_scratch();
	if (interrupted) {
		rundir_abort(rd);
		fprintf(stderr, "iob qemu: interrupted; partial run removed\n");
		return 130;
	}
	if (failed && !o.keep_going) {
		/* Hidden name, kept for its console logs: it never looks complete. */
		fprintf(stderr, "iob qemu: a boot failed; the incomplete folder stays at %s "
			"(console-*.log says why)\n", rs.dir);
		return 1;
	}
	if (fidelity_dir(rs.dir, &env) < 0)
		fprintf(stderr, "iob qemu: no AMD strict or lazy window with a trace: fidelity.csv "
			"has no rows\n");
	write_meta(&rs, &env, boots, nb, host_now_s() - t_start);
	if (o.plot && cmd_plot_dir(rs.dir, true))
		fprintf(stderr, "iob qemu: plotting failed; the CSVs are complete\n");
	ret = rundir_commit(rd, final, sizeof(final));
	if (ret)
		run_error("qemu: cannot rename the run folder into place: %s", strerror(-ret));
	for (unsigned i = 0; i < nb; i++)
		qcon_free(&boots[i].con);
	fprintf(stderr, "iob qemu: done in %.0f s%s\n", host_now_s() - t_start,
		failed ? " (with failed boots: see qemu_runs.csv)" : "");
	printf("%s\n", final);
	return failed ? 1 : 0;
}

int cmd_qemu(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(qemu_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "fidelity"))
		return cmd_fidelity(argc - 1, argv + 1);
	if (!strcmp(argv[1], "build")) {
		struct guest g;
		bool force = false;

		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--force"))
				force = true;
			else
				usage_error("qemu build: unexpected argument '%s'", argv[i]);
		}
		guest_build(&g, force);
		printf("kernel %s (%s)\ninitrd %s\n", g.kernel, g.kver, g.initrd);
		return 0;
	}
	usage_error("qemu: unknown subcommand '%s' (run, fidelity, build)", argv[1]);
}
