#include "hyperion/static/static_response.hpp"

#include <gtest/gtest.h>

#include <regex>

#include "hyperion/http/http_date.hpp"
#include "hyperion/http1/native_heads.hpp"
#include "hyperion/static/negotiation.hpp"

using namespace hyperion::static_files;

namespace {

// 2023-11-14 22:13:20 GMT
constexpr std::time_t kMtime = 1700000000;

std::shared_ptr<CachedFile> makeFile(std::string body, bool immutable = false, std::string etag_suffix = "") {
  auto file = std::make_shared<CachedFile>();
  file->path = "/srv/public/app.js";
  file->body = std::move(body);
  file->size = file->body.size();
  file->mtime = {kMtime, 0};
  file->inode = 42;
  file->etag = "\"etag-" + std::to_string(file->size) + etag_suffix + "\"";
  file->last_modified = hyperion::http::formatHttpDate(kMtime);
  file->content_type = "text/javascript; charset=utf-8";
  file->immutable = immutable;
  return file;
}

// An app.js with app.js.gz and app.js.br beside it.
std::shared_ptr<const CachedFile> makeFileWithVariants() {
  auto file = makeFile("console.log('hello, world')");
  auto gzip = makeFile("GZIP", false, "-gzip");
  gzip->content_type = "application/gzip";
  auto brotli = makeFile("BR", false, "-br");
  brotli->content_type = "application/x-brotli";
  file->gzip = gzip;
  file->brotli = brotli;
  return file;
}

// A request as the HTTP/1 session has it: the static decision plus what
// its rendering needs.
struct Http1StaticRequest : StaticRequest {
  int version_minor = 1;
  bool keep_alive = true;
};

Http1StaticRequest get() {
  Http1StaticRequest request;
  request.method = "GET";
  return request;
}

// The decision and its HTTP/1 rendering, as the session writes them.
struct Rendered {
  int status;
  std::string head;
  std::string_view body;
  std::shared_ptr<const CachedFile> keeper;
};

Rendered build(const std::shared_ptr<const CachedFile>& file, const Http1StaticRequest& request) {
  StaticReply reply = buildStaticReply(file, request);
  std::string head = hyperion::http1::staticFileHead(reply, request.version_minor, request.keep_alive);
  return {reply.status, std::move(head), reply.body, reply.keeper};
}

bool has(const std::string& head, const std::string& line) { return head.find(line + "\r\n") != std::string::npos; }
bool hasHeader(const std::string& head, const std::string& name) {
  return head.find("\r\n" + name + ": ") != std::string::npos;
}

// The Date line changes every second; comparisons of whole heads leave it out.
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

}  // namespace

// ---- negotiation -------------------------------------------------------------

TEST(StaticNegotiation, IfNoneMatchList) {
  EXPECT_TRUE(etagListMatchesWeakly("\"a\"", "\"a\""));
  EXPECT_TRUE(etagListMatchesWeakly("\"x\", \"a\"", "\"a\""));
  EXPECT_TRUE(etagListMatchesWeakly("\"x\",\"a\"", "\"a\""));
  EXPECT_TRUE(etagListMatchesWeakly("W/\"a\"", "\"a\""));
  EXPECT_TRUE(etagListMatchesWeakly("\"a\"", "W/\"a\""));
  EXPECT_TRUE(etagListMatchesWeakly(" * ", "\"a\""));
  EXPECT_TRUE(etagListMatchesWeakly("\"with,comma\", \"a\"", "\"a\""));
  EXPECT_FALSE(etagListMatchesWeakly("\"with,comma\"", "\"comma\""));
  EXPECT_FALSE(etagListMatchesWeakly("\"b\"", "\"a\""));
  EXPECT_FALSE(etagListMatchesWeakly("a", "\"a\""));  // unquoted: malformed
  EXPECT_FALSE(etagListMatchesWeakly("\"a", "\"a\""));
  EXPECT_FALSE(etagListMatchesWeakly("", "\"a\""));
  EXPECT_FALSE(etagListMatchesWeakly("\"ab\"", "\"a\""));
}

