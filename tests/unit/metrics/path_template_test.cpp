#include "hyperion/metrics/path_template.hpp"

#include <gtest/gtest.h>

#include <string>

namespace hyperion::metrics {
namespace {

std::string templated(std::string_view target, std::size_t capacity = 112) {
  std::string out(capacity, '\0');
  out.resize(templatePath(target, out.data(), capacity));
  return out;
}

TEST(PathTemplate, DigitsAndUuidsBecomePlaceholders) {
  EXPECT_EQ(templated("/users/123"), "/users/:id");
  EXPECT_EQ(templated("/users/123/posts/9"), "/users/:id/posts/:id");
  EXPECT_EQ(templated("/orders/123e4567-e89b-12d3-a456-426614174000/items"), "/orders/:uuid/items");
}

TEST(PathTemplate, OtherSegmentsStay) {
  EXPECT_EQ(templated("/users/me"), "/users/me");
  EXPECT_EQ(templated("/v2/items"), "/v2/items");         // a digit among letters is a name
  EXPECT_EQ(templated("/orders/123e4567-e89b"), "/orders/123e4567-e89b");  // not a whole UUID
  EXPECT_EQ(templated("/a//b/"), "/a//b/");
}

TEST(PathTemplate, TheQueryAndAbsoluteFormAreDropped) {
  EXPECT_EQ(templated("/search?q=42&page=3"), "/search");
  EXPECT_EQ(templated("/page#frag"), "/page");
  EXPECT_EQ(templated("http://example.com/users/7?x=1"), "/users/:id");
  EXPECT_EQ(templated("http://example.com"), "/");
  EXPECT_EQ(templated("*"), "*");
  EXPECT_EQ(templated(""), "/");
}

TEST(PathTemplate, LongPathsAreCutAtTheCapacity) {
  const std::string long_path = "/" + std::string(300, 'a');
  EXPECT_EQ(templated(long_path, 16), "/" + std::string(15, 'a'));
  EXPECT_EQ(templated("/12345678", 3), "/:i");
}

}  // namespace
}  // namespace hyperion::metrics
