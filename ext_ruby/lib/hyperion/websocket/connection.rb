# frozen_string_literal: true

module Hyperion
  module WebSocket
    class StateError < StandardError; end

    # A WebSocket on a socket the app owns (after rack.hijack), for code that
    # wants a blocking recv/send loop instead of the rack.upgrade callbacks.
    # Frames are parsed by the server's C++ codec (Hyperion::WebSocket::Codec):
    # the same unmasking, fragment, UTF-8 and close-code rules as the loop.
    #
    #   ws = Hyperion::WebSocket::Connection.accept(env)   # writes the 101
    #   while (kind, data = ws.recv) && kind != :close
    #     ws.send(data)
    #   end
    #
    # recv answers pings itself (on_ping observes) and returns [:text, String],
    # [:binary, String] or [:close, code, reason]; after :close it raises
    # StateError. A peer that breaks the protocol gets the close code the RFC
    # asks for, and recv returns that close.
    class Connection
      CLOSE_WAIT = 5

      # The handshake was validated by the server (env['rack.upgrade?']);
      # this hijacks the socket and answers 101 with `protocol` if the client
      # offered it.
      def self.accept(env, protocol: nil, **options)
        raise ArgumentError, 'not a WebSocket handshake the server accepted' unless env['rack.upgrade?'] == :websocket

        offered = env['HTTP_SEC_WEBSOCKET_PROTOCOL'].to_s.split(/,\s*/)
        protocol = nil unless protocol && offered.include?(protocol)
        io = env['rack.hijack'].call
        head = +"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
                "Sec-WebSocket-Accept: #{WebSocket.accept_value(env['HTTP_SEC_WEBSOCKET_KEY'].to_s)}\r\n"
        head << "Sec-WebSocket-Protocol: #{protocol}\r\n" if protocol
        io.write("#{head}\r\n")
        new(io, buffered: env['hyperion.hijack_buffered'], protocol: protocol, **options)
      end

      attr_reader :io, :protocol

      def initialize(io, max_message_bytes: 1 << 20, buffered: nil, protocol: nil)
        @io = io
        @codec = Codec.new(max_message_bytes)
        @protocol = protocol
        @pending = []
        @state = :open
        @write_lock = Mutex.new
        @on_ping = @on_pong = nil
        @pending.concat(parse(buffered)) if buffered && !buffered.empty?
      end

      def on_ping(&block) = @on_ping = block
      def on_pong(&block) = @on_pong = block
      def open? = @state == :open
      def closing? = @state == :closing
      def closed? = @state == :closed

      def recv
        raise StateError, 'recv after the connection closed' if closed?

        loop do
          while (message = @pending.shift)
            result = handle(message)
            return result if result
          end
          data = read_some
          return finish(1006, '') unless data

          @pending.concat(parse(data))
        end
      end

      # UTF-8 (and 7-bit) Strings go as text, ASCII-8BIT ones as binary.
      def send(data)
        raise StateError, 'send after close' unless open?

        data = data.to_s
        binary = data.encoding == Encoding::BINARY
        data = data.encode(Encoding::UTF_8) unless binary || data.encoding == Encoding::UTF_8 || data.ascii_only?
        write_frame(binary ? 2 : 1, data)
        data.bytesize
      end
      alias write send

      def ping(payload = '') = write_frame(9, payload.to_s)

      # Sends our close, waits up to drain_timeout for the peer's, closes the socket.
      def close(code = 1000, reason = '', drain_timeout: CLOSE_WAIT)
        return if closed?

        send_close(code, reason) if open?
        @state = :closing
        deadline = Time.now + drain_timeout
        until closed? || Time.now > deadline
          break unless @io.wait_readable([deadline - Time.now, 0].max)

          data = read_some
          break unless data

          parse(data).each { |m| return finish(m[1], m[2]) if m[0] == :close }
        end
        finish(code, reason)
        nil
      end

      private

      def parse(data)
        @codec.feed(data)
      rescue ProtocolError => e
        Hyperion.__log(:info, "websocket connection: closing #{e.code}: #{e.message}") if Hyperion.respond_to?(:__log)
        send_close(e.code, e.message) if open?
        @state = :closing
        e.messages + [[:close, e.code, e.message]]
      end

      def handle(message)
        case message[0]
        when :text, :binary then open? ? message : nil
        when :ping
          write_frame(10, message[1]) if open?
          @on_ping&.call(message[1])
          nil
        when :pong
          @on_pong&.call(message[1])
          nil
        when :close
          code = message[1] == 1005 ? nil : message[1]
          # Echo the peer's code (RFC 6455 section 5.5.1); ours went already if we started.
          write_frame(8, code ? [code].pack('n') : '') if open?
          finish(message[1], message[2])
        end
      end

      def finish(code, reason)
        @state = :closed
        @io.close unless @io.closed?
        [:close, code, reason]
      end

      def send_close(code, reason)
        write_frame(8, [code].pack('n') + reason.to_s.b.byteslice(0, 123))
      rescue IOError, SystemCallError
        nil
      end

      def write_frame(opcode, payload)
        frame = WebSocket.frame(opcode, payload.b)
        @write_lock.synchronize { @io.write(frame) }
      end

      def read_some
        @io.readpartial(65_536)
      rescue EOFError, IOError, SystemCallError
        nil
      end
    end
  end
end
