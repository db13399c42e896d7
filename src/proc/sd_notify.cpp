// sd_notify(3) as the datagram it is (see sd_notify.hpp).
#include "hyperion/proc/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "hyperion/log/logger.hpp"

namespace hyperion::proc {

SdNotify SdNotify::fromEnvironment() {
  SdNotify notify;
  const char* socket_path = std::getenv("NOTIFY_SOCKET");
  if (!socket_path || !*socket_path) return notify;
  std::string address = socket_path;
  if (address[0] == '@') address[0] = '\0';  // abstract namespace
  if (address[0] != '/' && address[0] != '\0') {
    spdlog::warn("NOTIFY_SOCKET={} is neither a path nor @abstract; not notifying systemd", socket_path);
    return notify;
  }
  if (address.size() >= sizeof(sockaddr_un::sun_path)) {
    spdlog::warn("NOTIFY_SOCKET={} is too long; not notifying systemd", socket_path);
    return notify;
  }
  notify.fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  notify.address_ = std::move(address);
  // WATCHDOG_PID, when set, names the process the watchdog is for.
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* pid = std::getenv("WATCHDOG_PID");
  if (usec && std::atoll(usec) > 0 && (!pid || std::atoll(pid) == ::getpid()))
    notify.watchdog_ = std::chrono::milliseconds(std::atoll(usec) / 2000);
  return notify;
}

bool SdNotify::send(std::string_view message) const {
  if (!fd_.valid()) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, address_.data(), address_.size());
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
  if (::sendto(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), length) < 0) {
    spdlog::debug("sd_notify {}: {}", message, std::strerror(errno));
    return false;
  }
  return true;
}

}  // namespace hyperion::proc
