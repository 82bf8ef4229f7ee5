/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qboot: one boot of the guest (qguest.h) behind QEMU's emulated IOMMU,
 * and what it leaves behind.
 *
 *  - qboot_argv(): QEMU's command line for an IOMMU x device x mode, the
 *    workloads passed to the guest's /init (init.sh) as iob.* options;
 *  - qboot_run(): QEMU started with its serial console on a pipe; the
 *    console is copied to a log and read as it comes: at each "IOB-MARK
 *    begin" the host clock is stamped and the guest answered, at "IOB-MARK
 *    end" stamped again, so QEMU's trace log (-msg timestamp=on) can be cut
 *    into one window per workload. Past the timeout, or when the caller's
 *    stop() says so, QEMU is killed;
 *  - qboot_count(): QEMU's trace log counted per window (qtr_count());
 *  - qboot_collect(): the guest's results disk (a tar) unpacked, its
 *    kprobe command captures counted (qgc_count()), its map/unmap captures
 *    converted to the suite's trace format and compressed.
 *
 * The modes: strict (Linux's default under QEMU's AMD IOMMU), lazy (DMA-FQ
 * set at run time by init.sh), passthrough (iommu.passthrough=1), noiommu
 * (no IOMMU device), swiotlb (the IOMMU device present but switched off on
 * the kernel command line, and swiotlb=force: every DMA bounced through
 * the software IO TLB).
 *
 * Failures of the guest (it did not finish, reported an error, its
 * results are unreadable) are outcomes: ok false and a reason. Failures
 * of this side (no disk image, no pipe, no xz) are errors. Nothing here
 * prints or exits. From the first boot on SIGPIPE is ignored: a guest that
 * dies while it is answered must not end the caller.
 */
#ifndef IOB_QBOOT_H
#define IOB_QBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qemu.h"

enum qboot_mode {
	QBOOT_STRICT, QBOOT_LAZY, QBOOT_PASSTHROUGH, QBOOT_NOIOMMU, QBOOT_SWIOTLB,
	QBOOT_MODE_NR
};
enum qboot_dev { QBOOT_VIRTIO, QBOOT_NVME, QBOOT_DEV_NR };
enum qboot_iommu { QBOOT_AMD, QBOOT_INTEL, QBOOT_IOMMU_NR };

extern const char *const qboot_mode_names[QBOOT_MODE_NR];	/* strict, lazy, ... */
extern const char *const qboot_dev_names[QBOOT_DEV_NR];	/* virtio, nvme */
extern const char *const qboot_iommu_names[QBOOT_IOMMU_NR];	/* amd, intel */

/* An O_DIRECT point: OP:SIZE:QD. */
struct qboot_point {
	bool write;
	uint64_t bs;
	unsigned qd;
};

/* The dmabench module's parameters, as iob dmamap's flags. */
struct qboot_dmamap {
	int threads, node, bits, dir, granule;
	long delay_ns, ms;
};

/* iob host mode: the first 64 MiB of the disk under test carry iob host reach's stamps. */
#define QBOOT_STAMPED_BYTES	(64ULL << 20)

struct qboot_cfg {
	enum qboot_iommu iommu;
	enum qboot_dev dev;
	enum qboot_mode mode;
	const char *accel;		/* kvm or tcg */
	unsigned smp, mem_mib;
	const struct qboot_point *pt;	/* the O_DIRECT points; npt 0: none */
	unsigned npt;
	uint64_t ios, ms;		/* per point: at most ios I/Os, ms milliseconds */
	const struct qboot_dmamap *dmamap;	/* NULL: the module is not run */
	bool trace;			/* capture the guest's map/unmap and commands */
	bool probe;			/* only reach /init (the accelerator probe) */
	/*
	 * iob host in the guest (docs/host.md): NULL none; "quick" or "full",
	 * on the device under test (an NVMe), which it binds to vfio-pci.
	 */
	const char *host;
	const char *kernel, *initrd;
	const char *scratch;		/* disk images, the event list, unpacked results */
	const char *console;		/* the console log written */
	const char *trace_log;		/* QEMU's trace log written; NULL: not traced */
	uint64_t timeout_s;		/* 0: qboot_timeout_s() */
	bool (*stop)(void);		/* polled: true kills QEMU (NULL: never) */
};

