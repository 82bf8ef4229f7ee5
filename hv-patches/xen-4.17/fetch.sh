#!/usr/bin/env bash
# Fetch Debian's Xen 4.17 source, pinned, verified, unpacked (Debian's own
# patches applied by dpkg-source) into DEST.
#   fetch.sh DEST
# Adds a deb-src entry for Debian's main archive (the security archive's
# source package does not unpack here, docs/xen.md) when none is present.
# Exit status: 0 ok, 1 fetch or check failed, 2 bad usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=pin.sh
. "$here/pin.sh"

[ $# -eq 1 ] || { echo "usage: fetch.sh DEST" >&2; exit 2; }
dest=$1

die() { printf 'fetch.sh: %s\n' "$*" >&2; exit 1; }

if [ -f "$dest/.iob-fetched" ] && [ "$(cat "$dest/.iob-fetched")" = "$XEN_DEB_VERSION" ]; then
	exit 0
fi

need_update=0
if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/ ||
   ! apt-cache showsrc xen 2>/dev/null | grep -q "^Version: $XEN_DEB_VERSION\$"; then
	[ "$(id -u)" -eq 0 ] || die "no deb-src entry offers xen $XEN_DEB_VERSION; as root this script adds $XEN_SRC_LIST"
	cat >"$XEN_SRC_LIST" <<EOS
# Added by iommubench hv-patches/xen-4.17/fetch.sh: Xen's source package.
Types: deb-src
URIs: $XEN_DEB_MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
	need_update=1
fi
if [ $need_update -eq 1 ]; then
	apt-get update -qq || die "apt-get update failed"
fi
apt-cache showsrc xen 2>/dev/null | grep -q "^Version: $XEN_DEB_VERSION\$" ||
	die "xen source version $XEN_DEB_VERSION is not offered by the configured archive" \
	    "(offered: $(apt-cache showsrc xen 2>/dev/null | sed -n 's/^Version: //p' | tr '\n' ' '));" \
	    "the series is pinned to it: update pin.sh and rebase the patches to move"

dl=$(mktemp -d "${TMPDIR:-/tmp}/iob-xen-dl.XXXXXX")
trap 'rm -rf "$dl"' EXIT
chmod 755 "$dl"	# apt's _apt user downloads into it
(cd "$dl" && apt-get source -o APT::Sandbox::User=root --download-only -qq "xen=$XEN_DEB_VERSION" >/dev/null) ||
	die "apt-get source xen=$XEN_DEB_VERSION failed"

# apt checked these against the signed Release file; the pin checks that
# it is the very source the series was written against.
(cd "$dl" && printf '%s\n' "${XEN_SHA256[@]}" | sha256sum --quiet -c -) ||
	die "checksum mismatch for the xen $XEN_DEB_VERSION source files"

dpkg-source --no-check -x "$dl/xen_${XEN_DEB_VERSION}.dsc" "$dl/src" >/dev/null ||
	die "dpkg-source -x failed"
[ -f "$dl/src/xen/drivers/passthrough/amd/iommu_map.c" ] ||
	die "unpacked tree lacks xen/drivers/passthrough/amd/iommu_map.c"
echo "$XEN_DEB_VERSION" >"$dl/src/.iob-fetched"
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$dl/src" "$dest"
