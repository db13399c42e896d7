# frozen_string_literal: true

# Used by http2_test.rb: the shapes a Rack app answers with, to be carried
# over HTTP/2 exactly as over HTTP/1.1.
require 'json'
require 'digest'

Hyperion::Server.handle_static(:GET, '/prebuilt', "prebuilt over any protocol\n", content_type: 'text/plain',
                                                                                   headers: { 'X-Route' => 'static' })

# Yields events with a pause between them; on close, records how many went.
class H2Events
  def initialize(count, pause, path)
    @count = count
    @pause = pause
    @path = path
    @sent = 0
  end

  def each
    @count.times do |i|
      yield "data: #{i} #{Process.clock_gettime(Process::CLOCK_MONOTONIC)}\n\n"
      @sent += 1
      sleep @pause
    end
  end

  def close
    File.write(@path, "closed after #{@sent}") if @path
  end
end

# 64 KiB pieces as fast as the client takes them; on close, records how many went.
class H2Pieces
  def initialize(count, path)
    @count = count
    @path = path
    @sent = 0
  end

  def each
    piece = 'y' * 65_536
    @count.times do
      yield piece
      @sent += 1
    end
  end

  def close
    File.write(@path, "closed after #{@sent}") if @path
  end
end

# A body with trailer fields, decided while it is iterated.
class H2TrailedBody
  def each
    @digest = Digest::SHA256.new
    %w[alpha beta gamma].each do |piece|
      @digest << piece
      yield piece
    end
  end

  def trailers = { 'x-checksum' => @digest.hexdigest, 'X-Pieces' => '3' }
end

run(lambda do |env|
  params = env['QUERY_STRING'].split('&').to_h { |kv| kv.split('=', 2) }
  case env['PATH_INFO']
  when '/env'
    report = env.select { |_, v| v.is_a?(String) }
    report['rack.hijack?'] = env['rack.hijack?']
    report['has_hijack'] = env.key?('rack.hijack')
    [200, { 'content-type' => 'application/json' }, [JSON.generate(report)]]
  when '/trailers'
    [200, { 'content-type' => 'text/plain' }, H2TrailedBody.new]
  when '/request_trailers'
    body = env['rack.input'].read
    [200, { 'content-type' => 'application/json' },
     [JSON.generate('body' => body, 'trailers' => env['hyperion.request_trailers'])]]
  when '/upload'
    body = env['rack.input'].read
    [200, { 'content-type' => 'text/plain' }, ["#{body.bytesize} #{Digest::SHA256.hexdigest(body)}"]]
  when '/file'
    # A to_path body: the loop reads the file in pieces as the window allows.
    path = params.fetch('path')
    [200, { 'content-type' => 'application/octet-stream', 'content-length' => File.size(path).to_s },
     File.open(path, 'rb')]
  when '/events'
    [200, { 'content-type' => 'text/event-stream', 'cache-control' => 'no-cache' },
     H2Events.new(params.fetch('count', '5').to_i, params.fetch('pause', '0.2').to_f, params['record'])]
  when '/stream'
    [200, { 'content-type' => 'text/plain' }, lambda { |stream|
      stream.write('one,')
      stream.write('two,')
      stream.write('three')
      stream.close
    }]
  when '/http1_headers'
    # Headers an HTTP/1 app may set that HTTP/2 forbids or spells otherwise.
    [200, { 'Content-Type' => 'text/plain', 'Connection' => 'keep-alive', 'Transfer-Encoding' => 'identity',
            'X-Mixed-Case' => 'yes', 'Set-Cookie' => "a=1\nb=2" }, ['headers']]
  when '/status'
    code = params.fetch('code').to_i
    [code, { 'content-type' => 'text/plain' }, code == 304 || code == 204 ? [] : ["status #{code}"]]
  when '/count'
    # Reads the body after a pause (a streamed gRPC body waits in the
    # server's window meanwhile), in pieces, and says what it got.
    sleep params.fetch('s', '0').to_f
    input = env['rack.input']
    total = 0
    while (piece = input.read(100_000))
      total += piece.bytesize
    end
    [200, { 'content-type' => 'text/plain' }, ["#{total} #{input.class}"]]
  when '/big'
    [200, { 'content-type' => 'application/octet-stream' }, ['x' * params.fetch('n').to_i]]
  when '/big_stream'
    [200, { 'content-type' => 'application/octet-stream' },
     H2Pieces.new(params.fetch('count').to_i, params['record'])]
  when '/slow'
    sleep params.fetch('s', '1').to_f
    [200, { 'content-type' => 'text/plain' }, ['slow done']]
  else
    [200, { 'content-type' => 'text/plain' }, ["h2 #{env['REQUEST_METHOD']} #{env['PATH_INFO']}"]]
  end
end)
