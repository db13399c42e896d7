// Deadlines: a connection that stalls is answered (408) or closed, so slow or
// idle clients cannot pin memory or file descriptors forever. The socket's
// own (lingering close, a client that reads nothing, a TLS handshake) are
// kept here; the protocol's by the session.
#include "hyperion/log/logger.hpp"
#include "hyperion/server/http_server.hpp"

namespace hyperion::server {

void HttpServer::checkTimeouts() {
  const auto& limits = settings_.limits;
  for (auto& [id, conn_ptr] : connections_) {
    Connection& conn = *conn_ptr;
    if (conn.broken) continue;
    if (conn.lingering) {
      if (now_ > conn.linger_until) doomed_.push_back(id);
      continue;
    }
    if (!conn.output.empty()) {
      if (now_ - conn.last_write > limits.write_timeout) {
        spdlog::info("dropping {}: client read nothing for {} ms", conn.peer.remote_addr,
                     limits.write_timeout.count());
        markBroken(conn);
      }
      continue;
    }
    if (conn.close_after_flush) continue;
    if (conn.session->busy() && !conn.session->timesItsStreams()) continue;  // the app's time is its own
    if (!conn.transport->established()) {
      // idle_since is the accept time until a first response exists.
      if (now_ - conn.idle_since > limits.tls_handshake_timeout) {
        spdlog::info("closing {}: TLS handshake not finished within {} ms", conn.peer.remote_addr,
                     limits.tls_handshake_timeout.count());
        doomed_.push_back(id);
      }
      continue;
    }
    conn.session->onTimeout(conn);  // idle keep-alive, slow headers, a stalled body
  }
}

}  // namespace hyperion::server
