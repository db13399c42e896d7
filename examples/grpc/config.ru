# frozen_string_literal: true

# A gRPC service as a plain Rack app, served over HTTP/2 (h2c on a plain bind,
# or h2 over an ssl:// bind):
#
#   hyperion -b tcp://127.0.0.1:50051 examples/grpc/config.ru
#
# gRPC messages are length-prefixed in the body (a compressed flag byte and a
# 4-byte big-endian length); the call's status travels in the trailers, which
# Hyperion sends when the body responds to `trailers`. No protobuf here: the
# messages are raw bytes (a client uses identity marshalling, as the test
# does); a real service would decode them with its generated classes.
#
# Unary, server-streaming and client-streaming calls work: the request body
# is buffered before the app runs. Bidirectional ping-pong needs the body
# streamed to the app as it arrives, which is not there yet (docs/HTTP2.md).

module GrpcExample
  # Splits a request body into its messages.
  def self.messages(body)
    out = []
    at = 0
    while at + 5 <= body.bytesize
      _compressed, length = body.byteslice(at, 5).unpack('CN')
      out << body.byteslice(at + 5, length)
      at += 5 + length
    end
    out
  end

  # A response body: the messages, then grpc-status (and grpc-message) as trailers.
  class Reply
    def initialize(messages, status: 0, message: nil)
      @messages = messages
      @trailers = { 'grpc-status' => status.to_s }
      @trailers['grpc-message'] = message if message
    end

    def each
      @messages.each { |m| yield [0, m.bytesize].pack('CN') + m.b }
    end

    attr_reader :trailers
  end

  HEADERS = { 'content-type' => 'application/grpc' }.freeze
end

run(lambda do |env|
  unless env['CONTENT_TYPE'].to_s.start_with?('application/grpc')
    next [415, { 'content-type' => 'text/plain' }, ["gRPC only\n"]]
  end

  messages = GrpcExample.messages(env['rack.input'].read)
  reply =
    case env['PATH_INFO']
    when '/echo.Echo/Unary' then GrpcExample::Reply.new([messages.first.to_s.upcase])
    when '/echo.Echo/ServerStream' then GrpcExample::Reply.new((1..3).map { |i| "#{messages.first} #{i}" })
    when '/echo.Echo/ClientStream' then GrpcExample::Reply.new([messages.join('+')])
    when '/echo.Echo/Fail' then GrpcExample::Reply.new([], status: 5, message: 'no such thing')
    else GrpcExample::Reply.new([], status: 12, message: "unknown method #{env['PATH_INFO']}")
    end
  [200, GrpcExample::HEADERS, reply]
end)
