#include "hyperion/websocket/channel.hpp"

namespace hyperion::websocket {

bool Channel::push(Event event) {
  std::lock_guard lock(mutex_);
  backlog_ += event.data.size();
  events_.push_back(std::move(event));
  if (scheduled_) return false;
  scheduled_ = true;
  return true;
}

bool Channel::next(Event& event, bool& resume) {
  std::lock_guard lock(mutex_);
  resume = false;
  if (events_.empty()) {
    scheduled_ = false;
    return false;
  }
  event = std::move(events_.front());
  events_.pop_front();
  backlog_ -= event.data.size();
  if (held_ && backlog_ <= kHoldAt / 2) {
    held_ = false;
    resume = true;
  }
  return true;
}

}  // namespace hyperion::websocket
