#include "hyperion/server/loop_mailbox.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>

namespace hyperion::server {

LoopMailbox::LoopMailbox() : event_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!event_fd_) throw std::runtime_error("eventfd failed");
}

void LoopMailbox::post(LoopMessage message) {
  bool wake;
  {
    std::lock_guard lock(mutex_);
    messages_.push_back(std::move(message));
    // One eventfd write per batch: later posts ride on the pending wake-up.
    wake = !signalled_;
    signalled_ = true;
  }
  if (wake) {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(event_fd_.get(), &one, sizeof one);
  }
}

void LoopMailbox::drainInto(std::vector<LoopMessage>& out) {
  std::uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(event_fd_.get(), &count, sizeof count);
  std::lock_guard lock(mutex_);
  signalled_ = false;
  out.swap(messages_);
}

}  // namespace hyperion::server
