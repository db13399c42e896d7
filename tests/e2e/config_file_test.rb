# frozen_string_literal: true

require_relative 'support/process_helpers'

# -C FILE and config/hyperion.rb: settings, hooks and their order, CLI
# precedence, and errors pointing at file:line.
class ConfigFileTest < Minitest::Test
  include E2E::Helpers

  PID_APP = E2E.app('proc_pid')

  def setup
    @tmp = Dir.mktmpdir('hyperion-config')
    @hooks = File.join(@tmp, 'hooks.log')
  end

  def teardown
    super
  ensure
    FileUtils.rm_rf(@tmp)
  end

  def write_config(text, path: File.join(@tmp, 'hyperion.rb'))
    FileUtils.mkdir_p(File.dirname(path))
    File.write(path, text)
    path
  end

  def hook_lines = File.exist?(@hooks) ? File.readlines(@hooks, chomp: true) : []

  HOOKS = <<~'RUBY'
    before_fork { File.open(HOOKS_LOG, 'a') { |f| f.puts "before_fork #{Process.pid}" } }
    on_worker_boot { |index| File.open(HOOKS_LOG, 'a') { |f| f.puts "boot #{index} #{Process.pid}" } }
    on_worker_shutdown { |index| File.open(HOOKS_LOG, 'a') { |f| f.puts "shutdown #{index} #{Process.pid}" } }
  RUBY

  def hooks_config(settings)
    "#{settings}\n#{HOOKS.gsub('HOOKS_LOG', @hooks.inspect)}"
  end

  def test_settings_and_hook_order
    config = write_config(hooks_config(<<~RUBY))
      workers 2
      threads 3
      bind 'tcp://127.0.0.1:0'
    RUBY
    server = start_command_server(['-C', config, PID_APP], workers: 2)
    assert_includes server.log, 'mode: 2 workers, 3 Ruby thread(s) per worker'
    assert_equal ['worker 0 ready: 3 Ruby threads', 'worker 1 ready: 3 Ruby threads'],
                 server.log.scan(/worker \d ready: \d+ Ruby threads/).sort
    workers = server.worker_pids.sort
    assert_equal 2, workers.size
    assert_equal workers, serving_pids_under_load(server, parallel: 8, expect: workers)

    lines = hook_lines
    assert_equal "before_fork #{server.pid}", lines.first
    assert_equal 3, lines.size, lines.inspect
    boots = lines[1..].map { |l| l.split }.sort
    assert_equal [%w[boot 0], %w[boot 1]], boots.map { |b| b.first(2) }
    assert_equal workers, boots.map { |b| Integer(b[2]) }.sort
    boot_pid = boots.to_h { |_, index, pid| [index, pid] }

    status = server.stop('TERM')
    assert status.success?, "exit status #{status.inspect}\n#{server.log}"
    lines = hook_lines
    assert_equal 5, lines.size, lines.inspect
    assert_equal "before_fork #{server.pid}", lines.first
    assert_equal [%w[boot 0], %w[boot 1]], lines[1, 2].map { |l| l.split.first(2) }.sort
    shutdowns = lines[3, 2].map(&:split).sort
    assert_equal [['shutdown', '0', boot_pid['0']], ['shutdown', '1', boot_pid['1']]], shutdowns
  end

  def test_command_line_overrides_the_file
    socket = File.join(@tmp, 'from-config.sock')
    config = write_config(<<~RUBY)
      workers 2
      threads 3
      bind 'unix://#{socket}'
    RUBY
    server = start_command_server(['-C', config, '-w', '1', '-t', '5', '-b', 'tcp://127.0.0.1:0', PID_APP], workers: 1)
    assert_includes server.log, 'mode: 1 workers, 5 Ruby thread(s) per worker'
    assert_equal ['worker 0 ready: 5 Ruby threads'], server.log.scan(/worker \d ready: \d+ Ruby threads/)
    assert_equal 1, server.worker_pids.size
    assert_equal ["Listening on http://127.0.0.1:#{server.port}"], server.log.scan(/Listening on \S+/)
    refute File.exist?(socket), 'the config file bind was used despite -b'
    assert_equal server.worker_pids.first.to_s, server.http('/').body
  end

  # The operations blocks: admin, worker_health, logging's files, and
  # `workers :auto`, all from the file.
  def test_admin_worker_health_and_log_file_blocks
    access = File.join(@tmp, 'access.log')
    admin_socket = File.join(@tmp, 'admin.sock')
    config = write_config(<<~RUBY)
      workers :auto
      bind 'tcp://127.0.0.1:0'
      admin do
        bind 'unix://#{admin_socket}'
        token 'block-token-1234'
      end
      worker_health do
        max_requests 100_000
        max_rss_mb 4096
        max_age 86_400
        timeout 30
      end
      logging do
        access_file '#{access}'
      end
    RUBY
    cpus = Integer(`nproc`)
    server = start_command_server(['-C', config, PID_APP], workers: cpus)
    assert_match(/-w auto: #{cpus} worker\(s\) \(#{cpus} CPU\(s\) in the affinity mask/, server.log)
    assert_equal cpus, server.worker_pids.size
    assert_equal '200', server.http('/').code
    eventually { File.exist?(access) && File.read(access).include?('"GET / HTTP/1.1" 200') }
    sock = UNIXSocket.new(admin_socket)
    sock.write("GET /-/metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer block-token-1234\r\n\r\n")
    status, _, body = parse_response(read_until_eof(sock).first)
    assert_equal 200, status
    assert_match(/^hyperion_workers #{cpus}$/, body)
  ensure
    sock&.close
  end

  def test_config_values_used_when_not_on_the_command_line
    config = write_config("threads 4\nbind 'tcp://127.0.0.1:0'\nenvironment 'staging'\n")
    server = start_command_server(['-C', config, PID_APP], env: { 'RACK_ENV' => nil })
    assert_includes server.log, 'mode: single process, 4 Ruby thread(s) per worker, environment: staging'
    assert_equal server.pid.to_s, server.http('/').body
  end

  def test_unknown_key_names_file_and_line
    config = write_config(<<~RUBY)
      # settings
      workers 1
      bogus_setting 42
      threads 2
    RUBY
    status, log = E2E.run_to_exit(['-C', config, '-b', 'tcp://127.0.0.1:0', PID_APP])
    assert_equal 1, status.exitstatus, log
    assert log.start_with?("hyperion: #{config}:3: "), log
    assert_includes log, "unknown config key 'bogus_setting'"
    assert_equal 1, log.lines.size, log
  end

  # The message should say where once, not "file:3: file:3: ...".
  def test_config_error_message_names_location_once
    config = write_config("workers 1\nbogus_setting 42\n")
    _status, log = E2E.run_to_exit(['-C', config, '-b', 'tcp://127.0.0.1:0', PID_APP])
    assert_equal 1, log.scan("#{config}:2").size, log
  end

  def test_unknown_logging_key_names_file_and_line
    config = write_config("workers 0\nlogging do\n  level :info\n  colour :red\nend\n")
    status, log = E2E.run_to_exit(['-C', config, '-b', 'tcp://127.0.0.1:0', PID_APP])
    assert_equal 1, status.exitstatus, log
    assert log.start_with?("hyperion: #{config}:4: "), log
    assert_includes log, "unknown logging key 'colour'"
  end

  # Puma-style config files compute values with Kernel methods
  # (Integer(ENV.fetch(...)), require): those are not config keys.
  def test_kernel_methods_work_in_the_config_file
    config = write_config(<<~RUBY)
      threads Integer(ENV.fetch('E2E_THREADS', '2'))
      bind 'tcp://127.0.0.1:0'
    RUBY
    server = start_command_server(['-C', config, PID_APP], env: { 'E2E_THREADS' => '3' }, wait: false)
    begin
      server.wait_until_ready
    rescue RuntimeError => e
      flunk e.message
    end
    assert_includes server.log, 'mode: single process, 3 Ruby thread(s) per worker'
  end

  def test_kernel_methods_work_inside_hooks
    config = write_config(<<~RUBY)
      workers 1
      bind 'tcp://127.0.0.1:0'
      on_worker_boot do |index|
        require 'json'
        puts "e2e-hook-puts \#{index}"
        $stdout.flush
        File.write(#{@hooks.inspect}, JSON.generate('index' => index))
      end
    RUBY
    server = start_command_server(['-C', config, PID_APP], workers: 1)
    assert_equal server.worker_pids.first.to_s, server.http('/').body
    refute_match(/hook failed/, server.log)
    assert_equal ['{"index":0}'], hook_lines
    assert_includes server.log.lines.map(&:chomp), 'e2e-hook-puts 0'
  end

  def test_missing_config_file
    missing = File.join(@tmp, 'nope.rb')
    status, log = E2E.run_to_exit(['-C', missing, PID_APP])
    assert_equal 1, status.exitstatus, log
    assert_equal "hyperion: config file #{missing} not found\n", log
  end

  def test_default_config_file_in_working_directory
    dir = File.join(@tmp, 'project')
    write_config(hooks_config(<<~RUBY), path: File.join(dir, 'config', 'hyperion.rb'))
      workers 1
      threads 4
      bind 'tcp://127.0.0.1:0'
    RUBY
    server = start_command_server([PID_APP], workers: 1, chdir: dir)
    assert_includes server.log, 'mode: 1 workers, 4 Ruby thread(s) per worker'
    worker = server.worker_pids
    assert_equal 1, worker.size
    assert_equal worker.first.to_s, server.http('/').body
    assert_equal ["before_fork #{server.pid}", "boot 0 #{worker.first}"], hook_lines
  end

  def test_failing_hook_is_logged_and_server_still_serves
    config = write_config(<<~RUBY)
      workers 1
      on_worker_boot { File.read('/nonexistent/e2e-hook-file') }
      on_worker_boot { |i| File.write(#{@hooks.inspect}, "second hook ran for \#{i}") }
    RUBY
    server = start_command_server(['-C', config, '-b', 'tcp://127.0.0.1:0', PID_APP], workers: 1)
    assert_equal server.worker_pids.first.to_s, server.http('/').body
    assert_match(%r{\[error\] on_worker_boot hook failed: #{Regexp.escape(config)}:2: .*/nonexistent/e2e-hook-file \(Errno::ENOENT\)$},
                 server.log)
    assert_equal ['second hook ran for 0'], hook_lines
  end
end
