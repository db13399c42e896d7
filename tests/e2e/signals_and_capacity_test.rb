# frozen_string_literal: true

require_relative 'support/process_helpers'

# Capacity-aware accept (a worker whose Ruby threads are all busy leaves new
# connections to one that has a free thread), what a graceful stop does to
# new connections, and stops that must not wait: a second TERM/INT, or QUIT.
class SignalsAndCapacityTest < Minitest::Test
  include E2E::Helpers

  APP = E2E.app('signals')

  def setup
    @tmp = Dir.mktmpdir('hyperion-signals')
    @marker = File.join(@tmp, 'marker')
    @config = File.join(@tmp, 'hooks.rb')
    File.write(@config, <<~RUBY)
      on_worker_shutdown { |index| File.open(#{@marker.inspect}, 'a') { |f| f.puts "on_worker_shutdown \#{index}" } }
    RUBY
  end

  def teardown
    super
    FileUtils.rm_rf(@tmp)
  end

  def boot(workers:, threads: 1, args: [])
    start_server(APP, workers: workers, threads: threads, args: ['-C', @config, *args],
                      env: { 'MARKER' => @marker })
  end

  def slow_request(server, seconds)
    Thread.new do
      server.http("/slow?s=#{seconds}", timeout: 30)
    rescue StandardError => e
      e
    end
  end

  def marker_lines = File.exist?(@marker) ? File.readlines(@marker, chomp: true) : []

  # Listening TCP sockets on port, from /proc (no ss/netstat needed).
  def listening_sockets(port)
    %w[/proc/net/tcp /proc/net/tcp6].sum do |table|
      next 0 unless File.exist?(table)

      File.readlines(table).drop(1).count do |line|
        local, _remote, state = line.split[1, 3]
        state == '0A' && local.split(':').last.to_i(16) == port
      end
    end
  end

  # ---- capacity-aware accept ----

  def test_busy_worker_leaves_new_connections_to_an_idle_one
    server = boot(workers: 2, threads: 1)
    slow = slow_request(server, 3)
    sleep 0.5 * E2E::SLOW # the slow request is in the app, its worker's only thread busy
    results = Array.new(8) do
      Thread.new do
        started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
        response = server.http('/')
        [response.code, Integer(response.body), Process.clock_gettime(Process::CLOCK_MONOTONIC) - started]
      end
    end.map(&:value)
    slow_pid = Integer(slow.value.body[/\d+/])
    results.each do |code, _pid, seconds|
      assert_equal '200', code
      assert_operator seconds, :<, 0.5 * E2E::SLOW, "a request waited behind the busy worker: #{results.inspect}"
    end
    refute_includes results.map { |r| r[1] }, slow_pid, 'the busy worker took a new connection'
  end

  def test_one_shared_listening_socket_unless_reuse_port
    shared = boot(workers: 2)
    assert_equal 1, listening_sockets(shared.port), 'workers share one socket by default'
    per_worker = boot(workers: 2, args: ['--reuse-port'])
    assert_equal 2, listening_sockets(per_worker.port), '--reuse-port: one socket per worker'
    workers = per_worker.worker_pids.sort
    assert_equal workers, serving_pids_under_load(per_worker, parallel: 6, expect: workers, rounds: 10)
    assert_equal '200', per_worker.http('/').code
  end

  # ---- graceful stop ----

  # While workers finish what they have, a new connection is served by a
  # worker still listening or refused at once: never left in a backlog.
  def check_new_connections_during_graceful_stop(workers)
    server = boot(workers: workers, threads: 1)
    slow = slow_request(server, 2)
    sleep 0.5 * E2E::SLOW
    Process.kill('TERM', server.pid)
    sleep 0.2
    outcomes = []
    deadline = Time.now + 1
    while Time.now < deadline
      started = Time.now
      outcome = begin
        server.http('/', timeout: 1).code
      rescue Errno::ECONNREFUSED
        'refused'
      rescue StandardError => e
        "#{e.class} after #{(Time.now - started).round(2)}s"
      end
      outcomes << outcome
      sleep 0.05
    end
    assert_empty outcomes - %w[200 refused], "new connections during a graceful stop: #{outcomes.tally}\n#{server.log}"
    assert_equal '200', slow.value.code, 'the in-flight request still finishes'
    status = server.wait(timeout: 30)
    assert status.success?, server.log
  end

  def test_graceful_stop_refuses_new_connections_with_workers
    check_new_connections_during_graceful_stop(2)
  end

  def test_graceful_stop_refuses_new_connections_single_process
    check_new_connections_during_graceful_stop(0)
  end

  # ---- immediate stops ----

  # The in-flight request is interrupted (its ensure runs), the hooks and
  # at_exit run, and the process is gone within about a second.
  def check_immediate_stop(workers:, signals:)
    server = boot(workers: workers, threads: 2)
    serving = workers.zero? ? [server.pid] : server.worker_pids
    slow = slow_request(server, 20)
    sleep 0.5 * E2E::SLOW
    started = Time.now
    signals.each_with_index do |signal, i|
      sleep 0.3 if i.positive?
      Process.kill(signal, server.pid)
    end
    status = server.wait(timeout: 10 * E2E::SLOW)
    elapsed = Time.now - started - 0.3 * (signals.size - 1)
    assert_operator elapsed, :<, 1.5 * E2E::SLOW, "stopping took #{elapsed.round(2)}s\n#{server.log}"
    assert status.success?, "exit status #{status.inspect}\n#{server.log}"
    response = slow.value
    refute_equal 'slow done', (response.respond_to?(:body) ? response.body.to_s[/slow done/] : nil)
    lines = marker_lines
    assert_equal 1, lines.grep(/\Ainterrupted /).size, lines.inspect
    hooks = lines.grep(/\Aon_worker_shutdown /).sort
    assert_equal Array.new([workers, 1].max) { |i| "on_worker_shutdown #{i}" }, hooks
    exits = lines.grep(/\Aat_exit /).map { |l| Integer(l.split.last) }.sort
    assert_equal serving.sort, exits, "at_exit in every serving process: #{lines.inspect}"
    refute_match(/sending KILL/, server.log)
  end

  def test_second_term_is_immediate_with_workers
    check_immediate_stop(workers: 2, signals: %w[TERM TERM])
  end

  def test_quit_is_immediate_with_workers
    check_immediate_stop(workers: 2, signals: %w[QUIT])
  end

  def test_second_int_is_immediate_single_process
    check_immediate_stop(workers: 0, signals: %w[INT INT])
  end

  def test_quit_is_immediate_single_process
    check_immediate_stop(workers: 0, signals: %w[QUIT])
  end
end
