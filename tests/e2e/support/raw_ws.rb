# frozen_string_literal: true

require 'securerandom'
require 'zlib'

# WebSocket frames by hand, for what no well-behaved client sends: wrong
# bits, bad UTF-8, malformed close frames, raw DEFLATE streams.
module RawWS
  KEY = 'dGhlIHNhbXBsZSBub25jZQ=='

  # Opens a connection on `server`, sends the handshake for `path`, returns
  # [socket, status, headers]. The socket is a RawWS::Conn.
  def self.connect(server, path = '/echo', headers: {}, tls: server.tls?)
    sock = server.socket(tls: tls)
    lines = ["GET #{path} HTTP/1.1", 'Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade',
             "Sec-WebSocket-Key: #{KEY}", 'Sec-WebSocket-Version: 13']
    headers.each { |k, v| lines << "#{k}: #{v}" }
    sock.write("#{lines.join("\r\n")}\r\n\r\n")
    conn = Conn.new(sock)
    status, head = conn.read_head
    [conn, status, head]
  end

  def self.frame(opcode, payload = ''.b, fin: true, rsv: 0, mask: true, length: nil)
    payload = payload.b
    n = length || payload.bytesize
    out = [(fin ? 0x80 : 0) | (rsv << 4) | opcode].pack('C')
    m = mask ? 0x80 : 0
    out << if n < 126 then [m | n].pack('C')
           elsif n < 65_536 then [m | 126, n].pack('Cn')
           else [m | 127, n].pack('CQ>')
           end
    return out + payload unless mask

    key = SecureRandom.random_bytes(4)
    out << key
    bytes = payload.bytes
    k = key.bytes
    out + bytes.each_with_index.map { |b, i| b ^ k[i & 3] }.pack('C*')
  end

  def self.close_payload(code, reason = '') = [code].pack('n') + reason.b

  # Raw DEFLATE as permessage-deflate sends it (sync flush, tail removed).
  def self.deflate(text, deflater = Zlib::Deflate.new(Zlib::DEFAULT_COMPRESSION, -15))
    out = deflater.deflate(text, Zlib::SYNC_FLUSH)
    out.end_with?("\x00\x00\xff\xff".b) ? out[0...-4] : out
  end

  def self.inflate(data, inflater = Zlib::Inflate.new(-15)) = inflater.inflate(data.b + "\x00\x00\xff\xff".b)

  class Conn
    Frame = Struct.new(:fin, :rsv1, :opcode, :payload) do
      def close_code = payload.bytesize >= 2 ? payload.unpack1('n') : nil
      def text = payload.dup.force_encoding(Encoding::UTF_8)
    end

    def initialize(sock)
      @sock = sock
      @buf = +''.b
    end

    def write(bytes) = @sock.write(bytes)
    def close = @sock.close
    def close_write = @sock.respond_to?(:close_write) ? @sock.close_write : nil
    def raw = @sock

    def read_head(timeout: 10)
      fill(timeout) until (at = @buf.index("\r\n\r\n"))
      head = @buf.slice!(0, at + 4)
      lines = head.split("\r\n")
      status = lines.shift[/\AHTTP\/1\.1 (\d+)/, 1].to_i
      [status, lines.to_h { |l| k, v = l.split(': ', 2); [k.downcase, v] }]
    end

    # The next frame, or nil when the server closed the connection.
    def read_frame(timeout: 10)
      need(2, timeout) or return nil
      b0, b1 = @buf.unpack('CC')
      len = b1 & 0x7F
      off = 2
      if len == 126
        need(4, timeout) or return nil
        len = @buf.unpack1('@2n')
        off = 4
      elsif len == 127
        need(10, timeout) or return nil
        len = @buf.unpack1('@2Q>')
        off = 10
      end
      need(off + len, timeout) or return nil
      @buf.slice!(0, off)
      Frame.new(b0 & 0x80 != 0, b0 & 0x40 != 0, b0 & 0x0F, @buf.slice!(0, len))
    end

    # Every frame until the server closes the TCP connection.
    def frames_until_eof(timeout: 10)
      out = []
      while (f = read_frame(timeout: timeout))
        out << f
      end
      out
    end

    def eof?(timeout: 5)
      fill(timeout)
      false
    rescue EOFError, *E2E::CONNECTION_ENDED
      true
    end

    private

    def need(n, timeout)
      fill(timeout) while @buf.bytesize < n
      true
    rescue EOFError, *E2E::CONNECTION_ENDED
      false
    end

    def fill(timeout)
      raise Timeout::Error, 'no bytes from the server' unless @sock.wait_readable(timeout)

      @buf << @sock.readpartial(65_536)
    end
  end
end
