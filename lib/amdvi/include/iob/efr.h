/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * efr: what an AMD IOMMU says it can do, decoded from the two registers a
 * running Linux shows in sysfs (/sys/class/iommu/ivhdN/amd-iommu/):
 *
 *  - cap: the IOMMU's PCI capability header (capability block offset 00h),
 *    printed "%x" by the driver (amd_iommu_show_cap());
 *  - features: the Extended Feature Register (MMIO 0030h) and EFR2 (MMIO
 *    01A0h), printed "%llx:%llx" as EFR2 then EFR
 *    (amd_iommu_show_features()).
 *
 * Field positions: AMD I/O Virtualization Technology (IOMMU)
 * Specification, pub. 48882, "IOMMU Capability Header" and "Extended
 * Feature Register"; cross-checked against Linux 6.1
 * (drivers/iommu/amd/amd_iommu_types.h: IOMMU_CAP_*, FEATURE_*), Linux
 * 6.7's FEATURE_HATS/GATS/GLX/PASMAX masks, and Xen 4.17
 * (xen/drivers/passthrough/amd/iommu-defs.h). Only fields those sources
 * agree on are decoded.
 */
#ifndef IOB_EFR_H
#define IOB_EFR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Capability header (PCI config space, IOMMU capability block + 00h). */
#define AMDVI_CAP_ID			0x000000ffU	/* 0Fh: secure device */
#define AMDVI_CAP_TYPE_SHIFT		16
#define AMDVI_CAP_TYPE			(0x7U << 16)	/* 3: IOMMU */
#define AMDVI_CAP_REV_SHIFT		19
#define AMDVI_CAP_REV			(0x1fU << 19)
#define AMDVI_CAP_IOTLB_SUP		(1U << 24)	/* remote IOTLBs (ATS) */
#define AMDVI_CAP_HT_TUNNEL		(1U << 25)
#define AMDVI_CAP_NP_CACHE		(1U << 26)	/* caches not-present entries */
#define AMDVI_CAP_EFR_SUP		(1U << 27)	/* the EFR exists */
#define AMDVI_CAP_EXT			(1U << 28)

#define AMDVI_CAP_ID_SECURE		0x0fU
#define AMDVI_CAP_TYPE_IOMMU		3U

/* Extended Feature Register (MMIO 0030h). */
#define AMDVI_EFR_PREF_SUP		(1ULL << 0)	/* PREFETCH_IOMMU_PAGES */
#define AMDVI_EFR_PPR_SUP		(1ULL << 1)	/* peripheral page requests */
#define AMDVI_EFR_XT_SUP		(1ULL << 2)	/* x2APIC interrupts */
#define AMDVI_EFR_NX_SUP		(1ULL << 3)	/* no-execute in guest tables */
#define AMDVI_EFR_GT_SUP		(1ULL << 4)	/* guest (v2) translation */
#define AMDVI_EFR_IA_SUP		(1ULL << 6)	/* INVALIDATE_IOMMU_ALL */
#define AMDVI_EFR_GA_SUP		(1ULL << 7)	/* guest virtual APIC */
#define AMDVI_EFR_HE_SUP		(1ULL << 8)	/* hardware error registers */
#define AMDVI_EFR_PC_SUP		(1ULL << 9)	/* performance counters */
#define AMDVI_EFR_HATS_SHIFT		10
#define AMDVI_EFR_HATS			(0x3ULL << 10)	/* host table levels - 4 */
#define AMDVI_EFR_GATS_SHIFT		12
#define AMDVI_EFR_GATS			(0x3ULL << 12)	/* guest table levels - 4 */
#define AMDVI_EFR_GLX_SHIFT		14
#define AMDVI_EFR_GLX			(0x3ULL << 14)	/* guest CR3 table levels - 1 */
#define AMDVI_EFR_SMIF_SUP_SHIFT	16
#define AMDVI_EFR_SMIF_SUP		(0x3ULL << 16)
#define AMDVI_EFR_SMIF_RC_SHIFT		18
#define AMDVI_EFR_SMIF_RC		(0x7ULL << 18)
#define AMDVI_EFR_GAM_VAPIC		(1ULL << 21)
#define AMDVI_EFR_PASMAX_SHIFT		32
#define AMDVI_EFR_PASMAX		(0x1fULL << 32)	/* PASID bits - 1 */
#define AMDVI_EFR_SEG_SUP_SHIFT		38
#define AMDVI_EFR_SEG_SUP		(0x3ULL << 38)	/* device table segments: 2^n */
#define AMDVI_EFR_MSI_CAP_MMIO_SUP	(1ULL << 46)
#define AMDVI_EFR_GIO_SUP		(1ULL << 48)
#define AMDVI_EFR_EPH_SUP		(1ULL << 50)
#define AMDVI_EFR_SNP_SUP		(1ULL << 63)

