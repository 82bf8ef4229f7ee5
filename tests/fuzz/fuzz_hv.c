// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A stateful fuzzer of the model hypervisor. The input picks a strategy and
 * a flush mode, then drives a sequence of hypercalls of three domains with
 * hostile arguments (foreign gfns, out-of-range dfns and IOVAs, duplicates,
 * huge counts and orders, addresses near 2^64), device DMAs from assigned,
 * deassigned and never-assigned devices, and allocation failure at chosen
 * points. After every step it checks:
 *  - a refused hypercall changed nothing (hv_fingerprint()), and one that
 *    met the injected allocation failure returned -ENOMEM and leaked
 *    nothing;
 *  - isolation, against the reference of who may reach what that
 *    tests/test_hv.c's property test also uses: a device's DMA that hits
 *    reaches a frame of its own domain, a frame its domain maps through a
 *    grant, or one whose invalidation is still pending; never a free frame;
 *  - a device no domain has faults on every address (except under swiotlb,
 *    which by design protects nothing);
 *  - no IOB_WARN_ON fired;
 * and at the end that destroying everything gives back every allocation.
 * The machine is small (256 frames, 64-page domains) so an input runs fast.
 */
#include <errno.h>

#include <iob/alloc.h>
#include <iob/hv.h>
#include <iob/iopt.h>
#include <iob/warn.h>

#include "fuzz.h"

#define ND		3		/* domains */
#define DOM_PAGES	64
#define MACHINE		256
#define DEV_BASE	0x10		/* domain i's device: DEV_BASE + i */
#define DEV_NONE	0x20		/* never assigned */
#define DEV_GONE	0x21		/* assigned, then taken away */
#define MAXN		8		/* entries per batch the fuzzer builds */

struct in {
	const uint8_t *p, *end;
};

struct fz {
	struct in in;
	struct hv *hv;
	enum hv_strategy s;
	domid_t dom[ND];
	uint64_t warn0;
	iova_t last_iova;	/* the last IOVA a dma_map returned */
	uint64_t last_bus;	/* the last grant bus address */
	grant_ref_t last_ref[ND];
	grant_handle_t last_handle[ND];
};

static uint64_t u8_(struct fz *f)
{
	return f->in.p < f->in.end ? *f->in.p++ : 0;
}

static uint64_t uN(struct fz *f, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v = v << 8 | u8_(f);
	return v;
}

/* A hostile 64-bit value: small, at an edge, or raw. */
static uint64_t hostile(struct fz *f, uint64_t typical)
{
	static const uint64_t edge[] = {
		0, 1, DOM_PAGES - 1, DOM_PAGES, MACHINE, GRANT_DFN_BASE, GRANT_DFN_BASE - 1,
		1ULL << 32, 1ULL << 52, (1ULL << 63), UINT64_MAX, UINT64_MAX - 4095,
		UINT64_MAX - 1, (1ULL << 48) - 4096, 0xfffffffffffff000ULL >> 12,
	};
	unsigned k = (unsigned)u8_(f);

	if (k < 160)
		return typical ? (uint64_t)k % typical : k;
	if (k < 160 + sizeof(edge) / sizeof(edge[0]))
		return edge[k - 160];
	return uN(f, 8);
}

static unsigned pick_dom(struct fz *f)
{
	return (unsigned)(u8_(f) % ND);
}

static domid_t domid_arg(struct fz *f)
{
	unsigned k = (unsigned)u8_(f);

	if (k < 240)
		return f->dom[k % ND];
	return (domid_t)(k == 240 ? 0 : k == 241 ? DOMID_INVALID : k == 242 ? 0xffff : 77);
}

static unsigned count_arg(struct fz *f)
{
	unsigned k = (unsigned)u8_(f);

	if (k < 200)
		return 1 + k % MAXN;
	return k == 200 ? 0 : k == 201 ? HV_BATCH_MAX + 1 : k == 202 ? UINT32_MAX : 1 + k % MAXN;
}

