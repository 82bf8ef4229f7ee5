// SPDX-License-Identifier: GPL-2.0
/*
 * dmabench: time dma_map_single()/dma_unmap_single() and dma_map_sg()/
 * dma_unmap_sg() on a PCI device behind the IOMMU, in TSC cycles.
 *
 * Linux has kernel/dma/map_benchmark.c for this, but Debian's kernel is
 * built without CONFIG_DMA_MAP_BENCHMARK, and that benchmark needs the
 * device unbound from its driver (driver_override). This module instead
 * borrows the struct device of a PCI function that stays bound to its
 * stock driver (virtio-pci, nvme): the DMA API call path, the IOMMU
 * domain and the invalidations are exactly what that driver's own I/O
 * gets. The device never touches the buffers: nothing is handed to it.
 *
 * The parameters are those of iob dmamap and dma_map_benchmark:
 *   dev=0000:00:03.0  the PCI function (required)
 *   threads=1 ms=2000 node=-1 bits=32 dir=0 delay_ns=0 granule=1
 *   api=single|sg|both
 * The run happens at load time; results go to the kernel log as
 *   IOB-DMAMAP api=single op=map ... p50_cyc=... (one line per op)
 * and the module stays loaded until rmmod. Load fails with -EINVAL on a
 * bad parameter and -ENODEV when the device does not exist.
 */
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/gfp.h>
#include <linux/iommu.h>
#include <linux/kthread.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <asm/msr.h>
#include <asm/tsc.h>

/* Limits of tools/testing/selftests/dma/dma_map_benchmark.c */
#define DMABENCH_MAX_THREADS	1024
#define DMABENCH_MAX_MS		300000
#define DMABENCH_MAX_DELAY_NS	(10 * 1000 * 1000)
#define DMABENCH_MAX_GRANULE	1024

/* Log-linear histogram of cycles: 64 sub-buckets per power of two. */
#define HIST_SUB_LG2	6
#define HIST_SUB	(1U << HIST_SUB_LG2)
#define HIST_BUCKETS	(64 * HIST_SUB)

static char *dev = "";
module_param(dev, charp, 0444);
MODULE_PARM_DESC(dev, "PCI function whose struct device maps (DDDD:BB:DD.F)");
static int threads = 1;
module_param(threads, int, 0444);
static int ms = 2000;
module_param(ms, int, 0444);
MODULE_PARM_DESC(ms, "run time in milliseconds (dma_map_benchmark -s, in ms)");
static int node = NUMA_NO_NODE;
module_param(node, int, 0444);
static int bits = 32;
module_param(bits, int, 0444);
MODULE_PARM_DESC(bits, "DMA mask bits for the run (restored after)");
static int dir;
module_param(dir, int, 0444);
MODULE_PARM_DESC(dir, "0 bidirectional, 1 to device, 2 from device");
static int delay_ns;
module_param(delay_ns, int, 0444);
static int granule = 1;
module_param(granule, int, 0444);
MODULE_PARM_DESC(granule, "pages per map");
static char *api = "both";
module_param(api, charp, 0444);
MODULE_PARM_DESC(api, "single, sg or both");

enum dmabench_op { OP_MAP, OP_UNMAP, OP_NR };

struct dmabench_stat {
	u64 n, sum_cyc, min_cyc, max_cyc;
	u64 sum_100ns, sumsq_100ns;	/* as map_benchmark.c accumulates */
	u64 *hist;
};

struct dmabench_thread {
	struct task_struct *task;
	struct device *dev;
	bool sg;
	unsigned long end_jiffies;
	struct dmabench_stat st[OP_NR];
	int err;
	struct completion done;
};

static unsigned int hist_bucket(u64 v)
{
	unsigned int e;

	if (v < HIST_SUB)
		return v;
	e = fls64(v) - 1;
	return (e - HIST_SUB_LG2 + 1) * HIST_SUB + ((v >> (e - HIST_SUB_LG2)) & (HIST_SUB - 1));
}

static u64 hist_mid(unsigned int b)
{
	unsigned int e;

	if (b < HIST_SUB)
		return b;
	e = b / HIST_SUB + HIST_SUB_LG2 - 1;
	return ((u64)(HIST_SUB + b % HIST_SUB) << (e - HIST_SUB_LG2)) +
	       (1ULL << (e - HIST_SUB_LG2)) / 2;
}

static u64 hist_pct(const u64 *h, u64 n, unsigned int permille)
{
	u64 want = div_u64(n * permille + 999, 1000), seen = 0;
	unsigned int b;

	if (!want)
		want = 1;
	for (b = 0; b < HIST_BUCKETS; b++) {
		seen += h[b];
		if (seen >= want)
			return hist_mid(b);
	}
	return 0;
}

static void stat_add(struct dmabench_stat *s, u64 cyc)
{
	u64 t100 = div_u64(cyc * 10000ULL, tsc_khz);	/* 100 ns units */

	s->n++;
	s->sum_cyc += cyc;
	if (cyc < s->min_cyc)
		s->min_cyc = cyc;
	if (cyc > s->max_cyc)
		s->max_cyc = cyc;
	s->sum_100ns += t100;
	s->sumsq_100ns += t100 * t100;
	s->hist[hist_bucket(cyc)]++;
}