/* QEMU's command line, built in place. */
struct qboot_argv {
	char *v[96];
	int n;
	char buf[16384];
	size_t used;
};

#define QBOOT_WINDOWS_MAX 36

/* A boot's outcome. */
struct qboot {
	char name[64];			/* amd-virtio-strict */
	bool ok, timed_out, interrupted;
	char reason[512];		/* why not ok */
	double secs;
	struct qcon con;		/* the console's IOB- records and banners */
	unsigned nwin;
	char win_id[QBOOT_WINDOWS_MAX][32];
	struct qtr_window win[QBOOT_WINDOWS_MAX];	/* host clock; counts from qboot_count() */
	struct qtr_counts total;	/* every event of the trace log */
	/* The guest driver's own commands (kprobe), per window, when captured. */
	struct qtr_counts gc[QBOOT_WINDOWS_MAX];
	bool gc_ok[QBOOT_WINDOWS_MAX];
	/* Events of the guest's map/unmap capture, per window. */
	uint64_t tmaps[QBOOT_WINDOWS_MAX], tunmaps[QBOOT_WINDOWS_MAX];
};

/* "IOMMU-DEVICE-MODE", the boot's name in file names and rows. */
const char *qboot_name(const struct qboot_cfg *c, char *buf, size_t len);

/* The timeout when none is given: boot, every point and the module at TCG's pace. */
uint64_t qboot_timeout_s(const struct qboot_cfg *c);

/**
 * qboot_argv() - QEMU's command line for @c, into @a (a->v, NULL-terminated).
 * Return: 0, or -E2BIG when it does not fit.
 */
int qboot_argv(const struct qboot_cfg *c, struct qboot_argv *a);

/**
 * qboot_run() - Boot once, read the console until QEMU exits, the timeout
 * or c->stop(). The outcome is in @b (b->ok: the guest said IOB-DONE
 * status=ok); the console is in c->console.
 * @err: why it could not be tried
 *
 * Return: 0 when the boot was tried (whatever its outcome); -errno when
 * the disk images, the event list, the console log, the pipes or the
 * process could not be made. @b must be released with qboot_free().
 */
int qboot_run(const struct qboot_cfg *c, struct qboot *b, char *err, size_t errlen);

/**
 * qboot_count() - Count c->trace_log's events into @b's windows and total.
 * A log that is missing or malformed makes the boot not ok (the reason
 * says which line).
 */
void qboot_count(const struct qboot_cfg *c, struct qboot *b);

/**
 * qboot_collect() - Unpack the guest's results disk into the scratch
 * folder, count its kprobe captures into b->gc, and write each map/unmap
 * capture as @traces_dir/<name>-<window>.trace.xz (a note names the boot
 * and @kver). Results the guest left unreadable make the boot not ok.
 * @err: why this side failed
 *
 * Return: 0, or -errno when a trace could not be written or compressed.
 */
int qboot_collect(const struct qboot_cfg *c, struct qboot *b, const char *kver,
		  const char *traces_dir, char *err, size_t errlen);

/* qboot_free() - Release what qboot_run() kept in @b (its console records). */
void qboot_free(struct qboot *b);

/**
 * qboot_pick_accel() - KVM when /dev/kvm opens and a probe boot of @c
 * (accel, probe and timeout overridden) reaches the guest's /init within
 * 30 s; TCG otherwise.
 * @probed: set when a probe boot ran
 * Return: "kvm" or "tcg".
 */
const char *qboot_pick_accel(const struct qboot_cfg *c, bool *probed);

/* qemu-system-x86_64 --version's first line, or "unknown". */
const char *qboot_qemu_version(void);

/**
 * qboot_compress() - @src compressed into @dst with xz -3 (a third of
 * gzip's size on these logs, about 10 s per 80 MB), through @dst.tmp.
 * Return: 0, -EIO when xz failed (xz-utils missing?), or -errno.
 */
int qboot_compress(const char *src, const char *dst);

#endif /* IOB_QBOOT_H */
