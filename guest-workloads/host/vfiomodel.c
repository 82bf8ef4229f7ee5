// SPDX-License-Identifier: GPL-2.0-or-later
/* The model's prediction of Linux's commands for a VFIO type1 call (vfiomodel.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <iob/inval.h>

#include "vfiomodel.h"

#define PAGE		4096ULL
#define SPACE_LG2	57	/* a six-level table's address space */

static bool bad_run(const struct vfiomodel_run *r)
{
	return !r->len || (r->iova & (PAGE - 1)) || (r->len & (PAGE - 1));
}

/* One flush of [@iova, @iova + @len) and its wait. */
static int flush(uint64_t iova, uint64_t len, bool np_cache, struct vfiomodel_counts *c)
{
	struct inval_result r;
	int ret = inval_split(np_cache ? INVAL_EXACT : INVAL_MERGED, iova, len, SPACE_LG2, &r);

	if (ret)
		return ret;
	c->inv_pages += r.nblocks;
	c->completion_waits++;
	c->syncs++;
	return 0;
}

int vfiomodel_map(const struct vfiomodel_run *runs, size_t n, bool np_cache,
		  struct vfiomodel_counts *out)
{
	*out = (struct vfiomodel_counts){ 0 };
	if (!n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int ret;

		if (bad_run(&runs[i]))
			return -EINVAL;
		if (!np_cache)
			continue;
		ret = flush(runs[i].iova, runs[i].len, true, out);
		if (ret)
			return ret;
	}
	return 0;
}

/* The page iommu_map() puts at @iova -> @pa with @left bytes to go (iommu_pgsize()). */
static uint64_t page_size_at(uint64_t iova, uint64_t pa, uint64_t left, uint64_t pgsizes)
{
	uint64_t both = iova | pa;
	uint64_t align = both ? both & -both : 1ULL << 63;

	for (int b = 63; b >= 12; b--) {
		uint64_t sz = 1ULL << b;

		if ((pgsizes & sz) && sz <= left && sz <= align)
			return sz;
	}
	return 0;
}

uint64_t vfiomodel_pages(const struct vfiomodel_run *r, uint64_t pgsizes)
{
	uint64_t off = 0, pages = 0;

	if (bad_run(r) || !(pgsizes & PAGE))
		return 0;
	while (off < r->len) {
		off += page_size_at(r->iova + off, r->pa + off, r->len - off, pgsizes);
		pages++;
	}
	return pages;
}

int vfiomodel_unmap(const struct vfiomodel_run *runs, size_t n, bool np_cache,
		    uint64_t pgsizes, struct vfiomodel_counts *out)
{
	/* vfio_test_domain_fgsp(): an 8 KiB page exists, so a 4 KiB unmap takes 8 KiB. */
	bool fgsp = pgsizes & (PAGE << 1);
	uint64_t start = 0, end = 0;
	unsigned pending = 0;

	*out = (struct vfiomodel_counts){ 0 };
	if (!n || !(pgsizes & PAGE))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		const struct vfiomodel_run *r = &runs[i];

		if (bad_run(r) || (i && r->iova != runs[i - 1].iova + runs[i - 1].len))
			return -EINVAL;
		for (uint64_t off = 0; off < r->len;) {
			/* One unmap_unpin_fast(): an IOMMU page (fgsp), or the whole run. */
			off += fgsp ? page_size_at(r->iova + off, r->pa + off, r->len - off, pgsizes) :
				      r->len;
			if (!pending)
				start = end ? end : r->iova;
			end = r->iova + off;
			if (++pending == VFIOMODEL_TLB_SYNC_MAX) {
				int ret = flush(start, end - start, np_cache, out);

				if (ret)
					return ret;
				pending = 0;
			}
		}
	}
	return pending ? flush(start, end - start, np_cache, out) : 0;
}

int vfiomodel_runs(const void *va, uint64_t len, uint64_t iova, struct vfiomodel_run *runs,
		   size_t max, size_t *n)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t prev_pfn = 0;
	int ret = 0;

	*n = 0;
	if (fd < 0)
		return -errno;
	for (uint64_t off = 0; off < len && !ret; off += PAGE) {
		uint64_t e, pfn;
		off_t at = (off_t)(((uintptr_t)va + off) / PAGE * 8);

		if (pread(fd, &e, sizeof(e), at) != sizeof(e)) {
			ret = -EIO;
			break;
		}
		/* Bit 63 present, bits 54:0 the frame number (zero without CAP_SYS_ADMIN). */
		if (!(e >> 63)) {
			ret = -ENOENT;
			break;
		}
		pfn = e & ((1ULL << 55) - 1);
		if (!pfn) {
			ret = -EPERM;
			break;
		}
		if (*n && pfn == prev_pfn + 1) {
			runs[*n - 1].len += PAGE;
		} else if (*n == max) {
			ret = -ENOSPC;
		} else {
			runs[*n].iova = iova + off;
			runs[*n].len = PAGE;
			runs[*n].pa = pfn * PAGE;
			(*n)++;
		}
		prev_pfn = pfn;
	}
	close(fd);
	return ret;
}
