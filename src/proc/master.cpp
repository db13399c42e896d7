#include "hyperion/proc/master.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <random>

#include "hyperion/log/logger.hpp"
#include "hyperion/metrics/exporter.hpp"
#include "hyperion/metrics/stats_region.hpp"
#include "hyperion/proc/oom_kills.hpp"
#include "hyperion/proc/sd_notify.hpp"
#include "hyperion/proc/signals.hpp"
#include "hyperion/proc/worker.hpp"

namespace hyperion::proc {
namespace {

using Clock = std::chrono::steady_clock;

// A worker that dies this soon after it was forked, without reporting ready,
// failed to boot: replacing it at once would only spin.
constexpr auto kMaxBackoff = std::chrono::seconds(30);
// A phased restart's new worker that is not ready by then is taken as failed.
constexpr auto kReplacementBootTimeout = std::chrono::seconds(60);

// One index of the worker pool: what keeps it filled.
struct Slot {
  Clock::time_point respawn_at{};  // when it has no worker and is not stopping
  int failures = 0;                // consecutive boot failures
};

// One forked worker process. During a phased restart an index has two: the
// serving one and its replacement, until the replacement is ready.
struct WorkerProc {
  pid_t pid = 0;
  int index = 0;
  bool ready = false;
  bool replacement = false;  // booting for a phased restart; not yet serving
  bool retiring = false;     // told to drain (replaced, TTOU, recycled); not respawned
  bool killed = false;       // killed for not checking in (--worker-timeout)
  int block = -1;            // its metrics block in region_ (-1: none was free)
  // Its recycling limits (worker_health), each with its own jitter so the
  // workers do not all recycle at once; 0 / epoch: none.
  std::uint64_t max_requests = 0;
  Clock::time_point retire_at{};
  Clock::time_point spawned_at{};
  Clock::time_point checked_in{};  // its last ready/check-in message
};

class Master final : private admin::AdminHandler {
 public:
  Master(const config::Settings& settings, std::vector<net::Listener> listeners, AppHost& host,
         std::unique_ptr<admin::AdminServer> admin)
      : settings_(settings),
        listeners_(std::move(listeners)),
        host_(host),
        admin_(std::move(admin)),
        slots_(static_cast<std::size_t>(settings.workers)) {}

  int run();

 private:
  // admin::AdminHandler: the admin listener's answers.
  std::string notReadyReason() const override;
  std::string metricsText() override;
  void quit() override { beginStop(false); }
  std::string statsJson() override;
  Result<int> requestPhasedRestart() override;
  int readyCount() const;  // indices with a ready, serving worker

  void spawn(int index, bool replacement);
  void reap();
  void handleSignal(int signal);
  void readReady();
  void beginStop(bool immediate);
  void retire(WorkerProc& proc, const char* why);
  // Phased restart (USR1): replaces the workers one index at a time.
  void startPhasedRestart();
  void advancePhasedRestart();
  void abortPhasedRestart(const std::string& why);
  void addWorker();
  void removeWorker();
  // worker_health: a worker past max_requests, max_rss or max_age is
  // replaced like one index of a phased restart (the new one ready first).
  void checkWorkerHealth();
  void recycle(const WorkerProc& proc, const std::string& reason, const std::string& why);
  std::uint64_t jittered(std::uint64_t limit);  // limit + up to 10 %
  WorkerProc* serving(int index);  // the index's worker that is neither a replacement nor retiring
  WorkerProc* replacementFor(int index);
  bool filled(int index) const;  // a worker serves or boots for it (one not retiring)
  WorkerProc* byPid(pid_t pid);
  int aliveCount() const;
  int timeoutMs() const;
  // systemd (sd_notify.hpp): READY=1 once every index has a ready worker.
  void notifyReadyIfAll();
  void tickWatchdog();
  void killSilentWorkers();  // --worker-timeout

