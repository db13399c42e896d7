#include "hyperion/server/body_stream.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace hyperion::server {
namespace {

using Status = BodyStream::Status;

TEST(BodyStream, TakesWhatArrivedInPiecesUpToMax) {
  BodyStream stream;
  stream.push("hello world");
  std::string out;
  std::size_t fresh = 0;
  EXPECT_EQ(stream.take(out, 5, fresh), Status::Data);
  EXPECT_EQ(out, "hello");
  EXPECT_EQ(fresh, 5u);
  EXPECT_EQ(stream.take(out, 100, fresh), Status::Data);
  EXPECT_EQ(out, "hello world");
  stream.end();
  EXPECT_EQ(stream.take(out, 100, fresh), Status::End);
  EXPECT_EQ(fresh, 0u);
}

TEST(BodyStream, BytesPutBackComeAgainButAreNotCountedTwice) {
  BodyStream stream;
  stream.push("line one\nline two\n");
  std::string out;
  std::size_t fresh = 0;
  ASSERT_EQ(stream.take(out, 64, fresh), Status::Data);
  EXPECT_EQ(fresh, 18u);
  stream.unread(std::string_view(out).substr(9));  // a line reader keeps "line one\n"
  stream.push("three");
  std::string again;
  ASSERT_EQ(stream.take(again, 64, fresh), Status::Data);
  EXPECT_EQ(again, "line two\nthree");
  EXPECT_EQ(fresh, 5u) << "only the new bytes open the window again";
}

TEST(BodyStream, ZeroMaxSaysWhetherBytesWaitWithoutTakingThem) {
  BodyStream stream;
  stream.push("x");
  std::string out;
  std::size_t fresh = 0;
  EXPECT_EQ(stream.take(out, 0, fresh), Status::Data);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(stream.take(out, 1, fresh), Status::Data);
  stream.end();
  EXPECT_EQ(stream.take(out, 0, fresh), Status::End);
}

TEST(BodyStream, AWaitingReaderWakesForBytesFailureAndInterrupts) {
  BodyStream stream;
  std::string out;
  std::size_t fresh = 0;
  std::thread pusher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stream.push("late");
  });
  EXPECT_EQ(stream.take(out, 10, fresh), Status::Data);
  EXPECT_EQ(out, "late");
  pusher.join();

  std::thread interrupter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stream.interrupt();
  });
  EXPECT_EQ(stream.take(out, 10, fresh), Status::Interrupted);
  interrupter.join();

  std::thread failer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stream.fail();
  });
  EXPECT_EQ(stream.take(out, 10, fresh), Status::Failed);
  failer.join();
  stream.push("ignored after a failure");
  EXPECT_EQ(stream.take(out, 10, fresh), Status::Failed);
}

}  // namespace
}  // namespace hyperion::server