static unsigned order_arg(struct fz *f)
{
	unsigned k = (unsigned)u8_(f);

	return k < 200 ? (k % 3 == 2 ? 1 : 0) : k == 200 ? 9 : k == 201 ? 18 : k == 202 ? 19 :
	       k == 203 ? 63 : k == 204 ? 64 : k == 205 ? 200 : k == 206 ? UINT32_MAX : 0;
}

static uint16_t dev_arg(struct fz *f)
{
	unsigned k = (unsigned)u8_(f);

	if (k < 200)
		return (uint16_t)(DEV_BASE + k % ND);
	return k < 220 ? DEV_NONE : k < 240 ? DEV_GONE : (uint16_t)uN(f, 2);
}

/* ---- the checks ---- */

static bool maps_grant_of(struct fz *f, domid_t d, uint64_t mfn)
{
	for (gfn_t g = 0; g < DOM_PAGES; g++) {
		enum p2m_type t;

		if (hv_p2m_lookup(f->hv, d, g, &t) == mfn && (t == P2M_GRANT_RO || t == P2M_GRANT_RW))
			return true;
	}
	return false;
}

static void check_dma(struct fz *f, uint16_t dev, iova_t addr, uint64_t len, unsigned acc)
{
	domid_t d = hv_device_owner(f->hv, dev);
	struct hv_dma_result r;
	int ret = hv_device_dma(f->hv, dev, addr, len, acc, &r);
	uint64_t pages = len ? ((addr & 4095) + (len - 1)) / 4096 + 1 : 1;

	bool bad = len > HV_DMA_BYTES_MAX || (len && addr + (len - 1) < addr);

	fuzz_check(bad ? ret == -EINVAL && !r.pages : ret == 0 || ret == -EFAULT,
		   "dev %#x 0x%llx+%llu: returned %d after %u pages", dev, (unsigned long long)addr,
		   (unsigned long long)len, ret, r.pages);
	if (bad)
		return;
	fuzz_check(r.pages == pages, "dev %#x 0x%llx+%llu: %u pages for %llu", dev,
		   (unsigned long long)addr, (unsigned long long)len, r.pages,
		   (unsigned long long)pages);
	if (f->s == HV_SWIOTLB)
		return;
	if (d == DOMID_INVALID) {
		fuzz_check(ret == -EFAULT && r.faults == r.pages,
			   "device %#x of no domain reached 0x%llx (frame %llu of d%u)", dev,
			   (unsigned long long)addr, (unsigned long long)r.mfn_first, r.owner_first);
		return;
	}
	if (r.mfn_first == INVALID_MFN)
		return;
	fuzz_check(r.owner_first != DOMID_INVALID, "dev %#x reached free frame %llu at 0x%llx", dev,
		   (unsigned long long)r.mfn_first, (unsigned long long)addr);
	fuzz_check(r.owner_first == d || maps_grant_of(f, d, r.mfn_first) ||
			   frames_pending(hv_frames(f->hv), r.mfn_first) > 0,
		   "dev %#x of d%u reached frame %llu of d%u at 0x%llx: not its own, granted or pending",
		   dev, d, (unsigned long long)r.mfn_first, r.owner_first, (unsigned long long)addr);
}

static void after_step(struct fz *f)
{
	iova_t a[4] = { f->last_iova, f->last_bus, (hostile(f, DOM_PAGES) << 12) | 8, 0 };

	fuzz_check(iob_warn_count() == f->warn0, "IOB_WARN_ON: %s",
		   iob_warn_message(0) ? iob_warn_message(0) : "?");
	for (unsigned i = 0; i < ND; i++)
		for (unsigned k = 0; k < 3; k++)
			check_dma(f, (uint16_t)(DEV_BASE + i), a[k], 8, k & 1 ? IOPT_PROT_WRITE : IOPT_PROT_READ);
	check_dma(f, DEV_NONE, a[2], 8, IOPT_PROT_READ);
	check_dma(f, DEV_GONE, a[0], 8, IOPT_PROT_WRITE);
}

