# The real guest (iob qemu run): throughput, latency and IOMMU invalidations
# per I/O, per mode, for each O_DIRECT point, one panel per device. From
# qemu.csv; the AMD IOMMU's rows (and the baselines without translation).
# Bars of one point side by side: strict, lazy, passthrough, no IOMMU,
# swiotlb (the IOMMU off, every DMA bounced); with swiotlb rows, a fourth
# plot: the bounces per I/O against the IOMMU's invalidations per I/O.
load lib.'/common.gp'
f = dir.'/qemu.csv'
modes = ""
do for [m in "strict lazy passthrough noiommu swiotlb"] {
  stats dir.'/qemu.csv' using (strcol("mode") eq m ? 1 : 0) nooutput
  if (STATS_max > 0) { modes = modes.m." " }
}
off(m) = m eq "strict" ? -0.32 : m eq "lazy" ? -0.16 : m eq "passthrough" ? 0 : m eq "noiommu" ? 0.16 : 0.32
ls_of(m) = m eq "strict" ? 1 : m eq "lazy" ? 2 : m eq "passthrough" ? 3 : m eq "noiommu" ? 8 : 4
sel(d, m) = strcol("device") eq d && strcol("mode") eq m && \
            (strcol("iommu") eq "amd" || strcol("mode") eq "noiommu" || strcol("mode") eq "swiotlb")
x(d, m) = sel(d, m) ? column("point") + off(m) : NaN
# Tick labels of device d: op, size and queue depth of each point, read
# back with stats (gnuplot cannot take a string column from a filtered row).
stats f using (column("point")) nooutput
npoints = int(STATS_max)
pt(d, i, c) = (strcol("device") eq d && column("point") == i) ? column(c) : NaN
iswr(d, i) = (strcol("device") eq d && column("point") == i) ? (strcol("op") eq "write") : NaN
set style fill solid 0.8 border -1
set boxwidth 0.15
set xtics rotate by -25 nomirror
set key outside right top
# Which devices are in the file.
stats f using (strcol("device") eq "virtio" ? 1 : 0) nooutput
has_virtio = STATS_max > 0
stats f using (strcol("device") eq "nvme" ? 1 : 0) nooutput
has_nvme = STATS_max > 0
devs = (has_virtio ? "virtio " : "").(has_nvme ? "nvme" : "")
nd = words(devs)

tv = "set xtics ()"
tn = "set xtics ()"
do for [d in devs] {
  t = "set xtics ("
  do for [i=1:npoints] {
    stats f using (pt(d, i, "bs_bytes")) nooutput
    b = STATS_max
    stats f using (pt(d, i, "qd")) nooutput
    q = STATS_max
    stats f using (iswr(d, i)) nooutput
    t = t.sprintf('"%s %s QD%d" %d%s', STATS_max > 0 ? "write" : "read", fsize(b), q, i, i < npoints ? ", " : "")
  }
  t = t.")"
  if (d eq "virtio") { tv = t } else { tn = t }
}
set xrange [0.5:npoints + 0.5]

do for [fmt in "png svg"] {
  eval sprintf('set term %s size 1300,%d', png_or_svg(fmt), 80 + 420 * nd)
  set output dir.'/qemu_throughput.'.fmt
  set multiplot layout nd,1 title "Linux guest under QEMU's AMD IOMMU: O_DIRECT throughput per mode"
  do for [d in devs] {
    eval (d eq "virtio" ? tv : tn)
    set title d
    set ylabel "MB/s (guest)"
    set logscale y 10
    plot for [m in modes] f using (x(d, m)):(column("mb_per_s")) \
         w boxes ls ls_of(m) t m
  }
  unset multiplot

  set output dir.'/qemu_latency.'.fmt
  set multiplot layout nd,1 title "Latency per I/O, submit to completion (bars p50, points p99)"
  do for [d in devs] {
    eval (d eq "virtio" ? tv : tn)
    set title d
    set ylabel "microseconds"
    set logscale y 10
    plot for [m in modes] f using (x(d, m)):(column("p50_ns") / 1000) \
         w boxes ls ls_of(m) t m." p50", \
         for [m in modes] f using (x(d, m)):(column("p99_ns") / 1000) w p ls ls_of(m) pt 7 ps 1.2 notitle
  }
  unset multiplot

  set output dir.'/qemu_invalidations.'.fmt
  set multiplot layout nd,1 title "QEMU's AMD IOMMU: page invalidations per I/O (bars) and completion waits per I/O (points)"
  do for [d in devs] {
    eval (d eq "virtio" ? tv : tn)
    set title d
    set ylabel "commands per I/O"
    unset logscale y
    set yrange [0:*]
    plot for [m in modes] f using (x(d, m)):(column("pages_inval_per_io")) \
         w boxes ls ls_of(m) t m, \
         for [m in modes] f using (x(d, m)):(column("completion_waits_per_io")) w p ls ls_of(m) pt 9 ps 1.4 lc rgb "black" notitle
    set autoscale y
  }
  unset multiplot

  if (strstrt(modes, "swiotlb") > 0) {
    set output dir.'/qemu_bounces.'.fmt
    set multiplot layout nd,1 title "swiotlb=force with the IOMMU off: bounces through the software IO TLB per I/O (bars), against the IOMMU's page invalidations per I/O in the other modes (points)"
    do for [d in devs] {
      eval (d eq "virtio" ? tv : tn)
      set title d
      set ylabel "per I/O"
      unset logscale y
      set yrange [0:*]
      plot f using (x(d, "swiotlb")):(column("swiotlb_bounces_per_io")) w boxes ls ls_of("swiotlb") t "swiotlb: bounces", \
           for [m in "strict lazy"] f using (x(d, m)):(column("pages_inval_per_io")) w p ls ls_of(m) pt 7 ps 1.2 t m.": page invalidations"
      set autoscale y
    }
    unset multiplot
  }
}
