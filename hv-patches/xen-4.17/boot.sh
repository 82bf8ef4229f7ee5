#!/usr/bin/env bash
# Boot a Xen hypervisor under QEMU (TCG, emulated AMD IOMMU) with Debian's
# kernel as a PV dom0 in strict IOMMU mode, run dom0 workloads, and leave
# the serial console log. 2 GiB of RAM: with 1 GiB, Xen 4.17 sizes the
# IOMMU tables of dom0 for RAM only and crashes it mapping the MMIO hole.
#   boot.sh --xen XEN --work DIR --log FILE [--work-list LIST]
#           [--xen-args ARGS] [--smp N] [--timeout SECONDS]
# LIST: dom0 workloads, comma-separated NAME:ARG (dom0-init.sh), e.g.
#   balloon_out:64,balloon_in:64,disk_read:32. Empty: boot to a shell
#   prompt and stop.
# ARGS: extra Xen command line words (tunings: iob-batch, iob-fq=...).
# Environment: IOB_KERNEL (default: newest /boot/vmlinuz-*), QEMU.
# Exit status: 0 the dom0 ran to its end, 1 it did not, 2 bad usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)

usage() { sed -n '2,13s/^# \{0,1\}//p' "$0" >&2; exit 2; }
bad() { printf 'boot.sh: %s\n' "$*" >&2; exit 2; }
die() { printf 'boot.sh: %s\n' "$*" >&2; exit 1; }

xen= work= log= wl= xen_args= smp=2 timeout=600
while [ $# -gt 0 ]; do
	case "$1" in
	--xen) xen=${2:?}; shift 2 ;;
	--work) work=${2:?}; shift 2 ;;
	--log) log=${2:?}; shift 2 ;;
	--work-list) wl=$2; shift 2 ;;
	--xen-args) xen_args=$2; shift 2 ;;
	--smp) smp=${2:?}; shift 2 ;;
	--timeout) timeout=${2:?}; shift 2 ;;
	-h|--help) usage ;;
	*) bad "unknown argument '$1'" ;;
	esac
done
[ -n "$xen" ] && [ -n "$work" ] && [ -n "$log" ] || usage
[ -f "$xen" ] || bad "--xen: no such file '$xen'"
[[ "$smp" =~ ^[1-8]$ ]] || bad "--smp: '$smp' is not 1..8"
[[ "$timeout" =~ ^[0-9]+$ ]] || bad "--timeout: '$timeout' is not a number of seconds"
[[ "$wl" =~ ^([a-z_]+:[0-9]+(,[a-z_]+:[0-9]+)*)?$ ]] || bad "--work-list: '$wl' is not NAME:ARG[,NAME:ARG...]"
[[ "$xen_args" =~ ^[A-Za-z0-9_=,.:\ -]*$ ]] || bad "--xen-args: '$xen_args' has characters Xen's command line does not take here"

kernel=${IOB_KERNEL:-$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)}
[ -f "$kernel" ] || die "no kernel: install linux-image-amd64 or set IOB_KERNEL"
kver=${kernel##*/vmlinuz-}
moddir=/lib/modules/$kver
[ -d "$moddir" ] || die "no modules for $kver in $moddir"
qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || die "$qemu not found (install qemu-system-x86)"
bb=/bin/busybox	# busybox-static's: the initramfs has no libc
[ -x "$bb" ] || die "busybox not found (install busybox-static)"

mkdir -p "$work"
root=$work/initrd
rm -rf "$root"
mkdir -p "$root/bin" "$root/lib/modules" "$root/proc" "$root/sys" "$root/dev"
cp "$bb" "$root/bin/busybox"
cp "$here/dom0-init.sh" "$root/init"
chmod +x "$root/init"

# The dom0 programs, static so that they run without a libc in the initramfs.
cc -static -O2 -std=gnu11 -Wall -o "$root/bin/iob-xenctl" \
	"$top/guest-workloads/xen/iob_xenctl.c" || die "building iob-xenctl failed"

# Kernel modules with their dependencies, in load order.
declare -A seen=()
order=()
add_mod() {
	local m=$1 f dep
	[ -n "${seen[$m]:-}" ] && return 0
	seen[$m]=1
	f=$(modinfo -k "$kver" -F filename "$m" 2>/dev/null) || die "module $m not found for $kver"
	case "$f" in (builtin*|"") return 0 ;; esac
	for dep in $(modinfo -k "$kver" -F depends "$m" | tr ',' ' '); do
		add_mod "$dep"
	done
	local base=${f##*/}
	case "$base" in
	*.ko.xz) xz -dc "$f" >"$root/lib/modules/${base%.xz}"; base=${base%.xz} ;;
	*.ko.zst) zstd -qdc "$f" >"$root/lib/modules/${base%.zst}"; base=${base%.zst} ;;
	*) cp "$f" "$root/lib/modules/$base" ;;
	esac
	order+=("$base")
}
for m in xen-privcmd nvme; do add_mod "$m"; done
printf '%s\n' "${order[@]}" >"$root/lib/modules/order"

(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

# A disk for the DMA workloads, sparse.
disk=$work/disk.img
[ -f "$disk" ] || truncate -s 256M "$disk"

xen_cmd="console=com1 com1=115200,8n1 dom0_mem=512M,max:512M iommu=1,verbose"
xen_cmd+=" dom0-iommu=strict smap=0 loglvl=all guest_loglvl=all $xen_args"
dom0_cmd="console=hvc0 earlyprintk=xen panic=-1 loglevel=4"
[ -n "$wl" ] && dom0_cmd+=" iob.work=$wl"

# QEMU's -initrd separates multiboot modules with commas: ",," is a comma.
accel=tcg
cpu=max
if [ "${IOB_ACCEL:-tcg}" = kvm ] && [ -w /dev/kvm ]; then
	accel=kvm
	cpu=host
fi
echo "iob-host,accel=$accel,kernel=$kver,qemu=$("$qemu" --version | head -n 1)" >"$log"
echo "iob-host,xen_cmdline=$xen_cmd" >>"$log"

set +e
timeout --foreground -k 10 "$timeout" "$qemu" -accel "$accel" -machine q35 -cpu "$cpu" \
	-smp "$smp" -m 2G -nographic -no-reboot -monitor none -serial stdio \
	-device amd-iommu \
	-kernel "$xen" -append "$xen_cmd" \
	-initrd "$kernel ${dom0_cmd//,/,,},$work/initrd.gz" \
	-drive "file=$disk,if=none,id=n0,format=raw" -device nvme,drive=n0,serial=iob0 \
	</dev/null >>"$log" 2>&1
qrc=$?
set -e
[ $qrc -eq 124 ] && echo "iob-host,timeout=$timeout" >>"$log"
if [ -n "$wl" ]; then
	grep -q '^iob-dom0-done' "$log" || die "dom0 did not finish its workloads (qemu exit $qrc); log: $log"
else
	grep -q '^iob-dom0-up' "$log" || die "dom0 did not come up (qemu exit $qrc); log: $log"
fi
