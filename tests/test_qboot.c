// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The QEMU harness's boot (guest-workloads/qemu/qboot.c) without QEMU:
 * the command line each mode gets, and the console protocol run against
 * a stand-in qemu-system-x86_64 (a shell script first in PATH) that
 * prints what the guest's /init prints: windows stamped and answered, the
 * verdict from IOB-DONE, a guest past its timeout killed, a stop request
 * obeyed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iob/alloc.h>

#include "qboot.h"

static const struct qboot_point pts[] = { { false, 4096, 1 }, { true, 65536, 8 } };

static struct qboot_cfg cfg(enum qboot_iommu i, enum qboot_mode m)
{
	return (struct qboot_cfg){
		.iommu = i, .dev = QBOOT_VIRTIO, .mode = m, .accel = "tcg", .smp = 1,
		.mem_mib = 1024, .pt = pts, .npt = 2, .ios = 200, .ms = 3000, .trace = true,
		.kernel = "/boot/vmlinuz-x", .initrd = "/tmp/initrd.img", .scratch = "/tmp/s",
		.console = "/tmp/s/con.log", .trace_log = "/tmp/s/qemu-trace.log",
	};
}

/* The value after @flag in @a, the @nth time it appears (0: first), or NULL. */
static const char *arg_after(const struct qboot_argv *a, const char *flag, int nth)
{
	for (int i = 0; i + 1 < a->n; i++)
		if (!strcmp(a->v[i], flag) && nth-- == 0)
			return a->v[i + 1];
	return NULL;
}

static bool has_device(const struct qboot_argv *a, const char *dev)
{
	for (int k = 0; arg_after(a, "-device", k); k++)
		if (!strcmp(arg_after(a, "-device", k), dev))
			return true;
	return false;
}

static struct qboot_argv av;

Test(qboot_argv, strict_has_the_amd_iommu_and_a_translated_virtio_disk)
{
	struct qboot_cfg c = cfg(QBOOT_AMD, QBOOT_STRICT);
	const char *app;

	cr_assert_eq(qboot_argv(&c, &av), 0);
	cr_assert_str_eq(av.v[0], "qemu-system-x86_64");
	cr_assert_null(av.v[av.n]);
	cr_assert(has_device(&av, "amd-iommu"));
	cr_assert(has_device(&av, "virtio-blk-pci,drive=d0,disable-legacy=on,iommu_platform=on,"
			     "serial=iobdut"));
	cr_assert(has_device(&av, "virtio-blk-pci,drive=o0,serial=iobout"),
		  "the results disk bypasses the IOMMU");
	cr_assert_str_eq(arg_after(&av, "-machine", 0), "q35");
	cr_assert_str_eq(arg_after(&av, "-cpu", 0), "max");
	cr_assert_str_eq(arg_after(&av, "-trace", 0), "events=/tmp/s/events");
	cr_assert_str_eq(arg_after(&av, "-D", 0), "/tmp/s/qemu-trace.log");
	app = arg_after(&av, "-append", 0);
	cr_assert(strstr(app, "console=ttyS0 panic=-1 iommu.passthrough=0 iob.dev=virtio "
			 "iob.mode=strict iob.points=read:4096:1,write:65536:8 iob.ios=200 "
			 "iob.ms=3000 iob.trace=1 iob.sync=1 iob.probe=0 iob.host=off iob.dmamap=off"),
		  "%s", app);
	/* iob host in the guest: the mode reaches /init, and the boot gets the time for it. */
	c.host = "quick";
	cr_assert_eq(qboot_argv(&c, &av), 0);
	cr_assert(strstr(arg_after(&av, "-append", 0), " iob.host=quick "));
	cr_assert_geq(qboot_timeout_s(&c), 600);
}

