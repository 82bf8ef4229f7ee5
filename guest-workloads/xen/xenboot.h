/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xenboot: the patched Xen 4.17 built and booted under QEMU, through the
 * scripts of hv-patches/xen-4.17: build.sh (fetch the pinned source,
 * apply the series, build with the counters on or off) and boot.sh (Xen
 * with the emulated AMD IOMMU and a strict PV dom0 that runs the dom0
 * workloads of iob_xenctl.c and dumps the counters on the console).
 *
 * The tunings (Xen command line words) and the dom0 workloads are listed
 * here, once. The scripts' own output goes to this process's stderr;
 * nothing here prints or exits.
 */
#ifndef IOB_XENBOOT_H
#define IOB_XENBOOT_H

#include <stdbool.h>
#include <stddef.h>

#include "xenlog.h"

struct xenboot_tuning {
	const char *name;	/* baseline, batch, lazy, relaxed */
	const char *xen_args;	/* the Xen command line words that select it */
	const char *doc;
	int relaxed;		/* dom0 relaxed: its boot says so, and pv/dmalayer are refused */
};

enum { XENBOOT_TUNINGS_NR = 4 };
extern const struct xenboot_tuning xenboot_tunings[XENBOOT_TUNINGS_NR];

/* Index of the tuning @name in xenboot_tunings, or -1. */
int xenboot_tuning_find(const char *name);

/**
 * xenboot_check_work() - Check a list of dom0 workloads, NAME:ARG[,NAME:ARG...]
 * (the domU ones after domu:MIB, 64 MiB at least, once):
 * balloon_out, balloon_in, disk_read, disk_write and the domU's (domu,
 * net_tx, net_rx, blk_read, blk_write, pblk_read, pblk_write, domu_bad)
 * take 1..1024 MiB (the disk ones at most 256, the disk's size); pv,
 * dmalayer and the domU grant loops (ghook, gpv, gdma) take 1..100000
 * iterations.
 * @err: what is wrong, naming the item
 * Return: 0 or -EINVAL.
 */
int xenboot_check_work(const char *list, char *err, size_t errlen);

/**
 * xenboot_work_iters() - Whether a workload's argument counts iterations
 * (of 16 frames or grants), not MiB.
 * @name: the workload
 * Return: true for pv, dmalayer, ghook, gpv, gdma.
 */
bool xenboot_work_iters(const char *name);

/**
 * xenboot_work_relaxed() - @list without the workloads a relaxed dom0 cannot
 * run (pv, dmalayer, gpv, gdma: Xen refuses them outside strict mode), into @buf.
 * Return: @buf ("" when nothing is left).
 */
char *xenboot_work_relaxed(const char *list, char *buf, size_t len);

/*
 * xenboot_patch_dir() - The folder of build.sh and boot.sh: $IOB_XEN_PATCHES,
 * else the source tree's hv-patches/xen-4.17. NULL when build.sh is not there.
 */
const char *xenboot_patch_dir(void);

/**
 * xenboot_build() - build.sh --out @out --counters @counters [--jobs @jobs].
 * @counters: "on" or "off"
 * @jobs:     NULL: build.sh's default (all CPUs)
 * Return: build.sh's exit status (0 built or reused, 1 failed, 2 bad
 * usage), or -errno when it could not run.
 */
int xenboot_build(const char *patches, const char *out, const char *counters,
		  const char *jobs);

/* The Xen version build.sh fetched into @out ("unknown" before a fetch), in @buf. */
const char *xenboot_version(const char *out, char *buf, size_t len);

struct xenboot_cfg {
	const char *patches;	/* xenboot_patch_dir() */
	const char *xen;	/* the hypervisor: <build out>/xen-counters-on */
	const char *work_dir;	/* scratch for the initramfs and disks */
	const char *log;	/* the serial console log, kept */
	const char *work_list;	/* dom0 workloads, xenboot_check_work()'s format */
	const char *xen_args;	/* a tuning's words */
	const char *smp;	/* QEMU CPUs, 1..8 */
	const char *timeout_s;
	int relaxed;		/* expect "Dom0 mode: Relaxed", not Strict */
};

/**
 * xenboot_run() - One boot: boot.sh, then its console log read.
 * @lg:  the log's dumps (about 1 MiB: callers keep it static)
 * @err: why the boot does not count, naming the log
 *
 * Return: 0 when boot.sh ran the dom0 to its end, the log parses, AMD-Vi
 * was enabled and dom0 strict (relaxed when @cfg->relaxed); -EIO when boot.sh failed (its status in
 * @err); -EINVAL for a malformed log or a missing banner; -errno when
 * boot.sh could not run. The dumps' own workload statuses (wl_rc) are
 * the caller's to judge.
 */
int xenboot_run(const struct xenboot_cfg *cfg, struct xenlog *lg, char *err, size_t errlen);

#endif /* IOB_XENBOOT_H */
