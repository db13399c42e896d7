#include "hyperion/server/loop_mailbox.hpp"

#include <poll.h>

#include <gtest/gtest.h>

#include <vector>

using namespace hyperion::server;

namespace {

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

}  // namespace

TEST(LoopMailbox, PostSignalsEventFdAndDrainClearsIt) {
  LoopMailbox mailbox;
  ASSERT_GE(mailbox.eventFd(), 0);
  EXPECT_FALSE(readable(mailbox.eventFd()));
  mailbox.post(LoopMessage{LoopMessage::Kind::Wake, nullptr, {}, true});
  mailbox.post(LoopMessage{LoopMessage::Kind::Shutdown, nullptr, {}, true});
  EXPECT_TRUE(readable(mailbox.eventFd()));
  std::vector<LoopMessage> out;
  mailbox.drainInto(out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].kind, LoopMessage::Kind::Wake);
  EXPECT_EQ(out[1].kind, LoopMessage::Kind::Shutdown);
  EXPECT_FALSE(readable(mailbox.eventFd()));
}

TEST(LoopMailbox, PostAfterDrainSignalsAgain) {
  LoopMailbox mailbox;
  std::vector<LoopMessage> out;
  mailbox.post(LoopMessage{});
  mailbox.drainInto(out);
  out.clear();
  EXPECT_FALSE(readable(mailbox.eventFd()));
  mailbox.post(LoopMessage{LoopMessage::Kind::Send, nullptr, "x", true});
  EXPECT_TRUE(readable(mailbox.eventFd()));
  mailbox.drainInto(out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].bytes, "x");
}

TEST(LoopMailbox, DrainWithNothingPostedIsEmpty) {
  LoopMailbox mailbox;
  std::vector<LoopMessage> out;
  mailbox.drainInto(out);
  EXPECT_TRUE(out.empty());
}
