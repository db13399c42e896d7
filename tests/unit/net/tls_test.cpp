// TlsContext errors and TlsTransport over a real socketpair: an OpenSSL
// client on one end, the server transport on the other, both non-blocking
// and pumped from this thread, so every WANT_READ path is exercised.
#include "hyperion/net/tls.hpp"
#include "hyperion/net/ktls.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

using namespace hyperion::net;

namespace {

std::string tempPath(const std::string& name) {
  return ::testing::TempDir() + "hyperion_tls_" + std::to_string(::getpid()) + "_" + name;
}

// A self-signed P-256 certificate for CN=localhost and its key, as PEM files.
struct CertFiles {
  std::string cert;
  std::string key;
};

CertFiles makeCert(const std::string& name) {
  CertFiles files{tempPath(name + "_cert.pem"), tempPath(name + "_key.pem")};
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x509 = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x509), 1);
  X509_gmtime_adj(X509_getm_notBefore(x509), -60);
  X509_gmtime_adj(X509_getm_notAfter(x509), 3600);
  X509_set_pubkey(x509, key);
  X509_NAME* subject = X509_get_subject_name(x509);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x509, subject);
  X509_sign(x509, key, EVP_sha256());
  FILE* out = std::fopen(files.cert.c_str(), "w");
  PEM_write_X509(out, x509);
  std::fclose(out);
  out = std::fopen(files.key.c_str(), "w");
  PEM_write_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(out);
  X509_free(x509);
  EVP_PKEY_free(key);
  return files;
}

const CertFiles& serverCert() {
  static const CertFiles files = makeCert("server");
  return files;
}

std::shared_ptr<TlsContext> serverContext() {
  TlsOptions options;
  options.cert = serverCert().cert;
  options.key = serverCert().key;
  auto made = TlsContext::create(options);
  EXPECT_TRUE(made.ok()) << made.error();
  return made.ok() ? made.value() : nullptr;
}

void nonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// One socketpair: client_fd speaks through an OpenSSL client, server_fd
// through the TlsTransport under test.
struct Pair {
  int client_fd = -1;
  int server_fd = -1;
  SSL_CTX* client_ctx = nullptr;
  SSL* client = nullptr;
  std::shared_ptr<TlsContext> context;
  std::unique_ptr<TlsTransport> server;

  explicit Pair(int max_client_version = 0, int buffer = 0) {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    client_fd = fds[0];
    server_fd = fds[1];
    if (buffer > 0) {
      ::setsockopt(server_fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
      ::setsockopt(client_fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    }
    nonBlocking(client_fd);
    nonBlocking(server_fd);
    client_ctx = SSL_CTX_new(TLS_client_method());
    if (max_client_version) {
      SSL_CTX_set_min_proto_version(client_ctx, 0);
      SSL_CTX_set_max_proto_version(client_ctx, max_client_version);
      SSL_CTX_set_security_level(client_ctx, 0);  // OpenSSL's own floor would refuse first
    }
    client = SSL_new(client_ctx);
    SSL_set_fd(client, client_fd);
    SSL_set_connect_state(client);
    context = serverContext();
    server = std::make_unique<TlsTransport>(server_fd, *context, "test peer");
  }
  ~Pair() {
    server.reset();
    SSL_free(client);
    SSL_CTX_free(client_ctx);
    ::close(client_fd);
    ::close(server_fd);
    ERR_clear_error();
  }

  // Runs `client_step` (true when done) and the server's read until both
  // are done or nothing moves; returns what the server read.
  std::string pump(const std::function<bool()>& client_step, std::size_t want_server_bytes) {
    std::string got;
    bool client_done = false;
    for (int round = 0; round < 2000 && (!client_done || got.size() < want_server_bytes); ++round) {
      if (!client_done) client_done = client_step();
      char buffer[4096];
      const ssize_t n = server->read(buffer, sizeof buffer);
      if (n > 0) got.append(buffer, static_cast<std::size_t>(n));
      else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) break;
    }
    return got;
  }

  bool clientWrite(const std::string& text) {
    const int n = SSL_write(client, text.data(), static_cast<int>(text.size()));
    if (n > 0) return true;
    const int error = SSL_get_error(client, n);
    EXPECT_TRUE(error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) << "client SSL_write error " << error;
    return error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE;
  }

  // Reads what the client can get right now (non-blocking).
  std::string clientRead() {
    std::string got;
    char buffer[16384];
    for (;;) {
      const int n = SSL_read(client, buffer, sizeof buffer);
      if (n <= 0) break;
      got.append(buffer, static_cast<std::size_t>(n));
    }
    return got;
  }
};

ssize_t writeAll(TlsTransport& transport, const std::string& text) {
  iovec iov{const_cast<char*>(text.data()), text.size()};
  return transport.writev(&iov, 1);
}

}  // namespace

TEST(TlsContext, MissingCertificateNamesTheFile) {
  TlsOptions options;
  options.cert = tempPath("nowhere.pem");
  options.key = serverCert().key;
  auto made = TlsContext::create(options);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().find(options.cert), std::string::npos) << made.error();
  EXPECT_NE(made.error().find("No such file"), std::string::npos) << made.error();
}

