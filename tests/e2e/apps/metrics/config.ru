# frozen_string_literal: true

# For the observability tests: a few response shapes to count, a request
# that holds its thread (so work spreads over both workers), a slow one (to
# drain around) and, with APP_BOOT_SLEEP, a slow boot (to be not ready in).
boot_sleep = ENV.fetch('APP_BOOT_SLEEP', '')
sleep Float(boot_sleep) unless boot_sleep.empty?

text = { 'content-type' => 'text/plain' }
run lambda { |env|
  case env['PATH_INFO']
  when '/hold'
    sleep 0.3
    [200, text, [Process.pid.to_s]]
  when '/slow'
    sleep Float(env['QUERY_STRING'][/s=([\d.]+)/, 1] || '2')
    [200, text, ["slow\n"]]
  when %r{\A/users/\d+\z} then [200, text, ["user\n"]]
  when '/missing' then [404, text, ["not here\n"]]
  else [200, text, ["app #{env['PATH_INFO']}\n"]]
  end
}
