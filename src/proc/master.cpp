#include "hyperion/proc/master.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "hyperion/log/logger.hpp"
#include "hyperion/proc/signals.hpp"
#include "hyperion/proc/worker.hpp"

namespace hyperion::proc {
namespace {

using Clock = std::chrono::steady_clock;

// A worker that dies this soon after it was forked, without reporting ready,
// failed to boot: replacing it at once would only spin.
constexpr auto kMaxBackoff = std::chrono::seconds(30);

struct WorkerSlot {
  pid_t pid = 0;
  bool ready = false;
  Clock::time_point spawned_at{};
  Clock::time_point respawn_at{};  // when pid == 0 and not stopping
  int failures = 0;                // consecutive boot failures
};

class Master {
 public:
  Master(const config::Settings& settings, std::vector<net::Listener> listeners, AppHost& host)
      : settings_(settings), listeners_(std::move(listeners)), host_(host), slots_(settings.workers) {}

  int run();

 private:
  void spawn(int index);
  void reap();
  void handleSignal(int signal);
  void readReady();
  void beginStop(bool immediate);
  int aliveCount() const;
  int timeoutMs() const;

  const config::Settings& settings_;
  std::vector<net::Listener> listeners_;
  AppHost& host_;
  std::vector<WorkerSlot> slots_;
  std::unique_ptr<SignalPipe> signals_;
  net::UniqueFd ready_read_;
  net::UniqueFd ready_write_;
  bool any_ready_ = false;
  bool stopping_ = false;
  bool immediate_ = false;
  bool boot_failed_ = false;
  Clock::time_point kill_at_{};
};

int Master::run() {
  signals_ = std::make_unique<SignalPipe>(
      std::vector<int>{SIGTERM, SIGINT, SIGQUIT, SIGCHLD, SIGHUP, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU});
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    spdlog::critical("pipe2 failed");
    return 1;
  }
  ready_read_.reset(fds[0]);
  ready_write_.reset(fds[1]);

  if (settings_.preload) {
    auto loaded = host_.loadApp();
    if (!loaded) {
      spdlog::critical("cannot load {}: {}", settings_.rackup, loaded.error());
      return 1;
    }
    spdlog::info("app preloaded in the master");
  }
  host_.runHook(Hook::BeforeFork, -1);
  for (int i = 0; i < settings_.workers; ++i) spawn(i);

  while (!stopping_ || aliveCount() > 0) {
    host_.withoutGvl([&] {
      pollfd pfds[2] = {{signals_->readFd(), POLLIN, 0}, {ready_read_.get(), POLLIN, 0}};
      ::poll(pfds, 2, timeoutMs());
    });
    for (int signal : signals_->drain()) handleSignal(signal);
    readReady();
    reap();
    const auto now = Clock::now();
    if (stopping_) {
      if (aliveCount() > 0 && now >= kill_at_) {
        spdlog::warn("workers still running after the grace period; sending KILL");
        for (auto& slot : slots_) {
          if (slot.pid > 0) ::kill(slot.pid, SIGKILL);
        }
        kill_at_ = now + std::chrono::hours(1);
      }
      continue;
    }
    for (int i = 0; i < static_cast<int>(slots_.size()); ++i) {
      if (slots_[i].pid == 0 && now >= slots_[i].respawn_at) spawn(i);
    }
  }
  spdlog::info("master exiting");
  return boot_failed_ ? 1 : 0;
}

void Master::spawn(int index) {
  WorkerSlot& slot = slots_[index];
  pid_t pid = host_.forkProcess();
  if (pid < 0) {
    spdlog::error("fork failed for worker {}; retrying in 1s", index);
    slot.respawn_at = Clock::now() + std::chrono::seconds(1);
    return;
  }
  if (pid == 0) {
    // Child: drop the master's plumbing, keep our listeners, serve.
    int ready_fd = ready_write_.release();
    ready_read_.reset();
    log::setupLogging(settings_, "worker " + std::to_string(index));
    std::vector<net::Listener> mine = net::listenersForSlot(listeners_, index);
    auto* master_signals = signals_.release();  // replaced by the worker's own pipe
    WorkerSpec spec{index, ready_fd};
    master_signals->abandon();
    runWorker(settings_, std::move(mine), host_, spec);
  }
  slot = WorkerSlot{pid, false, Clock::now(), {}, slot.failures};
  spdlog::info("worker {} started (pid {})", index, pid);
}

void Master::readReady() {
  unsigned char buffer[64];
  for (;;) {
    ssize_t n = ::read(ready_read_.get(), buffer, sizeof buffer);
    if (n <= 0) return;
    for (ssize_t i = 0; i < n; ++i) {
      std::size_t index = buffer[i];
      if (index < slots_.size()) {
        slots_[index].ready = true;
        slots_[index].failures = 0;
        any_ready_ = true;
      }
    }
  }
}

void Master::reap() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    auto it = std::find_if(slots_.begin(), slots_.end(), [pid](const WorkerSlot& s) { return s.pid == pid; });
    if (it == slots_.end()) continue;  // not ours (an app's own child)
    const int index = static_cast<int>(it - slots_.begin());
    std::string how = WIFSIGNALED(status) ? std::string("signal ") + signalName(WTERMSIG(status)) + " (" +
                                                std::to_string(WTERMSIG(status)) + ")"
                                          : "status " + std::to_string(WEXITSTATUS(status));
    readReady();  // a worker may have become ready just before dying
    const bool boot_failure = !it->ready;
    it->pid = 0;
    if (stopping_) {
      spdlog::info("worker {} (pid {}) exited with {}", index, pid, how);
      continue;
    }
    if (boot_failure && !any_ready_ && WIFEXITED(status) && WEXITSTATUS(status) == kBootFailureStatus) {
      // The app cannot load at all: say so and stop, as a missing rackup would.
      spdlog::critical("worker {} failed to boot the app; stopping", index);
      boot_failed_ = true;
      beginStop(true);
      continue;
    }
    if (boot_failure) {
      it->failures++;
      auto delay = std::min<std::chrono::seconds>(std::chrono::seconds(1 << std::min(it->failures - 1, 5)), kMaxBackoff);
      it->respawn_at = Clock::now() + delay;
      spdlog::error("worker {} (pid {}) died during boot with {}; restarting in {}s", index, pid, how, delay.count());
    } else {
      it->respawn_at = Clock::now();
      spdlog::error("worker {} (pid {}) died with {}; restarting it", index, pid, how);
    }
  }
}

