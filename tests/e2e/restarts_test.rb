# frozen_string_literal: true

require_relative 'support/process_helpers'

# Restarts that drop nothing: USR1 (phased restart, one worker at a time,
# each new one ready before the old one drains), TTIN/TTOU (one worker more
# or less), each under wrk load with keep-alive and with Connection: close,
# counting every socket error and non-2xx. And a phased restart whose new
# worker cannot boot: it stops there and the old workers keep serving.
class RestartsTest < Minitest::Test
  include E2E::Helpers

  APP = E2E.app('restart')

  def setup
    @tmp = Dir.mktmpdir('hyperion-restarts')
    @version = File.join(@tmp, 'version')
    @fail = File.join(@tmp, 'fail')
    File.write(@version, "v1\n")
  end

  def teardown
    super
    FileUtils.rm_rf(@tmp)
  end

  def boot(workers: 2, threads: 2, args: [])
    start_server(APP, workers: workers, threads: threads, args: args,
                      env: { 'APP_VERSION_FILE' => @version, 'APP_FAIL_FILE' => @fail })
  end

  # wrk for `seconds`, with `during` run in a thread once it has started.
  # Returns [requests, socket_errors, non_2xx, output].
  def under_load(server, seconds: 4, close: false, connections: 8, path: '/')
    skip 'wrk not installed (scripts/install-deps.sh test)' unless system('command -v wrk >/dev/null')
    args = ['wrk', '-t', '2', '-c', connections.to_s, '-d', "#{seconds}s", '--timeout', "#{5 * E2E::SLOW}s"]
    args += ['-H', 'Connection: close'] if close
    output = nil
    reader = Thread.new { output = IO.popen([*args, server.url(path)], err: %i[child out], &:read) }
    sleep 0.8
    yield
    reader.join
    requests = output[/(\d+) requests in/, 1].to_i
    errors = output[/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/] ? $~.captures.sum(&:to_i) : 0
    non2xx = output[/Non-2xx or 3xx responses: (\d+)/, 1].to_i
    [requests, errors, non2xx, output]
  end

  def assert_nothing_dropped(result, server)
    requests, errors, non2xx, output = result
    assert_operator requests, :>, 100, "wrk barely ran:\n#{output}\n#{server.log}"
    assert_equal 0, errors, "socket errors under load:\n#{output}\n#{server.log}"
    assert_equal 0, non2xx, "non-2xx under load:\n#{output}\n#{server.log}"
  end


  def versions(server, count: 12)
    Array.new(count) { server.http('/').body.split.first }.uniq.sort
  end

  def phased_restart_drops_nothing(close:)
    server = boot
    before = server.worker_pids.sort
    File.write(@version, "v2\n")
    result = under_load(server, close: close) do
      Process.kill('USR1', server.pid)
      await_log(server, /phased restart complete: 2 worker\(s\) replaced/)
    end
    assert_nothing_dropped(result, server)
    after = server.worker_pids.sort
    assert_equal 2, after.size, server.log
    assert_empty before & after, "every worker was replaced: #{before} -> #{after}\n#{server.log}"
    assert_equal ['v2'], versions(server), 'the new workers loaded the new code'
    # One at a time: the second replacement started after the first old worker was told to drain.
    log = server.log
    assert_operator log.index('worker 0 (pid'), :<, log.index('worker 1 replacement started'), log
  end

  def test_usr1_phased_restart_with_keep_alive_drops_nothing
    phased_restart_drops_nothing(close: false)
  end

  def test_usr1_phased_restart_with_connection_close_drops_nothing
    phased_restart_drops_nothing(close: true)
  end

  def test_usr1_finishes_a_slow_request_on_the_old_worker
    server = boot(workers: 1, threads: 2)
    slow = Thread.new { server.http('/?sleep=2', timeout: 30) }
    sleep 0.5 * E2E::SLOW
    Process.kill('USR1', server.pid)
    response = slow.value
    assert_equal '200', response.code, server.log
    assert_equal 'close', response['connection'], 'the draining worker closes after its last response'
    await_log(server, /phased restart complete: 1 worker\(s\) replaced/)
  end

  def test_a_replacement_that_cannot_boot_stops_the_phased_restart
    server = boot
    before = server.worker_pids.sort
    server.allow_problem(/\[critical\] cannot load .*boot failure requested/)
    File.write(@fail, 'yes')
    Process.kill('USR1', server.pid)
    await_log(server, /phased restart stopped after 0 of 2 worker\(s\): the new worker 0 \(pid \d+\) died during boot/)
    File.delete(@fail)
    sleep 0.5
    assert_equal before, server.worker_pids.sort, "the old workers keep serving\n#{server.log}"
    assert_equal ['v1'], versions(server)
    # A later USR1, once the app boots again, goes through.
    File.write(@version, "v3\n")
    Process.kill('USR1', server.pid)
    await_log(server, /phased restart complete: 2 worker\(s\) replaced/)
    assert_equal ['v3'], versions(server)
  end

  def test_usr1_with_preload_says_code_is_not_reloaded
    server = boot(args: ['--preload'])
    File.write(@version, "v2\n")
    Process.kill('USR1', server.pid)
    await_log(server, /phased restart complete: 2 worker\(s\) replaced/)
    assert_match(/SIGUSR1 with --preload: .*application code is NOT reloaded/, server.log)
    assert_equal ['v1'], versions(server), 'forked from the preloaded master: the old code'
  end

  def test_ttin_and_ttou_under_load_drop_nothing
    server = boot
    result = under_load(server, seconds: 5) do
      Process.kill('TTIN', server.pid)
      await_log(server, /worker 2 ready/)
      sleep 0.5
      Process.kill('TTOU', server.pid)
      await_log(server, /worker 2 \(pid \d+\) exited/)
    end
    assert_nothing_dropped(result, server)
    assert_match(/SIGTTIN: workers 2 -> 3/, server.log)
    assert_match(/SIGTTOU: workers 3 -> 2/, server.log)
    assert_equal 2, server.worker_pids.size, server.log
  end

  def test_ttou_with_connection_close_drops_nothing
    server = boot(workers: 3)
    result = under_load(server, close: true) do
      Process.kill('TTOU', server.pid)
      await_log(server, /worker 2 \(pid \d+\) exited/)
    end
    assert_nothing_dropped(result, server)
    assert_equal 2, server.worker_pids.size, server.log
  end

  def test_ttou_keeps_the_last_worker
    server = boot(workers: 1)
    Process.kill('TTOU', server.pid)
    await_log(server, /SIGTTOU: one worker left/)
    assert_equal '200', server.http('/').code
  end
end
