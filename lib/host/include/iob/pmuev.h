/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pmuev: a perf event of a dynamic PMU (the AMD IOMMU's amd_iommu_N) as
 * perf_event_open(2) wants it, from the PMU's sysfs description:
 * `type` (the PMU's perf type number), `events/<name>` ("csource=0x05",
 * terms separated by commas) and `format/<term>` ("config:0-7",
 * "config1:0-15": which bits of which config word a term fills), as
 * Documentation/ABI/testing/sysfs-bus-event_source-devices-format says.
 * Linux's AMD IOMMU PMU (drivers/perf/amd/iommu.c) defines csource,
 * devid, domid, pasid and their masks; a device filter is devid plus
 * devid_mask = 0xffff. Nothing here opens an event.
 */
#ifndef IOB_PMUEV_H
#define IOB_PMUEV_H

#include <stddef.h>
#include <stdint.h>

struct pmuev {
	uint32_t type;		/* perf_event_attr.type */
	uint64_t config, config1, config2;
};

/* An extra term ("devid", 0x0300) set on top of the event's own. */
struct pmuev_term {
	const char *name;
	uint64_t value;
};

/**
 * pmuev_resolve() - The attr words of event @event of PMU @pmu, with
 * @nterms extra terms.
 * @root:   "" for this machine, else a directory holding a copy of /sys
 * @pmu:    "amd_iommu_0"
 * @event:  "mem_iommu_tlb_pte_hit"
 * @terms:  extra terms (each must have a format file), or NULL
 * @nterms: how many
 * @out:    filled
 * @err:    which file and what is wrong with it
 * @len:    size of @err
 *
 * Return: 0; -ENOENT (no such PMU, event or term), -EINVAL (a malformed
 * type, event or format, a value wider than its bits), or the -errno of
 * reading a file.
 */
int pmuev_resolve(const char *root, const char *pmu, const char *event,
		  const struct pmuev_term *terms, size_t nterms, struct pmuev *out, char *err,
		  size_t len);

#endif /* IOB_PMUEV_H */
