// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel's IOMMU phases through tracefs kprobes (phases.h). tracefs is
 * left as it was found: the clock, the buffer size, tracing_on, and no
 * probe of ours remains after phases_stop().
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <iob/alloc.h>
#include <iob/cycles.h>
#include <iob/ftrace.h>

#include "phases.h"

#define GROUP		"iob"
#define PIDSLOTS	4096	/* open calls tracked at once, by (pid, phase) */
#define DEPTH		8	/* recursion kept per (pid, phase) */

static const struct {
	const char *name, *doc, *funcs;
} phase_tab[PHASE_NR] = {
#define PHASE_TAB(n, d, f) { #n, d, f },
	PHASES(PHASE_TAB)
#undef PHASE_TAB
};

const char *phase_name(enum phase p)
{
	return p < PHASE_NR ? phase_tab[p].name : "?";
}

const char *phase_doc(enum phase p)
{
	return p < PHASE_NR ? phase_tab[p].doc : "?";
}

struct open_call {
	int pid;		/* 0: free slot */
	unsigned phase, depth;
	uint64_t ts[DEPTH];
	int win[DEPTH];		/* window each entry came in */
};

struct phases {
	char tracefs[128];
	double cyc_per_tick;	/* trace clock ticks to TSC cycles */
	char old_clock[32];
	char old_on[8];
	char old_kb[32];
	char probes[PHASE_NR * 2 + 1][32];
	unsigned nprobes;
	int pipe_fd;
	pthread_t reader;
	volatile int stop;
	struct open_call *open;	/* PIDSLOTS */
	struct phases_result res;
	char partial[8192];	/* a line split across reads */
	size_t npartial;
	int cur_win;		/* -1 before the first mark */
	unsigned marks;		/* made by phases_mark() */
	enum phases_what what;
};

/* For the signal handler: paths made before anything is enabled. */
static char sig_tracing_on[160], sig_enable[160];

static int tf_write(const char *tracefs, const char *file, const char *text, bool append)
{
	char p[256];
	int fd, e = 0;

	snprintf(p, sizeof(p), "%s/%s", tracefs, file);
	fd = open(p, O_WRONLY | O_CLOEXEC | (append ? O_APPEND : O_TRUNC));
	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		e = -errno;
	close(fd);
	return e;
}