  const config::Settings& settings_;
  std::vector<net::Listener> listeners_;
  AppHost& host_;
  std::unique_ptr<admin::AdminServer> admin_;
  // Workers' metrics: a block each in shared memory, and the sums of the
  // ones that have exited (so counters never go down across restarts).
  std::optional<metrics::StatsRegion> region_;
  metrics::Totals retired_;
  std::map<std::string, std::uint64_t> restarts_;  // hyperion_worker_restarts_total{reason}
  bool warned_no_block_ = false;
  std::vector<pollfd> pollfds_;
  std::vector<Slot> slots_;
  std::vector<WorkerProc> procs_;
  std::unique_ptr<SignalPipe> signals_;
  net::UniqueFd ready_read_;
  net::UniqueFd ready_write_;
  bool any_ready_ = false;
  bool stopping_ = false;
  bool immediate_ = false;
  bool boot_failed_ = false;
  Clock::time_point kill_at_{};
  // The phased restart in progress: the index being replaced (-1: none).
  int phased_index_ = -1;
  int phased_end_ = 0;      // the index it stops before (one past the one recycled)
  std::string recycling_;   // non-empty: this replacement recycles a worker, for this reason
  Clock::time_point phased_started_{};
  int phased_replaced_ = 0;
  // The last phased restart, for /-/stats (hyperion ctl … --wait).
  int restart_id_ = 0;
  std::string restart_state_ = "none";  // running, complete, failed
  std::string restart_reason_;
  Clock::time_point next_health_check_{};
  std::optional<std::uint64_t> oom_kills_ = oomKillCount();  // the cgroup's count, to tell OOM kills apart
  std::mt19937_64 jitter_{std::random_device{}()};
  SdNotify notify_ = SdNotify::fromEnvironment();
  bool ready_pending_ = true;  // READY=1 is owed (at boot, and after a phased restart)
  Clock::time_point next_watchdog_{};
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
  // Blocks for twice the pool (a phased restart runs two per index for a
  // moment) plus room for TTIN; untouched blocks cost no memory.
  if (auto region = metrics::StatsRegion::create(slots_.size() * 2 + 16)) {
    region_.emplace(std::move(region.value()));
  } else {
    spdlog::error("metrics are off: {}", region.error());
  }

  if (settings_.preload) {
    auto loaded = host_.loadApp();
    if (!loaded) {
      spdlog::critical("cannot load {}: {}", settings_.rackup, loaded.error());
      return 1;
    }
    spdlog::info("app preloaded in the master");
  }
  host_.runHook(Hook::BeforeFork, -1);
  for (int i = 0; i < static_cast<int>(slots_.size()); ++i) spawn(i, false);

