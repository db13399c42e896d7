# frozen_string_literal: true

require_relative 'support/process_helpers'

# --worker-timeout: a worker whose event loop stops checking in (here the
# whole process is SIGSTOPped, as a loop stuck in C would look) is killed
# and replaced; a worker busy in a slow Ruby request keeps checking in.
class WorkerHealthTest < Minitest::Test
  include E2E::Helpers

  APP = E2E.app('restart')

  def boot(args)
    start_server(APP, workers: 2, threads: 2, args: args)
  end


  def test_a_stopped_worker_is_killed_and_replaced
    server = boot(['--worker-timeout', '2s'])
    victim = server.worker_pids.min
    Process.kill('STOP', victim)
    await_log(server, /worker \d \(pid #{victim}\) has not checked in for [23] s .*killing it and starting another/)
    await_log(server, /worker \d \(pid #{victim}\) died with signal KILL/)
    deadline = Time.now + 10 * E2E::SLOW
    sleep 0.1 until server.log.scan(/worker \d+ ready/).size >= 3 || Time.now > deadline
    pids = server.worker_pids
    assert_equal 2, pids.size, server.log
    refute_includes pids, victim
    5.times { assert_equal '200', server.http('/').code }
  end

  def test_a_slow_request_is_not_a_stuck_worker
    server = boot(['--worker-timeout', '2s'])
    before = server.worker_pids.sort
    response = server.http('/?sleep=4', timeout: 30)
    assert_equal '200', response.code
    assert_equal before, server.worker_pids.sort, server.log
    refute_match(/has not checked in/, server.log)
  end

  def test_off_never_kills
    server = boot(['--worker-timeout', 'off'])
    victim = server.worker_pids.min
    Process.kill('STOP', victim)
    sleep 3
    assert_includes server.worker_pids, victim
    refute_match(/has not checked in/, server.log)
  ensure
    Process.kill('CONT', victim) if victim
  end

  def test_a_too_short_timeout_is_refused
    status, output, = E2E.run_to_exit(['--worker-timeout', '1s', APP])
    refute status.success?
    assert_match(/worker-timeout.*at least 2s/, output)
  end
end
