# frozen_string_literal: true

module Hyperion
  # Loads the rackup the way Puma does: Bundler first when there is a Gemfile,
  # then Rack::Builder.
  module Boot
    module_function

    # As Puma does: Logger.new($stdout) (Rails' default in containers) and
    # plain puts reach the log as they are written, not at exit.
    def setup_stdio
      $stdout.sync = true
      $stderr.sync = true
    end

    # IO.for_fd with interrupts held off (Thread#raise, kill, signal traps),
    # so the descriptor ends up either owned by the IO pushed on holder, or by
    # nothing, in which case the caller closes it. Without this an interrupt
    # landing just after for_fd would leave the caller unable to tell.
    def adopt_fd(klass, fd, mode, holder)
      Thread.handle_interrupt(Object => :never) do
        holder << (mode ? klass.for_fd(fd, mode) : klass.for_fd(fd))
      end
    end

    def load_app(rackup)
      setup_bundler(rackup)
      begin
        require 'rack'
      rescue LoadError => e
        raise Hyperion::ConfigError, "#{e.message}: hyperion loads #{rackup} with Rack::Builder and needs " \
                                     'the rack gem (Debian: apt-get install ruby-rack; or add rack to the Gemfile)'
      end
      require 'uri' # Rack 2.2's Lint uses URI without requiring it
      require 'stringio'
      require 'socket'
      app = Rack::Builder.parse_file(rackup)
      app = app.first if app.is_a?(Array) # Rack 2 returns [app, options]
      raise Hyperion::ConfigError, "#{rackup} did not define an app (no `run`)" if app.nil?

      app
    end

    # A Rails app's public/ directory, served natively unless told otherwise.
    def rails_public_dir
      return nil unless defined?(::Rails) && ::Rails.respond_to?(:root) && ::Rails.root

      dir = ::Rails.root.join('public').to_s
      File.directory?(dir) ? dir : nil
    rescue StandardError
      nil
    end

    def rack3?
      Gem::Version.new(Rack.release) >= Gem::Version.new('3.0')
    rescue StandardError
      false
    end

    # Under `bundle exec` RUBYOPT already loaded bundler/setup. Without it, a
    # Gemfile beside the rackup (or BUNDLE_GEMFILE) is honoured as Puma does.
    def setup_bundler(rackup)
      return if defined?(::Bundler) && ::Bundler.respond_to?(:setup) && ENV['BUNDLE_BIN_PATH']

      gemfile = ENV['BUNDLE_GEMFILE']
      gemfile ||= File.join(File.dirname(File.expand_path(rackup)), 'Gemfile')
      return unless File.file?(gemfile)

      ENV['BUNDLE_GEMFILE'] = gemfile
      require 'bundler/setup'
    end

    # "file:line: message (Class)" pointing into the user's file when possible.
    def describe_error(error, file)
      # These already say file:line themselves.
      return error.message if error.is_a?(SyntaxError) || error.is_a?(Hyperion::ConfigError)

      path = File.expand_path(file)
      where = (error.backtrace_locations || []).find { |l| File.expand_path(l.path.to_s) == path rescue false }
      where ||= (error.backtrace_locations || []).first
      location = where ? "#{where.path}:#{where.lineno}: " : ''
      "#{location}#{error.message} (#{error.class})"
    end

    def describe_exception(error)
      lines = ["#{error.class}: #{error.message}"]
      lines.concat((error.backtrace || []).first(40).map { |l| "    #{l}" })
      lines.join("\n")
    end
  end
end
