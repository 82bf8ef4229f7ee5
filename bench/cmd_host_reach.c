// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob host reach: the IOTLB's reach and the cost of a miss, measured from
 * the device side with hardware every server has: a spare NVMe controller
 * (or AMD's PTDMA engine) driven from user space through VFIO, its DMA
 * spread over a window of W bytes mapped with page size P, so that
 * consecutive DMAs need distinct IOTLB entries (pcie-bench's experiment,
 * Neugebauer et al., SIGCOMM 2018, without its FPGA).
 *
 * Per point (pattern, page size, window, queue depth): the window is
 * mapped, a scratch page mapped and unmapped (an invalidation: an
 * emulated IOMMU empties the domain's IOTLB, a real one loses nothing of
 * the window), warm-up I/Os bring the IOTLB to its steady state, then the
 * timed I/Os (TSC from the doorbell to the completion seen), then a few
 * I/Os whose data is checked where it landed. The same I/Os replayed on
 * the AMD-Vi model give the misses QEMU's IOTLB and the model's default
 * one predict (host_reach.csv); at queue depth 1 the curve of latency
 * against window is fitted to every candidate geometry (host_reach_fit.csv):
 * entries, ways, and the cost of a miss with its interval.
 *
 * The NVMe engine only ever reads, from the LBAs the user names (or the
 * first --span bytes): nothing is written to the media.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <iob/alloc.h>
#include <iob/cost.h>
#include <iob/cycles.h>
#include <iob/hostinfo.h>
#include <iob/pmuev.h>
#include <iob/reach.h>
#include <iob/reachfit.h>

#include "bench.h"
#include "host.h"
#include "host_cmds.h"
#include "reachdev.h"
#include "util.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif

#define WIN_IOVA	(4ULL << 30)	/* above every x86 reserved region, 1 GiB aligned */
#define SCRATCH_IOVA	(8ULL << 30)
#define MAX_WINDOWS	32
#define MAX_QDS		8
#define VERIFY_IOS	32
#define TIMEOUT_S	10
#define MARK_OFF	0x10		/* NVMe INTMC: a read has no effect */
#define PMU_NEV		5

/* The AMD IOMMU PMU's events counted per point (drivers/perf/amd/iommu.c names). */
static const char *const pmu_ev[PMU_NEV] = {
	"mem_iommu_tlb_pte_hit", "mem_iommu_tlb_pte_mis", "mem_iommu_tlb_pde_hit",
	"mem_iommu_tlb_pde_mis", "page_tbl_read_tot",
};

static const char reach_usage[] =
	"usage: iob host reach --device BDF [--bind] [--engine auto|nvme|ptdma]\n"
	"                      [--nsid N] [--lba-offset BYTES] [--span BYTES]\n"
	"                      [--windows LIST] [--page-sizes 4K,2M,1G] [--patterns LIST]\n"
	"                      [--qd LIST] [--io-pages N] [--ios N] [--warm N] [--quick]\n"
	"                      [--stamped] [--mark-mmio] [--no-fit] [--resamples N]\n"
	"                      [--cost-out FILE] [--no-pmu] [--seed N] [--cpu N] [--out DIR]\n"
	"\n"
	"The IOTLB's reach and the cost of a miss, from the device side: reads (NVMe) or\n"
	"copies (PTDMA) whose data pages are spread over a window mapped with one page size,\n"
	"consecutive DMAs on distinct pages. The NVMe controller must be a spare one: one that\n"
	"holds a mounted filesystem is refused, and only Read commands are issued.\n"
	"  --engine      nvme, ptdma (AMD 1022:1498, untested: no machine here has one), or\n"
	"                auto from the device's class and ID (default)\n"
	"  --nsid        NVMe namespace (default 1)\n"
	"  --lba-offset  reads start this many bytes into the namespace (default 0)\n"
	"  --span        and stay within this many bytes (default 64M, or the namespace)\n"
	"  --windows     DMA windows (default 16K,64K,256K,1M,4M,16M,64M,256M,1G)\n"
	"  --page-sizes  the window's mapping: 4K, 2M, 1G; 2M and 1G from hugetlbfs\n"
	"                (default 4K,2M)\n"
	"  --patterns    seq, stride, random (default seq,stride,random)\n"
	"  --qd          queue depths (default 1,32): 1 gives latency and the fit, deeper\n"
	"                ones bandwidth\n"
	"  --io-pages    4 KiB pages per transfer, one translation each (default 8)\n"
	"  --ios         timed transfers per point (default 4000)\n"
	"  --warm        transfers before timing (default: twice the window's pages, 256 to\n"
	"                16384, over --io-pages)\n"
	"  --quick       16K..64M by 4x, 4K and 2M, seq and random, qd 1 and 8, 4 pages,\n"
	"                200 timed, 64 warm-up transfers\n"
	"  --stamped     every 4 KiB block of the span starts with \"IOBREACH\" and its block\n"
	"                number (a prepared disk): the check compares them, else it only\n"
	"                checks that the data landed\n"
	"  --mark-mmio   read the NVMe's INTMC register (10h) before and after each timed\n"
	"                loop, so an emulator's trace can be cut into the same windows\n"
	"  --no-fit      no geometry fit\n"
	"  --resamples   bootstrap resamples of the fit's intervals (default 200)\n"
	"  --no-pmu      do not count the AMD IOMMU PMU's IOTLB events around each point\n"
	"                (counted, filtered to the device, where the PMU exists)\n"
	"  --cost-out    write the current cost model with the fitted IOTLB geometry and\n"
	"                walk_level_ns (the 4K random fit) there\n"
	"  --out DIR     write host_reach.csv (a row per point), host_reach_cdf.csv,\n"
	"                host_reach_fit.csv and host_reach_fit_curve.csv (the fits)\n"
	"Exit status: 0 ok, 1 a step or a data check failed, 2 bad usage or a refused device.\n";

struct reach_opts {
	const char *bdf, *out, *cost_out;
	bool bind, kind_auto, stamped, mark_mmio, fit, quick, pmu;
	enum reachdev_kind kind;
	uint32_t nsid;
	uint64_t lba_offset, span;
	uint64_t windows[MAX_WINDOWS];
	unsigned nwindows;
	uint64_t psizes[3];
	unsigned npsizes;
	bool pattern[REACH_PATTERN_NR];
	uint64_t qds[MAX_QDS];
	unsigned nqds;
	unsigned io_pages;
	uint64_t ios, warm, seed, resamples;
	int cpu;
};

static void defaults(struct reach_opts *o)
{
	static const uint64_t w[] = { 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20,
				      64 << 20, 256 << 20, 1 << 30 };

	memset(o, 0, sizeof(*o));
	o->kind_auto = o->fit = o->pmu = true;
	o->nsid = 1;
	o->span = 64 << 20;
	memcpy(o->windows, w, sizeof(w));
	o->nwindows = sizeof(w) / sizeof(w[0]);
	o->psizes[0] = 4096;
	o->psizes[1] = 2 << 20;
	o->npsizes = 2;
	for (int p = 0; p < REACH_PATTERN_NR; p++)
		o->pattern[p] = true;
	o->qds[0] = 1;
	o->qds[1] = 32;
	o->nqds = 2;
	o->io_pages = 8;
	o->ios = 4000;
	o->seed = 1;
	o->resamples = 200;
	o->cpu = -1;
}

/* --quick: what fits a TCG guest in minutes; only options not given are changed. */
static void quick(struct reach_opts *o, const bool *given)
{
	if (!given['w']) {
		o->nwindows = 0;
		for (uint64_t w = 16 << 10; w <= 64 << 20; w *= 4)
			o->windows[o->nwindows++] = w;
	}
	if (!given['P']) {
		o->pattern[REACH_STRIDE] = false;
	}
	if (!given['q']) {
		o->qds[1] = 8;
	}
	if (!given['i'])
		o->io_pages = 4;
	if (!given['n'])
		o->ios = 200;
	if (!given['W'])
		o->warm = 64;
}

static void parse_patterns(const char *arg, struct reach_opts *o)
{
	char buf[256], *save = NULL;

	if (strlen(arg) >= sizeof(buf))
		usage_error("--patterns: too long");
	check_list(arg, "--patterns");
	strcpy(buf, arg);
	memset(o->pattern, 0, sizeof(o->pattern));
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int p = reach_pattern_parse(t);

		if (p < 0)
			usage_error("--patterns: '%s' is not seq, stride or random", t);
		o->pattern[p] = true;
	}
	if (!o->pattern[0] && !o->pattern[1] && !o->pattern[2])
		usage_error("--patterns: none given");
}

