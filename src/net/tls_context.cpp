// The server's TLS configuration: certificate, key, protocol floor, ciphers,
// ALPN and client-certificate verification. Made once in the master.
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>

#include "hyperion/log/logger.hpp"
#include "hyperion/net/tls.hpp"

namespace hyperion::net {
namespace {

// Mozilla's "intermediate" TLS 1.2 suites: forward secrecy and AEAD only.
constexpr const char* kDefaultCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384";

// The newest error on this thread's OpenSSL queue, as text; clears the queue.
std::string opensslError() {
  const unsigned long code = ERR_peek_last_error();
  const char* reason = code ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return reason ? reason : "unknown error";
}

std::string readable(const std::string& what, const std::string& path) {
  if (path.empty()) return what + " not given";
  if (::access(path.c_str(), R_OK) != 0) return what + " " + path + ": " + std::strerror(errno);
  return {};
}

// Whether the client's ALPN list (RFC 7301 wire form) names `protocol`;
// points `out` at it if so.
bool offers(const unsigned char* in, unsigned int in_length, std::string_view protocol, const unsigned char** out,
            unsigned char* out_length) {
  for (unsigned int at = 0; at < in_length;) {
    const unsigned int length = in[at];
    if (at + 1 + length > in_length) break;
    if (length == protocol.size() && std::memcmp(in + at + 1, protocol.data(), length) == 0) {
      *out = in + at + 1;
      *out_length = static_cast<unsigned char>(length);
      return true;
    }
    at += 1 + length;
  }
  return false;
}

// The server's preference: h2 when offered (and enabled: `arg` non-null),
// then HTTP/1.1. A client that offers neither gets no ALPN answer (and then
// speaks HTTP/1.1 or gives up), as most servers do.
int selectAlpn(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
               unsigned int in_length, void* arg) {
  if (arg != nullptr && offers(in, in_length, "h2", out, out_length)) return SSL_TLSEXT_ERR_OK;
  if (offers(in, in_length, "http/1.1", out, out_length)) return SSL_TLSEXT_ERR_OK;
  return SSL_TLSEXT_ERR_NOACK;
}

// Session tickets with the keys every worker shares (AES-256-CBC and
// HMAC-SHA256, the RFC 5077 layout OpenSSL uses for its own keys). Returns
// 1 (use), 2 (use, and send the client a fresh ticket), 0 (unknown key:
// full handshake) or -1 (error).
int ticketKey(SSL* ssl, unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX* cipher,
              EVP_MAC_CTX* mac, int encrypt) {
  auto* context = static_cast<TlsContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  const TicketKeys::Seconds now = TicketKeys::now();
  TicketKeys::Key key;
  int answer = 1;
  if (encrypt) {
    key = context->ticketKeys().current(now);
    std::memcpy(name, key.name.data(), key.name.size());
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
  } else {
    bool renew = false;
    auto found = context->ticketKeys().find(name, now, renew);
    if (!found) return 0;
    key = *found;
    // TLS 1.3 clients use a ticket once (RFC 8446, C.4), so a resumption
    // must hand out a new one; OpenSSL sends it only when told to renew.
    answer = renew || SSL_version(ssl) == TLS1_3_VERSION ? 2 : 1;
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size()),
                         OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  const int ok = encrypt ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv)
                         : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv);
  return ok == 1 ? answer : -1;
}


// What every context of a bind shares: protocol floor, ciphers, ALPN,
// client-certificate checks, and its certificate and key (`cert`, `key`: the
// bind's own or an SNI one). An error names the file.
std::optional<std::string> configure(SSL_CTX* raw, const TlsOptions& options, const std::string& cert,
                                     const std::string& key, bool offer_h2) {
  if (auto problem = readable("TLS certificate", cert); !problem.empty()) return problem;
  if (auto problem = readable("TLS key", key); !problem.empty()) return problem;
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  SSL_CTX_set_options(raw, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // OpenSSL frees per-connection read/write buffers while idle: a keep-alive
  // connection waiting for its next request costs far less memory.
  SSL_CTX_set_mode(raw, SSL_MODE_RELEASE_BUFFERS);
  const std::string ciphers = options.ciphers.empty() ? kDefaultCiphers : options.ciphers;
  if (SSL_CTX_set_cipher_list(raw, ciphers.c_str()) != 1) return "TLS ciphers \"" + ciphers + "\": " + opensslError();
  if (SSL_CTX_use_certificate_chain_file(raw, cert.c_str()) != 1)
    return "TLS certificate " + cert + ": " + opensslError();
  if (SSL_CTX_use_PrivateKey_file(raw, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL compares the key with the certificate here already.
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return "TLS key " + key + " does not match the certificate " + cert;
    }
    return "TLS key " + key + ": " + opensslError();
  }
  if (SSL_CTX_check_private_key(raw) != 1) return "TLS key " + key + " does not match the certificate " + cert;
  static char h2_enabled;  // only its address matters: non-null offers h2
  SSL_CTX_set_alpn_select_cb(raw, selectAlpn, offer_h2 ? &h2_enabled : nullptr);
  // Sessions resume only with the context that made them.
  static constexpr unsigned char kSessionContext[] = "hyperion";
  SSL_CTX_set_session_id_context(raw, kSessionContext, sizeof kSessionContext - 1);
  if (options.verify != TlsOptions::Verify::None) {
    if (SSL_CTX_load_verify_locations(raw, options.ca.c_str(), nullptr) != 1)
      return "TLS client CA " + options.ca + ": " + opensslError();
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.ca.c_str())) SSL_CTX_set_client_CA_list(raw, names);
    int mode = SSL_VERIFY_PEER;
    if (options.verify == TlsOptions::Verify::ForcePeer) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(raw, mode, nullptr);
  }
  return std::nullopt;
}

