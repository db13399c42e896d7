#include "hyperion/net/proxy_protocol.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace hyperion::net {
namespace {

constexpr std::size_t kV1Max = 107;  // the spec's bound, CRLF included
constexpr unsigned char kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::size_t kV2MaxPayload = 4096;  // addresses plus TLVs; real proxies send far less

ProxyParse invalid(std::string why) {
  ProxyParse p;
  p.state = ProxyParse::State::Invalid;
  p.error = std::move(why);
  return p;
}

bool parsePort(std::string_view text, int& port) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc() && ptr == text.data() + text.size() && port >= 0 && port <= 65535;
}

bool validAddress(int family, std::string_view text, std::string& out) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  const std::string copy(text);
  unsigned char bytes[16];
  if (::inet_pton(family, copy.c_str(), bytes) != 1) return false;
  out = copy;
  return true;
}

ProxyParse parseV1(std::string_view data) {
  static constexpr std::string_view kPrefix = "PROXY ";
  const std::size_t compare = std::min(data.size(), kPrefix.size());
  if (data.substr(0, compare) != kPrefix.substr(0, compare)) return invalid("not a PROXY v1 header");
  const auto end = data.find("\r\n");
  if (end == std::string_view::npos) {
    if (data.size() >= kV1Max) return invalid("PROXY v1 header longer than 107 bytes");
    return {};
  }
  if (end + 2 > kV1Max) return invalid("PROXY v1 header longer than 107 bytes");
  std::string_view line = data.substr(kPrefix.size(), end - kPrefix.size());
  std::vector<std::string_view> fields;
  while (!line.empty()) {
    const auto space = line.find(' ');
    fields.push_back(line.substr(0, space));
    if (space == std::string_view::npos) break;
    line.remove_prefix(space + 1);
  }
  ProxyParse p;
  p.state = ProxyParse::State::Done;
  p.header.length = end + 2;
  if (!fields.empty() && fields[0] == "UNKNOWN") return p;  // the proxy does not know: keep the peer
  if (fields.size() != 5) return invalid("PROXY v1 header needs 5 fields after PROXY");
  const int family = fields[0] == "TCP4" ? AF_INET : fields[0] == "TCP6" ? AF_INET6 : 0;
  if (family == 0) return invalid("PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN");
  std::string source, destination;
  int source_port = 0, destination_port = 0;
  if (!validAddress(family, fields[1], source) || !validAddress(family, fields[2], destination))
    return invalid("PROXY v1 header has a bad address");
  if (!parsePort(fields[3], source_port) || !parsePort(fields[4], destination_port))
    return invalid("PROXY v1 header has a bad port");
  p.header.source = source;
  p.header.source_port = source_port;
  return p;
}

ProxyParse parseV2(std::string_view data) {
  const std::size_t compare = std::min(data.size(), sizeof kV2Signature);
  if (std::memcmp(data.data(), kV2Signature, compare) != 0) return invalid("not a PROXY v2 header");
  if (data.size() < 16) return {};
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(data[i]); };
  if ((byte(12) >> 4) != 2) return invalid("PROXY v2 header has version " + std::to_string(byte(12) >> 4));
  const int command = byte(12) & 0x0F;
  if (command > 1) return invalid("PROXY v2 header has an unknown command");
  const std::size_t payload = (static_cast<std::size_t>(byte(14)) << 8) | byte(15);
  if (payload > kV2MaxPayload) return invalid("PROXY v2 header longer than 4096 bytes");
  if (data.size() < 16 + payload) return {};
  ProxyParse p;
  p.state = ProxyParse::State::Done;
  p.header.length = 16 + payload;
  if (command == 0) return p;  // LOCAL: the proxy's own health check; the peer is the proxy
  const int family = byte(13) >> 4, transport = byte(13) & 0x0F;
  if (family == 0) return p;  // UNSPEC: keep the peer
  if (transport != 1) return invalid("PROXY v2 header is not for a stream (TCP) connection");
  char text[INET6_ADDRSTRLEN] = "";
  if (family == 1) {  // AF_INET: 4 + 4 + 2 + 2 bytes
    if (payload < 12) return invalid("PROXY v2 IPv4 addresses are truncated");
    ::inet_ntop(AF_INET, data.data() + 16, text, sizeof text);
    p.header.source_port = (byte(24) << 8) | byte(25);
  } else if (family == 2) {  // AF_INET6: 16 + 16 + 2 + 2 bytes
    if (payload < 36) return invalid("PROXY v2 IPv6 addresses are truncated");
    ::inet_ntop(AF_INET6, data.data() + 16, text, sizeof text);
    p.header.source_port = (byte(48) << 8) | byte(49);
  } else if (family == 3) {
    return p;  // AF_UNIX: no address to report; keep the peer
  } else {
    return invalid("PROXY v2 header has an unknown address family");
  }
  p.header.source = std::string(text);
  // An IPv4-mapped IPv6 address reads better bare, as REMOTE_ADDR does elsewhere.
  if (p.header.source->rfind("::ffff:", 0) == 0 && p.header.source->find('.') != std::string::npos)
    p.header.source = p.header.source->substr(7);
  return p;
}

}  // namespace

