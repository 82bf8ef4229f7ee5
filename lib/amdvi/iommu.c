// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * AMD-Vi device model: device table, DTE cache, IOTLB + PDE cache, command
 * consumer, event log, and the driver-side helpers that feed it.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <x86intrin.h>

#include <iob/alloc.h>
#include <iob/iommu.h>
#include <iob/pathctr.h>
#include <iob/warn.h>

struct dte_cache_line {
	bool valid;
	uint16_t devid;
	uint64_t q0, q1;
};

struct iommu {
	uint64_t (*devtab)[4];		/* 65536 DTEs, 4 KiB aligned, as in memory */
	struct dte_cache_line dte_cache[IOMMU_DTE_CACHE];
	struct iotlb *tlb;
	struct cmdq *q;
	struct cost_model cost;
	bool np_cache;

	struct amdvi_cmd *evt;		/* event log ring */
	unsigned evt_entries;
	unsigned evt_head, evt_tail;

	bool threaded;
	bool locked;			/* take the cache lock: threaded or shared */
	pthread_spinlock_t prod;	/* one command producer at a time */
	pthread_t thread;
	atomic_bool running;
	atomic_flag lock;		/* caches and stats, threaded mode only */
	bool inline_busy;		/* re-entry guard for inline kicks */

	_Alignas(64) volatile uint64_t sem;	/* completion-wait store target */
	uint64_t seq;
	struct iommu_stats stats;
};

static inline void lock(struct iommu *mmu)
{
	if (mmu->locked)
		while (atomic_flag_test_and_set_explicit(&mmu->lock, memory_order_acquire))
			__builtin_ia32_pause();
}

static inline void unlock(struct iommu *mmu)
{
	if (mmu->locked)
		atomic_flag_clear_explicit(&mmu->lock, memory_order_release);
}

/* ---- event log -------------------------------------------------------------- */

static void log_event(struct iommu *mmu, enum amdvi_event_code code,
		      uint16_t devid, domid_t domid, unsigned flags, uint64_t addr)
{
	unsigned next = (mmu->evt_tail + 1) & (mmu->evt_entries - 1);
	struct amdvi_cmd *e;

	if (next == mmu->evt_head) {
		/* EventOverflow: the IOMMU stops logging until software drains. */
		mmu->stats.event_overflows++;
		return;
	}
	e = &mmu->evt[mmu->evt_tail];
	e->dw[0] = devid;
	e->dw[1] = domid | ((uint32_t)(flags & 0xfff) << AMDVI_EVENT_FLAGS_SHIFT) |
		   ((uint32_t)code << AMDVI_EVENT_CODE_SHIFT);
	e->dw[2] = (uint32_t)addr;
	e->dw[3] = (uint32_t)(addr >> 32);
	mmu->evt_tail = next;
	mmu->stats.events++;
}

bool iommu_event_pop(struct iommu *mmu, struct amdvi_cmd *raw)
{
	bool ok = false;

	lock(mmu);
	if (mmu->evt_head != mmu->evt_tail) {
		*raw = mmu->evt[mmu->evt_head];
		mmu->evt_head = (mmu->evt_head + 1) & (mmu->evt_entries - 1);
		ok = true;
	}
	unlock(mmu);
	return ok;
}

void iommu_event_decode(const struct amdvi_cmd *raw, struct iommu_event *ev)
{
	ev->code = (enum amdvi_event_code)(raw->dw[1] >> AMDVI_EVENT_CODE_SHIFT);
	ev->devid = (uint16_t)raw->dw[0];
	ev->domid = (domid_t)raw->dw[1];
	ev->flags = (raw->dw[1] >> AMDVI_EVENT_FLAGS_SHIFT) & 0xfff;
	ev->addr = raw->dw[2] | ((uint64_t)raw->dw[3] << 32);
}

/* ---- command execution -------------------------------------------------------- */

