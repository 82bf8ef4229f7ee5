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
#include "xeniolog.h"
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

/* ---- Xen's log of dom0's IOMMU table (xeniolog.c, patch 0007) ---------------------------- */

#define HEX_TABLE "ffffffffffffffff0000000000000001" "00000000000000000000000000000000" \
		  "00000000000000000000000000000000" "00000000000000000000000000000000"

static const char iolog_good[] =
	"iob-wl-begin,balloon_out,64\r\n"
	"iob-flog-begin,balloon_in,total=3,lost=0\n"
	"iob-flog,balloon_in,c,6,512,100,0\n"
	"iob-flog-end,balloon_in\n"
	"iob-flog-begin,balloon_out,total=40,lost=0\r\r\n"
	"iob-flog,balloon_out,b,4096,2,-\n"
	"iob-flog,balloon_out,u,70,1,0,1\n"
	"iob-flog,balloon_out,x,1,0\n"
	"iob-flog,balloon_out,c,1,512,123456789,1\n"
	"(XEN) stray Xen line\n"
	"iob-flog,balloon_out,u,4607,512,0,-1\n"
	"iob-flog,balloon_out,s,4607,2\n"
	"iob-flog,balloon_out,b,8192,1," HEX_TABLE "\n"
	"iob-flog,balloon_out,z,8192,2\n"
	"iob-flog,balloon_out,r,1,512,123999999,511,1\n"
	"iob-flog,balloon_out,t,124999999,1,0\n"
	"iob-flog,balloon_out,m,70,1,0,1\n"
	"iob-flog,balloon_out,k,64,2\n"
	"iob-flog,balloon_out,o,3,2,1,0,7\n"
	"iob-flog-end,balloon_out\n";

Test(xeniolog, a_log_reads_in_order_with_its_runs_blocks_and_calls)
{
	struct xeniolog l;
	char err[256] = "";

	cr_assert_eq(xeniolog_parse(iolog_good, "balloon_out", &l, err, sizeof(err)), 1, "%s", err);
	cr_assert(l.complete);
	cr_assert_eq(l.total, 40);
	cr_assert_eq(l.n, 13);
	cr_assert_eq(l.ev[0].kind, 'b');
	cr_assert_eq(l.ev[0].a, 4096);
	cr_assert_eq(l.ev[0].c, XENIOLOG_BLOCK_2M);
	cr_assert_eq(l.ev[2].kind, 'x');
	cr_assert_eq(l.ev[2].d, 1);
	cr_assert_eq(l.ev[3].kind, 'c');
	cr_assert_eq(l.ev[3].a, XENIOLOG_DECREASE);
	cr_assert_eq(l.ev[3].c, 123456789);
	cr_assert_eq(l.ev[3].d, 1, "the CPU");
	cr_assert_eq(l.ev[4].kind, 'u');
	cr_assert_eq(l.ev[4].a, 4607);
	cr_assert_eq(l.ev[4].b, 512);
	cr_assert_eq(l.ev[4].dir, -1);
	cr_assert_eq(l.ev[6].c, XENIOLOG_BLOCK_TABLE);
	cr_assert_eq(l.ev[6].bits[0], UINT64_MAX);
	cr_assert_eq(l.ev[6].bits[1], 1);
	cr_assert_eq(l.ev[6].bits[7], 0);
	cr_assert_eq(l.ev[8].kind, 'r');
	cr_assert_eq(l.ev[8].d, 511);
	cr_assert_eq(l.ev[8].e, 1);
	cr_assert_eq(l.ev[9].kind, 't');
	cr_assert_eq(l.ev[9].c, 124999999);
	cr_assert_eq(l.ev[11].kind, 'k');
	cr_assert_eq(l.ev[12].kind, 'o');
	cr_assert_eq(l.ev[12].a, 3, "dom0's own maps");
	cr_assert_eq(l.ev[12].b, 2);
	cr_assert_eq(l.ev[12].d, 1);
	cr_assert_eq(l.ev[12].e, 0);
	cr_assert_eq(l.ev[12].c, 7, "its shatters");
	xeniolog_free(&l);
	cr_assert_eq(xeniolog_parse(iolog_good, "balloon_in", &l, err, sizeof(err)), 1);
	cr_assert_eq(l.n, 1);
	xeniolog_free(&l);
	cr_assert_eq(xeniolog_parse(iolog_good, "pv", &l, err, sizeof(err)), 0, "no log of pv");
	cr_assert_eq(l.n, 0);
	xeniolog_free(&l);
}

