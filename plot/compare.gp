# iob plot --compare RUN_A RUN_B --out DIR: from DIR/compare.csv (iob
# compare's CSV), per family CSV of the runs: top, both runs' medians per
# configuration (rows in the order of RUN_A's CSV) with their 95%
# intervals; bottom, the ratio B/A with its interval, 1 = no change.
load lib.'/common.gp'
f = dir.'/compare.csv'
set datafile commentschars "#"
set xlabel "configuration (row of compare.csv)"
do for [fam in "pgtable reach cmdq inval dmamap workloads"] {
  name = fam.'.csv'
  stats f using (strcol("file") eq name ? 1 : 0) nooutput
  if (STATS_max > 0) {
    sel(k) = strcol("file") eq name ? $0 + 1 : NaN
    do for [fmt in "png svg"] {
      eval sprintf('set term %s size 1400,800', png_or_svg(fmt))
      set output dir.'/compare_'.fam.'.'.fmt
      set multiplot layout 2,1 title "iob compare: ".name.", A (baseline) against B"
      set title "median over repetitions, bars: its interval (coverage as the runs' ci_level)"
      set ylabel "headline figure (column 'figure' of compare.csv)"
      set logscale y 10
      set key top left
      plot f using (sel(0) - 0.15):(column("a_median")):(column("a_ci_lo")):(column("a_ci_hi")) w yerrorbars ls 1 t "A", \
           f using (sel(0) + 0.15):(column("b_median")):(column("b_ci_lo")):(column("b_ci_hi")) w yerrorbars ls 2 t "B"
      set title "B / A, bars: its interval (Moses; coverage in compare.csv)"
      set ylabel "ratio B / A"
      set logscale y 2
      unset key
      plot f using (sel(0)):(column("ratio")):(column("ci_lo")):(column("ci_hi")) w yerrorbars ls 3, \
           1 w l ls 8 dt 2
      unset multiplot
    }
  }
}
