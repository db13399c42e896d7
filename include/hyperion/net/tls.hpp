#pragma once
// TLS (OpenSSL 3) for `ssl://` binds. The context is made in the master
// before fork, so a bad certificate or key is one error at boot; each
// connection gets a TlsTransport that speaks TLS through memory BIOs
// (Puma's MiniSSL shape): ciphertext is received by the loop (recv or the
// io_uring ring) and fed in, plaintext comes out, and OpenSSL never owns the
// fd. Handshakes therefore run on the loop thread, never on a Ruby thread.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hyperion/net/sni_certificate.hpp"
#include "hyperion/net/ticket_keys.hpp"
#include "hyperion/net/transport.hpp"
#include "hyperion/util/result.hpp"

struct ssl_ctx_st;
struct ssl_st;
struct bio_st;

namespace hyperion::net {

struct TlsOptions {
  enum class Verify { None, Peer, ForcePeer };  // client certificates: verify_mode=none|peer|force_peer
  std::string cert;  // PEM chain, leaf first
  std::string key;   // PEM private key
  std::string ca;    // PEM bundle that client certificates must chain to (verify peer/force_peer)
  Verify verify = Verify::None;
  std::string ciphers;  // TLS 1.2 cipher list; empty: a modern default (TLS 1.3 suites are OpenSSL's)
};

// What every ssl:// bind shares beside its own query: resumption settings
// (--tls-session-cache-size, --tls-ticket-key-rotation) and SNI certificates.
struct TlsSession {
  long cache_size = -1;  // sessions a worker remembers (TLS 1.2 IDs); -1: OpenSSL's 20480; 0: none
  std::chrono::seconds ticket_key_rotation{3600};
  std::vector<SniCertificate> sni;  // --tls-sni: served by every ssl:// bind beside its own certificate
  bool offer_h2 = false;            // ALPN h2 before http/1.1 (off with --no-http2)
};

class TlsContext {
 public:
  // Errors name the file and what is wrong with it.
  static Result<std::shared_ptr<TlsContext>> create(const TlsOptions& options, const TlsSession& session = {});
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  ssl_ctx_st* get() const { return ctx_; }
  // Session tickets: keys shared by every worker forked after this context
  // was made (ticket_keys.hpp); rotateTicketKeys() makes a new one now.
  TicketKeys& ticketKeys() { return *ticket_keys_; }
  bool rotateTicketKeys() { return ticket_keys_->rotate(TicketKeys::now()); }
  // The context of the SNI certificate for `host`, or null for the bind's own.
  ssl_ctx_st* contextFor(std::string_view host) const;

 private:
  explicit TlsContext(ssl_ctx_st* ctx) : ctx_(ctx) {}
  ssl_ctx_st* ctx_;
  std::unique_ptr<TicketKeys> ticket_keys_;
  std::vector<std::pair<std::string, ssl_ctx_st*>> sni_;  // lowercased host pattern, owned context
};

// SIGHUP: a new session-ticket key for each context, which every worker sees
// at once (the keys are shared); logs and returns how many rotated.
int rotateTicketKeys(const std::vector<std::shared_ptr<TlsContext>>& contexts);

class TlsTransport final : public Transport {
 public:
  // `peer` names the client in log lines (handshake failures, at info).
  TlsTransport(int fd, const TlsContext& context, std::string peer);
  ~TlsTransport() override;
  TlsTransport(const TlsTransport&) = delete;
  TlsTransport& operator=(const TlsTransport&) = delete;

  ssize_t read(char* buffer, std::size_t length) override;
  ssize_t ingest(const char* data, std::size_t length, std::string& out) override;
  // Encrypts at most kMaxPlainPerWrite; refuses (EAGAIN) while earlier
  // ciphertext is still unsent, so what it buffers stays bounded.
  ssize_t writev(const iovec* iov, int count) override;
  bool canSendFile() const override { return false; }  // kTLS is not used (yet)
  ssize_t sendFile(int file_fd, off_t* offset, std::size_t count) override;
  void shutdownWrite() override;  // close_notify, then FIN
  void closeNotify() override;    // once, and only after a finished handshake
  bool established() const override;
  std::string_view alpn() const override;
  bool shortReadMeansDrained() const override { return false; }  // records buffer inside OpenSSL
  bool hasPendingOutput() const override { return pending_offset_ < pending_.size(); }
  ssize_t flushPending() override;

  static constexpr std::size_t kMaxPlainPerWrite = 256 * 1024;

 private:
  // Moves what OpenSSL wrote into the memory BIO to pending_ and sends as
  // much as the socket takes. 0 when all is out; -1 with errno (EAGAIN).
  ssize_t sendCiphertext();
  ssize_t fail(const char* when);  // logs once, errno = EPROTO, -1
  void answerPlainHttp();          // plain HTTP on a TLS port: a 400 like nginx's

  int fd_;
  ssl_st* ssl_;
  bio_st* network_in_;   // ciphertext from the client, read by OpenSSL
  bio_st* network_out_;  // ciphertext for the client, written by OpenSSL
  std::string peer_;
  std::string pending_;  // ciphertext not yet accepted by the socket: [pending_offset_, size)
  std::size_t pending_offset_ = 0;
  bool failed_ = false;
  bool said_goodbye_ = false;
};

}  // namespace hyperion::net
