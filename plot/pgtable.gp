# Map and unmap cost per call against pages per call, tuned vs baseline,
# one panel per page size (contiguous layout). From pgtable.csv.
load lib.'/common.gp'
f = dir.'/pgtable.csv'
set logscale xy 2
set format y "%g"
set xlabel "pages per call"
eval ci_stats
set ylabel "median ns per call"
sel(impl, op, ps) = (strcol("impl") eq impl && strcol("op") eq op && \
                     column("page_size_bytes") == ps && strcol("pattern") eq "contig") ? \
                    column("pages_per_call") : NaN
# The series; a matrix may time a configuration twice (the default's second
# pgtable line repeats 1 and 256 pages of one thread): `smooth unique` draws
# one point per x (their mean), the bars stay per row.
impls = "tuned tuned baseline baseline"
ops = "map unmap map unmap"
# One panel per page size the run has (a matrix line may time 4K only).
sizes = ""
do for [ps in "4096 2097152 1073741824"] {
  stats f using ((strcol("pattern") eq "contig" && column("page_size_bytes") == int(ps)) ? 1 : 0) nooutput
  if (STATS_max > 0) { sizes = sizes.ps." " }
}
n = words(sizes)
if (n == 0) { exit }
do for [fmt in "png svg"] {
  eval sprintf('set term %s size %d,520', png_or_svg(fmt), 100 + 470 * n)
  set output dir.'/pgtable.'.fmt
  set multiplot layout 1,n title "I/O page table: map and unmap cost, tuned vs baseline (software only)\n".ci_text
  do for [ps in sizes] {
    set title fsize(int(ps)).' pages'
    plot for [k=1:4] f using (dodge(sel(word(impls,k),word(ops,k),int(ps)),k,4)):(column("p50_ns")) \
         smooth unique w lp ls k t word(impls,k)." ".word(ops,k), \
         for [k=1:4] f using (dodge(sel(word(impls,k),word(ops,k),int(ps)),k,4)):(column("p50_ns")):(lo("p50_ns")):(hi("p50_ns")) \
         w yerrorbars ls k notitle
  }
  unset multiplot
}
