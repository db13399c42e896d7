#pragma once
// One worker process's metrics, as one block of shared memory the master
// made before forking (stats_region.hpp). The worker's event loop and Ruby
// threads write it; the master reads every block to answer a scrape of
// /-/metrics, so counts from every worker come back in one response without
// asking the workers anything. Nothing here allocates, locks or points into
// process memory: the same bytes mean the same in every process.
#include <chrono>
#include <cstdint>
#include <string_view>

#include "hyperion/metrics/counters.hpp"

namespace hyperion::metrics {

// Status codes 100..599 index the per-status arrays; anything else counts at 0.
inline constexpr int kStatusCells = 600;
inline int statusCell(int status) { return status >= 100 && status < kStatusCells ? status : 0; }

// hyperion_request_duration_seconds is labelled by method, templated path
// (path_template.hpp) and status class. The set of label values is bounded:
// past kRouteLimit distinct ones, new paths count under kOtherPath.
inline constexpr std::size_t kRouteSlots = 1024;  // open addressing: at most about half full
inline constexpr std::size_t kRouteLimit = 480;
inline constexpr std::size_t kRoutePathBytes = 112;
inline constexpr std::string_view kOtherPath = "(other)";

struct RouteEntry {
  std::atomic<std::uint32_t> used{0};  // set (release) once the key below is written
  std::uint8_t status_class = 0;       // 1..5
  char method[8] = {};                 // NUL-padded; longer methods count as OTHER
  char path[kRoutePathBytes] = {};     // NUL-padded templated path
  Histogram<OwnedCounter> duration;

  std::string_view methodText() const;
  std::string_view pathText() const;
};

struct WorkerStats {
  // Set by the master when it gives the block to a new worker.
  std::atomic<std::int32_t> pid{0};
  std::atomic<std::int32_t> index{0};

  // --- written by the event loop thread only ---
  OwnedCounter requests_by_status[kStatusCells];
  OwnedCounter rejections_by_status[kStatusCells];  // answered by the server itself: 400, 408, 413, 431, 503...
  OwnedCounter bytes_in, bytes_out;
  OwnedCounter connections_accepted;
  OwnedCounter tls_handshakes;
  OwnedCounter proxy_headers_rejected;  // untrusted peers and malformed PROXY headers, closed
  OwnedCounter h2_streams;
  OwnedCounter websocket_upgrades;
  OwnedCounter websocket_messages_in, websocket_messages_out;
  OwnedCounter page_cache_hits, page_cache_misses;
  Gauge connections_open;
  Gauge websocket_open;
  Gauge queue_depth;   // requests waiting for a Ruby thread
  Gauge busy_threads;  // Ruby threads running a request
  Gauge threads;       // Ruby threads of the worker
  Gauge io_uring;      // 1: the loop runs on io_uring; 0: epoll

  // --- written by the Ruby threads ---
  // On cache lines of their own (alignas): the loop thread's cells above
  // and these are written from different cores, and must not share a line.
  // Request complete (or WebSocket event queued) to the moment a Ruby
  // thread takes it: time spent waiting for a free thread.
  alignas(64) Histogram<SharedCounter> queue_time;
  // A Ruby thread handed a request, with the GVL released, to the moment it
  // holds the GVL again: time spent waiting for other Ruby threads.
  Histogram<SharedCounter> gvl_wait;

  // --- the route table, event loop thread only ---
  alignas(64) std::atomic<std::uint32_t> route_count{0};
  RouteEntry routes[kRouteSlots];

  // A finished request (every protocol, Ruby or native): one status count and
  // one duration observation under its route.
  void recordRequest(std::string_view method, std::string_view target, int status, std::chrono::nanoseconds duration);
  void recordRejection(int status) { rejections_by_status[statusCell(status)].add(1); }
  // Requests answered so far (worker_health's max_requests).
  std::uint64_t requestsServed() const {
    std::uint64_t n = 0;
    for (const auto& cell : requests_by_status) n += cell.get();
    return n;
  }

 private:
  RouteEntry& route(std::string_view method, std::string_view path, int status_class);
};

}  // namespace hyperion::metrics
