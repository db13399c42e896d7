# frozen_string_literal: true

require_relative 'support/process_helpers'

# rack.hijack (full hijack), server-sent events through an `each` body, and
# Rack 3 streaming bodies (call(stream)).
class HijackAndStreamingTest < Minitest::Test
  include E2E::Helpers

  HIJACK_RESPONSE = "HTTP/1.1 299 Hijacked\r\nX-Raw: yes\r\nContent-Length: 11\r\nConnection: close\r\n\r\nraw-payload"

  def server
    @server ||= start_server(E2E.app('hijack_stream'))
  end

  def test_full_hijack_client_gets_exactly_the_apps_bytes
    out = server.raw("GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n", timeout: 5)
    assert_equal HIJACK_RESPONSE, out
    # nothing else is written and the server keeps serving
    assert_equal 'ok', server.http('/').body
  end

  def test_full_hijack_on_keep_alive_connection_after_a_normal_request
    sock = server.socket
    sock.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    first = read_until(sock, /\r\n\r\nok\z/)
    assert_equal 200, parse_response(first)[0], first
    sock.write("GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n")
    assert_equal HIJACK_RESPONSE, server.read_all(sock, timeout: 5)
  ensure
    sock&.close
  end

  def test_bytes_pipelined_after_hijacked_request_are_handed_over
    extra = "EXTRA-BYTES\r\nGET /not-a-request HTTP/1.1\r\n"
    out = server.raw("GET /hijack_buffered HTTP/1.1\r\nHost: x\r\n\r\n#{extra}", timeout: 5)
    status, _headers, body = parse_response(out)
    assert_equal 200, status, out
    assert_equal "buffered=#{extra.inspect} same_io=true", body
  end

  def test_no_buffered_key_when_nothing_was_pipelined
    out = server.raw("GET /hijack_buffered HTTP/1.1\r\nHost: x\r\n\r\n", timeout: 5)
    assert_equal 'buffered="" same_io=true', parse_response(out)[2]
  end

  def test_hijacked_socket_is_a_two_way_channel
    sock = server.socket
    sock.write("GET /hijack_echo HTTP/1.1\r\nHost: x\r\n\r\nfirst line\n")
    text = read_until(sock, /FIRST LINE\n/)
    assert_equal "HTTP/1.1 101 Switching Protocols\r\nUpgrade: e2e-echo\r\nConnection: Upgrade\r\n\r\nFIRST LINE\n", text
    sock.write("second\n")
    assert_equal "SECOND\n", read_until(sock, /SECOND\n/)
    sock.write("bye\n")
    assert_equal "BYE\n", server.read_all(sock, timeout: 5)
  ensure
    sock&.close
  end

  def test_sse_events_arrive_as_they_are_produced
    sock = server.socket
    sock.write("GET /sse HTTP/1.1\r\nHost: x\r\n\r\n")
    last_read_at = nil
    text = read_until(sock, /\r\n0\r\n\r\n\z/, timeout: 10) { |_chunk, at| last_read_at = at }
    sock.close
    status, headers, body = parse_response(text)
    assert_equal 200, status, text
    assert_equal 'text/event-stream', headers['content-type']
    assert_equal 'chunked', headers['transfer-encoding']
    expected = (0..4).map { |i| "id: #{i}\ndata: event-#{i}\n\n" }
    assert_equal expected.join, dechunk(body)
    # Each event is its own chunk: nothing was coalesced in a buffer.
    assert_equal expected.map { |e| "#{e.bytesize.to_s(16)}\r\n#{e}\r\n" }.join + "0\r\n\r\n", body
    assert_operator last_read_at, :>=, 0.7, 'the body ended before the app finished sleeping'
  end

  def test_sse_first_event_well_before_last
    times = arrival_times('/sse', (0..4).map { |i| "data: event-#{i}\n" })
    assert_operator times[0], :<, 0.4, "first event came late: #{times.inspect}"
    assert_operator times[4] - times[0], :>=, 0.7, "events were held back: #{times.inspect}"
    assert_equal times, times.sort
  end

  def test_client_disconnect_stops_the_stream_and_closes_the_body
    path = File.join(server.dir, 'endless.txt')
    sock = server.socket
    sock.write("GET /endless?path=#{path} HTTP/1.1\r\nHost: x\r\n\r\n")
    assert_includes read_until(sock, /tick-1\n/), 'data: tick-0'
    sock.close
    text = eventually(timeout: 4, message: 'body not closed 4 s after the client left') do
      # The app writes the file after creating it: an empty read is "not yet".
      File.exist?(path) && !(written = File.read(path)).empty? && written
    end
    sent = Integer(text[/\Aclosed after (\d+)\z/, 1] || flunk(text))
    assert_operator sent, :<, 40, 'the app kept streaming long after the client left'
    assert_equal 'ok', server.http('/').body
  end

  def test_rack3_streaming_body_writes_chunks_as_they_come
    times = arrival_times('/stream', ['alpha,', 'beta,', 'gamma', ',delta'])
    assert_operator times[0], :<, 0.4, times.inspect
    assert_operator times[2] - times[1], :>=, 0.4, "stream writes were buffered: #{times.inspect}"
    out = server.raw("GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status, headers, body = parse_response(out)
    assert_equal 200, status, out
    assert_equal 'chunked', headers['transfer-encoding']
    assert_equal 'alpha,beta,gamma,delta', dechunk(body)
    assert_equal 'ok', server.http('/').body
  end

  def test_rack3_streaming_body_over_http_1_0_is_close_delimited
    out = server.raw("GET /stream HTTP/1.0\r\n\r\n", timeout: 5)
    status, headers, body = parse_response(out)
    assert_equal 200, status, out
    assert_nil headers['transfer-encoding']
    assert_equal 'alpha,beta,gamma,delta', body
  end

  private

  # Seconds after sending the request at which each marker first appeared.
  def arrival_times(path, markers)
    sock = server.socket
    sock.write("GET #{path} HTTP/1.1\r\nHost: x\r\n\r\n")
    times = {}
    seen = +''
    read_until(sock, /\r\n0\r\n\r\n\z/, timeout: 10) do |chunk, at|
      seen << chunk
      markers.each_with_index { |m, i| times[i] ||= at if seen.include?(m) }
    end
    assert_equal markers.size, times.size, "not all markers arrived: #{seen.inspect}"
    markers.each_index.map { |i| times[i] }
  ensure
    sock&.close
  end
end
