#pragma once
// The answer for a cached file, decided once for every protocol: content
// negotiation, conditional requests and ranges give a status, the
// representation-level headers and a slice of the body. Each protocol's
// session renders it (HTTP/1: status line, Date, Server, Connection).
#include <charconv>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "hyperion/http1/request.hpp"
#include "hyperion/static/byte_range.hpp"
#include "hyperion/static/cached_file.hpp"

namespace hyperion::static_files {

// Views into the request: they must outlive the buildStaticReply() call only.
struct StaticRequest {
  std::string_view method;
  std::string_view if_none_match, if_modified_since, range, accept_encoding;
  std::string_view if_range;  // a Range is honoured only if this validator still matches
};

StaticRequest toStaticRequest(const http1::Request& request);

inline constexpr std::string_view kImmutableCacheControl = "public, max-age=31536000, immutable";

struct StaticReply {
  int status = 200;  // 200, 206, 304, 416, or 405 for methods other than GET/HEAD
  const CachedFile* resource = nullptr;        // the file asked for: its type is the response's
  const CachedFile* representation = nullptr;  // the bytes chosen: the file or its .gz/.br sibling
  std::string_view coding;                     // Content-Encoding; empty for identity
  bool vary = false;                           // the answer depends on Accept-Encoding
  std::uint64_t content_length = 0;            // what Content-Length says (a HEAD's is the GET's)
  ByteRange range;                             // 206
  std::string_view body;                       // slice of the chosen entry's body; empty for HEAD/304/416/405
  std::shared_ptr<const CachedFile> keeper;    // keeps `body` and the header values alive while written

  // Calls emit(name, value) for each header that describes the
  // representation (everything but Date, Server and connection management);
  // the views are valid during the call.
  template <class Emit>
  void forEachHeader(Emit&& emit) const;
};

// Order of decisions, after RFC 9110 section 13.2.2: method; representation
// (br, then gzip, if accepted with q > 0 and present; never for a Range, whose
// offsets must be into the identity bytes); If-None-Match, else If-Modified-Since
// (304); then Range, guarded by If-Range (206/416), and only for GET, as RFC
// 9110 section 14.2 requires: a HEAD with a Range gets the plain 200 head.
StaticReply buildStaticReply(const std::shared_ptr<const CachedFile>& file, const StaticRequest& request);

template <class Emit>
void StaticReply::forEachHeader(Emit&& emit) const {
  char number[24];
  const auto decimal = [&number](std::uint64_t value) {
    return std::string_view(number, static_cast<std::size_t>(std::to_chars(number, number + sizeof number, value).ptr - number));
  };
  const auto validators = [&] {
    emit("Last-Modified", representation->last_modified);
    emit("ETag", representation->etag);
    if (representation->immutable) emit("Cache-Control", kImmutableCacheControl);
  };
  switch (status) {
    case 405:
      emit("Allow", "GET, HEAD");
      emit("Content-Length", "0");
      return;
    case 304:
      validators();
      break;
    case 416: {
      std::string content_range = "bytes */";
      content_range.append(decimal(representation->size));
      emit("Content-Range", content_range);
      emit("Content-Length", "0");
      emit("Accept-Ranges", "bytes");
      break;
    }
    default: {
      emit("Content-Type", resource->content_type);  // the resource's, not the .gz/.br file's
      emit("Content-Length", decimal(content_length));
      if (status == 206) {
        std::string content_range = "bytes ";
        content_range.append(decimal(range.first)).append("-").append(decimal(range.last)).append("/");
        content_range.append(decimal(representation->size));
        emit("Content-Range", content_range);
      }
      validators();
      emit("Accept-Ranges", "bytes");
      if (!coding.empty()) emit("Content-Encoding", coding);
      break;
    }
  }
  // Every answer that depends on Accept-Encoding says so, 304 included, so
  // shared caches keep the encodings apart.
  if (vary) emit("Vary", "Accept-Encoding");
}

}  // namespace hyperion::static_files
