#pragma once
// Which WebSocket connections of this worker listen on which pub/sub
// channel. Loop thread only: subscribe/unsubscribe arrive through the
// mailbox, and a publish is delivered by walking one set.
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace hyperion::websocket {

class Subscriber {
 public:
  virtual ~Subscriber() = default;
  // One frame, shared by every subscriber (no copy per connection).
  virtual void deliver(const std::shared_ptr<const std::string>& frame) = 0;
};

class Subscriptions {
 public:
  void subscribe(const std::string& channel, Subscriber* s) { channels_[channel].insert(s); }
  void unsubscribe(const std::string& channel, Subscriber* s) {
    auto it = channels_.find(channel);
    if (it == channels_.end()) return;
    it->second.erase(s);
    if (it->second.empty()) channels_.erase(it);
  }
  // Subscribers of `channel`, or null when there are none.
  const std::unordered_set<Subscriber*>* find(const std::string& channel) const {
    auto it = channels_.find(channel);
    return it == channels_.end() ? nullptr : &it->second;
  }
  std::size_t channelCount() const { return channels_.size(); }

 private:
  std::unordered_map<std::string, std::unordered_set<Subscriber*>> channels_;
};

}  // namespace hyperion::websocket
