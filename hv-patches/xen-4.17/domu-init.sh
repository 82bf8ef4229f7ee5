#!/bin/busybox sh
# /init of the PV domU's initramfs (boot.sh builds it when the work list
# has domU workloads). Brings up netfront (10.0.0.2, dom0's vif is
# 10.0.0.1) and blkfront (xvda, dom0's NVMe disk through blkback, without
# persistent grants until told), then serves dom0's requests: a line
# "CMD ARG" on TCP port 7000 (domu-cmd.sh), and a sink on port 7002 for
# dom0's transmissions. Its console goes to dom0's xenconsoled log.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp

# unrestricted: a domU's privcmd otherwise refuses every hypercall itself,
# and domu_bad is about what Xen refuses.
insmod /lib/modules/xen-privcmd.ko unrestricted=1 || echo "iob-domu-warn,insmod xen-privcmd failed"
insmod /lib/modules/xen-gntalloc.ko || echo "iob-domu-warn,insmod xen-gntalloc failed"
insmod /lib/modules/xen-netfront.ko || echo "iob-domu-warn,insmod xen-netfront failed"
insmod /lib/modules/xen-blkfront.ko feature_persistent=0 || echo "iob-domu-warn,insmod xen-blkfront failed"
i=0
while [ $i -lt 300 ] && ! [ -e /sys/class/net/eth0 ]; do sleep 0.1; i=$((i + 1)); done
ifconfig lo 127.0.0.1 up
ifconfig eth0 10.0.0.2 netmask 255.255.255.0 up || echo "iob-domu-warn,no eth0"
nc -ll -p 7000 -e /bin/domu-cmd.sh &
nc -ll -p 7002 -e /bin/domu-sink.sh &
echo "iob-domu-up,kernel=$(uname -r),disk=$([ -b /dev/xvda ] && echo xvda || echo none)"
while :; do sleep 3600; done
