// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A user-space VFIO client: just enough to map and unmap memory for a
 * device through the kernel's IOMMU driver, type1 or iommufd.
 *
 * Type1 follows Documentation/driver-api/vfio.rst (container, group,
 * SET_IOMMU, MAP_DMA/UNMAP_DMA). iommufd follows
 * Documentation/userspace-api/iommufd.rst and the VFIO device cdev
 * interface of Linux 6.6 (BIND_IOMMUFD, ATTACH_IOMMUFD_PT). Debian 12's
 * headers (Linux 6.1) have no iommufd.h, so the few iommufd structures
 * and ioctl numbers used are written out below from the kernel's uapi
 * (include/uapi/linux/iommufd.h and vfio.h, stable ABI).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "host.h"

/* ---- iommufd uapi (Linux 6.2+; cdev attach 6.6+) -------------------------------------- */

#define IOB_IOMMUFD_TYPE		';'
#define IOB_IOMMU_DESTROY		_IO(IOB_IOMMUFD_TYPE, 0x80)
#define IOB_IOMMU_IOAS_ALLOC		_IO(IOB_IOMMUFD_TYPE, 0x81)
#define IOB_IOMMU_IOAS_MAP		_IO(IOB_IOMMUFD_TYPE, 0x85)
#define IOB_IOMMU_IOAS_UNMAP		_IO(IOB_IOMMUFD_TYPE, 0x86)
#define IOB_IOMMU_IOAS_MAP_FIXED_IOVA	(1U << 0)
#define IOB_IOMMU_IOAS_MAP_WRITEABLE	(1U << 1)
#define IOB_IOMMU_IOAS_MAP_READABLE	(1U << 2)
#define IOB_VFIO_DEVICE_BIND_IOMMUFD	_IO(VFIO_TYPE, VFIO_BASE + 18)
#define IOB_VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 19)

struct iob_iommu_destroy {
	uint32_t size;
	uint32_t id;
};

struct iob_iommu_ioas_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t out_ioas_id;
};

struct iob_iommu_ioas_map {
	uint32_t size;
	uint32_t flags;
	uint32_t ioas_id;
	uint32_t reserved;
	uint64_t user_va;
	uint64_t length;
	uint64_t iova;
};

struct iob_iommu_ioas_unmap {
	uint32_t size;
	uint32_t ioas_id;
	uint64_t iova;
	uint64_t length;
};

struct iob_vfio_device_bind_iommufd {
	uint32_t argsz;
	uint32_t flags;
	int32_t iommufd;
	uint32_t out_devid;
};

struct iob_vfio_device_attach_iommufd_pt {
	uint32_t argsz;
	uint32_t flags;
	uint32_t pt_id;
};

const char *vfioc_backend_name(enum vfioc_backend b)
{
	return b == VFIOC_IOMMUFD ? "iommufd" : "type1";
}

static int fail(char *err, size_t len, int ret, const char *fmt, const char *arg)
{
	char what[256];

	snprintf(what, sizeof(what), fmt, arg);
	snprintf(err, len, "%s: %s", what, strerror(-ret));
	return ret;
}

