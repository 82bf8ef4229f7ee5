// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iob-iodirect: O_DIRECT reads or writes of one block size at one queue
 * depth on a block device, run inside the QEMU guest. Linux native AIO
 * (io_submit) keeps QD requests in flight from one thread, so the queue
 * depth is the device's, not a thread count's. Built static: the guest
 * has only busybox.
 *
 * Prints one line the harness parses (guest-workloads/qemu/parse.c):
 *   IOB-RESULT kind=io op=read bs=65536 qd=8 ios=... secs=... iops=...
 *   mbps=... samples=... mean_ns=... stddev_ns=... min_ns=... p50_ns=...
 *   p90_ns=... p99_ns=... p999_ns=... max_ns=...
 * Latency is submit to reaped completion, CLOCK_MONOTONIC. Exit 2 on bad
 * arguments, 1 when an I/O fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define QD_MAX		256
/* Log-linear histogram: 64 sub-buckets per power of two (1.6% resolution). */
#define SUB_LG2		6
#define SUB		(1u << SUB_LG2)
#define NBUCKETS	(64 * SUB)

static uint64_t hist[NBUCKETS];

static unsigned bucket_of(uint64_t v)
{
	unsigned e;

	if (v < SUB)
		return (unsigned)v;
	e = 63 - (unsigned)__builtin_clzll(v);
	return (e - SUB_LG2 + 1) * SUB + (unsigned)((v >> (e - SUB_LG2)) & (SUB - 1));
}

/* Middle of bucket @b. */
static double bucket_mid(unsigned b)
{
	unsigned e, sub;

	if (b < SUB)
		return b;
	e = b / SUB + SUB_LG2 - 1;
	sub = b % SUB;
	return (double)((uint64_t)(SUB + sub) << (e - SUB_LG2)) +
	       (double)(1ULL << (e - SUB_LG2)) / 2;
}

