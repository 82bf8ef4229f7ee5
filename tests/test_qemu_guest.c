// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The qemu suite: boots Debian's kernel under QEMU's emulated AMD IOMMU
 * through `iob qemu run` (which builds the guest and installs what it
 * needs). Four short boots: strict with the I/O workload and the
 * dmabench module, passthrough with the I/O workload, swiotlb (the IOMMU
 * off, every DMA bounced) with the I/O workload, and one that cannot
 * finish before its timeout. Slow (about a minute under TCG); one QEMU at
 * a time (meson runs this file with --jobs 1). Asserts counts and states,
 * never a time.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iob/csv.h>

#include "iobrun.h"

static char root[] = "/tmp/iobtest-qemu-XXXXXX";

static void setup(void)
{
	cr_assert_not_null(mkdtemp(root));
}

static void teardown(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		cr_log_warn("could not remove %s", root);
}

TestSuite(qemu_guest, .init = setup, .fini = teardown);

/* The run folder `iob qemu run` printed as its last stdout line. */
static void folder_of(const struct iob_out *o, char *dir, size_t len)
{
	const char *p = o->out + strlen(o->out);

	while (p > o->out && p[-1] == '\n')
		p--;
	while (p > o->out && p[-1] != '\n')
		p--;
	snprintf(dir, len, "%.*s", (int)strcspn(p, "\n"), p);
	cr_assert(strstr(dir, root) == dir, "no run folder in stdout: '%s' (stderr: %s)", o->out,
		  o->err);
}

