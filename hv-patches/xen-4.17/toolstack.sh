#!/usr/bin/env bash
# Fetch Debian's Xen toolstack (xl, xenstored, xenconsoled, xenstore-*)
# at the pinned version of the hypervisor source (pin.sh: libxl speaks the
# domctl/sysctl interface of exactly that Xen), unpacked into DEST/root.
#   toolstack.sh DEST
# The .deb files come from apt's ordinary client (apt-get download, which
# checks them against the signed archive); libraries the toolstack needs
# from outside Xen (yajl, ext2fs, ...) come along, so the host needs none
# of them installed. An unpacked toolstack of the pinned version is reused.
# Exit status: 0 ok, 1 a step failed, 2 bad usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=pin.sh
. "$here/pin.sh"

[ $# -eq 1 ] || { echo "usage: toolstack.sh DEST" >&2; exit 2; }
dest=$1
die() { printf 'toolstack.sh: %s\n' "$*" >&2; exit 1; }

if [ -f "$dest/.iob-toolstack" ] && [ "$(cat "$dest/.iob-toolstack")" = "$XEN_DEB_VERSION" ]; then
	exit 0
fi
# Built from the same source as the hypervisor: pinned to its version.
pinned=(xen-utils-4.17 xen-utils-common xenstore-utils libxenmisc4.17 libxencall1
	libxendevicemodel1 libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxenhypfs1
	libxenstore4 libxentoolcore1 libxentoollog1)
# Their other libraries, at whatever version the archive has.
others=(libyajl2 libext2fs2 libcom-err2)

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || die "apt-get and dpkg-deb are needed"
rm -rf "$dest/debs" "$dest/root"
mkdir -p "$dest/debs" "$dest/root"
chmod 755 "$dest/debs"	# apt's _apt user may download into it
args=()
for p in "${pinned[@]}"; do args+=("$p=$XEN_DEB_VERSION"); done
(cd "$dest/debs" && apt-get download -o APT::Sandbox::User=root -qq "${args[@]}" "${others[@]}" >/dev/null) ||
	die "apt-get download of the toolstack $XEN_DEB_VERSION failed (apt-get update first?)"
for d in "$dest"/debs/*.deb; do
	dpkg-deb -x "$d" "$dest/root" || die "dpkg-deb -x $d failed"
done
for b in usr/lib/xen-4.17/bin/xl usr/lib/xen-4.17/bin/xenstored usr/lib/xen-4.17/bin/xenconsoled; do
	[ -x "$dest/root/$b" ] || die "the toolstack lacks $b"
done
echo "$XEN_DEB_VERSION" >"$dest/.iob-toolstack"
