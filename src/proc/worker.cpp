#include "hyperion/proc/worker.hpp"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "hyperion/log/logger.hpp"
#include "hyperion/metrics/exporter.hpp"
#include "hyperion/proc/sd_notify.hpp"
#include "hyperion/proc/signals.hpp"
#include "hyperion/server/dispatch_queue.hpp"
#include "hyperion/websocket/pubsub.hpp"
#include "hyperion/server/http_server.hpp"
#include "hyperion/static/static_directory.hpp"

namespace hyperion::proc {
namespace {

enum class StopKind { None, Graceful, Immediate };

// The worker's check-in with the master (--worker-timeout): its pid on the
// ready pipe once a second, but only while the event loop iterates, so a
// loop stuck in C (or a stopped process) stops checking in and is replaced.
class CheckIn {
 public:
  CheckIn(int fd, const server::HttpServer& server) : fd_(fd), server_(server) {}
  void tick() {
    const auto now = std::chrono::steady_clock::now();
    if (fd_ < 0 || now < next_) return;
    next_ = now + std::chrono::seconds(1);
    const std::uint64_t seen = server_.iterations();
    if (seen == last_) return;
    last_ = seen;
    const pid_t self = ::getpid();
    [[maybe_unused]] ssize_t n = ::write(fd_, &self, sizeof self);
  }

 private:
  int fd_;
  const server::HttpServer& server_;
  std::uint64_t last_ = 0;
  std::chrono::steady_clock::time_point next_{};
};

// -w 0 answers its own admin listener: it is the whole server.
class SingleProcessAdmin final : public admin::AdminHandler {
 public:
  SingleProcessAdmin(admin::AdminServer* server, const metrics::WorkerStats& stats) : server_(server), stats_(stats) {}
  std::string notReadyReason() const override { return stopping_ ? "draining" : ""; }
  std::string metricsText() override {
    metrics::Totals totals;
    totals.add(stats_);
    const pid_t self = ::getpid();
    metrics::MasterFacts facts;
    facts.workers = 1;
    facts.workers_ready = stopping_ ? 0 : 1;
    facts.ready = !stopping_;
    return metrics::renderPrometheus(totals, {{0, self, metrics::residentBytes(self), &stats_}}, facts);
  }
  void quit() override { quit_requested_ = true; }
  std::string statsJson() override {
    const pid_t self = ::getpid();
    return fmt::format(R"({{"pid":{},"workers":0,"workers_ready":{},"ready":{},"stopping":{},)"
                       R"("phased_restart":{{"id":0,"state":"none","reason":""}},"processes":[{{"index":0,"pid":{},)"
                       R"("ready":true,"booting_replacement":false,"draining":{},"requests":{},"rss_bytes":{}}}]}})"
                       "\n",
                       self, stopping_ ? 0 : 1, !stopping_, stopping_, self, stopping_, stats_.requestsServed(),
                       metrics::residentBytes(self));
  }
  Result<int> requestPhasedRestart() override {
    return Error{"a single process (-w 0) has no workers to replace one at a time; restart the process instead"};
  }

  // Polls the signal pipe and the admin listener together for up to
  // timeout_ms, answering admin clients.
  void poll(int signal_fd, int timeout_ms) {
    fds_.clear();
    fds_.push_back({signal_fd, POLLIN, 0});
    if (server_) server_->addPollFds(fds_);
    ::poll(fds_.data(), fds_.size(), timeout_ms);
    if (server_) server_->onPoll(fds_.data() + 1, fds_.size() - 1, *this);
  }
  bool takeQuit() { return std::exchange(quit_requested_, false); }
  void setStopping() { stopping_ = true; }

