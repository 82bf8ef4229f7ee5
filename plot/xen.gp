# The patched Xen (iob xen run): what each tuning leaves of the IOMMU work
# of a dom0 workload, from Xen's own counters. Left: completion waits per
# MiB moved, per workload and tuning (xen.csv). Right: total cycles per
# path in the balloon-out, per tuning (xen_paths.csv; paths nest). Third:
# the PV domU's workloads with dom0 its driver domain (xen_io.csv): Xen's
# IOMMU cycles per I/O, per tuning (hook: net, blk, ghook; pv: gpv;
# dmalayer: gdma).
load lib.'/common.gp'
f = dir.'/xen.csv'
p = dir.'/xen_paths.csv'
io = dir.'/xen_io.csv'
iows = "net_tx blk_read blk_write pblk_read pblk_write ghook gpv gdma"
iox(name) = sum [i=1:words(iows)] (word(iows, i) eq name ? i : 0)
ioff(t) = t eq "baseline" ? -0.3 : t eq "batch" ? -0.1 : t eq "lazy" ? 0.1 : t eq "relaxed" ? 0.3 : NaN
iosel(t) = (strcol("tuning") eq t && iox(strcol("workload")) > 0) ? iox(strcol("workload")) + ioff(t) : NaN
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
  eval sprintf('set term %s size 2100,560', png_or_svg(fmt))
  set output dir.'/xen.'.fmt
  set multiplot layout 1,3 title "Patched Xen 4.17, strict PV dom0 under QEMU's AMD IOMMU: Xen's own counters per tuning"
  set boxwidth 0.25
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
  set title "PV domU, dom0 its driver domain: Xen IOMMU cycles per I/O"
  set ylabel "cycles per I/O (iommu_map + iommu_unmap + flushes)"
  set boxwidth 0.2
  set xrange [0.5:words(iows) + 0.5]
  set xtics ()
  do for [i=1:words(iows)] { eval sprintf('set xtics add ("%s" %d)', word(iows, i), i) }
  plot io using (iosel("baseline")):(pos(column("xen_iommu_cyc_per_io"))) w boxes ls 2 t "baseline", \
       io using (iosel("batch")):(pos(column("xen_iommu_cyc_per_io"))) w boxes ls 1 t "batch", \
       io using (iosel("lazy")):(pos(column("xen_iommu_cyc_per_io"))) w boxes ls 3 t "lazy", \
       io using (iosel("relaxed")):(pos(column("xen_iommu_cyc_per_io"))) w boxes ls 4 t "relaxed"
  unset multiplot
}