static void execute(struct iommu *mmu, const struct amdvi_cmd *c, uint32_t at)
{
	struct cmdq_decoded d;

	mmu->stats.cmds++;
	mmu->stats.model_cmd_ns += mmu->cost.cmd_ns;
	if (cmdq_decode(c, &d)) {
		mmu->stats.illegal_cmds++;
		/* The event's address is the command's own (system) address. */
		log_event(mmu, AMDVI_EVENT_ILLEGAL_COMMAND_ERROR, 0, 0, 0,
			  cmdq_base(mmu->q) + at);
		return;
	}
	switch (d.op) {
	case AMDVI_CMD_COMPLETION_WAIT:
		mmu->stats.completion_waits++;
		mmu->stats.model_cmd_ns += mmu->cost.completion_wait_ns;
		/* In order: every earlier command has completed by now. */
		if (d.store)
			__atomic_store_n((uint64_t *)(uintptr_t)d.addr, d.data,
					 __ATOMIC_RELEASE);
		break;
	case AMDVI_CMD_INVALIDATE_IOMMU_PAGES:
		mmu->stats.inv_pages++;
		mmu->stats.model_cmd_ns += mmu->cost.inv_pages_ns;
		iotlb_inv_range(mmu->tlb, d.domid, d.range_start, d.range_lg2, d.pde);
		break;
	case AMDVI_CMD_INVALIDATE_IOMMU_ALL:
		mmu->stats.inv_all++;
		mmu->stats.model_cmd_ns += mmu->cost.inv_all_ns;
		iotlb_inv_all(mmu->tlb);
		memset(mmu->dte_cache, 0, sizeof(mmu->dte_cache));
		break;
	case AMDVI_CMD_INVALIDATE_DEVTAB_ENTRY: {
		struct dte_cache_line *l = &mmu->dte_cache[d.devid % IOMMU_DTE_CACHE];

		mmu->stats.inv_devtab++;
		mmu->stats.model_cmd_ns += mmu->cost.inv_devtab_ns;
		if (l->valid && l->devid == d.devid)
			l->valid = false;
		break;
	}
	case AMDVI_CMD_INVALIDATE_IOTLB_PAGES:
		/* No device-side (ATS) TLB is modeled: counted and charged only. */
		mmu->stats.inv_iotlb++;
		mmu->stats.model_cmd_ns += mmu->cost.inv_iotlb_ns;
		break;
	default:
		break;
	}
}

static unsigned process_locked(struct iommu *mmu)
{
	struct amdvi_cmd c;
	unsigned n = 0;

	for (;;) {
		uint32_t at = cmdq_head(mmu->q);

		if (!cmdq_fetch(mmu->q, &c))
			break;
		execute(mmu, &c, at);
		n++;
	}
	return n;
}

static _Thread_local uint64_t thread_exec_cyc;

uint64_t iommu_thread_exec_cyc(void)
{
	return thread_exec_cyc;
}

unsigned iommu_process(struct iommu *mmu)
{
	uint64_t t0 = __rdtsc(), d;
	unsigned n;

	if (mmu->threaded)
		return 0;
	lock(mmu);
	n = process_locked(mmu);
	d = __rdtsc() - t0;
	mmu->stats.model_exec_cyc += d;
	unlock(mmu);
	thread_exec_cyc += d;
	return n;
}

static void *consumer(void *arg)
{
	struct iommu *mmu = arg;

	while (atomic_load_explicit(&mmu->running, memory_order_acquire)) {
		if (!cmdq_pending(mmu->q)) {
			__builtin_ia32_pause();
			continue;
		}
		lock(mmu);
		process_locked(mmu);
		unlock(mmu);
	}
	return NULL;
}

static void kick(void *ctx)
{
	struct iommu *mmu = ctx;

	if (mmu->threaded) {
		__builtin_ia32_pause();
		return;
	}
	if (IOB_WARN_ON(mmu->inline_busy))
		return;
	mmu->inline_busy = true;
	iommu_process(mmu);
	mmu->inline_busy = false;
}

/* ---- create / destroy --------------------------------------------------------- */

