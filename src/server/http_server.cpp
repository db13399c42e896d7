#include "hyperion/server/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "hyperion/http1/session.hpp"
#include "hyperion/net/peer_address.hpp"
#include "hyperion/websocket/frame.hpp"
#include "hyperion/log/logger.hpp"

namespace hyperion::server {
namespace {

// epoll user data: which kind of fd woke us.
constexpr std::uint64_t kMailboxTag = 0;
constexpr std::uint64_t kConnectionBit = 1ull << 63;
constexpr int kMaxEvents = 256;
constexpr int kAcceptBatch = 64;
// A running Ruby thread that has not taken a queued job for this long is
// busy (sleeping, in IO, or in a slow request): wake another.
constexpr auto kDispatchStall = std::chrono::milliseconds(2);

}  // namespace

HttpServer::HttpServer(const config::Settings& settings, std::vector<net::Listener> listeners, DispatchQueue& queue,
                       const static_files::RouteTable& routes, std::vector<static_files::StaticDirectory> static_dirs,
                       metrics::WorkerStats& stats)
    : settings_(settings),
      listeners_(std::move(listeners)),
      queue_(queue),
      stats_(stats),
      routes_(routes),
      static_dirs_(std::move(static_dirs)),
      page_cache_(static_files::PageCache::Options{settings.page_cache.recheck_interval, settings.page_cache.max_bytes,
                                                   settings.page_cache.max_file_bytes, {}}),
      mailbox_(std::make_shared<LoopMailbox>()),
      accept_armed_(listeners_.size(), false),
      // With -w 0 or 1 nobody else could take the connection; with
      // --reuse-port each socket is ours alone (the kernel picked us).
      gate_accepts_(settings.workers >= 2) {
  if (settings.io_uring != config::IoUringMode::Off) {
    // A throwaway ring proves the kernel allows everything the loop needs;
    // the real one is made on the loop thread (IORING_SETUP_SINGLE_ISSUER).
    auto probe = Uring::create();
    use_uring_ = probe.ok();
    if (!probe) uring_unavailable_ = probe.error();
    if (!probe && settings.io_uring == config::IoUringMode::On)
      throw std::runtime_error("--io-uring on, but io_uring is unavailable: " + probe.error());
  }
  stats_.io_uring.set(use_uring_ ? 1 : 0);
  stats_.threads.set(static_cast<std::int64_t>(settings.threads));
  if (use_uring_) return;
  epoll_ = net::UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kMailboxTag;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, mailbox_->eventFd(), &ev);
  for (std::size_t i = 0; i < listeners_.size(); ++i) {
    if (!watchListener(i)) throw std::runtime_error(std::string("epoll_ctl listener: ") + std::strerror(errno));
  }
}

HttpServer::~HttpServer() = default;

std::string HttpServer::ioDescription() const {
  if (use_uring_) return "io_uring";
  if (settings_.io_uring == config::IoUringMode::Off) return "epoll (--io-uring off)";
  return "epoll (io_uring unavailable: " + uring_unavailable_ + ")";
}

void HttpServer::run() {
  ::pthread_setname_np(::pthread_self(), "hyperion-loop");  // for top -H, perf, /proc/PID/task
  if (use_uring_) {
    runUring();
  } else {
    runEpoll();
  }
  {
    std::lock_guard lock(stopped_mutex_);
    stopped_ = true;
  }
  stopped_cv_.notify_all();
}

void HttpServer::runEpoll() {
  epoll_event events[kMaxEvents];
  now_ = Clock::now();
  last_timeout_scan_ = now_;
  for (;;) {
    if (draining() && connections_.empty()) break;
    int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, static_cast<int>(waitTimeout().count()));
    now_ = Clock::now();
    if (n < 0 && errno != EINTR) {
      spdlog::critical("epoll_wait failed: {}", std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      const std::uint64_t tag = events[i].data.u64;
      if (tag == kMailboxTag) {
        handleMailbox();
      } else if (tag & kConnectionBit) {
        Connection* conn = find(tag & ~kConnectionBit);
        if (!conn) continue;
        if (events[i].events & (EPOLLERR)) {
          markBroken(*conn);
          continue;
        }
        if (events[i].events & EPOLLOUT) flush(*conn);
        if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) onReadable(*conn);
      } else if (listening_) {
        const std::size_t index = tag - 1;
        acceptFrom(listeners_[index].fd.get(), listeners_[index]);
      }
    }
    endIteration();
  }
}

