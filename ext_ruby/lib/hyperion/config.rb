# frozen_string_literal: true

module Hyperion
  # The result of reading config/hyperion.rb: plain settings (handed to C++ as
  # strings, parsed by the same code as the command-line flags) and hooks.
  class Config
    SETTINGS = %w[
      workers threads port host environment pidfile rackup preload_app
      log_level log_format log_requests graceful_timeout worker_timeout tmp_dir no_preload_static reuse_port
      page_cache_recheck page_cache_max_bytes page_cache_max_file io_uring
      max_header_bytes max_uri_bytes max_body_bytes body_memory_bytes
      header_timeout body_timeout keepalive_timeout write_timeout
      tls_cert tls_key tls_ca tls_verify_mode tls_ciphers tls_handshake_timeout tls_handshake_rate_limit
      tls_session_cache_size tls_ticket_key_rotation tls_ktls
      http2 h2c h2_max_concurrent_streams h2_max_total_streams h2_initial_window_size h2_max_frame_size
      h2_max_header_list_size
      ws_max_message_bytes ws_idle_timeout ws_ping_interval ws_deflate ws_origins ws_backpressure_bytes
      ws_max_pending_bytes ws_pubsub
      log_file access_log_file worker_max_rss_mb worker_max_requests worker_max_age
      admin_bind admin_token admin_metrics_token admin_listener_port admin_listener_host
    ].freeze
    HOOKS = %i[before_fork on_worker_boot on_worker_shutdown].freeze

    attr_reader :path, :settings, :binds, :hooks, :preload_static, :sni

    def initialize(path = nil)
      @path = path
      @settings = {}
      @binds = []
      @preload_static = [] # [dir, immutable]
      @sni = [] # "HOST=CERT,KEY", as --tls-sni takes it
      @hooks = Hash.new { |h, k| h[k] = [] }
    end

    def self.load(path)
      config = new(path)
      DSL.new(config).instance_eval(File.read(path), path, 1)
      config
    end

    # Runs every block registered for a hook; an error in one is reported
    # (file:line) and does not stop the others or the server.
    def run_hook(name, *args)
      @hooks[name].each do |block|
        block.call(*args.first(block.arity.negative? ? args.size : block.arity))
      rescue StandardError => e
        Hyperion.__log(:error, "#{name} hook failed: #{Boot.describe_error(e, @path.to_s)}")
      end
      nil
    end

    # Evaluated with the config file as its body, and `self` inside its hook
    # blocks. A plain Object, so Kernel (require, Integer, puts) and top-level
    # constants work as in any Ruby file; names that are neither a setting
    # nor a Kernel method reach method_missing and are reported.
    class DSL
      def initialize(config)
        @config = config
      end

      SETTINGS.each do |key|
        define_method(key) { |value| @config.settings[key] = value.to_s }
      end

      def threads(min, max = nil)
        @config.settings['threads'] = (max || min).to_s
      end

      def bind(uri)
        @config.binds << uri.to_s
      end

      # Serve DIR's files natively, before the app, at their path inside DIR.
      def preload_static(dir, immutable: true)
        @config.preload_static << [dir.to_s, immutable ? 'true' : 'false']
      end

      def preload_app!(flag = true)
        @config.settings['preload_app'] = flag ? 'true' : 'false'
      end

      def environment(value)
        @config.settings['environment'] = value.to_s
      end

      def logging(&block)
        LoggingDSL.new(@config).instance_eval(&block)
      end

      # `tls do cert '/etc/ssl/app.pem'; key '/etc/ssl/app.key'; end`: the
      # default bind becomes ssl://, and ssl:// binds without cert= use these.
      def tls(&block)
        ::Kernel.raise ConfigError, "#{where}: tls needs a block" unless block
        TlsDSL.new(@config).instance_eval(&block)
      end

      # `h2 do max_concurrent_streams 128; max_total_streams :unbounded; end`
      def h2(&block)
        ::Kernel.raise ConfigError, "#{where}: h2 needs a block" unless block
        H2DSL.new(@config).instance_eval(&block)
      end

      # `admin do bind 'tcp://127.0.0.1:9293'; token ENV['HYPERION_ADMIN_TOKEN']; metrics_token '...'; end`
      def admin(&block)
        ::Kernel.raise ConfigError, "#{where}: admin needs a block" unless block
        AdminDSL.new(@config).instance_eval(&block)
      end

      # `worker_health do max_rss_mb 1024; max_requests 50_000; max_age 6 * 3600; timeout 60; end`
      def worker_health(&block)
        ::Kernel.raise ConfigError, "#{where}: worker_health needs a block" unless block
        WorkerHealthDSL.new(@config).instance_eval(&block)
      end

      # `websocket do permessage_deflate :auto; max_message_bytes 1_048_576; pubsub 'redis://127.0.0.1:6379/0'; end`
      def websocket(&block)
        ::Kernel.raise ConfigError, "#{where}: websocket needs a block" unless block
        WebSocketDSL.new(@config).instance_eval(&block)
      end

      HOOKS.each do |hook|
        define_method(hook) do |&block|
          ::Kernel.raise ConfigError, "#{where}: #{hook} needs a block" unless block
          @config.hooks[hook] << block
        end
      end

      # Per-request hooks (APM agents): the same as Hyperion.on_request_start
      # and Hyperion.on_request_end in the app. The config file is read before
      # the app loads (and before the fork), so every worker has them.
      %i[on_request_start on_request_end].each do |hook|
        define_method(hook) do |&block|
          ::Kernel.raise ConfigError, "#{where}: #{hook} needs a block" unless block
          ::Hyperion.public_send(hook, &block)
        end
      end

      def method_missing(name, *_args)
        ::Kernel.raise ConfigError, "#{where}: unknown config key '#{name}'"
      end

      def respond_to_missing?(*) = false

      private

      def where
        loc = ::Kernel.caller_locations.find { |l| l.path == @config.path }
        loc ? "#{loc.path}:#{loc.lineno}" : @config.path.to_s
      end
    end

    # A `name do ... end` block of the config file: its methods set keys, and
    # any other name is an error naming the file and line.
    class SectionDSL
      def initialize(config, section)
        @config = config
        @section = section
      end

      def method_missing(name, *_args)
        loc = ::Kernel.caller_locations.find { |l| l.path == @config.path }
        ::Kernel.raise ConfigError,
                       "#{loc ? "#{loc.path}:#{loc.lineno}" : @config.path}: unknown #{@section} key '#{name}'"
      end

      def respond_to_missing?(*) = false
    end

    # `tls do cert PATH; key PATH; ca PATH; verify_mode :force_peer; ciphers '...'; end`
    class TlsDSL < SectionDSL
      def initialize(config) = super(config, 'tls')
      def cert(path) = @config.settings['tls_cert'] = path.to_s
      def key(path) = @config.settings['tls_key'] = path.to_s
      def ca(path) = @config.settings['tls_ca'] = path.to_s
      def verify_mode(mode) = @config.settings['tls_verify_mode'] = mode.to_s
      def ciphers(list) = @config.settings['tls_ciphers'] = list.to_s
      def handshake_timeout(value) = @config.settings['tls_handshake_timeout'] = value.to_s
      def handshake_rate_limit(value) = @config.settings['tls_handshake_rate_limit'] = value.to_s
      def session_cache_size(value) = @config.settings['tls_session_cache_size'] = value.to_s
      def ticket_key_rotation(value) = @config.settings['tls_ticket_key_rotation'] = value.to_s
      def ktls(mode) = @config.settings['tls_ktls'] = mode.to_s
      # `sni 'api.example.com', cert: PATH, key: PATH` (repeatable; '*.example.com' too)
      def sni(host, cert:, key:) = @config.sni << "#{host}=#{cert},#{key}"
    end

    # `h2 do enabled true; h2c true; max_concurrent_streams 128; initial_window_size 1048576;
    #  max_frame_size 16384; max_header_list_size 65536; max_total_streams :unbounded; end`
    class H2DSL < SectionDSL
      def initialize(config) = super(config, 'h2')
      def enabled(value) = @config.settings['http2'] = value ? 'true' : 'false'
      def h2c(value) = @config.settings['h2c'] = value ? 'true' : 'false'
      def max_concurrent_streams(value) = @config.settings['h2_max_concurrent_streams'] = value.to_s
      def max_total_streams(value) = @config.settings['h2_max_total_streams'] = value.to_s
      def initial_window_size(value) = @config.settings['h2_initial_window_size'] = value.to_s
      def max_frame_size(value) = @config.settings['h2_max_frame_size'] = value.to_s
      def max_header_list_size(value) = @config.settings['h2_max_header_list_size'] = value.to_s
    end

    # `websocket do permessage_deflate :auto; max_message_bytes 1048576; idle_timeout 60; ping_interval 30;
    #  origins %w[https://app.example]; backpressure_bytes 1048576; max_pending_bytes 16777216;
    #  pubsub 'redis://127.0.0.1:6379/0'; end` (nil for a timeout turns it off)
    class WebSocketDSL < SectionDSL
      def initialize(config) = super(config, 'websocket')
      def permessage_deflate(mode) = @config.settings['ws_deflate'] = mode.to_s
      def max_message_bytes(value) = @config.settings['ws_max_message_bytes'] = value.to_s
      def idle_timeout(value) = @config.settings['ws_idle_timeout'] = value.nil? || value == false ? 'off' : value.to_s
      def ping_interval(value) = @config.settings['ws_ping_interval'] = value.nil? || value == false ? 'off' : value.to_s
      def origins(list) = @config.settings['ws_origins'] = Array(list).join(',')
      def backpressure_bytes(value) = @config.settings['ws_backpressure_bytes'] = value.to_s
      def max_pending_bytes(value) = @config.settings['ws_max_pending_bytes'] = value.to_s
      def pubsub(url) = @config.settings['ws_pubsub'] = url.to_s
    end

    # `admin do bind 'tcp://127.0.0.1:9293'; token '...'; metrics_token '...'; end`; the seed's
    # `listener_port 9293` / `listener_host '0.0.0.0'` make a tcp:// bind when none is given.
    class AdminDSL < SectionDSL
      def initialize(config) = super(config, 'admin')
      def bind(uri) = @config.settings['admin_bind'] = uri.to_s
      def token(value) = @config.settings['admin_token'] = value.to_s
      def metrics_token(value) = @config.settings['admin_metrics_token'] = value.to_s
      def listener_port(value) = @config.settings['admin_listener_port'] = value.to_s
      def listener_host(value) = @config.settings['admin_listener_host'] = value.to_s
    end

    # `worker_health do max_rss_mb 1024; max_requests 50_000; max_age 21_600; timeout 60; end`
    # (nil turns a limit off; timeout is worker_timeout)
    class WorkerHealthDSL < SectionDSL
      def initialize(config) = super(config, 'worker_health')
      def max_rss_mb(value) = @config.settings['worker_max_rss_mb'] = value.nil? ? 'off' : value.to_s
      def max_requests(value) = @config.settings['worker_max_requests'] = value.nil? ? 'off' : value.to_s
      def max_age(value) = @config.settings['worker_max_age'] = value.nil? ? 'off' : value.to_s
      def timeout(value) = @config.settings['worker_timeout'] = value.nil? || value == false ? 'off' : value.to_s
    end

    # `logging do level :debug; format :json; requests false; file 'log/hyperion.log';
    #  access_file 'log/access.log'; end`
    class LoggingDSL < SectionDSL
      def initialize(config) = super(config, 'logging')
      def level(value) = @config.settings['log_level'] = value.to_s
      def format(value) = @config.settings['log_format'] = value.to_s
      def requests(value) = @config.settings['log_requests'] = value ? 'true' : 'false'
      def file(path) = @config.settings['log_file'] = path.to_s
      def access_file(path) = @config.settings['access_log_file'] = path.to_s
    end
  end

  class << self
    # The loaded config (an empty one when there is no file), kept here so
    # its hook blocks stay reachable for the GC.
    attr_accessor :config
  end
end
