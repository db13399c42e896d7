// One TLS connection over memory BIOs (see tls.hpp). Loop thread only.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "hyperion/log/logger.hpp"
#include "hyperion/net/tls.hpp"

namespace hyperion::net {
namespace {

constexpr std::size_t kRecordBytes = 16 * 1024;  // the largest TLS record's plaintext

}  // namespace

TlsTransport::TlsTransport(int fd, const TlsContext& context, std::string peer)
    : fd_(fd), ssl_(SSL_new(context.get())), network_in_(BIO_new(BIO_s_mem())),
      network_out_(BIO_new(BIO_s_mem())), peer_(std::move(peer)) {
  if (!ssl_ || !network_in_ || !network_out_) throw std::bad_alloc();
  // An empty memory BIO means "would block", not end of stream.
  BIO_set_mem_eof_return(network_in_, -1);
  SSL_set_bio(ssl_, network_in_, network_out_);  // ssl_ owns both from here
  SSL_set_accept_state(ssl_);
}

TlsTransport::~TlsTransport() { SSL_free(ssl_); }

ssize_t TlsTransport::fail(const char* when) {
  if (!failed_) {
    failed_ = true;
    const unsigned long code = ERR_peek_last_error();
    if (ERR_GET_REASON(code) == SSL_R_HTTP_REQUEST) {
      spdlog::info("plain HTTP from {} on a TLS port: answered 400", peer_);
      answerPlainHttp();
    } else {
      const char* reason = code ? ERR_reason_error_string(code) : nullptr;
      spdlog::info("TLS {} with {} failed: {}", when, peer_, reason ? reason : "connection error");
    }
  }
  ERR_clear_error();
  errno = EPROTO;
  return -1;
}

void TlsTransport::answerPlainHttp() {
  static constexpr std::string_view kAnswer =
      "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 42\r\nConnection: close\r\n\r\n"
      "This port speaks HTTPS: use https:// URLs\n";
  // Best effort, on the raw socket: the client is not speaking TLS.
  [[maybe_unused]] ssize_t sent = ::send(fd_, kAnswer.data(), kAnswer.size(), MSG_NOSIGNAL);
}

ssize_t TlsTransport::sendCiphertext() {
  char chunk[kRecordBytes];
  for (int n; (n = BIO_read(network_out_, chunk, sizeof chunk)) > 0;) pending_.append(chunk, static_cast<std::size_t>(n));
  while (pending_offset_ < pending_.size()) {
    const ssize_t n = ::send(fd_, pending_.data() + pending_offset_, pending_.size() - pending_offset_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    pending_offset_ += static_cast<std::size_t>(n);
  }
  pending_.clear();
  pending_offset_ = 0;
  return 0;
}

ssize_t TlsTransport::flushPending() {
  if (failed_) {
    errno = EPIPE;
    return -1;
  }
  return sendCiphertext();
}

ssize_t TlsTransport::read(char* buffer, std::size_t length) {
  if (failed_) {
    errno = EPROTO;
    return -1;
  }
  for (;;) {
    const int n = SSL_read(ssl_, buffer, static_cast<int>(std::min(length, kRecordBytes * 4)));
    if (n > 0) {
      // Handshake and ticket messages OpenSSL produced meanwhile; if the
      // socket is full they wait in pending_ for the loop's next flush.
      if (sendCiphertext() < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return fail("write");
      return n;
    }
    const int error = SSL_get_error(ssl_, n);
    if (error == SSL_ERROR_ZERO_RETURN) return 0;  // close_notify
    if (error != SSL_ERROR_WANT_READ) return fail(SSL_is_init_finished(ssl_) ? "read" : "handshake");
    if (sendCiphertext() < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return fail("write");
    char ciphertext[kRecordBytes];
    const ssize_t got = ::recv(fd_, ciphertext, sizeof ciphertext, 0);
    if (got <= 0) return got;  // EOF, or errno (EAGAIN: wait for the next edge)
    BIO_write(network_in_, ciphertext, static_cast<int>(got));
  }
}

ssize_t TlsTransport::ingest(const char* data, std::size_t length, std::string& out) {
  if (failed_) {
    errno = EPROTO;
    return -1;
  }
  if (BIO_write(network_in_, data, static_cast<int>(length)) != static_cast<int>(length)) return fail("read");
  const std::size_t before = out.size();
  char plain[kRecordBytes];
  for (;;) {
    const int n = SSL_read(ssl_, plain, sizeof plain);
    if (n > 0) {
      out.append(plain, static_cast<std::size_t>(n));
      continue;
    }
    const int error = SSL_get_error(ssl_, n);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_ZERO_RETURN) break;  // the FIN that follows ends it
    return fail(SSL_is_init_finished(ssl_) ? "read" : "handshake");
  }
  if (sendCiphertext() < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return fail("write");
  return static_cast<ssize_t>(out.size() - before);
}

ssize_t TlsTransport::writev(const iovec* iov, int count) {
  if (failed_) {
    errno = EPIPE;
    return -1;
  }
  if (hasPendingOutput() && sendCiphertext() < 0) return -1;  // EAGAIN: the loop waits for writable
  std::size_t total = 0;
  for (int i = 0; i < count && total < kMaxPlainPerWrite; ++i) {
    const char* bytes = static_cast<const char*>(iov[i].iov_base);
    std::size_t left = std::min(iov[i].iov_len, kMaxPlainPerWrite - total);
    while (left > 0) {
      const int n = SSL_write(ssl_, bytes, static_cast<int>(std::min(left, kRecordBytes * 4)));
      if (n <= 0) {
        if (total > 0) break;
        if (SSL_get_error(ssl_, n) == SSL_ERROR_WANT_READ) {  // still handshaking: not before a request
          errno = EAGAIN;
          return -1;
        }
        return fail("write");
      }
      bytes += n;
      left -= static_cast<std::size_t>(n);
      total += static_cast<std::size_t>(n);
    }
  }
  // What the socket does not take now waits in pending_ (bounded by
  // kMaxPlainPerWrite plus record overhead); hasPendingOutput() tells the loop.
  if (sendCiphertext() < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return fail("write");
  return static_cast<ssize_t>(total);
}

ssize_t TlsTransport::sendFile(int, off_t*, std::size_t) {
  errno = EOPNOTSUPP;  // canSendFile() is false: the loop reads the file and calls writev
  return -1;
}

bool TlsTransport::established() const { return SSL_is_init_finished(ssl_) == 1; }

std::string_view TlsTransport::alpn() const {
  const unsigned char* name = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl_, &name, &length);
  return name ? std::string_view(reinterpret_cast<const char*>(name), length) : std::string_view{};
}

void TlsTransport::closeNotify() {
  if (failed_ || said_goodbye_ || !SSL_is_init_finished(ssl_)) return;
  said_goodbye_ = true;
  SSL_shutdown(ssl_);  // queues close_notify
  ERR_clear_error();   // a stale error would misclassify the next connection's SSL_get_error
  sendCiphertext();    // a full socket loses it: the FIN still ends the stream
}

void TlsTransport::shutdownWrite() {
  closeNotify();
  ::shutdown(fd_, SHUT_WR);
}

}  // namespace hyperion::net
