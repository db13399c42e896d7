#include "hyperion/proc/cpu_count.hpp"

#include <sched.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace hyperion::proc {
namespace {

// "max 100000" or "150000 100000" (cpu.max, v2) -> CPUs; 0 when unlimited.
double quotaV2(const std::string& path) {
  std::ifstream file(path);
  std::string quota;
  double period = 0;
  if (!(file >> quota >> period) || quota == "max" || period <= 0) return 0;
  return std::stod(quota) / period;
}

// cpu.cfs_quota_us (-1: unlimited) over cpu.cfs_period_us (v1).
double quotaV1(const std::string& dir) {
  std::ifstream quota_file(dir + "/cpu.cfs_quota_us"), period_file(dir + "/cpu.cfs_period_us");
  double quota = 0, period = 0;
  if (!(quota_file >> quota) || !(period_file >> period) || quota <= 0 || period <= 0) return 0;
  return quota / period;
}

// The tightest quota on the path from this process's cgroup up to the root
// (a parent's limit applies to its children too).
double cgroupQuota(const std::string& proc_root, const std::string& cgroup_root) {
  std::ifstream cgroups(proc_root + "/self/cgroup");
  double tightest = 0;
  auto consider = [&](double q) {
    if (q > 0 && (tightest == 0 || q < tightest)) tightest = q;
  };
  for (std::string line; std::getline(cgroups, line);) {
    const auto first = line.find(':');
    const auto second = first == std::string::npos ? std::string::npos : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    bool v1_cpu = false;
    std::stringstream list(controllers);
    for (std::string name; std::getline(list, name, ',');) v1_cpu = v1_cpu || name == "cpu";
    for (;;) {
      if (controllers.empty()) consider(quotaV2(cgroup_root + (path == "/" ? "" : path) + "/cpu.max"));
      else if (v1_cpu) consider(quotaV1(cgroup_root + "/cpu" + (path == "/" ? "" : path)));
      if (path == "/" || path.empty()) break;
      const auto slash = path.rfind('/');
      path = slash == 0 ? "/" : path.substr(0, slash);
    }
  }
  return tightest;
}

}  // namespace

int workersFor(int affinity, double quota) {
  int n = affinity > 0 ? affinity : 1;
  if (quota > 0) n = std::min(n, static_cast<int>(std::ceil(quota - 1e-9)));
  return n < 1 ? 1 : n;
}

std::string CpuCount::describe() const {
  if (quota > 0) return fmt::format("{} CPU(s) in the affinity mask, cgroup quota {:.2f} CPU(s)", affinity, quota);
  return fmt::format("{} CPU(s) in the affinity mask, no cgroup quota", affinity);
}

CpuCount usableCpus(const std::string& proc_root, const std::string& cgroup_root) {
  CpuCount count;
  cpu_set_t set;
  CPU_ZERO(&set);
  count.affinity = ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  count.quota = cgroupQuota(proc_root, cgroup_root);
  count.usable = workersFor(count.affinity, count.quota);
  return count;
}

}  // namespace hyperion::proc
