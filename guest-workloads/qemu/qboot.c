// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iob/alloc.h>
#include <iob/proc.h>
#include <iob/textfile.h>
#include <iob/trace.h>

#include "qboot.h"

const char *const qboot_mode_names[QBOOT_MODE_NR] = {
	"strict", "lazy", "passthrough", "noiommu", "swiotlb",
};
const char *const qboot_dev_names[QBOOT_DEV_NR] = { "virtio", "nvme" };
const char *const qboot_iommu_names[QBOOT_IOMMU_NR] = { "amd", "intel" };

/* The command events only (and the IOTLB fill): every amdvi event is 700 MB in 30 s. */
static const char *const amd_events[] = {
	"amdvi_command_exec", "amdvi_completion_wait", "amdvi_pages_inval", "amdvi_iotlb_inval",
	"amdvi_all_inval", "amdvi_devtab_inval", "amdvi_intr_inval", "amdvi_cache_update", NULL,
};
static const char *const intel_events[] = {
	"vtd_inv_desc", "vtd_inv_desc_iotlb_pages", "vtd_inv_desc_iotlb_domain",
	"vtd_inv_desc_iotlb_global", "vtd_inv_desc_wait_sw", "vtd_inv_desc_wait_irq",
	"vtd_inv_desc_cc_domain", "vtd_inv_desc_cc_global", "vtd_inv_desc_cc_device",
	"vtd_inv_desc_cc_devices", "vtd_inv_desc_iec", "vtd_iotlb_page_update", NULL,
};

const char *qboot_name(const struct qboot_cfg *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%s-%s", qboot_iommu_names[c->iommu], qboot_dev_names[c->dev],
		 qboot_mode_names[c->mode]);
	return buf;
}

uint64_t qboot_timeout_s(const struct qboot_cfg *c)
{
	/* TCG: about 5 s to boot; a point takes at most ms plus the trace dump. */
	return 90 + c->npt * (c->ms * 3 / 1000 + 20) +
	       (c->dmamap ? 2 * ((uint64_t)c->dmamap->ms * 3 / 1000 + 20) : 0) +
	       (!c->host ? 0 : !strcmp(c->host, "full") ? 1800 : 600);
}

/* ---- the command line ------------------------------------------------------------------ */

