// Reading: the inbound half of a connection, up to the session.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "hyperion/http2/session.hpp"
#include "hyperion/log/logger.hpp"
#include "hyperion/net/proxy_protocol.hpp"
#include "hyperion/server/http_server.hpp"
#include "hyperion/server/bridge_session.hpp"
#include "hyperion/websocket/session.hpp"

namespace hyperion::server {
namespace {

constexpr std::size_t kReadChunk = HttpServer::kReadBufferBytes;
// While a request runs we keep reading (to see EOF and pipelined requests), but
// only this much: a client cannot make us buffer without bound.
constexpr std::size_t kMaxBufferedWhileBusy = 1024 * 1024;

}  // namespace

void HttpServer::onReadable(Connection& conn) {
  if (conn.broken || conn.peer_closed) return;
  for (;;) {
    if (conn.session->holdsInput() && conn.pendingInput() >= kMaxBufferedWhileBusy) {
      conn.read_paused = true;  // the session resumes reading when it is free
      break;
    }
    if (conn.input_offset > 0 && conn.input_offset == conn.input.size()) {
      conn.input.clear();
      conn.input_offset = 0;
    }
    // Read into the loop's scratch buffer and append only what arrived:
    // growing the string by 64 KiB first would zero-fill it on every read.
    ssize_t n = conn.transport->read(read_buffer_.get(), kReadChunk);
    if (n > 0) conn.input.append(read_buffer_.get(), static_cast<std::size_t>(n));
    if (n > 0) {
      conn.last_read = now_;
      stats_.bytes_in.add(static_cast<std::uint64_t>(n));
      if (conn.lingering) {  // a rejected request's body: read and forget
        conn.input.clear();
        conn.input_offset = 0;
        continue;
      }
      if (static_cast<std::size_t>(n) < kReadChunk && conn.transport->shortReadMeansDrained()) {
        // Short read: the socket is very likely drained; edge-triggered epoll
        // will tell us when more arrives, so skip the extra EAGAIN syscall.
        break;
      }
      continue;
    }
    if (n == 0) {
      conn.peer_closed = true;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    markBroken(conn);
    return;
  }
  afterRead(conn);
}

void HttpServer::onReceived(Connection& conn, const char* data, std::size_t n) {
  if (conn.broken || conn.peer_closed) return;
  if (n == 0) {
    conn.peer_closed = true;
  } else {
    conn.last_read = now_;
    stats_.bytes_in.add(n);
    if (conn.input_offset > 0 && conn.input_offset == conn.input.size()) {
      conn.input.clear();
      conn.input_offset = 0;
    }
    // Through the transport even while lingering (a TLS stream must see
    // every record); a rejected request's body is then forgotten.
    if (conn.transport->ingest(data, n, conn.input) < 0) {
      markBroken(conn);
      return;
    }
    if (conn.lingering) {
      conn.input.clear();
      conn.input_offset = 0;
    }
    if (conn.session->holdsInput() && conn.pendingInput() >= kMaxBufferedWhileBusy && !conn.hijack_waiting) {
      conn.read_paused = true;  // the session resumes reading when it is free
      stopRecv(conn);
    }
  }
  afterRead(conn);
}

void HttpServer::afterRead(Connection& conn) {
  // A TLS handshake answers from inside a read; send what the socket did not take.
  if (conn.transport->hasPendingOutput()) flush(conn);
  if (conn.proxy_version && !readProxyHeader(conn)) {
    if (conn.peer_closed && !conn.broken) doomed_.push_back(conn.id);
    return;
  }
  if (conn.protocol_settled || settleProtocol(conn)) conn.session->onInput(conn);
  if (conn.peer_closed && !conn.session->busy() && conn.output.empty()) {
    // EOF with nothing left to answer (a half-sent request is simply dropped).
    doomed_.push_back(conn.id);
  }
}

bool HttpServer::readProxyHeader(Connection& conn) {
  const std::string_view head(conn.input.data() + conn.input_offset, conn.pendingInput());
  const net::ProxyParse parsed = net::parseProxyHeader(head, conn.proxy_version);
  switch (parsed.state) {
    case net::ProxyParse::State::NeedMore:
      if (conn.peer_closed && !head.empty())
        spdlog::warn("connection from {} closed inside its PROXY header", conn.peer.remote_addr);
      return false;
    case net::ProxyParse::State::Invalid:
      // The spec says drop it: no HTTP answer, nothing reaches the app.
      spdlog::warn("malformed PROXY protocol header from {}: {}; closed", conn.peer.remote_addr, parsed.error);
      stats_.proxy_headers_rejected.add();
      markBroken(conn);
      return false;
    case net::ProxyParse::State::Done:
      break;
  }
  conn.input_offset += parsed.header.length;
  if (parsed.header.source) conn.peer.remote_addr = *parsed.header.source;  // else LOCAL/UNKNOWN: the proxy's own
  conn.proxy_version = 0;
  return true;
}

// ALPN (over TLS) or the first bytes (h2c by prior knowledge on a plain
// bind) say which protocol the connection speaks; anything else is HTTP/1.1.
// False while that cannot be known yet.
bool HttpServer::settleProtocol(Connection& conn) {
  if (!conn.transport->established()) return false;  // the TLS handshake is still going
  const std::string_view alpn = conn.transport->alpn();
  bool h2 = alpn == "h2";
  if (alpn.empty() && !conn.peer.secure && settings_.http2.h2c) {
    const std::string_view head(conn.input.data() + conn.input_offset, conn.pendingInput());
    const std::string_view preface = http2::kClientPreface;
    const std::size_t n = std::min(head.size(), preface.size());
    if (head.substr(0, n) == preface.substr(0, n)) {
      if (n < preface.size() && !conn.peer_closed) return false;  // a prefix of the preface: wait for the rest
      h2 = n == preface.size();
    }
  }
  conn.protocol_settled = true;
  if (conn.peer.secure) stats_.tls_handshakes.add();
  if (h2) conn.session = std::make_unique<http2::Http2Session>(static_cast<SessionHost&>(*this), conn);
  return true;
}

void HttpServer::switchToHttp2(Connection& conn, http1::Request&& request, const std::string& settings) {
  queueOutput(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", nullptr);
  auto session = std::make_unique<http2::Http2Session>(static_cast<SessionHost&>(*this), conn);
  http2::Http2Session& h2 = *session;
  conn.session = std::move(session);  // the HTTP/1 session that asked goes here
  h2.acceptUpgrade(std::move(request), settings);
  h2.onInput(conn);  // the server's SETTINGS after the 101, and the client's preface if it is here
}

void HttpServer::switchToWebSocket(Connection& conn, std::shared_ptr<Exchange> exchange,
                                   const std::optional<websocket::DeflateParams>& deflate) {
  auto session = std::make_unique<websocket::WebSocketSession>(static_cast<SessionHost&>(*this), conn,
                                                                std::move(exchange), deflate);
  websocket::WebSocketSession& ws = *session;
  conn.session = std::move(session);  // the HTTP/1 session that asked goes here
  stats_.websocket_upgrades.add();
  conn.idle_since = now_;
  ws.onInput(conn);  // frames the client sent right behind its handshake
  if (conn.read_paused && !ws.holdsInput()) resumeReading(conn);
}

void HttpServer::handOver(Connection& conn, const std::shared_ptr<Exchange>& exchange) {
  if (conn.peer.secure) {
    bridgeHijack(conn, exchange);
    return;
  }
  // From here the socket is the app's: stop watching it and never close it.
  unwatch(conn);
  conn.hijack_waiting = exchange;
  // io_uring: an armed recv could still take bytes meant for the app, so the
  // socket changes hands once its final completion is in.
  if (!conn.recv_armed) finishHijack(conn);
}

void HttpServer::bridgeHijack(Connection& conn, const std::shared_ptr<Exchange>& exchange) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    spdlog::error("rack.hijack over TLS: socketpair: {}", std::strerror(errno));
    exchange->completeHijack(-1, {});
    return;
  }
  net::UniqueFd ours(pair[0]);
  ::fcntl(ours.get(), F_SETFL, ::fcntl(ours.get(), F_GETFL) | O_NONBLOCK);
  PeerInfo pipe_peer = conn.peer;
  pipe_peer.secure = false;
  pipe_peer.unix_socket = true;
  auto pipe = std::make_unique<Connection>(next_id_++, std::move(ours), nullptr, std::move(pipe_peer));
  pipe->protocol_settled = true;
  pipe->session = std::make_unique<BridgeSession>(static_cast<SessionHost&>(*this), conn.id);
  pipe->idle_since = pipe->last_read = pipe->last_write = now_;
  Connection* app_side = registerConnection(std::move(pipe));
  if (!app_side) {
    ::close(pair[1]);
    exchange->completeHijack(-1, {});
    return;
  }
  if (uring_) armRecv(*app_side);
  std::string leftover = conn.input.substr(conn.input_offset);
  conn.input.clear();
  conn.input_offset = 0;
  conn.session = std::make_unique<BridgeSession>(static_cast<SessionHost&>(*this), app_side->id);  // the HTTP/1 one goes
  if (conn.read_paused) resumeReading(conn);
  exchange->completeHijack(pair[1], std::move(leftover));
}

void HttpServer::finishHijack(Connection& conn) {
  std::shared_ptr<Exchange> exchange = std::move(conn.hijack_waiting);
  std::string leftover = conn.input.substr(conn.input_offset);
  int fd = conn.fd.release();
  doomed_.push_back(conn.id);  // the session (and its hold on the exchange) goes with it
  exchange->completeHijack(fd, std::move(leftover));
}

}  // namespace hyperion::server
