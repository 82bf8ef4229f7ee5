/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The host harness: what `iob host` needs from the running kernel, beyond
 * reading sysfs (lib/host):
 *
 *  - pcibind: give a PCI function to vfio-pci through driver_override and
 *    give it back to the driver it had, also from a signal handler.
 *  - vfioc: a user-space VFIO client. Type1 (container + group, the
 *    interface of every kernel since 3.6) and iommufd (/dev/iommu with a
 *    VFIO device cdev, Linux 6.6 and later). It maps and unmaps the
 *    caller's memory for the device: MAP_DMA/UNMAP_DMA, or
 *    IOMMU_IOAS_MAP/UNMAP; every call goes through the kernel's IOMMU
 *    driver and, in strict mode, waits for the IOMMU's invalidation.
 *  - phases (phases.h): kprobes on the kernel's IOMMU functions.
 *
 * Errors come back as -errno with a sentence in @err naming what failed;
 * nothing here prints or exits.
 */
#ifndef IOB_HOST_HOST_H
#define IOB_HOST_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- binding ----------------------------------------------------------------------- */

struct pcibind {
	char bdf[16];
	char orig_driver[64];	/* "" when it had none */
	bool changed;		/* we unbound it: pcibind_restore() must run */
};

/**
 * pcibind_to_vfio() - Make vfio-pci the driver of @bdf: set its
 * driver_override to vfio-pci, unbind the current driver, ask the PCI
 * core to probe it. Remembers the original driver in @b, and in a static
 * record that pcibind_restore_from_signal() uses.
 * @bdf: DDDD:BB:DD.F
 * @b:   filled
 * @err: why, on failure
 *
 * Return: 0 (also when vfio-pci was already bound: nothing to undo);
 * -ENODEV (no such function), -ENOENT (vfio-pci did not bind: module not
 * loaded?), or the -errno of a sysfs write.
 */
int pcibind_to_vfio(const char *bdf, struct pcibind *b, char *err, size_t errlen);

/**
 * pcibind_restore() - Undo pcibind_to_vfio(): unbind vfio-pci, clear
 * driver_override, bind the original driver again (drivers_probe).
 * @b: what pcibind_to_vfio() filled; nothing is done unless changed
 *
 * Return: 0 or the -errno of the first sysfs write that failed.
 */
int pcibind_restore(struct pcibind *b);

/**
 * pcibind_restore_from_signal() - pcibind_restore() of the last binding
 * made, with async-signal-safe calls only (open, write, close), for a
 * SIGINT/SIGTERM handler.
 */
void pcibind_restore_from_signal(void);

/* ---- the VFIO client ----------------------------------------------------------------- */

enum vfioc_backend {
	VFIOC_TYPE1,		/* /dev/vfio/vfio + /dev/vfio/<group> */
	VFIOC_IOMMUFD,		/* /dev/iommu + /dev/vfio/devices/vfioN */
	VFIOC_BACKEND_NR
};

#define VFIOC_BARS	6

struct vfioc {
	enum vfioc_backend backend;
	char bdf[16];
	int container, group, device;	/* type1 (device also for iommufd) */
	int iommufd;
	uint32_t ioas, devid;
	uint64_t pgsizes;		/* type1: page sizes the IOMMU domain offers */
	volatile uint8_t *bar0;		/* vfioc_bar0_map(): bar[0] */
	uint64_t bar0_len;
	volatile uint8_t *bar[VFIOC_BARS];	/* vfioc_bar_map() */
	uint64_t bar_len[VFIOC_BARS];
};

/**
 * vfioc_open() - Open @bdf (bound to vfio-pci) for DMA mapping.
 * @bdf:     DDDD:BB:DD.F
 * @group:   its IOMMU group number
 * @backend: type1 or iommufd
 * @v:       filled; close with vfioc_close()
 * @err:     which step failed and why
 *
 * Type1: container, API version, TYPE1v2 (or TYPE1), group viable (every
 * device of the group bound to vfio-pci or to nothing), SET_CONTAINER,
 * SET_IOMMU, GET_INFO, the device fd. iommufd: IOAS_ALLOC, the device's
 * cdev, BIND_IOMMUFD, ATTACH_IOMMUFD_PT to the IOAS.
 *
 * Return: 0; -ENOENT (no /dev/vfio/vfio, group or cdev: module not
 * loaded or device not bound to vfio-pci), -EBUSY (group not viable), or
 * the -errno of the failing open or ioctl.
 */