/* What a host (v1) table can map: every power of two from 4 KiB (NextLevel 7). */
#define AMDVI_V1_PGSIZES		(~0xfffULL)
/* A guest (v2, x86-64 format) table: 4 KiB, 2 MiB, 1 GiB. */
#define AMDVI_V2_PGSIZES		((1ULL << 12) | (1ULL << 21) | (1ULL << 30))

struct efr_info {
	uint32_t cap;			/* the raw registers */
	uint64_t efr, efr2;
	bool cap_valid;			/* ID 0Fh, type 3 */
	unsigned cap_rev;
	bool iotlb_sup, np_cache, efr_sup;
	bool pref, ppr, xt, nx, gt, ia, ga, he, pc, gam_vapic, gio, eph, snp, msi_cap_mmio;
	unsigned host_levels;		/* HATS + 4; 0 when HATS is the reserved 11b */
	unsigned guest_levels;		/* GATS + 4; 0 when reserved */
	unsigned glx_levels;		/* GLX + 1 */
	unsigned pasid_bits;		/* PASmax + 1 when GT is supported, else 0 */
	unsigned devtab_segments;	/* 2^SegSup */
	uint64_t host_pgsizes;		/* AMDVI_V1_PGSIZES */
	uint64_t guest_pgsizes;		/* AMDVI_V2_PGSIZES when GT, else 0 */
};

/**
 * efr_decode() - Decode the capability header and the feature registers.
 * @cap:  the capability header
 * @efr:  the Extended Feature Register (ignored, as the hardware makes it,
 *        unless @cap has EFRSup)
 * @efr2: EFR2, kept raw (nothing in it is decoded yet)
 * @out:  filled
 *
 * Return: 0, or -EINVAL when @cap is not an IOMMU capability header (ID
 * 0Fh, type 3); @out is filled either way.
 */
int efr_decode(uint32_t cap, uint64_t efr, uint64_t efr2, struct efr_info *out);

/**
 * efr_parse_sysfs() - Parse the driver's sysfs text for the two registers.
 * @cap_text:      contents of amd-iommu/cap ("%x", trailing newline allowed)
 * @features_text: contents of amd-iommu/features ("%llx:%llx", EFR2 first;
 *                 older kernels print EFR alone, "%llx")
 * @out:           decoded, as efr_decode()
 *
 * Return: 0; -EINVAL when either text is not what the driver prints (not
 * hex, trailing garbage, empty, over 64 bits) or the header is not an
 * IOMMU's.
 */
int efr_parse_sysfs(const char *cap_text, const char *features_text, struct efr_info *out);

/**
 * efr_features_string() - The supported features as space-separated
 * names ("PPR GT IA PC ..."), for humans and JSON.
 * @e:   decoded registers
 * @buf: output, always NUL-terminated
 * @len: its size
 *
 * Return: @buf.
 */
const char *efr_features_string(const struct efr_info *e, char *buf, size_t len);

#endif /* IOB_EFR_H */
