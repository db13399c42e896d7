#pragma once
// The --pidfile: written by the process that binds (the master, or the only
// process), removed by it at exit, and never taken from a live server.
#include <string>

#include "hyperion/util/result.hpp"

namespace hyperion::proc {

// Writes this process's pid to path (atomically: a reader never sees a
// half-written file). Refuses when path names another process that is still
// alive; a stale file from a dead server is replaced.
Result<bool> claimPidfile(const std::string& path);

// Removes path if it still names this process (another server may have
// claimed it since).
void releasePidfile(const std::string& path);

}  // namespace hyperion::proc
