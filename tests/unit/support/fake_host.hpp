#pragma once
// The loop's side of a session, minus sockets, for session unit tests:
// output "leaves" on flush() into `wire`.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hyperion/config/settings.hpp"
#include "hyperion/log/logger.hpp"
#include "hyperion/metrics/worker_stats.hpp"
#include "hyperion/server/connection.hpp"
#include "hyperion/server/loop_mailbox.hpp"
#include "hyperion/static/route_table.hpp"
#include "hyperion/static/static_directory.hpp"
#include "hyperion/websocket/session.hpp"
#include "hyperion/websocket/subscriptions.hpp"

namespace hyperion::testing {

using server::Connection;
using server::Exchange;
using namespace std::chrono_literals;

class FakeHost final : public server::SessionHost {
 public:
  FakeHost() : routes_lookup_(route_table_) { settings_.limits.header_timeout = 1000ms; }

  server::Clock::time_point now() const override { return now_; }
  bool draining() const override { return mailbox_->draining(); }
  const config::Settings& settings() const override { return settings_; }
  const std::shared_ptr<server::LoopMailbox>& mailbox() const override { return mailbox_; }
  void dispatch(std::shared_ptr<Exchange> exchange) override { dispatched.push_back(std::move(exchange)); }
  void queueOutput(Connection& conn, std::string bytes, std::shared_ptr<Exchange> owner) override {
    server::OutputChunk chunk;
    chunk.storage = std::move(bytes);
    chunk.owner = std::move(owner);
    queueChunk(conn, std::move(chunk));
  }
  void queueChunk(Connection& conn, server::OutputChunk chunk) override { conn.output.push_back(std::move(chunk)); }
  void flush(Connection& conn) override {
    for (auto& chunk : conn.output) {
      wire.append(chunk.bytes());
      if (chunk.owner) chunk.owner->onBytesWritten(chunk.bytes().size());
    }
    conn.output.clear();
    conn.session->onWritable(conn);
  }
  std::size_t writeNow(Connection& conn, std::string_view bytes) override {
    if (!conn.output.empty() || write_now_refused) return 0;
    wire.append(bytes);
    return bytes.size();
  }
  void flushSoon(Connection& conn) override { flush(conn); }
  void queueFile(Connection&, const std::string& path, std::uint64_t size, std::shared_ptr<Exchange>) override {
    files.push_back(path + ":" + std::to_string(size));
  }
  void closeWhenDone(Connection&) override { ++closes; }
  void closeNow(Connection&) override { ++closes; }
  void resumeReading(Connection& conn) override {
    conn.read_paused = false;
    ++resumes;
  }
  Connection* connectionById(std::uint64_t) override { return nullptr; }
  void handOver(Connection&, const std::shared_ptr<Exchange>& exchange) override { handed_over = exchange; }
  void switchToHttp2(Connection&, http1::Request&& request, const std::string& settings) override {
    upgraded_request = request.target;
    upgrade_settings = settings;
  }
  void switchToWebSocket(Connection& conn, std::shared_ptr<Exchange> exchange,
                         const std::optional<websocket::DeflateParams>& deflate) override {
    auto session = std::make_unique<websocket::WebSocketSession>(*this, conn, std::move(exchange), deflate);
    auto& ws = *session;
    conn.session = std::move(session);
    ws.onInput(conn);
  }
  websocket::Subscriptions& subscriptions() override { return subscriptions_; }
  bool admitStream() override {
    if (stream_limit != 0 && open_streams >= stream_limit) return false;
    ++open_streams;
    return true;
  }
  void releaseStream() override { --open_streams; }
  metrics::WorkerStats& stats() override { return *stats_; }
  void recordRequest(const log::AccessRecord& record) override {
    recorded.push_back(std::string(record.method) + " " + std::string(record.target) + " " +
                       std::to_string(record.status));
  }
  static_files::RouteLookup& routes() override { return routes_lookup_; }
  const std::vector<static_files::StaticDirectory>& staticDirectories() const override { return dirs_; }

  static_files::RouteTable route_table_;
  server::Clock::time_point now_ = server::Clock::now();
  std::vector<std::shared_ptr<Exchange>> dispatched;
  std::vector<std::string> files;
  std::vector<std::string> recorded;  // recordRequest: "METHOD TARGET STATUS"
  std::unique_ptr<metrics::WorkerStats> stats_ = std::make_unique<metrics::WorkerStats>();
  std::shared_ptr<Exchange> handed_over;
  std::string upgraded_request;  // switchToHttp2: the request's target
  std::string upgrade_settings;
  std::string wire;
  bool write_now_refused = false;  // writeNow finds the socket full: the queue path
  std::size_t open_streams = 0;
  std::size_t stream_limit = 0;
  int closes = 0;
  int resumes = 0;

 public:
  config::Settings settings_;
  std::shared_ptr<server::LoopMailbox> mailbox_ = std::make_shared<server::LoopMailbox>();
  static_files::RouteLookup routes_lookup_;
  std::vector<static_files::StaticDirectory> dirs_;
  websocket::Subscriptions subscriptions_;
};

// A reply head as the Rack glue makes it.
inline http::ResponseHead head(int status, std::optional<std::uint64_t> length = std::nullopt,
                               http::HeaderList headers = {}) {
  http::ResponseHead h;
  h.status = status;
  h.body_length = length;
  h.headers = std::move(headers);
  return h;
}

// What the Ruby threads posted, handed to the session as the loop does
// (which drops a message for an exchange the session no longer owns).
// False if there was such a message.
inline bool deliverReplies(FakeHost& host, Connection& conn) {
  std::vector<server::LoopMessage> messages;
  host.mailbox()->drainInto(messages);
  bool all_owned = true;
  for (auto& message : messages) {
    if (conn.session->owns(*message.exchange)) {
      conn.session->onMessage(conn, message);
    } else {
      message.exchange->onClientGone();
      all_owned = false;
    }
  }
  return all_owned;
}

}  // namespace hyperion::testing
