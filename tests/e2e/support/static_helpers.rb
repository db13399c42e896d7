# frozen_string_literal: true

# Helpers for static_files_test.rb and prebuilt_routes_test.rb: deterministic
# test files generated at run time, raw one-shot requests, and timing.
require_relative 'process_helpers'
require 'digest'
require 'zlib'

module E2E
  module StaticHelpers
    MIB = 1024 * 1024

    # Writes size bytes of deterministic pseudo-random data (seeded, so every
    # run produces the same file) to path; returns the path.
    def write_deterministic(path, size, seed: 1)
      FileUtils.mkdir_p(File.dirname(path))
      rng = Random.new(seed)
      File.open(path, 'wb') do |f|
        left = size
        while left.positive?
          n = [left, MIB].min
          f.write(rng.bytes(n))
          left -= n
        end
      end
      path
    end

    def sha256_file(path) = Digest::SHA256.file(path).hexdigest
    def sha256(bytes) = Digest::SHA256.hexdigest(bytes)

    def gzip(bytes)
      io = StringIO.new(+''.b)
      gz = Zlib::GzipWriter.new(io)
      gz.mtime = 0
      gz.write(bytes)
      gz.close
      io.string
    end

    # "METHOD path HTTP/1.1" with Host and the given headers.
    def request_text(method, path, headers = {}, **options)
      body = options.delete(:body)
      headers = headers.merge(options.transform_keys(&:to_s))
      lines = ["#{method} #{path} HTTP/1.1", 'Host: test']
      headers.each { |k, v| lines << "#{k}: #{v}" }
      lines << "Content-Length: #{body.bytesize}" if body && headers.keys.none? { |k| k.to_s.casecmp?('content-length') }
      "#{lines.join("\r\n")}\r\n\r\n#{body}"
    end

    # One request on a new connection with Connection: close. Returns the
    # parsed response; fails if the server sends bytes past its framing or
    # does not close.
    # Header names are strings, so they may be passed without braces.
    def one_shot(server, method, path, headers = {}, **options)
      body = options.delete(:body)
      timeout = options.delete(:timeout) || 10 * E2E::SLOW
      headers = headers.merge(options.transform_keys(&:to_s))
      sock = server.socket
      sock.write(request_text(method, path, headers.merge('Connection' => 'close'), body: body))
      reader = E2E::ResponseReader.new(sock, timeout: timeout)
      response = reader.read_response(head: method.to_s.upcase == 'HEAD')
      rest, _seconds, eof = read_until_eof(sock, timeout: timeout)
      assert eof, "server did not close after Connection: close (#{method} #{path})"
      assert_equal '', reader.buffer + rest, "bytes after the #{method} #{path} response"
      response
    ensure
      sock&.close
    end

    # Sends raw bytes and returns [status, everything read] (until close).
    def raw_status(server, bytes, timeout: 5)
      text = server.raw(bytes, timeout: timeout)
      [text[%r{\AHTTP/1\.\d (\d{3})}, 1].to_i, text]
    end

    def timed
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      result = yield
      [result, Process.clock_gettime(Process::CLOCK_MONOTONIC) - started]
    end

    # Starts a GET to path on a background thread and waits until the
    # connection is accepted; the thread's value is the Net::HTTP response.
    def background_get(server, path, timeout: 15)
      Thread.new { server.http(path, timeout: timeout) }.tap { |t| t.report_on_exception = false }
    end
  end
end