  if (admin_) spdlog::info("admin listener on {}", admin_->url());
  while (!stopping_ || aliveCount() > 0) {
    pollfds_.clear();
    pollfds_.push_back({signals_->readFd(), POLLIN, 0});
    pollfds_.push_back({ready_read_.get(), POLLIN, 0});
    if (admin_) admin_->addPollFds(pollfds_);
    host_.withoutGvl([&] { ::poll(pollfds_.data(), pollfds_.size(), timeoutMs()); });
    for (int signal : signals_->drain()) handleSignal(signal);
    readReady();  // /-/ready below sees workers that just became ready
    if (admin_) admin_->onPoll(pollfds_.data() + 2, pollfds_.size() - 2, *this);
    readReady();
    reap();
    tickWatchdog();
    killSilentWorkers();
    if (ready_pending_ && !stopping_ && phased_index_ < 0) notifyReadyIfAll();
    const auto now = Clock::now();
    if (stopping_) {
      if (aliveCount() > 0 && now >= kill_at_) {
        spdlog::warn("workers still running after the grace period; sending KILL");
        for (auto& proc : procs_) {
          ::kill(proc.pid, SIGKILL);
          proc.killed = true;
        }
        kill_at_ = now + std::chrono::hours(1);
      }
      continue;
    }
    for (int i = 0; i < static_cast<int>(slots_.size()); ++i) {
      if (!filled(i) && now >= slots_[i].respawn_at) spawn(i, false);
    }
    if (phased_index_ >= 0) advancePhasedRestart();
    else checkWorkerHealth();
  }
  spdlog::info("master exiting");
  return boot_failed_ ? 1 : 0;
}

void Master::spawn(int index, bool replacement) {
  Slot& slot = slots_[static_cast<std::size_t>(index)];
  const int block = region_ ? region_->claim(index) : -1;
  if (block < 0 && region_ && !warned_no_block_) {
    warned_no_block_ = true;
    spdlog::warn("every metrics block is taken: worker {} is not counted in /-/metrics", index);
  }
  pid_t pid = host_.forkProcess();
  if (pid < 0) {
    if (region_) region_->release(block);
    spdlog::error("fork failed for worker {}; retrying in 1s", index);
    slot.respawn_at = Clock::now() + std::chrono::seconds(1);
    if (replacement) abortPhasedRestart("fork failed");
    return;
  }
  if (pid == 0) {
    // Child: drop the master's plumbing, keep our listeners, serve.
    int ready_fd = ready_write_.release();
    ready_read_.reset();
    if (auto error = log::setupLogging(settings_, "worker " + std::to_string(index)); !error.empty())
      spdlog::error("worker {}: {}; logging to stderr", index, error);
    std::vector<net::Listener> mine = net::listenersForSlot(listeners_, index);
    auto* master_signals = signals_.release();  // replaced by the worker's own pipe
    if (admin_) admin_->closeInChild();
    WorkerSpec spec{index, ready_fd, static_cast<int>(slots_.size()), block >= 0 ? &region_->block(block) : nullptr,
                    nullptr};
    master_signals->abandon();
    runWorker(settings_, std::move(mine), host_, spec);
  }
  const auto now = Clock::now();
  if (region_) region_->setPid(block, pid);
  const auto& health = settings_.worker_health;
  const Clock::time_point retire_at =
      health.max_age.count() > 0
          ? now + std::chrono::seconds(jittered(static_cast<std::uint64_t>(health.max_age.count())))
          : Clock::time_point{};
  procs_.push_back(
      WorkerProc{pid, index, false, replacement, false, false, block, jittered(health.max_requests), retire_at, now, now});
  spdlog::info("worker {} {} (pid {})", index, replacement ? "replacement started" : "started", pid);
}

WorkerProc* Master::serving(int index) {
  for (auto& proc : procs_)
    if (proc.index == index && !proc.replacement && !proc.retiring) return &proc;
  return nullptr;
}

WorkerProc* Master::replacementFor(int index) {
  for (auto& proc : procs_)
    if (proc.index == index && proc.replacement) return &proc;
  return nullptr;
}

bool Master::filled(int index) const {
  return std::any_of(procs_.begin(), procs_.end(),
                     [index](const WorkerProc& proc) { return proc.index == index && !proc.retiring; });
}

WorkerProc* Master::byPid(pid_t pid) {
  for (auto& proc : procs_)
    if (proc.pid == pid) return &proc;
  return nullptr;
}

void Master::readReady() {
  // Each ready worker writes its pid (4 bytes, one atomic pipe write), then
  // again every second while its event loop runs (CheckIn in worker.cpp).
  pid_t pids[16];
  for (;;) {
    ssize_t n = ::read(ready_read_.get(), pids, sizeof pids);
    if (n <= 0) return;
    for (ssize_t i = 0; i < n / static_cast<ssize_t>(sizeof(pid_t)); ++i) {
      WorkerProc* proc = byPid(pids[i]);
      if (!proc) continue;
      proc->checked_in = Clock::now();
      if (proc->ready) continue;
      proc->ready = true;
      if (static_cast<std::size_t>(proc->index) < slots_.size()) slots_[static_cast<std::size_t>(proc->index)].failures = 0;
      any_ready_ = true;
    }
  }
}

void Master::retire(WorkerProc& proc, const char* why) {
  proc.retiring = true;
  proc.replacement = false;
  spdlog::info("worker {} (pid {}) {}: draining", proc.index, proc.pid, why);
  ::kill(proc.pid, SIGTERM);
}

void Master::reap() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    readReady();  // a worker may have become ready just before dying
    WorkerProc* found = byPid(pid);
    if (!found) continue;  // not ours (an app's own child)
    const WorkerProc proc = *found;
    procs_.erase(procs_.begin() + (found - procs_.data()));
    if (region_ && proc.block >= 0) {  // its counts stay in the totals; the block is free again
      retired_.add(region_->block(static_cast<std::size_t>(proc.block)));
      region_->release(proc.block);
    }
    std::string how = WIFSIGNALED(status) ? std::string("signal ") + signalName(WTERMSIG(status)) + " (" +
                                                std::to_string(WTERMSIG(status)) + ")"
                                          : "status " + std::to_string(WEXITSTATUS(status));
    bool oom_killed = false;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && !proc.killed) {
      // Not our KILL (worker_timeout, grace period over): the kernel's OOM
      // killer, when the cgroup's count moved; else someone's kill -9.
      const auto count = oomKillCount();
      oom_killed = count && oom_kills_ && *count > *oom_kills_;
      if (count) oom_kills_ = count;
      how += oom_killed ? ": killed by the kernel's OOM killer (the memory cgroup's oom_kill count is now " +
                              std::to_string(*count) + "; see dmesg)"
                        : " from outside hyperion (kill -9, or an OOM kill its cgroup did not count; see dmesg)";
    }
    if (stopping_ || proc.retiring) {
      spdlog::info("worker {} (pid {}) exited with {}", proc.index, pid, how);
      continue;
    }
    if (proc.replacement) {
      abortPhasedRestart("the new worker " + std::to_string(proc.index) + " (pid " + std::to_string(pid) +
                         ") died during boot with " + how);
      continue;
    }
    const bool boot_failure = !proc.ready;
    if (boot_failure && !any_ready_ && WIFEXITED(status) && WEXITSTATUS(status) == kBootFailureStatus) {
      // The app cannot load at all: say so and stop, as a missing rackup would.
      spdlog::critical("worker {} failed to boot the app; stopping", proc.index);
      boot_failed_ = true;
      beginStop(true);
      continue;
    }
    if (static_cast<std::size_t>(proc.index) >= slots_.size()) continue;  // its index went with TTOU
    Slot& slot = slots_[static_cast<std::size_t>(proc.index)];
    ++restarts_[proc.killed ? "worker_timeout" : oom_killed ? "oom_kill" : boot_failure ? "boot_failure" : "died"];
    if (boot_failure) {
      slot.failures++;
      auto delay = std::min<std::chrono::seconds>(std::chrono::seconds(1 << std::min(slot.failures - 1, 5)), kMaxBackoff);
      slot.respawn_at = Clock::now() + delay;
      spdlog::error("worker {} (pid {}) died during boot with {}; restarting in {}s", proc.index, pid, how,
                    delay.count());
    } else {
      slot.respawn_at = Clock::now();
      spdlog::error("worker {} (pid {}) died with {}; restarting it", proc.index, pid, how);
    }
  }
}

