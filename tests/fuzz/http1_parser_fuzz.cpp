// libFuzzer: bytes from a client into the HTTP/1 request parser, in pieces
// whose sizes come from the input itself (a request split anywhere must
// parse as when it arrives whole), taking every request it yields, as the
// session does, until it fails or the bytes run out.
#include <cstddef>
#include <cstdint>
#include <string>

#include "hyperion/config/settings.hpp"
#include "hyperion/http1/request_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  hyperion::config::Limits limits;
  limits.max_header_bytes = 8 * 1024;
  limits.max_uri_bytes = 2 * 1024;
  limits.max_body_bytes = 64 * 1024;
  limits.body_memory_bytes = 4 * 1024;  // bigger bodies exercise the temp-file path
  hyperion::http1::RequestParser parser(limits, "/tmp");
  const std::size_t piece = 1 + data[0] % 64;
  std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  std::size_t offset = 0;
  std::size_t fed = 0;
  while (fed < input.size() || offset < fed) {
    fed = std::min(input.size(), fed + piece);
    while (offset < fed) {
      auto outcome = parser.feed(input.data() + offset, fed - offset);
      if (outcome.status == hyperion::http1::RequestParser::Status::Failed) return 0;
      offset += outcome.consumed;
      parser.takeContinueRequest();
      if (outcome.status == hyperion::http1::RequestParser::Status::NeedMore) break;
      hyperion::http1::Request request = parser.takeRequest();
      (void)request.path();
      (void)request.query();
      (void)request.header("host");
      if (request.upgrade) return 0;  // the rest belongs to another protocol
    }
    if (fed == input.size() && offset < fed) {
      // Everything arrived and the parser wants more: as at a client's EOF.
      break;
    }
  }
  return 0;
}
