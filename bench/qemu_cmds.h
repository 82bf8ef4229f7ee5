/* SPDX-License-Identifier: GPL-2.0-or-later */
/* iob qemu: what its subcommands share (bench/cmd_qemu*.c). */
#ifndef IOB_BENCH_QEMU_CMDS_H
#define IOB_BENCH_QEMU_CMDS_H

#include <stdbool.h>
#include <stddef.h>

#include "qguest.h"

/**
 * qemu_guest_build() - Build the guest (or find it built); exits 2 when it
 * cannot be built here (missing packages, not root) and 1 on a failure.
 * @g:     its kernel, initramfs and kernel version
 * @force: rebuild even when up to date
 */
void qemu_guest_build(struct qguest *g, bool force);

/**
 * qemu_scratch_make() - A scratch folder for disk images and raw logs, on
 * tmpfs when there is one, removed at exit whatever the exit.
 * @dir: its path
 * @len: the size of @dir
 */
void qemu_scratch_make(char *dir, size_t len);

/**
 * qemu_scratch_remove() - Remove the scratch folder now (idempotent).
 */
void qemu_scratch_remove(void);

/**
 * qemu_host_main() - iob qemu host: iob host run inside the guest, its
 * windows checked against QEMU's trace (bench/cmd_qemu_host.c).
 * @argc: words, argv[0] "host"
 * @argv: the words
 *
 * Return: the exit status.
 */
int qemu_host_main(int argc, char **argv);

#endif
