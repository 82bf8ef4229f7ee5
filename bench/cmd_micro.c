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

/* A family's options on the command line: its matrix keys, '_' spelled '-' (iob.c turns
 * "--io_size" into "--io-size", so either spelling works). */
static void key_flag(const char *key, char *buf, size_t len)
{
	snprintf(buf, len, "%s", key);
	for (char *p = buf; *p; p++)
		if (*p == '_')
			*p = '-';
}

static void family_help(FILE *f, const struct family *fam)
{
	char flag[64];

	fprintf(f, "  %-8s %s\n", fam->name, fam->summary);
	for (const struct family_key *k = fam->keys; k->name; k++) {
		key_flag(k->name, flag, sizeof(flag));
		fprintf(f, "           --%-12s %s\n", flag, k->help);
	}
}

static void common_help(FILE *f)
{
	fprintf(f, "\ncommon options:\n"
		"  --out DIR    also write the family's CSVs into DIR (created)\n"
		"  --seed N     seed for random layouts and streams (default 1)\n"
		"  --cpu N      pin to CPU N (default: the highest allowed CPU)\n"
		"  --cost FILE  hardware cost model parameters (docs/cost-model.md)\n"
		"  --repeat N   run N times, each in a fresh process; the CSV row is the median\n"
		"               repetition's, with the headline figure's median, 95%% interval,\n"
		"               spread and values appended (docs/csv-schema.md); default 1\n"
		"Options are spelled with '-' (--io-size); '_' (--io_size, as in matrix files)\n"
		"is accepted too.\n");
}

static void micro_help(FILE *f)
{
	fprintf(f, "usage: iob micro FAMILY [--KEY VALUE ...] [--out DIR] [--seed N] [--cpu N]\n"
		"                  [--repeat N]\n\n");
	for (size_t i = 0; families[i]; i++)
		family_help(f, families[i]);
	common_help(f);
}

enum { OPT_OUT = 1000, OPT_SEED, OPT_CPU, OPT_HELP, OPT_COST, OPT_REPEAT, OPT_KEY0 };

struct micro_run {
	const char *out;
	uint64_t seed;
	unsigned repeat;
	int cpu;
};

/*
 * Parse @fam's options from @argv (argv[0]: the command). @name is what
 * errors call the command ("micro pgtable", "workload"). Return: 1 when
 * --help was printed, 0 otherwise; exits 2 on bad input.
 */
static int micro_parse(const char *name, const struct family *fam, int argc, char **argv,
		       void *o, struct micro_run *r)
{
	static char flags[48][64];
	struct option opts[64];
	int c, n = 0;

	for (const struct family_key *k = fam->keys; k->name && n < 48; k++, n++) {
		key_flag(k->name, flags[n], sizeof(flags[n]));
		opts[n] = (struct option){ flags[n], required_argument, NULL, OPT_KEY0 + n };
	}
	opts[n++] = (struct option){ "out", required_argument, NULL, OPT_OUT };
	opts[n++] = (struct option){ "seed", required_argument, NULL, OPT_SEED };
	opts[n++] = (struct option){ "cpu", required_argument, NULL, OPT_CPU };
	opts[n++] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	opts[n++] = (struct option){ "cost", required_argument, NULL, OPT_COST };
	opts[n++] = (struct option){ "repeat", required_argument, NULL, OPT_REPEAT };
	opts[n] = (struct option){ 0 };
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		char err[256];

		switch (c) {
		case OPT_OUT: r->out = optarg; break;
		case OPT_SEED: r->seed = parse_u64(optarg, "--seed"); break;
		case OPT_CPU: r->cpu = parse_cpu(optarg); break;
		case OPT_COST: bench_load_cost(optarg); break;
		case OPT_REPEAT: r->repeat = parse_repeat(optarg); break;
		case 'h':
		case OPT_HELP:
			printf("usage: iob %s [--KEY VALUE ...] [--out DIR] [--seed N] [--cpu N] "
			       "[--repeat N]\n\n", name);
			family_help(stdout, fam);
			common_help(stdout);
			return 1;
		case ':':
			usage_error("%s: %s needs a value", name, argv[optind - 1]);
		case '?':
			usage_error("%s: unknown option '%s' (see `iob %s --help`)", name,
				    argv[optind - 1], name);
		default:
			if (fam->set(o, fam->keys[c - OPT_KEY0].name, optarg, err, sizeof(err)))
				usage_error("%s: --%s: %s", name, flags[c - OPT_KEY0], err);
		}
	}
	if (optind < argc)
		usage_error("%s: unexpected argument '%s'", name, argv[optind]);
	{
		char err[256];

		if (fam->check && fam->check(o, err, sizeof(err)))
			usage_error("%s: %s", name, err);
	}
	return 0;
}

static int family_main(const char *name, const struct family *fam, int argc, char **argv)
{
	struct micro_run r = { .seed = 1, .repeat = 1, .cpu = -1 };
	struct bench_ctx ctx;
	struct csv *csv, *cdf;
	void *o = calloc(1, fam->opts_size);
	int ret;

	if (!o)
		run_error("out of memory");
	fam->defaults(o);
	if (micro_parse(name, fam, argc, argv, o, &r)) {
		free(o);
		return 0;
	}
	if (r.out && mkdir(r.out, 0777) && errno != EEXIST)
		usage_error("--out: cannot create %s: %s", r.out, strerror(errno));
	bench_ctx_init(&ctx, argc, argv, r.seed, r.cpu);
	ctx.outdir = r.out;
	ctx.table = stdout;
	ctx.repeat = r.repeat;
	bench_print_header(&ctx, stdout);
	family_csv_open(&ctx, fam, &csv, &cdf);
	ret = rep_run(&ctx, fam, &o, 1, r.repeat, csv, cdf, NULL) ? 1 : 0;
	bench_csv_close(csv);
	bench_csv_close(cdf);
	free(o);
	return ret;
}

int cmd_micro(int argc, char **argv)
{
	const struct family *fam;
	char name[64];

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		micro_help(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	fam = family_find(argv[1]);
	if (!fam)
		usage_error("micro: unknown family '%s' (see `iob micro --help`)", argv[1]);
	snprintf(name, sizeof(name), "micro %s", fam->name);
	return family_main(name, fam, argc - 1, argv + 1);
}

/* iob workload: the workload family under its own command name, help and errors. */
int cmd_workload(int argc, char **argv)
{
	return family_main("workload", &family_workload, argc, argv);
}
