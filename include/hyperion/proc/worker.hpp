#pragma once
// A worker process: one event loop thread, N Ruby threads, one main thread
// that waits for signals. Also what `-w 0` runs in the only process.
#include <vector>

#include "hyperion/admin/admin_server.hpp"
#include "hyperion/config/settings.hpp"
#include "hyperion/metrics/worker_stats.hpp"
#include "hyperion/net/listener.hpp"
#include "hyperion/proc/app_host.hpp"

namespace hyperion::proc {

struct WorkerSpec {
  int index = 0;       // 0..workers-1; shown in logs and given to on_worker_boot
  int ready_fd = -1;   // write end of the master's ready pipe; -1 in single mode
  int workers = 0;     // the pool's size when this worker was forked (its pub/sub bus peers)
  // Its metrics block in the master's shared region; null: a private one
  // (nobody reads it).
  metrics::WorkerStats* stats = nullptr;
  // -w 0 only: the admin listener, which this process then answers itself.
  admin::AdminServer* admin = nullptr;
};

// Serves until TERM/INT (graceful) or QUIT (immediate); never returns.
[[noreturn]] void runWorker(const config::Settings& settings, std::vector<net::Listener> listeners, AppHost& host,
                            const WorkerSpec& spec);

// Exit status a worker uses when the app cannot be loaded.
inline constexpr int kBootFailureStatus = 3;

}  // namespace hyperion::proc
