#!/usr/bin/env ruby
# frozen_string_literal: true

# Turns the raw output of bench/run.sh (wrk logs, status.tsv, meta.tsv, alloc.*.txt)
# into latest.md, latest.csv and a gnuplot bar chart.
#
#   ruby bench/report.rb --raw bench/results/raw --out bench/results --chart docs/bench.png
#
# Medians: requests/s, p50 and p99 are each the median over the timed runs.
# Error counts (non-2xx, socket errors) are summed over the timed runs.

require 'csv'
require 'optparse'

opts = {}
OptionParser.new do |o|
  o.on('--raw DIR') { |v| opts[:raw] = v }
  o.on('--out DIR') { |v| opts[:out] = v }
  o.on('--chart PNG') { |v| opts[:chart] = v }
end.parse!
raw = opts.fetch(:raw)
out = opts.fetch(:out)

WORKLOADS = {
  'hello' => 'Rack hello (5-byte body)',
  'json' => 'JSON, 50 keys built per request',
  'headers25' => 'Response with 25 headers (Rails-shaped)',
  'post_1k' => 'POST, 1 KiB body read by the app',
  'file_1k' => 'Rack::Files, 1 KiB file',
  'static_1k' => '1 KiB file, preloaded (Hyperion --preload-static; Ruby servers: Rack::Files)',
  'file_1m' => 'Rack::Files, 1 MiB file',
  'sse_1000' => 'SSE, 1000 x 50 B events per response',
  'hello_close' => 'hello, Connection: close on every request',
  'hello_c256' => 'hello, 256 keep-alive connections',
  'prebuilt' => 'Prebuilt route (Hyperion::Server.handle_static)'
}.freeze
SERVERS = %w[hyperion puma unicorn nginx].freeze
# Rows where other processes used at least this % of a CPU during the timed runs get a note.
OTHER_CPU_NOTE = 10
# Workloads whose nginx reference is measured under another workload's name.
NGINX_REFERENCE = { 'prebuilt' => 'hello' }.freeze

meta = {}
File.foreach(File.join(raw, 'meta.tsv')) do |line|
  key, value = line.chomp.split("\t", 2)
  (meta[key] ||= []) << value
end
m = ->(key) { meta.fetch(key, ['?']).first }

def to_ms(value, unit)
  v = value.to_f
  case unit
  when 'us' then v / 1000.0
  when 'ms' then v
  when 's' then v * 1000.0
  when 'm' then v * 60_000.0
  else raise "unknown latency unit #{unit}"
  end
end

