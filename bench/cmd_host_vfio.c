// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob host vfio: MAP_DMA and UNMAP_DMA through VFIO, timed per call, on
 * the real IOMMU driver: the page table, and in strict mode the
 * invalidation and its completion wait, are inside every call.
 *
 * The cases are iob micro pgtable's: page size (4K from pages the kernel
 * gives at random, 2M and 1G from hugetlbfs so the driver can map
 * superpages), pages per call, and layout (contig: N pages in one call;
 * random: N one-page calls at random IOVAs in a window eight times as
 * large). Each case runs --rounds timed rounds (maps, then unmaps, every
 * call timed on its own), then one untimed round with a kprobe on the AMD
 * driver's command queue to count the commands each call sent.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unistd.h>

#include <iob/alloc.h>
#include <iob/amdvi.h>
#include <iob/cmdq.h>
#include <iob/hist.h>
#include <iob/hostinfo.h>
#include <iob/pathctr.h>
#include <iob/csv.h>

#include "bench.h"
#include "host.h"
#include "host_cmds.h"
#include "nvmed.h"
#include "vfiomodel.h"
#include "iob.h"
#include "phases.h"
#include "util.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif

#define IOVA_BASE	(4ULL << 30)	/* above every x86 reserved region */

static const char vfio_usage[] =
	"usage: iob host vfio --device BDF [--bind] [--backend type1|iommufd|auto]\n"
	"                     [--sizes 4K,2M,1G] [--counts 1,16,256,4096] [--layout contig|random|both]\n"
	"                     [--rounds N] [--max-mem SIZE] [--no-cmds] [--cpu N] [--out DIR]\n"
	"\n"
	"Times VFIO MAP_DMA/UNMAP_DMA (or iommufd IOAS_MAP/UNMAP) per call through the\n"
	"kernel's IOMMU driver. The device must be bound to vfio-pci, or to nothing;\n"
	"--bind gives it to vfio-pci and gives it back to its driver at the end (also\n"
	"on Ctrl-C). The device holding a mounted filesystem is always refused.\n"
	"  --backend  type1, iommufd, or auto: type1, and iommufd where the kernel has it\n"
	"  --sizes    page sizes; 2M and 1G come from hugetlbfs (reserve them first:\n"
	"             /sys/kernel/mm/hugepages/hugepages-*/nr_hugepages) (default 4K,2M)\n"
	"  --counts   pages per call (default 1,16,256,4096)\n"
	"  --layout   contig, random or both (default both)\n"
	"  --rounds   timed rounds per case (default 50)\n"
	"  --max-mem  memory one case may use; larger cases are skipped (default 512M)\n"
	"  --no-cmds  do not count the driver's commands (no kprobe)\n"
	"  --out DIR  write host_vfio.csv and host_vfio_paths.csv there\n"
	"  --mark-mmio  around each counted window, read the device's BAR0 at 0Ch (NVMe\n"
	"             INTMS) so an emulator's trace can be cut into the same windows\n"
	"  --check-dma  NVMe only: make the controller DMA (Identify) into a mapped\n"
	"             buffer and check the data lands there and nowhere else, then\n"
	"             unmap it and check a DMA to the same address lands nowhere\n"
	"Exit status: 0 ok, 1 a call failed, 2 bad usage or a refused device.\n";

struct vfio_opts {
	const char *bdf, *out;
	bool bind, cmds, backend[VFIOC_BACKEND_NR], backend_auto, mark_mmio, check_dma;
	uint64_t sizes[4];
	unsigned nsizes;
	uint64_t counts[16];
	unsigned ncounts;
	bool contig, random;
	uint64_t rounds, max_mem;
	int cpu;
};

static void vfio_defaults(struct vfio_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cmds = true;
	o->backend_auto = true;
	o->sizes[0] = 4096;
	o->sizes[1] = 2 << 20;
	o->nsizes = 2;
	o->counts[0] = 1;
	o->counts[1] = 16;
	o->counts[2] = 256;
	o->counts[3] = 4096;
	o->ncounts = 4;
	o->contig = o->random = true;
	o->rounds = 50;
	o->max_mem = 512 << 20;
	o->cpu = -1;
}

