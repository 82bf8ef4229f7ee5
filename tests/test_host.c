// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob host's readers, on inputs worked by hand: the AMD IOMMU capability
 * header and Extended Feature Register decoded bit by bit from the spec's
 * field table, the kernel command line's IOMMU words, and sysfs/procfs
 * trees built in a temporary folder (an IOMMU, groups, a PCI function with
 * a mounted filesystem on it).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iob/alloc.h>
#include <iob/efr.h>
#include <iob/ftrace.h>
#include <iob/hostinfo.h>
#include <iob/nvme.h>
#include <iob/perfstat.h>
#include <iob/pmuev.h>

#include "iobrun.h"
#include "vfiomodel.h"

/*
 * The capability header of an IOMMU with every flag: CapID 0Fh (bits
 * 7:0), CapPtr 40h (15:8), CapType 3 (18:16), CapRev 1 (23:19), IotlbSup
 * (24), HtTunnel (25), NpCache (26), EFRSup (27), CapExt (28):
 * 0x0f + 0x4000 + 0x30000 + 0x80000 + 0x1f000000 = 0x1f0b400f.
 */
#define CAP_ALL		0x1f0b400fU
/* The same without NpCache (26) and EFRSup (27): 0x130b400f. */
#define CAP_NO_NP_EFR	0x130b400fU

/*
 * EFR: PPRSup (1), GTSup (4), IASup (6), PCSup (9), HATS 01b (bit 10: five
 * levels), GATS 10b (bit 13: six levels), GLXSup 01b (bit 14: two-level
 * GCR3), PASmax 0Fh (bits 35:32: 16 PASID bits), SegSup 10b (bit 39: four
 * segments), SNPSup (63):
 * 0x2 | 0x10 | 0x40 | 0x200 | 0x400 | 0x2000 | 0x4000 = 0x6652,
 * | 0xf << 32 = 0xf00000000, | 1 << 39 = 0x8000000000, | 1 << 63.
 */
#define EFR_SAMPLE	0x8000008f00006652ULL

Test(efr, capability_header_fields_decode_from_their_bits)
{
	struct efr_info e;

	cr_assert_eq(efr_decode(CAP_ALL, 0, 0, &e), 0);
	cr_assert(e.cap_valid && e.iotlb_sup && e.np_cache && e.efr_sup);
	cr_assert_eq(e.cap_rev, 1);
	cr_assert_eq(efr_decode(CAP_NO_NP_EFR, EFR_SAMPLE, 0, &e), 0);
	cr_assert(!e.np_cache && !e.efr_sup && e.iotlb_sup);
	/* No EFRSup: the register does not exist, so nothing in it counts. */
	cr_assert(!e.ppr && !e.gt && !e.snp);
	cr_assert_eq(e.host_levels, 4);
}

Test(efr, extended_feature_register_fields_decode_from_their_bits)
{
	struct efr_info e;
	char buf[256];

	cr_assert_eq(efr_decode(CAP_ALL, EFR_SAMPLE, 0x5, &e), 0);
	cr_assert(e.ppr && e.gt && e.ia && e.pc && e.snp);
	cr_assert(!e.pref && !e.xt && !e.nx && !e.ga && !e.he && !e.gio && !e.eph);
	cr_assert_eq(e.host_levels, 5);
	cr_assert_eq(e.guest_levels, 6);
	cr_assert_eq(e.glx_levels, 2);
	cr_assert_eq(e.pasid_bits, 16);
	cr_assert_eq(e.devtab_segments, 4);
	cr_assert_eq(e.efr2, 0x5);
	cr_assert_eq(e.host_pgsizes, AMDVI_V1_PGSIZES);
	cr_assert_eq(e.guest_pgsizes, (1ULL << 12) | (1ULL << 21) | (1ULL << 30));
	cr_assert_str_eq(efr_features_string(&e, buf, sizeof(buf)),
			 "IotlbSup NpCache EFRSup PPR GT IA PC SNP");
}

Test(efr, reserved_table_sizes_and_no_gt_decode_as_zero)
{
	struct efr_info e;

	/* HATS = GATS = 11b (bits 13:10 all set): reserved. PASmax without GT means nothing. */
	cr_assert_eq(efr_decode(CAP_ALL, 0x3c00ULL | 0x1f00000000ULL, 0, &e), 0);
	cr_assert_eq(e.host_levels, 0);
	cr_assert_eq(e.guest_levels, 0);
	cr_assert_eq(e.pasid_bits, 0);
	cr_assert_eq(e.guest_pgsizes, 0);
}

Test(efr, a_header_that_is_not_an_iommus_is_refused)
{
	struct efr_info e;

	/* Capability ID 05h (MSI), and an IOMMU ID with CapType 2. */
	cr_assert_eq(efr_decode(0x0b4005, 0, 0, &e), -EINVAL);
	cr_assert_eq(efr_decode(0x0a400f, 0, 0, &e), -EINVAL);
}

Test(efr, sysfs_text_as_linux_prints_it_parses)
{
	struct efr_info e;

	/* 6.1: "%x\n" and "%llx:%llx\n", EFR2 first. */
	cr_assert_eq(efr_parse_sysfs("1f0b400f\n", "5:8000008f00006652\n", &e), 0);
	cr_assert_eq(e.efr, EFR_SAMPLE);
	cr_assert_eq(e.efr2, 5);
	/* Older kernels: EFR alone. */
	cr_assert_eq(efr_parse_sysfs("1f0b400f", "8000008f00006652", &e), 0);
	cr_assert_eq(e.efr, EFR_SAMPLE);
	cr_assert_eq(e.efr2, 0);
}

Test(efr, malformed_sysfs_text_is_refused)
{
	static const char *const bad_feat[] = {
		"", "\n", "xyz", "0x5:12", "1:2:3", ":12", "12:", "12 ", "12\n\n",
		"12345678901234567", "1:12345678901234567",
	};
	struct efr_info e;

	for (size_t i = 0; i < sizeof(bad_feat) / sizeof(bad_feat[0]); i++)
		cr_expect_eq(efr_parse_sysfs("1f0b400f\n", bad_feat[i], &e), -EINVAL,
			     "features '%s' accepted", bad_feat[i]);
	cr_expect_eq(efr_parse_sysfs("", "0", &e), -EINVAL);
	cr_expect_eq(efr_parse_sysfs("11f0b400f", "0", &e), -EINVAL);	/* 33 bits */
	cr_expect_eq(efr_parse_sysfs("1f0b400g", "0", &e), -EINVAL);
}

