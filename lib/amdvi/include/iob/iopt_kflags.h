/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * iopt_kflags: the page table's second build, with the kernel's
 * code-generation flags (meson option pgtable_kflags: -O2
 * -mgeneral-regs-only -mno-red-zone -fno-jump-tables ..., the kbuild
 * options that change code; no vector registers, as in kernel code).
 *
 * Included first (-include) by that build's sources and by code that
 * calls it, this header renames every external symbol of iopt.c, walk.c
 * and ptpage.c, so both builds link into one program: `iob micro
 * pgtable` times them side by side, and the peer harness links its
 * fairness variant against libiob_pgtable_kflags.a. A symbol left out
 * here is a duplicate definition at link time, not a silent mix.
 *
 * The second build has its own page cache and descriptor directory.
 */
#ifndef IOB_IOPT_KFLAGS_H
#define IOB_IOPT_KFLAGS_H

#define amdvi_fault_name	amdvi_kf_fault_name
#define amdvi_walk		amdvi_kf_walk
#define iopt_check		iopt_kf_check
#define iopt_count_tables	iopt_kf_count_tables
#define iopt_create		iopt_kf_create
#define iopt_destroy		iopt_kf_destroy
#define iopt_equal		iopt_kf_equal
#define iopt_fingerprint	iopt_kf_fingerprint
#define iopt_flags		iopt_kf_flags
#define iopt_for_each_leaf	iopt_kf_for_each_leaf
#define iopt_gather_add		iopt_kf_gather_add
#define iopt_gather_flush	iopt_kf_gather_flush
#define iopt_gather_init	iopt_kf_gather_init
#define iopt_gather_release	iopt_kf_gather_release
#define iopt_impl_name		iopt_kf_impl_name
#define iopt_impl_of		iopt_kf_impl_of
#define iopt_levels		iopt_kf_levels
#define iopt_map		iopt_kf_map
#define iopt_pgsize_bitmap	iopt_kf_pgsize_bitmap
#define iopt_reserve		iopt_kf_reserve
#define iopt_reserved		iopt_kf_reserved
#define iopt_root		iopt_kf_root
#define iopt_stats_get		iopt_kf_stats_get
#define iopt_stats_reset	iopt_kf_stats_reset
#define iopt_translate		iopt_kf_translate
#define iopt_unmap		iopt_kf_unmap
#define iopt_unreserve		iopt_kf_unreserve
#define ptpage_alloc		ptpage_kf_alloc
#define ptpage_attach		ptpage_kf_attach
#define ptpage_dir		ptpage_kf_dir
#define ptpage_free		ptpage_kf_free
#define ptpage_stats_get	ptpage_kf_stats_get

#endif /* IOB_IOPT_KFLAGS_H */
