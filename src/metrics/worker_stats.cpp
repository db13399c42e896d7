#include "hyperion/metrics/worker_stats.hpp"

#include <cstring>

#include "hyperion/metrics/path_template.hpp"

namespace hyperion::metrics {
namespace {

std::string_view padded(const char* field, std::size_t size) { return {field, ::strnlen(field, size)}; }

std::uint64_t hashRoute(std::string_view method, std::string_view path, int status_class) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  };
  mix(method);
  mix(path);
  return (h ^ static_cast<std::uint64_t>(status_class)) * 1099511628211ull;
}

}  // namespace

std::string_view RouteEntry::methodText() const { return padded(method, sizeof method); }
std::string_view RouteEntry::pathText() const { return padded(path, sizeof path); }

RouteEntry& WorkerStats::route(std::string_view method, std::string_view path, int status_class) {
  if (method.size() >= sizeof(RouteEntry::method)) method = "OTHER";
  for (;;) {
    const std::uint64_t hash = hashRoute(method, path, status_class);
    for (std::size_t i = hash % kRouteSlots;; i = (i + 1) % kRouteSlots) {
      RouteEntry& entry = routes[i];
      if (entry.used.load(std::memory_order_relaxed) == 0) {
        // Past the limit only the (other) routes are added; there are few of
        // them (methods x classes), so the table never fills up.
        if (route_count.load(std::memory_order_relaxed) >= kRouteLimit && path != kOtherPath) break;
        entry.status_class = static_cast<std::uint8_t>(status_class);
        std::memcpy(entry.method, method.data(), method.size());
        std::memcpy(entry.path, path.data(), path.size());
        entry.used.store(1, std::memory_order_release);  // the master reads the key only after this
        route_count.store(route_count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return entry;
      }
      if (entry.status_class == status_class && entry.methodText() == method && entry.pathText() == path) return entry;
    }
    path = kOtherPath;
  }
}

void WorkerStats::recordRequest(std::string_view method, std::string_view target, int status,
                                std::chrono::nanoseconds duration) {
  requests_by_status[statusCell(status)].add(1);
  char path[kRoutePathBytes];
  const std::size_t length = templatePath(target, path, sizeof path);
  const int status_class = status >= 100 && status < 600 ? status / 100 : 5;
  route(method, std::string_view(path, length), status_class).duration.observe(duration);
}

}  // namespace hyperion::metrics
