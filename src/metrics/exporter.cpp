#include "hyperion/metrics/exporter.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <iterator>

namespace hyperion::metrics {
namespace {

std::string labelValue(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

class Writer {
 public:
  void header(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample(std::string_view name, std::string_view labels, std::uint64_t value) {
    if (labels.empty()) fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    else fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
  }
  void sample(std::string_view name, std::string_view labels, std::int64_t value) {
    if (labels.empty()) fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    else fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
  }
  void counter(std::string_view name, std::string_view help, std::uint64_t value) {
    header(name, "counter", help);
    sample(name, "", value);
  }
  // `labels` go before le= on every line ("" for none).
  void histogram(std::string_view name, const std::string& labels, const HistogramValues& h) {
    std::uint64_t cumulative = 0;
    const std::string prefix = labels.empty() ? "" : labels + ",";
    for (std::size_t i = 0; i < kBuckets; ++i) {
      cumulative += h.buckets[i];
      const std::string le = i < kBucketBounds.size()
                                 ? fmt::format("{}", std::chrono::duration<double>(kBucketBounds[i]).count())
                                 : std::string("+Inf");
      fmt::format_to(std::back_inserter(out_), "{}_bucket{{{}le=\"{}\"}} {}\n", name, prefix, le, cumulative);
    }
    const std::string braces = labels.empty() ? "" : "{" + labels + "}";
    fmt::format_to(std::back_inserter(out_), "{}_sum{} {}\n{}_count{} {}\n", name, braces,
                   static_cast<double>(h.sum_ns) / 1e9, name, braces, cumulative);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// Per-index sums of one level (two processes share an index while a phased
// restart replaces one).
template <typename Read>
std::map<int, std::int64_t> byWorker(const std::vector<WorkerSample>& workers, Read read) {
  std::map<int, std::int64_t> levels;
  for (const auto& w : workers) levels[w.index] += read(w);
  return levels;
}

void perWorker(Writer& out, std::string_view name, std::string_view help, const std::map<int, std::int64_t>& levels) {
  out.header(name, "gauge", help);
  for (const auto& [index, value] : levels) out.sample(name, fmt::format("worker=\"{}\"", index), value);
}

}  // namespace

void Totals::add(const WorkerStats& s) {
  for (int i = 0; i < kStatusCells; ++i) {
    requests_by_status[i] += s.requests_by_status[i].get();
    rejections_by_status[i] += s.rejections_by_status[i].get();
  }
  bytes_in += s.bytes_in.get();
  bytes_out += s.bytes_out.get();
  connections_accepted += s.connections_accepted.get();
  tls_handshakes += s.tls_handshakes.get();
  proxy_headers_rejected += s.proxy_headers_rejected.get();
  h2_streams += s.h2_streams.get();
  websocket_upgrades += s.websocket_upgrades.get();
  websocket_messages_in += s.websocket_messages_in.get();
  websocket_messages_out += s.websocket_messages_out.get();
  page_cache_hits += s.page_cache_hits.get();
  page_cache_misses += s.page_cache_misses.get();
  queue_time.add(s.queue_time);
  gvl_wait.add(s.gvl_wait);
  for (const RouteEntry& entry : s.routes) {
    if (entry.used.load(std::memory_order_acquire) == 0) continue;
    routes[{std::string(entry.methodText()), std::string(entry.pathText()), entry.status_class}].add(entry.duration);
  }
}

std::string renderPrometheus(const Totals& t, const std::vector<WorkerSample>& workers, const MasterFacts& facts) {
  Writer out;
  out.header("hyperion_requests_total", "counter", "Requests answered, by status code (the app's and the server's own).");
  for (int status = 0; status < kStatusCells; ++status) {
    if (t.requests_by_status[status] == 0) continue;
    out.sample("hyperion_requests_total", status ? fmt::format("status=\"{}\"", status) : "status=\"other\"",
               t.requests_by_status[status]);
  }
  out.header("hyperion_request_duration_seconds", "histogram",
             "Request complete to response written, by method, templated path and status class.");
  for (const auto& [key, histogram] : t.routes) {
    const auto& [method, path, status_class] = key;
    out.histogram("hyperion_request_duration_seconds",
                  fmt::format("method=\"{}\",path=\"{}\",status=\"{}xx\"", labelValue(method), labelValue(path),
                              status_class),
                  histogram);
  }
  out.header("hyperion_queue_time_seconds", "histogram",
             "Request complete to a Ruby thread taking it: time spent waiting for a free thread.");
  out.histogram("hyperion_queue_time_seconds", "", t.queue_time);
  out.header("hyperion_gvl_wait_seconds", "histogram",
             "A Ruby thread handed a request to holding the GVL: time spent waiting for other Ruby threads.");
  out.histogram("hyperion_gvl_wait_seconds", "", t.gvl_wait);
  out.header("hyperion_rejections_total", "counter",
             "Requests the server refused itself before the app (431, 413, 414, 400, 408, 503...), by status.");
  for (int status = 0; status < kStatusCells; ++status) {
    if (t.rejections_by_status[status] == 0) continue;
    out.sample("hyperion_rejections_total", fmt::format("status=\"{}\"", status), t.rejections_by_status[status]);
  }
  out.counter("hyperion_bytes_received_total", "Bytes read from clients (after TLS).", t.bytes_in);
  out.counter("hyperion_bytes_sent_total", "Bytes written to clients (before TLS).", t.bytes_out);
  out.counter("hyperion_connections_accepted_total", "Client connections accepted.", t.connections_accepted);
  out.counter("hyperion_tls_handshakes_total", "TLS handshakes completed.", t.tls_handshakes);
  out.counter("hyperion_proxy_protocol_rejected_total",
              "Connections closed on a ?proxy_protocol bind: an untrusted peer or a malformed PROXY header.",
              t.proxy_headers_rejected);
  out.counter("hyperion_h2_streams_total", "HTTP/2 streams opened by clients.", t.h2_streams);
  out.counter("hyperion_websocket_upgrades_total", "WebSocket connections accepted.", t.websocket_upgrades);
  out.header("hyperion_websocket_messages_total", "counter", "WebSocket messages, by direction.");
  out.sample("hyperion_websocket_messages_total", "direction=\"in\"", t.websocket_messages_in);
  out.sample("hyperion_websocket_messages_total", "direction=\"out\"", t.websocket_messages_out);
  out.counter("hyperion_page_cache_hits_total", "Files answered from the page cache.", t.page_cache_hits);
  out.counter("hyperion_page_cache_misses_total", "Files the page cache had to read (or send from disk).",
              t.page_cache_misses);

  perWorker(out, "hyperion_connections_open", "Client connections open.",
            byWorker(workers, [](const WorkerSample& w) { return w.stats->connections_open.get(); }));
  perWorker(out, "hyperion_websocket_connections", "WebSocket connections open.",
            byWorker(workers, [](const WorkerSample& w) { return w.stats->websocket_open.get(); }));
  perWorker(out, "hyperion_threadpool_queue_depth", "Requests waiting for a Ruby thread.",
            byWorker(workers, [](const WorkerSample& w) { return w.stats->queue_depth.get(); }));
  perWorker(out, "hyperion_threads_busy", "Ruby threads running a request.",
            byWorker(workers, [](const WorkerSample& w) { return w.stats->busy_threads.get(); }));
  perWorker(out, "hyperion_threads", "Ruby threads.",
            byWorker(workers, [](const WorkerSample& w) { return w.stats->threads.get(); }));
  perWorker(out, "hyperion_worker_rss_bytes", "Resident memory of the worker process.",
            byWorker(workers, [](const WorkerSample& w) { return static_cast<std::int64_t>(w.rss_bytes); }));
  out.header("hyperion_io_uring_workers_active", "gauge", "Worker processes whose event loop runs on io_uring.");
  std::int64_t uring = 0;
  for (const auto& w : workers) uring += w.stats->io_uring.get();
  out.sample("hyperion_io_uring_workers_active", "", uring);

  out.header("hyperion_workers", "gauge", "Worker processes the pool should have.");
  out.sample("hyperion_workers", "", static_cast<std::int64_t>(facts.workers));
  out.header("hyperion_workers_ready", "gauge", "Pool indices with a ready, serving worker.");
  out.sample("hyperion_workers_ready", "", static_cast<std::int64_t>(facts.workers_ready));
  out.header("hyperion_ready", "gauge", "1 while /-/ready answers 200 (serving, not booting or draining).");
  out.sample("hyperion_ready", "", static_cast<std::int64_t>(facts.ready ? 1 : 0));
  out.header("hyperion_worker_restarts_total", "counter", "Workers replaced, by reason.");
  for (const auto& [reason, count] : facts.restarts)
    out.sample("hyperion_worker_restarts_total", fmt::format("reason=\"{}\"", reason), count);
  return out.take();
}

std::uint64_t residentBytes(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/statm", static_cast<int>(pid));
  std::FILE* file = std::fopen(path, "r");
  if (!file) return 0;
  unsigned long long size = 0, resident = 0;
  const int read = std::fscanf(file, "%llu %llu", &size, &resident);
  std::fclose(file);
  if (read != 2) return 0;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace hyperion::metrics