ProxyParse parseProxyHeader(std::string_view data, int version) {
  if (data.empty()) return {};
  return version == 2 ? parseV2(data) : parseV1(data);
}

Result<AddressRange> parseAddressRange(std::string_view text) {
  AddressRange range;
  std::string address(text);
  const auto slash = address.find('/');
  std::string prefix;
  if (slash != std::string::npos) {
    prefix = address.substr(slash + 1);
    address.resize(slash);
  }
  if (::inet_pton(AF_INET, address.c_str(), range.bytes) == 1) {
    range.family = AF_INET;
    range.prefix = 32;
  } else if (::inet_pton(AF_INET6, address.c_str(), range.bytes) == 1) {
    range.family = AF_INET6;
    range.prefix = 128;
  } else {
    return Error{"not an IP address or range: " + std::string(text)};
  }
  if (!prefix.empty()) {
    int bits = -1;
    auto [ptr, ec] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), bits);
    if (ec != std::errc() || ptr != prefix.data() + prefix.size() || bits < 0 || bits > range.prefix)
      return Error{"bad prefix length in " + std::string(text)};
    range.prefix = bits;
  }
  return range;
}

bool AddressRange::contains(const sockaddr_storage& addr) const {
  unsigned char peer[16];
  int peer_family = addr.ss_family;
  if (addr.ss_family == AF_INET) {
    std::memcpy(peer, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, 4);
  } else if (addr.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&in6) && family == AF_INET) {  // a v4 peer on a dual-stack socket
      std::memcpy(peer, in6.s6_addr + 12, 4);
      peer_family = AF_INET;
    } else {
      std::memcpy(peer, in6.s6_addr, 16);
    }
  } else {
    return false;
  }
  if (peer_family != family) return false;
  const int full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(peer, bytes, static_cast<std::size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  const unsigned char mask = static_cast<unsigned char>(0xFF << (8 - rest));
  return (peer[full] & mask) == (bytes[full] & mask);
}

std::string AddressRange::text() const {
  char buffer[INET6_ADDRSTRLEN] = "";
  ::inet_ntop(family, bytes, buffer, sizeof buffer);
  const int full = family == AF_INET ? 32 : 128;
  return prefix == full ? std::string(buffer) : std::string(buffer) + "/" + std::to_string(prefix);
}

std::string ProxyPolicy::describe() const {
  std::string out = "PROXY protocol v" + std::to_string(version) + " from ";
  if (trusted.empty()) return out + "loopback (127.0.0.0/8, ::1)";
  for (std::size_t i = 0; i < trusted.size(); ++i) out += (i ? ", " : "") + trusted[i].text();
  return out;
}

bool ProxyPolicy::trusts(const sockaddr_storage& peer) const {
  if (peer.ss_family == AF_UNIX) return true;  // a local socket: whoever can reach it is local
  if (trusted.empty()) {
    static const AddressRange v4 = parseAddressRange("127.0.0.0/8").value();
    static const AddressRange v6 = parseAddressRange("::1").value();
    return v4.contains(peer) || v6.contains(peer);
  }
  for (const auto& range : trusted)
    if (range.contains(peer)) return true;
  return false;
}

}  // namespace hyperion::net
