#include "hyperion/server/dispatch_queue.hpp"

#include <algorithm>

namespace hyperion::server {

void DispatchQueue::wakeMostRecentlyIdle() {
  Waiter* waiter = idle_.back();
  idle_.pop_back();
  waiter->woken = true;
  waiter->cv.notify_one();
}

void DispatchQueue::push(std::shared_ptr<Exchange> job) {
  std::lock_guard lock(mutex_);
  jobs_.push_back(std::move(job));
  pending_.store(jobs_.size(), std::memory_order_relaxed);
}

void DispatchQueue::wakeIfAllIdle() {
  std::lock_guard lock(mutex_);
  // A running thread takes queued jobs itself (and the watchdog covers a
  // running thread that is stuck); only a queue nobody watches needs a wake.
  if (!jobs_.empty() && !idle_.empty() && idle_.size() == known_) wakeMostRecentlyIdle();
}

bool DispatchQueue::wakeIfStalled(Clock::time_point now, Clock::duration stall) {
  std::lock_guard lock(mutex_);
  if (jobs_.empty() || idle_.empty() || now - last_pop_ < stall) return false;
  wakeMostRecentlyIdle();
  last_pop_ = now;  // give the woken thread a full period before waking another
  return true;
}

void DispatchQueue::takeFront(std::shared_ptr<Exchange>& job) {
  job = std::move(jobs_.front());
  jobs_.pop_front();
  busy_.fetch_add(1, std::memory_order_acq_rel);  // before pending_ drops: never an undercount
  pending_.store(jobs_.size(), std::memory_order_relaxed);
  last_pop_ = Clock::now();  // the watchdog's sign of progress
}

bool DispatchQueue::tryPop(std::shared_ptr<Exchange>& job) {
  if (pending_.load(std::memory_order_relaxed) == 0) return false;  // common idle case: no lock
  std::lock_guard lock(mutex_);
  if (jobs_.empty()) return false;
  takeFront(job);
  return true;
}

DispatchQueue::PopStatus DispatchQueue::pop(Waiter& waiter, std::shared_ptr<Exchange>& job) {
  std::unique_lock lock(mutex_);
  if (!waiter.registered) {
    waiter.registered = true;
    ++known_;
  }
  for (;;) {
    if (!jobs_.empty()) {
      takeFront(job);
      return PopStatus::Job;
    }
    if (closed_ || waiter.interrupted) {
      // Not running a job and maybe never coming back (Thread#kill): stop
      // counting this thread until it pops again.
      waiter.registered = false;
      --known_;
      if (closed_) return PopStatus::Closed;
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
