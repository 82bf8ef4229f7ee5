# dma_map_benchmark twin: map and unmap latency distributions, strict vs
# lazy (one thread, one page, no flush on map). From dmamap_cdf.csv.
# Left: the CDF; right: its tail (1 - CDF, log scale), where the lazy
# mode's flush-queue drains show.
load lib.'/common.gp'
f = dir.'/dmamap_cdf.csv'
set logscale x 10
set xlabel "ns per call (driver time; modeled hardware excluded)"
sel(op, mode, np) = (strcol("op") eq op && strcol("mode") eq mode && column("np_cache") == np && \
                     column("threads") == 1 && column("granule_pages") == 1) ? column("bucket_ns") : NaN
tail(c) = 1 - c > 0 ? 1 - c : NaN
do for [fmt in "png svg"] {
  eval sprintf('set term %s size 1400,560', png_or_svg(fmt))
  set output dir.'/dmamap_cdf.'.fmt
  set multiplot layout 1,2 title "dma_map/dma_unmap latency, one 4 KiB page (the median repetition's)"
  set title "CDF"
  set ylabel "fraction of calls"
  set yrange [0:1.02]
  set key bottom right
  plot f using (sel("map","strict",0)):(column("cum_fraction")) w steps ls 1 t "map, strict", \
       f using (sel("unmap","strict",0)):(column("cum_fraction")) w steps ls 2 t "unmap, strict", \
       f using (sel("map","lazy",0)):(column("cum_fraction")) w steps ls 3 t "map, lazy", \
       f using (sel("unmap","lazy",0)):(column("cum_fraction")) w steps ls 4 t "unmap, lazy", \
       f using (sel("unmap","strict",1)):(column("cum_fraction")) w steps ls 5 dt 2 t "unmap, strict, flush on map"
  set title "tail: fraction of calls slower than x"
  set ylabel "1 - CDF"
  set logscale y 10
  set yrange [*:1.2]
  set format y "10^{%L}"
  set key top right
  plot f using (sel("map","strict",0)):(tail(column("cum_fraction"))) w steps ls 1 t "map, strict", \
       f using (sel("unmap","strict",0)):(tail(column("cum_fraction"))) w steps ls 2 t "unmap, strict", \
       f using (sel("map","lazy",0)):(tail(column("cum_fraction"))) w steps ls 3 t "map, lazy", \
       f using (sel("unmap","lazy",0)):(tail(column("cum_fraction"))) w steps ls 4 t "unmap, lazy", \
       f using (sel("unmap","strict",1)):(tail(column("cum_fraction"))) w steps ls 5 dt 2 t "unmap, strict, flush on map"
  unset multiplot
}
