#include "hyperion/http1/response.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <string>

using namespace hyperion::http1;

namespace {

// The Date line changes every second; tests compare the rest exactly.
std::string withoutDate(const std::string& head) {
  auto start = head.find("\r\nDate: ");
  if (start == std::string::npos) return head;
  auto end = head.find("\r\n", start + 2);
  return head.substr(0, start) + head.substr(end);
}

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

bool hasDateLine(const std::string& head) {
  static const std::regex date(R"(\r\nDate: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n)");
  return std::regex_search(head, date);
}

}  // namespace

TEST(ResponsePlan, ArrayBodyGetsContentLength) {
  ResponseInput in;
  in.headers = {{"content-type", "text/plain"}};
  in.body_length = 5;
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::ContentLength);
  EXPECT_NE(plan.head.find("Content-Length: 5\r\n"), std::string::npos);
  EXPECT_EQ(plan.head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_TRUE(plan.keep_alive);
}

TEST(ResponsePlan, ArrayBodyExactHead) {
  ResponseInput in;
  in.status = 201;
  in.headers = {{"content-type", "text/plain"}, {"X-Id", "42"}};
  in.body_length = 12;
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::ContentLength);
  EXPECT_EQ(plan.content_length, 12u);
  EXPECT_TRUE(plan.keep_alive);
  EXPECT_TRUE(hasDateLine(plan.head)) << plan.head;
  EXPECT_EQ(withoutDate(plan.head),
            "HTTP/1.1 201 Created\r\n"
            "content-type: text/plain\r\n"
            "X-Id: 42\r\n"
            "Content-Length: 12\r\n"
            "Server: hyperion\r\n"
            "\r\n");
}

TEST(ResponsePlan, EmptyArrayBodyIsContentLengthZero) {
  ResponseInput in;
  in.body_length = 0;
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::ContentLength);
  EXPECT_EQ(plan.content_length, 0u);
  EXPECT_EQ(count(plan.head, "Content-Length: 0\r\n"), 1u);
}

TEST(ResponsePlan, ArrayBodyLengthWinsOverAppContentLength) {
  ResponseInput in;
  in.headers = {{"Content-Length", "99"}};
  in.body_length = 5;
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::ContentLength);
  EXPECT_EQ(plan.content_length, 5u);
  EXPECT_EQ(count(plan.head, "Content-Length"), 1u);
  EXPECT_NE(plan.head.find("Content-Length: 5\r\n"), std::string::npos);
}

TEST(ResponsePlan, StreamingOnHttp11IsChunked) {
  ResponseInput in;
  in.headers = {{"content-type", "text/event-stream"}};
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::Chunked);
  EXPECT_TRUE(plan.keep_alive);
  EXPECT_EQ(withoutDate(plan.head),
            "HTTP/1.1 200 OK\r\n"
            "content-type: text/event-stream\r\n"
            "Transfer-Encoding: chunked\r\n"
            "Server: hyperion\r\n"
            "\r\n");
}

TEST(ResponsePlan, StreamingOnHttp10IsCloseDelimited) {
  ResponseInput in;
  in.headers = {{"content-type", "text/plain"}};
  in.request_version_minor = 0;
  in.request_keep_alive = true;  // even a keep-alive 1.0 client: the close ends the body
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::CloseDelimited);
  EXPECT_FALSE(plan.keep_alive);
  EXPECT_EQ(withoutDate(plan.head),
            "HTTP/1.0 200 OK\r\n"
            "content-type: text/plain\r\n"
            "Server: hyperion\r\n"
            "Connection: close\r\n"
            "\r\n");
}

TEST(ResponsePlan, Http10KeepAliveWithLengthSaysKeepAlive) {
  ResponseInput in;
  in.request_version_minor = 0;
  in.request_keep_alive = true;
  in.body_length = 3;
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::ContentLength);
  EXPECT_TRUE(plan.keep_alive);
  EXPECT_EQ(withoutDate(plan.head),
            "HTTP/1.0 200 OK\r\n"
            "Content-Length: 3\r\n"
            "Server: hyperion\r\n"
            "Connection: keep-alive\r\n"
            "\r\n");
}

