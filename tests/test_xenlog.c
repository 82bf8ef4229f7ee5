// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Xen console log parser (guest-workloads/xen/xenlog.c): the dom0
 * tool's dumps and debug key 'j''s, the banners, and every kind of
 * malformed record refused with its line number.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <iob/alloc.h>

#include "iobrun.h"
#include "xenboot.h"
#include "xenlog.h"

static struct xenlog lg;

/*
 * A path record: "<prefix><path>,<count>,<total>,<min>,<max>,<64 buckets>",
 * @count samples in bucket @bucket (a histogram that adds up).
 */
static const char *rec(char *buf, size_t len, const char *prefix, const char *path,
		       unsigned count, unsigned total, unsigned min, unsigned max, int bucket)
{
	size_t n = (size_t)snprintf(buf, len, "%s%s,%u,%u,%u,%u", prefix, path, count, total,
				    min, max);

	for (int b = 0; b < XENLOG_LOG2; b++)
		n += (size_t)snprintf(buf + n, len - n, ",%u", b == bucket ? count : 0);
	return buf;
}

/* A log of a balloon_out in dom0 and a console dump, as a boot leaves it. */
static void good_log(char *text, size_t len)
{
	char r1[1024], r2[1024], r3[1024];

	snprintf(text, len,
		 "(XEN) AMD-Vi: IOMMU 0 Enabled.\r\n"
		 "(XEN) Dom0 mode: Strict\n"
		 "some kernel line, iob-not-at-the-start\n"
		 "iob-wl-begin,balloon_out,64\n"
		 "iob-dom0-begin,balloon_out,tsc_khz=2595000,tuning=batch\n"
		 "%s\n%s\n"
		 "iob-dom0-event,balloon_out,flush_order9,32\n"
		 "iob-dom0-end,balloon_out\n"
		 "iob-wl-end,balloon_out,rc=0\n"
		 "iob-pv,map_own_frames,ok,\n"
		 "(XEN) iob-begin,tsc_khz=2595000,tuning=batch\n"
		 "(XEN) %s\n"
		 "(XEN) iob-event,pt_alloc,7\n"
		 "(XEN) iob-end\n"
		 "iob-dom0-done\n",
		 rec(r1, sizeof(r1), "iob-dom0-path,balloon_out,", "unmap", 16384, 3276800, 100,
		     900, 7),
		 rec(r2, sizeof(r2), "iob-dom0-path,balloon_out,", "completion_wait", 512, 51200,
		     50, 400, 6),
		 rec(r3, sizeof(r3), "iob-path,", "hypercall", 3, 3000, 900, 1100, 9));
}

Test(xenlog, dom0_and_console_dumps_are_read_with_their_records)
{
	static char text[16384];
	char err[256] = "";
	const struct xenlog_dump *d, *c;

	good_log(text, sizeof(text));
	cr_assert_eq(xenlog_parse(text, &lg, err, sizeof(err)), 0, "%s", err);
	cr_assert(lg.amdvi_enabled);
	cr_assert(lg.dom0_strict);
	cr_assert(lg.dom0_done);
	cr_assert_eq(lg.ndumps, 2);
	d = &lg.dumps[0];
	cr_assert_str_eq(d->label, "balloon_out");
	cr_assert_str_eq(d->arg, "64");
	cr_assert_str_eq(d->tuning, "batch");
	cr_assert_eq(d->tsc_khz, 2595000);
	cr_assert_eq(d->wl_rc, -1, "the dump comes before iob-wl-end: status not known yet");
	cr_assert_eq(d->npaths, 2);
	cr_assert_eq(xenlog_dump_count(d, "unmap"), 16384);
	cr_assert_eq(xenlog_dump_total(d, "completion_wait"), 51200);
	cr_assert_eq(xenlog_dump_rec(d, "completion_wait")->log2[6], 512);
	cr_assert_eq(xenlog_dump_count(d, "map"), 0, "a path the dump lacks counts 0");
	cr_assert_eq(xenlog_dump_event(d, "flush_order9"), 32);
	cr_assert_eq(xenlog_dump_event(d, "fq_full"), 0);
	c = &lg.dumps[1];
	cr_assert_str_eq(c->label, "console");
	cr_assert_str_eq(c->tuning, "batch");
	cr_assert_eq(xenlog_dump_count(c, "hypercall"), 3);
	cr_assert_eq(xenlog_dump_event(c, "pt_alloc"), 7);
}

