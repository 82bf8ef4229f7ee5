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
#include <iob/hostinfo.h>

#include "iobrun.h"

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
