#include "hyperion/websocket/handshake.hpp"

#include <gtest/gtest.h>

#include "hyperion/websocket/utf8.hpp"

namespace hyperion::websocket {
namespace {

http1::Request upgradeRequest() {
  http1::Request r;
  r.method = "GET";
  r.target = "/chat";
  r.headers = {{"Host", "example.com"},
               {"Upgrade", "websocket"},
               {"Connection", "keep-alive, Upgrade"},
               {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
               {"Sec-WebSocket-Version", "13"}};
  return r;
}

void setHeader(http1::Request& r, const std::string& name, const std::string& value) {
  for (auto& h : r.headers)
    if (http1::equalsIgnoreCase(h.name, name)) {
      h.value = value;
      return;
    }
  r.headers.push_back({name, value});
}

TEST(WebSocketHandshake, Rfc6455SampleAccept) {
  EXPECT_EQ(acceptValue("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketHandshake, ValidRequestIsAccepted) {
  auto check = checkUpgrade(upgradeRequest(), {});
  EXPECT_EQ(check.verdict, UpgradeCheck::Verdict::Accept);
  EXPECT_EQ(check.key, "dGhlIHNhbXBsZSBub25jZQ==");
}

TEST(WebSocketHandshake, NotAWebSocketRequest) {
  http1::Request r = upgradeRequest();
  setHeader(r, "Upgrade", "h2c");
  EXPECT_EQ(checkUpgrade(r, {}).verdict, UpgradeCheck::Verdict::NotWebSocket);
  http1::Request plain;
  plain.method = "GET";
  EXPECT_EQ(checkUpgrade(plain, {}).verdict, UpgradeCheck::Verdict::NotWebSocket);
}

TEST(WebSocketHandshake, Rejections) {
  auto expectStatus = [](const http1::Request& r, int status, const std::vector<std::string>& origins = {}) {
    auto check = checkUpgrade(r, origins);
    EXPECT_EQ(check.verdict, UpgradeCheck::Verdict::Reject);
    EXPECT_EQ(check.status, status) << check.reason;
  };
  http1::Request r = upgradeRequest();
  r.method = "POST";
  expectStatus(r, 400);
  r = upgradeRequest();
  setHeader(r, "Sec-WebSocket-Version", "8");
  expectStatus(r, 426);
  r = upgradeRequest();
  setHeader(r, "Sec-WebSocket-Key", "c2hvcnQ=");  // "short": 5 bytes
  expectStatus(r, 400);
  r = upgradeRequest();
  setHeader(r, "Sec-WebSocket-Key", "!!!!!!!!!!!!!!!!!!!!!!==");
  expectStatus(r, 400);
  r = upgradeRequest();
  r.headers.erase(r.headers.begin() + 3);  // no key
  expectStatus(r, 400);
  r = upgradeRequest();
  setHeader(r, "Connection", "keep-alive");
  expectStatus(r, 400);
  r = upgradeRequest();
  setHeader(r, "Origin", "https://evil.example");
  expectStatus(r, 403, {"https://good.example"});
  setHeader(r, "Origin", "https://good.example");
  EXPECT_EQ(checkUpgrade(r, {"https://good.example"}).verdict, UpgradeCheck::Verdict::Accept);
}

TEST(WebSocketHandshake, OfferedProtocolsInOrder) {
  http1::Request r = upgradeRequest();
  r.headers.push_back({"Sec-WebSocket-Protocol", "actioncable-v1-json, actioncable-unsupported"});
  r.headers.push_back({"Sec-WebSocket-Protocol", "chat"});
  EXPECT_EQ(offeredProtocols(r), (std::vector<std::string>{"actioncable-v1-json", "actioncable-unsupported", "chat"}));
}

TEST(WebSocketHandshake, DeflateNegotiation) {
  EXPECT_FALSE(negotiateDeflate("permessage-deflate", DeflateMode::Off));
  EXPECT_FALSE(negotiateDeflate("x-webkit-deflate-frame", DeflateMode::Auto));
  auto plain = negotiateDeflate("permessage-deflate; client_max_window_bits", DeflateMode::Auto);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->response, "permessage-deflate");
  auto all = negotiateDeflate(
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; "
      "client_max_window_bits=12",
      DeflateMode::On);
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->params.server_no_context_takeover);
  EXPECT_TRUE(all->params.client_no_context_takeover);
  EXPECT_EQ(all->params.server_max_window_bits, 10);
  EXPECT_EQ(all->params.client_max_window_bits, 12);
  EXPECT_EQ(all->response,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; "
            "client_max_window_bits=12");
  // zlib cannot honour an 8-bit server window: that offer is declined, the
  // next one taken.
  auto second = negotiateDeflate("permessage-deflate; server_max_window_bits=8, permessage-deflate", DeflateMode::Auto);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->response, "permessage-deflate");
  EXPECT_FALSE(negotiateDeflate("permessage-deflate; server_max_window_bits=16", DeflateMode::Auto));
  EXPECT_FALSE(negotiateDeflate("permessage-deflate; unknown_param", DeflateMode::Auto));
  EXPECT_FALSE(negotiateDeflate("permessage-deflate; client_no_context_takeover; client_no_context_takeover",
                                DeflateMode::Auto));
  auto quoted = negotiateDeflate("permessage-deflate; server_max_window_bits=\"11\"", DeflateMode::Auto);
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->params.server_max_window_bits, 11);
}

TEST(WebSocketHandshake, SwitchingProtocolsHead) {
  const std::string head = switchingProtocolsHead("dGhlIHNhbXBsZSBub25jZQ==", "chat", "permessage-deflate");
  EXPECT_EQ(head,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
}

TEST(Utf8Validator, AcceptsAndRejects) {
  Utf8Validator v;
  EXPECT_TRUE(v.feed("plain ascii text that is long enough", 36));
  EXPECT_TRUE(v.feed("\xce\xba\xe1\xbd\xb9\xf4\x8f\xbf\xbf", 9));  // κό U+10FFFF
  EXPECT_TRUE(v.complete());
  EXPECT_FALSE(Utf8Validator().feed("\xf4\x90\x80\x80", 4));  // past U+10FFFF
  EXPECT_FALSE(Utf8Validator().feed("\x80", 1));
  EXPECT_FALSE(Utf8Validator().feed("\xf8\x88\x80\x80\x80", 5));
  Utf8Validator split;
  EXPECT_TRUE(split.feed("\xe2", 1));
  EXPECT_FALSE(split.complete());
  EXPECT_TRUE(split.feed("\x82\xac", 2));
  EXPECT_TRUE(split.complete());
}

}  // namespace
}  // namespace hyperion::websocket
