# The head-to-head: software cycles per I/O, modeled throughput, and
# invalidations per MiB, per strategy and tuning. From workloads.csv
# (blk rows of virtio shape and pingpong rows for the size sweeps; netrx
# 4 KiB, blk 64 KiB and pingpong 4 KiB for the invalidation counts).
# Tuned page-table code, merged policy, superpages off, no attacker. Each
# figure or panel is drawn only when the file holds its rows.
load lib.'/common.gp'
f = dir.'/workloads.csv'
eval ci_stats
base(w) = strcol("workload") eq w && strcol("impl") eq "tuned" && strcol("policy") eq "merged" && \
          column("superpages") == 0 && column("attack") == 0
blk(s, fl) = (base("blk") && strcol("shape") eq "virtio" && strcol("strategy") eq s && \
              strcol("flush") eq fl) ? column("io_bytes") : NaN
pp(s, fl) = (base("pingpong") && strcol("strategy") eq s && strcol("flush") eq fl) ? column("io_bytes") : NaN
# swiotlb has no IOMMU and so no tuning: its strict rows are drawn in every panel.
blk0(s) = (base("blk") && strcol("shape") eq "virtio" && strcol("strategy") eq s) ? column("io_bytes") : NaN
pp0(s) = (base("pingpong") && strcol("strategy") eq s) ? column("io_bytes") : NaN
stats f using (base("blk") && strcol("shape") eq "virtio" ? 1 : 0) nooutput
has_blk = STATS_max > 0
stats f using (base("pingpong") ? 1 : 0) nooutput
has_pp = STATS_max > 0
set xtics ("4K" 4096, "16K" 16384, "64K" 65536, "256K" 262144, "1M" 1048576)
set logscale x 2
if (has_pp) {
do for [fmt in "png svg"] {
  eval sprintf('set term %s size 1500,520', png_or_svg(fmt))
  set output dir.'/pingpong_cycles.'.fmt
  set multiplot layout 1,3 title "Software cycles per pingpong I/O (map, device DMA, unmap), by strategy\n".ci_text
  set logscale y 10
  set ylabel "cycles per I/O (measured, median)"
  set xlabel "I/O size"
  set key top left
  do for [fl in "strict batched lazy"] {
    stats f using ((base("pingpong") && (strcol("flush") eq fl || strcol("strategy") eq "swiotlb")) ? 1 : 0) nooutput
    if (STATS_max == 0) { set multiplot next; continue }	# no rows: an empty panel
    set title fl
    plot f using (dodge(pp("hook",fl),1,4)):(column("sw_cyc_per_io")):(lo("sw_cyc_per_io")):(hi("sw_cyc_per_io")) w yerrorlines ls 1 t "hook", \
         f using (dodge(pp("pv",fl),2,4)):(column("sw_cyc_per_io")):(lo("sw_cyc_per_io")):(hi("sw_cyc_per_io")) w yerrorlines ls 2 t "pv", \
         f using (dodge(pp("dmalayer",fl),3,4)):(column("sw_cyc_per_io")):(lo("sw_cyc_per_io")):(hi("sw_cyc_per_io")) w yerrorlines ls 3 t "dmalayer", \
         f using (dodge(pp0("swiotlb"),4,4)):(column("sw_cyc_per_io")):(lo("sw_cyc_per_io")):(hi("sw_cyc_per_io")) w yerrorlines ls 4 dt 2 t "swiotlb (no IOMMU, bounced)"
  }
  unset multiplot
}
}
if (has_blk) {
# Fixed, so that a run with one request size still draws (an autoscaled
# range of one point is empty).
set xrange [3000:1400000]
do for [fmt in "png svg"] {
  eval sprintf('set term %s size 1500,520', png_or_svg(fmt))
  set output dir.'/workloads_cycles.'.fmt
  set multiplot layout 1,3 title "Software cycles per blk request (virtio shape: 3 mappings), by strategy\n".ci_text
  set logscale y 10
  set ylabel "cycles per I/O (measured, median)"
  set xlabel "request size"
  set key top left
  do for [fl in "strict batched lazy"] {
    stats f using ((base("blk") && strcol("shape") eq "virtio" && (strcol("flush") eq fl || strcol("strategy") eq "swiotlb")) ? 1 : 0) nooutput
    if (STATS_max == 0) { set multiplot next; continue }	# no rows: an empty panel
    set title fl
    plot f using (dodge(blk("hook",fl),1,4)):(column("sw_cyc_per_io")):(lo("sw_cyc_per_io")):(hi("sw_cyc_per_io")) w yerrorlines ls 1 t "hook", \
         f using (dodge(blk("pv",fl),2,4)):(column("sw_cyc_per_io")):(lo("sw_cyc_per_io")):(hi("sw_cyc_per_io")) w yerrorlines ls 2 t "pv", \
         f using (dodge(blk("dmalayer",fl),3,4)):(column("sw_cyc_per_io")):(lo("sw_cyc_per_io")):(hi("sw_cyc_per_io")) w yerrorlines ls 3 t "dmalayer", \
         f using (dodge(blk0("swiotlb"),4,4)):(column("sw_cyc_per_io")):(lo("sw_cyc_per_io")):(hi("sw_cyc_per_io")) w yerrorlines ls 4 dt 2 t "swiotlb (no IOMMU, bounced)"
  }
  unset multiplot

  eval sprintf('set term %s size 1500,900', png_or_svg(fmt))
  set output dir.'/workloads_throughput.'.fmt
  set multiplot layout 2,3 title "Modeled throughput of blk requests (software + modeled hardware, serialized)"
  do for [fl in "strict batched lazy"] {
    stats f using ((base("blk") && strcol("shape") eq "virtio" && (strcol("flush") eq fl || strcol("strategy") eq "swiotlb")) ? 1 : 0) nooutput
    if (STATS_max == 0) { set multiplot next; continue }	# no rows: an empty panel
    set title fl.": GB/s"
    set ylabel "GB/s"
    unset logscale y
    set yrange [0:*]
    plot f using (blk("hook",fl)):(column("model_gbps")) w lp ls 1 t "hook", \
         f using (blk("pv",fl)):(column("model_gbps")) w lp ls 2 t "pv", \
         f using (blk("dmalayer",fl)):(column("model_gbps")) w lp ls 3 t "dmalayer", \
         f using (blk0("swiotlb")):(column("model_gbps")) w lp ls 4 dt 2 t "swiotlb"
  }
  do for [fl in "strict batched lazy"] {
    stats f using ((base("blk") && strcol("shape") eq "virtio" && (strcol("flush") eq fl || strcol("strategy") eq "swiotlb")) ? 1 : 0) nooutput
    if (STATS_max == 0) { set multiplot next; continue }	# no rows: an empty panel
    set title fl.": thousands of I/Os per second"
    set ylabel "kIOPS"
    set logscale y 10
    set autoscale y
    plot f using (blk("hook",fl)):(column("model_kiops")) w lp ls 1 t "hook", \
         f using (blk("pv",fl)):(column("model_kiops")) w lp ls 2 t "pv", \
         f using (blk("dmalayer",fl)):(column("model_kiops")) w lp ls 3 t "dmalayer", \
         f using (blk0("swiotlb")):(column("model_kiops")) w lp ls 4 dt 2 t "swiotlb"
  }
  unset multiplot
}
}

