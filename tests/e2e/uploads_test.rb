# frozen_string_literal: true

require_relative 'support/harness'
require 'digest'

# Request bodies end to end: the app (tests/e2e/apps/uploads) digests
# rack.input in 64 KiB reads, rewinds, digests again, and reports where the
# body lived. The client streams its upload and digests what it sent.
class UploadsTest < Minitest::Test
  include E2E::Helpers

  MIB = 1024 * 1024

  # An IO-like upload source: `size` bytes cycled from a pseudo-random block
  # whose length is not a power of two (so reordered or dropped pieces change
  # the digest), generated as it is read and digested on the way out.
  class PatternIO
    BLOCK = Random.new(20_260_125).bytes(MIB + 7).freeze

    attr_reader :digest, :sent

    def initialize(size)
      @left = size
      @pos = 0
      @sent = 0
      @digest = Digest::SHA256.new
    end

    def read(length = nil, buffer = nil)
      if @left.zero?
        buffer&.clear
        return length ? nil : ''.b
      end
      length = @left if length.nil? || length > @left
      piece = BLOCK.byteslice(@pos, length)
      piece += BLOCK.byteslice(0, length - piece.bytesize) while piece.bytesize < length
      @pos = (@pos + length) % BLOCK.bytesize
      @left -= length
      @sent += length
      @digest << piece
      buffer ? buffer.replace(piece) : piece
    end

    def readpartial(length, buffer = nil)
      read(length, buffer) || raise(EOFError)
    end
  end

  def upload(server, size, chunked: false, timeout: 60)
    io = PatternIO.new(size)
    response = server.net_http(open_timeout: 10, read_timeout: timeout, write_timeout: timeout) do |http|
      request = Net::HTTP::Post.new('/upload')
      request.content_type = 'application/octet-stream'
      if chunked
        request['Transfer-Encoding'] = 'chunked'
      else
        request.content_length = size
      end
      request.body_stream = io
      http.request(request)
    end
    assert_equal '200', response.code, response.body
    report = response.body.lines.to_h { |line| line.chomp.split('=', 2) }
    [report, io]
  end

  # What the app saw matches what was sent, also after rewinding.
  def assert_round_trip(report, io, size)
    assert_equal size, io.sent, 'client sent fewer bytes than planned'
    assert_equal size.to_s, report['size'], report.inspect
    assert_equal io.digest.hexdigest, report['sha256'], report.inspect
    assert_equal size.to_s, report['rewound_size'], 'rewind then read gave a different size'
    assert_equal io.digest.hexdigest, report['rewound_sha256'], 'rewind then read gave different bytes'
  end

  def assert_in_temp_file(report, dir)
    assert_match %r{\A#{Regexp.escape(File.realpath(dir))}/.* \(deleted\)\z}, report['backing'],
                 "body was not in an unlinked temp file under #{dir}: #{report.inspect}"
  end

  def test_one_mib_upload_with_content_length
    server = start_server(E2E.app('uploads'))
    report, io = upload(server, MIB)
    assert_round_trip(report, io, MIB)
    assert_equal MIB.to_s, report['content_length']
    assert_equal 'memory', report['backing'], 'a body of exactly --body-memory-bytes (1m default) stays in memory'
  end

  def test_one_mib_chunked_upload
    server = start_server(E2E.app('uploads'))
    report, io = upload(server, MIB, chunked: true)
    assert_round_trip(report, io, MIB)
    assert_equal MIB.to_s, report['content_length'], 'a chunked request gets the decoded length as CONTENT_LENGTH'
  end

  def test_hundred_mib_streamed_upload
    tmp = Dir.mktmpdir('hyperion-upload-tmp')
    server = start_server(E2E.app('uploads'), args: ['--tmp-dir', tmp])
    started = Time.now
    report, io = upload(server, 100 * MIB)
    assert_round_trip(report, io, 100 * MIB)
    assert_equal (100 * MIB).to_s, report['content_length']
    assert_in_temp_file(report, tmp)
    assert_operator Time.now - started, :<, E2E::SANITIZED ? 120 : 40, 'a 100 MiB loopback upload took too long'
    assert_empty Dir.children(tmp), 'the temp file should be unlinked (O_TMPFILE)'
  ensure
    FileUtils.rm_rf(tmp) if tmp
  end

  def test_body_over_memory_limit_goes_to_temp_file_and_rewinds
    tmp = Dir.mktmpdir('hyperion-upload-tmp')
    server = start_server(E2E.app('uploads'), args: ['--body-memory-bytes', '64k', '--tmp-dir', tmp])

    report, io = upload(server, 64 * 1024)
    assert_round_trip(report, io, 64 * 1024)
    assert_equal 'memory', report['backing'], 'exactly --body-memory-bytes stays in memory'

    report, io = upload(server, 64 * 1024 + 1)
    assert_round_trip(report, io, 64 * 1024 + 1)
    assert_in_temp_file(report, tmp)

    report, io = upload(server, 3 * MIB + 123)
    assert_round_trip(report, io, 3 * MIB + 123)
    assert_in_temp_file(report, tmp)

    # A chunked body crosses the threshold part way through, too.
    report, io = upload(server, MIB, chunked: true)
    assert_round_trip(report, io, MIB)
    assert_in_temp_file(report, tmp)
    assert_empty Dir.children(tmp), 'the temp files should be unlinked'
  ensure
    FileUtils.rm_rf(tmp) if tmp
  end

  def test_small_and_empty_bodies_rewind_in_memory
    server = start_server(E2E.app('uploads'))
    report, io = upload(server, 1000)
    assert_round_trip(report, io, 1000)
    assert_equal 'memory', report['backing']

    report, io = upload(server, 0)
    assert_round_trip(report, io, 0)
    assert_equal Digest::SHA256.hexdigest(''), report['sha256']
  end
end
