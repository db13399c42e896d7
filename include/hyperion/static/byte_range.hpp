#pragma once
// Range requests (RFC 9110 section 14) for cached files: one byte range at most.
#include <cstdint>
#include <string_view>

namespace hyperion::static_files {

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
  std::uint64_t length() const { return last - first + 1; }
};

enum class RangeKind {
  Whole,          // no usable Range: answer 200 with everything
  Partial,        // answer 206 with `range`
  Unsatisfiable,  // answer 416 with "Content-Range: bytes */size"
};

struct RangeDecision {
  RangeKind kind = RangeKind::Whole;
  ByteRange range;  // meaningful only for Partial
};

// "bytes=0-99", "bytes=100-", "bytes=-500". Anything we do not serve as one
// range (malformed, another unit, several ranges) is ignored, which RFC 9110
// allows: the client gets the whole representation with 200. Multipart
// byteranges are not worth their complexity for a static file server.
RangeDecision decideRange(std::string_view range_header, std::uint64_t size);

}  // namespace hyperion::static_files