static int qa_add(struct qboot_argv *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int qa_add(struct qboot_argv *a, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (a->n >= (int)(sizeof(a->v) / sizeof(a->v[0])) - 1)
		return -E2BIG;
	va_start(ap, fmt);
	w = vsnprintf(a->buf + a->used, sizeof(a->buf) - a->used, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= sizeof(a->buf) - a->used)
		return -E2BIG;
	a->v[a->n++] = a->buf + a->used;
	a->v[a->n] = NULL;
	a->used += (size_t)w + 1;
	return 0;
}

/* The kernel's IOMMU words for the mode. */
static const char *iommu_words(const struct qboot_cfg *c)
{
	bool intel = c->iommu == QBOOT_INTEL;

	switch (c->mode) {
	case QBOOT_NOIOMMU:
		return "iommu.passthrough=0";
	case QBOOT_PASSTHROUGH:
		return intel ? "intel_iommu=on iommu.passthrough=1" : "iommu.passthrough=1";
	case QBOOT_SWIOTLB:
		/* The device stays; the driver leaves it off and QEMU passes DMA through. */
		return intel ? "intel_iommu=off swiotlb=force" : "amd_iommu=off swiotlb=force";
	default:
		return intel ? "intel_iommu=on iommu.passthrough=0" : "iommu.passthrough=0";
	}
}

/* The guest's /init options (init.sh). */
static void append_line(const struct qboot_cfg *c, char *buf, size_t len)
{
	char pts[1024] = "";
	size_t n = 0, l;

	for (unsigned i = 0; i < c->npt; i++)
		n += (size_t)snprintf(pts + n, sizeof(pts) - n, "%s%s:%" PRIu64 ":%u", i ? "," : "",
				      c->pt[i].write ? "write" : "read", c->pt[i].bs, c->pt[i].qd);
	l = (size_t)snprintf(buf, len,
			     "console=ttyS0 panic=-1 %s iob.dev=%s iob.mode=%s iob.points=%s "
			     "iob.ios=%" PRIu64 " iob.ms=%" PRIu64 " iob.trace=%d iob.sync=1 "
			     "iob.probe=%d iob.host=%s iob.dmamap=",
			     iommu_words(c), qboot_dev_names[c->dev], qboot_mode_names[c->mode], pts,
			     c->ios, c->ms, c->trace && c->mode != QBOOT_NOIOMMU, c->probe,
			     c->host ? c->host : "off");
	if (l >= len)
		return;
	if (!c->dmamap)
		snprintf(buf + l, len - l, "off");
	else
		snprintf(buf + l, len - l,
			 "threads=%d,ms=%ld,node=%d,bits=%d,dir=%d,delay_ns=%ld,granule=%d,api=both",
			 c->dmamap->threads, c->dmamap->ms, c->dmamap->node, c->dmamap->bits,
			 c->dmamap->dir, c->dmamap->delay_ns, c->dmamap->granule);
}

int qboot_argv(const struct qboot_cfg *c, struct qboot_argv *a)
{
	bool intel = c->iommu == QBOOT_INTEL, iommu = c->mode != QBOOT_NOIOMMU;
	char append[2048];
	int e = 0;

	a->n = 0;
	a->used = 0;
	a->v[0] = NULL;
	append_line(c, append, sizeof(append));
	e |= qa_add(a, "qemu-system-x86_64");
	e |= qa_add(a, "-accel") | qa_add(a, "%s", c->accel);
	e |= qa_add(a, "-machine") | qa_add(a, intel && iommu ? "q35,kernel-irqchip=split" : "q35");
	e |= qa_add(a, "-cpu") | qa_add(a, !strcmp(c->accel, "kvm") ? "host" : "max");
	e |= qa_add(a, "-smp") | qa_add(a, "%u", c->smp);
	e |= qa_add(a, "-m") | qa_add(a, "%u", c->mem_mib);
	e |= qa_add(a, "-nodefaults") | qa_add(a, "-display") | qa_add(a, "none");
	e |= qa_add(a, "-no-reboot");
	e |= qa_add(a, "-chardev") | qa_add(a, "stdio,id=con,signal=off");
	e |= qa_add(a, "-serial") | qa_add(a, "chardev:con");
	if (iommu)
		e |= qa_add(a, "-device") |
		     qa_add(a, intel ? "intel-iommu,intremap=on,caching-mode=on" : "amd-iommu");
	e |= qa_add(a, "-kernel") | qa_add(a, "%s", c->kernel);
	e |= qa_add(a, "-initrd") | qa_add(a, "%s", c->initrd);
	e |= qa_add(a, "-append") | qa_add(a, "%s", append);
	e |= qa_add(a, "-drive") | qa_add(a, "file=%s/dut.img,if=none,id=d0,format=raw", c->scratch);
	e |= qa_add(a, "-device") |
	     qa_add(a, c->dev == QBOOT_NVME ? "nvme,drive=d0,serial=iobdut" :
		    "virtio-blk-pci,drive=d0,disable-legacy=on,iommu_platform=on,serial=iobdut");
	/* The results disk bypasses the IOMMU (no iommu_platform): no DMA API traffic. */
	e |= qa_add(a, "-drive") | qa_add(a, "file=%s/out.img,if=none,id=o0,format=raw", c->scratch);
	e |= qa_add(a, "-device") | qa_add(a, "virtio-blk-pci,drive=o0,serial=iobout");
	if (c->trace_log) {
		e |= qa_add(a, "-trace") | qa_add(a, "events=%s/events", c->scratch);
		e |= qa_add(a, "-D") | qa_add(a, "%s", c->trace_log);
		e |= qa_add(a, "-msg") | qa_add(a, "timestamp=on");
	}
	return e ? -E2BIG : 0;
}

/* ---- one boot --------------------------------------------------------------------------- */

static int make_image(const char *path, uint64_t bytes)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)bytes))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * The disk iob host reach reads (--stamped): every 4 KiB block of the
 * first @bytes starts with "IOBREACH" and its block number, little-endian
 * 64-bit words, so the probe can tell each page got the block it asked for.
 */
