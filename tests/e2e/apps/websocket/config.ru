# frozen_string_literal: true

# WebSocket handlers for tests/e2e/websocket_*_test.rb, on the rack.upgrade
# API. Each path is one behaviour; anything else is plain HTTP.
class Echo
  def on_message(client, data) = client.write(data)
end

# Replies with what it saw: the message's encoding and the events so far,
# so a test can check order and encodings.
class Events
  def initialize = @seen = []
  def on_open(client) = @seen << "open:#{client.env['PATH_INFO']}"

  def on_message(client, data)
    @seen << "message:#{data.encoding}:#{data.bytesize}"
    client.write(@seen.join(',')) if data == 'report'
  end
end

# Subscribes to the room named by the query (default "room"); "pub:TEXT"
# publishes TEXT there, "unsub" leaves, anything else is echoed.
class Chat
  def initialize(room) = @room = room
  def on_open(client) = client.subscribe(@room) && client.write("joined #{@room} pid=#{Process.pid}")

  def on_message(client, data)
    if data.start_with?('pub:') then Hyperion.publish(@room, data.delete_prefix('pub:'))
    elsif data == 'unsub' then client.unsubscribe(@room) && client.write('left')
    else client.write(data)
    end
  end
end

# Sends `n` messages of `size` bytes on "go", then reports what write and
# pending said; on_drained tells when the client read it all.
class Flood
  def on_message(client, data)
    n, size = data.split.map(&:to_i)
    chunk = 'x' * size
    results = Array.new(n) { client.write(chunk) }
    client.write("wrote #{n} false=#{results.count(false)} pending=#{client.pending}")
  end

  def on_drained(client) = client.write('drained')
end

class Slow
  def on_message(client, data)
    sleep 0.2 if data == 'slow'
    client.write("done #{data}")
  end
end

class Raises
  def on_message(_client, _data) = raise('handler failed on purpose')
end

class Closer
  def on_message(client, data)
    code, reason = data.split(' ', 2)
    client.close(code.to_i, reason.to_s)
  end
end

class Shutdown
  def on_open(client) = client.write('ready')
  def on_shutdown(client) = client.write('bye')
end

# Keeps every handler's on_close in a log the test reads back over HTTP.
CLOSED = Queue.new
class Tracked < Echo
  def on_close(client) = CLOSED << "closed open?=#{client.open?}"
end

run lambda { |env|
  path = env['PATH_INFO']
  # Hyperion::WebSocket::Connection on a hijacked socket: a blocking echo
  # loop on this request's thread, closing with the client's code.
  if path == '/connection' && env['rack.upgrade?'] == :websocket
    ws = Hyperion::WebSocket::Connection.accept(env, protocol: 'echo')
    while (kind, data, reason = ws.recv) && kind != :close
      ws.send(data == 'ping me' ? "pinged #{ws.ping('p') && 'yes'}" : data)
    end
    CLOSED << "connection closed #{data} #{reason}"
    return [200, {}, []]
  end
  if path == '/closed'
    lines = []
    lines << CLOSED.pop(true) until CLOSED.empty?
    return [200, { 'content-type' => 'text/plain' }, [lines.join("\n")]]
  end
  return [200, { 'content-type' => 'text/plain' }, ["plain #{path} upgrade?=#{env['rack.upgrade?'].inspect}"]] unless env['rack.upgrade?'] == :websocket

  handler = case path
            when '/echo' then Echo.new
            when '/events' then Events.new
            when '/chat' then Chat.new(env['QUERY_STRING'].to_s.empty? ? 'room' : env['QUERY_STRING'])
            when '/flood' then Flood.new
            when '/slow' then Slow.new
            when '/raise' then Raises.new
            when '/close' then Closer.new
            when '/shutdown' then Shutdown.new
            when '/tracked' then Tracked.new
            when '/proto'
              offered = env['HTTP_SEC_WEBSOCKET_PROTOCOL'].to_s.split(/,\s*/)
              env['rack.upgrade.protocol'] = offered.include?('chat.v2') ? 'chat.v2' : 'invented'
              Echo.new
            end
  return [404, {}, ['no such socket']] unless handler

  env['rack.upgrade'] = handler
  [200, {}, []] # any status: the server answers the 101
}
