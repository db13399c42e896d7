# frozen_string_literal: true

require_relative 'support/harness'
require_relative 'support/raw_ws'

# Hyperion.publish beyond one server: two servers on one real redis-server
# (Debian's, started here on a free loopback port and stopped after), one
# publish, subscribers on both deliver; then Redis restarts and the
# subscriptions come back by themselves.
class WebSocketRedisTest < Minitest::Test
  include E2E::Helpers

  APP = E2E.app('websocket')

  def start_redis(port)
    dir = Dir.mktmpdir('hyperion-redis')
    pid = Process.spawn('redis-server', '--port', port.to_s, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
                        '--dir', dir, out: File::NULL, err: File::NULL)
    Timeout.timeout(10) do
      TCPSocket.new('127.0.0.1', port).close
    rescue Errno::ECONNREFUSED
      sleep 0.05
      retry
    end
    @redis_dirs = [*@redis_dirs, dir]
    pid
  end

  def stop_redis(pid)
    Process.kill('TERM', pid)
    Process.wait(pid)
  end

  def teardown
    stop_redis(@redis) if @redis
    (@redis_dirs || []).each { |d| FileUtils.rm_rf(d) }
    super
  end

  def free_port = TCPServer.open('127.0.0.1', 0) { |s| s.addr[1] }

  def subscriber(server, room)
    conn, status, = RawWS.connect(server, "/chat?#{room}")
    assert_equal 101, status
    assert_match(/joined #{room}/, conn.read_frame.text)
    conn
  end

  def wait_for_log(server, pattern, count: 1, timeout: 10)
    deadline = Time.now + timeout * E2E::SLOW
    sleep 0.05 until server.log.scan(pattern).size >= count || Time.now > deadline
    assert_operator server.log.scan(pattern).size, :>=, count, "log never said #{pattern.inspect}:\n#{server.log}"
  end

  def test_one_publish_reaches_both_servers_and_survives_a_redis_restart
    port = free_port
    @redis = start_redis(port)
    url = "redis://127.0.0.1:#{port}/0"
    a = start_server(APP, workers: 2, args: ['--ws-pubsub', url])
    b = start_server(APP, args: ['--ws-pubsub', url])
    [a, b].each { |s| wait_for_log(s, /subscribed on Redis/, count: s == a ? 2 : 1) }
    subs = [subscriber(a, 'global'), subscriber(a, 'global'), subscriber(b, 'global')]
    subs[0].write(RawWS.frame(1, 'pub:from a'))
    assert_equal ['from a'] * 3, subs.map { |c| c.read_frame.text }
    subs[2].write(RawWS.frame(1, 'pub:' + ('é' * 40_000))) # 80 KB, UTF-8
    assert_equal ['é' * 40_000] * 3, subs.map { |c| c.read_frame.text }

    # Redis goes away and comes back on the same port: each worker logs the
    # loss and subscribes again; publishes work again.
    stop_redis(@redis)
    @redis = nil
    [a, b].each { |s| wait_for_log(s, /Redis subscription of worker \d+ lost/) }
    @redis = start_redis(port)
    [a, b].each { |s| wait_for_log(s, /subscribed on Redis .* again/, count: s == a ? 2 : 1) }
    subs[2].write(RawWS.frame(1, 'pub:after restart'))
    assert_equal ['after restart'] * 3, subs.map { |c| c.read_frame.text }
  end
end