static double percentile(uint64_t n, double q)
{
	uint64_t want = (uint64_t)ceil(q * (double)n), seen = 0;

	if (!want)
		want = 1;
	for (unsigned b = 0; b < NBUCKETS; b++) {
		seen += hist[b];
		if (seen >= want)
			return bucket_mid(b);
	}
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void usage(const char *msg)
{
	fprintf(stderr, "iob-iodirect: %s\n"
		"usage: iob-iodirect -f DEV [-o read|write] [-b BYTES] [-q QD] [-n IOS] "
		"[-t MS] [-r REGION_BYTES] [-S SEED]\n", msg);
	exit(2);
}

static uint64_t num(const char *s, const char *what, uint64_t lo, uint64_t hi)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || !*s || v < lo || v > hi) {
		fprintf(stderr, "iob-iodirect: %s: '%s' is not a number in %llu..%llu\n", what, s,
			(unsigned long long)lo, (unsigned long long)hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	int write_op = 0, opt, fd;
	uint64_t bs = 4096, qd = 1, ios = 1000, ms = 3000, region = 0, dev_bytes = 0;
	uint64_t submitted = 0, done = 0, t_start, t_end, t_submit[QD_MAX];
	double sum = 0, sumsq = 0;
	uint64_t lmin = UINT64_MAX, lmax = 0;
	aio_context_t ctx = 0;
	static struct iocb cbs[QD_MAX];
	struct iocb *cbp[QD_MAX];
	struct io_event evs[QD_MAX];
	char *buf;

	while ((opt = getopt(argc, argv, "f:o:b:q:n:t:r:S:")) != -1) {
		switch (opt) {
		case 'f': path = optarg; break;
		case 'o':
			if (!strcmp(optarg, "read"))
				write_op = 0;
			else if (!strcmp(optarg, "write"))
				write_op = 1;
			else
				usage("-o must be read or write");
			break;
		case 'b': bs = num(optarg, "-b", 512, 64 << 20); break;
		case 'q': qd = num(optarg, "-q", 1, QD_MAX); break;
		case 'n': ios = num(optarg, "-n", 1, 1ULL << 40); break;
		case 't': ms = num(optarg, "-t", 1, 3600000); break;
		case 'r': region = num(optarg, "-r", 4096, 1ULL << 50); break;
		case 'S': rng = num(optarg, "-S", 1, UINT64_MAX); break;
		default: usage("bad option");
		}
	}
	if (!path)
		usage("-f DEV is required");
	if (bs % 4096)
		usage("-b must be a multiple of 4096");
	fd = open(path, (write_op ? O_RDWR : O_RDONLY) | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "iob-iodirect: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (ioctl(fd, BLKGETSIZE64, &dev_bytes) || !dev_bytes)
		dev_bytes = (uint64_t)lseek(fd, 0, SEEK_END);
	if (!region || region > dev_bytes)
		region = dev_bytes;
	if (region < bs) {
		fprintf(stderr, "iob-iodirect: %s: %llu bytes, smaller than one I/O\n", path,
			(unsigned long long)region);
		return 1;
	}
	if (posix_memalign((void **)&buf, 4096, bs * qd)) {
		fprintf(stderr, "iob-iodirect: out of memory\n");
		return 1;
	}
	memset(buf, 0x5a, bs * qd);
	if (syscall(SYS_io_setup, (long)qd, &ctx)) {
		fprintf(stderr, "iob-iodirect: io_setup: %s\n", strerror(errno));
		return 1;
	}
	t_start = now_ns();
	t_end = t_start + ms * 1000000ULL;
	for (;;) {
		int n = 0, got;

		/* Refill: every free slot gets a request while there are any to send. */
		for (uint64_t s = 0; s < qd && submitted < ios && now_ns() < t_end; s++) {
			if (cbs[s].aio_data)
				continue;
			memset(&cbs[s], 0, sizeof(cbs[s]));
			cbs[s].aio_data = s + 1;
			cbs[s].aio_fildes = (uint32_t)fd;
			cbs[s].aio_lio_opcode = write_op ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
			cbs[s].aio_buf = (uint64_t)(uintptr_t)(buf + s * bs);
			cbs[s].aio_nbytes = bs;
			cbs[s].aio_offset = (int64_t)((next_rand() % (region / bs)) * bs);
			cbp[n++] = &cbs[s];
			t_submit[s] = now_ns();
			submitted++;
		}
		if (n && syscall(SYS_io_submit, ctx, (long)n, cbp) != n) {
			fprintf(stderr, "iob-iodirect: io_submit: %s\n", strerror(errno));
			return 1;
		}
		if (submitted == done)
			break;
		got = (int)syscall(SYS_io_getevents, ctx, 1L, (long)qd, evs, NULL);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "iob-iodirect: io_getevents: %s\n", strerror(errno));
			return 1;
		}
		for (int i = 0; i < got; i++) {
			uint64_t s = evs[i].data - 1, lat = now_ns() - t_submit[s];

			if (evs[i].res != (int64_t)bs) {
				fprintf(stderr, "iob-iodirect: I/O failed: %s\n",
					evs[i].res < 0 ? strerror((int)-evs[i].res) : "short transfer");
				return 1;
			}
			cbs[s].aio_data = 0;
			hist[bucket_of(lat)]++;
			sum += (double)lat;
			sumsq += (double)lat * (double)lat;
			if (lat < lmin)
				lmin = lat;
			if (lat > lmax)
				lmax = lat;
			done++;
		}
	}
	{
		double secs = (double)(now_ns() - t_start) / 1e9;
		double mean = sum / (double)done;
		double var = sumsq / (double)done - mean * mean;

		printf("IOB-RESULT kind=io op=%s bs=%llu qd=%llu ios=%llu secs=%.4f iops=%.1f "
		       "mbps=%.3f samples=%llu mean_ns=%.0f stddev_ns=%.0f min_ns=%llu p50_ns=%.0f "
		       "p90_ns=%.0f p99_ns=%.0f p999_ns=%.0f max_ns=%llu\n",
		       write_op ? "write" : "read", (unsigned long long)bs, (unsigned long long)qd,
		       (unsigned long long)done, secs, (double)done / secs,
		       (double)done * (double)bs / secs / 1e6, (unsigned long long)done, mean,
		       var > 0 ? sqrt(var) : 0, (unsigned long long)lmin, percentile(done, 0.50),
		       percentile(done, 0.90), percentile(done, 0.99), percentile(done, 0.999),
		       (unsigned long long)lmax);
	}
	syscall(SYS_io_destroy, ctx);
	close(fd);
	return 0;
}
