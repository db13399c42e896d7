#include "hyperion/websocket/frame_parser.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include "hyperion/websocket/deflate.hpp"
#include "hyperion/websocket/frame.hpp"

namespace hyperion::websocket {
namespace {

// A frame as a client sends it: masked.
std::string clientFrame(std::uint8_t first_byte, std::string_view payload, const char mask[4] = "\x11\x22\x33\x44") {
  std::string out;
  out.push_back(static_cast<char>(first_byte));
  const std::size_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>((std::uint64_t{n} >> s) & 0xFF));
  }
  out.append(mask, 4);
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(payload[i] ^ mask[i & 3]));
  return out;
}

constexpr std::uint8_t kFin = 0x80, kRsv1 = 0x40;

struct Fed {
  bool ok;
  std::vector<Message> messages;
};

Fed feedAll(FrameParser& parser, const std::string& bytes, std::size_t step = 0) {
  Fed fed{true, {}};
  if (step == 0) step = bytes.size() ? bytes.size() : 1;
  for (std::size_t i = 0; i < bytes.size() && fed.ok; i += step)
    fed.ok = parser.feed(bytes.data() + i, std::min(step, bytes.size() - i), fed.messages);
  return fed;
}

TEST(WebSocketFrameParser, TextMessageInOneFrameAndByteByByte) {
  for (std::size_t step : {0u, 1u, 3u}) {
    FrameParser parser(1 << 20, std::nullopt);
    auto fed = feedAll(parser, clientFrame(kFin | 0x1, "Hello, wörld"), step);
    ASSERT_TRUE(fed.ok);
    ASSERT_EQ(fed.messages.size(), 1u);
    EXPECT_EQ(fed.messages[0].kind, Message::Kind::Text);
    EXPECT_EQ(fed.messages[0].payload, "Hello, wörld");
  }
}

TEST(WebSocketFrameParser, ExtendedLengths) {
  for (std::size_t n : {125u, 126u, 65535u, 65536u, 200000u}) {
    FrameParser parser(1 << 20, std::nullopt);
    std::string payload(n, 'x');
    auto fed = feedAll(parser, clientFrame(kFin | 0x2, payload), 4096);
    ASSERT_TRUE(fed.ok) << n;
    ASSERT_EQ(fed.messages.size(), 1u);
    EXPECT_EQ(fed.messages[0].kind, Message::Kind::Binary);
    EXPECT_EQ(fed.messages[0].payload.size(), n);
  }
}

TEST(WebSocketFrameParser, FragmentsWithInterleavedPing) {
  FrameParser parser(1 << 20, std::nullopt);
  std::string bytes = clientFrame(0x1, "frag") + clientFrame(kFin | 0x9, "ping!") + clientFrame(0x0, "men") +
                      clientFrame(kFin | 0x0, "ted");
  auto fed = feedAll(parser, bytes, 1);
  ASSERT_TRUE(fed.ok);
  ASSERT_EQ(fed.messages.size(), 2u);
  EXPECT_EQ(fed.messages[0].kind, Message::Kind::Ping);
  EXPECT_EQ(fed.messages[0].payload, "ping!");
  EXPECT_EQ(fed.messages[1].payload, "fragmented");
}

TEST(WebSocketFrameParser, EmptyFramesAndEmptyClose) {
  FrameParser parser(1 << 20, std::nullopt);
  auto fed = feedAll(parser, clientFrame(kFin | 0x1, "") + clientFrame(kFin | 0x8, ""));
  ASSERT_TRUE(fed.ok);
  ASSERT_EQ(fed.messages.size(), 2u);
  EXPECT_EQ(fed.messages[0].payload, "");
  EXPECT_EQ(fed.messages[1].kind, Message::Kind::Close);
  EXPECT_EQ(fed.messages[1].close_code, close_code::kNoStatus);
}

TEST(WebSocketFrameParser, CloseCodeAndReason) {
  FrameParser parser(1 << 20, std::nullopt);
  auto fed = feedAll(parser, clientFrame(kFin | 0x8, closePayload(4001, "bye")));
  ASSERT_TRUE(fed.ok);
  EXPECT_EQ(fed.messages[0].close_code, 4001);
  EXPECT_EQ(fed.messages[0].payload, "bye");
}

