/* SPDX-License-Identifier: GPL-2.0-or-later */
/* iob host: what its subcommands share (bench/cmd_host*.c). */
#ifndef IOB_BENCH_HOST_CMDS_H
#define IOB_BENCH_HOST_CMDS_H

#include <jansson.h>
#include <stdio.h>

#include <iob/hostinfo.h>
#include <iob/pathctr.h>
#include <iob/csv.h>

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

/**
 * host_check_device() - Refuse (exit 2, naming why) a device iob host must
 * not touch: absent, holding a mounted filesystem (the root one above
 * all), in no IOMMU group, or bound to a driver other than vfio-pci
 * without @bind.
 * @bdf:  the PCI function
 * @bind: --bind was given
 * @pci:  what sysfs says of it
 */
void host_check_device(const char *bdf, bool bind, struct hostinfo_pci *pci);

/**
 * host_rec_cols() - The header of path-record rows: @key_cols, then path,
 * count, total_cyc, min_cyc, max_cyc, mean_cyc, mean_ns and the log2
 * histogram (the record of docs/csv-schema.md).
 * @key_cols: the configuration columns
 *
 * Return: a static buffer, valid until the next call.
 */
const char *host_rec_cols(const char *key_cols);

/**
 * host_write_rec() - One path-record row (nothing when @c is NULL or the
 * record is empty).
 * @c:    the CSV
 * @key:  values of the configuration columns
 * @path: the record's name
 * @rec:  the record
 */
void host_write_rec(struct csv *c, const char *key, const char *path,
		    const struct pathctr_rec *rec);

struct bench_ctx;

/**
 * host_ctx_init() - A run context for a command that starts others: the
 * TSC found, the environment collected, nothing pinned (a child would
 * inherit the pinning).
 * @ctx:  filled
 * @argc: the command line recorded
 * @argv: the command line recorded
 */
void host_ctx_init(struct bench_ctx *ctx, int argc, char **argv);

/* The subcommands in files of their own. */
int host_vfio_main(int argc, char **argv);
int host_trace_main(int argc, char **argv);
int host_calibrate_main(int argc, char **argv);
int host_run_main(int argc, char **argv);
int host_dmamap_main(int argc, char **argv);
int host_reach_main(int argc, char **argv);

#endif
