# frozen_string_literal: true

# bench/ws: echo on Hyperion's rack.upgrade API.
class Echo
  def on_message(client, data) = client.write(data)
end
run ->(env) { env['rack.upgrade?'] == :websocket ? (env['rack.upgrade'] = Echo.new; [101, {}, []]) : [200, {}, ['ok']] }
