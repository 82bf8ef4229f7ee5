/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * host: what the harnesses need from the machine they run on, beside the
 * TSC: a monotonic clock in seconds (run times, timeouts, progress), a
 * file test, and running a program to its end. The iob command and the
 * QEMU and Xen harnesses of guest-workloads/ share these.
 */
#ifndef IOB_HOST_H
#define IOB_HOST_H

#include <stdbool.h>

/* host_now_s() - CLOCK_MONOTONIC in seconds. */
double host_now_s(void);

/* host_is_file() - True when @path names a regular file (after symlinks). */
bool host_is_file(const char *path);

/**
 * host_run() - Run @argv (PATH searched) and wait for it.
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
int host_run(char *const argv[], const char *out_path, bool quiet);

#endif /* IOB_HOST_H */