static void parse_sizes(const char *arg, struct vfio_opts *o)
{
	char err[256];

	if (opt_size_list(arg, o->sizes, 4, &o->nsizes, true, err, sizeof(err)))
		usage_error("--sizes: %s", err);
	for (unsigned i = 0; i < o->nsizes; i++)
		if (o->sizes[i] != 4096 && o->sizes[i] != (2 << 20) && o->sizes[i] != (1 << 30))
			usage_error("--sizes: %s: every size must be 4K, 2M or 1G", arg);
}

static void vfio_parse(int argc, char **argv, struct vfio_opts *o)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'D' }, { "bind", no_argument, NULL, 'B' },
		{ "backend", required_argument, NULL, 'k' }, { "sizes", required_argument, NULL, 's' },
		{ "counts", required_argument, NULL, 'c' }, { "layout", required_argument, NULL, 'l' },
		{ "rounds", required_argument, NULL, 'r' }, { "max-mem", required_argument, NULL, 'm' },
		{ "no-cmds", no_argument, NULL, 'N' }, { "cpu", required_argument, NULL, 'C' },
		{ "out", required_argument, NULL, 'o' }, { "help", no_argument, NULL, 'h' },
		{ "mark-mmio", no_argument, NULL, 'M' }, { "check-dma", no_argument, NULL, 'K' },
		{ 0 }
	};
	char err[256];
	int c;

	vfio_defaults(o);
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'D': o->bdf = optarg; break;
		case 'B': o->bind = true; break;
		case 'k':
			o->backend_auto = !strcmp(optarg, "auto");
			o->backend[VFIOC_TYPE1] = !strcmp(optarg, "type1");
			o->backend[VFIOC_IOMMUFD] = !strcmp(optarg, "iommufd");
			if (!o->backend_auto && !o->backend[0] && !o->backend[1])
				usage_error("--backend: '%s' is not type1, iommufd or auto", optarg);
			break;
		case 's': parse_sizes(optarg, o); break;
		case 'c':
			if (opt_u64_list(optarg, 1, 4096, o->counts, 16, &o->ncounts, err, sizeof(err)))
				usage_error("--counts: %s", err);
			break;
		case 'l':
			o->contig = !strcmp(optarg, "contig") || !strcmp(optarg, "both");
			o->random = !strcmp(optarg, "random") || !strcmp(optarg, "both");
			if (!o->contig && !o->random)
				usage_error("--layout: '%s' is not contig, random or both", optarg);
			break;
		case 'r':
			if (opt_u64(optarg, 1, 1000000, &o->rounds, err, sizeof(err)))
				usage_error("--rounds: %s", err);
			break;
		case 'm': o->max_mem = parse_size(optarg, "--max-mem"); break;
		case 'N': o->cmds = false; break;
		case 'C': o->cpu = parse_cpu(optarg); break;
		case 'o': o->out = optarg; break;
		case 'M': o->mark_mmio = true; break;
		case 'K': o->check_dma = true; break;
		case 'h': fputs(vfio_usage, stdout); exit(0);
		default: usage_error("host vfio: bad option (see `iob host vfio --help`)");
		}
	}
	if (optind < argc)
		usage_error("host vfio: unexpected argument '%s'", argv[optind]);
	if (!o->bdf)
		usage_error("host vfio: --device BDF is required");
	if (o->max_mem < 4096)
		usage_error("--max-mem: %llu bytes hold no page: every case would be skipped",
			    (unsigned long long)o->max_mem);
	if (!hostinfo_bdf_valid(o->bdf))
		usage_error("--device: '%s' is not a PCI address DDDD:BB:DD.F (lower-case hex)", o->bdf);
}

void host_check_device(const char *bdf, bool bind, struct hostinfo_pci *pci)
{
	if (hostinfo_pci_read("", bdf, pci))
		usage_error("--device: '%s' is not a PCI address", bdf);
	if (!pci->exists)
		usage_error("--device: no PCI function %s (/sys/bus/pci/devices)", bdf);
	if (pci->holds_root)
		usage_error("--device: %s holds the root filesystem: refused", bdf);
	if (pci->mounted[0])
		usage_error("--device: %s holds the filesystem mounted at %s: refused (unmount it)",
			    bdf, pci->mounted);
	if (pci->group < 0)
		usage_error("--device: %s is in no IOMMU group (is there an IOMMU?)", bdf);
	if (pci->driver[0] && strcmp(pci->driver, "vfio-pci") && !bind)
		usage_error("--device: %s is bound to %s; give --bind to hand it to vfio-pci "
			    "(it is given back at the end)", bdf, pci->driver);
}

