#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the iommubench guest from Debian packages only: the kernel and
# modules of linux-image-amd64, busybox-static, the static iob-iodirect
# program and the dmabench module (built against linux-headers-<that
# kernel>), packed with init.sh into an initramfs.
#
#   build-guest.sh --out DIR --iodirect PATH [--iob PATH] [--force]
#
# --iob: a static iob, installed as /bin/iob (iob host runs in the guest).
#
# The kernel version is discovered from the installed linux-image-amd64
# package (its dependency names linux-image-<version>). Missing packages
# are installed with apt-get when root; otherwise they are named and the
# script exits 2. The result is cached in DIR and rebuilt only when an
# input changed (kernel, scripts, module source, iob-iodirect). On success
# it prints, one per line: kver=..., kernel=..., initrd=..., module=...
# Exit: 0 ok, 1 a step failed, 2 bad usage or missing packages.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out= iodirect= iob= force=0
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=${2:?}; shift 2 ;;
	--iodirect) iodirect=${2:?}; shift 2 ;;
	--iob) iob=${2:?}; shift 2 ;;
	--force) force=1; shift ;;
	-h|--help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "build-guest: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ -n "$out" ] && [ -n "$iodirect" ] || { echo "build-guest: --out and --iodirect are required" >&2; exit 2; }
[ -x "$iodirect" ] || { echo "build-guest: $iodirect: not an executable" >&2; exit 2; }
[ -z "$iob" ] || [ -x "$iob" ] || { echo "build-guest: $iob: not an executable" >&2; exit 2; }

say() { printf 'build-guest: %s\n' "$*" >&2; }
die() { printf 'build-guest: %s\n' "$*" >&2; exit 1; }

installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
ensure() {
	local p missing=()
	for p in "$@"; do installed "$p" || missing+=("$p"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "build-guest: missing Debian packages: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
		exit 2
	fi
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
		|| die "apt-get install ${missing[*]} failed"
}

ensure linux-image-amd64 busybox-static cpio kmod make gcc qemu-system-x86
# linux-image-amd64 depends on exactly one linux-image-<version>.
kver=$(dpkg-query -W -f='${Depends}\n' linux-image-amd64 | tr ',' '\n' |
	sed -n 's/^ *linux-image-\([0-9][^ ]*\).*/\1/p' | head -n 1)
[ -n "$kver" ] || die "cannot tell the kernel version from linux-image-amd64's dependencies"
ensure "linux-headers-$kver"
vmlinuz=/boot/vmlinuz-$kver
moddir=/lib/modules/$kver
[ -r "$vmlinuz" ] || die "$vmlinuz is missing (reinstall linux-image-$kver)"
[ -f "$moddir/modules.dep" ] || die "$moddir/modules.dep is missing"
[ -d "$moddir/build" ] || die "$moddir/build is missing (linux-headers-$kver)"
busybox=/bin/busybox
[ -x "$busybox" ] || die "$busybox is missing (busybox-static)"

mkdir -p "$out"
stamp=$( {
	echo "$kver"
	stat -c '%s %Y' "$vmlinuz" "$moddir/modules.dep" "$busybox"
	sha256sum "$0" "$here/init.sh" "$here/dmabench/dmabench.c" "$here/dmabench/Kbuild" "$iodirect"
	[ -z "$iob" ] || sha256sum "$iob"
} | sha256sum | cut -d' ' -f1)
if [ $force = 0 ] && [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] &&
   [ -f "$out/initrd.img" ] && [ -f "$out/dmabench.ko" ]; then
	say "up to date ($out)"
else
	say "building the guest for $kver in $out"
	rm -rf "$out/stamp" "$out/root" "$out/kbuild"
	# The module, out of tree, in a copy (kbuild writes next to the source).
	mkdir -p "$out/kbuild"
	cp "$here/dmabench/dmabench.c" "$here/dmabench/Kbuild" "$out/kbuild/"
	make -s -C "$moddir/build" M="$out/kbuild" modules >"$out/kbuild.log" 2>&1 ||
		{ cat "$out/kbuild.log" >&2; die "the dmabench module did not build"; }
	cp "$out/kbuild/dmabench.ko" "$out/dmabench.ko"

	root=$out/root
	mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,lib/iob,"lib/modules/$kver"}
	cp "$busybox" "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	cp "$iodirect" "$root/bin/iob-iodirect"
	[ -z "$iob" ] || cp "$iob" "$root/bin/iob"
	cp "$out/dmabench.ko" "$root/lib/iob/"
	install -m 0755 "$here/init.sh" "$root/init"
	# The block drivers and VFIO (for iob host), and all they depend on, per modules.dep.
	want=$(grep -E '/(virtio_pci|virtio_blk|nvme|vfio_iommu_type1|vfio-pci)\.ko:' "$moddir/modules.dep" |
		sed 's/://' | tr ' ' '\n' | sort -u)
	[ -n "$want" ] || die "virtio_pci, virtio_blk, nvme: not in $moddir/modules.dep"
	: > "$root/lib/modules/$kver/modules.dep"
	for m in $want; do
		mkdir -p "$root/lib/modules/$kver/$(dirname "$m")"
		cp "$moddir/$m" "$root/lib/modules/$kver/$m"
		grep "^$m:" "$moddir/modules.dep" >> "$root/lib/modules/$kver/modules.dep"
	done
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$out/initrd.img.tmp"
	mv "$out/initrd.img.tmp" "$out/initrd.img"
	echo "$stamp" > "$out/stamp"
	say "done: $(du -h "$out/initrd.img" | cut -f1) initramfs"
fi
echo "kver=$kver"
echo "kernel=$vmlinuz"
echo "initrd=$out/initrd.img"
echo "module=$out/dmabench.ko"
