# frozen_string_literal: true

require_relative 'support/process_helpers'

# The Rack SPEC as the app sees it: requests through Rack::Lint, the env's
# keys and types, multi-value headers, app errors, body.close, rack.errors.
class RackLintTest < Minitest::Test
  include E2E::Helpers

  def lint_server
    @lint_server ||= start_server(E2E.app('rack_lint'), args: ['--body-memory-bytes', '1k'])
  end

  def spec_server(**opts)
    @spec_server ||= start_server(E2E.app('rack_spec'), **opts)
  end

  # ---- through Rack::Lint ----

  def test_lint_get_with_query
    response = lint_server.http('/query?a=1&b=two%20words')
    assert_equal '200', response.code, response.body
    assert_equal 'method=GET query=a=1&b=two%20words', response.body
    assert_equal 'method=GET query=a=1&b=two%20words'.bytesize.to_s, response['content-length']
  end

  def test_lint_post_body_reads_rack_input
    response = lint_server.http('/echo', method: :post, body: 'name=hyperion&x=1',
                                         headers: { 'Content-Type' => 'application/x-www-form-urlencoded' })
    assert_equal '200', response.code, response.body
    assert_equal 'len=17 same=true enc=ASCII-8BIT body=name=hyperion&x=1', response.body
  end

  def test_lint_post_body_buffered_in_temp_file
    payload = 'z' * 5000 # above --body-memory-bytes 1k: rack.input is a file
    response = lint_server.http('/echo', method: :post, body: payload, headers: { 'Content-Type' => 'text/plain' })
    assert_equal '200', response.code, response.body
    assert_equal "len=5000 same=true enc=ASCII-8BIT body=#{payload}", response.body
  end

  def test_lint_chunked_upload
    request = "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n" \
              "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" \
              "5\r\nhello\r\n1\r\n \r\n6\r\nchunks\r\n0\r\n\r\n"
    status, headers, body = parse_response(lint_server.raw(request))
    assert_equal 200, status, body
    body = dechunk(body) if headers['transfer-encoding'] == 'chunked'
    assert_equal 'len=12 same=true enc=ASCII-8BIT body=hello chunks', body
  end

  def test_lint_rack_input_gets_lines
    response = lint_server.http('/gets', method: :post, body: "one\ntwo\nthree", headers: { 'Content-Type' => 'text/plain' })
    assert_equal '200', response.code, response.body
    assert_equal '"one\n","two\n","three"', response.body
  end

  def test_lint_streaming_each_body_is_chunked
    status, headers, body = parse_response(lint_server.raw("GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    assert_equal 200, status, body
    assert_equal 'chunked', headers['transfer-encoding']
    assert_nil headers['content-length']
    assert_equal 'part0-part1-part2-', dechunk(body)
  end

  def test_lint_head_sends_headers_only
    get = lint_server.http('/query?h=1')
    raw = lint_server.raw("HEAD /query?h=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status, headers, body = parse_response(raw)
    assert_equal 200, status, raw
    assert_equal 'method=HEAD query=h=1'.bytesize.to_s, headers['content-length']
    assert_equal 'method=GET query=h=1'.bytesize.to_s, get['content-length']
    assert_equal '', body
  end

  def test_lint_is_active_and_rejects_a_bad_response
    server = lint_server
    response = server.http('/violation')
    assert_equal '500', response.code
    assert_match(/\AInternal Server Error\n\nRack::Lint::LintError: a header value must be a String/, response.body)
    log = eventually(message: -> { "no LintError logged:\n#{server.log}" }) do
      server.log.include?('Rack::Lint::LintError') && server.log
    end
    assert_match(/a header value must be a String, but the value of 'X-Number' is a Integer/, log)
  end

  # ---- the env ----

  def test_env_has_rack_spec_keys_and_types
    server = spec_server
    response = server.http('/env/some/path?a=1&b=%2F', method: :post, body: 'k=v&w=x',
                                                       headers: { 'Content-Type' => 'application/x-www-form-urlencoded',
                                                                  'X-Custom-Thing' => 'abc', 'Accept' => 'text/plain' })
    assert_equal '200', response.code, response.body
    env = JSON.parse(response.body)
    assert_equal 'POST', env['REQUEST_METHOD']
    assert_equal '', env['SCRIPT_NAME']
    assert_equal '/env/some/path', env['PATH_INFO']
    assert_equal 'a=1&b=%2F', env['QUERY_STRING']
    assert_equal '127.0.0.1', env['SERVER_NAME']
    assert_equal server.port.to_s, env['SERVER_PORT']
    assert_equal 'HTTP/1.1', env['SERVER_PROTOCOL']
    assert_equal '127.0.0.1', env['REMOTE_ADDR']
    assert_equal "127.0.0.1:#{server.port}", env['HTTP_HOST']
    assert_equal 'abc', env['HTTP_X_CUSTOM_THING']
    assert_equal 'text/plain', env['HTTP_ACCEPT']
    assert_equal 'application/x-www-form-urlencoded', env['CONTENT_TYPE']
    assert_equal '7', env['CONTENT_LENGTH']
    refute_includes env['keys'], 'HTTP_CONTENT_TYPE'
    refute_includes env['keys'], 'HTTP_CONTENT_LENGTH'
    assert_equal server.tls? ? 'https' : 'http', env['rack.url_scheme']
    assert_equal 'ASCII-8BIT', env['rack.input.external_encoding']
    assert_equal 'ASCII-8BIT', env['rack.input.read_encoding']
    assert_equal 'k=v&w=x', env['rack.input.body']
    assert_equal true, env['rack.multithread'] # -t 2
    assert_equal false, env['rack.multiprocess'] # -w 0
    assert_equal false, env['rack.run_once']
    # Over TLS too: the app gets a plaintext socket the loop bridges.
    assert_equal true, env['rack.hijack?']
    assert_equal true, env['rack.hijack.callable']
    assert_equal [1, 3], env['rack.version'] # Rack 2.2 is installed
    assert_equal true, env['rack.errors.ok']
    assert_equal false, env['env.frozen']
    %w[rack.input rack.errors SERVER_SOFTWARE].each { |key| assert_includes env['keys'], key }
    assert_includes env['keys'], 'rack.hijack'
  end

  def test_env_get_without_body_has_no_content_headers
    response = spec_server.http('/env', headers: { 'Host' => 'example.com' })
    env = JSON.parse(response.body)
    assert_equal 'GET', env['REQUEST_METHOD']
    assert_equal '', env['QUERY_STRING']
    assert_equal 'example.com', env['SERVER_NAME']
    assert_equal E2E::TLS_DEFAULT ? '443' : '80', env['SERVER_PORT'] # the Host header's port, or the scheme's
    refute_includes env['keys'], 'CONTENT_LENGTH'
    refute_includes env['keys'], 'CONTENT_TYPE'
    assert_equal '', env['rack.input.body']
    assert_equal 'ASCII-8BIT', env['rack.input.read_encoding']
  end

  def test_env_single_thread_is_not_multithread
    env = JSON.parse(spec_server(threads: 1).http('/env').body)
    assert_equal false, env['rack.multithread']
  end

  def test_env_http_1_0_protocol
    raw = spec_server.raw("GET /env HTTP/1.0\r\nHost: h.test:8080\r\n\r\n")
    status, _headers, body = parse_response(raw)
    assert_equal 200, status, raw
    env = JSON.parse(body)
    assert_equal 'HTTP/1.0', env['SERVER_PROTOCOL']
    assert_equal 'h.test', env['SERVER_NAME']
    assert_equal '8080', env['SERVER_PORT']
  end

  # ---- response headers ----

  def test_newline_separated_header_becomes_separate_lines
    raw = spec_server.raw("GET /cookies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head = raw.split("\r\n\r\n", 2).first
    assert_equal ['a=1; path=/', 'b=2; path=/'], head.lines.grep(/\Aset-cookie:/i).map { |l| l.split(': ', 2)[1].chomp }
    assert_equal ['single'], head.lines.grep(/\Ax-one:/i).map { |l| l.split(': ', 2)[1].chomp }
    response = spec_server.http('/cookies')
    assert_equal ['a=1; path=/', 'b=2; path=/'], response.get_fields('set-cookie')
  end

  # ---- errors ----

  def test_app_exception_is_500_and_logged_with_backtrace
    server = spec_server
    raw = server.raw("GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = parse_response(raw)
    assert_equal 500, status, raw
    # Development (the default): class and message, no backtrace.
    assert_equal "Internal Server Error\n\nE2EBoomError: kaboom from the app\n", body
    assert_equal 'close', headers['connection']
    rackup = E2E.app('rack_spec')
    raise_line = File.readlines(rackup).index { |l| l.include?('raise E2EBoomError') } + 1
    log = eventually(message: -> { "no backtrace in log:\n#{server.log}" }) do
      server.log.include?("#{rackup}:#{raise_line}:in") && server.log
    end
    assert_match(%r{\[error\] app error in call GET /boom: E2EBoomError: kaboom from the app}, log)
    # the next request on a new connection still works
    response = server.http('/')
    assert_equal '200', response.code
    assert_equal 'ok', response.body
  end

  # ---- body.close ----

  def test_body_close_called_once_after_each
    path = File.join(spec_server.dir, 'close_each.txt')
    response = spec_server.http("/close_each?path=#{path}")
    assert_equal 'first-second', response.body
    eventually { File.exist?(path) }
    sleep 0.2
    assert_equal "closed\n", File.read(path)
  end

  def test_body_close_called_when_each_raises
    server = spec_server
    path = File.join(server.dir, 'close_raise.txt')
    raw = server.raw("GET /close_raise?path=#{path} HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = parse_response(raw)
    assert_equal 200, status, raw # the head went out with the first chunk
    assert_equal 'chunked', headers['transfer-encoding']
    assert_equal "6\r\nfirst-\r\n", body # then the connection ends without the last chunk
    eventually { File.exist?(path) }
    sleep 0.2
    assert_equal "closed\n", File.read(path)
    assert_match(/E2EBodyError: body failed midway/, server.log)
    assert_equal 'ok', server.http('/').body
  end

  def test_body_close_called_for_head_request
    path = File.join(spec_server.dir, 'close_head.txt')
    raw = spec_server.raw("HEAD /close_each?path=#{path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status, _headers, body = parse_response(raw)
    assert_equal 200, status, raw
    assert_equal '', body
    eventually { File.exist?(path) }
    sleep 0.2
    assert_equal "closed\n", File.read(path)
  end

  def test_body_proxy_close_called
    path = File.join(spec_server.dir, 'close_proxy.txt')
    response = spec_server.http("/close_proxy?path=#{path}")
    assert_equal 'proxied', response.body
    eventually { File.exist?(path) }
    sleep 0.2
    assert_equal "closed\n", File.read(path)
  end

  # ---- rack.errors ----

  def test_rack_errors_writes_reach_the_log
    server = spec_server
    assert_equal 'logged', server.http('/errors').body
    log = eventually(message: -> { "markers missing:\n#{server.log}" }) do
      server.log.include?('e2e-errors-append-marker') && server.log
    end
    # The app's error stream is logged at warn: visible at --log-level warn,
    # but not confused with the server's own errors.
    assert_match(/\[warning\] e2e-errors-puts-marker$/, log)
    assert_match(/\[warning\] e2e-errors-write-marker$/, log)
    assert_match(/\[warning\] e2e-errors-append-marker$/, log)
  end
end
