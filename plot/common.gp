# Shared by every iommubench plot. Called as
#   gnuplot -e "dir='RUN_DIR'; lib='PLOT_DIR'" plot/NAME.gp
# Columns are always picked by their header name (column("p50_ns")),
# never by position, so a CSV may grow columns without breaking a plot.
set datafile separator comma
set datafile columnheaders
set datafile missing "NaN"
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
set key top left box opaque
set border lw 1.2
set style line 1 lc rgb "#1b9e77" lw 2 pt 7 ps 0.8
set style line 2 lc rgb "#d95f02" lw 2 pt 5 ps 0.8
set style line 3 lc rgb "#7570b3" lw 2 pt 9 ps 0.9
set style line 4 lc rgb "#e7298a" lw 2 pt 11 ps 0.9
set style line 5 lc rgb "#66a61e" lw 2 pt 13 ps 0.9
set style line 6 lc rgb "#e6ab02" lw 2 pt 3 ps 0.9
set style line 7 lc rgb "#a6761d" lw 2 pt 6 ps 0.8
set style line 8 lc rgb "#666666" lw 2 pt 4 ps 0.8
# term(fmt, name, w, h): PNG and SVG from the same commands
png_or_svg(fmt) = fmt eq "png" ? "pngcairo noenhanced font 'DejaVu Sans,10'" : "svg noenhanced font 'DejaVu Sans,10' dynamic"
fsize(b) = b >= 1073741824 ? sprintf("%d GiB", b / 1073741824) : b >= 1048576 ? sprintf("%d MiB", b / 1048576) : sprintf("%d KiB", b / 1024)
# iob plot passes runinfo ("host, commit, date") and has_ci (the CSV has the
# repetition columns, docs/csv-schema.md); defaults for a bare gnuplot call.
if (!exists("runinfo")) runinfo = ""
if (!exists("has_ci")) has_ci = 0
# Every figure names its run in its top right corner.
set label 99 runinfo at screen 0.995, screen 0.985 right font ",8" tc rgb "#777777" front
# What the bars are, for a label: `eval ci_stats` once f is set gives
# ci_text ("bars: interval of the median covering 87.5%, 4 repetitions").
ci_stats = 'if (has_ci) { stats f using (column("ci_level")):(column("n")) nooutput; ci_text = sprintf("bars: interval of the median covering %.1f%%, %d repetitions", 100 * STATS_max_x, STATS_max_y) } else { ci_text = "one run" }'
# The interval of the median over the repetitions (ci_lo..ci_hi), for the row's
# headline figure c; the value itself (a bar of no length) otherwise.
lo(c) = (has_ci && strcol("figure") eq c) ? column("ci_lo") : column(c)
hi(c) = (has_ci && strcol("figure") eq c) ? column("ci_hi") : column(c)
# Series k of n drawn side by side on a log2 x axis, so that equal values
# stay visible (each a little left or right of the true x; the ticks stay true).
dodge(x, k, n) = x * 2**((k - (n + 1) / 2.0) * 0.07)
