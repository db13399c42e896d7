// Deadlines: a connection that stalls is answered (408) or closed, so slow or
// idle clients cannot pin memory or file descriptors forever.
#include "hyperion/http1/response.hpp"
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
    if (conn.in_flight || conn.close_after_flush) continue;  // the app's time is its own
    if (!conn.transport->established()) {
      // idle_since is the accept time until a first response exists.
      if (now_ - conn.idle_since > limits.tls_handshake_timeout) {
        spdlog::info("closing {}: TLS handshake not finished within {} ms", conn.peer.remote_addr,
                     limits.tls_handshake_timeout.count());
        doomed_.push_back(id);
      }
      continue;
    }
    switch (conn.parser.phase()) {
      case http1::RequestParser::Phase::Idle:
        if (now_ - std::max(conn.idle_since, conn.last_read) > limits.keepalive_timeout) doomed_.push_back(id);
        break;
      case http1::RequestParser::Phase::Headers:
        if (now_ - conn.request_started > limits.header_timeout)
          rejectRequest(conn, {408, "request headers not received in time"});
        break;
      case http1::RequestParser::Phase::Body:
        if (now_ - conn.last_read > limits.body_timeout)
          rejectRequest(conn, {408, "request body stalled"});
        break;
    }
  }
}

}  // namespace hyperion::server
