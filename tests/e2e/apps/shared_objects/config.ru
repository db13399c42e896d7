# frozen_string_literal: true

# What the allocation work shares between requests, seen from the app
# (tests/e2e/allocations_test.rb): the one empty rack.input of bodyless
# requests, the per-thread rack.hijack, and which env values are frozen.
require 'json'
require 'rack/lint'

# Every way of reading the empty input, next to the same call on
# StringIO.new("".b): the report is [name, hyperion's answer, StringIO's].
# Behind Rack::Lint only the SPEC's calls exist (its InputWrapper has just
# gets, read, each and rewind).
# (Lint's rewind answers true whatever the input's does: 'read after rewind'
# is the check there.)
SPEC_CALLS = ['read', 'read(nil)', 'read(0)', 'read(5)', 'read(5, buf)', 'read(nil, buf)', 'gets', 'each',
              'read after rewind'].freeze

def input_report(input, spec_only: false)
  reference = StringIO.new(''.b)
  calls = {
    'read' => ->(io) { r = io.read; [r, r.encoding.to_s, r.frozen?] },
    'read(nil)' => ->(io) { io.read(nil) },
    'read(0)' => ->(io) { io.read(0) },
    'read(5)' => ->(io) { io.read(5) },
    'read(5, buf)' => ->(io) { buf = +'stale'; [io.read(5, buf), buf] },
    'read(nil, buf)' => ->(io) { buf = +'stale'; r = io.read(nil, buf); [r, buf, r.equal?(buf), buf.encoding.to_s] },
    'read(-1)' => ->(io) { io.read(-1) rescue $!.class.name },
    'read(1, frozen)' => ->(io) { io.read(1, 'x') rescue $!.class.name },
    'gets' => ->(io) { io.gets },
    'each' => ->(io) { yielded = []; io.each { |l| yielded << l }; yielded },
    'each_line' => ->(io) { io.each_line.to_a },
    'readlines' => ->(io) { io.readlines },
    'getc' => ->(io) { io.getc },
    'readpartial' => ->(io) { io.readpartial(10) rescue $!.class.name },
    'rewind' => ->(io) { io.rewind },
    'eof?' => ->(io) { io.eof? },
    'size' => ->(io) { io.size },
    'pos' => ->(io) { io.pos },
    'external_encoding' => ->(io) { io.external_encoding.to_s },
    'read after rewind' => ->(io) { io.rewind; io.read }
  }
  calls = calls.slice(*SPEC_CALLS) if spec_only
  calls.map { |name, call| [name, call.call(input), call.call(reference)] }
end

$stale_hijack_results = Queue.new

def stale_hijack_thread(hijack, wait)
  Thread.new do
    wait.call
    begin
      hijack.call
      $stale_hijack_results << 'no error: a stale rack.hijack acted'
    rescue IOError => e
      $stale_hijack_results << "#{e.class}: #{e.message}"
    end
  end
end

$fire = Queue.new

app = lambda do |env|
  linted = env['PATH_INFO'].start_with?('/lint/')
  case env['PATH_INFO'].delete_prefix('/lint')
  when '/input'
    report = input_report(env['rack.input'], spec_only: linted)
    [200, { 'content-type' => 'application/json' }, [JSON.generate(report)]]
  when '/identity'
    body = JSON.generate('input' => env['rack.input'].object_id, 'hijack' => env['rack.hijack'].object_id,
                         'input_class' => env['rack.input'].class.name, 'input_frozen' => env['rack.input'].frozen?)
    [200, { 'content-type' => 'application/json' }, [body]]
  when '/values'
    keys = %w[PATH_INFO REQUEST_URI QUERY_STRING REMOTE_ADDR SERVER_NAME SERVER_PORT HTTP_HOST HTTP_X_TWICE]
    report = keys.to_h { |k| v = env[k]; [k, v && { 'value' => v.dup, 'frozen' => v.frozen?, 'encoding' => v.encoding.to_s }] }
    # The mutable ones really are: middleware may rewrite them in place.
    env['PATH_INFO'] << '/more'
    env['PATH_INFO'].force_encoding(Encoding::UTF_8)
    report['PATH_INFO after <<'] = env['PATH_INFO']
    [200, { 'content-type' => 'application/json' }, [JSON.generate(report)]]
  when '/post'
    input = env['rack.input']
    [200, { 'content-type' => 'text/plain' }, ["#{input.class}:#{input.read}"]]
  when '/hijack'
    io = env['rack.hijack'].call
    io.write("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
    io.close
    [-1, {}, []]
  when '/stash_hijack_idle'
    # Called by another thread once this request is long over (and the server
    # thread idle): must raise, not touch the finished exchange.
    stale_hijack_thread(env['rack.hijack'], -> { sleep 0.5 })
    [200, { 'content-type' => 'text/plain' }, ['stashed']]
  when '/stash_hijack_busy'
    # Called by another thread while the server thread serves /fire: must
    # raise, not take /fire's connection.
    stale_hijack_thread(env['rack.hijack'], -> { $fire.pop })
    [200, { 'content-type' => 'text/plain' }, ['stashed']]
  when '/fire'
    $fire << true
    [200, { 'content-type' => 'text/plain' }, [$stale_hijack_results.pop]]
  when '/stale_result'
    [200, { 'content-type' => 'text/plain' }, [$stale_hijack_results.pop]]
  else
    [404, { 'content-type' => 'text/plain' }, ['not found']]
  end
end

# Under /lint/ the same app runs behind Rack::Lint, which checks the env and
# wraps rack.input to check every read's arguments and return types. (Not
# Rack::URLMap: it would replace PATH_INFO before the app sees the server's.)
linted_app = Rack::Lint.new(app)
run(->(env) { env['PATH_INFO'].start_with?('/lint/') ? linted_app.call(env) : app.call(env) })
