set terminal pngcairo size 1280,640 font 'sans,10'
set output 'results/quick/bench.png'
set title "Requests/s per workload (2026-11-25 14:55 UTC; wrk -t1 -c50 on CPU 1, server on CPU 0, 1 worker; QUICK smoke run)"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.9 border -1
set boxwidth 0.9
set datafile missing '-'
set logscale y
set yrange [10:*]
set termoption noenhanced
set format y '%.0s%c'
set ylabel 'requests/s (log scale)'
set grid ytics mytics
set xtics rotate by -25 nomirror
set key outside top center horizontal
set bmargin 5
plot 'results/quick/raw/chart.dat' using 2:xtic(1) title 'Hyperion' lc rgb '#c0392b', \
     'results/quick/raw/chart.dat' using 3 title 'Puma' lc rgb '#2c3e50', \
     'results/quick/raw/chart.dat' using 4 title 'nginx (native reference)' lc rgb '#27ae60', \
     'results/quick/raw/chart.dat' using ($0 + -0.25):2:(sprintf('%d', column(2))) with labels rotate by 90 left offset 0,0.4 font ',7' notitle, \
     'results/quick/raw/chart.dat' using ($0 + 0.0):3:(sprintf('%d', column(3))) with labels rotate by 90 left offset 0,0.4 font ',7' notitle, \
     'results/quick/raw/chart.dat' using ($0 + 0.25):4:(sprintf('%d', column(4))) with labels rotate by 90 left offset 0,0.4 font ',7' notitle