TEST(ResponsePlan, Http10AppTransferEncodingIsDropped) {
  ResponseInput in;
  in.request_version_minor = 0;
  in.request_keep_alive = false;
  in.headers = {{"Transfer-Encoding", "chunked"}};
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::CloseDelimited);
  EXPECT_EQ(plan.head.find("Transfer-Encoding"), std::string::npos);
}

TEST(ResponsePlan, AppEncodedOnHttp11KeepsAppTransferEncoding) {
  ResponseInput in;
  in.headers = {{"Transfer-Encoding", "chunked"}};
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::AppEncoded);
  EXPECT_EQ(count(plan.head, "Transfer-Encoding: chunked\r\n"), 1u);
}

TEST(ResponsePlan, HeadWithLengthHasNoFramingButKeepsHeaders) {
  ResponseInput in;
  in.request_is_head = true;
  in.headers = {{"content-type", "text/html"}, {"ETag", "\"abc\""}};
  in.body_length = 5;
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::None);
  EXPECT_TRUE(plan.keep_alive);
  EXPECT_EQ(withoutDate(plan.head),
            "HTTP/1.1 200 OK\r\n"
            "content-type: text/html\r\n"
            "ETag: \"abc\"\r\n"
            "Content-Length: 5\r\n"
            "Server: hyperion\r\n"
            "\r\n");
}

TEST(ResponsePlan, HeadStreamingHasNoChunkedHeader) {
  ResponseInput in;
  in.request_is_head = true;
  in.headers = {{"content-type", "text/html"}};
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::None);
  EXPECT_TRUE(plan.keep_alive);
  EXPECT_EQ(plan.head.find("Transfer-Encoding"), std::string::npos);
  EXPECT_NE(plan.head.find("content-type: text/html\r\n"), std::string::npos);
}

TEST(ResponsePlan, HeadKeepsAppContentLength) {
  ResponseInput in;
  in.request_is_head = true;
  in.headers = {{"Content-Length", "1234"}};
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::None);
  EXPECT_EQ(count(plan.head, "Content-Length: 1234\r\n"), 1u);
}

TEST(ResponsePlan, NoContentHasNoLengthOrTransferEncoding) {
  ResponseInput in;
  in.status = 204;
  in.headers = {{"Content-Length", "0"}, {"Transfer-Encoding", "chunked"}, {"X-Keep", "yes"}};
  in.body_length = 0;
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::None);
  EXPECT_TRUE(plan.keep_alive);
  EXPECT_EQ(withoutDate(plan.head),
            "HTTP/1.1 204 No Content\r\n"
            "X-Keep: yes\r\n"
            "Server: hyperion\r\n"
            "\r\n");
}

TEST(ResponsePlan, NoContentStreamingHasNoChunkedHeader) {
  ResponseInput in;
  in.status = 204;
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::None);
  EXPECT_TRUE(plan.keep_alive);
  EXPECT_EQ(plan.head.find("Transfer-Encoding"), std::string::npos);
  EXPECT_EQ(plan.head.find("Content-Length"), std::string::npos);
}

TEST(ResponsePlan, NotModifiedHasNoLengthOrTransferEncoding) {
  ResponseInput in;
  in.status = 304;
  in.headers = {{"ETag", "\"v1\""}, {"Content-Length", "10"}};
  in.body_length = 0;
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::None);
  EXPECT_EQ(withoutDate(plan.head),
            "HTTP/1.1 304 Not Modified\r\n"
            "ETag: \"v1\"\r\n"
            "Server: hyperion\r\n"
            "\r\n");
}

