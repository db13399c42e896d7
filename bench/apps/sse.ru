# frozen_string_literal: true

# Server-sent events: every response body yields 1000 events of exactly 50 bytes
# ("id: N" line, a data line padded with dots, blank line), one `each` call each.
EVENTS = Array.new(1000) do |i|
  head = "id: #{i}\ndata: "
  (head + ('.' * (50 - head.bytesize - 2)) + "\n\n").freeze
end.freeze
raise 'event size' unless EVENTS.all? { |e| e.bytesize == 50 }

class EventStream
  def each
    EVENTS.each { |event| yield event }
  end
end

run lambda { |_env|
  [200, { 'content-type' => 'text/event-stream', 'cache-control' => 'no-cache' }, EventStream.new]
}
