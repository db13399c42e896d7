#include "hyperion/net/token_bucket.hpp"

#include <gtest/gtest.h>

using hyperion::net::TokenBucket;
using namespace std::chrono_literals;

TEST(TokenBucket, ZeroRateIsUnlimited) {
  TokenBucket bucket;
  const auto t = TokenBucket::Clock::now();
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(bucket.take(t));
}

TEST(TokenBucket, BurstOfOneSecondThenTheRate) {
  TokenBucket bucket(100);
  const auto t = TokenBucket::Clock::now();
  int admitted = 0;
  for (int i = 0; i < 200; ++i) admitted += bucket.take(t);
  EXPECT_EQ(admitted, 100);
  admitted = 0;
  for (int i = 0; i < 200; ++i) admitted += bucket.take(t + 250ms);
  EXPECT_EQ(admitted, 25);
}

TEST(TokenBucket, SavesAtMostOneSecond) {
  TokenBucket bucket(10);
  auto t = TokenBucket::Clock::now();
  EXPECT_TRUE(bucket.take(t));
  t += 1h;
  int admitted = 0;
  for (int i = 0; i < 100; ++i) admitted += bucket.take(t);
  EXPECT_EQ(admitted, 10);
}