static uint64_t opt_num(const char *arg, const char *what, uint64_t lo, uint64_t hi)
{
	char err[256];
	uint64_t v;

	if (opt_u64(arg, lo, hi, &v, err, sizeof(err)))
		usage_error("%s: %s", what, err);
	return v;
}

static void parse_lists(int c, const char *arg, struct reach_opts *o)
{
	char err[256];

	switch (c) {
	case 'w':
		if (opt_size_list(arg, o->windows, MAX_WINDOWS, &o->nwindows, false, err, sizeof(err)))
			usage_error("--windows: %s", err);
		for (unsigned i = 0; i < o->nwindows; i++)
			if (o->windows[i] < 4096 || o->windows[i] % 4096 || o->windows[i] > (1ULL << 32))
				usage_error("--windows: %s: every window must be a multiple of 4K, "
					    "4K to 4G", arg);
		break;
	case 's':
		if (opt_size_list(arg, o->psizes, 3, &o->npsizes, true, err, sizeof(err)))
			usage_error("--page-sizes: %s", err);
		for (unsigned i = 0; i < o->npsizes; i++)
			if (o->psizes[i] != 4096 && o->psizes[i] != (2 << 20) && o->psizes[i] != (1 << 30))
				usage_error("--page-sizes: %s: every size must be 4K, 2M or 1G", arg);
		break;
	case 'q':
		if (opt_u64_list(arg, 1, REACHDEV_QD_MAX, o->qds, MAX_QDS, &o->nqds, err, sizeof(err)))
			usage_error("--qd: %s", err);
		break;
	}
}

static void parse_rest(int c, const char *arg, struct reach_opts *o)
{
	switch (c) {
	case 'e':
		o->kind_auto = !strcmp(arg, "auto");
		if (!strcmp(arg, "nvme"))
			o->kind = REACHDEV_NVME;
		else if (!strcmp(arg, "ptdma"))
			o->kind = REACHDEV_PTDMA;
		else if (!o->kind_auto)
			usage_error("--engine: '%s' is not auto, nvme or ptdma", arg);
		break;
	case 'N': o->nsid = (uint32_t)opt_num(arg, "--nsid", 1, 0xfffffffe); break;
	case 'L': o->lba_offset = parse_size(arg, "--lba-offset"); break;
	case 'S': o->span = parse_size(arg, "--span"); break;
	case 'i': o->io_pages = (unsigned)opt_num(arg, "--io-pages", 1, REACH_IO_PAGES_MAX); break;
	case 'n': o->ios = opt_num(arg, "--ios", 10, 10000000); break;
	case 'W': o->warm = opt_num(arg, "--warm", 0, 10000000); break;
	case 'R': o->resamples = opt_num(arg, "--resamples", 0, 100000); break;
	case 'x': o->seed = opt_num(arg, "--seed", 0, UINT64_MAX); break;
	case 'c': o->cpu = (int)opt_num(arg, "--cpu", 0, 4095); break;
	default: parse_lists(c, arg, o);
	}
}

