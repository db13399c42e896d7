# frozen_string_literal: true

# The Ruby face of Hyperion. The server itself is C++; this module holds what
# Ruby code sees: the config DSL, app loading, and the objects placed in the
# Rack env. Hyperion::VERSION and Hyperion.__log are defined natively.
module Hyperion
  class ConfigError < StandardError; end

  # rack.errors: what an app writes here goes to the server log.
  class ErrorLog
    def puts(*messages)
      messages = [''] if messages.empty?
      messages.flatten.each { |m| Hyperion.__log(:error, m.to_s.chomp) }
      nil
    end

    def write(message)
      text = message.to_s
      Hyperion.__log(:error, text.chomp) unless text.empty?
      text.bytesize
    end

    def <<(message)
      write(message)
      self
    end

    def print(*messages) = write(messages.join)

    def flush = self
  end
end
