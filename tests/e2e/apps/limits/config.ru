# frozen_string_literal: true

# Used by http_limits_test.rb. Every request except the /alive probe is
# appended to ENV['HIT_LOG']: requests the server must reject never get here,
# so the test expects that file to stay empty.
HIT_LOG = ENV.fetch('HIT_LOG')

run lambda { |env|
  path = env['PATH_INFO']
  unless path == '/alive'
    File.open(HIT_LOG, 'a') { |f| f.puts("#{env['REQUEST_METHOD']} #{env['REQUEST_URI']}") }
  end
  [200, { 'content-type' => 'text/plain' }, [path == '/alive' ? 'alive' : 'reached app']]
}