static int dmabench_loop(struct dmabench_thread *t)
{
	enum dma_data_direction ddir = dir == 1 ? DMA_TO_DEVICE :
				       dir == 2 ? DMA_FROM_DEVICE : DMA_BIDIRECTIONAL;
	size_t size = (size_t)granule * PAGE_SIZE;
	struct scatterlist *sgl = NULL;
	struct page **pages = NULL;
	void *buf = NULL;
	int i, ret = 0;

	if (t->sg) {
		/* One page per entry, separately allocated: a real scatter list. */
		sgl = kcalloc(granule, sizeof(*sgl), GFP_KERNEL);
		pages = kcalloc(granule, sizeof(*pages), GFP_KERNEL);
		if (!sgl || !pages) {
			ret = -ENOMEM;
			goto out;
		}
		sg_init_table(sgl, granule);
		for (i = 0; i < granule; i++) {
			pages[i] = alloc_page(GFP_KERNEL);
			if (!pages[i]) {
				ret = -ENOMEM;
				goto out;
			}
			sg_set_page(&sgl[i], pages[i], PAGE_SIZE, 0);
		}
	} else {
		buf = (void *)__get_free_pages(GFP_KERNEL, get_order(size));
		if (!buf)
			return -ENOMEM;
	}

	while (!kthread_should_stop() && time_before(jiffies, t->end_jiffies)) {
		dma_addr_t addr = 0;
		u64 t0, t1, t2, t3;
		int nents = 0;

		if (t->sg) {
			t0 = rdtsc_ordered();
			nents = dma_map_sg(t->dev, sgl, granule, ddir);
			t1 = rdtsc_ordered();
			if (!nents) {
				ret = -EIO;
				break;
			}
		} else {
			t0 = rdtsc_ordered();
			addr = dma_map_single(t->dev, buf, size, ddir);
			t1 = rdtsc_ordered();
			if (dma_mapping_error(t->dev, addr)) {
				ret = -EIO;
				break;
			}
		}
		ndelay(delay_ns);
		if (t->sg) {
			t2 = rdtsc_ordered();
			dma_unmap_sg(t->dev, sgl, granule, ddir);
			t3 = rdtsc_ordered();
		} else {
			t2 = rdtsc_ordered();
			dma_unmap_single(t->dev, addr, size, ddir);
			t3 = rdtsc_ordered();
		}
		stat_add(&t->st[OP_MAP], t1 - t0);
		stat_add(&t->st[OP_UNMAP], t3 - t2);
		cond_resched();
	}
out:
	if (pages)
		for (i = 0; i < granule; i++)
			if (pages[i])
				__free_page(pages[i]);
	kfree(pages);
	kfree(sgl);
	if (buf)
		free_pages((unsigned long)buf, get_order(size));
	return ret;
}

static int dmabench_thread_fn(void *arg)
{
	struct dmabench_thread *t = arg;

	t->err = dmabench_loop(t);
	complete(&t->done);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(HZ / 10);
	return 0;
}

static void dmabench_report(const char *api_name, struct dmabench_thread *th, int n)
{
	static const char *const op_names[OP_NR] = { "map", "unmap" };
	static const char *const dir_names[] = { "BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE" };
	u64 *h;
	int op, i, b;

	h = vzalloc(HIST_BUCKETS * sizeof(u64));
	if (!h)
		return;
	for (op = 0; op < OP_NR; op++) {
		struct dmabench_stat s = { .min_cyc = U64_MAX };
		u64 avg100 = 0, var100 = 0, mean;

		memset(h, 0, HIST_BUCKETS * sizeof(u64));
		for (i = 0; i < n; i++) {
			const struct dmabench_stat *x = &th[i].st[op];

			s.n += x->n;
			s.sum_cyc += x->sum_cyc;
			s.sum_100ns += x->sum_100ns;
			s.sumsq_100ns += x->sumsq_100ns;
			s.min_cyc = min(s.min_cyc, x->min_cyc);
			s.max_cyc = max(s.max_cyc, x->max_cyc);
			for (b = 0; b < HIST_BUCKETS; b++)
				h[b] += x->hist[b];
		}
		if (!s.n)
			continue;
		/* map_benchmark.c: averages and stddev in 100 ns units, truncated. */
		avg100 = div64_u64(s.sum_100ns, s.n);
		var100 = div64_u64(s.sumsq_100ns, s.n) - avg100 * avg100;
		mean = div64_u64(s.sum_cyc, s.n);
		pr_info("IOB-DMAMAP api=%s op=%s dev=%s threads=%d ms=%d node=%d bits=%d dir=%s delay_ns=%d granule=%d loops=%llu tsc_khz=%u mean_cyc=%llu min_cyc=%llu p50_cyc=%llu p90_cyc=%llu p99_cyc=%llu p999_cyc=%llu max_cyc=%llu avg_100ns=%llu stddev_100ns=%llu\n",
			api_name, op_names[op], dev, threads, ms, node, bits, dir_names[dir],
			delay_ns, granule, s.n, tsc_khz, mean, s.min_cyc,
			hist_pct(h, s.n, 500), hist_pct(h, s.n, 900), hist_pct(h, s.n, 990),
			hist_pct(h, s.n, 999), s.max_cyc, avg100, (u64)int_sqrt64(var100));
	}
	vfree(h);
}