/* ---- memory ------------------------------------------------------------------------- */

struct vbuf {
	uint8_t *va;
	uint64_t len;
};

/*
 * @len bytes of page size @psize, touched. 4K: the transparent huge page
 * path is refused, so the pages are as scattered as the kernel makes them.
 * Return: 0, or -errno (-ENOMEM: no huge pages reserved).
 */
static int vbuf_get(uint64_t psize, uint64_t len, struct vbuf *b)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;

	if (psize > 4096)
		flags |= MAP_HUGETLB | ((psize == (2 << 20) ? 21 : 30) << MAP_HUGE_SHIFT);
	b->len = len;
	b->va = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (b->va == MAP_FAILED) {
		b->va = NULL;
		return -errno;
	}
	if (psize == 4096)
		madvise(b->va, len, MADV_NOHUGEPAGE);
	for (uint64_t off = 0; off < len; off += psize)
		b->va[off] = 1;
	return 0;
}

static void vbuf_put(struct vbuf *b)
{
	if (b->va)
		munmap(b->va, b->len);
	b->va = NULL;
}

/* ---- cases ------------------------------------------------------------------------------ */

struct vcase {
	uint64_t psize;
	unsigned pages;
	bool random;
	unsigned ncalls;
	uint64_t call_len;
	uint64_t *iova;		/* per call */
	uint64_t *off;		/* buffer offset per call */
	bool modeled;		/* the model's prediction below is known */
	struct vfiomodel_counts model[2];	/* map, unmap: all calls of a round */
	uint64_t runs;		/* physically contiguous runs, all calls */
};

/* The model's commands for a round of @c, from where @b's pages sit. */
static void vcase_model(struct vcase *c, const struct vbuf *b, bool np_cache, uint64_t pgsizes)
{
	static struct vfiomodel_run runs[1 << 16];

	c->modeled = false;
	c->runs = 0;
	memset(c->model, 0, sizeof(c->model));
	if (!pgsizes)
		return;	/* the domain's page sizes are unknown (iommufd) */
	for (unsigned i = 0; i < c->ncalls; i++) {
		struct vfiomodel_counts m, u;
		size_t n;

		if (vfiomodel_runs(b->va + c->off[i], c->call_len, c->iova[i], runs,
				   sizeof(runs) / sizeof(runs[0]), &n) ||
		    vfiomodel_map(runs, n, np_cache, &m) ||
		    vfiomodel_unmap(runs, n, np_cache, pgsizes, &u))
			return;
		c->runs += n;
		c->model[0].inv_pages += m.inv_pages;
		c->model[0].completion_waits += m.completion_waits;
		c->model[1].inv_pages += u.inv_pages;
		c->model[1].completion_waits += u.completion_waits;
	}
	c->modeled = true;
}

static void vcase_build(struct vcase *c, uint64_t *rng)
{
	c->ncalls = c->random ? c->pages : 1;
	c->call_len = c->random ? c->psize : c->psize * c->pages;
	c->iova = calloc(c->ncalls, sizeof(*c->iova));
	c->off = calloc(c->ncalls, sizeof(*c->off));
	if (!c->iova || !c->off)
		run_error("out of memory");
	if (!c->random) {
		c->iova[0] = IOVA_BASE;
		return;
	}
	/* Distinct slots of a window 8N pages wide, in random order (a partial shuffle). */
	{
		unsigned slots = c->pages * 8;
		unsigned *perm = malloc(slots * sizeof(*perm));

		if (!perm)
			run_error("out of memory");
		for (unsigned i = 0; i < slots; i++)
			perm[i] = i;
		for (unsigned i = 0; i < c->ncalls; i++) {
			unsigned j;

			*rng ^= *rng << 13;
			*rng ^= *rng >> 7;
			*rng ^= *rng << 17;
			j = i + (unsigned)(*rng % (slots - i));
			unsigned t = perm[i];

			perm[i] = perm[j];
			perm[j] = t;
			c->iova[i] = IOVA_BASE + (uint64_t)perm[i] * c->psize;
			c->off[i] = (uint64_t)i * c->psize;
		}
		free(perm);
	}
}

static void vcase_free(struct vcase *c)
{
	free(c->iova);
	free(c->off);
}

/*
 * One round: every map, then every unmap, each call timed alone into @h
 * and @rec (op 0 map, 1 unmap); NULL: not timed. Marks windows in @ph.
 */