/*
 * Table pages set aside for a domain's next call: iopt_unreserve() keeps
 * them, by design, so a failed call may leave some (tests/test_hv.c counts
 * them the same way).
 */
static int64_t pool_pages(const struct fz *f)
{
	int64_t n = 0;

	for (unsigned i = 0; i < ND; i++)
		n += (int64_t)iopt_reserved(hv_domain_iopt(f->hv, f->dom[i]));
	return n;
}

/* A hypercall's result: refused ones change nothing; injected failures leak nothing. */
static void result(struct fz *f, int ret, uint64_t fp, int64_t live, int64_t pool, bool injected)
{
	int64_t leaked = iob_alloc_live() - live - (pool_pages(f) - pool);

	fuzz_check(ret <= 0, "returned %d", ret);
	if (ret)
		fuzz_check(hv_fingerprint(f->hv) == fp, "a refused call (%d) changed the state", ret);
	if (ret && injected)
		fuzz_check(!leaked, "a failed call (%d) leaked %lld allocations", ret,
			   (long long)leaked);
}

/* ---- the steps ---- */

static void gfns_arg(struct fz *f, gfn_t *g, unsigned n, unsigned order)
{
	for (unsigned i = 0; i < n && i < MAXN; i++) {
		uint64_t k = u8_(f);

		/* Mostly aligned gfns inside the domain, sometimes a duplicate or a hostile one. */
		if (k < 200)
			g[i] = (k % DOM_PAGES) & ~((order < 6 ? 1ULL << order : 1ULL) - 1);
		else if (k < 220 && i)
			g[i] = g[i - 1];
		else
			g[i] = hostile(f, 0);
	}
	for (unsigned i = MAXN; i < n && i < HV_BATCH_MAX + 1; i++)
		g[i] = g[i % MAXN];
}

/* A grant reference or handle: mostly the last one made, sometimes any. */
static uint32_t last_or_any(struct fz *f, uint32_t last, uint64_t range)
{
	return u8_(f) < 200 ? last : (uint32_t)hostile(f, range);
}

/* An IOVA: mostly the last one dma_map returned, sometimes any page. */
static iova_t iova_arg(struct fz *f)
{
	return u8_(f) < 160 ? f->last_iova : hostile(f, 0) << 12;
}

static uint64_t len_arg(struct fz *f)
{
	return u8_(f) < 160 ? 4096 * (1 + u8_(f) % 4) : hostile(f, 0);
}

/* The memory operations: populate, decrease, increase, exchange. */
static int step_memory(struct fz *f, unsigned op)
{
	static gfn_t g[HV_BATCH_MAX + 2];
	domid_t d = domid_arg(f);
	unsigned n = count_arg(f), order = order_arg(f), bits;
	gfn_t gfn;

	switch (op) {
	case 0:
		gfn = hostile(f, DOM_PAGES);
		return hv_populate(f->hv, d, gfn, order);
	case 1:
		gfns_arg(f, g, n, order);
		return hv_decrease_reservation(f->hv, d, g, n, order);
	case 2:
		gfns_arg(f, g, n, order);
		return hv_increase_reservation(f->hv, d, g, n, order);
	default:
		gfns_arg(f, g, n, order);
		bits = (unsigned)hostile(f, 70);
		return hv_memory_exchange(f->hv, d, g, n, order, bits, NULL);
	}
}

