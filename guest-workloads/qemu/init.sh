#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the iommubench guest (busybox). Options come from the kernel
# command line, iob.KEY=VALUE:
#   iob.dev=virtio|nvme      the device under test (serial "iobdut")
#   iob.mode=strict|lazy|passthrough|noiommu|swiotlb
#                            lazy: the device's group is switched to DMA-FQ
#                            here; passthrough is the kernel's iommu.passthrough=1;
#                            swiotlb: the harness boots with the IOMMU off and
#                            swiotlb=force, checked here (no IOMMU group, the
#                            option in /proc/cmdline, debugfs's io_tlb_nslabs)
#   iob.points=OP:BS:QD,...  O_DIRECT points, e.g. read:4096:1,write:65536:8
#   iob.ios=N iob.ms=MS      per point: stop at N I/Os or MS milliseconds
#   iob.region=BYTES         offsets are drawn from the first BYTES of the disk
#   iob.dmamap=k=v,...|off   the dmabench module (threads, ms, bits, dir,
#                            delay_ns, granule, node, api=single|sg|both)
#   iob.trace=1              capture iommu:map/unmap (tracefs) per window
#   iob.sync=1               after each "IOB-MARK begin", wait for a line on
#                            the console (the harness stamps the window)
#   iob.probe=1              print IOB-DONE at once (accelerator probe)
#   iob.host=quick|full|off  iob host run on the device under test (an NVMe),
#                            bound to vfio-pci for it (docs/host.md); its run
#                            folder goes out with the results
# Lines for the harness start with "IOB-"; results and traces also go to
# the disk with serial "iobout" as a tar archive. Ends with
# "IOB-DONE status=ok" or "IOB-DONE status=error reason=...", then powers off.
export PATH=/bin:/sbin
/bin/busybox --install -s /bin
mount -t proc proc /proc
# Kernel messages stay in the log from here on (dmesg): on the console they
# could land inside an IOB- line.
dmesg -n 1
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mkdir -p /tmp/out
stty -echo 2>/dev/null

opt_dev=virtio opt_mode=strict opt_points=read:4096:1 opt_ios=1000 opt_ms=3000
opt_region=268435456 opt_dmamap=off opt_trace=0 opt_sync=0 opt_probe=0 opt_host=off
for w in $(cat /proc/cmdline); do
	case "$w" in
	iob.*=*)
		k=${w%%=*}; k=${k#iob.}; v=${w#*=}
		case "$k" in
		*[!a-z_]*) ;;
		*) eval "opt_$k=\$v" ;;
		esac ;;
	esac
done

done_() {
	echo "IOB-DONE status=$*"
	sync
	poweroff -f
	sleep 60
}
fail() { done_ "error reason=$*"; }

echo "IOB-BOOT kernel=$(uname -r) cpus=$(nproc) mode=$opt_mode dev=$opt_dev"
[ "$opt_probe" = 1 ] && done_ ok

kv=$(uname -r)
for m in virtio_pci virtio_blk nvme; do
	modprobe "$m" 2>/tmp/modprobe.err || fail "modprobe-$m"
done

# Block devices by serial: virtio-blk has /sys/block/X/serial, nvme its
# controller's serial.
find_disk() {
	for b in /sys/block/*; do
		s=$(cat "$b/serial" "$b/device/serial" 2>/dev/null | head -n 1 | tr -d ' ')
		[ "$s" = "$1" ] && { basename "$b"; return 0; }
	done
	return 1
}
n=0
until dut=$(find_disk iobdut) && out=$(find_disk iobout); do
	n=$((n + 1))
	[ $n -gt 200 ] && fail "disks-not-found"
	sleep 0.1
done
# The PCI function behind the disk: walk up to a DDDD:BB:DD.F directory.
p=$(readlink -f "/sys/block/$dut/device")
while [ "$p" != / ]; do
	case "${p##*/}" in
	[0-9a-f][0-9a-f][0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f].[0-7]) break ;;
	esac
	p=${p%/*}
done
[ "$p" = / ] && fail "no-pci-device"
bdf=${p##*/}
grp=-1 gtype=none
if [ -e "$p/iommu_group" ]; then
	grp=$(basename "$(readlink "$p/iommu_group")")
	gtype=$(cat "/sys/kernel/iommu_groups/$grp/type" 2>/dev/null)
fi
if [ "$opt_mode" = lazy ]; then
	[ "$grp" = -1 ] && fail "lazy-without-iommu-group"
	echo DMA-FQ > "/sys/kernel/iommu_groups/$grp/type" || fail "dma-fq-switch"
	gtype=$(cat "/sys/kernel/iommu_groups/$grp/type")
fi
echo "IOB-INFO disk=$dut pci=$bdf iommu_group=$grp domain_type=$gtype out=$out"
dmesg | grep -E 'AMD-Vi|DMAR|iommu|IOMMU|software IO TLB' | sed 's/^/IOB-KLOG /'
if [ "$opt_mode" = swiotlb ]; then
	[ "$grp" = -1 ] || fail "swiotlb-mode-with-an-iommu-group"
	grep -qw 'swiotlb=force' /proc/cmdline || fail "swiotlb-not-forced"
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
	nslabs=$(cat /sys/kernel/debug/swiotlb/io_tlb_nslabs 2>/dev/null)
	echo "IOB-INFO swiotlb=forced io_tlb_nslabs=${nslabs:-unknown}"
fi

