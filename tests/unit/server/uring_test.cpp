// The io_uring wrapper on its own: multishot recv through provided buffers,
// buffer recycling, cancel, multishot accept. Skipped where the kernel does
// not allow io_uring (the server falls back to epoll there).
#include "hyperion/server/uring.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "hyperion/net/unique_fd.hpp"

using hyperion::net::UniqueFd;
using hyperion::server::Uring;

namespace {

std::unique_ptr<Uring> makeRing() {
  auto created = Uring::create();
  if (!created) return nullptr;
  return std::move(created.value());
}

#define REQUIRE_URING(ring)                                               \
  auto ring = makeRing();                                                 \
  if (!ring) GTEST_SKIP() << "io_uring unavailable: " << Uring::create().error()

struct Seen {
  std::string data;
  std::vector<int> results;
  bool ended = false;  // a completion without IORING_CQE_F_MORE
};

// Waits for completions until `done` or 50 rounds of 20 ms.
template <typename Done>
void pump(Uring& ring, Seen& seen, std::uint64_t user_data, Done done) {
  for (int i = 0; i < 50 && !done(); ++i) {
    int error = 0;
    ASSERT_TRUE(ring.submitAndWait(std::chrono::milliseconds(20), &error)) << error;
    ring.drain([&](const Uring::Completion& c) {
      if (c.user_data != user_data) return;
      seen.results.push_back(c.result);
      seen.data.append(c.data);
      if (!c.more) seen.ended = true;
    });
  }
}

}  // namespace

TEST(Uring, UserDataCarriesOpAndId) {
  const std::uint64_t tag = Uring::tag(Uring::Op::Recv, 123456789);
  EXPECT_EQ(Uring::opOf(tag), Uring::Op::Recv);
  EXPECT_EQ(Uring::idOf(tag), 123456789u);
}

TEST(Uring, MultishotRecvDeliversEveryByteAcrossManyBuffers) {
  REQUIRE_URING(ring);
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
  UniqueFd ours(pair[0]);
  UniqueFd theirs(pair[1]);
  const std::uint64_t tag = Uring::tag(Uring::Op::Recv, 7);
  ring->multishotRecv(ours.get(), tag);

  // More messages than there are provided buffers: each must go back to the
  // kernel after its completion, or the recv would stop with ENOBUFS.
  std::string expected;
  Seen seen;
  for (unsigned i = 0; i < Uring::kBufferCount * 2; ++i) {
    std::string message = "message " + std::to_string(i) + ";";
    expected += message;
    ASSERT_EQ(::write(theirs.get(), message.data(), message.size()), static_cast<ssize_t>(message.size()));
    pump(*ring, seen, tag, [&] { return seen.data.size() >= expected.size(); });
  }
  EXPECT_EQ(seen.data, expected);
  EXPECT_FALSE(seen.ended);

  // EOF ends the multishot recv with a 0 result.
  theirs = UniqueFd();
  pump(*ring, seen, tag, [&] { return seen.ended; });
  ASSERT_TRUE(seen.ended);
  EXPECT_EQ(seen.results.back(), 0);
}

TEST(Uring, CancelEndsAnArmedRecv) {
  REQUIRE_URING(ring);
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
  UniqueFd ours(pair[0]);
  UniqueFd theirs(pair[1]);
  const std::uint64_t tag = Uring::tag(Uring::Op::Recv, 8);
  ring->multishotRecv(ours.get(), tag);
  Seen seen;
  int error = 0;
  ASSERT_TRUE(ring->submitAndWait(std::chrono::milliseconds(5), &error));  // the recv is armed now
  ring->cancel(tag);
  pump(*ring, seen, tag, [&] { return seen.ended; });
  ASSERT_TRUE(seen.ended);
  EXPECT_EQ(seen.results.back(), -ECANCELED);
  // The socket is ours again: nothing the peer writes now is taken by the ring.
  ASSERT_EQ(::write(theirs.get(), "x", 1), 1);
  char byte = 0;
  EXPECT_EQ(::read(ours.get(), &byte, 1), 1);
  EXPECT_EQ(byte, 'x');
}

TEST(Uring, MultishotAcceptHandsOverEachConnection) {
  REQUIRE_URING(ring);
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener.get(), 16), 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  const std::uint64_t tag = Uring::tag(Uring::Op::Accept, 0);
  ring->multishotAccept(listener.get(), tag);

  std::vector<UniqueFd> clients;
  Seen seen;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back(::socket(AF_INET, SOCK_STREAM, 0));
    ASSERT_EQ(::connect(clients.back().get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  pump(*ring, seen, tag, [&] { return seen.results.size() >= 3; });
  ASSERT_EQ(seen.results.size(), 3u);
  for (int fd : seen.results) {
    EXPECT_GE(fd, 0);
    if (fd >= 0) ::close(fd);
  }
  EXPECT_FALSE(seen.ended);  // still armed for the next connection
}