TEST(StaticNegotiation, IfRangeNeedsAStrongMatch) {
  EXPECT_TRUE(etagMatchesStrongly("\"a\"", "\"a\""));
  EXPECT_FALSE(etagMatchesStrongly("W/\"a\"", "\"a\""));
  EXPECT_FALSE(etagMatchesStrongly("\"b\"", "\"a\""));
}

TEST(StaticNegotiation, AcceptEncodingQualities) {
  EXPECT_EQ(acceptedQuality("gzip, deflate, br", "br"), 1000);
  EXPECT_EQ(acceptedQuality("gzip, deflate, br", "gzip"), 1000);
  EXPECT_EQ(acceptedQuality("gzip, deflate", "br"), 0);
  EXPECT_EQ(acceptedQuality("", "gzip"), 0);
  EXPECT_EQ(acceptedQuality("br;q=0", "br"), 0);
  EXPECT_EQ(acceptedQuality("br;q=0.0", "br"), 0);
  EXPECT_EQ(acceptedQuality("br; q=0.000", "br"), 0);
  EXPECT_EQ(acceptedQuality("br;Q=0.5", "br"), 500);
  EXPECT_EQ(acceptedQuality("br;q=0.25", "br"), 250);
  EXPECT_EQ(acceptedQuality("br;q=1", "br"), 1000);
  EXPECT_EQ(acceptedQuality("br;q=1.0", "br"), 1000);
  EXPECT_EQ(acceptedQuality("BR", "br"), 1000);
  EXPECT_EQ(acceptedQuality("x-gzip", "gzip"), 1000);
  EXPECT_EQ(acceptedQuality("*", "br"), 1000);
  EXPECT_EQ(acceptedQuality("*;q=0", "br"), 0);
  EXPECT_EQ(acceptedQuality("br;q=0, *", "br"), 0);  // its own entry wins over the wildcard
  EXPECT_EQ(acceptedQuality("*, gzip;q=0", "gzip"), 0);
  EXPECT_EQ(acceptedQuality("identity", "gzip"), 0);
  // Malformed q-values disqualify the entry.
  EXPECT_EQ(acceptedQuality("br;q=2", "br"), 0);
  EXPECT_EQ(acceptedQuality("br;q=abc", "br"), 0);
  EXPECT_EQ(acceptedQuality("br;q=0.0001", "br"), 0);
  EXPECT_EQ(acceptedQuality("br;level=1", "br"), 0);
  EXPECT_EQ(acceptedQuality("brotli", "br"), 0);
  EXPECT_EQ(acceptedQuality(" , ,gzip", "gzip"), 1000);
}

// ---- buildStaticReply ----------------------------------------------------------

TEST(StaticResponse, GetIs200WithFullHeaders) {
  auto file = makeFile("console.log(1)", /*immutable=*/true);
  auto reply = build(file, get());
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_TRUE(has(reply.head, "Content-Type: text/javascript; charset=utf-8"));
  EXPECT_TRUE(has(reply.head, "Content-Length: 14"));
  EXPECT_TRUE(has(reply.head, "Last-Modified: Tue, 14 Nov 2023 22:13:20 GMT"));
  EXPECT_TRUE(has(reply.head, "ETag: \"etag-14\""));
  EXPECT_TRUE(has(reply.head, "Accept-Ranges: bytes"));
  EXPECT_TRUE(has(reply.head, "Cache-Control: public, max-age=31536000, immutable"));
  EXPECT_TRUE(has(reply.head, "Server: hyperion"));
  static const std::regex date(R"(\r\nDate: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n)");
  EXPECT_TRUE(std::regex_search(reply.head, date));
  EXPECT_FALSE(hasHeader(reply.head, "Connection"));
  EXPECT_FALSE(hasHeader(reply.head, "Vary"));
  EXPECT_FALSE(hasHeader(reply.head, "Content-Encoding"));
  EXPECT_FALSE(hasHeader(reply.head, "Content-Range"));
  EXPECT_EQ(reply.head.substr(reply.head.size() - 4), "\r\n\r\n");
  EXPECT_EQ(count(reply.head, "\r\n\r\n"), 1u);
  EXPECT_EQ(reply.body, "console.log(1)");
  EXPECT_EQ(reply.body.data(), file->body.data());  // a slice, not a copy
  EXPECT_EQ(reply.keeper.get(), file.get());
}

