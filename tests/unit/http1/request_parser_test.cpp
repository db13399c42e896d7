#include "hyperion/http1/request_parser.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

using hyperion::config::Limits;
using hyperion::http1::Request;
using hyperion::http1::RequestParser;
using Status = RequestParser::Status;
using Phase = RequestParser::Phase;

namespace {

class RequestParserTest : public ::testing::Test {
 protected:
  void SetUp() override { rebuild(); }

  // The parser keeps a reference to limits_, so change limits_ then rebuild().
  void rebuild() { parser_ = std::make_unique<RequestParser>(limits_, ::testing::TempDir()); }

  RequestParser::Outcome feed(std::string_view bytes) { return parser_->feed(bytes.data(), bytes.size()); }

  // Feeds a whole request that must complete exactly at its last byte.
  Request parseOne(std::string_view bytes) {
    auto outcome = feed(bytes);
    EXPECT_EQ(outcome.status, Status::RequestReady) << "error " << parser_->error().status << ": "
                                                    << parser_->error().reason;
    EXPECT_EQ(outcome.consumed, bytes.size());
    return parser_->takeRequest();
  }

  // Feeds bytes that must be rejected; returns the status to answer.
  int rejectStatus(std::string_view bytes) {
    auto outcome = feed(bytes);
    EXPECT_EQ(outcome.status, Status::Failed);
    if (outcome.status != Status::Failed) return 0;
    return parser_->error().status;
  }

  Limits limits_;
  std::unique_ptr<RequestParser> parser_;
};

std::string readAll(int fd) {
  std::string out;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

TEST_F(RequestParserTest, SimpleGet) {
  Request r = parseOne("GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/hello");
  EXPECT_EQ(r.version_major, 1);
  EXPECT_EQ(r.version_minor, 1);
  EXPECT_EQ(r.protocol(), "HTTP/1.1");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].name, "Host");
  EXPECT_EQ(r.headers[0].value, "example.com");
  EXPECT_EQ(r.body.size, 0u);
  EXPECT_TRUE(r.body.memory.empty());
  EXPECT_FALSE(r.body.inFile());
  EXPECT_TRUE(r.keep_alive);
  EXPECT_FALSE(r.upgrade);
  EXPECT_EQ(parser_->phase(), Phase::Idle);
}

