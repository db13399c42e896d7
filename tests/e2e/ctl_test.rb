# frozen_string_literal: true

require_relative 'support/process_helpers'
require 'json'

# `hyperion ctl` against a live server's admin listener: phased-restart
# --wait exits 0 once every worker is new and 1 with the reason when the new
# code cannot boot (the old workers keep serving); stop --wait returns once
# the server is gone; stats is JSON; a wrong token and no server are clear
# failures.
class CtlTest < Minitest::Test
  include E2E::Helpers

  APP = E2E.app('restart')
  TOKEN = 'ctl-token-12345678'

  def setup
    @tmp = Dir.mktmpdir('hyperion-ctl')
    @version = File.join(@tmp, 'version')
    @fail = File.join(@tmp, 'fail')
    @admin = File.join(@tmp, 'admin.sock')
    File.write(@version, "v1\n")
  end

  def teardown
    super
    FileUtils.rm_rf(@tmp)
  end

  def boot
    start_server(APP, workers: 2, threads: 2, args: ['--admin-bind', "unix://#{@admin}", '--admin-token', TOKEN],
                      env: { 'APP_VERSION_FILE' => @version, 'APP_FAIL_FILE' => @fail })
  end

  # [exit status, stdout, stderr]
  def ctl(*args, token: TOKEN)
    out, err, status = Open3.capture3({ 'HYPERION_ADMIN_TOKEN' => token }, E2E::BIN, 'ctl', *args,
                                      '--admin', "unix://#{@admin}")
    [status.exitstatus, out, err]
  end

  def test_phased_restart_wait_returns_once_every_worker_is_new
    server = boot
    before = server.worker_pids.sort
    File.write(@version, "v2\n")
    status, out, err = ctl('phased-restart', '--wait')
    assert_equal 0, status, "#{out}#{err}\n#{server.log}"
    assert_match(/phased restart 1 started\nphased restart 1 complete: 2 of 2 worker\(s\) ready/, out)
    assert_empty before & server.worker_pids, 'every worker was replaced by the time ctl returned'
    assert_equal ['v2'], Array.new(6) { server.http('/').body.split.first }.uniq
  end

  def test_phased_restart_wait_fails_with_the_reason_and_the_old_workers_serve
    server = boot
    before = server.worker_pids.sort
    File.write(@fail, 'x')
    status, out, err = ctl('phased-restart', '--wait')
    assert_equal 1, status, "#{out}#{err}"
    assert_match(/hyperion ctl: phased restart 1 failed: stopped after 0 of 2 worker\(s\): the new worker 0 \(pid \d+\) died during boot with status 3/, err)
    assert_equal before, server.worker_pids.sort
    assert_equal '200', server.http('/').code
    server.allow_problem(/cannot load/)
  end

  def test_a_second_restart_while_one_runs_is_refused
    server = boot
    File.write(@version, "v2\n")
    first = ctl('phased-restart')
    second = ctl('phased-restart')
    assert_equal 0, first[0], first.inspect
    assert_equal 1, second[0]
    assert_match(/phased restart refused: 409 a phased restart is already running/, second[2])
    await_log(server, /phased restart complete/)
  end

  def test_stats_is_json
    server = boot
    status, out, = ctl('stats')
    assert_equal 0, status
    stats = JSON.parse(out)
    assert_equal 2, stats['workers']
    assert_equal server.pid, stats['pid']
    assert_equal server.worker_pids.sort, stats['processes'].map { |p| p['pid'] }.sort
    assert_equal 0, ctl('ready')[0]
  end

  def test_stop_wait_returns_once_the_server_exited
    server = boot
    status, out, = ctl('stop', '--wait')
    assert_equal 0, status
    assert_equal "stopping\nstopped\n", out
    assert server.exited?, 'the master is gone when ctl returns'
    assert server.wait.success?
  end

  def test_failures_are_clear
    server = boot
    status, _, err = ctl('phased-restart', token: 'wrong-token-123')
    assert_equal 1, status
    assert_match(/phased restart refused: 401/, err)
    assert_equal server.worker_pids.size, 2
    FileUtils.rm_f(@admin)
    status, _, err = ctl('stats')
    assert_equal 1, status
    assert_match(/cannot reach the admin listener at unix:\/\/#{Regexp.escape(@admin)}: .*No such file/, err)
    status, _, err = ctl('hot-restart')
    assert_equal 1, status
    assert_match(/not implemented yet/, err)
    assert_equal 2, ctl('frobnicate')[0]
  end
end
