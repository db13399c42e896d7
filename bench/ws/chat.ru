# frozen_string_literal: true

# bench/ws: every connection joins "room"; "pub:TEXT" publishes TEXT to it.
class Chat
  def on_open(client) = client.subscribe('room') && client.write('joined')
  def on_message(_client, data) = Hyperion.publish('room', data.delete_prefix('pub:'))
end
run ->(env) { env['rack.upgrade?'] == :websocket ? (env['rack.upgrade'] = Chat.new; [101, {}, []]) : [200, {}, ['ok']] }
