/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hostinfo: what the running Linux kernel says about its IOMMUs and the
 * tools that can measure them, read from sysfs, procfs, devtmpfs and
 * tracefs under a root directory ("" or "/" for the machine itself; a
 * folder holding a copy of those trees for tests).
 *
 *  - IOMMUs: /sys/class/iommu/<name>; AMD ones have amd-iommu/cap and
 *    amd-iommu/features (decoded with efr.h), Intel ones intel-iommu/cap
 *    and intel-iommu/ecap (kept raw).
 *  - IOMMU groups: /sys/kernel/iommu_groups/<n>/type (the default
 *    domain's type: DMA, DMA-FQ, identity, blocked, unmanaged, unknown)
 *    and devices/.
 *  - The kernel: /proc/sys/kernel/osrelease, and the words of
 *    /proc/cmdline that choose IOMMU behaviour.
 *  - VFIO (/dev/vfio/vfio, the vfio_iommu_type1 and vfio_pci modules in
 *    /sys/module), iommufd (/dev/iommu), the AMD IOMMU PMU
 *    (/sys/bus/event_source/devices/amd_iommu_*), tracefs
 *    (/sys/kernel/tracing or /sys/kernel/debug/tracing) with kprobe_events
 *    and the function_graph tracer.
 *
 * Reading only; nothing here changes the system, prints or exits. A file
 * that is absent is an answer ("no"), not an error.
 */
#ifndef IOB_HOSTINFO_H
#define IOB_HOSTINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <iob/efr.h>

enum hostinfo_vendor {
	HOSTINFO_AMD,
	HOSTINFO_INTEL,
	HOSTINFO_OTHER,
	HOSTINFO_VENDOR_NR
};

struct hostinfo_iommu {
	char name[64];			/* ivhd0, dmar0, ... */
	enum hostinfo_vendor vendor;
	bool regs_ok;			/* AMD: cap and features read and decoded */
	struct efr_info amd;
	uint64_t intel_cap, intel_ecap;	/* Intel: raw registers */
	unsigned ndevices;		/* entries of devices/ */
};

struct hostinfo_group {
	unsigned id;
	char type[16];			/* as the kernel prints it */
	unsigned ndevices;
	char first_device[16];		/* a PCI address, for messages */
};

#define HOSTINFO_PMU_MAX	16

struct hostinfo {
	char kernel[128];		/* osrelease, "" if unreadable */
	char cmdline_iommu[512];	/* iommu*, amd_iommu*, intel_iommu*, swiotlb* words */
	size_t niommu;
	struct hostinfo_iommu *iommu;
	size_t ngroup;
	struct hostinfo_group *group;	/* sorted by id */
	bool vfio_dev, vfio_type1, vfio_pci, iommufd;
	unsigned npmu;
	char pmu[HOSTINFO_PMU_MAX][32];	/* amd_iommu_0, ... */
	char tracefs[64];		/* its path under the root, "" if none */
	bool kprobes;			/* kprobe_events exists */
	bool function_graph;		/* in available_tracers */
};

/**
 * hostinfo_scan() - Read what the machine under @root says.
 * @root: "" or "/" for this machine, else a directory standing for "/"
 * @out:  filled; free with hostinfo_free() (also after an error)
 *
 * Return: 0; -ENOMEM; -EINVAL when an IOMMU's registers or a group's type
 * are there but malformed (@err names the file and the problem, and @out
 * holds what was read before).
 */
int hostinfo_scan(const char *root, struct hostinfo *out, char *err, size_t errlen);

/**
 * hostinfo_free() - Free what hostinfo_scan() allocated (idempotent).
 * @h: the scan
 */
void hostinfo_free(struct hostinfo *h);

/**
 * hostinfo_cmdline_iommu() - The IOMMU-related words of a kernel command
 * line: those starting iommu, amd_iommu, intel_iommu, iommufd, swiotlb,
 * vfio, or equal to intremap=..., space-separated in their order.
 * @cmdline: the whole command line
 * @buf:     output, always NUL-terminated (words that do not fit are left out)
 * @len:     its size
 *
 * Return: the number of words kept.
 */
unsigned hostinfo_cmdline_iommu(const char *cmdline, char *buf, size_t len);

/**
 * hostinfo_vendor_name() - "amd", "intel" or "other".
 * @v: the vendor
 *
 * Return: a static string.
 */
const char *hostinfo_vendor_name(enum hostinfo_vendor v);

/* ---- one PCI function ------------------------------------------------------------ */

/**
 * hostinfo_bdf_valid() - Is @bdf a full PCI address, DDDD:BB:DD.F, in
 * lower-case hex as sysfs names it?
 * @bdf: the address
 *
 * Return: true or false.
 */
bool hostinfo_bdf_valid(const char *bdf);

struct hostinfo_pci {
	bool exists;			/* /sys/bus/pci/devices/<bdf> */
	char driver[64];		/* bound driver, "" if none */
	char driver_override[64];	/* "" if unset */
	int group;			/* IOMMU group, -1 if none */
	char iommu[64];			/* the IOMMU it sits behind (ivhd0), "" if none */
	uint32_t vendor_id, device_id, class_code;
	bool holds_root;		/* a block device of the root filesystem is below it */
	char mounted[256];		/* "" or the first mount point found on its block devices */
};

/**
 * hostinfo_pci_read() - What sysfs says of one PCI function, and whether a
 * mounted filesystem (the root one in particular) lives on a block device
 * behind it. Block devices are followed through holders/slaves (dm, md),
 * partitions through their disk.
 * @root: as for hostinfo_scan()
 * @bdf:  DDDD:BB:DD.F
 * @out:  filled (exists false when there is no such function)
 *
 * Return: 0; -EINVAL for a malformed @bdf; -ENOMEM.
 */
int hostinfo_pci_read(const char *root, const char *bdf, struct hostinfo_pci *out);

#endif /* IOB_HOSTINFO_H */
