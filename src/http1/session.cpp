// HTTP/1.1 as a session: requests out of the connection's input, replies
// from the Ruby threads onto its output, the keep-alive rules and deadlines.
#include "hyperion/http1/session.hpp"

#include <charconv>

#include "hyperion/config/settings.hpp"
#include "hyperion/http1/h2c_upgrade.hpp"
#include "hyperion/http1/response.hpp"
#include "hyperion/log/logger.hpp"
#include "hyperion/metrics/worker_stats.hpp"
#include "hyperion/server/connection.hpp"
#include "hyperion/server/loop_mailbox.hpp"
#include "hyperion/websocket/handshake.hpp"

namespace hyperion::http1 {

namespace {
// While the worker drains, how long an idle keep-alive connection is kept
// for one more request. Clients that reuse connections (wrk, a proxy's
// upstream pool, a browser) send the next one far sooner; one idle longer
// is closed as a keep-alive timeout would close it.
constexpr auto kDrainIdle = std::chrono::milliseconds(1000);

// Since the connection last did anything: its accept, or its last read.
server::Clock::duration idleFor(const server::Connection& conn, server::Clock::time_point now) {
  return now - std::max(conn.idle_since, conn.last_read);
}
}  // namespace

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
    Request request = parser_.takeRequest();
    if (request.upgrade && host_.settings().http2.h2c && !conn.peer.secure) {
      if (auto settings = h2cUpgradeSettings(request)) {
        spdlog::debug("{}: Upgrade: h2c taken for {} {}", conn.peer.remote_addr, request.method, request.target);
        // Destroys this session: nothing of it may be touched after.
        host_.switchToHttp2(conn, std::move(request), *settings);
        return;
      }
    }
    bool websocket = false;
    if (request.upgrade) {
      auto check = websocket::checkUpgrade(request, host_.settings().websocket.allowed_origins);
      if (check.verdict == websocket::UpgradeCheck::Verdict::Reject) {
        rejectWebSocket(conn, check);
        return;
      }
      websocket = check.verdict == websocket::UpgradeCheck::Verdict::Accept;
    }
    dispatch(conn, std::move(request), websocket);
  }
}

void Http1Session::rejectWebSocket(Connection& conn, const websocket::UpgradeCheck& check) {
  // Answered here: the app never sees a handshake it could not accept.
  spdlog::info("rejected WebSocket handshake from {}: {} -> {}", conn.peer.remote_addr, check.reason, check.status);
  host_.stats().recordRejection(check.status);
  std::string body = check.reason + "\n";
  std::string head = "HTTP/1.1 " + std::to_string(check.status) + " " + std::string(reasonPhrase(check.status)) +
                     "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\nConnection: close\r\n";
  if (check.status == 426) head += "Sec-WebSocket-Version: 13\r\n";
  head += "\r\n";
  answerAndClose(conn, head + body);
}

void Http1Session::acceptWebSocket(Connection& conn, const std::shared_ptr<Exchange>& exchange,
                                   const std::string& protocol) {
  const Request& request = exchange->request();
  const std::string* key = request.header("sec-websocket-key");
  const std::string* extensions = request.header("sec-websocket-extensions");
  const auto mode = host_.settings().websocket.permessage_deflate;
  auto agreement = extensions ? websocket::negotiateDeflate(*extensions, mode) : std::nullopt;
  host_.queueOutput(conn,
                    websocket::switchingProtocolsHead(key ? *key : std::string(), protocol,
                                                      agreement ? agreement->response : std::string()),
                    nullptr);
  host_.flushSoon(conn);
  recordRequest(conn, *exchange, 101, 0);
  std::optional<websocket::DeflateParams> params;
  if (agreement) params = agreement->params;
  // Destroys this session: nothing of it may be touched after.
  host_.switchToWebSocket(conn, exchange, params);
}

void Http1Session::onWritable(Connection& conn) {
  // Everything answered is out: a connection marked to close (or whose
  // client sent FIN) closes now.
  if (!in_flight_ && (conn.close_after_flush || conn.peer_closed)) host_.closeWhenDone(conn);
}

void Http1Session::dispatch(Connection& conn, Request request, bool websocket) {
  int handler_id = -1;
  if (answerNatively(conn, request, handler_id)) return;  // onInput goes on to the next request
  auto exchange = std::make_shared<Exchange>(conn.id, std::move(request), conn.peer, host_.mailbox());
  exchange->setRouteHandler(handler_id);
  if (websocket) exchange->setWebSocketOffered();
  in_flight_ = exchange;
  host_.dispatch(std::move(exchange));
}