Test(hostinfo, command_line_keeps_only_iommu_words_before_init_args)
{
	char buf[256];
	unsigned n = hostinfo_cmdline_iommu(
		"BOOT_IMAGE=/vmlinuz root=/dev/sda1 iommu=pt amd_iommu=force_isolation "
		"iommu.strict=0 iommupt=1 intel_iommu=on swiotlb=force quiet vfio_iommu_type1.x=1 "
		"-- iommu=for-init", buf, sizeof(buf));

	cr_assert_str_eq(buf, "iommu=pt amd_iommu=force_isolation iommu.strict=0 intel_iommu=on "
			      "swiotlb=force vfio_iommu_type1.x=1");
	cr_assert_eq(n, 6);
	n = hostinfo_cmdline_iommu("iommu=pt amd_iommu=on", buf, 10);
	cr_assert_str_eq(buf, "iommu=pt");
	cr_assert_eq(n, 1);
}

Test(hostinfo, bdf_must_be_full_lower_case_sysfs_form)
{
	cr_assert(hostinfo_bdf_valid("0000:00:1f.7"));
	cr_assert(hostinfo_bdf_valid("abcd:ef:00.0"));
	cr_assert(!hostinfo_bdf_valid("00:1f.7"));
	cr_assert(!hostinfo_bdf_valid("0000:00:20.0"));	/* device 20h > 1fh */
	cr_assert(!hostinfo_bdf_valid("0000:00:1f.8"));
	cr_assert(!hostinfo_bdf_valid("0000:00:1F.0"));
	cr_assert(!hostinfo_bdf_valid("0000-00:1f.0"));
	cr_assert(!hostinfo_bdf_valid(""));
}

/* ---- a machine in a folder ------------------------------------------------------ */

static char root[64];

