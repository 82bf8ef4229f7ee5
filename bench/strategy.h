/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The strategy loop and what workloads share with it. */
#ifndef IOB_BENCH_STRATEGY_H
#define IOB_BENCH_STRATEGY_H

#include <stdbool.h>
#include <stdint.h>

#include <iob/csv.h>
#include <iob/dps.h>
#include <iob/hv.h>

struct strategy_opts {
	enum hv_strategy strategy;
	enum flush_mode flush;
	enum inval_policy policy;
	enum iopt_impl impl;
	bool superpages;
	bool attack;
	uint64_t io_bytes;
	uint64_t ios;
	uint64_t batch;
	uint64_t buffers;
	uint64_t guest_mib;
};

/* A built guest: hypervisor, domain, device, DMA API. */
struct strategy_env {
	struct hv *hv;
	domid_t dom;
	uint16_t devid;
	struct dps *dps;
};

void strategy_defaults(void *opts);
int strategy_set(void *opts, const char *key, const char *val, char *err, size_t len);
int strategy_setup(const struct strategy_opts *o, uint64_t seed, struct strategy_env *e);
void strategy_teardown(struct strategy_env *e);
/* Path counter records, summed over threads, as rows after @key's columns. */
void strategy_write_paths(struct csv *c, const char *key);
/* The header of such rows: @prefix columns, then the record. */
const char *strategy_paths_cols(const char *prefix);

#endif
