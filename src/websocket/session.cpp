#include "hyperion/websocket/session.hpp"

#include "hyperion/config/settings.hpp"
#include "hyperion/log/logger.hpp"
#include "hyperion/metrics/worker_stats.hpp"
#include "hyperion/server/connection.hpp"
#include "hyperion/server/loop_mailbox.hpp"

namespace hyperion::websocket {
namespace {
// How long we wait for the client's close frame after sending ours.
constexpr auto kCloseWait = std::chrono::seconds(5);
// Auto mode: smaller messages go out as they are (DEFLATE's own overhead
// eats most of what a short message could save, for the CPU it costs).
constexpr std::size_t kCompressAtLeast = 64;
}  // namespace

WebSocketSession::WebSocketSession(server::SessionHost& host, server::Connection& conn,
                                   std::shared_ptr<server::Exchange> exchange, std::optional<DeflateParams> deflate)
    : host_(host),
      conn_(conn),
      exchange_(std::move(exchange)),
      channel_(exchange_->webSocket()),
      parser_(host.settings().websocket.max_message_bytes, deflate),
      compress_all_(host.settings().websocket.permessage_deflate == config::WsDeflateMode::On) {
  if (deflate) deflater_ = std::make_unique<Deflater>(*deflate);
  last_ping_ = host_.now();
  host_.stats().websocket_open.add(1);
  push(Event{Event::Kind::Open, false, {}, 0});
  // Upgraded while the server drains: onDrain has been and gone for every
  // connection, so this one hears it now (else it would hold the drain).
  if (host_.draining()) onDrain(conn);
}

WebSocketSession::~WebSocketSession() {
  host_.stats().websocket_open.add(-1);
  for (const auto& name : subscribed_) host_.subscriptions().unsubscribe(name, this);
  channel_->setClosed();
  if (!close_pushed_) {
    close_pushed_ = true;
    push(Event{Event::Kind::Close, false, {}, close_code_});
  }
  exchange_->onClientGone();  // client.write from here on is dropped at once
}

void WebSocketSession::push(Event event) {
  if (channel_->push(std::move(event))) host_.dispatch(exchange_);
}

void WebSocketSession::onInput(server::Connection& conn) {
  if (state_ == State::Closed || conn.broken) return;
  if (conn.pendingInput() > 0) {
    if (channel_->backlog() > Channel::kHoldAt) {
      // Ruby has not taken what we gave it: leave the bytes in conn.input
      // (the loop stops reading once a little more is buffered) until the
      // handler catches up (a BodyConsumed message).
      holding_ = true;
      channel_->hold();
      return;
    }
    holding_ = false;
    messages_.clear();
    const bool ok = parser_.feed(conn.input.data() + conn.input_offset, conn.pendingInput(), messages_);
    conn.input.clear();
    conn.input_offset = 0;
    for (auto& message : messages_) {
      switch (message.kind) {
        case Message::Kind::Text:
        case Message::Kind::Binary:
          if (state_ != State::Open) break;
          host_.stats().websocket_messages_in.add();
          push(Event{Event::Kind::Message, message.kind == Message::Kind::Binary, std::move(message.payload), 0});
          break;
        case Message::Kind::Ping:
          if (state_ == State::Open) queueControl(Opcode::Pong, message.payload);
          break;
        case Message::Kind::Pong:
          break;  // last_read already moved: that is all a pong is for
        case Message::Kind::Close:
          if (state_ == State::Open) {
            // Echo the client's code (RFC 6455 section 5.5.1), or an empty
            // close when it sent none.
            close_code_ = message.close_code;
            channel_->setClosed();
            if (message.close_code == close_code::kNoStatus) queueControl(Opcode::Close, {});
            else queueControl(Opcode::Close, closePayload(message.close_code, {}));
            state_ = State::Closing;
          }
          // Either way the handshake is complete: close once our frame is out.
          conn.linger_on_close = false;
          state_ = State::Closed;
          host_.flush(conn);
          host_.closeWhenDone(conn);
          return;
      }
    }
    if (!ok) {
      fail(parser_.failure());
      return;
    }
    if (!conn.output.empty()) host_.flush(conn);  // pongs (flushSoon only runs after a mailbox batch)
  }
  if (conn.peer_closed && state_ != State::Closed) {
    // TCP closed without a close frame: 1006 for on_close.
    state_ = State::Closed;
    host_.closeWhenDone(conn);
  }
}

void WebSocketSession::fail(const ParseFailure& failure) {
  spdlog::info("websocket {}: closing {}: {}", conn_.peer.remote_addr, failure.code, failure.reason);
  startClose(failure.code, failure.reason);
  // The client broke the protocol: nothing more of it is worth reading.
  state_ = State::Closed;
  conn_.linger_on_close = true;
  host_.flush(conn_);
  host_.closeWhenDone(conn_);
}

void WebSocketSession::startClose(std::uint16_t code, std::string_view reason) {
  if (state_ != State::Open) return;
  close_code_ = code;
  channel_->setClosed();
  queueControl(Opcode::Close, closePayload(code, reason));
  state_ = State::Closing;
  closing_since_ = host_.now();
  host_.flush(conn_);
}

void WebSocketSession::queueControl(Opcode opcode, std::string_view payload) {
  host_.queueOutput(conn_, buildFrame(opcode, payload), nullptr);
}

void WebSocketSession::queueCounted(std::string frame, std::size_t counted) {
  // The exchange's unsent count is client.pending: make it the frame's size.
  if (frame.size() > counted) exchange_->addUnsent(frame.size() - counted);
  else if (frame.size() < counted) exchange_->onBytesWritten(counted - frame.size());
  host_.queueOutput(conn_, std::move(frame), exchange_);
}

void WebSocketSession::sendMessage(std::string payload, bool binary) {
  const Opcode opcode = binary ? Opcode::Binary : Opcode::Text;
  const std::size_t counted = payload.size();
  host_.stats().websocket_messages_out.add();
  if (deflater_ && (compress_all_ || payload.size() >= kCompressAtLeast)) {
    std::string compressed = deflater_->deflate(payload);
    // A message that does not shrink goes out as it was (RSV1 clear): the
    // extension allows that per message.
    if (compress_all_ || compressed.size() < payload.size()) {
      queueCounted(buildFrame(opcode, compressed, true), counted);
      return;
    }
  }
  std::string frame;
  frame.reserve(payload.size() + 10);
  appendFrameHeader(frame, opcode, payload.size());
  frame.append(payload);
  queueCounted(std::move(frame), counted);
}

void WebSocketSession::checkBacklog(bool over_cap) {
  const auto& ws = host_.settings().websocket;
  const std::size_t pending = exchange_->unsentBytes();
  if (over_cap || pending > ws.max_pending_bytes) {
    // over_cap: past the cap when client.write ran; `pending` is what is left now.
    spdlog::warn("websocket {}: closing 1008: {} bytes unread by the client (--ws-max-pending-bytes {}{})",
                 conn_.peer.remote_addr, pending, ws.max_pending_bytes, over_cap ? ", passed at client.write" : "");
    close_code_ = close_code::kPolicy;
    channel_->setClosed();
    state_ = State::Closed;
    host_.closeNow(conn_);  // a client that reads nothing would never see a close frame
    return;
  }
}

void WebSocketSession::deliver(const std::shared_ptr<const std::string>& frame) {
  if (state_ != State::Open || conn_.broken) return;
  host_.stats().websocket_messages_out.add();
  // At once: one frame per connection, nothing to batch it with, and the
  // first subscribers get it while the loop still writes to the rest. A
  // socket with nothing queued usually takes the whole frame, and then the
  // frame never enters the queue (nor client.pending).
  const std::size_t taken = host_.writeNow(conn_, *frame);
  if (taken == frame->size() || conn_.broken) return;
  server::OutputChunk chunk;
  chunk.view = std::string_view(*frame).substr(taken);
  chunk.keeper = frame;
  chunk.owner = exchange_;
  exchange_->addUnsent(chunk.view.size());
  host_.queueChunk(conn_, std::move(chunk));
  host_.flush(conn_);
  checkBacklog();
}

void WebSocketSession::onMessage(server::Connection& conn, server::LoopMessage& message) {
  using Kind = server::LoopMessage::Kind;
  switch (message.kind) {
    case Kind::WsSend:
      if (state_ != State::Open || conn.broken) {
        exchange_->onBytesWritten(message.bytes.size());
        return;
      }
      sendMessage(std::move(message.bytes), !message.complete);
      host_.flushSoon(conn);
      checkBacklog();
      break;
    case Kind::WsClose:
      // client.write found the client past --ws-max-pending-bytes (the
      // kernel may have taken some since): ended at once, as checkBacklog does.
      if (!message.complete) {
        if (state_ == State::Open) checkBacklog(true);
        break;
      }
      startClose(static_cast<std::uint16_t>(message.size), message.bytes);
      break;
    case Kind::WsSubscribe:
      if (message.complete) {
        if (state_ == State::Open && subscribed_.insert(message.path).second)
          host_.subscriptions().subscribe(message.path, this);
      } else if (subscribed_.erase(message.path)) {
        host_.subscriptions().unsubscribe(message.path, this);
      }
      break;
    case Kind::BodyConsumed:  // Ruby caught up with the messages we held back
      if (holding_) {
        onInput(conn);
        if (!holding_ && conn.read_paused) host_.resumeReading(conn);
      }
      break;
    default:
      break;
  }
}

void WebSocketSession::onWritable(server::Connection& conn) {
  // Everything client.write queued has left (unsent counts what is still
  // in the mailbox too): the on_drained a `false` from write promised.
  if (state_ == State::Open && exchange_->unsentBytes() == 0 && channel_->takeDrainWanted())
    push(Event{Event::Kind::Drained, false, {}, 0});
  if (state_ == State::Closed) host_.closeWhenDone(conn);
}

void WebSocketSession::onTimeout(server::Connection& conn) {
  const auto& ws = host_.settings().websocket;
  const auto now = host_.now();
  if (state_ == State::Closing) {
    if (now - closing_since_ > kCloseWait) {
      state_ = State::Closed;
      host_.closeNow(conn);
    }
    return;
  }
  if (state_ != State::Open) return;
  const auto quiet = now - conn.last_read;
  if (ws.idle_timeout.count() > 0 && quiet > ws.idle_timeout) {
    spdlog::debug("websocket {}: idle for {} ms, closing 1001", conn.peer.remote_addr, ws.idle_timeout.count());
    startClose(close_code::kGoingAway, "idle timeout");
    return;
  }
  if (ws.ping_interval.count() > 0 && quiet > ws.ping_interval && now - last_ping_ > ws.ping_interval) {
    last_ping_ = now;
    queueControl(Opcode::Ping, {});
    host_.flush(conn);
  }
}

void WebSocketSession::onDrain(server::Connection&) {
  // The handler hears on_shutdown first; the Ruby side then closes 1001.
  if (state_ != State::Open || shutdown_sent_) return;
  shutdown_sent_ = true;
  push(Event{Event::Kind::Shutdown, false, {}, 0});
}

void WebSocketSession::onClientGone() {
  channel_->setClosed();
  exchange_->onClientGone();
}

}  // namespace hyperion::websocket
