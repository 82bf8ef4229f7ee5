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
# A work list with domU workloads (dom0-init.sh: domu, net_*, blk_*, ...)
# puts Debian's Xen toolstack (toolstack.sh, cached next to XEN) and the
# domU's kernel and initramfs (domu-init.sh) into the dom0 initramfs.
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
domu=0
[[ ",$wl" =~ ,(domu|net_|blk_|pblk_) ]] && domu=1
mods=(xen-privcmd nvme)
[ $domu -eq 1 ] && mods+=(xen-evtchn xenfs xen-gntdev xen-gntalloc xen-netback xen-blkback)
for m in "${mods[@]}"; do add_mod "$m"; done
printf '%s\n' "${order[@]}" >"$root/lib/modules/order"

# copy_elf FROM TO: a dynamic program and the libraries it needs, found in
# the toolstack's unpacked packages first, then the host's.
copy_elf() {
	local lib
	mkdir -p "$root/$(dirname "$2")"
	cp "$1" "$root/$2"
	for lib in $(LD_LIBRARY_PATH="$ts/usr/lib/x86_64-linux-gnu:$ts/lib/x86_64-linux-gnu" \
		     ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }'); do
		case "$lib" in
		"$ts"/*) dst=${lib#"$ts"} ;;
		*) dst=$lib ;;
		esac
		[ -e "$root$dst" ] || { mkdir -p "$root$(dirname "$dst")"; cp -L "$lib" "$root$dst"; }
	done
}
if [ $domu -eq 1 ]; then
	tsdir=$(cd "$(dirname "$xen")" && pwd)/toolstack
	"$here/toolstack.sh" "$tsdir" || die "fetching the Xen toolstack failed"
	ts=$tsdir/root
	xb=/usr/lib/xen-4.17/bin
	for b in xl xenstored xenconsoled xen-init-dom0; do copy_elf "$ts$xb/$b" "$xb/$b"; done
	for b in xenstore-read xenstore-write xenstore-ls; do copy_elf "$ts/usr/bin/xenstore" "/usr/bin/$b"; done
	# glibc loads it at run time for pthread_cancel, which xl uses: ldd does not list it.
	gcc_s=$(ldconfig -p | awk '/libgcc_s\.so\.1 .*x86-64/ { print $NF; exit }')
	[ -f "$gcc_s" ] || die "libgcc_s.so.1 not found"
	mkdir -p "$root/lib/x86_64-linux-gnu"
	cp -L "$gcc_s" "$root/lib/x86_64-linux-gnu/libgcc_s.so.1"
	mkdir -p "$root/etc/xen/scripts" "$root/boot"
	cp "$here/iob-vif" "$here/iob-block" "$root/etc/xen/scripts/"
	cp "$here/iob-domu.cfg.in" "$root/etc/xen/"
	cp "$here/domu-sink.sh" "$root/bin/"
	cp "$kernel" "$root/boot/vmlinuz"
	# The domU's initramfs: busybox, its init and request handler, the fronts.
	droot=$work/domu-initrd
	rm -rf "$droot"
	mkdir -p "$droot/bin" "$droot/lib/modules" "$droot/proc" "$droot/sys" "$droot/dev"
	cp "$bb" "$droot/bin/busybox"
	cp "$here/domu-init.sh" "$droot/init"
	cp "$here/domu-cmd.sh" "$here/domu-sink.sh" "$droot/bin/"
	cp "$root/bin/iob-xenctl" "$droot/bin/"
	for m in xen-privcmd xen-gntalloc xen-netfront xen-blkfront; do
		f=$(modinfo -k "$kver" -F filename "$m") || die "module $m not found for $kver"
		case "$f" in
		*.ko.xz) xz -dc "$f" >"$droot/lib/modules/$m.ko" ;;
		*.ko.zst) zstd -qdc "$f" >"$droot/lib/modules/$m.ko" ;;
		*) cp "$f" "$droot/lib/modules/$m.ko" ;;
		esac
	done
	(cd "$droot" && find . | cpio -o -H newc --quiet | gzip -1) >"$root/boot/domu-initrd.gz"
fi

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
