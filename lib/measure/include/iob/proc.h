/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * proc: what a process of the suite needs from the machine it runs on,
 * beside the TSC: a monotonic clock in seconds (run times, timeouts,
 * progress), a file test, and running a program to its end. The iob
 * command and the QEMU and Xen harnesses of guest-workloads/ share these.
 * (Not lib/host, which reads what the kernel says about its IOMMUs.)
 */
#ifndef IOB_PROC_H
#define IOB_PROC_H

#include <stdbool.h>

/**
 * proc_now_s() - CLOCK_MONOTONIC in seconds.
 *
 * Return: seconds since an arbitrary start, never going back.
 */
double proc_now_s(void);

/**
 * proc_is_file() - Does @path name a regular file (after symlinks)?
 * @path: the path
 *
 * Return: true or false (false also when it cannot be examined).
 */
bool proc_is_file(const char *path);

/**
 * proc_run() - Run @argv (PATH searched) and wait for it.
 * @argv:     program and arguments, NULL-terminated
 * @out_path: its stdout goes to this file (created or truncated); NULL: inherited
 * @quiet:    its stderr goes to /dev/null
 *
 * This process's buffered output is flushed first, so the child cannot
 * write it a second time.
 * Return: the program's exit status (126 when @out_path could not be
 * opened, 127 when it could not be run), 128 + signal number when a
 * signal ended it, or -errno when fork() or waitpid() failed.
 */
int proc_run(char *const argv[], const char *out_path, bool quiet);

#endif /* IOB_PROC_H */