int vfioc_open(const char *bdf, int group, enum vfioc_backend backend, struct vfioc *v,
	       char *err, size_t errlen);

/**
 * vfioc_map() - Map [@va, @va + @len) at device address @iova, read and
 * write.
 * @v:    the client
 * @va:   page-aligned user memory
 * @iova: page-aligned
 * @len:  a multiple of the page size
 *
 * Return: 0 or the ioctl's -errno (-EEXIST: @iova overlaps a mapping,
 * -EINVAL: alignment, -ENOMEM: pinning limit, ...).
 */
int vfioc_map(struct vfioc *v, void *va, uint64_t iova, uint64_t len);

/**
 * vfioc_unmap() - Unmap whole mappings in [@iova, @iova + @len).
 * @v:    the client
 * @iova: start of a mapping
 * @len:  bytes; must end at the end of a mapping
 * @done: bytes the kernel says it unmapped (may be NULL)
 *
 * Return: 0 or the ioctl's -errno.
 */
int vfioc_unmap(struct vfioc *v, uint64_t iova, uint64_t len, uint64_t *done);

/**
 * vfioc_bar0_map() - Map the device's BAR0 (its registers) into this
 * process, once; later calls return the same mapping.
 * @v: the client
 *
 * Return: 0 with @v->bar0 and @v->bar0_len set; -ENOTSUP when the region
 * cannot be mapped; or the ioctl's/mmap's -errno.
 */
int vfioc_bar0_map(struct vfioc *v);

/**
 * vfioc_bar_map() - Map memory BAR @bar (0..5) of the device into this
 * process, once; later calls return the same mapping (v->bar[@bar]).
 * @v:   the client
 * @bar: the BAR
 *
 * Return: 0; -EINVAL (@bar above 5), -ENOTSUP (not mappable: an I/O BAR
 * or none), or the ioctl's/mmap's -errno.
 */
int vfioc_bar_map(struct vfioc *v, unsigned bar);

/**
 * vfioc_config_read() - Read the device's PCI configuration space.
 * @v:   the client
 * @off: byte offset
 * @buf: where
 * @len: bytes
 *
 * Return: 0 or -errno (-EIO on a short read).
 */
int vfioc_config_read(struct vfioc *v, unsigned off, void *buf, size_t len);

/**
 * vfioc_config_write() - Write the device's PCI configuration space
 * (through VFIO, which keeps what it virtualizes).
 * @v:   the client
 * @off: byte offset
 * @buf: what
 * @len: bytes
 *
 * Return: 0 or -errno (-EIO on a short write).
 */
int vfioc_config_write(struct vfioc *v, unsigned off, const void *buf, size_t len);

/**
 * vfioc_mmio_mark() - A 4-byte read of BAR0 at offset 0Ch (NVMe's
 * interrupt mask set register, INTMS, which Linux's driver only writes),
 * which an emulated device logs (QEMU: pci_nvme_mmio_read addr 0xc) in
 * order with the IOMMU's command events: a marker that cuts QEMU's trace
 * into the windows this process counted. Only for devices where the read
 * has no side effect (NVMe: none).
 * @v: the client, BAR0 mapped
 *
 * Return: the value read.
 */
uint32_t vfioc_mmio_mark(struct vfioc *v);

/**
 * vfioc_mmio_read32() - A 4-byte read of BAR0 at @off: a marker for an
 * emulator's trace (see vfioc_mmio_mark()) at a register other than
 * INTMS, so that two kinds of window can be told apart (iob host reach
 * reads NVMe's INTMC, 10h, which Linux's driver never reads either).
 * @v:   the client, BAR0 mapped
 * @off: a register without read side effects
 *
 * Return: the value read.
 */
uint32_t vfioc_mmio_read32(struct vfioc *v, uint32_t off);

/**
 * vfioc_close() - Close every file the client opened (idempotent).
 * @v: the client
 */
void vfioc_close(struct vfioc *v);

/**
 * vfioc_backend_name() - "type1" or "iommufd".
 * @b: the backend
 *
 * Return: a static string.
 */
const char *vfioc_backend_name(enum vfioc_backend b);

#endif /* IOB_HOST_HOST_H */
