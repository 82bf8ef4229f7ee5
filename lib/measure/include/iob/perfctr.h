/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * perfctr: hardware cycles and instructions of the calling thread through
 * perf_event_open(2), where the host has them. Many virtual machines (this
 * suite's development machine among them) expose none: perfctr_open() then
 * fails with the reason, and runs record it once in their metadata.
 */
#ifndef IOB_PERFCTR_H
#define IOB_PERFCTR_H

#include <stdbool.h>
#include <stdint.h>

struct perfctr {
	int fd_cycles;		/* group leader */
	int fd_instr;
};

struct perfctr_sample {
	uint64_t cycles;
	uint64_t instructions;
};

/**
 * perfctr_open() - Open user-space cycles + instructions for this thread.
 * Return: 0, or -errno (-ENOENT/-EOPNOTSUPP: no such counters on this host;
 * -EACCES: perf_event_paranoid forbids it).
 */
int perfctr_open(struct perfctr *p);
void perfctr_close(struct perfctr *p);
/* Current counts (the group is read in one go). Return: 0 or -errno. */
int perfctr_read(const struct perfctr *p, struct perfctr_sample *s);

/*
 * perfctr_probe() - One line for the metadata: "perf: cycles,instructions"
 * or "perf: unavailable (<reason>)".
 */
const char *perfctr_probe(char *buf, unsigned len);

#endif /* IOB_PERFCTR_H */
