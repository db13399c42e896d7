# frozen_string_literal: true

require_relative 'support/process_helpers'

# The admin listener (--admin-bind): /-/metrics summed over every worker in
# one scrape, counters that survive a phased restart, /-/ready flipping to
# 503 while booting and while draining, tokens, /-/quit, and -w 0.
class ObservabilityTest < Minitest::Test
  include E2E::Helpers

  APP = E2E.app('metrics')
  TOKEN = 'control-token-1234'
  METRICS_TOKEN = 'metrics-token-5678'

  def boot(workers: 2, threads: 1, args: [], **opts)
    start_server(APP, workers: workers, threads: threads, args: ['--admin-bind', 'tcp://127.0.0.1:0', *args], **opts)
  end

  def admin_port(server)
    Integer(await_log(server, %r{admin listener on http://127\.0\.0\.1:(\d+)})[1])
  end

  def admin(server, path, method: :get, token: nil)
    Net::HTTP.start('127.0.0.1', admin_port(server), open_timeout: 5, read_timeout: 10 * E2E::SLOW) do |h|
      req = Net::HTTP.const_get(method.to_s.capitalize).new(path)
      req['Authorization'] = "Bearer #{token}" if token
      h.request(req)
    end
  end

  # {"name{labels}" => value} of one scrape.
  def scrape(server, token: nil)
    response = admin(server, '/-/metrics', token: token)
    assert_equal '200', response.code, response.body
    assert_match(%r{\Atext/plain; version=0\.0\.4}, response['content-type'])
    response.body.lines.reject { |l| l.start_with?('#') }.to_h do |line|
      name, value = line.rpartition(' ').values_at(0, 2)
      [name, Float(value)]
    end
  end

  def test_one_scrape_counts_every_worker
    server = boot
    pids = serving_pids_under_load(server, parallel: 2, expect: server.worker_pids)
    assert_equal server.worker_pids.sort, pids, 'both workers served /hold'
    holds = scrape(server)['hyperion_request_duration_seconds_count{method="GET",path="/hold",status="2xx"}']
    6.times { |i| assert_equal '200', server.http("/users/#{i + 1}").code }
    3.times { assert_equal '404', server.http('/missing').code }
    assert_equal '431', server.http('/', headers: { 'x-big' => 'a' * 70_000 }).code
    metrics = scrape(server)

    assert_equal holds + 6, metrics['hyperion_requests_total{status="200"}']
    assert_equal 3, metrics['hyperion_requests_total{status="404"}']
    assert_equal 1, metrics['hyperion_rejections_total{status="431"}']
    assert_equal 6, metrics['hyperion_request_duration_seconds_count{method="GET",path="/users/:id",status="2xx"}']
    assert_equal 3, metrics['hyperion_request_duration_seconds_count{method="GET",path="/missing",status="4xx"}']
    assert_equal 6, metrics['hyperion_request_duration_seconds_bucket{method="GET",path="/users/:id",status="2xx",le="+Inf"}']
    # /hold sleeps 0.3 s: none of them is in the 0.25 s bucket, all in 0.5 s.
    assert_equal 0, metrics['hyperion_request_duration_seconds_bucket{method="GET",path="/hold",status="2xx",le="0.25"}']
    assert_equal holds, metrics['hyperion_request_duration_seconds_bucket{method="GET",path="/hold",status="2xx",le="0.5"}']
    assert_equal holds + 9, metrics['hyperion_queue_time_seconds_count'], 'every Ruby request waited for a thread once'
    %w[0 1].each do |worker|
      assert_equal 1, metrics["hyperion_threads{worker=\"#{worker}\"}"]
      assert_operator metrics["hyperion_worker_rss_bytes{worker=\"#{worker}\"}"], :>, 1_000_000
      assert metrics.key?("hyperion_connections_open{worker=\"#{worker}\"}")
    end
    assert_equal 2, metrics['hyperion_workers']
    assert_equal 2, metrics['hyperion_workers_ready']
    assert_equal 1, metrics['hyperion_ready']
    assert_operator metrics['hyperion_bytes_received_total'], :>, 70_000
    assert_operator metrics['hyperion_connections_accepted_total'], :>=, holds + 10
  end

  # The dashboard and the docs name only metrics a scrape really has.
  def test_the_dashboard_and_docs_name_real_metrics
    server = boot(workers: 1)
    body = admin(server, '/-/metrics').body
    exported = body.scan(/^# TYPE (\w+) /).flatten
    named = ->(text) { text.scan(/hyperion_[a-z0-9_]+/).map { |n| n.sub(/_(bucket|sum|count)\z/, '') }.uniq }
    dashboard = named.call(File.read(File.join(E2E::ROOT, 'docs/grafana/hyperion.json')))
    docs = named.call(File.read(File.join(E2E::ROOT, 'docs/OBSERVABILITY.md')))
    assert_operator dashboard.size, :>=, 10
    assert_empty dashboard - exported, 'the dashboard queries metrics that do not exist'
    assert_empty docs - exported, 'docs/OBSERVABILITY.md names metrics that do not exist'
    assert_empty exported - docs, 'metrics missing from docs/OBSERVABILITY.md'
  end

  def test_counters_survive_a_phased_restart
    server = boot
    4.times { assert_equal '200', server.http('/users/1').code }
    old = server.worker_pids
    Process.kill('USR1', server.pid)
    await_log(server, /phased restart complete: 2 worker\(s\) replaced/)
    eventually { (server.worker_pids & old).empty? }
    3.times { assert_equal '200', server.http('/users/2').code }
    metrics = scrape(server)
    assert_equal 7, metrics['hyperion_request_duration_seconds_count{method="GET",path="/users/:id",status="2xx"}']
    assert_equal 2, metrics['hyperion_worker_restarts_total{reason="phased_restart"}']
  end

  def test_ready_is_503_while_booting_then_200
    server = boot(workers: 2, env: { 'APP_BOOT_SLEEP' => '2' }, wait: false)
    response = admin(server, '/-/ready')
    assert_equal '503', response.code
    assert_match(/not ready: booting: 0 of 2 workers ready/, response.body)
    assert_equal '200', admin(server, '/-/live').code
    server.wait_until_ready
    assert_equal '200', eventually { (r = admin(server, '/-/ready')).code == '200' && r }.code
  end

  def test_ready_is_503_while_draining
    server = boot(workers: 1, args: ['--graceful-timeout', '20s'])
    port = admin_port(server)
    slow = Thread.new { server.http('/slow?s=3', timeout: 30) }
    eventually { scrape(server)['hyperion_threads_busy{worker="0"}'] == 1 }  # the slow request is running
    Process.kill('TERM', server.pid)
    await_log(server, /graceful stop/)
    response = Net::HTTP.get_response(URI("http://127.0.0.1:#{port}/-/ready"))
    assert_equal '503', response.code
    assert_match(/draining/, response.body)
    assert_equal '200', slow.value.code, 'the in-flight request finished'
    assert server.wait.success?
  end

  def test_tokens_guard_metrics_and_quit
    server = boot(workers: 1, args: ['--admin-token', TOKEN, '--admin-metrics-token', METRICS_TOKEN])
    assert_equal '401', admin(server, '/-/metrics').code
    assert_equal '401', admin(server, '/-/metrics', token: 'wrong-token-0000').code
    assert_equal '200', admin(server, '/-/metrics', token: METRICS_TOKEN).code
    assert_equal '200', admin(server, '/-/metrics', token: TOKEN).code
    assert_equal '401', admin(server, '/-/quit', method: :post, token: METRICS_TOKEN).code
    assert_match(/admin: refused \/-\/quit from 127\.0\.0\.1: wrong token/, server.log)
    response = admin(server, '/-/quit', method: :post, token: TOKEN)
    assert_equal '202', response.code
    assert server.wait.success?, server.log
    assert_match(%r{admin: /-/quit from 127\.0\.0\.1: graceful stop}, server.log)
  end

  def test_quit_is_off_without_a_token
    server = boot(workers: 1)
    assert_equal '403', admin(server, '/-/quit', method: :post).code
    assert_equal '200', server.http('/').code
  end

  def test_single_process_answers_its_own_admin_listener
    server = boot(workers: 0, args: ['--admin-token', TOKEN])
    5.times { assert_equal '200', server.http('/users/9').code }
    metrics = scrape(server, token: TOKEN)
    assert_equal 5, metrics['hyperion_request_duration_seconds_count{method="GET",path="/users/:id",status="2xx"}']
    assert_equal 1, metrics['hyperion_workers_ready']
    assert_equal '200', admin(server, '/-/ready').code
    assert_equal '202', admin(server, '/-/quit', method: :post, token: TOKEN).code
    assert server.wait.success?, server.log
  end

  def test_the_app_listener_does_not_answer_admin_paths
    server = boot(workers: 1)
    response = server.http('/-/metrics')
    assert_equal '200', response.code
    assert_equal "app /-/metrics\n", response.body
  end

  def test_a_bad_admin_bind_is_refused
    status, output, = E2E.run_to_exit(['--admin-bind', 'ssl://127.0.0.1:0', APP])
    refute status.success?
    assert_match(/--admin-bind expects tcp:\/\/HOST:PORT or unix:\/\/\/PATH/, output)
    status, output, = E2E.run_to_exit(['--admin-token', 'short', APP])
    refute status.success?
    assert_match(/--admin-token expects a token of at least 8 characters/, output)
  end
end
