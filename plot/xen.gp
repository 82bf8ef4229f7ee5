# The patched Xen (iob xen run): what each tuning leaves of the IOMMU work
# of a dom0 workload, from Xen's own counters. Left: completion waits per
# MiB moved, per workload and tuning (xen.csv). Right: total cycles per
# path in the balloon-out, per tuning (xen_paths.csv; paths nest).
load lib.'/common.gp'
f = dir.'/xen.csv'
p = dir.'/xen_paths.csv'
wx(w) = w eq "balloon_out" ? 1 : w eq "balloon_in" ? 2 : w eq "disk_read" ? 3 : w eq "disk_write" ? 4 : NaN
off(t) = t eq "baseline" ? -0.25 : t eq "batch" ? 0 : t eq "lazy" ? 0.25 : NaN
sel(t) = strcol("tuning") eq t ? wx(strcol("workload")) + off(t) : NaN
paths = "map unmap map_page unmap_page pde_alloc flush_decision cmd_submit completion_wait balloon populate p2m_set hypercall fq_flush"
px(name) = sum [i=1:words(paths)] (word(paths, i) eq name ? i : 0)
psel(t) = (strcol("tuning") eq t && strcol("workload") eq "balloon_out" && px(strcol("path")) > 0) ? px(strcol("path")) + off(t) : NaN
pos(v) = v > 0 ? v : NaN
set style fill solid 0.8 border -1
set boxwidth 0.25
set key top right
do for [fmt in "png svg"] {
  eval sprintf('set term %s size 1500,560', png_or_svg(fmt))
  set output dir.'/xen.'.fmt
  set multiplot layout 1,2 title "Patched Xen 4.17, strict PV dom0 under QEMU's AMD IOMMU: Xen's own counters per tuning"
  set title "IOMMU completion waits per MiB moved"
  set logscale y 10
  set ylabel "completion waits per MiB (count)"
  set xrange [0.5:4.5]
  set xtics ("balloon out" 1, "balloon in" 2, "disk read" 3, "disk write" 4)
  plot f using (sel("baseline")):(pos(column("completion_waits_per_mib"))) w boxes ls 2 t "baseline", \
       f using (sel("batch")):(pos(column("completion_waits_per_mib"))) w boxes ls 1 t "batch", \
       f using (sel("lazy")):(pos(column("completion_waits_per_mib"))) w boxes ls 3 t "lazy"
  set title "Balloon-out: cycles per path, summed (TCG's TSC)"
  set ylabel "total cycles"
  set xrange [0.5:words(paths) + 0.5]
  set xtics ()
  do for [i=1:words(paths)] { eval sprintf('set xtics add ("%s" %d)', word(paths, i), i) }
  set xtics rotate by -35
  plot p using (psel("baseline")):(pos(column("total_cyc"))) w boxes ls 2 t "baseline", \
       p using (psel("batch")):(pos(column("total_cyc"))) w boxes ls 1 t "batch", \
       p using (psel("lazy")):(pos(column("total_cyc"))) w boxes ls 3 t "lazy"
  unset multiplot
}
