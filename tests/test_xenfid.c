// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob xen fidelity on a small xen.csv (tests/data/xen-fidelity: rows of the
 * committed run results/20261205-075536_vm_AMD-EPYC_xen-qemu): the model's
 * counts from the workload description, Xen's from the file, the estimate
 * of dom0's own activity, the verdicts; and bad input writing nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "iobrun.h"

static char dir[128];

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static void spill(const char *path, const char *text, size_t n)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(text, 1, n, f), n);
	fclose(f);
}

/* The fixture copied into a scratch folder (iob writes beside it). */
static void fixture(void)
{
	const char *data = getenv("IOB_TEST_DATA");
	static const char *const files[] = { "xen.csv", "xen_paths.csv" };

	cr_assert_not_null(data, "IOB_TEST_DATA is not set (meson sets it)");
	snprintf(dir, sizeof(dir), "%s/iob-xenfid-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
	for (int i = 0; i < 2; i++) {
		char src[512], dst[256], *t;

		snprintf(src, sizeof(src), "%s/xen-fidelity/%s", data, files[i]);
		snprintf(dst, sizeof(dst), "%s/%s", dir, files[i]);
		t = slurp(src);
		cr_assert_not_null(t, "%s missing", src);
		spill(dst, t, strlen(t));
		free(t);
	}
}

static void cleanup(void)
{
	const char *const names[] = { "xen.csv", "xen_paths.csv", "xen_fidelity.csv",
				      "xen_fidelity.csv.tmp" };
	char p[256];

	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

/* Field @col (0-based) of the row of xen_fidelity.csv starting with @key ("t,w,c,"). */
static void field(const char *csv, const char *key, int col, char *out, size_t len)
{
	char pat[128];
	const char *p;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\n%s", key);
	p = strstr(csv, pat);
	cr_assert_not_null(p, "no row %s", key);
	p++;
	for (int c = 0; c < col; c++) {
		p = strchr(p, ',');
		cr_assert(p && p[0], "row %s has no field %d", key, col);
		p++;
	}
	while (p[n] && p[n] != ',' && p[n] != '\n' && n + 1 < len)
		n++;
	memcpy(out, p, n);
	out[n] = '\0';
}

static char *run_fidelity(int want_status)
{
	const char *args[] = { "xen", "fidelity", dir, NULL };
	struct iob_out o;
	char p[256];

	iob_runv(&o, args);
	cr_assert_eq(o.status, want_status, "exit %d: %s", o.status, o.err);
	snprintf(p, sizeof(p), "%s/xen_fidelity.csv", dir);
	return slurp(p);
}

#define EXPECT(csv, key, col, want)						\
	do {									\
		char f_[512];							\
		field(csv, key, col, f_, sizeof(f_));				\
		cr_expect_str_eq(f_, want, "%s column %d", key, col);		\
	} while (0)

TestSuite(xenfid, .init = fixture, .fini = cleanup);

/* Columns: tuning,workload,counter,xen,xen_dom0_other,xen_workload,model,diff_pct,target_pct,ok,why */
Test(xenfid, model_counts_match_xen_less_dom0s_own_activity)
{
	char *csv = run_fidelity(0);

	cr_assert_not_null(csv);
	/* 64 MiB out: one unmap and one wait per page; dom0's 139 page-table pairs apart. */
	EXPECT(csv, "baseline,balloon_out,iommu_unmaps,", 3, "16523");
	EXPECT(csv, "baseline,balloon_out,iommu_unmaps,", 4, "139.0");
	EXPECT(csv, "baseline,balloon_out,iommu_unmaps,", 6, "16384");
	EXPECT(csv, "baseline,balloon_out,iommu_unmaps,", 9, "yes");
	/* pv:500: 16 maps a loop plus the frames and pv-check; one flush a call. */
	EXPECT(csv, "baseline,pv,iommu_maps,", 6, "8024");
	EXPECT(csv, "baseline,pv,completion_waits,", 6, "521");
	EXPECT(csv, "baseline,pv,completion_waits,", 9, "yes");
	/* blk_read:16 batched: two grant-unmap calls a request; waits after other commands apart. */
	EXPECT(csv, "batch,blk_read,completion_waits,", 3, "844");
	EXPECT(csv, "batch,blk_read,completion_waits,", 5, "512.0");
	EXPECT(csv, "batch,blk_read,completion_waits,", 6, "512");
	EXPECT(csv, "batch,blk_read,grant_maps,", 6, "4352");
	EXPECT(csv, "batch,blk_read,grant_maps,", 8, "10");
	EXPECT(csv, "lazy,ghook,grant_unmaps,", 6, "8000");
	EXPECT(csv, "lazy,ghook,inv_cmds,", 6, "500");
	free(csv);
}

Test(xenfid, skipped_workloads_have_no_rows_and_say_why)
{
	char *csv = run_fidelity(0);

	cr_assert_not_null(csv);
	cr_expect_null(strstr(csv, "\nbaseline,net_tx,"), "net_tx is not replayed");
	cr_expect_null(strstr(csv, "\nrelaxed,"), "relaxed makes no IOMMU updates");
	cr_expect_not_null(strstr(csv, "# skipped=relaxed"));
	cr_expect_not_null(strstr(csv, "net_tx (netback's grant maps"));
	free(csv);
}

Test(xenfid, a_miss_is_reported_with_its_reason)
{
	char *csv = run_fidelity(0), why[512];

	cr_assert_not_null(csv);
	/* Xen's coalesce flushes after balloon_in depend on its allocator: the model has none. */
	EXPECT(csv, "lazy,balloon_in,completion_waits,", 6, "0");
	EXPECT(csv, "lazy,balloon_in,completion_waits,", 9, "no");
	field(csv, "lazy,balloon_in,completion_waits,", 10, why, sizeof(why));
	cr_expect_not_null(strstr(why, "coalesced"), "why: %s", why);
	free(csv);
}

/* The Xen value is read, not assumed: a different count changes the verdict. */
Test(xenfid, a_different_xen_count_fails_its_target)
{
	char p[256], *t, *at, *csv;

	snprintf(p, sizeof(p), "%s/xen.csv", dir);
	t = slurp(p);
	at = strstr(t, "\nbaseline,pv,0,500,ok,baseline,2694887,1018,248119011,31014.9,19,0,8084,8083,");
	cr_assert_not_null(at);
	memcpy(strstr(at, ",8083,") + 1, "9083", 4);
	spill(p, t, strlen(t));
	free(t);
	csv = run_fidelity(0);
	EXPECT(csv, "baseline,pv,iommu_maps,", 3, "9083");
	EXPECT(csv, "baseline,pv,iommu_maps,", 9, "no");
	free(csv);
}

Test(xenfid, truncated_xen_csv_writes_nothing)
{
	char p[256], *t, *csv;
	struct stat st;

	snprintf(p, sizeof(p), "%s/xen.csv", dir);
	t = slurp(p);
	spill(p, t, strlen(t) - 40);	/* the last row cut in the middle */
	free(t);
	csv = run_fidelity(2);
	cr_expect_null(csv, "xen_fidelity.csv was written");
	free(csv);
	snprintf(p, sizeof(p), "%s/xen_fidelity.csv.tmp", dir);
	cr_expect_neq(stat(p, &st), 0, "a temporary file was left");
}
