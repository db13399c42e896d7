# frozen_string_literal: true

require_relative 'support/harness'
require_relative 'support/ws_helpers'

# Apps that bring their own WebSocket library run over rack.hijack,
# unmodified: faye-websocket (an echo) and ActionCable (a chat in its JSON
# protocol, two clients, one broadcast), each on a plain bind and over TLS.
class WebSocketHijackTest < Minitest::Test
  include E2E::Helpers
  include WSHelpers

  def check_faye(server)
    r = node('echo', ws_url(server, '/'))
    assert_equal({ 'binary' => false, 'data' => 'hello' }, r['messages'][0])
    assert_equal({ 'binary' => true, 'data' => [0, 1, 2, 255] }, r['messages'][1])
    assert_equal({ 'binary' => false, 'length' => 300_000, 'same' => true }, r['messages'][3])
    assert_equal 'fragmented 😀', r['messages'][4]['data']
    assert_equal 1000, r['close']['code']
    assert_equal 'faye app', server.http('/').body, 'the worker keeps serving HTTP'
  end

  def test_faye_websocket_echo
    check_faye(start_server(E2E.app('faye'), bind: 'tcp://127.0.0.1:0'))
  end

  def test_faye_websocket_echo_over_tls
    check_faye(start_server(E2E.app('faye'), bind: E2E::TLS.default_bind))
  end

  def check_cable(server)
    r = node('actioncable', ws_url(server, '/cable'), protocols: %w[actioncable-v1-json actioncable-unsupported])
    assert_equal %w[welcome welcome], r['welcome']
    assert_equal %w[confirm_subscription confirm_subscription], r['confirm']
    assert_equal [{ 'text' => 'hello room', 'from' => 'alice' }] * 2, r['received']
    assert_equal 'actioncable-v1-json', r['protocol']
  end

  def test_actioncable_chat
    check_cable(start_server(E2E.app('actioncable'), bind: 'tcp://127.0.0.1:0', threads: 4))
  end

  def test_actioncable_chat_over_tls
    check_cable(start_server(E2E.app('actioncable'), bind: E2E::TLS.default_bind, threads: 4))
  end
end