 private:
  admin::AdminServer* server_;
  const metrics::WorkerStats& stats_;
  std::vector<pollfd> fds_;
  bool stopping_ = false;
  bool quit_requested_ = false;
};

// `tls`: the worker's TLS contexts, for SIGHUP when `single` (this process
// is the whole server: no master rotates the shared ticket keys for it).
// `notify`: systemd's socket when this process is the server (-w 0), for
// WATCHDOG=1; disabled in a master's worker.
StopKind waitForStopSignal(SignalPipe& signals, AppHost& host, const std::vector<std::shared_ptr<net::TlsContext>>& tls,
                           const SdNotify& notify, CheckIn& check_in, SingleProcessAdmin& admin, bool single) {
  auto next_watchdog = std::chrono::steady_clock::now();
  for (;;) {
    check_in.tick();
    if (const auto interval = notify.watchdogInterval(); interval && std::chrono::steady_clock::now() >= next_watchdog) {
      notify.send("WATCHDOG=1");
      next_watchdog = std::chrono::steady_clock::now() + *interval;
    }
    // Short polls so the GVL is taken back now and then: Ruby can deliver
    // its own interrupts to the main thread between them.
    host.withoutGvl([&] { admin.poll(signals.readFd(), 500); });
    if (admin.takeQuit()) return StopKind::Graceful;
    for (int signal : signals.drain()) {
      if (signal == SIGTERM || signal == SIGINT) return StopKind::Graceful;
      if (signal == SIGQUIT) return StopKind::Immediate;
      if (signal == SIGHUP) {
        // From the master (which rotates the shared ticket keys itself), or
        // sent to a single process, which is its own master.
        const int files = log::reopenLogFiles();
        const int rotated = single ? net::rotateTicketKeys(tls) : 0;
        if (single) spdlog::info("SIGHUP: {} log file(s) reopened, {} ticket key(s) rotated", files, rotated);
        continue;
      }
      spdlog::info("ignoring SIG{} in worker", signalName(signal));
    }
  }
}

// How long an immediate stop lets the loop write what the killed requests
// answered (a 500, or a close) before the process ends.
constexpr std::chrono::milliseconds kImmediateFlush{200};

// Waits for the loop to drain (drained = true), the grace period to pass, or
// a second TERM/INT or a QUIT, which turns the stop into an immediate one.
StopKind waitForDrain(server::HttpServer& server, SignalPipe& signals, AppHost& host,
                      std::chrono::milliseconds grace, bool& drained, CheckIn& check_in, SingleProcessAdmin& admin) {
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (;;) {
    check_in.tick();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return StopKind::Graceful;
    // The drain is noticed at once; a signal within 50 ms.
    host.withoutGvl([&] {
      drained = server.waitStopped(std::min(left, std::chrono::milliseconds(50)));
      admin.poll(signals.readFd(), 0);  // /-/ready answers 503 while draining
    });
    if (drained) return StopKind::Graceful;
    for (int signal : signals.drain()) {
      if (signal == SIGTERM || signal == SIGINT || signal == SIGQUIT) return StopKind::Immediate;
    }
  }
}

// --preload-static dirs (and a Rails app's public/ unless --no-preload-static),
// loaded into memory now so the loop can answer them without touching disk.
std::vector<static_files::StaticDirectory> loadStaticDirectories(const config::Settings& settings, AppHost& host) {
  std::vector<config::PreloadDir> dirs = settings.preload_static;
  if (dirs.empty() && !settings.no_preload_static) {
    for (const auto& dir : host.detectedStaticDirs()) dirs.push_back(config::PreloadDir{dir, true});
  }
  std::vector<static_files::StaticDirectory> loaded;
  for (const auto& dir : dirs) {
    static_files::StaticDirectory::Options options;
    options.immutable = dir.immutable;
    options.recheck_interval = settings.page_cache.recheck_interval;
    auto directory = static_files::StaticDirectory::load(dir.dir, options);
    if (!directory) {
      spdlog::error("static preload of {} failed: {}", dir.dir, directory.error());
      continue;
    }
    const auto& stats = directory->stats();
    spdlog::info("static preload complete: dir={} files={} bytes={} ms={:.1f}", stats.dir, stats.files, stats.bytes,
                 stats.ms);
    loaded.push_back(std::move(directory.value()));
  }
  return loaded;
}

}  // namespace

void runWorker(const config::Settings& settings, std::vector<net::Listener> listeners, AppHost& host,
               const WorkerSpec& spec) {
  SignalPipe signals({SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU});
  if (!host.appLoaded()) {
    auto loaded = host.loadApp();
    if (!loaded) {
      spdlog::critical("cannot load {}: {}", settings.rackup, loaded.error());
      // A master reads kBootFailureStatus as "do not respawn"; alone, exit 1.
      host.exitProcess(spec.ready_fd >= 0 ? kBootFailureStatus : 1);
    }
  }
  host.runHook(Hook::OnWorkerBoot, spec.index);

  // A worker of a master counts into its block of the master's region.
  std::unique_ptr<metrics::WorkerStats> private_stats;
  if (!spec.stats) private_stats = std::make_unique<metrics::WorkerStats>();
  metrics::WorkerStats& stats = spec.stats ? *spec.stats : *private_stats;
  server::DispatchQueue queue;
  const auto tls_contexts = net::tlsContexts(listeners);
  std::unique_ptr<server::HttpServer> made;
  std::string cannot_start;
  try {
    made = std::make_unique<server::HttpServer>(settings, std::move(listeners), queue, host.routes(),
                                                loadStaticDirectories(settings, host), stats);
  } catch (const std::exception& e) {  // --io-uring on without io_uring, epoll_create failing...
    cannot_start = e.what();
  }
  if (!made) {  // exit outside the catch: exitProcess may leave through Ruby
    spdlog::critical("worker {} cannot start: {}", spec.index, cannot_start);
    host.exitProcess(spec.ready_fd >= 0 ? kBootFailureStatus : 1);
  }
  server::HttpServer& server = *made;
  // The loop thread must never run a signal handler meant for Ruby or us.
  sigset_t old_mask;
  sigset_t all;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &old_mask);
  std::thread loop([&server] { server.run(); });
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  // Hyperion.publish: to this worker's loop, the other workers, Redis.
  websocket::PubSub::Options pubsub_options;
  pubsub_options.worker_index = spec.index;
  pubsub_options.workers = spec.ready_fd >= 0 ? spec.workers : 0;
  pubsub_options.group = ::getppid();
  pubsub_options.redis = settings.websocket.pubsub;
  websocket::PubSub pubsub(pubsub_options, server.loopMailbox());
  pubsub.start();
  host.setPublisher(&pubsub);
  host.startRubyThreads(settings.threads, queue, stats);
  spdlog::info("worker {} ready: {} Ruby threads, {}", spec.index, settings.threads, server.ioDescription());
  if (spec.ready_fd >= 0) {
    const pid_t self = ::getpid();  // the master tells an index's old and new worker apart by pid
    [[maybe_unused]] ssize_t n = ::write(spec.ready_fd, &self, sizeof self);
  }
  CheckIn check_in(spec.ready_fd, server);  // the pipe stays open for the check-ins

