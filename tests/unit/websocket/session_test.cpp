// The whole WebSocket path on the loop side against a fake loop: the
// handshake through Http1Session, the app's upgrade, then WebSocketSession's
// answers on the wire and its events on the Channel.
#include "hyperion/websocket/session.hpp"

#include <gtest/gtest.h>

#include "hyperion/http1/session.hpp"
#include "hyperion/server/connection.hpp"
#include "hyperion/server/loop_mailbox.hpp"
#include "hyperion/websocket/channel.hpp"
#include "hyperion/websocket/frame.hpp"
#include "../support/fake_host.hpp"

using namespace hyperion;
using hyperion::testing::FakeHost;
using server::Connection;

namespace {

std::string clientFrame(std::uint8_t first, std::string_view payload) {
  std::string f;
  f.push_back(static_cast<char>(first));
  f.push_back(static_cast<char>(0x80 | payload.size()));  // short payloads only
  const char mask[4] = {1, 2, 3, 4};
  f.append(mask, 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i & 3]));
  return f;
}

class WebSocketSessionTest : public ::testing::Test {
 protected:
  WebSocketSessionTest() : conn(3, net::UniqueFd(), nullptr, server::PeerInfo{"10.0.0.9", 9292, false}) {
    conn.session = std::make_unique<http1::Http1Session>(host);
  }

  void arrive(std::string_view bytes) {
    conn.input.append(bytes);
    conn.session->onInput(conn);
  }
  void deliver() { EXPECT_TRUE(hyperion::testing::deliverReplies(host, conn)); }

  // Handshake, the app accepting it, the switch. Returns the channel.
  std::shared_ptr<websocket::Channel> upgrade(std::string extra_headers = {}, std::string first_frames = {}) {
    arrive("GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
           extra_headers + "\r\n" + first_frames);
    EXPECT_EQ(host.dispatched.size(), 1u);
    exchange = host.dispatched.back();
    EXPECT_TRUE(exchange->webSocketOffered());
    auto channel = std::make_shared<websocket::Channel>();
    exchange->upgradeToWebSocket(channel, "");
    deliver();
    return channel;
  }

  std::vector<websocket::Event> events(websocket::Channel& channel) {
    std::vector<websocket::Event> out;
    websocket::Event e;
    bool resume = false;
    while (channel.next(e, resume)) out.push_back(e);
    return out;
  }

  FakeHost host;
  Connection conn;
  std::shared_ptr<server::Exchange> exchange;
};

TEST_F(WebSocketSessionTest, UpgradeAnswers101AndOpensWithTheFramesBehindTheHandshake) {
  auto channel = upgrade({}, clientFrame(0x81, "first"));
  EXPECT_EQ(host.wire.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u) << host.wire;
  EXPECT_NE(host.wire.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos);
  auto got = events(*channel);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].kind, websocket::Event::Kind::Open);
  EXPECT_EQ(got[1].kind, websocket::Event::Kind::Message);
  EXPECT_EQ(got[1].data, "first");
  // The connection was scheduled once for both events (one job, in order).
  EXPECT_EQ(host.dispatched.size(), 2u);
}

TEST_F(WebSocketSessionTest, PingIsAnsweredWithoutRuby) {
  auto channel = upgrade();
  host.wire.clear();
  arrive(clientFrame(0x89, "hb"));
  EXPECT_EQ(host.wire, std::string("\x8a\x02hb", 4));
  EXPECT_EQ(events(*channel).size(), 1u);  // just the open
}

TEST_F(WebSocketSessionTest, WritesAreFramedAndCountedUntilTheyLeave) {
  auto channel = upgrade();
  host.wire.clear();
  exchange->wsSend("hello", false);
  exchange->wsSend(std::string("\x01\x02", 2), true);
  deliver();
  EXPECT_EQ(host.wire, std::string("\x81\x05hello\x82\x02\x01\x02", 11));
  EXPECT_EQ(exchange->unsentBytes(), 0u);  // framing counted too, then written
}