std::chrono::milliseconds HttpServer::waitTimeout() const {
  return queue_.hasPending() ? std::chrono::milliseconds(1) : kTimeoutScanEvery;
}

void HttpServer::recordRequest(const log::AccessRecord& record) {
  stats_.recordRequest(record.method, record.target, record.status,
                       std::chrono::nanoseconds(static_cast<std::int64_t>(record.duration_ms * 1e6)));
  log::logAccess(record);
}

void HttpServer::endIteration() {
  iterations_.fetch_add(1, std::memory_order_relaxed);
  // Levels the master reads when scraped: plain stores, once an iteration.
  stats_.queue_depth.set(static_cast<std::int64_t>(queue_.pendingHint()));
  stats_.busy_threads.set(static_cast<std::int64_t>(queue_.busyHint()));
  if (queue_.hasPending()) {
    queue_.wakeIfAllIdle();  // one wake-up for everything this batch queued
    queue_.wakeIfStalled(now_, kDispatchStall);
  }
  if (now_ - last_timeout_scan_ >= kTimeoutScanEvery) {
    checkTimeouts();
    last_timeout_scan_ = now_;
  }
  for (std::uint64_t id : doomed_) {
    auto it = connections_.find(id);
    if (it == connections_.end()) continue;  // doomed twice
    // io_uring: cancel what is armed (it holds the socket open) before the fd
    // closes. epoll forgets a closed fd by itself.
    if (uring_) unwatch(*it->second);
    Connection& conn = *it->second;
    if (conn.fd.valid() && !conn.broken) conn.transport->closeNotify();  // not after a hijack took the fd
    connections_.erase(it);
    stats_.connections_open.add(-1);
  }
  doomed_.clear();
  updateAccepting();
}

bool HttpServer::capacityGated(std::size_t listener_index) const {
  return gate_accepts_ && listeners_[listener_index].slot == -1;
}

bool HttpServer::watchListener(std::size_t listener_index) {
  if (uring_) {
    if (accept_armed_[listener_index]) return true;
    if (capacityGated(listener_index)) {
      uring_->pollInExclusive(listeners_[listener_index].fd.get(), Uring::tag(Uring::Op::Listen, listener_index));
      accept_armed_[listener_index] = true;
    } else {
      armAccept(listener_index);
    }
    return true;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  // A socket shared by several workers wakes only one of them per connection.
  if (listeners_[listener_index].slot == -1) ev.events |= EPOLLEXCLUSIVE;
  ev.data.u64 = listener_index + 1;
  return ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listeners_[listener_index].fd.get(), &ev) == 0;
}

void HttpServer::unwatchListener(std::size_t listener_index) {
  if (uring_) {
    // Its last completion (-ECANCELED, or connections accepted meanwhile,
    // which are served) clears accept_armed_.
    const auto op = capacityGated(listener_index) ? Uring::Op::Listen : Uring::Op::Accept;
    if (accept_armed_[listener_index]) uring_->cancel(Uring::tag(op, listener_index));
    return;
  }
  // EPOLLEXCLUSIVE cannot be changed with EPOLL_CTL_MOD: remove, re-add later.
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listeners_[listener_index].fd.get(), nullptr);
}

void HttpServer::updateAccepting() {
  if (!gate_accepts_ || !listening_) return;
  // Only the loop adds work (it pushes the jobs), so capacity can only grow
  // between this check and the next accept: a watched socket never wakes a
  // worker that has no thread for the request. Capacity coming back is
  // always followed by a Finish message, which wakes the loop to get here.
  const bool want = queue_.hasCapacity();
  const bool changed = want != accepting_;
  accepting_ = want;
  for (std::size_t i = 0; i < listeners_.size(); ++i) {
    if (!capacityGated(i)) continue;
    if (!want) {
      if (changed) unwatchListener(i);
    } else if (uring_ ? !accept_armed_[i] : changed) {
      // (io_uring: the poll is one-shot, so it is re-armed after every
      // wake-up; a cancelled one once its completion is back)
      if (!watchListener(i)) spdlog::error("cannot watch {} again: {}", listeners_[i].url(), std::strerror(errno));
    }
  }
}

