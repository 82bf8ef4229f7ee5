// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <iob/perfctr.h>

static int open_one(uint64_t config, int group)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_HARDWARE;
	a.config = config;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	a.read_format = PERF_FORMAT_GROUP;
	a.disabled = group < 0;
	return (int)syscall(SYS_perf_event_open, &a, 0, -1, group, 0);
}

int perfctr_open(struct perfctr *p)
{
	int err;

	p->fd_instr = -1;
	p->fd_cycles = open_one(PERF_COUNT_HW_CPU_CYCLES, -1);
	if (p->fd_cycles < 0) {
		err = -errno;
		p->fd_cycles = -1;
		return err;
	}
	p->fd_instr = open_one(PERF_COUNT_HW_INSTRUCTIONS, p->fd_cycles);
	if (p->fd_instr < 0) {
		err = -errno;
		perfctr_close(p);
		return err;
	}
	if (ioctl(p->fd_cycles, PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP) < 0) {
		err = -errno;
		perfctr_close(p);
		return err;
	}
	return 0;
}

void perfctr_close(struct perfctr *p)
{
	if (p->fd_instr >= 0)
		close(p->fd_instr);
	if (p->fd_cycles >= 0)
		close(p->fd_cycles);
	p->fd_instr = p->fd_cycles = -1;
}

int perfctr_read(const struct perfctr *p, struct perfctr_sample *s)
{
	uint64_t buf[3];

	if (read(p->fd_cycles, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		return -EIO;
	s->cycles = buf[1];
	s->instructions = buf[2];
	return 0;
}

const char *perfctr_probe(char *buf, unsigned len)
{
	struct perfctr p;
	int ret = perfctr_open(&p);

	if (ret) {
		snprintf(buf, len, "unavailable (%s)",
			 ret == -ENOENT || ret == -EOPNOTSUPP ?
			 "no hardware counters on this host" : strerror(-ret));
		return buf;
	}
	perfctr_close(&p);
	snprintf(buf, len, "cycles,instructions");
	return buf;
}

static const struct {
	const char *name;
	uint32_t type;
	uint64_t config;
} set_events[PERFCTR_EVENT_NR] = {
	[PERFCTR_CYCLES] = { "hw_cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES },
	[PERFCTR_INSTRUCTIONS] = { "hw_instructions", PERF_TYPE_HARDWARE,
				   PERF_COUNT_HW_INSTRUCTIONS },
	[PERFCTR_CACHE_MISSES] = { "hw_cache_misses", PERF_TYPE_HARDWARE,
				   PERF_COUNT_HW_CACHE_MISSES },
	/* perf_event_open(2): id | op << 8 | result << 16 for PERF_TYPE_HW_CACHE. */
	[PERFCTR_DTLB_MISSES] = { "hw_dtlb_misses", PERF_TYPE_HW_CACHE,
				  PERF_COUNT_HW_CACHE_DTLB | PERF_COUNT_HW_CACHE_OP_READ << 8 |
				  PERF_COUNT_HW_CACHE_RESULT_MISS << 16 },
};

const char *perfctr_event_name(enum perfctr_event e)
{
	return e < PERFCTR_EVENT_NR ? set_events[e].name : "?";
}

int perfctr_set_open(struct perfctr_set *s)
{
	int n = 0;

	for (int e = 0; e < PERFCTR_EVENT_NR; e++) {
		struct perf_event_attr a;

		memset(&a, 0, sizeof(a));
		a.size = sizeof(a);
		a.type = set_events[e].type;
		a.config = set_events[e].config;
		a.exclude_kernel = 1;
		a.exclude_hv = 1;
		a.inherit = 1;
		s->fd[e] = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
		s->err[e] = s->fd[e] < 0 ? -errno : 0;
		if (s->fd[e] < 0)
			s->fd[e] = -1;
		else
			n++;
	}
	return n;
}

void perfctr_set_read(const struct perfctr_set *s, int64_t out[PERFCTR_EVENT_NR])
{
	for (int e = 0; e < PERFCTR_EVENT_NR; e++) {
		uint64_t v;

		out[e] = s->fd[e] >= 0 && read(s->fd[e], &v, sizeof(v)) == (ssize_t)sizeof(v) ?
			 (int64_t)v : -1;
	}
}

void perfctr_set_close(struct perfctr_set *s)
{
	for (int e = 0; e < PERFCTR_EVENT_NR; e++) {
		if (s->fd[e] >= 0)
			close(s->fd[e]);
		s->fd[e] = -1;
	}
}