static void parse(int argc, char **argv, struct reach_opts *o)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'D' }, { "bind", no_argument, NULL, 'B' },
		{ "engine", required_argument, NULL, 'e' }, { "nsid", required_argument, NULL, 'N' },
		{ "lba-offset", required_argument, NULL, 'L' }, { "span", required_argument, NULL, 'S' },
		{ "windows", required_argument, NULL, 'w' },
		{ "page-sizes", required_argument, NULL, 's' },
		{ "patterns", required_argument, NULL, 'P' }, { "qd", required_argument, NULL, 'q' },
		{ "io-pages", required_argument, NULL, 'i' }, { "ios", required_argument, NULL, 'n' },
		{ "warm", required_argument, NULL, 'W' }, { "quick", no_argument, NULL, 'Q' },
		{ "stamped", no_argument, NULL, 'T' }, { "mark-mmio", no_argument, NULL, 'M' },
		{ "no-fit", no_argument, NULL, 'F' }, { "resamples", required_argument, NULL, 'R' },
		{ "cost-out", required_argument, NULL, 'C' }, { "seed", required_argument, NULL, 'x' },
		{ "cpu", required_argument, NULL, 'c' }, { "out", required_argument, NULL, 'o' },
		{ "no-pmu", no_argument, NULL, 'U' }, { "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	bool given[128] = { false };
	int c;

	defaults(o);
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c > 0 && c < 128)
			given[c] = true;
		switch (c) {
		case 'D': o->bdf = optarg; break;
		case 'B': o->bind = true; break;
		case 'P': parse_patterns(optarg, o); break;
		case 'Q': o->quick = true; break;
		case 'T': o->stamped = true; break;
		case 'M': o->mark_mmio = true; break;
		case 'F': o->fit = false; break;
		case 'U': o->pmu = false; break;
		case 'C': o->cost_out = optarg; break;
		case 'o': o->out = optarg; break;
		case 'h': fputs(reach_usage, stdout); exit(0);
		case '?': usage_error("host reach: bad option (see `iob host reach --help`)");
		default: parse_rest(c, optarg, o);
		}
	}
	if (optind < argc)
		usage_error("host reach: unexpected argument '%s'", argv[optind]);
	if (!o->bdf)
		usage_error("host reach: --device BDF is required");
	if (!hostinfo_bdf_valid(o->bdf))
		usage_error("--device: '%s' is not a PCI address DDDD:BB:DD.F (lower-case hex)", o->bdf);
	if (o->quick)
		quick(o, given);
	if (o->lba_offset % 4096 || !o->span || o->span % 4096)
		usage_error("--lba-offset and --span: multiples of 4K, the span not 0");
	if (o->cost_out && !o->fit)
		usage_error("--cost-out writes the fitted geometry: it cannot go with --no-fit");
}

/* ---- the device ------------------------------------------------------------------------- */

struct slot {
	uint64_t t0, block;
	unsigned npages;
	uint64_t off[REACH_IO_PAGES_MAX];
	bool busy, verify;
};

struct probe {
	const struct reach_opts *o;
	struct vfioc v;
	struct reachdev r;
	uint8_t *win, *scratch;
	uint64_t win_len;	/* mapped at WIN_IOVA */
	uint64_t block;		/* the next span block to read */
	uint64_t checked, bad;	/* pages checked since the last reset */
	struct slot slot[REACHDEV_QD_MAX];
	uint64_t *lat;		/* cycles per timed transfer */
	struct hist h;
	int pmu_fd[PMU_NEV];	/* -1: not counted */
	uint64_t pmu_delta[PMU_NEV];
};

/*
 * The PMU of the IOMMU the device sits behind (ivhdN -> amd_iommu_N), its
 * IOTLB events filtered to the device's ID (devid, devid_mask 0xffff).
 * Where there is none, or an event cannot be opened, nothing is counted.
 */
static void pmu_open(struct probe *p, const struct hostinfo_pci *pci)
{
	unsigned bus, dev, fn;
	const char *d = pci->iommu + strcspn(pci->iommu, "0123456789");
	char pmu[64], err[512];

	for (int i = 0; i < PMU_NEV; i++)
		p->pmu_fd[i] = -1;
	snprintf(pmu, sizeof(pmu), "amd_iommu_%s", *d ? d : "0");
	if (!p->o->pmu || sscanf(p->o->bdf, "%*x:%x:%x.%x", &bus, &dev, &fn) != 3)
		return;
	for (int i = 0; i < PMU_NEV; i++) {
		struct pmuev_term t[] = { { "devid", bus << 8 | dev << 3 | fn },
					  { "devid_mask", 0xffff } };
		struct perf_event_attr a = { .size = sizeof(a) };
		struct pmuev ev;
		int ret = pmuev_resolve("", pmu, pmu_ev[i], t, 2, &ev, err, sizeof(err));

		if (ret) {
			if (i || ret != -ENOENT)
				printf("# PMU not counted: %s\n", err);
			break;
		}
		a.type = ev.type;
		a.config = ev.config;
		a.config1 = ev.config1;
		a.config2 = ev.config2;
		p->pmu_fd[i] = (int)syscall(SYS_perf_event_open, &a, -1, 0, -1, 0);
		if (p->pmu_fd[i] < 0) {
			printf("# PMU not counted: %s/%s: perf_event_open: %s\n", pmu, pmu_ev[i],
			       strerror(errno));
			break;
		}
	}
	if (p->pmu_fd[PMU_NEV - 1] >= 0) {
		printf("# PMU %s: IOTLB events of device %s counted per point\n", pmu, p->o->bdf);
		return;
	}
	for (int i = 0; i < PMU_NEV; i++)
		if (p->pmu_fd[i] >= 0)
			close(p->pmu_fd[i]);
	for (int i = 0; i < PMU_NEV; i++)
		p->pmu_fd[i] = -1;
}

