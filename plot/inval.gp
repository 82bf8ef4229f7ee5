# Invalidation commands per MiB unmapped, and bytes invalidated per byte
# unmapped, per range policy, against unmaps gathered per flush. From inval.csv.
# Policies often give the same counts: the series are drawn wide to thin,
# dashed, and a little apart on x, so that none hides another.
load lib.'/common.gp'
f = dir.'/inval.csv'
set logscale x 2
set xlabel "unmaps gathered per flush"
sel(s, p) = (strcol("stream") eq s && strcol("policy") eq p) ? column("batch_unmaps") : NaN
do for [fmt in "png svg"] {
  eval sprintf('set term %s size 1500,900', png_or_svg(fmt))
  set output dir.'/inval.'.fmt
  set multiplot layout 2,3 title "Invalidation commands per range policy"
  do for [s in "ring random sg"] {
    set title s." stream: commands per MiB unmapped"
    set ylabel "commands / MiB"
    set logscale y 10
    plot f using (dodge(sel(s,"exact"),1,3)):(column("cmds_per_mib")) w lp ls 1 lw 5 ps 1.4 t "exact", \
         f using (dodge(sel(s,"merged"),2,3)):(column("cmds_per_mib")) w lp ls 2 lw 3 dt 2 ps 1.1 t "merged (Linux)", \
         f using (dodge(sel(s,"xen"),3,3)):(column("cmds_per_mib")) w lp ls 3 lw 2 dt 3 ps 1.0 t "xen 4.17"
  }
  do for [s in "ring random sg"] {
    set title s." stream: bytes invalidated per byte unmapped"
    set ylabel "ratio (1 = exact)"
    set logscale y 10
    plot f using (dodge(sel(s,"exact"),1,3)):(column("inval_bytes_per_unmapped_byte")) w lp ls 1 lw 5 ps 1.4 t "exact", \
         f using (dodge(sel(s,"merged"),2,3)):(column("inval_bytes_per_unmapped_byte")) w lp ls 2 lw 3 dt 2 ps 1.1 t "merged (Linux)", \
         f using (dodge(sel(s,"xen"),3,3)):(column("inval_bytes_per_unmapped_byte")) w lp ls 3 lw 2 dt 3 ps 1.0 t "xen 4.17"
  }
  unset multiplot
}