def parse_wrk(path)
  text = File.read(path)
  rps = text[/^Requests\/sec:\s+([\d.]+)/, 1]
  return nil unless rps

  lat = ->(pct) { (m = text.match(/^\s+#{pct}%\s+([\d.]+)(us|ms|s|m)\b/)) ? to_ms(m[1], m[2]) : nil }
  sock = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/)
  {
    rps: rps.to_f, p50: lat.call(50), p99: lat.call(99),
    requests: text[/^\s*(\d+) requests in/, 1].to_i,
    non2xx: text[/Non-2xx or 3xx responses: (\d+)/, 1].to_i,
    socket: sock ? sock.captures.map(&:to_i) : [0, 0, 0, 0]
  }
end

def median(values)
  v = values.compact.sort
  return nil if v.empty?

  v.size.odd? ? v[v.size / 2] : (v[v.size / 2 - 1] + v[v.size / 2]) / 2.0
end

rows = []
File.foreach(File.join(raw, 'status.tsv')) do |line|
  workload, server, status, note, rss, rss_group, other_cpu = line.chomp.split("\t", -1)
  row = { workload: workload, server: server, status: status, note: note.to_s,
          other_cpu: other_cpu.to_s.empty? ? nil : other_cpu.to_i,
          rss: rss.to_s.empty? ? nil : rss.to_i, rss_group: rss_group.to_s.empty? ? nil : rss_group.to_i }
  if status == 'ok'
    files = Dir[File.join(raw, "#{workload}.#{server}.run*.txt")].sort
    runs = files.map { |f| parse_wrk(f) }
    good = runs.compact
    if good.empty?
      row[:status] = 'failed'
      row[:note] = ['wrk produced no result', row[:note]].reject(&:empty?).join('; ')
    else
      row[:note] = [row[:note], "#{runs.size - good.size} of #{runs.size} runs gave no result"].reject(&:empty?).join('; ') if good.size < runs.size
      row.merge!(
        runs: good.size, rps_runs: good.map { |r| r[:rps] },
        rps: median(good.map { |r| r[:rps] }), p50: median(good.map { |r| r[:p50] }), p99: median(good.map { |r| r[:p99] }),
        requests: good.sum { |r| r[:requests] }, non2xx: good.sum { |r| r[:non2xx] },
        socket: good.map { |r| r[:socket] }.transpose.map(&:sum)
      )
    end
  end
  rows << row
end

order = ->(r) { [WORKLOADS.keys.index(r[:workload]) || 99, SERVERS.index(r[:server]) || 99] }
rows.sort_by!(&order)
find = ->(workload, server) { rows.find { |r| r[:workload] == workload && r[:server] == server && r[:rps] } }

rows.each do |r|
  next unless r[:rps]

  puma = find.call(r[:workload], 'puma')
  nginx = find.call(NGINX_REFERENCE.fetch(r[:workload], r[:workload]), 'nginx')
  r[:vs_puma] = puma && r[:rps] / puma[:rps]
  r[:vs_nginx] = nginx && r[:rps] / nginx[:rps]
end

fmt_rps = ->(v) { v ? v.round.to_s.reverse.scan(/\d{1,3}/).join(',').reverse : '' }
fmt_ms = ->(v) { v.nil? ? '' : (v < 10 ? format('%.2f ms', v) : format('%.1f ms', v)) }
fmt_ratio = ->(v) { v ? format('%.2f×', v) : '—' }
def errors_text(r)
  return '' unless r[:rps]

  parts = []
  parts << "non-2xx #{r[:non2xx]}" if r[:non2xx].positive?
  names = %w[connect read write timeout]
  r[:socket].each_with_index { |n, i| parts << "#{names[i]} #{n}" if n.positive? }
  parts.empty? ? '0' : parts.join(', ')
end
status_text = lambda do |r|
  case r[:status]
  when 'na' then r[:note]
  when 'failed' then "failed (#{r[:note]})"
  else ''
  end
end

# ---------- latest.csv ----------
Dir.mkdir(out) unless Dir.exist?(out)
CSV.open(File.join(out, 'latest.csv'), 'w') do |csv|
  csv << %w[workload server status runs rps_median rps_runs p50_ms p99_ms requests non_2xx
            socket_connect socket_read socket_write socket_timeout rss_kb rss_group_kb
            ratio_vs_puma ratio_vs_nginx other_cpu_pct note]
  rows.each do |r|
    ok = r[:rps]
    csv << [r[:workload], r[:server], r[:status], r[:runs], ok && r[:rps].round(1),
            ok && r[:rps_runs].map { |v| v.round(1) }.join(';'),
            ok && r[:p50]&.round(3), ok && r[:p99]&.round(3), r[:requests], r[:non2xx],
            *(r[:socket] || [nil] * 4), r[:rss], r[:rss_group],
            r[:vs_puma]&.round(3), r[:vs_nginx]&.round(3), r[:other_cpu], r[:note].to_s.empty? ? nil : r[:note]]
  end
end

# ---------- allocations, RSS ----------
allocs = {}
Dir[File.join(raw, 'alloc.*.txt')].each do |f|
  line = File.read(f)[/^RESULT .*/]
  server = File.basename(f)[/alloc\.(\w+)\.txt/, 1]
  allocs[server] = line ? line.scan(/(\w+)=([\w.]+)/).to_h : nil
end

# ---------- latest.md ----------
md = +''
quick = m.call('quick') == '1'
md << "# Benchmark results#{quick ? ' (QUICK smoke run — not for comparison)' : ''}\n\n"
md << "Generated by `#{m.call('command')}` on #{m.call('date')}. "
md << "Method and caveats: `docs/BENCHMARKS.md`.\n\n"
md << "- Load: `taskset -c 1 wrk -t1 -c50 -d#{m.call('duration')}s --latency` (256 connections for hello_c256), "
md << "#{m.call('warmup')} s warm-up, #{m.call('runs')} timed run(s); req/s, p50 and p99 are medians over the runs; errors are summed.\n"
md << "- Servers, one at a time on the same loopback port, pinned with `taskset -c 0`: "
md << "Hyperion `-w 1 -t 5 -e production --no-access-log`; Puma `-t 5:5 -e production` (single mode); "
md << "nginx 1 worker (`bench/nginx/nginx.conf.template`).\n"
skipped = meta.fetch('skipped_server', [])
md << "- Skipped: #{skipped.join(', ')}.\n" unless skipped.empty?
md << "- Prebuilt route: #{m.call('prebuilt')}.\n"
noisy = rows.select { |r| r[:other_cpu].to_i >= OTHER_CPU_NOTE }
md << "- Interference: #{noisy.empty? ? "none seen (other processes used under #{OTHER_CPU_NOTE}% of a CPU during every row's runs)" : "#{noisy.size} row(s) ran while other processes used ≥ #{OTHER_CPU_NOTE}% of a CPU (noted in the table); treat them with care"}.\n"
md << "- Host: #{m.call('cpu')}, #{m.call('os')}, kernel #{m.call('kernel')}; load average #{m.call('loadavg_start')} at start, #{m.call('loadavg_end')} at end.\n"
md << "- Versions: #{m.call('hyperion')}; Puma #{m.call('puma')}; #{m.call('nginx')}; #{m.call('ruby')}; Rack #{m.call('rack')}; #{m.call('wrk')}.\n\n"

md << "## Summary\n\n"
md << "| workload | Hyperion req/s | Puma req/s | nginx req/s | Hyperion vs Puma | Hyperion vs nginx |\n"
md << "|---|---:|---:|---:|---:|---:|\n"
WORKLOADS.each_key do |w|
  next unless rows.any? { |r| r[:workload] == w }

  h = rows.find { |r| r[:workload] == w && r[:server] == 'hyperion' }
  p = rows.find { |r| r[:workload] == w && r[:server] == 'puma' }
  n = find.call(NGINX_REFERENCE.fetch(w, w), 'nginx')
  cell = ->(r) { r.nil? ? '—' : (r[:rps] ? fmt_rps.call(r[:rps]) : (r[:status] == 'na' ? 'n/a' : 'failed')) }
  ncell = n ? fmt_rps.call(n[:rps]) + (NGINX_REFERENCE.key?(w) ? " (#{NGINX_REFERENCE[w]})" : '') : '—'
  md << "| #{w} | #{cell.call(h)} | #{cell.call(p)} | #{ncell} | #{fmt_ratio.call(h && h[:vs_puma])} | #{fmt_ratio.call(h && h[:vs_nginx])} |\n"
end

md << "\n## All runs\n\n"
md << "| workload | server | req/s (median) | p50 | p99 | vs Puma | vs nginx | wrk errors | runs (req/s) |\n"
md << "|---|---|---:|---:|---:|---:|---:|---|---|\n"
rows.each do |r|
  if r[:rps]
    runs = r[:rps_runs].map { |v| fmt_rps.call(v) }.join(' / ')
    notes = [r[:note]]
    notes << "other processes used #{r[:other_cpu]}% of a CPU during the runs" if r[:other_cpu].to_i >= OTHER_CPU_NOTE
    notes.reject!(&:empty?)
    note = notes.empty? ? '' : " — #{notes.join('; ')}"
    md << "| #{r[:workload]} | #{r[:server]} | #{fmt_rps.call(r[:rps])} | #{fmt_ms.call(r[:p50])} | #{fmt_ms.call(r[:p99])} | " \
          "#{fmt_ratio.call(r[:vs_puma])} | #{fmt_ratio.call(r[:vs_nginx])} | #{errors_text(r)} | #{runs}#{note} |\n"
  else
    md << "| #{r[:workload]} | #{r[:server]} | #{status_text.call(r)} | | | | | | |\n"
  end
end
md << "\nWorkloads: " + WORKLOADS.map { |k, v| "`#{k}` #{v}" }.join('; ') + ".\n"

md << "\n## Idle RSS after warm-up (hello)\n\n"
md << "| server | serving process | all processes |\n|---|---:|---:|\n"
%w[hyperion puma unicorn nginx].each do |s|
  r = rows.find { |x| x[:workload] == 'hello' && x[:server] == s && x[:rss] }
  next unless r

  label = { 'hyperion' => 'Hyperion (worker; all = master + worker)', 'puma' => 'Puma (single process)',
            'unicorn' => 'Unicorn (worker; all = master + worker)', 'nginx' => 'nginx (worker; all = master + worker)' }[s]
  md << "| #{label} | #{format('%.1f MiB', r[:rss] / 1024.0)} | #{format('%.1f MiB', r[:rss_group] / 1024.0)} |\n"
end

unless allocs.empty?
  md << "\n## Ruby objects allocated per request (hello, `bench/alloc_audit.rb`)\n\n"
  md << "| server | total per request | the app itself | the server |\n|---|---:|---:|---:|\n"
  allocs.sort_by { |s, _| SERVERS.index(s) || 99 }.each do |s, a|
    md << (a ? "| #{s} | #{a['total']} | #{a['app']} | #{a['server_only']} |\n" : "| #{s} | failed | | |\n")
  end
end
File.write(File.join(out, 'latest.md'), md)

# ---------- chart ----------
if opts[:chart]
  servers = SERVERS.select { |s| rows.any? { |r| r[:server] == s && r[:rps] } }
  workloads = WORKLOADS.keys.select { |w| rows.any? { |r| r[:workload] == w && r[:rps] } }
  data = File.join(raw, 'chart.dat')
  File.open(data, 'w') do |f|
    f.puts "# workload #{servers.join(' ')}"
    workloads.each do |w|
      f.puts ([w] + servers.map { |s| (r = find.call(w, s)) ? r[:rps].round : '-' }).join(' ')
    end
  end
  titles = { 'hyperion' => 'Hyperion', 'puma' => 'Puma', 'unicorn' => 'Unicorn', 'nginx' => 'nginx (native reference)' }
  colors = { 'hyperion' => '#c0392b', 'puma' => '#2c3e50', 'unicorn' => '#8e44ad', 'nginx' => '#27ae60' }
  plots = servers.each_with_index.map do |s, i|
    "'#{data}' using #{i + 2}#{i.zero? ? ':xtic(1)' : ''} title '#{titles[s]}' lc rgb '#{colors[s]}'"
  end
  # The value above each bar: a clustered histogram puts bar i of row r at r + (i - (n-1)/2) / (n + gap).
  n = servers.size
  plots += servers.each_index.map do |i|
    "'#{data}' using ($0 + #{(i - (n - 1) / 2.0) / (n + 1)}):#{i + 2}:(sprintf('%d', column(#{i + 2}))) " \
      "with labels rotate by 90 left offset 0,0.4 font ',7' notitle"
  end
  # Room above the tallest bar for its label.
  top = rows.filter_map { |r| r[:rps] }.max || 100
  ymax = (top * 2.5).round
  script = File.join(raw, 'chart.gp')
  File.write(script, <<~GP)
    set terminal pngcairo size 1280,640 font 'sans,10'
    set output '#{opts[:chart]}'
    set title "Requests/s per workload (#{m.call('date')}; wrk -t1 -c50 on CPU 1, server on CPU 0, 1 worker#{quick ? '; QUICK smoke run' : ''})"
    set style data histogram
    set style histogram cluster gap 1
    set style fill solid 0.9 border -1
    set boxwidth 0.9
    set datafile missing '-'
    set logscale y
    set yrange [10:#{ymax}]
    set termoption noenhanced
    set format y '%.0s%c'
    set ylabel 'requests/s (log scale)'
    set grid ytics mytics
    set xtics rotate by -25 nomirror
    set key outside top center horizontal
    set bmargin 5
    plot #{plots.join(", \\\n     ")}
  GP
  system('gnuplot', script) or warn "gnuplot failed (#{script})"
end
