/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The iob command: one binary, subcommands. */
#ifndef IOB_BENCH_IOB_H
#define IOB_BENCH_IOB_H

#include <stdbool.h>
#include <stdio.h>

struct iob_cmd {
	const char *name;
	int (*run)(int argc, char **argv);	/* argv[0] is the subcommand */
	const char *summary;
};

/**
 * cmd_amdvi() - `iob amdvi`: AMD-Vi formats (decode, pte, walk, inv-pages).
 * @argc: arguments, with the subcommand
 * @argv: argv[0] is the subcommand
 *
 * Return: the exit status (bad usage exits 2 from inside).
 */
int cmd_amdvi(int argc, char **argv);
/**
 * cmd_micro() - `iob micro FAMILY`: one benchmark family.
 * @argc: arguments, with the subcommand
 * @argv: argv[0] is the subcommand
 *
 * Return: the exit status (bad usage exits 2 from inside).
 */
int cmd_micro(int argc, char **argv);
/**
 * cmd_dmamap() - `iob dmamap`: Linux's dma_map_benchmark over the model.
 * @argc: arguments, with the subcommand
 * @argv: argv[0] is the subcommand
 *
 * Return: the exit status (bad usage exits 2 from inside).
 */
int cmd_dmamap(int argc, char **argv);
/**
 * cmd_host() - `iob host`: the real IOMMU of this machine.
 * @argc: arguments, with the subcommand
 * @argv: argv[0] is the subcommand
 *
 * Return: the exit status (bad usage exits 2 from inside).
 */
int cmd_host(int argc, char **argv);
/**
 * cmd_matrix() - `iob matrix`: the benchmark matrix, with repetitions.
 * @argc: arguments, with the subcommand
 * @argv: argv[0] is the subcommand
 *
 * Return: the exit status (bad usage exits 2 from inside).
 */
int cmd_matrix(int argc, char **argv);
/**
 * cmd_plot() - `iob plot`: the figures of a run folder.
 * @argc: arguments, with the subcommand
 * @argv: argv[0] is the subcommand
 *
 * Return: the exit status (bad usage exits 2 from inside).
 */
int cmd_plot(int argc, char **argv);
/**
 * cmd_compare() - `iob compare`: two or more runs, figure by figure.
 * @argc: arguments, with the subcommand
 * @argv: argv[0] is the subcommand
 *
 * Return: the exit status (bad usage exits 2 from inside).
 */
int cmd_compare(int argc, char **argv);
/**
 * compare_write() - `iob compare RUNS...` (5% threshold, p < 0.05) to @out.
 * @runs:  run folders, the first the baseline
 * @nruns: how many, at least 2
 * @fmt:   0 text, 1 Markdown, 2 CSV
 * @ignore: key columns left out of the join ("impl"), or NULL
 * @out:   where the table goes
 *
 * Return: the command's exit status, 0 or 1 (a significant regression);
 * exits 2 on bad input, as the command does.
 */
int compare_write(char **runs, int nruns, int fmt, const char *ignore, FILE *out);
/**
 * cmd_fleet() - `iob fleet`: the matrix on many hosts over ssh.
 * @argc: arguments, with the subcommand
 * @argv: argv[0] is the subcommand
 *
 * Return: the exit status (bad usage exits 2 from inside).
 */
int cmd_fleet(int argc, char **argv);
/**
 * iob_version() - `iob --version`'s string.
 *
 * Return: git describe of the source this iob was built from (static).
 */
const char *iob_version(void);
/**
 * cmd_qemu() - `iob qemu`: a Linux guest behind QEMU's AMD IOMMU.
 * @argc: arguments, with the subcommand
 * @argv: argv[0] is the subcommand
 *
 * Return: the exit status (bad usage exits 2 from inside).
 */
int cmd_qemu(int argc, char **argv);
/**
 * cmd_workload() - `iob workload`: one guest workload under one strategy and tuning.
 * @argc: arguments, with the subcommand
 * @argv: argv[0] is the subcommand
 *
 * Return: the exit status (bad usage exits 2 from inside).
 */
int cmd_workload(int argc, char **argv);
/**
 * cmd_xen() - `iob xen`: the Xen 4.17 series built and booted under QEMU.
 * @argc: arguments, with the subcommand
 * @argv: argv[0] is the subcommand
 *
 * Return: the exit status (bad usage exits 2 from inside).
 */
int cmd_xen(int argc, char **argv);

#endif