void Master::startPhasedRestart() {
  if (phased_index_ >= 0) {
    if (recycling_.empty())
      spdlog::info("SIGUSR1: a phased restart is already running (worker {} of {})", phased_index_, slots_.size());
    else
      spdlog::info("SIGUSR1: worker {} is being recycled ({}); send it again once that is done", phased_index_,
                   recycling_);
    return;
  }
  if (settings_.preload) {
    // As Puma: the workers fork from the master, which loaded the app once;
    // new code needs a new master (USR2).
    spdlog::warn("SIGUSR1 with --preload: workers are replaced one at a time, but they fork from the master's "
                 "preloaded app, so application code is NOT reloaded (send USR2 for a hot restart)");
  }
  spdlog::info("phased restart: replacing {} worker(s) one at a time", slots_.size());
  notify_.send("RELOADING=1\nSTATUS=phased restart: replacing " + std::to_string(slots_.size()) +
               " worker(s) one at a time");
  ready_pending_ = true;
  ++restart_id_;
  restart_state_ = "running";
  restart_reason_.clear();
  phased_index_ = 0;
  phased_end_ = static_cast<int>(slots_.size());
  recycling_.clear();
  phased_replaced_ = 0;
  phased_started_ = Clock::now();
}

std::uint64_t Master::jittered(std::uint64_t limit) {
  if (limit == 0) return 0;
  return limit + std::uniform_int_distribution<std::uint64_t>(0, limit / 10)(jitter_);
}