TEST(StaticResponse, MutableFilesGetNoCacheControl) {
  auto reply = build(makeFile("x"), get());
  EXPECT_FALSE(hasHeader(reply.head, "Cache-Control"));
}

TEST(StaticResponse, HeadHasTheGetHeadAndNoBody) {
  auto file = makeFile("console.log(1)", true);
  auto request = get();
  auto get_reply = build(file, request);
  request.method = "HEAD";
  auto head_reply = build(file, request);
  EXPECT_EQ(head_reply.status, 200);
  EXPECT_EQ(withoutDate(head_reply.head), withoutDate(get_reply.head));
  EXPECT_TRUE(head_reply.body.empty());
  EXPECT_TRUE(has(head_reply.head, "Content-Length: 14"));
}

TEST(StaticResponse, ConnectionHeaders) {
  auto file = makeFile("x");
  auto request = get();
  request.keep_alive = false;
  EXPECT_TRUE(has(build(file, request).head, "Connection: close"));
  request.version_minor = 0;
  auto reply = build(file, request);
  EXPECT_EQ(reply.head.rfind("HTTP/1.0 200 OK\r\n", 0), 0u);
  EXPECT_TRUE(has(reply.head, "Connection: close"));
  request.keep_alive = true;
  EXPECT_TRUE(has(build(file, request).head, "Connection: keep-alive"));
}

TEST(StaticResponse, NotModifiedByEtag) {
  auto file = makeFile("console.log(1)", true);
  for (std::string_view inm : {"\"etag-14\"", "W/\"etag-14\"", "\"other\", \"etag-14\"", "*"}) {
    auto request = get();
    request.if_none_match = inm;
    auto reply = build(file, request);
    EXPECT_EQ(reply.status, 304) << inm;
    EXPECT_EQ(reply.head.rfind("HTTP/1.1 304 Not Modified\r\n", 0), 0u);
    EXPECT_TRUE(has(reply.head, "ETag: \"etag-14\""));
    EXPECT_TRUE(has(reply.head, "Last-Modified: Tue, 14 Nov 2023 22:13:20 GMT"));
    EXPECT_TRUE(has(reply.head, "Cache-Control: public, max-age=31536000, immutable"));
    EXPECT_FALSE(hasHeader(reply.head, "Content-Length"));
    EXPECT_FALSE(hasHeader(reply.head, "Content-Type"));
    EXPECT_TRUE(reply.body.empty());
  }
  auto request = get();
  request.if_none_match = "\"stale\"";
  EXPECT_EQ(build(file, request).status, 200);
}

TEST(StaticResponse, NotModifiedByDate) {
  auto file = makeFile("x");
  auto request = get();
  request.if_modified_since = "Tue, 14 Nov 2023 22:13:20 GMT";  // exactly mtime
  EXPECT_EQ(build(file, request).status, 304);
  request.if_modified_since = "Wed, 15 Nov 2023 00:00:00 GMT";  // later
  EXPECT_EQ(build(file, request).status, 304);
  request.if_modified_since = "Tuesday, 14-Nov-23 22:13:20 GMT";  // obsolete format still counts
  EXPECT_EQ(build(file, request).status, 304);
  request.if_modified_since = "Tue, 14 Nov 2023 22:13:19 GMT";  // a second before
  EXPECT_EQ(build(file, request).status, 200);
  request.if_modified_since = "not a date";  // ignored
  EXPECT_EQ(build(file, request).status, 200);
}