static void window_mark(struct vfioc *v, struct phases *ph, bool mmio)
{
	phases_mark(ph);
	if (mmio)
		vfioc_mmio_mark(v);
}

static void vcase_round(struct vfioc *v, const struct vbuf *b, const struct vcase *c,
			struct hist *h, struct pathctr_rec *rec, struct phases *ph, bool mmio)
{
	for (int op = 0; op < 2; op++) {
		if (ph)
			window_mark(v, ph, mmio);
		for (unsigned i = 0; i < c->ncalls; i++) {
			uint64_t t0, t1, done = 0;
			int ret;

			t0 = cycles_now();
			ret = op ? vfioc_unmap(v, c->iova[i], c->call_len, &done) :
				   vfioc_map(v, b->va + c->off[i], c->iova[i], c->call_len);
			t1 = cycles_end();
			if (ret)
				run_error("host vfio: %s of %llu bytes at IOVA 0x%llx: %s",
					  op ? "unmap" : "map", (unsigned long long)c->call_len,
					  (unsigned long long)c->iova[i], strerror(-ret));
			if (op && done != c->call_len)
				run_error("host vfio: unmap of %llu bytes at IOVA 0x%llx unmapped %llu",
					  (unsigned long long)c->call_len, (unsigned long long)c->iova[i],
					  (unsigned long long)done);
			if (h) {
				bench_record(&h[op], t0, t1);
				pathctr_rec_add(&rec[op], t1 - t0);
			}
		}
	}
	if (ph)
		window_mark(v, ph, mmio);
}

#define VFIO_KEY_COLS "backend,op,page_size_bytes,pages_per_call,pattern"

static const char vfio_cols[] = VFIO_KEY_COLS ",calls_per_round,rounds," BENCH_LAT_COLS
	",p50_cyc,per_page_p50_ns,inv_pages_cmds_per_call,completion_waits_per_call,"
	"cmds_per_call,vfio_calls_traced,phys_runs_per_call,model_inv_pages_per_call,"
	"model_completion_waits_per_call,flush_phase_ns_per_call,completion_wait_phase_mean_ns";

struct vfio_out {
	struct csv *rows, *paths, *windows, *dma;
	const char *tracefs;
	bool cmds, mark_mmio, np_cache;
	unsigned cases;		/* counted so far: case k's windows are 3k (map) and 3k + 1 */
};

#define WINDOW_COLS "window,backend,op,page_size_bytes,pages_per_call,pattern,calls,inv_pages," \
		    "completion_waits,cmds,model_inv_pages,model_completion_waits"

/*
 * With --mark-mmio, one row per counted window: the marker window it is
 * (the device read before a case's maps opens window 3k, before its unmaps
 * 3k + 1, after them 3k + 2, an empty gap), the kernel's and the model's
 * commands, for a comparison with an emulator's trace cut the same way.
 */
static void window_row(struct vfio_out *out, const char *key, const struct vcase *c, int op,
		       const struct phases_window *w, double all)
{
	unsigned win = 3 * out->cases + (unsigned)op;
	double m_inv = c->modeled ? (double)c->model[op].inv_pages : -1;
	double m_waits = c->modeled ? (double)c->model[op].completion_waits : -1;

	printf("# window %u: %s, %u calls: %llu INVALIDATE_IOMMU_PAGES, %llu COMPLETION_WAIT "
	       "(model %.0f, %.0f)\n", win, key, c->ncalls,
	       (unsigned long long)w->cmds[AMDVI_CMD_INVALIDATE_IOMMU_PAGES],
	       (unsigned long long)w->cmds[AMDVI_CMD_COMPLETION_WAIT], m_inv, m_waits);
	if (out->windows)
		csv_row(out->windows, "%u,%s,%u,%llu,%llu,%.0f,%.0f,%.0f", win, key, c->ncalls,
			(unsigned long long)w->cmds[AMDVI_CMD_INVALIDATE_IOMMU_PAGES],
			(unsigned long long)w->cmds[AMDVI_CMD_COMPLETION_WAIT], all, m_inv, m_waits);
}