Test(qboot_argv, swiotlb_keeps_the_iommu_device_but_switches_it_off_and_forces_bouncing)
{
	struct qboot_cfg c = cfg(QBOOT_AMD, QBOOT_SWIOTLB);
	const char *app;

	cr_assert_eq(qboot_argv(&c, &av), 0);
	cr_assert(has_device(&av, "amd-iommu"), "the same machine as the other modes");
	app = arg_after(&av, "-append", 0);
	cr_assert(strstr(app, " amd_iommu=off swiotlb=force "), "%s", app);
	cr_assert(strstr(app, " iob.mode=swiotlb "), "%s", app);
	cr_assert(strstr(app, " iob.trace=1 "), "bounces are counted from tracefs: %s", app);
	cr_assert_null(strstr(app, "passthrough"), "%s", app);

	c = cfg(QBOOT_INTEL, QBOOT_SWIOTLB);
	cr_assert_eq(qboot_argv(&c, &av), 0);
	cr_assert(has_device(&av, "intel-iommu,intremap=on,caching-mode=on"));
	cr_assert_str_eq(arg_after(&av, "-machine", 0), "q35,kernel-irqchip=split");
	app = arg_after(&av, "-append", 0);
	cr_assert(strstr(app, " intel_iommu=off swiotlb=force "), "%s", app);
}

Test(qboot_argv, each_mode_gets_its_kernel_words)
{
	static const struct {
		enum qboot_iommu i;
		enum qboot_mode m;
		const char *words;
		bool device;
	} want[] = {
		{ QBOOT_AMD, QBOOT_LAZY, " iommu.passthrough=0 iob.dev=virtio iob.mode=lazy ", true },
		{ QBOOT_AMD, QBOOT_PASSTHROUGH, " iommu.passthrough=1 iob.dev=", true },
		{ QBOOT_AMD, QBOOT_NOIOMMU, " iommu.passthrough=0 iob.dev=", false },
		{ QBOOT_INTEL, QBOOT_STRICT, " intel_iommu=on iommu.passthrough=0 iob.dev=", true },
		{ QBOOT_INTEL, QBOOT_PASSTHROUGH, " intel_iommu=on iommu.passthrough=1 iob.dev=", true },
		{ QBOOT_INTEL, QBOOT_NOIOMMU, " iommu.passthrough=0 iob.dev=", false },
	};

	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		struct qboot_cfg c = cfg(want[k].i, want[k].m);
		const char *app;

		cr_assert_eq(qboot_argv(&c, &av), 0);
		app = arg_after(&av, "-append", 0);
		cr_assert(strstr(app, want[k].words), "case %zu: %s", k, app);
		cr_assert_eq(has_device(&av, "amd-iommu") ||
			     has_device(&av, "intel-iommu,intremap=on,caching-mode=on"),
			     want[k].device, "case %zu", k);
		cr_assert_eq(strstr(app, "iob.trace=1") != NULL, want[k].m != QBOOT_NOIOMMU,
			     "case %zu: nothing to capture without an IOMMU: %s", k, app);
	}
}

Test(qboot_argv, the_module_and_kvm_and_an_untraced_boot)
{
	struct qboot_dmamap dm = { .threads = 2, .node = -1, .bits = 32, .dir = 0, .granule = 4,
				   .delay_ns = 0, .ms = 500 };
	struct qboot_cfg c = cfg(QBOOT_AMD, QBOOT_STRICT);
	const char *app;

	c.dmamap = &dm;
	c.accel = "kvm";
	c.trace_log = NULL;
	cr_assert_eq(qboot_argv(&c, &av), 0);
	cr_assert_str_eq(arg_after(&av, "-cpu", 0), "host");
	cr_assert_null(arg_after(&av, "-trace", 0));
	app = arg_after(&av, "-append", 0);
	cr_assert(strstr(app, " iob.dmamap=threads=2,ms=500,node=-1,bits=32,dir=0,delay_ns=0,"
			 "granule=4,api=both"), "%s", app);
	cr_assert_eq(qboot_timeout_s(&c), 90 + 2 * (9 + 20) + 2 * (1 + 20));
}

Test(qboot_argv, a_command_line_that_does_not_fit_is_refused)
{
	static char kernel[20000];
	struct qboot_cfg c = cfg(QBOOT_AMD, QBOOT_STRICT);

	memset(kernel, 'k', sizeof(kernel) - 1);
	c.kernel = kernel;
	cr_assert_eq(qboot_argv(&c, &av), -E2BIG);
}

