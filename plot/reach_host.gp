# IOTLB reach measured from the device side (iob host reach) with the
# model on the same axes: per page size and pattern, the queue-depth-1
# latency against the DMA window (p50 with its 95% interval) and the
# model's curve a + b * misses fitted to it (host_reach_fit_curve.csv);
# the misses per transfer the model predicts with QEMU's IOTLB and with
# its default geometry, with QEMU's own count where the run came from the
# QEMU guest (host_reach_qemu.csv); the bandwidth at the deepest queue.
load lib.'/common.gp'
f = dir.'/host_reach.csv'
fc = dir.'/host_reach_fit_curve.csv'
fq = dir.'/host_reach_qemu.csv'
corner = system("awk -F= '/^# (host|git_commit|date)=/ { sub(/\\r$/, \"\", $2); printf \"%s%s\", (n++ ? \", \" : \"\"), $2 }' ".f)
has_curve = system("test -f ".fc." && echo 1 || echo 0") + 0
has_qemu = system("test -f ".fq." && echo 1 || echo 0") + 0
qemu_note = has_qemu ? " (QEMU guest: latencies are TCG artefacts)" : ""
stats f using (column("qd")) nooutput
qdeep = STATS_max
curves = ""
do for [s in "4096 2097152 1073741824"] {
  do for [p in "seq stride random"] {
    stats f using ((column("page_size_bytes") == s + 0 && strcol("pattern") eq p) ? 1 : 0) nooutput
    if (STATS_max > 0) { curves = curves.s.":".p." " }
  }
}
ps_of(c) = substr(c, 1, strstrt(c, ":") - 1)
pat_of(c) = substr(c, strstrt(c, ":") + 1, strlen(c))
sel(c, q) = column("page_size_bytes") == ps_of(c) + 0 && strcol("pattern") eq pat_of(c) && column("qd") == q
lbl(c) = fsize(ps_of(c) + 0)." ".pat_of(c)
set logscale x 2
set offsets graph 0.04, graph 0.04, 0, 0
set xlabel "DMA window"
set xtics ("16K" 16384, "64K" 65536, "256K" 262144, "1M" 1048576, "4M" 4194304, "16M" 16777216, "64M" 67108864, "256M" 268435456, "1G" 1073741824)
do for [fmt in "png svg"] {
  eval sprintf('set term %s size 1500,560', png_or_svg(fmt))
  set output dir.'/host_reach.'.fmt
  set multiplot layout 1,3 title "IOTLB reach from the device side, measured and modeled".qemu_note."\n".corner
  set title "latency per transfer, queue depth 1 (lines: model fit)"
  set ylabel "ns (p50, 95% interval)"
  set key top left
  if (has_curve) {
    plot for [i=1:words(curves)] f using (sel(word(curves, i), 1) ? column("window_bytes") : NaN):(column("lat_p50_ns")):(column("lat_p50_lo_ns")):(column("lat_p50_hi_ns")) \
           with yerrorbars ls i title lbl(word(curves, i)), \
         for [i=1:words(curves)] fc using ((column("page_size_bytes") == ps_of(word(curves, i)) + 0 && strcol("pattern") eq pat_of(word(curves, i))) ? column("window_bytes") : NaN):(column("fitted_ns")) \
           with lines ls i dt 2 notitle
  } else {
    plot for [i=1:words(curves)] f using (sel(word(curves, i), 1) ? column("window_bytes") : NaN):(column("lat_p50_ns")):(column("lat_p50_lo_ns")):(column("lat_p50_hi_ns")) \
           with yerrorbars ls i title lbl(word(curves, i))
  }
  set title "IOTLB misses per transfer, queue depth 1"
  set ylabel "misses per transfer"
  set key top left font ",8"
  if (has_qemu) {
    plot for [i=1:words(curves)] f using (sel(word(curves, i), 1) ? column("window_bytes") : NaN):(column("qemu_misses_per_io")) \
           with lines ls i title lbl(word(curves, i))." QEMU's IOTLB (model)", \
         for [i=1:words(curves)] f using (sel(word(curves, i), 1) ? column("window_bytes") : NaN):(column("model_misses_per_io")) \
           with lines ls i dt 3 title lbl(word(curves, i))." default geometry (model)", \
         for [i=1:words(curves)] fq using ((column("page_size_bytes") == ps_of(word(curves, i)) + 0 && strcol("pattern") eq pat_of(word(curves, i)) && column("qd") == 1) ? column("window_bytes") : NaN):(column("qemu_misses_per_io")) \
           with points ls i pt 6 ps 1.5 title lbl(word(curves, i))." QEMU's trace"
  } else {
    plot for [i=1:words(curves)] f using (sel(word(curves, i), 1) ? column("window_bytes") : NaN):(column("model_misses_per_io")) \
           with linespoints ls i title lbl(word(curves, i))." default geometry (model)"
  }
  set key top left font ",10"
  set title sprintf("bandwidth, queue depth %d", qdeep)
  set ylabel "MB/s"
  set yrange [0:*]
  plot for [i=1:words(curves)] f using (sel(word(curves, i), qdeep) ? column("window_bytes") : NaN):(column("mb_s")) \
         with linespoints ls i title lbl(word(curves, i))
  set autoscale y
  unset multiplot
}
