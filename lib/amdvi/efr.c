// SPDX-License-Identifier: GPL-2.0-or-later
/* Decoding an AMD IOMMU's capability header and Extended Feature Register. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <iob/efr.h>

static unsigned field(uint64_t v, uint64_t mask, unsigned shift)
{
	return (unsigned)((v & mask) >> shift);
}

int efr_decode(uint32_t cap, uint64_t efr, uint64_t efr2, struct efr_info *out)
{
	struct efr_info e = { .cap = cap, .efr = efr, .efr2 = efr2 };
	unsigned hats, gats;

	e.cap_valid = (cap & AMDVI_CAP_ID) == AMDVI_CAP_ID_SECURE &&
		      field(cap, AMDVI_CAP_TYPE, AMDVI_CAP_TYPE_SHIFT) == AMDVI_CAP_TYPE_IOMMU;
	e.cap_rev = field(cap, AMDVI_CAP_REV, AMDVI_CAP_REV_SHIFT);
	e.iotlb_sup = cap & AMDVI_CAP_IOTLB_SUP;
	e.np_cache = cap & AMDVI_CAP_NP_CACHE;
	e.efr_sup = cap & AMDVI_CAP_EFR_SUP;
	/* Without EFRSup the register is not implemented: nothing it says holds. */
	if (!e.efr_sup)
		efr = 0;
	e.pref = efr & AMDVI_EFR_PREF_SUP;
	e.ppr = efr & AMDVI_EFR_PPR_SUP;
	e.xt = efr & AMDVI_EFR_XT_SUP;
	e.nx = efr & AMDVI_EFR_NX_SUP;
	e.gt = efr & AMDVI_EFR_GT_SUP;
	e.ia = efr & AMDVI_EFR_IA_SUP;
	e.ga = efr & AMDVI_EFR_GA_SUP;
	e.he = efr & AMDVI_EFR_HE_SUP;
	e.pc = efr & AMDVI_EFR_PC_SUP;
	e.gam_vapic = efr & AMDVI_EFR_GAM_VAPIC;
	e.msi_cap_mmio = efr & AMDVI_EFR_MSI_CAP_MMIO_SUP;
	e.gio = efr & AMDVI_EFR_GIO_SUP;
	e.eph = efr & AMDVI_EFR_EPH_SUP;
	e.snp = efr & AMDVI_EFR_SNP_SUP;
	/* HATS/GATS 11b are reserved; 00b is four levels (48-bit addresses). */
	hats = field(efr, AMDVI_EFR_HATS, AMDVI_EFR_HATS_SHIFT);
	gats = field(efr, AMDVI_EFR_GATS, AMDVI_EFR_GATS_SHIFT);
	e.host_levels = hats == 3 ? 0 : hats + 4;
	e.guest_levels = gats == 3 ? 0 : gats + 4;
	e.glx_levels = field(efr, AMDVI_EFR_GLX, AMDVI_EFR_GLX_SHIFT) + 1;
	e.pasid_bits = e.gt ? field(efr, AMDVI_EFR_PASMAX, AMDVI_EFR_PASMAX_SHIFT) + 1 : 0;
	e.devtab_segments = 1U << field(efr, AMDVI_EFR_SEG_SUP, AMDVI_EFR_SEG_SUP_SHIFT);
	e.host_pgsizes = AMDVI_V1_PGSIZES;
	e.guest_pgsizes = e.gt ? AMDVI_V2_PGSIZES : 0;
	*out = e;
	return e.cap_valid ? 0 : -EINVAL;
}

/* A hex number of at most 16 digits, no prefix, ending at @end or a newline. */
static int parse_hex(const char *s, const char *stop, uint64_t *v)
{
	unsigned digits = 0;

	*v = 0;
	for (; s < stop && *s != '\n'; s++, digits++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (*s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return -EINVAL;
		if (digits == 16)
			return -EINVAL;
		*v = *v << 4 | d;
	}
	if (!digits || (s < stop && strcmp(s, "\n")))
		return -EINVAL;
	return 0;
}

int efr_parse_sysfs(const char *cap_text, const char *features_text, struct efr_info *out)
{
	const char *colon = strchr(features_text, ':');
	const char *end = features_text + strlen(features_text);
	uint64_t cap, efr, efr2 = 0;

	if (parse_hex(cap_text, cap_text + strlen(cap_text), &cap) || cap > UINT32_MAX)
		return -EINVAL;
	if (colon) {
		if (parse_hex(features_text, colon, &efr2) || parse_hex(colon + 1, end, &efr))
			return -EINVAL;
	} else if (parse_hex(features_text, end, &efr)) {
		return -EINVAL;
	}
	return efr_decode((uint32_t)cap, efr, efr2, out);
}

const char *efr_features_string(const struct efr_info *e, char *buf, size_t len)
{
	const struct {
		bool on;
		const char *name;
	} f[] = {
		{ e->iotlb_sup, "IotlbSup" }, { e->np_cache, "NpCache" }, { e->efr_sup, "EFRSup" },
		{ e->pref, "PreF" }, { e->ppr, "PPR" }, { e->xt, "XT" }, { e->nx, "NX" },
		{ e->gt, "GT" }, { e->ia, "IA" }, { e->ga, "GA" }, { e->he, "HE" }, { e->pc, "PC" },
		{ e->gam_vapic, "GAMvAPIC" }, { e->msi_cap_mmio, "MsiCapMmio" },
		{ e->gio, "GIO" }, { e->eph, "EPH" }, { e->snp, "SNP" },
	};
	size_t n = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		int w;

		if (!f[i].on)
			continue;
		w = snprintf(buf + n, len - n, "%s%s", n ? " " : "", f[i].name);
		if (w < 0 || (size_t)w >= len - n)
			break;
		n += (size_t)w;
	}
	return buf;
}
