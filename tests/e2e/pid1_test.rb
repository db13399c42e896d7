# frozen_string_literal: true

require_relative 'support/process_helpers'

# Hyperion as PID 1, the way a container without an init runs it: the real
# binary is started by `unshare --pid --fork --mount-proc`, so it is PID 1 of a
# new pid namespace (no Docker needed). Checked with -w 2 and with -w 0: it
# serves, TERM sent from outside stops it gracefully with status 0, and an
# orphan re-parented to it is reaped (no <defunct> left behind).
#
# With -w 0, PID 1 forks once and stays behind as the init (proc/pid1.hpp).
# Kernel#system returns in a worker, PID 1 or not (the worker gets Ruby's
# SIGCHLD handler back from the master's signal pipe).
class Pid1Test < Minitest::Test
  include E2E::Helpers

  APP = E2E.app('orphans')
  UNSHARE = %w[unshare --pid --fork --mount-proc --kill-child].freeze

  def setup
    skip 'needs root for unshare --pid --mount-proc' unless Process.uid.zero?
    return if self.class.unshare_works?

    skip 'unshare --pid --fork --mount-proc does not work here (util-linux; a container may forbid namespaces)'
  end

  def self.unshare_works?
    @unshare_works = system(*UNSHARE, 'true', out: File::NULL, err: File::NULL) if @unshare_works.nil?
    @unshare_works
  end

  # ---- /proc, read from outside the namespace --------------------------------

  # [state, ppid] of a process (pids as seen from here), or nil once it is gone.
  def stat(pid)
    text = File.read("/proc/#{pid}/stat")
    state, ppid = text[(text.rindex(')') + 2)..].split(' ', 3)
    [state, Integer(ppid)]
  rescue Errno::ENOENT, Errno::ESRCH
    nil
  end

  def children_of(pid)
    Dir['/proc/[0-9]*'].map { |dir| Integer(File.basename(dir)) }.select { |child| stat(child)&.last == pid }
  end

  # The process's pids, outermost namespace first ("NSpid: 4242 1").
  def namespace_pids(pid)
    File.read("/proc/#{pid}/status")[/^NSpid:\s+(.*)$/, 1].split.map(&:to_i)
  rescue Errno::ENOENT
    []
  end

  # The pid seen from here of the process that is inner_pid in the namespace
  # whose PID 1 is `init`.
  def outer_pid(init, inner_pid)
    ([init] + descendants(init)).find { |pid| namespace_pids(pid).last == inner_pid }
  end

  def descendants(pid)
    children_of(pid).flat_map { |child| [child, *descendants(child)] }
  end

  def zombie_children(pid)
    children_of(pid).select { |child| stat(child)&.first == 'Z' }
  end

  # ---- the server as PID 1 ---------------------------------------------------

  # Returns [server (its pid is unshare's), the server's pid seen from here].
  def start_as_pid1(workers, extra = [])
    io = ENV['E2E_IO_URING'] ? ['--io-uring', ENV['E2E_IO_URING']] : []
    argv = ['-w', workers.to_s, '-t', '2', '-b', 'tcp://127.0.0.1:0', *io, *extra, APP]
    server = start_command_server(argv, workers: workers, wrapper: UNSHARE)
    children = children_of(server.pid)
    assert_equal 1, children.size, "unshare should have one child, hyperion: #{children}\n#{server.log}"
    init = children.first
    assert_equal 1, namespace_pids(init).last, "hyperion is PID 1 of its namespace: #{namespace_pids(init)}"
    assert_match(/mode: .*, pid 1$/, server.log)
    [server, init]
  end

  def check_serves_and_stops(workers)
    server, init = start_as_pid1(workers)
    response = server.http('/')
    assert_equal '200', response.code, server.log
    # The pid the app sees is the namespace's: a worker's (2, 3) under a master;
    # with -w 0, PID 1 forks once and its child (2) serves (proc/pid1.hpp).
    expected = workers.zero? ? [2] : (2..(1 + workers)).to_a
    assert_includes expected, Integer(response.body), server.log

    slow = Thread.new { server.http('/slow', timeout: 20) }
    sleep 0.5 # the request is in the app when TERM arrives
    Process.kill('TERM', init) # from outside the namespace, as `docker stop` does
    assert_equal '200', slow.value.code, "the in-flight request finished\n#{server.log}"
    status = server.wait(timeout: 30)
    assert status.exited? && status.exitstatus.zero?, "exit status #{status.inspect}\n#{server.log}"
    if workers.zero?
      assert_match(/worker 0 stopping: finishing in-flight requests/, server.log)
      assert_match(/worker 0 exiting/, server.log)
    else
      assert_match(/graceful stop: signalling #{workers} worker\(s\)/, server.log)
      workers.times { |index| assert_match(/worker #{index} exiting/, server.log) }
      assert_match(/master exiting/, server.log)
    end
  end

  def test_serves_and_stops_on_term_with_workers
    check_serves_and_stops(2)
  end

  def test_serves_and_stops_on_term_single_process
    check_serves_and_stops(0)
  end

  # An orphan (the app's grandchild) is re-parented to PID 1; once it exits,
  # PID 1 must wait for it, or it stays a zombie for the container's life.
  def check_orphan_reaped(workers)
    server, init = start_as_pid1(workers)
    inner = Integer(server.http('/orphan').body)
    orphan = outer_pid(init, inner)
    refute_nil orphan, "the orphan (pid #{inner} in the namespace) should still be sleeping"
    assert_equal init, stat(orphan)&.last, 'the orphan was re-parented to PID 1'
    # It sleeps 1 s, then exits; PID 1 has a moment to reap it.
    deadline = Time.now + 5
    sleep 0.05 until stat(orphan).nil? || Time.now > deadline
    zombies = zombie_children(init)
    assert_nil stat(orphan), "the orphan's exit was never waited for: <defunct> children of PID 1: #{zombies}"
    assert_empty zombies
    server
  end

  def test_orphan_is_reaped_with_workers
    server = check_orphan_reaped(2)
    assert server.log.lines.none? { |line| line.include?('died') }, "no worker counted as dead\n#{server.log}"
  end

  def test_orphan_is_reaped_single_process
    server = check_orphan_reaped(0)
    assert_match(/PID 1 without workers: pid 2 serves/, server.log)
  end

  # Kernel#system from a request: the app waits for its own child.
  def check_system_returns(server)
    # One try: Net::HTTP would resend the GET on a timeout, to the other thread.
    response = begin
      server.net_http(read_timeout: 5, max_retries: 0) { |http| http.get('/system') }
    rescue Net::ReadTimeout
      flunk "Kernel#system did not return within 5 s\n#{server.log}"
    end
    assert_equal 'true', response.body
  end

  def test_system_returns_single_process
    server, = start_as_pid1(0)
    check_system_returns(server)
  end

  def test_system_returns_in_a_worker
    server, = start_as_pid1(2, ['--graceful-timeout', '1s'])
    check_system_returns(server)
  end

  # The same without a namespace: the hang is not about PID 1.
  def test_system_returns_in_a_worker_outside_a_namespace
    server = start_server(APP, workers: 1, args: ['--graceful-timeout', '1s'])
    check_system_returns(server)
  end

  # With --preload the app is loaded in the master and workers come from
  # Ruby's fork: the handler a worker gets back is still Ruby's.
  def test_system_returns_in_a_preloaded_worker
    server = start_server(APP, workers: 1, args: ['--preload', '--graceful-timeout', '1s'])
    check_system_returns(server)
  end
end