TEST(ResponsePlan, AppConnectionCloseClosesOnce) {
  ResponseInput in;
  in.headers = {{"Connection", "close"}};
  in.body_length = 2;
  auto plan = planResponse(in);
  EXPECT_FALSE(plan.keep_alive);
  EXPECT_EQ(plan.framing, BodyFraming::ContentLength);
  EXPECT_EQ(count(plan.head, "Connection"), 1u);
  EXPECT_EQ(withoutDate(plan.head),
            "HTTP/1.1 200 OK\r\n"
            "Content-Length: 2\r\n"
            "Server: hyperion\r\n"
            "Connection: close\r\n"
            "\r\n");
}

TEST(ResponsePlan, RequestNotKeepAliveCloses) {
  ResponseInput in;
  in.request_keep_alive = false;
  in.body_length = 0;
  auto plan = planResponse(in);
  EXPECT_FALSE(plan.keep_alive);
  EXPECT_EQ(count(plan.head, "Connection: close\r\n"), 1u);
}

TEST(ResponsePlan, ServerDrainingCloses) {
  ResponseInput in;
  in.server_draining = true;
  in.headers = {{"connection", "keep-alive"}};
  in.body_length = 1;
  auto plan = planResponse(in);
  EXPECT_FALSE(plan.keep_alive);
  EXPECT_EQ(count(plan.head, "onnection"), 1u);
  EXPECT_NE(plan.head.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(plan.head.find("keep-alive"), std::string::npos);
}

TEST(ResponsePlan, AppContentLengthWithStreamingBody) {
  ResponseInput in;
  in.headers = {{"Content-Type", "application/octet-stream"}, {"Content-Length", "10"}};
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::ContentLength);
  EXPECT_EQ(plan.content_length, 10u);
  EXPECT_TRUE(plan.keep_alive);
  EXPECT_EQ(withoutDate(plan.head),
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/octet-stream\r\n"
            "Content-Length: 10\r\n"
            "Server: hyperion\r\n"
            "\r\n");
}

TEST(ResponsePlan, AppContentLengthWinsOverAppTransferEncoding) {
  ResponseInput in;
  in.headers = {{"Transfer-Encoding", "chunked"}, {"content-length", "7"}};
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::ContentLength);
  EXPECT_EQ(plan.content_length, 7u);
  EXPECT_EQ(plan.head.find("Transfer-Encoding"), std::string::npos);
}

TEST(ResponsePlan, InvalidAppContentLengthIsIgnored) {
  for (const char* bad : {"abc", "-1"}) {
    SCOPED_TRACE(bad);
    ResponseInput in;
    in.headers = {{"Content-Length", bad}};
    auto plan = planResponse(in);
    EXPECT_EQ(plan.framing, BodyFraming::Chunked);
    EXPECT_EQ(plan.head.find("Content-Length"), std::string::npos) << plan.head;
  }
}

TEST(ResponsePlan, DateAndServerAddedByDefault) {
  ResponseInput in;
  in.body_length = 0;
  auto plan = planResponse(in);
  EXPECT_TRUE(hasDateLine(plan.head)) << plan.head;
  EXPECT_EQ(count(plan.head, "\r\nServer: hyperion\r\n"), 1u);
}

TEST(ResponsePlan, AppDateAndServerAreNotDuplicated) {
  ResponseInput in;
  in.headers = {{"date", "Mon, 01 Jan 2024 00:00:00 GMT"}, {"SERVER", "custom"}};
  in.body_length = 0;
  auto plan = planResponse(in);
  EXPECT_EQ(plan.head,
            "HTTP/1.1 200 OK\r\n"
            "date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
            "SERVER: custom\r\n"
            "Content-Length: 0\r\n"
            "\r\n");
}

TEST(ResponsePlan, RepeatedHeadersEachOnOwnLine) {
  ResponseInput in;
  in.headers = {{"Set-Cookie", "a=1; Path=/"}, {"Vary", "Accept"}, {"Set-Cookie", "b=2"}};
  in.body_length = 0;
  auto plan = planResponse(in);
  EXPECT_EQ(withoutDate(plan.head),
            "HTTP/1.1 200 OK\r\n"
            "Set-Cookie: a=1; Path=/\r\n"
            "Vary: Accept\r\n"
            "Set-Cookie: b=2\r\n"
            "Content-Length: 0\r\n"
            "Server: hyperion\r\n"
            "\r\n");
}