static int tf_read(const char *tracefs, const char *file, char *buf, size_t len)
{
	char p[256];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", tracefs, file);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Remove every event of our group (left by a crash, or ours at the end). */
static int remove_group(const char *tracefs)
{
	char p[256], names[PHASE_NR * 2 + 4][32];
	unsigned n = 0;
	FILE *f;
	char line[512];
	int ret = 0;

	tf_write(tracefs, "events/" GROUP "/enable", "0", false);
	snprintf(p, sizeof(p), "%s/kprobe_events", tracefs);
	f = fopen(p, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && n < sizeof(names) / sizeof(names[0])) {
		/* "p:iob/pt_map iommu_v1_map_pages" */
		char *s = strchr(line, ':');

		if (!s || strncmp(s + 1, GROUP "/", sizeof(GROUP)))
			continue;
		s += 1 + sizeof(GROUP);
		{
			int w = (int)strcspn(s, " \n");

			snprintf(names[n++], sizeof(names[0]), "%.*s", w < 31 ? w : 31, s);
		}
	}
	fclose(f);
	for (unsigned i = 0; i < n; i++) {
		char cmd[64];
		int e;

		names[i][sizeof(names[0]) - 1] = '\0';

		snprintf(cmd, sizeof(cmd), "-:" GROUP "/%.31s\n", names[i]);
		e = tf_write(tracefs, "kprobe_events", cmd, true);
		if (e && !ret)
			ret = e;
	}
	return ret;
}

/* The first candidate in @funcs (comma-separated) the kernel can probe. */
static bool pick(const char *avail, const char *funcs, char *out, size_t len)
{
	char list[256];

	snprintf(list, sizeof(list), "%s", funcs);
	for (char *f = strtok(list, ","); f; f = strtok(NULL, ","))
		if (ftrace_find_function(avail, f, out, len))
			return true;
	return false;
}

static int add_probe(struct phases *p, const char *def, const char *name)
{
	int ret = tf_write(p->tracefs, "kprobe_events", def, true);

	if (!ret)
		snprintf(p->probes[p->nprobes++], sizeof(p->probes[0]), "%.31s", name);
	return ret;
}

static struct open_call *slot(struct phases *p, int pid, unsigned phase, bool create)
{
	unsigned h = ((unsigned)pid * 2654435761U + phase * 40503U) % PIDSLOTS;

	for (unsigned i = 0; i < PIDSLOTS; i++, h = (h + 1) % PIDSLOTS) {
		struct open_call *o = &p->open[h];

		if (o->pid == pid && o->phase == phase && o->depth)
			return o;
		if (!o->pid || !o->depth) {
			if (!create)
				return NULL;
			o->pid = pid;
			o->phase = phase;
			o->depth = 0;
			return o;
		}
	}
	return NULL;
}

static void on_event(struct phases *p, const struct ftrace_event *ev)
{
	size_t nl = strlen(ev->name);
	bool ret = nl > 2 && !strcmp(ev->name + nl - 2, "_r");
	uint64_t ts = ev->ts;

	if (!strcmp(ev->name, "tracing_mark_write")) {
		unsigned w;

		if (sscanf(ev->args, "iob-mark %u", &w) == 1 && w < PHASES_WINDOWS) {
			p->cur_win = (int)w;
			if (w + 1 > p->res.nwin)
				p->res.nwin = w + 1;
		}
		return;
	}
	if (!strcmp(ev->name, "cmd")) {
		uint64_t c1;

		if (!ftrace_arg_u64(ev->args, "c1", &c1)) {
			p->res.cmds[(c1 >> 28) & 0xf]++;
			if (p->cur_win >= 0)
				p->res.win[p->cur_win].cmds[(c1 >> 28) & 0xf]++;
		}
		return;
	}
	for (unsigned ph = 0; ph < PHASE_NR; ph++) {
		size_t l = strlen(phase_tab[ph].name);
		struct open_call *o;

		if (strncmp(ev->name, phase_tab[ph].name, l) || (ret ? nl != l + 2 : nl != l))
			continue;
		o = slot(p, ev->pid, ph, !ret);
		if (!ret && p->cur_win >= 0)
			p->res.win[p->cur_win].calls[ph]++;
		if (!ret) {
			if (o && o->depth < DEPTH) {
				o->win[o->depth] = p->cur_win;
				o->ts[o->depth++] = ts;
			} else {
				p->res.unpaired++;
			}
		} else if (!o || !o->depth) {
			p->res.unpaired++;
		} else {
			uint64_t t0 = o->ts[--o->depth];
			double cyc = ts >= t0 ? (double)(ts - t0) * p->cyc_per_tick : 0;
			int w = o->win[o->depth];

			pathctr_rec_add(&p->res.rec[ph], (uint64_t)(cyc + 0.5));
			if (w >= 0) {
				p->res.win[w].cyc[ph] += (uint64_t)(cyc + 0.5);
				p->res.win[w].ended[ph]++;
			}
		}
		return;
	}
}

static void consume(struct phases *p, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct ftrace_event ev;
		int r;

		if (buf[i] != '\n') {
			if (p->npartial < sizeof(p->partial) - 1)
				p->partial[p->npartial++] = buf[i];
			continue;
		}
		p->partial[p->npartial] = '\0';
		p->npartial = 0;
		r = ftrace_parse_line(p->partial, &ev);
		if (r == 0)
			on_event(p, &ev);
		else if (r == 1 && ev.pid > 0)
			p->res.lost += (uint64_t)ev.pid;
	}
}

static void *reader_main(void *arg)
{
	struct phases *p = arg;
	static char buf[65536];

	for (;;) {
		struct pollfd pfd = { .fd = p->pipe_fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 50) > 0 || p->stop) {
			n = read(p->pipe_fd, buf, sizeof(buf));
			if (n > 0) {
				consume(p, buf, (size_t)n);
				continue;
			}
		}
		if (p->stop)
			break;
	}
	return NULL;
}

static int fail(char *err, size_t len, int ret, const char *what)
{
	snprintf(err, len, "%s: %s", what, strerror(-ret));
	return ret;
}

static void set_clock(struct phases *p)
{
	char clocks[512];

	/* "[local] global counter uptime perf mono mono_raw boot x86-tsc" */
	snprintf(p->res.clock, sizeof(p->res.clock), "local");
	if (tf_read(p->tracefs, "trace_clock", clocks, sizeof(clocks)))
		return;
	{
		char *b = strchr(clocks, '['), *e = b ? strchr(b, ']') : NULL;

		if (b && e)
			snprintf(p->old_clock, sizeof(p->old_clock), "%.*s", (int)(e - b - 1), b + 1);
	}
	if (strstr(clocks, "x86-tsc") && !tf_write(p->tracefs, "trace_clock", "x86-tsc", false)) {
		snprintf(p->res.clock, sizeof(p->res.clock), "x86-tsc");
		p->cyc_per_tick = 1.0;
	} else if (p->old_clock[0]) {
		snprintf(p->res.clock, sizeof(p->res.clock), "%.15s", p->old_clock);
	}
}