# Invalidations and completion waits per MiB: x is the tuning.
unset logscale x
set xtics ("strict" 1, "batched" 2, "lazy" 3)
set xrange [0.5:3.5]
tun(fl) = fl eq "strict" ? 1 : fl eq "batched" ? 2 : fl eq "lazy" ? 3 : NaN
sel(w, io, s) = (base(w) && column("io_bytes") == io && strcol("strategy") eq s && \
                 (w ne "blk" || strcol("shape") eq "virtio")) ? tun(strcol("flush")) : NaN
groups = ""
do for [c in "netrx:4096 blk:65536 pingpong:4096"] {
  cw = c[1:strstrt(c, ":") - 1]
  cio = int(c[strstrt(c, ":") + 1:])
  stats f using (base(cw) && column("io_bytes") == cio ? 1 : 0) nooutput
  if (STATS_max > 0) { groups = groups.c." " }
}
n = words(groups)
if (n == 0) { exit }
do for [fmt in "png svg"] {
  eval sprintf('set term %s size %d,900', png_or_svg(fmt), 200 + 500 * n)
  set output dir.'/workloads_inval.'.fmt
  set multiplot layout 2,n title "Invalidation commands and completion waits per MiB moved"
  set logscale y 10
  set yrange [0.05:*]
  do for [c in "inv_cmds_per_mib completion_waits_per_mib"] {
    do for [k=1:n] {
      g = word(groups, k)
      w = g[1:strstrt(g, ":") - 1]
      io = int(g[strstrt(g, ":") + 1:])
      set title sprintf("%s, %s: %s", w, fsize(io), c)
      set ylabel (c eq "inv_cmds_per_mib" ? "invalidation commands per MiB" : "completion waits per MiB")
      set xlabel "tuning"
      plot f using (sel(w,io,"pv") - 0.04):(column(c)) w lp ls 2 lw 4 t "pv", \
           f using (sel(w,io,"dmalayer") + 0.04):(column(c)) w lp ls 3 dt 2 t "dmalayer"
    }
  }
  unset multiplot
}
