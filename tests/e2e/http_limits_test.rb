# frozen_string_literal: true

require_relative 'support/harness'

# Malformed requests, limits and timeouts, sent over raw sockets. Each one
# must get the right status, be logged, never reach the app (the app under
# tests/e2e/apps/limits appends every request but the /alive probe to
# HIT_LOG), and leave the worker serving new connections.
class HttpLimitsTest < Minitest::Test
  include E2E::Helpers

  def start_limits_server(*args)
    @hit_dir = Dir.mktmpdir('hyperion-hits')
    @hit_log = File.join(@hit_dir, 'hits.log')
    server = start_server(E2E.app('limits'), args: args, workers: 1, env: { 'HIT_LOG' => @hit_log })
    @worker_pids = server.worker_pids
    assert_equal 1, @worker_pids.size, "expected one worker: #{@worker_pids.inspect}"
    server
  end

  def teardown
    super
  ensure
    FileUtils.rm_rf(@hit_dir) if @hit_dir
  end

  def hits = File.exist?(@hit_log) ? File.read(@hit_log) : ''

  def request(path = '/', method: 'GET', headers: {}, body: nil, host: true)
    lines = ["#{method} #{path} HTTP/1.1"]
    lines << 'Host: test' if host
    headers.each { |k, v| lines << "#{k}: #{v}" }
    "#{lines.join("\r\n")}\r\n\r\n#{body}"
  end

  # Sends bytes on a fresh connection and reads until the server closes.
  # Returns [raw, seconds].
  def exchange(server, bytes, timeout: 5)
    sock = server.socket
    sock.write(bytes)
    raw, seconds, eof = read_until_eof(sock, timeout: timeout)
    assert eof, "server kept the connection open #{seconds.round(2)}s after: #{raw.inspect}"
    [raw, seconds]
  ensure
    sock&.close
  end

  REASONS = { 400 => 'Bad Request', 408 => 'Request Timeout', 413 => 'Content Too Large', 414 => 'URI Too Long',
              417 => 'Expectation Failed', 431 => 'Request Header Fields Too Large', 501 => 'Not Implemented' }.freeze

  # The complete answer the server itself gives for a rejected request.
  def assert_rejection(raw, status)
    reason = REASONS.fetch(status)
    code, headers, body = parse_response(raw)
    assert_equal status, code, "wanted #{status}, got: #{raw.inspect}"
    assert raw.start_with?("HTTP/1.1 #{status} #{reason}\r\n"), raw.inspect
    assert_equal 'close', headers['connection'], raw.inspect
    assert_equal "#{reason}\n", body
    assert_equal body.bytesize.to_s, headers['content-length']
  end

  # The rejection is logged, nothing reached the app, and the same worker
  # still answers a new connection.
  def assert_still_serving(server, status, hint)
    line = wait_for_log(server, /^.*127\.0\.0\.1: .*#{hint}.* -> #{status}$/i)
    assert line, "no log line matching #{hint.inspect} -> #{status}:\n#{server.log}"
    response = server.http('/alive')
    assert_equal '200', response.code
    assert_equal 'alive', response.body
    refute server.exited?, "server exited:\n#{server.log}"
    assert_equal @worker_pids, server.worker_pids, "worker was replaced:\n#{server.log}"
    assert_equal '', hits, 'a rejected request reached the app'
  end

  # --- size limits -------------------------------------------------------

  def test_header_block_too_large_is_431
    server = start_limits_server('--max-header-bytes', '1k')
    # Just under the limit is fine (and reaches the app).
    raw, = exchange(server, request('/alive', headers: { 'X-Pad' => 'p' * 700, 'Connection' => 'close' }))
    assert_equal 200, parse_response(raw)[0], raw

    raw, = exchange(server, request('/', headers: { 'X-Big' => 'a' * 2000 }))
    assert_rejection(raw, 431)
    # Many small headers add up as well.
    raw, = exchange(server, request('/', headers: (1..40).to_h { |i| ["X-H#{i}", 'v' * 30] }))
    assert_rejection(raw, 431)
    assert_still_serving(server, 431, 'header')
  end

  def test_uri_too_long_is_414
    server = start_limits_server('--max-uri-bytes', '256')
    raw, = exchange(server, request("/alive?#{'q' * 200}", headers: { 'Connection' => 'close' }))
    assert_equal 200, parse_response(raw)[0], raw

    raw, = exchange(server, request("/#{'u' * 300}"))
    assert_rejection(raw, 414)
    assert_still_serving(server, 414, '(target|uri)')
  end

  def test_content_length_over_limit_is_413_before_the_body_is_sent
    server = start_limits_server('--max-body-bytes', '1k')
    # Exactly at the limit is accepted.
    raw, = exchange(server, request('/alive', method: 'POST', headers: { 'Content-Length' => '1024',
                                                                          'Connection' => 'close' },
                                              body: 'x' * 1024))
    assert_equal 200, parse_response(raw)[0], raw

    # Only the headers go out: the answer must not wait for a body.
    raw, seconds = exchange(server, request('/', method: 'POST', headers: { 'Content-Length' => '5000' }), timeout: 3)
    assert_rejection(raw, 413)
    assert_operator seconds, :<, E2E::SANITIZED ? 2.0 : 1.0, 'the 413 should be decided from the headers alone'
    assert_still_serving(server, 413, 'Content-Length')
  end

  # Most clients (Net::HTTP, curl below 1 MiB) send the whole body before
  # reading. The 413 must still reach them: closing a socket with unread
  # input makes the kernel send RST, which destroys the answer in flight
  # (RFC 9112 section 9.6: close the write side, then drain for a while).
  def test_413_reaches_a_client_that_sends_the_body_anyway
    server = start_limits_server('--max-body-bytes', '1k')
    outcomes = 3.times.map do
      response = server.http('/', method: :post, body: 'x' * (4 * 1024 * 1024))
      "#{response.code} #{response.body.inspect}"
    rescue SystemCallError, IOError, Net::ReadTimeout => e
      "#{e.class}: #{e.message}"
    end
    assert_equal ['413 "Content Too Large\n"'] * 3, outcomes
    assert_still_serving(server, 413, 'Content-Length')
  end

  def test_chunked_body_over_limit_is_413
    server = start_limits_server('--max-body-bytes', '1k')
    chunk = "200\r\n#{'c' * 512}\r\n"
    raw, = exchange(server, request('/', method: 'POST', headers: { 'Transfer-Encoding' => 'chunked' },
                                         body: (chunk * 4) + "0\r\n\r\n"))
    assert_rejection(raw, 413)
    assert_still_serving(server, 413, 'body')
  end

  # --- malformed requests -------------------------------------------------

  def test_garbage_request_line_is_400
    server = start_limits_server
    raw, = exchange(server, "THIS IS NOT HTTP\r\n\r\n")
    assert_rejection(raw, 400)
    raw, = exchange(server, "\x00\x01\x02\xff garbage\r\n\r\n".b)
    assert_rejection(raw, 400)
    raw, = exchange(server, "GET / HTTP/9.9\r\nHost: test\r\n\r\n")
    assert_rejection(raw, 400)
    assert_still_serving(server, 400, '')
  end

  def test_content_length_with_transfer_encoding_is_400
    server = start_limits_server
    raw, = exchange(server, request('/', method: 'POST',
                                         headers: { 'Content-Length' => '5', 'Transfer-Encoding' => 'chunked' },
                                         body: "5\r\nhello\r\n0\r\n\r\n"))
    assert_rejection(raw, 400)
    # Header order must not matter.
    raw, = exchange(server, request('/', method: 'POST',
                                         headers: { 'Transfer-Encoding' => 'chunked', 'Content-Length' => '5' },
                                         body: "5\r\nhello\r\n0\r\n\r\n"))
    assert_rejection(raw, 400)
    assert_still_serving(server, 400, 'Transfer-Encoding')
  end

  def test_two_differing_content_lengths_is_400
    server = start_limits_server
    raw, = exchange(server, request('/', method: 'POST', headers: [%w[Content-Length 5], %w[Content-Length 6]],
                                         body: 'hello!'))
    assert_rejection(raw, 400)
    assert_still_serving(server, 400, 'Content-Length')
  end

  def test_unsupported_transfer_encoding_is_501
    server = start_limits_server
    raw, = exchange(server, request('/', method: 'POST', headers: { 'Transfer-Encoding' => 'gzip' }, body: 'abc'))
    assert_rejection(raw, 501)
    assert_still_serving(server, 501, 'Transfer-Encoding')
  end

  def test_http11_without_host_is_400
    server = start_limits_server
    raw, = exchange(server, request('/', host: false))
    assert_rejection(raw, 400)
    assert_still_serving(server, 400, 'Host')
  end

  def test_unsupported_expect_is_417
    server = start_limits_server
    raw, = exchange(server, request('/', method: 'POST', headers: { 'Expect' => 'something-else',
                                                                     'Content-Length' => '3' }, body: 'abc'))
    assert_rejection(raw, 417)
    assert_still_serving(server, 417, 'Expect')
  end

  # --- timeouts ------------------------------------------------------------

  def test_header_timeout_is_408
    server = start_limits_server('--header-timeout', '1')
    raw, seconds = exchange(server, "GET / HTTP/1.1\r\nHost: test\r\n", timeout: 5)
    assert_rejection(raw, 408)
    assert_in_delta 1.0, seconds, 1.0, 'the 408 should come about one second after the first byte'
    assert_operator seconds, :>=, 0.9
    assert_still_serving(server, 408, 'header')
  end

  def test_header_timeout_counts_from_the_first_byte_not_the_last
    server = start_limits_server('--header-timeout', '1')
    sock = server.socket
    started = Time.now
    sock.write("GET / HTTP/1.1\r\nHost: test\r\n")
    # A header line every 0.25 s: bytes keep coming, the block never ends.
    answered = false
    12.times do |i|
      if sock.wait_readable(0.25)
        answered = true
        break
      end
      begin
        sock.write("X-Slow-#{i}: drip\r\n")
      rescue Errno::EPIPE, Errno::ECONNRESET
        break
      end
    end
    raw, = read_until_eof(sock, timeout: 3)
    seconds = Time.now - started
    assert answered, 'no answer to a trickled header block within 3 s'
    assert_rejection(raw, 408)
    assert_operator seconds, :<, 2.5
    assert_still_serving(server, 408, 'header')
  ensure
    sock&.close
  end

  def test_body_timeout_is_408
    server = start_limits_server('--body-timeout', '1')
    raw, seconds = exchange(server, request('/', method: 'POST', headers: { 'Content-Length' => '10' }, body: 'abc'),
                            timeout: 5)
    assert_rejection(raw, 408)
    assert_in_delta 1.0, seconds, 1.0
    assert_operator seconds, :>=, 0.9
    assert_still_serving(server, 408, 'body')
  end

  def test_body_timeout_is_per_pause_not_total
    server = start_limits_server('--body-timeout', '1')
    sock = server.socket
    sock.write(request('/alive', method: 'POST', headers: { 'Content-Length' => '6', 'Connection' => 'close' }))
    6.times do
      sleep 0.4 # 2.4 s in all, but never a 1 s pause
      sock.write('x')
    end
    raw, = read_until_eof(sock, timeout: 3)
    code, _, body = parse_response(raw)
    assert_equal 200, code, raw
    assert_equal 'alive', body
  ensure
    sock&.close
  end

  def test_idle_connection_is_closed_after_keepalive_timeout
    server = start_limits_server('--keepalive-timeout', '1')
    # A connection that never sends anything. TCP listeners use
    # TCP_DEFER_ACCEPT (1 s): the kernel hands such a connection over only
    # once its defer period is up, so it is closed up to ~2 s later.
    sock = server.socket
    bytes, seconds, eof = read_until_eof(sock, timeout: 5)
    sock.close
    assert eof, "idle connection still open after #{seconds.round(2)}s"
    assert_equal '', bytes
    assert_operator seconds, :<=, 3.5
    assert_operator seconds, :>=, 0.9

    # A keep-alive connection after a complete exchange.
    sock = server.socket
    reader = E2E::ResponseReader.new(sock)
    sock.write(request('/alive'))
    response = reader.read_response
    assert_equal 200, response.status
    assert_nil response.headers['connection']
    bytes, seconds, eof = read_until_eof(sock, timeout: 4)
    assert eof, "idle keep-alive connection still open after #{seconds.round(2)}s"
    assert_equal '', reader.buffer + bytes
    assert_in_delta 1.0, seconds, 1.0
    assert_operator seconds, :>=, 0.9
    assert_equal @worker_pids, server.worker_pids
    assert_equal '', hits
  ensure
    sock&.close
  end
end
