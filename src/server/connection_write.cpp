// Writing responses and closing: the outbound half of a connection.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "hyperion/log/logger.hpp"
#include "hyperion/server/http_server.hpp"

namespace hyperion::server {
namespace {
constexpr int kMaxIov = 64;
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::uint64_t kSendfilePiece = 1024 * 1024;
constexpr std::uint64_t kReadFilePiece = 256 * 1024;
}  // namespace

void HttpServer::queueOutput(Connection& conn, std::string bytes, std::shared_ptr<Exchange> owner) {
  if (bytes.empty()) return;
  OutputChunk chunk;
  chunk.storage = std::move(bytes);
  chunk.owner = std::move(owner);
  queueChunk(conn, std::move(chunk));
}

void HttpServer::queueChunk(Connection& conn, OutputChunk chunk) {
  if (chunk.length() == 0) return;
  if (conn.output.empty()) conn.last_write = now_;  // the write-timeout clock starts now
  conn.output.push_back(std::move(chunk));
}

void HttpServer::queueFile(Connection& conn, const std::string& path, std::uint64_t size,
                           std::shared_ptr<Exchange> owner) {
  // Small files come from the page cache and leave with the head in one
  // writev; larger ones (or ones that changed size) go out with sendfile.
  if (auto cached = page_cache_.get(path); cached && cached->size == size) {
    stats_.page_cache_hits.add();
    OutputChunk chunk;
    chunk.view = cached->body;
    chunk.keeper = cached;
    chunk.owner = std::move(owner);  // sendFile counted these bytes as unsent
    queueChunk(conn, std::move(chunk));
    flush(conn);
    return;
  }
  stats_.page_cache_misses.add();
  net::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st{};
  if (!fd || ::fstat(fd.get(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) < size) {
    spdlog::error("cannot send {} to {}: {}", path, conn.peer.remote_addr,
                  fd ? "file shorter than announced" : std::strerror(errno));
    markBroken(conn);
    return;
  }
  OutputChunk chunk;
  chunk.file = std::move(fd);
  chunk.file_left = size;
  chunk.owner = std::move(owner);
  queueChunk(conn, std::move(chunk));
  flush(conn);
}

// A transport that cannot send files (TLS without kTLS) gets the file as
// bytes: one bounded piece at a time is read into a chunk queued before the
// rest of the file, so memory stays bounded by the piece however slow the client.
bool HttpServer::readFilePiece(Connection& conn) {
  OutputChunk& front = conn.output.front();
  const std::size_t piece = static_cast<std::size_t>(std::min<std::uint64_t>(front.file_left, kReadFilePiece));
  std::string bytes(piece, '\0');
  ssize_t n;
  do {
    n = ::pread(front.file.get(), bytes.data(), piece, static_cast<off_t>(front.file_offset));
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {  // a read error, or the file shrank: the promised length cannot be met
    spdlog::warn("cannot read the file being sent to {}: {}", conn.peer.remote_addr,
                 n < 0 ? std::strerror(errno) : "it shrank");
    markBroken(conn);
    return false;
  }
  bytes.resize(static_cast<std::size_t>(n));
  OutputChunk chunk;
  chunk.storage = std::move(bytes);
  chunk.owner = front.owner;
  front.file_offset += static_cast<std::uint64_t>(n);
  front.file_left -= static_cast<std::uint64_t>(n);
  if (front.file_left == 0) conn.output.pop_front();
  conn.output.push_front(std::move(chunk));  // output_offset is 0: a file chunk was in front
  return true;
}

bool HttpServer::sendFileChunk(Connection& conn) {
  if (!conn.transport->canSendFile()) return readFilePiece(conn);
  OutputChunk& front = conn.output.front();
  auto offset = static_cast<off_t>(front.file_offset);
  // Bounded pieces: one huge file cannot monopolise the loop.
  const std::size_t piece = static_cast<std::size_t>(std::min<std::uint64_t>(front.file_left, kSendfilePiece));
  ssize_t n = conn.transport->sendFile(front.file.get(), &offset, piece);
  if (n < 0) {
    if (errno == EINTR) return true;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      awaitWritable(conn);
      return false;
    }
    markBroken(conn);
    return false;
  }
  if (n == 0) {  // the file shrank under us: the promised length cannot be met
    spdlog::warn("file shrank while being sent to {}", conn.peer.remote_addr);
    markBroken(conn);
    return false;
  }
  conn.last_write = now_;
  stats_.bytes_out.add(static_cast<std::uint64_t>(n));
  front.file_offset += static_cast<std::uint64_t>(n);
  front.file_left -= static_cast<std::uint64_t>(n);
  if (front.owner) front.owner->onBytesWritten(static_cast<std::size_t>(n));
  if (front.file_left == 0) conn.output.pop_front();
  return true;
}

// Output the transport holds (TLS ciphertext the socket has not taken yet,
// handshake messages) goes before anything else. False: wait for writable.
bool HttpServer::flushTransport(Connection& conn) {
  if (conn.broken || !conn.transport->hasPendingOutput()) return true;
  if (conn.transport->flushPending() == 0) return true;
  if (errno == EAGAIN || errno == EWOULDBLOCK) awaitWritable(conn);
  else markBroken(conn);
  return false;
}

void HttpServer::flush(Connection& conn) {
  if (!flushTransport(conn)) return;
  while (!conn.output.empty() && !conn.broken) {
    if (conn.output.front().isFile()) {
      if (!sendFileChunk(conn)) return;
      continue;
    }
    iovec iov[kMaxIov];
    int count = 0;
    std::size_t offset = conn.output_offset;
    for (auto it = conn.output.begin(); it != conn.output.end() && count < kMaxIov && !it->isFile(); ++it) {
      std::string_view bytes = it->bytes();
      iov[count].iov_base = const_cast<char*>(bytes.data()) + offset;
      iov[count].iov_len = bytes.size() - offset;
      offset = 0;
      ++count;
    }
    ssize_t n = conn.transport->writev(iov, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        awaitWritable(conn);  // flush() runs again once the socket drains
        return;
      }
      markBroken(conn);
      return;
    }
    conn.last_write = now_;
    stats_.bytes_out.add(static_cast<std::uint64_t>(n));
    auto written = static_cast<std::size_t>(n);
    while (written > 0) {
      OutputChunk& front = conn.output.front();
      const std::size_t size = front.bytes().size();
      const std::size_t left = size - conn.output_offset;
      const std::size_t take = written < left ? written : left;
      if (front.owner) front.owner->onBytesWritten(take);
      written -= take;
      conn.output_offset += take;
      if (conn.output_offset == size) {
        conn.output.pop_front();
        conn.output_offset = 0;
      }
    }
  }
  if (!flushTransport(conn)) return;
  if (conn.output.empty() && !conn.broken) conn.session->onWritable(conn);
}

std::size_t HttpServer::writeNow(Connection& conn, std::string_view bytes) {
  if (conn.broken || !conn.output.empty() || bytes.empty() || !flushTransport(conn)) return 0;
  iovec iov{const_cast<char*>(bytes.data()), bytes.size()};
  for (;;) {
    const ssize_t n = conn.transport->writev(&iov, 1);
    if (n >= 0) {
      conn.last_write = now_;
      stats_.bytes_out.add(static_cast<std::uint64_t>(n));
      flushTransport(conn);  // TLS: the records it made; what stays waits for writability
      return static_cast<std::size_t>(n);
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) markBroken(conn);
    return 0;
  }
}

void HttpServer::flushSoon(Connection& conn) {
  if (conn.flush_pending) return;
  conn.flush_pending = true;
  to_flush_.push_back(conn.id);
}

void HttpServer::markBroken(Connection& conn) {
  if (conn.broken) return;
  conn.broken = true;
  for (auto& chunk : conn.output) {
    if (chunk.owner) {
      chunk.owner->onBytesWritten(chunk.isFile() ? static_cast<std::size_t>(chunk.file_left)
                                                 : chunk.bytes().size() - conn.output_offset);
    }
    conn.output_offset = 0;
  }
  conn.output.clear();
  conn.session->onClientGone();
  if (conn.session->busy()) {
    // A Ruby thread still holds an exchange: keep the fd (so its number
    // cannot be reused under it) until the exchange finishes.
    unwatch(conn);
    return;
  }
  doomed_.push_back(conn.id);
}

void HttpServer::closeWhenDone(Connection& conn) {
  conn.close_after_flush = true;
  if (conn.session->busy()) return;
  if (conn.broken) {
    doomed_.push_back(conn.id);
    return;
  }
  if (!conn.output.empty() || conn.transport->hasPendingOutput()) return;  // flush() calls back when drained
  if (conn.linger_on_close && !conn.peer_closed) {
    if (!conn.lingering) {
      conn.transport->shutdownWrite();
      conn.lingering = true;
      conn.linger_until = now_ + kLingerTime;
      conn.input.clear();
      conn.input_offset = 0;
    }
    return;  // onReadable (EOF) or checkTimeouts ends it
  }
  doomed_.push_back(conn.id);
}

}  // namespace hyperion::server
