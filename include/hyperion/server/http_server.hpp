#pragma once
// The per-worker event loop: accepts, reads and writes every connection
// through its transport, keeps the socket-level deadlines, and runs each
// connection's Session (HTTP/1.1 today), which turns input into requests for
// the Ruby threads (through the DispatchQueue) and their replies into output.
// It never touches Ruby. One loop thread per worker.
#include <sys/epoll.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "hyperion/config/settings.hpp"
#include "hyperion/metrics/worker_stats.hpp"
#include "hyperion/net/listener.hpp"
#include "hyperion/net/token_bucket.hpp"
#include "hyperion/server/connection.hpp"
#include "hyperion/server/dispatch_queue.hpp"
#include "hyperion/server/loop_mailbox.hpp"
#include "hyperion/server/session.hpp"
#include "hyperion/server/uring.hpp"
#include "hyperion/static/page_cache.hpp"
#include "hyperion/static/route_table.hpp"
#include "hyperion/static/static_directory.hpp"
#include "hyperion/websocket/subscriptions.hpp"

namespace hyperion::server {

class HttpServer final : private SessionHost {
 public:
  // `stats`: this worker's metrics block; the server counts into it and
  // must not outlive it.
  HttpServer(const config::Settings& settings, std::vector<net::Listener> listeners, DispatchQueue& queue,
             const static_files::RouteTable& routes, std::vector<static_files::StaticDirectory> static_dirs,
             metrics::WorkerStats& stats);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Where Ruby threads post to this loop (Hyperion.publish reaches this
  // worker's subscribers through it).
  const std::shared_ptr<LoopMailbox>& loopMailbox() const { return mailbox_; }
  // Runs the loop on the calling thread until shutdown completes.
  void run();
  // Thread-safe. Stop accepting, close idle connections, finish in-flight
  // requests (answered with Connection: close), then return from run().
  void beginShutdown();
  // Thread-safe: true while draining, read by Ruby threads for keep-alive.
  bool draining() const override { return mailbox_->draining(); }
  // Thread-safe: waits until run() has returned, or the timeout passes.
  bool waitStopped(std::chrono::milliseconds timeout);
  // Loop iterations so far (one at least every kTimeoutScanEvery): the worker
  // checks in with the master only while this moves (--worker-timeout).
  std::uint64_t iterations() const { return iterations_.load(std::memory_order_relaxed); }
  // What each accepted socket is read and written through (before run()).
  // Default: a plain SocketTransport. The seam a TLS listener plugs into,
  // and where tests put a transport that returns one byte at a time.
  using TransportFactory = std::function<std::unique_ptr<net::Transport>(int fd)>;
  void setTransportFactory(TransportFactory factory) { transport_factory_ = std::move(factory); }

 public:
  static constexpr std::size_t kReadBufferBytes = 64 * 1024;
  // "io_uring" or "epoll", and why not io_uring when it is epoll.
  std::string ioDescription() const;

 private:
  // accept / loop plumbing (http_server.cpp)
  void runEpoll();
  void endIteration();  // watchdog, timeouts, destroying doomed connections
  // How long the loop may sleep: 1 ms while requests wait for a Ruby thread
  // (the dispatch watchdog), else until the next timeout scan.
  std::chrono::milliseconds waitTimeout() const;
  static constexpr auto kTimeoutScanEvery = std::chrono::milliseconds(200);
  void acceptFrom(int listen_fd, const net::Listener& listener);
  // Capacity-aware accept (docs/ARCHITECTURE.md, "Accepting"): a socket
  // shared with other workers is only watched while a Ruby thread is free,
  // so a busy worker leaves new connections in the backlog for an idle one.
  bool capacityGated(std::size_t listener_index) const;
  void updateAccepting();  // end of each iteration: pause or resume
  bool watchListener(std::size_t listener_index);  // false: epoll_ctl failed (errno)
  void unwatchListener(std::size_t listener_index);
  Connection* adoptConnection(int fd, const sockaddr_storage& addr, const net::Listener& listener);
  // Watches it (epoll) and keeps it; io_uring: the caller arms its recv.
  Connection* registerConnection(std::unique_ptr<Connection> owned);
  void countConnection();  // in the metrics, once registered
  void unwatch(Connection& conn);         // no more events for it (hijack, broken, closing)
  void awaitWritable(Connection& conn);   // a write hit EAGAIN

  // the io_uring loop (uring_loop.cpp)
  void runUring();
  void onCompletion(const Uring::Completion& completion);
  void onRecvCompletion(Connection& conn, const Uring::Completion& completion);
  void armAccept(std::size_t listener_index);
  void armRecv(Connection& conn);
  void stopRecv(Connection& conn);  // cancel the armed recv (its last completion still comes)
  void finishHijack(Connection& conn);
  void handleMailbox();
  void handleMessage(LoopMessage& message);
  void startDraining();
  Connection* find(std::uint64_t id);

  // reading (connection_read.cpp)
  void onReadable(Connection& conn);                               // epoll: read what is there
  void onReceived(Connection& conn, const char* data, std::size_t n);  // io_uring: n == 0 is EOF
  void afterRead(Connection& conn);
  bool settleProtocol(Connection& conn);
  // A bind with ?proxy_protocol: the header before any HTTP. False while it
  // is incomplete, or when it was malformed (the connection is then closed).
  bool readProxyHeader(Connection& conn);

  // SessionHost: what a connection's session may ask of the loop
  Clock::time_point now() const override { return now_; }
  const config::Settings& settings() const override { return settings_; }
  const std::shared_ptr<LoopMailbox>& mailbox() const override { return mailbox_; }
  void dispatch(std::shared_ptr<Exchange> exchange) override { queue_.push(std::move(exchange)); }
  void flushSoon(Connection& conn) override;
  void closeNow(Connection& conn) override { doomed_.push_back(conn.id); }
  void resumeReading(Connection& conn) override;  // after read_paused
  void handOver(Connection& conn, const std::shared_ptr<Exchange>& exchange) override;
  void bridgeHijack(Connection& conn, const std::shared_ptr<Exchange>& exchange);  // handOver under TLS
  Connection* connectionById(std::uint64_t id) override { return find(id); }
  void switchToHttp2(Connection& conn, http1::Request&& request, const std::string& settings) override;
  void switchToWebSocket(Connection& conn, std::shared_ptr<Exchange> exchange,
                         const std::optional<websocket::DeflateParams>& deflate) override;
  websocket::Subscriptions& subscriptions() override { return subscriptions_; }
  void publishLocally(LoopMessage& message);  // a Publish: one frame, every subscriber
  bool admitStream() override {
    if (settings_.http2.max_total_streams != 0 && open_streams_ >= settings_.http2.max_total_streams) return false;
    ++open_streams_;
    stats_.h2_streams.add();
    return true;
  }
  void releaseStream() override { --open_streams_; }
  metrics::WorkerStats& stats() override { return stats_; }
  void recordRequest(const log::AccessRecord& record) override;
  static_files::RouteLookup& routes() override { return routes_; }
  const std::vector<static_files::StaticDirectory>& staticDirectories() const override { return static_dirs_; }

  // writing and closing (connection_write.cpp)
  void queueOutput(Connection& conn, std::string bytes, std::shared_ptr<Exchange> owner) override;
  void queueChunk(Connection& conn, OutputChunk chunk) override;
  void queueFile(Connection& conn, const std::string& path, std::uint64_t size,
                 std::shared_ptr<Exchange> owner) override;
  void flush(Connection& conn) override;
  std::size_t writeNow(Connection& conn, std::string_view bytes) override;
  bool flushTransport(Connection& conn);  // the transport's own pending output; false: wait
  bool sendFileChunk(Connection& conn);  // false: stop flushing for now
  bool readFilePiece(Connection& conn);  // sendFileChunk for a transport that cannot send files
  void markBroken(Connection& conn);
  void closeWhenDone(Connection& conn) override;

  // deadlines (timeouts.cpp)
  void checkTimeouts();

  const config::Settings& settings_;
  std::vector<net::Listener> listeners_;
  DispatchQueue& queue_;
  metrics::WorkerStats& stats_;
  static_files::RouteLookup routes_;
  std::vector<static_files::StaticDirectory> static_dirs_;
  static_files::PageCache page_cache_;  // files that Rack bodies name with to_path
  std::shared_ptr<LoopMailbox> mailbox_;
  net::UniqueFd epoll_;           // when epoll drives the loop
  bool use_uring_ = false;        // decided in the constructor (a probe ring)
  std::string uring_unavailable_;  // why not, for the boot line
  std::unique_ptr<Uring> uring_;  // created on the loop thread (single issuer)
  std::vector<std::uint64_t> rearm_recv_;  // multishot recvs that ended and must be re-armed
  bool rearm_accept_ = false;
  std::vector<bool> accept_armed_;  // io_uring: its accept or poll is in flight (or being cancelled)
  bool accepting_ = true;           // gated listeners are watched (capacity was free at the last check)
  bool gate_accepts_ = false;       // several workers share a socket (not --reuse-port, not -w 0/1)
  std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> connections_;
  TransportFactory transport_factory_;
  net::TokenBucket handshake_bucket_{static_cast<double>(settings_.tls.handshake_rate_limit)};
  std::uint64_t handshakes_refused_ = 0;  // since the last warning about them
  websocket::Subscriptions subscriptions_;
  std::size_t open_streams_ = 0;          // HTTP/2 streams of every connection (admitStream)
  Clock::time_point handshakes_refused_logged_{};
  std::uint64_t next_id_ = 1;
  std::vector<LoopMessage> inbox_;
  std::vector<std::uint64_t> to_flush_;  // connections with output queued by the current mailbox batch
  std::unique_ptr<char[]> read_buffer_ = std::make_unique<char[]>(kReadBufferBytes);
  std::vector<std::uint64_t> doomed_;  // destroyed at the end of the loop iteration
  bool listening_ = true;
  Clock::time_point now_{};
  Clock::time_point last_timeout_scan_{};

  std::mutex stopped_mutex_;
  std::condition_variable stopped_cv_;
  bool stopped_ = false;
  std::atomic<std::uint64_t> iterations_{0};
};

}  // namespace hyperion::server
