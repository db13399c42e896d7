#include "hyperion/config/cli.hpp"
#include "hyperion/websocket/pubsub_message.hpp"

#include <charconv>
#include <cctype>
#include <functional>
#include <map>

namespace hyperion::config {
namespace {

std::optional<long long> parseInteger(const std::string& text, long long min, long long max) {
  long long value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < min || value > max) return std::nullopt;
  return value;
}

// One option: its config-file key, whether it takes a value, and how it applies.
struct OptionSpec {
  std::string key;
  bool takes_value;
  std::function<std::optional<std::string>(Settings&, const std::string&)> apply;  // error text
};

using Apply = std::function<std::optional<std::string>(Settings&, const std::string&)>;

Apply intoInt(int Settings::*field, long long min, long long max) {
  return [=](Settings& s, const std::string& v) -> std::optional<std::string> {
    auto n = parseInteger(v, min, max);
    if (!n) return "expects a whole number from " + std::to_string(min) + " to " + std::to_string(max);
    s.*field = static_cast<int>(*n);
    return std::nullopt;
  };
}

Apply intoBytes(std::size_t Limits::*field) {
  return [=](Settings& s, const std::string& v) -> std::optional<std::string> {
    auto n = parseByteSize(v);
    if (!n || *n == 0) return "expects a size such as 65536, 64k, 1m or 1g";
    s.limits.*field = *n;
    return std::nullopt;
  };
}

Apply intoDuration(std::chrono::milliseconds Limits::*field) {
  return [=](Settings& s, const std::string& v) -> std::optional<std::string> {
    auto d = parseDuration(v);
    if (!d || d->count() <= 0) return "expects a duration such as 30, 30s, 500ms or 2m";
    s.limits.*field = *d;
    return std::nullopt;
  };
}

// A WebSocket timer: a duration, or "off" for the 0 that turns it off.
Apply intoWsTimer(std::chrono::milliseconds Settings::WebSocket::*field, const char* example) {
  return [=](Settings& s, const std::string& v) -> std::optional<std::string> {
    auto d = v == "off" ? std::optional<std::chrono::milliseconds>(0) : parseDuration(v);
    if (!d) return std::string("expects a duration such as ") + example + ", or off";
    s.websocket.*field = *d;
    return std::nullopt;
  };
}

// A WebSocket byte bound of at least `min`.
Apply intoWsBytes(std::size_t Settings::WebSocket::*field, std::size_t min, const char* problem) {
  return [=](Settings& s, const std::string& v) -> std::optional<std::string> {
    auto n = parseByteSize(v);
    if (!n || *n < min) return std::string(problem);
    s.websocket.*field = static_cast<std::size_t>(*n);
    return std::nullopt;
  };
}

// A count, or `word` ("unlimited", "off") for the 0 that means it.
template <typename T>
Apply intoCountOr(T Settings::Tls::*field, const char* word, long long min, long long max, const char* problem) {
  return [=](Settings& s, const std::string& v) -> std::optional<std::string> {
    if (v == word) {
      s.tls.*field = 0;
      return std::nullopt;
    }
    auto n = parseInteger(v, min, max);
    if (!n) return std::string(problem);
    s.tls.*field = static_cast<T>(*n);
    return std::nullopt;
  };
}

Apply intoString(std::string Settings::Tls::*field) {
  return [=](Settings& s, const std::string& v) -> std::optional<std::string> {
    if (v.empty()) return "expects a value";
    s.tls.*field = v;
    return std::nullopt;
  };
}

// For the ssl:// query: everything but unreserved characters and '/' escaped.
std::string percentEncode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Adds the --tls-* values an ssl:// bind does not set itself.
std::string withTlsDefaults(std::string uri, const Settings::Tls& tls) {
  if (uri.rfind("ssl://", 0) != 0 && uri.rfind("https://", 0) != 0) return uri;
  const auto mark = uri.find('?');
  const std::string query = mark == std::string::npos ? "" : uri.substr(mark + 1);
  auto names = [&](const std::string& name) {
    const std::string pair = "&" + query;
    return pair.find("&" + name + "=") != std::string::npos;
  };
  std::string extra;
  for (const auto& [name, value] : {std::pair<const char*, const std::string&>{"cert", tls.cert},
                                    {"key", tls.key},
                                    {"ca", tls.ca},
                                    {"verify_mode", tls.verify_mode},
                                    {"ssl_cipher_filter", tls.ciphers}}) {
    if (!value.empty() && !names(name)) extra += std::string(extra.empty() && query.empty() ? "" : "&") + name + "=" + percentEncode(value);
  }
  if (extra.empty()) return uri;
  return uri + (mark == std::string::npos ? "?" : "") + extra;
}

const std::map<std::string, OptionSpec>& longOptions() {
  static const std::map<std::string, OptionSpec> options = {
      {"workers", {"workers", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         if (v == "auto") {  // resolved at boot (proc/cpu_count.hpp)
           s.workers = kWorkersAuto;
           return std::nullopt;
         }
         auto n = parseInteger(v, 0, 1024);
         if (!n) return "expects a whole number from 0 to 1024, or auto";
         s.workers = static_cast<int>(*n);
         return std::nullopt;
       }}},
      {"threads", {"threads", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         // Puma's "min:max" form is accepted; Hyperion runs a fixed pool of max threads.
         std::string max = v.substr(v.find(':') == std::string::npos ? 0 : v.find(':') + 1);
         auto n = parseInteger(max, 1, 1024);
         if (!n) return "expects a whole number from 1 to 1024 (or min:max)";
         s.threads = static_cast<int>(*n);
         return std::nullopt;
       }}},
      {"bind", {"bind", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         s.binds.push_back(v);
         return std::nullopt;
       }}},
      {"port", {"port", true, intoInt(&Settings::port, 0, 65535)}},
      {"host", {"host", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         s.host = v;
         return std::nullopt;
       }}},
      {"environment", {"environment", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         s.environment = v;
         s.environment_given = true;
         return std::nullopt;
       }}},
      {"pidfile", {"pidfile", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         s.pidfile = v;
         return std::nullopt;
       }}},
      {"preload", {"preload_app", false, [](Settings& s, const std::string&) -> std::optional<std::string> {
         s.preload = true;
         return std::nullopt;
       }}},
      {"log-level", {"log_level", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         static const std::set<std::string> levels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
         if (!levels.count(v)) return "expects one of trace, debug, info, warn, error, critical, off";
         s.log_level = v;
         return std::nullopt;
       }}},
      {"log-format", {"log_format", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         if (v == "text") s.log_format = LogFormat::Text;
         else if (v == "json") s.log_format = LogFormat::Json;
         else return "expects text or json";
         return std::nullopt;
       }}},
      {"access-log", {"log_requests", false, [](Settings& s, const std::string&) -> std::optional<std::string> {
         s.log_requests = true;
         return std::nullopt;
       }}},
      {"no-http2", {"http2", false, [](Settings& s, const std::string&) -> std::optional<std::string> {
         s.http2.enabled = false;
         return std::nullopt;
       }}},
      {"no-h2c", {"h2c", false, [](Settings& s, const std::string&) -> std::optional<std::string> {
         s.http2.h2c = false;
         return std::nullopt;
       }}},
      {"h2-max-concurrent-streams", {"h2_max_concurrent_streams", true,
                                     [](Settings& s, const std::string& v) -> std::optional<std::string> {
         auto n = parseInteger(v, 1, 100000);
         if (!n) return "expects a whole number from 1 to 100000";
         s.http2.max_concurrent_streams = static_cast<std::uint32_t>(*n);
         return std::nullopt;
       }}},
      {"h2-initial-window-size", {"h2_initial_window_size", true,
                                  [](Settings& s, const std::string& v) -> std::optional<std::string> {
         auto n = parseByteSize(v);
         if (!n || *n < 1 || *n > 0x7fffffff) return "expects a size from 1 to 2147483647 (k/m suffixes allowed)";
         s.http2.initial_window_size = static_cast<std::uint32_t>(*n);
         return std::nullopt;
       }}},
      {"h2-max-frame-size", {"h2_max_frame_size", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         auto n = parseByteSize(v);
         if (!n || *n < 16384 || *n > 16777215) return "expects a size from 16384 to 16777215 (RFC 9113)";
         s.http2.max_frame_size = static_cast<std::uint32_t>(*n);
         return std::nullopt;
       }}},
      {"h2-max-header-list-size", {"h2_max_header_list_size", true,
                                   [](Settings& s, const std::string& v) -> std::optional<std::string> {
         auto n = parseByteSize(v);
         if (!n || *n < 1) return "expects a size such as 64k";
         s.http2.max_header_list_size = static_cast<std::size_t>(*n);
         return std::nullopt;
       }}},
      {"h2-max-total-streams", {"h2_max_total_streams", true,
                                [](Settings& s, const std::string& v) -> std::optional<std::string> {
         if (v == "unbounded" || v == ":unbounded") {
           s.http2.max_total_streams = 0;
           return std::nullopt;
         }
         auto n = parseInteger(v, 1, 100000000);
         if (!n) return "expects a whole number or unbounded";
         s.http2.max_total_streams = static_cast<std::size_t>(*n);
         return std::nullopt;
       }}},
      {"log-file", {"log_file", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         if (v.empty()) return "expects a path";
         s.log_file = v;
         return std::nullopt;
       }}},
      {"access-log-file", {"access_log_file", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         if (v.empty()) return "expects a path";
         s.access_log_file = v;
         return std::nullopt;
       }}},
      {"no-access-log", {"log_requests", false, [](Settings& s, const std::string&) -> std::optional<std::string> {
         s.log_requests = false;
         return std::nullopt;
       }}},
      {"config", {"config", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         s.config_file = v;
         return std::nullopt;
       }}},
      {"graceful-timeout", {"graceful_timeout", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         auto d = parseDuration(v);
         if (!d) return "expects a duration such as 30, 30s or 500ms";
         s.graceful_timeout = *d;
         return std::nullopt;
       }}},
      {"worker-timeout", {"worker_timeout", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         auto d = v == "off" ? std::optional<std::chrono::milliseconds>(0) : parseDuration(v);
         if (!d || (d->count() > 0 && d->count() < 2000)) return "expects a duration of at least 2s, such as 60s, or off";
         s.worker_timeout = *d;
         return std::nullopt;
       }}},
      {"worker-max-rss-mb", {"worker_max_rss_mb", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         auto n = v == "off" ? std::optional<long long>(0) : parseInteger(v, 16, 1 << 20);
         if (!n) return "expects megabytes (16 to 1048576), or off";
         s.worker_health.max_rss_bytes = static_cast<std::uint64_t>(*n) << 20;
         return std::nullopt;
       }}},
      {"worker-max-requests", {"worker_max_requests", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         auto n = v == "off" ? std::optional<long long>(0) : parseInteger(v, 1, 1'000'000'000'000LL);
         if (!n) return "expects a number of requests, or off";
         s.worker_health.max_requests = static_cast<std::uint64_t>(*n);
         return std::nullopt;
       }}},
      {"worker-max-age", {"worker_max_age", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         auto d = v == "off" ? std::optional<std::chrono::milliseconds>(0) : parseDuration(v);
         if (!d || (d->count() > 0 && d->count() < 10'000)) return "expects a duration of at least 10s, such as 6h, or off";
         s.worker_health.max_age = std::chrono::duration_cast<std::chrono::seconds>(*d);
         return std::nullopt;
       }}},
      {"tmp-dir", {"tmp_dir", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         s.tmp_dir = v;
         return std::nullopt;
       }}},
      {"preload-static", {"preload_static", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         s.preload_static.push_back(PreloadDir{v, true});
         return std::nullopt;
       }}},
      {"reuse-port", {"reuse_port", false, [](Settings& s, const std::string&) -> std::optional<std::string> {
         s.reuse_port = true;
         return std::nullopt;
       }}},
      {"no-preload-static", {"no_preload_static", false, [](Settings& s, const std::string&) -> std::optional<std::string> {
         s.no_preload_static = true;
         return std::nullopt;
       }}},
      {"admin-bind", {"admin_bind", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         if (v.rfind("tcp://", 0) != 0 && v.rfind("unix://", 0) != 0) return "expects tcp://HOST:PORT or unix:///PATH";
         s.admin.bind = v;
         return std::nullopt;
       }}},
      {"admin-token", {"admin_token", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         if (v.size() < 8) return "expects a token of at least 8 characters";
         s.admin.token = v;
         return std::nullopt;
       }}},
      {"admin-metrics-token", {"admin_metrics_token", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         if (v.size() < 8) return "expects a token of at least 8 characters";
         s.admin.metrics_token = v;
         return std::nullopt;
       }}},
      {"admin-listener-port", {"admin_listener_port", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         auto n = parseInteger(v, 1, 65535);
         if (!n) return "expects a port from 1 to 65535";
         s.admin.listener_port = static_cast<int>(*n);
         return std::nullopt;
       }}},
      {"admin-listener-host", {"admin_listener_host", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         if (v.empty()) return "expects a host";
         s.admin.listener_host = v;
         return std::nullopt;
       }}},
      {"tls-cert", {"tls_cert", true, intoString(&Settings::Tls::cert)}},
      {"tls-key", {"tls_key", true, intoString(&Settings::Tls::key)}},
      {"tls-ca", {"tls_ca", true, intoString(&Settings::Tls::ca)}},
      {"tls-verify-mode", {"tls_verify_mode", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         if (v != "none" && v != "peer" && v != "force_peer") return "expects none, peer or force_peer";
         s.tls.verify_mode = v;
         return std::nullopt;
       }}},
      {"tls-ciphers", {"tls_ciphers", true, intoString(&Settings::Tls::ciphers)}},
      {"tls-handshake-timeout", {"tls_handshake_timeout", true, intoDuration(&Limits::tls_handshake_timeout)}},
      {"tls-handshake-rate-limit",
       {"tls_handshake_rate_limit", true,
        intoCountOr(&Settings::Tls::handshake_rate_limit, "unlimited", 1, 1'000'000,
                    "expects handshakes a second (1 to 1000000) or unlimited")}},
      {"tls-session-cache-size",
       {"tls_session_cache_size", true,
        intoCountOr(&Settings::Tls::session_cache_size, "off", 0, 10'000'000, "expects sessions (0 to 10000000) or off")}},
      {"tls-sni", {"tls_sni", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         const auto eq = v.find('=');
         const auto comma = eq == std::string::npos ? std::string::npos : v.find(',', eq + 1);
         if (eq == 0 || comma == std::string::npos || comma == eq + 1 || comma + 1 == v.size())
           return "expects HOST=CERT,KEY (HOST a name or *.domain)";
         s.tls.sni.push_back({v.substr(0, eq), v.substr(eq + 1, comma - eq - 1), v.substr(comma + 1)});
         return std::nullopt;
       }}},
      {"tls-ticket-key-rotation", {"tls_ticket_key_rotation", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         auto d = parseDuration(v);
         if (!d || *d < std::chrono::seconds(60) || *d > std::chrono::hours(24 * 7))
           return "expects a duration from 60s to 7 days (such as 1h)";
         s.tls.ticket_key_rotation = std::chrono::duration_cast<std::chrono::seconds>(*d);
         return std::nullopt;
       }}},
      {"tls-ktls", {"tls_ktls", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         auto mode = parseKtlsMode(v);
         if (!mode) return "expects auto, on or off";
         s.tls.ktls = *mode;
         return std::nullopt;
       }}},
      {"io-uring", {"io_uring", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         if (v == "auto") s.io_uring = IoUringMode::Auto;
         else if (v == "on" || v == "true") s.io_uring = IoUringMode::On;
         else if (v == "off" || v == "false") s.io_uring = IoUringMode::Off;
         else return "expects auto, on or off";
         return std::nullopt;
       }}},
      {"page-cache-recheck", {"page_cache_recheck", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         auto d = parseDuration(v);
         if (!d) return "expects a duration such as 5s or 500ms";
         s.page_cache.recheck_interval = *d;
         return std::nullopt;
       }}},
      {"page-cache-max-bytes", {"page_cache_max_bytes", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         auto n = parseByteSize(v);
         if (!n) return "expects a size such as 256m";
         s.page_cache.max_bytes = *n;
         return std::nullopt;
       }}},
      {"page-cache-max-file", {"page_cache_max_file", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         auto n = parseByteSize(v);
         if (!n) return "expects a size such as 1m";
         s.page_cache.max_file_bytes = *n;
         return std::nullopt;
       }}},
      {"max-header-bytes", {"max_header_bytes", true, intoBytes(&Limits::max_header_bytes)}},
      {"max-uri-bytes", {"max_uri_bytes", true, intoBytes(&Limits::max_uri_bytes)}},
      {"max-body-bytes", {"max_body_bytes", true, intoBytes(&Limits::max_body_bytes)}},
      {"body-memory-bytes", {"body_memory_bytes", true, intoBytes(&Limits::body_memory_bytes)}},
      {"header-timeout", {"header_timeout", true, intoDuration(&Limits::header_timeout)}},
      {"body-timeout", {"body_timeout", true, intoDuration(&Limits::body_timeout)}},
      {"ws-max-message-bytes", {"ws_max_message_bytes", true,
                                intoWsBytes(&Settings::WebSocket::max_message_bytes, 125,
                                            "expects a size of at least 125 bytes, such as 1m")}},
      {"ws-idle-timeout", {"ws_idle_timeout", true, intoWsTimer(&Settings::WebSocket::idle_timeout, "60s")}},
      {"ws-ping-interval", {"ws_ping_interval", true, intoWsTimer(&Settings::WebSocket::ping_interval, "30s")}},
      {"ws-deflate", {"ws_deflate", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         const std::string m = !v.empty() && v[0] == ':' ? v.substr(1) : v;
         if (m == "off") s.websocket.permessage_deflate = WsDeflateMode::Off;
         else if (m == "auto") s.websocket.permessage_deflate = WsDeflateMode::Auto;
         else if (m == "on") s.websocket.permessage_deflate = WsDeflateMode::On;
         else return "expects off, auto or on";
         return std::nullopt;
       }}},
      {"ws-origin", {"ws_origins", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         std::size_t start = 0;
         while (start <= v.size()) {
           std::size_t comma = v.find(',', start);
           if (comma == std::string::npos) comma = v.size();
           std::string origin = v.substr(start, comma - start);
           while (!origin.empty() && origin.front() == ' ') origin.erase(0, 1);
           while (!origin.empty() && origin.back() == ' ') origin.pop_back();
           if (!origin.empty()) s.websocket.allowed_origins.push_back(origin);
           start = comma + 1;
         }
         return std::nullopt;
       }}},
      {"ws-backpressure-bytes", {"ws_backpressure_bytes", true,
                                 intoWsBytes(&Settings::WebSocket::backpressure_bytes, 1, "expects a size such as 1m")}},
      {"ws-max-pending-bytes", {"ws_max_pending_bytes", true,
                                intoWsBytes(&Settings::WebSocket::max_pending_bytes, 1, "expects a size such as 16m")}},
      {"ws-pubsub", {"ws_pubsub", true, [](Settings& s, const std::string& v) -> std::optional<std::string> {
         if (!v.empty() && !websocket::parseRedisUrl(v)) return "expects redis://[:PASSWORD@]HOST[:PORT][/DB]";
         s.websocket.pubsub = v;
         return std::nullopt;
       }}},
      {"keepalive-timeout", {"keepalive_timeout", true, intoDuration(&Limits::keepalive_timeout)}},
      {"write-timeout", {"write_timeout", true, intoDuration(&Limits::write_timeout)}},
  };
  return options;
}