/* @sign -1 before the timed loop, +1 after: pmu_delta accumulates the difference. */
static void pmu_read(struct probe *p, int sign)
{
	for (int i = 0; i < PMU_NEV; i++) {
		uint64_t v = 0;

		if (p->pmu_fd[i] < 0)
			continue;
		if (read(p->pmu_fd[i], &v, sizeof(v)) != (ssize_t)sizeof(v))
			run_error("host reach: reading the PMU counter %s failed", pmu_ev[i]);
		if (sign < 0)
			p->pmu_delta[i] = 0 - v;
		else
			p->pmu_delta[i] += v;
	}
}

static void mark(struct probe *p)
{
	if (p->o->mark_mmio)
		(void)vfioc_mmio_read32(&p->v, MARK_OFF);
}

/* Map @len bytes of page size @psize at WIN_IOVA (the previous window unmapped first). */
static int window_map(struct probe *p, uint64_t psize, uint64_t len)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	int ret;

	if (p->win) {
		vfioc_unmap(&p->v, WIN_IOVA, p->win_len, NULL);
		munmap(p->win, p->win_len);
		p->win = NULL;
	}
	if (psize > 4096)
		flags |= MAP_HUGETLB | ((psize == (2 << 20) ? 21 : 30) << MAP_HUGE_SHIFT);
	p->win = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p->win == MAP_FAILED) {
		p->win = NULL;
		return -errno;
	}
	if (psize == 4096)
		madvise(p->win, len, MADV_NOHUGEPAGE);
	memset(p->win, 0, len);
	p->win_len = len;
	ret = vfioc_map(&p->v, p->win, WIN_IOVA, len);
	if (ret) {
		munmap(p->win, len);
		p->win = NULL;
	}
	return ret;
}

/* An invalidation of the domain: map and unmap a page outside the window. */
static void invalidate(struct probe *p)
{
	if (vfioc_map(&p->v, p->scratch, SCRATCH_IOVA, 4096) ||
	    vfioc_unmap(&p->v, SCRATCH_IOVA, 4096, NULL))
		run_error("host reach: mapping the scratch page failed");
}

/*
 * Whether page @i of @s holds the stamp of a block the transfer read into
 * it: a random pattern may give one frame twice in a transfer, and then
 * either block may be the one left there.
 */
static bool stamp_ok(const struct probe *p, const struct slot *s, const uint8_t *pg, unsigned i)
{
	uint64_t first = reachdev_block_of(&p->r, s->block);

	for (unsigned j = 0; j < s->npages; j++) {
		uint64_t want[2] = { REACHDEV_STAMP_MAGIC, first + j };

		if (s->off[j] == s->off[i] && !memcmp(pg, want, sizeof(want)))
			return true;
	}
	return false;
}

static void check_slot(struct probe *p, const struct slot *s)
{
	for (unsigned i = 0; i < s->npages; i++) {
		const uint8_t *pg = p->win + s->off[i];
		bool ok;

		if (p->r.cfg.kind == REACHDEV_PTDMA)
			ok = pg[0] == 0x5a && !memcmp(pg, pg + 1, 4095);
		else if (p->o->stamped)
			ok = stamp_ok(p, s, pg, i);
		else
			ok = !(pg[0] == 0xa5 && !memcmp(pg, pg + 1, 4095));
		p->checked++;
		p->bad += !ok;
	}
}

/* Queue transfer @slot: its pages from the pattern; poisoned first when it is checked. */
static void submit(struct probe *p, struct reach_gen *g, unsigned slot, bool verify)
{
	struct slot *s = &p->slot[slot];
	uint64_t iova[REACH_IO_PAGES_MAX];
	unsigned n = p->r.cfg.io_pages;
	int ret;

	for (unsigned i = 0; i < n; i++) {
		s->off[i] = reach_gen_next(g);
		iova[i] = WIN_IOVA + s->off[i];
		if (verify)
			memset(p->win + s->off[i], 0xa5, 4096);
	}
	s->npages = n;
	s->block = p->block;
	s->verify = verify;
	p->block += n;
	ret = reachdev_submit(&p->r, slot, iova, n, s->block);
	if (ret)
		run_error("host reach: submitting a transfer: %s", strerror(-ret));
	s->busy = true;
	s->t0 = cycles_now();
	reachdev_ring(&p->r);
}

/* Reap; returns the transfers that completed. Exits on a device error or a timeout. */
static unsigned reap(struct probe *p, uint64_t *lat, uint64_t *nlat, uint64_t *spin_t0)
{
	unsigned slots[64], err = 0, k = reachdev_reap(&p->r, slots, 64, &err);
	uint64_t now = cycles_end();

	if (err)
		run_error("host reach: the device failed a transfer (status 0x%x)", err);
	if (!k) {
		if (cycles_to_ns((double)(now - *spin_t0), cycles_info()) > TIMEOUT_S * 1e9)
			run_error("host reach: no completion in %d s (the device hangs?)", TIMEOUT_S);
		return 0;
	}
	*spin_t0 = now;
	for (unsigned i = 0; i < k; i++) {
		struct slot *s = &p->slot[slots[i] % REACHDEV_QD_MAX];

		if (slots[i] >= REACHDEV_QD_MAX || !s->busy)
			run_error("host reach: the device completed slot %u, which was not in flight",
				  slots[i]);
		s->busy = false;
		if (lat)
			lat[(*nlat)++] = now - s->t0;
		if (s->verify)
			check_slot(p, s);
	}
	return k;
}