int iommu_create(const struct iommu_cfg *cfg, struct iommu **out)
{
	struct cmdq_cfg qc;
	struct iommu *mmu;
	int ret;

	if (!cfg || !out)
		return -EINVAL;
	/* EventLen 1000b..1111b: 256 to 32768 entries; below is reserved. */
	if (cfg->evtlog_entries &&
	    (cfg->evtlog_entries < IOMMU_EVTLOG_MIN || cfg->evtlog_entries > IOMMU_EVTLOG_MAX ||
	     (cfg->evtlog_entries & (cfg->evtlog_entries - 1))))
		return -EINVAL;
	mmu = iob_aligned_calloc(IOB_CACHELINE, 1, sizeof(*mmu));
	if (!mmu)
		return -ENOMEM;
	atomic_flag_clear(&mmu->lock);
	atomic_init(&mmu->running, false);
	if (cfg->cost)
		mmu->cost = *cfg->cost;
	else
		cost_current(&mmu->cost);
	mmu->np_cache = cfg->np_cache;
	mmu->threaded = cfg->threaded;
	mmu->locked = cfg->threaded || cfg->shared;
	pthread_spin_init(&mmu->prod, PTHREAD_PROCESS_PRIVATE);
	mmu->evt_entries = cfg->evtlog_entries ? cfg->evtlog_entries : 512;
	mmu->evt = iob_calloc(mmu->evt_entries, sizeof(*mmu->evt));
	/*
	 * The device table is 4 KiB aligned, as the DEV_TAB_BASE register
	 * requires (mmap'd pages are), and 2 MiB of nearly all zeroes: pages
	 * the kernel backs only where a DTE is set, not memset on every create.
	 */
	mmu->devtab = iob_zmap((size_t)IOMMU_DEVICES * AMDVI_DTE_SIZE);
	if (!mmu->evt || !mmu->devtab) {
		ret = -ENOMEM;
		goto err;
	}

	ret = iotlb_create(&cfg->tlb, &mmu->tlb);
	if (ret)
		goto err;
	qc = (struct cmdq_cfg){
		.entries = cfg->cmdq_entries ? cfg->cmdq_entries : CMDQ_ENTRIES_LINUX,
		.kick = kick,
		.kick_ctx = mmu,
	};
	ret = cmdq_create(&qc, &mmu->q);
	if (ret)
		goto err;
	if (mmu->threaded) {
		atomic_store(&mmu->running, true);
		ret = -pthread_create(&mmu->thread, NULL, consumer, mmu);
		if (ret) {
			atomic_store(&mmu->running, false);
			goto err;
		}
		if (cfg->cpu >= 0) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(cfg->cpu, &set);
			/* Best effort: a host with one CPU still runs, just unpinned. */
			pthread_setaffinity_np(mmu->thread, sizeof(set), &set);
		}
	}
	*out = mmu;
	return 0;
err:
	mmu->threaded = false;
	iommu_destroy(mmu);
	return ret;
}

void iommu_destroy(struct iommu *mmu)
{
	if (!mmu)
		return;
	if (mmu->threaded) {
		atomic_store(&mmu->running, false);
		pthread_join(mmu->thread, NULL);
	}
	cmdq_destroy(mmu->q);
	iotlb_destroy(mmu->tlb);
	pthread_spin_destroy(&mmu->prod);
	if (mmu->devtab)
		iob_zunmap(mmu->devtab, (size_t)IOMMU_DEVICES * AMDVI_DTE_SIZE);
	iob_free(mmu->evt);
	iob_free(mmu);
}

struct cmdq *iommu_cmdq(struct iommu *mmu)
{
	return mmu->q;
}

struct iotlb *iommu_iotlb(struct iommu *mmu)
{
	return mmu->tlb;
}

const struct cost_model *iommu_cost(const struct iommu *mmu)
{
	return &mmu->cost;
}

/* ---- device table ------------------------------------------------------------- */