void Http1Session::reject(Connection& conn, const ParseError& error) {
  // Limits and malformed input are answered here; Ruby never sees them.
  // 500 is our failure (a temp file could not be written); 501/505 are the
  // client asking for what we do not speak, like any 4xx.
  if (error.status == 500) spdlog::error("{}: {} -> {}", conn.peer.remote_addr, error.reason, error.status);
  else spdlog::info("rejected request from {}: {} -> {}", conn.peer.remote_addr, error.reason, error.status);
  host_.stats().recordRejection(error.status);
  std::string body = std::string(reasonPhrase(error.status)) + "\n";
  answerAndClose(conn, buildSimpleResponse(error.status, body, false));
}

void Http1Session::answerAndClose(Connection& conn, std::string response) {
  host_.queueOutput(conn, std::move(response), nullptr);
  conn.close_after_flush = true;
  conn.linger_on_close = true;
  conn.input.clear();
  conn.input_offset = 0;
  host_.flush(conn);
  if (conn.output.empty()) host_.closeWhenDone(conn);
}

void Http1Session::onMessage(Connection& conn, LoopMessage& message) {
  Exchange& exchange = *message.exchange;
  std::string head_bytes;
  if (message.head) head_bytes = frameHead(exchange, std::move(*message.head));
  if (!message.bytes.empty() || !head_bytes.empty()) {
    writeBody(conn, message.exchange, head_bytes, std::move(message.bytes));
    host_.flushSoon(conn);  // many small pieces in one batch leave in one writev
  }
  switch (message.kind) {
    case LoopMessage::Kind::Finish:
      finishReply(conn, exchange, message.complete, message.trailers ? &*message.trailers : nullptr);
      break;
    case LoopMessage::Kind::Hijack:
      onHijack(conn, message.exchange);
      break;
    case LoopMessage::Kind::Upgrade: {
      std::shared_ptr<Exchange> upgraded = std::move(in_flight_);
      acceptWebSocket(conn, upgraded, message.path);  // destroys this session
      return;
    }
    case LoopMessage::Kind::SendFile:
      if (conn.broken) {
        exchange.onClientGone();
      } else if (reply_.framing == BodyFraming::None) {
        exchange.onBytesWritten(message.size);  // HEAD: the length was announced, no bytes follow
      } else {
        reply_.body_sent += message.size;
        host_.queueFile(conn, message.path, message.size, message.exchange);
      }
      break;
    default:
      break;
  }
}

std::string Http1Session::frameHead(const Exchange& exchange, http::ResponseHead head) {
  const Request& request = exchange.request();
  reply_.head_seen = true;
  reply_.status = head.status;
  if (head.raw) {
    reply_.raw = true;
    reply_.framing = BodyFraming::None;
    reply_.keep_alive = false;
    return buildRawHead(head.status, head.headers, request.version_minor);
  }
  ResponseInput input;
  input.status = head.status;
  input.headers = std::move(head.headers);
  if (head.body_length) input.body_length = static_cast<std::size_t>(*head.body_length);
  input.request_is_head = request.isHead();
  input.request_version_minor = request.version_minor;
  input.request_keep_alive = request.keep_alive && !head.close;
  input.server_draining = host_.draining();
  ResponsePlan plan = planResponse(input);
  reply_.framing = plan.framing;
  reply_.content_length = plan.content_length;
  reply_.keep_alive = plan.keep_alive;
  return std::move(plan.head);
}

void Http1Session::writeBody(Connection& conn, const std::shared_ptr<Exchange>& owner, std::string& head_bytes,
                             std::string bytes) {
  if (conn.broken) {
    owner->onBytesWritten(bytes.size());
    return;
  }
  switch (reply_.framing) {
    case BodyFraming::None:  // HEAD, 204, 304: whatever the app wrote is dropped
      owner->onBytesWritten(bytes.size());
      bytes.clear();
      break;
    case BodyFraming::ContentLength: {
      // Never write past the length announced.
      const std::uint64_t room = reply_.content_length - std::min(reply_.content_length, reply_.body_sent);
      if (bytes.size() > room) {
        owner->onBytesWritten(bytes.size() - room);
        bytes.resize(static_cast<std::size_t>(room));
      }
      break;
    }
    case BodyFraming::Chunked:
      if (!bytes.empty()) {
        reply_.body_sent += bytes.size();
        char line[24];
        char* end = std::to_chars(line, line + 16, bytes.size(), 16).ptr;
        *end++ = '\r';
        *end++ = '\n';
        const auto line_size = static_cast<std::size_t>(end - line);
        if (head_bytes.empty() && bytes.capacity() >= bytes.size() + line_size + 2) {
          // The common streaming case (an SSE event): framed in place, in
          // the spare room the Ruby side left (Exchange::kFramingRoom).
          bytes.insert(0, line, line_size);
          bytes.append("\r\n", 2);
          owner->addUnsent(line_size + 2);
          host_.queueOutput(conn, std::move(bytes), owner);
          return;
        }
        head_bytes.append(line, line_size);
        writeFramed(conn, owner, head_bytes, std::move(bytes), "\r\n");
        return;
      }
      break;
    default:  // the app's own Transfer-Encoding, an HTTP/1.0 close-delimited stream
      break;
  }
  reply_.body_sent += bytes.size();
  writeFramed(conn, owner, head_bytes, std::move(bytes));
}

