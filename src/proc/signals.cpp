#include "hyperion/proc/signals.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace hyperion::proc {
namespace {

std::atomic<int> g_signal_write_fd{-1};

void onSignal(int signal) {
  const int saved = errno;
  int fd = g_signal_write_fd.load(std::memory_order_relaxed);
  if (fd >= 0) {
    auto byte = static_cast<unsigned char>(signal);
    [[maybe_unused]] ssize_t n = ::write(fd, &byte, 1);
  }
  errno = saved;
}

}  // namespace

SignalPipe::SignalPipe(const std::vector<int>& signals) : signals_(signals) {
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  read_.reset(fds[0]);
  write_.reset(fds[1]);
  g_signal_write_fd.store(write_.get());
  struct sigaction action{};
  action.sa_handler = &onSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  previous_.resize(signals_.size());
  for (std::size_t i = 0; i < signals_.size(); ++i) ::sigaction(signals_[i], &action, &previous_[i]);
  struct sigaction ignore{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, nullptr);
  sigset_t set;
  sigemptyset(&set);
  for (int signal : signals_) sigaddset(&set, signal);
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

SignalPipe::~SignalPipe() {
  // Handlers go back before the pipe closes, so a late signal is not written
  // into a closed (or reused) fd.
  if (!signals_.empty()) restorePrevious();
}

void SignalPipe::abandon() {
  restorePrevious();
  signals_.clear();
  read_.reset();
  write_.reset();
}

void SignalPipe::restorePrevious() {
  for (std::size_t i = 0; i < signals_.size(); ++i) ::sigaction(signals_[i], &previous_[i], nullptr);
  g_signal_write_fd.store(-1);
}

std::vector<int> SignalPipe::drain() {
  std::vector<int> out;
  unsigned char buffer[64];
  for (;;) {
    ssize_t n = ::read(read_.get(), buffer, sizeof buffer);
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) out.push_back(buffer[i]);
  }
  return out;
}

void blockAllSignals() {
  sigset_t all;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
}

const char* signalName(int signal) {
  const char* name = ::sigabbrev_np(signal);  // "TERM", "KILL", ...
  return name ? name : "?";
}

}  // namespace hyperion::proc
