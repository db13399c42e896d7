# frozen_string_literal: true

require_relative 'support/harness'
require_relative 'support/process_helpers'
require 'openssl'
require 'json'
require 'digest'

# ssl:// binds: real TLS clients (Net::HTTP, OpenSSL sockets, curl) against
# the real binary, on both loops (ctest runs this file as e2e.* and e2e_epoll.*).
class TlsTest < Minitest::Test
  include E2E::Helpers

  APP = E2E.app('tls_echo')

  def self.certificate(...) = E2E::TLS.certificate(...)

  def self.files
    @files ||= begin
      dir = Dir.mktmpdir('hyperion-tls')
      Minitest.after_run { FileUtils.rm_rf(dir) }
      big = File.join(dir, 'big.bin')
      File.binwrite(big, Random.new(7).bytes(3 * 1024 * 1024 + 123))
      { dir: dir, server: certificate(dir, 'server'), client: certificate(dir, 'client'), big: big }
    end
  end

  def bind(query = '')
    f = self.class.files
    "ssl://127.0.0.1:0?cert=#{f[:server][:cert]}&key=#{f[:server][:key]}#{query}"
  end

  def tls_server(query = '', **opts) = start_server(APP, bind: bind(query), **opts)

  # Net::HTTP that verifies the server's certificate against itself.
  def https(server, timeout: 10 * E2E::SLOW, &block)
    http = Net::HTTP.new('127.0.0.1', server.port)
    http.use_ssl = true
    http.ca_file = self.class.files[:server][:cert]
    http.verify_mode = OpenSSL::SSL::VERIFY_PEER
    http.open_timeout = http.read_timeout = timeout
    yield http if block
    http
  end

  def ssl_socket(server, context = OpenSSL::SSL::SSLContext.new)
    tcp = TCPSocket.new('127.0.0.1', server.port)
    ssl = OpenSSL::SSL::SSLSocket.new(tcp, context)
    ssl.sync_close = true
    ssl.connect
    ssl
  end

  def test_get_and_post_over_keep_alive_with_a_verified_certificate
    server = tls_server
    assert_match %r{Listening on https://127\.0\.0\.1:#{server.port}}, server.log
    https(server).start do |http|
      first = http.get('/')
      assert_equal '200', first.code
      assert_equal 'hello over tls', first.body
      assert_equal 'hyperion', first['server']
      upload = Random.new(3).bytes(5 * 1024 * 1024 + 17)
      post = http.post('/upload', upload, 'content-type' => 'application/octet-stream')
      assert_equal "#{upload.bytesize} #{Digest::SHA256.hexdigest(upload)}", post.body
      assert_equal 'hello over tls', http.get('/').body
    end
  end

  def test_keep_alive_and_pipelining_on_one_tls_connection
    server = tls_server
    ssl = ssl_socket(server)
    ssl.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 3 + "GET /env HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    all = ssl.read
    assert_equal 4, all.scan("HTTP/1.1 200 OK\r\n").size, all
    assert_equal 3, all.scan('hello over tls').size
    assert_includes all, '"rack.url_scheme":"https"'
  ensure
    ssl&.close
  end

  def test_rack_env_says_https
    server = tls_server
    env = JSON.parse(https(server).start { |http| http.get('/env').body })
    assert_equal 'https', env['rack.url_scheme']
    assert_equal 'on', env['HTTPS']
    # Hijack works over TLS: the app gets a plaintext socketpair the loop bridges.
    assert_equal true, env['rack.hijack?']
    assert_equal true, env['hijack']
    assert_equal server.port.to_s, env['SERVER_PORT']
    assert_equal 'HTTP/1.1', env['SERVER_PROTOCOL']

    # A Host without a port means the scheme's default, 443.
    ssl = ssl_socket(server)
    ssl.write("GET /env HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
    _, _, body = parse_response(ssl.read)
    assert_equal '443', JSON.parse(body)['SERVER_PORT']
  ensure
    ssl&.close
  end

  def test_large_bodies_arrive_byte_exact
    server = tls_server
    big = self.class.files[:big]
    https(server).start do |http|
      file = http.get("/file?path=#{big}")
      assert_equal '200', file.code
      assert_equal File.size(big), file.body.bytesize
      assert_equal Digest::SHA256.file(big).hexdigest, Digest::SHA256.hexdigest(file.body), 'to_path body differs'
      array = http.get('/array')
      assert_equal 2 * 1024 * 1024, array.body.bytesize
      assert array.body.match?(/\Ax+\z/)
      assert_equal 'hello over tls', http.get('/').body, 'keep-alive after big bodies'
    end
  end

  # 64 MiB through TLS in 256 KiB pieces: every byte, in order (streamed to
  # a digest, as a client that does not hold it all would).
  def test_a_64_mib_download_is_byte_exact
    path = File.join(self.class.files[:dir], 'huge.bin')
    unless File.exist?(path)
      chunk = Random.new(64).bytes(1 << 20)
      File.open(path, 'wb') { |f| 64.times { |i| f.write(chunk.byteslice(i..) + chunk.byteslice(0, i)) } }
    end
    server = tls_server
    digest = Digest::SHA256.new
    size = 0
    https(server, timeout: 60 * E2E::SLOW).start do |http|
      http.request_get("/file?path=#{path}") do |response|
        assert_equal '200', response.code
        assert_equal (64 << 20).to_s, response['content-length']
        response.read_body do |piece|
          size += piece.bytesize
          digest << piece
        end
      end
    end
    assert_equal 64 << 20, size
    assert_equal Digest::SHA256.file(path).hexdigest, digest.hexdigest
  end

  def test_slow_reader_gets_every_byte
    server = tls_server
    big = self.class.files[:big]
    tcp = TCPSocket.new('127.0.0.1', server.port)
    tcp.setsockopt(Socket::SOL_SOCKET, Socket::SO_RCVBUF, 32 * 1024)
    ssl = OpenSSL::SSL::SSLSocket.new(tcp, OpenSSL::SSL::SSLContext.new)
    ssl.sync_close = true
    ssl.connect
    ssl.write("GET /file?path=#{big} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    received = +''.b
    # Read slowly at first so the server's socket fills and it must wait.
    8.times do
      sleep 0.05
      received << ssl.readpartial(16 * 1024)
    end
    # Meanwhile another client is served at once.
    assert_equal 'hello over tls', https(server).start { |http| http.get('/').body }
    loop { received << ssl.readpartial(1 << 20) }
  rescue EOFError
    _, headers, body = parse_response(received)
    assert_equal File.size(big).to_s, headers['content-length']
    assert_equal Digest::SHA256.file(big).hexdigest, Digest::SHA256.hexdigest(body)
  ensure
    ssl&.close
  end

  def test_streaming_body_arrives_as_written
    server = tls_server
    ssl = ssl_socket(server)
    ssl.write("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
    started = Time.now
    first = +''
    first << ssl.readpartial(4096) until first.include?('chunk 0')
    assert_operator Time.now - started, :<, 0.35 * E2E::SLOW, 'the first chunk waited for the whole body'
    rest = +''
    rest << ssl.readpartial(4096) until (first + rest).include?("0\r\n\r\n")
    assert_includes first + rest, 'chunk 2'
  ensure
    ssl&.close
  end

  def test_curl
    server = tls_server
    out = IO.popen(['curl', '-sS', '--http1.1', '--cacert', self.class.files[:server][:cert],
                    "https://127.0.0.1:#{server.port}/", '-w', ' %{http_code} %{ssl_verify_result}'], err: [:child, :out], &:read)
    assert_equal 'hello over tls 200 0', out
  end

  # The server's preference: h2, then http/1.1; --no-http2 stops offering h2.
  def test_alpn_prefers_h2_and_no_http2_turns_it_off
    agreed = lambda do |server, offered|
      context = OpenSSL::SSL::SSLContext.new
      context.alpn_protocols = offered
      ssl = ssl_socket(server, context)
      ssl.alpn_protocol
    ensure
      ssl&.close
    end
    server = tls_server
    assert_equal 'h2', agreed.call(server, %w[http/1.1 h2])
    assert_equal 'http/1.1', agreed.call(server, %w[http/1.1])
    plain = tls_server('', args: ['--no-http2'])
    assert_equal 'http/1.1', agreed.call(plain, %w[h2 http/1.1])
    assert_nil agreed.call(plain, %w[h2]), 'h2 agreed although --no-http2'
  end

  def test_plain_http_on_the_tls_port_gets_a_400_and_the_server_keeps_serving
    server = tls_server
    status, headers, body = parse_response(server.raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n", tls: false))
    assert_equal 400, status
    assert_equal 'close', headers['connection']
    assert_match %r{https://}, body
    assert wait_for_log(server, /plain HTTP from 127\.0\.0\.1.* on a TLS port/), server.log
    assert_equal 'hello over tls', https(server).start { |http| http.get('/').body }
  end

  def test_tls_1_1_and_garbage_are_refused_and_logged
    server = tls_server
    context = OpenSSL::SSL::SSLContext.new
    context.security_level = 0 if context.respond_to?(:security_level=)
    context.min_version = OpenSSL::SSL::TLS1_VERSION
    context.max_version = OpenSSL::SSL::TLS1_1_VERSION
    assert_raises(OpenSSL::SSL::SSLError, Errno::ECONNRESET) { ssl_socket(server, context) }
    assert wait_for_log(server, /TLS handshake with 127\.0\.0\.1.* failed: unsupported protocol/), server.log

    junk = server.raw("\x16\x03\x01\x00\x05hello".b, tls: false)
    assert_operator junk.bytesize, :<, 64, 'a bad ClientHello got more than an alert'
    assert_equal 'hello over tls', https(server).start { |http| http.get('/').body }
  end

  def test_client_certificates_with_force_peer
    client = self.class.files[:client]
    server = tls_server("&verify_mode=force_peer&ca=#{client[:cert]}")
    without = https(server)
    assert_raises(OpenSSL::SSL::SSLError, Errno::ECONNRESET, EOFError) { without.start { |http| http.get('/') } }
    with = https(server) do |http|
      http.cert = client[:x509]
      http.key = client[:pkey]
    end
    assert_equal 'hello over tls', with.start { |http| http.get('/').body }
  end

  def test_workers_serve_tls
    server = tls_server(workers: 2)
    bodies = Array.new(6) { https(server).start { |http| http.get('/').body } }
    assert_equal ['hello over tls'] * 6, bodies
  end

  def test_tls_flags_make_the_default_bind_tls
    f = self.class.files
    server = start_server(APP, bind: false, args: ['-p', '0', '--tls-cert', f[:server][:cert], '--tls-key', f[:server][:key]])
    assert_match %r{Listening on https://127\.0\.0\.1:}, server.log
    assert_equal 'hello over tls', https(server).start { |http| http.get('/').body }
  end

  def test_config_file_tls_block_and_ssl_bind
    f = self.class.files
    config = File.join(f[:dir], "tls_config_#{name}.rb")
    File.write(config, <<~RUBY)
      bind 'ssl://127.0.0.1:0'
      tls do
        cert #{f[:server][:cert].inspect}
        key #{f[:server][:key].inspect}
        session_cache_size 1000
        ticket_key_rotation '2h'
        handshake_timeout '5s'
        ktls :off
      end
    RUBY
    # The config file's ktls wins over the environment.
    server = start_server(APP, bind: false, args: ['-C', config], env: { 'HYPERION_TLS_KTLS' => 'on' })
    env = JSON.parse(https(server).start { |http| http.get('/env').body })
    assert_equal 'https', env['rack.url_scheme']
    assert_match(/kTLS off/, server.log)
  end

  def test_config_file_tls_block_rejects_unknown_keys
    config = File.join(self.class.files[:dir], "tls_bad_#{name}.rb")
    File.write(config, "tls do\n  certificate 'x.pem'\nend\n")
    server = start_server(APP, bind: false, args: ['-C', config], wait: false)
    status = server.wait(timeout: 20)
    assert_equal 1, status.exitstatus, server.log
    assert_match(/#{Regexp.escape(config)}:2: unknown tls key 'certificate'/, server.log)
  end

  # A client context for one TLS version that keeps every ticket it is given.
  def ticket_client(version)
    context = OpenSSL::SSL::SSLContext.new
    context.max_version = OpenSSL::SSL.const_get(version)
    context.session_cache_mode = OpenSSL::SSL::SSLContext::SESSION_CACHE_CLIENT
    tickets = []
    context.session_new_cb = ->(args) { tickets << args[1] }
    [context, tickets]
  end

  # GET path on a new connection that offers `session`: [status, body, resumed?].
  def get_resuming(server, context, session, path = '/')
    ssl = OpenSSL::SSL::SSLSocket.new(TCPSocket.new('127.0.0.1', server.port), context)
    ssl.sync_close = true
    ssl.session = session if session
    ssl.connect
    ssl.write("GET #{path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status, _, body = parse_response(ssl.read)
    [status, body, ssl.session_reused?]
  ensure
    ssl&.close
  end

  # The ticket keys are shared by every worker, so a ticket one worker issued
  # resumes on every other worker. One Ruby thread per worker: while the first
  # worker sleeps in a request, capacity-aware accept hands the second
  # connection to the other worker.
  def test_sessions_resume_on_every_worker
    server = tls_server(workers: 2, threads: 1)
    %w[TLS1_2_VERSION TLS1_3_VERSION].each do |version|
      context, tickets = ticket_client(version)
      get_resuming(server, context, nil, '/pid')
      refute_empty tickets, "#{version}: no session ticket was issued"
      busy = Thread.new { get_resuming(server, context, tickets.last, '/pid?sleep=0.6') }
      sleep 0.2 * E2E::SLOW
      other = get_resuming(server, context, tickets.first, '/pid')
      busy = busy.value
      assert busy.last && other.last, "#{version}: resumed #{[busy, other].count(&:last)} of 2 reconnections"
      refute_equal busy[1], other[1], "#{version}: both reconnections reached one worker"
    end
  end

  # SIGHUP makes a new ticket key in the master that every worker uses at
  # once; a ticket of the previous key still resumes, one two keys old not.
  def test_sighup_rotates_the_shared_ticket_key_and_the_previous_one_still_resumes
    server = tls_server(workers: 2, threads: 1)
    hup = lambda do
      count = server.log.scan('new TLS session-ticket key').size
      Process.kill('HUP', server.pid)
      eventually(timeout: 5 * E2E::SLOW) { server.log.scan('new TLS session-ticket key').size > count }
    end
    %w[TLS1_2_VERSION TLS1_3_VERSION].each do |version|
      context, tickets = ticket_client(version)
      resumed = lambda do |session|
        status, _, reused = get_resuming(server, context, session)
        assert_equal 200, status
        reused
      end
      resumed.call(nil)
      # TLS 1.3 clients use a ticket once, and a full handshake brings two:
      # one to resume with after one rotation, one to try after two.
      refute_empty tickets, "#{version}: no ticket"
      after_one, after_two = tickets.last, tickets.first
      hup.call
      assert resumed.call(after_one), "#{version}: a ticket of the previous key did not resume"
      hup.call
      refute resumed.call(after_two), "#{version}: a ticket two keys old resumed"
      assert resumed.call(tickets.last), "#{version}: a ticket of the current key did not resume"
    end
    assert_match(/SIGHUP: new TLS session-ticket key for 1 bind/, server.log)
  end

  # The certificate a client gets follows the name it asks for (SNI):
  # names and *.domain wildcards, the bind's own otherwise; from the flags
  # and from the config file (where the flags, when given, win as for bind).
  def test_sni_picks_the_certificate_for_the_name_asked_for
    f = self.class.files
    api = self.class.certificate(f[:dir], 'sni_api', 'api.example.com')
    wild = self.class.certificate(f[:dir], 'sni_wild', '*.wild.test')
    config = File.join(f[:dir], "sni_config_#{name}.rb")
    File.write(config, <<~RUBY)
      tls do
        sni 'api.example.com', cert: #{api[:cert].inspect}, key: #{api[:key].inspect}
        sni '*.wild.test', cert: #{wild[:cert].inspect}, key: #{wild[:key].inspect}
      end
    RUBY
    from_flags = tls_server(args: ['--tls-sni', "api.example.com=#{api[:cert]},#{api[:key]}",
                                   '--tls-sni', "*.wild.test=#{wild[:cert]},#{wild[:key]}"])
    from_config = tls_server(args: ['-C', config])
    [from_flags, from_config].each do |server|
      served = lambda do |host|
        ssl = OpenSSL::SSL::SSLSocket.new(TCPSocket.new('127.0.0.1', server.port), OpenSSL::SSL::SSLContext.new)
        ssl.sync_close = true
        ssl.hostname = host if host
        ssl.connect
        ssl.write("GET / HTTP/1.1\r\nHost: #{host || 'x'}\r\nConnection: close\r\n\r\n")
        assert_equal 200, parse_response(ssl.read).first
        ssl.peer_cert.subject.to_a.find { |entry| entry[0] == 'CN' }[1]
      ensure
        ssl&.close
      end
      assert_equal 'api.example.com', served.call('api.example.com')
      assert_equal 'api.example.com', served.call('API.Example.com')
      assert_equal '*.wild.test', served.call('a.wild.test')
      assert_equal 'server', served.call('a.b.wild.test')
      assert_equal 'server', served.call('other.test')
      assert_equal 'server', served.call(nil)
    end
  end

  def test_a_handshake_that_trickles_is_closed_at_its_deadline
    server = tls_server(args: ['--tls-handshake-timeout', '1s', '--keepalive-timeout', '30s'])
    silent = server.socket(tls: false)
    trickle = server.socket(tls: false)
    hello = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".b # a ClientHello that never ends
    started = Time.now
    hello.each_char do |byte|
      trickle.write(byte)
      sleep 0.25
    rescue Errno::EPIPE, Errno::ECONNRESET
      break
    end
    _, _, eof = read_until_eof(trickle, timeout: 5 * E2E::SLOW)
    closed_after = Time.now - started
    assert eof, 'a trickled handshake was never closed'
    assert_operator closed_after, :<, 4 * E2E::SLOW, "closed after #{closed_after.round(2)} s (deadline 1 s)"
    _, _, silent_eof = read_until_eof(silent, timeout: 3 * E2E::SLOW)
    assert silent_eof, 'a connection that never said hello outlived the handshake deadline'
    assert wait_for_log(server, /TLS handshake not finished within 1000 ms/), server.log
    assert_equal 'hello over tls', https(server).start { |http| http.get('/').body }
  ensure
    silent&.close
    trickle&.close
  end

  def test_handshake_rate_limit_closes_the_excess_and_recovers
    server = tls_server(args: ['--tls-handshake-rate-limit', '5'])
    outcomes = Array.new(12) do
      https(server).start { |http| http.get('/').body }
    rescue OpenSSL::SSL::SSLError, Errno::ECONNRESET, EOFError, Errno::EPIPE
      :refused
    end
    assert_operator outcomes.count('hello over tls'), :>=, 5, outcomes.inspect
    assert_operator outcomes.count(:refused), :>=, 1, "12 handshakes at once all passed a limit of 5/s: #{outcomes}"
    assert wait_for_log(server, %r{TLS handshake rate limit \(5/s\): closed \d+ new connection}), server.log
    sleep 1.1
    assert_equal 'hello over tls', https(server).start { |http| http.get('/').body }, 'the bucket did not refill'
  end

  def test_a_missing_certificate_is_one_boot_error
    missing = File.join(self.class.files[:dir], 'missing.crt')
    server = start_server(APP, bind: "ssl://127.0.0.1:0?cert=#{missing}&key=#{self.class.files[:server][:key]}",
                               wait: false)
    status = server.wait(timeout: 20)
    assert_equal 1, status.exitstatus, server.log
    assert_match(/#{Regexp.escape(missing)}: No such file or directory/, server.log)
  end

  def test_a_key_that_does_not_match_is_one_boot_error
    f = self.class.files
    server = start_server(APP, bind: "ssl://127.0.0.1:0?cert=#{f[:server][:cert]}&key=#{f[:client][:key]}", wait: false)
    status = server.wait(timeout: 20)
    assert_equal 1, status.exitstatus, server.log
    assert_match(/TLS key #{Regexp.escape(f[:client][:key])} does not match the certificate/, server.log)
  end

  # What the server's own probe checks: the "tls" upper-layer protocol on an
  # established loopback TCP socket (TCP_ULP is 31 in linux/tcp.h).
  def self.kernel_tls?
    listener = TCPServer.new('127.0.0.1', 0)
    client = TCPSocket.new('127.0.0.1', listener.addr[1])
    accepted = listener.accept
    accepted.setsockopt(Socket::IPPROTO_TCP, 31, 'tls')
    true
  rescue SystemCallError
    false
  ensure
    [accepted, client, listener].each { |s| s&.close }
  end

  def test_ktls_auto_falls_back_to_user_space_and_says_why
    server = tls_server
    expected = self.class.kernel_tls? ? /kTLS available in the kernel but not engaged/ : /kTLS unavailable \(.+\): TLS runs in user space/
    assert_match expected, server.log
    https(server).start { |http| assert_equal '200', http.get('/').code }
  end

  def test_ktls_on_refuses_to_start_with_the_reason
    server = start_server(APP, bind: bind, args: %w[--tls-ktls on], wait: false)
    status = server.wait(timeout: 20)
    assert_equal 1, status.exitstatus, server.log
    assert_match(/--tls-ktls on(, but kernel TLS is unavailable: .+|: the kernel offers TLS, but this build cannot)/, server.log)
  end

  def test_ktls_off_from_the_environment_and_a_bad_value_refused
    server = start_server(APP, bind: bind, env: { 'HYPERION_TLS_KTLS' => 'off' })
    assert_match(/kTLS off \(--tls-ktls off\)/, server.log)
    bad = start_server(APP, bind: bind, env: { 'HYPERION_TLS_KTLS' => 'sometimes' }, wait: false)
    assert_equal 1, bad.wait(timeout: 20).exitstatus, bad.log
    assert_match(/HYPERION_TLS_KTLS=sometimes: expects auto, on or off/, bad.log)
    # The flag wins over the environment.
    flag = start_server(APP, bind: bind, args: %w[--tls-ktls off], env: { 'HYPERION_TLS_KTLS' => 'on' })
    assert_match(/kTLS off/, flag.log)
  end
end