int iommu_dte_set(struct iommu *mmu, uint16_t devid, domid_t domid,
		  paddr_t root, unsigned mode, unsigned prot)
{
	uint64_t *d = mmu->devtab[devid];
	uint64_t q0 = AMDVI_DTE_V | AMDVI_DTE_TV;

	if (mode > AMDVI_PT_LEVELS_MAX || (root & ~AMDVI_DTE_PT_ROOT) ||
	    (prot & ~IOPT_PROT_RW))
		return -EINVAL;
	q0 |= (uint64_t)mode << AMDVI_DTE_MODE_SHIFT;
	if (mode)
		q0 |= root & AMDVI_DTE_PT_ROOT;
	if (prot & IOPT_PROT_READ)
		q0 |= AMDVI_DTE_IR;
	if (prot & IOPT_PROT_WRITE)
		q0 |= AMDVI_DTE_IW;
	/* Domain ID first, then qword 0 with V: the entry is never half valid. */
	__atomic_store_n(&d[1], (uint64_t)domid, __ATOMIC_RELAXED);
	__atomic_store_n(&d[0], q0, __ATOMIC_RELEASE);
	return 0;
}

void iommu_dte_block(struct iommu *mmu, uint16_t devid)
{
	iommu_dte_set(mmu, devid, 0, 0, 0, 0);
}

const uint64_t *iommu_dte_raw(const struct iommu *mmu, uint16_t devid)
{
	return mmu->devtab[devid];
}

static void dte_get(struct iommu *mmu, uint16_t devid, uint64_t *q0, uint64_t *q1,
		    double *ns)
{
	struct dte_cache_line *l = &mmu->dte_cache[devid % IOMMU_DTE_CACHE];

	if (!l->valid || l->devid != devid) {
		const uint64_t *d = mmu->devtab[devid];

		l->q0 = __atomic_load_n(&d[0], __ATOMIC_ACQUIRE);
		l->q1 = __atomic_load_n(&d[1], __ATOMIC_RELAXED);
		l->devid = devid;
		l->valid = true;
		mmu->stats.dte_fetches++;
		*ns += mmu->cost.dte_fetch_ns;
	}
	*q0 = l->q0;
	*q1 = l->q1;
}

/* ---- translation ----------------------------------------------------------------- */

static unsigned entry_prot(uint64_t e)
{
	return ((e & AMDVI_PTE_IR) ? IOPT_PROT_READ : 0) |
	       ((e & AMDVI_PTE_IW) ? IOPT_PROT_WRITE : 0);
}

static int fault(struct iommu *mmu, struct iommu_xlate *x, enum amdvi_fault f,
		 uint16_t devid, domid_t domid, iova_t iova, unsigned access)
{
	unsigned flags = (access & IOPT_PROT_WRITE) ? AMDVI_EVENT_F_RW : 0;
	enum amdvi_event_code code = AMDVI_EVENT_IO_PAGE_FAULT;

	switch (f) {
	case AMDVI_FAULT_PERMISSION:
		flags |= AMDVI_EVENT_F_PR | AMDVI_EVENT_F_PE;
		break;
	case AMDVI_FAULT_RESERVED:
	case AMDVI_FAULT_BAD_LEVEL:
	case AMDVI_FAULT_SKIPPED_BITS:
		flags |= AMDVI_EVENT_F_PR | AMDVI_EVENT_F_RZ;
		break;
	case AMDVI_FAULT_DTE_INVALID:
		code = AMDVI_EVENT_ILLEGAL_DEV_TABLE_ENTRY;
		break;
	default:
		break;
	}
	x->fault = f;
	mmu->stats.faults++;
	log_event(mmu, code, devid, domid, flags, iova);
	return -EFAULT;
}

