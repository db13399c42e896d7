#include "hyperion/server/dispatch_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "test_support.hpp"

using namespace hyperion::server;
using hyperion::server::testing::makeExchange;
using hyperion::server::testing::waitFor;
using hyperion::server::testing::ScopeExit;
using namespace std::chrono_literals;
using PopStatus = DispatchQueue::PopStatus;

namespace {

// Lets the waits settle in a known order; nothing asserts on timing itself.
constexpr auto kSettle = 50ms;

// A thread that pops once and records what it got.
struct Popper {
  DispatchQueue& queue;
  DispatchQueue::Waiter waiter;
  std::shared_ptr<Exchange> job;
  PopStatus status = PopStatus::Closed;
  std::atomic<bool> done{false};
  std::thread thread;

  explicit Popper(DispatchQueue& q) : queue(q) {}
  void start() {
    thread = std::thread([this] {
      status = queue.pop(waiter, job);
      done.store(true);
    });
  }
  ~Popper() {
    if (thread.joinable()) thread.join();
  }
};

}  // namespace

TEST(DispatchQueue, PushThenPopReturnsJob) {
  DispatchQueue q;
  auto mailbox = std::make_shared<LoopMailbox>();
  auto job = makeExchange(mailbox, 11);
  EXPECT_EQ(q.pending(), 0u);
  q.push(job);
  EXPECT_EQ(q.pending(), 1u);
  DispatchQueue::Waiter w;
  std::shared_ptr<Exchange> got;
  EXPECT_EQ(q.pop(w, got), PopStatus::Job);
  EXPECT_EQ(got, job);
  EXPECT_EQ(got->connectionId(), 11u);
  EXPECT_EQ(q.pending(), 0u);
}

TEST(DispatchQueue, JobsComeOutInPushOrder) {
  DispatchQueue q;
  auto mailbox = std::make_shared<LoopMailbox>();
  auto a = makeExchange(mailbox, 1);
  auto b = makeExchange(mailbox, 2);
  q.push(a);
  q.push(b);
  DispatchQueue::Waiter w;
  std::shared_ptr<Exchange> got;
  ASSERT_EQ(q.pop(w, got), PopStatus::Job);
  EXPECT_EQ(got, a);
  ASSERT_EQ(q.pop(w, got), PopStatus::Job);
  EXPECT_EQ(got, b);
}

TEST(DispatchQueue, BlockedPopReceivesLaterPush) {
  DispatchQueue q;
  auto mailbox = std::make_shared<LoopMailbox>();
  auto job = makeExchange(mailbox);
  Popper p(q);
  ScopeExit release([&] { q.close(); });
  p.start();
  std::this_thread::sleep_for(kSettle);
  EXPECT_FALSE(p.done.load());
  q.push(job);
  q.wakeIfAllIdle();
  ASSERT_TRUE(waitFor([&] { return p.done.load(); }));
  EXPECT_EQ(p.status, PopStatus::Job);
  EXPECT_EQ(p.job, job);
}

TEST(DispatchQueue, PushAloneDoesNotWakeTheLoopWakesOncePerBatch) {
  // The loop queues a whole epoll batch, then wakes one thread for all of it.
  DispatchQueue q;
  auto mailbox = std::make_shared<LoopMailbox>();
  Popper p(q);
  ScopeExit release([&] { q.close(); });
  p.start();
  std::this_thread::sleep_for(kSettle);
  q.push(makeExchange(mailbox, 1));
  q.push(makeExchange(mailbox, 2));
  std::this_thread::sleep_for(kSettle);
  EXPECT_FALSE(p.done.load());
  q.wakeIfAllIdle();
  ASSERT_TRUE(waitFor([&] { return p.done.load(); }));
  EXPECT_EQ(p.job->connectionId(), 1u);
  EXPECT_EQ(q.pending(), 1u);
}

