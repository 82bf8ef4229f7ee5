# Latency CDFs: one call mapping/unmapping 256 contiguous 4 KiB pages, and
# one single-page call, tuned vs baseline. From pgtable_cdf.csv.
load lib.'/common.gp'
f = dir.'/pgtable_cdf.csv'
set logscale x 10
set xlabel "ns per call"
set ylabel "fraction of samples"
set yrange [0:1.02]
set key bottom right
sel(impl, op, n) = (strcol("impl") eq impl && strcol("op") eq op && \
                    column("page_size_bytes") == 4096 && column("pages_per_call") == n && \
                    strcol("pattern") eq "contig") ? column("bucket_ns") : NaN
do for [fmt in "png svg"] {
  eval sprintf('set term %s size 1200,520', png_or_svg(fmt))
  set output dir.'/pgtable_cdf.'.fmt
  set multiplot layout 1,2 title "Latency CDF, 4 KiB pages"
  do for [n in "1 256"] {
    set title n.' page(s) per call'
    plot f using (sel("tuned","map",int(n))):(column("cum_fraction")) w steps ls 1 t "tuned map", \
         f using (sel("tuned","unmap",int(n))):(column("cum_fraction")) w steps ls 2 t "tuned unmap", \
         f using (sel("baseline","map",int(n))):(column("cum_fraction")) w steps ls 3 t "baseline map", \
         f using (sel("baseline","unmap",int(n))):(column("cum_fraction")) w steps ls 4 t "baseline unmap"
  }
  unset multiplot
}
