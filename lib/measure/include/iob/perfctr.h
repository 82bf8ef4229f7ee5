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
 * perfctr_open() - Open and start user-space cycles and instructions of
 * the calling thread, as one group.
 * @p: the counters; on error nothing is left open and both descriptors
 *     are -1, so perfctr_close() is harmless
 *
 * Return: 0, or -errno of perf_event_open(2) or of enabling the group
 * (-ENOENT, -EOPNOTSUPP: no such counters on this host; -EACCES, -EPERM:
 * perf_event_paranoid forbids it).
 */
int perfctr_open(struct perfctr *p);

/**
 * perfctr_close() - Close the counters; the descriptors become -1.
 * @p: the counters (closing twice is harmless)
 */
void perfctr_close(struct perfctr *p);

/**
 * perfctr_read() - The current counts (the group is read in one go).
 * @p: the counters
 * @s: cycles and instructions since perfctr_open()
 *
 * Return: 0, or -EIO when the read is short or fails.
 */
int perfctr_read(const struct perfctr *p, struct perfctr_sample *s);

/**
 * perfctr_probe() - Say once whether this host has the counters, for a
 * run's metadata.
 * @buf: filled with "cycles,instructions" or "unavailable (<reason>)"
 * @len: size of @buf
 *
 * Return: @buf.
 */
const char *perfctr_probe(char *buf, unsigned len);

/*
 * The counters a family run records (docs/csv-schema.md: hw_* columns):
 * cycles, instructions, last-level cache misses, dTLB read misses, each
 * opened on its own so that a host with some of them still counts those.
 */
enum perfctr_event {
	PERFCTR_CYCLES,
	PERFCTR_INSTRUCTIONS,
	PERFCTR_CACHE_MISSES,
	PERFCTR_DTLB_MISSES,
	PERFCTR_EVENT_NR
};

struct perfctr_set {
	int fd[PERFCTR_EVENT_NR];	/* -1: not counted here */
	int err[PERFCTR_EVENT_NR];	/* why not: -errno of perf_event_open(2) */
};

/**
 * perfctr_set_open() - Open and start the PERFCTR_EVENT_NR counters of the
 * calling process (user space, inherited by threads it creates later).
 * @s: filled; an event the host cannot count has fd -1 and its -errno in err
 *
 * Return: the number of events counting (0: none; the reasons in @s->err).
 */
int perfctr_set_open(struct perfctr_set *s);

/**
 * perfctr_set_read() - The counts so far.
 * @s:   the set
 * @out: per event, the count, or -1 where the event is not counted
 */
void perfctr_set_read(const struct perfctr_set *s, int64_t out[PERFCTR_EVENT_NR]);

/**
 * perfctr_set_close() - Close every counter of @s (twice is harmless).
 * @s: the set
 */
void perfctr_set_close(struct perfctr_set *s);

/**
 * perfctr_event_name() - The CSV column of an event: "hw_cycles", ...
 * @e: the event
 *
 * Return: a static string.
 */
const char *perfctr_event_name(enum perfctr_event e);

#endif /* IOB_PERFCTR_H */
