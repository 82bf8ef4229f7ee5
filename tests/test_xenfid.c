// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob xen fidelity on a small xen.csv (tests/data/xen-fidelity: rows of the
 * run of 2026-12-05 without Xen's log, copied here): the model's
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
#include "xen_fidelity.h"
#include "xeniolog.h"

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
				      "xen_fidelity.csv.tmp", "console-baseline.log" };
	char p[256];

	for (int i = 0; i < 5; i++) {
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

/* A console log whose IOMMU log is malformed, cut short or lost entries: exit 2, nothing written. */
Test(xenfid, a_bad_iommu_log_in_the_console_log_writes_nothing)
{
	static const struct {
		const char *log, *want;
	} cases[] = {
		{ "iob-flog-begin,balloon_out,total=2,lost=0\niob-flog,balloon_out,u,1,1,0,2\n"
		  "iob-flog-end,balloon_out\n", "line 2: a run's direction is 1 or -1" },
		{ "iob-flog-begin,balloon_out,total=2,lost=0\niob-flog,balloon_out,x,1,0\n",
		  "the IOMMU log of 'balloon_out' is cut short" },
		{ "iob-flog-begin,balloon_out,total=9,lost=4\niob-flog-end,balloon_out\n",
		  "lost 4 entries" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[] = { "xen", "fidelity", dir, NULL };
		struct iob_out o;
		char p[256];
		struct stat st;

		snprintf(p, sizeof(p), "%s/console-baseline.log", dir);
		spill(p, cases[i].log, strlen(cases[i].log));
		iob_runv(&o, args);
		cr_assert_eq(o.status, 2, "case %zu: exit %d: %s", i, o.status, o.err);
		cr_expect(strstr(o.err, "console-baseline.log") && strstr(o.err, cases[i].want),
			  "case %zu: '%s', want '%s'", i, o.err, cases[i].want);
		snprintf(p, sizeof(p), "%s/xen_fidelity.csv", dir);
		cr_expect_neq(stat(p, &st), 0, "case %zu: xen_fidelity.csv was written", i);
	}
}

/* ---- the replay of Xen's log (xen_fid_replay) ------------------------------------------- */

/* Replay @log (lines after "iob-flog,w,") under @tuning; Xen's TSC at 1 MHz (1 tick = 1 us). */
static int replay(const char *tuning, const char *log, struct xen_fid_counts *m,
		  struct xen_fid_counts *x, struct xen_fid_replay_notes *notes)
{
	char text[4096], err[256] = "";
	size_t n = (size_t)snprintf(text, sizeof(text), "iob-flog-begin,w,total=64,lost=0\n");
	struct xen_fid_work w = { .tuning = tuning, .workload = "balloon_out", .arg = 1,
				  .tsc_khz = 1000 };
	struct xeniolog l;
	int ret;

	for (const char *p = log; *p;) {
		size_t k = strcspn(p, ";");

		n += (size_t)snprintf(text + n, sizeof(text) - n, "iob-flog,w,%.*s\n", (int)k, p);
		p += k + (p[k] == ';');
	}
	snprintf(text + n, sizeof(text) - n, "iob-flog-end,w\n");
	cr_assert_eq(xeniolog_parse(text, "w", &l, err, sizeof(err)), 1, "%s", err);
	ret = xen_fid_replay(&w, &l, m, x, notes);
	xeniolog_free(&l);
	return ret;
}

/*
 * A 2 MiB superpage of dom0; dom0 types one of its pages as a page table
 * (outside any call: shatter, unmap, flush), gives 4 pages back in one
 * call, frees the typed page and gives it back in a second call.
 */
static const char two_calls[] =
	"b,4096,2,-;u,4200,1,0,1;x,1,0;"
	"c,1,4,1000,0;U,4100,4,0,1;r,1,4,2000,4,0;"
	"m,4200,1,0,1;c,1,1,3000,0;U,4200,1,0,1;r,1,1,4000,1,0";

Test(xenfid_replay, each_call_with_its_frames_and_dom0s_own_changes_apart)
{
	struct xen_fid_counts m, x;
	struct xen_fid_replay_notes nt;

	cr_assert_eq(replay("baseline", two_calls, &m, &x, &nt), 0);
	cr_assert_eq(m.iommu_unmaps, 5);
	cr_assert_eq(m.inv_cmds, 5, "strict: a flush a page");
	cr_assert_eq(m.completion_waits, 5);
	cr_assert_eq(m.shatters, 0, "dom0's own typing shattered the block first");
	cr_assert_eq(nt.model_other.shatters, 1);
	cr_assert_eq(nt.model_other.iommu_unmaps, 1);
	cr_assert_eq(nt.model_other.iommu_maps, 1);
	cr_assert_eq(nt.model_other.inv_cmds, 1, "the type change's own flush");
	cr_assert_eq(nt.mismatches, 0);
	cr_assert_eq(x.iommu_unmaps, 1, "Xen's outside the calls, from the log");
	cr_assert_eq(x.iommu_maps, 1);
	cr_assert_eq(x.inv_cmds, 1);
	cr_assert_eq(replay("batch", two_calls, &m, &x, &nt), 0);
	cr_assert_eq(m.inv_cmds, 2, "batched: one span a call");
	cr_assert_eq(replay("lazy", two_calls, &m, &x, &nt), 0);
	cr_assert_eq(m.inv_cmds, 1, "lazy: both calls in one queue, one timer");
	cr_assert_eq(m.iommu_unmaps, 5);
}

/*
 * Lazy, Xen's per-CPU queues (patch 0004): a queue's 10 ms timer starts
 * at the end of the call that left it frames, and only its own drain
 * frees them. Calls on CPU 0 at 1 ms and CPU 1 at 5 ms: two timers, both
 * due before the call at 30 ms, whose queue times out at the end: three
 * flushes (one domain-wide flush freeing every queue would make two).
 */
Test(xenfid_replay, lazy_queues_are_per_cpu_and_time_out_on_xens_clock)
{
	static const char log[] =
		"b,4096,2,-;"
		"c,1,2,1000,0;U,4100,2,0,1;r,1,2,2000,0,0;"
		"c,1,2,5000,1;U,4110,2,0,1;r,1,2,6000,0,0;"
		"c,1,2,30000,0;U,4120,2,0,1;r,1,2,31000,0,0";
	static const char close_calls[] =
		"b,4096,2,-;"
		"c,1,2,1000,0;U,4100,2,0,1;r,1,2,2000,0,0;"
		"c,1,2,5000,0;U,4110,2,0,1;r,1,2,6000,0,0;"
		"c,1,2,11000,0;U,4120,2,0,1;r,1,2,12000,0,0";
	struct xen_fid_counts m, x;
	struct xen_fid_replay_notes nt;

	cr_assert_eq(replay("lazy", log, &m, &x, &nt), 0);
	cr_assert_eq(m.inv_cmds, 3);
	cr_assert_eq(m.completion_waits, 3);
	/* One CPU: the second call joins the open queue; the third finds it timed out (12 ms). */
	cr_assert_eq(replay("lazy", close_calls, &m, &x, &nt), 0);
	cr_assert_eq(m.inv_cmds, 2);
}

/* A table the call fills again is coalesced, with a flush of its own (IOMMU_FLUSHF_all). */
Test(xenfid_replay, a_refilled_table_is_coalesced_from_the_logged_block_state)
{
	char log[512];
	struct xen_fid_counts m, x;
	struct xen_fid_replay_notes nt;

	/* Every entry present but 4100's. */
	snprintf(log, sizeof(log), "b,4096,1,%s%s%s%s;c,6,1,1000,0;M,4100,1,0,1;r,6,1,2000,0,1",
		 "ffffffffffffffefffffffffffffffff", "ffffffffffffffffffffffffffffffff",
		 "ffffffffffffffffffffffffffffffff", "ffffffffffffffffffffffffffffffff");
	for (int t = 0; t < 3; t++) {
		const char *tn = t == 0 ? "baseline" : t == 1 ? "batch" : "lazy";

		cr_assert_eq(replay(tn, log, &m, &x, &nt), 0, "%s", tn);
		cr_assert_eq(m.iommu_maps, 1, "%s", tn);
		cr_assert_eq(m.inv_cmds, 1, "%s: the coalesce's flush, at once", tn);
	}
	/* One entry still missing (4101): nothing to coalesce, nothing to flush. */
	snprintf(log, sizeof(log), "b,4096,1,%s%s%s%s;c,6,1,1000,0;M,4100,1,0,1;r,6,1,2000,0,0",
		 "ffffffffffffffcfffffffffffffffff", "ffffffffffffffffffffffffffffffff",
		 "ffffffffffffffffffffffffffffffff", "ffffffffffffffffffffffffffffffff");
	cr_assert_eq(replay("baseline", log, &m, &x, &nt), 0);
	cr_assert_eq(m.inv_cmds, 0);
}

Test(xenfid_replay, what_the_model_cannot_replay_is_refused)
{
	struct xen_fid_counts m, x;
	struct xen_fid_replay_notes nt;

	cr_assert_eq(replay("baseline", "c,1,1,1000,0;U,4096,1,9,1;r,1,1,2000,1,0", &m, &x, &nt),
		     -EOPNOTSUPP, "dom0's table changes 4 KiB at a time");
	cr_assert_eq(replay("relaxed", "c,1,1,1000,0;r,1,0,2000,0,0", &m, &x, &nt), -EINVAL);
	cr_assert_eq(replay("baseline", "b,17179869184,2,-", &m, &x, &nt), -EINVAL,
		     "dfns past 16 GiB");
	/* The call gives back a frame dom0 does not have: the model refuses as Xen would. */
	cr_assert_eq(replay("baseline", "c,1,1,1000,0;U,4100,1,0,1;r,1,1,2000,1,0", &m, &x, &nt),
		     -ENOENT);
}
