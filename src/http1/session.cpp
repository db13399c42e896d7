// HTTP/1.1 as a session: requests out of the connection's input, replies
// from the Ruby threads onto its output, the keep-alive rules and deadlines.
#include "hyperion/http1/session.hpp"

#include "hyperion/config/settings.hpp"
#include "hyperion/http1/response.hpp"
#include "hyperion/log/logger.hpp"
#include "hyperion/server/connection.hpp"
#include "hyperion/server/loop_mailbox.hpp"

namespace hyperion::http1 {

using server::Connection;
using server::Exchange;
using server::LoopMessage;

Http1Session::Http1Session(server::SessionHost& host)
    : host_(host), parser_(host.settings().limits, host.settings().tmp_dir) {}

void Http1Session::onInput(Connection& conn) {
  while (!in_flight_ && !conn.close_after_flush && !conn.broken) {
    if (conn.pendingInput() == 0) return;
    const bool was_idle = parser_.phase() == RequestParser::Phase::Idle;
    auto outcome = parser_.feed(conn.input.data() + conn.input_offset, conn.pendingInput());
    if (was_idle && parser_.phase() != RequestParser::Phase::Idle) request_started_ = host_.now();
    if (outcome.status == RequestParser::Status::Failed) {
      reject(conn, parser_.error());
      return;
    }
    conn.input_offset += outcome.consumed;
    if (parser_.takeContinueRequest()) {
      host_.queueOutput(conn, "HTTP/1.1 100 Continue\r\n\r\n", nullptr);
      host_.flush(conn);
    }
    if (outcome.status == RequestParser::Status::NeedMore) {
      if (conn.input_offset == conn.input.size()) {
        conn.input.clear();
        conn.input_offset = 0;
      }
      return;
    }
    dispatch(conn, parser_.takeRequest());
  }
}

void Http1Session::onWritable(Connection& conn) {
  // Everything answered is out: a connection marked to close (or whose
  // client sent FIN) closes now.
  if (!in_flight_ && (conn.close_after_flush || conn.peer_closed)) host_.closeWhenDone(conn);
}

void Http1Session::dispatch(Connection& conn, Request request) {
  int handler_id = -1;
  if (answerNatively(conn, request, handler_id)) return;  // onInput goes on to the next request
  auto exchange = std::make_shared<Exchange>(conn.id, std::move(request), conn.peer, host_.mailbox());
  exchange->setRouteHandler(handler_id);
  in_flight_ = exchange;
  host_.dispatch(std::move(exchange));
}

void Http1Session::reject(Connection& conn, const ParseError& error) {
  // Limits and malformed input are answered here; Ruby never sees them.
  // 500 is our failure (a temp file could not be written); 501/505 are the
  // client asking for what we do not speak, like any 4xx.
  if (error.status == 500) spdlog::error("{}: {} -> {}", conn.peer.remote_addr, error.reason, error.status);
  else spdlog::info("rejected request from {}: {} -> {}", conn.peer.remote_addr, error.reason, error.status);
  std::string body = std::string(reasonPhrase(error.status)) + "\n";
  host_.queueOutput(conn, buildSimpleResponse(error.status, body, false), nullptr);
  conn.close_after_flush = true;
  conn.linger_on_close = true;
  conn.input.clear();
  conn.input_offset = 0;
  host_.flush(conn);
  if (conn.output.empty()) host_.closeWhenDone(conn);
}

void Http1Session::onMessage(Connection& conn, LoopMessage& message) {
  Exchange& exchange = *message.exchange;
  // Send carries bytes; Finish may carry the response's last bytes too.
  if (!message.bytes.empty()) {
    if (conn.broken) {
      exchange.onBytesWritten(message.bytes.size());
    } else {
      host_.queueOutput(conn, std::move(message.bytes), message.exchange);
      host_.flushSoon(conn);
    }
  }
  switch (message.kind) {
    case LoopMessage::Kind::Finish:
      onFinish(conn, exchange, message.keep_alive);
      break;
    case LoopMessage::Kind::Hijack:
      onHijack(conn, message.exchange);
      break;
    case LoopMessage::Kind::SendFile:
      if (!conn.broken) host_.queueFile(conn, message.path, message.size, message.exchange);
      else exchange.onClientGone();
      break;
    default:
      break;
  }
}

void Http1Session::onFinish(Connection& conn, Exchange& exchange, bool keep_alive) {
  const auto& request = exchange.request();
  if (exchange.status() > 0) {
    const double ms = std::chrono::duration<double, std::milli>(host_.now() - exchange.startedAt()).count();
    log::logAccess({conn.peer.remote_addr, request.method, request.target, request.protocol(), exchange.status(),
                    exchange.bodyBytes(), ms});
  }
  in_flight_.reset();
  conn.idle_since = host_.now();
  if (!keep_alive || host_.draining()) conn.close_after_flush = true;
  if (conn.close_after_flush || conn.broken) {
    host_.closeWhenDone(conn);
    return;
  }
  onInput(conn);  // the next pipelined request, if one is buffered
  if (in_flight_) return;
  if (conn.read_paused) host_.resumeReading(conn);
  else if (conn.peer_closed) host_.closeWhenDone(conn);
}

void Http1Session::onHijack(Connection& conn, const std::shared_ptr<Exchange>& exchange) {
  host_.flush(conn);  // anything the app wrote before hijacking goes first
  if (conn.broken || !conn.output.empty()) {
    exchange->completeHijack(-1, {});
    return;
  }
  host_.handOver(conn, exchange);
}

void Http1Session::onTimeout(Connection& conn) {
  const auto& limits = host_.settings().limits;
  const auto now = host_.now();
  switch (parser_.phase()) {
    case RequestParser::Phase::Idle:
      if (now - std::max(conn.idle_since, conn.last_read) > limits.keepalive_timeout) host_.closeNow(conn);
      break;
    case RequestParser::Phase::Headers:
      if (now - request_started_ > limits.header_timeout) reject(conn, {408, "request headers not received in time"});
      break;
    case RequestParser::Phase::Body:
      if (now - conn.last_read > limits.body_timeout) reject(conn, {408, "request body stalled"});
      break;
  }
}

void Http1Session::onDrain(Connection& conn) {
  // Idle keep-alive connections go now; a busy one after its response
  // (which says Connection: close).
  conn.close_after_flush = true;
  if (!in_flight_ && conn.output.empty()) host_.closeNow(conn);
}

void Http1Session::onClientGone() {
  if (in_flight_) in_flight_->onClientGone();
}

}  // namespace hyperion::http1