/*
 * @n transfers at queue depth @qd, slot = transfers since open mod @qd (so
 * the PRP list each uses is the one the prediction assumes); timed into
 * @lat when not NULL. Returns the TSC cycles from the first doorbell to
 * the last completion.
 */
static uint64_t run_ios(struct probe *p, struct reach_gen *g, uint64_t n, unsigned qd,
			uint64_t *lat, bool verify)
{
	uint64_t sub = 0, done = 0, nlat = 0, t0 = cycles_now(), spin = t0;
	unsigned inflight = 0;

	while (done < n) {
		while (sub < n && inflight < qd) {
			unsigned slot = (unsigned)(p->r.cmds % qd);

			if (p->slot[slot].busy)
				break;
			submit(p, g, slot, verify);
			sub++;
			inflight++;
		}
		{
			unsigned k = reap(p, lat, &nlat, &spin);

			done += k;
			inflight -= k;
		}
	}
	return cycles_end() - t0;
}

/* ---- points ----------------------------------------------------------------------------- */

#define ROW_COLS                                                                              \
	"device,engine,tested,point,mark_window," REACH_REPLAY_COLS ",levels,lat_p50_ns,"      \
	"lat_p50_lo_ns,lat_p50_hi_ns,lat_p90_ns,lat_p99_ns,lat_mean_ns,lat_min_ns,mb_s,"        \
	"ios_per_s,checked,bad,qemu_translations,qemu_hits,qemu_misses,qemu_misses_per_io,"     \
	"model_geometry,model_translations,model_hits,model_misses,model_misses_per_io,"       \
	"model_data_miss_share,model_levels_read,model_xlate_ns_per_io,pmu_pte_hits_per_io,"  \
	"pmu_pte_misses_per_io,pmu_pde_hits_per_io,pmu_pde_misses_per_io,pmu_table_reads_per_io"
#define CDF_COLS "point,pattern,page_size_bytes,window_bytes,qd,bucket_ns,cum_fraction"

/* A point run, kept for the fit. */
struct ran {
	struct reachfit_point fp;
	unsigned qd;
	double *y;		/* ns per timed transfer */
};

struct out {
	struct csv *rows, *cdf, *fit, *curve;
	struct ran *ran;
	size_t nran, cap;
	bool data_bad;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double ns_of(uint64_t cyc)
{
	return cycles_to_ns((double)cyc, cycles_info());
}

/* Latency columns: p50 with its 95% order-statistic interval, p90, p99, mean, min. */
static void lat_fields(uint64_t *lat, uint64_t n, char *buf, size_t len)
{
	double half = 0.98 * sqrt((double)n), sum = 0;
	long lo = (long)floor((double)n / 2 - half), hi = (long)ceil((double)n / 2 + half);

	qsort(lat, n, sizeof(*lat), cmp_u64);
	for (uint64_t i = 0; i < n; i++)
		sum += (double)lat[i];
	lo = lo < 0 ? 0 : lo;
	hi = hi > (long)n - 1 ? (long)n - 1 : hi;
	snprintf(buf, len, "%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f", ns_of(lat[n / 2]), ns_of(lat[lo]),
		 ns_of(lat[hi]), ns_of(lat[n * 9 / 10]), ns_of(lat[n * 99 / 100]),
		 ns_of((uint64_t)(sum / (double)n)), ns_of(lat[0]));
}

static unsigned layout_levels(const struct reach_layout *l, uint64_t window)
{
	uint64_t top = l->window_iova + window - 1;
	uint64_t c[] = { l->sq_iova, l->cq_iova, l->prp_iova + (uint64_t)l->slots * 4096,
			 l->src_iova };

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		top = c[i] > top ? c[i] : top;
	return reach_levels_for(top);
}

/* The point replayed on the model with QEMU's IOTLB and the default geometry. */
static void predict(const struct ran *rn, struct reach_pred *q, struct reach_pred *d,
		    struct iotlb_cfg *dgeo)
{
	struct iotlb_cfg qgeo;
	struct cost_model cm;
	struct reach_model *m;
	int ret;