static void put(const char *rel, const char *text)
{
	char p[512], *slash;
	FILE *f;

	snprintf(p, sizeof(p), "%s%s", root, rel);
	for (slash = strchr(p + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(p, 0755);
		*slash = '/';
	}
	f = fopen(p, "w");
	cr_assert(f, "%s", p);
	fputs(text, f);
	fclose(f);
}

static void mkdirs(const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s%s/.keep", root, rel);
	put(p + strlen(root), "");
}

static void link_to(const char *target, const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s%s", root, rel);
	cr_assert_eq(symlink(target, p), 0, "%s", p);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void machine_setup(void)
{
	snprintf(root, sizeof(root), "/tmp/iobtest-host-XXXXXX");
	cr_assert(mkdtemp(root));
	put("/proc/sys/kernel/osrelease", "6.1.0-57-amd64\n");
	put("/proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/nvme0n1p1 iommu.strict=1 quiet\n");
	put("/sys/class/iommu/ivhd0/amd-iommu/cap", "1f0b400f\n");
	put("/sys/class/iommu/ivhd0/amd-iommu/features", "0:8000008f00006652\n");
	mkdirs("/sys/class/iommu/ivhd0/devices/0000:00:04.0");
	mkdirs("/sys/class/iommu/ivhd0/devices/0000:00:05.0");
	put("/sys/kernel/iommu_groups/12/type", "DMA-FQ\n");
	mkdirs("/sys/kernel/iommu_groups/12/devices/0000:00:1f.0");
	mkdirs("/sys/kernel/iommu_groups/12/devices/0000:00:1f.2");
	put("/sys/kernel/iommu_groups/1/type", "identity\n");
	put("/sys/kernel/iommu_groups/3/type", "DMA\n");
	mkdirs("/sys/kernel/iommu_groups/3/devices/0000:00:04.0");
	put("/dev/vfio/vfio", "");
	mkdirs("/sys/module/vfio_iommu_type1");
	mkdirs("/sys/bus/event_source/devices/amd_iommu_0");
	mkdirs("/sys/bus/event_source/devices/cpu");
	put("/sys/kernel/tracing/trace", "");
	put("/sys/kernel/tracing/kprobe_events", "");
	put("/sys/kernel/tracing/available_tracers", "function_graph function nop\n");
	/* An NVMe at 00:04.0 holding / on its first partition and /data through dm-0. */
	mkdirs("/sys/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/nvme0n1p1");
	mkdirs("/sys/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/nvme0n1p2");
	mkdirs("/sys/devices/pci0000:00/0000:00:05.0");
	mkdirs("/sys/devices/virtual/block/dm-0/slaves");
	mkdirs("/sys/class/block");
	mkdirs("/sys/bus/pci/drivers/nvme");
	mkdirs("/sys/bus/pci/devices");
	link_to("../../devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/nvme0n1p1",
		"/sys/class/block/nvme0n1p1");
	link_to("../../devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/nvme0n1p2",
		"/sys/class/block/nvme0n1p2");
	link_to("../../devices/virtual/block/dm-0", "/sys/class/block/dm-0");
	link_to("../../../../../../sys/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/nvme0n1p2",
		"/sys/devices/virtual/block/dm-0/slaves/nvme0n1p2");
	link_to("../../../devices/pci0000:00/0000:00:04.0", "/sys/bus/pci/devices/0000:00:04.0");
	link_to("../../../devices/pci0000:00/0000:00:05.0", "/sys/bus/pci/devices/0000:00:05.0");
	link_to("../../../bus/pci/drivers/nvme", "/sys/devices/pci0000:00/0000:00:04.0/driver");
	link_to("../../../kernel/iommu_groups/3", "/sys/devices/pci0000:00/0000:00:04.0/iommu_group");
	link_to("../../virtual/iommu/ivhd0", "/sys/devices/pci0000:00/0000:00:04.0/iommu");
	put("/sys/devices/pci0000:00/0000:00:04.0/vendor", "0x1b36\n");
	put("/sys/devices/pci0000:00/0000:00:04.0/device", "0x0010\n");
	put("/sys/devices/pci0000:00/0000:00:04.0/class", "0x010802\n");
	put("/sys/devices/pci0000:00/0000:00:04.0/driver_override", "(null)\n");
	put("/sys/devices/pci0000:00/0000:00:05.0/driver_override", "vfio-pci\n");
	put("/proc/self/mounts", "/dev/nvme0n1p1 / ext4 rw 0 0\nproc /proc proc rw 0 0\n"
				 "/dev/dm-0 /data xfs rw 0 0\n");
}

static void machine_teardown(void)
{
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(machine, .init = machine_setup, .fini = machine_teardown);

Test(machine, scan_finds_the_iommu_groups_and_tools)
{
	struct hostinfo h;
	char err[256];

	cr_assert_eq(hostinfo_scan(root, &h, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(h.kernel, "6.1.0-57-amd64");
	cr_assert_str_eq(h.cmdline_iommu, "iommu.strict=1");
	cr_assert_eq(h.niommu, 1);
	cr_assert_str_eq(h.iommu[0].name, "ivhd0");
	cr_assert_eq(h.iommu[0].vendor, HOSTINFO_AMD);
	cr_assert(h.iommu[0].regs_ok && h.iommu[0].amd.np_cache && h.iommu[0].amd.gt);
	cr_assert_eq(h.iommu[0].ndevices, 2);
	/* Sorted by number, not by name: 1, 3, 12. */
	cr_assert_eq(h.ngroup, 3);
	cr_assert_eq(h.group[0].id, 1);
	cr_assert_str_eq(h.group[0].type, "identity");
	cr_assert_eq(h.group[0].ndevices, 0);
	cr_assert_eq(h.group[2].id, 12);
	cr_assert_str_eq(h.group[2].type, "DMA-FQ");
	cr_assert_eq(h.group[2].ndevices, 2);
	cr_assert_str_eq(h.group[2].first_device, "0000:00:1f.0");
	cr_assert(h.vfio_dev && h.vfio_type1 && !h.vfio_pci && !h.iommufd);
	cr_assert_eq(h.npmu, 1);
	cr_assert_str_eq(h.pmu[0], "amd_iommu_0");
	cr_assert_str_eq(h.tracefs, "/sys/kernel/tracing");
	cr_assert(h.kprobes && h.function_graph);
	hostinfo_free(&h);
}

Test(machine, malformed_registers_or_group_type_name_the_file)
{
	struct hostinfo h;
	char err[256];

	put("/sys/class/iommu/ivhd0/amd-iommu/features", "zz\n");
	cr_assert_eq(hostinfo_scan(root, &h, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "/sys/class/iommu/ivhd0/amd-iommu"), "%s", err);
	hostinfo_free(&h);
	put("/sys/class/iommu/ivhd0/amd-iommu/features", "0:0\n");
	put("/sys/kernel/iommu_groups/3/type", "DMA-LAZY\n");
	cr_assert_eq(hostinfo_scan(root, &h, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "/sys/kernel/iommu_groups/3/type"), "%s", err);
	hostinfo_free(&h);
}

Test(machine, scan_fails_cleanly_when_memory_runs_out)
{
	struct hostinfo h;
	int64_t live = iob_alloc_live();
	bool ok = false;

	for (long n = 0; n < 200 && !ok; n++) {
		int ret;

		iob_fail_after(n);
		ret = hostinfo_scan(root, &h, NULL, 0);
		iob_fail_after(-1);
		cr_assert(ret == 0 || ret == -ENOMEM, "n=%ld: %d", n, ret);
		ok = ret == 0;
		hostinfo_free(&h);
		cr_assert_eq(iob_alloc_live(), live, "n=%ld: leak", n);
	}
	cr_assert(ok, "never succeeded");
}

Test(machine, pci_function_with_root_and_dm_mounts_is_found_holding_them)
{
	struct hostinfo_pci p;

	cr_assert_eq(hostinfo_pci_read(root, "0000:00:04.0", &p), 0);
	cr_assert(p.exists);
	cr_assert_str_eq(p.driver, "nvme");
	cr_assert_str_eq(p.driver_override, "");
	cr_assert_eq(p.group, 3);
	cr_assert_str_eq(p.iommu, "ivhd0");
	cr_assert_eq(p.vendor_id, 0x1b36);
	cr_assert_eq(p.class_code, 0x010802);
	cr_assert(p.holds_root);
	cr_assert_str_eq(p.mounted, "/");
}

Test(machine, dm_slave_alone_still_counts_as_mounted)
{
	struct hostinfo_pci p;

	put("/proc/self/mounts", "/dev/dm-0 /data xfs rw 0 0\n");
	cr_assert_eq(hostinfo_pci_read(root, "0000:00:04.0", &p), 0);
	cr_assert(!p.holds_root);
	cr_assert_str_eq(p.mounted, "/data");
}

Test(machine, spare_function_holds_nothing_and_missing_one_does_not_exist)
{
	struct hostinfo_pci p;

	cr_assert_eq(hostinfo_pci_read(root, "0000:00:05.0", &p), 0);
	cr_assert(p.exists && !p.holds_root);
	cr_assert_str_eq(p.mounted, "");
	cr_assert_str_eq(p.driver, "");
	cr_assert_str_eq(p.driver_override, "vfio-pci");
	cr_assert_eq(p.group, -1);
	cr_assert_eq(hostinfo_pci_read(root, "0000:00:06.0", &p), 0);
	cr_assert(!p.exists);
	cr_assert_eq(hostinfo_pci_read(root, "00:06.0", &p), -EINVAL);
}

Test(machine, iob_host_info_prints_and_writes_json)
{
	struct iob_out o;
	char json[128], text[8192];
	FILE *f;
	size_t n;

	snprintf(json, sizeof(json), "%s/info.json", root);
	iob_run(&o, "host", "info", "--root", root, "--json", json);
	cr_assert_eq(o.status, 0, "%s", o.err);
	cr_assert(strstr(o.out, "ivhd0: amd IOMMU, 2 devices"), "%s", o.out);
	cr_assert(strstr(o.out, "host table: 5 levels, pages: every power of two from 4 KiB"),
		  "%s", o.out);
	cr_assert(strstr(o.out, "group 12: DMA-FQ, 2 devices (0000:00:1f.0)"), "%s", o.out);
	f = fopen(json, "r");
	cr_assert(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	cr_assert(strstr(text, "\"iommu_count\": 1"), "%s", text);
	cr_assert(strstr(text, "\"efr\": \"0x8000008f00006652\""), "%s", text);
	cr_assert(strstr(text, "\"DMA-FQ\": 1"), "%s", text);
	cr_assert(strstr(text, "\"np_cache\": true"), "%s", text);
}

Test(host_cli, bad_flags_and_roots_exit_2)
{
	struct iob_out o;

	iob_run(&o, "host", "info", "--bogus");
	cr_assert_eq(o.status, 2);
	iob_run(&o, "host", "info", "--root", "/nonexistent-iob-root");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "/nonexistent-iob-root"), "%s", o.err);
	iob_run(&o, "host", "frob");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "unknown subcommand 'frob'"), "%s", o.err);
	iob_run(&o, "host");
	cr_assert_eq(o.status, 2);
}

/* iob host reach: every malformed flag is refused before any device is touched. */
Test(host_cli, reach_refuses_bad_flags_naming_them)
{
	static const struct {
		const char *flag, *value, *says;
	} bad[] = {
		{ "--patterns", "seq,zigzag", "zigzag" },
		{ "--windows", "5000", "multiple of 4K" },
		{ "--windows", "8G", "4K to 4G" },
		{ "--page-sizes", "64K", "4K, 2M or 1G" },
		{ "--qd", "0", "--qd" },
		{ "--qd", "257", "--qd" },
		{ "--io-pages", "513", "--io-pages" },
		{ "--engine", "dsa", "auto, nvme or ptdma" },
		{ "--ios", "5", "--ios" },
		{ "--span", "1000", "multiples of 4K" },
		{ "--lba-offset", "512", "multiples of 4K" },
		{ "--nsid", "0", "--nsid" },
	};
	struct iob_out o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		iob_run(&o, "host", "reach", "--device", "0000:00:04.0", bad[i].flag, bad[i].value);
		cr_assert_eq(o.status, 2, "%s %s: %d", bad[i].flag, bad[i].value, o.status);
		cr_assert(strstr(o.err, bad[i].says), "%s %s: %s", bad[i].flag, bad[i].value, o.err);
	}
	iob_run(&o, "host", "reach");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "--device BDF is required"), "%s", o.err);
	iob_run(&o, "host", "reach", "--device", "00:04.0");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "not a PCI address"), "%s", o.err);
	iob_run(&o, "host", "reach", "--device", "0000:00:04.0", "--no-fit", "--cost-out", "/tmp/x");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "--no-fit"), "%s", o.err);
	iob_run(&o, "host", "reach", "--device", "0000:00:04.0", "extra");
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "'extra'"), "%s", o.err);
	iob_run(&o, "host", "reach", "--device", "0000:00:1f.7");
	cr_assert_eq(o.status, 2, "no such device here: %s", o.err);
}