Test(xenlog, a_workload_status_before_its_dump_is_kept_with_it)
{
	char text[4096], r[1024], err[256] = "";

	snprintf(text, sizeof(text),
		 "iob-wl-begin,pv,500\niob-wl-end,pv,rc=3\n"
		 "iob-dom0-begin,pv,tsc_khz=1000,tuning=baseline\n%s\niob-dom0-end,pv\n",
		 rec(r, sizeof(r), "iob-dom0-path,pv,", "hypercall", 1000, 90000, 50, 200, 6));
	cr_assert_eq(xenlog_parse(text, &lg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(lg.ndumps, 1);
	cr_assert_str_eq(lg.dumps[0].arg, "500");
	cr_assert_eq(lg.dumps[0].wl_rc, 3);
	cr_assert_not(lg.amdvi_enabled, "no banner in this log");
	cr_assert_not(lg.dom0_done);
}

Test(xenlog, a_domu_workloads_io_record_is_kept_with_its_dump)
{
	char text[4096], r[1024], err[256] = "";

	snprintf(text, sizeof(text),
		 "(XEN) Dom0 mode: Relaxed\n"
		 "iob-wl-begin,blk_read,8\niob-wl-io,blk_read,ios=128,bytes=8388608,ns=2000000\n"
		 "iob-wl-end,blk_read,rc=0\n"
		 "iob-dom0-begin,blk_read,tsc_khz=1000,tuning=baseline\n%s\niob-dom0-end,blk_read\n"
		 "iob-wl-begin,balloon_out,8\niob-wl-end,balloon_out,rc=0\n"
		 "iob-dom0-begin,balloon_out,tsc_khz=1000,tuning=baseline\niob-dom0-end,balloon_out\n",
		 rec(r, sizeof(r), "iob-dom0-path,blk_read,", "grant_map", 2048, 204800, 100, 100, 6));
	cr_assert_eq(xenlog_parse(text, &lg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(lg.ndumps, 2);
	cr_assert(lg.dumps[0].has_io);
	cr_assert_eq(lg.dumps[0].io_n, 128);
	cr_assert_eq(lg.dumps[0].io_bytes, 8388608);
	cr_assert_eq(lg.dumps[0].io_ns, 2000000);
	cr_assert_eq(xenlog_dump_count(&lg.dumps[0], "grant_map"), 2048);
	cr_assert_not(lg.dumps[1].has_io, "the next workload's dump has no I/O record");
	cr_assert(lg.dom0_relaxed);
	cr_assert_not(lg.dom0_strict);
}

Test(xenlog, malformed_records_are_refused_with_their_line)
{
	char good[1024], bad_hist[1024], bad_minmax[1024], text[8192], err[256];
	struct {
		const char *lines;
		const char *want;
	} cases[] = {
		{ "iob-dom0-begin,w,tsc_khz=1,tuning=t\niob-dom0-path,w,unmap,1,2,3\n",
		  "line 2: a path record has 6 fields, not 71" },
		{ "\n\niob-dom0-begin,w,tsc_khz=1,tuning=t\n%s\n", "line 4: path unmap: histogram holds 5 samples, count is 6" },
		{ "iob-dom0-begin,w,tsc_khz=1,tuning=t\n%s\n", "line 2: path unmap: min, max and total disagree" },
		{ "%s\n", "line 1: path record outside its dump" },
		{ "iob-dom0-begin,w,tsc_khz=1,tuning=t\niob-dom0-event,w,pt_alloc,x\n",
		  "line 2: malformed event record" },
		{ "iob-dom0-begin,w,tsc_khz=1,tuning=t\niob-dom0-event,other,pt_alloc,1\n",
		  "line 2: malformed event record" },
		{ "iob-dom0-end,w\n", "line 1: end of a dump that did not begin" },
		{ "x\n(XEN) iob-end\n", "line 2: end of a console dump that did not begin" },
		{ "(XEN) iob-path,unmap,1\n", "line 1: a console path record has 3 fields, not 70" },
		{ "(XEN) iob-event,pt_alloc,1\n", "line 1: malformed console event record" },
		{ "iob-dom0-begin,w,tsc_khz=1,tuning=t\niob-dom0-end,w\n"
		  "iob-dom0-begin,v,tsc_khz=1,tuning=t\n", "the dump of 'v' is cut short" },
		{ "iob-wl-begin,w,1\niob-wl-io,w,ios=1,bytes=x,ns=1\n",
		  "line 2: malformed I/O record" },
		{ "iob-wl-begin,w,1\niob-wl-io,w,ios=1,ns=1\n", "line 2: malformed I/O record" },
		{ "iob-wl-begin,w,1\niob-wl-io,v,ios=1,bytes=1,ns=1\n",
		  "line 2: I/O record of v outside its workload" },
	};
	char *p;

	rec(good, sizeof(good), "iob-dom0-path,w,", "unmap", 6, 600, 100, 100, 6);
	/* The histogram says 5 samples, the count 6. */
	snprintf(bad_hist, sizeof(bad_hist), "%s", good);
	p = strrchr(bad_hist, ',');
	*p = '\0';
	p = bad_hist + strlen("iob-dom0-path,w,unmap,6,600,100,100");
	for (int b = 0; b < XENLOG_LOG2; b++)
		p += sprintf(p, ",%d", b == 6 ? 5 : 0);
	rec(bad_minmax, sizeof(bad_minmax), "iob-dom0-path,w,", "unmap", 6, 50, 100, 90, 6);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), cases[i].lines,
			 i == 1 ? bad_hist : i == 2 ? bad_minmax : good);
		err[0] = '\0';
		cr_assert_eq(xenlog_parse(text, &lg, err, sizeof(err)), -EINVAL, "case %zu: %s", i,
			     text);
		cr_assert(strstr(err, cases[i].want), "case %zu: '%s', want '%s'", i, err,
			  cases[i].want);
		cr_assert_eq(lg.ndumps, 0, "case %zu: nothing kept from a refused log", i);
	}
}

Test(xenlog, a_file_is_read_line_by_line_and_errors_name_it)
{
	char path[64], err[512];
	FILE *f;

	/* A NUL byte (serial garbage) ends only its own line. */
	snprintf(path, sizeof(path), "/tmp/iobtest-xenlog-XXXXXX");
	cr_assert_geq(mkstemp(path), 0);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fwrite("junk\0junk\n(XEN) AMD-Vi: IOMMU 0 Enabled.\n", 1, 41, f);
	fputs("(XEN) iob-begin,tsc_khz=5\n(XEN) iob-end\n", f);
	fclose(f);
	cr_assert_eq(xenlog_read(path, &lg, err, sizeof(err)), 0, "%s", err);
	cr_assert(lg.amdvi_enabled);
	cr_assert_eq(lg.ndumps, 1);
	cr_assert_eq(lg.dumps[0].tsc_khz, 5);

	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("ok\n(XEN) iob-end\n", f);
	fclose(f);
	cr_assert_eq(xenlog_read(path, &lg, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, path) == err && strstr(err, ": line 2: "), "%s", err);
	unlink(path);
	cr_assert_eq(xenlog_read(path, &lg, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, path), "%s", err);
}

/* The line buffer is the parser's only allocation: failing it leaves nothing behind. */
Test(xenlog, an_allocation_failure_is_refused_whole_and_leaks_nothing)
{
	static char text[16384];
	char err[256];
	uint64_t calls;
	int64_t live = iob_alloc_live();

	good_log(text, sizeof(text));
	calls = iob_alloc_calls();
	cr_assert_eq(xenlog_parse(text, &lg, err, sizeof(err)), 0, "%s", err);
	calls = iob_alloc_calls() - calls;
	cr_assert_gt(calls, 0);
	for (uint64_t n = 0; n < calls; n++) {
		iob_fail_after((long)n);
		cr_assert_eq(xenlog_parse(text, &lg, err, sizeof(err)), -ENOMEM, "site %llu",
			     (unsigned long long)n);
		iob_fail_after(-1);
		cr_assert_eq(lg.ndumps, 0, "site %llu: nothing kept", (unsigned long long)n);
		cr_assert(strstr(err, "out of memory"), "%s", err);
		cr_assert_eq(iob_alloc_live(), live, "site %llu leaks", (unsigned long long)n);
	}
}

/* ---- the work lists of iob xen run (xenboot.c) ---------------------------- */

Test(xenboot, domu_workloads_need_the_domu_first_and_relaxed_boots_drop_what_xen_refuses)
{
	static const struct {
		const char *list, *want;	/* want: NULL accepted, else in the message */
	} cases[] = {
		{ "balloon_out:64,pv:500,domu:128,net_tx:8,blk_read:16,ghook:20,gpv:20,gdma:20", NULL },
		{ "net_tx:8", "net_tx needs domu:MIB before it" },
		{ "gpv:5,domu:128", "gpv needs domu:MIB before it" },
		{ "domu:128,domu:128", "domu twice" },
		{ "domu:32", "a domU needs 64..1024 MiB" },
		{ "domu:128,blk_read:300", "blk_read: the disk holds 256 MiB" },
		{ "domu:128,gdma:0", "'0' for gdma is not 1..100000 iterations" },
		{ "domu:128,pblk_write:2000", "'2000' for pblk_write is not 1..1024 MiB" },
	};
	char err[256], buf[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = 0;
		if (!cases[i].want) {
			cr_assert_eq(xenboot_check_work(cases[i].list, err, sizeof(err)), 0,
				     "%s: %s", cases[i].list, err);
			continue;
		}
		cr_assert_eq(xenboot_check_work(cases[i].list, err, sizeof(err)), -EINVAL, "%s",
			     cases[i].list);
		cr_assert(strstr(err, cases[i].want), "%s: '%s', want '%s'", cases[i].list, err,
			  cases[i].want);
	}
	cr_assert_str_eq(xenboot_work_relaxed("balloon_out:64,pv:500,dmalayer:500,domu:128,"
					      "ghook:20,gpv:20,gdma:20,blk_read:8", buf, sizeof(buf)),
			 "balloon_out:64,domu:128,ghook:20,blk_read:8");
	cr_assert(xenboot_work_iters("gpv"));
	cr_assert_not(xenboot_work_iters("blk_read"));
	cr_assert_eq(xenboot_tunings[xenboot_tuning_find("relaxed")].relaxed, 1);
}
