#include "hyperion/static/static_response.hpp"

#include "hyperion/http/http_date.hpp"
#include "hyperion/static/negotiation.hpp"

namespace hyperion::static_files {
namespace {

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

}  // namespace

StaticRequest toStaticRequest(const http1::Request& request) {
  StaticRequest out;
  out.method = request.method;
  out.if_none_match = headerOrEmpty(request, "if-none-match");
  out.if_modified_since = headerOrEmpty(request, "if-modified-since");
  out.range = headerOrEmpty(request, "range");
  out.accept_encoding = headerOrEmpty(request, "accept-encoding");
  out.if_range = headerOrEmpty(request, "if-range");
  return out;
}

StaticReply buildStaticReply(const std::shared_ptr<const CachedFile>& file, const StaticRequest& request) {
  StaticReply reply;
  reply.keeper = file;
  reply.resource = file.get();
  reply.representation = file.get();

  const bool is_get = request.method == "GET";
  const bool is_head = request.method == "HEAD";
  if (!is_get && !is_head) {
    reply.status = 405;
    return reply;
  }

  const bool range_applies = is_get && !request.range.empty();
  const Chosen chosen = chooseRepresentation(*file, request, range_applies);
  const CachedFile& representation = *chosen.representation;
  reply.representation = &representation;
  reply.coding = chosen.coding;
  reply.vary = file->hasVariants();

  if (notModified(representation, request)) {
    reply.status = 304;
    return reply;
  }

  RangeDecision decision;
  if (range_applies && ifRangeAllows(representation, request.if_range)) {
    decision = decideRange(request.range, representation.size);
  }
  if (decision.kind == RangeKind::Unsatisfiable) {
    reply.status = 416;
    return reply;
  }

  std::string_view body = representation.body;
  if (decision.kind == RangeKind::Partial) {
    reply.status = 206;
    reply.range = decision.range;
    body = body.substr(decision.range.first, decision.range.length());
  }
  reply.content_length = body.size();
  if (is_get) reply.body = body;
  return reply;
}

}  // namespace hyperion::static_files
