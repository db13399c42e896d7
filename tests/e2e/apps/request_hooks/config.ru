# frozen_string_literal: true

# For tests/e2e/request_hooks_test.rb: Hyperion.on_request_start/on_request_end
# as an APM agent uses them (a span started before app.call, finished after).
Hyperion.on_request_start { |env| env['test.order'] = [:first] }
Hyperion.on_request_start { |env| env['test.order'] << :second }
Hyperion.on_request_start do |env|
  raise 'a broken agent' if env['PATH_INFO'] == '/hook_raises'
end
Hyperion.on_request_end do |env, status, duration, error|
  warn "request_end #{env['PATH_INFO']} status=#{status} error=#{error ? error.class : 'nil'} " \
       "order=#{env['test.order'].join(',')} duration=#{format('%.3f', duration)}"
end
Hyperion.on_request_end { |env| warn "second end hook saw #{env['PATH_INFO']}" } # fewer arguments

run(lambda do |env|
  case env['PATH_INFO']
  when '/raise' then raise ArgumentError, 'the app failed'
  when '/slow'
    sleep 0.2
    [201, { 'content-type' => 'text/plain' }, ['slow']]
  else [200, { 'content-type' => 'text/plain' }, [env['test.order'].join(',')]]
  end
end)