static void vcase_report(struct vfio_out *out, const struct vfioc *v, const struct vcase *c,
			 unsigned rounds, struct hist *h, struct pathctr_rec *rec,
			 const struct phases_result *pr)
{
	for (int op = 0; op < 2; op++) {
		const struct phases_window *w = pr ? &pr->win[op] : NULL;
		double calls = c->ncalls, inv = -1, waits = -1, all = -1, traced = -1;
		double m_inv = c->modeled ? (double)c->model[op].inv_pages / calls : -1;
		double m_waits = c->modeled ? (double)c->model[op].completion_waits / calls : -1;
		double fl_ns = -1, cw_ns = -1;
		char key[160], lat[256], sz[32];

		if (w && pr->cmds_probed) {
			all = 0;
			for (unsigned k = 0; k < PHASES_OPCODES; k++)
				all += (double)w->cmds[k];
			inv = (double)w->cmds[AMDVI_CMD_INVALIDATE_IOMMU_PAGES] / calls;
			waits = (double)w->cmds[AMDVI_CMD_COMPLETION_WAIT] / calls;
			all /= calls;
		}
		if (w && pr->found[PHASE_vfio_ioctl])
			traced = (double)w->calls[PHASE_vfio_ioctl];
		if (w && pr->found[PHASE_flush])
			fl_ns = bench_cyc_to_ns((double)w->cyc[PHASE_flush]) / calls;
		if (w && pr->found[PHASE_completion_wait] && w->ended[PHASE_completion_wait])
			cw_ns = bench_cyc_to_ns((double)w->cyc[PHASE_completion_wait] /
						(double)w->ended[PHASE_completion_wait]);
		snprintf(key, sizeof(key), "%s,%s,%llu,%u,%s", vfioc_backend_name(v->backend),
			 op ? "unmap" : "map", (unsigned long long)c->psize, c->pages,
			 c->random ? "random" : "contig");
		if (out->rows)
			csv_row(out->rows, "%s,%u,%u,%s,%.0f,%.3f,%.3f,%.3f,%.3f,%.0f,%.3f,%.3f,%.3f,%.1f,%.1f",
				key, c->ncalls, rounds,
				bench_lat_fields(&h[op], 1, lat, sizeof(lat)), hist_percentile(&h[op], 0.5),
				bench_p50_ns(&h[op], 1) / (c->random ? 1 : c->pages), inv, waits, all,
				traced, c->modeled ? (double)c->runs / calls : -1, m_inv, m_waits, fl_ns,
				cw_ns);
		host_write_rec(out->paths, key, op ? "vfio_unmap" : "vfio_map", &rec[op]);
		if (w && out->mark_mmio)
			window_row(out, key, c, op, w, all * calls);
		printf("%-7s %-5s %7s x%-5u %-6s p50 %10.0f ns  p99 %10.0f ns  inv/call %5.2f (model %5.2f)  "
		       "waits/call %5.2f (model %5.2f)\n",
		       vfioc_backend_name(v->backend), op ? "unmap" : "map",
		       fmt_size(c->psize, sz, sizeof(sz)), c->pages, c->random ? "random" : "contig",
		       bench_p50_ns(&h[op], 1), bench_cyc_to_ns(hist_percentile(&h[op], 0.99)), inv,
		       m_inv, waits, m_waits);
	}
}

static void vcase_run(struct vfio_out *out, struct vfioc *v, const struct vbuf *b,
		      struct vcase *c, unsigned rounds)
{
	static struct hist h[2];
	struct pathctr_rec rec[2];
	struct phases_result *pr = NULL;
	char err[512];