static int stamp_image(const char *path, uint64_t bytes)
{
	static uint8_t buf[1 << 20];
	int fd = open(path, O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	for (uint64_t off = 0; off < bytes && !ret; off += sizeof(buf)) {
		for (size_t b = 0; b < sizeof(buf); b += 4096) {
			uint64_t w[2] = { 0x4843414552424f49ULL, (off + b) / 4096 };

			memcpy(buf + b, w, sizeof(w));
		}
		if (pwrite(fd, buf, sizeof(buf), (off_t)off) != (ssize_t)sizeof(buf))
			ret = errno ? -errno : -EIO;
	}
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

/* Fresh disks (1 GiB under test, sparse; 512 MiB for the results) and the event list. */
static int prepare_scratch(const struct qboot_cfg *c, char *err, size_t errlen)
{
	const char *const *ev = c->iommu == QBOOT_INTEL ? intel_events : amd_events;
	char path[4400];
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "%s/dut.img", c->scratch);
	ret = make_image(path, 1ULL << 30);
	if (!ret && c->host)
		ret = stamp_image(path, QBOOT_STAMPED_BYTES);
	if (!ret) {
		snprintf(path, sizeof(path), "%s/out.img", c->scratch);
		ret = make_image(path, 512ULL << 20);
	}
	if (!ret) {
		snprintf(path, sizeof(path), "%s/events", c->scratch);
		f = fopen(path, "w");
		if (!f) {
			ret = -errno;
		} else {
			for (; *ev; ev++)
				fprintf(f, "%s\n", *ev);
			/*
			 * iob host marks its windows with register reads of the NVMe;
			 * its reach probe's misses are the fills, its hits these.
			 */
			if (c->host)
				fprintf(f, "pci_nvme_mmio_read\namdvi_iotlb_hit\n");
			ret = fclose(f) ? -EIO : 0;
		}
	}
	if (ret)
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
	return ret;
}

/*
 * One argument of the recorded command line, with the working directory
 * taken off the paths under it: the log is committed with reference runs,
 * and this machine's checkout path has no place in the repository.
 */
static void print_rel(FILE *f, const char *arg)
{
	char cwd[4096];
	size_t n;
	const char *hit;

	if (!getcwd(cwd, sizeof(cwd) - 1))
		cwd[0] = '\0';
	n = strlen(cwd);
	if (n > 1 && cwd[n - 1] != '/') {
		cwd[n++] = '/';
		cwd[n] = '\0';
	}
	fputc(' ', f);
	while (n > 1 && (hit = strstr(arg, cwd))) {
		fwrite(arg, 1, (size_t)(hit - arg), f);
		arg = hit + n;
	}
	fputs(arg, f);
}

/* The console as read: written to the log, and kept to be parsed at the end. */
struct console {
	FILE *log;
	char *text;		/* NULs replaced, for parsing; the log keeps the bytes */
	size_t len, cap;
	char pending[8192];	/* the line being read, for the marks */
	size_t plen;
};

static int console_keep(struct console *k, const char *p, size_t n)
{
	if (k->len + n + 1 > k->cap) {
		size_t cap = k->cap ? k->cap : 1 << 16;
		char *t;

		while (cap < k->len + n + 1)
			cap *= 2;
		t = iob_realloc(k->text, cap);
		if (!t)
			return -ENOMEM;
		k->text = t;
		k->cap = cap;
	}
	for (size_t i = 0; i < n; i++)
		k->text[k->len++] = p[i] ? p[i] : ' ';
	k->text[k->len] = '\0';
	return 0;
}

static int console_open(const struct qboot_cfg *c, const struct qboot_argv *a,
			struct console *k, char *err, size_t errlen)
{
	char *hdr = NULL;
	size_t hlen = 0;
	FILE *m = open_memstream(&hdr, &hlen);
	int ret = 0;

	memset(k, 0, sizeof(*k));
	if (!m)
		return -ENOMEM;
	fprintf(m, "# qemu command:");
	for (int i = 0; i < a->n; i++)
		print_rel(m, a->v[i]);
	fprintf(m, "\n");
	fclose(m);
	k->log = fopen(c->console, "w");
	if (!k->log) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", c->console, strerror(-ret));
	} else if (fputs(hdr, k->log) < 0 || fflush(k->log)) {
		ret = -EIO;
		snprintf(err, errlen, "%s: cannot write", c->console);
	} else if ((ret = console_keep(k, hdr, hlen))) {
		snprintf(err, errlen, "out of memory");
	}
	free(hdr);
	if (ret && k->log)
		fclose(k->log);
	return ret;
}

