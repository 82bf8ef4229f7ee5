// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob: the iommubench command. `iob help` lists the subcommands; every
 * subcommand takes --help. Exit codes: 0 done, 1 failed while running,
 * 2 bad usage or input (nothing was written).
 */
#include <stdio.h>
#include <string.h>

#include <iob/warn.h>

#include "iob.h"
#include "util.h"

static const struct iob_cmd cmds[] = {
	{ "amdvi", cmd_amdvi, "look inside AMD-Vi encodings: PTEs, commands, walks" },
	{ "micro", cmd_micro, "micro-benchmarks: pgtable, reach, cmdq, inval" },
	{ "dmamap", cmd_dmamap, "Linux's dma_map_benchmark, over the model (strict and lazy)" },
	{ "workload", cmd_workload, "a guest workload (netrx, blk, netback, pingpong, ...) under a strategy" },
	{ "matrix", cmd_matrix, "run a list of configurations into a results folder, with plots" },
	{ "compare", cmd_compare, "compare run folders: ratio, 95% interval, significance per row" },
	{ "fleet", cmd_fleet, "the matrix on several hosts over ssh (GNU parallel), then a compare" },
	{ "plot", cmd_plot, "draw a results folder's CSVs (gnuplot: PNG and SVG)" },
	{ "qemu", cmd_qemu, "a Linux guest behind QEMU's AMD IOMMU: run, fidelity, build" },
	{ "xen", cmd_xen, "the patched Xen 4.17 under QEMU: build, run, import counters" },
	{ "host", cmd_host, "this machine's real IOMMU through its kernel: info, vfio, phases, pmu" },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void print_help(FILE *f)
{
	fprintf(f, "usage: iob COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "  %-10s %s\n", "help", "this list, or `iob help COMMAND`");
	fprintf(f, "  %-10s %s\n", "--version", "the version (git describe of the source)");
	fprintf(f, "\nEvery command takes --help. Exit status: 0 ok, 1 failure, 2 bad usage.\n");
}

static const struct iob_cmd *find(const char *name)
{
	for (size_t i = 0; i < NCMDS; i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

static void report_warnings(void)
{
	const char *m;

	if (!iob_warn_count())
		return;
	fprintf(stderr, "iob: %llu internal check(s) failed:\n",
		(unsigned long long)iob_warn_count());
	for (size_t i = 0; (m = iob_warn_message(i)); i++)
		fprintf(stderr, "  %s\n", m);
}

int main(int argc, char **argv)
{
	const struct iob_cmd *c;
	int ret;

	if (argc < 2) {
		print_help(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("iob (iommubench) %s\n", iob_version());
		return 0;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		if (argc > 2 && strcmp(argv[1], "help") == 0) {
			char help[] = "--help";
			char *sub[] = { argv[2], help, NULL };

			c = find(argv[2]);
			if (!c)
				usage_error("help: unknown command '%s' (see `iob help`)", argv[2]);
			return c->run(2, sub);
		}
		print_help(stdout);
		return 0;
	}
	/* One spelling of each flag: "--io_size" is "--io-size" (values untouched). */
	for (int i = 2; i < argc && strcmp(argv[i], "--"); i++)
		if (!strncmp(argv[i], "--", 2))
			for (char *p = argv[i] + 2; *p && *p != '='; p++)
				if (*p == '_')
					*p = '-';
	c = find(argv[1]);
	if (!c && !strcmp(argv[1], "strategy"))
		usage_error("'strategy' is now `iob workload --workload pingpong` "
			    "(--batch is --budget, --buffers is --ring)");
	if (!c)
		usage_error("unknown command '%s' (see `iob help`)", argv[1]);
	ret = c->run(argc - 1, argv + 1);
	report_warnings();
	if (!ret && iob_warn_count())
		ret = 1;
	return ret;
}
