# Rack shapes real apps and middleware produce, beyond hello. This file is
# UTF-8 on purpose: é, ü, 日本 — `ruby` reads it with the locale's encoding.
require 'json'
require 'logger'

STDOUT_LOG = Logger.new($stdout)
SHAPES_STATE = { after_reply: [], response_finished: [] }
SHAPES_LOCK = Mutex.new

# Rack::Logger builds a Logger on env['rack.errors'].
use Rack::Logger

app = lambda do |env|
  case env['PATH_INFO']
  when '/string_status'
    ['201', { 'content-type' => 'text/plain' }, ['created with a String status']]
  when '/logger'
    env['rack.logger'].info('rack logger line')
    env['rack.errors'].puts('rack.errors puts line')
    ['200', { 'content-type' => 'text/plain' }, ['logged']]
  when '/encoding'
    body = JSON.generate(
      default_external: Encoding.default_external.to_s,
      default_internal: Encoding.default_internal.to_s,
      source: __ENCODING__.to_s,
      literal: 'é'.encoding.to_s,
      literal_length: 'é日本'.length,
      file_read: File.read(__FILE__).encoding.to_s
    )
    [200, { 'content-type' => 'application/json' }, [body]]
  when '/env'
    keys = %w[RACK_ENV RAILS_ENV APP_ENV]
    body = JSON.generate(keys.to_h { |k| [k, ENV[k]] })
    [200, { 'content-type' => 'application/json' }, [body]]
  when '/stdout'
    STDOUT_LOG.info("stdout line #{env['QUERY_STRING']}")
    $stdout.puts "plain puts #{env['QUERY_STRING']}"
    [200, { 'content-type' => 'text/plain' }, ["sync=#{$stdout.sync} #{$stderr.sync}"]]
  when '/cgi'
    body = JSON.generate(%w[GATEWAY_INTERFACE REQUEST_PATH PATH_INFO HTTP_VERSION SERVER_PROTOCOL
                            CONTENT_LENGTH HTTP_TRANSFER_ENCODING].to_h { |k| [k, env[k]] }
                           .merge('body_size' => env['rack.input'].read.bytesize))
    [200, { 'content-type' => 'application/json' }, [body]]
  when '/kill'
    Thread.current.kill
    [200, {}, ['not reached']]
  when '/kill_streaming'
    body = Enumerator.new do |y|
      y << "first part\n"
      Thread.current.kill
      y << 'never'
    end
    [200, { 'content-type' => 'text/plain' }, body]
  when '/thread'
    [200, { 'content-type' => 'text/plain' }, ["thread #{Thread.current.name}"]]
  when '/sleep'
    sleep Float(env['QUERY_STRING'].to_s[/\d+(\.\d+)?/] || 1)
    [200, { 'content-type' => 'text/plain' }, ["slept in #{Process.pid}"]]
  when '/pid'
    [200, { 'content-type' => 'text/plain' }, [Process.pid.to_s]]
  when '/callbacks'
    tag = env['QUERY_STRING']
    size = 16 * 1024 * 1024
    env['rack.after_reply'] << -> { SHAPES_LOCK.synchronize { SHAPES_STATE[:after_reply] << tag } }
    env['rack.response_finished'] << lambda do |e, status, _headers, error|
      SHAPES_LOCK.synchronize { SHAPES_STATE[:response_finished] << [tag, status, error&.class&.name, e.equal?(env)] }
    end
    [200, { 'content-type' => 'application/octet-stream' }, ['x' * size]]
  when '/callbacks_seen'
    body = SHAPES_LOCK.synchronize { JSON.generate(SHAPES_STATE) }
    [200, { 'content-type' => 'application/json' }, [body]]
  when '/partial_hijack'
    hijack = lambda do |io|
      io.write("partial hijack says hi\n")
      io.flush
      line = io.gets
      io.write("echo: #{line}")
      io.close
    end
    [200, { 'content-type' => 'text/plain', 'rack.hijack' => hijack }, []]
  when '/raise'
    raise KeyError, 'missing widget key'
  else
    [404, { 'content-type' => 'text/plain' }, ['not found']]
  end
end

run app
