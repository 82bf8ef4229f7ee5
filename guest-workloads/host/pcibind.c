// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Giving a PCI function to vfio-pci and back, the way the kernel's
 * documentation (Documentation/driver-api/vfio.rst) and driverctl do it:
 * driver_override names the only driver that may bind, unbind drops the
 * current one, drivers_probe binds again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host.h"

/* The binding a signal handler undoes: paths prepared in advance. */
static struct {
	volatile int armed;
	char unbind[160], override[160], probe[64];
	char bdf[16];
	size_t bdf_len;
} sig_rec;

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int e;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	e = n < 0 ? -errno : 0;
	close(fd);
	return e;
}

static void current_driver(const char *bdf, char *out, size_t len)
{
	char p[128], link[PATH_MAX];
	ssize_t k;

	out[0] = '\0';
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver", bdf);
	k = readlink(p, link, sizeof(link) - 1);
	if (k <= 0)
		return;
	link[k] = '\0';
	snprintf(out, len, "%.63s", strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
}

int pcibind_to_vfio(const char *bdf, struct pcibind *b, char *err, size_t errlen)
{
	char p[160], drv[64];
	int ret;

	memset(b, 0, sizeof(*b));
	snprintf(b->bdf, sizeof(b->bdf), "%.15s", bdf);
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s", bdf);
	if (access(p, F_OK)) {
		snprintf(err, errlen, "%s: no such PCI function", bdf);
		return -ENODEV;
	}
	current_driver(bdf, b->orig_driver, sizeof(b->orig_driver));
	if (!strcmp(b->orig_driver, "vfio-pci"))
		return 0;
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver_override", bdf);
	ret = write_str(p, "vfio-pci");
	if (ret) {
		snprintf(err, errlen, "%s: %s", p, strerror(-ret));
		return ret;
	}
	b->changed = true;
	snprintf(sig_rec.override, sizeof(sig_rec.override), "%s", p);
	snprintf(sig_rec.unbind, sizeof(sig_rec.unbind), "/sys/bus/pci/devices/%s/driver/unbind",
		 bdf);
	/* Probing again binds the original driver; with none, nothing should bind. */
	snprintf(sig_rec.probe, sizeof(sig_rec.probe), "%s",
		 b->orig_driver[0] ? "/sys/bus/pci/drivers_probe" : "");
	snprintf(sig_rec.bdf, sizeof(sig_rec.bdf), "%s", bdf);
	sig_rec.bdf_len = strlen(bdf);
	sig_rec.armed = 1;
	if (b->orig_driver[0]) {
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
		ret = write_str(p, bdf);
		if (ret) {
			snprintf(err, errlen, "%s: %s", p, strerror(-ret));
			pcibind_restore(b);
			return ret;
		}
	}
	ret = write_str("/sys/bus/pci/drivers_probe", bdf);
	current_driver(bdf, drv, sizeof(drv));
	if (strcmp(drv, "vfio-pci")) {
		snprintf(err, errlen, "%s: vfio-pci did not bind (%s; is the vfio-pci module loaded?)",
			 bdf, ret ? strerror(-ret) : "no driver after probing");
		pcibind_restore(b);
		return ret ? ret : -ENOENT;
	}
	return 0;
}

int pcibind_restore(struct pcibind *b)
{
	char p[160], drv[64];
	int ret = 0, r;

	if (!b->changed)
		return 0;
	sig_rec.armed = 0;
	current_driver(b->bdf, drv, sizeof(drv));
	if (drv[0]) {
		snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver/unbind", b->bdf);
		ret = write_str(p, b->bdf);
	}
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/driver_override", b->bdf);
	/* A newline alone clears the override. */
	r = write_str(p, "\n");
	ret = ret ? ret : r;
	if (b->orig_driver[0]) {
		r = write_str("/sys/bus/pci/drivers_probe", b->bdf);
		ret = ret ? ret : r;
	}
	b->changed = false;
	return ret;
}

void pcibind_restore_from_signal(void)
{
	int fd;

	if (!sig_rec.armed)
		return;
	sig_rec.armed = 0;
	fd = open(sig_rec.unbind, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, sig_rec.bdf, sig_rec.bdf_len) < 0)
			(void)0;
		close(fd);
	}
	fd = open(sig_rec.override, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "\n", 1) < 0)
			(void)0;
		close(fd);
	}
	fd = sig_rec.probe[0] ? open(sig_rec.probe, O_WRONLY | O_CLOEXEC) : -1;
	if (fd >= 0) {
		if (write(fd, sig_rec.bdf, sig_rec.bdf_len) < 0)
			(void)0;
		close(fd);
	}
}
