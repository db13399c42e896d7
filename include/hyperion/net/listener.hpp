#pragma once
// Listening sockets. The master binds them all before forking; each worker keeps
// the ones meant for it. By default every bind is one socket shared by all
// workers, each accepting only while it has a free Ruby thread (HttpServer's
// capacity-aware accept); with --reuse-port a TCP bind gets one SO_REUSEPORT
// socket per worker slot and the kernel picks the worker by hash. Unix sockets
// cannot use SO_REUSEPORT and are always shared.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/net/proxy_protocol.hpp"
#include "hyperion/net/tls.hpp"
#include "hyperion/net/unique_fd.hpp"
#include "hyperion/util/result.hpp"

namespace hyperion::net {

struct BindAddress {
  enum class Kind { Tcp, Unix };
  Kind kind = Kind::Tcp;
  std::string host;  // Tcp
  int port = 0;      // Tcp; 0 = ephemeral
  std::string path;  // Unix
  // unix:///path?mode=0660 (chmod after bind) or ?umask=0117 (while binding), as Puma's.
  std::optional<unsigned> unix_mode, unix_umask;
  bool tls = false;  // ssl://
  TlsOptions tls_options;
  // tcp://...?proxy_protocol=v1|v2&proxy_trusted=10.0.0.0/8,127.0.0.1
  ProxyPolicy proxy;
};

Result<BindAddress> parseBindUri(const std::string& uri);

struct Listener {
  UniqueFd fd;
  BindAddress address;  // port resolved after bind
  int slot = -1;        // worker slot that owns it; -1 = shared by every worker
  std::shared_ptr<TlsContext> tls;  // ssl:// binds: made before fork, shared by every copy
  std::string url() const;  // http://127.0.0.1:9292 or unix:///path
};

// Binds every URI; TCP ones `slots` times (at least once). Unix socket files
// left over by a dead server are replaced; a live one is an error.
// `session`: resumption settings every ssl:// bind's context takes.
Result<std::vector<Listener>> bindListeners(const std::vector<std::string>& uris, int slots,
                                            const TlsSession& session = {});

// systemd socket activation: the listening sockets passed as fds 3.. when
// LISTEN_PID is this process (LISTEN_FDS of them; the variables are then
// unset). Empty when none were passed. Shared by every worker, plain HTTP.
Result<std::vector<Listener>> inheritedListeners();

// The distinct TLS contexts of these listeners (one per ssl:// bind).
std::vector<std::shared_ptr<TlsContext>> tlsContexts(const std::vector<Listener>& listeners);

// Keeps the listeners for `slot` (and the shared ones); closes the rest.
std::vector<Listener> listenersForSlot(std::vector<Listener>& all, int slot);

}  // namespace hyperion::net
