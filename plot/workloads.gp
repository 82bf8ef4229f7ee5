# The head-to-head: software cycles per I/O, modeled throughput, and
# invalidations per MiB, per strategy and tuning. From workloads.csv
# (blk rows of virtio shape for the size sweeps; netrx 4 KiB and blk 64 KiB
# for the invalidation counts). Tuned page-table code, merged policy,
# superpages off, no attacker.
load lib.'/common.gp'
f = dir.'/workloads.csv'
base(w) = strcol("workload") eq w && strcol("impl") eq "tuned" && strcol("policy") eq "merged" && \
          column("superpages") == 0 && column("attack") == 0
blk(s, fl) = (base("blk") && strcol("shape") eq "virtio" && strcol("strategy") eq s && \
              strcol("flush") eq fl) ? column("io_bytes") : NaN
set xtics ("4K" 4096, "16K" 16384, "64K" 65536, "256K" 262144, "1M" 1048576)
set logscale x 2
do for [fmt in "png svg"] {
  eval sprintf('set term %s size 1500,520', png_or_svg(fmt))
  set output dir.'/workloads_cycles.'.fmt
  set multiplot layout 1,3 title "Software cycles per blk request (virtio shape: 3 mappings), by strategy"
  set logscale y 10
  set ylabel "cycles per I/O (measured)"
  set xlabel "request size"
  set key top left
  do for [fl in "strict batched lazy"] {
    set title fl
    plot f using (blk("hook",fl)):(column("sw_cyc_per_io")) w lp ls 1 t "hook", \
         f using (blk("pv",fl)):(column("sw_cyc_per_io")) w lp ls 2 t "pv", \
         f using (blk("dmalayer",fl)):(column("sw_cyc_per_io")) w lp ls 3 t "dmalayer"
  }
  unset multiplot

  eval sprintf('set term %s size 1500,900', png_or_svg(fmt))
  set output dir.'/workloads_throughput.'.fmt
  set multiplot layout 2,3 title "Modeled throughput of blk requests (software + modeled hardware, serialized)"
  do for [fl in "strict batched lazy"] {
    set title fl.": GB/s"
    set ylabel "GB/s"
    unset logscale y
    set yrange [0:*]
    plot f using (blk("hook",fl)):(column("model_gbps")) w lp ls 1 t "hook", \
         f using (blk("pv",fl)):(column("model_gbps")) w lp ls 2 t "pv", \
         f using (blk("dmalayer",fl)):(column("model_gbps")) w lp ls 3 t "dmalayer"
  }
  do for [fl in "strict batched lazy"] {
    set title fl.": thousands of I/Os per second"
    set ylabel "kIOPS"
    set logscale y 10
    set autoscale y
    plot f using (blk("hook",fl)):(column("model_kiops")) w lp ls 1 t "hook", \
         f using (blk("pv",fl)):(column("model_kiops")) w lp ls 2 t "pv", \
         f using (blk("dmalayer",fl)):(column("model_kiops")) w lp ls 3 t "dmalayer"
  }
  unset multiplot
}

# Invalidations and completion waits per MiB: x is the tuning.
unset logscale x
set xtics ("strict" 1, "batched" 2, "lazy" 3)
set xrange [0.5:3.5]
tun(fl) = fl eq "strict" ? 1 : fl eq "batched" ? 2 : fl eq "lazy" ? 3 : NaN
sel(w, io, s) = (base(w) && column("io_bytes") == io && strcol("strategy") eq s && \
                 (w ne "blk" || strcol("shape") eq "virtio")) ? tun(strcol("flush")) : NaN
do for [fmt in "png svg"] {
  eval sprintf('set term %s size 1200,900', png_or_svg(fmt))
  set output dir.'/workloads_inval.'.fmt
  set multiplot layout 2,2 title "Invalidation commands and completion waits per MiB moved"
  set logscale y 10
  set yrange [0.05:*]
  do for [c in "inv_cmds_per_mib completion_waits_per_mib"] {
    do for [w in "netrx blk"] {
      io = (w eq "netrx") ? 4096 : 65536
      set title sprintf("%s, %s: %s", w, fsize(io), c)
      set ylabel c
      plot f using (sel(w,io,"pv")):(column(c)) w lp ls 2 t "pv", \
           f using (sel(w,io,"dmalayer")):(column(c)) w lp ls 3 t "dmalayer"
    }
  }
  unset multiplot
}