Test(xeniolog, malformed_lines_cut_logs_and_lost_entries_are_refused)
{
	static const struct {
		const char *line, *want;
	} cases[] = {
		{ "iob-flog,w,q,1", "an unknown event letter" },
		{ "iob-flog,w,uu,1,1,0,1", "one character" },
		{ "iob-flog,w,u,1,1,0", "the wrong number of fields" },
		{ "iob-flog,w,u,1,0,0,1", "an empty run" },
		{ "iob-flog,w,u,1,2,0,2", "direction is 1 or -1" },
		{ "iob-flog,w,u,1,3,0,-1", "leaves the dfn space" },
		{ "iob-flog,w,m,281474976710655,2,0,1", "leaves the dfn space" },
		{ "iob-flog,w,u,1,1,19,1", "not a count in range" },
		{ "iob-flog,w,u,-1,1,0,1", "not a count in range" },
		{ "iob-flog,w,u,1x,1,0,1", "not a count in range" },
		{ "iob-flog,w,c,6,512,99999999999999999999,0", "not a count in range" },
		{ "iob-flog,w,c,6,512,1", "the wrong number of fields" },
		{ "iob-flog,w,c,6,512,1,4096", "not a count in range" },
		{ "iob-flog,w,b,4097,2,-", "not 2 MiB aligned" },
		{ "iob-flog,w,b,4096,5,-", "an unknown block state" },
		{ "iob-flog,w,b,4096,1,-", "128 hex digits" },
		{ "iob-flog,w,b,4096,1,0123", "128 hex digits" },
		{ "iob-flog,w,b,4096,2,00", "128 hex digits" },
		{ "iob-flog,w,s,5,7", "not a count in range" },
		{ "iob-flog,w,x,1", "the wrong number of fields" },
		{ "iob-flog,w,o,1,2,3,4", "the wrong number of fields" },
		{ "iob-flog,w,o,1,2,3,4,x", "not a count in range" },
		{ "iob-flog,w,1,2,3,4,5,6,7,8,9,10", "too many fields" },
		{ "iob-flog-end,w,extra", "malformed iob-flog-end" },
		{ "iob-flog-nonsense,w", "an unknown iob-flog record" },
	};
	struct xeniolog l;
	char text[512], err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "iob-flog-begin,w,total=1,lost=0\n%s\niob-flog-end,w\n",
			 cases[i].line);
		err[0] = 0;
		cr_assert_eq(xeniolog_parse(text, "w", &l, err, sizeof(err)), -EINVAL, "%s",
			     cases[i].line);
		cr_assert(strstr(err, "line 2: ") && strstr(err, cases[i].want),
			  "%s: '%s', want '%s'", cases[i].line, err, cases[i].want);
		xeniolog_free(&l);
	}
	cr_assert_eq(xeniolog_parse("iob-flog,w,x,1,0\n", "w", &l, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "outside its log"), "%s", err);
	xeniolog_free(&l);
	cr_assert_eq(xeniolog_parse("iob-flog-begin,w,total=1,lost=0\niob-flog,w,x,1,0\n", "w", &l,
				    err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "cut short"), "%s", err);
	xeniolog_free(&l);
	cr_assert_eq(xeniolog_parse("iob-flog-begin,w,total=9,lost=3\niob-flog-end,w\n", "w", &l,
				    err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "lost 3 entries"), "%s", err);
	xeniolog_free(&l);
	cr_assert_eq(xeniolog_parse("iob-flog-begin,w,total=x,lost=0\n", "w", &l, err,
				    sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "total=N,lost=N"), "%s", err);
	xeniolog_free(&l);
	/* Another label's malformed line is none of this log's business. */
	cr_assert_eq(xeniolog_parse("iob-flog,v,q\n", "w", &l, err, sizeof(err)), 0);
	xeniolog_free(&l);
}
