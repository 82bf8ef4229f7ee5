# Latency distributions: one call mapping/unmapping 256 contiguous 4 KiB
# pages, and one single-page call, tuned vs baseline. From pgtable_cdf.csv.
# Top: the CDF; bottom: its tail, the fraction of calls slower than x
# (1 - CDF) on a log scale, where the rare slow calls show.
load lib.'/common.gp'
f = dir.'/pgtable_cdf.csv'
set logscale x 10
set xlabel "ns per call"
sel(impl, op, n) = (strcol("impl") eq impl && strcol("op") eq op && \
                    column("page_size_bytes") == 4096 && column("pages_per_call") == n && \
                    strcol("pattern") eq "contig") ? column("bucket_ns") : NaN
tail(c) = 1 - c > 0 ? 1 - c : NaN
do for [fmt in "png svg"] {
  eval sprintf('set term %s size 1200,900', png_or_svg(fmt))
  set output dir.'/pgtable_cdf.'.fmt
  set multiplot layout 2,2 title "Latency distribution, 4 KiB pages (the median repetition's)"
  do for [n in "1 256"] {
    set title n.' page(s) per call: CDF'
    set ylabel "fraction of samples"
    unset logscale y
    set yrange [0:1.02]
    set key bottom right
    plot f using (sel("tuned","map",int(n))):(column("cum_fraction")) w steps ls 1 t "tuned map", \
         f using (sel("tuned","unmap",int(n))):(column("cum_fraction")) w steps ls 2 t "tuned unmap", \
         f using (sel("baseline","map",int(n))):(column("cum_fraction")) w steps ls 3 t "baseline map", \
         f using (sel("baseline","unmap",int(n))):(column("cum_fraction")) w steps ls 4 t "baseline unmap"
  }
  do for [n in "1 256"] {
    set title n.' page(s) per call: tail (1 - CDF)'
    set ylabel "fraction of samples slower"
    set logscale y 10
    set yrange [*:1.2]
    set format y "10^{%L}"
    set key top right
    plot f using (sel("tuned","map",int(n))):(tail(column("cum_fraction"))) w steps ls 1 t "tuned map", \
         f using (sel("tuned","unmap",int(n))):(tail(column("cum_fraction"))) w steps ls 2 t "tuned unmap", \
         f using (sel("baseline","map",int(n))):(tail(column("cum_fraction"))) w steps ls 3 t "baseline map", \
         f using (sel("baseline","unmap",int(n))):(tail(column("cum_fraction"))) w steps ls 4 t "baseline unmap"
    set format y "%g"
  }
  unset multiplot
}
