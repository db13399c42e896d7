# frozen_string_literal: true

require_relative 'support/process_helpers'
require 'digest'

# What real apps do, beyond hello: the response shapes of Rails 6.1 and
# Sinatra, Rack middleware that logs, String statuses, partial hijack, UTF-8
# sources, the environment variables Rails reads, and threads that die.
class RealAppsTest < Minitest::Test
  include E2E::Helpers

  BOOT_TIMEOUT = E2E::SLOW > 1 ? 180 : 60

  def boot(app, **opts)
    server = start_server(E2E.app(app), wait: false, **opts)
    server.wait_until_ready(timeout: BOOT_TIMEOUT)
    server
  end

  def rails
    @file ||= File.join(Dir.mktmpdir('shapes'), 'blob.bin').tap do |path|
      File.binwrite(path, Random.new(7).bytes(300 * 1024 + 17))
    end
    boot('rails_shapes', env: { 'SHAPES_FILE' => @file })
  end

  def test_rails_redirect_4xx_head_and_exceptions
    server = rails
    response = server.http('/redirect')
    assert_equal '302', response.code, server.log
    assert_equal server.url('/target'), response['location']
    assert_match(/redirected/, response.body)

    response = server.http('/unprocessable', method: :post, body: '')
    assert_equal '422', response.code, server.log
    assert_equal 'name can’t be blank', response.body.force_encoding('UTF-8')

    response = server.http('/missing')
    assert_equal '404', response.code
    assert_equal 'no such widget', response.body

    response = server.http('/no_content', method: :delete)
    assert_equal '204', response.code
    assert_nil response.body

    response = server.http('/boom')
    assert_equal '500', response.code
    assert_match(/kaboom from a controller/, server.log)
    # The worker keeps serving after the exception.
    assert_equal '404', server.http('/missing').code
    refute_match(/TypeError|to_ary/, server.log)
  end

  def test_rails_conditional_get_answers_304
    server = rails
    first = server.http('/cached')
    assert_equal '200', first.code, server.log
    assert_equal 'cached widget', first.body
    etag = first['etag']
    refute_nil etag
    second = server.http('/cached', headers: { 'If-None-Match' => etag })
    assert_equal '304', second.code, server.log
    assert_nil second.body
    third = server.http('/cached', headers: { 'If-Modified-Since' => first['last-modified'] })
    assert_equal '304', third.code
  end

  def test_rails_send_file_is_byte_exact
    server = rails
    response = server.http('/download')
    assert_equal '200', response.code, server.log
    assert_equal 'application/octet-stream', response['content-type']
    assert_match(/attachment; filename="blob.bin"/, response['content-disposition'])
    assert_equal File.size(@file), response.body.bytesize
    assert_equal Digest::SHA256.file(@file).hexdigest, Digest::SHA256.hexdigest(response.body)
  end

  def test_rails_form_post_with_utf8_params
    server = rails
    response = server.http('/form', method: :post, body: URI.encode_www_form(name: 'Zoë 日本'),
                                    headers: { 'Content-Type' => 'application/x-www-form-urlencoded' })
    assert_equal '200', response.code, server.log
    assert_equal 'name=Zoë 日本 encoding=UTF-8 chars=6', response.body.force_encoding('UTF-8')
  end

  def test_rails_live_stream_events_arrive_as_written
    server = rails
    sock = server.socket
    sock.write("GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
    arrivals = []
    text = read_until(sock, /event 2/, timeout: 15 * E2E::SLOW) { |chunk, at| arrivals << [at, chunk] }
    assert_match(%r{\AHTTP/1.1 200 }, text, server.log)
    assert_match(%r{content-type: text/event-stream}i, text)
    first = arrivals.find { |_, chunk| chunk.include?('event 0') }&.first
    last = arrivals.find { |_, chunk| chunk.include?('event 2') }&.first
    refute_nil first, text
    refute_nil last, text
    # Events are 0.4 s apart in the controller: they must not arrive together.
    assert_operator last - first, :>, 0.6, "events were buffered: #{arrivals.inspect}"
  ensure
    sock&.close
  end

  def test_rails_logger_on_stdout_reaches_the_log_while_running
    server = rails
    assert_equal '200', server.http('/log_line?n=41').code
    assert wait_for_log(server, /controller log line 41/, timeout: 5), server.log
  end

  def test_classic_sinatra_with_logging
    server = boot('sinatra_classic')
    response = server.http('/')
    assert_equal '200', response.code, server.log
    assert_equal 'hello from classic sinatra', response.body
    assert_equal 'héllo ada', server.http('/greet/ada').body.force_encoding('UTF-8')
    assert wait_for_log(server, /classic sinatra says hello/), server.log
    line = server.log.lines.grep(/classic sinatra says hello/).first
    refute_match(/\[error\]/, line)
  end

  def test_rack_logger_and_rack_errors
    server = boot('rack_shapes')
    response = server.http('/logger')
    assert_equal '200', response.code, server.log
    assert wait_for_log(server, /rack logger line/), server.log
    assert wait_for_log(server, /rack.errors puts line/), server.log
    server.log.lines.grep(/rack logger line|rack.errors puts line/).each { |l| refute_match(/\[error\]/, l) }
  end

  def test_string_status
    server = boot('rack_shapes')
    response = server.http('/string_status')
    assert_equal '201', response.code, server.log
    assert_equal 'created with a String status', response.body
  end

  def test_utf8_rackup_and_default_external_from_the_locale
    server = boot('rack_shapes', env: { 'LANG' => 'C.UTF-8', 'LC_ALL' => nil })
    info = JSON.parse(server.http('/encoding').body)
    expected = `env -u LC_ALL LANG=C.UTF-8 ruby -e 'print Encoding.default_external'`
    assert_equal expected, info['default_external']
    assert_equal 'UTF-8', info['default_external']
    assert_equal 'UTF-8', info['source']
    assert_equal 3, info['literal_length']
    assert_equal 'UTF-8', info['file_read']
  end

  def test_default_external_follows_rubyopt_e
    server = boot('rack_shapes', env: { 'LANG' => 'C.UTF-8', 'RUBYOPT' => '-Eiso-8859-1:utf-8' })
    info = JSON.parse(server.http('/encoding').body)
    assert_equal 'ISO-8859-1', info['default_external']
    assert_equal 'UTF-8', info['default_internal']
  end

  def test_environment_follows_app_env_rack_env_rails_env
    cases = [
      [{ 'RAILS_ENV' => 'production' }, [], 'production'],
      [{ 'RACK_ENV' => 'staging', 'RAILS_ENV' => 'production' }, [], 'staging'],
      [{ 'APP_ENV' => 'qa', 'RACK_ENV' => 'staging' }, [], 'qa'],
      [{ 'RAILS_ENV' => 'production' }, %w[-e test], 'test'],
      [{}, [], 'development']
    ]
    cases.each do |env, args, expected|
      clean = { 'RACK_ENV' => nil, 'RAILS_ENV' => nil, 'APP_ENV' => nil }.merge(env)
      server = boot('rack_shapes', env: clean, args: args)
      seen = JSON.parse(server.http('/env').body)
      assert_equal expected, seen['RACK_ENV'], "#{env.inspect} #{args.inspect}: #{seen.inspect}"
      assert_match(/environment: #{expected}/, server.log)
      server.cleanup
    end
  end

  def test_stdout_is_synced_and_reaches_the_log_while_running
    server = boot('rack_shapes')
    response = server.http('/stdout?n=7')
    assert_equal 'sync=true true', response.body
    assert wait_for_log(server, /stdout line n=7/, timeout: 3), server.log
    assert wait_for_log(server, /plain puts n=7/, timeout: 3), server.log
  end

  def test_cgi_keys_and_chunked_upload_length
    server = boot('rack_shapes')
    sock = server.socket
    sock.write("POST /cgi HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" \
               "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    status, _headers, body = parse_response(read_until_eof(sock).first)
    assert_equal 200, status, server.log
    env = JSON.parse(body)
    assert_equal 'CGI/1.2', env['GATEWAY_INTERFACE']
    assert_equal '/cgi', env['REQUEST_PATH']
    assert_equal '/cgi', env['PATH_INFO']
    assert_equal 'HTTP/1.1', env['HTTP_VERSION']
    assert_equal '11', env['CONTENT_LENGTH']
    assert_nil env['HTTP_TRANSFER_ENCODING']
    assert_equal 11, env['body_size']
  ensure
    sock&.close
  end

  def test_thread_kill_in_a_request_answers_500_and_refills_the_pool
    server = boot('rack_shapes', threads: 1)
    3.times do
      response = server.http('/kill', timeout: 5)
      assert_equal '500', response.code, server.log
    end
    # The only Ruby thread was killed three times; a new one serves.
    response = server.http('/thread', timeout: 5)
    assert_equal '200', response.code, server.log
    assert_match(/thread hyperion-rb-0/, response.body)
    assert_match(/killed/, server.log)
    refute_match(%r{"GET /kill HTTP/1.1" 200}, server.log)
  end

  def test_thread_kill_while_streaming_closes_the_connection
    server = boot('rack_shapes', threads: 1)
    sock = server.socket
    sock.write("GET /kill_streaming HTTP/1.1\r\nHost: t\r\n\r\n")
    text, _seconds, eof = read_until_eof(sock, timeout: 5)
    assert eof, "connection left open after the thread died: #{text.inspect}"
    assert_match(/first part/, text)
    refute_match(/never/, text)
    assert_equal '200', server.http('/thread', timeout: 5).code
  ensure
    sock&.close
  end

  def test_after_reply_and_response_finished_run_after_the_last_byte
    server = boot('rack_shapes')
    sock = server.socket
    sock.write("GET /callbacks?slow HTTP/1.1\r\nHost: t\r\n\r\n")
    # Read nothing yet: 16 MiB cannot all fit in loopback socket buffers, so
    # the callbacks must wait.
    sleep 0.5
    seen = JSON.parse(server.http('/callbacks_seen').body)
    assert_empty seen['after_reply'], 'after_reply ran before the response was written'
    assert_empty seen['response_finished']
    reader = E2E::ResponseReader.new(sock, timeout: 10)
    response = reader.read_response
    assert_equal 16 * 1024 * 1024, response.body.bytesize
    seen = eventually { s = JSON.parse(server.http('/callbacks_seen').body); s if s['after_reply'].any? }
    assert_equal ['slow'], seen['after_reply']
    assert_equal [['slow', 200, nil, true]], seen['response_finished']
  ensure
    sock&.close
  end

  def test_partial_hijack
    server = boot('rack_shapes')
    sock = server.socket
    sock.write("GET /partial_hijack HTTP/1.1\r\nHost: t\r\n\r\n")
    head = read_until(sock, /partial hijack says hi\n/, timeout: 5)
    assert_match(%r{\AHTTP/1.1 200 OK\r\n}, head, server.log)
    assert_match(/content-type: text\/plain/i, head)
    refute_match(/rack\.hijack/i, head)
    refute_match(/content-length|transfer-encoding/i, head)
    sock.write("ping\n")
    rest, _seconds, eof = read_until_eof(sock, timeout: 5)
    assert_equal "echo: ping\n", rest
    assert eof
    assert_equal '200', server.http('/thread').code
  ensure
    sock&.close
  end

  def test_http_2_0_over_http1_is_505
    server = boot('rack_shapes')
    text = server.raw("GET /thread HTTP/2.0\r\nHost: t\r\n\r\n")
    assert_match(%r{\AHTTP/1.1 505 }, text)
    assert_equal '200', server.http('/thread').code
  end

  def test_development_500_page_names_the_exception_but_production_does_not
    server = boot('rack_shapes', args: %w[-e development])
    response = server.http('/raise')
    assert_equal '500', response.code
    assert_match(/KeyError/, response.body)
    assert_match(/missing widget key/, response.body)
    # The access-log line is written after the last byte has gone out.
    eventually(message: -> { "no access-log line with the 500's size:\n#{server.log}" }) do
      server.log.match?(%r{"GET /raise HTTP/1.1" 500 [1-9]\d*})
    end
    server.cleanup

    server = boot('rack_shapes', args: %w[-e production])
    response = server.http('/raise')
    assert_equal '500', response.code
    refute_match(/KeyError|missing widget key/, response.body)
  end

  def test_json_access_log_has_rfc3339_milliseconds_and_offset
    server = boot('rack_shapes', args: %w[--log-format json])
    assert_equal '200', server.http('/thread').code
    line = eventually { server.log.lines.find { |l| l.include?('"message":"request"') } }
    entry = JSON.parse(line)
    assert_match(/\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d\z/, entry['ts'])
    assert_equal 200, entry['status']
    server.log.lines.each { |l| JSON.parse(l) }
  end
end
