// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The host suite: iob host run inside the QEMU guest (Debian's kernel
 * behind QEMU's AMD IOMMU), on the guest's NVMe bound to vfio-pci, through
 * `iob qemu host`, which builds the guest with a static iob in it. One
 * boot, about 40 s under TCG. Every assertion is about counts and states,
 * exact where QEMU's trace gives the truth; none about a time.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iob/csv.h>

#include "iobrun.h"

static char root[] = "/tmp/iobtest-host-XXXXXX";
static char dir[4400];
static struct iob_out o;

/*
 * One boot for every test: made in the runner before it starts the tests
 * (PRE_ALL). Criterion runs each test in a new process of this program
 * (BoxFort re-executes it), so the folder, or why there is none, reaches
 * them through the environment.
 */
static char boot_error[8192];

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	const char *p;

	(void)set;
	if (!mkdtemp(root)) {
		snprintf(boot_error, sizeof(boot_error), "mkdtemp %s failed", root);
		return;
	}
	iob_run(&o, "qemu", "host", "--results", root, "--accel", "tcg");
	if (o.status) {
		snprintf(boot_error, sizeof(boot_error), "iob qemu host failed (%d): %.4000s\n%.3000s",
			 o.status, o.err, o.out);
		setenv("IOB_HOST_TEST_DIR", "", 1);
		setenv("IOB_HOST_TEST_ERROR", boot_error, 1);
		return;
	}
	/* The run folder is stdout's last line. */
	p = o.out + strlen(o.out);
	while (p > o.out && p[-1] == '\n')
		p--;
	while (p > o.out && p[-1] != '\n')
		p--;
	snprintf(dir, sizeof(dir), "%.*s", (int)strcspn(p, "\n"), p);
	if (strstr(dir, root) != dir)
		snprintf(boot_error, sizeof(boot_error), "no run folder in stdout: %.4000s", o.out);
	setenv("IOB_HOST_TEST_DIR", boot_error[0] ? "" : dir, 1);
	setenv("IOB_HOST_TEST_ERROR", boot_error, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	char cmd[256];

	(void)stats;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (strcmp(root + sizeof(root) - 7, "XXXXXX") && system(cmd))
		fprintf(stderr, "could not remove %s\n", root);
}

static void booted(void)
{
	const char *d = getenv("IOB_HOST_TEST_DIR"), *e = getenv("IOB_HOST_TEST_ERROR");

	if (e && *e)
		cr_assert_fail("%s", e);
	cr_assert(d && *d, "the boot left no run folder (IOB_HOST_TEST_DIR unset)");
	snprintf(dir, sizeof(dir), "%s", d);
}

TestSuite(host_guest, .init = booted);

