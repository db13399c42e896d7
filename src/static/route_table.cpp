#include "hyperion/static/route_table.hpp"

#include <cctype>
#include <vector>

#include "hyperion/http1/native_heads.hpp"
#include "hyperion/http1/response.hpp"

namespace hyperion::static_files {

std::string RouteTable::key(std::string_view method, std::string_view path) {
  std::string key;
  key.reserve(method.size() + 1 + path.size());
  for (char c : method) key += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  key += ' ';
  key.append(path);
  return key;
}

void RouteTable::addStatic(std::string_view method, std::string_view path, int status,
                           const std::vector<std::pair<std::string, std::string>>& headers, std::string body) {
  auto route = std::make_shared<Route>();
  route->status = status;
  for (const auto& [name, value] : headers) {
    if (http1::equalsIgnoreCase(name, "content-length") || http1::equalsIgnoreCase(name, "connection") ||
        http1::equalsIgnoreCase(name, "date") || http1::equalsIgnoreCase(name, "transfer-encoding"))
      continue;
    route->headers.add(name, value);
  }
  if (http1::statusHasNoBody(status)) body.clear();
  route->body = std::move(body);
  route->http1_prefix = http1::routeHeadPrefix(status, route->headers, route->body.size());

  std::lock_guard lock(mutex_);
  auto next = std::make_shared<Map>(*current_);
  std::shared_ptr<const Route> shared = route;
  (*next)[key(method, path)] = shared;
  if (http1::equalsIgnoreCase(method, "GET")) (*next)[key("HEAD", path)] = shared;
  publish(std::move(next));
}

void RouteTable::addHandler(std::string_view method, std::string_view path, int handler_id) {
  auto route = std::make_shared<Route>();
  route->is_static = false;
  route->handler_id = handler_id;
  std::lock_guard lock(mutex_);
  auto next = std::make_shared<Map>(*current_);
  (*next)[key(method, path)] = route;
  publish(std::move(next));
}

void RouteTable::publish(std::shared_ptr<Map> next) {
  std::atomic_store(&current_, std::shared_ptr<const Map>(std::move(next)));
  version_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const RouteTable::Map> RouteTable::snapshot() const { return std::atomic_load(&current_); }

void RouteLookup::refresh() {
  std::uint64_t version = table_.version();
  if (version != seen_version_) {
    map_ = table_.snapshot();
    seen_version_ = version;
  }
}

bool RouteLookup::empty() {
  refresh();
  return map_->empty();
}

const Route* RouteLookup::find(std::string_view method, std::string_view path) {
  refresh();
  if (map_->empty()) return nullptr;
  key_.assign(method).append(" ").append(path);
  auto it = map_->find(key_);
  return it == map_->end() ? nullptr : it->second.get();
}

}  // namespace hyperion::static_files
