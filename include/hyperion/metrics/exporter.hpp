#pragma once
// /-/metrics: the Prometheus text format (0.0.4) of every worker's block
// plus what only the master knows (restarts, RSS, readiness). Counters are
// the sum over live workers and over the workers that have exited since the
// server started (Totals keeps those), so they never go down across a
// phased restart; per-process levels carry a `worker` label.
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "hyperion/metrics/worker_stats.hpp"

namespace hyperion::metrics {

// Plain-number sums of worker blocks, in the master's own memory.
struct Totals {
  std::uint64_t requests_by_status[kStatusCells] = {};
  std::uint64_t rejections_by_status[kStatusCells] = {};
  std::uint64_t bytes_in = 0, bytes_out = 0, connections_accepted = 0, tls_handshakes = 0, h2_streams = 0;
  std::uint64_t proxy_headers_rejected = 0;
  std::uint64_t websocket_upgrades = 0, websocket_messages_in = 0, websocket_messages_out = 0;
  std::uint64_t page_cache_hits = 0, page_cache_misses = 0;
  HistogramValues queue_time, gvl_wait;
  using RouteKey = std::tuple<std::string, std::string, int>;  // method, path, status class
  std::map<RouteKey, HistogramValues> routes;

  void add(const WorkerStats& stats);
};

// One live worker process, for the per-worker levels.
struct WorkerSample {
  int index = 0;
  pid_t pid = 0;
  std::uint64_t rss_bytes = 0;  // 0: unknown
  const WorkerStats* stats = nullptr;
};

// What the master counts itself.
struct MasterFacts {
  int workers = 0;        // the pool's size
  int workers_ready = 0;  // indices with a ready, serving worker
  bool ready = false;     // what /-/ready answers
  std::map<std::string, std::uint64_t> restarts;  // worker replacements by reason
};

std::string renderPrometheus(const Totals& totals, const std::vector<WorkerSample>& workers, const MasterFacts& facts);

// Resident set size of a process from /proc/PID/statm; 0 when unreadable.
std::uint64_t residentBytes(pid_t pid);

}  // namespace hyperion::metrics
