#pragma once
// How many processes of this process's memory cgroup the kernel's OOM
// killer has killed so far: cgroup v2's memory.events `oom_kill`, or v1's
// memory.oom_control `oom_kill`. The master reads it when a worker dies of
// a SIGKILL it did not send, to tell an OOM kill from a `kill -9`.
#include <cstdint>
#include <optional>
#include <string>

namespace hyperion::proc {

// Null when no counter can be read (no memory controller, no permission).
// `proc_root`/`cgroup_root` are parameters for the unit tests.
std::optional<std::uint64_t> oomKillCount(const std::string& proc_root = "/proc",
                                          const std::string& cgroup_root = "/sys/fs/cgroup");

}  // namespace hyperion::proc
