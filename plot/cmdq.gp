# Command buffer round trip: a batch of invalidations plus one completion
# wait, by batch size; inline (model on this thread) and cross-thread.
# From cmdq.csv.
load lib.'/common.gp'
f = dir.'/cmdq.csv'
set logscale xy 2
set format y "%g"
set xlabel "invalidation commands per completion wait"
eval ci_stats
set ylabel "ns per round trip (median)"
sel(m) = strcol("mode") eq m ? column("batch_cmds") : NaN
do for [fmt in "png svg"] {
  eval sprintf('set term %s size 900,560', png_or_svg(fmt))
  set output dir.'/cmdq.'.fmt
  set title "Submit + COMPLETION_WAIT round trip\n".ci_text
  plot f using (sel("inline")):(column("p50_ns")):(lo("p50_ns")):(hi("p50_ns")) w yerrorlines ls 1 t "inline, total (driver + model)", \
       f using (sel("inline")):(column("driver_p50_ns")) w lp ls 2 t "inline, driver only", \
       f using (sel("thread")):(column("p50_ns")):(lo("p50_ns")):(hi("p50_ns")) w yerrorlines ls 3 t "IOMMU model on another CPU", \
       f using (sel("inline")):(column("model_hw_ns")) w lp ls 8 dt 2 t "modeled hardware time"
}
