#include "hyperion/net/listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string_view>

namespace hyperion::net {
namespace {

constexpr int kBacklog = 1024;

std::string errnoText(const std::string& what) { return what + ": " + std::strerror(errno); }

Result<UniqueFd> bindTcp(BindAddress& address, bool reuseport) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port = std::to_string(address.port);
  const char* host = address.host.empty() || address.host == "*" ? nullptr : address.host.c_str();
  if (int rc = ::getaddrinfo(host, port.c_str(), &hints, &found); rc != 0)
    return Error{"cannot resolve " + address.host + ": " + gai_strerror(rc)};
  std::string last_error = "no address for " + address.host;
  for (addrinfo* ai = found; ai; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd) {
      last_error = errnoText("socket");
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (ai->ai_family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    // Wake the worker only when the request's first bytes are in (as nginx's
    // `deferred`): an accepted connection is read at once, with no extra wake.
    int defer_seconds = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_seconds, sizeof defer_seconds);
    if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd.get(), kBacklog) != 0) {
      last_error = errnoText("bind " + address.host + ":" + port);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len);
    address.port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                     : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    ::freeaddrinfo(found);
    return fd;
  }
  ::freeaddrinfo(found);
  return Error{last_error};
}

Result<UniqueFd> bindUnix(const BindAddress& address) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (address.path.size() >= sizeof sun.sun_path) return Error{"unix socket path too long: " + address.path};
  std::memcpy(sun.sun_path, address.path.c_str(), address.path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return Error{errnoText("socket")};
  struct stat st{};
  if (::lstat(address.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
    // A stale socket file from a crashed server is replaced; a live one is not.
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0)
      return Error{"another server is listening on " + address.path};
    ::unlink(address.path.c_str());
  }
  // umask: the file is created with the bits already off (no moment where it
  // is wider than asked). Binding happens at boot, before any thread starts.
  const mode_t previous = address.unix_umask ? ::umask(static_cast<mode_t>(*address.unix_umask)) : 0;
  const bool bound = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0;
  const int bind_errno = errno;
  if (address.unix_umask) ::umask(previous);
  errno = bind_errno;
  if (!bound || ::listen(fd.get(), kBacklog) != 0) return Error{errnoText("bind unix://" + address.path)};
  if (address.unix_mode && ::chmod(address.path.c_str(), static_cast<mode_t>(*address.unix_mode)) != 0)
    return Error{errnoText("chmod unix://" + address.path)};
  return fd;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> percentDecode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size() || hexValue(text[i + 1]) < 0 || hexValue(text[i + 2]) < 0)
      return Error{"bad %-escape in \"" + std::string(text) + "\""};
    out += static_cast<char>(hexValue(text[i + 1]) * 16 + hexValue(text[i + 2]));
    i += 2;
  }
  return out;
}

// Calls `take(name, value)` for each name=value of a bind's query, the
// value percent-decoded; stops at the first error either reports.
template <typename Take>
std::optional<std::string> forEachQueryParameter(std::string_view query, Take take) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto value = percentDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!value) return value.error();
    if (auto problem = take(pair.substr(0, eq), value.value())) return problem;
  }
  return std::nullopt;
}

// Puma's ssl:// query: cert, key, ca, verify_mode (none|peer|force_peer),
// ssl_cipher_filter (its name for the cipher list).
std::optional<std::string> parseTlsQuery(std::string_view query, TlsOptions& options) {
  auto take = [&](std::string_view name, const std::string& value) -> std::optional<std::string> {
    if (name == "cert") options.cert = value;
    else if (name == "key") options.key = value;
    else if (name == "ca") options.ca = value;
    else if (name == "ssl_cipher_filter") options.ciphers = value;
    else if (name == "verify_mode") {
      if (value == "none") options.verify = TlsOptions::Verify::None;
      else if (value == "peer") options.verify = TlsOptions::Verify::Peer;
      else if (value == "force_peer") options.verify = TlsOptions::Verify::ForcePeer;
      else return "verify_mode must be none, peer or force_peer, not " + value;
    } else {
      return "unknown parameter " + std::string(name) + " (cert, key, ca, verify_mode, ssl_cipher_filter)";
    }
    return std::nullopt;
  };
  if (auto problem = forEachQueryParameter(query, take)) return problem;
  if (options.cert.empty() || options.key.empty()) return std::string("needs cert=PATH and key=PATH (or --tls-cert and --tls-key)");
  return std::nullopt;
}

// A unix:// bind's query: mode=0660 and umask=0117, octal, as Puma's.
std::optional<std::string> parseUnixQuery(std::string_view query, BindAddress& address) {
  auto take = [&](std::string_view name, const std::string& value) -> std::optional<std::string> {
    if (name != "mode" && name != "umask") return std::nullopt;  // Puma's backlog and the like: ignored
    unsigned bits = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), bits, 8);
    if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() || bits > 0777)
      return std::string(name) + " must be octal permission bits such as 0660, not " + value;
    (name == "mode" ? address.unix_mode : address.unix_umask) = bits;
    return std::nullopt;
  };
  return forEachQueryParameter(query, take);
}

