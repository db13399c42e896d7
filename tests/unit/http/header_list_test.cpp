#include "hyperion/http/response_head.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

using hyperion::http::HeaderList;

namespace {

std::vector<std::pair<std::string, std::string>> fields(const HeaderList& list) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, value] : list) out.emplace_back(name, value);
  return out;
}

}  // namespace

TEST(HeaderList, KeepsOrderNamesAsGivenAndEmptyValues) {
  HeaderList list;
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.begin(), list.end());
  list.add("Content-Type", "text/html");
  list.add("X-Empty", "");
  list.add("set-cookie", "a=1");
  list.add("set-cookie", "b=2");
  EXPECT_EQ(list.size(), 4u);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"Content-Type", "text/html"}, {"X-Empty", ""}, {"set-cookie", "a=1"}, {"set-cookie", "b=2"}};
  EXPECT_EQ(fields(list), expected);
}

TEST(HeaderList, ValuesWithAnyBytesAndLongOnesRoundTrip) {
  HeaderList list;
  const std::string long_value(70000, 'v');
  const std::string with_nul("a\0b", 3);
  list.add("X-Long", long_value);
  list.add(with_nul, with_nul);
  const auto out = fields(list);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].second, long_value);
  EXPECT_EQ(out[1].first, with_nul);
  EXPECT_EQ(out[1].second, with_nul);
}

TEST(HeaderList, MovesClearsAndBuildsFromAList) {
  HeaderList list = {{"A", "1"}, {"B", "2"}};
  HeaderList moved = std::move(list);
  EXPECT_EQ(fields(moved), (std::vector<std::pair<std::string, std::string>>{{"A", "1"}, {"B", "2"}}));
  moved.clear();
  EXPECT_TRUE(moved.empty());
  EXPECT_EQ(moved.begin(), moved.end());
  moved.add("C", "3");
  EXPECT_EQ(fields(moved), (std::vector<std::pair<std::string, std::string>>{{"C", "3"}}));
}
