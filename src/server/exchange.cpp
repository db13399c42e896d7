#include "hyperion/server/exchange.hpp"

#include "hyperion/server/loop_mailbox.hpp"

namespace hyperion::server {

Exchange::Exchange(std::uint64_t connection_id, http1::Request request, PeerInfo peer,
                   std::weak_ptr<LoopMailbox> mailbox)
    : connection_id_(connection_id),
      request_(std::move(request)),
      peer_(std::move(peer)),
      mailbox_(std::move(mailbox)),
      started_(std::chrono::steady_clock::now()) {}

bool Exchange::post(LoopMessage message) {
  if (auto mailbox = mailbox_.lock()) {
    mailbox->post(std::move(message));
    return true;
  }
  onClientGone();
  return false;
}

bool Exchange::serverDraining() const {
  auto mailbox = mailbox_.lock();
  return !mailbox || mailbox->draining();
}

void Exchange::send(std::string bytes, std::optional<http::ResponseHead> head) {
  if ((bytes.empty() && !head) || clientGone()) return;
  unsent_.fetch_add(bytes.size(), std::memory_order_acq_rel);
  LoopMessage message{LoopMessage::Kind::Send, shared_from_this(), std::move(bytes), true};
  message.head = std::move(head);
  post(std::move(message));
}

void Exchange::sendFile(std::string path, std::uint64_t size) {
  if (clientGone()) return;
  // Counted like bytes: the loop reports them written piece by piece.
  unsent_.fetch_add(size, std::memory_order_acq_rel);
  LoopMessage message{LoopMessage::Kind::SendFile, shared_from_this(), {}, true};
  message.path = std::move(path);
  message.size = size;
  post(std::move(message));
}

bool Exchange::waitWritable() {
  if (unsent_.load(std::memory_order_acquire) <= kHighWater) return !clientGone();
  std::unique_lock lock(mutex_);
  // seq_cst on both sides (here and in onBytesWritten): either the loop sees
  // waiting_ and notifies, or this thread sees the lowered count. Weaker
  // orders allow both to miss, and the thread would sleep with nothing unsent.
  wake_at_.store(kLowWater);
  waiting_.store(true);
  cv_.wait(lock, [&] { return unsent_.load() <= kLowWater || clientGone() || interrupted_; });
  waiting_.store(false);
  interrupted_ = false;
  return !clientGone();
}

void Exchange::waitDelivered() {
  std::unique_lock lock(mutex_);
  wake_at_.store(0);
  waiting_.store(true);  // seq_cst, as in waitWritable
  cv_.wait(lock, [&] { return unsent_.load() == 0 || clientGone() || interrupted_; });
  waiting_.store(false);
  interrupted_ = false;
}

void Exchange::finish(bool complete, std::string last_bytes, std::optional<http::ResponseHead> head,
                      std::optional<http::HeaderList> trailers) {
  if (clientGone()) last_bytes.clear();
  if (!last_bytes.empty()) unsent_.fetch_add(last_bytes.size(), std::memory_order_acq_rel);
  LoopMessage message{LoopMessage::Kind::Finish, shared_from_this(), std::move(last_bytes), complete};
  message.head = std::move(head);
  message.trailers = std::move(trailers);
  post(std::move(message));
}

int Exchange::hijack(std::string& leftover) {
  if (!post(LoopMessage{LoopMessage::Kind::Hijack, shared_from_this(), {}, false})) return -1;
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return hijack_done_ || interrupted_; });
  if (!hijack_done_) return -1;  // the loop is gone (forced shutdown)
  leftover = std::move(hijack_leftover_);
  return hijacked_fd_;
}

void Exchange::interruptWaits() {
  if (body_stream_) body_stream_->interrupt();
  std::lock_guard lock(mutex_);
  interrupted_ = true;
  cv_.notify_all();
}

void Exchange::bodyConsumed(std::size_t n) {
  if (n == 0 || clientGone()) return;
  LoopMessage message{LoopMessage::Kind::BodyConsumed, shared_from_this(), {}, true};
  message.size = n;
  post(std::move(message));
}

void Exchange::upgradeToWebSocket(std::shared_ptr<websocket::Channel> channel, std::string protocol) {
  websocket_ = std::move(channel);
  LoopMessage message{LoopMessage::Kind::Upgrade, shared_from_this(), {}, true};
  message.path = std::move(protocol);
  post(std::move(message));
}

void Exchange::wsSend(std::string payload, bool binary) {
  if (clientGone()) return;
  unsent_.fetch_add(payload.size(), std::memory_order_acq_rel);
  post(LoopMessage{LoopMessage::Kind::WsSend, shared_from_this(), std::move(payload), !binary});
}

void Exchange::wsClose(std::uint16_t code, std::string reason) {
  if (clientGone()) return;
  LoopMessage message{LoopMessage::Kind::WsClose, shared_from_this(), std::move(reason), true};
  message.size = code;
  post(std::move(message));
}

void Exchange::wsOverflow() {
  if (clientGone()) return;
  LoopMessage message{LoopMessage::Kind::WsClose, shared_from_this(), {}, false};
  message.size = 1008;
  post(std::move(message));
}

void Exchange::wsSubscribe(std::string channel, bool subscribe) {
  if (clientGone()) return;
  LoopMessage message{LoopMessage::Kind::WsSubscribe, shared_from_this(), {}, subscribe};
  message.path = std::move(channel);
  post(std::move(message));
}

void Exchange::onBytesWritten(std::size_t n) {
  std::size_t before = unsent_.fetch_sub(n);
  if (waiting_.load() && before - n <= wake_at_.load()) {
    std::lock_guard lock(mutex_);
    cv_.notify_all();
  }
}

void Exchange::onClientGone() {
  client_gone_.store(true, std::memory_order_release);
  if (body_stream_) body_stream_->fail();
  std::lock_guard lock(mutex_);
  cv_.notify_all();
}

void Exchange::completeHijack(int fd, std::string leftover) {
  std::lock_guard lock(mutex_);
  hijacked_fd_ = fd;
  hijack_leftover_ = std::move(leftover);
  hijack_done_ = true;
  cv_.notify_all();
}

}  // namespace hyperion::server
