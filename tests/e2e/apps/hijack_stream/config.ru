# frozen_string_literal: true

# Full hijack, server-sent events through an `each` body, and a Rack 3
# streaming body (responds to call(stream) only).
HIJACK_RESPONSE = "HTTP/1.1 299 Hijacked\r\nX-Raw: yes\r\nContent-Length: 11\r\nConnection: close\r\n\r\nraw-payload"

class SseBody
  def each
    5.times do |i|
      sleep 0.2 if i.positive?
      yield "id: #{i}\ndata: event-#{i}\n\n"
    end
  end
end

# Streams up to 100 events; records on close how many were yielded.
class EndlessBody
  def initialize(path)
    @path = path
    @sent = 0
  end

  def each
    100.times do
      yield "data: tick-#{@sent}\n\n"
      @sent += 1
      sleep 0.05
    end
  end

  def close
    File.write(@path, "closed after #{@sent}")
  end
end

class StreamingBody
  def call(stream)
    stream.write('alpha,')
    stream << 'beta,'
    sleep 0.5
    stream.write('gamma', ',delta')
    stream.flush
  ensure
    stream.close
  end
end

run(lambda do |env|
  case env['PATH_INFO']
  when '/hijack'
    io = env['rack.hijack'].call
    io.write(HIJACK_RESPONSE)
    io.close
    [-1, {}, []]
  when '/hijack_buffered'
    io = env['rack.hijack'].call
    buffered = env['hyperion.hijack_buffered'].to_s
    same_io = env['rack.hijack_io'].equal?(io)
    body = "buffered=#{buffered.inspect} same_io=#{same_io}"
    io.write("HTTP/1.1 200 OK\r\nContent-Length: #{body.bytesize}\r\nConnection: close\r\n\r\n#{body}")
    io.close
    [-1, {}, []]
  when '/hijack_echo'
    # A tiny line protocol after the hijack: echo each line back upper-cased.
    io = env['rack.hijack'].call
    io.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: e2e-echo\r\nConnection: Upgrade\r\n\r\n")
    pending = env['hyperion.hijack_buffered'].to_s
    loop do
      while (nl = pending.index("\n"))
        line = pending.slice!(0, nl + 1)
        if line.strip == 'bye'
          io.write("BYE\n")
          io.close
          return [-1, {}, []]
        end
        io.write(line.upcase)
      end
      chunk = io.readpartial(1024)
      pending << chunk
    end
  when '/sse'
    [200, { 'content-type' => 'text/event-stream', 'cache-control' => 'no-cache' }, SseBody.new]
  when '/endless'
    path = env['QUERY_STRING'].delete_prefix('path=')
    [200, { 'content-type' => 'text/event-stream' }, EndlessBody.new(path)]
  when '/stream'
    [200, { 'content-type' => 'text/plain' }, StreamingBody.new]
  else
    [200, { 'content-type' => 'text/plain' }, ['ok']]
  end
end)
