#include "hyperion/net/ktls.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "hyperion/net/unique_fd.hpp"

#ifndef TCP_ULP
#define TCP_ULP 31  // linux/tcp.h; older libc headers lack it
#endif

namespace hyperion::net {
namespace {

std::string errnoText(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

Result<bool> probeKernelTls() {
  // The ULP attaches only to an established connection: a loopback pair.
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener) return Error{errnoText("socket")};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener.get(), 1) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return Error{errnoText("loopback listener")};
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!client || ::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return Error{errnoText("loopback connect")};
  UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!server) return Error{errnoText("loopback accept")};
  static constexpr char kUlp[] = "tls";
  if (::setsockopt(server.get(), IPPROTO_TCP, TCP_ULP, kUlp, sizeof kUlp - 1) == 0) return true;
  if (errno == ENOENT) return Error{"the kernel has no TLS upper-layer protocol (CONFIG_TLS; modprobe tls)"};
  return Error{errnoText("setsockopt(TCP_ULP, \"tls\")")};
}

Result<std::string> decideKernelTls(config::KtlsMode mode) {
  constexpr const char* kUserSpace = "TLS runs in user space (memory BIOs); files are encrypted in 256 KiB pieces";
  if (mode == config::KtlsMode::Off) return std::string("kTLS off (--tls-ktls off): ") + kUserSpace;
  auto probe = probeKernelTls();
  if (!probe) {
    if (mode == config::KtlsMode::On) return Error{"--tls-ktls on, but kernel TLS is unavailable: " + probe.error()};
    return "kTLS unavailable (" + probe.error() + "): " + kUserSpace;
  }
  // The kernel offers it; handing it the traffic keys is the part not built
  // yet (see ktls.hpp), so nothing claims it engaged.
  if (mode == config::KtlsMode::On)
    return Error{"--tls-ktls on: the kernel offers TLS, but this build cannot hand it a connection's keys yet"};
  return std::string("kTLS available in the kernel but not engaged by this build: ") + kUserSpace;
}

}  // namespace hyperion::net
