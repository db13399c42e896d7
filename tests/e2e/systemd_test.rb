# frozen_string_literal: true

require_relative 'support/process_helpers'

# systemd without systemd running. The notify protocol, read from a
# test-owned NOTIFY_SOCKET: READY=1 once every worker is ready (with MAINPID
# and a STATUS), RELOADING=1 and READY=1 around a phased restart,
# STOPPING=1 on TERM, WATCHDOG=1 when WATCHDOG_USEC asks for it; the same
# from a -w 0 server. Socket activation through systemd-socket-activate.
class SystemdTest < Minitest::Test
  include E2E::Helpers

  def setup
    @tmp = Dir.mktmpdir('hyperion-notify')
  end

  def teardown
    @socket&.close
    super
    FileUtils.rm_rf(@tmp)
  end

  def listen(abstract: false)
    @socket = Socket.new(:UNIX, :DGRAM)
    name = abstract ? "\0hyperion-notify-test-#{Process.pid}-#{rand(1 << 30)}" : File.join(@tmp, 'notify')
    @socket.bind(Socket.sockaddr_un(name))
    abstract ? "@#{name[1..]}" : name
  end

  # The next datagram, as a Hash of its KEY=VALUE lines.
  def notification(timeout: 20 * E2E::SLOW)
    ready = IO.select([@socket], nil, nil, timeout)
    flunk "no sd_notify message within #{timeout}s" unless ready
    @socket.recv(4096).lines(chomp: true).to_h { |line| line.split('=', 2) }
  end

  # Messages until one has `key` (the ones before it are returned too).
  def until_key(key)
    seen = []
    loop do
      seen << notification
      return seen if seen.last.key?(key)
    end
  end

  def test_master_says_ready_reloading_and_stopping
    path = listen
    server = start_server(E2E.app('hello'), workers: 2, env: { 'NOTIFY_SOCKET' => path })
    ready = until_key('READY').last
    assert_equal '1', ready['READY']
    assert_equal server.pid.to_s, ready['MAINPID']
    assert_equal '2 worker(s) ready', ready['STATUS']
    assert_equal 2, server.log.scan(/worker \d+ ready/).size, 'READY=1 came after both workers were ready'

    Process.kill('USR1', server.pid)
    reloading = until_key('RELOADING').last
    assert_match(/phased restart/, reloading['STATUS'])
    assert_equal '1', until_key('READY').last['READY']
    assert_match(/phased restart complete/, server.log)

    Process.kill('TERM', server.pid)
    stopping = until_key('STOPPING').last
    assert_equal 'graceful stop', stopping['STATUS']
    assert server.wait.success?
  end

  def test_abstract_socket_and_watchdog
    name = listen(abstract: true)
    server = start_server(E2E.app('hello'), workers: 1,
                                            env: { 'NOTIFY_SOCKET' => name, 'WATCHDOG_USEC' => '400000' })
    messages = until_key('READY')
    pings = 0
    deadline = Time.now + 3
    pings += 1 while Time.now < deadline && pings < 3 && notification.key?('WATCHDOG')
    assert_operator pings, :>=, 3, "WATCHDOG=1 every 200 ms: #{messages}"
    server.stop
  end

  def test_single_process_notifies_too
    path = listen
    server = start_server(E2E.app('hello'), workers: 0, env: { 'NOTIFY_SOCKET' => path })
    ready = until_key('READY').last
    assert_equal server.pid.to_s, ready['MAINPID']
    Process.kill('TERM', server.pid)
    assert_equal '1', until_key('STOPPING').last['STOPPING']
    assert server.wait.success?
  end

  def test_without_notify_socket_nothing_is_sent_and_it_serves
    server = start_server(E2E.app('hello'), workers: 1)
    assert_equal '200', server.http('/').code
  end

  def free_port
    probe = TCPServer.new('127.0.0.1', 0)
    probe.addr[1]
  ensure
    probe&.close
  end

  def test_socket_activation_serves_on_the_passed_socket
    skip 'systemd-socket-activate not installed (package systemd)' unless system('command -v systemd-socket-activate >/dev/null')
    port = free_port
    # It binds, then execs hyperion (same pid) on the first connection with
    # LISTEN_FDS=1 and LISTEN_PID set; no -b is given, nothing is rebound.
    server = start_command_server(['-w', '2', '-t', '2', E2E.app('hello')], wait: false,
                                  wrapper: ['systemd-socket-activate', '-l', "127.0.0.1:#{port}"])
    response = nil
    deadline = Time.now + 10 * E2E::SLOW
    begin # until systemd-socket-activate has bound
      response = Net::HTTP.start('127.0.0.1', port, read_timeout: 20 * E2E::SLOW) { |http| http.get('/') }
    rescue Errno::ECONNREFUSED
      raise if Time.now > deadline

      sleep 0.05
      retry
    end
    assert_equal '200', response.code, server.log
    assert_match(/socket activation: 1 listening socket\(s\) from systemd/, server.log)
    assert_match(%r{Listening on http://127\.0\.0\.1:#{port}}, server.log)
    refute_match(/:9292/, server.log, 'the default bind was not used')
    Process.kill('TERM', server.pid)
    assert server.wait.success?, server.log
  end
end
