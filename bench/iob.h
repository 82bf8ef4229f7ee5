/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The iob command: one binary, subcommands. */
#ifndef IOB_BENCH_IOB_H
#define IOB_BENCH_IOB_H

#include <stdint.h>

struct iob_cmd {
	const char *name;
	int (*run)(int argc, char **argv);	/* argv[0] is the subcommand */
	const char *summary;
};

int cmd_amdvi(int argc, char **argv);
int cmd_micro(int argc, char **argv);
int cmd_dmamap(int argc, char **argv);
int cmd_host(int argc, char **argv);
int cmd_matrix(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_qemu(int argc, char **argv);
int cmd_strategy(int argc, char **argv);
int cmd_workload(int argc, char **argv);
int cmd_xen(int argc, char **argv);

struct bench_ctx;
/* Pin, find the TSC, collect the environment recorded with results. */
void bench_ctx_init(struct bench_ctx *ctx, int argc, char **argv, uint64_t seed, int cpu);
#include <stdio.h>
void bench_print_header(const struct bench_ctx *ctx, FILE *f);
/* --cost FILE: load the cost model every IOMMU of this run uses (exit 2 on errors). */
void bench_load_cost(const char *path);

#endif
