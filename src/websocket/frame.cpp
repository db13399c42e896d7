#include "hyperion/websocket/frame.hpp"

namespace hyperion::websocket {

bool validCloseCode(std::uint16_t code) {
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011);
}

void appendFrameHeader(std::string& out, Opcode opcode, std::uint64_t length, bool fin, bool rsv1) {
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | static_cast<std::uint8_t>(opcode)));
  if (length < 126) {
    out.push_back(static_cast<char>(length));
  } else if (length <= 0xFFFF) {
    out.push_back(126);
    out.push_back(static_cast<char>(length >> 8));
    out.push_back(static_cast<char>(length & 0xFF));
  } else {
    out.push_back(127);
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((length >> shift) & 0xFF));
  }
}

std::string buildFrame(Opcode opcode, std::string_view payload, bool rsv1) {
  std::string out;
  out.reserve(payload.size() + 10);
  appendFrameHeader(out, opcode, payload.size(), true, rsv1);
  out.append(payload);
  return out;
}

std::string closePayload(std::uint16_t code, std::string_view reason) {
  constexpr std::size_t kMaxReason = 123;
  if (reason.size() > kMaxReason) {
    std::size_t cut = kMaxReason;
    while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) --cut;  // not mid-character
    reason = reason.substr(0, cut);
  }
  std::string out;
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xFF));
  out.append(reason);
  return out;
}

}  // namespace hyperion::websocket
