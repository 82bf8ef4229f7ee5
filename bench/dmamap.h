/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Linux's dma_map_benchmark, as iob dmamap (on the model) and iob host
 * dmamap (on the running kernel, through the dmabench module) both take
 * it: the same flags, limits and summary lines, so one command line runs
 * on both and the outputs compare line by line.
 */
#ifndef IOB_BENCH_DMAMAP_H
#define IOB_BENCH_DMAMAP_H

#include <stdbool.h>
#include <stdint.h>

#include <iob/flush.h>
#include <iob/inval.h>

/* Limits of tools/testing/selftests/dma/dma_map_benchmark.c */
#define DMA_MAP_MAX_THREADS		1024
#define DMA_MAP_MAX_SECONDS		300
#define DMA_MAP_MAX_TRANS_DELAY		(10 * 1000000L)
#define DMA_MAP_MAX_GRANULE		1024

/* getopt letters of the kernel tool's flags (and --ms as 'm'). */
#define DMAMAP_KERNEL_FLAGS "t:s:n:b:d:x:g:"

struct dm_opts {
	int threads, seconds, node, bits, dir, granule;
	long xdelay;
	enum flush_mode mode;		/* the model's; the kernel's is its domain type */
	enum inval_policy policy;
	bool np_cache;
	uint64_t run_ms;		/* --ms: instead of -s */
};

/* The kernel tool's defaults. */
#define DM_OPTS_LINUX ((struct dm_opts){ .threads = 1, .seconds = 20, .node = -1, .bits = 32, \
	.dir = 0, .granule = 1, .mode = FLUSH_STRICT, .policy = INVAL_MERGED })

/* The tool's names of -d 0, 1, 2. */
extern const char *const dmamap_dir_names[3];

/**
 * dmamap_kernel_flag() - Take one of the kernel tool's flags (-t -s -n -b
 * -d -x -g, and --ms given as 'm') into @o, with the tool's limits and
 * messages; exits 2 on a value out of range.
 * @c:   the getopt letter
 * @arg: its argument
 * @o:   the options
 *
 * Return: true when @c was one of them.
 */
bool dmamap_kernel_flag(int c, const char *arg, struct dm_opts *o);

#endif