Test(qboot_argv, names_say_iommu_device_and_mode)
{
	struct qboot_cfg c = cfg(QBOOT_INTEL, QBOOT_SWIOTLB);
	char buf[64];

	c.dev = QBOOT_NVME;
	cr_assert_str_eq(qboot_name(&c, buf, sizeof(buf)), "intel-nvme-swiotlb");
}

/* ---- the console protocol, against a stand-in QEMU ------------------------------------ */

static char dir[] = "/tmp/iobtest-qboot-XXXXXX";
static char old_path[8192];

static void fake_setup(void)
{
	char path[9000];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(old_path, sizeof(old_path), "%s", getenv("PATH") ? getenv("PATH") : "");
	snprintf(path, sizeof(path), "%s:%s", dir, old_path);
	setenv("PATH", path, 1);
}

static void fake_teardown(void)
{
	char cmd[256];

	setenv("PATH", old_path, 1);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		cr_log_warn("could not remove %s", dir);
}

TestSuite(qboot_console, .init = fake_setup, .fini = fake_teardown);

/* The stand-in: @body is the shell script after the shebang. */
static void fake_qemu(const char *body)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/qemu-system-x86_64", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "#!/bin/sh\n%s", body);
	fclose(f);
	cr_assert_eq(chmod(path, 0755), 0);
}

static struct qboot_cfg fake_cfg(char *con, size_t len)
{
	struct qboot_cfg c = cfg(QBOOT_AMD, QBOOT_STRICT);

	snprintf(con, len, "%s/console.log", dir);
	c.scratch = dir;
	c.console = con;
	c.trace_log = NULL;
	c.timeout_s = 20;
	return c;
}

static bool file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[8192];
	bool found = false;

	cr_assert_not_null(f, "%s", path);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