const std::map<char, std::string>& shortOptions() {
  static const std::map<char, std::string> options = {
      {'w', "workers"}, {'t', "threads"}, {'b', "bind"},   {'p', "port"},
      {'e', "environment"}, {'C', "config"}, {'P', "pidfile"},
  };
  return options;
}

}  // namespace

std::optional<std::chrono::milliseconds> parseDuration(const std::string& text) {
  std::size_t digits = 0;
  while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.'))
    ++digits;
  if (digits == 0) return std::nullopt;
  double number = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec != std::errc() || ptr != text.data() + digits) return std::nullopt;
  const std::string unit = text.substr(digits);
  double factor;
  if (unit.empty() || unit == "s") factor = 1000;
  else if (unit == "ms") factor = 1;
  else if (unit == "m") factor = 60'000;
  else if (unit == "h") factor = 3'600'000;
  else if (unit == "d") factor = 86'400'000;
  else return std::nullopt;
  return std::chrono::milliseconds(static_cast<long long>(number * factor));
}

std::optional<std::size_t> parseByteSize(const std::string& text) {
  if (text.empty()) return std::nullopt;
  std::string digits = text;
  std::size_t factor = 1;
  switch (std::tolower(static_cast<unsigned char>(text.back()))) {
    case 'k': factor = 1024; break;
    case 'm': factor = 1024 * 1024; break;
    case 'g': factor = 1024ull * 1024 * 1024; break;
    default: break;
  }
  if (factor != 1) digits.pop_back();
  auto n = parseInteger(digits, 0, (1LL << 50));
  if (!n || static_cast<std::size_t>(*n) > (std::size_t{1} << 50) / factor) return std::nullopt;  // 1 PiB cap
  return static_cast<std::size_t>(*n) * factor;
}

