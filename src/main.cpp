// hyperion [options] [rackup]: parse flags, boot Ruby, read the config file,
// bind, then either serve in this process (-w 0) or become the master.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "hyperion/admin/admin_server.hpp"
#include "hyperion/admin/ctl.hpp"
#include "hyperion/config/cli.hpp"
#include "hyperion/log/logger.hpp"
#include "hyperion/metrics/stats_region.hpp"
#include "hyperion/net/ktls.hpp"
#include "hyperion/net/listener.hpp"
#include "hyperion/proc/cpu_count.hpp"
#include "hyperion/proc/master.hpp"
#include "hyperion/proc/pid1.hpp"
#include "hyperion/proc/pidfile.hpp"
#include "hyperion/proc/worker.hpp"
#include "hyperion/rb/ruby_host.hpp"

namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "hyperion: %s\n", message.c_str());
  return 1;
}

int run(int argc, char** argv, void* stack_marker) {
  using namespace hyperion;
  // `hyperion ctl ...` talks to a running server; it boots nothing.
  if (argc > 1 && std::string_view(argv[1]) == "ctl") return admin::runCtl(argc - 1, argv + 1);
  auto parsed = config::parseCommandLine(argc, argv);
  if (auto* error = std::get_if<config::CliError>(&parsed)) {
    std::fprintf(stderr, "hyperion: %s\n\n%s", error->message.c_str(), config::usageText().c_str());
    return 2;
  }
  auto& request = std::get<config::CliRequest>(parsed);
  if (request.show_help) {
    std::fputs(config::usageText().c_str(), stdout);
    return 0;
  }
  if (request.show_version) {
    std::printf("hyperion %s\n", HYPERION_VERSION);
    return 0;
  }

  if (auto booted = rb::bootRuby(argc, argv, stack_marker); !booted) return fail(booted.error());
  if (auto loaded = rb::applyConfigFile(request); !loaded) return fail(loaded.error());
  config::Settings& settings = request.settings;
  std::string auto_workers;
  if (settings.workers == config::kWorkersAuto) {
    const auto cpus = proc::usableCpus();
    settings.workers = cpus.usable;
    auto_workers = "-w auto: " + std::to_string(cpus.usable) + " worker(s) (" + cpus.describe() + ")";
  }
  const bool single = settings.workers == 0;
  if (auto error = log::setupLogging(settings, single ? "single" : "master"); !error.empty()) return fail(error);

  // As Puma: -e, else APP_ENV, RACK_ENV, RAILS_ENV; the app sees it as RACK_ENV.
  settings.environment = config::resolveEnvironment(settings, [](const char* name) -> const char* {
    return std::getenv(name);
  });
  ::setenv("RACK_ENV", settings.environment.c_str(), 1);

  struct stat st{};
  if (::stat(settings.rackup.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return fail("rackup file " + settings.rackup + " not found");

  // Before binding: a second server pointed at a live one's pidfile leaves
  // no socket files behind and takes nothing from it.
  if (settings.pidfile) {
    if (auto claimed = proc::claimPidfile(*settings.pidfile); !claimed) return fail(claimed.error());
  }
  // --tls-ktls, else config `ktls`, else HYPERION_TLS_KTLS, else auto.
  if (!settings.tls.ktls) {
    const char* env = std::getenv("HYPERION_TLS_KTLS");
    if (env && *env) {
      settings.tls.ktls = config::parseKtlsMode(env);
      if (!settings.tls.ktls) return fail(std::string("HYPERION_TLS_KTLS=") + env + ": expects auto, on or off");
    }
  }
  // One shared socket per bind unless --reuse-port asks for one per worker.
  const net::TlsSession tls_session{settings.tls.session_cache_size, settings.tls.ticket_key_rotation, settings.tls.sni,
                                    settings.http2.enabled};
  // Under systemd socket activation the passed sockets replace the binds
  // (the unit's .socket file says where to listen; nothing is rebound).
  auto listeners = net::inheritedListeners();
  if (listeners && !listeners.value().empty()) {
    spdlog::info("socket activation: {} listening socket(s) from systemd (LISTEN_FDS); binds are not used",
                 listeners.value().size());
  } else if (listeners) {
    listeners = net::bindListeners(config::effectiveBinds(settings),
                                   single || !settings.reuse_port ? 1 : settings.workers, tls_session);
  }
  if (!listeners) {
    if (settings.pidfile) proc::releasePidfile(*settings.pidfile);
    return fail(listeners.error());
  }

  spdlog::info("hyperion {} starting ({})", HYPERION_VERSION, rb::rubyDescription());
  if (!auto_workers.empty()) spdlog::info("{}", auto_workers);
  spdlog::info("mode: {}, {} Ruby thread(s) per worker, environment: {}, pid {}",
               single ? "single process" : std::to_string(settings.workers) + " workers", settings.threads,
               settings.environment, ::getpid());
  std::vector<std::string> shown;
  bool any_tls = false;
  for (const auto& listener : listeners.value()) {
    any_tls = any_tls || listener.tls != nullptr;
    if (std::find(shown.begin(), shown.end(), listener.url()) != shown.end()) continue;
    shown.push_back(listener.url());
    spdlog::info("Listening on {}", listener.url());
    if (listener.address.proxy.version)
      spdlog::info("{} expects {}", listener.url(), listener.address.proxy.describe());
  }
  if (any_tls) {
    auto ktls = net::decideKernelTls(settings.tls.ktls.value_or(config::KtlsMode::Auto));
    if (!ktls) {
      if (settings.pidfile) proc::releasePidfile(*settings.pidfile);
      return fail(ktls.error());
    }
    spdlog::info("{}", ktls.value());
  }

  // The admin listener, bound like the app's before any fork; the master
  // (or the only process) answers it.
  std::unique_ptr<admin::AdminServer> admin_server;
  settings.admin.bind = config::effectiveAdminBind(settings);
  if (!settings.admin.bind.empty()) {
    auto opened = admin::AdminServer::open(settings.admin);
    if (!opened) {
      if (settings.pidfile) proc::releasePidfile(*settings.pidfile);
      return fail(opened.error());
    }
    admin_server = std::move(opened.value());
  }

  auto host = rb::makeRubyHost(settings);
  if (single && ::getpid() == 1) {
    // PID 1 has to reap orphans; the serving process must not (proc/pid1.hpp).
    const pid_t server = host->forkProcess();
    if (server < 0) return fail("fork failed (PID 1 forks once to serve)");
    if (server > 0) {
      listeners.value().clear();
      admin_server.reset();
      host->exitProcess(proc::superviseAsInit(server));  // removes the pidfile and socket files
    }
  }
  if (single) {
    if (settings.preload) spdlog::info("--preload has no effect without workers");
    const auto& health = settings.worker_health;
    if (health.max_requests || health.max_rss_bytes || health.max_age.count())
      spdlog::warn("worker recycling (max_requests, max_rss, max_age) needs a master: ignored with -w 0");
    auto region = metrics::StatsRegion::create(1);
    metrics::WorkerStats* stats = nullptr;
    if (region && region->claim(0) == 0) stats = &region->block(0);
    proc::runWorker(settings, std::move(listeners.value()), *host,
                    proc::WorkerSpec{0, -1, 0, stats, admin_server.get()});
  }
  int status = proc::runMaster(settings, std::move(listeners.value()), *host, std::move(admin_server));
  host->exitProcess(status);
  return status;  // not reached: exitProcess ends the process
}

}  // namespace

int main(int argc, char** argv) {
  // The GC scans the stack from here down, so Ruby's stack base is this frame.
  void* volatile stack_marker = nullptr;
  return run(argc, argv, const_cast<void**>(&stack_marker));
}