	iotlb_cfg_qemu(&qgeo);
	cost_current(&cm);
	iotlb_cfg_default(&cm, dgeo);
	ret = reach_model_create(&rn->fp.pt, &rn->fp.lay, &m);
	if (!ret) {
		ret = reach_model_run(m, &rn->fp.pt, &qgeo, NULL, rn->fp.warm, rn->fp.ios, q);
		if (!ret)
			ret = reach_model_run(m, &rn->fp.pt, dgeo, NULL, rn->fp.warm, rn->fp.ios, d);
		reach_model_destroy(m);
	}
	if (ret)
		run_error("host reach: the model cannot replay the point: %s", strerror(-ret));
}

static void write_row(struct probe *p, struct out *out, const struct ran *rn, size_t idx,
		      uint64_t cyc)
{
	const struct reach_point *pt = &rn->fp.pt;
	const struct reach_layout *l = &rn->fp.lay;
	struct reach_pred q, d;
	struct iotlb_cfg dgeo;
	char lat[256], gname[64], pmu[160];
	double secs = ns_of(cyc) / 1e9, ios = (double)rn->fp.ios;
	size_t pn = 0;

	for (int i = 0; i < PMU_NEV; i++)
		pn += (size_t)snprintf(pmu + pn, sizeof(pmu) - pn, ",%.3f",
				       p->pmu_fd[i] < 0 ? -1.0 : (double)p->pmu_delta[i] / ios);

	predict(rn, &q, &d, &dgeo);
	lat_fields(p->lat, rn->fp.ios, lat, sizeof(lat));
	csv_row(out->rows,
		"%s,%s,%d,%zu,%lld,%s,%" PRIu64 ",%" PRIu64 ",%u,%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64
		",%" PRIu64 ",0x%" PRIx64 ",0x%" PRIx64 ",0x%" PRIx64 ",0x%" PRIx64 ",0x%" PRIx64
		",%u,%u,%u,%s,%.1f,%.0f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
		",%.4f,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.4f,%.4f,%" PRIu64 ",%.2f%s",
		p->o->bdf, reachdev_kind_name(p->r.cfg.kind), p->r.tested, idx,
		p->o->mark_mmio ? (long long)(2 * idx) : -1LL, reach_pattern_name(pt->pattern),
		pt->page_size, pt->window, pt->io_pages, rn->qd, pt->seed, rn->fp.warm, rn->fp.ios,
		l->first, l->window_iova, l->sq_iova, l->cq_iova, l->prp_iova, l->src_iova, l->qsize,
		l->slots, layout_levels(l, pt->window), lat,
		ios * pt->io_pages * 4096 / secs / 1e6, ios / secs, p->checked, p->bad,
		q.translations, q.hits, q.misses, (double)q.misses / ios,
		reachfit_geo_name(&dgeo, gname, sizeof(gname)), d.translations, d.hits, d.misses,
		(double)d.misses / ios,
		d.data_translations ? (double)d.data_misses / (double)d.data_translations : 0,
		d.levels_read, d.model_ns / ios, pmu);
	printf("%-6s %4s %8s  qd %3u  p50 %9.0f ns  %9.1f MB/s  misses/io qemu %6.2f model %6.2f"
	       "  checked %" PRIu64 " bad %" PRIu64 "\n",
	       reach_pattern_name(pt->pattern), fmt_size(pt->page_size, gname, sizeof(gname)),
	       fmt_size(pt->window, lat, sizeof(lat)), rn->qd, ns_of(p->lat[rn->fp.ios / 2]),
	       ios * pt->io_pages * 4096 / secs / 1e6, (double)q.misses / ios,
	       (double)d.misses / ios, p->checked, p->bad);
	fflush(stdout);
}

static uint64_t warm_for(const struct reach_opts *o, uint64_t window)
{
	uint64_t w = 2 * window / 4096;

	if (o->warm || o->quick)
		return o->warm;
	w = w < 256 ? 256 : w > 16384 ? 16384 : w;
	return (w + o->io_pages - 1) / o->io_pages;
}

static void run_point(struct probe *p, struct out *out, struct reach_point pt, unsigned qd)
{
	const struct reach_opts *o = p->o;
	struct ran *rn;
	struct reach_gen g;
	char err[256], key[128];
	uint64_t cyc;

	if (reach_point_check(&pt, err, sizeof(err)))
		usage_error("host reach: %s", err);
	if (out->nran == out->cap) {
		struct ran *n = realloc(out->ran, (out->cap * 2 + 16) * sizeof(*n));

		if (!n)
			run_error("host reach: out of memory");
		out->ran = n;
		out->cap = out->cap * 2 + 16;
	}
	rn = &out->ran[out->nran];
	memset(rn, 0, sizeof(*rn));
	rn->qd = qd;
	rn->fp.pt = pt;
	rn->fp.warm = warm_for(o, pt.window);
	rn->fp.ios = o->ios;
	invalidate(p);
	reachdev_layout(&p->r, &rn->fp.lay);
	rn->fp.lay.window_iova = WIN_IOVA;
	rn->fp.lay.slots = qd;
	reach_gen_init(&g, &pt);
	run_ios(p, &g, rn->fp.warm, qd, NULL, false);
	mark(p);
	pmu_read(p, -1);
	cyc = run_ios(p, &g, o->ios, qd, p->lat, false);
	pmu_read(p, 1);
	mark(p);
	p->checked = p->bad = 0;
	run_ios(p, &g, VERIFY_IOS, 1, NULL, true);
	out->data_bad |= p->bad != 0;
	rn->y = malloc(o->ios * sizeof(double));
	if (!rn->y)
		run_error("host reach: out of memory");
	hist_init(&p->h);
	for (uint64_t i = 0; i < o->ios; i++) {
		rn->y[i] = ns_of(p->lat[i]);
		hist_record(&p->h, p->lat[i]);
	}
	rn->fp.y = rn->y;
	rn->fp.ny = o->ios;
	snprintf(key, sizeof(key), "%zu,%s,%" PRIu64 ",%" PRIu64 ",%u", out->nran,
		 reach_pattern_name(pt.pattern), pt.page_size, pt.window, qd);
	bench_write_cdf(out->cdf, key, &p->h, 1);
	write_row(p, out, rn, out->nran, cyc);
	out->nran++;
}

static void run_page_size(struct probe *p, struct out *out, uint64_t psize, uint64_t *index)
{
	const struct reach_opts *o = p->o;
	uint64_t maxw = 0;
	char b[32];
	int ret;

	for (unsigned w = 0; w < o->nwindows; w++)
		maxw = o->windows[w] > maxw ? o->windows[w] : maxw;
	maxw = (maxw + psize - 1) / psize * psize;
	ret = window_map(p, psize, maxw);
	if (ret) {
		printf("# page size %s skipped: a window of %s cannot be had or mapped (%s)%s\n",
		       fmt_size(psize, b, sizeof(b)), fmt_size(maxw, b + 16, 16), strerror(-ret),
		       psize > 4096 ? "; reserve huge pages: /sys/kernel/mm/hugepages/*/nr_hugepages"
				    : "");
		return;
	}
	for (int pat = 0; pat < REACH_PATTERN_NR; pat++) {
		if (!o->pattern[pat])
			continue;
		for (unsigned w = 0; w < o->nwindows; w++)
			for (unsigned q = 0; q < o->nqds; q++) {
				struct reach_point pt = {
					.window = o->windows[w], .page_size = psize,
					.pattern = (enum reach_pattern)pat, .io_pages = o->io_pages,
					.seed = o->seed + (*index)++,
				};

				run_point(p, out, pt, (unsigned)o->qds[q]);
			}
	}
}

/* ---- the fit ---------------------------------------------------------------------------- */

/* The cost file: the current model with the fitted IOTLB and walk_level_ns = b / levels. */
static void write_cost(const char *path, const struct reachfit_result *r,
		       const struct reachfit_point *p)
{
	const struct iotlb_cfg *g = &r->geo[r->fit.best];
	char tmp[4200], buf[8192];
	struct cost_model m;
	unsigned levels = layout_levels(&p->lay, p->pt.window);
	FILE *f;

	cost_current(&m);
	if (g->repl != IOTLB_REPL_LRU) {
		printf("# --cost-out: the fitted geometry (%s) is not one the cost model holds; "
		       "nothing written\n", reachfit_geo_name(g, buf, sizeof(buf)));
		return;
	}
	m.iotlb_entries = g->entries;
	m.iotlb_ways = g->ways;
	if (r->fit.b > 0)
		m.walk_level_ns = r->fit.b / levels;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		run_error("host reach: --cost-out: %s: %s", tmp, strerror(errno));
	cost_format(&m, buf, sizeof(buf));
	fprintf(f, "# iob host reach: IOTLB geometry and walk_level_ns (miss cost %.1f ns over %u "
		"levels) fitted to the 4K curve\n%s", r->fit.b, levels, buf);
	if (fclose(f) || rename(tmp, path))
		run_error("host reach: --cost-out: %s: %s", path, strerror(errno));
	printf("# cost model with the fitted IOTLB written to %s\n", path);
}

/* The median of @n values (sorted in a copy). */
static double reach_median(const double *y, size_t n)
{
	double *c = malloc(n * sizeof(*c)), m;

	if (!c)
		run_error("host reach: out of memory");
	memcpy(c, y, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_double);
	m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
	free(c);
	return m;
}

/* Fit every (page size, pattern) curve at queue depth 1. */
static void fit_all(const struct reach_opts *o, struct out *out, const char *engine)
{
	struct reachfit_point *pts = calloc(out->nran ? out->nran : 1, sizeof(*pts));
	bool cost_done = false;

	if (!pts)
		run_error("host reach: out of memory");
	for (size_t i = 0; i < out->nran; i++) {
		const struct ran *a = &out->ran[i];
		struct reachfit_result r;
		char err[256], gname[64];
		size_t n = 0;
		bool first = true;

		if (a->qd != 1)
			continue;
		/* The first QD1 point of its curve starts the curve. */
		for (size_t j = 0; j < i && first; j++)
			first = !(out->ran[j].qd == 1 &&
				  out->ran[j].fp.pt.page_size == a->fp.pt.page_size &&
				  out->ran[j].fp.pt.pattern == a->fp.pt.pattern);
		if (!first)
			continue;
		for (size_t j = i; j < out->nran; j++)
			if (out->ran[j].qd == 1 && out->ran[j].fp.pt.page_size == a->fp.pt.page_size &&
			    out->ran[j].fp.pt.pattern == a->fp.pt.pattern)
				pts[n++] = out->ran[j].fp;
		if (reachfit_run(pts, n, (unsigned)o->resamples, o->seed, &r, err, sizeof(err))) {
			printf("# no fit for %s %s: %s\n", reach_pattern_name(a->fp.pt.pattern),
			       fmt_size(a->fp.pt.page_size, gname, sizeof(gname)), err);
			continue;
		}
		reachfit_row(out->fit, "latency", engine, pts, &r, NULL);
		for (size_t k = 0; k < n && out->curve; k++) {
			double x = r.x[r.fit.best * n + k];

			csv_row(out->curve, "%" PRIu64 ",%s,%" PRIu64 ",%.4f,%.1f,%.1f", pts[k].pt.page_size,
				reach_pattern_name(pts[k].pt.pattern), pts[k].pt.window, x,
				r.fit.a + r.fit.b * x, reach_median(pts[k].y, pts[k].ny));
		}
		printf("fit %-6s %4s: %s, miss %.0f ns [%.0f, %.0f], base %.0f ns, r2 %.3f, "
		       "%zu equal geometries\n", reach_pattern_name(a->fp.pt.pattern),
		       fmt_size(a->fp.pt.page_size, err, sizeof(err)),
		       reachfit_geo_name(&r.geo[r.fit.best], gname, sizeof(gname)), r.fit.b,
		       r.fit.b_lo, r.fit.b_hi, r.fit.a, r.fit.r2, r.fit.ties);
		if (o->cost_out && !cost_done && a->fp.pt.page_size == 4096 &&
		    a->fp.pt.pattern == REACH_RANDOM) {
			write_cost(o->cost_out, &r, pts);
			cost_done = true;
		}
		reachfit_free(&r);
	}
	if (o->cost_out && !cost_done)
		printf("# --cost-out: no 4K random curve at queue depth 1 was fitted; nothing "
		       "written\n");
	free(pts);
}

/* ---- main ------------------------------------------------------------------------------- */

static struct pcibind bound;

static void restore_at_exit(void)
{
	if (bound.changed && pcibind_restore(&bound))
		fprintf(stderr, "iob: host reach: %s: giving the device back to %s failed\n",
			bound.bdf, bound.orig_driver[0] ? bound.orig_driver : "no driver");
	bound.changed = false;
}

static void on_signal(int sig)
{
	pcibind_restore_from_signal();
	signal(sig, SIG_DFL);
	raise(sig);
}

static enum reachdev_kind pick_engine(const struct reach_opts *o, const struct hostinfo_pci *pci)
{
	bool nvme = pci->class_code == 0x010802;
	bool ptdma = pci->vendor_id == 0x1022 && pci->device_id == 0x1498;

