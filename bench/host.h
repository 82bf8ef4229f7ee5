/* SPDX-License-Identifier: GPL-2.0-or-later */
/* iob host: what its subcommands share (bench/cmd_host*.c). */
#ifndef IOB_BENCH_HOST_H
#define IOB_BENCH_HOST_H

#include <jansson.h>
#include <stdio.h>

#include <iob/hostinfo.h>

/**
 * host_info_scan_or_die() - hostinfo_scan() of @root; exits 1 naming the
 * file on malformed sysfs contents or lack of memory.
 * @root: "" for this machine
 * @h:    filled; free with hostinfo_free()
 */
void host_info_scan_or_die(const char *root, struct hostinfo *h);

/**
 * host_info_print() - The scan as text, for a person.
 * @h: the scan
 * @f: where
 */
void host_info_print(const struct hostinfo *h, FILE *f);

/**
 * host_info_json() - The scan as the host_info.json object.
 * @h: the scan
 *
 * Return: a new reference.
 */
json_t *host_info_json(const struct hostinfo *h);

/**
 * host_json_write() - Write @j to @path whole (temporary name, then
 * rename); exits 1 on failure.
 * @j:    the object
 * @path: the file
 */
void host_json_write(json_t *j, const char *path);

#endif