TEST(DispatchQueue, WakesMostRecentlyIdleThreadFirst) {
  DispatchQueue q;
  auto mailbox = std::make_shared<LoopMailbox>();
  auto job1 = makeExchange(mailbox, 1);
  auto job2 = makeExchange(mailbox, 2);
  Popper first(q);   // idle first
  Popper second(q);  // idle last: must be woken first
  ScopeExit release([&] { q.close(); });  // runs before the Poppers join
  first.start();
  std::this_thread::sleep_for(kSettle);
  second.start();
  std::this_thread::sleep_for(kSettle);

  q.push(job1);
  q.wakeIfAllIdle();
  ASSERT_TRUE(waitFor([&] { return first.done.load() || second.done.load(); }));
  std::this_thread::sleep_for(kSettle);  // a wrong wake-up would show now
  EXPECT_TRUE(second.done.load());
  EXPECT_FALSE(first.done.load());
  if (second.done.load()) {
    EXPECT_EQ(second.status, PopStatus::Job);
    EXPECT_EQ(second.job, job1);
  }

  // `second` took job1 and is busy with it: job2 is not pushed onto another
  // thread at once; the loop's watchdog wakes `first` once `second` stalls.
  q.push(job2);
  q.wakeIfAllIdle();  // `second` is running: nobody is woken
  std::this_thread::sleep_for(kSettle);
  EXPECT_FALSE(first.done.load());
  EXPECT_TRUE(q.wakeIfStalled(DispatchQueue::Clock::now() + std::chrono::seconds(1), std::chrono::milliseconds(2)));
  ASSERT_TRUE(waitFor([&] { return first.done.load() && second.done.load(); }));
  EXPECT_EQ(first.status, PopStatus::Job);
  EXPECT_EQ(first.job, job2);
}

TEST(DispatchQueue, ThreadThatComesBackIdleIsReusedFirst) {
  // The warm thread keeps getting the work while a colder one stays asleep.
  DispatchQueue q;
  auto mailbox = std::make_shared<LoopMailbox>();
  DispatchQueue::Waiter cold_waiter;
  DispatchQueue::Waiter warm_waiter;
  std::atomic<int> cold_jobs{0};
  std::atomic<int> warm_jobs{0};
  auto worker = [&q](DispatchQueue::Waiter& w, std::atomic<int>& jobs) {
    std::shared_ptr<Exchange> job;
    while (q.pop(w, job) == PopStatus::Job) jobs.fetch_add(1);
  };
  std::thread cold(worker, std::ref(cold_waiter), std::ref(cold_jobs));
  std::this_thread::sleep_for(kSettle);
  std::thread warm(worker, std::ref(warm_waiter), std::ref(warm_jobs));
  ScopeExit release([&] {
    q.close();
    cold.join();
    warm.join();
  });
  std::this_thread::sleep_for(kSettle);

  for (int i = 1; i <= 3; ++i) {
    q.push(makeExchange(mailbox, static_cast<std::uint64_t>(i)));
    q.wakeIfAllIdle();
    ASSERT_TRUE(waitFor([&] { return cold_jobs.load() + warm_jobs.load() == i; })) << "job " << i;
    std::this_thread::sleep_for(kSettle);  // the worker is back in pop()
  }
  EXPECT_EQ(warm_jobs.load(), 3);
  EXPECT_EQ(cold_jobs.load(), 0);
}

TEST(DispatchQueue, InterruptWakesBlockedPop) {
  DispatchQueue q;
  Popper p(q);
  ScopeExit release([&] { q.close(); });
  p.start();
  std::this_thread::sleep_for(kSettle);
  EXPECT_FALSE(p.done.load());
  q.interrupt(p.waiter);
  ASSERT_TRUE(waitFor([&] { return p.done.load(); }));
  EXPECT_EQ(p.status, PopStatus::Interrupted);
  EXPECT_EQ(p.job, nullptr);
  p.thread.join();

  // The interrupted waiter is no longer listed as idle: a push just queues.
  auto mailbox = std::make_shared<LoopMailbox>();
  auto job = makeExchange(mailbox);
  q.push(job);
  EXPECT_EQ(q.pending(), 1u);
  DispatchQueue::Waiter w;
  std::shared_ptr<Exchange> got;
  EXPECT_EQ(q.pop(w, got), PopStatus::Job);
  EXPECT_EQ(got, job);
}

