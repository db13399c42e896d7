# frozen_string_literal: true

# Extra helpers for e2e tests that need more control over the command line
# than E2E::Server gives (it always passes -w, -t and -b), that expect the
# server to fail on purpose, or that read responses off a raw socket.
require_relative 'harness'
require 'open3'
require 'json'

module E2E
  # A server started with exactly the given argv (no -w/-t/-b added), so a
  # config file can set workers, threads and bind itself.
  class CommandServer < Server
    # argv: everything after the binary. workers: how many "worker N ready"
    # lines to wait for (0 and 1 both mean one).
    # wrapper: a command prefix (systemd-socket-activate, unshare) that execs the binary.
    def initialize(argv, workers: 0, env: {}, chdir: nil, wait: true, wrapper: [])
      @dir = Dir.mktmpdir('hyperion-e2e')
      @log_path = File.join(@dir, 'server.log')
      @workers = workers
      spawn_env = { 'ASAN_OPTIONS' => 'detect_leaks=0:abort_on_error=0', 'UBSAN_OPTIONS' => 'print_stacktrace=1' }
      @pid = Process.spawn(spawn_env.merge(env), *wrapper, BIN, *argv, out: @log_path, err: [:child, :out],
                                                              chdir: chdir || ROOT, pgroup: true)
      wait_until_ready if wait
    end
  end

  # Sanitizer or crash lines, ignoring "[critical]", which a run that is
  # meant to fail (bad rackup, syntax error) logs on purpose.
  def self.crash_lines(text)
    text.lines.grep(/AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:|SEGV|Aborted|terminate called/)
  end

  # Runs the binary to completion (it is expected to exit by itself) and
  # returns [Process::Status, combined stdout+stderr, seconds taken].
  def self.run_to_exit(argv, timeout: SANITIZED ? 90 : 30, chdir: nil, env: {})
    server = CommandServer.new(argv, env: env, chdir: chdir, wait: false)
    started = Time.now
    status = server.wait(timeout: timeout)
    [status, server.log, Time.now - started]
  ensure
    server&.cleanup
  end

  module Helpers
    # Waits until the server's log matches pattern and returns the MatchData;
    # fails the test if it does not within timeout (wait_for_log returns nil).
    def await_log(server, pattern, timeout: 30 * SLOW)
      deadline = Time.now + timeout
      until server.log =~ pattern
        flunk "no #{pattern.inspect} in the log within #{timeout}s:\n#{server.log}" if Time.now > deadline
        sleep 0.05
      end
      $~
    end

    # Pids that served the proc_pid app's /hold (0.3 s each) with `parallel`
    # requests in flight at once, round after round until every pid in
    # `expect` has answered (or `rounds` pass). Sequential requests would not
    # do: a worker keeps accepting while it has a free Ruby thread, so the
    # first idle one can take them all; under load each worker accepts only
    # as many connections as it has threads and the others get the rest.
    def serving_pids_under_load(server, parallel:, expect:, rounds: 5)
      seen = []
      rounds.times do
        bodies = Array.new(parallel) { Thread.new { server.http('/hold') } }.map(&:value)
        bodies.each { |response| assert_equal '200', response.code, server.log }
        seen |= bodies.map { |response| Integer(response.body) }
        break if (expect - seen).empty?
      end
      seen.sort
    end

    # Like start_server, but with an exact argv; stopped and checked for
    # problems in teardown like every other server.
    def start_command_server(argv, **opts)
      @servers ||= []
      server = CommandServer.new(argv, **opts)
      @servers << server
      server
    end

    # Decodes a chunked body; fails the test on malformed framing.
    def dechunk(body)
      out = +''
      rest = body.dup
      loop do
        size_line, rest = rest.split("\r\n", 2)
        flunk "chunked body ended early: #{body.inspect}" if rest.nil?
        size = Integer(size_line[/\A\h+/] || flunk("bad chunk size line #{size_line.inspect}"), 16)
        return out if size.zero?

        out << rest.byteslice(0, size)
        assert_equal "\r\n", rest.byteslice(size, 2), "chunk not followed by CRLF in #{body.inspect}"
        rest = rest.byteslice(size + 2..)
      end
    end

    # Reads from sock until the accumulated text matches pattern (or timeout).
    # Yields [chunk, seconds since start] for every read when a block is given.
    def read_until(sock, pattern, timeout: 10)
      out = +''
      started = Time.now
      deadline = started + timeout
      until out.match?(pattern)
        left = deadline - Time.now
        break if left <= 0
        break unless sock.wait_readable(left)

        chunk = sock.read_nonblock(65_536, exception: false)
        break if chunk.nil?
        next if chunk == :wait_readable

        out << chunk
        yield chunk, Time.now - started if block_given?
      end
      out
    end

    # Polls until the block returns a truthy value; returns it (or flunks).
    def eventually(timeout: E2E::SANITIZED ? 60 : 20, message: 'condition never became true')
      deadline = Time.now + timeout
      loop do
        result = yield
        return result if result

        flunk(message.respond_to?(:call) ? message.call : message) if Time.now > deadline
        sleep 0.05
      end
    end
  end
end
