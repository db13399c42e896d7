# frozen_string_literal: true

# Plain Rack app (no Lint) exposing what the server hands it and how it
# treats bodies, headers and errors.
require 'json'

class E2EBoomError < StandardError; end
class E2EBodyError < StandardError; end

def e2e_boom!
  raise E2EBoomError, 'kaboom from the app'
end

# Appends "closed" to a file when the server closes it; optionally raises
# after the first chunk.
class ClosingBody
  def initialize(path, raise_midway)
    @path = path
    @raise_midway = raise_midway
  end

  def each
    yield 'first-'
    raise E2EBodyError, 'body failed midway' if @raise_midway

    yield 'second'
  end

  def close
    File.open(@path, 'a') { |f| f.puts 'closed' }
  end
end

def e2e_env_report(env)
  input = env['rack.input']
  data = input.read
  report = env.select { |_, v| v.is_a?(String) }
  report['keys'] = env.keys.map(&:to_s).sort
  report['rack.input.external_encoding'] = input.respond_to?(:external_encoding) ? input.external_encoding&.name : nil
  report['rack.input.read_encoding'] = data.encoding.name
  report['rack.input.body'] = data.b.force_encoding('UTF-8')
  report['rack.multithread'] = env['rack.multithread']
  report['rack.multiprocess'] = env['rack.multiprocess']
  report['rack.run_once'] = env['rack.run_once']
  report['rack.hijack?'] = env['rack.hijack?']
  report['rack.hijack.callable'] = env['rack.hijack'].respond_to?(:call)
  report['rack.version'] = env['rack.version']
  report['rack.errors.ok'] = %i[puts write flush].all? { |m| env['rack.errors'].respond_to?(m) }
  report['env.frozen'] = env.frozen?
  report
end

run(lambda do |env|
  params = env['QUERY_STRING'].split('&').to_h { |kv| kv.split('=', 2).map { |s| Rack::Utils.unescape(s) } }
  case env['PATH_INFO']
  when '/env', %r{\A/env/}
    [200, { 'content-type' => 'application/json' }, [JSON.generate(e2e_env_report(env))]]
  when '/cookies'
    [200, { 'content-type' => 'text/plain', 'set-cookie' => "a=1; path=/\nb=2; path=/", 'x-one' => 'single' }, ['c']]
  when '/boom'
    e2e_boom!
  when '/close_each'
    [200, { 'content-type' => 'text/plain' }, ClosingBody.new(params.fetch('path'), false)]
  when '/close_raise'
    [200, { 'content-type' => 'text/plain' }, ClosingBody.new(params.fetch('path'), true)]
  when '/close_proxy'
    path = params.fetch('path')
    [200, { 'content-type' => 'text/plain' },
     Rack::BodyProxy.new(['proxied']) { File.open(path, 'a') { |f| f.puts 'closed' } }]
  when '/errors'
    errors = env['rack.errors']
    errors.puts 'e2e-errors-puts-marker'
    errors.write "e2e-errors-write-marker\n"
    errors << 'e2e-errors-append-marker'
    errors.flush
    [200, { 'content-type' => 'text/plain' }, ['logged']]
  else
    [200, { 'content-type' => 'text/plain' }, ['ok']]
  end
end)
