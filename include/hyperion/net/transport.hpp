#pragma once
// The byte stream under a connection. Plain TCP/unix today; a TLS stream will
// implement the same two calls, so HTTP/1.1 (and later h2) code never cares.
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>

namespace hyperion::net {

class Transport {
 public:
  virtual ~Transport() = default;
  // Same contract as read(2)/writev(2): -1 with errno (EAGAIN when it would block).
  virtual ssize_t read(char* buffer, std::size_t length) = 0;
  virtual ssize_t writev(const iovec* iov, int count) = 0;
};

class SocketTransport final : public Transport {
 public:
  explicit SocketTransport(int fd) : fd_(fd) {}
  ssize_t read(char* buffer, std::size_t length) override;
  ssize_t writev(const iovec* iov, int count) override;

 private:
  int fd_;  // owned by the connection
};

}  // namespace hyperion::net