/* The grant operations: access, end, map, unmap. */
static int step_grant(struct fz *f, unsigned op)
{
	unsigned i = pick_dom(f), j = pick_dom(f), n, ro = u8_(f) & 1;
	domid_t d = f->dom[i], other = domid_arg(f);
	grant_handle_t h[MAXN];
	uint32_t ref;
	uint64_t bus = 0;
	gfn_t gfn;
	int ret;

	switch (op) {
	case 4:
		gfn = hostile(f, DOM_PAGES);
		return hv_grant_access(f->hv, d, other, gfn, ro, &f->last_ref[i]);
	case 5:
		ref = last_or_any(f, f->last_ref[i], 64);
		return hv_grant_end(f->hv, d, ref);
	case 6:
		ref = last_or_any(f, f->last_ref[j], 64);
		gfn = hostile(f, DOM_PAGES);
		ret = hv_grant_map(f->hv, d, f->dom[j], ref, ro, gfn, &f->last_handle[i], &bus);
		if (!ret && bus)
			f->last_bus = bus;
		return ret;
	default:
		n = count_arg(f);
		for (unsigned k = 0; k < n && k < MAXN; k++)
			h[k] = last_or_any(f, f->last_handle[i], 32);
		return n <= MAXN ? hv_grant_unmap_batch(f->hv, other, h, n) :
				   hv_grant_unmap(f->hv, d, f->last_handle[i]);
	}
}

/* The pv and DMA-layer batches. */
static int step_batch(struct fz *f, unsigned op)
{
	static gfn_t g[HV_BATCH_MAX + 2];
	static struct hv_pv_map_op pv[HV_BATCH_MAX + 2];
	static uint64_t dfn[HV_BATCH_MAX + 2];
	static struct hv_dma_seg seg[HV_BATCH_MAX + 2];
	domid_t d = domid_arg(f);
	uint16_t dev = dev_arg(f);
	unsigned n = count_arg(f), dir;
	iova_t iova = 0;
	uint64_t len;
	int ret;

	switch (op) {
	case 8:
		for (unsigned k = 0; k < n && k <= HV_BATCH_MAX; k++) {
			if (k >= MAXN) {
				pv[k] = pv[k % MAXN];
				continue;
			}
			pv[k].gfn = hostile(f, DOM_PAGES);
			pv[k].dfn = hostile(f, 128);
			pv[k].prot = (unsigned)(u8_(f) % 4);
		}
		return hv_pv_map(f->hv, d, pv, n);
	case 9:
		for (unsigned k = 0; k < n && k <= HV_BATCH_MAX; k++)
			dfn[k] = k < MAXN ? hostile(f, 128) : dfn[k % MAXN];
		return hv_pv_unmap(f->hv, d, dfn, n);
	case 10:
		gfns_arg(f, g, n, 0);
		dir = (unsigned)(u8_(f) % 4);
		ret = hv_dma_map(f->hv, d, dev, g, n, dir, &iova);
		if (!ret)
			f->last_iova = iova;
		return ret;
	case 11:
		iova = iova_arg(f);
		len = len_arg(f);
		return hv_dma_unmap(f->hv, d, dev, iova, len);
	default:
		for (unsigned k = 0; k < n && k <= HV_BATCH_MAX; k++) {
			if (k >= MAXN) {
				seg[k] = seg[k % MAXN];
				continue;
			}
			seg[k].iova = iova_arg(f);
			seg[k].len = 4096 * (1 + u8_(f) % 4);
		}
		return hv_dma_unmap_batch(f->hv, d, dev, seg, n);
	}
}

/*
 * One step. Every argument is read in its own statement: the order in which
 * a call's arguments are evaluated is unspecified, and an input must mean
 * the same under clang (libFuzzer) and gcc (tests/test_fuzz.c).
 */
