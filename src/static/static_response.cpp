#include "hyperion/static/static_response.hpp"

#include <fmt/format.h>

#include "hyperion/http1/response.hpp"
#include "hyperion/static/byte_range.hpp"
#include "hyperion/http/http_date.hpp"
#include "hyperion/http/server_header.hpp"
#include "hyperion/static/negotiation.hpp"

namespace hyperion::static_files {
namespace {

constexpr std::string_view kImmutableCacheControl = "public, max-age=31536000, immutable";

std::string_view headerOrEmpty(const http1::Request& request, std::string_view name) {
  const std::string* value = request.header(name);
  return value ? std::string_view(*value) : std::string_view{};
}

struct Chosen {
  const CachedFile* representation;
  std::string_view coding;  // empty for identity
};

Chosen chooseRepresentation(const CachedFile& file, const StaticRequest& request, bool range_applies) {
  if (range_applies || !file.hasVariants()) return {&file, {}};
  const int brotli = file.brotli ? acceptedQuality(request.accept_encoding, "br") : 0;
  const int gzip = file.gzip ? acceptedQuality(request.accept_encoding, "gzip") : 0;
  // br wins ties: it is the smaller of the two for the same content.
  if (brotli > 0 && brotli >= gzip) return {file.brotli.get(), "br"};
  if (gzip > 0) return {file.gzip.get(), "gzip"};
  return {&file, {}};
}

bool notModified(const CachedFile& representation, const StaticRequest& request) {
  // If-Modified-Since is only consulted without If-None-Match (RFC 9110 section 13.1.3).
  if (!request.if_none_match.empty()) return etagListMatchesWeakly(request.if_none_match, representation.etag);
  if (request.if_modified_since.empty()) return false;
  const auto since = http::parseHttpDate(request.if_modified_since);
  return since && *since >= representation.mtime.tv_sec;
}

// If-Range: the Range stands only if the client's copy is still current;
// otherwise it gets the whole new representation instead of a mismatched piece.
bool ifRangeAllows(const CachedFile& representation, std::string_view if_range) {
  if (if_range.empty()) return true;
  if (if_range.front() == '"' || if_range.substr(0, 2) == "W/") {
    return etagMatchesStrongly(if_range, representation.etag);
  }
  const auto date = http::parseHttpDate(if_range);
  return date && *date == representation.mtime.tv_sec;
}

void appendHeader(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

void startHead(std::string& out, int status, const StaticRequest& request) {
  out.reserve(384);
  out.append(request.version_minor >= 1 ? "HTTP/1.1 " : "HTTP/1.0 ");
  fmt::format_to(std::back_inserter(out), "{} {}\r\n", status, http1::reasonPhrase(status));
  appendHeader(out, "Date", http::currentHttpDate());
  appendHeader(out, "Server", http::kServerName);
}

void finishHead(std::string& out, const StaticRequest& request) {
  if (!request.keep_alive) {
    appendHeader(out, "Connection", "close");
  } else if (request.version_minor == 0) {
    appendHeader(out, "Connection", "keep-alive");
  }
  out.append("\r\n");
}

void appendValidators(std::string& out, const CachedFile& representation) {
  appendHeader(out, "Last-Modified", representation.last_modified);
  appendHeader(out, "ETag", representation.etag);
  if (representation.immutable) appendHeader(out, "Cache-Control", kImmutableCacheControl);
}

}  // namespace

StaticRequest toStaticRequest(const http1::Request& request) {
  StaticRequest out;
  out.method = request.method;
  out.if_none_match = headerOrEmpty(request, "if-none-match");
  out.if_modified_since = headerOrEmpty(request, "if-modified-since");
  out.range = headerOrEmpty(request, "range");
  out.accept_encoding = headerOrEmpty(request, "accept-encoding");
  out.if_range = headerOrEmpty(request, "if-range");
  out.version_minor = request.version_minor;
  out.keep_alive = request.keep_alive;
  return out;
}

StaticReply buildStaticReply(const std::shared_ptr<const CachedFile>& file, const StaticRequest& request) {
  StaticReply reply;
  reply.keeper = file;
  std::string& out = reply.head;

  const bool is_get = request.method == "GET";
  const bool is_head = request.method == "HEAD";
  if (!is_get && !is_head) {
    reply.status = 405;
    startHead(out, reply.status, request);
    appendHeader(out, "Allow", "GET, HEAD");
    appendHeader(out, "Content-Length", "0");
    finishHead(out, request);
    return reply;
  }

  const bool range_applies = is_get && !request.range.empty();
  const Chosen chosen = chooseRepresentation(*file, request, range_applies);
  const CachedFile& representation = *chosen.representation;
  // Every answer that depends on Accept-Encoding says so, 304 included, so
  // shared caches keep the encodings apart.
  const bool vary = file->hasVariants();

  if (notModified(representation, request)) {
    reply.status = 304;
    startHead(out, reply.status, request);
    appendValidators(out, representation);
    if (vary) appendHeader(out, "Vary", "Accept-Encoding");
    finishHead(out, request);
    return reply;
  }

  RangeDecision decision;
  if (range_applies && ifRangeAllows(representation, request.if_range)) {
    decision = decideRange(request.range, representation.size);
  }

  if (decision.kind == RangeKind::Unsatisfiable) {
    reply.status = 416;
    startHead(out, reply.status, request);
    appendHeader(out, "Content-Range", fmt::format("bytes */{}", representation.size));
    appendHeader(out, "Content-Length", "0");
    appendHeader(out, "Accept-Ranges", "bytes");
    if (vary) appendHeader(out, "Vary", "Accept-Encoding");
    finishHead(out, request);
    return reply;
  }

  const std::string_view whole_body = representation.body;
  std::string_view body = whole_body;
  reply.status = 200;
  if (decision.kind == RangeKind::Partial) {
    reply.status = 206;
    body = whole_body.substr(decision.range.first, decision.range.length());
  }

  startHead(out, reply.status, request);
  // The type is the resource's, not the .gz/.br file's.
  appendHeader(out, "Content-Type", file->content_type);
  appendHeader(out, "Content-Length", fmt::format("{}", body.size()));
  if (reply.status == 206) {
    appendHeader(out, "Content-Range",
                 fmt::format("bytes {}-{}/{}", decision.range.first, decision.range.last, representation.size));
  }
  appendValidators(out, representation);
  appendHeader(out, "Accept-Ranges", "bytes");
  if (!chosen.coding.empty()) appendHeader(out, "Content-Encoding", chosen.coding);
  if (vary) appendHeader(out, "Vary", "Accept-Encoding");
  finishHead(out, request);

  if (is_get) reply.body = body;
  return reply;
}

}  // namespace hyperion::static_files