void Master::checkWorkerHealth() {
  const auto& health = settings_.worker_health;
  if (stopping_ || (health.max_requests == 0 && health.max_rss_bytes == 0 && health.max_age.count() == 0)) return;
  const auto now = Clock::now();
  if (now < next_health_check_) return;
  next_health_check_ = now + std::chrono::seconds(1);
  for (const auto& proc : procs_) {
    if (!proc.ready || proc.replacement || proc.retiring) continue;
    if (proc.max_requests > 0 && region_ && proc.block >= 0) {
      const std::uint64_t served = region_->block(static_cast<std::size_t>(proc.block)).requestsServed();
      if (served >= proc.max_requests)
        return recycle(proc, "max_requests",
                       fmt::format("{} requests served (max_requests {}, {} with its jitter)", served,
                                   health.max_requests, proc.max_requests));
    }
    if (health.max_rss_bytes > 0) {
      const std::uint64_t rss = metrics::residentBytes(proc.pid);
      if (rss >= health.max_rss_bytes)
        return recycle(proc, "max_rss",
                       fmt::format("resident memory {} MiB (max_rss {} MiB)", rss >> 20, health.max_rss_bytes >> 20));
    }
    if (proc.retire_at != Clock::time_point{} && now >= proc.retire_at)
      return recycle(proc, "max_age",
                     fmt::format("{} s old (max_age {} s, with its jitter)",
                                 std::chrono::duration_cast<std::chrono::seconds>(now - proc.spawned_at).count(),
                                 health.max_age.count()));
  }
}

void Master::recycle(const WorkerProc& proc, const std::string& reason, const std::string& why) {
  spdlog::info("worker {} (pid {}) is recycled: {}; its replacement boots before it drains", proc.index, proc.pid, why);
  phased_index_ = proc.index;
  phased_end_ = proc.index + 1;
  recycling_ = reason;
  phased_replaced_ = 0;
  phased_started_ = Clock::now();
}

void Master::advancePhasedRestart() {
  while (phased_index_ >= 0) {
    if (phased_index_ >= std::min(phased_end_, static_cast<int>(slots_.size()))) {
      const double seconds = std::chrono::duration<double>(Clock::now() - phased_started_).count();
      if (recycling_.empty()) {
        spdlog::info("phased restart complete: {} worker(s) replaced in {:.1f} s", phased_replaced_, seconds);
        restart_state_ = "complete";
      }
      else if (phased_replaced_ > 0)
        spdlog::info("worker {} recycled ({}) in {:.1f} s", phased_end_ - 1, recycling_, seconds);
      phased_index_ = -1;
      return;
    }
    WorkerProc* old = serving(phased_index_);
    WorkerProc* fresh = replacementFor(phased_index_);
    if (!fresh) {
      if (!old) {  // the index has no worker now (died): its respawn boots the new code anyway
        ++phased_index_;
        continue;
      }
      spawn(phased_index_, true);
      return;
    }
    if (!fresh->ready) {
      if (Clock::now() - fresh->spawned_at > kReplacementBootTimeout) {
        const pid_t pid = fresh->pid;
        ::kill(pid, SIGKILL);
        fresh->killed = true;
        fresh->retiring = true;  // reaped as retired; the abort below says why
        fresh->replacement = false;
        abortPhasedRestart("the new worker " + std::to_string(phased_index_) + " (pid " + std::to_string(pid) +
                           ") was not ready within " + std::to_string(kReplacementBootTimeout.count()) + " s");
      }
      return;
    }
    // The new worker serves: the old one drains.
    fresh->replacement = false;
    if (old) retire(*old, recycling_.empty() ? "replaced" : "recycled");
    ++restarts_[recycling_.empty() ? "phased_restart" : recycling_];
    ++phased_replaced_;
    ++phased_index_;
  }
}

void Master::abortPhasedRestart(const std::string& why) {
  if (phased_index_ < 0) return;
  if (!recycling_.empty()) {
    // The old worker keeps serving; its limit is checked again in a minute.
    spdlog::error("recycling worker {} ({}) stopped: {}; it keeps serving, next try in 60 s", phased_index_,
                  recycling_, why);
    next_health_check_ = Clock::now() + std::chrono::seconds(60);
    phased_index_ = -1;
    return;
  }
  spdlog::error("phased restart stopped after {} of {} worker(s): {}; the other workers keep serving the old code",
                phased_replaced_, slots_.size(), why);
  restart_state_ = "failed";
  restart_reason_ = "stopped after " + std::to_string(phased_replaced_) + " of " + std::to_string(slots_.size()) +
                    " worker(s): " + why;
  phased_index_ = -1;
}

