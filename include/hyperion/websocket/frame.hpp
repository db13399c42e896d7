#pragma once
// WebSocket frames as the server writes them (RFC 6455 section 5.2): never
// masked, one frame per message (we do not fragment what we send).
#include <cstdint>
#include <string>
#include <string_view>

namespace hyperion::websocket {

enum class Opcode : std::uint8_t { Continuation = 0x0, Text = 0x1, Binary = 0x2, Close = 0x8, Ping = 0x9, Pong = 0xA };

// Close codes this server sends or checks (RFC 6455 section 7.4.1).
namespace close_code {
inline constexpr std::uint16_t kNormal = 1000;
inline constexpr std::uint16_t kGoingAway = 1001;
inline constexpr std::uint16_t kProtocolError = 1002;
inline constexpr std::uint16_t kNoStatus = 1005;    // never on the wire: "the close frame had no code"
inline constexpr std::uint16_t kAbnormal = 1006;    // never on the wire: "no close frame at all"
inline constexpr std::uint16_t kInvalidData = 1007;
inline constexpr std::uint16_t kPolicy = 1008;
inline constexpr std::uint16_t kTooBig = 1009;
inline constexpr std::uint16_t kInternalError = 1011;
}  // namespace close_code

// Whether a peer may send `code` in a close frame (1000-1003, 1007-1011,
// 3000-4999; 1004-1006 and 1015 are reserved, the rest unassigned).
bool validCloseCode(std::uint16_t code);

// The 2 to 10 header bytes of an unmasked frame carrying `length` bytes.
void appendFrameHeader(std::string& out, Opcode opcode, std::uint64_t length, bool fin = true, bool rsv1 = false);
// A whole frame: header then payload.
std::string buildFrame(Opcode opcode, std::string_view payload, bool rsv1 = false);
// A close frame's payload: the code, then the reason cut to fit a control
// frame (125 bytes in all) at a UTF-8 character boundary.
std::string closePayload(std::uint16_t code, std::string_view reason);

}  // namespace hyperion::websocket