TEST(DispatchQueue, InterruptBeforePopIsConsumedOnce) {
  DispatchQueue q;
  DispatchQueue::Waiter w;
  std::shared_ptr<Exchange> got;
  q.interrupt(w);
  EXPECT_EQ(q.pop(w, got), PopStatus::Interrupted);
  EXPECT_FALSE(w.interrupted);
  // The flag was consumed: the next pop waits again (for the job pushed here).
  auto mailbox = std::make_shared<LoopMailbox>();
  auto job = makeExchange(mailbox);
  q.push(job);
  EXPECT_EQ(q.pop(w, got), PopStatus::Job);
  EXPECT_EQ(got, job);
}

TEST(DispatchQueue, InterruptOnlyAffectsItsWaiter) {
  DispatchQueue q;
  Popper a(q);
  Popper b(q);
  ScopeExit release([&] { q.close(); });
  a.start();
  b.start();
  std::this_thread::sleep_for(kSettle);
  q.interrupt(a.waiter);
  ASSERT_TRUE(waitFor([&] { return a.done.load(); }));
  EXPECT_EQ(a.status, PopStatus::Interrupted);
  std::this_thread::sleep_for(kSettle);
  EXPECT_FALSE(b.done.load());
  auto mailbox = std::make_shared<LoopMailbox>();
  auto job = makeExchange(mailbox);
  q.push(job);
  q.wakeIfAllIdle();
  ASSERT_TRUE(waitFor([&] { return b.done.load(); }));
  EXPECT_EQ(b.status, PopStatus::Job);
  EXPECT_EQ(b.job, job);
}

TEST(DispatchQueue, CloseDrainsPendingJobsThenReturnsClosed) {
  DispatchQueue q;
  auto mailbox = std::make_shared<LoopMailbox>();
  auto a = makeExchange(mailbox, 1);
  auto b = makeExchange(mailbox, 2);
  q.push(a);
  q.push(b);
  q.close();
  DispatchQueue::Waiter w;
  std::shared_ptr<Exchange> got;
  ASSERT_EQ(q.pop(w, got), PopStatus::Job);
  EXPECT_EQ(got, a);
  ASSERT_EQ(q.pop(w, got), PopStatus::Job);
  EXPECT_EQ(got, b);
  EXPECT_EQ(q.pop(w, got), PopStatus::Closed);
  EXPECT_EQ(q.pop(w, got), PopStatus::Closed);
  EXPECT_EQ(q.pending(), 0u);
}

TEST(DispatchQueue, CloseWakesEveryWaiter) {
  DispatchQueue q;
  Popper a(q);
  Popper b(q);
  ScopeExit release([&] { q.close(); });
  a.start();
  b.start();
  std::this_thread::sleep_for(kSettle);
  EXPECT_FALSE(a.done.load());
  EXPECT_FALSE(b.done.load());
  q.close();
  ASSERT_TRUE(waitFor([&] { return a.done.load() && b.done.load(); }));
  EXPECT_EQ(a.status, PopStatus::Closed);
  EXPECT_EQ(b.status, PopStatus::Closed);
}

// Capacity-aware accept reads hasCapacity(): a request running or queued
// takes a thread's worth of capacity until the thread calls jobDone().
TEST(DispatchQueue, CapacityCountsQueuedAndRunningJobs) {
  auto mailbox = std::make_shared<LoopMailbox>();
  DispatchQueue q;
  q.setThreads(2);
  EXPECT_TRUE(q.hasCapacity());
  q.push(makeExchange(mailbox, 1));
  EXPECT_TRUE(q.hasCapacity());  // one queued, one thread still free
  q.push(makeExchange(mailbox, 2));
  EXPECT_FALSE(q.hasCapacity());  // two queued for two threads

  std::shared_ptr<Exchange> job;
  ASSERT_TRUE(q.tryPop(job));
  EXPECT_FALSE(q.hasCapacity());  // taken is still busy: one running, one queued
  q.jobDone();
  EXPECT_TRUE(q.hasCapacity());

  DispatchQueue::Waiter w;
  ASSERT_EQ(q.pop(w, job), PopStatus::Job);
  q.push(makeExchange(mailbox, 3));
  EXPECT_FALSE(q.hasCapacity());  // one running, one queued
  q.jobDone();
  EXPECT_TRUE(q.hasCapacity());
  q.close();
}