Test(host_cli, machine_without_iommu_says_so_and_exits_0)
{
	struct iob_out o;

	if (access("/sys/class/iommu", F_OK) == 0) {
		struct hostinfo h;

		cr_assert_eq(hostinfo_scan("", &h, NULL, 0), 0);
		if (h.niommu) {
			hostinfo_free(&h);
			cr_skip_test("this machine has an IOMMU; the no-IOMMU answer is not reachable");
		}
		hostinfo_free(&h);
	}
	iob_run(&o, "host", "info");
	cr_assert_eq(o.status, 0, "%s", o.err);
	cr_assert(strstr(o.out, "no IOMMU"), "%s", o.out);
}

/* ---- tracefs and perf output ------------------------------------------------------------ */

Test(ftrace, event_lines_of_every_clock_and_flag_style_parse)
{
	struct ftrace_event ev;

	/* Linux 6.1 default: irq-info flags, a nanosecond clock printed sec.usec. */
	cr_assert_eq(ftrace_parse_line("           <...>-1234    [001] d..1.  1234.567890: "
				       "pt_map: (iommu_v1_map_pages+0x0/0x2c0)", &ev), 0);
	cr_assert_str_eq(ev.comm, "<...>");
	cr_assert_eq(ev.pid, 1234);
	cr_assert_eq(ev.cpu, 1);
	cr_assert(ev.ts_ns);
	cr_assert_eq(ev.ts, 1234567890000ULL);
	cr_assert_str_eq(ev.name, "pt_map");
	cr_assert_str_eq(ev.args, "(iommu_v1_map_pages+0x0/0x2c0)");
	/* x86-tsc: a bare counter; no flags column; a comm with a dash and a space. */
	cr_assert_eq(ftrace_parse_line(" kworker/0:1-ev x-77 [000] 98765432109: cmd: "
				       "(__iommu_queue_command_sync+0x0/0x110) c1=0x30000001\n", &ev), 0);
	cr_assert_str_eq(ev.comm, "kworker/0:1-ev x");
	cr_assert_eq(ev.pid, 77);
	cr_assert(!ev.ts_ns);
	cr_assert_eq(ev.ts, 98765432109ULL);
	cr_assert_str_eq(ev.name, "cmd");
	/* The return probe and trace_marker's event. */
	cr_assert_eq(ftrace_parse_line("iob-88 [003] ..... 5.000001: pt_map_r: (iommu_map+0x8b/0xd0 <- "
				       "iommu_v1_map_pages)", &ev), 0);
	cr_assert_eq(ev.ts, 5000001000ULL);
	cr_assert_eq(ftrace_parse_line("iob-88 [003] ..... 5.000002: tracing_mark_write: iob-mark 3",
				       &ev), 0);
	cr_assert_str_eq(ev.name, "tracing_mark_write");
	cr_assert_str_eq(ev.args, "iob-mark 3");
}

Test(ftrace, headers_lost_markers_and_garbage)
{
	struct ftrace_event ev;

	cr_assert_eq(ftrace_parse_line("# tracer: nop", &ev), 1);
	cr_assert_eq(ftrace_parse_line("", &ev), 1);
	cr_assert_eq(ftrace_parse_line("CPU:1 [LOST 4096 EVENTS]", &ev), 1);
	cr_assert_eq(ev.pid, 4096);
	cr_assert_eq(ftrace_parse_line("CPU:1 [LOST many EVENTS]", &ev), -EINVAL);
	cr_assert_eq(ftrace_parse_line("no cpu field at all: x: y", &ev), -EINVAL);
	cr_assert_eq(ftrace_parse_line("comm [001] 1.5: ev: x", &ev), -EINVAL);	/* no pid */
	cr_assert_eq(ftrace_parse_line("a-1 [001] 1.5: ev: x", &ev), -EINVAL);	/* 1-digit fraction */
	cr_assert_eq(ftrace_parse_line("a-1 [001] 1.500000 ev: x", &ev), -EINVAL);
	cr_assert_eq(ftrace_parse_line("a-1 [001] 1.500000: ev x", &ev), -EINVAL);
}