static int step(struct fz *f, unsigned op)
{
	uint16_t dev;
	unsigned shift, acc;
	iova_t a;
	uint64_t len;

	if (op <= 3)
		return step_memory(f, op);
	if (op <= 7)
		return step_grant(f, op);
	if (op <= 12)
		return step_batch(f, op);
	switch (op) {
	case 13: {
		/* A PV page typed as a page table or back (identity domains only). */
		domid_t d = domid_arg(f);
		gfn_t gfn = hostile(f, DOM_PAGES);
		bool table = u8_(f) & 1;

		return hv_pv_retype(f->hv, d, gfn, table);
	}
	case 14:
		hv_batch_end(f->hv, f->dom[pick_dom(f)]);
		return 0;
	case 15:
		hv_tick(f->hv);
		return 0;
	case 16:
		hv_sync(f->hv);
		return 0;
	default:
		/* A device DMA of any length anywhere, from any device. */
		dev = dev_arg(f);
		a = hostile(f, 0);
		shift = u8_(f) & 1 ? 12 : 0;
		len = u8_(f);
		len = len < 128 ? 1 + len * 64 : hostile(f, 0);
		acc = u8_(f) & 1 ? IOPT_PROT_WRITE : IOPT_PROT_READ;
		check_dma(f, dev, a << shift, len, acc);
		return 0;
	}
}

static void setup(struct fz *f)
{
	unsigned k = (unsigned)u8_(f);
	bool identity = u8_(f) & 1;	/* domain 0 a PV dom0: gfn = mfn (hv_domain_identity) */
	struct hv_cfg cfg = {
		.machine_frames = MACHINE,
		.strategy = (enum hv_strategy)(k % HV_STRATEGY_NR),
		.tune = { .flush = (enum flush_mode)(k / 4 % FLUSH_MODE_NR),
			  .policy = (enum inval_policy)(k / 16 % INVAL_POLICY_NR),
			  .superpages = k & 0x80, .fq_entries = 4 },
	};

	f->s = cfg.strategy;
	fuzz_check(!hv_create(&cfg, &f->hv), "hv_create");
	for (unsigned i = 0; i < ND; i++) {
		fuzz_check(!hv_domain_create(f->hv, DOM_PAGES, &f->dom[i]), "domain");
		if (identity && !i)
			fuzz_check(!hv_domain_identity(f->hv, f->dom[i]), "identity");
		for (gfn_t g = 0; g < 8; g++)
			fuzz_check(!hv_populate(f->hv, f->dom[i], g, 0), "populate");
		fuzz_check(!hv_assign_device(f->hv, (uint16_t)(DEV_BASE + i), f->dom[i]), "assign");
	}
	fuzz_check(!hv_assign_device(f->hv, DEV_GONE, f->dom[0]), "assign");
	fuzz_check(!hv_deassign_device(f->hv, DEV_GONE), "deassign");
}

int fuzz_hv(const uint8_t *data, size_t size)
{
	struct fz f = { .in = { data, data + size } };
	int64_t live0 = iob_alloc_live();

	f.warn0 = iob_warn_count();
	setup(&f);
	for (unsigned steps = 0; f.in.p < f.in.end && steps < 128; steps++) {
		unsigned op = (unsigned)u8_(&f), k = (op & 0x7f) % 18;
		bool inject = op & 0x80;
		/* Only hypercalls (0..13) may be refused: the fingerprint is not free. */
		uint64_t fp = k <= 13 ? hv_fingerprint(f.hv) : 0;
		int64_t live = iob_alloc_live(), pool = pool_pages(&f);
		int ret;

		if (inject)
			iob_fail_after((long)(u8_(&f) % 16));
		ret = step(&f, k);
		iob_fail_after(-1);
		result(&f, ret, fp, live, pool, inject);
		after_step(&f);
	}
	hv_sync(f.hv);
	for (unsigned i = 0; i < ND; i++)
		for (gfn_t g = 0; g < DOM_PAGES; g++)
			check_dma(&f, (uint16_t)(DEV_BASE + i), g << 12, 8, IOPT_PROT_READ);
	hv_destroy(f.hv);
	fuzz_check(iob_alloc_live() == live0, "%lld allocations leaked",
		   (long long)(iob_alloc_live() - live0));
	return 0;
}

FUZZ_MAIN(fuzz_hv)
