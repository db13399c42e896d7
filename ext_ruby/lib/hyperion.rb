# frozen_string_literal: true

# The Ruby face of Hyperion. The server itself is C++; this module holds what
# Ruby code sees: the config DSL, app loading, and the objects placed in the
# Rack env. Hyperion::VERSION and Hyperion.__log are defined natively.
module Hyperion
  class ConfigError < StandardError; end

  # rack.errors: what an app writes here goes to the server log, at warn
  # level (it is the app's error stream, so it shows at --log-level warn,
  # but it is not the server failing). Besides the SPEC's puts/write/flush it
  # behaves like an IO for the code that wraps it: Logger.new(env['rack.errors'])
  # (Rack::Logger, classic Sinatra) needs write and close; close is a no-op,
  # because the stream belongs to the server and outlives every request.
  class ErrorLog
    def puts(*messages)
      messages = [''] if messages.empty?
      messages.flatten.each { |m| Hyperion.__log(:warn, m.to_s.chomp) }
      nil
    end

    def write(*messages)
      text = messages.join
      Hyperion.__log(:warn, text.chomp) unless text.empty?
      text.bytesize
    end

    def <<(message)
      write(message)
      self
    end

    def print(*messages) = write(messages.join)
    def printf(format, *args) = write(Kernel.format(format, *args))

    def flush = self
    def fsync = 0
    def sync = true
    def sync=(_value); end
    def close = nil
    def closed? = false
    def tty? = false
    alias isatty tty?
  end
end

module Hyperion
  # Runs the blocks given to Hyperion.on_request_start { |env| } or
  # Hyperion.on_request_end { |env, status, duration, error| } (registered natively,
  # src/rb/request_hooks.cpp), in registration order. A block that raises is
  # logged with where it was defined; the other blocks and the request go on.
  # A block may take fewer arguments than are offered.
  def self.__fire_request_hooks(name, hooks, args)
    hooks.each do |hook|
      hook.call(*args.first(hook.arity.negative? ? args.size : hook.arity))
    rescue StandardError => e
      file, line = hook.source_location
      __log(:error, "#{name} hook (#{file}:#{line}) failed: #{e.class}: #{e.message}")
    end
    nil
  end
end