static int open_type1(const char *bdf, int group, struct vfioc *v, char *err, size_t len)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	char path[64];
	int type;

	v->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (v->container < 0)
		return fail(err, len, -errno, "%s", "/dev/vfio/vfio (is the vfio module loaded?)");
	if (ioctl(v->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		return fail(err, len, -EPROTO, "%s", "VFIO_GET_API_VERSION");
	type = ioctl(v->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0 ? VFIO_TYPE1v2_IOMMU :
	       ioctl(v->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) > 0 ? VFIO_TYPE1_IOMMU : -1;
	if (type < 0)
		return fail(err, len, -ENOENT, "%s",
			    "no type1 IOMMU backend (load vfio_iommu_type1 before vfio-pci)");
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	v->group = open(path, O_RDWR | O_CLOEXEC);
	if (v->group < 0)
		return fail(err, len, -errno, "%s (is the device bound to vfio-pci?)", path);
	if (ioctl(v->group, VFIO_GROUP_GET_STATUS, &st))
		return fail(err, len, -errno, "%s: VFIO_GROUP_GET_STATUS", path);
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE))
		return fail(err, len, -EBUSY,
			    "%s: group not viable (every device in it must be bound to vfio-pci or to nothing)",
			    path);
	if (ioctl(v->group, VFIO_GROUP_SET_CONTAINER, &v->container))
		return fail(err, len, -errno, "%s: VFIO_GROUP_SET_CONTAINER", path);
	if (ioctl(v->container, VFIO_SET_IOMMU, type))
		return fail(err, len, -errno, "%s", "VFIO_SET_IOMMU (interrupt remapping off? "
			    "see vfio_iommu_type1 allow_unsafe_interrupts)");
	if (!ioctl(v->container, VFIO_IOMMU_GET_INFO, &info) && (info.flags & VFIO_IOMMU_INFO_PGSIZES))
		v->pgsizes = info.iova_pgsizes;
	v->device = ioctl(v->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (v->device < 0)
		return fail(err, len, -errno, "%s: VFIO_GROUP_GET_DEVICE_FD", bdf);
	return 0;
}

/* The device's cdev: /sys/bus/pci/devices/<bdf>/vfio-dev/vfioN -> /dev/vfio/devices/vfioN. */
static int open_cdev(const char *bdf, char *err, size_t len)
{
	char p[128];
	struct dirent *de;
	DIR *d;
	int fd = -ENOENT;

	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	d = opendir(p);
	if (!d)
		return fail(err, len, -ENOENT, "%s (no VFIO device cdev: Linux 6.6+ with "
			    "CONFIG_VFIO_DEVICE_CDEV)", p);
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "vfio", 4)) {
			snprintf(p, sizeof(p), "/dev/vfio/devices/%.32s", de->d_name);
			fd = open(p, O_RDWR | O_CLOEXEC);
			if (fd < 0)
				fd = fail(err, len, -errno, "%s", p);
			break;
		}
	closedir(d);
	if (fd == -ENOENT)
		snprintf(err, len, "%s: no vfioN entry under vfio-dev", bdf);
	return fd;
}

