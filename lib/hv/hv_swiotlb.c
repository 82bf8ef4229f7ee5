// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * swiotlb: no IOMMU protection, the status quo the 2008 thread set out to
 * replace ("driver domain utilizes swiotlb to get dma_address below 4G,
 * which is an additional overhead"). A Xen PV driver domain whose devices
 * DMA untranslated: the DTE is valid with Mode 000b and IR = IW = 1 (AMD
 * I/O Virtualization Technology specification, Device Table Entry:
 * "translation disabled", the access allowed as the IR/IW bits say), so a
 * device address is a machine address and the device reaches every frame
 * of the machine, its domain's or not.
 *
 * The hypervisor does nothing else for it: no hypercalls of its own, the
 * p2m is not mirrored. The guest's DMA API (lib/dps, dps_swiotlb.c)
 * bounces every buffer through a pool of machine-contiguous frames below
 * 4 GiB that it got with hv_memory_exchange(), copying the bytes; for that
 * the machine's frames hold real bytes here (frame_memory).
 */
#include "hv_impl.h"

static int swiotlb_device_assign(struct hv *hv, struct hv_domain *dm, uint16_t devid)
{
	return iommu_dte_set(hv->mmu, devid, dm->id, 0, 0, IOPT_PROT_RW);
}

const struct hv_strategy_ops hv_swiotlb_ops = {
	.name = "swiotlb",
	.frame_memory = true,
	.device_assign = swiotlb_device_assign,
};
