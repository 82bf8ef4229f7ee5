// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob micro FAMILY: one micro-benchmark family, a table on stdout and,
 * with --out DIR, its CSVs in DIR (written whole or not at all).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <iob/iopt.h>

#include "bench.h"
#include "iob.h"
#include "util.h"

static const char micro_usage[] =
	"usage: iob micro FAMILY [OPTIONS]\n"
	"\n"
	"families:\n"
	"  pgtable   map and unmap cost, tuned vs baseline page table\n"
	"            --sizes 4K,2M,1G  --counts 1,16,256,4096  --layout contig|random|both\n"
	"\n"
	"common options:\n"
	"  --rounds N   timed rounds per case\n"
	"  --out DIR    also write the family's CSVs into DIR (created)\n"
	"  --seed N     seed for random layouts (default: fixed, 1)\n"
	"  --cpu N      pin to CPU N (default: the highest allowed CPU)\n";

static void parse_list_u(const char *s, unsigned *out, unsigned *n, unsigned max,
			 const char *what)
{
	char *dup = strdup(s), *save = NULL, *t;

	*n = 0;
	for (t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		uint64_t v = parse_u64(t, what);

		if (*n == max)
			usage_error("%s: at most %u values", what, max);
		if (!v || v > 1u << 20)
			usage_error("%s: %s is not in 1..1048576", what, t);
		out[(*n)++] = (unsigned)v;
	}
	free(dup);
	if (!*n)
		usage_error("%s: empty list", what);
}

void bench_ctx_init(struct bench_ctx *ctx, int argc, char **argv, uint64_t seed, int cpu)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->cpu = bench_pin(cpu);
	cycles_init(NULL);
	ctx->seed = seed;
	ctx->scale = 1.0;
	results_env_collect(&ctx->env, argc, argv, seed);
}

int cmd_micro(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sizes", required_argument, NULL, 's' },
		{ "counts", required_argument, NULL, 'c' },
		{ "layout", required_argument, NULL, 'l' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "seed", required_argument, NULL, 'S' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct micro_pgtable_opts pg;
	struct bench_ctx ctx;
	const char *family, *out = NULL;
	uint64_t seed = 1;
	int cpu = -1, c;
	unsigned rounds = 0;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(micro_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	family = argv[1];
	if (strcmp(family, "pgtable"))
		usage_error("micro: unknown family '%s' (see `iob micro --help`)", family);
	micro_pgtable_defaults(&pg);

	optind = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': {
			char *dup = strdup(optarg), *save = NULL, *t;

			pg.pgsizes = 0;
			for (t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				unsigned lg2 = parse_page_size(t, "--sizes");

				if (lg2 != 12 && lg2 != 21 && lg2 != 30)
					usage_error("--sizes: %s is not 4K, 2M or 1G", t);
				pg.pgsizes |= 1ULL << lg2;
			}
			free(dup);
			break;
		}
		case 'c':
			parse_list_u(optarg, pg.counts, &pg.ncounts, 16, "--counts");
			break;
		case 'l':
			pg.contig = !strcmp(optarg, "contig") || !strcmp(optarg, "both");
			pg.random = !strcmp(optarg, "random") || !strcmp(optarg, "both");
			if (!pg.contig && !pg.random)
				usage_error("--layout: '%s' is not contig, random or both", optarg);
			break;
		case 'r':
			rounds = (unsigned)parse_u64(optarg, "--rounds");
			if (!rounds || rounds > 1000000)
				usage_error("--rounds: %s is not in 1..1000000", optarg);
			break;
		case 'o':
			out = optarg;
			break;
		case 'S':
			seed = parse_u64(optarg, "--seed");
			break;
		case 'C': {
			uint64_t v = parse_u64(optarg, "--cpu");

			if (v > 4095)
				usage_error("--cpu: %s is out of range", optarg);
			cpu = (int)v;
			break;
		}
		case 'h':
			fputs(micro_usage, stdout);
			return 0;
		default:
			usage_error("micro: bad option (see `iob micro --help`)");
		}
	}
	if (optind + 1 < argc)
		usage_error("micro: unexpected argument '%s'", argv[optind + 1]);
	if (out && mkdir(out, 0777) && errno != EEXIST)
		usage_error("--out: cannot create %s: %s", out, strerror(errno));

	bench_ctx_init(&ctx, argc, argv, seed, cpu);
	ctx.outdir = out;
	ctx.table = stdout;
	if (rounds)
		pg.rounds = rounds;
	fprintf(stdout, "# tsc %llu kHz (%s), step %llu cycles, probe overhead %.1f cycles, cpu %d\n",
		(unsigned long long)ctx.env.tsc_khz, ctx.env.tsc_source,
		(unsigned long long)cycles_info()->quantum_cyc, cycles_info()->overhead_cyc, ctx.cpu);
	return micro_pgtable(&ctx, &pg);
}
