// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob plot RUN_DIR: draw a run folder's CSVs with the gnuplot scripts of
 * plot/ (PNG and SVG, next to the CSVs). Every script picks its columns
 * by header name, so any CSV in the suite's format plots, whatever wrote
 * it (the model, the QEMU harness, the Xen counters).
 *
 * The scripts are looked up in $IOB_PLOT_DIR, then the source tree this
 * binary was built from, then the installed data directory.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iob.h"
#include "util.h"

/* CSV that must exist -> script that draws it. */
static const struct {
	const char *csv;
	const char *script;
} plots[] = {
	{ "pgtable.csv", "pgtable.gp" },
	{ "pgtable_cdf.csv", "pgtable_cdf.gp" },
	{ "reach.csv", "reach.gp" },
	{ "cmdq.csv", "cmdq.gp" },
	{ "inval.csv", "inval.gp" },
	{ "dmamap_cdf.csv", "dmamap_cdf.gp" },
};

static bool is_file(const char *p)
{
	struct stat st;

	return !stat(p, &st) && S_ISREG(st.st_mode);
}

static const char *plot_dir(void)
{
	static const char *const candidates[] = { IOB_SRC_PLOT_DIR, IOB_DATA_PLOT_DIR };
	const char *env = getenv("IOB_PLOT_DIR");
	static char probe[4200];

	if (env && *env)
		return env;
	for (size_t i = 0; i < 2; i++) {
		snprintf(probe, sizeof(probe), "%s/common.gp", candidates[i]);
		if (is_file(probe))
			return candidates[i];
	}
	return NULL;
}

static int run_gnuplot(const char *dir, const char *scripts, const char *script, bool quiet)
{
	char setup[8600], path[4200];
	pid_t pid;
	int st;

	snprintf(path, sizeof(path), "%s/%s", scripts, script);
	/* Quotes in paths would break the gnuplot string: refuse them. */
	if (strchr(dir, '\'') || strchr(scripts, '\''))
		return -EINVAL;
	snprintf(setup, sizeof(setup), "dir='%s'; lib='%s'", dir, scripts);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char log[4400];

		/* Quiet (inside a matrix run): gnuplot's chatter goes to plot.log. */
		snprintf(log, sizeof(log), "%s/plot.log", dir);
		if (quiet && (!freopen("/dev/null", "w", stdout) || !freopen(log, "a", stderr)))
			_exit(126);
		execlp("gnuplot", "gnuplot", "-e", setup, path, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return -ENOENT;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

int cmd_plot_dir(const char *dir, bool quiet);

/* Returns the number of scripts that failed; 0 when all drew. */
int cmd_plot_dir(const char *dir, bool quiet)
{
	const char *scripts = plot_dir();
	int failed = 0, drawn = 0;

	if (!scripts) {
		fprintf(stderr, "iob: plot: gnuplot scripts not found (set IOB_PLOT_DIR to the "
			"project's plot/ folder)\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(plots) / sizeof(plots[0]); i++) {
		char csv[4400];
		int ret;

		snprintf(csv, sizeof(csv), "%s/%s", dir, plots[i].csv);
		if (!is_file(csv))
			continue;
		ret = run_gnuplot(dir, scripts, plots[i].script, quiet);
		if (ret == -ENOENT) {
			fprintf(stderr, "iob: plot: gnuplot is not installed (Debian: gnuplot-nox)\n");
			return 1;
		}
		if (ret) {
			fprintf(stderr, "iob: plot: %s failed on %s\n", plots[i].script, csv);
			failed++;
		} else {
			drawn++;
		}
	}
	if (!quiet)
		fprintf(stderr, "iob: plot: %d script(s) drew into %s\n", drawn, dir);
	return failed;
}

int cmd_plot(int argc, char **argv)
{
	struct stat st;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: iob plot RUN_DIR\n\nDraws every known CSV in RUN_DIR as PNG and "
		       "SVG (gnuplot, scripts in plot/).\n");
		return 0;
	}
	if (argc != 2)
		usage_error("plot: expected exactly one RUN_DIR (see `iob plot --help`)");
	if (stat(argv[1], &st) || !S_ISDIR(st.st_mode))
		usage_error("plot: '%s' is not a directory", argv[1]);
	return cmd_plot_dir(argv[1], false) ? 1 : 0;
}
