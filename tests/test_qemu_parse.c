// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The QEMU harness's readers (guest console, QEMU trace log, the guest's
 * command kprobe lines), the model replay it checks against QEMU, and the
 * `iob qemu` command's refusals of bad input. No guest is booted here:
 * that is the qemu suite (test_qemu_guest.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "iobrun.h"
#include "qemu.h"

/* ---- console ------------------------------------------------------------------------ */

Test(qemu_console, result_line_parses_into_fields)
{
	struct qcon_rec r;
	char err[200];
	uint64_t v;
	double d;

	cr_assert_eq(qcon_parse_line("IOB-RESULT id=3 kind=io op=read bs=65536 qd=8 iops=1585.4\r",
				     &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.type, QCON_RESULT);
	cr_assert_str_eq(qcon_get(&r, "op"), "read");
	cr_assert_eq(qcon_get_u64(&r, "bs", &v), 0);
	cr_assert_eq(v, 65536);
	cr_assert_eq(qcon_get_double(&r, "iops", &d), 0);
	cr_assert_float_eq(d, 1585.4, 1e-9);
	cr_assert_null(qcon_get(&r, "missing"));
	cr_assert_eq(qcon_get_u64(&r, "missing", &v), -ENOENT);
	cr_assert_eq(qcon_get_u64(&r, "op", &v), -EINVAL);
}

Test(qemu_console, mark_takes_begin_or_end_and_an_id)
{
	struct qcon_rec r;
	char err[200];

	cr_assert_eq(qcon_parse_line("IOB-MARK begin id=dm-sg", &r, err, sizeof(err)), 0);
	cr_assert_str_eq(qcon_get(&r, "edge"), "begin");
	cr_assert_str_eq(qcon_get(&r, "id"), "dm-sg");
	cr_assert_eq(qcon_parse_line("IOB-MARK middle id=1", &r, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "not key=value"), "%s", err);
	cr_assert_eq(qcon_parse_line("IOB-MARK end", &r, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "id="), "%s", err);
	cr_assert_eq(qcon_parse_line("IOB-MARK id=4", &r, err, sizeof(err)), -EINVAL);
}

Test(qemu_console, lines_not_for_the_harness_are_skipped)
{
	struct qcon_rec r;

	cr_assert_eq(qcon_parse_line("[    1.069614] AMD-Vi: Interrupt remapping enabled", &r, NULL, 0), 1);
	cr_assert_eq(qcon_parse_line("", &r, NULL, 0), 1);
	cr_assert_eq(qcon_parse_line("IOB-DMAMAP-START dev=0000:00:02.0", &r, NULL, 0), 1);
}

Test(qemu_console, malformed_lines_are_refused_with_the_reason)
{
	static const struct {
		const char *line, *why;
	} bad[] = {
		{ "IOB-FOO x=1", "unknown line type" },
		{ "IOB-RESULT id=1 bs", "not key=value" },
		{ "IOB-RESULT id=1 id=2", "given twice" },
		{ "IOB-RESULT id=1 Bs=4", "not [a-z0-9_]" },
		{ "IOB-RESULT id=1 =4", "empty key" },
		{ "IOB-RESULT id=1 bs=", "has no value" },
		{ "IOB-RESULT bs=4096", "without id=" },
		{ "IOB-TRACE id=1 events=4", "without overrun=" },
		{ "IOB-DONE status=maybe", "ok or error" },
		{ "IOB-DONE", "without status=" },
		{ "IOB-BOOT kernel=6.1[    2.322177] tsc: Refined", "not key=value" },
	};
	struct qcon_rec r;
	char err[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(qcon_parse_line(bad[i].line, &r, err, sizeof(err)), -EINVAL, "%s",
			     bad[i].line);
		cr_assert(strstr(err, bad[i].why), "'%s': got '%s'", bad[i].line, err);
	}
}

Test(qemu_console, overlong_values_and_too_many_fields_are_refused)
{
	char line[8192], err[200];
	struct qcon_rec r;
	size_t n;

	n = (size_t)snprintf(line, sizeof(line), "IOB-INFO v=");
	memset(line + n, 'x', QCON_VAL_MAX);
	line[n + QCON_VAL_MAX] = '\0';
	cr_assert_eq(qcon_parse_line(line, &r, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "longer than"), "%s", err);
	n = (size_t)snprintf(line, sizeof(line), "IOB-INFO");
	for (int i = 0; i <= QCON_KV_MAX; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " k%d=1", i);
	cr_assert_eq(qcon_parse_line(line, &r, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "more than"), "%s", err);
}

static const char console_ok[] =
	"SeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n"
	"[    1.068937] pci 0000:00:01.0: AMD-Vi: Found IOMMU cap 0x40\r\n"
	"[    1.069614] AMD-Vi: Interrupt remapping enabled\r\n"
	"IOB-BOOT kernel=6.1.0-56-amd64 cpus=1 mode=strict dev=virtio\r\n"
	"IOB-INFO disk=vda pci=0000:00:02.0 iommu_group=1 domain_type=DMA out=vdb\r\n"
	"IOB-KLOG [    1.05] AMD-Vi: Using strict mode due to virtualization\r\n"
	"IOB-MARK begin id=1\r\n"
	"go\r\n"
	"IOB-MARK end id=1\r\n"
	"IOB-TRACE id=1 events=4000 cmds=4000 overrun=0 file=trace-1.txt\r\n"
	"IOB-RESULT id=1 kind=io op=read bs=4096 qd=1 ios=500\r\n"
	"IOB-DONE status=ok\r\n"
	"[    9.1] reboot: Power down\r\n";

Test(qemu_console, whole_log_gives_records_and_the_iommu_banner)
{
	struct qcon c;
	char err[200];

	cr_assert_eq(qcon_parse(console_ok, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert(c.amdvi_found);
	cr_assert(c.amdvi_intremap);
	cr_assert_not(c.dmar_found);
	cr_assert(c.done && c.done_ok);
	cr_assert_eq(c.n, 8);
	cr_assert_eq(c.rec[0].type, QCON_BOOT);
	cr_assert_eq(c.rec[0].lineno, 4);
	cr_assert_eq(c.rec[7].type, QCON_DONE);
	qcon_free(&c);
}

Test(qemu_console, a_guest_that_did_not_finish_has_no_done)
{
	struct qcon c;
	char err[200];

	cr_assert_eq(qcon_parse("IOB-BOOT kernel=x\nIOB-MARK begin id=1\n[  5.0] Kernel panic\n", &c,
				err, sizeof(err)), 0);
	cr_assert_not(c.done);
	cr_assert_not(c.amdvi_found);
	qcon_free(&c);
	cr_assert_eq(qcon_parse("IOB-DONE status=error reason=modprobe-nvme\n", &c, err,
				sizeof(err)), 0);
	cr_assert(c.done);
	cr_assert_not(c.done_ok);
	qcon_free(&c);
}

Test(qemu_console, errors_name_the_line)
{
	struct qcon c;
	char err[200];

	cr_assert_eq(qcon_parse("boot\nIOB-BOOT kernel=x\nIOB-RESULT op=read\n", &c, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "line 3:"), "%s", err);
	cr_assert_eq(c.n, 0);
	cr_assert_eq(qcon_parse("IOB-DONE status=ok\nIOB-RESULT id=1\n", &c, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "line 2: IOB-RESULT after IOB-DONE"), "%s", err);
}

/* ---- QEMU trace log ------------------------------------------------------------------- */

static int count_text(const char *text, struct qtr_window *w, size_t nw, struct qtr_counts *tot,
		      char *err, size_t len)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int ret;

	cr_assert_not_null(f);
	ret = qtr_count(f, w, nw, tot, err, len);
	fclose(f);
	return ret;
}

static const char amd_log[] =
	"100@1700000000.000100:amdvi_command_exec command buffer head at 0x0 command buffer tail at 0x10 command buffer base at 0x11be000\n"
	"100@1700000000.000101:amdvi_devtab_inval device table entry for devid: 00:00.0 invalidated\n"
	"100@1700000001.000000:amdvi_command_exec command buffer head at 0x10 command buffer tail at 0x20 command buffer base at 0x11be000\n"
	"100@1700000001.000000:amdvi_pages_inval AMD-Vi pages for domain 0x1 invalidated\n"
	"100@1700000001.500000:amdvi_command_exec command buffer head at 0x20 command buffer tail at 0x30 command buffer base at 0x11be000\n"
	"100@1700000001.500000:amdvi_completion_wait completion wait requested with store address 0x1000 and store data 0x1\n"
	"100@1700000001.600000:amdvi_cache_update  update iotlb domid 0x1 devid: 00:02.0 gpa 0xffffb000 hpa 0x274c000\n"
	"100@1700000002.000000:amdvi_mmio_write MMIO write\n"
	"100@1700000003.000001:amdvi_pages_inval AMD-Vi pages for domain 0x1 invalidated\n";

/*
 * Windows cut by the device's marker reads: the NVMe driver's own read of
 * 0xc0 at boot is not a marker (a word's end), the commands before the
 * first marker count nowhere, window 0 holds one invalidation and its
 * wait, window 1 two invalidations; what follows the last marker opens a
 * window no marker closes (windows 0 .. n - 2 are the closed ones).
 */
Test(qemu_trace, marker_reads_cut_the_log_into_windows)
{
	static const char log[] =
		"7@1.000000:pci_nvme_mmio_read addr 0xc0 size 4\n"
		"7@1.000001:amdvi_pages_inval AMD-Vi pages for domain 0x1 invalidated\n"
		"7@1.000002:pci_nvme_mmio_read addr 0xc size 4\n"
		"7@1.000003:amdvi_pages_inval AMD-Vi pages for domain 0x1 invalidated\n"
		"7@1.000004:amdvi_completion_wait completion wait requested\n"
		"7@1.000005:pci_nvme_mmio_read addr 0xc size 4\n"
		"7@1.000006:amdvi_pages_inval AMD-Vi pages for domain 0x1 invalidated\n"
		"7@1.000007:amdvi_pages_inval AMD-Vi pages for domain 0x2 invalidated\n"
		"7@1.000008:pci_nvme_mmio_read addr 0xc size 4\n"
		"7@1.000009:amdvi_completion_wait completion wait requested\n";
	struct qtr_counts w[4];
	char err[128];
	size_t n;
	FILE *f = fmemopen((void *)log, strlen(log), "r");

	cr_assert_eq(qtr_count_marked(f, "pci_nvme_mmio_read addr 0xc ", w, 4, &n, err, sizeof(err)),
		     0, "%s", err);
	fclose(f);
	cr_assert_eq(n, 3);
	cr_assert_eq(w[0].ev[QTR_PAGES_INVAL], 1);
	cr_assert_eq(w[0].ev[QTR_COMPLETION_WAIT], 1);
	cr_assert_eq(w[1].ev[QTR_PAGES_INVAL], 2);
	cr_assert_eq(w[1].ev[QTR_COMPLETION_WAIT], 0);
	cr_assert_eq(w[2].ev[QTR_COMPLETION_WAIT], 1);
	cr_assert_eq(w[3].ev[QTR_COMPLETION_WAIT], 0);
	/* More markers than windows, and a malformed line: refused. */
	f = fmemopen((void *)log, strlen(log), "r");
	cr_assert_eq(qtr_count_marked(f, "pci_nvme_mmio_read addr 0xc ", w, 1, &n, err, sizeof(err)),
		     -EINVAL);
	fclose(f);
	cr_assert(strstr(err, "more than 1 marked windows"), "%s", err);
	f = fmemopen((void *)"garbage\n", 8, "r");
	cr_assert_eq(qtr_count_marked(f, "x ", w, 4, &n, err, sizeof(err)), -EINVAL);
	fclose(f);
}

Test(qemu_trace, events_are_counted_per_window_edges_included)
{
	struct qtr_window w[2] = {
		{ .t0_us = 1700000001000000ULL, .t1_us = 1700000002000000ULL },
		{ .t0_us = 1700000001500000ULL, .t1_us = 1700000003000000ULL },
	};
	struct qtr_counts tot;
	char err[200];

	cr_assert_eq(count_text(amd_log, w, 2, &tot, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tot.ev[QTR_COMMAND], 3);
	cr_assert_eq(tot.ev[QTR_PAGES_INVAL], 2);
	cr_assert_eq(tot.ev[QTR_DEVTAB_INVAL], 1);
	cr_assert_eq(tot.ev[QTR_OTHER], 1);
	cr_assert_eq(tot.inval_by_size[QTR_SIZE_UNKNOWN], 2, "AMD-Vi's event has no size");
	cr_assert_eq(w[0].c.ev[QTR_COMMAND], 2);
	cr_assert_eq(w[0].c.ev[QTR_PAGES_INVAL], 1);
	cr_assert_eq(w[0].c.ev[QTR_COMPLETION_WAIT], 1);
	cr_assert_eq(w[0].c.ev[QTR_IOTLB_FILL], 1);
	cr_assert_eq(w[1].c.ev[QTR_COMMAND], 1);
	cr_assert_eq(w[1].c.ev[QTR_PAGES_INVAL], 0, "3.000001 is past the window");
	cr_assert_eq(w[1].c.ev[QTR_OTHER], 1);
}

Test(qemu_trace, vtd_page_invalidations_carry_their_size)
{
	static const char log[] =
		"7@1.000000:vtd_inv_desc_iotlb_pages iotlb invalidate domain 0x1 addr 0xffffb000 mask 0x0\n"
		"7@1.000000:vtd_inv_desc_iotlb_pages iotlb invalidate domain 0x1 addr 0xffff0000 mask 0x4\n"
		"7@1.000000:vtd_inv_desc_iotlb_pages iotlb invalidate domain 0x1 addr 0x0 mask 0x14\n"
		"7@1.000000:vtd_inv_desc_wait_sw wait invalidate status write addr 0x1 data 0x1\n"
		"7@1.000000:vtd_inv_desc_iotlb_domain iotlb invalidate whole domain 0x1\n";
	struct qtr_counts tot;
	char err[200];

	cr_assert_eq(count_text(log, NULL, 0, &tot, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tot.ev[QTR_PAGES_INVAL], 3);
	cr_assert_eq(tot.inval_by_size[0], 1);
	cr_assert_eq(tot.inval_by_size[4], 1, "mask 4: 64 KiB");
	cr_assert_eq(tot.inval_by_size[QTR_SIZE_ALL - 1], 1, "2 MiB and larger share a class");
	cr_assert_eq(tot.ev[QTR_COMPLETION_WAIT], 1);
	cr_assert_eq(tot.ev[QTR_ALL_INVAL], 1);
}

Test(qemu_trace, malformed_logs_are_refused_with_the_line)
{
	static const struct {
		const char *log, *why;
	} bad[] = {
		{ "1@1.000000:amdvi_pages_inval x\namdvi_pages_inval AMD-Vi pages\n", "line 2: not 'PID@SEC.USEC:EVENT'" },
		{ "1@1.000000:amdvi_pages_inval x\n1@1.000000:amdvi_pages_inval", "line 2: truncated" },
		{ "1@1.0001:amdvi_pages_inval x\n", "line 1: not" },
		{ "1@1.000000:\n", "line 1: no event name" },
		{ "qemu-system-x86_64: warning: host doesn't support\n", "line 1: not" },
		{ "1@1.000000:vtd_inv_desc_iotlb_pages iotlb invalidate domain 0x1\n", "without its mask" },
	};
	struct qtr_counts tot;
	char err[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(count_text(bad[i].log, NULL, 0, &tot, err, sizeof(err)), -EINVAL, "%zu", i);
		cr_assert(strstr(err, bad[i].why), "%zu: got '%s'", i, err);
	}
}

/* ---- the guest's command kprobe --------------------------------------------------------- */

Test(qemu_guest_cmds, invalidation_sizes_decode_the_s_bit)
{
	cr_assert_eq(qgc_inval_size(0xffffb000, 0), 0, "S clear: one page");
	cr_assert_eq(qgc_inval_size(0x00002001, 0), 1, "8K at 0x2000");
	cr_assert_eq(qgc_inval_size(0x00005001, 0), 2, "16K at 0x4000");
	cr_assert_eq(qgc_inval_size(0x0002f001, 0), 5, "128K at 0x20000 (bits 12-15 set)");
	cr_assert_eq(qgc_inval_size(0x0001f001, 0), 6, "128K at 0x10000, unaligned: Linux asks for 256K");
	cr_assert_eq(qgc_inval_size(0xfffff001, 0x7fffffff), QTR_SIZE_ALL, "all pages");
	cr_assert_eq(qgc_inval_size(0x1ffff001, 0), QTR_SIZE_ALL - 1, "1 GiB: the 2M+ class");
}

Test(qemu_guest_cmds, kprobe_lines_are_counted_and_other_lines_skipped)
{
	static const char text[] =
		"# tracer: nop\n"
		"    kworker/0:1H-38 [000] d..1.  2.651246: map: IOMMU: iova=0x00000000ffffb000 - 0x00000000ffffc000 paddr=0x000000000274c000 size=4096\n"
		"    kworker/0:1H-38 [000] d..2.  2.651250: iob_cmd: (__iommu_queue_command_sync+0x0/0x1a0) c0=0x0 c1=0x30000001 c2=0xffffb002 c3=0x0\n"
		"    kworker/0:1H-38 [000] d..2.  2.651260: iob_cmd: (__iommu_queue_command_sync+0x0/0x1a0) c0=0x3be2001 c1=0x10000000 c2=0x1 c3=0x0\n"
		"    kworker/0:1H-38 [000] d..2.  2.651270: iob_cmd: (__iommu_queue_command_sync+0x0/0x1a0) c0=0x0 c1=0x30000001 c2=0xfffff003 c3=0x7fffffff\n"
		"    kworker/0:1H-38 [000] d..2.  2.651280: iob_cmd: (__iommu_queue_command_sync+0x0/0x1a0) c0=0x10 c1=0x20000000 c2=0x0 c3=0x0\n";
	struct qtr_counts c;
	char err[200];

	cr_assert_eq(qgc_count(text, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.ev[QTR_COMMAND], 4);
	cr_assert_eq(c.ev[QTR_PAGES_INVAL], 2);
	cr_assert_eq(c.ev[QTR_COMPLETION_WAIT], 1);
	cr_assert_eq(c.ev[QTR_DEVTAB_INVAL], 1);
	cr_assert_eq(c.inval_by_size[0], 1);
	cr_assert_eq(c.inval_by_size[QTR_SIZE_ALL], 1);
}

Test(qemu_guest_cmds, a_kprobe_line_without_its_dwords_is_refused)
{
	struct qtr_counts c;
	char err[200];

	cr_assert_eq(qgc_count("x\n  sh-1 [000] ..... 1.0: iob_cmd: (f+0x0/0x1) c0=0x0 c1=0x3\n", &c,
			       err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "line 2: iob_cmd without c0..c3"), "%s", err);
	cr_assert_eq(qgc_count("  sh-1 [000] ..... 1.0: iob_cmd: (f) c0=0x0 c1=zz c2=0x0 c3=0x0\n", &c,
			       err, sizeof(err)), -EINVAL);
}

/* ---- the model replay ------------------------------------------------------------------ */

static struct trace parse_trace(const char *text)
{
	struct trace t;
	char err[200];

	cr_assert_eq(trace_parse(text, &t, err, sizeof(err)), 0, "%s", err);
	return t;
}

Test(qemu_fidelity, strict_one_page_is_one_flush_each_way)
{
	struct trace t = parse_trace("# iommubench trace v1\n"
				     "0 map 0 0xffffb000 0x274c000 4096 rw\n"
				     "100 unmap 0 0xffffb000 4096\n");
	struct fid_cfg cfg = { .np_cache = true };
	struct fid_result r;

	cr_assert_eq(fid_replay(&t, &cfg, &r), 0);
	cr_assert_eq(r.inv_cmds, 2);
	cr_assert_eq(r.completion_waits, 2);
	cr_assert_eq(r.map_flushes, 1);
	cfg.np_cache = false;
	cr_assert_eq(fid_replay(&t, &cfg, &r), 0);
	cr_assert_eq(r.inv_cmds, 1, "no flush on map without NpCache");
	cr_assert_eq(r.completion_waits, 1);
	trace_free(&t);
}

Test(qemu_fidelity, strict_three_pages_split_into_aligned_blocks)
{
	/* 12K at an IOVA aligned to 16K (Linux rounds and aligns): 8K + 4K, both ways. */
	struct trace t = parse_trace("# iommubench trace v1\n"
				     "0 map 0 0xfffc0000 0x100000 12288 rw\n"
				     "10 unmap 0 0xfffc0000 12288\n");
	struct fid_cfg cfg = { .np_cache = true };
	struct fid_result r;

	cr_assert_eq(fid_replay(&t, &cfg, &r), 0);
	cr_assert_eq(r.inv_cmds, 4);
	cr_assert_eq(r.completion_waits, 2);
	trace_free(&t);
}

Test(qemu_fidelity, maps_one_unmap_covers_are_one_call)
{
	/* dma_map_sg: two physically apart runs at adjacent IOVAs, one sync, one unmap. */
	struct trace t = parse_trace("# iommubench trace v1\n"
				     "0 map 0 0xffff0000 0x100000 8192 rw\n"
				     "1 map 0 0xffff2000 0x900000 8192 rw\n"
				     "50 unmap 0 0xffff0000 16384\n"
				     "60 map 0 0xffff0000 0x100000 4096 rw\n"
				     "61 map 0 0xffff1000 0x200000 4096 rw\n"
				     "70 unmap 0 0xffff0000 4096\n"
				     "71 unmap 0 0xffff1000 4096\n");
	struct fid_cfg cfg = { .np_cache = true };
	struct fid_result r;

	cr_assert_eq(fid_replay(&t, &cfg, &r), 0);
	cr_assert_eq(r.map_events, 4);
	cr_assert_eq(r.map_calls, 3, "the first two maps are one call; the last two are not");
	cr_assert_eq(r.inv_cmds, 2 + 4, "16K aligned: one block each way; then 4 single pages");
	cr_assert_eq(r.completion_waits, 2 + 4);
	cr_assert_eq(r.skipped, 0);
	trace_free(&t);
}

static char *lazy_trace(unsigned n, uint64_t gap_ns)
{
	size_t cap = 64 + (size_t)n * 120, len = 0;
	char *s = malloc(cap);

	len += (size_t)snprintf(s + len, cap - len, "# iommubench trace v1\n");
	for (unsigned i = 0; i < n; i++) {
		uint64_t t = (uint64_t)i * gap_ns;

		len += (size_t)snprintf(s + len, cap - len, "%llu map 0 0x%x 0x%x 4096 rw\n",
					(unsigned long long)t, 0x10000000 + i * 0x1000, 0x100000 + i * 0x1000);
		len += (size_t)snprintf(s + len, cap - len, "%llu unmap 0 0x%x 4096\n",
					(unsigned long long)t + 1, 0x10000000 + i * 0x1000);
	}
	return s;
}

Test(qemu_fidelity, lazy_flushes_when_the_queue_fills)
{
	char *text = lazy_trace(600, 100);	/* 60 us in all: no timer */
	struct trace t = parse_trace(text);
	struct fid_cfg cfg = { .lazy = true, .np_cache = true };
	struct fid_result r;

	cr_assert_eq(fid_replay(&t, &cfg, &r), 0);
	cr_assert_eq(r.timer_flushes, 0);
	cr_assert_eq(r.map_flushes, 600);
	cr_assert_eq(r.flush_alls, 2, "the 257th and 513th unmap find the 256-entry queue full");
	cr_assert_eq(r.inv_cmds, 600 + 2);
	cr_assert_eq(r.completion_waits, 600 + 2);
	trace_free(&t);
	free(text);
}

Test(qemu_fidelity, lazy_timer_runs_in_trace_time)
{
	char *text = lazy_trace(50, 4000000);	/* one I/O every 4 ms */
	struct trace t = parse_trace(text);
	struct fid_cfg cfg = { .lazy = true, .np_cache = true };
	struct fid_result r;

	cr_assert_eq(fid_replay(&t, &cfg, &r), 0);
	/* Armed at 1 ns, fires at the first event at or past 10 ms (12 ms), re-armed by the next unmap. */
	cr_assert_eq(r.timer_flushes, 16, "got %llu", (unsigned long long)r.timer_flushes);
	cr_assert_eq(r.flush_alls, 16);
	cr_assert_eq(r.inv_cmds, 50 + 16);
	trace_free(&t);
	free(text);
}

Test(qemu_fidelity, linux_tracefs_text_replays_as_is)
{
	struct trace t = parse_trace(
		"# tracer: nop\n"
		"    kworker/0:1H-38      [000] d..1.     2.651246: map: IOMMU: iova=0x00000000ffffb000 - 0x00000000ffffc000 paddr=0x000000000274c000 size=4096\n"
		"    kworker/0:1H-38      [000] d..2.     2.651250: iob_cmd: (__iommu_queue_command_sync+0x0/0x1a0) c0=0x0 c1=0x30000001 c2=0xffffb003 c3=0x0\n"
		"    kworker/0:1H-38      [000] d.h1.     2.652492: unmap: IOMMU: iova=0x00000000ffffb000 - 0x00000000ffffc000 size=4096 unmapped_size=4096\n"
		"    kworker/0:1H-38      [000] d.h1.     2.652500: unmap: IOMMU: iova=0x00000000ffffa000 - 0x00000000ffffb000 size=4096 unmapped_size=4096\n");
	struct fid_cfg cfg = { .np_cache = true };
	struct fid_result r;

	cr_assert_eq(t.format, TRACE_FMT_TRACEFS);
	cr_assert_eq(fid_replay(&t, &cfg, &r), 0);
	cr_assert_eq(r.map_events, 1);
	cr_assert_eq(r.unmap_events, 2);
	cr_assert_eq(r.skipped, 1, "an unmap of what the capture never saw mapped");
	cr_assert_eq(r.inv_cmds, 2);
	trace_free(&t);
}

Test(qemu_fidelity, mappings_left_at_the_end_are_not_torn_down_in_the_counts)
{
	struct trace t = parse_trace("# iommubench trace v1\n0 map 0 0x1000 0x1000 4096 r\n");
	struct fid_cfg cfg = { .np_cache = true };
	struct fid_result r;

	cr_assert_eq(fid_replay(&t, &cfg, &r), 0);
	cr_assert_eq(r.left_mapped, 1);
	cr_assert_eq(r.inv_cmds, 1, "the map flush only");
	cfg.guest_mib = 1;
	cr_assert_eq(fid_replay(&t, &cfg, &r), -EINVAL, "a guest too small to fold pages into");
	trace_free(&t);
}

/* ---- the command line ------------------------------------------------------------------- */

Test(qemu_cli, bad_flags_exit_2_naming_the_problem)
{
	static const struct {
		const char *args[8], *why;
	} bad[] = {
		{ { "qemu", "run", "--mode", "fast", NULL }, "--mode: unknown value 'fast'" },
		{ { "qemu", "run", "--points", "read:3K:1", NULL }, "multiple of 4K" },
		{ { "qemu", "run", "--points", "copy:4K:1", NULL }, "not read or write" },
		{ { "qemu", "run", "--points", "read:4K:0", NULL }, "queue depth '0'" },
		{ { "qemu", "run", "--dmamap", "-g 2000", NULL }, "-g 2000 is not in 1..1024" },
		{ { "qemu", "run", "--dmamap", "-q 1", NULL }, "unknown flag '-q'" },
		{ { "qemu", "run", "--accel", "hvf", NULL }, "not auto, kvm or tcg" },
		{ { "qemu", "run", "--timeout", "1", NULL }, "--timeout" },
		{ { "qemu", "fly", NULL }, "unknown subcommand 'fly'" },
		{ { "qemu", "fidelity", "/nonexistent-dir", NULL }, "not a writable directory" },
		{ { "qemu", "fidelity", "--mode", "eager", "--trace", "x", NULL }, "strict or lazy" },
	};
	struct iob_out o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		iob_runv(&o, bad[i].args);
		cr_assert_eq(o.status, 2, "%s %s: status %d (%s)", bad[i].args[1], bad[i].args[2],
			     o.status, o.err);
		cr_assert(strstr(o.err, bad[i].why), "%zu: got '%s'", i, o.err);
	}
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

Test(qemu_cli, fidelity_of_a_trace_file_prints_the_model_counts)
{
	char path[] = "/tmp/iobtest-trace-XXXXXX";
	const char *args[] = { "qemu", "fidelity", "--trace", path, "--ios", "1", NULL };
	struct iob_out o;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	close(fd);
	write_file(path,
		   "    fio-99 [001] d..1.   100.000010: map: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000 paddr=0x0000000012345000 size=4096\n"
		   "    fio-99 [001] d..1.   100.000110: unmap: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000 size=4096 unmapped_size=4096\n");
	iob_runv(&o, args);
	cr_assert_eq(o.status, 0, "%s", o.err);
	cr_assert(strstr(o.out, "Linux tracefs format"), "%s", o.out);
	cr_assert(strstr(o.out, "2 page invalidations, 2 completion waits"), "%s", o.out);
	write_file(path, "    fio-99 [001] d..1.   100.000010: map: IOMMU: iova=0x00000000fffff000 - "
			 "0x0000000100001000 paddr=0x0000000012345000 size=4096\n");
	iob_runv(&o, args);
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "line 1"), "%s", o.err);
	unlink(path);
}

Test(qemu_cli, fidelity_reads_compressed_traces_as_run_folders_keep_them)
{
	char path[] = "/tmp/iobtest-trace-XXXXXX", xz[64], cmd[160];
	const char *args[] = { "qemu", "fidelity", "--trace", xz, "--mode", "lazy", NULL };
	struct iob_out o;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	close(fd);
	write_file(path, "# iommubench trace v1\n0 map 0 0x1000 0x1000 8192 w\n5 unmap 0 0x1000 8192\n");
	snprintf(xz, sizeof(xz), "%s.xz", path);
	snprintf(cmd, sizeof(cmd), "xz -c '%s' > '%s'", path, xz);
	cr_assert_eq(system(cmd), 0, "xz-utils is missing");
	iob_runv(&o, args);
	cr_assert_eq(o.status, 0, "%s", o.err);
	cr_assert(strstr(o.out, "iommubench format"), "%s", o.out);
	cr_assert(strstr(o.out, "lazy, 256 entries, 10 ms"), "%s", o.out);
	/* The unmap waits in the queue: its timer would fire after the trace ends. */
	cr_assert(strstr(o.out, "1 page invalidations, 1 completion waits, 1 map flushes, 0 domain"),
		  "%s", o.out);
	write_file(xz, "not xz at all\n");
	iob_runv(&o, args);
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "cannot decompress"), "%s", o.err);
	unlink(path);
	unlink(xz);
}

/*
 * iob host reach's windows: INTMC reads (0x10) cut the log; IOTLB fills
 * and hits between them are the probe's misses and hits, and INTMS reads
 * (iob host vfio's markers) are neither markers nor counted events here.
 */
Test(qemu_trace, reach_markers_count_iotlb_fills_and_hits)
{
	static const char log[] =
		"7@1.000000:pci_nvme_mmio_read addr 0x10 size 4\n"
		"3@1.000001:amdvi_cache_update  update iotlb domid 0x1, devid: 00:03.0, gpa 0x100000000, hpa 0x7000\n"
		"3@1.000002:amdvi_iotlb_hit hit iotlb devid 00:03.0 gpa 0x100000000 hpa 0x7000\n"
		"3@1.000003:amdvi_iotlb_hit hit iotlb devid 00:03.0 gpa 0x100000000 hpa 0x7000\n"
		"7@1.000004:pci_nvme_mmio_read addr 0xc size 4\n"
		"7@1.000005:pci_nvme_mmio_read addr 0x10 size 4\n"
		"3@1.000006:amdvi_iotlb_hit hit iotlb devid 00:03.0 gpa 0x100000000 hpa 0x7000\n";
	struct qtr_counts w[2];
	char err[128];
	size_t n;
	FILE *f = fmemopen((void *)log, strlen(log), "r");

	cr_assert_eq(qtr_count_marked(f, "pci_nvme_mmio_read addr 0x10 ", w, 2, &n, err,
				      sizeof(err)), 0, "%s", err);
	fclose(f);
	cr_assert_eq(n, 2);
	cr_assert_eq(w[0].ev[QTR_IOTLB_FILL], 1);
	cr_assert_eq(w[0].ev[QTR_IOTLB_HIT], 2);
	cr_assert_eq(w[0].ev[QTR_OTHER], 1, "the INTMS read is another event");
	cr_assert_eq(w[1].ev[QTR_IOTLB_HIT], 1, "an open window counts too");
	cr_assert_str_eq(qtr_event_name(QTR_IOTLB_HIT), "iotlb_hits");
}
