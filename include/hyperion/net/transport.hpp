#pragma once
// The byte stream under a connection, and the only path the loop takes to a
// client's bytes: every read, write, file send and shutdown goes through it,
// so a TLS transport (ciphertext on the socket, plaintext above) drops in
// without the HTTP code knowing (shared/notes/connection-layer.md).
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace hyperion::net {

class Transport {
 public:
  virtual ~Transport() = default;
  // epoll: pull from the socket. Same contract as read(2): -1 with errno
  // (EAGAIN when it would block), 0 at end of stream.
  virtual ssize_t read(char* buffer, std::size_t length) = 0;
  // io_uring: the ring already received `data` from the socket; append what
  // it means for the layer above (plaintext) to `out`. -1 with errno when
  // the stream is broken.
  virtual ssize_t ingest(const char* data, std::size_t length, std::string& out) = 0;
  // Same contract as writev(2).
  virtual ssize_t writev(const iovec* iov, int count) = 0;
  // Whether sendFile() works here (plain sockets, later kTLS). When not, the
  // caller reads the file itself and writes the bytes with writev().
  virtual bool canSendFile() const = 0;
  // Same contract as sendfile(2) to this stream.
  virtual ssize_t sendFile(int file_fd, off_t* offset, std::size_t count) = 0;
  // No more output (a TLS transport sends close_notify first); reading goes on.
  virtual void shutdownWrite() = 0;
  // Whether a read shorter than asked proves the socket is drained, so an
  // edge-triggered loop may wait for the next edge instead of reading until
  // EAGAIN. True for a plain socket; not for one that returns a record at a time.
  virtual bool shortReadMeansDrained() const = 0;
  // Bytes a write (or a handshake) produced that the socket has not taken
  // yet: the loop keeps the connection open and waits for it to be writable.
  virtual bool hasPendingOutput() const { return false; }
  // Sends them: 0 when all are out, -1 with errno (EAGAIN when it would block).
  virtual ssize_t flushPending() { return 0; }
  // The orderly end the protocol needs before the fd closes (TLS: close_notify,
  // without which OpenSSL 3 clients report "unexpected eof"); best effort.
  virtual void closeNotify() {}
  // False until the protocol's own setup is done (a TLS handshake), which
  // has its own deadline: trickled handshake bytes must not keep a socket.
  virtual bool established() const { return true; }
  // The protocol the handshake agreed on by ALPN ("h2", "http/1.1"), or
  // empty (none, or no handshake at all).
  virtual std::string_view alpn() const { return {}; }
};

class SocketTransport final : public Transport {
 public:
  explicit SocketTransport(int fd) : fd_(fd) {}
  ssize_t read(char* buffer, std::size_t length) override;
  ssize_t ingest(const char* data, std::size_t length, std::string& out) override;
  ssize_t writev(const iovec* iov, int count) override;
  bool canSendFile() const override { return true; }
  ssize_t sendFile(int file_fd, off_t* offset, std::size_t count) override;
  void shutdownWrite() override;
  bool shortReadMeansDrained() const override { return true; }

 private:
  int fd_;  // owned by the connection
};

}  // namespace hyperion::net