// A tcp:// bind's query: proxy_protocol=v1|v2 and proxy_trusted=RANGE,...
// (loopback when not given).
std::optional<std::string> parseProxyQuery(std::string_view query, ProxyPolicy& policy) {
  bool trusted_given = false;
  auto take = [&](std::string_view name, const std::string& value) -> std::optional<std::string> {
    if (name == "proxy_protocol") {
      if (value == "v1") policy.version = 1;
      else if (value == "v2") policy.version = 2;
      else return "proxy_protocol must be v1 or v2, not " + value;
    } else if (name == "proxy_trusted") {
      trusted_given = true;
      std::string_view list = value;
      while (!list.empty()) {
        const auto comma = list.find(',');
        auto range = parseAddressRange(list.substr(0, comma));
        if (!range) return "proxy_trusted: " + range.error();
        policy.trusted.push_back(range.value());
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
    }
    // Anything else (Puma's backlog, low_latency, a stray cert=) is ignored, as before.
    return std::nullopt;
  };
  if (auto problem = forEachQueryParameter(query, take)) return problem;
  if (trusted_given && policy.version == 0) return std::string("proxy_trusted needs proxy_protocol=v1 or v2");
  return std::nullopt;
}

}  // namespace

Result<BindAddress> parseBindUri(const std::string& uri) {
  BindAddress address;
  if (uri.rfind("unix://", 0) == 0) {
    address.kind = BindAddress::Kind::Unix;
    address.path = uri.substr(7);
    std::string query;
    if (auto mark = address.path.find('?'); mark != std::string::npos) {
      query = address.path.substr(mark + 1);
      address.path.resize(mark);
    }
    if (address.path.empty()) return Error{"bind " + uri + ": empty socket path"};
    if (auto problem = parseUnixQuery(query, address)) return Error{"bind " + uri + ": " + *problem};
    return address;
  }
  std::string rest = uri;
  if (rest.rfind("tcp://", 0) == 0) rest = rest.substr(6);
  else if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  else if (rest.rfind("ssl://", 0) == 0 || rest.rfind("https://", 0) == 0) {
    address.tls = true;
    rest = rest.substr(rest.find("://") + 3);
  } else if (rest.find("://") != std::string::npos) {
    return Error{"bind " + uri + ": only tcp://, ssl:// and unix:// are supported"};
  }
  std::string query;
  if (auto mark = rest.find('?'); mark != std::string::npos) {
    query = rest.substr(mark + 1);
    rest = rest.substr(0, mark);
  }
  if (auto slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  if (address.tls) {
    if (query.find("proxy_protocol=") != std::string::npos)
      return Error{"bind " + uri + ": proxy_protocol is not offered on ssl:// binds yet (let the proxy "
                                   "terminate TLS, or pass TLS through without PROXY headers)"};
    if (auto problem = parseTlsQuery(query, address.tls_options)) return Error{"bind " + uri + ": " + *problem};
  } else if (auto problem = parseProxyQuery(query, address.proxy)) {
    return Error{"bind " + uri + ": " + *problem};
  }
  std::size_t colon;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) return Error{"bind " + uri + ": unterminated [ipv6]"};
    address.host = rest.substr(1, close - 1);
    colon = rest.find(':', close);
  } else {
    colon = rest.rfind(':');
    address.host = rest.substr(0, colon);
  }
  if (colon == std::string::npos) return Error{"bind " + uri + ": missing :port"};
  try {
    std::size_t used = 0;
    address.port = std::stoi(rest.substr(colon + 1), &used);
    if (used != rest.size() - colon - 1 || address.port < 0 || address.port > 65535) throw std::out_of_range("port");
  } catch (...) {
    return Error{"bind " + uri + ": bad port"};
  }
  if (address.host.empty()) address.host = "0.0.0.0";
  return address;
}

std::string Listener::url() const {
  if (address.kind == BindAddress::Kind::Unix) return "unix://" + address.path;
  bool v6 = address.host.find(':') != std::string::npos;
  return (address.tls ? "https://" : "http://") + (v6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
}

Result<std::vector<Listener>> bindListeners(const std::vector<std::string>& uris, int slots,
                                            const TlsSession& session) {
  std::vector<Listener> listeners;
  for (const auto& uri : uris) {
    auto parsed = parseBindUri(uri);
    if (!parsed) return Error{parsed.error()};
    BindAddress address = parsed.value();
    std::shared_ptr<TlsContext> tls;
    if (address.tls) {
      auto made = TlsContext::create(address.tls_options, session);
      if (!made) return Error{made.error()};
      tls = std::move(made.value());
    }
    if (address.kind == BindAddress::Kind::Unix) {
      auto fd = bindUnix(address);
      if (!fd) return Error{fd.error()};
      listeners.push_back(Listener{std::move(fd.value()), address, -1});
      continue;
    }
    int copies = slots < 1 ? 1 : slots;
    if (copies > 1 && address.port != 0) {
      // SO_REUSEPORT would let us share a port with another server run by the
      // same user without a word; a plain bind first proves the port is free.
      BindAddress probe_address = address;
      auto probe = bindTcp(probe_address, false);
      if (!probe) return Error{probe.error()};
    }
    for (int slot = 0; slot < copies; ++slot) {
      // The first bind resolves an ephemeral port; the others join that port.
      auto fd = bindTcp(address, copies > 1);
      if (!fd) return Error{fd.error()};
      listeners.push_back(Listener{std::move(fd.value()), address, copies > 1 ? slot : -1, tls});
    }
  }
  return listeners;
}

std::vector<std::shared_ptr<TlsContext>> tlsContexts(const std::vector<Listener>& listeners) {
  std::vector<std::shared_ptr<TlsContext>> contexts;
  for (const auto& listener : listeners) {
    if (listener.tls && std::find(contexts.begin(), contexts.end(), listener.tls) == contexts.end())
      contexts.push_back(listener.tls);
  }
  return contexts;
}

std::vector<Listener> listenersForSlot(std::vector<Listener>& all, int slot) {
  std::vector<Listener> mine;
  for (auto& listener : all) {
    if (listener.slot == -1 || listener.slot == slot) mine.push_back(std::move(listener));
  }
  all.clear();  // the rest close here
  return mine;
}

}  // namespace hyperion::net
