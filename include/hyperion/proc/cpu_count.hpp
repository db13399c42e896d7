#pragma once
// `-w auto`: one worker per CPU this process may really use. That is the
// CPUs in its affinity mask (taskset, cpuset, Kubernetes' static CPU
// manager), capped by its cgroup's CPU quota (docker --cpus, a Kubernetes
// CPU limit: cpu.max in v2, cpu.cfs_quota_us / cpu.cfs_period_us in v1),
// rounded up. The host's CPU count would overcommit a container.
#include <string>

namespace hyperion::proc {

struct CpuCount {
  int usable = 1;       // what -w auto uses (at least 1)
  int affinity = 1;     // CPUs in the affinity mask
  double quota = 0;     // the cgroup's quota in CPUs; 0: none
  std::string describe() const;  // for the boot line
};

// `proc_root`/`cgroup_root` are parameters for the unit tests.
CpuCount usableCpus(const std::string& proc_root = "/proc", const std::string& cgroup_root = "/sys/fs/cgroup");

// The quota arithmetic alone: min(affinity, ceil(quota)), at least 1.
int workersFor(int affinity, double quota);

}  // namespace hyperion::proc
