// Http1Session against a fake loop: input arrives the way a transport that
// returns one byte (or one record) at a time delivers it, and every reply
// the session makes is checked on the wire bytes it queued.
#include "hyperion/http1/session.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/config/settings.hpp"
#include "hyperion/server/connection.hpp"
#include "hyperion/server/loop_mailbox.hpp"
#include "hyperion/static/route_table.hpp"
#include "hyperion/static/static_directory.hpp"
#include "../support/fake_host.hpp"

using namespace hyperion;
using server::Connection;
using server::Exchange;
using server::LoopMessage;
using namespace std::chrono_literals;
using hyperion::testing::FakeHost;
using hyperion::testing::head;

namespace {

class Http1SessionTest : public ::testing::Test {
 protected:
  Http1SessionTest() : conn(7, net::UniqueFd(), nullptr, server::PeerInfo{"10.1.2.3", 9292, false}) {
    conn.session = std::make_unique<http1::Http1Session>(host);
  }

  // What the loop does after each read: append, then let the session look.
  void arrive(std::string_view bytes, std::size_t piece = 1) {
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
      conn.input.append(bytes.substr(at, piece));
      conn.session->onInput(conn);
    }
  }

  // What the Ruby threads posted, handed to the session as the loop does.
  void deliver() { EXPECT_TRUE(hyperion::testing::deliverReplies(host, conn)); }

  // A whole reply in one Finish message (an Array body).
  void finish(const std::shared_ptr<Exchange>& exchange, http::ResponseHead head, std::string body = {}) {
    exchange->finish(true, std::move(body), std::move(head));
    deliver();
  }

  std::string body() const { return host.wire.substr(host.wire.find("\r\n\r\n") + 4); }

  FakeHost host;
  Connection conn;
};

constexpr std::string_view kGet = "GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n";

TEST_F(Http1SessionTest, OneByteAtATimeMakesOneExchange) {
  arrive(kGet);
  ASSERT_EQ(host.dispatched.size(), 1u);
  const auto& request = host.dispatched[0]->request();
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.target, "/a?x=1");
  EXPECT_EQ(host.dispatched[0]->peer().remote_addr, "10.1.2.3");
  EXPECT_TRUE(conn.session->busy());
  EXPECT_TRUE(host.wire.empty());
}

TEST_F(Http1SessionTest, PipelinedRequestsWaitTheirTurn) {
  arrive(std::string(kGet) + "GET /b HTTP/1.1\r\nHost: h\r\n\r\n", 7);
  ASSERT_EQ(host.dispatched.size(), 1u);  // the second waits for the first's answer
  finish(host.dispatched[0], head(200, 0));
  ASSERT_EQ(host.dispatched.size(), 2u);
  EXPECT_EQ(host.dispatched[1]->request().target, "/b");
  EXPECT_FALSE(conn.session->owns(*host.dispatched[0]));
  EXPECT_TRUE(conn.session->owns(*host.dispatched[1]));
  EXPECT_EQ(host.closes, 0);
}

