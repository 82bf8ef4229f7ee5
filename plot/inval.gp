# Invalidation commands per MiB unmapped, and bytes invalidated per byte
# unmapped, per range policy, against unmaps gathered per flush. From inval.csv.
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
    plot f using (sel(s,"exact")):(column("cmds_per_mib")) w lp ls 1 t "exact", \
         f using (sel(s,"merged")):(column("cmds_per_mib")) w lp ls 2 t "merged (Linux)", \
         f using (sel(s,"xen")):(column("cmds_per_mib")) w lp ls 3 t "xen 4.17"
  }
  do for [s in "ring random sg"] {
    set title s." stream: bytes invalidated per byte unmapped"
    set ylabel "ratio (1 = exact)"
    set logscale y 10
    plot f using (sel(s,"exact")):(column("inval_bytes_per_unmapped_byte")) w lp ls 1 t "exact", \
         f using (sel(s,"merged")):(column("inval_bytes_per_unmapped_byte")) w lp ls 2 t "merged (Linux)", \
         f using (sel(s,"xen")):(column("inval_bytes_per_unmapped_byte")) w lp ls 3 t "xen 4.17"
  }
  unset multiplot
}
