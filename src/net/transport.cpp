#include "hyperion/net/transport.hpp"

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

namespace hyperion::net {

ssize_t SocketTransport::read(char* buffer, std::size_t length) { return ::recv(fd_, buffer, length, 0); }

ssize_t SocketTransport::ingest(const char* data, std::size_t length, std::string& out) {
  out.append(data, length);
  return static_cast<ssize_t>(length);
}

ssize_t SocketTransport::writev(const iovec* iov, int count) {
  msghdr message{};
  message.msg_iov = const_cast<iovec*>(iov);
  message.msg_iovlen = static_cast<std::size_t>(count);
  // MSG_NOSIGNAL: a vanished client is an EPIPE to handle, not a SIGPIPE.
  return ::sendmsg(fd_, &message, MSG_NOSIGNAL);
}

ssize_t SocketTransport::sendFile(int file_fd, off_t* offset, std::size_t count) {
  return ::sendfile(fd_, file_fd, offset, count);
}

void SocketTransport::shutdownWrite() { ::shutdown(fd_, SHUT_WR); }

}  // namespace hyperion::net
