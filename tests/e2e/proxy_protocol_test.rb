# frozen_string_literal: true

require_relative 'support/process_helpers'

# The PROXY protocol on a tcp:// bind (?proxy_protocol=v1|v2): what a TCP
# load balancer (AWS NLB, HAProxy `send-proxy`, nginx `proxy_protocol on`)
# sends before the client's bytes. REMOTE_ADDR and the access log become the
# client's; untrusted peers and malformed headers are closed with a log line,
# and nothing of them reaches the app.
class ProxyProtocolTest < Minitest::Test
  include E2E::Helpers

  APP = E2E.app('remote_addr')
  REQUEST = "GET / HTTP/1.1\r\nHost: example.test\r\n\r\n"

  def proxied_server(version, trusted: nil, workers: 0)
    query = "proxy_protocol=v#{version}"
    query += "&proxy_trusted=#{trusted}" if trusted
    # The TLS run of the e2e files does not apply: PROXY is refused on ssl://.
    start_server(APP, workers: workers, bind: "tcp://127.0.0.1:0?#{query}", args: ['--admin-bind', 'tcp://127.0.0.1:0'])
  end

  def v2_header(command: 1, family: 0x11, payload: nil)
    payload ||= [203, 0, 113, 9, 127, 0, 0, 1].pack('C*') + [40_000, 443].pack('nn')
    "\r\n\r\n\0\r\nQUIT\n".b + [0x20 | command, family, payload.bytesize].pack('CCn') + payload
  end

  def body_of(text) = text.split("\r\n\r\n", 2)[1]

  def test_v1_header_sets_remote_addr_for_every_request_of_the_connection
    server = proxied_server(1)
    sock = server.socket
    sock.write("PROXY TCP4 203.0.113.7 127.0.0.1 56324 #{server.port}\r\n#{REQUEST}")
    reader = E2E::ResponseReader.new(sock)
    first = reader.read_response
    assert_equal 200, first.status, server.log
    assert_equal '203.0.113.7', first.body
    sock.write(REQUEST) # keep-alive: the address is the connection's
    assert_equal '203.0.113.7', reader.read_response.body
    sock.close
    assert_match(/expects PROXY protocol v1 from loopback/, server.log)
    eventually(message: "two access lines name the client\n#{server.log}") do
      server.log.lines.grep(/203\.0\.113\.7.*GET \/ /).size >= 2
    end
  end

  def test_v1_header_split_across_writes_and_ipv6
    server = proxied_server(1)
    sock = server.socket
    header = "PROXY TCP6 2001:db8::7 ::1 1234 #{server.port}\r\n"
    header.each_char.each_slice(9) do |part|
      sock.write(part.join)
      sleep 0.02
    end
    sock.write(REQUEST)
    response = E2E::ResponseReader.new(sock).read_response
    assert_equal '2001:db8::7', response.body, server.log
  ensure
    sock&.close
  end

  def test_v1_unknown_keeps_the_proxys_address
    server = proxied_server(1)
    assert_equal '127.0.0.1', body_of(server.raw("PROXY UNKNOWN\r\n#{REQUEST}", timeout: 2))
  end

  def test_v2_header_with_tlvs_and_local
    server = proxied_server(2)
    payload = [198, 51, 100, 20, 127, 0, 0, 1].pack('C*') + [40_000, 443].pack('nn') + "\x04\x00\x02ab".b
    assert_equal '198.51.100.20', body_of(server.raw(v2_header(payload: payload) + REQUEST, timeout: 2)), server.log
    # LOCAL: the proxy's own health check; the peer's address stays.
    assert_equal '127.0.0.1', body_of(server.raw(v2_header(command: 0) + REQUEST, timeout: 2))
  end

  def test_malformed_headers_are_closed_and_never_reach_the_app
    server = proxied_server(1, workers: 1)
    [
      [REQUEST, 'not a PROXY v1 header'],
      ["PROXY TCP4 1.2.3.400 127.0.0.1 1 2\r\n#{REQUEST}", 'bad address'],
      ["PROXY #{'x' * 120}", 'longer than 107 bytes'],
      [v2_header + REQUEST, 'not a PROXY v1 header']
    ].each do |bytes, reason|
      out = server.raw(bytes, timeout: 3)
      assert_equal '', out, "closed without an HTTP answer: #{reason}"
      await_log(server, /malformed PROXY protocol header from 127\.0\.0\.1: [^\n]*#{Regexp.escape(reason)}; closed/,
                timeout: 5)
    end
    refute_match(/GET \/ /, server.log, 'no request reached the app')
    # The worker keeps serving.
    assert_equal '192.0.2.1', body_of(server.raw("PROXY TCP4 192.0.2.1 127.0.0.1 1 2\r\n#{REQUEST}", timeout: 2))
    assert_equal 4, metric(server, 'hyperion_proxy_protocol_rejected_total')
  end

  def test_a_v2_bind_refuses_v1
    server = proxied_server(2)
    assert_equal '', server.raw("PROXY TCP4 1.2.3.4 127.0.0.1 1 2\r\n#{REQUEST}", timeout: 3)
    await_log(server, /malformed PROXY protocol header from 127\.0\.0\.1: not a PROXY v2 header; closed/, timeout: 5)
  end

  def test_untrusted_peer_is_closed_at_accept
    server = proxied_server(1, trusted: '10.0.0.0%2F8')
    assert_equal '', server.raw("PROXY TCP4 1.2.3.4 127.0.0.1 1 2\r\n#{REQUEST}", timeout: 3)
    await_log(server, /closing 127\.0\.0\.1: not a trusted proxy for http:\/\/127\.0\.0\.1:\d+ \(proxy_trusted\)/,
              timeout: 5)
    assert_match(/expects PROXY protocol v1 from 10\.0\.0\.0\/8/, server.log)
  end

  def test_bad_bind_queries_are_refused_at_boot
    %w[proxy_protocol=v3 proxy_trusted=10.0.0.0/8 proxy_protocol=v1&proxy_trusted=nope].each do |query|
      status, out, = E2E.run_to_exit(['-w', '0', '-b', "tcp://127.0.0.1:0?#{query}", APP])
      refute status.success?, "#{query} should be refused:\n#{out}"
      assert_match(/bind tcp:\/\/127\.0\.0\.1:0\?#{Regexp.escape(query)}: /, out)
    end
  end

  def metric(server, name)
    port = Integer(await_log(server, %r{admin listener on http://127\.0\.0\.1:(\d+)})[1])
    Net::HTTP.get(URI("http://127.0.0.1:#{port}/-/metrics"))[/^#{name} (\d+)/, 1].to_i
  end
end
