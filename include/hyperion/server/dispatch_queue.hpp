#pragma once
// Hands finished requests from the event loop to the worker's Ruby threads.
// Idle threads wait here with the GVL released. Wake-ups go to the most
// recently idle thread first (LIFO): its stack and caches are warm, and on a
// lightly loaded worker one thread ends up doing the work instead of every
// request waking a different cold thread (measured in shared/notes).
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

namespace hyperion::server {

class Exchange;

class DispatchQueue {
 public:
  // One per Ruby thread, owned by that thread.
  struct Waiter {
    std::condition_variable cv;
    bool woken = false;
    bool interrupted = false;
  };
  enum class PopStatus { Job, Interrupted, Closed };

  void push(std::shared_ptr<Exchange> job);
  // Blocks until a job arrives, the waiter is interrupted, or the queue closes.
  PopStatus pop(Waiter& waiter, std::shared_ptr<Exchange>& job);
  void interrupt(Waiter& waiter);  // Ruby's unblocking function
  void close();                    // wakes everyone; pop returns Closed once empty

  std::size_t pending() const;

 private:
  mutable std::mutex mutex_;
  std::deque<std::shared_ptr<Exchange>> jobs_;
  std::vector<Waiter*> idle_;  // back = most recently idle
  bool closed_ = false;
};

}  // namespace hyperion::server
