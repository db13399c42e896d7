#pragma once
// The opening handshake (RFC 6455 section 4.2): whether an HTTP/1.1 request
// asks for a WebSocket, whether it may have one, and the 101 that accepts
// it, with the subprotocol the app chose and the permessage-deflate
// parameters (RFC 7692) we agree to. Pure functions of the request.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hyperion/config/settings.hpp"
#include "hyperion/http1/request.hpp"
#include "hyperion/websocket/deflate.hpp"

namespace hyperion::websocket {

// How willing we are (--ws-deflate): Off never agrees to the extension.
using DeflateMode = config::WsDeflateMode;

struct UpgradeCheck {
  enum class Verdict { NotWebSocket, Accept, Reject };
  Verdict verdict = Verdict::NotWebSocket;
  int status = 0;      // Reject: 400, 403 or 426
  std::string reason;  // Reject: for the log and the body
  std::string key;     // Accept: Sec-WebSocket-Key
};

// Upgrade: websocket is what makes a request a WebSocket request; then it
// must be a GET over HTTP/1.1 with Connection: upgrade, version 13 (else
// 426) and a key that is base64 of 16 bytes. `allowed_origins` empty: any
// Origin; otherwise Origin must be one of them (else 403).
UpgradeCheck checkUpgrade(const http1::Request& request, const std::vector<std::string>& allowed_origins);

// Sec-WebSocket-Accept: base64(SHA-1(key + the RFC's GUID)).
std::string acceptValue(std::string_view key);

// The subprotocols the client offered (Sec-WebSocket-Protocol, in order).
std::vector<std::string> offeredProtocols(const http1::Request& request);

// The first permessage-deflate offer in Sec-WebSocket-Extensions we can
// honour exactly, with the Sec-WebSocket-Extensions value that answers it;
// nullopt when there is none or the mode is Off.
struct DeflateAgreement {
  DeflateParams params;
  std::string response;  // "permessage-deflate; ..."
};
std::optional<DeflateAgreement> negotiateDeflate(std::string_view extensions, DeflateMode mode);

// The whole 101 response head.
std::string switchingProtocolsHead(std::string_view key, std::string_view protocol, std::string_view extensions);

// Whether a comma-separated header value holds `token` (case-insensitive).
bool headerHasToken(std::string_view value, std::string_view token);

}  // namespace hyperion::websocket
