#include "hyperion/http1/request.hpp"

#include <gtest/gtest.h>

using namespace hyperion::http1;

namespace {

Request withTarget(std::string target) {
  Request r;
  r.target = std::move(target);
  return r;
}

}  // namespace

TEST(RequestTarget, OriginFormPathAndQuery) {
  Request r = withTarget("/a/b?x=1&y=2");
  EXPECT_EQ(r.path(), "/a/b");
  EXPECT_EQ(r.query(), "x=1&y=2");
}

TEST(RequestTarget, NoQuery) {
  Request r = withTarget("/a");
  EXPECT_EQ(r.path(), "/a");
  EXPECT_EQ(r.query(), "");
}

TEST(RequestTarget, EmptyQuery) {
  Request r = withTarget("/a?");
  EXPECT_EQ(r.path(), "/a");
  EXPECT_EQ(r.query(), "");
}

TEST(RequestTarget, FragmentIsDropped) {
  Request r = withTarget("/a?x=1#frag");
  EXPECT_EQ(r.path(), "/a");
  EXPECT_EQ(r.query(), "x=1");
  Request r2 = withTarget("/b#frag");
  EXPECT_EQ(r2.path(), "/b");
  EXPECT_EQ(r2.query(), "");
}

TEST(RequestTarget, AbsoluteForm) {
  Request r = withTarget("http://h/p?q");
  EXPECT_EQ(r.path(), "/p");
  EXPECT_EQ(r.query(), "q");
  Request r2 = withTarget("https://example.com:8443/x/y/z");
  EXPECT_EQ(r2.path(), "/x/y/z");
  EXPECT_EQ(r2.query(), "");
}

TEST(RequestTarget, AbsoluteFormWithoutPath) {
  Request r = withTarget("http://h");
  EXPECT_EQ(r.path(), "/");
  EXPECT_EQ(r.query(), "");
  Request r2 = withTarget("http://h?k=v");
  EXPECT_EQ(r2.path(), "/");
  EXPECT_EQ(r2.query(), "k=v");
}

TEST(RequestTarget, UrlInsideQueryIsNotAbsoluteForm) {
  Request r = withTarget("/redirect?to=http://other/path");
  EXPECT_EQ(r.path(), "/redirect");
  EXPECT_EQ(r.query(), "to=http://other/path");
}

TEST(RequestTarget, AsteriskForm) {
  Request r = withTarget("*");
  EXPECT_EQ(r.path(), "*");
  EXPECT_EQ(r.query(), "");
}

TEST(RequestTarget, EmptyTarget) {
  Request r = withTarget("");
  EXPECT_EQ(r.path(), "");
  EXPECT_EQ(r.query(), "");
}

TEST(RequestHeaders, LookupIsCaseInsensitiveFirstMatch) {
  Request r;
  r.headers = {{"Content-Type", "text/html"}, {"X-A", "1"}, {"x-a", "2"}};
  ASSERT_NE(r.header("content-type"), nullptr);
  EXPECT_EQ(*r.header("CONTENT-TYPE"), "text/html");
  EXPECT_EQ(*r.header("X-a"), "1");
  EXPECT_EQ(r.header("Content-Typ"), nullptr);
}

TEST(RequestHeaders, EqualsIgnoreCase) {
  EXPECT_TRUE(equalsIgnoreCase("Keep-Alive", "keep-alive"));
  EXPECT_TRUE(equalsIgnoreCase("", ""));
  EXPECT_FALSE(equalsIgnoreCase("close", "closed"));
  EXPECT_FALSE(equalsIgnoreCase("abc", "abd"));
}

TEST(RequestMisc, ProtocolAndHead) {
  Request r;
  r.version_major = 1;
  r.version_minor = 0;
  r.method = "HEAD";
  EXPECT_EQ(r.protocol(), "HTTP/1.0");
  EXPECT_TRUE(r.isHead());
  r.method = "GET";
  EXPECT_FALSE(r.isHead());
}