static int dmabench_run(struct device *d, bool sg)
{
	struct dmabench_thread *th;
	unsigned long end = jiffies + msecs_to_jiffies(ms);
	int i, op, ret = 0, started = 0;

	th = kcalloc(threads, sizeof(*th), GFP_KERNEL);
	if (!th)
		return -ENOMEM;
	for (i = 0; i < threads; i++) {
		th[i].dev = d;
		th[i].sg = sg;
		th[i].end_jiffies = end;
		init_completion(&th[i].done);
		for (op = 0; op < OP_NR; op++) {
			th[i].st[op].min_cyc = U64_MAX;
			th[i].st[op].hist = vzalloc(HIST_BUCKETS * sizeof(u64));
			if (!th[i].st[op].hist) {
				ret = -ENOMEM;
				goto out;
			}
		}
	}
	for (i = 0; i < threads; i++) {
		th[i].task = kthread_create_on_node(dmabench_thread_fn, &th[i], node,
						    "dmabench-%d", i);
		if (IS_ERR(th[i].task)) {
			ret = PTR_ERR(th[i].task);
			break;
		}
		get_task_struct(th[i].task);
		wake_up_process(th[i].task);
		started++;
	}
	for (i = 0; i < started; i++) {
		wait_for_completion(&th[i].done);
		kthread_stop(th[i].task);
		put_task_struct(th[i].task);
		if (th[i].err && !ret)
			ret = th[i].err;
	}
	if (!ret)
		dmabench_report(sg ? "sg" : "single", th, started);
out:
	for (i = 0; i < threads; i++)
		for (op = 0; op < OP_NR; op++)
			vfree(th[i].st[op].hist);
	kfree(th);
	return ret;
}

static int __init dmabench_init(void)
{
	unsigned int domain, bus, slot, fn;
	struct pci_dev *pdev;
	u64 old_mask;
	bool do_single, do_sg;
	int ret = 0;

	if (sscanf(dev, "%x:%x:%x.%x", &domain, &bus, &slot, &fn) != 4) {
		pr_err("dmabench: dev=%s: expected DDDD:BB:DD.F\n", dev);
		return -EINVAL;
	}
	if (threads < 1 || threads > DMABENCH_MAX_THREADS || ms < 1 || ms > DMABENCH_MAX_MS ||
	    bits < 20 || bits > 64 || dir < 0 || dir > 2 || delay_ns < 0 ||
	    delay_ns > DMABENCH_MAX_DELAY_NS || granule < 1 || granule > DMABENCH_MAX_GRANULE ||
	    (node != NUMA_NO_NODE && (node < 0 || !node_possible(node)))) {
		pr_err("dmabench: a parameter is out of range (see modinfo dmabench)\n");
		return -EINVAL;
	}
	do_single = !strcmp(api, "single") || !strcmp(api, "both");
	do_sg = !strcmp(api, "sg") || !strcmp(api, "both");
	if (!do_single && !do_sg) {
		pr_err("dmabench: api=%s: expected single, sg or both\n", api);
		return -EINVAL;
	}
	if (!tsc_khz) {
		pr_err("dmabench: no TSC frequency\n");
		return -ENODEV;
	}
	pdev = pci_get_domain_bus_and_slot(domain, bus, PCI_DEVFN(slot, fn));
	if (!pdev) {
		pr_err("dmabench: no PCI device %s\n", dev);
		return -ENODEV;
	}
	old_mask = dma_get_mask(&pdev->dev);
	ret = dma_set_mask(&pdev->dev, DMA_BIT_MASK(bits));
	if (ret) {
		pr_err("dmabench: %s cannot take a %d-bit DMA mask\n", dev, bits);
		goto put;
	}
	pr_info("IOB-DMAMAP-START dev=%s iommu_group=%d\n", dev,
		pdev->dev.iommu_group ? iommu_group_id(pdev->dev.iommu_group) : -1);
	if (do_single)
		ret = dmabench_run(&pdev->dev, false);
	if (!ret && do_sg)
		ret = dmabench_run(&pdev->dev, true);
	dma_set_mask(&pdev->dev, old_mask);
	if (ret)
		pr_err("dmabench: run failed: %d\n", ret);
put:
	pci_dev_put(pdev);
	return ret;
}

static void __exit dmabench_exit(void)
{
}

module_init(dmabench_init);
module_exit(dmabench_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Time dma_map_single/sg on a device behind the IOMMU (iommubench)");
