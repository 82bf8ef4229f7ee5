#!/bin/sh
# One request from dom0 (domu-init.sh): a line "CMD ARG" on stdin, one
# answer line on stdout (the TCP connection), then exit.
#   ping 0           answer "pong"
#   net_tx MIB       send MIB to dom0 (10.0.0.1:7001) in 64 KiB writes
#   blk_read MIB     O_DIRECT 64 KiB reads of xvda
#   blk_write MIB    O_DIRECT 64 KiB writes to xvda
#   persistent 0|1   reconnect xvda with persistent grants off or on
#   bad 0            the refused requests of iob-xenctl domu-bad
#   grant N          N pages granted to dom0 (once; iob-xenctl grant holds
#                    them): answers iob-grefs,REF,REF,...
# Answers: iob-io,CMD,ios=N,bytes=B,ns=T,rc=R (T: CLOCK_MONOTONIC around it).
read -r cmd arg
case "$arg" in ''|*[!0-9]*) echo "iob-io,$cmd,rc=2,bad argument"; exit 0 ;; esac
n=$((arg * 16))
t0=$(iob-xenctl now)
rc=0
case "$cmd" in
ping) echo pong; exit 0 ;;
grant)
	# Its own stdin and stdout: the connection must close when this script ends.
	if ! [ -s /tmp/grefs ]; then
		iob-xenctl grant "$arg" </dev/null >/tmp/grefs 2>/dev/console &
		i=0
		while [ $i -lt 100 ] && ! [ -s /tmp/grefs ]; do sleep 0.1; i=$((i + 1)); done
	fi
	cat /tmp/grefs
	exit 0 ;;
net_tx)
	dd if=/dev/zero bs=64k count=$n 2>/dev/null | nc 10.0.0.1 7001 >/dev/null || rc=1 ;;
blk_read)
	dd if=/dev/xvda of=/dev/null bs=64k count=$n iflag=direct 2>/dev/null || rc=1 ;;
blk_write)
	dd if=/dev/zero of=/dev/xvda bs=64k count=$n oflag=direct 2>/dev/null || rc=1 ;;
persistent)
	# blkfront reads its parameter when it connects: unbind xvda's device
	# and bind it again (blkback goes through Closed and reconnects).
	n=0
	d=$(basename "$(readlink -f /sys/block/xvda/device)")
	echo "$arg" >/sys/module/xen_blkfront/parameters/feature_persistent &&
	echo "$d" >/sys/bus/xen/drivers/vbd/unbind &&
	echo "$d" >/sys/bus/xen/drivers/vbd/bind || rc=1
	# Under TCG the reconnect can take a while: 120 s, then say where it stands.
	i=0
	while [ $i -lt 1200 ] && ! [ -b /dev/xvda ]; do sleep 0.1; i=$((i + 1)); done
	[ -b /dev/xvda ] || { rc=1; echo "iob-domu-warn,xvda not back: frontend state" \
		"$(cat /sys/bus/xen/devices/$d/state 2>/dev/null)" >/dev/console; } ;;
bad)
	n=0
	iob-xenctl domu-bad || rc=1 ;;
*)
	echo "iob-io,$cmd,rc=2,unknown command"; exit 0 ;;
esac
t1=$(iob-xenctl now)
echo "iob-io,$cmd,ios=$n,bytes=$((n * 65536)),ns=$((t1 - t0)),rc=$rc"
