#include "hyperion/server/dispatch_queue.hpp"

#include <algorithm>

namespace hyperion::server {

void DispatchQueue::push(std::shared_ptr<Exchange> job) {
  std::lock_guard lock(mutex_);
  jobs_.push_back(std::move(job));
  if (!idle_.empty()) {
    Waiter* waiter = idle_.back();
    idle_.pop_back();
    waiter->woken = true;
    waiter->cv.notify_one();
  }
}

DispatchQueue::PopStatus DispatchQueue::pop(Waiter& waiter, std::shared_ptr<Exchange>& job) {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (!jobs_.empty()) {
      job = std::move(jobs_.front());
      jobs_.pop_front();
      return PopStatus::Job;
    }
    if (closed_) return PopStatus::Closed;
    if (waiter.interrupted) {
      waiter.interrupted = false;
      return PopStatus::Interrupted;
    }
    waiter.woken = false;
    idle_.push_back(&waiter);
    waiter.cv.wait(lock, [&] { return waiter.woken || waiter.interrupted || closed_; });
    // Interrupted or closed while still listed as idle: unlist before leaving.
    if (auto it = std::find(idle_.begin(), idle_.end(), &waiter); it != idle_.end()) idle_.erase(it);
  }
}

void DispatchQueue::interrupt(Waiter& waiter) {
  std::lock_guard lock(mutex_);
  waiter.interrupted = true;
  waiter.cv.notify_one();
}

void DispatchQueue::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  for (Waiter* waiter : idle_) waiter->cv.notify_one();
}

std::size_t DispatchQueue::pending() const {
  std::lock_guard lock(mutex_);
  return jobs_.size();
}

}  // namespace hyperion::server