void HttpServer::acceptFrom(int listen_fd, const net::Listener& listener) {
  const bool gated = gate_accepts_ && listener.slot == -1;
  for (int i = 0; i < kAcceptBatch; ++i) {
    // The rest stay in the backlog for a worker with a free thread (every
    // other watching worker was woken by them, or sees them when it next
    // waits: the socket is level-triggered there).
    if (gated && !queue_.hasCapacity()) return;
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      // EMFILE and friends: log and let the next wake-up retry.
      spdlog::error("accept on {} failed: {}", listener.url(), std::strerror(errno));
      return;
    }
    Connection* conn = adoptConnection(fd, addr, listener);
    if (!conn) continue;
    // TCP_DEFER_ACCEPT: the request is usually here already; read it now
    // rather than after another wait (and so it is queued, and counted
    // against this worker's capacity, before the next accept).
    if (listener.address.kind == net::BindAddress::Kind::Tcp) onReadable(*conn);
    // io_uring: the multishot recv starts after that read, so bytes are
    // never split between the two in the wrong order.
    if (uring_ && !conn->read_paused) armRecv(*conn);
  }
}

Connection* HttpServer::adoptConnection(int fd, const sockaddr_storage& addr, const net::Listener& listener) {
  const bool unix_socket = listener.address.kind == net::BindAddress::Kind::Unix;
  if (!unix_socket) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  PeerInfo peer{net::peerAddress(addr), listener.address.port, unix_socket, listener.tls != nullptr};
  const net::ProxyPolicy& proxy = listener.address.proxy;
  if (proxy.version && !proxy.trusts(addr)) {
    // Anyone could claim any client address in a PROXY header: only the
    // bind's proxies may connect (loopback when proxy_trusted is not given).
    spdlog::warn("closing {}: not a trusted proxy for {} (proxy_trusted)", peer.remote_addr, listener.url());
    stats_.proxy_headers_rejected.add();
    ::close(fd);
    return nullptr;
  }
  std::unique_ptr<net::Transport> transport;
  if (listener.tls) {
    if (!handshake_bucket_.take(now_)) {
      // Over the rate: closed before any handshake CPU is spent. One warning
      // a second at most, with the count, so a storm does not flood the log.
      ++handshakes_refused_;
      if (now_ - handshakes_refused_logged_ >= std::chrono::seconds(1)) {
        spdlog::warn("TLS handshake rate limit ({}/s): closed {} new connection(s)", settings_.tls.handshake_rate_limit,
                     handshakes_refused_);
        handshakes_refused_ = 0;
        handshakes_refused_logged_ = now_;
      }
      ::close(fd);
      return nullptr;
    }
    try {
      transport = std::make_unique<net::TlsTransport>(fd, *listener.tls, peer.remote_addr);
    } catch (const std::bad_alloc&) {
      spdlog::error("no memory for a TLS connection from {}", peer.remote_addr);
      ::close(fd);
      return nullptr;
    }
  } else if (transport_factory_) transport = transport_factory_(fd);
  const std::uint64_t id = next_id_++;
  auto owned = std::make_unique<Connection>(id, net::UniqueFd(fd), std::move(transport), std::move(peer));
  Connection& conn = *owned;
  // HTTP/1.1 until the protocol says otherwise (ALPN h2, an h2c preface or
  // Upgrade, a WebSocket 101 will replace it and keep conn.input).
  conn.session = std::make_unique<http1::Http1Session>(static_cast<SessionHost&>(*this));
  conn.proxy_version = proxy.version;
  conn.idle_since = conn.last_read = conn.last_write = now_;
  return registerConnection(std::move(owned));
}

Connection* HttpServer::registerConnection(std::unique_ptr<Connection> owned) {
  Connection& conn = *owned;
  const std::uint64_t id = conn.id;
  const int fd = conn.fd.get();
  if (uring_) {  // the caller arms the recv
    connections_.emplace(id, std::move(owned));
    countConnection();
    return &conn;
  }
  epoll_event ev{};
  // Edge-triggered, registered once: no epoll_ctl per request.
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = id | kConnectionBit;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    spdlog::error("epoll_ctl add connection: {}", std::strerror(errno));
    return nullptr;  // `owned` closes the socket
  }
  connections_.emplace(id, std::move(owned));
  countConnection();
  return &conn;
}