static uint64_t wall_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000ULL + (uint64_t)tv.tv_usec;
}

/* An IOB-MARK line: stamp its window and, at its beginning, let the guest go on. */
static void on_mark(struct qboot *b, const struct qcon_rec *rec, int to_guest)
{
	const char *id = qcon_get(rec, "id");
	bool begin = !strcmp(qcon_get(rec, "edge"), "begin");
	unsigned w;

	for (w = 0; w < b->nwin && strcmp(b->win_id[w], id); w++)
		;
	if (begin && w == b->nwin && w < QBOOT_WINDOWS_MAX) {
		snprintf(b->win_id[w], sizeof(b->win_id[w]), "%s", id);
		b->win[w].t0_us = wall_us();
		b->win[w].t1_us = UINT64_MAX;
		b->nwin++;
	} else if (!begin && w < b->nwin) {
		b->win[w].t1_us = wall_us();
	}
	if (begin && write(to_guest, "go\n", 3) != 3)
		snprintf(b->reason, sizeof(b->reason), "cannot answer the guest: %s", strerror(errno));
}

/* @got new bytes at the end of k->pending: log and keep them, act on whole lines. */
static int console_take(struct console *k, struct qboot *b, size_t got, int to_guest)
{
	char *start, *nl;

	fwrite(k->pending + k->plen, 1, got, k->log);
	fflush(k->log);
	if (console_keep(k, k->pending + k->plen, got))
		return -ENOMEM;
	k->plen += got;
	k->pending[k->plen] = '\0';
	start = k->pending;
	while ((nl = memchr(start, '\n', (size_t)(k->pending + k->plen - start)))) {
		struct qcon_rec rec;
		char why[200];

		*nl = '\0';
		if (qcon_parse_line(start, &rec, why, sizeof(why)) == 0 && rec.type == QCON_MARK)
			on_mark(b, &rec, to_guest);
		start = nl + 1;
	}
	k->plen = (size_t)(k->pending + k->plen - start);
	memmove(k->pending, start, k->plen);
	if (k->plen == sizeof(k->pending) - 1)
		k->plen = 0;	/* a line too long to be ours: drop it */
	return 0;
}

