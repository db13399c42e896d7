# frozen_string_literal: true

# bench/ws: the same echo with faye-websocket over rack.hijack (for Puma).
require 'faye/websocket'
run lambda { |env|
  next [200, {}, ['ok']] unless Faye::WebSocket.websocket?(env)

  ws = Faye::WebSocket.new(env)
  ws.on(:message) { |e| ws.send(e.data) }
  ws.rack_response
}
