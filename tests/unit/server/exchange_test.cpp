#include "hyperion/server/exchange.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "hyperion/server/loop_mailbox.hpp"
#include "test_support.hpp"

using namespace hyperion::server;
using hyperion::server::testing::makeExchange;
using hyperion::server::testing::waitFor;
using hyperion::server::testing::ScopeExit;
using namespace std::chrono_literals;
using Kind = LoopMessage::Kind;

namespace {

constexpr std::size_t KiB = 1024;
constexpr auto kSettle = 50ms;

std::vector<LoopMessage> drain(LoopMailbox& mailbox) {
  std::vector<LoopMessage> out;
  mailbox.drainInto(out);
  return out;
}

// Runs waitWritable() on its own thread.
struct Waiting {
  std::shared_ptr<Exchange> exchange;
  std::atomic<bool> done{false};
  std::atomic<bool> result{false};
  std::thread thread;

  explicit Waiting(std::shared_ptr<Exchange> ex) : exchange(std::move(ex)) {
    thread = std::thread([this] {
      result.store(exchange->waitWritable());
      done.store(true);
    });
  }
  ~Waiting() {
    if (!done.load()) exchange->interruptWaits();  // never hang the suite
    thread.join();
  }
};

}  // namespace

TEST(Exchange, KeepsRequestAndPeer) {
  auto mailbox = std::make_shared<LoopMailbox>();
  hyperion::http1::Request request;
  request.method = "GET";
  request.target = "/x";
  auto ex = std::make_shared<Exchange>(77, std::move(request), PeerInfo{"10.0.0.1", 8080, false}, mailbox);
  EXPECT_EQ(ex->connectionId(), 77u);
  EXPECT_EQ(ex->request().target, "/x");
  EXPECT_EQ(ex->peer().remote_addr, "10.0.0.1");
  EXPECT_EQ(ex->peer().local_port, 8080);
  EXPECT_LE(ex->startedAt(), std::chrono::steady_clock::now());
}

TEST(Exchange, SendPostsBytesAndAccumulatesUnsent) {
  auto mailbox = std::make_shared<LoopMailbox>();
  auto ex = makeExchange(mailbox);
  ex->send(std::string(256 * KiB, 'a'));
  EXPECT_FALSE(ex->backlogged());
  ex->send(std::string(256 * KiB, 'b'));
  EXPECT_FALSE(ex->backlogged());  // exactly 512 KiB is not above the mark
  ex->send("c");
  EXPECT_TRUE(ex->backlogged());
  ex->onBytesWritten(1);
  EXPECT_FALSE(ex->backlogged());

  auto messages = drain(*mailbox);
  ASSERT_EQ(messages.size(), 3u);
  for (const auto& m : messages) {
    EXPECT_EQ(m.kind, Kind::Send);
    EXPECT_EQ(m.exchange, ex);
  }
  EXPECT_EQ(messages[0].bytes, std::string(256 * KiB, 'a'));
  EXPECT_EQ(messages[1].bytes.size(), 256 * KiB);
  EXPECT_EQ(messages[2].bytes, "c");
}

TEST(Exchange, EmptySendPostsNothing) {
  auto mailbox = std::make_shared<LoopMailbox>();
  auto ex = makeExchange(mailbox);
  ex->send("");
  EXPECT_TRUE(drain(*mailbox).empty());
}

TEST(Exchange, WaitWritableReturnsAtOnceWhenNotBacklogged) {
  auto mailbox = std::make_shared<LoopMailbox>();
  auto ex = makeExchange(mailbox);
  ex->send(std::string(100 * KiB, 'a'));
  EXPECT_TRUE(ex->waitWritable());
}

TEST(Exchange, BytesWrittenReleasesBlockedWaitBelowLowWater) {
  auto mailbox = std::make_shared<LoopMailbox>();
  auto ex = makeExchange(mailbox);
  ex->send(std::string(600 * KiB, 'a'));
  ASSERT_TRUE(ex->backlogged());
  Waiting w(ex);
  std::this_thread::sleep_for(kSettle);
  EXPECT_FALSE(w.done.load());

  ex->onBytesWritten(400 * KiB);  // 200 KiB left: below high water, above low water
  EXPECT_FALSE(ex->backlogged());
  std::this_thread::sleep_for(kSettle);
  EXPECT_FALSE(w.done.load()) << "woke above the low-water mark";

  ex->onBytesWritten(100 * KiB);  // 100 KiB left: below low water
  ASSERT_TRUE(waitFor([&] { return w.done.load(); }));
  EXPECT_TRUE(w.result.load());
}

TEST(Exchange, ClientGoneReleasesWaitWithFalse) {
  auto mailbox = std::make_shared<LoopMailbox>();
  auto ex = makeExchange(mailbox);
  ex->send(std::string(600 * KiB, 'a'));
  Waiting w(ex);
  std::this_thread::sleep_for(kSettle);
  EXPECT_FALSE(w.done.load());
  ex->onClientGone();
  ASSERT_TRUE(waitFor([&] { return w.done.load(); }));
  EXPECT_FALSE(w.result.load());
  EXPECT_TRUE(ex->clientGone());
}

TEST(Exchange, AfterClientGoneSendIsDroppedAndWaitFails) {
  auto mailbox = std::make_shared<LoopMailbox>();
  auto ex = makeExchange(mailbox);
  ex->onClientGone();
  ex->send("dropped");
  EXPECT_TRUE(drain(*mailbox).empty());
  EXPECT_FALSE(ex->waitWritable());
}

