#pragma once
// A WebSocket connection after its 101 (RFC 6455, RFC 7692): replaces the
// HTTP/1.1 session and keeps its unread input. The loop thread parses and
// answers everything the protocol needs by itself (pings, the close
// handshake, violations with their close codes, idle and ping timers) and
// hands each whole message to Ruby as one event on the connection's
// Channel; what Ruby sends (client.write, Hyperion.publish) is framed, and
// compressed when it pays, here.
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "hyperion/server/session.hpp"
#include "hyperion/websocket/channel.hpp"
#include "hyperion/websocket/deflate.hpp"
#include "hyperion/websocket/frame_parser.hpp"
#include "hyperion/websocket/subscriptions.hpp"

namespace hyperion::websocket {

class WebSocketSession final : public server::Session, public Subscriber {
 public:
  // `exchange` is the upgrade request's, carrying the Channel; `deflate` is
  // what the handshake agreed on, if anything.
  WebSocketSession(server::SessionHost& host, server::Connection& conn, std::shared_ptr<server::Exchange> exchange,
                   std::optional<DeflateParams> deflate);
  ~WebSocketSession() override;  // the handler's on_close, if nothing sent it yet

  void onInput(server::Connection& conn) override;
  void onWritable(server::Connection& conn) override;
  void onMessage(server::Connection& conn, server::LoopMessage& message) override;
  void onTimeout(server::Connection& conn) override;
  void onDrain(server::Connection& conn) override;
  void onClientGone() override;
  // No Ruby thread ever holds this connection's socket: callbacks run on
  // their own job, writes go through the mailbox.
  bool busy() const override { return false; }
  bool holdsInput() const override { return holding_; }
  bool owns(const server::Exchange& exchange) const override { return exchange_.get() == &exchange; }

  // Subscriber: a published frame for this connection.
  void deliver(const std::shared_ptr<const std::string>& frame) override;

 private:
  enum class State { Open, Closing, Closed };
  void push(Event event);
  void sendMessage(std::string payload, bool binary);
  void queueControl(Opcode opcode, std::string_view payload);
  void queueCounted(std::string frame, std::size_t counted);  // counted: what Ruby added to unsent
  // Past --ws-max-pending-bytes (or `over_cap`, said by client.write): closed
  // 1008 at once.
  void checkBacklog(bool over_cap = false);
  // Sends our close frame (once) and starts waiting for the client's.
  void startClose(std::uint16_t code, std::string_view reason);
  void fail(const ParseFailure& failure);

  server::SessionHost& host_;
  server::Connection& conn_;
  std::shared_ptr<server::Exchange> exchange_;
  std::shared_ptr<Channel> channel_;
  FrameParser parser_;
  std::unique_ptr<Deflater> deflater_;
  bool compress_all_;
  std::vector<Message> messages_;  // scratch, reused per read
  std::unordered_set<std::string> subscribed_;
  State state_ = State::Open;
  std::uint16_t close_code_ = close_code::kAbnormal;  // what on_close is told
  bool close_pushed_ = false;
  bool holding_ = false;       // stopped parsing: Ruby has a backlog of our messages
  bool shutdown_sent_ = false;
  server::Clock::time_point closing_since_{};
  server::Clock::time_point last_ping_{};
};

}  // namespace hyperion::websocket
