#pragma once
// A protocol spoken over one connection, and what the loop offers it.
//
// The loop (HttpServer) owns the socket part of a connection: the fd, its
// transport, the input and output buffers, epoll/io_uring arming, the write
// and handshake deadlines, lingering close. A Session owns everything the
// protocol decides: how input becomes requests, which requests go to Ruby
// (as Exchanges) and which are answered natively, what a reply from a Ruby
// thread means on the wire, when an idle connection times out and whether it
// stays open. HTTP/1.1 is one Session (http1/session.hpp); an HTTP/2 or a
// WebSocket session implements the same calls, so switching protocol on a
// live connection replaces the session and keeps conn.input.
//
// Everything here runs on the loop thread.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hyperion::config {
struct Settings;
}
namespace hyperion::http1 {
struct Request;
}
namespace hyperion::websocket {
class Subscriptions;
struct DeflateParams;
}  // namespace hyperion::websocket
namespace hyperion::log {
struct AccessRecord;
}
namespace hyperion::metrics {
struct WorkerStats;
}
namespace hyperion::static_files {
class RouteLookup;
class StaticDirectory;
}  // namespace hyperion::static_files

namespace hyperion::server {

struct Connection;
struct OutputChunk;
struct LoopMessage;
class Exchange;
class LoopMailbox;
using Clock = std::chrono::steady_clock;

class Session {
 public:
  virtual ~Session() = default;
  // New plaintext is waiting in conn.input (from conn.input_offset), or
  // conn.peer_closed has just turned true.
  virtual void onInput(Connection& conn) = 0;
  // Every byte queued on the connection has left (the transport's too): a
  // session with more to say (flow-controlled frames) produces it now.
  virtual void onWritable(Connection& conn) = 0;
  // A Ruby thread's message about one of this session's exchanges (owns()
  // was checked by the loop).
  virtual void onMessage(Connection& conn, LoopMessage& message) = 0;
  // The periodic deadline scan, for a connection with no output waiting
  // that is not closing: protocol deadlines (idle keep-alive, slow headers).
  virtual void onTimeout(Connection& conn) = 0;
  // A multiplexed session keeps deadlines per stream (a stalled body, a
  // window never opened) while others run: it is scanned even when busy.
  virtual bool timesItsStreams() const { return false; }
  // The server started draining: finish what runs, accept nothing new.
  virtual void onDrain(Connection& conn) = 0;
  // The socket broke: release every Ruby thread waiting on an exchange.
  virtual void onClientGone() = 0;
  // Whether a Ruby thread holds one of its exchanges (the fd must stay
  // open until it finishes, so its number cannot be reused under it).
  virtual bool busy() const = 0;
  // Whether input should stay buffered (and reading pause once enough is):
  // a Ruby thread is using the connection, or cannot keep up with it.
  virtual bool holdsInput() const { return busy(); }
  virtual bool owns(const Exchange& exchange) const = 0;
};

// The loop's services to the sessions of its connections.
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  virtual Clock::time_point now() const = 0;
  virtual bool draining() const = 0;
  virtual const config::Settings& settings() const = 0;
  // The mailbox new exchanges answer through.
  virtual const std::shared_ptr<LoopMailbox>& mailbox() const = 0;
  // Hands an exchange to the Ruby threads.
  virtual void dispatch(std::shared_ptr<Exchange> exchange) = 0;

  // Output, written in order through the connection's transport. `owner`
  // is told as its bytes leave (the Ruby thread's backpressure).
  virtual void queueOutput(Connection& conn, std::string bytes, std::shared_ptr<Exchange> owner) = 0;
  virtual void queueChunk(Connection& conn, OutputChunk chunk) = 0;
  virtual void flush(Connection& conn) = 0;
  // When nothing is queued: writes what the socket takes of `bytes` now,
  // without queueing, and returns how many it took (0 when something is
  // queued, the socket is full, or the write broke the connection). For a
  // publish to thousands of sockets, where a queue entry per subscriber is
  // pure overhead; the caller queues the rest.
  virtual std::size_t writeNow(Connection& conn, std::string_view bytes) = 0;
  // Flushes once the current batch of Ruby messages is handled (one writev
  // for many small pieces).
  virtual void flushSoon(Connection& conn) = 0;
  // The whole file at `path` (`size` bytes announced): from the page cache,
  // with sendfile, or read in pieces when the transport cannot send files.
  virtual void queueFile(Connection& conn, const std::string& path, std::uint64_t size,
                         std::shared_ptr<Exchange> owner) = 0;

  // Closes once the output is written (conn.linger_on_close: with a
  // lingering close, so a client still sending does not get an RST).
  virtual void closeWhenDone(Connection& conn) = 0;
  // Closes at the end of this loop iteration, whatever is queued.
  virtual void closeNow(Connection& conn) = 0;
  // Reading was paused (conn.read_paused) while a request ran: read again.
  virtual void resumeReading(Connection& conn) = 0;
  // Another connection of this loop, or null when it is gone (a
  // BridgeSession's partner).
  virtual Connection* connectionById(std::uint64_t id) = 0;
  // Rack full hijack: the socket leaves the loop for `exchange`'s thread
  // (over TLS the thread gets a socketpair bridged to it: bridge_session.hpp).
  virtual void handOver(Connection& conn, const std::shared_ptr<Exchange>& exchange) = 0;

  // `Upgrade: h2c` was taken: the 101 is written, the connection's session
  // becomes HTTP/2 (the calling HTTP/1 session is destroyed: it must return
  // at once), and `request` is answered as stream 1. `settings` is the
  // decoded HTTP2-Settings payload.
  virtual void switchToHttp2(Connection& conn, http1::Request&& request, const std::string& settings) = 0;

  // The app accepted a WebSocket upgrade and the 101 is queued: the
  // connection's session becomes a WebSocket one (the calling HTTP/1
  // session is destroyed: it must return at once), its events going to
  // `exchange`'s Channel.
  virtual void switchToWebSocket(Connection& conn, std::shared_ptr<Exchange> exchange,
                                 const std::optional<websocket::DeflateParams>& deflate) = 0;
  // This worker's pub/sub subscriptions (WebSocket sessions register here).
  virtual websocket::Subscriptions& subscriptions() = 0;

  // HTTP/2 streams open in this worker, over all its connections
  // (--h2-max-total-streams): false when a new one must be refused.
  virtual bool admitStream() = 0;
  virtual void releaseStream() = 0;

  // This worker's metrics block (metrics/worker_stats.hpp).
  virtual metrics::WorkerStats& stats() = 0;
  // A request is over (any protocol, answered by Ruby or natively): its
  // access-log line and its metrics.
  virtual void recordRequest(const log::AccessRecord& record) = 0;

  // What the loop answers without Ruby.
  virtual static_files::RouteLookup& routes() = 0;
  virtual const std::vector<static_files::StaticDirectory>& staticDirectories() const = 0;
};

}  // namespace hyperion::server