	if (o->kind_auto) {
		if (!nvme && !ptdma)
			usage_error("--device: %s is neither an NVMe controller (class 010802) nor "
				    "AMD's PTDMA (1022:1498): class %06x, ID %04x:%04x", o->bdf,
				    pci->class_code, pci->vendor_id, pci->device_id);
		return nvme ? REACHDEV_NVME : REACHDEV_PTDMA;
	}
	if (o->kind == REACHDEV_NVME && !nvme)
		usage_error("--engine nvme: %s is not an NVMe controller (class %06x)", o->bdf,
			    pci->class_code);
	if (o->kind == REACHDEV_PTDMA && !ptdma)
		usage_error("--engine ptdma: %s is not AMD's PTDMA (ID %04x:%04x)", o->bdf,
			    pci->vendor_id, pci->device_id);
	if (o->kind == REACHDEV_PTDMA && o->stamped)
		usage_error("--stamped: PTDMA copies memory; there is no disk to stamp");
	return o->kind;
}

static void open_device(struct probe *p, const struct hostinfo_pci *pci, enum reachdev_kind k)
{
	const struct reach_opts *o = p->o;
	struct reachdev_cfg cfg = { .kind = k, .io_pages = o->io_pages, .nsid = o->nsid,
				    .lba_bytes_first = o->lba_offset, .span_bytes = o->span };
	char err[512];
	int ret;

	for (unsigned i = 0; i < o->nqds; i++)
		cfg.qd = o->qds[i] > cfg.qd ? (unsigned)o->qds[i] : cfg.qd;
	if (vfioc_open(o->bdf, pci->group, VFIOC_TYPE1, &p->v, err, sizeof(err)))
		run_error("host reach: %s", err);
	if (o->mark_mmio && vfioc_bar0_map(&p->v))
		run_error("host reach: --mark-mmio: BAR0 of %s cannot be mapped", o->bdf);
	ret = reachdev_open(&p->v, &cfg, &p->r, err, sizeof(err));
	if (ret == -EINVAL)
		usage_error("host reach: %s", err);
	if (ret)
		run_error("host reach: %s", err);
	printf("# %s: %s%s\n", o->bdf, p->r.desc, p->r.tested ? "" : " (engine UNTESTED)");
	p->scratch = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p->lat = malloc(o->ios * sizeof(*p->lat));
	if (p->scratch == MAP_FAILED || !p->lat)
		run_error("host reach: out of memory");
}

int host_reach_main(int argc, char **argv)
{
	static struct probe p;
	struct reach_opts o;
	struct hostinfo_pci pci;
	struct bench_ctx ctx;
	struct out out = { 0 };
	enum reachdev_kind kind;
	uint64_t index = 0;
	char err[512];

	parse(argc, argv, &o);
	host_check_device(o.bdf, o.bind, &pci);
	kind = pick_engine(&o, &pci);
	p.o = &o;
	bench_ctx_init(&ctx, argc, argv, o.seed, o.cpu);
	ctx.outdir = o.out;
	out.rows = bench_csv(&ctx, "host_reach.csv");
	out.cdf = bench_csv(&ctx, "host_reach_cdf.csv");
	out.fit = o.fit ? bench_csv(&ctx, "host_reach_fit.csv") : NULL;
	out.curve = o.fit ? bench_csv(&ctx, "host_reach_fit_curve.csv") : NULL;
	if (out.curve)
		csv_header(out.curve, "page_size_bytes,pattern,window_bytes,misses_per_io,fitted_ns,"
				      "measured_p50_ns");
	if (out.rows)
		csv_header(out.rows, ROW_COLS);
	if (out.cdf)
		csv_header(out.cdf, CDF_COLS);
	if (out.fit)
		csv_header(out.fit, REACHFIT_COLS);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	atexit(restore_at_exit);
	if (o.bind && pcibind_to_vfio(o.bdf, &bound, err, sizeof(err)))
		run_error("host reach: --bind: %s", err);
	open_device(&p, &pci, kind);
	pmu_open(&p, &pci);
	for (unsigned s = 0; s < o.npsizes; s++)
		run_page_size(&p, &out, o.psizes[s], &index);
	if (p.win) {
		vfioc_unmap(&p.v, WIN_IOVA, p.win_len, NULL);
		munmap(p.win, p.win_len);
	}
	reachdev_close(&p.r);
	vfioc_close(&p.v);
	restore_at_exit();
	if (o.fit)
		fit_all(&o, &out, reachdev_kind_name(kind));
	bench_csv_close(out.rows);
	bench_csv_close(out.cdf);
	bench_csv_close(out.fit);
	bench_csv_close(out.curve);
	for (size_t i = 0; i < out.nran; i++)
		free(out.ran[i].y);
	free(out.ran);
	free(p.lat);
	if (out.data_bad)
		run_error("host reach: data did not land where the mapping says (bad > 0 in "
			  "host_reach.csv)");
	return 0;
}
