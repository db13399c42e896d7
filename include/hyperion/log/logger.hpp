#pragma once
// Logging: spdlog underneath, text or JSON lines on stderr, or in the files
// --log-file and --access-log-file name (reopened on SIGHUP, for logrotate).
// The loggers live in spdlog's registry (set up once per process by
// setupLogging) so every subsystem can log without threading a handle
// through each call.
#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

#include "hyperion/config/settings.hpp"

namespace hyperion::log {

// role: "master", "worker 0", "single": shown on every line. Returns an
// error when a log file cannot be opened (that log then goes to stderr).
std::string setupLogging(const config::Settings& settings, std::string_view role);

// SIGHUP: every log file is opened again by its path, so a file logrotate
// moved away is replaced by a new one. Returns how many were reopened; a
// file that cannot be opened keeps the old one (and says so on it).
int reopenLogFiles();

// One line per finished request.
struct AccessRecord {
  std::string_view remote_addr;
  std::string_view method;
  std::string_view target;
  std::string_view protocol;  // "HTTP/1.1"
  int status = 0;
  std::size_t bytes = 0;  // body bytes sent
  double duration_ms = 0;
};
void logAccess(const AccessRecord& record);

// JSON string escaping, shared by the JSON log formats.
void appendJsonEscaped(std::string& out, std::string_view text);

}  // namespace hyperion::log
