# frozen_string_literal: true

require 'socket'

# The smallest HTTP/2 client that can send what real clients never do:
# frames built by hand, HPACK literals without Huffman or indexing.
class RawH2
  FRAME_TYPES = { data: 0, headers: 1, rst_stream: 3, settings: 4, ping: 6, goaway: 7, window_update: 8,
                  continuation: 9 }.freeze
  Frame = Struct.new(:type, :flags, :stream, :payload)

  def initialize(port)
    @sock = TCPSocket.new('127.0.0.1', port)
    @buffer = +''.b
    @sock.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".b)
    frame(:settings, 0, 0, '')
  end

  def frame(type, flags, stream, payload)
    write(self.class.frame_bytes(type, flags, stream, payload))
  end

  def self.frame_bytes(type, flags, stream, payload)
    payload = payload.b
    type = FRAME_TYPES.fetch(type) if type.is_a?(Symbol)
    [payload.bytesize >> 16, payload.bytesize & 0xffff, type, flags, stream].pack('CnCCN') + payload
  end

  # False once the server has closed the connection under us.
  def write(bytes)
    @sock.write(bytes)
    true
  rescue Errno::EPIPE, Errno::ECONNRESET
    false
  end

  def self.literal(name, value)
    [0, name.bytesize].pack('CC') + name + encode_length(value.bytesize) + value
  end

  # HPACK integer with a 7-bit prefix (RFC 7541 section 5.1), no Huffman.
  def self.encode_length(n)
    return [n].pack('C') if n < 127

    out = [127].pack('C')
    n -= 127
    while n >= 128
      out << [(n & 127) | 128].pack('C')
      n >>= 7
    end
    out << [n].pack('C')
  end

  # :method GET (or POST), :scheme http from the static table, then the path,
  # the authority and `extra` as literals.
  def self.request_block(path, extra = [], post: false)
    block = (post ? +"\x83\x86" : +"\x82\x86").b
    block << literal(':path', path) << literal(':authority', 'localhost')
    extra.each { |name, value| block << literal(name, value) }
    block
  end

  # Reads frames until the block says stop (returns truthy) or the time runs out.
  def read_until(timeout: 5)
    deadline = Time.now + timeout
    frames = []
    loop do
      while @buffer.bytesize >= 9
        length = (@buffer.getbyte(0) << 16) | @buffer.unpack1('@1n')
        break if @buffer.bytesize < 9 + length

        type, flags, stream = @buffer.unpack('@3CCN')
        f = Frame.new(FRAME_TYPES.key(type) || type, flags, stream & 0x7fffffff, @buffer.byteslice(9, length))
        @buffer = @buffer.byteslice(9 + length..)
        frames << f
        frame(:settings, 1, 0, '') if f.type == :settings && f.flags.zero? # ack theirs
        return frames if yield(f)
      end
      left = deadline - Time.now
      return frames if left <= 0 || !@sock.wait_readable(left)

      chunk = @sock.read_nonblock(65_536, exception: false)
      return frames if chunk.nil?

      @buffer << chunk if chunk.is_a?(String)
    end
  rescue Errno::ECONNRESET
    frames
  end

  def close = @sock.close
end
