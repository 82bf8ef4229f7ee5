# IOTLB reach (the pcie-bench experiment on the model): hit rate and
# modeled throughput against the DMA window, per page size and IOTLB
# geometry. From reach.csv. Geometries with the same hit rate overlap: the
# series are drawn wide to thin, dashed for 512 entries, a little apart on x.
load lib.'/common.gp'
f = dir.'/reach.csv'
set logscale x 2
set xlabel "DMA window"
set xtics ("4K" 4096, "64K" 65536, "1M" 1048576, "16M" 16777216, "256M" 268435456, "4G" 4294967296)
sel(e, ps) = (column("tlb_entries") == e && column("page_size_bytes") == ps) ? column("window_bytes") : NaN
do for [fmt in "png svg"] {
  eval sprintf('set term %s size 1500,560', png_or_svg(fmt))
  set output dir.'/reach.'.fmt
  set multiplot layout 1,3 title "IOTLB reach: random DMA in a window (model)"
  set title "IOTLB hit rate"
  set ylabel "hit rate"
  set yrange [0:1.05]
  set key bottom left
  plot for [i=1:6] f using (dodge(sel(word("64 64 64 512 512 512", i)+0, word("4096 2097152 1073741824 4096 2097152 1073741824", i)+0), i, 6)):(column("hit_rate")) \
       w lp ls i lw ((7 - i) * 0.7) dt 1+(i > 3) t sprintf("%s entries, %s pages", word("64 64 64 512 512 512", i), fsize(word("4096 2097152 1073741824 4096 2097152 1073741824", i)+0))
  set title "modeled translation time per DMA"
  set ylabel "ns"
  set autoscale y
  set logscale y 10
  set key top left
  plot for [i=1:6] f using (dodge(sel(word("64 64 64 512 512 512", i)+0, word("4096 2097152 1073741824 4096 2097152 1073741824", i)+0), i, 6)):(column("model_xlate_ns")) \
       w lp ls i lw ((7 - i) * 0.7) dt 1+(i > 3) t sprintf("%s entries, %s pages", word("64 64 64 512 512 512", i), fsize(word("4096 2097152 1073741824 4096 2097152 1073741824", i)+0))
  unset logscale y
  set title "modeled throughput (translation + transfer, serialized)"
  set ylabel "GB/s"
  set yrange [0:*]
  set key bottom left
  plot for [i=1:6] f using (dodge(sel(word("64 64 64 512 512 512", i)+0, word("4096 2097152 1073741824 4096 2097152 1073741824", i)+0), i, 6)):(column("model_gbps")) \
       w lp ls i lw ((7 - i) * 0.7) dt 1+(i > 3) t sprintf("%s entries, %s pages", word("64 64 64 512 512 512", i), fsize(word("4096 2097152 1073741824 4096 2097152 1073741824", i)+0))
  unset multiplot
}
