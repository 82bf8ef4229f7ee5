// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob host's sysfs and procfs readers: hostinfo_scan(), hostinfo_pci_read()
 * and pmuev_resolve() on a copy of / whose files hold the input. The input
 * is the files' contents separated by NUL bytes, in the order of files[].
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iob/hostinfo.h>
#include <iob/pmuev.h>

#include "fuzz.h"

#define PMU "/sys/bus/event_source/devices/amd_iommu_0"
#define BDF "0000:00:01.0"

static const char *const files[] = {
	PMU "/type",
	PMU "/events/mem_iommu_tlb_pte_hit",
	PMU "/format/csource",
	PMU "/format/devid",
	PMU "/format/domid",
	"/proc/cmdline",
	"/proc/sys/kernel/osrelease",
	"/sys/class/iommu/ivhd0/amd-iommu/cap",
	"/sys/class/iommu/ivhd0/amd-iommu/features",
	"/sys/kernel/iommu_groups/7/type",
	"/sys/bus/pci/devices/" BDF "/vendor",
	"/sys/bus/pci/devices/" BDF "/class",
	"/sys/bus/pci/devices/" BDF "/driver_override",
};
#define NFILES (sizeof(files) / sizeof(files[0]))

static char root[128];

static void mkdirs(const char *path)
{
	char p[512];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0700);
			*s = '/';
		}
}

static void put(const char *rel, const uint8_t *data, size_t n)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		mkdirs(path);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	}
	fuzz_check(fd >= 0, "%s: %s", path, strerror(errno));
	fuzz_check(write(fd, data, n) == (ssize_t)n, "%s: short write", path);
	close(fd);
}

static void tree(void)
{
	char p[512];

	if (root[0])
		return;
	snprintf(root, sizeof(root), "%s", fuzz_tmpdir("sysfs"));
	put("/sys/kernel/iommu_groups/7/devices/" BDF, NULL, 0);
	put("/sys/class/iommu/ivhd0/devices/" BDF, NULL, 0);
	snprintf(p, sizeof(p), "%s/sys/bus/pci/devices/" BDF "/iommu_group", root);
	mkdirs(p);
	symlink("../../../../kernel/iommu_groups/7", p);
}

int fuzz_sysfs(const uint8_t *data, size_t size)
{
	static const struct pmuev_term terms[] = { { "devid", 0x0300 }, { "domid", 0xffff } };
	const uint8_t *p = data, *end = data + size;
	struct hostinfo h;
	struct hostinfo_pci pci;
	struct pmuev ev;
	char err[512], buf[512];

	tree();
	for (size_t i = 0; i < NFILES; i++) {
		const uint8_t *z = p < end ? memchr(p, 0, (size_t)(end - p)) : NULL;
		size_t n = p < end ? (size_t)((z ? z : end) - p) : 0;

		put(files[i], p, n);
		p = p + n + (z != NULL);
	}
	if (!hostinfo_scan(root, &h, err, sizeof(err)))
		fuzz_check(h.niommu <= 1 && h.ngroup <= 1, "%zu iommus, %zu groups", h.niommu,
			   h.ngroup);
	hostinfo_free(&h);
	hostinfo_pci_read(root, BDF, &pci);
	pmuev_resolve(root, "amd_iommu_0", "mem_iommu_tlb_pte_hit", terms, 2, &ev, err,
		      sizeof(err));
	{
		char *s = fuzz_str(data, size);

		hostinfo_cmdline_iommu(s, buf, sizeof(buf));
		hostinfo_cmdline_iommu(s, buf, 4);
		free(s);
	}
	return 0;
}

FUZZ_MAIN(fuzz_sysfs)
