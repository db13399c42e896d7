#pragma once
// How Ruby threads talk to the event loop: a locked vector of messages and an
// eventfd that wakes epoll. The loop swaps the whole vector out per wake-up.
#include <atomic>
#include <optional>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hyperion/http/response_head.hpp"
#include "hyperion/net/unique_fd.hpp"

namespace hyperion::server {

class Exchange;

// Replies are protocol-neutral (the connection's session frames them): a
// head, body bytes as the app produced them, a file, the end.
struct LoopMessage {
  enum class Kind {
    Send, SendFile, Finish, Hijack, BodyConsumed, Shutdown, Wake,
    // WebSocket (websocket/session.hpp): the app accepted the upgrade (path:
    // the subprotocol); a message to send (bytes; complete: text); a close
    // (size: the code, bytes: the reason; complete false: client.write found
    // the client past --ws-max-pending-bytes, end it at once); a subscription change (path: the
    // channel; complete: subscribe); a publish to this worker's subscribers
    // (no exchange; path: the channel, bytes, complete: text).
    Upgrade, WsSend, WsClose, WsSubscribe, Publish
  };
  Kind kind = Kind::Wake;
  std::shared_ptr<Exchange> exchange;
  std::string bytes;       // Send: body bytes; Finish: the last ones
  bool complete = true;    // Finish: every promised byte was produced (else the connection closes)
  std::string path;        // SendFile: the whole file, after the head was sent
  std::uint64_t size = 0;  // SendFile: the size the head announced; BodyConsumed: bytes the app took
  std::optional<http::ResponseHead> head;  // Send, Finish: the head, before their bytes
  std::optional<http::HeaderList> trailers;  // Finish: trailer fields after the body
};

class LoopMailbox {
 public:
  LoopMailbox();
  void post(LoopMessage message);
  void drainInto(std::vector<LoopMessage>& out);  // loop thread
  int eventFd() const { return event_fd_.get(); }
  // The server is shutting down: a response being built now closes its
  // connection. Set by the loop; read by Ruby threads through their Exchange.
  void setDraining() { draining_.store(true, std::memory_order_release); }
  bool draining() const { return draining_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> draining_{false};
  std::mutex mutex_;
  std::vector<LoopMessage> messages_;
  bool signalled_ = false;
  net::UniqueFd event_fd_;
};

}  // namespace hyperion::server
