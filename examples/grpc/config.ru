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
# All four call kinds work. For a request whose content-type is
# application/grpc the app runs as soon as the call's headers arrive and
# rack.input hands it the body as the client sends it, so a bidirectional
# client that waits for each reply before its next message gets them
# (Chat below reads one message, answers it, reads the next).

module GrpcExample
  # The next message on the input, nil when the client has sent them all.
  def self.next_message(input)
    prefix = input.read(5)
    return nil if prefix.nil? || prefix.bytesize < 5

    _compressed, length = prefix.unpack('CN')
    length.zero? ? +'' : input.read(length).to_s
  end

  def self.messages(input)
    out = []
    while (m = next_message(input))
      out << m
    end
    out
  end

  def self.frame(message) = [0, message.bytesize].pack('CN') + message.b

  # A response body: the messages, then grpc-status (and grpc-message) as trailers.
  class Reply
    def initialize(messages, status: 0, message: nil)
      @messages = messages
      @trailers = { 'grpc-status' => status.to_s }
      @trailers['grpc-message'] = message if message
    end

    def each
      @messages.each { |m| yield GrpcExample.frame(m) }
    end

    attr_reader :trailers
  end

  # Bidirectional: each message is answered as it arrives, before the next
  # one is read.
  class Chat
    def initialize(input)
      @input = input
      @trailers = { 'grpc-status' => '0' }
    end

    def each
      while (m = GrpcExample.next_message(@input))
        yield GrpcExample.frame("#{m}!")
      end
    end

    attr_reader :trailers
  end

  HEADERS = { 'content-type' => 'application/grpc' }.freeze
end

run(lambda do |env|
  unless env['CONTENT_TYPE'].to_s.start_with?('application/grpc')
    next [415, { 'content-type' => 'text/plain' }, ["gRPC only\n"]]
  end

  next [200, GrpcExample::HEADERS, GrpcExample::Chat.new(env['rack.input'])] if env['PATH_INFO'] == '/echo.Echo/Chat'

  messages = GrpcExample.messages(env['rack.input'])
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
