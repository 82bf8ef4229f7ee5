#!/usr/bin/env bash
# Fetch Debian's Xen 4.17 source (pinned, pin.sh), apply the series in
# order, configure with a fragment from config/ and build the hypervisor.
#   build.sh --out DIR [--counters on|off] [--jobs N] [--apply-only]
# Leaves DIR/xen-counters-VARIANT (the multiboot ELF QEMU and GRUB boot),
# DIR/xen-counters-VARIANT.gz and DIR/xen-syms-counters-VARIANT. A build
# whose inputs (pin, series, patches, fragment) are unchanged is reused.
# --apply-only stops after the series applied (in DIR/apply-check).
# Exit status: 0 ok, 1 a step failed, 2 bad usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=pin.sh
. "$here/pin.sh"

usage() { sed -n '2,10s/^# \{0,1\}//p' "$0" >&2; exit 2; }
bad() { printf 'build.sh: %s\n' "$*" >&2; exit 2; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }
say() { printf '==> %s\n' "$*" >&2; }

out= counters=on jobs=$(nproc) apply_only=0
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=${2:?}; shift 2 ;;
	--counters) counters=${2:?}; shift 2 ;;
	--jobs) jobs=${2:?}; shift 2 ;;
	--apply-only) apply_only=1; shift ;;
	-h|--help) usage ;;
	*) bad "unknown argument '$1'" ;;
	esac
done
[ -n "$out" ] || usage
case "$counters" in on|off) ;; *) bad "--counters: '$counters' is not on or off" ;; esac
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || bad "--jobs: '$jobs' is not a positive number"
for t in make gcc bison flex patch; do
	command -v "$t" >/dev/null || die "$t not found (./run installs PKGS_XEN)"
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
variant=counters-$counters
frag=$here/config/$variant.config
tree=$out/tree-$variant
# A check that the series applies must not discard a finished build.
[ $apply_only -eq 1 ] && tree=$out/apply-check

mapfile -t series < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/series")
[ ${#series[@]} -gt 0 ] || die "series lists no patch"
stamp=$( (cat "$here/pin.sh" "$here/series" "$frag"
	  for p in "${series[@]}"; do cat "$here/patches/$p"; done) | sha256sum | cut -d' ' -f1)
if [ $apply_only -eq 0 ] && [ -f "$out/xen-$variant" ] &&
   [ "$(cat "$tree/.iob-stamp" 2>/dev/null)" = "$stamp" ]; then
	say "xen $XEN_DEB_VERSION ($variant) is up to date: $out/xen-$variant"
	exit 0
fi

"$here/fetch.sh" "$out/src"

say "applying ${#series[@]} patches to xen $XEN_DEB_VERSION ($variant)"
rm -rf "$tree"
cp -a "$out/src" "$tree"
for p in "${series[@]}"; do
	[ -f "$here/patches/$p" ] || die "series names $p, which is not in patches/"
	patch -d "$tree" -p1 -s --fuzz=0 --no-backup-if-mismatch -N <"$here/patches/$p" ||
		die "patch $p does not apply to xen $XEN_DEB_VERSION"
done
[ $apply_only -eq 1 ] && { say "applied: $tree"; exit 0; }

say "configuring ($variant)"
# The fragment first, then Kconfig's defaults for everything it leaves out.
cp "$frag" "$tree/xen/.config"
make -C "$tree/xen" -s olddefconfig >/dev/null || die "make olddefconfig failed"
for opt in $(sed -n 's/^\(CONFIG_[A-Z0-9_]*=.*\)$/\1/p' "$frag"); do
	grep -qx "$opt" "$tree/xen/.config" || die "$opt ($variant.config) did not survive olddefconfig"
done
for opt in $(sed -n 's/^# \(CONFIG_[A-Z0-9_]*\) is not set$/\1/p' "$frag"); do
	grep -q "^$opt=" "$tree/xen/.config" && die "$opt is set although $variant.config unsets it"
done

say "building ($variant, make -j$jobs)"
t0=$(date +%s)
make -C "$tree/xen" -j"$jobs" >"$out/build-$variant.log" 2>&1 ||
	{ tail -n 30 "$out/build-$variant.log" >&2; die "build failed (log: $out/build-$variant.log)"; }
cp "$tree/xen/xen" "$out/xen-$variant.tmp" && mv "$out/xen-$variant.tmp" "$out/xen-$variant"
cp "$tree/xen/xen.gz" "$out/xen-$variant.gz"
cp "$tree/xen/xen-syms" "$out/xen-syms-$variant"
echo "$stamp" >"$tree/.iob-stamp"
say "built in $(( $(date +%s) - t0 )) s: $out/xen-$variant"