std::optional<KtlsMode> parseKtlsMode(const std::string& text) {
  if (text == "auto") return KtlsMode::Auto;
  if (text == "on" || text == "true") return KtlsMode::On;
  if (text == "off" || text == "false") return KtlsMode::Off;
  return std::nullopt;
}

std::string resolveEnvironment(const Settings& settings, const char* (*getenv)(const char*)) {
  if (settings.environment_given) return settings.environment;
  for (const char* name : {"APP_ENV", "RACK_ENV", "RAILS_ENV"}) {
    const char* value = getenv(name);
    if (value && *value) return value;
  }
  return "development";
}

std::vector<std::string> effectiveBinds(const Settings& settings) {
  std::vector<std::string> binds = settings.binds;
  if (binds.empty()) {
    const bool tls = !settings.tls.cert.empty() || !settings.tls.key.empty();
    binds.push_back((tls ? "ssl://" : "tcp://") + settings.host + ":" + std::to_string(settings.port));
  }
  for (auto& uri : binds) uri = withTlsDefaults(uri, settings.tls);
  return binds;
}

std::string effectiveAdminBind(const Settings& settings) {
  if (!settings.admin.bind.empty()) return settings.admin.bind;
  if (settings.admin.listener_port == 0) return {};
  const std::string& host = settings.admin.listener_host;
  const bool v6 = host.find(':') != std::string::npos && host.front() != '[';
  return "tcp://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(settings.admin.listener_port);
}