void Master::addWorker() {
  for (const auto& listener : listeners_) {
    if (listener.slot >= 0) {
      spdlog::warn("SIGTTIN: --reuse-port gives each worker its own socket, made at boot; not adding a worker");
      return;
    }
  }
  slots_.push_back(Slot{});
  spdlog::info("SIGTTIN: workers {} -> {}", slots_.size() - 1, slots_.size());
  spawn(static_cast<int>(slots_.size()) - 1, false);
}

void Master::removeWorker() {
  if (slots_.size() <= 1) {
    spdlog::info("SIGTTOU: one worker left; not removing it (TERM stops the server)");
    return;
  }
  const int index = static_cast<int>(slots_.size()) - 1;
  slots_.pop_back();
  spdlog::info("SIGTTOU: workers {} -> {}", slots_.size() + 1, slots_.size());
  for (auto& proc : procs_) {
    if (proc.index == index && !proc.retiring) retire(proc, "removed");
  }
}

void Master::handleSignal(int signal) {
  if (stopping_ && signal != SIGTERM && signal != SIGINT && signal != SIGQUIT && signal != SIGCHLD) {
    spdlog::info("SIG{} while stopping; ignoring", signalName(signal));
    return;
  }
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
    case SIGUSR1:
      startPhasedRestart();
      break;
    case SIGTTIN:
      if (phased_index_ >= 0) spdlog::info("SIGTTIN during a phased restart; ignoring");
      else addWorker();
      break;
    case SIGTTOU:
      if (phased_index_ >= 0) spdlog::info("SIGTTOU during a phased restart; ignoring");
      else removeWorker();
      break;
    case SIGHUP: {
      // logrotate's postrotate: every process reopens its log files (the
      // workers on the HUP passed on to them); the ticket keys are shared,
      // so only the master rotates them.
      const int files = log::reopenLogFiles();
      const int rotated = net::rotateTicketKeys(net::tlsContexts(listeners_));
      for (const auto& proc : procs_) ::kill(proc.pid, SIGHUP);
      spdlog::info("SIGHUP: {} log file(s) reopened, {} ticket key(s) rotated, passed on to {} worker(s)", files,
                   rotated, procs_.size());
      break;
    }
    default:
      spdlog::info("SIG{} is not handled yet; ignoring", signalName(signal));
  }
}

void Master::beginStop(bool immediate) {
  if (stopping_ && (immediate_ || !immediate)) return;
  stopping_ = true;
  immediate_ = immediate;
  phased_index_ = -1;
  if (restart_state_ == "running") {
    restart_state_ = "failed";
    restart_reason_ = "the server began to stop";
  }
  // Our copies of the listening sockets kept them open for respawns only.
  // Once every worker has closed its own, the socket is gone and a new
  // connection is refused at once (a load balancer retries elsewhere)
  // instead of waiting in a backlog nobody will accept from.
  listeners_.clear();
  spdlog::info("{} stop: signalling {} worker(s)", immediate ? "immediate" : "graceful", aliveCount());
  notify_.send(std::string("STOPPING=1\nSTATUS=") + (immediate ? "immediate" : "graceful") + " stop");
  for (auto& proc : procs_) ::kill(proc.pid, immediate ? SIGQUIT : SIGTERM);
  // Workers get the grace period plus a margin for at_exit handlers.
  kill_at_ = Clock::now() + (immediate ? std::chrono::milliseconds(5000)
                                       : settings_.graceful_timeout + std::chrono::milliseconds(5000));
}

int Master::readyCount() const {
  int ready = 0;
  for (int i = 0; i < static_cast<int>(slots_.size()); ++i) {
    const bool serves = std::any_of(procs_.begin(), procs_.end(), [i](const WorkerProc& proc) {
      return proc.index == i && proc.ready && !proc.replacement && !proc.retiring;
    });
    if (serves) ++ready;
  }
  return ready;
}

std::string Master::notReadyReason() const {
  if (stopping_) return "draining";
  const int ready = readyCount();
  if (ready < static_cast<int>(slots_.size()))
    return "booting: " + std::to_string(ready) + " of " + std::to_string(slots_.size()) + " workers ready";
  return {};
}