TEST(StaticResponse, IfNoneMatchTakesPrecedenceOverIfModifiedSince) {
  auto file = makeFile("x");
  auto request = get();
  request.if_none_match = "\"stale\"";
  request.if_modified_since = "Wed, 15 Nov 2023 00:00:00 GMT";
  EXPECT_EQ(build(file, request).status, 200);
}

TEST(StaticResponse, HeadCanBeNotModified) {
  auto file = makeFile("x");
  auto request = get();
  request.method = "HEAD";
  request.if_none_match = "\"etag-1\"";
  EXPECT_EQ(build(file, request).status, 304);
}

TEST(StaticResponse, RangeGives206) {
  auto file = makeFile("0123456789");
  auto request = get();
  request.range = "bytes=2-5";
  auto reply = build(file, request);
  EXPECT_EQ(reply.status, 206);
  EXPECT_EQ(reply.head.rfind("HTTP/1.1 206 Partial Content\r\n", 0), 0u);
  EXPECT_TRUE(has(reply.head, "Content-Range: bytes 2-5/10"));
  EXPECT_TRUE(has(reply.head, "Content-Length: 4"));
  EXPECT_TRUE(has(reply.head, "Content-Type: text/javascript; charset=utf-8"));
  EXPECT_TRUE(has(reply.head, "ETag: \"etag-10\""));
  EXPECT_EQ(reply.body, "2345");

  request.range = "bytes=-3";
  reply = build(file, request);
  EXPECT_EQ(reply.status, 206);
  EXPECT_TRUE(has(reply.head, "Content-Range: bytes 7-9/10"));
  EXPECT_EQ(reply.body, "789");

  request.range = "bytes=8-";
  reply = build(file, request);
  EXPECT_TRUE(has(reply.head, "Content-Range: bytes 8-9/10"));
  EXPECT_EQ(reply.body, "89");
}

TEST(StaticResponse, UnsatisfiableRangeGives416) {
  auto file = makeFile("0123456789");
  auto request = get();
  request.range = "bytes=10-";
  auto reply = build(file, request);
  EXPECT_EQ(reply.status, 416);
  EXPECT_EQ(reply.head.rfind("HTTP/1.1 416 Range Not Satisfiable\r\n", 0), 0u);
  EXPECT_TRUE(has(reply.head, "Content-Range: bytes */10"));
  EXPECT_TRUE(has(reply.head, "Content-Length: 0"));
  EXPECT_TRUE(reply.body.empty());
}

TEST(StaticResponse, MalformedOrMultipleRangesGiveTheWholeFile) {
  auto file = makeFile("0123456789");
  auto request = get();
  for (std::string_view range : {"bytes=0-1,4-5", "bytes=x-y", "lines=1-2"}) {
    request.range = range;
    auto reply = build(file, request);
    EXPECT_EQ(reply.status, 200) << range;
    EXPECT_EQ(reply.body, "0123456789");
  }
}

TEST(StaticResponse, IfRangeGuardsTheRange) {
  auto file = makeFile("0123456789");
  auto request = get();
  request.range = "bytes=0-1";
  request.if_range = "\"etag-10\"";
  EXPECT_EQ(build(file, request).status, 206);
  request.if_range = "Tue, 14 Nov 2023 22:13:20 GMT";
  EXPECT_EQ(build(file, request).status, 206);
  request.if_range = "\"changed\"";
  EXPECT_EQ(build(file, request).status, 200);
  request.if_range = "W/\"etag-10\"";  // weak validators never satisfy If-Range
  EXPECT_EQ(build(file, request).status, 200);
  request.if_range = "Tue, 14 Nov 2023 22:13:21 GMT";
  EXPECT_EQ(build(file, request).status, 200);
}

TEST(StaticResponse, ConditionalBeatsRange) {
  auto file = makeFile("0123456789");
  auto request = get();
  request.range = "bytes=0-1";
  request.if_none_match = "\"etag-10\"";
  EXPECT_EQ(build(file, request).status, 304);
}

TEST(StaticResponse, HeadIgnoresRange) {
  auto file = makeFile("0123456789");
  auto request = get();
  request.method = "HEAD";
  request.range = "bytes=0-1";
  auto reply = build(file, request);
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(has(reply.head, "Content-Length: 10"));
  EXPECT_TRUE(reply.body.empty());
}

