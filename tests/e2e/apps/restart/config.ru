# frozen_string_literal: true

# For the restart tests: the code "version" is read once, when a worker loads
# the app, so a phased restart that reloads code shows a new one; a boot
# fails on purpose while APP_FAIL_FILE exists.
fail_file = ENV.fetch('APP_FAIL_FILE', '')
raise "boot failure requested by #{fail_file}" if !fail_file.empty? && File.exist?(fail_file)

version_file = ENV.fetch('APP_VERSION_FILE', '')
VERSION = version_file.empty? ? 'none' : File.read(version_file).strip

# /grow?mb=N keeps N MiB more alive in this worker (the max_rss test).
KEPT = []

run lambda { |env|
  if env['PATH_INFO'] == '/grow'
    KEPT << ('x' * (Integer(env['QUERY_STRING'][/mb=(\d+)/, 1]) << 20))
    next [200, { 'content-type' => 'text/plain' }, ["#{Process.pid}\n"]]
  end
  sleep Float(env['QUERY_STRING'][/\Asleep=([\d.]+)/, 1]) if env['QUERY_STRING'].start_with?('sleep=')
  [200, { 'content-type' => 'text/plain' }, ["#{VERSION} #{Process.pid}\n"]]
}
