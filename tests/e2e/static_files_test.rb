# frozen_string_literal: true

require_relative 'support/static_helpers'
require 'time'

# The native static paths of docs/STATIC.md, end to end:
# * whole-file Rack bodies (Rack::Files) sent by the loop from the page cache
#   or with sendfile, and the page cache's recheck of modified files;
# * --preload-static directories (and the config file / Rails variants):
#   lookup, MIME types, conditional and range requests, precompressed
#   variants, traversal and symlink safety, and independence from Ruby.
class StaticFilesTest < Minitest::Test
  include E2E::Helpers
  include E2E::StaticHelpers

  FILES_APP = E2E.app('static_files')
  PRELOAD_APP = E2E.app('static_preload')
  RAILS_APP = E2E.app('static_rails')
  # "Well under 100 ms" for answers that never wait for Ruby; sanitizer
  # builds are several times slower.
  # Under GC.stress a Rack call itself can take half a second (a full GC per
  # allocation); a request stuck behind the download would still take > 2 s.
  QUICK = if E2E::GC_MODE == "stress" then 1.5 elsif E2E::SLOW > 1 then 0.5 else 0.1 end
  RAILS_BOOT = E2E::SLOW > 1 ? 180 : 60
  PASSWD = File.binread('/etc/passwd')
  PRELOAD_LINE = /static preload complete: dir=(\S+) files=(\d+) bytes=(\d+) ms=[\d.]+/

  # The large read-only files are generated once per run and shared.
  SHARED = Dir.mktmpdir('hyperion-static-shared')
  Minitest.after_run { FileUtils.rm_rf(SHARED) }

  def self.shared_files
    @shared_files ||= { 'small.bin' => [1024, 1], 'medium.bin' => [1024 * 1024, 2],
                        'big.bin' => [64 * 1024 * 1024, 3] }.to_h do |name, (size, seed)|
      path = File.join(SHARED, name)
      rng = Random.new(seed)
      File.open(path, 'wb') { |f| (size / 1024).times { f.write(rng.bytes(1024)) } }
      [name, path]
    end
  end

  def setup
    @tmp = Dir.mktmpdir('hyperion-static')
  end

  def teardown
    super
  ensure
    FileUtils.rm_rf(@tmp)
  end

  def files_server(dir, args: [], threads: 2)
    start_server(FILES_APP, threads: threads, args: args, env: { 'FILES_DIR' => dir })
  end

  def shared_server(**opts)
    self.class.shared_files
    files_server(SHARED, **opts)
  end

  # ---------------------------------------------------------------------------
  # Rack::Files: whole-file bodies leave through the page cache / sendfile
  # ---------------------------------------------------------------------------

  def test_rack_files_bodies_are_byte_exact_for_1k_1m_and_64m
    server = shared_server
    self.class.shared_files.each do |name, path|
      response = server.http("/files/#{name}", timeout: 30)
      assert_equal '200', response.code, "GET /files/#{name}"
      assert_equal File.size(path).to_s, response['content-length'], "Content-Length of #{name}"
      assert_equal File.size(path), response.body.bytesize, "body size of #{name}"
      assert_equal sha256_file(path), sha256(response.body), "SHA256 of #{name}"
      assert_equal 'application/octet-stream', response['content-type']
    end
    # Twice more on one keep-alive connection: the second hit of a cached
    # file and the keep-alive after a sendfile body must still frame right.
    server.net_http(read_timeout: 30) do |h|
      %w[small.bin big.bin medium.bin small.bin medium.bin].each do |name|
        body = h.get("/files/#{name}").body
        assert_equal sha256_file(self.class.shared_files[name]), sha256(body), "keep-alive GET #{name}"
      end
    end
  end

  # The loop may send a to_path file itself only when the headers describe
  # that file; otherwise the body is iterated like any other.
  def test_a_to_path_body_whose_headers_disagree_with_the_file_is_iterated
    server = files_server(@tmp)
    %w[/transformed/length /transformed/encoding].each do |path|
      response = server.http(path)
      assert_equal '200', response.code, path
      assert_equal "not the file\n", response.body, path
    end
  end

  def test_rack_files_head_has_length_and_no_body
    server = shared_server
    %w[small.bin big.bin].each do |name|
      response = one_shot(server, 'HEAD', "/files/#{name}")
      assert_equal 200, response.status
      assert_equal File.size(self.class.shared_files[name]).to_s, response.headers['content-length']
      assert_equal '', response.body # one_shot also fails on any byte after the head
    end
  end

  def test_rack_files_range_returns_206_with_the_right_bytes
    server = shared_server
    { 'medium.bin' => [[100, 299], [0, 0], [1024 * 1024 - 10, 1024 * 1024 - 1]],
      'big.bin' => [[5_000_000, 5_065_535], [64 * 1024 * 1024 - 3, 64 * 1024 * 1024 - 1]] }.each do |name, ranges|
      path = self.class.shared_files[name]
      size = File.size(path)
      ranges.each do |first, last|
        response = one_shot(server, 'GET', "/files/#{name}", 'Range' => "bytes=#{first}-#{last}")
        assert_equal 206, response.status, "#{name} bytes=#{first}-#{last}"
        assert_equal "bytes #{first}-#{last}/#{size}", response.headers['content-range']
        assert_equal (last - first + 1).to_s, response.headers['content-length']
        assert_equal File.binread(path, last - first + 1, first), response.body, "#{name} bytes=#{first}-#{last}"
      end
    end
  end

  def test_rack_files_conditional_requests_get_304
    server = shared_server
    path = self.class.shared_files['medium.bin']
    first = server.http('/files/medium.bin')
    last_modified = first['last-modified']
    assert_equal File.mtime(path).httpdate, last_modified

    not_modified = one_shot(server, 'GET', '/files/medium.bin', 'If-Modified-Since' => last_modified)
    assert_equal 304, not_modified.status
    assert_equal '', not_modified.body

    older = one_shot(server, 'GET', '/files/medium.bin', 'If-Modified-Since' => (File.mtime(path) - 3600).httpdate)
    assert_equal 200, older.status
    assert_equal sha256_file(path), sha256(older.body)

    tagged = one_shot(server, 'GET', '/etag-files/medium.bin')
    assert_equal 200, tagged.status
    etag = tagged.headers['etag']
    refute_nil etag
    assert_equal sha256_file(path), sha256(tagged.body)
    assert_equal 304, one_shot(server, 'GET', '/etag-files/medium.bin', 'If-None-Match' => etag).status
    other = one_shot(server, 'GET', '/etag-files/medium.bin', 'If-None-Match' => '"something-else"')
    assert_equal 200, other.status
    assert_equal sha256_file(path), sha256(other.body)
  end

  # --- the page cache notices modified files after --page-cache-recheck ------

  # Polls until the file's new content is served; every answer in between
  # must be the old or the new file, complete and correctly framed (the old
  # content may still be served within the recheck interval). Returns the
  # seconds after changed_at when the new content was first seen.
  def assert_served_fresh_after_recheck(server, url, old, new, changed_at)
    fresh_at = nil
    deadline = changed_at + 5
    while Time.now < deadline
      response = one_shot(server, 'GET', url)
      assert_equal 200, response.status
      assert_equal response.body.bytesize.to_s, response.headers['content-length']
      if response.body == new
        fresh_at = Time.now - changed_at
        break
      end
      assert_equal sha256(old), sha256(response.body), "#{url}: served neither the old nor the new content"
      sleep 0.1
    end
    refute_nil fresh_at, "#{url}: still the old content 5 s after the change"
    # With --page-cache-recheck 1 the next stat is due ~1 s after the last
    # one (the default of 5 s would not get here in time).
    assert_operator fresh_at, :<, 3.0, "#{url}: new content only after #{fresh_at.round(2)} s"
    3.times { assert_equal sha256(new), sha256(one_shot(server, 'GET', url).body), "#{url}: back to old content" }
    fresh_at
  end

  def test_page_cache_serves_a_modified_file_after_the_recheck_interval
    dir = File.join(@tmp, 'files')
    FileUtils.mkdir_p(dir)
    old = {
      'size.txt' => "version one\n" * 1000,
      'same.txt' => "same size, first content\n" * 1000,
      'inode.txt' => "same size and mtime, first inode\n" * 1000
    }
    old.each { |name, text| File.binwrite(File.join(dir, name), text) }
    server = files_server(dir, args: %w[--page-cache-recheck 1])
    old.each do |name, text|
      2.times { assert_equal text, one_shot(server, 'GET', "/files/#{name}").body } # now in the page cache
    end

    new = {
      'size.txt' => "the second version is longer\n" * 1000,       # other content and size
      'same.txt' => old['same.txt'].tr('a-z', 'b-za'),             # same size, mtime moved forward
      'inode.txt' => old['inode.txt'].tr('a-z', 'c-zab')           # same size and mtime, new inode
    }
    assert_equal old['same.txt'].bytesize, new['same.txt'].bytesize
    later = Time.now + 10
    File.binwrite(File.join(dir, 'size.txt'), new['size.txt'])
    File.binwrite(File.join(dir, 'same.txt'), new['same.txt'])
    File.utime(later, later, File.join(dir, 'same.txt'))
    inode_path = File.join(dir, 'inode.txt')
    mtime = File.mtime(inode_path)
    File.binwrite("#{inode_path}.new", new['inode.txt'])
    File.utime(mtime, mtime, "#{inode_path}.new")
    File.rename("#{inode_path}.new", inode_path)
    changed_at = Time.now

    new.each_key do |name|
      assert_served_fresh_after_recheck(server, "/files/#{name}", old[name], new[name], changed_at)
    end
  end

  # --- a slow client of a sendfile body does not hold the Ruby thread -------

  def test_slow_reader_of_64m_file_does_not_delay_other_requests
    server = shared_server(threads: 1)
    big = self.class.shared_files['big.bin']
    # The app's first request warms it up (slow under the GC test modes);
    # what is measured is the requests made while the download runs.
    assert_equal 'quick', server.http('/quick').body

    slow = server.socket(rcvbuf: 64 * 1024)
    slow.write(request_text('GET', '/files/big.bin'))
    received = +''.b
    reader = Thread.new do
      stop_at = Time.now + 3 * E2E::SLOW
      while Time.now < stop_at
        chunk = slow.wait_readable(0.5) && slow.read_nonblock(64 * 1024, exception: false)
        received << chunk if chunk.is_a?(String)
        sleep 0.05
      end
    end
    # Measured once the download is under way: the head has arrived, so the
    # app's part of it is over (under GC.stress that alone takes seconds).
    deadline = Time.now + 10 * E2E::SLOW
    sleep 0.02 until received.include?("\r\n\r\n") || Time.now > deadline
    sleep 0.2

    timings = Array.new(20) do
      response, seconds = timed do
        server.http('/quick', timeout: 2)
      rescue Net::ReadTimeout
        flunk 'a quick GET got no answer within 2 s while the slow download was running'
      end
      assert_equal 'quick', response.body
      seconds
    end
    assert reader.alive?, 'the quick requests took longer than the slow download window'
    reader.join
    assert_operator timings.max, :<, QUICK,
                    "quick GETs during the slow download took #{timings.map { |t| (t * 1000).round(1) }} ms"

    head_end = received.index("\r\n\r\n")
    refute_nil head_end, 'no response head within 3 s'
    assert_match %r{\AHTTP/1\.1 200 }, received
    body = received.byteslice(head_end + 4..)
    assert_operator body.bytesize, :<, 32 * 1024 * 1024, 'the slow reader was not slow'
    assert_equal File.binread(big, body.bytesize), body, 'slowly read prefix differs from the file'

    # Now read the rest at full speed: the resumed sendfile completes the file.
    while body.bytesize < File.size(big)
      break unless slow.wait_readable(10)

      chunk = slow.read_nonblock(1024 * 1024, exception: false)
      break if chunk.nil?

      body << chunk if chunk.is_a?(String)
    end
    assert_equal File.size(big), body.bytesize, 'the slow download did not complete'
    assert_equal sha256_file(big), sha256(body)
  ensure
    slow&.close
  end

  # ---------------------------------------------------------------------------
  # --preload-static
  # ---------------------------------------------------------------------------

  # A public/ tree with nested files, precompressed variants, a directory
  # without index.html and symlinks that lead out of it. Returns its path.
  def build_public
    root = File.join(@tmp, 'public')
    files = {
      'index.html' => "<!doctype html><h1>home</h1>\n",
      'css/app.css' => "body { color: #123456; }\n" * 40,
      'js/app.js' => "console.log('hyperion');\n" * 30,
      'docs/index.html' => "<h1>docs index</h1>\n",
      'docs/guide/intro.html' => "<p>intro</p>\n",
      'text.txt' => "plain text line\n" * 200,
      'noindex/file.txt' => "inside a directory without index\n"
    }
    files.each do |rel, text|
      FileUtils.mkdir_p(File.dirname(File.join(root, rel)))
      File.binwrite(File.join(root, rel), text)
    end
    png = "\x89PNG\r\n\x1A\n".b + Random.new(7).bytes(5000)
    File.binwrite(File.join(root, 'img/logo.png').tap { |p| FileUtils.mkdir_p(File.dirname(p)) }, png)
    write_deterministic(File.join(root, 'data/blob.bin'), 300_000, seed: 9)
    File.binwrite(File.join(root, 'text.txt.gz'), gzip(files['text.txt']))
    File.binwrite(File.join(root, 'text.txt.br'), "BROTLI-STAND-IN\n".b + Random.new(3).bytes(100))
    File.binwrite(File.join(root, 'app-only.css.gz'), gzip('x')) # variant without its identity file

    File.binwrite(File.join(@tmp, 'secret.txt'), "TOP-SECRET outside the static dir\n")
    outside = File.join(@tmp, 'outside')
    FileUtils.mkdir_p(outside)
    File.binwrite(File.join(outside, 'secret2.txt'), "TOP-SECRET in a linked dir\n")
    File.symlink('/etc/passwd', File.join(root, 'passwd_link'))
    File.symlink(File.join(@tmp, 'secret.txt'), File.join(root, 'secret_link.txt'))
    File.symlink(outside, File.join(root, 'linked_dir'))
    root
  end

  def preload_server(root = build_public, threads: 2, args: [])
    start_server(PRELOAD_APP, threads: threads, args: ['--preload-static', root, *args])
  end

  def static_bytes(root, rel) = File.binread(File.join(root, rel))

  def test_preloaded_files_are_served_byte_exact_with_mime_types
    root = build_public
    server = preload_server(root)
    {
      '/' => ['index.html', %r{\Atext/html}],
      '/index.html' => ['index.html', %r{\Atext/html}],
      '/css/app.css' => ['css/app.css', %r{\Atext/css}],
      '/js/app.js' => ['js/app.js', %r{\A(text|application)/javascript}],
      '/img/logo.png' => ['img/logo.png', %r{\Aimage/png\z}],
      '/docs/' => ['docs/index.html', %r{\Atext/html}],
      '/docs/guide/intro.html' => ['docs/guide/intro.html', %r{\Atext/html}],
      '/text.txt' => ['text.txt', %r{\Atext/plain}],
      '/data/blob.bin' => ['data/blob.bin', nil]
    }.each do |url, (rel, type)|
      response = one_shot(server, 'GET', url)
      assert_equal 200, response.status, "GET #{url}: #{response.body[0, 200].inspect}"
      expected = static_bytes(root, rel)
      assert_equal sha256(expected), sha256(response.body), "GET #{url} should be #{rel}"
      assert_equal expected.bytesize.to_s, response.headers['content-length'], "Content-Length of #{url}"
      assert_match type, response.headers['content-type'].to_s, "Content-Type of #{url}" if type
      assert_nil response.headers['content-encoding'], "no encoding asked for #{url}"
      refute_nil response.headers['date'], "Date on #{url}"
    end
    # The query string does not change which file answers.
    assert_equal static_bytes(root, 'css/app.css'), one_shot(server, 'GET', '/css/app.css?v=123').body
    # A path that is not in the directory falls through to the app.
    assert_equal 'APP-MARKER GET /css/missing.css', one_shot(server, 'GET', '/css/missing.css').body
  end

  def test_preloaded_keep_alive_and_pipelining
    root = build_public
    server = preload_server(root)
    sock = server.socket
    reader = E2E::ResponseReader.new(sock)
    sock.write(request_text('GET', '/css/app.css') + request_text('GET', '/not-static') +
               request_text('HEAD', '/js/app.js') + request_text('GET', '/img/logo.png'))
    assert_equal static_bytes(root, 'css/app.css'), reader.read_response.body
    assert_equal 'APP-MARKER GET /not-static', reader.read_response.body
    head = reader.read_response(head: true)
    assert_equal static_bytes(root, 'js/app.js').bytesize.to_s, head.headers['content-length']
    assert_equal static_bytes(root, 'img/logo.png'), reader.read_response.body
    sock.write(request_text('GET', '/'))
    assert_equal static_bytes(root, 'index.html'), reader.read_response.body
    assert_equal '', reader.buffer
  ensure
    sock&.close
  end

  def test_preloaded_conditional_requests
    root = build_public
    server = preload_server(root)
    first = one_shot(server, 'GET', '/css/app.css')
    etag = first.headers['etag']
    last_modified = first.headers['last-modified']
    refute_nil etag, 'preloaded files carry an ETag'
    refute_nil last_modified, 'preloaded files carry Last-Modified'
    assert_equal File.mtime(File.join(root, 'css/app.css')).httpdate, last_modified

    by_etag = one_shot(server, 'GET', '/css/app.css', 'If-None-Match' => etag)
    assert_equal 304, by_etag.status
    assert_equal '', by_etag.body
    assert_equal etag, by_etag.headers['etag']
    assert_equal 304, one_shot(server, 'GET', '/css/app.css', 'If-None-Match' => %("nope", #{etag})).status
    assert_equal 304, one_shot(server, 'GET', '/css/app.css', 'If-None-Match' => '*').status
    assert_equal 200, one_shot(server, 'GET', '/css/app.css', 'If-None-Match' => '"nope"').status

    by_date = one_shot(server, 'GET', '/css/app.css', 'If-Modified-Since' => last_modified)
    assert_equal 304, by_date.status
    assert_equal '', by_date.body
    later = one_shot(server, 'GET', '/css/app.css', 'If-Modified-Since' => (Time.now + 3600).httpdate)
    assert_equal 304, later.status
    older = one_shot(server, 'GET', '/css/app.css',
                     'If-Modified-Since' => (File.mtime(File.join(root, 'css/app.css')) - 3600).httpdate)
    assert_equal 200, older.status
    assert_equal static_bytes(root, 'css/app.css'), older.body
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    mismatch = one_shot(server, 'GET', '/css/app.css', 'If-None-Match' => '"nope"', 'If-Modified-Since' => last_modified)
    assert_equal 200, mismatch.status
  end

  def test_preloaded_ranges
    root = build_public
    server = preload_server(root)
    blob = static_bytes(root, 'data/blob.bin')
    size = blob.bytesize

    part = one_shot(server, 'GET', '/data/blob.bin', 'Range' => 'bytes=10-19')
    assert_equal 206, part.status
    assert_equal blob.byteslice(10, 10), part.body
    assert_equal "bytes 10-19/#{size}", part.headers['content-range']
    assert_equal '10', part.headers['content-length']

    suffix = one_shot(server, 'GET', '/data/blob.bin', 'Range' => 'bytes=-5')
    assert_equal 206, suffix.status
    assert_equal blob.byteslice(size - 5, 5), suffix.body
    assert_equal "bytes #{size - 5}-#{size - 1}/#{size}", suffix.headers['content-range']

    open_ended = one_shot(server, 'GET', '/data/blob.bin', 'Range' => "bytes=#{size - 100}-")
    assert_equal 206, open_ended.status
    assert_equal blob.byteslice(size - 100, 100), open_ended.body

    past_end = one_shot(server, 'GET', '/data/blob.bin', 'Range' => "bytes=#{size - 3}-#{size + 1000}")
    assert_equal 206, past_end.status
    assert_equal blob.byteslice(size - 3, 3), past_end.body
    assert_equal "bytes #{size - 3}-#{size - 1}/#{size}", past_end.headers['content-range']

    unsatisfiable = one_shot(server, 'GET', '/data/blob.bin', 'Range' => "bytes=#{size}-#{size + 10}")
    assert_equal 416, unsatisfiable.status
    assert_equal "bytes */#{size}", unsatisfiable.headers['content-range']
    refute_includes unsatisfiable.body, blob.byteslice(0, 64)

    # Ranges come from the identity file even when gzip is acceptable.
    text = static_bytes(root, 'text.txt')
    gz_range = one_shot(server, 'GET', '/text.txt', 'Range' => 'bytes=0-9', 'Accept-Encoding' => 'gzip')
    assert_equal 206, gz_range.status
    assert_equal text.byteslice(0, 10), gz_range.body
    assert_nil gz_range.headers['content-encoding']
  end

  def test_preloaded_head
    root = build_public
    server = preload_server(root)
    response = one_shot(server, 'HEAD', '/data/blob.bin')
    assert_equal 200, response.status
    assert_equal File.size(File.join(root, 'data/blob.bin')).to_s, response.headers['content-length']
    assert_equal '', response.body # one_shot fails on any byte after the head
    index = one_shot(server, 'HEAD', '/')
    assert_equal 200, index.status
    assert_equal static_bytes(root, 'index.html').bytesize.to_s, index.headers['content-length']
  end

  def test_preloaded_precompressed_variants
    root = build_public
    server = preload_server(root)
    text = static_bytes(root, 'text.txt')

    gz = one_shot(server, 'GET', '/text.txt', 'Accept-Encoding' => 'gzip, deflate')
    assert_equal 200, gz.status
    assert_equal 'gzip', gz.headers['content-encoding']
    assert_match(/accept-encoding/i, gz.headers['vary'].to_s)
    assert_equal static_bytes(root, 'text.txt.gz'), gz.body
    assert_equal text, Zlib.gunzip(gz.body)
    assert_match %r{\Atext/plain}, gz.headers['content-type'].to_s, 'the type of the file, not of .gz'

    identity = one_shot(server, 'GET', '/text.txt')
    assert_equal 200, identity.status
    assert_nil identity.headers['content-encoding']
    assert_equal text, identity.body

    refused = one_shot(server, 'GET', '/text.txt', 'Accept-Encoding' => 'gzip;q=0')
    assert_nil refused.headers['content-encoding'], 'gzip;q=0 means not acceptable'
    assert_equal text, refused.body

    br = one_shot(server, 'GET', '/text.txt', 'Accept-Encoding' => 'br')
    assert_equal 200, br.status
    assert_equal 'br', br.headers['content-encoding']
    assert_match(/accept-encoding/i, br.headers['vary'].to_s)
    assert_equal static_bytes(root, 'text.txt.br'), br.body

    either = one_shot(server, 'GET', '/text.txt', 'Accept-Encoding' => 'gzip, br')
    encoding = either.headers['content-encoding']
    assert_includes %w[gzip br], encoding
    assert_equal static_bytes(root, "text.txt.#{encoding == 'gzip' ? 'gz' : 'br'}"), either.body

    head = one_shot(server, 'HEAD', '/text.txt', 'Accept-Encoding' => 'gzip')
    assert_equal 'gzip', head.headers['content-encoding']
    assert_equal static_bytes(root, 'text.txt.gz').bytesize.to_s, head.headers['content-length']

    # A file with no variant beside it is sent as is.
    css = one_shot(server, 'GET', '/css/app.css', 'Accept-Encoding' => 'gzip, br')
    assert_nil css.headers['content-encoding']
    assert_equal static_bytes(root, 'css/app.css'), css.body
  end

  def test_traversal_attempts_are_rejected
    root = build_public
    server = preload_server(root)
    attempts = [
      '/../etc/passwd',
      '/../../../../../../etc/passwd',
      '/%2e%2e/etc/passwd',
      '/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd',
      '/css/..%2f..%2fetc/passwd',
      '/css/..%2F..%2F..%2F..%2F..%2Fetc/passwd',
      '/css\\..\\..\\..\\..\\etc\\passwd',
      '/..\\..\\..\\..\\etc/passwd',
      '/css/%5c..%5c..%5csecret.txt',
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/css/../../secret.txt',
      '/css/..%2f..%2fsecret.txt',
      '/./../secret.txt',
      '/css/%2e%2e/index.html' # resolves inside DIR, still a ".." segment
    ]
    attempts.each do |target|
      status, text = raw_status(server, "GET #{target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
      assert_includes [400, 404], status, "GET #{target} answered #{text[0, 300].inspect}"
      refute_includes text, PASSWD.lines.first, "GET #{target} leaked /etc/passwd"
      refute_includes text, 'TOP-SECRET', "GET #{target} leaked a file outside DIR"
    end
    # The server is still fine afterwards.
    assert_equal static_bytes(root, 'css/app.css'), one_shot(server, 'GET', '/css/app.css').body
  end

  def test_symlinks_leading_outside_are_not_served
    root = build_public
    server = preload_server(root)
    %w[/passwd_link /secret_link.txt /linked_dir/secret2.txt].each do |url|
      response = one_shot(server, 'GET', url)
      refute_includes response.body, PASSWD.lines.first, "#{url} served /etc/passwd"
      refute_includes response.body, 'TOP-SECRET', "#{url} served a file outside DIR"
      assert_includes [403, 404, 200], response.status
      assert_equal "APP-MARKER GET #{url}", response.body if response.status == 200
    end
  end

  def test_directory_without_index_falls_through_to_the_app
    root = build_public
    server = preload_server(root)
    assert_equal 'APP-MARKER GET /noindex/', one_shot(server, 'GET', '/noindex/').body
    assert_equal 'APP-MARKER GET /noindex', one_shot(server, 'GET', '/noindex').body
    assert_equal 'APP-MARKER GET /css/', one_shot(server, 'GET', '/css/').body
    # ... while the file inside it is static.
    assert_equal static_bytes(root, 'noindex/file.txt'), one_shot(server, 'GET', '/noindex/file.txt').body
  end

  def test_preloaded_files_are_get_and_head_only
    root = build_public
    server = preload_server(root)
    response = one_shot(server, 'POST', '/css/app.css', body: 'x=1')
    assert_equal 'APP-MARKER POST /css/app.css', response.body
  end

  def test_boot_log_has_one_line_per_directory_with_counts
    one = File.join(@tmp, 'one')
    two = File.join(@tmp, 'two')
    { 'a.txt' => 100, 'sub/b.css' => 2000, 'sub/deeper/c.bin' => 30_000 }.each_with_index do |(rel, size), i|
      write_deterministic(File.join(one, rel), size, seed: i + 20)
    end
    { 'x.html' => 7, 'y/z.js' => 12_345 }.each_with_index do |(rel, size), i|
      write_deterministic(File.join(two, rel), size, seed: i + 40)
    end
    server = start_server(PRELOAD_APP, args: ['--preload-static', one, '--preload-static', two])
    lines = server.log.scan(PRELOAD_LINE)
    assert_equal 2, lines.size, server.log
    by_dir = lines.to_h { |dir, files, bytes| [File.expand_path(dir), [files.to_i, bytes.to_i]] }
    assert_equal [3, 32_100], by_dir[one], server.log
    assert_equal [2, 12_352], by_dir[two], server.log
    assert_equal File.binread(File.join(one, 'sub/deeper/c.bin')), one_shot(server, 'GET', '/sub/deeper/c.bin').body
    assert_equal File.binread(File.join(two, 'y/z.js')), one_shot(server, 'GET', '/y/z.js').body
  end

  def test_static_and_prebuilt_answers_do_not_wait_for_a_busy_ruby_thread
    root = build_public
    server = preload_server(root, threads: 1)
    slow = background_get(server, '/slow')
    sleep 0.3 # the only Ruby thread is now asleep in /slow
    control = Thread.new { timed { server.http('/ruby-control') } }

    css = static_bytes(root, 'css/app.css')
    timings = []
    10.times do
      response, seconds = timed { one_shot(server, 'GET', '/css/app.css') }
      assert css == response.body, "wrong body for /css/app.css: #{response.body[0, 80].inspect}"
      timings << seconds
      response, seconds = timed { one_shot(server, 'GET', '/prebuilt') }
      assert_equal "prebuilt\n", response.body
      timings << seconds
    end
    assert slow.alive?, 'the static requests were not made while /slow was running'
    assert_operator timings.max, :<, QUICK, "static answers took #{timings.map { |t| (t * 1000).round(1) }} ms"

    assert_equal 'slow done', slow.value.body
    control_response, control_seconds = control.value
    assert_equal 'APP-MARKER GET /ruby-control', control_response.body
    # Proof that the single Ruby thread really was busy meanwhile.
    assert_operator control_seconds, :>, 1.0, 'a Ruby request was not held up by /slow: is -t 1 in effect?'
  end

  def test_config_file_preload_static
    root = build_public
    config = File.join(@tmp, 'hyperion.rb')
    File.write(config, <<~RUBY)
      bind 'tcp://127.0.0.1:0'
      workers 0
      threads 1
      preload_static #{root.inspect}
    RUBY
    server = start_command_server(['-C', config, PRELOAD_APP])
    lines = server.log.scan(PRELOAD_LINE)
    assert_equal 1, lines.size, server.log
    assert_equal File.expand_path(root), File.expand_path(lines.first.first)
    assert_equal static_bytes(root, 'css/app.css'), one_shot(server, 'GET', '/css/app.css').body
    assert_equal static_bytes(root, 'index.html'), one_shot(server, 'GET', '/').body
    assert_equal 304, one_shot(server, 'GET', '/css/app.css',
                               'If-None-Match' => one_shot(server, 'GET', '/css/app.css').headers['etag'].to_s).status
    assert_equal 'APP-MARKER GET /elsewhere', one_shot(server, 'GET', '/elsewhere').body
  end

  def test_config_file_preload_static_immutable_false_follows_changes
    root = build_public
    config = File.join(@tmp, 'hyperion.rb')
    File.write(config, <<~RUBY)
      bind 'tcp://127.0.0.1:0'
      preload_static #{root.inspect}, immutable: false
    RUBY
    server = start_command_server(['-C', config, '--page-cache-recheck', '1', PRELOAD_APP])
    css_path = File.join(root, 'css/app.css')
    js_path = File.join(root, 'js/app.js')
    old_css = File.binread(css_path)
    old_js = File.binread(js_path)
    assert_equal old_css, one_shot(server, 'GET', '/css/app.css').body
    assert_equal old_js, one_shot(server, 'GET', '/js/app.js').body

    new_css = old_css.tr('0-9', '1-90') # same size, mtime moved forward
    new_js = "console.log('changed and longer');\n" * 40
    File.binwrite(css_path, new_css)
    later = Time.now + 10
    File.utime(later, later, css_path)
    File.binwrite(js_path, new_js)
    changed_at = Time.now
    assert_served_fresh_after_recheck(server, '/css/app.css', old_css, new_css, changed_at)
    assert_served_fresh_after_recheck(server, '/js/app.js', old_js, new_js, changed_at)
  end

  # ---------------------------------------------------------------------------
  # Rails' public/ is detected and preloaded
  # ---------------------------------------------------------------------------

  def rails_root
    root = File.join(@tmp, 'rails_root')
    FileUtils.mkdir_p(File.join(root, 'public/assets'))
    File.binwrite(File.join(root, 'public/robots.txt'), "User-agent: *\nDisallow: /admin\n")
    File.binwrite(File.join(root, 'public/assets/app.css'), "h1 { margin: 0 }\n")
    root
  end

  def boot_rails(root, args: [])
    server = start_server(RAILS_APP, args: args, env: { 'RAILS_ROOT_DIR' => root }, wait: false)
    server.wait_until_ready(timeout: RAILS_BOOT)
    server
  end

  def test_rails_public_dir_is_preloaded_automatically
    root = rails_root
    server = boot_rails(root)
    lines = server.log.scan(PRELOAD_LINE)
    assert_equal 1, lines.size, server.log
    dir, files, bytes = lines.first
    assert_equal File.realpath(File.join(root, 'public')), File.realpath(dir)
    assert_equal 2, files.to_i
    assert_equal 31 + 17, bytes.to_i
    # Rails' own public file server is off in this app: only the native
    # layer can answer these.
    robots = one_shot(server, 'GET', '/robots.txt')
    assert_equal 200, robots.status
    assert_equal "User-agent: *\nDisallow: /admin\n", robots.body
    assert_match %r{\Atext/plain}, robots.headers['content-type'].to_s
    assert_equal "h1 { margin: 0 }\n", one_shot(server, 'GET', '/assets/app.css').body
    assert_equal 'RAILS-MARKER', one_shot(server, 'GET', '/marker').body
  end

  def test_no_preload_static_turns_rails_detection_off
    root = rails_root
    server = boot_rails(root, args: ['--no-preload-static'])
    assert_empty server.log.scan(PRELOAD_LINE), server.log
    assert_equal 'RAILS-MARKER', one_shot(server, 'GET', '/marker').body
    robots = one_shot(server, 'GET', '/robots.txt')
    assert_equal 404, robots.status, 'robots.txt must come from Rails (which does not serve public/ here)'
    refute_includes robots.body, 'Disallow: /admin'
  end
end