void Master::handleSignal(int signal) {
  switch (signal) {
    case SIGCHLD:
      break;  // reap() runs after every wake-up
    case SIGTERM:
    case SIGINT:
      if (stopping_) beginStop(true);  // a second signal: do not wait
      else beginStop(false);
      break;
    case SIGQUIT:
      beginStop(true);
      break;
    case SIGHUP:
      // Log reopening and certificate reloading come with the operations work.
      if (net::rotateTicketKeys(net::tlsContexts(listeners_)) == 0) spdlog::info("SIGHUP: nothing to do (no ssl:// bind)");
      break;
    default:
      spdlog::info("SIG{} is not handled yet; ignoring", signalName(signal));
  }
}

void Master::beginStop(bool immediate) {
  if (stopping_ && (immediate_ || !immediate)) return;
  stopping_ = true;
  immediate_ = immediate;
  // Our copies of the listening sockets kept them open for respawns only.
  // Once every worker has closed its own, the socket is gone and a new
  // connection is refused at once (a load balancer retries elsewhere)
  // instead of waiting in a backlog nobody will accept from.
  listeners_.clear();
  spdlog::info("{} stop: signalling {} worker(s)", immediate ? "immediate" : "graceful", aliveCount());
  for (auto& slot : slots_) {
    if (slot.pid > 0) ::kill(slot.pid, immediate ? SIGQUIT : SIGTERM);
  }
  // Workers get the grace period plus a margin for at_exit handlers.
  kill_at_ = Clock::now() + (immediate ? std::chrono::milliseconds(5000)
                                       : settings_.graceful_timeout + std::chrono::milliseconds(5000));
}

int Master::aliveCount() const {
  return static_cast<int>(std::count_if(slots_.begin(), slots_.end(), [](const WorkerSlot& s) { return s.pid > 0; }));
}

int Master::timeoutMs() const {
  // Wake for the next due respawn; otherwise a slow heartbeat.
  auto next = Clock::now() + std::chrono::milliseconds(1000);
  if (stopping_) next = std::min(next, kill_at_);
  for (const auto& slot : slots_) {
    if (slot.pid == 0 && !stopping_) next = std::min(next, slot.respawn_at);
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
  return static_cast<int>(std::max<long long>(ms, 0));
}

}  // namespace

int runMaster(const config::Settings& settings, std::vector<net::Listener> listeners, AppHost& host) {
  Master master(settings, std::move(listeners), host);
  return master.run();
}

}  // namespace hyperion::proc
