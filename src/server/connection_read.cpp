// Reading, parsing and handing requests to Ruby: the inbound half of a connection.
#include <sys/epoll.h>

#include <cerrno>
#include <cstring>

#include "hyperion/http1/response.hpp"
#include "hyperion/log/logger.hpp"
#include "hyperion/server/http_server.hpp"

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
    if (conn.in_flight && conn.pendingInput() >= kMaxBufferedWhileBusy) {
      conn.read_paused = true;  // resumed by onFinish
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
    if (conn.in_flight && conn.pendingInput() >= kMaxBufferedWhileBusy && !conn.hijack_waiting) {
      conn.read_paused = true;  // resumed by onFinish
      stopRecv(conn);
    }
  }
  afterRead(conn);
}

void HttpServer::afterRead(Connection& conn) {
  // A TLS handshake answers from inside a read; send what the socket did not take.
  if (conn.transport->hasPendingOutput()) flush(conn);
  if (!conn.in_flight) processInput(conn);
  if (conn.peer_closed && !conn.in_flight && conn.output.empty()) {
    // EOF with nothing left to answer (a half-sent request is simply dropped).
    doomed_.push_back(conn.id);
  }
}

void HttpServer::processInput(Connection& conn) {
  while (!conn.in_flight && !conn.close_after_flush && !conn.broken) {
    if (conn.pendingInput() == 0) return;
    const bool was_idle = conn.parser.phase() == http1::RequestParser::Phase::Idle;
    auto outcome = conn.parser.feed(conn.input.data() + conn.input_offset, conn.pendingInput());
    if (was_idle && conn.parser.phase() != http1::RequestParser::Phase::Idle) conn.request_started = now_;
    if (outcome.status == http1::RequestParser::Status::Failed) {
      rejectRequest(conn, conn.parser.error());
      return;
    }
    conn.input_offset += outcome.consumed;
    if (conn.parser.takeContinueRequest()) {
      queueOutput(conn, "HTTP/1.1 100 Continue\r\n\r\n", nullptr);
      flush(conn);
    }
    if (outcome.status == http1::RequestParser::Status::NeedMore) {
      if (conn.input_offset == conn.input.size()) {
        conn.input.clear();
        conn.input_offset = 0;
      }
      return;
    }
    dispatch(conn, conn.parser.takeRequest());
  }
}

void HttpServer::dispatch(Connection& conn, http1::Request request) {
  int handler_id = -1;
  if (answerNatively(conn, request, handler_id)) return;  // the loop goes on to the next request
  auto exchange = std::make_shared<Exchange>(conn.id, std::move(request), conn.peer, mailbox_);
  exchange->setRouteHandler(handler_id);
  conn.in_flight = exchange;
  queue_.push(std::move(exchange));
}

void HttpServer::rejectRequest(Connection& conn, const http1::ParseError& error) {
  // Limits and malformed input are answered here; Ruby never sees them.
  // 500 is our failure (a temp file could not be written); 501/505 are the
  // client asking for what we do not speak, like any 4xx.
  if (error.status == 500) spdlog::error("{}: {} -> {}", conn.peer.remote_addr, error.reason, error.status);
  else spdlog::info("rejected request from {}: {} -> {}", conn.peer.remote_addr, error.reason, error.status);
  std::string body = std::string(http1::reasonPhrase(error.status)) + "\n";
  queueOutput(conn, http1::buildSimpleResponse(error.status, body, false), nullptr);
  conn.close_after_flush = true;
  conn.linger_on_close = true;
  conn.input.clear();
  conn.input_offset = 0;
  flush(conn);
  if (conn.output.empty()) closeWhenDone(conn);
}

void HttpServer::onFinish(Connection& conn, Exchange& exchange, bool keep_alive) {
  const auto& request = exchange.request();
  if (exchange.status() > 0) {
    const double ms = std::chrono::duration<double, std::milli>(now_ - exchange.startedAt()).count();
    log::logAccess({conn.peer.remote_addr, request.method, request.target, request.protocol(), exchange.status(),
                    exchange.bodyBytes(), ms});
  }
  conn.in_flight.reset();
  conn.idle_since = now_;
  if (!keep_alive || draining()) conn.close_after_flush = true;
  if (conn.close_after_flush || conn.broken) {
    closeWhenDone(conn);
    return;
  }
  processInput(conn);  // the next pipelined request, if one is buffered
  if (conn.read_paused && !conn.in_flight) {
    conn.read_paused = false;
    resumeReading(conn);
  } else if (conn.peer_closed && !conn.in_flight) {
    closeWhenDone(conn);
  }
}

void HttpServer::onHijack(Connection& conn, const std::shared_ptr<Exchange>& exchange) {
  flush(conn);  // anything the app wrote before hijacking goes first
  if (conn.broken || !conn.output.empty()) {
    exchange->completeHijack(-1, {});
    return;
  }
  // From here the socket is the app's: stop watching it and never close it.
  unwatch(conn);
  conn.hijack_waiting = exchange;
  // io_uring: an armed recv could still take bytes meant for the app, so the
  // socket changes hands once its final completion is in.
  if (!conn.recv_armed) finishHijack(conn);
}

void HttpServer::finishHijack(Connection& conn) {
  std::shared_ptr<Exchange> exchange = std::move(conn.hijack_waiting);
  std::string leftover = conn.input.substr(conn.input_offset);
  int fd = conn.fd.release();
  conn.in_flight.reset();
  doomed_.push_back(conn.id);
  exchange->completeHijack(fd, std::move(leftover));
}

}  // namespace hyperion::server