/* Cache the tables the walk passed through below its starting table. */
static void fill_pdes(struct iommu *mmu, domid_t domid, iova_t iova,
		      const struct amdvi_walk *w, unsigned prot)
{
	for (unsigned i = 0; i + 1 < w->nsteps; i++) {
		uint64_t e = w->steps[i].entry;
		unsigned lvl = amdvi_pte_next_level(e);
		unsigned span = amdvi_level_shift(lvl) + AMDVI_PT_ENTRIES_LG2;
		struct iotlb_pde p = {
			.base = iova & ~((1ULL << span) - 1),
			.table = e & AMDVI_PTE_ADDR,
			.domid = domid,
			.level = (uint8_t)lvl,
		};

		prot &= entry_prot(e);
		p.prot = (uint8_t)prot;
		iotlb_pde_fill(mmu->tlb, &p);
	}
}

int iommu_translate(struct iommu *mmu, uint16_t devid, iova_t iova,
		    unsigned access, struct iommu_xlate *x)
{
	struct iotlb_entry te;
	struct iotlb_pde pde;
	struct amdvi_walk w;
	uint64_t q0, q1;
	unsigned mode, dprot, prot;
	domid_t domid;
	double ns = 0;
	int ret = 0;

	memset(x, 0, sizeof(*x));
	lock(mmu);
	mmu->stats.translations++;
	dte_get(mmu, devid, &q0, &q1, &ns);
	domid = (domid_t)(q1 & AMDVI_DTE_DOMAIN_ID);

	if (!(q0 & AMDVI_DTE_V)) {
		/* V=0: the IOMMU does not translate this device at all. */
		x->passthrough = true;
		x->pa = iova;
		x->size_lg2 = AMDVI_PAGE_SIZE_LG2;
		mmu->stats.passthrough++;
		goto out;
	}
	mode = (unsigned)((q0 & AMDVI_DTE_MODE) >> AMDVI_DTE_MODE_SHIFT);
	dprot = entry_prot(q0);
	if (!(q0 & AMDVI_DTE_TV) || mode > AMDVI_PT_LEVELS_MAX) {
		ret = fault(mmu, x, AMDVI_FAULT_DTE_INVALID, devid, domid, iova, access);
		goto out;
	}
	if (mode == 0) {
		x->passthrough = true;
		mmu->stats.passthrough++;
		if (access & ~dprot) {
			ret = fault(mmu, x, AMDVI_FAULT_PERMISSION, devid, domid, iova,
				    access);
			goto out;
		}
		x->pa = iova;
		x->size_lg2 = AMDVI_PAGE_SIZE_LG2;
		goto out;
	}

	if (!iotlb_lookup(mmu->tlb, domid, iova, &te)) {
		x->tlb_hit = true;
		ns += mmu->cost.iotlb_hit_ns;
		if (!te.prot) {
			ret = fault(mmu, x, AMDVI_FAULT_NOT_PRESENT, devid, domid, iova,
				    access);
			goto out;
		}
		prot = te.prot;
		x->pa = te.pa | (iova & ((1ULL << te.size_lg2) - 1));
		x->size_lg2 = te.size_lg2;
	} else {
		paddr_t start = (paddr_t)(q0 & AMDVI_DTE_PT_ROOT);
		unsigned level = mode, sprot = dprot;

		if (!iotlb_pde_lookup(mmu->tlb, domid, iova, mode, &pde)) {
			start = pde.table;
			level = pde.level;
			sprot = pde.prot & dprot;
			ns += mmu->cost.pde_hit_ns;
		}
		amdvi_walk(start, level, mode, sprot, iova, &w);
		mmu->stats.walks++;
		mmu->stats.levels_read += w.nsteps;
		x->levels_read = w.nsteps;
		ns += w.nsteps * mmu->cost.walk_level_ns;
		fill_pdes(mmu, domid, iova, &w, sprot);
		if (w.fault != AMDVI_FAULT_NONE) {
			if (mmu->np_cache && w.fault == AMDVI_FAULT_NOT_PRESENT) {
				struct iotlb_entry neg = {
					.iova = iova & ~(AMDVI_PAGE_SIZE - 1),
					.domid = domid,
					.size_lg2 = AMDVI_PAGE_SIZE_LG2,
				};

				iotlb_fill(mmu->tlb, &neg);
			}
			ret = fault(mmu, x, w.fault, devid, domid, iova, access);
			goto out;
		}
		prot = w.prot;
		x->pa = w.pa;
		x->size_lg2 = w.size_lg2;
		if (prot) {
			te = (struct iotlb_entry){
				.iova = iova,
				.pa = w.pa,
				.domid = domid,
				.size_lg2 = (uint8_t)w.size_lg2,
				.prot = (uint8_t)prot,
			};
			iotlb_fill(mmu->tlb, &te);
		}
	}
	if (!access || (access & ~prot)) {
		x->pa = 0;
		ret = fault(mmu, x, AMDVI_FAULT_PERMISSION, devid, domid, iova, access);
	}
out:
	x->model_ns = ns;
	mmu->stats.model_xlate_ns += ns;
	unlock(mmu);
	return ret;
}

