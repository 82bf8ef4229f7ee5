#!/bin/busybox sh
# /init of the dom0 initramfs that boot.sh builds. Runs the workloads named
# on the kernel command line (iob.work=NAME:ARG,...), each between a reset
# and a dump of the path counters, then reboots (QEMU runs with -no-reboot,
# so the machine stops).
#   balloon_out:MIB  lower the balloon target by MIB, wait until reached
#   balloon_in:MIB   raise it back by MIB, wait until reached
#   disk_read:MIB    O_DIRECT reads of the NVMe disk, 64 KiB each
#   disk_write:MIB   O_DIRECT writes to it
#   pv:N             the pv-IOMMU checks (refusals), then N x map and unmap
#                    of 16 frames (needs balloon headroom: balloon out first)
#   dmalayer:N       N x dma_map and dma_unmap of 16 frames (same)
# Every line meant for the parser starts with "iob-".
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

for m in $(cat /lib/modules/order); do
	insmod "/lib/modules/$m" 2>/dev/null || echo "iob-warn,insmod $m failed"
done

cmdline=$(cat /proc/cmdline)
work=
for w in $cmdline; do
	case "$w" in iob.work=*) work=${w#iob.work=} ;; esac
done

bal=/sys/devices/system/xen_memory/xen_memory0
echo "iob-dom0-up,kernel=$(uname -r),mem_kb=$(cat $bal/info/current_kb 2>/dev/null)"

# wait_kb CMP KIB: poll the balloon until current_kb CMP KIB, 180 s at most.
wait_kb() {
	i=0
	while [ $i -lt 900 ]; do
		cur=$(cat $bal/info/current_kb)
		[ "$cur" "$1" "$2" ] && return 0
		sleep 0.2
		i=$((i + 1))
	done
	echo "iob-warn,balloon stuck at $cur kB (wanted $1 $2)"
	return 1
}

run() {
	name=$1 arg=$2
	rc=0
	iob-xenctl pathctr reset || rc=1
	echo "iob-wl-begin,$name,$arg"
	case "$name" in
	balloon_out)
		target=$(( $(cat $bal/info/current_kb) - arg * 1024 ))
		echo $target > $bal/target_kb && wait_kb -le $target || rc=1 ;;
	balloon_in)
		target=$(( $(cat $bal/info/current_kb) + arg * 1024 ))
		echo $target > $bal/target_kb && wait_kb -ge $target || rc=1 ;;
	disk_read)
		dd if=/dev/nvme0n1 of=/dev/null bs=64k count=$((arg * 16)) iflag=direct 2>/dev/null || rc=1 ;;
	disk_write)
		dd if=/dev/zero of=/dev/nvme0n1 bs=64k count=$((arg * 16)) oflag=direct 2>/dev/null || rc=1 ;;
	pv)
		iob-xenctl pv-check || rc=1
		iob-xenctl pv-loop "$arg" || rc=1 ;;
	dmalayer)
		iob-xenctl dma-loop "$arg" || rc=1 ;;
	*)
		echo "iob-warn,unknown workload $name"; rc=2 ;;
	esac
	echo "iob-wl-end,$name,rc=$rc"
	iob-xenctl pathctr dump "$name" || echo "iob-warn,pathctr dump failed"
}

for w in $(echo "$work" | tr ',' ' '); do
	run "${w%%:*}" "${w#*:}"
done

# The console dump (debug key 'j') of the counters as the last workload left them.
iob-xenctl keys j || echo "iob-warn,debug key dump failed"
echo "iob-dom0-done"
sync
reboot -f
