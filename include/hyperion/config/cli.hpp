#pragma once
// Command-line parsing. Produces Settings plus the set of keys the user gave
// explicitly, so the config file can fill only what the flags left alone.
#include <set>
#include <string>
#include <variant>

#include "hyperion/config/settings.hpp"

namespace hyperion::config {

struct CliRequest {
  Settings settings;
  std::set<std::string> explicit_keys;  // config-file names, e.g. "workers"
  bool show_help = false;
  bool show_version = false;
};

struct CliError {
  std::string message;
};

std::variant<CliRequest, CliError> parseCommandLine(int argc, const char* const* argv);
std::string usageText();

// One setting from the config file, by its DSL name ("workers", "log_requests"),
// parsed exactly as the matching flag. Returns an error text, or nothing.
std::optional<std::string> applyConfigSetting(Settings& settings, const std::string& key, const std::string& value);

// Shared by the CLI and the config file: "30", "30s", "500ms", "2m" -> ms.
std::optional<std::chrono::milliseconds> parseDuration(const std::string& text);
// "64k", "1m", "1g", "1024" -> bytes.
std::optional<std::size_t> parseByteSize(const std::string& text);
// "auto", "on", "off" (--tls-ktls, HYPERION_TLS_KTLS).
std::optional<KtlsMode> parseKtlsMode(const std::string& text);

}  // namespace hyperion::config