static void read_csv(const char *dir, const char *name, struct csv_table *t)
{
	char path[4400], err[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_eq(csv_read(path, t, err, sizeof(err)), 0, "%s: %s", path, err);
}

static const char *cell(const struct csv_table *t, size_t r, const char *col)
{
	int c = csv_col(t, col);

	cr_assert_geq(c, 0, "no column %s", col);
	return t->rows[r][c];
}

static bool file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	bool found = false;

	cr_assert_not_null(f, "%s", path);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

Test(qemu_guest, strict_guest_under_amd_vi_invalidates_and_runs_the_module, .timeout = 900)
{
	const char *args[] = { "qemu", "run", "--mode", "strict", "--device", "virtio",
			       "--points", "read:4K:1,read:64K:4", "--ios", "200", "--ms", "5000",
			       "--dmamap", "--ms 200 -g 2", "--results", root, "--label", "strict",
			       "--no-plot", NULL };
	struct csv_table q, dm, runs, fid;
	char dir[4400], con[4600];
	struct iob_out o;

	iob_runv(&o, args);
	cr_assert_eq(o.status, 0, "iob qemu run failed (%d):\n%s", o.status, o.err);
	folder_of(&o, dir, sizeof(dir));

	snprintf(con, sizeof(con), "%s/console-amd-virtio-strict.log", dir);
	cr_assert(file_has(con, "AMD-Vi: Interrupt remapping enabled"), "AMD-Vi is not enabled");
	cr_assert(file_has(con, "AMD-Vi: Found IOMMU"));
	cr_assert(file_has(con, "IOB-INFO disk=vda pci="), "the guest did not find its disk");
	cr_assert(file_has(con, "domain_type=DMA "), "strict mode: the DMA domain, not DMA-FQ");

	read_csv(dir, "qemu_runs.csv", &runs);
	cr_assert_eq(runs.nrows, 1);
	cr_assert_str_eq(cell(&runs, 0, "status"), "ok");
	cr_assert_str_eq(cell(&runs, 0, "amdvi_found"), "1");
	cr_assert_str_eq(cell(&runs, 0, "amdvi_intremap"), "1");

	read_csv(dir, "qemu.csv", &q);
	cr_assert_eq(q.nrows, 2);
	for (size_t r = 0; r < q.nrows; r++) {
		cr_assert_str_eq(cell(&q, r, "ios"), "200");
		/* virtio-blk maps at least header, data and status: each flushed on map and unmap. */
		cr_assert_geq(atof(cell(&q, r, "pages_inval_per_io")), 6.0, "row %zu: %s", r,
			      cell(&q, r, "pages_inval_per_io"));
		cr_assert_geq(atof(cell(&q, r, "completion_waits_per_io")), 6.0);
		cr_assert_gt(atof(cell(&q, r, "iops")), 0);
		cr_assert_str_eq(cell(&q, r, "trace_overrun"), "0");
	}

	read_csv(dir, "qemu_dmamap.csv", &dm);
	cr_assert_eq(dm.nrows, 4, "single and sg, map and unmap");
	for (size_t r = 0; r < dm.nrows; r++) {
		cr_assert_gt(atof(cell(&dm, r, "loops")), 0);
		cr_assert_gt(atof(cell(&dm, r, "p50_cyc")), 0);
		/* Two pages at an 8K-aligned IOVA: one 8K block, flushed once each way. */
		cr_assert_float_eq(atof(cell(&dm, r, "pages_inval_per_pair")), 2.0, 0.01,
				   "row %zu: %s", r, cell(&dm, r, "pages_inval_per_pair"));
	}

	read_csv(dir, "fidelity.csv", &fid);
	cr_assert_eq(fid.nrows, 4, "two points and two dmamap windows");
	for (size_t r = 0; r < fid.nrows; r++)
		cr_assert_str_eq(cell(&fid, r, "verdict"), "exact", "window %s: qemu %s model %s",
				 cell(&fid, r, "window"), cell(&fid, r, "qemu_pages_inval"),
				 cell(&fid, r, "model_inv_cmds"));
	csv_table_free(&q);
	csv_table_free(&dm);
	csv_table_free(&runs);
	csv_table_free(&fid);
}

Test(qemu_guest, passthrough_guest_makes_almost_no_invalidations, .timeout = 900)
{
	const char *args[] = { "qemu", "run", "--mode", "passthrough", "--device", "virtio",
			       "--workload", "io", "--points", "read:4K:1", "--ios", "200",
			       "--results", root, "--label", "pt", "--no-plot", NULL };
	struct csv_table q;
	char dir[4400], con[4600];
	struct iob_out o;

	iob_runv(&o, args);
	cr_assert_eq(o.status, 0, "iob qemu run failed (%d):\n%s", o.status, o.err);
	folder_of(&o, dir, sizeof(dir));
	snprintf(con, sizeof(con), "%s/console-amd-virtio-passthrough.log", dir);
	cr_assert(file_has(con, "domain_type=identity"), "passthrough: an identity domain");
	read_csv(dir, "qemu.csv", &q);
	cr_assert_eq(q.nrows, 1);
	cr_assert_lt(atof(cell(&q, 0, "pages_inval_per_io")), 0.05, "%s",
		     cell(&q, 0, "pages_inval_per_io"));
	cr_assert_lt(atof(cell(&q, 0, "completion_waits_per_io")), 0.05);
	cr_assert_gt(atof(cell(&q, 0, "iops")), 0);
	csv_table_free(&q);
}

Test(qemu_guest, swiotlb_guest_bounces_its_dma_and_the_iommu_invalidates_nothing, .timeout = 900)
{
	const char *args[] = { "qemu", "run", "--mode", "swiotlb", "--device", "virtio",
			       "--workload", "io", "--points", "read:4K:1", "--ios", "200",
			       "--results", root, "--label", "swiotlb", "--no-plot", NULL };
	struct csv_table q, counts;
	char dir[4400], con[4600];
	struct iob_out o;

	iob_runv(&o, args);
	cr_assert_eq(o.status, 0, "iob qemu run failed (%d):\n%s", o.status, o.err);
	folder_of(&o, dir, sizeof(dir));
	snprintf(con, sizeof(con), "%s/console-amd-virtio-swiotlb.log", dir);
	cr_assert(file_has(con, "-device amd-iommu "), "the same machine as the other modes");
	cr_assert(file_has(con, "IOB-INFO swiotlb=forced"),
		  "the guest saw swiotlb=force and no IOMMU group");
	cr_assert(file_has(con, "software IO TLB"), "the kernel set the software IO TLB up");
	cr_assert(file_has(con, "domain_type=none "), "the IOMMU is off: no domain");

	read_csv(dir, "qemu.csv", &q);
	cr_assert_eq(q.nrows, 1);
	cr_assert_str_eq(cell(&q, 0, "mode"), "swiotlb");
	cr_assert_str_eq(cell(&q, 0, "ios"), "200");
	/* A 4 KiB virtio-blk read maps a header, the data and a status byte: each bounced. */
	cr_assert_geq(atof(cell(&q, 0, "swiotlb_bounces_per_io")), 3.0, "%s",
		      cell(&q, 0, "swiotlb_bounces_per_io"));
	cr_assert_eq(atof(cell(&q, 0, "pages_inval_per_io")), 0.0, "%s",
		     cell(&q, 0, "pages_inval_per_io"));
	cr_assert_eq(atof(cell(&q, 0, "completion_waits_per_io")), 0.0);
	cr_assert_gt(atof(cell(&q, 0, "iops")), 0);

	/* QEMU's own counts, the point's window and the whole boot: no IOMMU page invalidation. */
	read_csv(dir, "qemu_trace_counts.csv", &counts);
	cr_assert_eq(counts.nrows, 2);
	for (size_t r = 0; r < counts.nrows; r++) {
		cr_assert_str_eq(cell(&counts, r, "pages_inval"), "0", "window %s",
				 cell(&counts, r, "window"));
		cr_assert_str_eq(cell(&counts, r, "commands"), "0");
	}
	csv_table_free(&q);
	csv_table_free(&counts);
}

Test(qemu_guest, a_guest_past_its_timeout_is_killed_and_nothing_looks_complete, .timeout = 300)
{
	const char *args[] = { "qemu", "run", "--mode", "strict", "--device", "virtio",
			       "--workload", "io", "--points", "read:4K:1", "--ios", "10000000",
			       "--ms", "600000", "--timeout", "8", "--results", root, "--label",
			       "hang", "--no-plot", NULL };
	struct iob_out o;
	struct dirent *de;
	DIR *d;

	iob_runv(&o, args);
	cr_assert_eq(o.status, 1, "status %d: %s", o.status, o.err);
	cr_assert(strstr(o.err, "timeout"), "%s", o.err);
	d = opendir(root);
	cr_assert_not_null(d);
	while ((de = readdir(d)))
		cr_assert(!strstr(de->d_name, "_hang"), "a folder that looks complete: %s", de->d_name);
	closedir(d);
}
