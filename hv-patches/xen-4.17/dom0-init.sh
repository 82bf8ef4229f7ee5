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
# With the toolstack in the initramfs (boot.sh adds it for domU workloads):
#   domu:MIB         xl create of a PV domU of MIB MiB (domu-init.sh):
#                    netfront/netback, blkfront/blkback on the NVMe disk
#   net_tx:MIB       the domU sends MIB to dom0 (netback maps its grants)
#   net_rx:MIB       dom0 sends MIB to the domU (netback copies into its grants)
#   blk_read:MIB     the domU's O_DIRECT 64 KiB reads of xvda (blkback maps
#   blk_write:MIB    its grants for every request: no persistent grants)
#   pblk_read:MIB    the same with persistent grants (xvda reconnected
#   pblk_write:MIB   with them before the counters are reset)
#   domu_bad:1       requests of the domU that Xen must refuse
#   ghook:N          N times: dom0 maps 16 pages the domU granted it for its
#                    devices (the hook: Xen mirrors them in dom0's IOMMU) and unmaps
#   gpv:N            the same without the hook, each grant mapped at a dfn dom0
#                    chose (XENMEM_iob_iommu_op grant entries; first the checks
#                    of bad grant entries, iob-pv lines)
#   gdma:N           the same, Xen choosing the dfns
# Each domU workload also prints iob-wl-io,NAME,ios=N,bytes=B,ns=T.
# Every line meant for the parser starts with "iob-".
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

for m in $(cat /lib/modules/order); do
	insmod "/lib/modules/$m" 2>/dev/null || echo "iob-warn,insmod $m failed"
done

# The toolstack (boot.sh copies it in for domU workloads): xenstored, the
# dom0 entries, xenconsoled logging the domU's console to a file.
xl=/usr/lib/xen-4.17/bin/xl
if [ -x $xl ]; then
	export PATH=/bin:/usr/bin:/usr/sbin:/usr/lib/xen-4.17/bin
	mkdir -p /proc/xen /run/xen /run/xenstored /run/lock /var/lib/xen /var/lib/xenstored \
		/var/log/xen/console /tmp
	ln -s /run /var/run; ln -s /run/lock /var/lock
	mount -t xenfs xenfs /proc/xen || echo "iob-warn,mount xenfs failed"
	mkdir -p /dev/pts	# xenconsoled gives each guest console a pty
	mount -t devpts devpts /dev/pts || echo "iob-warn,mount devpts failed"
	: >/etc/xen/xl.conf
	xenstored --pid-file=/run/xenstored.pid || echo "iob-warn,xenstored failed"
	xen-init-dom0 >/dev/null 2>&1 || echo "iob-warn,xen-init-dom0 failed"
	xenconsoled --log=guest --log-dir=/var/log/xen/console || echo "iob-warn,xenconsoled failed"
fi
domu_log=/var/log/xen/console/guest-iob-domu.log

# domu_req CMD ARG: one request to the domU (domu-cmd.sh); its answer on stdout.
domu_req() {
	echo "$1 $2" | nc 10.0.0.2 7000
}

# domu_up MIB: create the domU and wait until it answers (150 s at most);
# once more from scratch if it does not. Under TCG on a loaded host a domU's
# boot stalls now and then (about one boot in three in clean-clone test runs,
# never the same place twice): a second domain of the same configuration is
# what a user would try, and what was seen stuck is printed first.
domu_up() {
	sed "s/@MEM@/$1/" /etc/xen/iob-domu.cfg.in >/etc/xen/iob-domu.cfg
	nc -ll -p 7001 -e /bin/domu-sink.sh &
	for try in 1 2; do
		xl create /etc/xen/iob-domu.cfg >/tmp/xl.log 2>&1 ||
			{ sed 's/^/iob-warn,xl: /' /tmp/xl.log; return 1; }
		i=0
		while [ $i -lt 150 ]; do
			[ "$(domu_req ping 0 2>/dev/null)" = pong ] && return 0
			sleep 1
			i=$((i + 1))
		done
		echo "iob-warn,the domU does not answer after $i s (try $try of 2)"
		xl list 2>&1 | sed 's/^/iob-warn,xl list: /'
		[ -f $domu_log ] && tail -n 5 $domu_log | sed 's/^/iob-warn,domU console: /'
		xl destroy iob-domu >/dev/null 2>&1
		sleep 2
	done
	return 1
}

