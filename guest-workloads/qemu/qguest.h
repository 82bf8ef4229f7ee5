/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qguest: the guest that `iob qemu run` boots, built from Debian packages
 * by build-guest.sh (kernel and modules of linux-image-amd64, busybox,
 * iob-iodirect, the dmabench module, init.sh) into a cache folder, and
 * rebuilt only when an input changed. Nothing here prints or exits; the
 * script's own messages go to this process's stderr.
 */
#ifndef IOB_QGUEST_H
#define IOB_QGUEST_H

#include <stdbool.h>
#include <stddef.h>

struct qguest {
	char kver[128];		/* the guest kernel's version (uname -r) */
	char kernel[1024];	/* /boot/vmlinuz-<kver> */
	char initrd[1024];	/* the initramfs in the cache */
};

/*
 * qguest_cache_dir() - Where the guest is built: $IOB_QEMU_CACHE, else
 * <build dir>/guest-workloads/qemu/guest. "" when this build has no guest
 * program (a sanitizer build).
 */
const char *qguest_cache_dir(void);

/**
 * qguest_build() - Run build-guest.sh (a no-op when the cache is current).
 * @force: rebuild even when nothing changed
 * @g:     the kernel and initramfs to boot
 * @err:   why not
 *
 * Return: 0; -ENOTSUP when this iob was built without the static guest
 * program (sanitizer builds); -EPERM when the script refused (exit 2:
 * packages missing and not root, said on stderr); -EIO when it failed or
 * did not name a kernel and an initramfs; -errno when it could not run.
 */
int qguest_build(bool force, struct qguest *g, char *err, size_t errlen);

#endif /* IOB_QGUEST_H */
