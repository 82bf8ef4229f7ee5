// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob micro FAMILY: one benchmark family, a table on stdout and, with
 * --out DIR, its CSVs in DIR (each written whole or not at all). A
 * family's options are its matrix keys: `--sizes 4K,2M` on the command
 * line is `sizes=4K,2M` in a matrix file.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"
#include "iob.h"
#include "repeat.h"
#include "util.h"

static void micro_help(FILE *f)
{
	fprintf(f, "usage: iob micro FAMILY [--KEY VALUE ...] [--out DIR] [--seed N] [--cpu N]\n\n");
	for (size_t i = 0; families[i]; i++) {
		const struct family *fam = families[i];

		fprintf(f, "  %-8s %s\n", fam->name, fam->summary);
		for (const struct family_key *k = fam->keys; k->name; k++)
			fprintf(f, "           --%-12s %s\n", k->name, k->help);
	}
	fprintf(f, "\ncommon options:\n"
		"  --out DIR    also write the family's CSVs into DIR (created)\n"
		"  --seed N     seed for random layouts and streams (default 1)\n"
		"  --cpu N      pin to CPU N (default: the highest allowed CPU)\n"
		"  --cost FILE  hardware cost model parameters (docs/cost-model.md)\n"
		"  --repeat N   run N times, each in a fresh process; the CSV row is the median\n"
		"               repetition's, with the headline figure's median, 95%% interval,\n"
		"               spread and values appended (docs/csv-schema.md); default 1\n");
}

enum { OPT_OUT = 1000, OPT_SEED, OPT_CPU, OPT_HELP, OPT_COST, OPT_REPEAT, OPT_KEY0 };

int cmd_micro(int argc, char **argv)
{
	struct option opts[32];
	const struct family *fam;
	struct bench_ctx ctx;
	struct csv *csv, *cdf;
	const char *out = NULL;
	uint64_t seed = 1;
	unsigned repeat = 1;
	int cpu = -1, c, n = 0, ret;
	void *o;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		micro_help(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	fam = family_find(argv[1]);
	if (!fam)
		usage_error("micro: unknown family '%s' (see `iob micro --help`)", argv[1]);
	o = calloc(1, fam->opts_size);
	if (!o)
		run_error("out of memory");
	fam->defaults(o);

	for (const struct family_key *k = fam->keys; k->name && n < 27; k++, n++)
		opts[n] = (struct option){ k->name, required_argument, NULL, OPT_KEY0 + n };
	opts[n++] = (struct option){ "out", required_argument, NULL, OPT_OUT };
	opts[n++] = (struct option){ "seed", required_argument, NULL, OPT_SEED };
	opts[n++] = (struct option){ "cpu", required_argument, NULL, OPT_CPU };
	opts[n++] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	opts[n++] = (struct option){ "cost", required_argument, NULL, OPT_COST };
	opts[n++] = (struct option){ "repeat", required_argument, NULL, OPT_REPEAT };
	opts[n] = (struct option){ 0 };

	optind = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		char err[256];

		switch (c) {
		case OPT_OUT:
			out = optarg;
			break;
		case OPT_SEED:
			seed = parse_u64(optarg, "--seed");
			break;
		case OPT_CPU: {
			uint64_t v = parse_u64(optarg, "--cpu");

			if (v > 4095)
				usage_error("--cpu: %s is out of range", optarg);
			cpu = (int)v;
			break;
		}
		case OPT_HELP:
			micro_help(stdout);
			free(o);
			return 0;
		case OPT_COST:
			bench_load_cost(optarg);
			break;
		case OPT_REPEAT:
			repeat = parse_repeat(optarg);
			break;
		default:
			if (c < OPT_KEY0)
				usage_error("micro %s: bad option (see `iob micro --help`)", fam->name);
			if (fam->set(o, fam->keys[c - OPT_KEY0].name, optarg, err, sizeof(err)))
				usage_error("micro %s: --%s: %s", fam->name,
					    fam->keys[c - OPT_KEY0].name, err);
		}
	}
	if (optind + 1 < argc)
		usage_error("micro: unexpected argument '%s'", argv[optind + 1]);
	{
		char err[256];

		if (fam->check && fam->check(o, err, sizeof(err)))
			usage_error("micro %s: %s", fam->name, err);
	}
	if (out && mkdir(out, 0777) && errno != EEXIST)
		usage_error("--out: cannot create %s: %s", out, strerror(errno));

	bench_ctx_init(&ctx, argc, argv, seed, cpu);
	ctx.outdir = out;
	ctx.table = stdout;
	bench_print_header(&ctx, stdout);
	family_csv_open(&ctx, fam, &csv, &cdf);
	ret = rep_run(&ctx, fam, &o, 1, repeat, csv, cdf, NULL) ? 1 : 0;
	bench_csv_close(csv);
	bench_csv_close(cdf);
	free(o);
	return ret;
}

/* iob workload: a family with its own command name. */
static int family_cmd(const char *family, int argc, char **argv)
{
	char **av = calloc((size_t)argc + 2, sizeof(*av));
	int ret;

	if (!av)
		run_error("out of memory");
	av[0] = "micro";
	av[1] = (char *)family;
	for (int i = 1; i < argc; i++)
		av[i + 1] = argv[i];
	ret = cmd_micro(argc + 1, av);
	free(av);
	return ret;
}

int cmd_workload(int argc, char **argv)
{
	return family_cmd("workload", argc, argv);
}
