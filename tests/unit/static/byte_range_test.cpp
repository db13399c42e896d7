#include "hyperion/static/byte_range.hpp"

#include <gtest/gtest.h>

using namespace hyperion::static_files;

namespace {

void expectPartial(std::string_view header, std::uint64_t size, std::uint64_t first, std::uint64_t last) {
  const RangeDecision d = decideRange(header, size);
  ASSERT_EQ(d.kind, RangeKind::Partial) << header;
  EXPECT_EQ(d.range.first, first) << header;
  EXPECT_EQ(d.range.last, last) << header;
}

void expectKind(std::string_view header, std::uint64_t size, RangeKind kind) {
  EXPECT_EQ(decideRange(header, size).kind, kind) << "'" << header << "' size " << size;
}

}  // namespace

TEST(ByteRange, FirstAndLast) {
  expectPartial("bytes=0-99", 1000, 0, 99);
  expectPartial("bytes=10-10", 1000, 10, 10);
  expectPartial("bytes=999-999", 1000, 999, 999);
  EXPECT_EQ(decideRange("bytes=0-99", 1000).range.length(), 100u);
}

TEST(ByteRange, OpenEnded) {
  expectPartial("bytes=100-", 1000, 100, 999);
  expectPartial("bytes=0-", 1000, 0, 999);
  expectPartial("bytes=999-", 1000, 999, 999);
}

TEST(ByteRange, Suffix) {
  expectPartial("bytes=-500", 1000, 500, 999);
  expectPartial("bytes=-1", 1000, 999, 999);
  // A suffix longer than the file is the whole file, still as a 206.
  expectPartial("bytes=-5000", 1000, 0, 999);
}

TEST(ByteRange, LastIsClampedToTheEnd) {
  expectPartial("bytes=0-5000", 1000, 0, 999);
  expectPartial("bytes=500-18446744073709551615", 1000, 500, 999);
  expectPartial("bytes=500-99999999999999999999999", 1000, 500, 999);
}

TEST(ByteRange, FirstAtOrPastTheEndIsUnsatisfiable) {
  expectKind("bytes=1000-", 1000, RangeKind::Unsatisfiable);
  expectKind("bytes=1000-2000", 1000, RangeKind::Unsatisfiable);
  expectKind("bytes=99999999999999999999999-", 1000, RangeKind::Unsatisfiable);
  expectKind("bytes=-0", 1000, RangeKind::Unsatisfiable);
}

TEST(ByteRange, EmptyFileWithARangeIsUnsatisfiable) {
  expectKind("bytes=0-", 0, RangeKind::Unsatisfiable);
  expectKind("bytes=0-10", 0, RangeKind::Unsatisfiable);
  expectKind("bytes=-10", 0, RangeKind::Unsatisfiable);
}

TEST(ByteRange, NoHeaderIsWhole) {
  expectKind("", 1000, RangeKind::Whole);
  expectKind("   ", 1000, RangeKind::Whole);
  expectKind("", 0, RangeKind::Whole);
}

TEST(ByteRange, UnitIsCaseInsensitive) {
  expectPartial("Bytes=0-9", 100, 0, 9);
  expectPartial("BYTES=0-9", 100, 0, 9);
}

TEST(ByteRange, OtherUnitsAreIgnored) {
  expectKind("items=0-9", 100, RangeKind::Whole);
  expectKind("byte=0-9", 100, RangeKind::Whole);
  expectKind("bytesx=0-9", 100, RangeKind::Whole);
}

TEST(ByteRange, MalformedIsIgnored) {
  for (std::string_view header :
       {"bytes", "bytes=", "bytes=-", "bytes=abc", "bytes=1", "bytes=a-5", "bytes=5-a", "bytes=+5-10", "bytes=5--10",
        "bytes=1-2-3", "bytes=0x10-20", "bytes=1 0-20", "0-99", "=0-99", "bytes=-5-"}) {
    expectKind(header, 1000, RangeKind::Whole);
  }
}

TEST(ByteRange, LastBeforeFirstIsInvalidNotUnsatisfiable) {
  expectKind("bytes=10-5", 1000, RangeKind::Whole);
  expectKind("bytes=2000-1500", 1000, RangeKind::Whole);
}

TEST(ByteRange, SeveralRangesAreServedWhole) {
  expectKind("bytes=0-1,5-6", 1000, RangeKind::Whole);
  expectKind("bytes=0-1, -5", 1000, RangeKind::Whole);
}

TEST(ByteRange, EmptyListElementsAndWhitespaceAreTolerated) {
  expectPartial("bytes=0-9,", 100, 0, 9);
  expectPartial("bytes=, 0-9", 100, 0, 9);
  expectPartial("bytes= 0-9 ", 100, 0, 9);
  expectPartial(" bytes=0-9", 100, 0, 9);
  expectKind("bytes=,", 100, RangeKind::Whole);
}

TEST(ByteRange, HugeFile) {
  const std::uint64_t size = 1ull << 40;
  expectPartial("bytes=-1", size, size - 1, size - 1);
  expectPartial("bytes=1099511627775-", size, size - 1, size - 1);
  expectKind("bytes=1099511627776-", size, RangeKind::Unsatisfiable);
}
