#pragma once
// A client's address as text, as REMOTE_ADDR and the logs show it.
#include <sys/socket.h>

#include <string>

namespace hyperion::net {

// "203.0.113.7", "2001:db8::1"; an IPv4-mapped IPv6 address bare; a unix
// socket peer "127.0.0.1", as Puma reports it.
std::string peerAddress(const sockaddr_storage& addr);

}  // namespace hyperion::net