struct BadCase {
  const char* name;
  std::string bytes;
  std::uint16_t code;
};

TEST(WebSocketFrameParser, ViolationsGetTheirCloseCodes) {
  const std::vector<BadCase> cases = {
      {"unmasked", std::string("\x81\x02hi", 4), close_code::kProtocolError},
      {"rsv2", clientFrame(kFin | 0x20 | 0x1, "x"), close_code::kProtocolError},
      {"rsv1 without deflate", clientFrame(kFin | kRsv1 | 0x1, "x"), close_code::kProtocolError},
      {"opcode 3", clientFrame(kFin | 0x3, ""), close_code::kProtocolError},
      {"opcode 0xB", clientFrame(kFin | 0xB, ""), close_code::kProtocolError},
      {"fragmented ping", clientFrame(0x9, "x"), close_code::kProtocolError},
      {"long ping", clientFrame(kFin | 0x9, std::string(126, 'p')), close_code::kProtocolError},
      {"lone continuation", clientFrame(kFin | 0x0, "x"), close_code::kProtocolError},
      {"text inside fragments", clientFrame(0x1, "a") + clientFrame(kFin | 0x1, "b"), close_code::kProtocolError},
      {"bad utf-8", clientFrame(kFin | 0x1, "\xff"), close_code::kInvalidData},
      {"surrogate", clientFrame(kFin | 0x1, "\xed\xa0\x80"), close_code::kInvalidData},
      {"overlong", clientFrame(kFin | 0x1, "\xc0\xaf"), close_code::kInvalidData},
      {"ends mid-character", clientFrame(kFin | 0x1, "\xe2\x82"), close_code::kInvalidData},
      {"close 1-byte", clientFrame(kFin | 0x8, "\x03"), close_code::kProtocolError},
      {"close code 1005", clientFrame(kFin | 0x8, closePayload(1005, "")), close_code::kProtocolError},
      {"close code 999", clientFrame(kFin | 0x8, closePayload(999, "")), close_code::kProtocolError},
      {"close code 2000", clientFrame(kFin | 0x8, closePayload(2000, "")), close_code::kProtocolError},
      {"close bad reason", clientFrame(kFin | 0x8, closePayload(1000, "\xff")), close_code::kInvalidData},
      {"too big", clientFrame(kFin | 0x2, std::string(1025, 'x')), close_code::kTooBig},
      {"too big over fragments", clientFrame(0x2, std::string(600, 'x')) + clientFrame(kFin, std::string(600, 'x')),
       close_code::kTooBig},
  };
  for (const auto& c : cases) {
    FrameParser parser(1024, std::nullopt);
    auto fed = feedAll(parser, c.bytes);
    EXPECT_FALSE(fed.ok) << c.name;
    EXPECT_EQ(parser.failure().code, c.code) << c.name << ": " << parser.failure().reason;
  }
}

TEST(WebSocketFrameParser, BadUtf8FailsMidFragmentBeforeTheMessageEnds) {
  FrameParser parser(1 << 20, std::nullopt);
  std::vector<Message> out;
  const std::string first = clientFrame(0x1, "ok \xff more");
  EXPECT_FALSE(parser.feed(first.data(), first.size(), out));
  EXPECT_EQ(parser.failure().code, close_code::kInvalidData);
}

TEST(WebSocketFrameParser, CodePointSplitAcrossFragmentsIsFine) {
  FrameParser parser(1 << 20, std::nullopt);
  // U+1F600 (F0 9F 98 80) split 2 + 2 across two frames.
  auto fed = feedAll(parser, clientFrame(0x1, "\xf0\x9f") + clientFrame(kFin | 0x0, "\x98\x80"), 1);
  ASSERT_TRUE(fed.ok);
  EXPECT_EQ(fed.messages[0].payload, "\xf0\x9f\x98\x80");
}

