#!/usr/bin/env bash
# Rebuild the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/) from
# the committed runs in results/ and the formats' examples in the tests.
# Seeds are cut to about 4 KiB at a line boundary: libFuzzer's inputs stay
# small and fast. It rewrites the seeds; the inputs libFuzzer merged in
# (named by their SHA-1: build-fuzz/tests/fuzz/fuzz_T -merge=1
# tests/fuzz/corpus/T build-fuzz/corpus/T) stay.
set -eu  # no pipefail: head closes the pipes early on purpose
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top"
c=tests/fuzz/corpus

# head_lines FILE|- OUT: the first lines of FILE, at most 4 KiB.
head_lines() { head -c 4096 "$1" | sed '$d' > "$2"; }
seed() { mkdir -p "$c/$1"; printf '%b' "$3" > "$c/$1/$2"; }

mkdir -p "$c"/{trace,ftrace,qgc,qtr,qcon,xenlog,cost,csv,csvwrite,matrix,perfstat,sysfs,args,hv}

n=0
for t in results/*/traces/*.trace.xz; do
	[ -e "$t" ] || continue
	n=$((n + 1)); [ $n -le 6 ] || break
	xz -dc "$t" | head_lines - "$c/trace/$(basename "$t" .xz)"
done
seed trace tracefs.txt '# tracer: nop\n#\n     kworker/0:1-12      [000] .....   100.000010: map: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000 paddr=0x0000000012345000 size=4096\n     kworker/0:1-12      [000] .....   100.000110: unmap: IOMMU: iova=0x00000000fffff000 - 0x0000000100000000 size=4096 unmapped_size=4096\n     kworker/0:1-12      [000] .....   100.001000: map: IOMMU: iova=0x00000000ffe00000 - 0x0000000100000000 paddr=0x0000000040000000 size=2097152\n'

seed ftrace kprobe.txt '# tracer: nop\n             iob-88      [003] .....     5.000001: pt_map: (iommu_map+0x0/0xd0) iova=0x100000 paddr=0x5000 size=4096\n             iob-88      [003] .....     5.000002: pt_map_r: (iommu_map+0x8b/0xd0 <- vfio_iommu_type1_ioctl) arg1=0x0\n             iob-88      [003] d..1.     5.000100: pt_unmap: (iommu_unmap+0x0/0x60) iova=0x100000 size=4096\nCPU:3 [LOST 12 EVENTS]\n'
seed ftrace funcs.txt 'iommu_map\niommu_completion_wait.isra.0\nfoo [vfio_iommu_type1]\namd_iommu_map_pages\n'

seed qgc cmds.txt '# tracer: nop\n  sh-1 [000] ..... 1.000001: iob_cmd: (iommu_queue_command_sync+0x0/0x100) c0=0x00000000 c1=0x30000000 c2=0x00001000 c3=0x00000000\n  sh-1 [000] ..... 1.000002: iob_cmd: (iommu_queue_command_sync+0x0/0x100) c0=0x00000000 c1=0x30000000 c2=0xfffff003 c3=0x7fffffff\n  sh-1 [000] ..... 1.000003: iob_cmd: (iommu_queue_command_sync+0x0/0x100) c0=0x00000001 c1=0x10000000 c2=0x0 c3=0x0\n'

n=0
for t in results/*/qemu-trace-*.log.xz; do
	n=$((n + 1)); [ $n -le 4 ] || break
	xz -dc "$t" | grep -v pci_nvme_mmio | head_lines - "$c/qtr/$(basename "$t" .log.xz).log"
done
seed qtr marked.log '100@1796417846.850980:amdvi_command_exec cmd 0x3 addr 0x1000\n100@1796417846.850990:amdvi_mmio_write iob-mark 1\n100@1796417846.851000:amdvi_cache_update update iotlb domid 0x1 devid 0x10 gpa 0x1000 hpa 0x5000\n100@1796417846.852000:amdvi_completion_wait_exec completion wait\n100@1796417846.853000:amdvi_iotlb_hit hit iotlb devid 00:02.0 gpa 0x1000 hpa 0x5000\n'

for t in results/*/console-*.log; do
	case $t in *xen-qemu*) continue ;; esac
	grep -a 'IOB\|AMD-Vi\|DMAR' "$t" | head_lines - "$c/qcon/$(basename "$(dirname "$t")" | cut -c1-15)-$(basename "$t")"
done
for t in results/*xen*/console-*.log; do
	grep -a 'iob\|AMD-Vi\|Dom0 mode' "$t" | head_lines - "$c/xenlog/$(basename "$t")"
done

for t in results/*/host_cost.conf; do head_lines "$t" "$c/cost/host_cost.conf"; done
seed cost comments.conf '# a comment\ndoorbell_ns = 1e3\n\ncmd_ns=0\niotlb_entries = 64\niotlb_ways = 4\n'

for t in results/*/*.csv; do
	case $t in *_cdf.csv) continue ;; esac
	head_lines "$t" "$c/csv/$(basename "$(dirname "$t")" | cut -c1-15)-$(basename "$t")"
done

seed csvwrite plain.txt 'abc\xffdef'
seed csvwrite empty.txt '\xff'
seed csvwrite number.txt '12.5\xff-3'

sed -n '/^static const char default_matrix\[\] =/,/;$/p' bench/cmd_matrix.c \
	| sed -n 's/^\t"\(.*\)\\n"[;]*$/\1/p' > "$c/matrix/default.matrix"
sed -n '/^static const char full_matrix\[\] =/,/;$/p' bench/cmd_matrix.c \
	| sed -n 's/^\t"\(.*\)\\n"[;]*$/\1/p' | head -4 > "$c/matrix/full-head.matrix"
seed matrix one.matrix 'cmdq rounds=10 # short\n'

seed perfstat perf61.txt '1234,,amd_iommu_0/cmd_processed/,1000000,100.00,,\n<not counted>,,amd_iommu_1/mem_dte_hit/,0,0.00,,\n<not supported>,,amd_iommu_1/tlb_inv/,0,100.00,,\n'

seed sysfs amd.bin '7\0event=0x05\0config:0-7\0config1:0-15\0config1:16-31\0BOOT_IMAGE=/vmlinuz root=/dev/sda1 iommu=pt amd_iommu=on\0006.1.0-57-amd64\0x0000000000000000\0x4f77ef22294ada\0DMA-FQ\0x1022\0x010802\0vfio-pci\0'

for s in 0 4096 4K 1M 2G 0x10 18446744073709551615 18446744073709551616 -1 1e3 0000:00:01.0 hook pv dmalayer swiotlb 16E; do
	printf '%s' "$s" > "$c/args/$(printf '%s' "$s" | tr -c 'A-Za-z0-9' _)"
done

# hv: a strategy byte, then steps (op byte, arguments); see fuzz_hv.c.
for strat in 00 01 02 03 05 0a 86; do
	printf "\\x$strat\\x00\\x01\\x08\\x00\\x00\\x04\\x01\\x02\\x03\\x00\\x06\\x00\\x00\\x01\\x01\\x20\\x10\\x00\\x10\\x05\\x00\\x00\\x05\\x10\\x00\\x00\\x10\\x00\\x00\\x0f" \
		> "$c/hv/steps-$strat"
done
echo "seeds: $(find "$c" -type f | wc -l) files, $(du -sk "$c" | cut -f1) KiB"
