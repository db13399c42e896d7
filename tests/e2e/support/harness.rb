# frozen_string_literal: true

# Shared by every e2e test: starts the real hyperion binary on an ephemeral
# loopback port, waits until it serves, and stops it again. Each test file is
# a minitest file run by ctest (`ruby tests/e2e/foo_test.rb`).
require 'minitest/autorun'
require 'socket'
require 'net/http'
require 'timeout'
require 'tmpdir'
require 'fileutils'
require_relative 'tls_helpers'

module E2E
  ROOT = File.expand_path('../../..', __dir__)
  APPS = File.expand_path('../apps', __dir__)
  BIN = File.expand_path(ENV['HYPERION_BIN'] || File.join(ROOT, 'build/release/hyperion'))
  SANITIZED = ENV['HYPERION_SANITIZED'].to_s == '1'
  # E2E_GC=stress or compact: every server's app is wrapped so that, once it
  # is loaded, the GC hunts for VALUEs the server holds without marking or
  # pinning them (ctest's e2e_gcstress.* and e2e_gccompact.* variants).
  GC_MODE = ENV['E2E_GC'].to_s.empty? ? nil : ENV['E2E_GC']
  # Generous factor for waits and latency bounds when the GC runs at every
  # allocation (or compacts all the time) or sanitizers slow everything down.
  SLOW = SANITIZED || GC_MODE ? 4 : 1
  # E2E_TLS=1 (ctest's e2e_tls.*): a server started without an explicit bind
  # listens on ssl://, and the helpers below (http, socket, url, curl) speak
  # TLS to it, so the same tests cover the TLS transport.
  TLS_DEFAULT = ENV['E2E_TLS'].to_s == '1'
  # What a read raises when the peer has gone: a reset, or over TLS a close
  # without close_notify. The readers below treat both as the end.
  CONNECTION_ENDED = [Errno::ECONNRESET, OpenSSL::SSL::SSLError].freeze

  GC_SETUP = {
    # A GC at every allocation: an unmarked VALUE is freed (and its slot
    # reused) at once instead of once in a million requests.
    'stress' => 'GC.stress = 1',
    # Objects move: every object that can move is moved once now, and the
    # heap is compacted at every major GC and every 20 ms from a thread, so a
    # VALUE C++ keeps by address without pinning goes stale.
    #
    # GC.start first: Ruby 3.1.2's lazy sweep starts compacting when
    # auto_compact is on *now*, even for a major GC whose marking began
    # before it was turned on and so pinned nothing (gc.c gc_sweep reads
    # ruby_enable_autocompact, not during_compacting). Turning it on in the
    # middle of such a GC moves VM-pinned classes (StringIO, seen with
    # RUBYOPT=-E) and the next mark dies with "try to mark T_NONE object".
    # Finishing the GC in flight first keeps the test about the server.
    'compact' => <<~RUBY
      GC.start
      GC.auto_compact = true
      GC.verify_compaction_references(toward: :empty, double_heap: true)
      Thread.new { loop { sleep 0.02; GC.compact } }
    RUBY
  }.freeze

  # A rackup that loads the real one, then turns on GC_MODE.
  def self.gc_wrapped(rackup, dir)
    return rackup unless GC_MODE

    setup = GC_SETUP.fetch(GC_MODE) { raise "unknown E2E_GC=#{GC_MODE}" }
    path = File.join(dir, 'gc_mode.ru')
    File.write(path, <<~RUBY)
      app = Rack::Builder.parse_file(#{File.expand_path(rackup).inspect})
      app = app.first if app.is_a?(Array)
      #{setup}
      run app
    RUBY
    path
  end

  def self.app(name) = File.join(APPS, name, 'config.ru')

  class Server
    attr_reader :pid, :port, :log_path, :dir

    # rackup: path to a config.ru. args: extra CLI flags. workers: -w value.
    # wrapper: a command prefix such as %w[bundle exec].
    def initialize(rackup, args: [], workers: 0, threads: 2, env: {}, chdir: nil, bind: nil, wait: true, wrapper: [])
      @dir = Dir.mktmpdir('hyperion-e2e')
      @log_path = File.join(@dir, 'server.log')
      @workers = workers
      # bind: false passes no -b (the flags or the config file choose the listener).
      @tls = bind.nil? ? TLS_DEFAULT : bind.to_s.start_with?('ssl://')
      bind_args = bind == false ? [] : ['-b', bind || (@tls ? TLS.default_bind : 'tcp://127.0.0.1:0')]
      # ctest runs every file twice: with the default I/O backend (io_uring
      # where the kernel allows) and with E2E_IO_URING=off (epoll).
      io = ENV['E2E_IO_URING']
      args = [*args, '--io-uring', io] if io && !args.include?('--io-uring')
      rackup = E2E.gc_wrapped(rackup, @dir) if rackup
      cmd = [*wrapper, BIN, '-w', workers.to_s, '-t', threads.to_s, *bind_args, *args, rackup].compact
      spawn_env = { 'ASAN_OPTIONS' => 'detect_leaks=0:abort_on_error=0', 'UBSAN_OPTIONS' => 'print_stacktrace=1' }
      @pid = Process.spawn(spawn_env.merge(env), *cmd, out: @log_path, err: [:child, :out], chdir: chdir || ROOT,
                                                        pgroup: true)
      wait_until_ready if wait
    end

    def wait_until_ready(timeout: 20 * SLOW)
      ready_lines = [@workers, 1].max
      deadline = Time.now + timeout
      loop do
        text = log
        @port ||= text[%r{Listening on https?://127\.0\.0\.1:(\d+)}, 1]&.to_i
        break if @port && text.scan(/worker \d+ ready/).size >= ready_lines
        raise "hyperion exited early:\n#{text}" if exited?
        raise "hyperion not ready after #{timeout}s:\n#{text}" if Time.now > deadline

        sleep 0.05
      end
    end

    # Scrubbed UTF-8: an app may log bytes of another encoding (RUBYOPT=-E
    # tests do), and a regexp over an invalid string raises.
    def log = File.exist?(@log_path) ? File.binread(@log_path).force_encoding(Encoding::UTF_8).scrub : ''

    def exited?
      return true if @status

      pid, status = Process.waitpid2(@pid, Process::WNOHANG)
      @status = status if pid
      !@status.nil?
    end

    # Sends signal and waits; returns the Process::Status.
    def stop(signal = 'TERM', timeout: 30)
      return @status if exited?

      Process.kill(signal, @pid)
      wait(timeout: timeout)
    end

    def wait(timeout: 30)
      Timeout.timeout(timeout) { _, @status = Process.waitpid2(@pid) } unless @status
      @status
    rescue Timeout::Error
      Process.kill('KILL', -@pid) rescue nil
      _, @status = Process.waitpid2(@pid)
      raise "hyperion did not exit within #{timeout}s:\n#{log}"
    end

    def kill!
      return if exited?

      Process.kill('KILL', -@pid) rescue nil
      Process.waitpid2(@pid) rescue nil
      @status = true
    end

    def worker_pids
      `pgrep -P #{@pid}`.split.map(&:to_i)
    end

    def tls? = @tls

    def http(path = '/', method: :get, headers: {}, body: nil, timeout: 10 * SLOW)
      net_http(open_timeout: timeout, read_timeout: timeout) do |h|
        req = Net::HTTP.const_get(method.to_s.capitalize).new(path, headers)
        req.body = body if body
        h.request(req)
      end
    end

    # Net::HTTP.start against this server, over TLS when it listens on ssl://.
    def net_http(**opts, &block)
      opts = opts.merge(use_ssl: true, ca_file: TLS.server_certificate[:cert]) if tls?
      Net::HTTP.start('127.0.0.1', @port, **opts, &block)
    end

    def url(path = '/') = "#{tls? ? 'https' : 'http'}://127.0.0.1:#{@port}#{path}"

    # curl's arguments for this server: HTTP/1.1 (over TLS curl would agree
    # on h2 by ALPN) and trust in the test certificate.
    def curl_args = ['--http1.1', *(tls? ? ['--cacert', TLS.server_certificate[:cert]] : [])]

    # A connected client socket, TLS when the server listens on ssl:// (tls:
    # false for the raw TCP bytes under it); rcvbuf sets SO_RCVBUF before
    # connecting (a slow reader's small window).
    def socket(rcvbuf: nil, tls: tls?)
      return TCPSocket.new('127.0.0.1', @port) unless rcvbuf || tls

      tcp = Socket.new(:INET, :STREAM)
      tcp.setsockopt(Socket::SOL_SOCKET, Socket::SO_RCVBUF, rcvbuf) if rcvbuf
      tcp.connect(Socket.sockaddr_in(@port, '127.0.0.1'))
      tls ? TLS::Socket.wrap(tcp) : tcp
    end

    # Sends raw bytes on a new connection; returns everything read until the
    # server closes or timeout passes.
    def raw(bytes, timeout: 5, close_write: false, tls: tls?)
      s = socket(tls: tls)
      s.write(bytes)
      s.close_write if close_write
      read_all(s, timeout: timeout)
    ensure
      s&.close
    end

    def read_all(sock, timeout: 5)
      out = +''
      deadline = Time.now + timeout
      loop do
        left = deadline - Time.now
        break if left <= 0
        break unless sock.wait_readable(left)

        chunk = sock.read_nonblock(65_536, exception: false)
        break if chunk.nil?
        next if chunk == :wait_readable

        out << chunk
      end
      out
    rescue *CONNECTION_ENDED
      out
    end

    # Lines that mean something went wrong inside the server itself, but for
    # the ones a test provoked on purpose (allow_problem).
    def problems
      lines = log.lines.grep(/AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:|\[critical\]|SEGV|Aborted|terminate called/)
      lines.reject { |line| (@allowed_problems || []).any? { |pattern| line =~ pattern } }
    end

    def allow_problem(pattern) = (@allowed_problems ||= []) << pattern

    def cleanup
      kill!
      FileUtils.rm_rf(@dir)
    end
  end

  # Include in a Minitest::Test: `server` starts lazily, is stopped after
  # each test, and the log is checked for crashes and sanitizer reports.
  module Helpers
    def start_server(rackup, **opts)
      @servers ||= []
      server = Server.new(rackup, **opts)
      @servers << server
      server
    end

    def teardown
      (@servers || []).each do |server|
        problems = server.problems
        log = server.log
        server.cleanup
        assert_empty problems, "server log has problems:\n#{log}"
      end
      super
    end

    # Parses "HTTP/1.1 200 OK\r\n..." into [status, headers(downcased), body].
    def parse_response(text)
      head, body = text.split("\r\n\r\n", 2)
      lines = head.to_s.split("\r\n")
      status = lines.shift.to_s[/\AHTTP\/1\.\d (\d{3})/, 1].to_i
      headers = lines.to_h { |l| k, v = l.split(': ', 2); [k.downcase, v] }
      [status, headers, body.to_s]
    end

    # rack.hijack hands the app the raw socket, which over TLS carries
    # ciphertext: the TLS transport offers no hijack (docs/TLS.md; tls_test.rb
    # checks that rack.hijack? is false there).
    # --- additions for the protocol/limits/uploads tests -------------------

    # Polls the server log until it matches pattern; returns the match or nil.
    def wait_for_log(server, pattern, timeout: 3)
      deadline = Time.now + timeout
      loop do
        match = server.log[pattern]
        return match if match
        return nil if Time.now > deadline

        sleep 0.05
      end
    end

    # Reads from sock until EOF or timeout. Returns [bytes, seconds, eof?].
    def read_until_eof(sock, timeout: 5)
      started = Time.now
      out = +''
      deadline = started + timeout
      loop do
        left = deadline - Time.now
        return [out, Time.now - started, false] if left <= 0
        return [out, Time.now - started, false] unless sock.wait_readable(left)

        chunk = sock.read_nonblock(65_536, exception: false)
        return [out, Time.now - started, true] if chunk.nil?
        next if chunk == :wait_readable

        out << chunk
      end
    rescue *CONNECTION_ENDED
      [out, Time.now - started, true]
    end
  end

  # Reads HTTP/1.x responses one at a time from a socket, keeping any bytes
  # past the current response for the next call (pipelining, keep-alive).
  class ResponseReader
    Response = Struct.new(:status, :headers, :body, :raw, :head, keyword_init: true)

    attr_reader :buffer

    def initialize(sock, timeout: 5)
      @sock = sock
      @timeout = timeout
      @buffer = +''.b
      @eof = false
    end

    def eof? = @eof && @buffer.empty?

    # head: the request was HEAD (no body bytes follow whatever the headers say).
    def read_response(head: false)
      raw = +''.b
      head_end = fill_until { @buffer.index("\r\n\r\n") }
      raise "no complete response head; got #{@buffer.inspect}" unless head_end

      head_text = @buffer.slice!(0, head_end + 4)
      raw << head_text
      lines = head_text.split("\r\n")
      status_line = lines.shift
      status = status_line[%r{\AHTTP/1\.\d (\d{3}) }, 1].to_i
      headers = {}
      lines.each do |line|
        name, value = line.split(':', 2)
        (headers[name.downcase] ||= []) << value.to_s.strip
      end
      body = +''.b
      if head || status == 204 || status == 304 || (100..199).cover?(status)
        # no body
      elsif headers['transfer-encoding']&.last&.downcase == 'chunked'
        loop do
          line_end = fill_until { @buffer.index("\r\n") }
          raise "truncated chunk size line: #{@buffer.inspect}" unless line_end

          size_line = @buffer.slice!(0, line_end + 2)
          raw << size_line
          size = size_line[/\A[0-9a-fA-F]+/].to_i(16)
          if size.zero?
            trailer_end = fill_until { @buffer.index("\r\n") }
            raise "truncated last chunk: #{@buffer.inspect}" unless trailer_end

            raw << @buffer.slice!(0, trailer_end + 2) # no trailers expected
            break
          end
          fill_until { @buffer.bytesize >= size + 2 ? true : nil }
          raise "truncated chunk: #{@buffer.inspect}" if @buffer.bytesize < size + 2

          data = @buffer.slice!(0, size + 2)
          raw << data
          raise "chunk not followed by CRLF: #{data.inspect}" unless data.end_with?("\r\n")

          body << data[0, size]
        end
      elsif headers['content-length']
        length = headers['content-length'].last.to_i
        fill_until { @buffer.bytesize >= length ? true : nil }
        raise "truncated body: wanted #{length}, have #{@buffer.inspect}" if @buffer.bytesize < length

        body = @buffer.slice!(0, length)
        raw << body
      else
        fill_until { nil } # close-delimited: everything until EOF
        body = @buffer.slice!(0, @buffer.bytesize)
        raw << body
      end
      Response.new(status: status, headers: headers.transform_values { |v| v.join(', ') }, body: body, raw: raw,
                   head: head_text)
    end

    private

    # Reads until the block returns non-nil, EOF, or timeout; returns the block's value.
    def fill_until
      deadline = Time.now + @timeout
      loop do
        found = yield
        return found if found
        return nil if @eof

        left = deadline - Time.now
        return nil if left <= 0
        next unless @sock.wait_readable(left)

        chunk = @sock.read_nonblock(65_536, exception: false)
        if chunk.nil?
          @eof = true
        elsif chunk != :wait_readable
          @buffer << chunk
        end
      end
    rescue *CONNECTION_ENDED
      @eof = true
      yield
    end
  end

end