std::string Master::metricsText() {
  metrics::Totals totals = retired_;
  std::vector<metrics::WorkerSample> samples;
  for (const auto& proc : procs_) {
    if (!region_ || proc.block < 0) continue;
    const metrics::WorkerStats& stats = region_->block(static_cast<std::size_t>(proc.block));
    totals.add(stats);
    samples.push_back({proc.index, proc.pid, metrics::residentBytes(proc.pid), &stats});
  }
  metrics::MasterFacts facts;
  facts.workers = static_cast<int>(slots_.size());
  facts.workers_ready = readyCount();
  facts.ready = notReadyReason().empty();
  facts.restarts = restarts_;
  return metrics::renderPrometheus(totals, samples, facts);
}

Result<int> Master::requestPhasedRestart() {
  if (stopping_) return Error{"the server is stopping"};
  if (phased_index_ >= 0)
    return Error{recycling_.empty() ? "a phased restart is already running"
                                    : "worker " + std::to_string(phased_index_) + " is being recycled; try again"};
  startPhasedRestart();
  return restart_id_;
}

std::string Master::statsJson() {
  std::string out = fmt::format(R"({{"pid":{},"workers":{},"workers_ready":{},"ready":{},"stopping":{},)", ::getpid(),
                                slots_.size(), readyCount(), notReadyReason().empty() ? "true" : "false",
                                stopping_ ? "true" : "false");
  out += fmt::format(R"("phased_restart":{{"id":{},"state":"{}","reason":")", restart_id_, restart_state_);
  log::appendJsonEscaped(out, restart_reason_);
  out += R"("},"processes":[)";
  bool first = true;
  for (const auto& proc : procs_) {
    const std::uint64_t requests =
        region_ && proc.block >= 0 ? region_->block(static_cast<std::size_t>(proc.block)).requestsServed() : 0;
    out += fmt::format(R"({}{{"index":{},"pid":{},"ready":{},"booting_replacement":{},"draining":{},"requests":{},)"
                       R"("rss_bytes":{}}})",
                       first ? "" : ",", proc.index, proc.pid, proc.ready, proc.replacement, proc.retiring, requests,
                       metrics::residentBytes(proc.pid));
    first = false;
  }
  out += "]}\n";
  return out;
}

void Master::notifyReadyIfAll() {
  const int ready = readyCount();
  if (ready < static_cast<int>(slots_.size())) return;
  ready_pending_ = false;
  notify_.send("READY=1\nMAINPID=" + std::to_string(::getpid()) + "\nSTATUS=" + std::to_string(ready) +
               " worker(s) ready");
}

void Master::killSilentWorkers() {
  if (settings_.worker_timeout.count() <= 0) return;
  const auto now = Clock::now();
  for (auto& proc : procs_) {
    // Booting is the boot timeout's business; a worker checks in from ready on.
    if (!proc.ready || proc.killed || now - proc.checked_in <= settings_.worker_timeout) continue;
    spdlog::error("worker {} (pid {}) has not checked in for {} s (its event loop is stuck or the process is "
                  "stopped); killing it{}",
                  proc.index, proc.pid,
                  std::chrono::duration_cast<std::chrono::seconds>(now - proc.checked_in).count(),
                  proc.retiring ? "" : " and starting another");
    ::kill(proc.pid, SIGKILL);
    proc.killed = true;
  }
}

void Master::tickWatchdog() {
  const auto interval = notify_.watchdogInterval();
  if (!interval) return;
  const auto now = Clock::now();
  if (now < next_watchdog_) return;
  notify_.send("WATCHDOG=1");
  next_watchdog_ = now + *interval;
}

int Master::aliveCount() const { return static_cast<int>(procs_.size()); }

int Master::timeoutMs() const {
  // Wake for the next due respawn; otherwise a slow heartbeat (a phased
  // restart also checks its replacement's boot deadline on it).
  auto next = Clock::now() + std::chrono::milliseconds(1000);
  if (stopping_) next = std::min(next, kill_at_);
  if (notify_.watchdogInterval()) next = std::min(next, next_watchdog_);
  if (!stopping_) {
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (!filled(static_cast<int>(i))) next = std::min(next, slots_[i].respawn_at);
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
  return static_cast<int>(std::max<long long>(ms, 0));
}

}  // namespace

int runMaster(const config::Settings& settings, std::vector<net::Listener> listeners, AppHost& host,
              std::unique_ptr<admin::AdminServer> admin) {
  Master master(settings, std::move(listeners), host, std::move(admin));
  return master.run();
}

}  // namespace hyperion::proc
