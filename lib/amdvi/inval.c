// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <iob/inval.h>

static inline unsigned fls64_(uint64_t x)
{
	return 63 - (unsigned)__builtin_clzll(x);
}

static void add_block(struct inval_result *r, iova_t start, unsigned lg2)
{
	r->blocks[r->nblocks++] = (struct inval_block){ start, lg2 };
}

/*
 * Bytes a block counts as: its size, or for "all pages" (lg2 64) the
 * domain's space. 2^64 itself is one more than a uint64_t holds: the
 * accounting is done in 128 bits and saturated once, at the end.
 */
static unsigned __int128 block_bytes(unsigned lg2, unsigned space_lg2)
{
	if (lg2 >= 64)
		lg2 = space_lg2;
	return (unsigned __int128)1 << (lg2 >= 64 ? 64 : lg2);
}

/*
 * Bytes of [iova, last] inside the domain's space [0, 2^space_lg2): what an
 * "all pages" command covers of the range. A range reaching past the space
 * must not make "space - size" wrap.
 */
static uint64_t bytes_in_space(iova_t iova, iova_t last, unsigned space_lg2)
{
	uint64_t end;

	if (space_lg2 >= 64)
		return last - iova + 1;
	end = 1ULL << space_lg2;
	if (iova >= end)
		return 0;
	return (last < end ? last + 1 : end) - iova;
}

static void add_over(struct inval_result *r, unsigned __int128 covered, uint64_t inside)
{
	unsigned __int128 over = r->over_bytes + (covered - inside);

	r->over_bytes = over > UINT64_MAX ? UINT64_MAX : (uint64_t)over;
}

int inval_split(enum inval_policy policy, iova_t iova, uint64_t size,
		unsigned space_lg2, struct inval_result *r)
{
	iova_t last;

	/* Not a memset up to blocks[]: over_bytes and whole_domain lie after it. */
	r->nblocks = 0;
	r->over_bytes = 0;
	r->whole_domain = 0;
	if (!size || ((iova | size) & (AMDVI_PAGE_SIZE - 1)))
		return -EINVAL;
	last = iova + (size - 1);
	if (last < iova)
		return -EINVAL;

	switch (policy) {
	case INVAL_EXACT: {
		iova_t a = iova;

		/* Greedy: the largest block aligned at a that stays in range. */
		for (;;) {
			uint64_t left = last - a;	/* bytes left, minus one */
			unsigned lg2 = a ? (unsigned)__builtin_ctzll(a) : 64;
			unsigned fit = left == UINT64_MAX ? 64 : fls64_(left + 1);

			if (fit < lg2)
				lg2 = fit;
			add_block(r, a, lg2);
			if (lg2 >= 64 || left + 1 == 1ULL << lg2)
				break;
			a += 1ULL << lg2;
		}
		return 0;
	}
	case INVAL_MERGED: {
		unsigned lg2 = iova == last - (AMDVI_PAGE_SIZE - 1) ?
			       AMDVI_PAGE_SIZE_LG2 : fls64_(iova ^ last) + 1;

		if (lg2 < AMDVI_PAGE_SIZE_LG2)
			lg2 = AMDVI_PAGE_SIZE_LG2;
		/* Linux: a block past the 52-bit address field flushes everything. */
		if (lg2 > 52) {
			add_block(r, 0, 64);
			r->whole_domain = 1;
			add_over(r, block_bytes(64, space_lg2),
				 bytes_in_space(iova, last, space_lg2));
			return 0;
		}
		add_block(r, iova & ~((1ULL << lg2) - 1), lg2);
		add_over(r, block_bytes(lg2, space_lg2), size);
		return 0;
	}
	case INVAL_XEN: {
		static const unsigned orders[] = { 0, 9, 18 };

		for (unsigned i = 0; i < 3; i++) {
			unsigned lg2 = AMDVI_PAGE_SIZE_LG2 + orders[i];

			if ((iova >> lg2) == (last >> lg2)) {
				add_block(r, iova & ~((1ULL << lg2) - 1), lg2);
				add_over(r, block_bytes(lg2, space_lg2), size);
				return 0;
			}
		}
		add_block(r, 0, 64);
		r->whole_domain = 1;
		add_over(r, block_bytes(64, space_lg2),
			 bytes_in_space(iova, last, space_lg2));
		return 0;
	}
	default:
		return -EINVAL;
	}
}

const char *inval_policy_name(enum inval_policy p)
{
	switch (p) {
	case INVAL_EXACT:
		return "exact";
	case INVAL_MERGED:
		return "merged";
	case INVAL_XEN:
		return "xen";
	default:
		return "?";
	}
}

int inval_policy_parse(const char *name)
{
	for (int p = 0; p < INVAL_POLICY_NR; p++)
		if (!strcmp(name, inval_policy_name(p)))
			return p;
	return -EINVAL;
}
