# frozen_string_literal: true

module Hyperion
  # Routes the event loop answers itself, registered from config.ru or the
  # config file. Registrations made before fork reach every worker.
  module Server
    Request = Struct.new(:method, :path, :query, :headers, :body, keyword_init: true)

    class << self
      # The whole response is built once; every hit is one write by the
      # event loop, with no Ruby at all. A GET route answers HEAD too.
      def handle_static(method, path, body, content_type: 'text/plain', headers: {}, status: 200)
        pairs = [['content-type', content_type.to_s]]
        headers.each { |name, value| pairs << [name.to_s, value.to_s] }
        __add_static(method.to_s.upcase, path.to_s, Integer(status), pairs, body.to_s.b)
        nil
      end

      # handler.call(request) with a light Request (method, path, query,
      # headers with lower-case names, body) instead of a Rack env; it returns
      # [status, headers, body] as a Rack app would. Skips env building and
      # the middleware stack.
      def handle(method, path, handler = nil, &block)
        handler ||= block
        raise ArgumentError, 'handle needs a handler responding to call' unless handler.respond_to?(:call)

        handlers << handler
        __add_handler(method.to_s.upcase, path.to_s, handlers.size - 1)
        nil
      end

      def handlers
        @handlers ||= []
      end
    end
  end
end