TEST(ResponsePlan, UnknownStatusHasUnknownReason) {
  ResponseInput in;
  in.status = 299;
  in.body_length = 0;
  auto plan = planResponse(in);
  EXPECT_EQ(plan.head.rfind("HTTP/1.1 299 Unknown\r\n", 0), 0u);
}

TEST(SimpleResponse, KeepAlive) {
  std::string r = buildSimpleResponse(404, "Not Found\n", true);
  EXPECT_TRUE(hasDateLine(r)) << r;
  EXPECT_EQ(withoutDate(r),
            "HTTP/1.1 404 Not Found\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 10\r\n"
            "Server: hyperion\r\n"
            "\r\n"
            "Not Found\n");
}

TEST(SimpleResponse, Close) {
  std::string r = buildSimpleResponse(413, "too big", false);
  EXPECT_EQ(withoutDate(r),
            "HTTP/1.1 413 Content Too Large\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 7\r\n"
            "Server: hyperion\r\n"
            "Connection: close\r\n"
            "\r\n"
            "too big");
}

TEST(SimpleResponse, Http10) {
  std::string r = buildSimpleResponse(400, "", true, 0);
  EXPECT_EQ(withoutDate(r),
            "HTTP/1.0 400 Bad Request\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 0\r\n"
            "Server: hyperion\r\n"
            "Connection: keep-alive\r\n"
            "\r\n");
  std::string closed = buildSimpleResponse(400, "x", false, 0);
  EXPECT_EQ(closed.rfind("HTTP/1.0 400 Bad Request\r\n", 0), 0u);
  EXPECT_EQ(count(closed, "Connection: close\r\n"), 1u);
}

TEST(SimpleResponse, NoBodyStatusDropsBody) {
  std::string r = buildSimpleResponse(304, "ignored", true);
  EXPECT_EQ(withoutDate(r),
            "HTTP/1.1 304 Not Modified\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Server: hyperion\r\n"
            "\r\n");
}

TEST(Chunks, AppendChunkFormat) {
  std::string out = "prefix|";
  appendChunk(out, "hello");
  EXPECT_EQ(out, "prefix|5\r\nhello\r\n");
  appendChunk(out, std::string(26, 'z'));
  EXPECT_EQ(out, "prefix|5\r\nhello\r\n1a\r\n" + std::string(26, 'z') + "\r\n");
}

TEST(Chunks, LargeChunkSizeIsLowercaseHex) {
  std::string out;
  appendChunk(out, std::string(4096, 'x'));
  EXPECT_EQ(out.substr(0, 5), "1000\r");
  EXPECT_EQ(out.size(), 4u + 2 + 4096 + 2);
  std::string out2;
  appendChunk(out2, std::string(255, 'x'));
  EXPECT_EQ(out2.substr(0, 4), "ff\r\n");
}

TEST(Chunks, EmptyChunkSkipped) {
  std::string out = "abc";
  appendChunk(out, "");
  EXPECT_EQ(out, "abc");
  EXPECT_EQ(kLastChunk, "0\r\n\r\n");
}

TEST(HeaderValidation, Names) {
  EXPECT_TRUE(isValidHeaderName("Content-Type"));
  EXPECT_TRUE(isValidHeaderName("x-custom_header.v2"));
  EXPECT_TRUE(isValidHeaderName("!#$%&'*+-.^_`|~09azAZ"));
  EXPECT_FALSE(isValidHeaderName(""));
  EXPECT_FALSE(isValidHeaderName("Bad Name"));
  EXPECT_FALSE(isValidHeaderName("X:Y"));
  EXPECT_FALSE(isValidHeaderName("X-Injected\r\nEvil"));
  EXPECT_FALSE(isValidHeaderName("X\n"));
  EXPECT_FALSE(isValidHeaderName("\"quoted\""));
  EXPECT_FALSE(isValidHeaderName("caf\xc3\xa9"));
  EXPECT_FALSE(isValidHeaderName(std::string_view("a\0b", 3)));
}

