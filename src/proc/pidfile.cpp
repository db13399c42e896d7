#include "hyperion/proc/pidfile.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace hyperion::proc {
namespace {

// The pid written in path, or 0 if there is none (no file, not a number).
pid_t readPid(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return 0;
  return static_cast<pid_t>(pid);
}

bool isAlive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

Result<bool> claimPidfile(const std::string& path) {
  if (pid_t other = readPid(path); other > 0 && other != ::getpid() && isAlive(other))
    return Error{"pidfile " + path + " names process " + std::to_string(other) +
                 ", which is still running (another server?)"};
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::trunc);
    out << ::getpid() << "\n";
    if (!out.flush()) {
      ::unlink(temp.c_str());
      return Error{"cannot write pidfile " + path + ": " + std::strerror(errno)};
    }
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(temp.c_str());
    return Error{"cannot write pidfile " + path + ": " + why};
  }
  return true;
}

void releasePidfile(const std::string& path) {
  if (readPid(path) == ::getpid()) ::unlink(path.c_str());
}

}  // namespace hyperion::proc