TEST(TlsContext, MissingKeyNamesTheFile) {
  TlsOptions options;
  options.cert = serverCert().cert;
  options.key = tempPath("nokey.pem");
  auto made = TlsContext::create(options);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().find(options.key), std::string::npos) << made.error();
}

TEST(TlsContext, KeyOfAnotherCertificateIsRefused) {
  const CertFiles other = makeCert("other");
  TlsOptions options;
  options.cert = serverCert().cert;
  options.key = other.key;
  auto made = TlsContext::create(options);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().find("does not match"), std::string::npos) << made.error();
  EXPECT_NE(made.error().find(other.key), std::string::npos) << made.error();
}

TEST(TlsContext, SniNamesAndWildcardsPickTheirCertificate) {
  const CertFiles api = makeCert("sni_api");
  const CertFiles wild = makeCert("sni_wild");
  TlsOptions options;
  options.cert = serverCert().cert;
  options.key = serverCert().key;
  TlsSession session;
  session.sni = {{"API.example.com", api.cert, api.key}, {"*.wild.test", wild.cert, wild.key}};
  auto made = TlsContext::create(options, session);
  ASSERT_TRUE(made.ok()) << made.error();
  const TlsContext& context = *made.value();
  ssl_ctx_st* by_api = context.contextFor("api.example.com");
  ASSERT_NE(by_api, nullptr);
  EXPECT_EQ(context.contextFor("Api.Example.COM"), by_api) << "names are matched without regard to case";
  ssl_ctx_st* by_wild = context.contextFor("a.wild.test");
  ASSERT_NE(by_wild, nullptr);
  EXPECT_NE(by_wild, by_api);
  EXPECT_EQ(context.contextFor("b.wild.test"), by_wild);
  EXPECT_EQ(context.contextFor("wild.test"), nullptr) << "*.domain is not the domain itself";
  EXPECT_EQ(context.contextFor("a.b.wild.test"), nullptr) << "*. stands for one label";
  EXPECT_EQ(context.contextFor("example.com"), nullptr);
  EXPECT_EQ(context.contextFor("other.test"), nullptr);
}

TEST(TlsContext, AnSniCertificateThatIsMissingNamesTheHostAndFile) {
  TlsOptions options;
  options.cert = serverCert().cert;
  options.key = serverCert().key;
  TlsSession session;
  session.sni = {{"api.example.com", "/nonexistent/api.pem", serverCert().key}};
  auto made = TlsContext::create(options, session);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().find("SNI api.example.com"), std::string::npos) << made.error();
  EXPECT_NE(made.error().find("/nonexistent/api.pem"), std::string::npos) << made.error();
}

TEST(TlsContext, NotPemIsRefused) {
  const std::string junk = tempPath("junk.pem");
  FILE* out = std::fopen(junk.c_str(), "w");
  std::fputs("not a certificate\n", out);
  std::fclose(out);
  TlsOptions options;
  options.cert = junk;
  options.key = serverCert().key;
  auto made = TlsContext::create(options);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().find(junk), std::string::npos) << made.error();
}

TEST(TlsContext, PeerVerificationNeedsCa) {
  TlsOptions options;
  options.cert = serverCert().cert;
  options.key = serverCert().key;
  options.verify = TlsOptions::Verify::ForcePeer;
  auto made = TlsContext::create(options);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().find("ca="), std::string::npos) << made.error();
  options.ca = serverCert().cert;
  EXPECT_TRUE(TlsContext::create(options).ok());
}

TEST(TlsContext, BadCipherListIsRefused) {
  TlsOptions options;
  options.cert = serverCert().cert;
  options.key = serverCert().key;
  options.ciphers = "NO-SUCH-CIPHER";
  auto made = TlsContext::create(options);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().find("NO-SUCH-CIPHER"), std::string::npos) << made.error();
}

TEST(TlsTransport, HandshakeThenBytesBothWays) {
  Pair pair;
  const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(pair.pump([&] { return pair.clientWrite(request); }, request.size()), request);
  EXPECT_FALSE(pair.server->canSendFile());
  EXPECT_FALSE(pair.server->shortReadMeansDrained());
  EXPECT_GE(SSL_version(pair.client), TLS1_2_VERSION);

  const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  EXPECT_EQ(writeAll(*pair.server, response), static_cast<ssize_t>(response.size()));
  EXPECT_EQ(pair.clientRead(), response);
}

TEST(TlsTransport, IngestDecryptsWhatTheRingReceived) {
  Pair pair;
  const std::string request = "POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
  std::string plain;
  bool written = false;
  for (int round = 0; round < 200 && plain.size() < request.size(); ++round) {
    if (!written) written = pair.clientWrite(request);
    char ciphertext[4096];
    const ssize_t got = ::recv(pair.server_fd, ciphertext, sizeof ciphertext, 0);  // what io_uring would do
    if (got > 0) {
      ASSERT_GE(pair.server->ingest(ciphertext, static_cast<std::size_t>(got), plain), 0);
    }
  }
  EXPECT_EQ(plain, request);
}