TEST(WebSocketFrameParser, CompressedMessagesWithAndWithoutContextTakeover) {
  for (bool no_takeover : {false, true}) {
    DeflateParams params;
    params.client_no_context_takeover = no_takeover;
    params.server_no_context_takeover = no_takeover;
    Deflater client_side(params);  // the same codec stands in for the client
    FrameParser parser(1 << 20, params);
    std::string wire;
    for (int i = 0; i < 3; ++i) wire += clientFrame(kFin | kRsv1 | 0x1, client_side.deflate("{\"chat\":\"hello hello\"}"));
    auto fed = feedAll(parser, wire, 5);
    ASSERT_TRUE(fed.ok) << parser.failure().reason;
    ASSERT_EQ(fed.messages.size(), 3u);
    for (auto& m : fed.messages) EXPECT_EQ(m.payload, "{\"chat\":\"hello hello\"}");
  }
}

TEST(WebSocketFrameParser, Rfc7692HelloVector) {
  // RFC 7692 section 7.2.3.1: "Hello" compressed, one frame.
  FrameParser parser(1 << 20, DeflateParams{});
  auto fed = feedAll(parser, clientFrame(kFin | kRsv1 | 0x1, std::string("\xf2\x48\xcd\xc9\xc9\x07\x00", 7)));
  ASSERT_TRUE(fed.ok);
  EXPECT_EQ(fed.messages[0].payload, "Hello");
  // 7.2.3.2: the same in two fragments, RSV1 on the first only.
  FrameParser split(1 << 20, DeflateParams{});
  fed = feedAll(split, clientFrame(kRsv1 | 0x1, "\xf2\x48\xcd") + clientFrame(kFin | 0x0, std::string("\xc9\xc9\x07\x00", 4)));
  ASSERT_TRUE(fed.ok);
  EXPECT_EQ(fed.messages[0].payload, "Hello");
}

TEST(WebSocketFrameParser, CompressionBombStopsAtTheLimit) {
  std::string big(8 << 20, 'a');
  DeflateParams params;
  Deflater deflater(params);
  const std::string compressed = deflater.deflate(big);
  ASSERT_LT(compressed.size(), 64u * 1024);
  FrameParser parser(1 << 20, params);
  auto fed = feedAll(parser, clientFrame(kFin | kRsv1 | 0x2, compressed));
  EXPECT_FALSE(fed.ok);
  EXPECT_EQ(parser.failure().code, close_code::kTooBig);
}

TEST(WebSocketFrameParser, CorruptDeflateIs1007) {
  FrameParser parser(1 << 20, DeflateParams{});
  auto fed = feedAll(parser, clientFrame(kFin | kRsv1 | 0x2, "\xff\xff\xff\xff\xff"));
  EXPECT_FALSE(fed.ok);
  EXPECT_EQ(parser.failure().code, close_code::kInvalidData);
}

TEST(WebSocketFrameParser, RsvOnControlFrameWithDeflateIsStillAnError) {
  FrameParser parser(1 << 20, DeflateParams{});
  auto fed = feedAll(parser, clientFrame(kFin | kRsv1 | 0x9, ""));
  EXPECT_FALSE(fed.ok);
  EXPECT_EQ(parser.failure().code, close_code::kProtocolError);
}

TEST(WebSocketFrame, HeadersAndClosePayload) {
  EXPECT_EQ(buildFrame(Opcode::Text, "hi"), std::string("\x81\x02hi", 4));
  std::string h;
  appendFrameHeader(h, Opcode::Binary, 300);
  EXPECT_EQ(h, std::string("\x82\x7e\x01\x2c", 4));
  h.clear();
  appendFrameHeader(h, Opcode::Binary, 70000);
  EXPECT_EQ(h.size(), 10u);
  const std::string long_reason(200, 'r');
  EXPECT_EQ(closePayload(1000, long_reason).size(), 125u);
  // A cut never splits a character: 62 two-byte characters is 124 bytes.
  std::string accents;
  for (int i = 0; i < 70; ++i) accents += "é";
  EXPECT_EQ(closePayload(1000, accents).size(), 2u + 122u);
}

}  // namespace
}  // namespace hyperion::websocket
