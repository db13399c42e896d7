# frozen_string_literal: true

# The real gRPC client (Debian's ruby-grpc) against examples/grpc, in its own
# process (grpc's core does not mix with the test runner's forks): unary,
# server-streaming, client-streaming and bidirectional ping-pong calls and an
# error status, raw-bytes marshalling. Prints one JSON object.
#   ruby grpc_client.rb PORT [CA_FILE]     (with CA_FILE: over TLS)
require 'grpc'
require 'json'
require 'timeout'

port, ca = ARGV
identity = ->(x) { x }
credentials = ca ? GRPC::Core::ChannelCredentials.new(File.read(ca)) : :this_channel_is_insecure
stub = GRPC::ClientStub.new("127.0.0.1:#{port}", credentials, timeout: 20)
out = {}
out['unary'] = stub.request_response('/echo.Echo/Unary', 'hello', identity, identity)
out['server_stream'] = stub.server_streamer('/echo.Echo/ServerStream', 'hi', identity, identity).to_a
out['client_stream'] = stub.client_streamer('/echo.Echo/ClientStream', %w[a b c], identity, identity)
# Ping-pong: each message is sent only after the reply to the previous one
# arrived, so this finishes only if the server hands the app the body as it
# comes (a server that buffers the body first would wait for ever).
replies = Queue.new
outgoing = Enumerator.new do |y|
  %w[one two three].each_with_index do |word, i|
    Timeout.timeout(10) { replies.pop } if i.positive?
    y << word
  end
end
chat = []
stub.bidi_streamer('/echo.Echo/Chat', outgoing, identity, identity).each do |reply|
  chat << reply
  replies << reply
end
out['bidi'] = chat
out['large'] = stub.request_response('/echo.Echo/Unary', 'x' * 300_000, identity, identity).bytesize
begin
  stub.request_response('/echo.Echo/Fail', 'x', identity, identity)
  out['fail'] = 'no error'
rescue GRPC::BadStatus => e
  out['fail'] = [e.code, e.details]
end
puts JSON.generate(out)