static void read_csv(const char *name, struct csv_table *t)
{
	char path[4600], err[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_eq(csv_read(path, t, err, sizeof(err)), 0, "%s: %s", path, err);
	cr_assert_gt(t->nrows, 0, "%s: no rows", path);
}

static const char *cell(const struct csv_table *t, size_t r, const char *col)
{
	int c = csv_col(t, col);

	cr_assert_geq(c, 0, "no column %s", col);
	return t->rows[r][c];
}

static bool file_has(const char *name, const char *needle)
{
	char path[4600], buf[65536];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strstr(buf, needle) != NULL;
}

Test(host_guest, every_window_counts_the_same_commands_in_guest_model_and_qemu)
{
	struct csv_table t;
	unsigned maps = 0, unmaps = 0;

	read_csv("host_qemu_check.csv", &t);
	cr_assert_geq(t.nrows, 16, "%zu windows", t.nrows);
	for (size_t r = 0; r < t.nrows; r++) {
		cr_expect_str_eq(cell(&t, r, "agree"), "1", "window %s: guest %s/%s, model %s/%s, "
				 "QEMU %s/%s", cell(&t, r, "window"), cell(&t, r, "guest_inv_pages"),
				 cell(&t, r, "guest_completion_waits"), cell(&t, r, "model_inv_pages"),
				 cell(&t, r, "model_completion_waits"), cell(&t, r, "qemu_inv_pages"),
				 cell(&t, r, "qemu_completion_waits"));
		cr_expect_str_eq(cell(&t, r, "guest_inv_pages"), cell(&t, r, "qemu_inv_pages"));
		maps += !strcmp(cell(&t, r, "op"), "map");
		unmaps += !strcmp(cell(&t, r, "op"), "unmap");
	}
	cr_assert(maps && maps == unmaps);
	csv_table_free(&t);
}

/*
 * A strict unmap of one 4K page is one INVALIDATE_IOMMU_PAGES and one
 * COMPLETION_WAIT (QEMU's IOMMU sets NpCache, so a map is flushed too).
 */
Test(host_guest, one_page_strict_unmap_is_one_invalidation_and_one_wait)
{
	struct csv_table t;
	bool seen = false;

	read_csv("host_vfio.csv", &t);
	for (size_t r = 0; r < t.nrows; r++)
		if (!strcmp(cell(&t, r, "op"), "unmap") && !strcmp(cell(&t, r, "page_size_bytes"), "4096") &&
		    !strcmp(cell(&t, r, "pages_per_call"), "1")) {
			cr_assert_eq(strtod(cell(&t, r, "inv_pages_cmds_per_call"), NULL), 1.0);
			cr_assert_eq(strtod(cell(&t, r, "completion_waits_per_call"), NULL), 1.0);
			seen = true;
		}
	cr_assert(seen);
	csv_table_free(&t);
}

Test(host_guest, the_kprobe_saw_exactly_the_vfio_calls_made)
{
	struct csv_table t;

	read_csv("host_vfio.csv", &t);
	for (size_t r = 0; r < t.nrows; r++)
		cr_expect_eq(strtod(cell(&t, r, "vfio_calls_traced"), NULL),
			     strtod(cell(&t, r, "calls_per_round"), NULL), "%s %s x%s %s",
			     cell(&t, r, "op"), cell(&t, r, "page_size_bytes"),
			     cell(&t, r, "pages_per_call"), cell(&t, r, "pattern"));
	csv_table_free(&t);
}

Test(host_guest, the_device_writes_where_the_mapping_says_and_nowhere_after_unmap)
{
	struct csv_table t;

	read_csv("host_dma_check.csv", &t);
	cr_assert_str_eq(cell(&t, 0, "landed"), "1");
	cr_assert_str_eq(cell(&t, 0, "vid"), cell(&t, 0, "pci_vid"));
	cr_assert_str_eq(cell(&t, 0, "other_untouched"), "1");
	cr_assert_str_eq(cell(&t, 0, "after_unmap_untouched"), "1");
	csv_table_free(&t);
}

Test(host_guest, phases_find_and_count_map_unmap_flush_and_wait)
{
	static const char *const need[] = { "pt_map", "pt_unmap", "flush", "completion_wait",
					     "iotlb_sync", "vfio_ioctl" };
	struct csv_table t;

	read_csv("host_phases.csv", &t);
	for (size_t k = 0; k < sizeof(need) / sizeof(need[0]); k++) {
		bool found = false;

		for (size_t r = 0; r < t.nrows; r++)
			if (!strcmp(cell(&t, r, "path"), need[k])) {
				found = true;
				cr_expect_gt(strtoull(cell(&t, r, "count"), NULL, 10), 0, "%s", need[k]);
			}
		cr_expect(found, "phase %s not timed", need[k]);
	}
	csv_table_free(&t);
	read_csv("host_commands.csv", &t);
	csv_table_free(&t);
}

Test(host_guest, info_pmu_and_calibrate_take_their_paths)
{
	struct iob_out c;
	char conf[4600];

	cr_assert(file_has("host_info.json", "\"iommu_count\": 1"));
	cr_assert(file_has("host_info.json", "\"np_cache\": true"));
	/* QEMU emulates no IOMMU PMU: the run says why it left it out. */
	cr_assert(file_has("guest_meta.json", "no AMD IOMMU PMU"));
	/* The fitted cost file is one iob takes. */
	snprintf(conf, sizeof(conf), "%s/host_cost.conf", dir);
	iob_run(&c, "micro", "cmdq", "--cost", conf, "--batches", "1", "--rounds", "10",
		"--modes", "inline");
	cr_assert_eq(c.status, 0, "%s", c.err);
	cr_assert(file_has("host_fidelity.csv", "counts_equal"));
}

Test(host_guest, the_device_is_given_back_to_its_driver)
{
	/* vfio-pci had it for the run (--bind); the guest reads its driver after. */
	cr_assert(file_has("console-amd-nvme-strict.log", "IOB-INFO host_driver_after=nvme"));
	cr_assert(!file_has("host-run.log", "giving the device back"), "a restore failed");
}

/*
 * dma_map_benchmark on the guest's kernel through dmabench: strict with
 * NpCache, every map and every unmap is flushed and waited for, 2 + 2 per
 * pair, which the same command line on the model also says.
 */
Test(host_guest, dmamap_on_the_kernel_counts_what_the_model_counts)
{
	struct csv_table t;
	struct iob_out m;

	read_csv("host_dmamap.csv", &t);
	for (size_t r = 0; r < t.nrows; r++) {
		cr_expect_gt(strtoull(cell(&t, r, "loops"), NULL, 10), 0);
		cr_expect_eq(strtod(cell(&t, r, "inv_cmds_per_pair"), NULL), 2.0);
		cr_expect_eq(strtod(cell(&t, r, "completion_waits_per_pair"), NULL), 2.0);
	}
	csv_table_free(&t);
	iob_run(&m, "dmamap", "--np-cache", "--ms", "100");
	cr_assert_eq(m.status, 0, "%s", m.err);
	cr_assert(strstr(m.out, "invalidation commands per unmap 2.00, completion waits per unmap 2.00"),
		  "%s", m.out);
	cr_assert(file_has("host-run.log", "invalidation commands per unmap 2.00, completion waits "
			   "per unmap 2.00 (the kernel's"));
}

/* ---- iob host reach: the device's DMA against QEMU's IOTLB ---------------------------------- */

Test(host_guest, reach_misses_and_hits_at_queue_depth_1_are_exactly_what_the_probe_predicted)
{
	struct csv_table t;
	size_t qd1 = 0, missing = 0;

	read_csv("host_reach_qemu.csv", &t);
	/* --quick: 7 windows x 2 page sizes x 2 patterns x 2 queue depths. */
	cr_assert_eq(t.nrows, 56, "%zu points", t.nrows);
	for (size_t r = 0; r < t.nrows; r++) {
		cr_assert_str_eq(cell(&t, r, "agree"), "1", "point %zu", r);
		if (strcmp(cell(&t, r, "qd"), "1"))
			continue;
		qd1++;
		cr_assert_str_eq(cell(&t, r, "qemu_misses"), cell(&t, r, "predicted_misses"));
		cr_assert_str_eq(cell(&t, r, "qemu_hits"), cell(&t, r, "predicted_hits"));
		missing += strtoull(cell(&t, r, "qemu_misses"), NULL, 10) > 0;
	}
	cr_assert_eq(qd1, 28);
	/* Past QEMU's 1024 entries (4 MiB of 4K pages) the windows miss: the check is not empty. */
	cr_assert_geq(missing, 8, "%zu queue-depth-1 points with misses", missing);
	csv_table_free(&t);
}

Test(host_guest, reach_data_lands_in_the_pages_each_transfer_named)
{
	struct csv_table t;

	read_csv("host_reach.csv", &t);
	for (size_t r = 0; r < t.nrows; r++) {
		cr_assert_str_eq(cell(&t, r, "engine"), "nvme");
		cr_assert_str_eq(cell(&t, r, "checked"), "128", "point %zu: 32 transfers of 4 pages", r);
		cr_assert_str_eq(cell(&t, r, "bad"), "0", "point %zu", r);
	}
	csv_table_free(&t);
}

Test(host_guest, reach_fit_on_qemus_counts_finds_qemus_iotlb)
{
	struct csv_table t;

	read_csv("host_reach_qemu_fit.csv", &t);
	cr_assert_eq(t.nrows, 4, "4K and 2M, seq and random");
	for (size_t r = 0; r < t.nrows; r++) {
		cr_assert_str_eq(cell(&t, r, "qemu_geometry_found"), "1", "curve %zu", r);
		cr_assert_float_eq(strtod(cell(&t, r, "b_ns_per_miss"), NULL), 1.0, 0.01,
				   "one counted miss per predicted one");
	}
	csv_table_free(&t);
	/* The guest's own fit ran on TCG latencies: its rows exist, their figures mean nothing. */
	cr_assert(file_has("host_reach_fit.csv", "latency,nvme,4096,random"));
	cr_assert(file_has("meta.json", "TCG artefact"));
}
