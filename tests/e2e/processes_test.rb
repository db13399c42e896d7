# frozen_string_literal: true

require_relative 'support/process_helpers'

# The process model: workers, replacement of dead workers, signals, the
# pidfile, and how the binary fails on bad input.
class ProcessesTest < Minitest::Test
  include E2E::Helpers

  PID_APP = E2E.app('proc_pid')
  SYNTAX_ERROR_APP = E2E.app('syntax_error')
  VERSION = File.read(File.join(E2E::ROOT, 'CMakeLists.txt'))[/project\(hyperion VERSION (\S+)/, 1]

  # ---- workers ----

  def test_two_workers_both_serve
    server = start_server(PID_APP, workers: 2)
    workers = server.worker_pids.sort
    assert_equal 2, workers.size, server.log
    refute_includes workers, server.pid
    assert_equal workers, serving_pids_under_load(server, parallel: 6, expect: workers)
  end

  def test_killed_worker_is_replaced
    server = start_server(PID_APP, workers: 2)
    before = server.worker_pids.sort
    assert_equal 2, before.size
    victim = before.first
    Process.kill('KILL', victim)
    after = eventually(message: -> { "worker not replaced:\n#{server.log}" }) do
      pids = server.worker_pids.sort
      pids.size == 2 && !pids.include?(victim) && server.log.scan(/worker \d+ ready/).size >= 3 && pids
    end
    assert_includes after, before.last
    assert_equal after, serving_pids_under_load(server, parallel: 6, expect: after)
    refute server.exited?
    index = server.log[/worker (\d) started \(pid #{victim}\)/, 1]
    died = server.log.lines.grep(/died/).map { |l| l.split('] ', 4).last.chomp }
    assert_equal ["worker #{index} (pid #{victim}) died with signal KILL (9) from outside hyperion (kill -9, or an OOM " \
                  'kill its cgroup did not count; see dmesg); restarting it'], died
  end

  # ---- signals ----

  def test_term_finishes_in_flight_request_then_exits_zero
    server = start_server(PID_APP, workers: 2)
    workers = server.worker_pids
    started = Time.now
    request = Thread.new { server.http('/slow', timeout: 20) }
    sleep 0.5 # let the request reach the app
    status = server.stop('TERM', timeout: 30)
    response = request.value
    assert_equal '200', response.code
    assert_match(/\Aslow done by (#{workers.join('|')})\z/, response.body)
    assert_operator Time.now - started, :>=, 1.9
    assert status.exited? && status.exitstatus.zero?, "exit status #{status.inspect}\n#{server.log}"
    assert_empty server.worker_pids
    assert_match(/master exiting/, server.log)
  end

  def test_term_single_process_finishes_in_flight_request
    server = start_server(PID_APP, workers: 0)
    request = Thread.new { server.http('/slow', timeout: 20) }
    sleep 0.5
    status = server.stop('TERM', timeout: 30)
    assert_equal "slow done by #{server.pid}", request.value.body
    assert status.exited? && status.exitstatus.zero?, "exit status #{status.inspect}\n#{server.log}"
  end

  def test_quit_exits_promptly_despite_a_long_request
    server = start_server(PID_APP, workers: 2)
    request = Thread.new do
      server.http('/sleep10', timeout: 20)
    rescue StandardError => e
      e
    end
    sleep 0.5
    started = Time.now
    status = server.stop('QUIT', timeout: 30)
    elapsed = Time.now - started
    assert_operator elapsed, :<, 4, "QUIT took #{elapsed}s\n#{server.log}"
    assert status.exited? && status.exitstatus.zero?, "exit status #{status.inspect}\n#{server.log}"
    result = request.value
    refute_equal 'too late', (result.respond_to?(:body) ? result.body : nil)
  end

  # ---- pidfile ----

  def test_pidfile_written_and_removed_with_workers
    check_pidfile(workers: 2)
  end

  def test_pidfile_written_and_removed_single_process
    check_pidfile(workers: 0)
  end

  def check_pidfile(workers:)
    pidfile = File.join(Dir.mktmpdir('hyperion-pid'), 'hyperion.pid')
    server = start_server(PID_APP, workers: workers, args: ['-P', pidfile])
    assert_equal "#{server.pid}\n", File.read(pidfile)
    status = server.stop('TERM')
    assert status.success?, "exit status #{status.inspect}\n#{server.log}"
    refute File.exist?(pidfile), 'pidfile left behind after TERM'
  ensure
    FileUtils.rm_rf(File.dirname(pidfile)) if pidfile
  end

  # ---- failures at startup ----

  def test_missing_rackup_exits_1_naming_the_file
    missing = '/nonexistent/e2e/missing.ru'
    status, log = E2E.run_to_exit(['-b', 'tcp://127.0.0.1:0', missing])
    assert_equal 1, status.exitstatus, log
    assert_includes log, "hyperion: rackup file #{missing} not found"
    assert_empty E2E.crash_lines(log)
  end

  def test_syntax_error_single_process_exits_1_with_file_and_line
    check_syntax_error(0)
  end

  def test_syntax_error_with_workers_exits_1_with_file_and_line
    check_syntax_error(2)
  end

  def check_syntax_error(workers)
    status, log, elapsed = E2E.run_to_exit(['-w', workers.to_s, '-b', 'tcp://127.0.0.1:0', SYNTAX_ERROR_APP])
    assert_includes log, "cannot load #{SYNTAX_ERROR_APP}: #{SYNTAX_ERROR_APP}:5: syntax error"
    assert_operator elapsed, :<, 15, log
    assert_empty E2E.crash_lines(log)
    assert_equal 1, status.exitstatus, "workers=#{workers}: #{status.inspect}\n#{log}"
  end

  # A failed boot must not print Ruby's "unexpected next" / "unexpected return"
  # (what ruby_cleanup says when handed an exit status instead of a tag state).
  def test_boot_failure_prints_no_ruby_jump_tag_noise
    logs = %w[0 2].to_h { |w| [w, E2E.run_to_exit(['-w', w, '-b', 'tcp://127.0.0.1:0', SYNTAX_ERROR_APP])[1]] }
    noise = logs.transform_values { |log| log.lines.grep(/\Ahyperion: unexpected/) }
    assert_equal({ '0' => [], '2' => [] }, noise, logs.map { |w, log| "-w #{w}:\n#{log}" }.join("\n"))
  end

  def test_unknown_long_flag_exits_2_with_usage
    out, err, status = Open3.capture3(E2E::BIN, '--no-such-flag')
    assert_equal 2, status.exitstatus
    assert_equal '', out
    assert err.start_with?("hyperion: unknown option --no-such-flag\n\nUsage: hyperion [options] [rackup]"), err
  end

  def test_unknown_short_flag_exits_2_with_usage
    _out, err, status = Open3.capture3(E2E::BIN, '-z')
    assert_equal 2, status.exitstatus
    assert err.start_with?("hyperion: unknown option -z\n\nUsage: hyperion"), err
  end

  def test_version_flag
    %w[-v --version].each do |flag|
      out, err, status = Open3.capture3(E2E::BIN, flag)
      assert_equal 0, status.exitstatus
      assert_equal "hyperion #{VERSION}\n", out
      assert_equal '', err
    end
  end

  def test_help_flag
    %w[-h --help].each do |flag|
      out, _err, status = Open3.capture3(E2E::BIN, flag)
      assert_equal 0, status.exitstatus
      assert out.start_with?('Usage: hyperion [options] [rackup]'), out
      %w[--workers --threads --bind --pidfile --config --version --help].each { |f| assert_includes out, f }
    end
  end

  def test_port_in_use_by_another_program_exits_nonzero
    holder = TCPServer.new('127.0.0.1', 0)
    port = holder.addr[1]
    %w[0 2].each do |workers|
      status, log = E2E.run_to_exit(['-w', workers, '-b', "tcp://127.0.0.1:#{port}", PID_APP])
      refute status.success?, "-w #{workers} started on a busy port:\n#{log}"
      assert_includes log, "bind 127.0.0.1:#{port}: Address already in use"
    end
  ensure
    holder&.close
  end

  def test_port_in_use_by_another_hyperion_exits_nonzero
    first = start_server(PID_APP, workers: 2)
    second = start_command_server(['-w', '2', '-b', "tcp://127.0.0.1:#{first.port}", PID_APP], wait: false)
    outcome = eventually(message: -> { "second server neither failed nor served:\n#{second.log}" }) do
      if second.exited? then :exited
      elsif second.log.include?('worker 1 ready') then :serving
      end
    end
    assert_equal :exited, outcome,
                 "a second hyperion started on port #{first.port}, already served by pid #{first.pid}:\n#{second.log}"
    refute second.stop.success?, second.log
    assert_includes second.log, "bind 127.0.0.1:#{first.port}: Address already in use"
  end
end