static int open_iommufd(const char *bdf, struct vfioc *v, char *err, size_t len)
{
	struct iob_iommu_ioas_alloc ia = { .size = sizeof(ia) };
	struct iob_vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct iob_vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at) };

	v->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (v->iommufd < 0)
		return fail(err, len, -errno, "%s", "/dev/iommu (no iommufd: Linux 6.2+)");
	if (ioctl(v->iommufd, IOB_IOMMU_IOAS_ALLOC, &ia))
		return fail(err, len, -errno, "%s", "IOMMU_IOAS_ALLOC");
	v->ioas = ia.out_ioas_id;
	v->device = open_cdev(bdf, err, len);
	if (v->device < 0)
		return v->device;
	bind.iommufd = v->iommufd;
	if (ioctl(v->device, IOB_VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return fail(err, len, -errno, "%s: VFIO_DEVICE_BIND_IOMMUFD", bdf);
	v->devid = bind.out_devid;
	at.pt_id = v->ioas;
	if (ioctl(v->device, IOB_VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at))
		return fail(err, len, -errno, "%s: VFIO_DEVICE_ATTACH_IOMMUFD_PT", bdf);
	return 0;
}

int vfioc_open(const char *bdf, int group, enum vfioc_backend backend, struct vfioc *v,
	       char *err, size_t errlen)
{
	int ret;

	memset(v, 0, sizeof(*v));
	v->container = v->group = v->device = v->iommufd = -1;
	v->backend = backend;
	snprintf(v->bdf, sizeof(v->bdf), "%.15s", bdf);
	ret = backend == VFIOC_IOMMUFD ? open_iommufd(bdf, v, err, errlen) :
					 open_type1(bdf, group, v, err, errlen);
	if (ret)
		vfioc_close(v);
	return ret;
}

int vfioc_map(struct vfioc *v, void *va, uint64_t iova, uint64_t len)
{
	if (v->backend == VFIOC_IOMMUFD) {
		struct iob_iommu_ioas_map m = {
			.size = sizeof(m),
			.flags = IOB_IOMMU_IOAS_MAP_FIXED_IOVA | IOB_IOMMU_IOAS_MAP_READABLE |
				 IOB_IOMMU_IOAS_MAP_WRITEABLE,
			.ioas_id = v->ioas, .user_va = (uintptr_t)va, .length = len, .iova = iova,
		};

		return ioctl(v->iommufd, IOB_IOMMU_IOAS_MAP, &m) ? -errno : 0;
	} else {
		struct vfio_iommu_type1_dma_map m = {
			.argsz = sizeof(m),
			.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
			.vaddr = (uintptr_t)va, .iova = iova, .size = len,
		};

		return ioctl(v->container, VFIO_IOMMU_MAP_DMA, &m) ? -errno : 0;
	}
}

int vfioc_unmap(struct vfioc *v, uint64_t iova, uint64_t len, uint64_t *done)
{
	if (v->backend == VFIOC_IOMMUFD) {
		struct iob_iommu_ioas_unmap u = {
			.size = sizeof(u), .ioas_id = v->ioas, .iova = iova, .length = len,
		};

		if (ioctl(v->iommufd, IOB_IOMMU_IOAS_UNMAP, &u))
			return -errno;
		if (done)
			*done = u.length;
	} else {
		struct vfio_iommu_type1_dma_unmap u = {
			.argsz = sizeof(u), .iova = iova, .size = len,
		};

		if (ioctl(v->container, VFIO_IOMMU_UNMAP_DMA, &u))
			return -errno;
		if (done)
			*done = u.size;
	}
	return 0;
}

static int region(struct vfioc *v, unsigned index, struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	return ioctl(v->device, VFIO_DEVICE_GET_REGION_INFO, ri) ? -errno : 0;
}

int vfioc_bar_map(struct vfioc *v, unsigned bar)
{
	struct vfio_region_info ri;
	void *p;
	int ret;

	if (bar > VFIO_PCI_BAR5_REGION_INDEX)
		return -EINVAL;
	if (v->bar[bar])
		return 0;
	ret = region(v, VFIO_PCI_BAR0_REGION_INDEX + bar, &ri);
	if (ret)
		return ret;
	if (!(ri.flags & VFIO_REGION_INFO_FLAG_MMAP) || !ri.size)
		return -ENOTSUP;
	p = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, v->device, (off_t)ri.offset);
	if (p == MAP_FAILED)
		return -errno;
	v->bar[bar] = p;
	v->bar_len[bar] = ri.size;
	if (bar == 0) {
		v->bar0 = p;
		v->bar0_len = ri.size;
	}
	return 0;
}

int vfioc_bar0_map(struct vfioc *v)
{
	return vfioc_bar_map(v, 0);
}

static int config_rw(struct vfioc *v, unsigned off, void *buf, size_t len, bool write)
{
	struct vfio_region_info ri;
	ssize_t n;
	int ret = region(v, VFIO_PCI_CONFIG_REGION_INDEX, &ri);

	if (ret)
		return ret;
	n = write ? pwrite(v->device, buf, len, (off_t)(ri.offset + off)) :
		    pread(v->device, buf, len, (off_t)(ri.offset + off));
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int vfioc_config_read(struct vfioc *v, unsigned off, void *buf, size_t len)
{
	return config_rw(v, off, buf, len, false);
}

int vfioc_config_write(struct vfioc *v, unsigned off, const void *buf, size_t len)
{
	return config_rw(v, off, (void *)buf, len, true);
}

uint32_t vfioc_mmio_mark(struct vfioc *v)
{
	return vfioc_mmio_read32(v, 0xc);
}

uint32_t vfioc_mmio_read32(struct vfioc *v, uint32_t off)
{
	return *(volatile uint32_t *)(v->bar0 + off);
}

void vfioc_close(struct vfioc *v)
{
	for (unsigned b = 0; b < VFIOC_BARS; b++)
		if (v->bar[b]) {
			munmap((void *)v->bar[b], v->bar_len[b]);
			v->bar[b] = NULL;
		}
	v->bar0 = NULL;
	int *fds[] = { &v->device, &v->group, &v->container, &v->iommufd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}