  // -w 0: this process is the one systemd started, and tells it.
  const SdNotify notify = spec.ready_fd >= 0 ? SdNotify{} : SdNotify::fromEnvironment();
  notify.send("READY=1\nMAINPID=" + std::to_string(::getpid()) + "\nSTATUS=serving (single process)");
  SingleProcessAdmin admin(spec.admin, stats);
  if (spec.admin) spdlog::info("admin listener on {}", spec.admin->url());
  StopKind stop = waitForStopSignal(signals, host, tls_contexts, notify, check_in, admin, spec.ready_fd < 0);
  admin.setStopping();
  notify.send(stop == StopKind::Graceful ? "STOPPING=1\nSTATUS=graceful stop" : "STOPPING=1\nSTATUS=immediate stop");
  bool drained = false;
  server.beginShutdown();  // immediate too: the loop stops accepting at once
  if (stop == StopKind::Graceful) {
    spdlog::info("worker {} stopping: finishing in-flight requests (up to {} ms)", spec.index,
                 settings.graceful_timeout.count());
    stop = waitForDrain(server, signals, host, settings.graceful_timeout, drained, check_in, admin);
    if (stop == StopKind::Immediate) {
      spdlog::info("worker {}: second stop signal, stopping now", spec.index);
    } else if (!drained) {
      spdlog::warn("worker {}: graceful timeout passed with requests still running", spec.index);
    }
  } else {
    spdlog::info("worker {} stopping now: interrupting in-flight requests", spec.index);
  }
  queue.close();
  // Immediate: the Ruby threads are killed (ensure blocks run); what they
  // were answering gets a 500 or a closed connection, which the loop gets a
  // moment to write before the process ends.
  host.stopRubyThreads(drained ? settings.graceful_timeout : std::chrono::milliseconds(0));
  if (!drained) host.withoutGvl([&] { drained = server.waitStopped(kImmediateFlush); });
  host.runHook(Hook::OnWorkerShutdown, spec.index);
  if (drained) loop.join();
  else loop.detach();  // the process ends below; the loop dies with it
  spdlog::info("worker {} exiting", spec.index);
  host.setPublisher(nullptr);  // the Ruby threads are gone; at_exit code may still call publish
  pubsub.stop();
  host.exitProcess(0);
  std::abort();  // not reached: exitProcess ends the process
}

}  // namespace hyperion::proc