TEST(HeaderValidation, Values) {
  EXPECT_TRUE(isValidHeaderValue(""));
  EXPECT_TRUE(isValidHeaderValue("text/html; charset=utf-8"));
  EXPECT_TRUE(isValidHeaderValue("tab\tinside"));
  EXPECT_TRUE(isValidHeaderValue("caf\xc3\xa9"));
  EXPECT_FALSE(isValidHeaderValue("a\r\nSet-Cookie: evil"));
  EXPECT_FALSE(isValidHeaderValue("a\nb"));
  EXPECT_FALSE(isValidHeaderValue("a\rb"));
  EXPECT_FALSE(isValidHeaderValue(std::string_view("a\0b", 3)));
}

TEST(Reason, Phrases) {
  EXPECT_EQ(reasonPhrase(100), "Continue");
  EXPECT_EQ(reasonPhrase(200), "OK");
  EXPECT_EQ(reasonPhrase(204), "No Content");
  EXPECT_EQ(reasonPhrase(304), "Not Modified");
  EXPECT_EQ(reasonPhrase(400), "Bad Request");
  EXPECT_EQ(reasonPhrase(404), "Not Found");
  EXPECT_EQ(reasonPhrase(408), "Request Timeout");
  EXPECT_EQ(reasonPhrase(413), "Content Too Large");
  EXPECT_EQ(reasonPhrase(414), "URI Too Long");
  EXPECT_EQ(reasonPhrase(417), "Expectation Failed");
  EXPECT_EQ(reasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reasonPhrase(500), "Internal Server Error");
  EXPECT_EQ(reasonPhrase(501), "Not Implemented");
  EXPECT_EQ(reasonPhrase(503), "Service Unavailable");
  EXPECT_EQ(reasonPhrase(999), "Unknown");
}

TEST(Reason, StatusHasNoBody) {
  EXPECT_TRUE(statusHasNoBody(100));
  EXPECT_TRUE(statusHasNoBody(101));
  EXPECT_TRUE(statusHasNoBody(199));
  EXPECT_TRUE(statusHasNoBody(204));
  EXPECT_TRUE(statusHasNoBody(304));
  EXPECT_FALSE(statusHasNoBody(200));
  EXPECT_FALSE(statusHasNoBody(205));
  EXPECT_FALSE(statusHasNoBody(404));
}

TEST(ResponsePlan, HeadKeepsTheAppsDeclaredLengthWithAnEmptyBody) {
  ResponseInput in;
  in.headers = {{"Content-Length", "1024"}};
  in.body_length = 0;  // Rack::Files / Rack::Head answer HEAD with an empty body
  in.request_is_head = true;
  auto plan = planResponse(in);
  EXPECT_EQ(plan.framing, BodyFraming::None);
  EXPECT_NE(plan.head.find("Content-Length: 1024\r\n"), std::string::npos) << plan.head;
}

TEST(RawHead, KeepsTheAppsHeadersAndAddsNoFraming) {
  std::string head =
      buildRawHead(101, {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}}, 1);
  EXPECT_EQ(head.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("\r\nUpgrade: websocket\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nConnection: Upgrade\r\n"), std::string::npos);
  EXPECT_TRUE(hasDateLine(head));
  EXPECT_EQ(count(head, "Content-Length"), 0u);
  EXPECT_EQ(count(head, "Transfer-Encoding"), 0u);
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
}

TEST(RawHead, AppDateAndServerAreNotDoubled) {
  std::string head = buildRawHead(200, {{"date", "Tue, 01 Dec 2026 00:00:00 GMT"}, {"server", "app"}}, 0);
  EXPECT_EQ(head.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << head;
  EXPECT_EQ(count(head, "ate: "), 1u) << head;
  EXPECT_EQ(count(head, "erver: "), 1u) << head;
}
