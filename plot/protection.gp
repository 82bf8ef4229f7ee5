# Protection against performance: for each configuration, its p99
# exposure window (unmap to the moment no IOTLB can still translate it)
# against its software cycles per I/O; the Pareto front joins the
# configurations nothing beats on both. Configurations whose window never
# closes (hook never unmaps; swiotlb has no IOMMU, so the device reaches
# everything) have no bound: they sit on the ceiling. From protection.csv.
# One panel per group present: NIC receive 4 KiB, virtio-blk 64 KiB, and
# pingpong (map, DMA, unmap) at 4 KiB and 64 KiB.
load lib.'/common.gp'
f = dir.'/protection.csv'
g(w, io) = strcol("workload") eq w && column("io_bytes") == io && (w ne "blk" || strcol("shape") eq "virtio")
pt(w, io, s, fl) = (g(w, io) && strcol("strategy") eq s && strcol("flush") eq fl) ? column("sw_cyc_per_io") : NaN
front(w, io) = (g(w, io) && column("pareto") == 1) ? column("sw_cyc_per_io") : NaN
unb(w, io, s) = (g(w, io) && column("unbounded") == 1 && strcol("strategy") eq s) ? column("sw_cyc_per_io") : NaN
# The groups the file holds, as "workload:bytes" words.
groups = ""
do for [c in "netrx:4096 blk:65536 pingpong:4096 pingpong:65536"] {
  cw = c[1:strstrt(c, ":") - 1]
  cio = int(c[strstrt(c, ":") + 1:])
  stats f using (g(cw, cio) ? 1 : 0) nooutput
  if (STATS_max > 0) { groups = groups.c." " }
}
n = words(groups)
if (n == 0) { exit }
set logscale xy 10
set xlabel "software cycles per I/O (measured)"
set ylabel "p99 exposure window, ns"
set key bottom left
set yrange [100:*]
do for [fmt in "png svg"] {
  eval sprintf('set term %s size %d,620', png_or_svg(fmt), 100 + 700 * n)
  set output dir.'/protection.'.fmt
  set multiplot layout 1,n title "Protection against performance (lower left is better)"
  do for [k=1:n] {
    c = word(groups, k)
    w = c[1:strstrt(c, ":") - 1]
    io = int(c[strstrt(c, ":") + 1:])
    set title sprintf("%s, %s I/Os%s: every strategy x tuning x superpages x page-table code", w, fsize(io), w eq "blk" ? " (virtio)" : "")
    plot f using (front(w,io)):(column("exposure_plot_ns")) smooth unique w l lc rgb "#999999" lw 3 t "Pareto front", \
         f using (unb(w,io,"hook")):(column("exposure_plot_ns")) w p pt 6 ps 2.5 lc rgb "#1b9e77" t "hook: unbounded (never unmaps)", \
         f using (unb(w,io,"swiotlb")):(column("exposure_plot_ns")) w p pt 12 ps 2.5 lc rgb "#e7298a" t "swiotlb: unbounded (no IOMMU)", \
         f using (pt(w,io,"pv","strict")):(column("exposure_plot_ns")) w p pt 5 ps 1.2 lc rgb "#d95f02" t "pv strict", \
         f using (pt(w,io,"pv","batched")):(column("exposure_plot_ns")) w p pt 7 ps 1.2 lc rgb "#d95f02" t "pv batched", \
         f using (pt(w,io,"pv","lazy")):(column("exposure_plot_ns")) w p pt 9 ps 1.4 lc rgb "#d95f02" t "pv lazy", \
         f using (pt(w,io,"dmalayer","strict")):(column("exposure_plot_ns")) w p pt 4 ps 1.2 lc rgb "#7570b3" t "dmalayer strict", \
         f using (pt(w,io,"dmalayer","batched")):(column("exposure_plot_ns")) w p pt 6 ps 1.2 lc rgb "#7570b3" t "dmalayer batched", \
         f using (pt(w,io,"dmalayer","lazy")):(column("exposure_plot_ns")) w p pt 8 ps 1.4 lc rgb "#7570b3" t "dmalayer lazy"
  }
  unset multiplot
}
