// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The table walk of an AMD-Vi IOMMU for host (v1) translations, following
 * the specification's rules: rights are the AND of IR/IW over every entry
 * read (QEMU's model ANDs the DTE's as well, and so does iommu.c); Next
 * Level below current-1 skips levels whose address bits must be zero; Next
 * Level 7 takes the page size from the address field; reserved bits 58:52
 * must be clear.
 */
#include <string.h>

#include <iob/walk.h>

static unsigned entry_prot(uint64_t e)
{
	return ((e & AMDVI_PTE_IR) ? IOPT_PROT_READ : 0) |
	       ((e & AMDVI_PTE_IW) ? IOPT_PROT_WRITE : 0);
}

static void fault(struct amdvi_walk *w, enum amdvi_fault f, unsigned level)
{
	w->fault = f;
	w->fault_level = level;
}

void amdvi_walk(paddr_t table, unsigned level, unsigned top, unsigned prot,
		iova_t iova, struct amdvi_walk *w)
{
	unsigned cover = amdvi_level_shift(top) + AMDVI_PT_ENTRIES_LG2;

	w->fault = AMDVI_FAULT_NONE;
	w->fault_level = 0;
	w->nsteps = 0;
	w->pa = 0;
	w->size_lg2 = 0;
	w->prot = prot;

	if (top < AMDVI_PT_LEVELS_MIN || top > AMDVI_PT_LEVELS_MAX ||
	    level < AMDVI_PT_LEVELS_MIN || level > top) {
		fault(w, AMDVI_FAULT_BAD_LEVEL, level);
		return;
	}
	if (cover < 64 && (iova >> cover)) {
		fault(w, AMDVI_FAULT_ADDR_RANGE, top);
		return;
	}

	for (;;) {
		unsigned shift = amdvi_level_shift(level);
		unsigned idx = (unsigned)(iova >> shift) & (AMDVI_PT_ENTRIES - 1);
		const uint64_t *t = (const uint64_t *)(uintptr_t)table;
		/* Acquire: a table installed under us is seen zeroed, as written. */
		uint64_t e = __atomic_load_n(&t[idx], __ATOMIC_ACQUIRE);
		unsigned nl = amdvi_pte_next_level(e);
		struct amdvi_walk_step *s = &w->steps[w->nsteps++];

		s->level = level;
		s->index = idx;
		s->table = table;
		s->entry = e;

		if (!(e & AMDVI_PTE_PR)) {
			fault(w, AMDVI_FAULT_NOT_PRESENT, level);
			return;
		}
		if (e & AMDVI_PTE_RSVD) {
			fault(w, AMDVI_FAULT_RESERVED, level);
			return;
		}
		w->prot &= entry_prot(e);

		if (nl == AMDVI_NEXT_LEVEL_SIZED) {
			unsigned lg2 = amdvi_sized_lg2(e);

			/* A sized page must be larger than this level's and fit its table. */
			if (lg2 <= shift || lg2 >= shift + AMDVI_PT_ENTRIES_LG2) {
				fault(w, AMDVI_FAULT_BAD_LEVEL, level);
				return;
			}
			w->size_lg2 = lg2;
			break;
		}
		if (nl == AMDVI_NEXT_LEVEL_LEAF) {
			w->size_lg2 = shift;
			break;
		}
		if (level == 1 || nl >= level) {
			fault(w, AMDVI_FAULT_BAD_LEVEL, level);
			return;
		}
		if (nl < level - 1) {
			/* Skipped levels: their index bits must be zero. */
			unsigned lo = amdvi_level_shift(nl + 1);
			uint64_t mask = ((1ULL << shift) - 1) & ~((1ULL << lo) - 1);

			if (iova & mask) {
				fault(w, AMDVI_FAULT_SKIPPED_BITS, level);
				return;
			}
		}
		table = e & AMDVI_PTE_ADDR;
		level = nl;
	}

	uint64_t size_mask = (1ULL << w->size_lg2) - 1;
	uint64_t e = w->steps[w->nsteps - 1].entry;

	w->pa = ((e & AMDVI_PTE_ADDR) & ~size_mask) | (iova & size_mask);
}

const char *amdvi_fault_name(enum amdvi_fault f)
{
	static const char *const names[AMDVI_FAULT_NR] = {
		[AMDVI_FAULT_NONE] = "none",
		[AMDVI_FAULT_NOT_PRESENT] = "not-present",
		[AMDVI_FAULT_PERMISSION] = "permission",
		[AMDVI_FAULT_BAD_LEVEL] = "bad-next-level",
		[AMDVI_FAULT_RESERVED] = "reserved-bits",
		[AMDVI_FAULT_SKIPPED_BITS] = "skipped-level-bits",
		[AMDVI_FAULT_ADDR_RANGE] = "address-out-of-range",
		[AMDVI_FAULT_DTE_INVALID] = "dte-invalid",
	};

	return (unsigned)f < AMDVI_FAULT_NR ? names[f] : "?";
}
