#pragma once
// The HTTP/1.x answer for a cached file: content negotiation, conditional
// requests and ranges decided here, so the event loop only writes head + body.
#include <memory>
#include <string>
#include <string_view>

#include "hyperion/http1/request.hpp"
#include "hyperion/static/cached_file.hpp"

namespace hyperion::static_files {

// Views into the request: they must outlive the buildStaticReply() call only.
struct StaticRequest {
  std::string_view method;
  std::string_view if_none_match, if_modified_since, range, accept_encoding;
  std::string_view if_range;  // a Range is honoured only if this validator still matches
  int version_minor = 1;
  bool keep_alive = true;
};

StaticRequest toStaticRequest(const http1::Request& request);

struct StaticReply {
  int status = 200;                          // 200, 206, 304, 416, or 405 for methods other than GET/HEAD
  std::string head;                          // status line + headers + blank line
  std::string_view body;                     // slice of the chosen entry's body; empty for HEAD/304/416/405
  std::shared_ptr<const CachedFile> keeper;  // keeps `body` alive while it is written
};

// Order of decisions, after RFC 9110 section 13.2.2: method; representation
// (br, then gzip, if accepted with q > 0 and present; never for a Range, whose
// offsets must be into the identity bytes); If-None-Match, else If-Modified-Since
// (304); then Range, guarded by If-Range (206/416), and only for GET, as RFC
// 9110 section 14.2 requires: a HEAD with a Range gets the plain 200 head.
StaticReply buildStaticReply(const std::shared_ptr<const CachedFile>& file, const StaticRequest& request);

}  // namespace hyperion::static_files