std::variant<CliRequest, CliError> parseCommandLine(int argc, const char* const* argv) {
  CliRequest request;
  bool rackup_seen = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string name;
    std::optional<std::string> inline_value;
    if (arg == "-h" || arg == "--help") {
      request.show_help = true;
      continue;
    }
    if (arg == "-v" || arg == "--version") {
      request.show_version = true;
      continue;
    }
    if (arg.rfind("--", 0) == 0 && arg.size() > 2) {
      name = arg.substr(2);
      if (auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
    } else if (arg.size() >= 2 && arg[0] == '-' && arg[1] != '-') {
      auto it = shortOptions().find(arg[1]);
      if (it == shortOptions().end()) return CliError{"unknown option " + arg};
      name = it->second;
      if (arg.size() > 2) inline_value = arg.substr(2);
    } else {
      if (rackup_seen) return CliError{"more than one rackup given: " + arg};
      request.settings.rackup = arg;
      rackup_seen = true;
      continue;
    }
    auto spec = longOptions().find(name);
    if (spec == longOptions().end()) return CliError{"unknown option --" + name};
    std::string value;
    if (spec->second.takes_value) {
      if (inline_value) value = *inline_value;
      else if (i + 1 < argc) value = argv[++i];
      else return CliError{"option --" + name + " needs a value"};
    } else if (inline_value) {
      return CliError{"option --" + name + " takes no value"};
    }
    if (auto error = spec->second.apply(request.settings, value)) return CliError{"--" + name + " " + *error};
    request.explicit_keys.insert(spec->second.key);
  }
  return request;
}