TEST(StaticResponse, OtherMethodsGet405) {
  auto file = makeFile("x");
  for (std::string_view method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get"}) {
    auto request = get();
    request.method = method;
    auto reply = build(file, request);
    EXPECT_EQ(reply.status, 405) << method;
    EXPECT_EQ(reply.head.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u);
    EXPECT_TRUE(has(reply.head, "Allow: GET, HEAD"));
    EXPECT_TRUE(has(reply.head, "Content-Length: 0"));
    EXPECT_FALSE(hasHeader(reply.head, "ETag"));
    EXPECT_TRUE(reply.body.empty());
  }
}

TEST(StaticResponse, GzipVariant) {
  auto file = makeFileWithVariants();
  auto request = get();
  request.accept_encoding = "gzip, deflate";
  auto reply = build(file, request);
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(has(reply.head, "Content-Encoding: gzip"));
  EXPECT_TRUE(has(reply.head, "Vary: Accept-Encoding"));
  EXPECT_TRUE(has(reply.head, "Content-Length: 4"));
  // The resource's type, not application/gzip.
  EXPECT_TRUE(has(reply.head, "Content-Type: text/javascript; charset=utf-8"));
  EXPECT_TRUE(has(reply.head, "ETag: \"etag-4-gzip\""));
  EXPECT_EQ(reply.body, "GZIP");
  EXPECT_EQ(reply.keeper.get(), file.get());
}

TEST(StaticResponse, BrotliIsPreferred) {
  auto file = makeFileWithVariants();
  auto request = get();
  request.accept_encoding = "gzip, deflate, br, zstd";
  auto reply = build(file, request);
  EXPECT_TRUE(has(reply.head, "Content-Encoding: br"));
  EXPECT_TRUE(has(reply.head, "Content-Length: 2"));
  EXPECT_EQ(reply.body, "BR");
  // ...unless the client ranks gzip higher or refuses br.
  request.accept_encoding = "gzip;q=1, br;q=0.5";
  EXPECT_TRUE(has(build(file, request).head, "Content-Encoding: gzip"));
  request.accept_encoding = "gzip, br;q=0";
  EXPECT_TRUE(has(build(file, request).head, "Content-Encoding: gzip"));
  request.accept_encoding = "*";
  EXPECT_TRUE(has(build(file, request).head, "Content-Encoding: br"));
}

TEST(StaticResponse, IdentityWhenNothingAcceptableButStillVary) {
  auto file = makeFileWithVariants();
  for (std::string_view ae : {"", "identity", "deflate", "gzip;q=0, br;q=0"}) {
    auto request = get();
    request.accept_encoding = ae;
    auto reply = build(file, request);
    EXPECT_EQ(reply.status, 200) << ae;
    EXPECT_FALSE(hasHeader(reply.head, "Content-Encoding")) << ae;
    EXPECT_TRUE(has(reply.head, "Vary: Accept-Encoding")) << ae;
    EXPECT_EQ(reply.body, "console.log('hello, world')");
  }
}

TEST(StaticResponse, OnlyTheExistingVariantIsOffered) {
  auto file = makeFile("plain");
  file->gzip = makeFile("GZ", false, "-gzip");
  auto request = get();
  request.accept_encoding = "br";
  auto reply = build(file, request);
  EXPECT_FALSE(hasHeader(reply.head, "Content-Encoding"));
  EXPECT_TRUE(has(reply.head, "Vary: Accept-Encoding"));
  request.accept_encoding = "br, gzip";
  EXPECT_TRUE(has(build(file, request).head, "Content-Encoding: gzip"));
}