/*
 * A tracefs file whole. Its size reads as 0 (the kernel makes the text as
 * it is read), so it is read to its end, not to a length asked first.
 */
static int read_stream(const char *path, char **out)
{
	size_t cap = 1 << 20, n = 0;
	char *buf = iob_malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k;

	if (!buf || fd < 0) {
		int e = fd < 0 ? -errno : -ENOMEM;

		iob_free(buf);
		if (fd >= 0)
			close(fd);
		return e;
	}
	while ((k = read(fd, buf + n, cap - n - 1)) > 0) {
		n += (size_t)k;
		if (cap - n - 1 == 0) {
			char *nb = cap < (256u << 20) ? iob_realloc(buf, cap * 2) : NULL;

			if (!nb) {
				iob_free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
	}
	k = k < 0 ? -errno : 0;
	close(fd);
	if (k) {
		iob_free(buf);
		return (int)k;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

static int make_probes(struct phases *p, char *err, size_t errlen)
{
	char *avail = NULL, def[256];
	int ret;

	snprintf(def, sizeof(def), "%s/available_filter_functions", p->tracefs);
	ret = read_stream(def, &avail);
	if (ret)
		return fail(err, errlen, ret, def);
	for (unsigned ph = 0; ph < PHASE_NR && !ret && p->what == PHASES_ALL; ph++) {
		char *fn = p->res.func[ph];

		if (!pick(avail, phase_tab[ph].funcs, fn, sizeof(p->res.func[0])))
			continue;
		snprintf(def, sizeof(def), "p:" GROUP "/%s %s\n", phase_tab[ph].name, fn);
		ret = add_probe(p, def, phase_tab[ph].name);
		if (!ret) {
			char rn[40];

			snprintf(rn, sizeof(rn), "%s_r", phase_tab[ph].name);
			snprintf(def, sizeof(def), "r:" GROUP "/%s %s\n", rn, fn);
			ret = add_probe(p, def, rn);
		}
		if (ret)
			fail(err, errlen, ret, def);
		p->res.found[ph] = !ret;
	}
	/* The command's second dword: %si holds the command (x86-64 ABI). */
	if (!ret && ftrace_has_function(avail, "__iommu_queue_command_sync")) {
		ret = add_probe(p, "p:" GROUP "/cmd __iommu_queue_command_sync c1=+4(%si):x32\n",
				"cmd");
		if (ret)
			fail(err, errlen, ret, "the command probe");
		p->res.cmds_probed = !ret;
	}
	iob_free(avail);
	return ret;
}

int phases_start(const char *tracefs, enum phases_what what, uint64_t tsc_khz,
		 struct phases **out, char *err, size_t errlen)
{
	struct phases *p;
	char path[256];
	int ret;

	snprintf(path, sizeof(path), "%s/kprobe_events", tracefs);
	if (access(path, W_OK))
		return fail(err, errlen, -ENOENT, path);
	p = iob_calloc(1, sizeof(*p));
	if (!p || !(p->open = iob_calloc(PIDSLOTS, sizeof(*p->open)))) {
		iob_free(p);
		return fail(err, errlen, -ENOMEM, "phases");
	}
	snprintf(p->tracefs, sizeof(p->tracefs), "%s", tracefs);
	p->pipe_fd = -1;
	p->cur_win = -1;
	p->what = what;
	for (unsigned i = 0; i < PHASE_NR; i++)
		pathctr_rec_init(&p->res.rec[i]);
	p->cyc_per_tick = tsc_khz ? (double)tsc_khz / 1e6 : 1.0;
	ret = remove_group(tracefs);
	if (ret) {
		iob_free(p->open);
		iob_free(p);
		return fail(err, errlen, -EBUSY, "probes of an earlier run (group iob) cannot be removed");
	}
	tf_read(tracefs, "tracing_on", p->old_on, sizeof(p->old_on));
	tf_read(tracefs, "buffer_size_kb", p->old_kb, sizeof(p->old_kb));
	tf_write(tracefs, "tracing_on", "0", false);
	set_clock(p);
	tf_write(tracefs, "buffer_size_kb", "16384", false);
	ret = make_probes(p, err, errlen);
	if (!ret) {
		snprintf(sig_tracing_on, sizeof(sig_tracing_on), "%s/tracing_on", tracefs);
		snprintf(sig_enable, sizeof(sig_enable), "%s/events/" GROUP "/enable", tracefs);
		tf_write(tracefs, "trace", "", false);
		snprintf(path, sizeof(path), "%s/trace_pipe", tracefs);
		p->pipe_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (p->pipe_fd < 0)
			ret = fail(err, errlen, -errno, path);
	}
	if (!ret && !p->nprobes)
		ret = fail(err, errlen, -ENOENT, "none of the IOMMU functions can be probed");
	if (!ret)
		ret = tf_write(tracefs, "events/" GROUP "/enable", "1", false);
	if (!ret)
		ret = tf_write(tracefs, "tracing_on", "1", false);
	if (!ret && pthread_create(&p->reader, NULL, reader_main, p))
		ret = -EAGAIN;
	if (ret) {
		if (!err[0])
			fail(err, errlen, ret, "starting the trace");
		p->stop = 1;
		phases_stop(p, NULL);
		return ret;
	}
	*out = p;
	return 0;
}

int phases_mark(struct phases *p)
{
	char text[32];
	int ret;

	if (p->marks >= PHASES_WINDOWS)
		return -ENOSPC;
	snprintf(text, sizeof(text), "iob-mark %u", p->marks);
	ret = tf_write(p->tracefs, "trace_marker", text, false);
	return ret ? ret : (int)p->marks++;
}

void phases_stop(struct phases *p, struct phases_result *res)
{
	bool started = p->pipe_fd >= 0 && p->reader;

	tf_write(p->tracefs, "tracing_on", "0", false);
	if (started) {
		p->stop = 1;
		pthread_join(p->reader, NULL);
	}
	if (p->pipe_fd >= 0)
		close(p->pipe_fd);
	remove_group(p->tracefs);
	if (p->old_clock[0])
		tf_write(p->tracefs, "trace_clock", p->old_clock, false);
	if (p->old_kb[0])
		tf_write(p->tracefs, "buffer_size_kb", p->old_kb, false);
	tf_write(p->tracefs, "tracing_on", p->old_on[0] ? p->old_on : "1", false);
	sig_tracing_on[0] = sig_enable[0] = '\0';
	/* Entries left open: calls that had not returned when tracing stopped. */
	for (unsigned i = 0; i < PIDSLOTS; i++)
		p->res.unpaired += p->open[i].depth;
	if (res)
		*res = p->res;
	iob_free(p->open);
	iob_free(p);
}

void phases_cleanup_from_signal(void)
{
	int fd;

	if (sig_tracing_on[0] && (fd = open(sig_tracing_on, O_WRONLY)) >= 0) {
		if (write(fd, "0", 1) < 0)
			(void)0;
		close(fd);
	}
	if (sig_enable[0] && (fd = open(sig_enable, O_WRONLY)) >= 0) {
		if (write(fd, "0", 1) < 0)
			(void)0;
		close(fd);
	}
}

static double time_getppid(unsigned n)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned i = 0; i < n; i++)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
}

int phases_overhead_ns(const char *tracefs, double *ns)
{
	static const char *const funcs[] = { "__x64_sys_getppid", "__do_sys_getppid", "sys_getppid" };
	const unsigned n = 20000;
	double off = 1e300, on = 1e300;
	int ret = -ENOENT;

	remove_group(tracefs);
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]) && ret; i++) {
		char def[128];

		snprintf(def, sizeof(def), "p:" GROUP "/ovh %s\n", funcs[i]);
		ret = tf_write(tracefs, "kprobe_events", def, true);
		if (!ret) {
			snprintf(def, sizeof(def), "r:" GROUP "/ovh_r %s\n", funcs[i]);
			ret = tf_write(tracefs, "kprobe_events", def, true);
		}
	}
	if (ret) {
		remove_group(tracefs);
		return ret;
	}
	/* Best of three each way, alternating: the machine's noise only adds. */
	for (int r = 0; r < 3; r++) {
		double t;

		tf_write(tracefs, "events/" GROUP "/enable", "0", false);
		t = time_getppid(n);
		off = t < off ? t : off;
		tf_write(tracefs, "events/" GROUP "/enable", "1", false);
		t = time_getppid(n);
		on = t < on ? t : on;
	}
	remove_group(tracefs);
	*ns = on > off ? (on - off) / n : 0;
	return 0;
}
