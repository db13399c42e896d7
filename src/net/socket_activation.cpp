// systemd socket activation (sd_listen_fds(3) without libsystemd): the
// listening sockets systemd passed as fds 3.. (LISTEN_FDS), when they are
// meant for this process (LISTEN_PID).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "hyperion/net/listener.hpp"

namespace hyperion::net {

namespace {
constexpr int kFirstListenFd = 3;  // SD_LISTEN_FDS_START

Result<BindAddress> describe(int fd) {
  int listening = 0;
  socklen_t size = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0 || !listening)
    return Error{"fd " + std::to_string(fd) + " is not a listening socket"};
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0)
    return Error{"fd " + std::to_string(fd) + ": getsockname: " + std::strerror(errno)};
  BindAddress address;
  char host[INET6_ADDRSTRLEN] = {};
  switch (storage.ss_family) {
    case AF_INET:
    case AF_INET6: {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
      const bool v6 = storage.ss_family == AF_INET6;
      ::inet_ntop(storage.ss_family, v6 ? static_cast<const void*>(&in6->sin6_addr) : &in->sin_addr, host, sizeof host);
      address.host = host;
      address.port = ntohs(v6 ? in6->sin6_port : in->sin_port);
      return address;
    }
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(&storage);
      address.kind = BindAddress::Kind::Unix;
      address.path = un->sun_path[0] ? un->sun_path : "@" + std::string(un->sun_path + 1);
      return address;
    }
    default:
      return Error{"fd " + std::to_string(fd) + " is neither TCP nor a Unix socket"};
  }
}
}  // namespace

Result<std::vector<Listener>> inheritedListeners() {
  std::vector<Listener> listeners;
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  if (!pid || !fds || std::atoll(pid) != ::getpid()) return listeners;
  const int count = std::atoi(fds);
  // Not for the workers, nor for anything the app spawns.
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  for (int fd = kFirstListenFd; fd < kFirstListenFd + count; ++fd) {
    auto address = describe(fd);
    if (!address) return Error{"socket activation: " + address.error()};
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    listeners.push_back(Listener{UniqueFd(fd), address.value(), -1});
  }
  return listeners;
}

}  // namespace hyperion::net