# domu_io CMD MIB: a domU workload; its answer as iob-wl-io (status 1 when it failed).
domu_io() {
	a=$(domu_req "$1" "$2")
	case "$a" in
	iob-io,$1,*,rc=0) echo "iob-wl-io,$name,${a#iob-io,$1,}" | sed 's/,rc=0$//'; return 0 ;;
	esac
	echo "iob-warn,domU answered '$a' to $1 $2"
	return 1
}

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
	case "$name" in
	pblk_*)
		if [ -z "$pers" ]; then
			a=$(domu_req persistent 1)
			case "$a" in *",rc=0") pers=1 ;; *) pers=failed; echo "iob-warn,persistent grants: $a" ;; esac
		fi
		[ "$pers" = 1 ] || rc=1 ;;
	ghook|gpv|gdma)
		# The domU's grants and its domid, once, before the counters are reset.
		[ -n "$grefs" ] || grefs=$(domu_req grant 16 | sed -n 's/^iob-grefs,//p' | tr ',' ' ')
		[ -n "$gdom" ] || gdom=$(xl domid iob-domu 2>/dev/null)
		[ -n "$grefs" ] && [ -n "$gdom" ] || { rc=1; echo "iob-warn,no grants from the domU"; } ;;
	esac
	iob-xenctl pathctr reset || rc=1
	# Xen logs dom0's IOMMU table too (patch 0007): for ballooning the whole
	# log, so that the model can replay the very frames (a PV dom0's dfn is
	# the machine frame); for the others what dom0 itself changed.
	case "$name" in domu|domu_bad) ;; *) iob-xenctl pathctr log-start || echo "iob-warn,log-start failed" ;; esac
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
	domu)
		domu_up "$arg" || rc=1 ;;
	net_tx|blk_read|blk_write)
		domu_io "$name" "$arg" || rc=1 ;;
	pblk_read|pblk_write)
		[ $rc -eq 0 ] && { domu_io "${name#p}" "$arg" || rc=1; } ;;
	net_rx)
		t0=$(iob-xenctl now)
		dd if=/dev/zero bs=64k count=$((arg * 16)) 2>/dev/null | nc 10.0.0.2 7002 >/dev/null || rc=1
		t1=$(iob-xenctl now)
		echo "iob-wl-io,$name,ios=$((arg * 16)),bytes=$((arg * 1048576)),ns=$((t1 - t0))" ;;
	ghook|gpv|gdma)
		if [ $rc -eq 0 ]; then
			[ "$name" = gpv ] && { iob-xenctl grant-check $gdom $grefs || rc=1; }
			mode=${name#g}; [ "$mode" = dma ] || [ "$mode" = pv ] || mode=hook
			t0=$(iob-xenctl now)
			iob-xenctl grant-loop $mode "$arg" $gdom $grefs || rc=1
			t1=$(iob-xenctl now)
			echo "iob-wl-io,$name,ios=$arg,bytes=$((arg * 65536)),ns=$((t1 - t0))"
		fi ;;
	domu_bad)
		a=$(domu_req bad 0)
		echo "$a" | grep '^iob-pv,' || true
		case "$a" in *"iob-io,bad,"*",rc=0"*) ;; *) rc=1 ;; esac ;;
	*)
		echo "iob-warn,unknown workload $name"; rc=2 ;;
	esac
	echo "iob-wl-end,$name,rc=$rc"
	iob-xenctl pathctr dump "$name" || echo "iob-warn,pathctr dump failed"
	case "$name" in
	balloon_*) iob-xenctl pathctr log "$name" || echo "iob-warn,pathctr log failed" ;;
	domu|domu_bad) ;;
	*) iob-xenctl pathctr log-summary "$name" || echo "iob-warn,pathctr log failed" ;;
	esac
}

for w in $(echo "$work" | tr ',' ' '); do
	run "${w%%:*}" "${w#*:}"
done

# The domU's console, for the record.
if [ -f $domu_log ]; then
	sed 's/^/iob-domu-console: /' $domu_log
	xl destroy iob-domu 2>/dev/null
fi

# The console dump (debug key 'j') of the counters as the last workload left them.
iob-xenctl keys j || echo "iob-warn,debug key dump failed"
echo "iob-dom0-done"
sync
reboot -f