TEST_F(Http1SessionTest, MalformedInputIsAnswered400AndLingers) {
  arrive("GET / HTTP/1.1\r\nBad Header\r\n\r\n");
  EXPECT_TRUE(host.dispatched.empty());
  EXPECT_EQ(host.wire.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << host.wire;
  EXPECT_TRUE(conn.close_after_flush);
  EXPECT_TRUE(conn.linger_on_close);
  EXPECT_GE(host.closes, 1);
}

TEST_F(Http1SessionTest, ExpectContinueIsAnsweredBeforeTheBody) {
  arrive("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(host.wire, "HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_TRUE(host.dispatched.empty());
  arrive("abc");
  ASSERT_EQ(host.dispatched.size(), 1u);
  EXPECT_EQ(host.dispatched[0]->request().body.memory, "abc");
}

TEST_F(Http1SessionTest, AWholeBodyGetsItsLengthDateAndServer) {
  arrive(kGet, 64);
  finish(host.dispatched.at(0), head(200, 5, {{"Content-Type", "text/plain"}}), "hello");
  EXPECT_EQ(host.wire.rfind("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nDate: ", 0), 0u)
      << host.wire;
  EXPECT_NE(host.wire.find("\r\nServer: hyperion\r\n"), std::string::npos) << host.wire;
  EXPECT_EQ(body(), "hello");
  EXPECT_FALSE(conn.session->busy());
  EXPECT_FALSE(conn.close_after_flush);
  EXPECT_EQ(host.closes, 0);
}

TEST_F(Http1SessionTest, AStreamIsChunkedAndEndsWithTheLastChunk) {
  arrive(kGet, 64);
  auto exchange = host.dispatched.at(0);
  exchange->send("data: 1\n\n", head(200));  // the first piece carries the head
  exchange->send(std::string(20000, 'x'));    // large pieces are not copied, only framed
  exchange->finish(true);
  deliver();
  EXPECT_NE(host.wire.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << host.wire;
  EXPECT_EQ(body(), "9\r\ndata: 1\n\n\r\n4e20\r\n" + std::string(20000, 'x') + "\r\n0\r\n\r\n");
  EXPECT_EQ(exchange->unsentBytes(), 0u);  // the framing was counted and written too
  EXPECT_EQ(host.closes, 0);
}

TEST_F(Http1SessionTest, TrailersFollowTheLastChunkOnlyForAClientThatTakesThem) {
  arrive("GET /t HTTP/1.1\r\nHost: h\r\nTE: trailers\r\n\r\n", 64);
  auto exchange = host.dispatched.at(0);
  exchange->send("abc", head(200));
  exchange->finish(true, {}, std::nullopt, http::HeaderList{{"grpc-status", "0"}, {"X-Sum", "9"}});
  deliver();
  EXPECT_EQ(body(), "3\r\nabc\r\n0\r\ngrpc-status: 0\r\nX-Sum: 9\r\n\r\n");
  EXPECT_EQ(exchange->unsentBytes(), 0u);

  host.wire.clear();
  arrive(kGet, 64);  // no TE: trailers
  auto plain = host.dispatched.at(1);
  plain->send("abc", head(200));
  plain->finish(true, {}, std::nullopt, http::HeaderList{{"grpc-status", "0"}});
  deliver();
  EXPECT_EQ(body(), "3\r\nabc\r\n0\r\n\r\n");
}

TEST_F(Http1SessionTest, TheAppsConnectionCloseIsHonoured) {
  arrive(kGet, 64);
  finish(host.dispatched.at(0), head(200, 0, {{"Connection", "close"}}));
  EXPECT_NE(host.wire.find("Connection: close\r\n"), std::string::npos) << host.wire;
  EXPECT_TRUE(conn.close_after_flush);
  EXPECT_GE(host.closes, 1);
}

TEST_F(Http1SessionTest, HeadAnswersTheLengthWithoutABody) {
  arrive("HEAD /f HTTP/1.1\r\nHost: h\r\n\r\n", 64);
  auto exchange = host.dispatched.at(0);
  exchange->send({}, head(200, 1000));
  exchange->sendFile("/srv/f", 1000);  // announced, never sent on HEAD
  exchange->finish(true);
  deliver();
  EXPECT_NE(host.wire.find("Content-Length: 1000\r\n"), std::string::npos) << host.wire;
  EXPECT_EQ(body(), "");
  EXPECT_TRUE(host.files.empty());
  EXPECT_EQ(exchange->unsentBytes(), 0u);
  EXPECT_EQ(host.closes, 0);
}

TEST_F(Http1SessionTest, ALengthTheAppDoesNotMeetClosesAndExcessIsDropped) {
  arrive(kGet, 64);
  auto exchange = host.dispatched.at(0);
  exchange->send("abcdef", head(200, std::nullopt, {{"Content-Length", "2"}}));
  exchange->finish(true);
  deliver();
  EXPECT_EQ(body(), "ab");  // never past the length announced
  EXPECT_EQ(exchange->unsentBytes(), 0u);
  EXPECT_EQ(host.closes, 0);  // exactly met: keep-alive

  arrive(kGet, 64);
  auto second = host.dispatched.at(1);
  host.wire.clear();
  second->send("abc", head(200, std::nullopt, {{"Content-Length", "10"}}));
  second->finish(true);
  deliver();
  EXPECT_TRUE(conn.close_after_flush);  // the client would wait for 7 more bytes
  EXPECT_GE(host.closes, 1);
}

TEST_F(Http1SessionTest, Http10StreamsAreCloseDelimited) {
  arrive("GET / HTTP/1.0\r\n\r\n", 64);
  auto exchange = host.dispatched.at(0);
  exchange->send("abc", head(200));
  exchange->finish(true);
  deliver();
  EXPECT_EQ(host.wire.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << host.wire;
  EXPECT_EQ(host.wire.find("chunked"), std::string::npos) << host.wire;
  EXPECT_EQ(body(), "abc");
  EXPECT_TRUE(conn.close_after_flush);
}

TEST_F(Http1SessionTest, AServerErrorSaysConnectionClose) {
  arrive(kGet, 64);
  auto error = head(500, 22, {{"Content-Type", "text/plain; charset=utf-8"}});
  error.close = true;
  finish(host.dispatched.at(0), std::move(error), "Internal Server Error\n");
  EXPECT_EQ(host.wire.rfind("HTTP/1.1 500 Internal Server Error\r\n", 0), 0u) << host.wire;
  EXPECT_NE(host.wire.find("Connection: close\r\n"), std::string::npos) << host.wire;
  EXPECT_TRUE(conn.close_after_flush);
}

TEST_F(Http1SessionTest, ARawHeadGoesOutAsGiven) {
  arrive(kGet, 64);
  auto upgrade = head(101, std::nullopt, {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}});
  upgrade.raw = true;
  host.dispatched.at(0)->send({}, std::move(upgrade));
  deliver();
  EXPECT_EQ(host.wire.rfind("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", 0), 0u)
      << host.wire;
  EXPECT_EQ(host.wire.find("Content-Length"), std::string::npos) << host.wire;
  EXPECT_EQ(host.wire.find("chunked"), std::string::npos) << host.wire;
}

TEST_F(Http1SessionTest, SendFileGoesToTheLoop) {
  arrive(kGet, 64);
  host.dispatched.at(0)->send({}, head(200, 42));
  host.dispatched.at(0)->sendFile("/srv/a.bin", 42);
  deliver();
  EXPECT_EQ(host.files, std::vector<std::string>{"/srv/a.bin:42"});
}

TEST_F(Http1SessionTest, PausedReadingResumesWhenTheRequestEnds) {
  arrive(kGet, 64);
  conn.read_paused = true;  // the loop stopped reading while the app ran
  finish(host.dispatched.at(0), head(204));
  EXPECT_EQ(host.resumes, 1);
  EXPECT_FALSE(conn.read_paused);
}

TEST_F(Http1SessionTest, SlowHeadersGet408AtTheDeadline) {
  arrive("GET / HTTP/1.1\r\nHost:");
  conn.session->onTimeout(conn);
  EXPECT_TRUE(host.wire.empty());  // not yet
  host.now_ += 1001ms;
  conn.session->onTimeout(conn);
  EXPECT_EQ(host.wire.rfind("HTTP/1.1 408 Request Timeout\r\n", 0), 0u) << host.wire;
}

TEST_F(Http1SessionTest, DrainClosesIdleNowAndBusyAfterTheResponse) {
  conn.session->onDrain(conn);
  EXPECT_EQ(host.closes, 1);

  FakeHost busy_host;
  Connection busy(8, net::UniqueFd(), nullptr, server::PeerInfo{"10.1.2.3", 9292, false});
  busy.session = std::make_unique<http1::Http1Session>(busy_host);
  busy.input = std::string(kGet);
  busy.session->onInput(busy);
  ASSERT_EQ(busy_host.dispatched.size(), 1u);
  busy_host.mailbox()->setDraining();
  busy.session->onDrain(busy);
  EXPECT_EQ(busy_host.closes, 0);  // the app is still answering
  LoopMessage done{LoopMessage::Kind::Finish, busy_host.dispatched[0], {}, true};
  done.head = head(200, 0);
  busy.session->onMessage(busy, done);
  EXPECT_GE(busy_host.closes, 1);
}

TEST_F(Http1SessionTest, ClientGoneReleasesTheRubyThread) {
  arrive(kGet, 64);
  conn.session->onClientGone();
  EXPECT_TRUE(host.dispatched.at(0)->clientGone());
}

TEST_F(Http1SessionTest, HijackHandsTheSocketOver) {
  arrive(kGet, 64);
  LoopMessage hijack{LoopMessage::Kind::Hijack, host.dispatched.at(0), {}, false};
  conn.session->onMessage(conn, hijack);
  EXPECT_EQ(host.handed_over, host.dispatched[0]);
}

TEST_F(Http1SessionTest, PrebuiltRouteIsAnsweredWithoutRuby) {
  host.route_table_.addStatic("GET", "/health", 200, {{"content-type", "text/plain"}}, "ok");
  arrive("GET /health HTTP/1.1\r\nHost: h\r\n\r\n", 5);
  EXPECT_TRUE(host.dispatched.empty());
  EXPECT_EQ(host.wire.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << host.wire;
  EXPECT_NE(host.wire.find("\r\n\r\nok"), std::string::npos) << host.wire;
  EXPECT_FALSE(conn.session->busy());
}

}  // namespace