Test(qboot_console, windows_are_stamped_and_the_guest_answered)
{
	char con[256], err[256];
	struct qboot_cfg c = fake_cfg(con, sizeof(con));
	struct qboot b;

	/* The guest waits for the answer: without it, read fails and no result follows. */
	fake_qemu("echo 'Linux version x'\n"
		  "echo '[    0.5] AMD-Vi: Found IOMMU cap 0x40'\n"
		  "echo 'IOB-BOOT kernel=x cpus=1 mode=strict dev=virtio'\n"
		  "echo 'IOB-MARK begin id=1'\n"
		  "read ack || exit 3\n"
		  "[ \"$ack\" = go ] || exit 4\n"
		  "sleep 0.05\n"
		  "echo 'IOB-RESULT id=1 op=read bs=4096 qd=1 ios=200'\n"
		  "echo 'IOB-MARK end id=1'\n"
		  "echo 'IOB-MARK begin id=dm-single'\n"
		  "read ack\n"
		  "echo 'IOB-MARK end id=dm-single'\n"
		  "echo 'IOB-DONE status=ok'\n");
	cr_assert_eq(qboot_run(&c, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert(b.ok, "%s", b.reason);
	cr_assert_str_eq(b.name, "amd-virtio-strict");
	cr_assert(b.con.amdvi_found);
	cr_assert_eq(b.nwin, 2);
	cr_assert_str_eq(b.win_id[0], "1");
	cr_assert_str_eq(b.win_id[1], "dm-single");
	cr_assert_neq(b.win[0].t1_us, UINT64_MAX, "the window was closed");
	cr_assert_geq(b.win[0].t1_us - b.win[0].t0_us, 40000, "the guest slept 50 ms in it");
	cr_assert(file_has(con, "# qemu command: qemu-system-x86_64 -accel tcg"));
	cr_assert(file_has(con, "IOB-RESULT id=1 op=read"));
	qboot_free(&b);
}

Test(qboot_console, an_error_reported_by_the_guest_is_the_reason)
{
	char con[256], err[256];
	struct qboot_cfg c = fake_cfg(con, sizeof(con));
	struct qboot b;

	fake_qemu("echo 'IOB-DONE status=error reason=modprobe-nvme'\n");
	cr_assert_eq(qboot_run(&c, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(b.ok);
	cr_assert_str_eq(b.reason, "the guest reported an error: modprobe-nvme");
	qboot_free(&b);

	fake_qemu("echo 'IOB-BOOT kernel=x cpus=1 mode=strict dev=virtio'\n");
	cr_assert_eq(qboot_run(&c, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(b.ok);
	cr_assert(strstr(b.reason, "stopped without IOB-DONE"), "%s", b.reason);
	qboot_free(&b);

	fake_qemu("echo 'IOB-MARK sideways id=1'\n");
	cr_assert_eq(qboot_run(&c, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(b.ok);
	cr_assert(strstr(b.reason, "console: line 2: "), "the log's header is line 1: %s",
		  b.reason);
	qboot_free(&b);
}

Test(qboot_console, a_guest_past_its_timeout_is_killed, .timeout = 30)
{
	char con[256], err[256];
	struct qboot_cfg c = fake_cfg(con, sizeof(con));
	struct qboot b;

	fake_qemu("echo 'IOB-BOOT kernel=x cpus=1 mode=strict dev=virtio'\nexec sleep 60\n");
	c.timeout_s = 1;
	cr_assert_eq(qboot_run(&c, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(b.ok);
	cr_assert(b.timed_out);
	cr_assert(strstr(b.reason, "timeout: the guest did not finish in 1 s"), "%s", b.reason);
	cr_assert_lt(b.secs, 10);
	qboot_free(&b);
}

static bool stop_now(void)
{
	return true;
}

Test(qboot_console, a_stop_request_kills_the_guest, .timeout = 30)
{
	char con[256], err[256];
	struct qboot_cfg c = fake_cfg(con, sizeof(con));
	struct qboot b;

	fake_qemu("exec sleep 60\n");
	c.stop = stop_now;
	cr_assert_eq(qboot_run(&c, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(b.ok);
	cr_assert(b.interrupted);
	cr_assert_str_eq(b.reason, "interrupted");
	qboot_free(&b);
}

Test(qboot_console, a_missing_scratch_folder_is_this_sides_error)
{
	char con[256], err[256] = "";
	struct qboot_cfg c = fake_cfg(con, sizeof(con));
	struct qboot b;

	c.scratch = "/nonexistent/iob";
	cr_assert_eq(qboot_run(&c, &b, err, sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "/nonexistent/iob/dut.img"), "%s", err);
}

/*
 * The console kept for parsing is the boot's only allocation of the
 * suite's allocator: failing it is this side's error at the start, or a
 * boot that is not ok, with QEMU killed; nothing leaks either way.
 */
Test(qboot_console, an_allocation_failure_fails_the_boot_and_leaks_nothing, .timeout = 120)
{
	char con[256], err[256];
	struct qboot_cfg c = fake_cfg(con, sizeof(con));
	struct qboot b;
	uint64_t calls;
	int64_t live;

	/* Enough output for the kept console to grow a few times. */
	fake_qemu("i=0; while [ $i -lt 3000 ]; do echo \"line $i of the kernel's chatter\"; "
		  "i=$((i + 1)); done\necho 'IOB-DONE status=ok'\n");
	live = iob_alloc_live();
	calls = iob_alloc_calls();
	cr_assert_eq(qboot_run(&c, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert(b.ok, "%s", b.reason);
	qboot_free(&b);
	calls = iob_alloc_calls() - calls;
	cr_assert_gt(calls, 1);
	for (uint64_t n = 0; n < calls; n++) {
		int ret;

		iob_fail_after((long)n);
		ret = qboot_run(&c, &b, err, sizeof(err));
		iob_fail_after(-1);
		if (ret) {
			cr_assert_eq(ret, -ENOMEM, "site %llu", (unsigned long long)n);
		} else {
			cr_assert_not(b.ok, "site %llu", (unsigned long long)n);
			cr_assert_str_eq(b.reason, "out of memory reading the console");
			qboot_free(&b);
		}
		cr_assert_eq(iob_alloc_live(), live, "site %llu leaks", (unsigned long long)n);
	}
}
