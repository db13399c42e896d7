# frozen_string_literal: true

require_relative 'support/process_helpers'
require_relative 'support/raw_h2'
require 'open3'
require 'digest'
require 'json'

# HTTP/2 against the real binary: curl (--http2-prior-knowledge, and ALPN
# over TLS), nghttp, h2load, and hand-made frames for what clients never
# send. Runs on both loops (e2e.* and e2e_epoll.*).
class Http2Test < Minitest::Test
  include E2E::Helpers

  APP = E2E.app('h2')

  def server
    @server ||= start_server(APP)
  end

  def curl(*args, stdin: nil)
    Open3.capture3('curl', '-sS', '--max-time', (30 * E2E::SLOW).to_s, *args, stdin_data: stdin, binmode: true)
  end

  def h2c(path, *args)
    out, err, status = curl('--http2-prior-knowledge', '-i', *args, "http://127.0.0.1:#{server.port}#{path}")
    assert status.success?, "curl failed: #{err}"
    head, body = out.split("\r\n\r\n", 2)
    lines = head.split("\r\n")
    [lines.shift, lines.to_h { |l| l.split(': ', 2) }, body]
  end

  # Reads until a frame of `type` arrives; fails if none does.
  def expect_frame(client, type)
    frames = client.read_until { |f| f.type == type }
    found = frames.find { |f| f.type == type }
    assert found, "no #{type} frame: #{frames.map(&:type)}"
    found
  end

  def test_get_and_post_by_prior_knowledge_reach_the_app_as_http2
    status_line, headers, body = h2c('/env?x=1')
    assert_equal 'HTTP/2 200', status_line.strip
    env = JSON.parse(body)
    assert_equal 'HTTP/2', env['SERVER_PROTOCOL']
    assert_equal 'GET', env['REQUEST_METHOD']
    assert_equal '/env', env['PATH_INFO']
    assert_equal 'x=1', env['QUERY_STRING']
    assert_equal "127.0.0.1:#{server.port}", env['HTTP_HOST']
    assert_equal 'http', env['rack.url_scheme']
    assert_equal false, env['rack.hijack?'], 'hijack is impossible on a multiplexed connection'
    assert_equal false, env['has_hijack']
    assert_equal 'hyperion', headers['server']
    assert_equal body.bytesize.to_s, headers['content-length']

    _, _, body = h2c('/upload', '--data-binary', 'posted over h2')
    assert_equal "14 #{Digest::SHA256.hexdigest('posted over h2')}", body
    assert_match %r{"POST /upload HTTP/2" 200}, server.log
  end

  def test_http1_only_headers_are_dropped_and_names_lowercased
    status_line, headers, body = h2c('/http1_headers')
    assert_equal 'HTTP/2 200', status_line.strip
    assert_equal 'headers', body
    assert_equal 'yes', headers['x-mixed-case']
    refute headers.key?('connection')
    refute headers.key?('transfer-encoding')
    assert_equal 'text/plain', headers['content-type']
    out, = curl('--http2-prior-knowledge', '-s', '-D', '-', '-o', '/dev/null', "http://127.0.0.1:#{server.port}/http1_headers")
    assert_equal 2, out.scan(/^set-cookie: /).size, out
    refute_match(/^[^:]*[A-Z][^:]*: /, out.lines.drop(1).join, 'header names must be lowercase on h2')
  end

  def test_head_204_304_have_no_body_and_statuses_pass_through
    _, headers, body = h2c('/anything', '-I')
    assert_equal '', body.to_s
    assert headers['content-length']
    [[204, ''], [304, ''], [404, 'status 404'], [500, 'status 500']].each do |code, text|
      status_line, _, body = h2c("/status?code=#{code}")
      assert_equal "HTTP/2 #{code}", status_line.strip
      assert_equal text, body.to_s
    end
  end

  def test_streaming_bodies_and_sse_arrive_as_written
    _, _, body = h2c('/stream')
    assert_equal 'one,two,three', body
    # Events 0.4 s apart: the first is on the client long before the last.
    client = RawH2.new(server.port)
    client.frame(:headers, 0x5, 1, RawH2.request_block('/events?count=3&pause=0.4'))
    started = Time.now
    arrivals = []
    client.read_until(timeout: 10 * E2E::SLOW) do |f|
      arrivals << (Time.now - started) if f.type == :data && !f.payload.empty?
      f.type == :data && f.flags.anybits?(1)
    end
    assert_equal 3, arrivals.size
    assert_operator arrivals.first, :<, 0.3 * E2E::SLOW, "first event late: #{arrivals.inspect}"
    assert_operator arrivals.last - arrivals.first, :>=, 0.7
  ensure
    client&.close
  end

  def test_a_client_reset_stops_a_streaming_response_and_closes_the_body
    record = File.join(server.dir, 'events_closed')
    client = RawH2.new(server.port)
    client.frame(:headers, 0x5, 1, RawH2.request_block("/events?count=200&pause=0.02&record=#{record}"))
    client.read_until { |f| f.type == :data }
    client.frame(:rst_stream, 0, 1, [8].pack('N')) # CANCEL
    eventually { File.exist?(record) }
    sent = File.read(record)[/closed after (\d+)/, 1].to_i
    assert_operator sent, :<, 200, 'the app kept streaming to a stream the client cancelled'
    # The connection and the server go on.
    client.frame(:headers, 0x5, 3, RawH2.request_block('/after'))
    frames = client.read_until { |f| f.type == :data && f.stream == 3 }
    assert_equal 'h2 GET /after', frames.select { |f| f.type == :data && f.stream == 3 }.map(&:payload).join
  ensure
    client&.close
  end

  def test_large_upload_and_download_are_byte_exact
    data = Random.new(3).bytes(64 * 1024 * 1024 + 7)
    file = File.join(server.dir, 'big.bin')
    File.binwrite(file, data)
    _, _, body = h2c('/upload', '--data-binary', "@#{file}", '-H', 'content-type: application/octet-stream')
    assert_equal "#{data.bytesize} #{Digest::SHA256.hexdigest(data)}", body

    out, err, status = curl('--http2-prior-knowledge', "http://127.0.0.1:#{server.port}/file?path=#{file}")
    assert status.success?, err
    assert_equal data.bytesize, out.bytesize
    assert_equal Digest::SHA256.hexdigest(data), Digest::SHA256.hexdigest(out)
  end

  def test_prebuilt_routes_are_answered_natively_over_h2
    status_line, headers, body = h2c('/prebuilt')
    assert_equal 'HTTP/2 200', status_line.strip
    assert_equal "prebuilt over any protocol\n", body
    assert_equal 'static', headers['x-route']
    assert_equal body.bytesize.to_s, headers['content-length']
  end

  def test_h2load_many_streams_without_an_error
    out, err, status = Open3.capture3('h2load', '-n', '20000', '-c', '4', '-m', '50',
                                      "http://127.0.0.1:#{server.port}/prebuilt")
    assert status.success?, err
    assert_match(/20000 succeeded, 0 failed, 0 errored/, out)
    out, err, status = Open3.capture3('h2load', '-n', '4000', '-c', '4', '-m', '20', "http://127.0.0.1:#{server.port}/app")
    assert status.success?, err
    assert_match(/4000 succeeded, 0 failed, 0 errored/, out)
  end

  def test_nghttp_sees_settings_and_a_clean_exchange
    out, err, status = Open3.capture3('nghttp', '-v', "http://127.0.0.1:#{server.port}/hello")
    assert status.success?, err
    assert_match(/recv SETTINGS frame .*stream_id=0/, out)
    assert_match(/SETTINGS_MAX_CONCURRENT_STREAMS\(0x03\):128/, out)
    assert_match(/recv \(stream_id=\d+\) :status: 200/, out)
    assert_match(/h2 GET \/hello/, out)
  end

  def test_protocol_errors_get_the_right_codes_and_the_worker_keeps_serving
    # An uppercase header name is malformed (RFC 9113 section 8.2.1): that stream is reset.
    client = RawH2.new(server.port)
    client.frame(:headers, 0x5, 1, RawH2.request_block('/x', [%w[X-Upper 1]]))
    assert_equal 1, expect_frame(client, :rst_stream).payload.unpack1('N'), 'PROTOCOL_ERROR'
    client.close

    # DATA on stream 0 is a connection error: GOAWAY(PROTOCOL_ERROR).
    client = RawH2.new(server.port)
    client.frame(:data, 0, 0, 'nope')
    assert_equal 1, expect_frame(client, :goaway).payload.unpack1('@4N'), 'PROTOCOL_ERROR'
    client.close

    # A header list over --max-header-bytes (HEADERS + CONTINUATION): 431.
    # (Each field stays under nghttp2's 64 KiB limit for one field.)
    client = RawH2.new(server.port)
    block = RawH2.request_block('/big', Array.new(20) { |i| ["x-big-#{i}", 'v' * 4000] })
    pieces = block.b.scan(/.{1,16384}/mn)
    pieces.each_with_index do |piece, i|
      last = i == pieces.size - 1
      if i.zero?
        client.frame(:headers, 0x1 | (last ? 0x4 : 0), 1, piece)
      else
        client.frame(:continuation, last ? 0x4 : 0, 1, piece)
      end
    end
    frames = client.read_until { |f| %i[rst_stream goaway].include?(f.type) || (f.type == :data && f.flags.anybits?(1)) }
    headers = frames.find { |f| f.type == :headers }
    assert headers, "no response: #{frames.inspect}"
    assert_includes headers.payload.b, "431".b
    client.close
    assert wait_for_log(server, /rejected HTTP\/2 request .*header list over the limit -> 431/)

    _, _, body = h2c('/still-here')
    assert_equal 'h2 GET /still-here', body
  ensure
    client&.close
  end

  # CVE-2023-44487: streams opened and reset at once, by the thousand. nghttp2
  # ends the connection past its reset rate; the streams already reset cost
  # no Ruby time (a thread skips a request whose client is gone), so another
  # client is answered at once.
  def test_rapid_reset_is_cut_off_and_costs_other_clients_nothing
    server = start_server(APP, threads: 1)
    client = RawH2.new(server.port)
    burst = +''.b
    (1..3000).step(2) do |id|
      block = RawH2.request_block('/slow?s=0.2')
      burst << [0, block.bytesize, 1, 0x5, id].pack('CnCCN') << block
      burst << [0, 4, 3, 0, id].pack('CnCCN') << [8].pack('N') # RST_STREAM(CANCEL)
    end
    client.write(burst)
    goaway = expect_frame(client, :goaway)
    refute_equal 0, goaway.payload.unpack1('@4N'), 'a flood ends with an error code'
    assert wait_for_log(server, /HTTP\/2 connection ended with GOAWAY to 127\.0\.0\.1: \w+/)
    started = Time.now
    _, _, body = h2c('/after-the-flood')
    assert_equal 'h2 GET /after-the-flood', body
    assert_operator Time.now - started, :<, 2 * E2E::SLOW, 'the flood delayed another client'
  ensure
    client&.close
  end

  # Response trailers from body.trailers: HEADERS after the DATA on h2; on
  # HTTP/1.1 only for a client that sent TE: trailers.
  def test_response_trailers_on_h2_and_on_http1_when_asked_for
    out, err, status = Open3.capture3('nghttp', '-v', "http://127.0.0.1:#{server.port}/trailers")
    assert status.success?, err
    expected = Digest::SHA256.hexdigest('alphabetagamma')
    data_at = out.index('recv DATA frame')
    trailer_at = out.index("x-checksum: #{expected}")
    assert trailer_at, out
    assert_operator data_at, :<, trailer_at, 'trailers come after the body'
    assert_match(/x-pieces: 3/, out)
    assert_match(/recv HEADERS frame .*\n\s*; END_STREAM/, out[trailer_at - 400..])

    with_trailers = server.raw("GET /trailers HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n")
    assert_match(/\r\n0\r\nx-checksum: #{expected}\r\nX-Pieces: 3\r\n\r\n\z/, with_trailers)
    without = server.raw("GET /trailers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert without.end_with?("\r\n0\r\n\r\n"), without
    refute_match(/x-checksum/, without)
  end

  def test_request_trailers_reach_the_app
    client = RawH2.new(server.port)
    client.frame(:headers, 0x4, 1, RawH2.request_block('/request_trailers', post: true))
    client.frame(:data, 0, 1, 'the body')
    client.frame(:headers, 0x5, 1, RawH2.literal('x-request-checksum', 'abc123'))
    frames = client.read_until { |f| f.type == :data && f.flags.anybits?(1) }
    report = JSON.parse(frames.select { |f| f.type == :data }.map(&:payload).join)
    assert_equal 'the body', report['body']
    assert_equal({ 'x-request-checksum' => 'abc123' }, report['trailers'])
  ensure
    client&.close
  end

  # Floods of frames that are cheap to send and cost the server work or
  # memory, from a client that never reads: each connection is ended with a
  # log line, and another client is answered at once.
  def test_settings_ping_continuation_and_empty_data_floods_are_cut_off
    empty_data_stream = RawH2.frame_bytes(:headers, 0x4, 1, RawH2.request_block('/upload', post: true))
    floods = {
      'SETTINGS' => [RawH2.frame_bytes(:settings, 0, 0, [3, 100].pack('nN')) * 200_000, /Flooding was detected/],
      'PING' => [RawH2.frame_bytes(:ping, 0, 0, '12345678') * 200_000, /Flooding was detected/],
      'CONTINUATION' => [RawH2.frame_bytes(:headers, 0, 1, RawH2.request_block('/x')) +
                         (RawH2.frame_bytes(:continuation, 0, 1, RawH2.literal('x-c', 'v' * 10)) * 50_000),
                         /Too many CONTINUATION frames/],
      'empty DATA' => [empty_data_stream + (RawH2.frame_bytes(:data, 0, 1, '') * 20_000), /1001 empty DATA frames, closing/]
    }
    floods.each do |name, (bytes, logged)|
      client = RawH2.new(server.port)
      # Blocks until the server has read it all or closed the connection.
      Timeout.timeout(20 * E2E::SLOW) { client.write(bytes) }
      assert wait_for_log(server, logged), "#{name} flood not cut off:\n#{server.log}"
      started = Time.now
      _, _, body = h2c("/after-#{name.tr(' ', '-')}")
      assert_equal "h2 GET /after-#{name.tr(' ', '-')}", body
      assert_operator Time.now - started, :<, 2 * E2E::SLOW, "the #{name} flood delayed another client"
      client.close
    end
  end

  def test_the_h2_config_block_and_flags_set_what_the_server_advertises
    dir = Dir.mktmpdir('h2-config')
    config = File.join(dir, 'hyperion.rb')
    File.write(config, <<~RUBY)
      h2 do
        max_concurrent_streams 7
        initial_window_size 262_144
        max_frame_size 32_768
        max_header_list_size 16_384
        max_total_streams :unbounded
      end
    RUBY
    configured = start_server(APP, args: ['-C', config])
    out, err, status = Open3.capture3('nghttp', '-v', "http://127.0.0.1:#{configured.port}/")
    assert status.success?, err
    assert_match(/SETTINGS_MAX_CONCURRENT_STREAMS\(0x03\):7\]/, out)
    assert_match(/SETTINGS_INITIAL_WINDOW_SIZE\(0x04\):262144\]/, out)
    assert_match(/SETTINGS_MAX_FRAME_SIZE\(0x05\):32768\]/, out)
    assert_match(/SETTINGS_MAX_HEADER_LIST_SIZE\(0x06\):16384\]/, out)

    flagged = start_server(APP, args: %w[--h2-max-concurrent-streams 9 --h2-max-total-streams 100])
    out, = Open3.capture3('nghttp', '-v', "http://127.0.0.1:#{flagged.port}/")
    assert_match(/SETTINGS_MAX_CONCURRENT_STREAMS\(0x03\):9\]/, out)

    File.write(config, "h2 do\n  max_streams 3\nend\n")
    bad = start_server(APP, args: ['-C', config], wait: false)
    bad.wait(timeout: 20)
    assert_match(/#{Regexp.escape(config)}:2: unknown h2 key 'max_streams'/, bad.log)
  ensure
    FileUtils.rm_rf(dir) if dir
  end

  # `Upgrade: h2c` from HTTP/1.1 (curl --http2 on http://, nghttp -u): a 101,
  # then the request itself answered as stream 1, then more streams on the
  # same connection. A request body read before the 101 reaches the app.
  # With --no-h2c, or an unusable HTTP2-Settings, the request is simply
  # answered as HTTP/1.1.
  def test_upgrade_h2c_switches_a_live_connection
    out, err, status = curl('--http2', '-sv', "http://127.0.0.1:#{server.port}/up", "http://127.0.0.1:#{server.port}/again")
    assert status.success?, err
    assert_match(%r{< HTTP/1\.1 101 Switching Protocols}, err)
    assert_match(%r{< HTTP/2 200}, err)
    assert_equal 'h2 GET /uph2 GET /again', out
    assert_match(/Re-using existing connection|Reusing existing connection/, err)

    out, err, status = curl('--http2', '-s', '-d', 'posted body', "http://127.0.0.1:#{server.port}/upload")
    assert status.success?, err
    assert_equal "11 #{Digest::SHA256.hexdigest('posted body')}", out

    out, err, status = Open3.capture3('nghttp', '-u', '-v', "http://127.0.0.1:#{server.port}/nghttp-upgrade")
    assert status.success?, err
    assert_match(/HTTP Upgrade success/, out)
    assert_match(%r{h2 GET /nghttp-upgrade}, out)

    env = JSON.parse(curl('--http2', '-s', "http://127.0.0.1:#{server.port}/env").first)
    assert_equal 'HTTP/2', env['SERVER_PROTOCOL']
    refute env.key?('HTTP_UPGRADE'), 'the upgrade fields do not reach the app'
    refute env.key?('HTTP_HTTP2_SETTINGS')

    bad = server.raw("GET /bad-settings HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n" \
                     "Upgrade: h2c\r\nHTTP2-Settings: !!!\r\n\r\n", timeout: 1)
    assert_match(%r{\AHTTP/1\.1 200 OK}, bad)

    off = start_server(APP, args: ['--no-h2c'])
    out, err, status = curl('--http2', '-si', "http://127.0.0.1:#{off.port}/plain")
    assert status.success?, err
    assert_match(%r{\AHTTP/1\.1 200 OK}, out)
  end

  def test_no_h2c_treats_the_preface_as_a_bad_http1_request
    server = start_server(APP, args: ['--no-h2c'])
    out = server.raw("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    assert_match(%r{\AHTTP/1\.1 4\d\d }, out)
    assert_equal 'h2 GET /', server.http('/').body
  end

  def test_term_sends_goaway_and_an_in_flight_stream_finishes
    srv = start_server(APP)
    client = RawH2.new(srv.port)
    client.frame(:headers, 0x5, 1, RawH2.request_block("/slow?s=#{2 * E2E::SLOW}"))
    sleep 0.3 * E2E::SLOW
    Process.kill('TERM', srv.pid)
    frames = client.read_until(timeout: 15 * E2E::SLOW) { |f| f.type == :data && f.flags.anybits?(1) }
    goaway = frames.find { |f| f.type == :goaway }
    assert goaway, "no GOAWAY: #{frames.map(&:type)}"
    assert_equal 1, goaway.payload.unpack1('N') & 0x7fffffff, 'last stream id'
    assert_equal 0, goaway.payload.unpack1('@4N'), 'NO_ERROR'
    assert_equal 'slow done', frames.select { |f| f.type == :data && f.stream == 1 }.map(&:payload).join
    assert srv.wait(timeout: 15).success?
  ensure
    client&.close
  end

  def test_h2_over_tls_by_alpn_and_rails_over_h2
    cert = E2E::TLS.server_certificate
    tls = start_server(APP, bind: E2E::TLS.default_bind)
    out, err, status = curl('--http2', '--cacert', cert[:cert], '-i', "https://127.0.0.1:#{tls.port}/env")
    assert status.success?, err
    assert_match(%r{\AHTTP/2 200}, out)
    env = JSON.parse(out.split("\r\n\r\n", 2).last)
    assert_equal 'https', env['rack.url_scheme']
    assert_equal 'HTTP/2', env['SERVER_PROTOCOL']
    out, err, status = Open3.capture3('h2load', '-n', '2000', '-c', '2', '-m', '10', "https://127.0.0.1:#{tls.port}/")
    assert status.success?, err
    assert_match(/Application protocol: h2/, out)
    assert_match(/2000 succeeded, 0 failed, 0 errored/, out)

    rails = start_server(E2E.app('rails_app'), wait: false)
    rails.wait_until_ready(timeout: E2E::SLOW > 1 ? 180 : 60)
    out, err, status = curl('--http2-prior-knowledge', '-i', "http://127.0.0.1:#{rails.port}/greet/ada")
    assert status.success?, err
    assert_match(%r{\AHTTP/2 200}, out)
    assert out.end_with?('hello ada from rails 6.1.7.10'), out
  end
end
