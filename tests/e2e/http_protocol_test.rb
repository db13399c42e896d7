# frozen_string_literal: true

require_relative 'support/harness'
require 'time'
require 'open3'

# HTTP/1.x wire behaviour against tests/e2e/apps/protocol: connection
# persistence, pipelining, request and response framing, 100-continue, and
# real clients (curl, Net::HTTP).
class HttpProtocolTest < Minitest::Test
  include E2E::Helpers

  HTTP_DATE = /\A(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT\z/

  def server
    @server ||= start_server(E2E.app('protocol'))
  end

  def get(path, version: '1.1', headers: {})
    lines = ["GET #{path} HTTP/#{version}"]
    lines << 'Host: test' if version == '1.1'
    headers.each { |k, v| lines << "#{k}: #{v}" }
    "#{lines.join("\r\n")}\r\n\r\n"
  end

  def with_socket
    sock = server.socket
    yield sock, E2E::ResponseReader.new(sock)
  ensure
    sock&.close
  end

  # After the response, the server must close: EOF, and no stray bytes.
  def assert_closed_by_server(sock, reader)
    assert_equal '', reader.buffer, 'bytes after the response'
    rest, seconds, eof = read_until_eof(sock, timeout: 3)
    assert eof, "server did not close the connection within #{seconds.round(2)}s"
    assert_equal '', rest, 'bytes after the response'
  end

  # --- persistence -------------------------------------------------------

  def test_keep_alive_two_requests_on_one_socket
    with_socket do |sock, reader|
      sock.write(get('/one'))
      first = reader.read_response
      assert_equal 200, first.status
      assert_equal 'path=/one query=', first.body
      assert_nil first.headers['connection'], 'HTTP/1.1 keep-alive needs no Connection header'

      sock.write(get('/two?x=1'))
      second = reader.read_response
      assert_equal 200, second.status
      assert_equal 'path=/two query=x=1', second.body
      assert_equal '', reader.buffer
    end
  end

  def test_http10_closes_by_default
    with_socket do |sock, reader|
      sock.write(get('/old', version: '1.0'))
      response = reader.read_response
      assert_match %r{\AHTTP/1\.0 200 OK\r\n}, response.head
      assert_equal 'path=/old query=', response.body
      assert_equal 'close', response.headers['connection']
      assert_closed_by_server(sock, reader)
    end
  end

  def test_http10_with_keep_alive_header_stays_open
    with_socket do |sock, reader|
      sock.write(get('/first', version: '1.0', headers: { 'Connection' => 'keep-alive' }))
      first = reader.read_response
      assert_match %r{\AHTTP/1\.0 200 OK\r\n}, first.head
      assert_equal 'path=/first query=', first.body
      assert_equal 'keep-alive', first.headers['connection']

      # The connection is still usable for a second HTTP/1.0 request.
      sock.write(get('/second', version: '1.0', headers: { 'Connection' => 'keep-alive' }))
      second = reader.read_response
      assert_equal 200, second.status
      assert_equal 'path=/second query=', second.body
      assert_equal 'keep-alive', second.headers['connection']
    end
  end

  def test_connection_close_is_honoured
    with_socket do |sock, reader|
      sock.write(get('/bye', headers: { 'Connection' => 'close' }))
      response = reader.read_response
      assert_equal 200, response.status
      assert_equal 'path=/bye query=', response.body
      assert_equal 'close', response.headers['connection']
      assert_closed_by_server(sock, reader)
    end
  end

  # --- pipelining ----------------------------------------------------------

  def test_pipelined_requests_are_answered_in_order
    requests = get('/slow') + # the app takes 0.3 s: later answers must still wait their turn
               get('/p1') +
               "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 7\r\n\r\npayload" +
               get('/p3?q=3') +
               get('/p4') +
               get('/p5', headers: { 'Connection' => 'close' })
    with_socket do |sock, reader|
      sock.write(requests) # one write: all five requests arrive together
      bodies = 6.times.map do
        response = reader.read_response
        assert_equal 200, response.status
        response.body
      end
      assert_equal ['slow done', 'path=/p1 query=', "size=7\npayload", 'path=/p3 query=q=3', 'path=/p4 query=',
                    'path=/p5 query='], bodies
      assert_closed_by_server(sock, reader)
    end
  end

  # --- request bodies --------------------------------------------------------

  def test_chunked_request_body_is_decoded
    with_socket do |sock, reader|
      sock.write("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n")
      sleep 0.05
      sock.write("5\r\nhello\r\n")
      sleep 0.05
      # A chunk extension must be ignored; a chunk may arrive split in two writes.
      sock.write("7;name=value\r\n wor")
      sleep 0.05
      sock.write("ld!\r\n1a\r\n#{('a'..'z').to_a.join}\r\n0\r\n\r\n")
      response = reader.read_response
      assert_equal 200, response.status
      expected = "hello world!#{('a'..'z').to_a.join}"
      assert_equal "size=#{expected.bytesize}\n#{expected}", response.body

      # The connection stays usable after a chunked body.
      sock.write(get('/after-chunked'))
      assert_equal 'path=/after-chunked query=', reader.read_response.body
    end
  end

  # Trailer fields must not be merged into the request headers (RFC 9110
  # section 6.5.1): a trailer Content-Length would contradict the body the
  # app actually reads.
  def test_chunked_trailers_do_not_override_request_headers
    with_socket do |sock, reader|
      sock.write("POST /framing HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n" \
                 "3\r\nabc\r\n0\r\nContent-Length: 999\r\nX-Trailer: t\r\n\r\n")
      response = reader.read_response
      assert_equal 200, response.status
      # The app sees the decoded body and its length, as under Puma.
      assert_equal 'content_length="3" transfer_encoding=nil size=3 body=abc', response.body
    end
  end

  def test_expect_100_continue_is_sent_after_headers_only
    with_socket do |sock, reader|
      sock.write("POST /echo HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n")
      # Headers are not complete yet: nothing may be sent.
      refute sock.wait_readable(0.5),
             -> { "server answered before the header block ended: #{sock.read_nonblock(4096).inspect}" }

      sock.write("\r\n")
      interim = reader.read_response
      assert_equal 100, interim.status
      assert_equal "HTTP/1.1 100 Continue\r\n\r\n", interim.raw
      # Nothing more until the body arrives.
      refute sock.wait_readable(0.3), 'final response sent before the body was'

      sock.write('hello')
      final = reader.read_response
      assert_equal 200, final.status
      assert_equal "size=5\nhello", final.body
      assert_equal '', reader.buffer
    end
  end

  def test_expect_100_continue_with_curl
    out, status = Open3.capture2('curl', *server.curl_args, '-s', '-i', '-H', 'Expect: 100-continue',
                                 '--data-binary', 'curl body', server.url('/echo'))
    assert status.success?, "curl failed: #{status.inspect}"
    assert out.start_with?("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"), out
    assert out.end_with?("\r\n\r\nsize=9\ncurl body"), out
  end

  # --- response framing ------------------------------------------------------

  def test_head_sends_headers_with_content_length_but_no_body
    with_socket do |sock, reader|
      # A GET pipelined after the HEAD shows exactly where the HEAD answer ends.
      sock.write("HEAD /head HTTP/1.1\r\nHost: test\r\n\r\n" + get('/head', headers: { 'Connection' => 'close' }))
      head = reader.read_response(head: true)
      assert_equal 200, head.status
      assert_equal '11', head.headers['content-length']
      assert_equal 'head', head.headers['x-route']
      assert_nil head.headers['transfer-encoding']
      assert reader.buffer.empty? || reader.buffer.start_with?('HTTP/1.1 200 OK'),
             "body bytes after the HEAD response: #{reader.buffer[0, 40].inspect}"

      get_response = reader.read_response
      assert_equal 'hello world', get_response.body
      assert_equal '11', get_response.headers['content-length']
      assert_closed_by_server(sock, reader)
    end
  end

  def test_head_of_streaming_body_has_no_body_bytes
    with_socket do |sock, reader|
      sock.write("HEAD /stream HTTP/1.1\r\nHost: test\r\n\r\n" + get('/after-head'))
      head = reader.read_response(head: true)
      assert_equal 200, head.status
      assert reader.buffer.empty? || reader.buffer.start_with?('HTTP/1.1 200 OK'),
             "body bytes after the HEAD response: #{reader.buffer[0, 40].inspect}"
      assert_equal 'path=/after-head query=', reader.read_response.body
    end
  end

  def test_204_and_304_have_no_body_and_no_framing_headers
    with_socket do |sock, reader|
      sock.write(get('/no-content') + get('/not-modified') + get('/after', headers: { 'Connection' => 'close' }))

      no_content = reader.read_response
      assert_equal 204, no_content.status
      assert_equal 'no-content', no_content.headers['x-route']
      assert_nil no_content.headers['content-length']
      assert_nil no_content.headers['transfer-encoding']
      assert reader.buffer.empty? || reader.buffer.start_with?('HTTP/1.1 304 '),
             "bytes after the 204 head: #{reader.buffer[0, 40].inspect}"

      not_modified = reader.read_response
      assert_equal 304, not_modified.status
      assert_equal '"v1"', not_modified.headers['etag']
      assert_nil not_modified.headers['content-length']
      assert_nil not_modified.headers['transfer-encoding']
      assert reader.buffer.empty? || reader.buffer.start_with?('HTTP/1.1 200 '),
             "bytes after the 304 head: #{reader.buffer[0, 40].inspect}"

      after = reader.read_response
      assert_equal 'path=/after query=', after.body
      assert_closed_by_server(sock, reader)
    end
  end

  def test_date_and_server_headers_present
    with_socket do |sock, reader|
      sock.write(get('/dated'))
      response = reader.read_response
      assert_equal 'hyperion', response.headers['server']
      date = response.headers['date']
      assert_match HTTP_DATE, date.to_s
      assert_in_delta Time.now.to_f, Time.httpdate(date).to_f, 5
    end
    # The server's own answers (here a 400) carry them too.
    status, headers, = parse_response(server.raw("BAD\r\n\r\n"))
    assert_equal 400, status
    assert_equal 'hyperion', headers['server']
    assert_match HTTP_DATE, headers['date'].to_s
  end

  def test_streaming_each_body_is_chunked_on_http11
    with_socket do |sock, reader|
      sock.write(get('/stream'))
      response = reader.read_response
      assert_equal 200, response.status
      assert_equal 'chunked', response.headers['transfer-encoding']
      assert_nil response.headers['content-length']
      assert response.raw.end_with?("\r\n\r\n5\r\nalpha\r\n4\r\nbeta\r\n5\r\ngamma\r\n0\r\n\r\n"), response.raw
      assert_equal 'alphabetagamma', response.body

      # Chunked framing keeps the connection alive.
      sock.write(get('/after-stream'))
      assert_equal 'path=/after-stream query=', reader.read_response.body
    end
  end

  def test_streaming_each_body_is_close_delimited_on_http10
    # Even when the client asks for keep-alive: without a length the only
    # way to end the body is to close.
    [{}, { 'Connection' => 'keep-alive' }].each do |headers|
      with_socket do |sock, _reader|
        sock.write(get('/stream', version: '1.0', headers: headers))
        raw, seconds, eof = read_until_eof(sock, timeout: 3)
        assert eof, "HTTP/1.0 streaming body not ended by close within #{seconds.round(2)}s: #{raw.inspect}"
        status, response_headers, body = parse_response(raw)
        assert_match %r{\AHTTP/1\.0 200 OK\r\n}, raw
        assert_equal 200, status
        assert_nil response_headers['transfer-encoding'], "headers #{headers}"
        assert_nil response_headers['content-length']
        assert_equal 'close', response_headers['connection']
        assert_equal 'alphabetagamma', body
      end
    end
  end

  # --- real clients ---------------------------------------------------------

  def test_curl_get_and_post
    out, status = Open3.capture2('curl', *server.curl_args, '-s', '-i', server.url('/curl?a=b'))
    assert status.success?, "curl failed: #{status.inspect}"
    code, headers, body = parse_response(out)
    assert_equal 200, code
    assert_equal 'path=/curl query=a=b', body
    assert_equal body.bytesize.to_s, headers['content-length']

    payload = "line one\nline two\n"
    out, status = Open3.capture2('curl', *server.curl_args, '-s', '-i', '--data-binary', '@-', server.url('/echo'),
                                 stdin_data: payload)
    assert status.success?, "curl failed: #{status.inspect}"
    code, _, body = parse_response(out)
    assert_equal 200, code
    assert_equal "size=#{payload.bytesize}\n#{payload}", body
  end

  def test_net_http_post
    payload = (+"binary \x00\x01\xff\r\n\r\nend").b * 100
    response = server.http('/echo', method: :post, body: payload,
                                    headers: { 'Content-Type' => 'application/octet-stream' })
    assert_equal '200', response.code
    assert_equal "size=#{payload.bytesize}\n".b + payload, response.body.b
    assert_equal (payload.bytesize + "size=#{payload.bytesize}\n".bytesize).to_s, response['content-length']
  end
end
