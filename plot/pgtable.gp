# Map and unmap cost per call against pages per call, tuned vs baseline,
# one panel per page size (contiguous layout). From pgtable.csv.
load lib.'/common.gp'
f = dir.'/pgtable.csv'
set logscale xy 2
set format y "%g"
set xlabel "pages per call"
set ylabel "median ns per call"
sel(impl, op, ps) = (strcol("impl") eq impl && strcol("op") eq op && \
                     column("page_size_bytes") == ps && strcol("pattern") eq "contig") ? \
                    column("pages_per_call") : NaN
do for [fmt in "png svg"] {
  eval sprintf('set term %s size 1500,520', png_or_svg(fmt))
  set output dir.'/pgtable.'.fmt
  set multiplot layout 1,3 title "I/O page table: map and unmap cost, tuned vs baseline (software only)"
  do for [ps in "4096 2097152 1073741824"] {
    set title fsize(int(ps)).' pages'
    plot f using (sel("tuned","map",int(ps))):(column("p50_ns")) w lp ls 1 t "tuned map", \
         f using (sel("tuned","unmap",int(ps))):(column("p50_ns")) w lp ls 2 t "tuned unmap", \
         f using (sel("baseline","map",int(ps))):(column("p50_ns")) w lp ls 3 t "baseline map", \
         f using (sel("baseline","unmap",int(ps))):(column("p50_ns")) w lp ls 4 t "baseline unmap"
  }
  unset multiplot
}
