# frozen_string_literal: true

require_relative 'support/harness'
require_relative 'support/raw_ws'
require_relative 'support/ws_helpers'

# The rack.upgrade WebSocket API end to end, with node's `ws` (Debian
# node-ws) as the strict client: handshake answers, echo, permessage-deflate
# parameters, subprotocols, ordering and encodings, pub/sub across workers,
# backpressure, errors in handlers, shutdown, and the same over wss://.
class WebSocketTest < Minitest::Test
  include E2E::Helpers
  include WSHelpers

  APP = E2E.app('websocket')

  # The app's on_close log, once it has `count` lines (handlers run on the
  # pool's threads, a moment after the socket closes).
  def closed_log(server, count)
    lines = []
    deadline = Time.now + 5 * E2E::SLOW
    until lines.size >= count || Time.now > deadline
      lines.concat(server.http('/closed').body.split("\n"))
      sleep 0.05
    end
    lines
  end

  def test_echo_with_the_strict_client
    server = start_server(APP)
    r = node('echo', ws_url(server, '/echo'))
    big = r['messages'][3]
    assert_equal({ 'binary' => false, 'data' => 'hello' }, r['messages'][0])
    assert_equal({ 'binary' => true, 'data' => [0, 1, 2, 255] }, r['messages'][1])
    assert_equal({ 'binary' => false, 'data' => '' }, r['messages'][2])
    assert_equal({ 'binary' => false, 'length' => 300_000, 'same' => true }, big)
    assert_equal 'fragmented 😀', r['messages'][4]['data']
    assert_equal({ 'pong' => 'are you there' }, r['messages'][5])
    assert_equal 1000, r['close']['code']
    assert_equal '', r['extensions']
    assert_match %r{"GET /echo HTTP/1.1" 101}, server.log
  end

  def test_plain_requests_and_the_env_flag
    server = start_server(APP)
    assert_equal 'plain /echo upgrade?=nil', server.http('/echo').body
  end

  def test_bad_handshakes_are_answered_by_the_server
    server = start_server(APP)
    base = "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    key = "Sec-WebSocket-Key: #{RawWS::KEY}\r\n"
    out = server.raw("#{base}#{key}Sec-WebSocket-Version: 8\r\n\r\n")
    assert_match(/\AHTTP\/1.1 426 /, out)
    assert_match(/^Sec-WebSocket-Version: 13\r$/, out)
    out = server.raw("#{base}Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert_match(/\AHTTP\/1.1 400 /, out)
    assert_match(/not base64 of 16 bytes/, out)
    out = server.raw("#{base}Sec-WebSocket-Version: 13\r\n\r\n")
    assert_match(/\AHTTP\/1.1 400 .*missing Sec-WebSocket-Key/m, out)
    out = server.raw("POST /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n#{key}" \
                     "Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n")
    assert_match(/\AHTTP\/1.1 400 .*must be a GET/m, out)
    assert_match(/rejected WebSocket handshake from 127.0.0.1: unsupported Sec-WebSocket-Version -> 426/, server.log)
    assert_equal 'plain / upgrade?=nil', server.http('/').body, 'the worker keeps serving'
  end

  def test_origin_allow_list
    server = start_server(APP, args: %w[--ws-origin https://good.example])
    _, status, = RawWS.connect(server, '/echo', headers: { 'Origin' => 'https://evil.example' })
    assert_equal 403, status
    _, status, = RawWS.connect(server, '/echo', headers: { 'Origin' => 'https://good.example' })
    assert_equal 101, status
  end

  def test_permessage_deflate_parameters_with_the_strict_client
    server = start_server(APP)
    [
      [true, {}],
      [{ serverNoContextTakeover: true, clientNoContextTakeover: true }, { 'server_no_context_takeover' => true, 'client_no_context_takeover' => true }],
      [{ serverMaxWindowBits: 10, clientMaxWindowBits: 11 }, { 'server_max_window_bits' => 10, 'client_max_window_bits' => 11 }]
    ].each do |offer, agreed|
      r = node('deflate', ws_url(server, '/echo'), deflate: offer)
      assert_equal [true, true, true, true], r['ok'], "offer #{offer}"
      assert_equal agreed, r['extensions'], "offer #{offer}"
    end
    server2 = start_server(APP, args: %w[--ws-deflate off])
    r = node('deflate', ws_url(server2, '/echo'), deflate: true)
    assert_nil r['extensions']
  end

  def test_subprotocol_is_chosen_by_the_app_and_never_invented
    server = start_server(APP)
    assert_equal 'chat.v2', node('protocol', ws_url(server, '/proto'), protocols: %w[chat.v1 chat.v2])['protocol']
    # The app names one the client did not offer: the server names none.
    conn, status, head = RawWS.connect(server, '/proto', headers: { 'Sec-WebSocket-Protocol' => 'other' })
    assert_equal 101, status
    assert_nil head['sec-websocket-protocol']
    conn.close
    assert_match(/rack.upgrade.protocol "invented" was not offered/, server.log)
  end

  def test_events_run_in_order_with_the_right_encodings
    server = start_server(APP, threads: 4)
    conn, = RawWS.connect(server, '/events')
    conn.write(RawWS.frame(1, 'héllo') + RawWS.frame(2, "\x00\xFF".b) + RawWS.frame(1, 'report'))
    assert_equal 'open:/events,message:UTF-8:6,message:ASCII-8BIT:2,message:UTF-8:6', conn.read_frame.text
    # A slow handler keeps its connection's messages in order; other
    # connections are served meanwhile.
    slow, = RawWS.connect(server, '/slow')
    slow.write(RawWS.frame(1, 'slow') + RawWS.frame(1, 'second') + RawWS.frame(1, 'third'))
    other, = RawWS.connect(server, '/echo')
    other.write(RawWS.frame(1, 'quick'))
    t0 = Time.now
    assert_equal 'quick', other.read_frame.text
    assert_operator Time.now - t0, :<, 0.15 * E2E::SLOW
    assert_equal ['done slow', 'done second', 'done third'], Array.new(3) { slow.read_frame.text }
  end

  def test_pubsub_fanout_across_two_workers
    server = start_server(APP, workers: 2, threads: 2)
    r = node('fanout', ws_url(server, '/chat?fan'), clients: 40, text: 'to everyone')
    pids = r['joined'].map { |j| j[/pid=(\d+)/, 1] }.uniq
    assert_equal 2, pids.size, "the 40 clients should land on both workers: #{r['joined'].tally}"
    assert_equal ['to everyone'] * 40, r['received']
  end

  def test_publish_from_a_plain_request_and_unsubscribe
    server = start_server(APP)
    a, = RawWS.connect(server, '/chat?news')
    b, = RawWS.connect(server, '/chat?news')
    assert_match(/joined news/, a.read_frame.text)
    assert_match(/joined news/, b.read_frame.text)
    b.write(RawWS.frame(1, 'unsub'))
    assert_equal 'left', b.read_frame.text
    a.write(RawWS.frame(1, 'pub:headline'))
    assert_equal 'headline', a.read_frame.text
    b.write(RawWS.frame(1, 'still here'))
    assert_equal 'still here', b.read_frame.text, 'b no longer gets news'
  end

  def test_backpressure_reports_false_then_drained_and_never_grows_past_the_cap
    server = start_server(APP, args: %w[--ws-backpressure-bytes 256k --ws-max-pending-bytes 64m])
    conn, = RawWS.connect(server, '/flood')
    conn.write(RawWS.frame(1, '200 16384')) # 3.2 MB while we read nothing
    sleep 0.5
    frames = Array.new(202) { conn.read_frame }
    report = frames[200].text
    assert_match(/\Awrote 200 false=\d+ pending=\d+\z/, report)
    assert_operator report[/false=(\d+)/, 1].to_i, :>, 0, 'write returns false past the soft cap'
    assert_equal 'drained', frames[201].text
    # Past the hard cap the connection is closed (1008), not buffered.
    hard = start_server(APP, args: %w[--ws-backpressure-bytes 64k --ws-max-pending-bytes 1m])
    conn, = RawWS.connect(hard, '/flood')
    conn.write(RawWS.frame(1, '400 65536')) # 26 MB
    sleep 1
    assert conn.frames_until_eof(timeout: 10).size < 400
    assert_match(/closing 1008: \d+ bytes unread by the client/, hard.log)
  end

  def test_an_error_in_a_handler_closes_1011_and_is_logged
    server = start_server(APP)
    conn, = RawWS.connect(server, '/raise')
    conn.write(RawWS.frame(1, 'boom'))
    close = conn.read_frame
    assert_equal [8, 1011], [close.opcode, close.close_code]
    assert_match(/websocket \/raise on_message raised: RuntimeError: handler failed on purpose/, server.log)
  end

  def test_on_close_runs_once_for_each_way_a_connection_ends
    server = start_server(APP)
    a, = RawWS.connect(server, '/tracked')
    a.write(RawWS.frame(8, RawWS.close_payload(1000)))
    a.frames_until_eof
    b, = RawWS.connect(server, '/tracked')
    b.close # no close frame at all
    c, = RawWS.connect(server, '/tracked')
    c.write(RawWS.frame(1, "\xFF".b)) # a protocol error
    c.frames_until_eof
    c.close
    assert_equal ['closed open?=false'] * 3, closed_log(server, 3)
  end

  def test_shutdown_tells_the_handler_then_closes_1001
    server = start_server(APP)
    conn, = RawWS.connect(server, '/shutdown')
    assert_equal 'ready', conn.read_frame.text
    Process.kill('TERM', server.pid)
    assert_equal 'bye', conn.read_frame.text
    close = conn.read_frame
    assert_equal [8, 1001], [close.opcode, close.close_code]
    conn.write(RawWS.frame(8, RawWS.close_payload(1001)))
    status = server.wait(timeout: 10)
    assert status.success?, server.log
  end

  def test_idle_timeout_and_ping_interval
    server = start_server(APP, args: %w[--ws-ping-interval 300ms --ws-idle-timeout 2s])
    conn, = RawWS.connect(server, '/echo')
    ping = conn.read_frame(timeout: 3)
    assert_equal 9, ping.opcode, 'a quiet client is pinged'
    conn.write(RawWS.frame(10, ping.payload))
    # Then silence: closed 1001 after the idle timeout.
    close = nil
    close = conn.read_frame(timeout: 5) until close&.opcode == 8
    assert_equal 1001, close.close_code
  end

  def test_hyperion_websocket_connection_on_a_hijacked_socket
    server = start_server(APP)
    conn, status, head = RawWS.connect(server, '/connection', headers: { 'Sec-WebSocket-Protocol' => 'x, echo' })
    assert_equal [101, 'echo'], [status, head['sec-websocket-protocol']]
    assert_equal 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', head['sec-websocket-accept']
    conn.write(RawWS.frame(1, 'héllo', fin: false) + RawWS.frame(9, 'auto') + RawWS.frame(0, ' wörld'))
    pong = conn.read_frame
    assert_equal [10, 'auto'], [pong.opcode, pong.payload]
    assert_equal 'héllo wörld', conn.read_frame.text
    conn.write(RawWS.frame(2, "\x00\x01".b))
    bin = conn.read_frame
    assert_equal [2, "\x00\x01".b], [bin.opcode, bin.payload]
    conn.write(RawWS.frame(1, 'ping me'))
    assert_equal 9, conn.read_frame.opcode
    assert_equal 'pinged yes', conn.read_frame.text
    conn.write(RawWS.frame(8, RawWS.close_payload(4000, 'bye')))
    assert_equal [[8, 4000]], conn.frames_until_eof.map { |f| [f.opcode, f.close_code] }
    # A protocol violation gets its close code from the same C++ codec.
    bad, = RawWS.connect(server, '/connection')
    bad.write(RawWS.frame(1, "\xFF".b))
    frames = bad.frames_until_eof
    assert_equal [[8, 1007]], frames.map { |f| [f.opcode, f.close_code] }, "frames: #{frames.inspect}\n#{server.log}"
    # Two request threads: the first may log after the second.
    assert_equal ['connection closed 1007 text message is not valid UTF-8', 'connection closed 4000 bye'],
                 closed_log(server, 2).sort
  end

  def test_wss_through_the_tls_transport
    server = start_server(APP, bind: E2E::TLS.default_bind)
    r = node('echo', ws_url(server, '/echo'))
    assert_equal 'hello', r['messages'][0]['data']
    assert_equal({ 'binary' => false, 'length' => 300_000, 'same' => true }, r['messages'][3])
    r = node('deflate', ws_url(server, '/echo'), deflate: true)
    assert_equal [true] * 4, r['ok']
  end
end