/* Read QEMU's console until it exits, the deadline, or stop(). */
static void console_loop(const struct qboot_cfg *c, struct qboot *b, struct console *k,
			 pid_t pid, int from_qemu, int to_guest, double deadline)
{
	for (;;) {
		struct pollfd pf = { .fd = from_qemu, .events = POLLIN };
		double left = deadline - proc_now_s();
		ssize_t got;
		int r;

		if (c->stop && c->stop()) {
			kill(pid, SIGKILL);
			b->interrupted = true;
			snprintf(b->reason, sizeof(b->reason), "interrupted");
			return;
		}
		if (left <= 0) {
			kill(pid, SIGKILL);
			b->timed_out = true;
			snprintf(b->reason, sizeof(b->reason),
				 "timeout: the guest did not finish in %" PRIu64 " s; killed",
				 c->timeout_s ? c->timeout_s : qboot_timeout_s(c));
			return;
		}
		r = poll(&pf, 1, left > 0.5 ? 500 : (int)(left * 1000) + 1);
		if (r <= 0)
			continue;	/* EINTR: a signal; stop() says whether it was ours */
		got = read(from_qemu, k->pending + k->plen, sizeof(k->pending) - k->plen - 1);
		if (got <= 0)
			return;	/* QEMU exited */
		if (console_take(k, b, (size_t)got, to_guest)) {
			kill(pid, SIGKILL);
			snprintf(b->reason, sizeof(b->reason), "out of memory reading the console");
			return;
		}
	}
}

/* The console's records and the verdict: IOB-DONE status=ok, or why not. */
static void judge(struct qboot *b, const struct console *k, bool exited, int status)
{
	char err[256];

	if (qcon_parse(k->text ? k->text : "", &b->con, err, sizeof(err))) {
		if (!b->reason[0])
			snprintf(b->reason, sizeof(b->reason), "console: %s", err);
	} else if (!b->reason[0]) {
		if (!b->con.done)
			snprintf(b->reason, sizeof(b->reason),
				 "the guest stopped without IOB-DONE (QEMU %s)",
				 exited && WIFEXITED(status) ? "exited" : "died");
		else if (!b->con.done_ok)
			snprintf(b->reason, sizeof(b->reason), "the guest reported an error");
		else
			b->ok = true;
	}
	if (b->ok || !b->con.done || b->con.done_ok)
		return;
	for (size_t i = 0; i < b->con.n; i++)
		if (b->con.rec[i].type == QCON_DONE && qcon_get(&b->con.rec[i], "reason")) {
			size_t l = strlen(b->reason);

			snprintf(b->reason + l, sizeof(b->reason) - l, ": %s",
				 qcon_get(&b->con.rec[i], "reason"));
		}
}

static pid_t spawn(const struct qboot_argv *a, int in_pipe[2], int out_pipe[2])
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid)
		return pid;
	dup2(in_pipe[0], 0);
	dup2(out_pipe[1], 1);
	dup2(out_pipe[1], 2);
	close(in_pipe[1]);
	close(out_pipe[0]);
	execvp(a->v[0], a->v);
	fprintf(stderr, "iob: cannot run qemu-system-x86_64: %s\n", strerror(errno));
	_exit(127);
}

int qboot_run(const struct qboot_cfg *c, struct qboot *b, char *err, size_t errlen)
{
	static struct qboot_argv a;
	int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 }, status = 0, ret;
	double t0 = proc_now_s();
	struct console k;
	bool exited;
	pid_t pid;

	memset(b, 0, sizeof(*b));
	qboot_name(c, b->name, sizeof(b->name));
	ret = qboot_argv(c, &a);
	if (ret) {
		snprintf(err, errlen, "QEMU's command line is too long");
		return ret;
	}
	ret = prepare_scratch(c, err, errlen);
	if (!ret)
		ret = console_open(c, &a, &k, err, errlen);
	if (ret)
		return ret;
	if (pipe(in_pipe) || pipe(out_pipe) || (pid = spawn(&a, in_pipe, out_pipe)) < 0) {
		ret = -errno;
		snprintf(err, errlen, "starting QEMU: %s", strerror(-ret));
		fclose(k.log);
		iob_free(k.text);
		return ret;
	}
	close(in_pipe[0]);
	close(out_pipe[1]);
	signal(SIGPIPE, SIG_IGN);
	console_loop(c, b, &k, pid, out_pipe[0], in_pipe[1],
		     t0 + (double)(c->timeout_s ? c->timeout_s : qboot_timeout_s(c)));
	close(out_pipe[0]);
	close(in_pipe[1]);
	exited = waitpid(pid, &status, 0) == pid;
	fclose(k.log);
	b->secs = proc_now_s() - t0;
	judge(b, &k, exited, status);
	iob_free(k.text);
	return 0;
}

