#pragma once
// Hands finished requests from the event loop to the worker's Ruby threads.
// Idle threads wait here with the GVL released.
//
// Wake-up policy (shared/notes/performance-facts.md): a push wakes a thread
// only when every thread is idle, and then the most recently idle one (LIFO:
// warm stack and caches). While some thread is running, it picks up queued
// jobs itself, so the GVL is not handed around between threads for requests
// one thread could serve back to back. If that thread stops making progress
// (it sleeps or waits on IO inside the app), the loop's watchdog
// (wakeIfStalled) wakes another idle thread.
#include <atomic>
#include <chrono>
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
    bool registered = false;  // counted in known_ threads
  };
  using Clock = std::chrono::steady_clock;
  enum class PopStatus { Job, Interrupted, Closed };

  // Queues a job without waking anyone: the loop pushes everything one
  // epoll batch produced, then calls wakeIfAllIdle() once. Waking on the
  // first push would let the woken thread preempt the loop mid-batch (all
  // threads share the worker's CPU) and ping-pong once per request.
  void push(std::shared_ptr<Exchange> job);
  // Everyone asleep and jobs queued: wake the most recently idle thread.
  void wakeIfAllIdle();
  // Takes a queued job if there is one, never blocks. A Ruby thread calls it
  // with the GVL held after each request, so a busy thread goes from job to
  // job without releasing and re-taking the GVL.
  bool tryPop(std::shared_ptr<Exchange>& job);
  // Blocks until a job arrives, the waiter is interrupted, or the queue closes.
  PopStatus pop(Waiter& waiter, std::shared_ptr<Exchange>& job);
  void interrupt(Waiter& waiter);  // Ruby's unblocking function
  void close();                    // wakes everyone; pop returns Closed once empty

  std::size_t pending() const;

  // Capacity-aware accept: the loop stops taking new connections while
  // every Ruby thread has a request (running or queued for it).
  void setThreads(std::size_t threads) { threads_.store(threads, std::memory_order_relaxed); }
  // A Ruby thread is done with the job it took. Called before the job's
  // Finish message is posted, so the loop, woken by that message, sees the
  // freed thread.
  void jobDone() { busy_.fetch_sub(1, std::memory_order_acq_rel); }
  // Lock-free, for the loop: is there a Ruby thread for one more request?
  bool hasCapacity() const {
    return busy_.load(std::memory_order_acquire) + pending_.load(std::memory_order_relaxed) <
           threads_.load(std::memory_order_relaxed);
  }
  // Lock-free hint for the loop: are jobs waiting?
  bool hasPending() const { return pending_.load(std::memory_order_relaxed) > 0; }
  // Lock-free snapshots for the metrics: jobs waiting, jobs being run.
  std::size_t pendingHint() const { return pending_.load(std::memory_order_relaxed); }
  std::size_t busyHint() const { return busy_.load(std::memory_order_relaxed); }
  // The watchdog: jobs are waiting and no thread has taken one for `stall`:
  // wake an idle thread. Returns true if it woke one.
  bool wakeIfStalled(Clock::time_point now, Clock::duration stall);

 private:
  void wakeMostRecentlyIdle();                     // mutex held
  void takeFront(std::shared_ptr<Exchange>& job);  // mutex held, jobs_ not empty

  mutable std::mutex mutex_;
  std::deque<std::shared_ptr<Exchange>> jobs_;
  std::vector<Waiter*> idle_;  // back = most recently idle
  std::size_t known_ = 0;      // threads that ever called pop()
  Clock::time_point last_pop_{};
  std::atomic<std::size_t> pending_{0};
  std::atomic<std::size_t> busy_{0};     // jobs taken and not yet done
  std::atomic<std::size_t> threads_{1};
  bool closed_ = false;
};

}  // namespace hyperion::server
