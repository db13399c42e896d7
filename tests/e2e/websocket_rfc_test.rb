# frozen_string_literal: true

require_relative 'support/harness'
require_relative 'support/raw_ws'

# RFC 6455 / RFC 7692 conformance with raw frames, in the spirit of the
# Autobahn testsuite's sections (numbers in the test names). Every violation
# must get its close code, a log line, and leave the worker serving.
class WebSocketRfcTest < Minitest::Test
  include E2E::Helpers

  APP = E2E.app('websocket')
  OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10

  def server
    @server ||= start_server(APP, args: %w[--ws-max-message-bytes 2m])
  end

  def ws(path = '/echo', headers: {})
    conn, status, head = RawWS.connect(server, path, headers: headers)
    assert_equal 101, status, "handshake: #{head.inspect}"
    conn
  end

  def send_frames(conn, *frames) = conn.write(frames.join)

  # The server must answer the violation with a close frame carrying `code`,
  # then end the TCP connection; and the worker must go on serving.
  def assert_closed_with(conn, code)
    frames = conn.frames_until_eof
    close = frames.find { |f| f.opcode == OP_CLOSE }
    refute_nil close, "no close frame (got #{frames.map(&:opcode)})"
    assert_equal code, close.close_code, "close reason: #{close.payload[2..]}"
    assert_equal 'ok', echo_once, 'the worker stopped serving'
  end

  def echo_once
    conn = ws
    send_frames(conn, RawWS.frame(OP_TEXT, 'ok'))
    conn.read_frame.text
  ensure
    conn&.close
  end

  def test_1_text_and_binary_of_every_length_class
    conn = ws
    [0, 1, 125, 126, 127, 65_535, 65_536, 1_000_000].each do |n|
      payload = 'a' * n
      send_frames(conn, RawWS.frame(OP_TEXT, payload))
      f = conn.read_frame
      assert_equal [true, OP_TEXT, n], [f.fin, f.opcode, f.payload.bytesize]
      bin = Random.bytes([n, 70_000].min)
      send_frames(conn, RawWS.frame(OP_BINARY, bin))
      assert_equal bin, conn.read_frame.payload
    end
  end

  def test_1_frames_trickled_byte_by_byte
    conn = ws
    bytes = RawWS.frame(OP_TEXT, 'slowly, one byte at a time')
    bytes.each_char do |c|
      conn.write(c)
      sleep 0.002
    end
    assert_equal 'slowly, one byte at a time', conn.read_frame.text
  end

  def test_1_many_frames_in_one_write
    conn = ws
    send_frames(conn, *Array.new(200) { |i| RawWS.frame(OP_TEXT, "m#{i}") })
    assert_equal Array.new(200) { |i| "m#{i}" }, Array.new(200) { conn.read_frame.text }
  end

  def test_1_unmasked_client_frame_is_1002
    conn = ws
    send_frames(conn, RawWS.frame(OP_TEXT, 'no mask', mask: false))
    assert_closed_with(conn, 1002)
    assert_match(/closing 1002: client frame not masked/, server.log)
  end

  def test_2_ping_gets_pong_with_the_same_payload
    conn = ws
    send_frames(conn, RawWS.frame(OP_PING, 'payload 123'))
    f = conn.read_frame
    assert_equal [OP_PONG, 'payload 123'], [f.opcode, f.payload]
    send_frames(conn, RawWS.frame(OP_PING, 'x' * 125))
    assert_equal 'x' * 125, conn.read_frame.payload
    send_frames(conn, RawWS.frame(OP_PONG, 'unsolicited'), RawWS.frame(OP_TEXT, 'after'))
    assert_equal [OP_TEXT, 'after'], conn.read_frame.then { |fr| [fr.opcode, fr.text] }
  end

  def test_2_ping_longer_than_125_is_1002
    conn = ws
    send_frames(conn, RawWS.frame(OP_PING, 'x' * 126))
    assert_closed_with(conn, 1002)
  end

  def test_2_ping_in_the_middle_of_a_fragmented_message
    conn = ws
    send_frames(conn, RawWS.frame(OP_TEXT, 'frag', fin: false), RawWS.frame(OP_PING, 'mid'),
                RawWS.frame(OP_CONT, 'mented'))
    assert_equal [OP_PONG, 'mid'], conn.read_frame.then { |f| [f.opcode, f.payload] }
    assert_equal 'fragmented', conn.read_frame.text
  end

  def test_3_reserved_bits_are_1002
    [1, 2, 4].each do |rsv|
      conn = ws
      send_frames(conn, RawWS.frame(OP_TEXT, 'reserved', rsv: rsv))
      assert_closed_with(conn, 1002)
    end
  end

  def test_4_reserved_opcodes_are_1002
    [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF].each do |op|
      conn = ws
      send_frames(conn, RawWS.frame(op, 'x'))
      assert_closed_with(conn, 1002)
    end
  end

  def test_5_fragmentation_rules
    conn = ws
    send_frames(conn, RawWS.frame(OP_BINARY, "\x01".b, fin: false), RawWS.frame(OP_CONT, "\x02".b, fin: false),
                RawWS.frame(OP_CONT, "\x03".b))
    assert_equal "\x01\x02\x03".b, conn.read_frame.payload
    # A continuation with nothing to continue.
    send_frames(conn, RawWS.frame(OP_CONT, 'orphan'))
    assert_closed_with(conn, 1002)
    # A new text frame inside a fragmented message.
    conn = ws
    send_frames(conn, RawWS.frame(OP_TEXT, 'one', fin: false), RawWS.frame(OP_TEXT, 'two'))
    assert_closed_with(conn, 1002)
    # A fragmented ping.
    conn = ws
    send_frames(conn, RawWS.frame(OP_PING, 'p', fin: false))
    assert_closed_with(conn, 1002)
  end

  def test_6_utf8_valid_including_code_points_split_across_fragments
    conn = ws
    text = "κόσμε 😀 \u{10FFFF}".b
    send_frames(conn, RawWS.frame(OP_TEXT, text))
    assert_equal text, conn.read_frame.payload
    # Split inside the 4-byte emoji, and a fragment per byte.
    pieces = text.bytes.map(&:chr)
    frames = pieces.each_with_index.map do |b, i|
      RawWS.frame(i.zero? ? OP_TEXT : OP_CONT, b, fin: i == pieces.size - 1)
    end
    send_frames(conn, *frames)
    assert_equal text, conn.read_frame.payload
  end

  def test_6_invalid_utf8_is_1007
    ["\xFF".b, "\xC0\xAF".b, "\xED\xA0\x80".b, "\xF4\x90\x80\x80".b, "ok\xE2\x82".b].each do |bad|
      conn = ws
      send_frames(conn, RawWS.frame(OP_TEXT, bad))
      assert_closed_with(conn, 1007)
    end
  end

  def test_6_invalid_utf8_fails_fast_before_the_message_ends
    conn = ws
    # The first fragment is already bad; the message never finishes.
    send_frames(conn, RawWS.frame(OP_TEXT, "good so far \xFF".b, fin: false))
    close = conn.read_frame(timeout: 5)
    assert_equal [OP_CLOSE, 1007], [close.opcode, close.close_code]
  end

  def test_7_close_codes_are_echoed_and_the_connection_ends
    [1000, 1001, 1003, 1011, 3000, 4999].each do |code|
      conn = ws
      send_frames(conn, RawWS.frame(OP_CLOSE, RawWS.close_payload(code, 'reason')))
      frames = conn.frames_until_eof
      assert_equal [[OP_CLOSE, code]], frames.map { |f| [f.opcode, f.close_code] }
    end
    conn = ws
    send_frames(conn, RawWS.frame(OP_CLOSE, ''))
    assert_equal [[OP_CLOSE, '']], conn.frames_until_eof.map { |f| [f.opcode, f.payload] }
  end

  def test_7_invalid_close_frames
    { [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] => 1002 }.each do |codes, expected|
      codes.each do |code|
        conn = ws
        send_frames(conn, RawWS.frame(OP_CLOSE, RawWS.close_payload(code)))
        assert_closed_with(conn, expected)
      end
    end
    conn = ws
    send_frames(conn, RawWS.frame(OP_CLOSE, "\x03".b)) # a 1-byte payload
    assert_closed_with(conn, 1002)
    conn = ws
    send_frames(conn, RawWS.frame(OP_CLOSE, RawWS.close_payload(1000, "\xFF".b)))
    assert_closed_with(conn, 1007)
  end

  def test_7_data_after_close_is_ignored
    conn = ws
    send_frames(conn, RawWS.frame(OP_CLOSE, RawWS.close_payload(1000)), RawWS.frame(OP_TEXT, 'too late'))
    frames = conn.frames_until_eof
    assert_equal [OP_CLOSE], frames.map(&:opcode)
  end

  def test_7_server_initiated_close_with_code_and_reason
    conn = ws('/close')
    send_frames(conn, RawWS.frame(OP_TEXT, '4001 going now'))
    f = conn.read_frame
    assert_equal [OP_CLOSE, 4001, 'going now'], [f.opcode, f.close_code, f.payload[2..]]
    send_frames(conn, RawWS.frame(OP_CLOSE, RawWS.close_payload(4001)))
    assert conn.eof?, 'the server must close after the client answers its close'
  end

  def test_9_oversize_message_is_1009
    conn = ws
    send_frames(conn, RawWS.frame(OP_BINARY, 'x' * (2 * 1024 * 1024 + 1)))
    assert_closed_with(conn, 1009)
    conn = ws
    # Over the limit only when the fragments add up; the header of the last
    # one already says so.
    send_frames(conn, RawWS.frame(OP_BINARY, 'x' * (1024 * 1024), fin: false),
                RawWS.frame(OP_CONT, 'x' * (1024 * 1024), fin: false), RawWS.frame(OP_CONT, 'xx'))
    assert_closed_with(conn, 1009)
  end

  def deflate_ws(offer)
    conn, status, head = RawWS.connect(server, '/echo', headers: { 'Sec-WebSocket-Extensions' => offer })
    assert_equal 101, status
    [conn, head['sec-websocket-extensions']]
  end

  MESSAGE = ('{"type":"chat","user":"alice","text":"hello hello hello"} ' * 20).freeze

  def test_12_deflate_round_trip_with_context_takeover
    conn, agreed = deflate_ws('permessage-deflate; client_max_window_bits')
    assert_equal 'permessage-deflate', agreed
    client = Zlib::Deflate.new(Zlib::DEFAULT_COMPRESSION, -15)
    server_side = Zlib::Inflate.new(-15)
    sizes = Array.new(3) do
      # The second message refers back into the first (context takeover):
      # the server must keep its inflater's window between messages.
      send_frames(conn, RawWS.frame(OP_TEXT, RawWS.deflate(MESSAGE, client), rsv: 4))
      f = conn.read_frame
      assert f.rsv1, 'a message this size is sent compressed'
      assert_equal MESSAGE, RawWS.inflate(f.payload, server_side).force_encoding('UTF-8')
      f.payload.bytesize
    end
    assert_operator sizes[1], :<, sizes[0], 'with context takeover the repeat is smaller'
    send_frames(conn, RawWS.frame(OP_TEXT, 'hi'))
    small = conn.read_frame
    refute small.rsv1, 'small messages go out uncompressed'
    assert_equal 'hi', small.text
  end

  def test_12_server_no_context_takeover_is_honoured
    conn, agreed = deflate_ws('permessage-deflate; server_no_context_takeover')
    assert_equal 'permessage-deflate; server_no_context_takeover', agreed
    frames = Array.new(2) do
      send_frames(conn, RawWS.frame(OP_TEXT, MESSAGE))
      conn.read_frame.payload
    end
    assert_equal frames[0], frames[1], 'each message compressed from a fresh window'
    assert_equal MESSAGE, RawWS.inflate(frames[1]).force_encoding('UTF-8')
  end

  def test_12_client_no_context_takeover_and_window_bits
    conn, agreed = deflate_ws('permessage-deflate; client_no_context_takeover; server_max_window_bits=9; ' \
                              'client_max_window_bits=10')
    assert_equal 'permessage-deflate; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10',
                 agreed
    # 600 random bytes twice: the repeat is 600 bytes back, past a 512-byte
    # window. A stream made with a larger window fails to inflate with 9 bits.
    text = Random.bytes(300).unpack1('H*')
    message = text + text
    inflater = Zlib::Inflate.new(-9)
    2.times do
      client = Zlib::Deflate.new(Zlib::DEFAULT_COMPRESSION, -10) # fresh each time: client_no_context_takeover
      send_frames(conn, RawWS.frame(OP_TEXT, RawWS.deflate(message, client), rsv: 4))
      f = conn.read_frame
      assert_equal message, RawWS.inflate(f.payload, inflater)
    end
  end

  def test_12_offers_we_cannot_honour_are_declined
    _, agreed = deflate_ws('permessage-deflate; server_max_window_bits=8')
    assert_nil agreed
    _, agreed = deflate_ws('permessage-deflate; unknown=1, permessage-deflate; server_no_context_takeover')
    assert_equal 'permessage-deflate; server_no_context_takeover', agreed
    _, agreed = deflate_ws('x-webkit-deflate-frame')
    assert_nil agreed
  end

  def test_13_compressed_message_in_fragments
    conn, = deflate_ws('permessage-deflate')
    data = RawWS.deflate(MESSAGE)
    third = data.bytesize / 3
    send_frames(conn, RawWS.frame(OP_TEXT, data[0, third], rsv: 4, fin: false),
                RawWS.frame(OP_CONT, data[third, third], fin: false), RawWS.frame(OP_CONT, data[(2 * third)..]))
    assert_equal MESSAGE, RawWS.inflate(conn.read_frame.payload).force_encoding('UTF-8')
  end

  def test_13_rsv1_on_a_continuation_or_a_control_frame_is_1002
    conn, = deflate_ws('permessage-deflate')
    send_frames(conn, RawWS.frame(OP_TEXT, RawWS.deflate('ab'), rsv: 4, fin: false), RawWS.frame(OP_CONT, '', rsv: 4))
    assert_closed_with(conn, 1002)
    conn, = deflate_ws('permessage-deflate')
    send_frames(conn, RawWS.frame(OP_PING, '', rsv: 4))
    assert_closed_with(conn, 1002)
  end

  def test_13_compression_bomb_is_1009_and_costs_no_more_than_the_limit
    conn, = deflate_ws('permessage-deflate')
    bomb = RawWS.deflate('a' * (64 * 1024 * 1024)) # 64 MiB of 'a' in ~64 KiB
    assert_operator bomb.bytesize, :<, 100 * 1024
    send_frames(conn, RawWS.frame(OP_BINARY, bomb, rsv: 4))
    assert_closed_with(conn, 1009)
    assert_match(/closing 1009: message inflates past 2097152 bytes/, server.log)
  end

  def test_13_corrupt_deflate_data_is_1007
    conn, = deflate_ws('permessage-deflate')
    send_frames(conn, RawWS.frame(OP_BINARY, "\xFF\xFF\xFF\xFF".b, rsv: 4))
    assert_closed_with(conn, 1007)
  end

  def test_rsv1_without_the_extension_is_1002
    conn = ws
    send_frames(conn, RawWS.frame(OP_TEXT, RawWS.deflate('hello'), rsv: 4))
    assert_closed_with(conn, 1002)
  end
end