// SNI: switch the handshake to the certificate of the name asked for. No
// name, or one without a certificate of its own: the bind's certificate.
int selectCertificate(SSL* ssl, int*, void* arg) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_OK;
  if (SSL_CTX* chosen = static_cast<const TlsContext*>(arg)->contextFor(name)) SSL_set_SSL_CTX(ssl, chosen);
  return SSL_TLSEXT_ERR_OK;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::create(const TlsOptions& options, const TlsSession& session) {
  if (options.verify != TlsOptions::Verify::None) {
    if (auto problem = readable("TLS client CA (ca=)", options.ca); !problem.empty()) return Error{problem};
  }
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (!raw) return Error{"TLS: cannot create a context: " + opensslError()};
  std::shared_ptr<TlsContext> context(new TlsContext(raw));
  if (auto problem = configure(raw, options, options.cert, options.key, session.offer_h2)) return Error{*problem};
  for (const SniCertificate& sni : session.sni) {
    SSL_CTX* named = SSL_CTX_new(TLS_server_method());
    if (!named) return Error{"TLS: cannot create a context: " + opensslError()};
    context->sni_.emplace_back(lowercase(sni.host), named);  // owned from here, freed with the context
    if (auto problem = configure(named, options, sni.cert, sni.key, session.offer_h2)) return Error{"SNI " + sni.host + ": " + *problem};
    // After the switch SSL_get_SSL_CTX is this one: the ticket callback (run
    // for the first context) finds the shared keys through it as well.
    SSL_CTX_set_app_data(named, context.get());
  }
  if (!context->sni_.empty()) {
    SSL_CTX_set_tlsext_servername_callback(raw, selectCertificate);
    SSL_CTX_set_tlsext_servername_arg(raw, context.get());
  }
  // Tickets and the session cache belong to this context even when SNI
  // switches the certificate (OpenSSL keeps the first context for sessions).
  if (session.cache_size == 0) SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_OFF);
  else if (session.cache_size > 0) SSL_CTX_sess_set_cache_size(raw, session.cache_size);
  auto keys = TicketKeys::create(session.ticket_key_rotation);
  if (!keys) return Error{keys.error()};
  context->ticket_keys_ = std::move(keys.value());
  SSL_CTX_set_app_data(raw, context.get());
  SSL_CTX_set_tlsext_ticket_key_evp_cb(raw, ticketKey);
  // A ticket stays accepted for at least one rotation interval (then its key
  // is the previous one for another): the lifetime hint promises no more.
  SSL_CTX_set_timeout(raw, static_cast<long>(session.ticket_key_rotation.count()));
  ERR_clear_error();
  return context;
}

SSL_CTX* TlsContext::contextFor(std::string_view host) const {
  const std::string name = lowercase(host);
  for (const auto& [pattern, ctx] : sni_) {
    if (pattern == name) return ctx;
  }
  // `*.example.com` stands for exactly one label: a.example.com, not example.com or a.b.example.com.
  const auto dot = name.find('.');
  if (dot == std::string::npos || dot == 0) return nullptr;
  for (const auto& [pattern, ctx] : sni_) {
    if (pattern.size() > 2 && pattern.compare(0, 2, "*.") == 0 && name.compare(dot + 1, std::string::npos, pattern, 2) == 0)
      return ctx;
  }
  return nullptr;
}

TlsContext::~TlsContext() {
  for (auto& named : sni_) SSL_CTX_free(named.second);
  SSL_CTX_free(ctx_);
}

int rotateTicketKeys(const std::vector<std::shared_ptr<TlsContext>>& contexts) {
  int rotated = 0;
  for (const auto& context : contexts) rotated += context->rotateTicketKeys() ? 1 : 0;
  if (rotated > 0)
    spdlog::info("SIGHUP: new TLS session-ticket key for {} bind(s); the previous one is still accepted", rotated);
  return rotated;
}

}  // namespace hyperion::net
