#include "hyperion/http1/h2c_upgrade.hpp"

#include <algorithm>
#include <cstdint>

namespace hyperion::http1 {
namespace {

bool hasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (equalsIgnoreCase(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-' || c == '+') return 62;
  if (c == '_' || c == '/') return 63;
  return -1;
}

}  // namespace

std::optional<std::string> decodeBase64Url(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t bits = 0;
  int held = 0;
  for (char c : text) {
    const int v = sextet(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    held += 6;
    if (held >= 8) {
      held -= 8;
      out.push_back(static_cast<char>((bits >> held) & 0xff));
    }
  }
  return out;
}

std::optional<std::string> h2cUpgradeSettings(const Request& request) {
  const std::string* upgrade = request.header("upgrade");
  const std::string* settings = request.header("http2-settings");
  if (!upgrade || !settings || !hasToken(*upgrade, "h2c") || request.method == "CONNECT") return std::nullopt;
  if (request.version_major != 1 || request.version_minor != 1) return std::nullopt;
  auto payload = decodeBase64Url(*settings);
  // A SETTINGS payload is whole 6-byte entries (RFC 9113 section 6.5.1).
  if (!payload || payload->size() % 6 != 0) return std::nullopt;
  return payload;
}

void stripUpgradeFields(Request& request) {
  auto& headers = request.headers;
  headers.erase(std::remove_if(headers.begin(), headers.end(),
                               [](const Header& h) {
                                 return equalsIgnoreCase(h.name, "upgrade") ||
                                        equalsIgnoreCase(h.name, "http2-settings") ||
                                        equalsIgnoreCase(h.name, "connection");
                               }),
                headers.end());
  request.upgrade = false;
}

}  // namespace hyperion::http1