TEST(TlsTransport, LargeWritesAreBoundedAndResumeWhenTheSocketDrains) {
  Pair pair(0, 64 * 1024);
  const std::string request = "GET /big HTTP/1.1\r\n\r\n";
  ASSERT_EQ(pair.pump([&] { return pair.clientWrite(request); }, request.size()), request);

  std::string body(3 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  std::size_t sent = 0;
  std::string received;
  bool saw_backpressure = false;
  for (int round = 0; round < 100000 && received.size() < body.size(); ++round) {
    if (sent < body.size()) {
      if (pair.server->hasPendingOutput() && pair.server->flushPending() < 0) {
        ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK);
      }
      iovec iov{body.data() + sent, body.size() - sent};
      const ssize_t n = pair.server->writev(&iov, 1);
      if (n > 0) {
        EXPECT_LE(static_cast<std::size_t>(n), TlsTransport::kMaxPlainPerWrite);
        sent += static_cast<std::size_t>(n);
      } else {
        ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
        saw_backpressure = true;
      }
    } else if (pair.server->hasPendingOutput()) {
      pair.server->flushPending();
    }
    // The client reads only every other round, so the socket fills up.
    if (round % 2 == 0) received += pair.clientRead();
  }
  EXPECT_TRUE(saw_backpressure) << "a 64 KiB socket never refused a 3 MiB write";
  EXPECT_FALSE(pair.server->hasPendingOutput());
  ASSERT_EQ(received.size(), body.size());
  EXPECT_TRUE(received == body);
}

TEST(TlsTransport, PlainHttpGetsA400AndTheConnectionFails) {
  Pair pair;
  const std::string plain = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(pair.client_fd, plain.data(), plain.size(), 0), static_cast<ssize_t>(plain.size()));
  char buffer[256];
  EXPECT_EQ(pair.server->read(buffer, sizeof buffer), -1);
  EXPECT_EQ(errno, EPROTO);
  char answer[512] = {};
  const ssize_t n = ::recv(pair.client_fd, answer, sizeof answer - 1, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(answer).rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << answer;
  EXPECT_NE(std::string(answer).find("https://"), std::string::npos) << answer;
}

TEST(TlsTransport, Tls11ClientIsRefused) {
  Pair pair(TLS1_1_VERSION);
  pair.pump([&] { return pair.clientWrite("GET / HTTP/1.1\r\n\r\n"); }, 1);
  char buffer[64];
  EXPECT_EQ(pair.server->read(buffer, sizeof buffer), -1);
  EXPECT_EQ(errno, EPROTO);
  EXPECT_EQ(SSL_is_init_finished(pair.client), 0);
}

TEST(TlsTransport, ShutdownWriteSendsCloseNotify) {
  Pair pair;
  const std::string request = "GET / HTTP/1.1\r\n\r\n";
  ASSERT_EQ(pair.pump([&] { return pair.clientWrite(request); }, request.size()), request);
  pair.server->shutdownWrite();
  char buffer[64];
  const int n = SSL_read(pair.client, buffer, sizeof buffer);
  EXPECT_EQ(n, 0);
  EXPECT_EQ(SSL_get_error(pair.client, n), SSL_ERROR_ZERO_RETURN);
}

TEST(TlsTransport, ClientCloseNotifyReadsAsEndOfStream) {
  Pair pair;
  const std::string request = "GET / HTTP/1.1\r\n\r\n";
  ASSERT_EQ(pair.pump([&] { return pair.clientWrite(request); }, request.size()), request);
  SSL_shutdown(pair.client);
  char buffer[64];
  EXPECT_EQ(pair.server->read(buffer, sizeof buffer), 0);
}

// --tls-ktls: this build never claims kTLS engaged. `off` needs no probe;
// `auto` always boots (and says why TLS stays in user space); `on` never
// boots until handing keys to the kernel exists.
TEST(KernelTls, ModesDecideTheBootLineOrRefuse) {
  using hyperion::config::KtlsMode;
  auto off = hyperion::net::decideKernelTls(KtlsMode::Off);
  ASSERT_TRUE(off.ok());
  EXPECT_NE(off->find("kTLS off"), std::string::npos);
  auto autom = hyperion::net::decideKernelTls(KtlsMode::Auto);
  ASSERT_TRUE(autom.ok());
  EXPECT_NE(autom->find("TLS runs in user space"), std::string::npos);
  const bool kernel_has_it = hyperion::net::probeKernelTls().ok();
  EXPECT_NE(autom->find(kernel_has_it ? "not engaged" : "kTLS unavailable ("), std::string::npos) << *autom;
  auto on = hyperion::net::decideKernelTls(KtlsMode::On);
  ASSERT_FALSE(on.ok());
  EXPECT_NE(on.error().find("--tls-ktls on"), std::string::npos);
}
