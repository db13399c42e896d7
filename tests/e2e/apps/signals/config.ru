# frozen_string_literal: true

# For stop signals and capacity-aware accept: /slow?s=N holds a Ruby thread
# for N seconds (an ensure notes when it is interrupted), anything else
# answers at once with the pid that served it. With MARKER set, at_exit and
# interrupted requests append a line to that file.
MARKER = ENV['MARKER']

def note(line)
  File.open(MARKER, 'a') { |f| f.puts(line) } if MARKER
end

at_exit { note("at_exit #{Process.pid}") }

run(lambda do |env|
  if env['PATH_INFO'] == '/slow'
    seconds = Float(env['QUERY_STRING'][/s=([\d.]+)/, 1] || '6')
    begin
      finished = false
      sleep seconds
      finished = true
    ensure
      note("interrupted #{Process.pid}") unless finished
    end
    [200, { 'content-type' => 'text/plain' }, ["slow done by #{Process.pid}"]]
  else
    [200, { 'content-type' => 'text/plain' }, [Process.pid.to_s]]
  end
end)
