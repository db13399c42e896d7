#pragma once
// Every knob the server has, as plain data. Filled from defaults, then the
// config file (config/hyperion.rb), then the command line, in that order.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/net/sni_certificate.hpp"

namespace hyperion::config {

enum class LogFormat { Text, Json };
// Auto: io_uring where the kernel allows it, epoll otherwise. On: io_uring or
// refuse to start. Off: epoll.
enum class IoUringMode { Auto, On, Off };
enum class KtlsMode { Auto, On, Off };
// permessage-deflate: Off never agrees to it; Auto agrees when offered and
// compresses messages worth it; On agrees and compresses every message.
enum class WsDeflateMode { Off, Auto, On };

struct Limits {
  std::size_t max_header_bytes = 64 * 1024;        // whole header block -> 431
  std::size_t max_uri_bytes = 8 * 1024;            // request target -> 414
  std::size_t max_body_bytes = 1024ull * 1024 * 1024;  // decided from Content-Length -> 413
  std::size_t body_memory_bytes = 1024 * 1024;     // larger bodies spill to a temp file
  std::chrono::milliseconds header_timeout{30'000};   // first byte -> end of headers (408)
  std::chrono::milliseconds body_timeout{60'000};     // max gap between body bytes (408)
  std::chrono::milliseconds keepalive_timeout{20'000};  // idle between requests (close)
  std::chrono::milliseconds write_timeout{60'000};      // client not draining (close)
  std::chrono::milliseconds tls_handshake_timeout{10'000};  // accept -> handshake done (close)
};

struct PreloadDir {
  std::string dir;
  bool immutable = true;
};

struct PageCacheSettings {
  std::chrono::milliseconds recheck_interval{5000};  // stat() a cached file at most this often
  std::size_t max_bytes = 256u << 20;                // per worker
  std::size_t max_file_bytes = 1u << 20;             // larger files go out with sendfile(2)
};

// Settings::workers before boot resolves `-w auto` (proc/cpu_count.hpp).
inline constexpr int kWorkersAuto = -1;

struct Settings {
  std::string rackup = "config.ru";
  std::optional<std::string> config_file;  // -C; default config/hyperion.rb if present
  int workers = 0;
  int threads = 5;
  std::vector<std::string> binds;  // tcp://host:port, unix:///path
  // One SO_REUSEPORT socket per worker (opt-in) instead of one shared,
  // capacity-aware socket per bind (docs/ARCHITECTURE.md, "Accepting").
  bool reuse_port = false;
  std::string host = "127.0.0.1";
  int port = 9292;
  std::string environment = "development";
  bool environment_given = false;  // by -e or the config file's `environment`
  std::optional<std::string> pidfile;
  bool preload = false;
  std::string log_level = "info";
  LogFormat log_format = LogFormat::Text;
  bool log_requests = true;
  std::string log_file;         // --log-file: the server's log; empty: stderr
  std::string access_log_file;  // --access-log-file: one line per request; empty: stderr
  std::chrono::milliseconds graceful_timeout{30'000};
  // A worker whose event loop has not checked in with the master for this
  // long is killed and replaced (Puma's worker_timeout); 0 = never.
  std::chrono::milliseconds worker_timeout{60'000};
  // Recycling (config `worker_health do ... end`): a worker past any of these
  // is replaced, gracefully and one at a time; 0 = no limit. max_requests and
  // max_age get up to 10 % jitter per worker.
  struct WorkerHealth {
    std::uint64_t max_rss_bytes = 0;
    std::uint64_t max_requests = 0;
    std::chrono::seconds max_age{0};
  } worker_health;
  std::string tmp_dir = "/tmp";
  Limits limits;
  std::vector<PreloadDir> preload_static;  // served natively before the app
  bool no_preload_static = false;          // no Rails public/ auto-detect
  PageCacheSettings page_cache;
  IoUringMode io_uring = IoUringMode::Auto;
  // HTTP/2: offered by ALPN on ssl:// binds (--no-http2 stops it) and
  // accepted by prior knowledge on plain ones (--no-h2c stops that).
  struct Http2 {
    bool enabled = true;
    bool h2c = true;
    std::uint32_t max_concurrent_streams = 128;    // SETTINGS_MAX_CONCURRENT_STREAMS per connection
    std::uint32_t initial_window_size = 1u << 20;  // per stream, for request bodies
    std::uint32_t max_frame_size = 16384;          // the largest frame we accept (SETTINGS_MAX_FRAME_SIZE)
    std::size_t max_header_list_size = 0;          // 0: limits.max_header_bytes
    std::size_t max_total_streams = 0;             // open streams per worker, all connections; 0: unbounded
  } http2;
  // WebSocket (docs/WEBSOCKET.md), config `websocket do ... end`.
  struct WebSocket {
    std::size_t max_message_bytes = 1u << 20;             // larger (or inflating past it) -> close 1009
    std::chrono::milliseconds idle_timeout{60'000};        // nothing received for this long -> close 1001; 0: never
    std::chrono::milliseconds ping_interval{30'000};       // a ping when nothing was received for this; 0: never
    WsDeflateMode permessage_deflate = WsDeflateMode::Auto;
    std::vector<std::string> allowed_origins;              // empty: any Origin
    // Queued bytes a client has not read: past backpressure_bytes client.write
    // returns false and on_drained follows once it is all out; past
    // max_pending_bytes the connection is closed (1008).
    std::size_t backpressure_bytes = 1u << 20;
    std::size_t max_pending_bytes = 16u << 20;
    // Hyperion.publish beyond this server: redis://host:port/db; empty: the
    // workers of this server only.
    std::string pubsub;
  } websocket;
  // The admin listener (admin/admin_server.hpp), config `admin do ... end`.
  struct Admin {
    std::string bind;           // tcp://HOST:PORT or unix:///PATH; empty: no admin listener
    std::string token;          // bearer token for everything (and /-/quit); empty: control is off
    std::string metrics_token;  // bearer token for reading /-/metrics only
    // The seed's listener_port / listener_host: tcp://HOST:PORT when no bind is given.
    int listener_port = 0;
    std::string listener_host = "127.0.0.1";
  } admin;
  // --tls-cert/--tls-key (config `tls do ... end`): the default bind becomes
  // ssl://host:port, and an ssl:// bind without its own cert=/key=/... takes these.
  struct Tls {
    std::string cert, key, ca, verify_mode, ciphers;
    int handshake_rate_limit = 0;  // new TLS connections a second per worker; 0: unlimited
    long session_cache_size = -1;  // TLS 1.2 session IDs a worker remembers; -1: OpenSSL's default; 0: off
    std::chrono::seconds ticket_key_rotation{3600};  // a new session-ticket key this often
    std::vector<net::SniCertificate> sni;  // --tls-sni HOST=CERT,KEY (repeatable): more certificates, chosen by SNI
    // --tls-ktls (config `ktls`); unset: HYPERION_TLS_KTLS, else auto.
    std::optional<KtlsMode> ktls;
  } tls;
};

// The environment the app runs in, as Puma picks it: -e (or the config
// file's `environment`), else APP_ENV, RACK_ENV, RAILS_ENV, else
// development. getenv is a parameter so tests need not touch the process.
std::string resolveEnvironment(const Settings& settings, const char* (*getenv)(const char*));

// The bind list the server really uses: binds if given, else tcp://host:port
// (ssl://host:port?cert=...&key=... with --tls-cert); ssl:// binds get the
// --tls-* values for the query parameters they do not name themselves.
std::vector<std::string> effectiveBinds(const Settings& settings);

// The admin listener's URI: --admin-bind, else tcp://listener_host:listener_port
// when a port is set, else empty (none).
std::string effectiveAdminBind(const Settings& settings);

}  // namespace hyperion::config
