// libFuzzer: bytes from a client into the WebSocket frame parser, with and
// without permessage-deflate (so the inflater sees arbitrary DEFLATE data),
// in pieces whose sizes come from the input. The first byte picks the
// piece size and the extension parameters. Also checks what must hold for
// every message that parses: a text message is valid UTF-8, no message is
// larger than the limit.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/websocket/frame_parser.hpp"
#include "hyperion/websocket/utf8.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hyperion::websocket;
  if (size < 1) return 0;
  const std::uint8_t control = data[0];
  std::optional<DeflateParams> deflate;
  if (control & 0x80) {
    DeflateParams params;
    params.client_no_context_takeover = control & 0x40;
    params.server_no_context_takeover = control & 0x20;
    deflate = params;
  }
  constexpr std::size_t kLimit = 64 * 1024;
  FrameParser parser(kLimit, deflate);
  const std::size_t piece = 1 + (control & 0x1F) * 7;
  std::vector<Message> out;
  for (std::size_t at = 1; at < size; at += piece) {
    const std::size_t n = std::min(piece, size - at);
    const bool ok = parser.feed(reinterpret_cast<const char*>(data + at), n, out);
    for (const auto& m : out) {
      if (m.payload.size() > kLimit) __builtin_trap();
      if (m.kind == Message::Kind::Text || m.kind == Message::Kind::Close) {
        Utf8Validator v;
        if (!v.feed(m.payload.data(), m.payload.size()) || !v.complete()) __builtin_trap();
      }
    }
    out.clear();
    if (!ok) {
      if (parser.failure().code == 0) __builtin_trap();
      return 0;
    }
  }
  return 0;
}