TEST(StaticResponse, RangeIsNeverServedFromACompressedVariant) {
  auto file = makeFileWithVariants();
  auto request = get();
  request.accept_encoding = "gzip, br";
  request.range = "bytes=0-6";
  auto reply = build(file, request);
  EXPECT_EQ(reply.status, 206);
  EXPECT_FALSE(hasHeader(reply.head, "Content-Encoding"));
  EXPECT_TRUE(has(reply.head, "Vary: Accept-Encoding"));
  EXPECT_TRUE(has(reply.head, "Content-Range: bytes 0-6/27"));
  EXPECT_EQ(reply.body, "console");
}

TEST(StaticResponse, NotModifiedComparesTheChosenVariant) {
  auto file = makeFileWithVariants();
  auto request = get();
  request.accept_encoding = "gzip";
  request.if_none_match = "\"etag-4-gzip\"";
  auto reply = build(file, request);
  EXPECT_EQ(reply.status, 304);
  EXPECT_TRUE(has(reply.head, "ETag: \"etag-4-gzip\""));
  EXPECT_TRUE(has(reply.head, "Vary: Accept-Encoding"));
  EXPECT_FALSE(hasHeader(reply.head, "Content-Encoding"));
  // The same tag does not validate the identity representation.
  request.accept_encoding = "";
  EXPECT_EQ(build(file, request).status, 200);
}

TEST(StaticResponse, EmptyFile) {
  auto file = makeFile("");
  auto reply = build(file, get());
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(has(reply.head, "Content-Length: 0"));
  EXPECT_TRUE(reply.body.empty());
  auto request = get();
  request.range = "bytes=0-";
  EXPECT_EQ(build(file, request).status, 416);
}

TEST(StaticResponse, FromAParsedRequest) {
  hyperion::http1::Request parsed;
  parsed.method = "GET";
  parsed.target = "/app.js";
  parsed.version_minor = 0;
  parsed.keep_alive = false;
  parsed.headers = {{"Accept-Encoding", "br"},
                    {"If-None-Match", "\"a\""},
                    {"If-Modified-Since", "Tue, 14 Nov 2023 22:13:20 GMT"},
                    {"RANGE", "bytes=0-1"},
                    {"if-range", "\"b\""}};
  const StaticRequest request = toStaticRequest(parsed);
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.accept_encoding, "br");
  EXPECT_EQ(request.if_none_match, "\"a\"");
  EXPECT_EQ(request.if_modified_since, "Tue, 14 Nov 2023 22:13:20 GMT");
  EXPECT_EQ(request.range, "bytes=0-1");
  EXPECT_EQ(request.if_range, "\"b\"");
}

// The decision itself names no protocol: what an h2 session would turn into
// a HEADERS frame is the representation's headers, without Date, Server or
// connection management.
TEST(StaticResponse, TheReplysHeadersAreProtocolNeutral) {
  auto file = makeFileWithVariants();
  auto request = get();
  request.accept_encoding = "gzip";
  const StaticReply reply = buildStaticReply(file, request);
  std::vector<std::pair<std::string, std::string>> headers;
  reply.forEachHeader([&](std::string_view name, std::string_view value) { headers.emplace_back(name, value); });
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"Content-Type", "text/javascript; charset=utf-8"},
      {"Content-Length", "4"},
      {"Last-Modified", "Tue, 14 Nov 2023 22:13:20 GMT"},
      {"ETag", "\"etag-4-gzip\""},
      {"Accept-Ranges", "bytes"},
      {"Content-Encoding", "gzip"},
      {"Vary", "Accept-Encoding"}};
  EXPECT_EQ(headers, expected);
  EXPECT_EQ(reply.body, "GZIP");

  request.accept_encoding = "";
  request.range = "bytes=2-5";
  const StaticReply partial = buildStaticReply(file, request);
  headers.clear();
  partial.forEachHeader([&](std::string_view name, std::string_view value) { headers.emplace_back(name, value); });
  EXPECT_EQ(partial.status, 206);
  EXPECT_EQ(headers[1], (std::pair<std::string, std::string>{"Content-Length", "4"}));
  EXPECT_EQ(headers[2], (std::pair<std::string, std::string>{"Content-Range", "bytes 2-5/27"}));
  EXPECT_EQ(partial.body, "nsol");
}
