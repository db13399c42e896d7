# frozen_string_literal: true

require_relative 'support/process_helpers'
require_relative 'support/raw_h2'
require 'open3'
require 'json'

# HTTP/2 cases a real client does not send on its own: RFC 9113's malformed
# requests and frames on closed streams (python3-h2 with its checks off,
# support/h2_cases.py), stream-id exhaustion, a client that opens no window,
# a request body that stalls, and the window of a streamed (gRPC) body.
# Each gets the right code, a log line, and the worker keeps serving.
class Http2RfcTest < Minitest::Test
  include E2E::Helpers

  APP = E2E.app('h2')
  CASES = File.expand_path('support/h2_cases.py', __dir__)
  PROTOCOL_ERROR = 1
  STREAM_CLOSED = 5
  CANCEL = 8

  def server
    @server ||= start_server(APP)
  end

  def h2_case(name, port = server.port)
    # Debian's python3 (python3-h2 lives there), not whatever python3 is first in PATH.
    out, err, status = Open3.capture3('/usr/bin/python3', CASES, port.to_s, name)
    assert status.success?, "h2_cases.py #{name} failed:\n#{err}"
    JSON.parse(out)
  end

  def still_serving(srv = server)
    out, err, status = Open3.capture3('curl', '-sS', '--max-time', '10', '--http2-prior-knowledge',
                                      "http://127.0.0.1:#{srv.port}/still-here")
    assert status.success?, err
    assert_equal 'h2 GET /still-here', out
  end

  def expect_frame(client, type, timeout: 5)
    frames = client.read_until(timeout: timeout) { |f| f.type == type }
    found = frames.find { |f| f.type == type }
    assert found, "no #{type} frame: #{frames.map(&:type)}"
    [found, frames]
  end

  def test_malformed_requests_are_reset_with_protocol_error
    results = h2_case('malformed')
    %w[pseudo_after_regular connection_header te_not_trailers missing_path unknown_pseudo uppercase_name
       content_length_short content_length_long].each do |name|
      assert_equal({ 'reset' => PROTOCOL_ERROR }, results[name], name)
    end
    still_serving
  end

  def test_data_on_a_closed_stream_is_a_stream_closed_error
    result = h2_case('closed_stream')
    assert_equal STREAM_CLOSED, result['goaway'] || result['reset'], result.inspect
    assert wait_for_log(server, /HTTP\/2 connection ended with GOAWAY to 127\.0\.0\.1: STREAM_CLOSED/)
    still_serving
  end

  # Stream ids only grow (RFC 9113 section 5.1.1). The last usable one is
  # served and followed by GOAWAY(NO_ERROR) naming it, so the client opens a
  # new connection; a lower id after it never reaches the app (nghttp2
  # ignores HEADERS on a closed stream), and the connection closes. An even
  # id from a client is a PROTOCOL_ERROR. Other clients are not affected.
  def test_stream_id_exhaustion_and_bad_ids
    client = RawH2.new(server.port)
    last = 0x7fffffff
    client.frame(:headers, 0x5, last, RawH2.request_block('/last-id'))
    frames = client.read_until { |f| f.type == :data && f.flags.anybits?(1) }
    assert_equal 'h2 GET /last-id', frames.select { |f| f.type == :data && f.stream == last }.map(&:payload).join
    goaway = frames.find { |f| f.type == :goaway }
    assert goaway, "no GOAWAY after the last stream id: #{frames.map(&:type)}"
    assert_equal [last, 0], [goaway.payload.unpack1('N') & 0x7fffffff, goaway.payload.unpack1('@4N')]
    client.frame(:headers, 0x5, 3, RawH2.request_block('/after-last'))
    client.read_until(timeout: 2) { false }
    refute_match %r{/after-last}, server.log
    client.close

    client = RawH2.new(server.port)
    client.frame(:headers, 0x5, 2, RawH2.request_block('/even'))
    goaway, = expect_frame(client, :goaway)
    assert_equal PROTOCOL_ERROR, goaway.payload.unpack1('@4N')
    still_serving
  ensure
    client&.close
  end

  # A client that never opens its window: an Array body is handed over at
  # once (the Ruby thread is free for the next request); a streamed body
  # stops at the backpressure mark; either stream is reset after
  # --write-timeout and body.close runs. Memory stays bounded meanwhile.
  def test_a_zero_window_reader_holds_no_thread_and_is_reset
    dir = Dir.mktmpdir('h2-zero-window')
    record = File.join(dir, 'closed')
    srv = start_server(APP, threads: 1, args: ['--write-timeout', '2s'])
    client = RawH2.new(srv.port)
    client.frame(:settings, 0, 0, [4, 0].pack('nN')) # SETTINGS_INITIAL_WINDOW_SIZE 0
    client.frame(:headers, 0x5, 1, RawH2.request_block('/big?n=4000000'))
    _, frames = expect_frame(client, :headers)
    assert_empty frames.select { |f| f.type == :data }, 'no window, no DATA'
    started = Time.now
    still_serving(srv)
    assert_operator Time.now - started, :<, 1.5, 'the one Ruby thread was held by the stalled stream'

    client.frame(:headers, 0x5, 3, RawH2.request_block("/big_stream?count=1000&record=#{record}"))
    resets = []
    client.read_until(timeout: 10 * E2E::SLOW) do |f|
      resets << f.stream if f.type == :rst_stream && f.payload.unpack1('N') == CANCEL
      resets.include?(1) && resets.include?(3)
    end
    assert_equal [1, 3], resets.sort, 'both stalled streams reset with CANCEL'
    assert wait_for_log(srv, /HTTP\/2 stream 3 from 127\.0\.0\.1 reset: the client opened no window for 2000 ms/)
    deadline = Time.now + 5
    sleep 0.05 until File.exist?(record) || Time.now > deadline
    assert File.exist?(record), 'body.close did not run'
    sent = File.read(record)[/\d+/].to_i
    assert_operator sent, :<=, 16, "the producer ran ahead of the window: #{sent} pieces of 64 KiB"
    still_serving(srv)
  ensure
    client&.close
    FileUtils.rm_rf(dir) if dir
  end

  def test_a_stalled_request_body_gets_408
    srv = start_server(APP, args: ['--body-timeout', '1s'])
    client = RawH2.new(srv.port)
    client.frame(:headers, 0x4, 1, RawH2.request_block('/upload', [%w[content-length 100]], post: true))
    client.frame(:data, 0, 1, 'x' * 10)
    headers, = expect_frame(client, :headers, timeout: 10 * E2E::SLOW)
    assert_includes headers.payload.b, '408'.b
    assert wait_for_log(srv, /rejected HTTP\/2 request .*stream 1.*request body stalled -> 408/)
    still_serving(srv)
  ensure
    client&.close
  end

  # A content-length over --max-body-bytes is answered with 413 before any
  # DATA is sent; a body that grows past it without one is cut off too.
  def test_an_oversized_body_is_refused_before_it_is_sent
    srv = start_server(APP, args: ['--max-body-bytes', '1000'])
    client = RawH2.new(srv.port)
    client.frame(:headers, 0x4, 1, RawH2.request_block('/upload', [%w[content-length 5000]], post: true))
    headers, = expect_frame(client, :headers)
    assert_includes headers.payload.b, '413'.b
    assert wait_for_log(srv, /rejected HTTP\/2 request .*stream 1.*declared request body over the limit -> 413/)
    client.close

    client = RawH2.new(srv.port)
    client.frame(:headers, 0x4, 1, RawH2.request_block('/upload', post: true))
    client.frame(:data, 0, 1, 'x' * 800)
    client.frame(:data, 0, 1, 'x' * 800)
    headers, = expect_frame(client, :headers)
    assert_includes headers.payload.b, '413'.b
    assert wait_for_log(srv, /rejected HTTP\/2 request .*stream 1.*request body over the limit -> 413/)
    still_serving(srv)
  ensure
    client&.close
  end

  # A gRPC body reaches the app as it arrives, and the client may send only
  # what the server's window allows until the app reads: 1 MiB (the initial
  # window) while the app sleeps, the rest once it reads.
  def test_a_streamed_grpc_body_is_paced_by_the_app
    result = h2_case('window')
    assert_equal 3 * 1024 * 1024, result['sent']
    assert_equal '3145728 Hyperion::StreamedInput', result['body']
    assert_equal 1_048_576, result['sent_at_update'], 'the window reopened before the app read'
    assert_operator result['update_after'], :>=, 1.4
  end
end