Test(ftrace, kprobe_arguments_and_function_list)
{
	uint64_t v;

	cr_assert_eq(ftrace_arg_u64("(f+0x0/0x10) c0=0x1 c1=0x30000005 n=42", "c1", &v), 0);
	cr_assert_eq(v, 0x30000005);
	cr_assert_eq(ftrace_arg_u64("(f+0x0/0x10) c0=0x1 c1=0x30000005 n=42", "n", &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(ftrace_arg_u64("(f+0x0/0x10) xc1=5", "c1", &v), -ENOENT);
	cr_assert_eq(ftrace_arg_u64("c1=zz", "c1", &v), -EINVAL);
	cr_assert_eq(ftrace_arg_u64("c1=0x1ffffffffffffffff", "c1", &v), -EINVAL);
	cr_assert(ftrace_has_function("iommu_map\nfoo [vfio_iommu_type1]\n", "foo"));
	cr_assert(ftrace_has_function("iommu_map\nfoo [vfio_iommu_type1]\n", "iommu_map"));
	cr_assert(!ftrace_has_function("iommu_map_sg\nxiommu_map\n", "iommu_map"));
	/* Found by tests/fuzz/fuzz_ftrace.c: an empty name or key looped forever. */
	cr_assert_eq(ftrace_arg_u64("c1=5", "", &v), -ENOENT);
	cr_assert(!ftrace_has_function("iommu_map\n", ""));
	{
		char f[8];

		cr_assert(!ftrace_find_function("iommu_map\n", "", f, sizeof(f)));
	}
}

Test(perfstat, csv_of_counted_multiplexed_and_missing_events)
{
	/* perf 6.1, `perf stat -x, -a -e ...`: value,unit,event,run time,running%,,. */
	const char *text =
		"# started on Fri Dec  4 12:00:00 2026\n"
		"\n"
		"123456,,amd_iommu_0/mem_iommu_tlb_pte_hit/,1000123456,100.00,,\n"
		"7890.00,,amd_iommu_0/mem_iommu_tlb_pte_mis/,500061728,50.00,,\n"
		"<not counted>,,amd_iommu_1/mem_dte_hit/,0,0.00,,\n"
		"<not supported>,,amd_iommu_1/tlb_inv/,0,100.00,,\n";
	struct perfstat_row r[8];
	char err[128];
	size_t n;

	cr_assert_eq(perfstat_parse(text, r, 8, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 4);
	cr_assert_str_eq(r[0].event, "amd_iommu_0/mem_iommu_tlb_pte_hit/");
	cr_assert(r[0].counted && r[0].supported);
	cr_assert_eq(r[0].value, 123456);
	cr_assert_eq(r[1].value, 7890);
	cr_assert_float_eq(r[1].running_pct, 50.0, 1e-9);
	cr_assert(!r[2].counted && r[2].supported);
	cr_assert(!r[3].counted && !r[3].supported);
	cr_assert_eq(perfstat_parse(text, r, 3, &n, err, sizeof(err)), -ENOSPC);
}

Test(perfstat, malformed_lines_name_their_number)
{
	struct perfstat_row r[4];
	char err[128];
	size_t n;

	cr_assert_eq(perfstat_parse("1,,ev\n", r, 4, &n, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "line 1"), "%s", err);
	cr_assert_eq(perfstat_parse("ok\n12x,,ev,1,100,,\n", r, 4, &n, err, sizeof(err)), -EINVAL);
	cr_assert_eq(perfstat_parse("# c\n12x,,ev,1,100,,\n", r, 4, &n, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "line 2"), "%s", err);
	cr_assert_eq(perfstat_parse("1,,ev,1,130,,\n", r, 4, &n, err, sizeof(err)), -EINVAL);
	cr_assert_eq(perfstat_parse("1,,,1,100,,\n", r, 4, &n, err, sizeof(err)), -EINVAL);
}

/*
 * The PMU's present path on a machine that has none: a sysfs tree with an
 * amd_iommu_0 PMU listing two of the events, and a perf that writes what
 * perf 6.1 writes for them (its -o file) after running the command.
 */
Test(machine, pmu_present_counts_the_listed_events_through_perf)
{
	char perf[256], out[256], csv[512], text[4096];
	struct iob_out o;
	FILE *f;
	size_t n;

	put("/sys/bus/event_source/devices/amd_iommu_0/events/mem_iommu_tlb_pte_hit", "csource=0x06\n");
	put("/sys/bus/event_source/devices/amd_iommu_0/events/cmd_processed_inv", "csource=0x12\n");
	snprintf(perf, sizeof(perf), "%s/perf", root);
	f = fopen(perf, "w");
	cr_assert(f);
	/* $1 stat, $2 -x, $3 -a, $4 -o, $5 FILE, $6 -e, $7 EVENTS, $8 --, then the command. */
	fprintf(f, "#!/bin/sh\n[ \"$1 $2 $3 $4 $6 $8\" = 'stat -x, -a -o -e --' ] || exit 9\n"
		   "out=$5 ev=$7\nshift 8\n\"$@\" || exit $?\n"
		   "echo \"# events $ev\" > \"$out\"\n"
		   "echo '4242,,amd_iommu_0/mem_iommu_tlb_pte_hit/,100,100.00,,' >> \"$out\"\n"
		   "echo '<not counted>,,amd_iommu_0/cmd_processed_inv/,0,0.00,,' >> \"$out\"\n");
	fclose(f);
	chmod(perf, 0755);
	snprintf(out, sizeof(out), "%s/out", root);
	iob_run(&o, "host", "pmu", "--root", root, "--perf", perf, "--out", out, "--", "true");
	cr_assert_eq(o.status, 0, "%s", o.err);
	cr_assert(strstr(o.out, "amd_iommu_0    mem_iommu_tlb_pte_hit                4242   100.0%"), "%s", o.out);
	cr_assert(strstr(o.out, "<not counted>"), "%s", o.out);
	snprintf(csv, sizeof(csv), "%s/host_pmu.csv", out);
	f = fopen(csv, "r");
	cr_assert(f, "%s", csv);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	cr_assert(strstr(text, "amd_iommu_0,mem_iommu_tlb_pte_hit,4242,100.00,1,1"), "%s", text);
	/* The command's failure is the run's. */
	iob_run(&o, "host", "pmu", "--root", root, "--perf", perf, "--", "false");
	cr_assert_eq(o.status, 1);
}

Test(machine, pmu_absent_says_so_and_exits_0)
{
	struct iob_out o;
	char p[256];

	snprintf(p, sizeof(p), "%s/sys/bus/event_source/devices/amd_iommu_0/.keep", root);
	cr_assert_eq(remove(p), 0, "%s", p);
	snprintf(p, sizeof(p), "%s/sys/bus/event_source/devices/amd_iommu_0", root);
	cr_assert_eq(remove(p), 0, "%s", p);
	iob_run(&o, "host", "pmu", "--root", root, "--", "false");
	cr_assert_eq(o.status, 0, "%s", o.err);
	cr_assert(strstr(o.out, "no AMD IOMMU PMU"), "%s", o.out);
}

Test(ftrace, compiler_clones_of_static_functions_are_found)
{
	const char *avail = "iommu_map\niommu_completion_wait.isra.0\n"
			    "domain_flush_pages.constprop.0\nvfio_unmap_unpin [vfio_iommu_type1]\n";
	char f[64];

	cr_assert(ftrace_find_function(avail, "iommu_map", f, sizeof(f)));
	cr_assert_str_eq(f, "iommu_map");
	cr_assert(ftrace_find_function(avail, "iommu_completion_wait", f, sizeof(f)));
	cr_assert_str_eq(f, "iommu_completion_wait.isra.0");
	cr_assert(ftrace_find_function(avail, "domain_flush_pages", f, sizeof(f)));
	cr_assert_str_eq(f, "domain_flush_pages.constprop.0");
	cr_assert(ftrace_find_function(avail, "vfio_unmap_unpin", f, sizeof(f)));
	cr_assert_str_eq(f, "vfio_unmap_unpin");
	cr_assert(!ftrace_find_function(avail, "flush_pages", f, sizeof(f)));
	cr_assert(!ftrace_find_function(avail, "iommu_completion_wait", f, 8));
}

/* ---- NVMe encodings, worked from the NVMe Base Specification 2.0 ----------------------- */

Test(nvme, register_values)
{
	/* CC: EN (bit 0), CSS 0 (6:4), MPS 0 (10:7), IOSQES 6 (19:16), IOCQES 4 (23:20). */
	cr_assert_eq(nvme_cc(), 0x00460001);
	/* AQA: ACQS 27:16 and ASQS 11:0, zero-based. */
	cr_assert_eq(nvme_aqa(16, 16), 0x000f000f);
	cr_assert_eq(nvme_aqa(2, 4096), 0x0fff0001);
	cr_assert_eq(nvme_aqa(1, 16), 0);
	cr_assert_eq(nvme_aqa(16, 4097), 0);
	/* Doorbells: 1000h + (2y + c) * (4 << DSTRD). */
	cr_assert_eq(nvme_doorbell(0, false, 0), 0x1000);
	cr_assert_eq(nvme_doorbell(0, true, 0), 0x1004);
	cr_assert_eq(nvme_doorbell(1, false, 0), 0x1008);
	cr_assert_eq(nvme_doorbell(1, true, 2), 0x1030);
	/* CAP 0x0000_0020_0f01_03ff: MQES 3ffh (1024 entries), TO 0fh (7.5 s), DSTRD 0, MPSMIN 0. */
	cr_assert_eq(NVME_CAP_MQES(0x000000200f0103ffULL), 1024);
	cr_assert_eq(NVME_CAP_TO_MS(0x000000200f0103ffULL), 7500);
	cr_assert_eq(NVME_CAP_DSTRD(0x000000200f0103ffULL), 0);
	cr_assert_eq(NVME_CAP_MPSMIN(0x0001000000000000ULL), 1);
}

Test(nvme, submission_entries)
{
	struct nvme_sqe e;

	/* Identify: CDW0 opcode 06h | CID 7 << 16; CNS in CDW10; PRP1 in CDW7:6. */
	nvme_sqe_identify(&e, 7, NVME_IDENTIFY_CNS_CTRL, 0, 0x1234567000ULL);
	cr_assert_eq(e.cdw[0], 0x00070006);
	cr_assert_eq(e.cdw[1], 0);
	cr_assert_eq(e.cdw[6], 0x34567000);
	cr_assert_eq(e.cdw[7], 0x12);
	cr_assert_eq(e.cdw[8] | e.cdw[9], 0);
	cr_assert_eq(e.cdw[10], 1);
	/* Create I/O CQ 1 of 64 entries: CDW10 = 63 << 16 | 1; CDW11 PC = 1, IEN = 0. */
	nvme_sqe_create_cq(&e, 1, 1, 64, 0x2000);
	cr_assert_eq(e.cdw[0], 0x00010005);
	cr_assert_eq(e.cdw[10], 0x003f0001);
	cr_assert_eq(e.cdw[11], 1);
	/* Create I/O SQ 1 on CQ 1: CDW11 = CQID 1 << 16 | PC. */
	nvme_sqe_create_sq(&e, 2, 1, 64, 0x3000, 1);
	cr_assert_eq(e.cdw[0], 0x00020001);
	cr_assert_eq(e.cdw[11], 0x00010001);
	/* Read 8 blocks from LBA 1_0000_0002h: SLBA CDW11:10, NLB zero-based in CDW12. */
	nvme_sqe_read(&e, 3, 1, 0x100000002ULL, 8, 0x5000, 0x6000);
	cr_assert_eq(e.cdw[0], 0x00030002);
	cr_assert_eq(e.cdw[1], 1);
	cr_assert_eq(e.cdw[10], 2);
	cr_assert_eq(e.cdw[11], 1);
	cr_assert_eq(e.cdw[12], 7);
	cr_assert_eq(e.cdw[8], 0x6000);
}

Test(nvme, queue_deletion_and_submission_queue_head)
{
	struct nvme_sqe e;
	/* DW2: SQ identifier 31:16, SQ head pointer 15:0. */
	struct nvme_cqe c = { { 0, 0, (1U << 16) | 0x002a, 0 } };

	/* Delete I/O SQ 3 (00h) and CQ 3 (04h): QID in CDW10 15:0, nothing else. */
	nvme_sqe_delete_q(&e, 9, NVME_ADMIN_DELETE_SQ, 3);
	cr_assert_eq(e.cdw[0], 0x00090000);
	cr_assert_eq(e.cdw[10], 3);
	cr_assert_eq(e.cdw[6] | e.cdw[7] | e.cdw[11], 0);
	nvme_sqe_delete_q(&e, 10, NVME_ADMIN_DELETE_CQ, 3);
	cr_assert_eq(e.cdw[0], 0x000a0004);
	cr_assert_eq(nvme_cqe_sqhd(&c), 42);
}

/*
 * Identify Namespace (NVMe Base 2.0, figure 280 and 281): 1 Mi blocks,
 * NLBAF 1 (two formats), FLBAS 1: format 1, LBADS 12 (4 KiB), no metadata.
 */
Test(nvme, identify_namespace_and_controller_fields)
{
	static uint8_t id[4096];
	struct nvme_ns_info ns;

	memset(id, 0, sizeof(id));
	id[2] = 0x10;			/* NSZE = 0x100000 */
	id[25] = 1;			/* NLBAF, zero-based: 2 formats */
	id[26] = 1;			/* FLBAS: format 1 */
	id[128 + 0 + 2] = 9;		/* format 0: 512 B */
	id[128 + 4 + 2] = 12;		/* format 1: 4 KiB */
	cr_assert_eq(nvme_id_ns_parse(id, &ns), 0);
	cr_assert_eq(ns.nsze, 0x100000);
	cr_assert_eq(ns.lba_bytes, 4096);
	cr_assert_eq(ns.ms, 0);
	cr_assert(!ns.extended);
	/* Format 0 with 8 bytes of metadata interleaved (FLBAS bit 4). */
	id[26] = 0x10;
	id[128] = 8;
	cr_assert_eq(nvme_id_ns_parse(id, &ns), 0);
	cr_assert_eq(ns.lba_bytes, 512);
	cr_assert_eq(ns.ms, 8);
	cr_assert(ns.extended);
	/* A format beyond NLBAF, a nonsense LBADS, an inactive namespace. */
	id[26] = 2;
	cr_assert_eq(nvme_id_ns_parse(id, &ns), -EINVAL);
	id[26] = 0;
	id[128 + 2] = 20;
	cr_assert_eq(nvme_id_ns_parse(id, &ns), -EINVAL);
	memset(id, 0, 8);
	cr_assert_eq(nvme_id_ns_parse(id, &ns), -ENODEV);
	/* Identify Controller MDTS (byte 77): 2^5 minimum pages = 128 KiB; 0 = no limit. */
	memset(id, 0, sizeof(id));
	cr_assert_eq(nvme_id_ctrl_mdts(id), 0);
	id[77] = 5;
	cr_assert_eq(nvme_id_ctrl_mdts(id), 128 * 1024);
}

Test(nvme, prp_entries_and_lists)
{
	uint64_t pages[600], list[512], p1, p2;

	for (int i = 0; i < 600; i++)
		pages[i] = 0x100000ULL + (uint64_t)i * 0x2000;	/* scattered pages */
	/* One page: PRP2 unused. */
	cr_assert_eq(nvme_prp(0x1000, 4096, pages, 0, list, 512, 0x9000, &p1, &p2), 0);
	cr_assert_eq(p1, 0x1000);
	cr_assert_eq(p2, 0);
	/* 4 KiB from 0x1800 crosses into a second page: PRP2 is that page. */
	cr_assert_eq(nvme_prp(0x1800, 4096, pages, 1, list, 512, 0x9000, &p1, &p2), 0);
	cr_assert_eq(p1, 0x1800);
	cr_assert_eq(p2, pages[0]);
	/* 12 KiB from a page start: PRP1 + two more pages -> a list at PRP2. */
	cr_assert_eq(nvme_prp(0x1000, 12288, pages, 2, list, 512, 0x9000, &p1, &p2), 0);
	cr_assert_eq(p2, 0x9000);
	cr_assert_eq(list[0], pages[0]);
	cr_assert_eq(list[1], pages[1]);
	/* Wrong page counts, unaligned pages, nothing to move, a list over one page. */
	cr_assert_eq(nvme_prp(0x1000, 12288, pages, 1, list, 512, 0x9000, &p1, &p2), -EINVAL);
	cr_assert_eq(nvme_prp(0x1000, 0, pages, 0, list, 512, 0x9000, &p1, &p2), -EINVAL);
	pages[0] |= 0x10;
	cr_assert_eq(nvme_prp(0x1800, 4096, pages, 1, list, 512, 0x9000, &p1, &p2), -EINVAL);
	pages[0] &= ~0x10ULL;
	cr_assert_eq(nvme_prp(0x1000, 514ULL * 4096, pages, 513, list, 512, 0x9000, &p1, &p2),
		     -E2BIG);
}

Test(nvme, completion_entry_fields)
{
	/* DW3: status 31:17, phase tag 16, CID 15:0. Status 0002h (invalid field). */
	struct nvme_cqe c = { { 0, 0, 0, (2U << 17) | (1U << 16) | 0x0042 } };

	cr_assert_eq(nvme_cqe_phase(&c), 1);
	cr_assert_eq(nvme_cqe_status(&c), 2);
	cr_assert_eq(nvme_cqe_cid(&c), 0x42);
}

/* ---- the model of Linux's VFIO path ------------------------------------------------------ */

#define AMD_PGSIZES	0xffffff7ffffff000ULL	/* AMD v1: every power of two but 512 GiB */
#define X86_PGSIZES	((1ULL << 12) | (1ULL << 21) | (1ULL << 30))

Test(vfiomodel, iommu_pages_follow_both_alignments)
{
	struct vfiomodel_run r = { 0x100000000ULL, 16 << 20, 0x200000000ULL };

	/* Both 16 MiB aligned: one 16 MiB page. */
	cr_assert_eq(vfiomodel_pages(&r, AMD_PGSIZES), 1);
	/* Physical start one page off: only 4 KiB fits both. */
	r.pa = 0x200001000ULL;
	cr_assert_eq(vfiomodel_pages(&r, AMD_PGSIZES), 4096);
	/* Two pages off: 8 KiB pages. */
	r.pa = 0x200002000ULL;
	cr_assert_eq(vfiomodel_pages(&r, AMD_PGSIZES), 2048);
	/* 4K/2M/1G only, both aligned: eight 2 MiB pages. */
	r.pa = 0x200000000ULL;
	cr_assert_eq(vfiomodel_pages(&r, X86_PGSIZES), 8);
	/* 12 KiB at 0x1000: 4K, then 8K (0x2000 aligned). */
	r = (struct vfiomodel_run){ 0x1000, 0x3000, 0x5001000ULL };
	cr_assert_eq(vfiomodel_pages(&r, AMD_PGSIZES), 2);
	r.len = 0x1234;
	cr_assert_eq(vfiomodel_pages(&r, AMD_PGSIZES), 0);
}

Test(vfiomodel, map_flushes_each_run_only_with_np_cache)
{
	/* Runs [0x1000, 0x4000) and [0x4000, 0x5000): aligned blocks 4K + 8K, then 4K. */
	struct vfiomodel_run r[2] = { { 0x1000, 0x3000, 0x10000 }, { 0x4000, 0x1000, 0x90000 } };
	struct vfiomodel_counts c;

	cr_assert_eq(vfiomodel_map(r, 2, true, &c), 0);
	cr_assert_eq(c.inv_pages, 3);
	cr_assert_eq(c.completion_waits, 2);
	cr_assert_eq(vfiomodel_map(r, 2, false, &c), 0);
	cr_assert_eq(c.inv_pages + c.completion_waits, 0);
	r[1].len = 0x800;
	cr_assert_eq(vfiomodel_map(r, 2, true, &c), -EINVAL);
	cr_assert_eq(vfiomodel_map(r, 0, true, &c), -EINVAL);
}

Test(vfiomodel, unmap_syncs_every_512_chunks)
{
	/*
	 * 600 pages at 4 GiB whose physical start is one page off: with AMD's
	 * sizes VFIO unmaps 600 4K chunks, syncing after 512 ([4G, 4G+2M): one
	 * aligned block) and at the end (88 pages = 64 + 16 + 8: three blocks).
	 */
	struct vfiomodel_run r = { 0x100000000ULL, 600 * 4096ULL, 0x300001000ULL };
	struct vfiomodel_counts c;

	cr_assert_eq(vfiomodel_unmap(&r, 1, true, AMD_PGSIZES, &c), 0);
	cr_assert_eq(c.completion_waits, 2);
	cr_assert_eq(c.inv_pages, 4);
	/* No NpCache: one command per sync, for the aligned range covering it. */
	cr_assert_eq(vfiomodel_unmap(&r, 1, false, AMD_PGSIZES, &c), 0);
	cr_assert_eq(c.completion_waits, 2);
	cr_assert_eq(c.inv_pages, 2);
	/* Without 8K pages VFIO unmaps the run whole: one chunk, one sync. */
	cr_assert_eq(vfiomodel_unmap(&r, 1, true, X86_PGSIZES, &c), 0);
	cr_assert_eq(c.completion_waits, 1);
	/* Aligned physically: one 2 MiB page and smaller ones, a few chunks, one sync. */
	r.pa = 0x300000000ULL;
	cr_assert_eq(vfiomodel_unmap(&r, 1, true, AMD_PGSIZES, &c), 0);
	cr_assert_eq(c.completion_waits, 1);
}

Test(vfiomodel, unmap_refuses_gaps_and_bad_bitmaps)
{
	struct vfiomodel_run r[2] = { { 0x1000, 0x1000, 0x1000 }, { 0x3000, 0x1000, 0x5000 } };
	struct vfiomodel_counts c;

	cr_assert_eq(vfiomodel_unmap(r, 2, true, AMD_PGSIZES, &c), -EINVAL);
	r[1].iova = 0x2000;
	cr_assert_eq(vfiomodel_unmap(r, 2, true, AMD_PGSIZES, &c), 0);
	cr_assert_eq(vfiomodel_unmap(r, 2, true, 1ULL << 21, &c), -EINVAL);
}

/*
 * Three windows worked by hand (model costs at their defaults: cmd_ns 60,
 * inv_pages_ns 120): flush per INVALIDATE_IOMMU_PAGES 1000, 1200, 1100 ns
 * -> doorbell_ns is the median, 1100. Completion wait of the fastest unmap
 * window (one invalidation per sync): 3000 - 1100 - 60 x 2 - 120 = 1660.
 */
Test(machine, calibrate_fits_doorbell_and_completion_wait_and_compares)
{
	char dir[256], csv[512], conf[512], text[8192];
	struct iob_out o;
	FILE *f;
	size_t n;

	snprintf(dir, sizeof(dir), "%s/run", root);
	mkdir(dir, 0755);
	snprintf(csv, sizeof(csv), "%s/host_vfio.csv", dir);
	f = fopen(csv, "w");
	cr_assert(f);
	fputs("# schema_version=1\n"
	      "backend,op,page_size_bytes,pages_per_call,pattern,calls_per_round,rounds,"
	      "inv_pages_cmds_per_call,completion_waits_per_call,model_inv_pages_per_call,"
	      "model_completion_waits_per_call,flush_phase_ns_per_call,completion_wait_phase_mean_ns\n"
	      "type1,unmap,4096,1,contig,1,10,1,1,1,1,1000,3000\n"
	      "type1,map,4096,1,contig,1,10,1,1,1,1,1200,2800\n"
	      "type1,unmap,2097152,1,contig,1,10,1,1,2,1,1100,3500\n", f);
	fclose(f);
	iob_run(&o, "host", "calibrate", dir);
	cr_assert_eq(o.status, 0, "%s", o.err);
	cr_assert(strstr(o.out, "doorbell_ns 1100 (median of 3 flush windows), completion_wait_ns 1660"),
		  "%s", o.out);
	cr_assert(strstr(o.out, "agrees with the kernel in 2 of 3 windows"), "%s", o.out);
	snprintf(conf, sizeof(conf), "%s/host_cost.conf", dir);
	f = fopen(conf, "r");
	cr_assert(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	cr_assert(strstr(text, "completion_wait_ns   = 1660.0"), "%s", text);
	cr_assert(strstr(text, "doorbell_ns          = 1100.0"), "%s", text);
	/* The file is a cost file iob accepts. */
	iob_run(&o, "micro", "cmdq", "--cost", conf, "--batches", "1", "--rounds", "10", "--modes", "inline");
	cr_assert_eq(o.status, 0, "%s", o.err);
	/* Missing folder, a file without the columns: bad input. */
	iob_run(&o, "host", "calibrate", "/nonexistent-iob-run");
	cr_assert_eq(o.status, 2);
	f = fopen(csv, "w");
	fputs("a,b\n1,2\n", f);
	fclose(f);
	iob_run(&o, "host", "calibrate", dir);
	cr_assert_eq(o.status, 2);
	cr_assert(strstr(o.err, "no column"), "%s", o.err);
}

/* ---- the AMD IOMMU PMU's events, from sysfs (Linux's drivers/perf/amd/iommu.c layout) ---- */

static void amd_pmu_tree(void)
{
	put("/sys/bus/event_source/devices/amd_iommu_0/type", "11\n");
	put("/sys/bus/event_source/devices/amd_iommu_0/format/csource", "config:0-7\n");
	put("/sys/bus/event_source/devices/amd_iommu_0/format/devid", "config:8-23\n");
	put("/sys/bus/event_source/devices/amd_iommu_0/format/domid", "config:24-39\n");
	put("/sys/bus/event_source/devices/amd_iommu_0/format/devid_mask", "config1:0-15\n");
	put("/sys/bus/event_source/devices/amd_iommu_0/events/mem_iommu_tlb_pte_mis",
	    "csource=0x06\n");
	put("/sys/bus/event_source/devices/amd_iommu_0/events/odd", "csource=0x1ff\n");
	put("/sys/bus/event_source/devices/amd_iommu_0/events/bad", "csource=zz\n");
	put("/sys/bus/event_source/devices/amd_iommu_0/format/split", "config2:0-3,8-11\n");
	put("/sys/bus/event_source/devices/amd_iommu_0/format/broken", "config9:0\n");
}

Test(machine, pmu_event_encodes_the_event_and_a_device_filter_into_its_config_words)
{
	struct pmuev_term t[] = { { "devid", 0x0418 }, { "devid_mask", 0xffff }, { "split", 0xa5 } };
	struct pmuev ev;
	char err[512];

	amd_pmu_tree();
	cr_assert_eq(pmuev_resolve(root, "amd_iommu_0", "mem_iommu_tlb_pte_mis", t, 3, &ev, err,
				   sizeof(err)), 0, "%s", err);
	cr_assert_eq(ev.type, 11);
	cr_assert_eq(ev.config, 0x041806ULL, "csource 6, devid 04:03.0 at bits 8-23: 0x%llx",
		     (unsigned long long)ev.config);
	cr_assert_eq(ev.config1, 0xffffULL);
	cr_assert_eq(ev.config2, 0xa05ULL, "low nibble to bits 0-3, high to 8-11");
}

Test(machine, pmu_event_refuses_what_sysfs_does_not_describe)
{
	struct pmuev_term wide = { "devid", 0x10000 }, nope = { "nope", 1 },
			  broken = { "broken", 1 };
	struct pmuev ev;
	char err[512];

	amd_pmu_tree();
	cr_assert_eq(pmuev_resolve(root, "amd_iommu_7", "mem_iommu_tlb_pte_mis", NULL, 0, &ev, err,
				   sizeof(err)), -ENOENT);
	cr_assert_eq(pmuev_resolve(root, "amd_iommu_0", "no_such_event", NULL, 0, &ev, err,
				   sizeof(err)), -ENOENT);
	cr_assert(strstr(err, "no_such_event"), "%s", err);
	cr_assert_eq(pmuev_resolve(root, "amd_iommu_0", "odd", NULL, 0, &ev, err, sizeof(err)),
		     -EINVAL, "0x1ff does not fit csource's 8 bits");
	cr_assert_eq(pmuev_resolve(root, "amd_iommu_0", "bad", NULL, 0, &ev, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "zz"), "%s", err);
	cr_assert_eq(pmuev_resolve(root, "amd_iommu_0", "mem_iommu_tlb_pte_mis", &wide, 1, &ev, err,
				   sizeof(err)), -EINVAL, "devid has 16 bits");
	cr_assert_eq(pmuev_resolve(root, "amd_iommu_0", "mem_iommu_tlb_pte_mis", &nope, 1, &ev, err,
				   sizeof(err)), -ENOENT);
	cr_assert_eq(pmuev_resolve(root, "amd_iommu_0", "mem_iommu_tlb_pte_mis", &broken, 1, &ev,
				   err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "config9"), "%s", err);
}
