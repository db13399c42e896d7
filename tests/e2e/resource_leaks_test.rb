# frozen_string_literal: true

require_relative 'support/harness'

# After a mix of good, malformed, abandoned and interrupted traffic the worker
# is back to the file descriptors it had after boot: nothing leaks.
class ResourceLeaksTest < Minitest::Test
  include E2E::Helpers

  def fd_count(pid) = Dir.children("/proc/#{pid}/fd").size

  def test_no_descriptor_leaks_after_mixed_traffic
    server = start_server(E2E.app('leaks'), threads: 2, args: ['--header-timeout', '1', '--body-timeout', '1'])
    baseline = fd_count(server.pid)

    50.times { assert_equal '200', server.http('/').code }
    # Malformed and oversized requests, answered and closed by the loop.
    20.times { server.raw("GARBAGE\r\n\r\n") }
    10.times { server.raw("GET / HTTP/1.1\r\n\r\n") } # no Host
    # Clients that vanish mid-headers and mid-body.
    10.times do
      s = server.socket
      s.write("GET / HTTP/1.1\r\nHost: x\r\nX-Half: ")
      s.close
    end
    10.times do
      s = server.socket
      s.write("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc")
      s.close
    end
    # Clients that disconnect while a Ruby thread streams a large body to them.
    10.times do
      s = server.socket
      s.write("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
      s.readpartial(1024)
      s.close
    end
    # Stalled requests the timeouts must clean up.
    stalled = Array.new(5) do
      s = server.socket
      s.write("GET / HTTP/1.1\r\nHost: x\r\n")
      s
    end

    deadline = Time.now + 10
    sleep 0.2 while fd_count(server.pid) > baseline && Time.now < deadline
    assert_equal baseline, fd_count(server.pid), "descriptors leaked:\n#{`ls -l /proc/#{server.pid}/fd`}"
    assert_equal '200', server.http('/').code, 'the worker keeps serving'
    stalled.each(&:close)
  end
end
