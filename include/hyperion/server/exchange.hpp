#pragma once
// One request/response between the event loop and a Ruby thread. The loop
// creates it with a finished Request; the Ruby thread answers through it.
// Every method marked "Ruby thread" may block, so the Rack glue calls those
// with the GVL released.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <optional>

#include "hyperion/http1/request.hpp"
#include "hyperion/server/body_stream.hpp"

namespace hyperion::websocket {
class Channel;
}

namespace hyperion::server {

class LoopMailbox;
struct LoopMessage;

struct PeerInfo {
  std::string remote_addr;  // REMOTE_ADDR
  int local_port = 0;       // SERVER_PORT when there is no Host header
  bool unix_socket = false;
  bool secure = false;      // came over TLS: rack.url_scheme https, no hijack
};

class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  // The loop alone owns its mailbox; an exchange only refers to it, so a
  // message queued when the loop goes away does not keep itself alive
  // through its own exchange (no ownership cycle), and a Ruby thread still
  // answering then sees the client gone.
  Exchange(std::uint64_t connection_id, http1::Request request, PeerInfo peer, std::weak_ptr<LoopMailbox> mailbox);

  const http1::Request& request() const { return request_; }
  http1::Request& request() { return request_; }
  const PeerInfo& peer() const { return peer_; }
  std::uint64_t connectionId() const { return connection_id_; }
  // Rack hijack under HTTP/1 only (an h2 connection carries other streams
  // too). Over TLS the app gets a plaintext socketpair the loop bridges.
  bool hijackable() const { return request_.version_major < 2; }
  std::chrono::steady_clock::time_point startedAt() const { return started_; }

  // Spare capacity a streamed piece is made with, so the session can frame
  // it in place (an HTTP/1.1 chunk-size line and CRLF; an h2 frame header)
  // instead of copying it into a new buffer.
  static constexpr std::size_t kFramingRoom = 24;

  // --- Ruby thread ---
  // Queues body bytes for the client, after `head` when given (the first
  // piece of a streamed body carries it: one message). Never blocks; call
  // waitWritable() after. The session frames them for its protocol.
  void send(std::string bytes, std::optional<http::ResponseHead> head = std::nullopt);
  // Queues a whole file (the head announcing `size` bytes was sent before).
  // The loop serves it from its page cache or with sendfile(2); the Ruby
  // thread does not wait for a slow client to drain it.
  void sendFile(std::string path, std::uint64_t size);
  // Blocks while more than the high-water mark is unsent, so a slow client
  // slows the producer instead of growing memory. False if the client is gone.
  bool waitWritable();
  // The response is over. `complete`: everything it promised was produced
  // (false closes the connection after what was sent). `last_bytes` and
  // `head` (a whole small response, typically) travel in the same message:
  // one mailbox post and one loop wake-up instead of two.
  // `trailers` follow the body where the protocol can carry them (h2; h1
  // chunked responses to a client that sent TE: trailers).
  void finish(bool complete, std::string last_bytes = {}, std::optional<http::ResponseHead> head = std::nullopt,
              std::optional<http::HeaderList> trailers = std::nullopt);
  // Takes the socket away from the loop (Rack full hijack). Returns the fd
  // (now owned by the caller) and the bytes already read past this request, or -1.
  int hijack(std::string& leftover);
  // Blocks until every byte handed over (send, sendFile, finish) has been
  // written to the socket, the client is gone, or interruptWaits(). For
  // rack.after_reply / rack.response_finished, which run after the last byte.
  void waitDelivered();
  // More than the high-water mark queued: the producer should waitWritable().
  bool backlogged() const { return unsent_.load(std::memory_order_acquire) > kHighWater; }
  bool clientGone() const { return client_gone_.load(std::memory_order_acquire); }
  // Bytes handed over and not yet written (or dropped) by the loop.
  std::size_t unsentBytes() const { return unsent_.load(std::memory_order_acquire); }
  // The server is shutting down (or gone): the response closes its connection.
  bool serverDraining() const;
  // Wakes any wait above (thread interrupt, forced shutdown).
  void interruptWaits();

  // --- loop thread ---
  // Framing the session adds around the app's bytes (chunk sizes, a head
  // sent with them) counts as unsent too, so onBytesWritten balances.
  void addUnsent(std::size_t n) { unsent_.fetch_add(n, std::memory_order_acq_rel); }
  void onBytesWritten(std::size_t n);
  void onClientGone();
  void completeHijack(int fd, std::string leftover);

  // A request body that streams in while the app runs (h2 gRPC calls);
  // null when the body was read whole before dispatch. Set by the loop
  // before the exchange is dispatched.
  const std::shared_ptr<BodyStream>& bodyStream() const { return body_stream_; }
  void setBodyStream(std::shared_ptr<BodyStream> stream) { body_stream_ = std::move(stream); }
  // --- Ruby thread --- The app took `n` bytes of the streamed body: the
  // loop may let the client send that many more.
  void bodyConsumed(std::size_t n);

  // --- WebSocket (rack.upgrade, docs/WEBSOCKET.md) ---
  // Set by the loop before dispatch: the request is a WebSocket handshake
  // the loop found valid (env['rack.upgrade?'] is :websocket).
  bool webSocketOffered() const { return websocket_offered_; }
  void setWebSocketOffered() { websocket_offered_ = true; }
  // Ruby thread: the app accepted it. The loop answers 101 (naming
  // `protocol`, which the client offered, if not empty), the connection
  // becomes a WebSocket, and its events reach Ruby through `channel`, with
  // this exchange as the job that carries them. Replaces finish().
  void upgradeToWebSocket(std::shared_ptr<websocket::Channel> channel, std::string protocol);
  const std::shared_ptr<websocket::Channel>& webSocket() const { return websocket_; }
  // Ruby thread, after the upgrade; never block. Sent bytes count as unsent
  // until they leave (client.pending).
  void wsSend(std::string payload, bool binary);
  void wsClose(std::uint16_t code, std::string reason);
  // The client is past --ws-max-pending-bytes: the loop closes it at once (1008).
  void wsOverflow();
  void wsSubscribe(std::string channel, bool subscribe);

  // Set by the loop for a Hyperion::Server.handle route: which Ruby handler.
  int routeHandler() const { return route_handler_; }
  void setRouteHandler(int id) { route_handler_ = id; }

 private:
  static constexpr std::size_t kHighWater = 512 * 1024;
  static constexpr std::size_t kLowWater = 128 * 1024;

  std::uint64_t connection_id_;
  http1::Request request_;
  PeerInfo peer_;
  std::weak_ptr<LoopMailbox> mailbox_;
  // Hands a message to the loop; false (and the client counts as gone) when
  // the loop no longer exists.
  bool post(LoopMessage message);
  std::chrono::steady_clock::time_point started_;

  std::atomic<std::size_t> unsent_{0};
  std::atomic<bool> client_gone_{false};
  std::atomic<bool> waiting_{false};
  std::atomic<std::size_t> wake_at_{kLowWater};  // a waiter wants a notify once unsent_ <= this
  std::mutex mutex_;
  std::condition_variable cv_;
  bool interrupted_ = false;
  bool hijack_done_ = false;
  int hijacked_fd_ = -1;
  std::string hijack_leftover_;
  int route_handler_ = -1;
  std::shared_ptr<BodyStream> body_stream_;
  bool websocket_offered_ = false;
  std::shared_ptr<websocket::Channel> websocket_;
};

}  // namespace hyperion::server
