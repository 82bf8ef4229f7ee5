# The host's real IOMMU (iob host run): VFIO map/unmap cost per call
# against pages per call for each page size (host_vfio.csv), the kernel's
# commands per call against the model's, the per-phase breakdown
# (host_phases.csv), and the model's hardware time with the fitted costs
# against the measured one (host_fidelity.csv, after iob host calibrate).
load lib.'/common.gp'
f = dir.'/host_vfio.csv'
# The run, for the figures' titles: host, commit, date from the CSV's metadata.
corner = system("awk -F= '/^# (host|git_commit|date)=/ { sub(/\\r$/, \"\", $2); printf \"%s%s\", (n++ ? \", \" : \"\"), $2 }' ".f)
sizes = ""
do for [s in "4096 2097152 1073741824"] {
  stats f using (column("page_size_bytes") == s + 0 ? 1 : 0) nooutput
  if (STATS_max > 0) { sizes = sizes.s." " }
}
sel(op, s, pat) = strcol("op") eq op && column("page_size_bytes") == s + 0 && strcol("pattern") eq pat
ls_of(s) = s + 0 == 4096 ? 1 : s + 0 == 2097152 ? 2 : 3
has_phases = system("test -f ".dir."/host_phases.csv && echo 1 || echo 0") + 0
has_fid = system("test -f ".dir."/host_fidelity.csv && echo 1 || echo 0") + 0

do for [fmt in "png svg"] {
  eval sprintf('set term %s size 1300,900', png_or_svg(fmt))
  set output dir.'/host_vfio.'.fmt
  set multiplot layout 2,2 title "VFIO map/unmap through the kernel's IOMMU driver (".corner.")"
  set logscale xy 10
  set xlabel "pages per call"
  do for [op in "map unmap"] {
    set title op." (p50 per call; dashed: random layout, one page per call)"
    set ylabel "ns per call"
    plot for [s in sizes] f using (sel(op, s, "contig") ? column("pages_per_call") : NaN):(column("p50_ns")) \
           with linespoints ls ls_of(s) title fsize(s + 0)." contig", \
         for [s in sizes] f using (sel(op, s, "random") ? column("pages_per_call") : NaN):(column("p50_ns")) \
           with linespoints ls ls_of(s) dt 2 title fsize(s + 0)." random"
  }
  unset logscale y
  set logscale x 10
  do for [op in "map unmap"] {
    set title op.": commands per call, kernel (points) and model (crosses)"
    set ylabel "INVALIDATE_IOMMU_PAGES per call"
    set logscale y 10
    plot for [s in sizes] f using (sel(op, s, "contig") && column("inv_pages_cmds_per_call") > 0 ? column("pages_per_call") : NaN):(column("inv_pages_cmds_per_call")) \
           with points ls ls_of(s) title fsize(s + 0)." kernel", \
         for [s in sizes] f using (sel(op, s, "contig") && column("model_inv_pages_per_call") > 0 ? column("pages_per_call") : NaN):(column("model_inv_pages_per_call")) \
           with points ls ls_of(s) pt 2 ps 2 title fsize(s + 0)." model"
  }
  unset multiplot
  unset logscale

  if (has_phases) {
    eval sprintf('set term %s size 1100,500', png_or_svg(fmt))
    set output dir.'/host_phases.'.fmt
    set title "The kernel's IOMMU phases while iob host vfio ran: mean per call (kprobes; ".corner.")"
    set style fill solid 0.8 border -1
    set boxwidth 0.6
    set logscale y 10
    set ylabel "ns per call (mean, probe overhead included)"
    set xtics rotate by -30 nomirror
    unset xlabel
    unset key
    plot dir.'/host_phases.csv' using 0:(column("mean_ns")):xtic(strcol("path")) with boxes ls 1 notitle
    set key top left box opaque
    unset logscale
    unset xtics
    set xtics
  }
  if (has_fid) {
    eval sprintf('set term %s size 700,600', png_or_svg(fmt))
    set output dir.'/host_fidelity.'.fmt
    set title "Hardware time per call: model with the fitted costs against measured (".corner.")"
    set logscale xy 10
    set xlabel "measured (flush + waits), ns per call"
    set ylabel "model, ns per call"
    set key top left
    plot dir.'/host_fidelity.csv' using (column("measured_hw_ns_per_call") > 0 && strcol("op") eq "map" ? column("measured_hw_ns_per_call") : NaN):(column("model_hw_ns_per_call")) with points ls 1 title "map", \
         '' using (column("measured_hw_ns_per_call") > 0 && strcol("op") eq "unmap" ? column("measured_hw_ns_per_call") : NaN):(column("model_hw_ns_per_call")) with points ls 2 title "unmap", \
         x with lines ls 8 dt 2 title "model = measured"
    unset logscale
  }
}
