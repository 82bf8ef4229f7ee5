/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Drawing a run folder (iob plot, and the commands that write run folders). */
#ifndef IOB_BENCH_PLOT_H
#define IOB_BENCH_PLOT_H

#include <stdbool.h>

/**
 * cmd_plot_dir() - Draw every known CSV of @dir with the gnuplot scripts
 * of plot/ (PNG and SVG next to them), deriving protection.csv from
 * workloads.csv first.
 * @quiet: gnuplot's output goes to @dir/plot.log, and no summary line
 *
 * Return: the number of scripts that failed (0: all drew), or 1 when the
 * scripts or gnuplot cannot be found. Problems are printed to stderr.
 */
int cmd_plot_dir(const char *dir, bool quiet);

#endif
