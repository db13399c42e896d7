#include "hyperion/net/peer_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace hyperion::net {

std::string peerAddress(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, text, sizeof text);
  } else if (addr.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(addr);
    ::inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
    // IPv4-mapped addresses read better (and match Rack's expectations) bare.
    if (std::strncmp(text, "::ffff:", 7) == 0 && std::strchr(text + 7, '.')) return text + 7;
  } else {
    return "127.0.0.1";
  }
  return text;
}

}  // namespace hyperion::net
