#include "hyperion/proc/oom_kills.hpp"

#include <fstream>
#include <sstream>

namespace hyperion::proc {
namespace {

// The `oom_kill N` line of a memory.events / memory.oom_control file.
std::optional<std::uint64_t> oomKillLine(const std::string& path) {
  std::ifstream file(path);
  std::string key;
  std::uint64_t value = 0;
  while (file >> key >> value) {
    if (key == "oom_kill") return value;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> oomKillCount(const std::string& proc_root, const std::string& cgroup_root) {
  // /proc/self/cgroup: "0::/path" (v2) and "N:memory:/path" (v1) lines.
  std::ifstream cgroups(proc_root + "/self/cgroup");
  std::string line;
  std::optional<std::string> v1, v2;
  while (std::getline(cgroups, line)) {
    const auto first = line.find(':');
    const auto second = first == std::string::npos ? std::string::npos : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (controllers.empty() && line.compare(0, first, "0") == 0) v2 = path;
    std::stringstream list(controllers);
    for (std::string name; std::getline(list, name, ',');)
      if (name == "memory") v1 = path;
  }
  if (v1) {
    if (auto count = oomKillLine(cgroup_root + "/memory" + *v1 + "/memory.oom_control")) return count;
  }
  if (v2) {
    const std::string base = *v2 == "/" ? cgroup_root : cgroup_root + *v2;
    if (auto count = oomKillLine(base + "/memory.events")) return count;
    if (auto count = oomKillLine(cgroup_root + "/unified" + (*v2 == "/" ? "" : *v2) + "/memory.events")) return count;
  }
  return std::nullopt;
}

}  // namespace hyperion::proc
