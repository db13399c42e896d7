#pragma once
// Helpers shared by the server tests (header only; not a test file itself).
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "hyperion/http1/request.hpp"
#include "hyperion/server/exchange.hpp"
#include "hyperion/server/loop_mailbox.hpp"

namespace hyperion::server::testing {

inline std::shared_ptr<Exchange> makeExchange(const std::shared_ptr<LoopMailbox>& mailbox, std::uint64_t id = 1) {
  return std::make_shared<Exchange>(id, http1::Request{}, PeerInfo{"127.0.0.1", 9292, false}, mailbox);
}

// Polls `done` until it holds or `limit` passes. Returns the final value.
inline bool waitFor(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Runs a function on scope exit (releases blocked threads when an ASSERT returns early).
template <typename F>
class ScopeExit {
 public:
  explicit ScopeExit(F f) : f_(std::move(f)) {}
  ScopeExit(const ScopeExit&) = delete;
  ScopeExit& operator=(const ScopeExit&) = delete;
  ~ScopeExit() { f_(); }

 private:
  F f_;
};

}  // namespace hyperion::server::testing