void HttpServer::countConnection() {
  stats_.connections_accepted.add();
  stats_.connections_open.add(1);
}

void HttpServer::unwatch(Connection& conn) {
  if (!uring_) {
    if (conn.fd.valid()) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, conn.fd.get(), nullptr);
    return;
  }
  stopRecv(conn);
  if (conn.pollout_armed) {
    uring_->cancel(Uring::tag(Uring::Op::PollOut, conn.id));
    conn.pollout_armed = false;  // its completion finds nothing to flush
  }
}

void HttpServer::awaitWritable(Connection& conn) {
  // epoll: the connection is registered edge-triggered for EPOLLOUT already.
  if (!uring_ || conn.pollout_armed) return;
  uring_->pollOut(conn.fd.get(), Uring::tag(Uring::Op::PollOut, conn.id));
  conn.pollout_armed = true;
}

void HttpServer::resumeReading(Connection& conn) {
  if (!conn.read_paused) return;
  conn.read_paused = false;
  if (!uring_) {
    onReadable(conn);
    return;
  }
  armRecv(conn);
}

Connection* HttpServer::find(std::uint64_t id) {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second.get();
}

void HttpServer::beginShutdown() { mailbox_->post(LoopMessage{LoopMessage::Kind::Shutdown, nullptr, {}, false}); }

bool HttpServer::waitStopped(std::chrono::milliseconds timeout) {
  std::unique_lock lock(stopped_mutex_);
  return stopped_cv_.wait_for(lock, timeout, [&] { return stopped_; });
}

void HttpServer::handleMailbox() {
  mailbox_->drainInto(inbox_);
  for (LoopMessage& message : inbox_) handleMessage(message);
  inbox_.clear();
  // Bytes queued by this batch leave in one writev per connection: a stream
  // that produced many small chunks (SSE) costs one syscall, not one each.
  for (std::uint64_t id : to_flush_) {
    if (Connection* conn = find(id)) {
      conn->flush_pending = false;
      flush(*conn);
    }
  }
  to_flush_.clear();
}

void HttpServer::handleMessage(LoopMessage& message) {
  if (message.kind == LoopMessage::Kind::Shutdown) {
    startDraining();
    return;
  }
  if (message.kind == LoopMessage::Kind::Publish) {
    publishLocally(message);
    return;
  }
  if (message.kind == LoopMessage::Kind::Wake || !message.exchange) return;
  Exchange& exchange = *message.exchange;
  Connection* conn = find(exchange.connectionId());
  if (!conn || !conn->fd.valid() || !conn->session->owns(exchange)) {
    // The connection went away (or its socket was handed over to a hijack):
    // nothing will be written; release whoever waits on this exchange.
    exchange.onClientGone();
    if (message.kind == LoopMessage::Kind::Hijack) exchange.completeHijack(-1, {});
    return;
  }
  conn->session->onMessage(*conn, message);
}

void HttpServer::publishLocally(LoopMessage& message) {
  const auto* subscribers = subscriptions_.find(message.path);
  if (!subscribers) return;
  // Framed once, uncompressed (permessage-deflate allows any message to go
  // out plain), and shared by every subscriber's output queue.
  auto frame = std::make_shared<const std::string>(
      websocket::buildFrame(message.complete ? websocket::Opcode::Text : websocket::Opcode::Binary, message.bytes));
  // A delivery that ends a connection only dooms it: sessions (and their
  // subscriptions) go at the end of the loop iteration, so the set holds still.
  const auto started = Clock::now();
  for (auto* subscriber : *subscribers) subscriber->deliver(frame);
  if (subscribers->size() >= 1000) {
    spdlog::debug("published {} bytes on {} to {} subscribers in {:.1f} ms", message.bytes.size(), message.path,
                  subscribers->size(), std::chrono::duration<double, std::milli>(Clock::now() - started).count());
  }
}

void HttpServer::startDraining() {
  if (draining()) return;
  mailbox_->setDraining();
  listening_ = false;
  for (std::size_t i = 0; i < listeners_.size(); ++i) unwatchListener(i);  // paused ones: a harmless ENOENT
  listeners_.clear();  // closes our copies; the master keeps its own
  for (auto& [id, conn] : connections_) conn->session->onDrain(*conn);
}

}  // namespace hyperion::server
