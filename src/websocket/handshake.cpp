#include "hyperion/websocket/handshake.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <charconv>

#include "hyperion/http1/h2c_upgrade.hpp"

namespace hyperion::websocket {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls fn(piece) for each `sep`-separated piece of s, trimmed.
template <class Fn>
void forEachPiece(std::string_view s, char sep, Fn fn) {
  while (true) {
    const std::size_t at = s.find(sep);
    fn(trim(s.substr(0, at)));
    if (at == std::string_view::npos) return;
    s.remove_prefix(at + 1);
  }
}

UpgradeCheck reject(int status, std::string reason) {
  UpgradeCheck check;
  check.verdict = UpgradeCheck::Verdict::Reject;
  check.status = status;
  check.reason = std::move(reason);
  return check;
}

}  // namespace

bool headerHasToken(std::string_view value, std::string_view token) {
  bool found = false;
  forEachPiece(value, ',', [&](std::string_view piece) { found = found || http1::equalsIgnoreCase(piece, token); });
  return found;
}

UpgradeCheck checkUpgrade(const http1::Request& request, const std::vector<std::string>& allowed_origins) {
  const std::string* upgrade = request.header("upgrade");
  if (!upgrade || !headerHasToken(*upgrade, "websocket")) return {};
  if (request.method != "GET") return reject(400, "WebSocket upgrade must be a GET");
  if (request.version_major != 1 || request.version_minor < 1) return reject(400, "WebSocket upgrade needs HTTP/1.1");
  const std::string* connection = request.header("connection");
  if (!connection || !headerHasToken(*connection, "upgrade"))
    return reject(400, "WebSocket upgrade without Connection: upgrade");
  const std::string* version = request.header("sec-websocket-version");
  if (!version || trim(*version) != "13") return reject(426, "unsupported Sec-WebSocket-Version");
  const std::string* key = request.header("sec-websocket-key");
  if (!key) return reject(400, "missing Sec-WebSocket-Key");
  const std::string_view key_text = trim(*key);
  auto decoded = key_text.size() == 24 ? http1::decodeBase64Url(key_text) : std::nullopt;
  if (!decoded || decoded->size() != 16) return reject(400, "Sec-WebSocket-Key is not base64 of 16 bytes");
  if (!allowed_origins.empty()) {
    const std::string* origin = request.header("origin");
    bool allowed = false;
    if (origin)
      for (const auto& o : allowed_origins) allowed = allowed || http1::equalsIgnoreCase(o, trim(*origin));
    if (!allowed) return reject(403, "Origin " + (origin ? *origin : std::string("(none)")) + " not allowed");
  }
  UpgradeCheck check;
  check.verdict = UpgradeCheck::Verdict::Accept;
  check.key = std::string(key_text);
  return check;
}

std::string acceptValue(std::string_view key) {
  static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input(key);
  input.append(kGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(encoded), static_cast<std::size_t>(n));
}

std::vector<std::string> offeredProtocols(const http1::Request& request) {
  std::vector<std::string> out;
  for (const auto& header : request.headers) {
    if (!http1::equalsIgnoreCase(header.name, "sec-websocket-protocol")) continue;
    forEachPiece(header.value, ',', [&](std::string_view p) {
      if (!p.empty()) out.emplace_back(p);
    });
  }
  return out;
}

std::optional<DeflateAgreement> negotiateDeflate(std::string_view extensions, DeflateMode mode) {
  if (mode == DeflateMode::Off) return std::nullopt;
  std::optional<DeflateAgreement> chosen;
  forEachPiece(extensions, ',', [&](std::string_view offer) {
    if (chosen) return;
    bool first = true, ok = true, is_deflate = false;
    DeflateParams params;
    bool client_bits_offered = false;
    std::optional<int> client_bits, server_bits;
    std::vector<std::string_view> seen;
    forEachPiece(offer, ';', [&](std::string_view param) {
      if (first) {
        first = false;
        is_deflate = param == "permessage-deflate";
        return;
      }
      if (!is_deflate || !ok) return;
      const std::size_t eq = param.find('=');
      const std::string_view name = trim(param.substr(0, eq));
      std::string_view value = eq == std::string_view::npos ? std::string_view{} : trim(param.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      for (auto s : seen) ok = ok && s != name;  // a parameter twice: this offer is invalid (RFC 7692 5.1)
      seen.push_back(name);
      auto bits = [&]() -> std::optional<int> {
        int v = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
        if (ec != std::errc() || end != value.data() + value.size() || v < 8 || v > 15) return std::nullopt;
        return v;
      };
      if (name == "server_no_context_takeover" && value.empty()) params.server_no_context_takeover = true;
      else if (name == "client_no_context_takeover" && value.empty()) params.client_no_context_takeover = true;
      else if (name == "server_max_window_bits" && (server_bits = bits())) ok = ok && *server_bits > 8;
      else if (name == "client_max_window_bits") {
        client_bits_offered = true;
        if (!value.empty() && !(client_bits = bits())) ok = false;
      } else ok = false;  // unknown parameter or a bad value: decline this offer
    });
    if (!is_deflate || !ok) return;
    DeflateAgreement agreement;
    agreement.response = "permessage-deflate";
    if (params.server_no_context_takeover) agreement.response += "; server_no_context_takeover";
    if (params.client_no_context_takeover) agreement.response += "; client_no_context_takeover";
    if (server_bits) {
      params.server_max_window_bits = *server_bits;
      agreement.response += "; server_max_window_bits=" + std::to_string(*server_bits);
    }
    // The client may only be told a window size if it said it accepts one.
    if (client_bits_offered && client_bits) {
      params.client_max_window_bits = *client_bits;
      agreement.response += "; client_max_window_bits=" + std::to_string(*client_bits);
    }
    agreement.params = params;
    chosen = std::move(agreement);
  });
  return chosen;
}

std::string switchingProtocolsHead(std::string_view key, std::string_view protocol, std::string_view extensions) {
  std::string head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
  head += acceptValue(key);
  head += "\r\n";
  if (!protocol.empty()) head.append("Sec-WebSocket-Protocol: ").append(protocol).append("\r\n");
  if (!extensions.empty()) head.append("Sec-WebSocket-Extensions: ").append(extensions).append("\r\n");
  head += "\r\n";
  return head;
}

}  // namespace hyperion::websocket
