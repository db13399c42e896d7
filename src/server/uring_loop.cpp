// The loop driven by io_uring instead of epoll (--io-uring). Same connection
// logic; only how bytes come in and how the loop learns about sockets differ:
// listeners have a multishot accept armed, connections a multishot recv into
// provided buffers, the mailbox eventfd a multishot poll. One
// io_uring_submit_and_wait per iteration replaces epoll_wait + one recv per
// readable connection.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <unistd.h>

#include "hyperion/log/logger.hpp"
#include "hyperion/server/http_server.hpp"

namespace hyperion::server {
void HttpServer::runUring() {
  auto created = Uring::create();
  if (!created) {  // the probe in the constructor worked, so this is rare (out of locked memory?)
    spdlog::critical("io_uring setup failed on the loop thread: {}", created.error());
    std::abort();
  }
  uring_ = std::move(created.value());
  uring_->multishotPollIn(mailbox_->eventFd(), Uring::tag(Uring::Op::Mailbox, 0));
  for (std::size_t i = 0; i < listeners_.size(); ++i) watchListener(i);
  accepting_ = true;

  now_ = Clock::now();
  last_timeout_scan_ = now_;
  for (;;) {
    if (draining() && connections_.empty()) break;
    int error = 0;
    if (!uring_->submitAndWait(waitTimeout(), &error)) {
      spdlog::critical("io_uring wait failed: {}", std::strerror(error));
      break;
    }
    now_ = Clock::now();
    uring_->drain([this](const Uring::Completion& completion) { onCompletion(completion); });
    for (std::uint64_t id : rearm_recv_) {
      if (Connection* conn = find(id)) armRecv(*conn);
    }
    rearm_recv_.clear();
    if (rearm_accept_ && listening_ && now_ - last_timeout_scan_ >= kTimeoutScanEvery) {
      // accept failed hard (EMFILE...): try again at the timeout-scan pace
      rearm_accept_ = false;
      for (std::size_t i = 0; i < listeners_.size(); ++i) {
        if (accepting_ || !capacityGated(i)) watchListener(i);
      }
    }
    endIteration();
  }
  // Whatever is still armed (the mailbox poll, accepts of listeners we no
  // longer own) is cancelled when the ring closes.
  uring_.reset();
}

void HttpServer::onCompletion(const Uring::Completion& completion) {
  const std::uint64_t id = Uring::idOf(completion.user_data);
  switch (Uring::opOf(completion.user_data)) {
    case Uring::Op::Mailbox:
      handleMailbox();
      if (!completion.more) uring_->multishotPollIn(mailbox_->eventFd(), Uring::tag(Uring::Op::Mailbox, 0));
      break;
    case Uring::Op::Accept: {
      if (!listening_ || id >= listeners_.size()) {  // draining: the accept was being cancelled
        if (completion.result >= 0) ::close(completion.result);
        break;
      }
      if (!completion.more) accept_armed_[id] = false;
      if (completion.result >= 0) {
        sockaddr_storage addr{};
        socklen_t len = sizeof addr;
        ::getpeername(completion.result, reinterpret_cast<sockaddr*>(&addr), &len);
        if (Connection* conn = adoptConnection(completion.result, addr, listeners_[id])) armRecv(*conn);
      } else if (completion.result != -ECANCELED) {
        spdlog::error("accept on {} failed: {}", listeners_[id].url(), std::strerror(-completion.result));
      }
      if (!completion.more) {
        if (completion.result >= 0 || completion.result == -EINTR || completion.result == -ECONNABORTED)
          armAccept(id);
        else
          rearm_accept_ = true;
      }
      break;
    }
    case Uring::Op::Listen:
      // A shared socket is readable (capacity-gated listeners are polled,
      // not multishot-accepted: the kernel would accept a whole burst into
      // this worker whatever its threads are doing). updateAccepting() arms
      // the next poll once this iteration is over and a thread is free.
      if (id >= accept_armed_.size()) break;
      accept_armed_[id] = false;
      if (!listening_) break;
      if (completion.result >= 0) {
        acceptFrom(listeners_[id].fd.get(), listeners_[id]);
      } else if (completion.result != -ECANCELED) {
        spdlog::error("poll on {} failed: {}", listeners_[id].url(), std::strerror(-completion.result));
        rearm_accept_ = true;
      }
      break;
    case Uring::Op::Recv:
      if (Connection* conn = find(id)) onRecvCompletion(*conn, completion);
      break;
    case Uring::Op::PollOut:
      if (Connection* conn = find(id); conn && conn->pollout_armed) {
        conn->pollout_armed = false;
        flush(*conn);
      }
      break;
    case Uring::Op::Cancel:
      break;
  }
}

void HttpServer::onRecvCompletion(Connection& conn, const Uring::Completion& completion) {
  if (!completion.more) {
    conn.recv_armed = false;
    conn.recv_stopping = false;
  }
  const int result = completion.result;
  if (result > 0) {
    onReceived(conn, completion.data.data(), completion.data.size());
  } else if (result == 0) {
    onReceived(conn, nullptr, 0);  // EOF
  } else if (result == -ENOBUFS) {
    // Every provided buffer was in use; they are back once this batch is
    // processed, so re-arm then.
  } else if (result != -ECANCELED && result != -EINTR) {
    markBroken(conn);
  }
  if (conn.hijack_waiting) {
    if (!conn.recv_armed) finishHijack(conn);
    return;
  }
  // A multishot recv also ends on its own (buffers ran out, an internal
  // overflow): keep reading unless we meant it to stop.
  // (A cancelled recv comes here too: if reading was resumed meanwhile, the
  // resume found it still armed, so re-arm now.)
  if (!conn.recv_armed && !conn.read_paused && !conn.peer_closed && !conn.broken) rearm_recv_.push_back(conn.id);
}

void HttpServer::armAccept(std::size_t listener_index) {
  uring_->multishotAccept(listeners_[listener_index].fd.get(), Uring::tag(Uring::Op::Accept, listener_index));
  accept_armed_[listener_index] = true;
}

void HttpServer::armRecv(Connection& conn) {
  if (conn.recv_armed || conn.broken || conn.peer_closed || !conn.fd.valid()) return;
  uring_->multishotRecv(conn.fd.get(), Uring::tag(Uring::Op::Recv, conn.id));
  conn.recv_armed = true;
  conn.recv_stopping = false;
}

void HttpServer::stopRecv(Connection& conn) {
  if (!uring_ || !conn.recv_armed || conn.recv_stopping) return;
  uring_->cancel(Uring::tag(Uring::Op::Recv, conn.id));
  conn.recv_stopping = true;
}

}  // namespace hyperion::server
