# frozen_string_literal: true

require_relative 'support/process_helpers'
require 'open3'
require 'json'

# gRPC over Rack on HTTP/2 with the real client from Debian's ruby-grpc
# (GRPC::ClientStub, raw-bytes marshalling) against examples/grpc: h2c on a
# plain bind and h2 over TLS. The bidirectional call is ping-pong: the client
# sends each message only after the reply to the one before.
class GrpcTest < Minitest::Test
  include E2E::Helpers

  APP = File.join(E2E::ROOT, 'examples/grpc/config.ru')
  CLIENT = File.expand_path('support/grpc_client.rb', __dir__)
  EXPECTED = { 'unary' => 'HELLO', 'server_stream' => ['hi 1', 'hi 2', 'hi 3'], 'client_stream' => 'a+b+c', 'bidi' => %w[one! two! three!],
               'large' => 300_000, 'fail' => [5, 'no such thing'] }.freeze

  def call(port, *ca)
    out, err, status = Open3.capture3('ruby', CLIENT, port.to_s, *ca)
    assert status.success?, "grpc client failed:\n#{err}"
    JSON.parse(out)
  end

  def test_unary_server_and_client_streaming_over_h2c
    server = start_server(APP)
    assert_equal EXPECTED, call(server.port)
    assert_match %r{"POST /echo\.Echo/Unary HTTP/2" 200}, server.log
  end

  def test_the_same_calls_over_tls
    server = start_server(APP, bind: E2E::TLS.default_bind)
    assert_equal EXPECTED, call(server.port, E2E::TLS.server_certificate[:cert])
  end
end