TEST_F(WebSocketSessionTest, DeflateIsAgreedAndLargeMessagesGoCompressed) {
  auto channel = upgrade("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
  EXPECT_NE(host.wire.find("Sec-WebSocket-Extensions: permessage-deflate\r\n"), std::string::npos);
  host.wire.clear();
  exchange->wsSend(std::string(1000, 'a'), false);
  exchange->wsSend("tiny", false);
  deliver();
  ASSERT_GE(host.wire.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(host.wire[0]), 0xC1);  // FIN + RSV1 + text
  EXPECT_LT(host.wire.size(), 100u);
  EXPECT_EQ(host.wire.substr(host.wire.size() - 6), std::string("\x81\x04tiny", 6));  // small: as it is
  EXPECT_EQ(exchange->unsentBytes(), 0u);
}

TEST_F(WebSocketSessionTest, ProtocolErrorSendsItsCloseCodeAndClosesOnce) {
  auto channel = upgrade();
  host.wire.clear();
  arrive(std::string("\x81\x02hi", 4));  // unmasked
  ASSERT_GE(host.wire.size(), 4u);
  EXPECT_EQ(host.wire.substr(0, 4), std::string("\x88\x19\x03\xea", 4));  // close 1002 + reason
  EXPECT_GE(host.closes, 1);
  EXPECT_FALSE(channel->open());
  conn.session.reset();  // the loop destroys the connection: on_close follows
  auto got = events(*channel);
  ASSERT_EQ(got.back().kind, websocket::Event::Kind::Close);
  EXPECT_EQ(got.back().code, websocket::close_code::kProtocolError);
}

TEST_F(WebSocketSessionTest, ClientCloseIsEchoedWithItsCode) {
  auto channel = upgrade();
  host.wire.clear();
  arrive(clientFrame(0x88, websocket::closePayload(4001, "bye")));
  EXPECT_EQ(host.wire, std::string("\x88\x02\x0f\xa1", 4));
  conn.session.reset();
  EXPECT_EQ(events(*channel).back().code, 4001);
}

TEST_F(WebSocketSessionTest, PublishedFrameReachesSubscribersOnly) {
  auto channel = upgrade();
  exchange->wsSubscribe("room", true);
  deliver();
  const auto* subs = host.subscriptions_.find("room");
  ASSERT_NE(subs, nullptr);
  host.wire.clear();
  auto frame = std::make_shared<const std::string>(websocket::buildFrame(websocket::Opcode::Text, "news"));
  for (auto* s : *subs) s->deliver(frame);
  host.flush(conn);
  EXPECT_EQ(host.wire, *frame);
  conn.session.reset();  // a closed connection leaves every channel
  EXPECT_EQ(host.subscriptions_.find("room"), nullptr);
}

TEST_F(WebSocketSessionTest, APublishWaitsBehindWhatIsQueuedAndIsCountedWhileItWaits) {
  auto channel = upgrade();
  exchange->wsSubscribe("room", true);
  deliver();
  host.wire.clear();
  host.queueOutput(conn, "earlier", nullptr);  // not yet written: the publish must not pass it
  host.write_now_refused = true;
  auto frame = std::make_shared<const std::string>(websocket::buildFrame(websocket::Opcode::Text, "news"));
  for (auto* s : *host.subscriptions_.find("room")) s->deliver(frame);
  EXPECT_EQ(host.wire, "earlier" + *frame);
  EXPECT_EQ(exchange->unsentBytes(), 0u) << "the queued frame's bytes were counted and then released";
  conn.session.reset();
}

TEST_F(WebSocketSessionTest, InvalidHandshakeIsRejectedBeforeRuby) {
  arrive("GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n");
  EXPECT_TRUE(host.dispatched.empty());
  EXPECT_EQ(host.wire.rfind("HTTP/1.1 426 ", 0), 0u);
  EXPECT_NE(host.wire.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
}

}  // namespace
