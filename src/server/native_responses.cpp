// Requests answered by the loop itself: prebuilt routes, preloaded static
// directories, and files that a Rack body named with to_path. No Ruby, no
// Ruby thread, no GVL.
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "hyperion/http1/response.hpp"
#include "hyperion/log/logger.hpp"
#include "hyperion/server/http_server.hpp"
#include "hyperion/static/static_response.hpp"

namespace hyperion::server {
bool HttpServer::answerNatively(Connection& conn, const http1::Request& request, int& handler_id) {
  if (const static_files::Route* route = routes_.find(request.method, request.path())) {
    if (!route->is_static) {
      handler_id = route->handler_id;
      return false;
    }
    const bool keep_alive = request.keep_alive && !draining();
    std::string out;
    static_files::appendRouteResponse(out, *route, request.isHead(), keep_alive, request.version_minor);
    queueOutput(conn, std::move(out), nullptr);
    finishNative(conn, request, route->status, request.isHead() ? 0 : route->body.size(), keep_alive);
    return true;
  }
  if (!static_dirs_.empty() && (request.method == "GET" || request.method == "HEAD"))
    return answerFromStaticDirectory(conn, request);
  return false;
}

bool HttpServer::answerFromStaticDirectory(Connection& conn, const http1::Request& request) {
  for (const auto& dir : static_dirs_) {
    auto found = dir.find(request.path());
    if (found.kind == static_files::StaticDirectory::LookupKind::Rejected) {
      rejectRequest(conn, {400, "path traversal attempt: " + std::string(request.path())});
      return true;
    }
    if (found.kind != static_files::StaticDirectory::LookupKind::Found) continue;
    const bool keep_alive = request.keep_alive && !draining();
    static_files::StaticRequest static_request = static_files::toStaticRequest(request);
    static_request.keep_alive = keep_alive;  // also closes when the server is draining
    static_files::StaticReply reply = static_files::buildStaticReply(found.file, static_request);
    const std::size_t body_bytes = reply.body.size();
    queueOutput(conn, std::move(reply.head), nullptr);
    if (!reply.body.empty()) {
      OutputChunk body;
      body.view = reply.body;
      body.keeper = reply.keeper;
      queueChunk(conn, std::move(body));
    }
    finishNative(conn, request, reply.status, body_bytes, keep_alive);
    return true;
  }
  return false;
}

void HttpServer::finishNative(Connection& conn, const http1::Request& request, int status, std::size_t body_bytes,
                              bool keep_alive) {
  log::logAccess({conn.peer.remote_addr, request.method, request.target, request.protocol(), status, body_bytes, 0.0});
  conn.idle_since = now_;
  if (!keep_alive) conn.close_after_flush = true;
  flush(conn);
}

void HttpServer::onSendFile(Connection& conn, LoopMessage& message) {
  // Small files come from the page cache and leave with the head in one
  // writev; larger ones (or ones that changed size) go out with sendfile.
  if (auto cached = page_cache_.get(message.path); cached && cached->size == message.size) {
    OutputChunk chunk;
    chunk.view = cached->body;
    chunk.keeper = cached;
    chunk.owner = message.exchange;  // sendFile counted these bytes as unsent
    queueChunk(conn, std::move(chunk));
    flush(conn);
    return;
  }
  net::UniqueFd fd(::open(message.path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st{};
  if (!fd || ::fstat(fd.get(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) < message.size) {
    spdlog::error("cannot send {} to {}: {}", message.path, conn.peer.remote_addr,
                  fd ? "file shorter than announced" : std::strerror(errno));
    markBroken(conn);
    return;
  }
  OutputChunk chunk;
  chunk.file = std::move(fd);
  chunk.file_left = message.size;
  chunk.owner = message.exchange;
  queueChunk(conn, std::move(chunk));
  flush(conn);
}

}  // namespace hyperion::server
