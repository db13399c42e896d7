# frozen_string_literal: true

require_relative 'support/process_helpers'

# --log-file and --access-log-file: the server's lines and the access log go
# to files instead of stderr; SIGHUP reopens them by path, as logrotate's
# postrotate expects (mv, then HUP: the new lines land in a new file), in the
# master and in every worker; and HUP under wrk load drops nothing.
class LogFilesTest < Minitest::Test
  include E2E::Helpers

  APP = E2E.app('restart')

  def setup
    @tmp = Dir.mktmpdir('hyperion-logs')
    @log = File.join(@tmp, 'hyperion.log')
    @access = File.join(@tmp, 'access.log')
  end

  def teardown
    super
    FileUtils.rm_rf(@tmp)
  end

  def free_port
    server = TCPServer.new('127.0.0.1', 0)
    server.addr[1]
  ensure
    server&.close
  end

  # Started with its logs in files, so readiness is read from the log file.
  def boot(workers: 2, extra: [])
    port = free_port
    argv = ['-w', workers.to_s, '-t', '2', '-b', "tcp://127.0.0.1:#{port}", '--log-file', @log,
            '--access-log-file', @access, *extra, APP]
    server = start_command_server(argv, wait: false)
    server.instance_variable_set(:@port, port)
    eventually(message: -> { "not ready:\n#{read(@log)}\n#{server.log}" }) do
      read(@log).scan(/worker \d+ ready/).size >= [workers, 1].max
    end
    server
  end

  def read(path) = File.exist?(path) ? File.read(path) : ''

  def test_lines_go_to_the_files_not_stderr
    server = boot
    3.times { |i| assert_equal '200', server.http("/page#{i}").code }
    eventually { read(@access).lines.size >= 3 }
    assert_match(%r{"GET /page2 HTTP/1\.1" 200}, read(@access))
    assert_match(/\[master \d+\] \[info\] Listening on/, read(@log))
    assert_match(/\[worker 1 \d+\] \[info\] worker 1 ready/, read(@log))
    refute_match(/GET \/page/, read(@log), 'access lines stay out of the server log')
    refute_match(/worker \d ready|GET \/page/, server.log, 'nothing of it on stderr')
  end

  def test_hup_reopens_the_files_after_logrotate_moved_them
    server = boot
    assert_equal '200', server.http('/before').code
    eventually { read(@access).include?('/before') }
    File.rename(@log, "#{@log}.1")
    File.rename(@access, "#{@access}.1")
    Process.kill('HUP', server.pid)
    eventually(message: -> { "no reopen line:\n#{read(@log)}\n#{read("#{@log}.1")}" }) do
      read(@log).include?('SIGHUP: 2 log file(s) reopened')
    end
    # Each worker reopens on the HUP the master passes on; a request served
    # by either one is then logged in the new file.
    sleep 0.3
    # Four at once (each holds a thread for 0.3 s), so both workers serve some.
    4.times.map { Thread.new { server.http('/after?sleep=0.3') } }.each { |t| assert_equal '200', t.value.code }
    eventually { read(@access).scan('/after').size >= 4 }
    refute_includes read("#{@access}.1"), '/after', 'nothing more goes to the moved file'
    assert_includes read("#{@access}.1"), '/before'
    assert_match(/passed on to 2 worker\(s\)/, read(@log))
  end

  def test_hup_under_load_drops_nothing
    skip 'wrk not installed (scripts/install-deps.sh test)' unless system('command -v wrk >/dev/null')
    server = boot
    output = nil
    reader = Thread.new do
      output = IO.popen(['wrk', '-t', '2', '-c', '8', '-d', '3s', server.url('/')], err: %i[child out], &:read)
    end
    sleep 0.8
    3.times do
      Process.kill('HUP', server.pid)
      sleep 0.4
    end
    reader.join
    assert_operator output[/(\d+) requests in/, 1].to_i, :>, 100, output
    refute_match(/Socket errors/, output)
    refute_match(/Non-2xx/, output)
    assert_equal 3, read(@log).scan('SIGHUP: 2 log file(s) reopened').size
  end

  def test_an_unwritable_log_file_is_refused_at_boot
    status, output, = E2E.run_to_exit(['--log-file', '/nonexistent-dir/hyperion.log', APP])
    refute status.success?
    assert_match(%r{cannot open log file /nonexistent-dir/hyperion\.log: No such file or directory}, output)
  end

  def test_single_process_reopens_too
    server = boot(workers: 0)
    File.rename(@access, "#{@access}.1")
    Process.kill('HUP', server.pid)
    eventually { read(@log).include?('SIGHUP: 2 log file(s) reopened') }
    assert_equal '200', server.http('/single').code
    eventually { read(@access).include?('/single') }
  end
end