void qboot_free(struct qboot *b)
{
	qcon_free(&b->con);
}

/* ---- after the boot ----------------------------------------------------------------------- */

void qboot_count(const struct qboot_cfg *c, struct qboot *b)
{
	char err[256];
	FILE *f;

	if (!b->ok)
		return;
	f = fopen(c->trace_log, "r");
	if (!f) {
		b->ok = false;
		snprintf(b->reason, sizeof(b->reason), "no QEMU trace log");
		return;
	}
	if (qtr_count(f, b->win, b->nwin, &b->total, err, sizeof(err))) {
		b->ok = false;
		snprintf(b->reason, sizeof(b->reason), "QEMU trace log: %s", err);
	}
	fclose(f);
}

static unsigned window_of(const struct qboot *b, const char *id)
{
	unsigned w;

	for (w = 0; w < b->nwin && strcmp(b->win_id[w], id); w++)
		;
	return w;
}

static const char *rget(const struct qcon_rec *r, const char *k)
{
	const char *v = qcon_get(r, k);

	return v ? v : "NaN";
}

/* The kprobe capture of window @id (trace-<id>.txt in @gdir) into b->gc. */
static void count_guest_cmds(struct qboot *b, const char *gdir, const char *id)
{
	char src[4600], err[256] = "unreadable", *text;
	unsigned w = window_of(b, id);

	snprintf(src, sizeof(src), "%s/trace-%s.txt", gdir, id);
	if (textfile_read(src, (size_t)1 << 30, "a tracefs capture", &text, err, sizeof(err)) ||
	    w == b->nwin || qgc_count(text, &b->gc[w], err, sizeof(err))) {
		snprintf(b->reason, sizeof(b->reason), "guest commands %s: %s", id,
			 w == b->nwin ? "no such window" : err);
		b->ok = false;
	} else {
		b->gc_ok[w] = true;
	}
	iob_free(text);
}

/* The map/unmap capture of window @id, in the suite's trace format, compressed. */
static int convert_trace(const struct qboot_cfg *c, struct qboot *b, const struct qcon_rec *r,
			 const char *gdir, const char *kver, const char *traces_dir, char *err,
			 size_t errlen)
{
	const char *id = qcon_get(r, "id");
	char src[4600], dst[4600], why[256], note[512];
	unsigned w = window_of(b, id);
	struct trace t;
	int ret;

	snprintf(src, sizeof(src), "%s/trace-%s.txt", gdir, id);
	snprintf(dst, sizeof(dst), "%s/%s-%s.trace", gdir, b->name, id);
	if (trace_read(src, &t, why, sizeof(why))) {
		snprintf(b->reason, sizeof(b->reason), "guest trace %s: %s", id, why);
		b->ok = false;
		return 0;
	}
	snprintf(note, sizeof(note), "captured in the guest (tracefs iommu:map/unmap), %s %s "
		 "%s, window %s, kernel %s, overrun=%s", qboot_iommu_names[c->iommu],
		 qboot_dev_names[c->dev], qboot_mode_names[c->mode], id, kver, rget(r, "overrun"));
	for (size_t e = 0; w < b->nwin && e < t.n; e++)
		t.ev[e].op == TRACE_MAP ? b->tmaps[w]++ : b->tunmaps[w]++;
	ret = trace_write(dst, &t, note);
	trace_free(&t);
	if (ret) {
		snprintf(err, errlen, "%s: %s", dst, strerror(-ret));
		return ret;
	}
	snprintf(src, sizeof(src), "%s/%s-%s.trace.xz", traces_dir, b->name, id);
	ret = qboot_compress(dst, src);
	if (ret)
		snprintf(err, errlen, "cannot compress %s into %s (xz-utils)", dst, src);
	return ret;
}

