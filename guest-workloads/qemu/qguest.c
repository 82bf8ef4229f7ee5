// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <iob/alloc.h>
#include <iob/proc.h>
#include <iob/textfile.h>

#include "qguest.h"

#ifndef IOB_QEMU_IOB
#define IOB_QEMU_IOB ""
#endif
#ifndef IOB_QEMU_IODIRECT
#define IOB_QEMU_IODIRECT ""
#endif
#ifndef IOB_QEMU_CACHE
#define IOB_QEMU_CACHE ""
#endif

const char *qguest_cache_dir(void)
{
	const char *e = getenv("IOB_QEMU_CACHE");

	return e && *e ? e : IOB_QEMU_CACHE;
}

/* build-guest.sh's last lines: kver=, kernel=, initrd= (module= is not needed). */
static void read_names(char *text, struct qguest *g)
{
	char *line, *save = NULL;

	memset(g, 0, sizeof(*g));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "kver=", 5))
			snprintf(g->kver, sizeof(g->kver), "%s", line + 5);
		else if (!strncmp(line, "kernel=", 7))
			snprintf(g->kernel, sizeof(g->kernel), "%s", line + 7);
		else if (!strncmp(line, "initrd=", 7))
			snprintf(g->initrd, sizeof(g->initrd), "%s", line + 7);
	}
}

int qguest_build(bool force, struct qguest *g, char *err, size_t errlen)
{
	const char *iodirect = getenv("IOB_QEMU_IODIRECT"), *cache = qguest_cache_dir();
	const char *iob = getenv("IOB_QEMU_IOB");
	char script[4200], out[4200], *text;
	char *argv[10];
	int n = 0, ret;

	memset(g, 0, sizeof(*g));
	if (!iodirect || !*iodirect)
		iodirect = IOB_QEMU_IODIRECT;
	if (!iob || !*iob)
		iob = IOB_QEMU_IOB;
	if (!*iodirect || !*cache) {
		snprintf(err, errlen, "this iob was built without the guest program (a sanitizer "
			 "build?); use the default build");
		return -ENOTSUP;
	}
	snprintf(script, sizeof(script), "%s/build-guest.sh", IOB_QEMU_GUEST_SRC);
	snprintf(out, sizeof(out), "%s/build.out", cache);
	if (mkdir(cache, 0755) && errno != EEXIST) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", cache, strerror(-ret));
		return ret;
	}
	argv[n++] = "bash";
	argv[n++] = script;
	argv[n++] = "--out";
	argv[n++] = (char *)cache;
	argv[n++] = "--iodirect";
	argv[n++] = (char *)iodirect;
	/* The static iob, when this build made one (iob host runs in the guest). */
	if (*iob && proc_is_file(iob)) {
		argv[n++] = "--iob";
		argv[n++] = (char *)iob;
	}
	if (force)
		argv[n++] = "--force";
	argv[n] = NULL;
	ret = proc_run(argv, out, false);
	if (ret < 0) {
		snprintf(err, errlen, "%s: %s", script, strerror(-ret));
		return ret;
	}
	if (ret == 2) {
		snprintf(err, errlen, "the guest cannot be built here (see above)");
		return -EPERM;
	}
	if (ret) {
		snprintf(err, errlen, "building the guest failed (%s exited %d)", script, ret);
		return -EIO;
	}
	ret = textfile_read(out, 1 << 20, "build-guest.sh's output", &text, err, errlen);
	if (ret)
		return ret;
	read_names(text, g);
	iob_free(text);
	if (!*g->kver || !proc_is_file(g->kernel) || !proc_is_file(g->initrd)) {
		snprintf(err, errlen, "build-guest.sh did not name a kernel and an initramfs");
		return -EIO;
	}
	return 0;
}
