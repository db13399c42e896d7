#include "hyperion/log/logger.hpp"

#include <gtest/gtest.h>

#include <string>

using hyperion::log::appendJsonEscaped;

namespace {

std::string escaped(std::string_view text) {
  std::string out;
  appendJsonEscaped(out, text);
  return out;
}

}  // namespace

TEST(JsonEscape, PlainTextUnchanged) {
  EXPECT_EQ(escaped("GET /index.html 200"), "GET /index.html 200");
  EXPECT_EQ(escaped(""), "");
}

TEST(JsonEscape, QuotesAndBackslashes) {
  EXPECT_EQ(escaped(R"(say "hi")"), R"(say \"hi\")");
  EXPECT_EQ(escaped(R"(C:\path\to)"), R"(C:\\path\\to)");
  EXPECT_EQ(escaped(R"(\")"), R"(\\\")");
}

TEST(JsonEscape, CommonControlChars) {
  EXPECT_EQ(escaped("a\nb"), "a\\nb");
  EXPECT_EQ(escaped("a\rb"), "a\\rb");
  EXPECT_EQ(escaped("a\tb"), "a\\tb");
}

TEST(JsonEscape, OtherControlCharsAsUnicode) {
  EXPECT_EQ(escaped(std::string_view("\0", 1)), "\\u0000");
  EXPECT_EQ(escaped("\x01"), "\\u0001");
  EXPECT_EQ(escaped("\b"), "\\u0008");
  EXPECT_EQ(escaped("\f"), "\\u000c");
  EXPECT_EQ(escaped("\x1b[31m"), "\\u001b[31m");
  EXPECT_EQ(escaped("\x1f"), "\\u001f");
}

TEST(JsonEscape, NonAsciiAndDelPassThrough) {
  EXPECT_EQ(escaped("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(escaped("\x7f"), "\x7f");
  EXPECT_EQ(escaped(" "), " ");
}

TEST(JsonEscape, AppendsToExistingText) {
  std::string out = R"({"m":")";
  appendJsonEscaped(out, "line1\nline2 \"q\"");
  out += "\"}";
  EXPECT_EQ(out, R"({"m":"line1\nline2 \"q\""})");
}
