# frozen_string_literal: true

require 'fiddle'
require 'open3'
require_relative 'support/harness'

# --io-uring auto|on|off: which loop a worker runs, what it says at boot, and
# a flow that exercises the read pause/resume of whichever backend ctest
# selected (every e2e file also runs with E2E_IO_URING=off).
class IoBackendTest < Minitest::Test
  include E2E::Helpers

  # What the kernel offers, judged independently of the server: Linux 6.0+
  # (multishot recv), io_uring not disabled by sysctl, and io_uring_setup(2)
  # allowed (container seccomp profiles often refuse it).
  def self.io_uring_expected?
    major, = File.read('/proc/sys/kernel/osrelease').scan(/\d+/).first(1).map(&:to_i)
    disabled = File.exist?('/proc/sys/kernel/io_uring_disabled') &&
               File.read('/proc/sys/kernel/io_uring_disabled').to_i != 0
    major >= 6 && !disabled && io_uring_setup_allowed?
  end

  IO_URING_SETUP = 425 # the same number on x86_64 and the generic syscall table (arm64)

  def self.io_uring_setup_allowed?
    params = Fiddle::Pointer.malloc(120, Fiddle::RUBY_FREE) # struct io_uring_params, zeroed
    params[0, 120] = "\0".b * 120
    fd = syscall(IO_URING_SETUP, 4, params.to_i)
    IO.for_fd(fd).close
    true
  rescue SystemCallError, NotImplementedError
    false
  end

  def test_off_runs_epoll_and_says_so
    server = start_server(E2E.app('hello'), args: %w[--io-uring off])
    assert_match(/worker 0 ready: 2 Ruby threads, epoll \(--io-uring off\)/, server.log)
    assert_equal 'hello', server.http('/').body
  end

  def test_auto_uses_io_uring_where_the_kernel_allows
    server = start_server(E2E.app('hello'), args: %w[--io-uring auto])
    if self.class.io_uring_expected?
      assert_match(/worker 0 ready: 2 Ruby threads, io_uring$/, server.log)
    else
      assert_match(/ready: 2 Ruby threads, epoll \(io_uring unavailable: .+\)/, server.log)
    end
    assert_equal 'hello', server.http('/').body
  end

  def test_on_serves_with_io_uring_or_refuses_to_start
    if self.class.io_uring_expected?
      server = start_server(E2E.app('hello'), args: %w[--io-uring on], workers: 2)
      assert_equal 2, server.log.scan(/ready: 2 Ruby threads, io_uring$/).size
      assert_equal 'hello', server.http('/').body
    else
      out, status = Open3.capture2e(E2E::BIN, '--io-uring', 'on', '-b', 'tcp://127.0.0.1:0', E2E.app('hello'))
      assert_equal 1, status.exitstatus, out
      assert_match(/io_uring is unavailable/, out)
    end
  end

  def test_unknown_mode_is_a_usage_error
    out, status = Open3.capture2e(E2E::BIN, '--io-uring', 'sometimes', E2E.app('hello'))
    assert_equal 2, status.exitstatus, out
    assert_match(/--io-uring.*expects auto, on or off/, out)
  end

  # While /slow runs, the client pipelines ~3 MiB of requests behind it: the
  # loop stops reading at 1 MiB buffered, resumes when /slow is answered, and
  # every request is answered once, in order.
  def test_megabytes_pipelined_behind_a_slow_request_all_answered_in_order
    server = start_server(E2E.app('protocol'))
    sock = server.socket
    padding = 'p' * 4000
    count = 800
    writer = Thread.new do
      sock.write("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
      count.times { |i| sock.write("GET /n?i=#{i} HTTP/1.1\r\nHost: t\r\nX-Pad: #{padding}\r\n\r\n") }
    end
    reader = E2E::ResponseReader.new(sock, timeout: 20)
    first = reader.read_response
    assert_equal 200, first.status
    assert_equal 'slow done', first.body
    count.times do |i|
      response = reader.read_response
      assert_equal 200, response.status
      assert_equal "path=/n query=i=#{i}", response.body
    end
    writer.join
    assert_empty server.problems
  ensure
    sock&.close
  end
end