TEST_F(RequestParserTest, OtherMethodsAreNamed) {
  Request r = parseOne("DELETE /item/1 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.method, "DELETE");
  EXPECT_FALSE(r.isHead());
  rebuild();
  Request head = parseOne("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(head.method, "HEAD");
  EXPECT_TRUE(head.isHead());
}

TEST_F(RequestParserTest, HeaderNamesKeptAndValuesTrimmed) {
  Request r = parseOne(
      "GET / HTTP/1.1\r\n"
      "Host: x\r\n"
      "X-Custom-Header:    spaced  value \t \r\n"
      "x-lower:tight\r\n"
      "X-Empty:\r\n"
      "Accept: */*\r\n"
      "\r\n");
  ASSERT_EQ(r.headers.size(), 5u);
  EXPECT_EQ(r.headers[0].name, "Host");
  EXPECT_EQ(r.headers[1].name, "X-Custom-Header");
  EXPECT_EQ(r.headers[1].value, "spaced  value");
  EXPECT_EQ(r.headers[2].name, "x-lower");
  EXPECT_EQ(r.headers[2].value, "tight");
  EXPECT_EQ(r.headers[3].name, "X-Empty");
  EXPECT_EQ(r.headers[3].value, "");
  EXPECT_EQ(r.headers[4].name, "Accept");
  EXPECT_EQ(r.headers[4].value, "*/*");
  ASSERT_NE(r.header("x-custom-header"), nullptr);
  EXPECT_EQ(*r.header("x-custom-header"), "spaced  value");
  EXPECT_EQ(r.header("missing"), nullptr);
}

TEST_F(RequestParserTest, RepeatedHeadersAreKeptInOrder) {
  Request r = parseOne("GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n");
  ASSERT_EQ(r.headers.size(), 3u);
  EXPECT_EQ(r.headers[1].value, "a=1");
  EXPECT_EQ(r.headers[2].value, "b=2");
  EXPECT_EQ(*r.header("cookie"), "a=1");  // first match
}

TEST_F(RequestParserTest, PathAndQuerySplit) {
  Request r = parseOne("GET /search/items?q=hello%20world&page=2 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.target, "/search/items?q=hello%20world&page=2");
  EXPECT_EQ(r.path(), "/search/items");
  EXPECT_EQ(r.query(), "q=hello%20world&page=2");
}

TEST_F(RequestParserTest, NoQueryGivesEmptyQuery) {
  Request r = parseOne("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.path(), "/plain");
  EXPECT_EQ(r.query(), "");
}

TEST_F(RequestParserTest, AbsoluteFormTarget) {
  Request r = parseOne("GET http://h/p?q HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(r.target, "http://h/p?q");
  EXPECT_EQ(r.path(), "/p");
  EXPECT_EQ(r.query(), "q");
}

TEST_F(RequestParserTest, AbsoluteFormWithPortAndNoPath) {
  Request r = parseOne("GET http://h:8080?a=b HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(r.path(), "/");
  EXPECT_EQ(r.query(), "a=b");
}

TEST_F(RequestParserTest, ByteAtATimeGivesSameResult) {
  const std::string text =
      "POST /upload?x=1 HTTP/1.1\r\n"
      "Host: example.com\r\n"
      "X-Trim:   padded   \r\n"
      "Content-Type: text/plain\r\n"
      "Content-Length: 11\r\n"
      "\r\n"
      "hello world";
  Request whole = parseOne(text);

  rebuild();
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto outcome = parser_->feed(text.data() + i, 1);
    ASSERT_EQ(outcome.consumed, 1u) << "at byte " << i;
    if (i + 1 < text.size()) {
      ASSERT_EQ(outcome.status, Status::NeedMore) << "at byte " << i;
    } else {
      ASSERT_EQ(outcome.status, Status::RequestReady);
    }
  }
  Request bytewise = parser_->takeRequest();
  EXPECT_EQ(bytewise.method, whole.method);
  EXPECT_EQ(bytewise.target, whole.target);
  EXPECT_EQ(bytewise.target, "/upload?x=1");
  ASSERT_EQ(bytewise.headers.size(), whole.headers.size());
  ASSERT_EQ(bytewise.headers.size(), 4u);
  for (std::size_t i = 0; i < whole.headers.size(); ++i) {
    EXPECT_EQ(bytewise.headers[i].name, whole.headers[i].name);
    EXPECT_EQ(bytewise.headers[i].value, whole.headers[i].value);
  }
  EXPECT_EQ(bytewise.headers[1].value, "padded");
  EXPECT_EQ(bytewise.body.memory, "hello world");
  EXPECT_EQ(bytewise.body.size, 11u);
  EXPECT_EQ(bytewise.keep_alive, whole.keep_alive);
}

TEST_F(RequestParserTest, ByteAtATimeChunked) {
  const std::string text =
      "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto outcome = parser_->feed(text.data() + i, 1);
    ASSERT_EQ(outcome.consumed, 1u) << "at byte " << i;
    ASSERT_EQ(outcome.status, i + 1 < text.size() ? Status::NeedMore : Status::RequestReady) << "at byte " << i;
  }
  Request r = parser_->takeRequest();
  EXPECT_EQ(r.body.memory, "hello world");
  EXPECT_EQ(r.body.size, 11u);
}

TEST_F(RequestParserTest, PipelinedRequestsOneAtATime) {
  const std::string a = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string b = "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
  const std::string c = "GET /c?z=9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const std::string all = a + b + c;

  std::size_t offset = 0;
  auto o1 = parser_->feed(all.data() + offset, all.size() - offset);
  ASSERT_EQ(o1.status, Status::RequestReady);
  EXPECT_EQ(o1.consumed, a.size());
  Request r1 = parser_->takeRequest();
  EXPECT_EQ(r1.target, "/a");
  EXPECT_TRUE(r1.body.memory.empty());
  offset += o1.consumed;

  auto o2 = parser_->feed(all.data() + offset, all.size() - offset);
  ASSERT_EQ(o2.status, Status::RequestReady);
  EXPECT_EQ(o2.consumed, b.size());
  Request r2 = parser_->takeRequest();
  EXPECT_EQ(r2.method, "POST");
  EXPECT_EQ(r2.target, "/b");
  EXPECT_EQ(r2.body.memory, "abc");
  ASSERT_EQ(r2.headers.size(), 2u);  // nothing left over from request 1
  offset += o2.consumed;

  auto o3 = parser_->feed(all.data() + offset, all.size() - offset);
  ASSERT_EQ(o3.status, Status::RequestReady);
  EXPECT_EQ(o3.consumed, c.size());
  Request r3 = parser_->takeRequest();
  EXPECT_EQ(r3.target, "/c?z=9");
  EXPECT_EQ(r3.query(), "z=9");
  EXPECT_FALSE(r3.keep_alive);
  EXPECT_TRUE(r3.body.memory.empty());
  offset += o3.consumed;
  EXPECT_EQ(offset, all.size());
}

TEST_F(RequestParserTest, PipelinedSecondRequestArrivesInPieces) {
  const std::string a = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string b = "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string first = a + b.substr(0, 10);
  auto o1 = feed(first);
  ASSERT_EQ(o1.status, Status::RequestReady);
  EXPECT_EQ(o1.consumed, a.size());
  EXPECT_EQ(parser_->takeRequest().target, "/a");

  auto o2 = feed(std::string_view(first).substr(o1.consumed));
  EXPECT_EQ(o2.status, Status::NeedMore);
  EXPECT_EQ(o2.consumed, 10u);
  EXPECT_EQ(parser_->phase(), Phase::Headers);

  auto o3 = feed(std::string_view(b).substr(10));
  ASSERT_EQ(o3.status, Status::RequestReady);
  EXPECT_EQ(o3.consumed, b.size() - 10);
  Request r = parser_->takeRequest();
  EXPECT_EQ(r.target, "/b");
  ASSERT_EQ(r.headers.size(), 1u);
}

TEST_F(RequestParserTest, ContentLengthBody) {
  Request r = parseOne("POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.body.memory, "hello");
  EXPECT_EQ(r.body.size, 5u);
  EXPECT_FALSE(r.body.inFile());
}

TEST_F(RequestParserTest, ContentLengthBodyInPieces) {
  auto o1 = feed("POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123");
  EXPECT_EQ(o1.status, Status::NeedMore);
  auto o2 = feed("456789");
  ASSERT_EQ(o2.status, Status::RequestReady);
  EXPECT_EQ(o2.consumed, 6u);
  Request r = parser_->takeRequest();
  EXPECT_EQ(r.body.memory, "0123456789");
  EXPECT_EQ(r.body.size, 10u);
}

TEST_F(RequestParserTest, ChunkedBody) {
  Request r = parseOne(
      "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n"
      "6\r\n world\r\n"
      "0\r\n\r\n");
  EXPECT_EQ(r.body.memory, "hello world");
  EXPECT_EQ(r.body.size, 11u);
  EXPECT_TRUE(r.keep_alive);
}

TEST_F(RequestParserTest, ChunkedCodingNameIsCaseInsensitive) {
  Request r = parseOne(
      "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
      "a\r\n0123456789\r\n0\r\n\r\n");
  EXPECT_EQ(r.body.memory, "0123456789");
}

TEST_F(RequestParserTest, KeepAliveDefaultsForHttp11) {
  EXPECT_TRUE(parseOne("GET / HTTP/1.1\r\nHost: x\r\n\r\n").keep_alive);
}

TEST_F(RequestParserTest, KeepAliveFalseForHttp10) {
  Request r = parseOne("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.version_minor, 0);
  EXPECT_EQ(r.protocol(), "HTTP/1.0");
  EXPECT_FALSE(r.keep_alive);
}

TEST_F(RequestParserTest, KeepAliveForHttp10WithConnectionKeepAlive) {
  EXPECT_TRUE(parseOne("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
}

TEST_F(RequestParserTest, KeepAliveFalseWithConnectionClose) {
  EXPECT_FALSE(parseOne("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").keep_alive);
}

TEST_F(RequestParserTest, HeaderBlockOverLimitIs431) {
  limits_.max_header_bytes = 128;
  rebuild();
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(200, 'a') + "\r\n\r\n"), 431);
}

TEST_F(RequestParserTest, ManyHeadersOverLimitIs431BeforeHeadersEnd) {
  limits_.max_header_bytes = 256;
  rebuild();
  std::string text = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 40; ++i) text += "X-H" + std::to_string(i) + ": v\r\n";
  // No blank line yet: the limit must trip without waiting for the end of headers.
  EXPECT_EQ(rejectStatus(text), 431);
}

TEST_F(RequestParserTest, HeaderBlockUnderLimitIsAccepted) {
  limits_.max_header_bytes = 128;
  rebuild();
  Request r = parseOne("GET / HTTP/1.1\r\nHost: x\r\nX-Small: " + std::string(40, 'a') + "\r\n\r\n");
  EXPECT_EQ(r.headers[1].value, std::string(40, 'a'));
}

TEST_F(RequestParserTest, UriOverLimitIs414) {
  limits_.max_uri_bytes = 16;
  rebuild();
  EXPECT_EQ(rejectStatus("GET /" + std::string(16, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n"), 414);
}

TEST_F(RequestParserTest, UriAtLimitIsAccepted) {
  limits_.max_uri_bytes = 16;
  rebuild();
  Request r = parseOne("GET /" + std::string(15, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.target.size(), 16u);
}

TEST_F(RequestParserTest, ContentLengthOverMaxBodyIs413BeforeBody) {
  limits_.max_body_bytes = 10;
  rebuild();
  // Only the headers: the answer must not wait for body bytes.
  EXPECT_EQ(rejectStatus("POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n"), 413);
}

TEST_F(RequestParserTest, ContentLengthAtMaxBodyIsAccepted) {
  limits_.max_body_bytes = 10;
  rebuild();
  Request r = parseOne("POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789");
  EXPECT_EQ(r.body.size, 10u);
}

TEST_F(RequestParserTest, ChunkedOverMaxBodyIs413) {
  limits_.max_body_bytes = 10;
  rebuild();
  EXPECT_EQ(rejectStatus("POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            413);
}

TEST_F(RequestParserTest, ChunkedAtMaxBodyIsAccepted) {
  limits_.max_body_bytes = 10;
  rebuild();
  Request r = parseOne("POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n");
  EXPECT_EQ(r.body.memory, "helloworld");
}

TEST_F(RequestParserTest, ContentLengthAndTransferEncodingIs400) {
  EXPECT_EQ(rejectStatus("POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400);
}

TEST_F(RequestParserTest, TransferEncodingThenContentLengthIs400) {
  EXPECT_EQ(rejectStatus("POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
            400);
}

TEST_F(RequestParserTest, DuplicateContentLengthIs400) {
  EXPECT_EQ(rejectStatus("POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"),
            400);
}

TEST_F(RequestParserTest, TransferEncodingGzipIs501) {
  EXPECT_EQ(rejectStatus("POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"), 501);
}

TEST_F(RequestParserTest, MissingHostOnHttp11Is400) {
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), 400);
}

TEST_F(RequestParserTest, HeaderCheckFailureKeepsItsReason) {
  // The log line must say why the request was refused, not a generic llhttp error.
  EXPECT_EQ(rejectStatus("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), 400);
  EXPECT_NE(parser_->error().reason.find("Host"), std::string::npos) << parser_->error().reason;
}

TEST_F(RequestParserTest, MissingHostOnHttp10IsAccepted) {
  Request r = parseOne("GET /old HTTP/1.0\r\nAccept: */*\r\n\r\n");
  EXPECT_EQ(r.target, "/old");
  EXPECT_EQ(r.header("host"), nullptr);
}

TEST_F(RequestParserTest, ExpectContinueSetOnceAfterHeaders) {
  EXPECT_FALSE(parser_->takeContinueRequest());
  const std::string head = "POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
  auto o1 = feed(head);
  EXPECT_EQ(o1.status, Status::NeedMore);
  EXPECT_EQ(o1.consumed, head.size());
  EXPECT_EQ(parser_->phase(), Phase::Body);
  EXPECT_TRUE(parser_->takeContinueRequest());
  EXPECT_FALSE(parser_->takeContinueRequest());
  auto o2 = feed("hello");
  ASSERT_EQ(o2.status, Status::RequestReady);
  EXPECT_FALSE(parser_->takeContinueRequest());
  EXPECT_EQ(parser_->takeRequest().body.memory, "hello");
}

TEST_F(RequestParserTest, ExpectContinueIsCaseInsensitive) {
  feed("POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n");
  EXPECT_TRUE(parser_->takeContinueRequest());
}

TEST_F(RequestParserTest, ExpectContinueWithoutBodyNotRequested) {
  parseOne("GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_FALSE(parser_->takeContinueRequest());
}

TEST_F(RequestParserTest, ExpectOtherIs417) {
  EXPECT_EQ(rejectStatus("POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: something-else\r\n\r\n"),
            417);
}

TEST_F(RequestParserTest, GarbageIs400) {
  EXPECT_EQ(rejectStatus("\x01\x02 this is not http\r\n\r\n"), 400);
}

TEST_F(RequestParserTest, BadVersionIs400) {
  EXPECT_EQ(rejectStatus("GET / HTTP/x.y\r\nHost: x\r\n\r\n"), 400);
}

TEST_F(RequestParserTest, ErrorHasReason) {
  rejectStatus("POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n");
  EXPECT_FALSE(parser_->error().reason.empty());
}

TEST_F(RequestParserTest, LargeBodySpillsToFile) {
  limits_.body_memory_bytes = 16;
  rebuild();
  std::string body;
  for (int i = 0; i < 100; ++i) body.push_back(static_cast<char>('a' + i % 26));
  const std::string head = "POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n";
  // First piece fits in memory, the second pushes it over: memory then file.
  auto o1 = feed(head + body.substr(0, 10));
  ASSERT_EQ(o1.status, Status::NeedMore);
  auto o2 = feed(body.substr(10));
  ASSERT_EQ(o2.status, Status::RequestReady);
  EXPECT_EQ(o2.consumed, 90u);
  Request r = parser_->takeRequest();
  ASSERT_TRUE(r.body.inFile());
  EXPECT_EQ(r.body.size, 100u);
  EXPECT_TRUE(r.body.memory.empty());
  struct stat st{};
  ASSERT_EQ(::fstat(r.body.file.get(), &st), 0);
  EXPECT_EQ(st.st_size, 100);
  EXPECT_EQ(st.st_nlink, 0u);  // unlinked temp file
  ASSERT_EQ(::lseek(r.body.file.get(), 0, SEEK_SET), 0);
  EXPECT_EQ(readAll(r.body.file.get()), body);
}

TEST_F(RequestParserTest, SpilledFileIsRewoundForTheApp) {
  limits_.body_memory_bytes = 4;
  rebuild();
  Request r = parseOne("POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\nhello world!");
  ASSERT_TRUE(r.body.inFile());
  EXPECT_EQ(::lseek(r.body.file.get(), 0, SEEK_CUR), 0);
  EXPECT_EQ(readAll(r.body.file.get()), "hello world!");
}

TEST_F(RequestParserTest, ChunkedBodySpillsToFile) {
  limits_.body_memory_bytes = 8;
  rebuild();
  Request r = parseOne("POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  ASSERT_TRUE(r.body.inFile());
  EXPECT_EQ(r.body.size, 11u);
  ASSERT_EQ(::lseek(r.body.file.get(), 0, SEEK_SET), 0);
  EXPECT_EQ(readAll(r.body.file.get()), "hello world");
}

TEST_F(RequestParserTest, BodyAtMemoryLimitStaysInMemory) {
  limits_.body_memory_bytes = 16;
  rebuild();
  Request r = parseOne("POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\n0123456789abcdef");
  EXPECT_FALSE(r.body.inFile());
  EXPECT_EQ(r.body.memory, "0123456789abcdef");
}

TEST_F(RequestParserTest, PhaseTransitions) {
  EXPECT_EQ(parser_->phase(), Phase::Idle);
  auto o1 = feed("POST /u HTTP/1.1\r\nHo");
  EXPECT_EQ(o1.status, Status::NeedMore);
  EXPECT_EQ(parser_->phase(), Phase::Headers);
  feed("st: x\r\nContent-Length: 4\r\n");
  EXPECT_EQ(parser_->phase(), Phase::Headers);
  feed("\r\nab");
  EXPECT_EQ(parser_->phase(), Phase::Body);
  auto o2 = feed("cd");
  ASSERT_EQ(o2.status, Status::RequestReady);
  EXPECT_EQ(parser_->phase(), Phase::Idle);
  EXPECT_EQ(parser_->takeRequest().body.memory, "abcd");
  EXPECT_EQ(parser_->phase(), Phase::Idle);
  feed("GET / HT");
  EXPECT_EQ(parser_->phase(), Phase::Headers);
  auto o3 = feed("TP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(o3.status, Status::RequestReady);
  EXPECT_EQ(parser_->phase(), Phase::Idle);
}

TEST_F(RequestParserTest, UpgradeStopsAfterHeaders) {
  const std::string head = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
  const std::string all = head + "RAW-FRAMES";
  auto outcome = feed(all);
  ASSERT_EQ(outcome.status, Status::RequestReady);
  EXPECT_EQ(outcome.consumed, head.size());  // the rest belongs to the new protocol
  Request r = parser_->takeRequest();
  EXPECT_TRUE(r.upgrade);
  EXPECT_EQ(r.target, "/ws");
}

TEST_F(RequestParserTest, EmptyFeedNeedsMore) {
  auto outcome = parser_->feed("", 0);
  EXPECT_EQ(outcome.status, Status::NeedMore);
  EXPECT_EQ(outcome.consumed, 0u);
  EXPECT_EQ(parser_->phase(), Phase::Idle);
}

TEST_F(RequestParserTest, OtherHttpVersionsAre505) {
  // An h2 preface-less "HTTP/2.0" request line over h1 must not be answered
  // as if it were HTTP/1.0.
  EXPECT_EQ(rejectStatus("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), 505);
  EXPECT_EQ(rejectStatus("GET / HTTP/1.2\r\nHost: x\r\n\r\n"), 505);
  EXPECT_EQ(rejectStatus("GET / HTTP/0.9\r\nHost: x\r\n\r\n"), 505);
}
