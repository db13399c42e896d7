#pragma once
// The PROXY protocol (HAProxy's, v1 text and v2 binary): a load balancer
// that terminates TCP (AWS NLB, HAProxy, nginx `proxy_protocol on`) sends
// one header before the client's bytes, naming the client's address. On a
// bind with ?proxy_protocol=v1|v2 the loop reads it before any HTTP and
// REMOTE_ADDR becomes the client's. Only peers in the bind's trusted
// ranges may send it (anyone else could claim any address), and a
// malformed header closes the connection: nothing of it reaches Ruby.
// Pure parsing here, no sockets.
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hyperion/util/result.hpp"

namespace hyperion::net {

struct ProxyHeader {
  std::size_t length = 0;             // bytes of the header, to skip
  std::optional<std::string> source;  // the client's address; none for LOCAL / UNKNOWN (keep the peer's)
  int source_port = 0;
};

struct ProxyParse {
  enum class State { NeedMore, Done, Invalid };
  State state = State::NeedMore;
  ProxyHeader header;
  std::string error;  // Invalid: what was wrong, for the log line
};

// `version` 1 or 2: what the bind expects (a v1 bind refuses a v2 header).
ProxyParse parseProxyHeader(std::string_view data, int version);

// 10.0.0.0/8, 127.0.0.1, ::1, fd00::/8.
struct AddressRange {
  int family = AF_INET;
  unsigned char bytes[16] = {};
  int prefix = 32;
  bool contains(const sockaddr_storage& addr) const;
  std::string text() const;  // 10.0.0.0/8
};
Result<AddressRange> parseAddressRange(std::string_view text);

// What a bind says about the PROXY protocol.
struct ProxyPolicy {
  int version = 0;                    // 0: off
  std::vector<AddressRange> trusted;  // empty: loopback only
  bool trusts(const sockaddr_storage& peer) const;
  std::string describe() const;  // "PROXY protocol v1 from 127.0.0.0/8, ::1"
};

}  // namespace hyperion::net