int qboot_collect(const struct qboot_cfg *c, struct qboot *b, const char *kver,
		  const char *traces_dir, char *err, size_t errlen)
{
	char gdir[4400], outimg[4400];
	char *tar[] = { "tar", "-xf", outimg, "-C", gdir, NULL };
	int ret;

	if (!b->ok)
		return 0;
	snprintf(gdir, sizeof(gdir), "%s/guest-%s", c->scratch, b->name);
	snprintf(outimg, sizeof(outimg), "%s/out.img", c->scratch);
	for (int i = 0; i < 2; i++) {
		const char *d = i ? traces_dir : gdir;

		if (mkdir(d, 0755) && errno != EEXIST) {
			ret = -errno;
			snprintf(err, errlen, "%s: %s", d, strerror(-ret));
			return ret;
		}
	}
	ret = proc_run(tar, NULL, true);
	if (ret) {
		snprintf(b->reason, sizeof(b->reason), "the results disk holds no readable tar (%d)", ret);
		b->ok = false;
		return 0;
	}
	for (size_t i = 0; i < b->con.n && b->ok; i++) {
		const struct qcon_rec *r = &b->con.rec[i];

		if (r->type != QCON_TRACE)
			continue;
		if (strcmp(rget(r, "cmds"), "0") && strcmp(rget(r, "cmds"), "NaN"))
			count_guest_cmds(b, gdir, qcon_get(r, "id"));
		if (!b->ok || !strcmp(rget(r, "events"), "0"))
			continue;
		ret = convert_trace(c, b, r, gdir, kver, traces_dir, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- the host ------------------------------------------------------------------------------ */

const char *qboot_pick_accel(const struct qboot_cfg *c, bool *probed)
{
	struct qboot_cfg p = *c;
	struct qboot b;
	char con[4400], err[256];
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	*probed = false;
	if (fd < 0)
		return "tcg";
	close(fd);
	snprintf(con, sizeof(con), "%s/kvm-probe.log", c->scratch);
	p.accel = "kvm";
	p.probe = true;
	p.timeout_s = 30;
	p.console = con;
	p.trace_log = NULL;
	p.npt = 0;
	p.dmamap = NULL;
	*probed = true;
	if (qboot_run(&p, &b, err, sizeof(err)))
		return "tcg";
	qboot_free(&b);
	return b.ok ? "kvm" : "tcg";
}

const char *qboot_qemu_version(void)
{
	static char v[128];
	char *argv[] = { "qemu-system-x86_64", "--version", NULL };
	char tmp[] = "/tmp/iob-qemu-version-XXXXXX";
	char *text;
	int fd;

	if (v[0])
		return v;
	snprintf(v, sizeof(v), "unknown");
	fd = mkstemp(tmp);
	if (fd < 0)
		return v;
	close(fd);
	if (!proc_run(argv, tmp, true) &&
	    !textfile_read(tmp, 1 << 16, "QEMU's version", &text, NULL, 0)) {
		text[strcspn(text, "\n")] = '\0';
		snprintf(v, sizeof(v), "%s", text);
		iob_free(text);
	}
	unlink(tmp);
	return v;
}

int qboot_compress(const char *src, const char *dst)
{
	char *argv[] = { "xz", "-3", "-T1", "-c", (char *)src, NULL };
	char tmp[4600];
	int ret;

	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	ret = proc_run(argv, tmp, false);
	if (ret > 0)
		ret = -EIO;
	if (!ret && rename(tmp, dst))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}