// Queues prefix + bytes + suffix. Small bodies are copied into the prefix
// (one chunk, one iovec: an SSE event is 50 bytes); large ones stay where
// they are, between the framing.
void Http1Session::writeFramed(Connection& conn, const std::shared_ptr<Exchange>& owner, std::string& prefix,
                               std::string bytes, std::string_view suffix) {
  constexpr std::size_t kCopyAtMost = 16 * 1024;
  if (bytes.empty()) {
    host_.queueOutput(conn, std::move(prefix), nullptr);
    return;
  }
  if (prefix.empty() && suffix.empty()) {
    host_.queueOutput(conn, std::move(bytes), owner);
    return;
  }
  if (bytes.size() <= kCopyAtMost) {
    const std::size_t own = bytes.size();
    prefix.append(bytes).append(suffix);
    owner->addUnsent(prefix.size() - own);
    host_.queueOutput(conn, std::move(prefix), owner);
    return;
  }
  host_.queueOutput(conn, std::move(prefix), nullptr);
  host_.queueOutput(conn, std::move(bytes), owner);
  if (!suffix.empty()) {
    server::OutputChunk tail;
    tail.view = suffix;  // a literal: nothing to keep alive
    host_.queueChunk(conn, std::move(tail));
  }
}

void Http1Session::finishReply(Connection& conn, Exchange& exchange, bool complete, const http::HeaderList* trailers) {
  bool keep_alive = reply_.keep_alive && complete && !conn.broken;
  // The app promised more than it sent: the client would wait for the rest.
  if (reply_.framing == BodyFraming::ContentLength && reply_.body_sent < reply_.content_length) keep_alive = false;
  if (complete && reply_.framing == BodyFraming::Chunked && !conn.broken) {
    // Trailer fields only for a client that said it takes them (RFC 9110
    // section 6.5: TE: trailers); others never see them.
    const std::string* te = exchange.request().header("te");
    if (trailers && !trailers->empty() && te && te->find("trailers") != std::string::npos) {
      std::string last = "0\r\n";
      for (const auto& [name, value] : *trailers) appendHeader(last, name, value);
      last.append("\r\n");
      host_.queueOutput(conn, std::move(last), nullptr);
    } else {
      server::OutputChunk last;
      last.view = kLastChunk;
      host_.queueChunk(conn, std::move(last));
    }
    host_.flushSoon(conn);
  }
  onFinish(conn, exchange, keep_alive);
}

void Http1Session::onFinish(Connection& conn, Exchange& exchange, bool keep_alive) {
  if (reply_.head_seen && !reply_.raw)  // not a hijack: the app wrote nothing we saw
    recordRequest(conn, exchange, reply_.status, static_cast<std::size_t>(reply_.body_sent));
  reply_ = Reply{};
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

void Http1Session::recordRequest(const Connection& conn, const Exchange& exchange, int status, std::size_t bytes) {
  const Request& request = exchange.request();
  const double ms = std::chrono::duration<double, std::milli>(host_.now() - exchange.startedAt()).count();
  host_.recordRequest({conn.peer.remote_addr, request.method, request.target, request.protocol(), status, bytes, ms});
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
      if (idleFor(conn, now) > (host_.draining() ? kDrainIdle : limits.keepalive_timeout)) host_.closeNow(conn);
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
  // Nothing is cut mid-exchange: the response that ends one says
  // Connection: close (it sees the drain) and the connection closes after
  // it. An idle keep-alive connection waits up to kDrainIdle for one more
  // request (onTimeout), so a client that sent one as the drain began gets
  // its answer and a clean close instead of a reset.
  if (!in_flight_ && conn.output.empty() && parser_.phase() == RequestParser::Phase::Idle &&
      conn.pendingInput() == 0 && idleFor(conn, host_.now()) >= kDrainIdle)
    host_.closeNow(conn);
}

void Http1Session::onClientGone() {
  if (in_flight_) in_flight_->onClientGone();
}

}  // namespace hyperion::http1