std::optional<std::string> applyConfigSetting(Settings& settings, const std::string& key, const std::string& value) {
  if (key == "rackup") {
    settings.rackup = value;
    return std::nullopt;
  }
  if (key == "preload_app" || key == "log_requests" || key == "no_preload_static" || key == "reuse_port" ||
      key == "http2" || key == "h2c") {
    if (value != "true" && value != "false") return "expects true or false";
    bool& field = key == "preload_app"    ? settings.preload
                  : key == "log_requests" ? settings.log_requests
                  : key == "reuse_port"   ? settings.reuse_port
                  : key == "http2"        ? settings.http2.enabled
                  : key == "h2c"          ? settings.http2.h2c
                                          : settings.no_preload_static;
    field = value == "true";
    return std::nullopt;
  }
  for (const auto& [flag, spec] : longOptions()) {
    if (spec.key == key && spec.takes_value) return spec.apply(settings, value);
  }
  return "is not a known setting";
}

std::string usageText() {
  return R"(Usage: hyperion [options] [rackup]     (rackup defaults to ./config.ru)
       hyperion ctl COMMAND [options]    (a running server's admin listener; ctl --help)

Processes
  -w, --workers N            worker processes; 0 = single process, no master (default 0);
                             auto = one per CPU this process may use (affinity, cgroup quota)
  -t, --threads N            Ruby threads per worker; Puma's min:max is accepted (default 5)
      --preload              load the app in the master before forking workers
      --graceful-timeout T   how long TERM waits for in-flight requests (default 30s)
      --worker-timeout T     kill and replace a worker whose event loop has not checked in for T
                             (default 60s; off = never)
      --worker-max-requests N  recycle a worker after N requests (up to 10 % jitter each)
      --worker-max-rss-mb N  recycle a worker whose resident memory passes N MiB
      --worker-max-age T     recycle a worker after T (such as 6h; up to 10 % jitter each)
                             (recycling: its replacement boots first, then it drains;
                             one worker at a time; default off)
  -P, --pidfile PATH         write the master's pid here
  -C, --config FILE          Ruby config file (default config/hyperion.rb if it exists)
  -e, --environment ENV      sets RACK_ENV (default: $APP_ENV, $RACK_ENV, $RAILS_ENV, development)

Listening
  -b, --bind URI             tcp://HOST:PORT, ssl://HOST:PORT?cert=PATH&key=PATH
                             or unix:///PATH; repeatable
  -p, --port PORT            port when no --bind is given (default 9292)
      --host HOST            host when no --bind is given (default 127.0.0.1)
      --reuse-port           one SO_REUSEPORT socket per worker instead of one
                             shared socket (the kernel spreads connections by
                             hash, even to a worker whose threads are all busy)

TLS (see docs/TLS.md)
      --tls-cert PATH        PEM certificate chain: the default bind becomes
                             ssl://HOST:PORT; ssl:// binds without cert= use it
      --tls-key PATH         its PEM private key
      --tls-ca PATH          CA bundle for client certificates
      --tls-verify-mode M    none, peer or force_peer (client certificates)
      --tls-ciphers LIST     TLS 1.2 cipher list (default: Mozilla intermediate)
      --tls-handshake-timeout T  accept to finished handshake, else closed (default 10s)
      --tls-handshake-rate-limit N  new TLS connections a second per worker;
                             over it they are closed at once (default unlimited)
      --tls-sni HOST=CERT,KEY  another certificate, for clients asking for HOST
                             (a name or *.domain) by SNI; repeatable
      --tls-session-cache-size N  TLS 1.2 sessions a worker remembers, or off
                             (default 20480; tickets resume on any worker)
      --tls-ktls MODE        kernel TLS: auto (default), on (refuse to start
                             without it), off; env HYPERION_TLS_KTLS
      --tls-ticket-key-rotation T  a new session-ticket key this often; the
                             previous one is accepted one more interval (default 1h;
                             SIGHUP rotates now)

HTTP/2 (over TLS by ALPN, on plain binds by prior knowledge)
      --no-http2             do not offer h2 on ssl:// binds
      --no-h2c               do not accept h2c (HTTP/2 without TLS) on plain binds
      --h2-max-concurrent-streams N  streams a connection may have open (default 128)
      --h2-max-total-streams N   open streams per worker over all its connections;
                             more are refused (REFUSED_STREAM) (default unbounded)
      --h2-initial-window-size N  each stream's window for request bodies (default 1m)
      --h2-max-frame-size N  the largest frame accepted (default 16384)
      --h2-max-header-list-size N  request header list limit (default --max-header-bytes)

WebSocket (see docs/WEBSOCKET.md; config `websocket do ... end`)
      --ws-max-message-bytes N   a larger message (after inflation) is closed 1009 (default 1m)
      --ws-idle-timeout T    nothing received for T: close 1001 (default 60s; off)
      --ws-ping-interval T   ping a client that has sent nothing for T (default 30s; off)
      --ws-deflate MODE      permessage-deflate: off, auto (default: when offered,
                             messages of 64 bytes or more) or on (every message)
      --ws-origin LIST       accept only these Origins (comma-separated; default any)
      --ws-backpressure-bytes N  unread bytes past which client.write returns false
                             and on_drained follows (default 1m)
      --ws-max-pending-bytes N   unread bytes past which the connection is closed
                             1008 (default 16m)
      --ws-pubsub URL        Hyperion.publish across servers: redis://HOST:PORT/DB
                             (default: across this server's workers only)

HTTP limits (each answered without reaching Ruby)
      --max-header-bytes N   header block size, else 431 (default 64k)
      --max-uri-bytes N      request target length, else 414 (default 8k)
      --max-body-bytes N     request body size, else 413 (default 1g)
      --body-memory-bytes N  bodies above this are buffered in a temp file (default 1m)
      --tmp-dir DIR          where those temp files live (default /tmp)
      --header-timeout T     first byte to end of headers, else 408 (default 30s)
      --body-timeout T       longest pause inside a body, else 408 (default 60s)
      --keepalive-timeout T  idle keep-alive connections are closed after T (default 20s)
      --write-timeout T      a client that reads nothing for T is dropped (default 60s)

Static files (served by the event loop, before the app)
      --preload-static DIR   load DIR's files at boot and serve them at their path
                             inside DIR (repeatable); a Rails app's public/ is
                             preloaded automatically unless --no-preload-static
      --io-uring MODE        auto (default: io_uring where the kernel allows it),
                             on (refuse to start without it) or off (epoll)
      --page-cache-recheck T re-stat a cached file at most every T (default 5s)
      --page-cache-max-bytes N   page cache size per worker (default 256m)
      --page-cache-max-file N    files up to N are cached, larger ones go out
                             with sendfile (default 1m)

Admin listener (see docs/OBSERVABILITY.md; config `admin do ... end`)
      --admin-bind URI       serve /-/live, /-/ready, /-/metrics and POST /-/quit on
                             tcp://HOST:PORT or unix:///PATH (never on the app's binds)
      --admin-token T        bearer token for everything there, and what turns on
                             /-/quit (without it, control is off)
      --admin-metrics-token T  a second token that may only read /-/metrics
                             (with no token at all, /-/metrics is open)

Logging
      --log-level LEVEL      trace, debug, info, warn, error (default info)
      --log-format FORMAT    text or json (default text)
      --no-access-log        do not log one line per request (--access-log turns it on)
      --log-file PATH        the server's log lines go to PATH instead of stderr
      --access-log-file PATH the access log goes to PATH instead of stderr
                             (both are appended to, and reopened on SIGHUP for logrotate)

  -v, --version              print the version
  -h, --help                 print this help
)";
}

}  // namespace hyperion::config
