# frozen_string_literal: true

require_relative '../e2e/support/process_helpers'
require 'yaml'

# examples/deploy and packaging/: the command lines they give Hyperion are
# real (every flag known, and the server boots on them and answers the probes
# they point at), the stop budgets add up (grace periods above
# --graceful-timeout), and nginx.conf proxies to Hyperion on a Unix socket.
class DeployExamplesTest < Minitest::Test
  include E2E::Helpers

  DEPLOY = File.join(E2E::ROOT, 'examples/deploy')
  PACKAGING = File.join(E2E::ROOT, 'packaging')
  HELLO = File.join(E2E::ROOT, 'examples/hello')

  def kubernetes = YAML.load_stream(File.read(File.join(DEPLOY, 'kubernetes.yaml')))
  def deployment = kubernetes.find { |doc| doc['kind'] == 'Deployment' }
  def container = deployment.dig('spec', 'template', 'spec', 'containers').first
  def compose = YAML.safe_load(File.read(File.join(DEPLOY, 'docker-compose.yml')))

  def dockerfile_cmd
    JSON.parse(File.read(File.join(PACKAGING, 'docker/Dockerfile'))[/^CMD (\[.*\])$/, 1])
  end

  def unit(name) = File.read(File.join(PACKAGING, 'systemd', name))

  def command_lines
    { 'kubernetes.yaml' => container['args'], 'docker-compose.yml' => compose.dig('services', 'app', 'command'),
      'Dockerfile' => dockerfile_cmd,
      'hyperion.service' => unit('hyperion.service')[/"HYPERION_OPTS=([^"]*)"/, 1].split }
  end

  # "30s", "1m", "500ms" in seconds.
  def seconds(text)
    value, unit = text.to_s.match(/\A(\d+)(ms|s|m)?\z/)&.captures
    flunk "not a duration: #{text.inspect}" unless value
    Integer(value) * { 'ms' => 0.001, 's' => 1, nil => 1, 'm' => 60 }.fetch(unit)
  end

  def graceful_timeout(args)
    index = args.index('--graceful-timeout')
    index ? seconds(args[index + 1]) : 30
  end

  def test_every_flag_is_one_hyperion_knows
    help = `#{E2E::BIN} --help`
    known = help.scan(/(?<![\w-])--?[A-Za-z0-9][a-z0-9-]*/).uniq
    command_lines.each do |file, args|
      refute_empty args, file
      flags = args.grep(/\A-/)
      assert_empty flags - known, "#{file}: flags that `hyperion --help` does not list"
    end
  end

  def test_kubernetes_grace_covers_prestop_and_drain
    grace = deployment.dig('spec', 'template', 'spec', 'terminationGracePeriodSeconds')
    pre_stop = container.dig('lifecycle', 'preStop', 'exec', 'command')
    assert_equal 'sleep', pre_stop.first
    budget = Integer(pre_stop.last) + graceful_timeout(container['args'])
    assert_operator grace, :>, budget, 'terminationGracePeriodSeconds must exceed the preStop sleep + --graceful-timeout'
    assert_equal '/-/ready', container.dig('readinessProbe', 'httpGet', 'path')
    assert_equal '/-/live', container.dig('livenessProbe', 'httpGet', 'path')
    ports = container['ports'].to_h { |port| [port['name'], port['containerPort']] }
    admin_port = Integer(container['args'][container['args'].index('--admin-bind') + 1][/:(\d+)\z/, 1])
    assert_equal admin_port, ports.fetch(container.dig('readinessProbe', 'httpGet', 'port'))
    assert_equal admin_port, ports.fetch(container.dig('livenessProbe', 'httpGet', 'port'))
    service = kubernetes.find { |doc| doc['kind'] == 'Service' }
    assert_equal ['http'], service.dig('spec', 'ports').map { |port| port['targetPort'] }, 'the admin port is not published'
  end

  def test_stop_budgets_of_compose_and_the_unit
    app = compose.dig('services', 'app')
    assert_equal 'SIGTERM', app['stop_signal']
    assert_operator seconds(app['stop_grace_period']), :>, graceful_timeout(app['command'])
    service = unit('hyperion.service')
    assert_operator Integer(service[/^TimeoutStopSec=(\d+)$/, 1]), :>, graceful_timeout(command_lines['hyperion.service'])
    assert_match(/^KillMode=mixed$/, service, 'TERM goes to the master only (it drains the workers)')
    assert_match(/^ExecReload=\/bin\/kill -USR1 \$MAINPID$/, service)
  end

  # Each command line as given, but on ephemeral loopback ports: it boots, the
  # app answers, the admin listener answers the probes, and TERM ends it with 0.
  def test_the_example_command_lines_serve_and_answer_the_probes
    command_lines.except('hyperion.service').each do |file, args|
      args = args.map { |arg| arg.sub(%r{\Atcp://0\.0\.0\.0:\d+\z}, 'tcp://127.0.0.1:0') }
      workers = Integer(args[args.index('-w') + 1])
      server = start_command_server(args, workers: workers, chdir: HELLO)
      admin = Integer(await_log(server, %r{admin listener on http://127\.0\.0\.1:(\d+)})[1])
      assert_equal "Hello from Hyperion\n", server.http('/').body, file
      %w[/-/live /-/ready].each do |path|
        response = Net::HTTP.get_response(URI("http://127.0.0.1:#{admin}#{path}"))
        assert_equal '200', response.code, "#{file}: #{path}: #{response.body}"
      end
      assert server.stop('TERM').success?, "#{file}:\n#{server.log}"
    end
  end

  # nginx.conf as it is, but for the paths of this test: nginx on a loopback
  # port in front of Hyperion on a Unix socket, with keep-alive upstream.
  def test_nginx_example_proxies_over_the_unix_socket
    skip 'nginx is not installed (scripts/install-deps.sh bench installs nginx-light)' unless system('command -v nginx >/dev/null')
    dir = Dir.mktmpdir('hyperion-nginx')
    socket = File.join(dir, 'hyperion.sock')
    public_dir = File.join(dir, 'public')
    FileUtils.mkdir_p(public_dir)
    File.write(File.join(public_dir, 'robots.txt'), "static\n")
    port = TCPServer.open('127.0.0.1', 0) { |probe| probe.addr[1] }
    site = File.read(File.join(DEPLOY, 'nginx.conf'))
    site = site.sub(/^    listen 80;$/, "    listen 127.0.0.1:#{port};").gsub('/run/hyperion/hyperion.sock', socket)
               .sub('root /srv/app/public;', "root #{public_dir};")
    refute_includes site.lines.grep_v(/\A\s*#/).join, '/run/hyperion', 'every path was replaced'
    File.write(File.join(dir, 'site.conf'), site)
    # `user root`: the workers must be able to connect to a socket made with umask 022
    # (the example's comments cover that for a real deployment).
    File.write(File.join(dir, 'nginx.conf'), <<~NGINX)
      #{Process.uid.zero? ? 'user root;' : ''}
      daemon off;
      worker_processes 1;
      pid #{dir}/nginx.pid;
      error_log #{dir}/error.log;
      events {}
      http {
        access_log off;
        client_body_temp_path #{dir}/body;
        proxy_temp_path #{dir}/proxy;
        fastcgi_temp_path #{dir}/fastcgi;
        uwsgi_temp_path #{dir}/uwsgi;
        scgi_temp_path #{dir}/scgi;
        include #{dir}/site.conf;
      }
    NGINX
    nginx = ['nginx', '-e', "#{dir}/error.log", '-p', dir, '-c', "#{dir}/nginx.conf"]
    out, status = Open3.capture2e(*nginx, '-t')
    assert status.success?, "nginx -t:\n#{out}"

    server = start_command_server(['-w', '1', '-t', '2', '-b', "unix://#{socket}", '--admin-bind', 'tcp://127.0.0.1:0',
                                   'config.ru'], workers: 1, chdir: HELLO, wait: false)
    admin = Integer(await_log(server, %r{admin listener on http://127\.0\.0\.1:(\d+)})[1])
    await_log(server, /worker 0 ready/)
    nginx_pid = Process.spawn(*nginx, out: File::NULL, err: File::NULL)
    begin
      eventually(message: -> { File.read("#{dir}/error.log") }) do
        TCPSocket.new('127.0.0.1', port).close || true
      rescue Errno::ECONNREFUSED
        false
      end
      Net::HTTP.start('127.0.0.1', port) do |http|
        3.times do
          response = http.get('/', 'Host' => 'app.example.com')
          assert_equal '200', response.code, File.read("#{dir}/error.log")
          assert_equal "Hello from Hyperion\n", response.body
        end
        assert_equal "static\n", http.get('/robots.txt').body, 'public/ is served by nginx'
      end
      assert_equal 3, server.log.lines.grep(%r{"GET / HTTP/1.1" 200}).size, server.log
      # upstream keepalive: the three requests came over one connection to Hyperion.
      metrics = Net::HTTP.get(URI("http://127.0.0.1:#{admin}/-/metrics"))
      accepted = metrics[/^hyperion_connections_accepted_total (\d+)$/, 1]
      assert_equal '1', accepted, 'connections nginx opened to Hyperion for three requests'
    ensure
      Process.kill('QUIT', nginx_pid)
      Process.wait(nginx_pid)
      FileUtils.rm_rf(dir)
    end
  end
end