TEST(Exchange, InterruptWaitsReleasesBlockedWait) {
  auto mailbox = std::make_shared<LoopMailbox>();
  auto ex = makeExchange(mailbox);
  ex->send(std::string(600 * KiB, 'a'));
  Waiting w(ex);
  std::this_thread::sleep_for(kSettle);
  EXPECT_FALSE(w.done.load());
  ex->interruptWaits();
  ASSERT_TRUE(waitFor([&] { return w.done.load(); }));
  EXPECT_TRUE(w.result.load());  // the client is still there
}

TEST(Exchange, FinishPostsFinishAfterSends) {
  auto mailbox = std::make_shared<LoopMailbox>();
  auto ex = makeExchange(mailbox);
  hyperion::http::ResponseHead head;
  head.status = 404;
  ex->send({}, std::move(head));  // a head alone is a message too
  ex->send("body");
  ex->finish(false);

  auto messages = drain(*mailbox);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0].kind, Kind::Send);
  ASSERT_TRUE(messages[0].head.has_value());
  EXPECT_EQ(messages[0].head->status, 404);
  EXPECT_TRUE(messages[0].bytes.empty());
  EXPECT_EQ(messages[1].kind, Kind::Send);
  EXPECT_FALSE(messages[1].head.has_value());
  EXPECT_EQ(messages[1].bytes, "body");
  EXPECT_EQ(messages[2].kind, Kind::Finish);
  EXPECT_EQ(messages[2].exchange, ex);
  EXPECT_FALSE(messages[2].complete);
  EXPECT_TRUE(drain(*mailbox).empty());
}

TEST(Exchange, FinishCarriesAWholeSmallResponse) {
  auto mailbox = std::make_shared<LoopMailbox>();
  auto ex = makeExchange(mailbox);
  hyperion::http::ResponseHead head;
  head.body_length = 5;
  ex->finish(true, "hello", std::move(head));
  EXPECT_TRUE(ex->backlogged() == false);
  auto messages = drain(*mailbox);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].kind, Kind::Finish);
  EXPECT_TRUE(messages[0].complete);
  EXPECT_EQ(messages[0].bytes, "hello");
  ASSERT_TRUE(messages[0].head.has_value());
  EXPECT_EQ(messages[0].head->body_length, 5u);
}

TEST(Exchange, HijackWaitsForTheLoop) {
  auto mailbox = std::make_shared<LoopMailbox>();
  auto ex = makeExchange(mailbox);
  std::atomic<bool> done{false};
  int fd = -2;
  std::string leftover;
  std::thread ruby([&] {
    fd = ex->hijack(leftover);
    done.store(true);
  });
  ScopeExit release([&] {
    ex->interruptWaits();
    ruby.join();
  });
  std::vector<LoopMessage> messages;
  ASSERT_TRUE(waitFor([&] {
    std::vector<LoopMessage> batch;
    mailbox->drainInto(batch);
    for (auto& m : batch) messages.push_back(std::move(m));
    return !messages.empty();
  }));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].kind, Kind::Hijack);
  EXPECT_EQ(messages[0].exchange, ex);
  EXPECT_FALSE(done.load());
  ex->completeHijack(42, "pipelined");
  ASSERT_TRUE(waitFor([&] { return done.load(); }));
  EXPECT_EQ(fd, 42);
  EXPECT_EQ(leftover, "pipelined");
}

TEST(Exchange, HijackInterruptedReturnsMinusOne) {
  auto mailbox = std::make_shared<LoopMailbox>();
  auto ex = makeExchange(mailbox);
  std::atomic<bool> done{false};
  int fd = -2;
  std::thread ruby([&] {
    std::string leftover;
    fd = ex->hijack(leftover);
    done.store(true);
  });
  std::this_thread::sleep_for(kSettle);
  EXPECT_FALSE(done.load());
  ex->interruptWaits();
  ruby.join();
  EXPECT_EQ(fd, -1);
}

// The loop owns its mailbox alone: a message left queued when the loop goes
// away is freed with it (no Exchange <-> mailbox cycle for LeakSanitizer to
// find), and a Ruby thread still answering then sees the client gone
// instead of posting into freed memory or blocking for ever.
TEST(Exchange, OutlivesItsLoop) {
  auto mailbox = std::make_shared<LoopMailbox>();
  auto ex = makeExchange(mailbox);
  ex->send("queued, never read");
  std::weak_ptr<Exchange> watch = ex;
  EXPECT_FALSE(ex->serverDraining());
  mailbox.reset();  // the loop is gone, with the message it never read
  EXPECT_TRUE(ex->serverDraining());
  EXPECT_FALSE(ex->clientGone());
  ex->send("after the loop");
  EXPECT_TRUE(ex->clientGone());
  EXPECT_FALSE(ex->waitWritable());
  std::string leftover;
  EXPECT_EQ(ex->hijack(leftover), -1);
  ex->finish(true, "last");
  ex.reset();
  EXPECT_TRUE(watch.expired());  // nothing else held it
}

TEST(Exchange, SeesTheServerDraining) {
  auto mailbox = std::make_shared<LoopMailbox>();
  auto ex = makeExchange(mailbox);
  EXPECT_FALSE(ex->serverDraining());
  mailbox->setDraining();
  EXPECT_TRUE(ex->serverDraining());
}
