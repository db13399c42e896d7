# frozen_string_literal: true

# The real gRPC client (Debian's ruby-grpc) against examples/grpc, in its own
# process (grpc's core does not mix with the test runner's forks): unary,
# server-streaming, client-streaming calls and an error status, raw-bytes
# marshalling. Prints one JSON object.
#   ruby grpc_client.rb PORT [CA_FILE]     (with CA_FILE: over TLS)
require 'grpc'
require 'json'

port, ca = ARGV
identity = ->(x) { x }
credentials = ca ? GRPC::Core::ChannelCredentials.new(File.read(ca)) : :this_channel_is_insecure
stub = GRPC::ClientStub.new("127.0.0.1:#{port}", credentials, timeout: 20)
out = {}
out['unary'] = stub.request_response('/echo.Echo/Unary', 'hello', identity, identity)
out['server_stream'] = stub.server_streamer('/echo.Echo/ServerStream', 'hi', identity, identity).to_a
out['client_stream'] = stub.client_streamer('/echo.Echo/ClientStream', %w[a b c], identity, identity)
out['large'] = stub.request_response('/echo.Echo/Unary', 'x' * 300_000, identity, identity).bytesize
begin
  stub.request_response('/echo.Echo/Fail', 'x', identity, identity)
  out['fail'] = 'no error'
rescue GRPC::BadStatus => e
  out['fail'] = [e.code, e.details]
end
puts JSON.generate(out)
