# frozen_string_literal: true

require_relative 'support/static_helpers'
require 'json'
require 'time'

# Hyperion::Server.handle_static (answered by the event loop, no Ruby) and
# Hyperion::Server.handle (a light Request on a Ruby thread) from
# docs/STATIC.md, against tests/e2e/apps/static_routes.
class PrebuiltRoutesTest < Minitest::Test
  include E2E::Helpers
  include E2E::StaticHelpers

  APP = E2E.app('static_routes')
  # Under GC.stress a Rack call itself can take half a second (a full GC per
  # allocation); a request stuck behind the download would still take > 2 s.
  QUICK = if E2E::GC_MODE == "stress" then 1.5 elsif E2E::SLOW > 1 then 0.5 else 0.1 end
  HTTP_DATE = /\A(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT\z/

  def server(threads: 2)
    @server ||= start_server(APP, threads: threads)
  end

  def app_marker(method, path) = /\AAPP-MARKER pid=\d+ #{method} #{Regexp.escape(path)}\z/

  # --- handle_static ---------------------------------------------------------

  def test_static_route_body_and_headers
    response = one_shot(server, 'GET', '/health')
    assert_equal 200, response.status
    assert_equal "OK\n", response.body
    assert_equal 'text/plain', response.headers['content-type']
    assert_equal 'b', response.headers['x-a']
    assert_equal '3', response.headers['content-length']
    assert_match HTTP_DATE, response.headers['date'].to_s
    assert_in_delta Time.now.to_i, Time.httpdate(response.headers['date']).to_i, 5, 'Date is the current time'
    refute_nil response.headers['server']
    assert_match %r{\AHTTP/1\.1 200 OK\r\n}, response.head
    # The query string is ignored when matching; the path must match exactly.
    assert_equal "OK\n", one_shot(server, 'GET', '/health?verbose=1').body
    assert_match app_marker('GET', '/health/'), one_shot(server, 'GET', '/health/').body
    assert_match app_marker('GET', '/healthz'), one_shot(server, 'GET', '/healthz').body
  end

  def test_static_route_date_is_fresh_on_every_hit
    first = one_shot(server, 'GET', '/health').headers['date']
    sleep 1.1
    second = one_shot(server, 'GET', '/health').headers['date']
    refute_equal first, second, 'Date must be added per hit, not baked into the prebuilt response'
  end

  def test_head_on_a_get_route_sends_headers_only
    response = one_shot(server, 'HEAD', '/health') # fails on any byte after the head
    assert_equal 200, response.status
    assert_equal '3', response.headers['content-length']
    assert_equal 'b', response.headers['x-a']
    assert_equal '', response.body
  end

  def test_method_is_case_insensitive_and_last_registration_wins
    lower = one_shot(server, 'GET', '/lower') # registered as :get
    assert_equal 200, lower.status
    assert_equal "lower case method\n", lower.body

    twice = one_shot(server, 'GET', '/twice')
    assert_equal "second registration\n", twice.body
    assert_equal 'text/html', twice.headers['content-type']
    assert_equal 'second', twice.headers['x-which']
    assert_equal "second registration\n".bytesize.to_s, twice.headers['content-length']
  end

  def test_other_methods_on_a_get_route_go_to_the_app
    post = one_shot(server, 'POST', '/health', body: 'x=1')
    assert_equal 200, post.status
    assert_match app_marker('POST', '/health'), post.body
    assert_nil post.headers['x-a']
    assert_match app_marker('PUT', '/health'), one_shot(server, 'PUT', '/health', body: 'y').body
    assert_match app_marker('DELETE', '/health'), one_shot(server, 'DELETE', '/health').body
  end

  def test_keep_alive_across_static_hits_on_one_socket
    sock = server.socket
    reader = E2E::ResponseReader.new(sock)
    %w[/health /lower /health /twice /health].each do |path|
      sock.write(request_text('GET', path))
      response = reader.read_response
      assert_equal 200, response.status, path
      assert_nil response.headers['connection'], "#{path}: HTTP/1.1 keep-alive needs no Connection header"
    end
    sock.write(request_text('GET', '/elsewhere'))
    assert_match app_marker('GET', '/elsewhere'), reader.read_response.body
    sock.write(request_text('GET', '/health'))
    assert_equal "OK\n", reader.read_response.body
    assert_equal '', reader.buffer
  ensure
    sock&.close
  end

  def test_pipelined_static_and_app_requests_come_back_in_order
    sock = server.socket
    reader = E2E::ResponseReader.new(sock)
    sock.write(request_text('GET', '/health') + request_text('GET', '/lower') + request_text('HEAD', '/health') +
               request_text('GET', '/twice') + request_text('GET', '/health'))
    assert_equal "OK\n", reader.read_response.body
    assert_equal "lower case method\n", reader.read_response.body
    head = reader.read_response(head: true)
    assert_equal '3', head.headers['content-length']
    assert_equal "second registration\n", reader.read_response.body
    assert_equal "OK\n", reader.read_response.body
    assert_equal '', reader.buffer

    # A slow app request first: the static answers behind it must wait their turn.
    sock.write(request_text('GET', '/sleep03') + request_text('GET', '/health') + request_text('GET', '/app-after') +
               request_text('GET', '/lower'))
    assert_equal 'slept', reader.read_response.body
    assert_equal "OK\n", reader.read_response.body
    assert_match app_marker('GET', '/app-after'), reader.read_response.body
    assert_equal "lower case method\n", reader.read_response.body
    assert_equal '', reader.buffer
  ensure
    sock&.close
  end

  def test_connection_close_is_honoured_on_a_static_route
    sock = server.socket
    reader = E2E::ResponseReader.new(sock)
    sock.write(request_text('GET', '/health', 'Connection' => 'close'))
    response = reader.read_response
    assert_equal "OK\n", response.body
    assert_equal 'close', response.headers['connection']
    rest, seconds, eof = read_until_eof(sock, timeout: 3)
    assert eof, "server did not close within #{seconds.round(2)} s"
    assert_equal '', reader.buffer + rest

    # HTTP/1.0 without keep-alive closes too.
    status, headers, body = parse_response(server.raw("GET /health HTTP/1.0\r\n\r\n"))
    assert_equal 200, status
    assert_equal 'close', headers['connection']
    assert_equal "OK\n", body
  ensure
    sock&.close
  end

  def test_static_route_answers_while_the_only_ruby_thread_is_busy
    srv = server(threads: 1)
    slow = background_get(srv, '/slow')
    sleep 0.3 # the only Ruby thread is now asleep in /slow
    control = Thread.new { timed { srv.http('/ruby-control') } }
    timings = Array.new(20) do
      response, seconds = timed { one_shot(srv, 'GET', '/health') }
      assert_equal "OK\n", response.body
      seconds
    end
    assert slow.alive?, 'the static requests were not made while /slow was running'
    assert_operator timings.max, :<, QUICK, "static answers took #{timings.map { |t| (t * 1000).round(1) }} ms"
    assert_equal 'slow done', slow.value.body
    control_response, control_seconds = control.value
    assert_match app_marker('GET', '/ruby-control'), control_response.body
    assert_operator control_seconds, :>, 1.0, 'a Ruby request was not held up by /slow: is -t 1 in effect?'
  end

  # --- registered in the config file, reaching every worker -------------------

  def test_config_file_routes_reach_both_workers
    dir = Dir.mktmpdir('hyperion-routes')
    config = File.join(dir, 'hyperion.rb')
    File.write(config, <<~RUBY)
      bind 'tcp://127.0.0.1:0'
      workers 2
      threads 2
      Hyperion::Server.handle_static(:GET, '/from-config', "configured\\n", content_type: 'text/plain',
                                     headers: { 'x-from' => 'config' })
    RUBY
    srv = start_command_server(['-C', config, APP], workers: 2)
    workers = srv.worker_pids.sort
    assert_equal 2, workers.size

    # Each connection belongs to one worker: /from-config then an app request
    # on the same socket tells which worker answered the static route.
    answered_by = []
    60.times do
      sock = srv.socket
      reader = E2E::ResponseReader.new(sock)
      sock.write(request_text('GET', '/from-config'))
      static = reader.read_response
      assert_equal 200, static.status
      assert_equal "configured\n", static.body
      assert_equal 'config', static.headers['x-from']
      sock.write(request_text('GET', '/which', 'Connection' => 'close'))
      answered_by << reader.read_response.body[/pid=(\d+)/, 1].to_i
      sock.close
      break if answered_by.uniq.size == 2 && answered_by.size >= 20
    end
    assert_equal workers, answered_by.uniq.sort, 'the static route was not answered on connections of both workers'
  ensure
    FileUtils.rm_rf(dir) if dir
  end

  # --- handle: a light Request on a Ruby thread ---------------------------------

  def test_handle_route_gets_method_path_query_headers_and_body
    response = one_shot(server, 'GET', '/probe?a=1&b=two', 'X-Test' => 'hello')
    assert_equal 200, response.status
    assert_equal 'application/json', response.headers['content-type']
    method, path, query, header, body = JSON.parse(response.body)
    assert_equal 'GET', method
    assert_equal '/probe', path
    assert_equal 'a=1&b=two', query
    assert_equal 'hello', header, 'headers are keyed by lower-case name'
    assert_includes [nil, ''], body

    bare = JSON.parse(one_shot(server, 'GET', '/probe').body)
    assert_includes [nil, ''], bare[2], 'no query string'
    assert_nil bare[3], 'no x-test header'
  end

  def test_handle_post_route_gets_the_body
    payload = "name=widget&data=#{'z' * 5000}"
    response = one_shot(server, 'POST', '/submit?q=9', 'X-Test' => 'posted', 'Content-Type' => 'text/plain',
                                                      body: payload)
    assert_equal 201, response.status
    assert_equal 'submit', response.headers['x-handler']
    assert_equal ['POST', '/submit', 'q=9', 'posted', payload], JSON.parse(response.body)

    # Chunked request bodies arrive whole as well.
    sock = server.socket
    sock.write("POST /submit HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" \
               "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    chunked = E2E::ResponseReader.new(sock).read_response
    assert_equal 201, chunked.status
    assert_equal 'hello world', JSON.parse(chunked.body)[4]
    sock.close

    # GET /submit is not a handle route: the app answers.
    assert_match app_marker('GET', '/submit'), one_shot(server, 'GET', '/submit').body
  end

  def test_handle_route_exception_gives_500_and_the_server_carries_on
    response = one_shot(server, 'GET', '/boom')
    assert_equal 500, response.status
    # Development (the default) names the exception; the backtrace stays in the log.
    assert_equal "Internal Server Error\n\nRuntimeError: handler blew up on purpose\n", response.body

    # Same connection (if kept open) and a new one both keep working.
    sock = server.socket
    reader = E2E::ResponseReader.new(sock)
    sock.write(request_text('GET', '/boom'))
    failed = reader.read_response
    assert_equal 500, failed.status
    if failed.headers['connection'] == 'close'
      _rest, _seconds, eof = read_until_eof(sock, timeout: 3)
      assert eof, 'the 500 said Connection: close but the connection stayed open'
    else
      sock.write(request_text('GET', '/probe?after=boom'))
      after = reader.read_response
      assert_equal 200, after.status
      assert_equal 'after=boom', JSON.parse(after.body)[2]
    end
    sock.close
    assert_equal 'after=new', JSON.parse(one_shot(server, 'GET', '/probe?after=new').body)[2]
    assert_equal "OK\n", one_shot(server, 'GET', '/health').body
    assert_match app_marker('GET', '/x'), one_shot(server, 'GET', '/x').body
    assert_match(/handler blew up on purpose/, server.log, 'the exception is logged')
  ensure
    sock&.close
  end
end