	for (int op = 0; op < 2; op++) {
		hist_init(&h[op]);
		pathctr_rec_init(&rec[op]);
	}
	vcase_round(v, b, c, NULL, NULL, NULL, false);	/* warm-up: tables above exist */
	for (unsigned r = 0; r < rounds; r++)
		vcase_round(v, b, c, h, rec, NULL, false);
	if (out->cmds) {
		struct phases *ph;

		pr = iob_calloc(1, sizeof(*pr));
		if (!pr)
			run_error("out of memory");
		if (phases_start(out->tracefs, PHASES_ALL, cycles_info()->tsc_khz, &ph, err,
				 sizeof(err)))
			run_error("host vfio: counting commands: %s (--no-cmds runs without)", err);
		vcase_round(v, b, c, NULL, NULL, ph, out->mark_mmio);
		phases_stop(ph, pr);
		if (pr->lost)
			fprintf(stderr, "host vfio: the trace lost %llu events; counts are short\n",
				(unsigned long long)pr->lost);
	}
	vcase_report(out, v, c, rounds, h, rec, pr);
	if (pr)
		out->cases++;
	iob_free(pr);
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/*
 * The device writes where the mapping says, and nowhere once unmapped:
 * Identify Controller into buffer A (mapped), with B mapped beside it; then
 * A unmapped and the same IOVA asked again. One row in host_dma_check.csv.
 */
static void dma_check(struct vfioc *v, const struct hostinfo_pci *pci, struct csv *csv)
{
	struct nvmed d;
	struct nvmed_mem a, b;
	struct nvme_cqe c;
	char err[256];
	uint8_t *pa;
	unsigned vid;
	bool landed, other, blocked;
	int ret;

	if (pci->class_code != 0x010802)
		usage_error("--check-dma: %s is not an NVMe controller (class 0x%06x)", v->bdf,
			    pci->class_code);
	if (nvmed_open(v, NVMED_IOVA, &d, err, sizeof(err)))
		run_error("host vfio --check-dma: %s", err);
	if (nvmed_mem(&d, NVME_PAGE, &a) || nvmed_mem(&d, NVME_PAGE, &b))
		run_error("host vfio --check-dma: mapping the buffers failed");
	pa = a.va;
	memset(a.va, 0xa5, NVME_PAGE);
	memset(b.va, 0x5a, NVME_PAGE);
	ret = nvmed_identify(&d, NVME_IDENTIFY_CNS_CTRL, 0, a.iova, &c);
	if (ret)
		run_error("host vfio --check-dma: Identify: %s", strerror(-ret));
	/* Identify Controller bytes 1:0 are the PCI vendor ID. */
	vid = pa[0] | (unsigned)pa[1] << 8;
	landed = vid == pci->vendor_id && !all_bytes(pa, NVME_PAGE, 0xa5);
	other = all_bytes(b.va, NVME_PAGE, 0x5a);
	if (vfioc_unmap(v, a.iova, a.len, NULL))
		run_error("host vfio --check-dma: unmap failed");
	memset(a.va, 0xa5, NVME_PAGE);
	ret = nvmed_identify(&d, NVME_IDENTIFY_CNS_CTRL, 0, a.iova, &c);
	blocked = all_bytes(a.va, NVME_PAGE, 0xa5) && all_bytes(b.va, NVME_PAGE, 0x5a);
	printf("# dma check: Identify at IOVA 0x%llx read back VID 0x%04x (PCI: 0x%04x): %s; the "
	       "buffer beside it %s; after the unmap the same DMA %s (command %s)\n",
	       (unsigned long long)a.iova, vid, pci->vendor_id, landed ? "landed" : "DID NOT LAND",
	       other ? "untouched" : "WRITTEN", blocked ? "landed nowhere" : "STILL LANDED",
	       ret == 0 ? "completed" : strerror(-ret));
	if (csv) {
		csv_header(csv, "device,iova,vid,pci_vid,landed,other_untouched,after_unmap_untouched,"
				"after_unmap_status");
		csv_row(csv, "%s,0x%llx,0x%04x,0x%04x,%d,%d,%d,%s", v->bdf, (unsigned long long)a.iova,
			vid, pci->vendor_id, landed, other, blocked, ret == 0 ? "ok" : "error");
	}
	munmap(a.va, a.len);
	a.va = NULL;
	nvmed_mem_free(&d, &b);
	nvmed_close(&d);
	if (!landed || !other || !blocked)
		run_error("host vfio --check-dma: the device's write did not land where the mapping says");
}

static struct pcibind bound;

/* Every way out gives the device back: return, run_error()'s exit, a signal. */
static void restore_at_exit(void)
{
	phases_cleanup_from_signal();
	if (bound.changed && pcibind_restore(&bound))
		fprintf(stderr, "iob: host vfio: %s: giving the device back to %s failed\n", bound.bdf,
			bound.orig_driver[0] ? bound.orig_driver : "no driver");
}

static void on_signal(int sig)
{
	phases_cleanup_from_signal();
	pcibind_restore_from_signal();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void run_backend(const struct vfio_opts *o, struct vfio_out *out, enum vfioc_backend be,
			const struct hostinfo_pci *pci)
{
	int group = pci->group;
	struct vfioc v;
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	char err[512];

	if (vfioc_open(o->bdf, group, be, &v, err, sizeof(err)))
		run_error("host vfio: %s", err);
	if (out->mark_mmio && vfioc_bar0_map(&v))
		run_error("host vfio: --mark-mmio: BAR0 of %s cannot be mapped", o->bdf);
	if (o->check_dma)
		dma_check(&v, pci, out->dma);
	if (be == VFIOC_TYPE1)
		printf("# %s: type1, IOMMU page sizes 0x%llx\n", o->bdf, (unsigned long long)v.pgsizes);
	for (unsigned si = 0; si < o->nsizes; si++) {
		for (unsigned ci = 0; ci < o->ncounts; ci++) {
			for (int pat = 0; pat < 2; pat++) {
				struct vcase c = { .psize = o->sizes[si], .pages = (unsigned)o->counts[ci],
						   .random = pat };
				uint64_t need = c.psize * c.pages;
				struct vbuf b;
				int ret;

				if ((pat ? !o->random : !o->contig) || (pat && c.pages == 1))
					continue;
				if (need > o->max_mem) {
					printf("# skipped %llu x %u: over --max-mem\n",
					       (unsigned long long)c.psize, c.pages);
					continue;
				}
				ret = vbuf_get(c.psize, need, &b);
				if (ret) {
					printf("# skipped page size %llu x %u: no memory of that page size (%s)\n",
					       (unsigned long long)c.psize, c.pages, strerror(-ret));
					continue;
				}
				vcase_build(&c, &rng);
				vcase_model(&c, &b, out->np_cache, v.pgsizes);
				vcase_run(out, &v, &b, &c, (unsigned)o->rounds);
				vcase_free(&c);
				vbuf_put(&b);
			}
		}
	}
	vfioc_close(&v);
}

int host_vfio_main(int argc, char **argv)
{
	struct vfio_opts o;
	struct hostinfo_pci pci;
	struct hostinfo hi;
	struct vfio_out out = { 0 };
	struct bench_ctx ctx;
	char err[512];

	vfio_parse(argc, argv, &o);
	host_check_device(o.bdf, o.bind, &pci);
	host_info_scan_or_die("", &hi);
	if (o.backend_auto) {
		o.backend[VFIOC_TYPE1] = true;
		o.backend[VFIOC_IOMMUFD] = hi.iommufd;
	}
	out.cmds = o.cmds && hi.kprobes;
	out.mark_mmio = o.mark_mmio;
	for (size_t i = 0; i < hi.niommu; i++)
		if (!strcmp(hi.iommu[i].name, pci.iommu) && hi.iommu[i].vendor == HOSTINFO_AMD)
			out.np_cache = hi.iommu[i].amd.np_cache;
	if (o.mark_mmio && !out.cmds)
		usage_error("--mark-mmio marks counted windows: it needs the command count (kprobes)");
	/* Only once every input is checked: a refused run leaves no folder behind. */
	if (o.out && mkdir(o.out, 0777) && errno != EEXIST)
		usage_error("--out: cannot create %s: %s", o.out, strerror(errno));
	out.tracefs = hi.tracefs;
	if (o.cmds && !hi.kprobes)
		printf("# no kprobe_events in tracefs: commands per call not counted\n");
	bench_ctx_init(&ctx, argc, argv, 1, o.cpu);
	ctx.outdir = o.out;
	out.rows = bench_csv(&ctx, "host_vfio.csv");
	out.paths = bench_csv(&ctx, "host_vfio_paths.csv");
	if (out.rows)
		csv_header(out.rows, vfio_cols);
	if (out.paths)
		csv_header(out.paths, host_rec_cols(VFIO_KEY_COLS));
	if (o.mark_mmio && (out.windows = bench_csv(&ctx, "host_windows.csv")))
		csv_header(out.windows, WINDOW_COLS);
	if (o.check_dma)
		out.dma = bench_csv(&ctx, "host_dma_check.csv");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	atexit(restore_at_exit);
	if (o.bind && pcibind_to_vfio(o.bdf, &bound, err, sizeof(err)))
		run_error("host vfio: --bind: %s", err);
	for (int be = 0; be < VFIOC_BACKEND_NR; be++)
		if (o.backend[be])
			run_backend(&o, &out, (enum vfioc_backend)be, &pci);
	restore_at_exit();
	bench_csv_close(out.rows);
	bench_csv_close(out.paths);
	bench_csv_close(out.windows);
	bench_csv_close(out.dma);
	hostinfo_free(&hi);
	return 0;
}
