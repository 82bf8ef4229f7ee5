// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Trace files: the suite's format and Linux's tracefs text, read, written
 * back, and malformed input refused with its line number.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iob/trace.h>
#include <iob/walk.h>

#include "failinject.h"
#include "tmpname.h"

static struct trace t;
static char err[256];

Test(trace, native_format_parses_maps_and_unmaps)
{
	const char *text = "# iommubench trace v1\n"
			   "# device=0000:00:03.0\n"
			   "\n"
			   "100 map 16 0xfffff000 0x12345000 4096 w\n"
			   "250 map 16 0xffff0000 0x20000000 65536 rw\n"
			   "300 unmap 16 0xfffff000 4096\n";

	cr_assert_eq(trace_parse(text, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.n, 3);
	cr_assert_eq(t.format, TRACE_FMT_IOB);
	cr_assert_eq(t.ev[0].op, TRACE_MAP);
	cr_assert_eq(t.ev[0].t_ns, 100);
	cr_assert_eq(t.ev[0].dev, 16);
	cr_assert_eq(t.ev[0].iova, 0xfffff000ULL);
	cr_assert_eq(t.ev[0].paddr, 0x12345000ULL);
	cr_assert_eq(t.ev[0].dir, IOPT_PROT_WRITE);
	cr_assert_eq(t.ev[1].size, 65536);
	cr_assert_eq(t.ev[1].dir, IOPT_PROT_RW);
	cr_assert_eq(t.ev[2].op, TRACE_UNMAP);
	trace_free(&t);
}

/*
 * Lines as Linux 6.1's include/trace/events/iommu.h prints them, among
 * other events the same tracefs file carries.
 */
Test(trace, tracefs_format_is_read_and_other_events_skipped)
{
	const char *text =
		"# tracer: nop\n"
		"#\n"
		"     kworker/0:1-12      [000] .....   100.000010: map: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000 paddr=0x0000000012345000 size=4096\n"
		"          <idle>-0       [001] d.h..   100.000020: irq_handler_entry: irq=24 name=virtio1\n"
		"     kworker/0:1-12      [000] .....   100.000110: unmap: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000 size=4096 unmapped_size=4096\n"
		"     kworker/0:1-12      [000] .....   100.001000: map: IOMMU: iova=0x00000000ffe00000 - 0x0000000100000000 paddr=0x0000000040000000 size=2097152\n";

	cr_assert_eq(trace_parse(text, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.format, TRACE_FMT_TRACEFS);
	cr_assert_eq(t.n, 3);
	cr_assert_eq(t.ev[0].t_ns, 0);
	cr_assert_eq(t.ev[1].t_ns, 100000);
	cr_assert_eq(t.ev[1].op, TRACE_UNMAP);
	cr_assert_eq(t.ev[2].t_ns, 990000);
	cr_assert_eq(t.ev[2].size, 2097152);
	cr_assert_eq(t.ev[2].paddr, 0x40000000ULL);
	trace_free(&t);
}

Test(trace, written_then_read_back_is_the_same_whatever_the_comment)
{
	char path[] = "/tmp/iobtest-trace-XXXXXX";
	struct trace back;
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	close(fd);
	cr_assert_eq(trace_parse("5 map 1 0x1000 0x2000 8192 r\n9 unmap 1 0x1000 8192\n", &t, err,
				 sizeof(err)), 0, "%s", err);
	cr_assert_eq(trace_write(path, &t, "test\nof two lines\n"), 0);
	cr_assert_eq(trace_read(path, &back, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(back.n, t.n);
	cr_assert_eq(memcmp(back.ev, t.ev, t.n * sizeof(*t.ev)), 0);
	trace_free(&back);
	trace_free(&t);
	unlink(path);
}

static void bad(const char *text, const char *want)
{
	cr_assert_eq(trace_parse(text, &t, err, sizeof(err)), -EINVAL, "accepted: %s", text);
	cr_assert(strstr(err, want), "'%s' gave '%s'", text, err);
	cr_assert_eq(t.ev, NULL);
}

Test(trace, malformed_lines_name_line_and_reason)
{
	bad("# only a comment\n", "no map or unmap events");
	bad("1 map 1 0x1000 0x2000 4096 w\n2 frob 1 0x1000 4096\n", "line 2: operation must be map or unmap");
	bad("1 map 1 0x1000 0x2000 4096\n", "line 1: map needs");
	bad("1 map 1 0x1000 0x2000 4096 x\n", "direction must be r, w or rw");
	bad("1 map 70000 0x1000 0x2000 4096 r\n", "16-bit");
	bad("1 map 1 0x1001 0x2000 4096 r\n", "4 KiB aligned");
	bad("1 map 1 0x1000 0x2000 0 r\n", "size non-zero");
	bad("1 unmap 1 zz 4096\n", "must be numbers");
	bad("5 map 1 0x1000 0x2000 4096 r\n3 unmap 1 0x1000 4096\n", "line 2: time goes backwards");
	bad("1 unmap 1 0xfffffffffffff000 8192\n", "past 2^64");
	bad("  kw-1 [000] ..... 1.000001: map: IOMMU: iova=0x1000 - 0x2000 size=4096\n",
	    "map without paddr=");
	bad("  kw-1 [000] ..... 1.000001: map: IOMMU: iova=0x1000 - 0x3000 paddr=0x5000 size=4096\n",
	    "end address is not iova + size");
	bad("  kw-1 [000] ..... nonsense: map: IOMMU: iova=0x1000 - 0x2000 paddr=0x5000 size=4096\n",
	    "timestamp");
}

Test(trace, missing_file_names_the_path)
{
	cr_assert_eq(trace_read("/nonexistent/trace.txt", &t, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "/nonexistent/trace.txt"), "%s", err);
}

struct parse_ctx {
	char *text;
	struct trace t;
};

static int parse_op(void *arg)
{
	struct parse_ctx *x = arg;

	return trace_parse(x->text, &x->t, err, sizeof(err));
}

static void parse_undo(void *arg)
{
	struct parse_ctx *x = arg;

	cr_assert_eq(x->t.n, 3000);
	cr_assert_eq(x->t.ev[2999].t_ns, 2999);
	trace_free(&x->t);
}

/* A failed parse hands out nothing: the trace is empty. */
static uint64_t parse_state(void *arg)
{
	struct parse_ctx *x = arg;

	return (uint64_t)(uintptr_t)x->t.ev ^ x->t.n;
}

Test(trace, parse_fails_cleanly_at_each_allocation)
{
	struct parse_ctx x = { .text = malloc(3000 * 40) };
	struct failinject fi = { "trace_parse", parse_op, parse_undo, parse_state, &x };
	size_t n = 0;

	cr_assert_not_null(x.text);
	for (int i = 0; i < 3000; i++)
		n += (size_t)sprintf(x.text + n, "%d map 1 0x%x 0x2000 4096 r\n", i, (i + 1) << 12);
	/* The event array at 1024, then grown to 2048 and 4096. */
	cr_assert_eq(failinject_each(&fi), 3);
	free(x.text);
}

Test(trace, read_fails_cleanly_at_each_allocation)
{
	int64_t live = iob_alloc_live();
	unsigned fails = 0;
	char path[256];

	tmpname_file(path, sizeof(path), "iobtest-trace");
	cr_assert_eq(trace_parse("5 map 1 0x1000 0x2000 8192 r\n", &t, err, sizeof(err)), 0);
	cr_assert_eq(trace_write(path, &t, NULL), 0);
	trace_free(&t);
	for (long n = 0;; n++) {
		int ret;

		snprintf(err, sizeof(err), "stale");
		iob_fail_after(n);
		ret = trace_read(path, &t, err, sizeof(err));
		iob_fail_after(-1);
		if (!ret)
			break;
		cr_assert_eq(ret, -ENOMEM, "allocation %ld: %d", n, ret);
		cr_assert(strstr(err, path), "allocation %ld: '%s' does not name the file", n, err);
		cr_assert(strstr(err, "out of memory"), "allocation %ld: '%s'", n, err);
		cr_assert_null(t.ev);
		cr_assert_eq(iob_alloc_live(), live);
		fails++;
	}
	/* The file's text, then the event array. */
	cr_assert_eq(fails, 2);
	cr_assert_eq(t.n, 1);
	trace_free(&t);
	cr_assert_eq(iob_alloc_live(), live);
	unlink(path);
}
