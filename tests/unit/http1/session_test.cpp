// Http1Session against a fake loop: input arrives the way a transport that
// returns one byte (or one record) at a time delivers it, and every reply
// the session makes is checked on the wire bytes it queued.
#include "hyperion/http1/session.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "hyperion/config/settings.hpp"
#include "hyperion/server/connection.hpp"
#include "hyperion/server/loop_mailbox.hpp"
#include "hyperion/static/route_table.hpp"
#include "hyperion/static/static_directory.hpp"

using namespace hyperion;
using server::Connection;
using server::Exchange;
using server::LoopMessage;
using namespace std::chrono_literals;

namespace {

// The loop's side, minus sockets: output "leaves" on flush() into `wire`.
class FakeHost final : public server::SessionHost {
 public:
  FakeHost() : routes_lookup_(route_table_) { settings_.limits.header_timeout = 1000ms; }

  server::Clock::time_point now() const override { return now_; }
  bool draining() const override { return mailbox_->draining(); }
  const config::Settings& settings() const override { return settings_; }
  const std::shared_ptr<server::LoopMailbox>& mailbox() const override { return mailbox_; }
  void dispatch(std::shared_ptr<Exchange> exchange) override { dispatched.push_back(std::move(exchange)); }
  void queueOutput(Connection& conn, std::string bytes, std::shared_ptr<Exchange> owner) override {
    server::OutputChunk chunk;
    chunk.storage = std::move(bytes);
    chunk.owner = std::move(owner);
    queueChunk(conn, std::move(chunk));
  }
  void queueChunk(Connection& conn, server::OutputChunk chunk) override { conn.output.push_back(std::move(chunk)); }
  void flush(Connection& conn) override {
    for (auto& chunk : conn.output) {
      wire.append(chunk.bytes());
      if (chunk.owner) chunk.owner->onBytesWritten(chunk.bytes().size());
    }
    conn.output.clear();
    conn.session->onWritable(conn);
  }
  void flushSoon(Connection& conn) override { flush(conn); }
  void queueFile(Connection&, const std::string& path, std::uint64_t size, std::shared_ptr<Exchange>) override {
    files.push_back(path + ":" + std::to_string(size));
  }
  void closeWhenDone(Connection&) override { ++closes; }
  void closeNow(Connection&) override { ++closes; }
  void resumeReading(Connection& conn) override {
    conn.read_paused = false;
    ++resumes;
  }
  void handOver(Connection&, const std::shared_ptr<Exchange>& exchange) override { handed_over = exchange; }
  static_files::RouteLookup& routes() override { return routes_lookup_; }
  const std::vector<static_files::StaticDirectory>& staticDirectories() const override { return dirs_; }

  static_files::RouteTable route_table_;
  server::Clock::time_point now_ = server::Clock::now();
  std::vector<std::shared_ptr<Exchange>> dispatched;
  std::vector<std::string> files;
  std::shared_ptr<Exchange> handed_over;
  std::string wire;
  int closes = 0;
  int resumes = 0;

 private:
  config::Settings settings_;
  std::shared_ptr<server::LoopMailbox> mailbox_ = std::make_shared<server::LoopMailbox>();
  static_files::RouteLookup routes_lookup_;
  std::vector<static_files::StaticDirectory> dirs_;
};

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

  // A Ruby thread's finished reply, as the mailbox would deliver it.
  void finish(const std::shared_ptr<Exchange>& exchange, std::string bytes, bool keep_alive = true) {
    LoopMessage message{LoopMessage::Kind::Finish, exchange, std::move(bytes), keep_alive};
    ASSERT_TRUE(conn.session->owns(*exchange));
    conn.session->onMessage(conn, message);
  }

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
  finish(host.dispatched[0], "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
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

TEST_F(Http1SessionTest, RepliesReachTheWireAndCloseWhenAsked) {
  arrive(kGet, 64);
  auto exchange = host.dispatched.at(0);
  LoopMessage send{LoopMessage::Kind::Send, exchange, "HTTP/1.1 200 OK\r\n", true};
  conn.session->onMessage(conn, send);
  finish(exchange, "content-length: 0\r\n\r\n", false);
  EXPECT_EQ(host.wire, "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
  EXPECT_FALSE(conn.session->busy());
  EXPECT_TRUE(conn.close_after_flush);
  EXPECT_GE(host.closes, 1);
}

TEST_F(Http1SessionTest, SendFileGoesToTheLoop) {
  arrive(kGet, 64);
  LoopMessage file{LoopMessage::Kind::SendFile, host.dispatched.at(0), {}, true};
  file.path = "/srv/a.bin";
  file.size = 42;
  conn.session->onMessage(conn, file);
  EXPECT_EQ(host.files, std::vector<std::string>{"/srv/a.bin:42"});
}

TEST_F(Http1SessionTest, PausedReadingResumesWhenTheRequestEnds) {
  arrive(kGet, 64);
  conn.read_paused = true;  // the loop stopped reading while the app ran
  finish(host.dispatched.at(0), "HTTP/1.1 204 No Content\r\n\r\n");
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
  LoopMessage done{LoopMessage::Kind::Finish, busy_host.dispatched[0], "HTTP/1.1 200 OK\r\n\r\n", true};
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
