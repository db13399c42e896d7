# frozen_string_literal: true

# faye-websocket (Debian ruby-faye-websocket) over rack.hijack, unmodified:
# an echo, the way its README writes one.
require 'faye/websocket'

run lambda { |env|
  if Faye::WebSocket.websocket?(env)
    ws = Faye::WebSocket.new(env, [], ping: 5)
    ws.on(:message) { |event| ws.send(event.data) }
    ws.rack_response
  else
    [200, { 'content-type' => 'text/plain' }, ['faye app']]
  end
}
