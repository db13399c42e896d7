# frozen_string_literal: true

require_relative 'support/process_helpers'

# Ruby objects allocated per request (docs/BENCHMARKS.md, "Allocations per
# request"), and what the server shares between requests to get there: the
# one empty rack.input, the per-thread rack.hijack, interned env values.
class AllocationsTest < Minitest::Test
  include E2E::Helpers

  # Server and app together, per Rack hello request. The app makes 3 (its
  # response Array, headers Hash and body Array); the server 3 (the env Hash,
  # PATH_INFO and REQUEST_URI). Counts are exact, not timings.
  MAX_OBJECTS_PER_HELLO = 6
  HELLO_REQUESTS = 2_000

  def shared_server
    # One Ruby thread, so that every request meets the same ThreadState.
    @shared_server ||= start_server(E2E.app('shared_objects'), threads: 1)
  end

  # The method of bench/alloc_audit.rb, on the same rackup: read the
  # process-wide GC.stat(:total_allocated_objects) through /__alloc around N
  # keep-alive hello requests (wrk's request: GET / with a Host header), minus
  # one probe's own cost.
  def test_hello_request_allocates_at_most_six_objects
    server = start_server(File.join(E2E::ROOT, 'bench/apps/alloc_audit.ru'), threads: 5,
                                                                              args: %w[-e production --no-access-log])
    sock = server.socket
    sock.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
    reader = E2E::ResponseReader.new(sock)
    get = lambda do |path|
      sock.write("GET #{path} HTTP/1.1\r\nHost: 127.0.0.1:#{server.port}\r\n\r\n")
      response = reader.read_response
      assert_equal 200, response.status, response.raw
      response.body
    end
    counter = -> { Integer(get.call('/__alloc')) }

    HELLO_REQUESTS.times { get.call('/') } # warm-up: method caches, interned values
    probe_cost = Array.new(5) { a = counter.call; counter.call - a }.min
    per_request = Array.new(3) do
      before = counter.call
      HELLO_REQUESTS.times { get.call('/') }
      (counter.call - before - probe_cost).fdiv(HELLO_REQUESTS)
    end
    app = Float(get.call('/__alloc_app'))

    assert_equal 3.0, app, 'the hello lambda itself should allocate 3 objects'
    # A handful of objects per round (not per request) come from Ruby's own
    # periodic work while the rounds run (seen: 3 per 2000 requests on the
    # epoll loop), hence the 0.01 slack; one more object per request is 1.0.
    assert_operator per_request.min, :<, MAX_OBJECTS_PER_HELLO + 0.01,
                    "objects per hello request (server + app), rounds: #{per_request.inspect}"
  ensure
    sock&.close
  end

  # ---- the shared empty rack.input ----

  def test_empty_input_reads_like_an_empty_binary_stringio
    report = JSON.parse(shared_server.http('/input').body)
    refute_empty report
    report.each { |name, ours, stringio| assert_same_answer stringio, ours, "rack.input##{name}" }
  end

  SPEC_CALL_COUNT = 9 # SPEC_CALLS in the app

  def test_empty_input_passes_rack_lint
    response = shared_server.http('/lint/input')
    assert_equal '200', response.code, response.body
    report = JSON.parse(response.body)
    assert_equal SPEC_CALL_COUNT, report.size
    report.each { |name, ours, stringio| assert_same_answer stringio, ours, "through Rack::Lint: #{name}" }
  end

  def test_bodyless_requests_share_one_frozen_input_and_one_hijack_per_thread
    first = JSON.parse(shared_server.http('/identity').body)
    second = JSON.parse(shared_server.http('/identity').body)
    assert_equal 'Hyperion::EmptyInput', first['input_class']
    assert first['input_frozen']
    assert_equal first['input'], second['input'], 'a request without a body got its own rack.input'
    assert_equal first['hijack'], second['hijack'], 'the thread made a new rack.hijack object'
  end

  def test_requests_with_a_body_keep_their_own_input
    response = shared_server.http('/post', method: :post, body: 'abc', headers: { 'Content-Type' => 'text/plain' })
    assert_equal 'StringIO:abc', response.body
    # and the next bodyless request still reads nothing
    assert_equal 'Hyperion::EmptyInput:', shared_server.http('/post').body
  end

  def assert_same_answer(stringio, ours, what)
    if stringio.nil?
      assert_nil ours, "#{what} differs from StringIO.new(''.b)"
    else
      assert_equal stringio, ours, "#{what} differs from StringIO.new(''.b)"
    end
  end

  # ---- which env values are shared (frozen) and which stay the app's ----

  def test_repeating_values_are_frozen_and_paths_stay_mutable
    request = "GET /values?x=1 HTTP/1.1\r\nHost: example.test:8080\r\nX-Twice: a\r\nX-Twice: b\r\nConnection: close\r\n\r\n"
    status, _headers, body = parse_response(shared_server.raw(request))
    assert_equal 200, status, body
    report = JSON.parse(body)
    expected = {
      'PATH_INFO' => ['/values', false], 'REQUEST_URI' => ['/values?x=1', false], 'QUERY_STRING' => ['x=1', false],
      'REMOTE_ADDR' => ['127.0.0.1', true], 'SERVER_NAME' => ['example.test', true], 'SERVER_PORT' => ['8080', true],
      'HTTP_HOST' => ['example.test:8080', true], 'HTTP_X_TWICE' => ['a, b', true]
    }
    expected.each do |key, (value, frozen)|
      assert_equal({ 'value' => value, 'frozen' => frozen, 'encoding' => 'ASCII-8BIT' }, report[key], key)
    end
    assert_equal '/values/more', report['PATH_INFO after <<']

    # An empty QUERY_STRING is the one shared frozen "" (as Puma's is).
    report = JSON.parse(shared_server.http('/values').body)
    assert_equal({ 'value' => '', 'frozen' => true, 'encoding' => 'ASCII-8BIT' }, report['QUERY_STRING'])
    assert_equal false, report['PATH_INFO']['frozen']
  end

  # ---- the per-thread rack.hijack ----

  def test_hijack_works_on_every_request_of_the_same_thread
    3.times do |i|
      assert_equal '200', shared_server.http('/identity').code, "normal request #{i}"
      out = shared_server.raw("GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n", timeout: 5)
      assert_equal "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked", out, "hijack #{i}"
    end
  end

  def test_stale_hijack_called_after_its_request_raises
    assert_equal 'stashed', shared_server.http('/stash_hijack_idle').body
    # The stash's thread calls it 0.5 s later, while the only server thread is idle.
    sleep 1
    assert_equal 'IOError: rack.hijack called after its request finished', shared_server.http('/stale_result').body
    assert_equal '200', shared_server.http('/identity').code
  end

  def test_stale_hijack_called_by_another_thread_during_a_later_request_raises
    assert_equal 'stashed', shared_server.http('/stash_hijack_busy').body
    # /fire runs on the server thread that served the stash; the old object,
    # called from another thread now, must not take /fire's connection.
    response = shared_server.http('/fire')
    assert_equal '200', response.code
    assert_equal 'IOError: rack.hijack must be called by the thread serving its request', response.body
    assert_equal '200', shared_server.http('/identity').code
  end
end