/* ---- driver side ------------------------------------------------------------------- */

/* Queue @n commands and ring the doorbell once. Producer lock held. */
static void submit_locked(struct iommu *mmu, const struct amdvi_cmd *cmds, size_t n)
{
	uint64_t t0 = PATHCTR_START();

	cmdq_submit(mmu->q, cmds, n);
	PATHCTR_STOP(cmd_submit, t0);
	lock(mmu);
	mmu->stats.doorbells++;
	mmu->stats.model_cmd_ns += mmu->cost.doorbell_ns;
	unlock(mmu);
}

static void submit(struct iommu *mmu, const struct amdvi_cmd *cmds, size_t n)
{
	pthread_spin_lock(&mmu->prod);
	submit_locked(mmu, cmds, n);
	pthread_spin_unlock(&mmu->prod);
}

int iommu_flush_range(struct iommu *mmu, domid_t domid, iova_t iova,
		      uint64_t size, bool pde, enum inval_policy policy,
		      unsigned space_lg2, uint64_t *over)
{
	struct inval_result r;
	struct amdvi_cmd cmds[INVAL_BLOCKS_MAX];
	int ret = inval_split(policy, iova, size, space_lg2, &r);

	if (ret)
		return ret;
	for (unsigned i = 0; i < r.nblocks; i++) {
		bool s;
		uint64_t addr = cmdq_range_addr(r.blocks[i].start, r.blocks[i].size_lg2, &s);

		cmdq_enc_inv_iommu_pages(&cmds[i], domid, addr, s, pde);
	}
	submit(mmu, cmds, r.nblocks);
	if (over)
		*over += r.over_bytes;
	return (int)r.nblocks;
}

void iommu_completion_wait(struct iommu *mmu)
{
	struct amdvi_cmd c;
	uint64_t seq;

	/* Held through the wait, as Linux holds iommu->lock: one waiter at a time. */
	pthread_spin_lock(&mmu->prod);
	seq = ++mmu->seq;
	cmdq_enc_completion_wait(&c, (paddr_t)(uintptr_t)&mmu->sem, seq, false);
	submit_locked(mmu, &c, 1);
	cmdq_wait_store(mmu->q, &mmu->sem, seq);
	pthread_spin_unlock(&mmu->prod);
}

void iommu_flush_domain(struct iommu *mmu, domid_t domid)
{
	struct amdvi_cmd c;

	/* Linux's domain flush: every page, PDE set. */
	cmdq_enc_inv_iommu_pages(&c, domid, AMDVI_INV_ALL_PAGES_ADDR, true, true);
	submit(mmu, &c, 1);
}

void iommu_flush_dte(struct iommu *mmu, uint16_t devid)
{
	struct amdvi_cmd c;

	cmdq_enc_inv_devtab_entry(&c, devid);
	submit(mmu, &c, 1);
}

void iommu_stats_get(struct iommu *mmu, struct iommu_stats *out)
{
	lock(mmu);
	*out = mmu->stats;
	unlock(mmu);
}

void iommu_stats_reset(struct iommu *mmu)
{
	lock(mmu);
	memset(&mmu->stats, 0, sizeof(mmu->stats));
	unlock(mmu);
}