T=/sys/kernel/tracing
# The AMD driver's command stream, for the sizes QEMU's events leave out:
# a kprobe on __iommu_queue_command_sync(iommu, cmd, sync) records the
# command's four dwords (cmd in %si) at the moment it enters the ring.
kprobe=off
if [ "$opt_trace" = 1 ] && grep -q ' __iommu_queue_command_sync$' /proc/kallsyms &&
   echo 'p:iob/iob_cmd __iommu_queue_command_sync c0=+0(%si):x32 c1=+4(%si):x32 c2=+8(%si):x32 c3=+12(%si):x32' \
	>> $T/kprobe_events 2>/dev/null; then
	kprobe=on
fi
echo "IOB-INFO kprobe_cmds=$kprobe"
trace_on() {
	[ "$opt_trace" = 1 ] || return 0
	echo 0 > $T/tracing_on
	echo 65536 > $T/buffer_size_kb
	echo 1 > $T/events/iommu/map/enable
	echo 1 > $T/events/iommu/unmap/enable
	[ $kprobe = on ] && echo 1 > $T/events/iob/iob_cmd/enable
	# Every DMA bounced through the software IO TLB (swiotlb=force) is one event.
	[ -e $T/events/swiotlb/swiotlb_bounced/enable ] &&
		echo 1 > $T/events/swiotlb/swiotlb_bounced/enable
	echo > $T/trace
	echo 1 > $T/tracing_on
}
trace_off() {
	[ "$opt_trace" = 1 ] || return 0
	echo 0 > $T/tracing_on
	ov=0
	for s in $T/per_cpu/cpu*/stats; do
		o=$(sed -n 's/^overrun: *//p' "$s")
		ov=$((ov + ${o:-0}))
	done
	cat $T/trace > "/tmp/out/trace-$1.txt"
	f=/tmp/out/trace-$1.txt
	echo "IOB-TRACE id=$1 events=$(grep -c -E ' (map|unmap): IOMMU:' "$f") cmds=$(grep -c ' iob_cmd: ' "$f") bounces=$(grep -c ' swiotlb_bounced: ' "$f") overrun=$ov file=trace-$1.txt"
	echo > $T/trace
}
begin() {
	trace_on
	echo "IOB-MARK begin id=$1"
	[ "$opt_sync" = 1 ] && read -r ack
	return 0
}
end() {
	echo "IOB-MARK end id=$1"
	trace_off "$1"
}

# iob host: the kernel's own IOMMU paths through VFIO, on the device under
# test, which the nvme driver gives up for the run and gets back after.
if [ "$opt_host" != off ]; then
	[ "$opt_dev" = nvme ] || fail "host-needs-nvme"
	# vfio_iommu_type1 first: busybox's modprobe ignores vfio's soft dependency.
	for m in vfio_iommu_type1 vfio-pci; do
		modprobe "$m" 2>/tmp/modprobe.err || fail "modprobe-$m"
	done
	echo 64 > /proc/sys/vm/nr_hugepages
	quick=--quick
	[ "$opt_host" = full ] && quick=
	iob host run --device "$bdf" --bind --results /tmp/out --label host-guest --mark-mmio --stamped \
		--reach-quick \
		--module /lib/iob/dmabench.ko --no-plot $quick > /tmp/out/host-run.log 2>&1
	rc=$?
	[ $rc = 0 ] || { tail -n 20 /tmp/out/host-run.log | sed 's/^/IOB-ERR /'; fail "host-run"; }
	drv=$(readlink "/sys/bus/pci/devices/$bdf/driver")
	echo "IOB-INFO host_driver_after=${drv##*/}"
	echo "IOB-RESULT id=host status=ok"
fi

i=0
for pt in $(echo "$opt_points" | tr ',' ' '); do
	op=${pt%%:*}; r=${pt#*:}; bs=${r%%:*}; qd=${r#*:}
	i=$((i + 1))
	begin "$i"
	iob-iodirect -f "/dev/$dut" -o "$op" -b "$bs" -q "$qd" -n "$opt_ios" -t "$opt_ms" \
		-r "$opt_region" -S "$i" > /tmp/res 2>&1
	rc=$?
	end "$i"
	[ $rc = 0 ] || { sed 's/^/IOB-ERR /' /tmp/res; fail "iodirect-point-$i"; }
	sed "s/^IOB-RESULT /IOB-RESULT id=$i dev=$opt_dev mode=$opt_mode /" /tmp/res | tee -a /tmp/out/results.txt
done

if [ "$opt_dmamap" != off ]; then
	params="dev=$bdf $(echo "$opt_dmamap" | tr ',' ' ')"
	api=both
	for kv2 in $params; do case "$kv2" in api=*) api=${kv2#api=} ;; esac; done
	case "$api" in both) apis="single sg" ;; *) apis=$api ;; esac
	for a in $apis; do
		params2=$(echo "$params" | sed 's/ api=[a-z]*//')
		begin "dm-$a"
		dmesg -c > /dev/null
		insmod /lib/iob/dmabench.ko $params2 api=$a 2>/tmp/insmod.err
		rc=$?
		end "dm-$a"
		dmesg | grep -o 'IOB-DMAMAP.*' | sed "s/^IOB-DMAMAP /IOB-DMAMAP id=dm-$a mode=$opt_mode dev_kind=$opt_dev /" |
			tee -a /tmp/out/results.txt
		[ $rc = 0 ] || { dmesg | grep dmabench | sed 's/^/IOB-ERR /'; fail "dmabench-insmod"; }
		rmmod dmabench || fail "dmabench-rmmod"
	done
fi

(cd /tmp/out && tar -cf "/dev/$out" .) || fail "write-out-disk"
sync
done_ ok
