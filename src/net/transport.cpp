#include "hyperion/net/transport.hpp"

#include <sys/socket.h>
#include <unistd.h>

namespace hyperion::net {

ssize_t SocketTransport::read(char* buffer, std::size_t length) { return ::recv(fd_, buffer, length, 0); }

ssize_t SocketTransport::writev(const iovec* iov, int count) {
  msghdr message{};
  message.msg_iov = const_cast<iovec*>(iov);
  message.msg_iovlen = static_cast<std::size_t>(count);
  // MSG_NOSIGNAL: a vanished client is an EPIPE to handle, not a SIGPIPE.
  return ::sendmsg(fd_, &message, MSG_NOSIGNAL);
}

}  // namespace hyperion::net
