// The shared session-ticket key ring: rotation by time and on demand, the
// previous key's grace interval, and one ring seen by forked processes.
#include "hyperion/net/ticket_keys.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

using namespace hyperion::net;
using namespace std::chrono_literals;

namespace {

// Made at `at`, the test's own clock reading, so a 100 s interval is exactly
// 100 s of the test's arithmetic even when a second boundary falls between.
std::unique_ptr<TicketKeys> ring(TicketKeys::Seconds at = TicketKeys::now(), std::chrono::seconds rotation = 100s) {
  auto made = TicketKeys::create(rotation, at);
  EXPECT_TRUE(made.ok()) << (made.ok() ? "" : made.error());
  return std::move(made.value());
}

bool sameKey(const TicketKeys::Key& a, const TicketKeys::Key& b) {
  return a.name == b.name && a.aes == b.aes && a.hmac == b.hmac;
}

}  // namespace

TEST(TicketKeys, CurrentKeyIsStableWithinTheInterval) {
  const auto start = TicketKeys::now();
  auto keys = ring(start);
  const auto first = keys->current(start);
  EXPECT_TRUE(sameKey(first, keys->current(start + 99)));
  EXPECT_EQ(keys->rotations(), 1u);
}

TEST(TicketKeys, RotatesOnceTheIntervalHasPassedAndKeysAreRandom) {
  const auto start = TicketKeys::now();
  auto keys = ring(start);
  const auto first = keys->current(start);
  const auto second = keys->current(start + 100);
  EXPECT_FALSE(sameKey(first, second));
  EXPECT_NE(first.name, second.name);
  EXPECT_NE(first.aes, second.aes);
  EXPECT_EQ(keys->rotations(), 2u);
  EXPECT_TRUE(sameKey(second, keys->current(start + 150)));  // the interval restarts at the rotation
}

TEST(TicketKeys, FindsTheCurrentKeyWithoutRenewal) {
  const auto now = TicketKeys::now();
  auto keys = ring(now);
  const auto key = keys->current(now);
  bool renew = true;
  auto found = keys->find(key.name.data(), now, renew);
  ASSERT_TRUE(found.has_value());
  EXPECT_TRUE(sameKey(*found, key));
  EXPECT_FALSE(renew);
}

TEST(TicketKeys, ThePreviousKeyDecryptsForOneIntervalAndAsksForRenewal) {
  const auto start = TicketKeys::now();
  auto keys = ring(start);
  const auto old_key = keys->current(start);
  ASSERT_TRUE(keys->rotate(start + 10));
  bool renew = false;
  auto found = keys->find(old_key.name.data(), start + 109, renew);
  ASSERT_TRUE(found.has_value());
  EXPECT_TRUE(sameKey(*found, old_key));
  EXPECT_TRUE(renew);
  EXPECT_FALSE(keys->find(old_key.name.data(), start + 110, renew).has_value()) << "accepted past its interval";
}

TEST(TicketKeys, TwoRotationsRetireAKey) {
  const auto now = TicketKeys::now();
  auto keys = ring(now);
  const auto old_key = keys->current(now);
  ASSERT_TRUE(keys->rotate(now));
  ASSERT_TRUE(keys->rotate(now));
  bool renew = false;
  EXPECT_FALSE(keys->find(old_key.name.data(), now, renew).has_value());
}

TEST(TicketKeys, AnUnknownNameIsNotFound) {
  auto keys = ring();
  const unsigned char name[16] = {1, 2, 3};
  bool renew = false;
  EXPECT_FALSE(keys->find(name, TicketKeys::now(), renew).has_value());
}

TEST(TicketKeys, AForkedProcessSharesTheRingBothWays) {
  const auto now = TicketKeys::now();
  auto keys = ring(now);
  const auto before = keys->current(now);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child sees the parent's key, then rotates for everyone.
    const bool same = sameKey(keys->current(now), before);
    const bool rotated = keys->rotate(now);
    ::_exit(same && rotated ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(keys->rotations(), 2u);
  const auto after = keys->current(now);
  EXPECT_FALSE(sameKey(after, before)) << "the child's rotation is not visible here";
  bool renew = false;
  EXPECT_TRUE(keys->find(before.name.data(), now, renew).has_value());
  EXPECT_TRUE(renew);
}
