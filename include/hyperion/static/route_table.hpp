#pragma once
// Prebuilt routes: exact (method, path) matches answered by the event loop
// without Ruby. A static route holds its response as parts any protocol can
// send (status, header list, body) plus their HTTP/1 rendering, made once (all
// but the Date and Connection lines, which change per request); a handler
// route only marks the request for Hyperion::Server.handle's light dispatch.
//
// Registrations come from Ruby threads (under the GVL) at any time; the loop
// reads on every request. Writers publish a new immutable snapshot and bump a
// version number; the loop re-reads the snapshot only when the version moved,
// so the hot path is one relaxed atomic load and a hash lookup.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "hyperion/http/response_head.hpp"

namespace hyperion::static_files {

struct Route {
  int status = 200;
  // Static routes: the app's headers without the ones each protocol sets
  // itself (Content-Length, Connection, Date, Transfer-Encoding).
  http::HeaderList headers;
  std::string body;           // empty for a status that has none
  std::string http1_prefix;   // status line + headers + Server + Content-Length
  bool is_static = true;
  int handler_id = -1;  // handler routes: index into the Ruby side's handler list
};

class RouteTable {
 public:
  using Map = std::unordered_map<std::string, std::shared_ptr<const Route>>;  // key: "GET /path"

  // Adds or replaces (last registration wins). For GET also answers HEAD.
  void addStatic(std::string_view method, std::string_view path, int status,
                 const std::vector<std::pair<std::string, std::string>>& headers, std::string body);
  void addHandler(std::string_view method, std::string_view path, int handler_id);

  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  std::shared_ptr<const Map> snapshot() const;

  static std::string key(std::string_view method, std::string_view path);

 private:
  void publish(std::shared_ptr<Map> next);

  mutable std::mutex mutex_;
  std::shared_ptr<const Map> current_ = std::make_shared<Map>();
  std::atomic<std::uint64_t> version_{0};
};

// The loop's cached view of a RouteTable.
class RouteLookup {
 public:
  explicit RouteLookup(const RouteTable& table) : table_(table) {}
  const Route* find(std::string_view method, std::string_view path);
  bool empty();

 private:
  void refresh();
  const RouteTable& table_;
  std::shared_ptr<const RouteTable::Map> map_;
  std::uint64_t seen_version_ = ~0ull;
  std::string key_;  // reused lookup buffer
};

}  // namespace hyperion::static_files
