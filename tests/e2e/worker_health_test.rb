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

  def test_max_requests_recycles_each_worker_without_dropping_a_request
    skip 'wrk not installed (scripts/install-deps.sh test)' unless system('command -v wrk >/dev/null')
    server = boot(['--worker-max-requests', '2000'])
    before = server.worker_pids
    output = IO.popen(['wrk', '-t', '2', '-c', '8', '-d', '4s', '--timeout', "#{5 * E2E::SLOW}s", server.url('/')],
                      err: %i[child out], &:read)
    assert_operator output[/(\d+) requests in/, 1].to_i, :>, 4000, output
    refute_match(/Socket errors|Non-2xx/, output, "#{output}\n#{server.log}")
    recycled = server.log.scan(/worker \d \(pid \d+\) is recycled: (\d+) requests served \(max_requests 2000, (\d+) with its jitter\)/)
    refute_empty recycled, server.log
    recycled.each do |served, limit|
      assert_operator limit.to_i, :>=, 2000
      assert_operator limit.to_i, :<=, 2200
      assert_operator served.to_i, :>=, limit.to_i
    end
    await_log(server, /worker \d recycled \(max_requests\)/)
    eventually { server.worker_pids.size == 2 && (server.worker_pids & before).size < 2 }
    assert_equal '200', server.http('/').code
  end

  def test_max_rss_recycles_a_worker_that_grew
    server = boot(['--worker-max-rss-mb', '100'])
    grown = Integer(server.http('/grow?mb=150').body)
    match = await_log(server, /worker (\d) \(pid #{grown}\) is recycled: resident memory (\d+) MiB \(max_rss 100 MiB\)/)
    assert_operator match[2].to_i, :>=, 100
    await_log(server, /worker #{match[1]} \(pid #{grown}\) recycled: draining/)
    await_log(server, /worker #{match[1]} recycled \(max_rss\)/)
    eventually { !server.worker_pids.include?(grown) && server.worker_pids.size == 2 }
    5.times { assert_equal '200', server.http('/').code }
  end

  def test_max_age_recycles_one_worker_at_a_time
    server = boot(['--worker-max-age', '10s'])
    before = server.worker_pids.sort
    await_log(server, /worker \d \(pid \d+\) is recycled: 1\d s old \(max_age 10 s, with its jitter\)/,
              timeout: 30)
    eventually(timeout: 40) { (server.worker_pids & before).empty? && server.worker_pids.size == 2 }
    log = server.log
    first = log.index('recycled (max_age)')
    second = log.index('is recycled', log.index('is recycled') + 1)
    assert first, log
    assert(second.nil? || second > first, "the second recycle began after the first ended:\n#{log}")
  end

  # A memory cgroup of its own (v1 or v2, as root) with a 300 MiB limit: a
  # worker that grows past it is killed by the kernel, and the master says so.
  def memory_cgroup
    skip 'an OOM kill needs root (a memory cgroup of its own)' unless Process.uid.zero?
    own = File.read('/proc/self/cgroup').lines.map { |l| l.chomp.split(':', 3) }
    if (v1 = own.find { |_, controllers, _| controllers.split(',').include?('memory') }) &&
       File.directory?('/sys/fs/cgroup/memory')
      dir = File.join('/sys/fs/cgroup/memory', v1[2], "hyperion-oom-#{Process.pid}")
      limits = { 'memory.limit_in_bytes' => 300 << 20, 'memory.memsw.limit_in_bytes' => 300 << 20 }
    elsif (v2 = own.find { |id, controllers, _| id == '0' && controllers.empty? }) &&
          File.read('/sys/fs/cgroup/cgroup.controllers').split.include?('memory')
      dir = File.join('/sys/fs/cgroup', v2[2], "hyperion-oom-#{Process.pid}")
      limits = { 'memory.max' => 300 << 20, 'memory.swap.max' => 0 }
    else
      skip 'no memory cgroup controller here'
    end
    Dir.mkdir(dir)
    limits.each { |file, value| File.write(File.join(dir, file), value.to_s) if File.exist?(File.join(dir, file)) }
    dir
  rescue Errno::EACCES, Errno::EPERM, Errno::EROFS, Errno::ENOENT => e
    skip "cannot make a memory cgroup: #{e.message}"
  end

  def test_an_oom_killed_worker_is_logged_as_such
    group = memory_cgroup
    server = start_server(APP, workers: 2, threads: 2,
                               wrapper: ['sh', '-c', "echo $$ > #{group}/cgroup.procs && exec \"$@\"", 'sh'])
    before = server.worker_pids
    40.times do
      break unless (before - server.worker_pids).empty?

      server.net_http(read_timeout: 10) { |h| h.get('/grow?mb=40') }
    rescue EOFError, Errno::ECONNRESET, Net::ReadTimeout
      break # the worker answering was the one killed
    end
    match = await_log(server, /worker (\d) \(pid (\d+)\) died with signal KILL \(9\): killed by the kernel's OOM killer/)
    assert_includes before, Integer(match[2])
    eventually { server.log.scan(/worker \d ready/).size >= 3 && server.worker_pids.size == 2 } # replaced
    assert_equal '200', server.http('/').code
  ensure
    server&.stop
    Dir.rmdir(group) if group && File.directory?(group) rescue nil
  end

  def test_a_too_short_timeout_is_refused
    status, output, = E2E.run_to_exit(['--worker-timeout', '1s', APP])
    refute status.success?
    assert_match(/worker-timeout.*at least 2s/, output)
  end
end
