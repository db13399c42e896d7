// HTTP-date: the one formatter and parser every protocol and the static files use.
#include "hyperion/http/http_date.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <string>

using namespace hyperion::http;

namespace {
constexpr std::time_t kMtime = 1700000000;  // 2023-11-14 22:13:20 GMT
}  // namespace

TEST(HttpDate, FormatsImfFixdate) {
  EXPECT_EQ(formatHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(formatHttpDate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(formatHttpDate(kMtime), "Tue, 14 Nov 2023 22:13:20 GMT");
}

TEST(HttpDate, ParsesAllThreeFormats) {
  EXPECT_EQ(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parseHttpDate("Sun Nov  6 08:49:37 1994"), 784111777);
  EXPECT_EQ(parseHttpDate("Thu, 29 Feb 2024 12:00:00 GMT"), 1709208000);
  EXPECT_EQ(parseHttpDate(formatHttpDate(kMtime)), kMtime);
}

TEST(HttpDate, RejectsInvalidDates) {
  for (std::string_view text :
       {"", "yesterday", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 32 Jan 1994 08:49:37 GMT", "Thu, 29 Feb 2023 12:00:00 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT junk",
        "Xyz, 06 Nov 1994 08:49:37 GMT", "1700000000"}) {
    EXPECT_FALSE(parseHttpDate(text)) << text;
  }
}

TEST(HttpDate, CurrentDateIsImfFixdate) {
  std::string date(currentHttpDate());
  EXPECT_EQ(date.size(), 29u);
  EXPECT_TRUE(std::regex_match(date, std::regex(R"([A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT)")))
      << date;
}
