#include "hyperion/log/logger.hpp"

#include <fcntl.h>
#include <fmt/chrono.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <vector>

namespace hyperion::log {
namespace {

// %* in the JSON pattern: the message, escaped so each line stays valid JSON.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    std::string escaped;
    appendJsonEscaped(escaped, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

bool g_json = false;  // written once at boot, before any thread starts

// A log file opened with O_APPEND, one write(2) per line: lines from the
// master and every worker interleave whole, and nothing sits in a buffer
// when a process dies. reopen() swaps in a new open file for the same path.
class ReopeningFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ReopeningFileSink(std::string path) : path_(std::move(path)) {}
  ~ReopeningFileSink() override {
    if (fd_ >= 0) ::close(fd_);
  }
  // "" when open; else why not.
  std::string open() {
    const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return path_ + ": " + std::strerror(errno);
    std::lock_guard lock(mutex_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    return {};
  }
  const std::string& path() const { return path_; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0 && fd_ >= 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // a full disk must not stop the server
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  void flush_() override {}

 private:
  std::string path_;
  int fd_ = -1;
};

// This process's log files, for reopenLogFiles (set by setupLogging).
std::vector<std::shared_ptr<ReopeningFileSink>> g_files;

// The sink for `path`: that file, or stderr when none is named (or it
// cannot be opened; `error` then says why).
spdlog::sink_ptr sinkFor(const std::string& path, std::string& error) {
  if (!path.empty()) {
    auto file = std::make_shared<ReopeningFileSink>(path);
    const std::string problem = file->open();
    if (problem.empty()) {
      g_files.push_back(file);
      return file;
    }
    error = "cannot open log file " + problem;
  }
  return std::make_shared<spdlog::sinks::stderr_sink_mt>();
}

// RFC 3339 with milliseconds and the local offset, as the JSON log lines
// carry it: 2026-12-05T13:04:05.123+01:00.
std::string rfc3339Now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm local{};
  ::localtime_r(&seconds, &local);
  const long offset = local.tm_gmtoff;
  const long minutes = (offset < 0 ? -offset : offset) / 60;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}{}{:02d}:{:02d}", local, ms, offset < 0 ? '-' : '+', minutes / 60,
                     minutes % 60);
}

}  // namespace

void appendJsonEscaped(std::string& out, std::string_view text) {
  static const char* hex = "0123456789abcdef";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

std::string setupLogging(const config::Settings& settings, std::string_view role) {
  // Re-run after fork: drop the parent's loggers (and its file handles).
  spdlog::drop_all();
  g_files.clear();
  // Two sinks: a pattern belongs to a sink. Both stderr sinks share spdlog's
  // console mutex, so lines never interleave.
  std::string error;
  auto main = std::make_shared<spdlog::logger>("hyperion", sinkFor(settings.log_file, error));
  auto access = std::make_shared<spdlog::logger>("access", sinkFor(settings.access_log_file, error));
  g_json = settings.log_format == config::LogFormat::Json;
  std::string role_text(role);
  if (g_json) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","pid":%P,"role":")" + role_text + R"(","message":"%*"})");
    main->set_formatter(std::move(formatter));
  } else {
    main->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [" + role_text + " %P] [%l] %v");
  }
  access->set_pattern("%v");
  main->set_level(spdlog::level::from_str(settings.log_level));
  access->set_level(settings.log_requests ? spdlog::level::info : spdlog::level::off);
  // Errors must reach the terminal or journal at once; info lines are flushed
  // by the stderr sink itself (unbuffered).
  main->flush_on(spdlog::level::warn);
  spdlog::register_logger(access);
  spdlog::set_default_logger(main);
  return error;
}

int reopenLogFiles() {
  int reopened = 0;
  for (const auto& file : g_files) {
    const std::string problem = file->open();
    if (problem.empty()) ++reopened;
    else spdlog::error("SIGHUP: cannot reopen log file {}; still writing to the old one", problem);
  }
  return reopened;
}

void logAccess(const AccessRecord& r) {
  static thread_local std::shared_ptr<spdlog::logger> access;
  if (!access) access = spdlog::get("access");
  if (!access || !access->should_log(spdlog::level::info)) return;
  std::string line;
  line.reserve(160);
  if (g_json) {
    line += R"({"ts":")";
    line += rfc3339Now();
    line += R"(","message":"request","pid":)";
    line += std::to_string(::getpid());
    line += R"(,"remote_addr":")";
    appendJsonEscaped(line, r.remote_addr);
    line += R"(","method":")";
    appendJsonEscaped(line, r.method);
    line += R"(","path":")";
    appendJsonEscaped(line, r.target);
    line += R"(","protocol":")";
    appendJsonEscaped(line, r.protocol);
    line += fmt::format(R"(","status":{},"bytes":{},"duration_ms":{:.3f}}})", r.status, r.bytes, r.duration_ms);
  } else {
    line = fmt::format("{} - [{:%d/%b/%Y:%H:%M:%S %z}] \"{} {} {}\" {} {} {:.3f}ms", r.remote_addr,
                       fmt::localtime(std::time(nullptr)), r.method, r.target, r.protocol, r.status, r.bytes,
                       r.duration_ms);
  }
  access->info(line);
}

}  // namespace hyperion::log
