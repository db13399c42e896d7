// Requests the HTTP/1 session answers without Ruby: prebuilt routes and
// preloaded static directories. No Ruby thread, no GVL.
#include "hyperion/http1/native_heads.hpp"
#include "hyperion/http1/response.hpp"
#include "hyperion/http1/session.hpp"
#include "hyperion/log/logger.hpp"
#include "hyperion/server/connection.hpp"
#include "hyperion/static/route_table.hpp"
#include "hyperion/static/static_directory.hpp"
#include "hyperion/static/static_response.hpp"

namespace hyperion::http1 {

using server::Connection;
using server::OutputChunk;

bool Http1Session::answerNatively(Connection& conn, const Request& request, int& handler_id) {
  if (const static_files::Route* route = host_.routes().find(request.method, request.path())) {
    if (!route->is_static) {
      handler_id = route->handler_id;
      return false;
    }
    const bool keep_alive = request.keep_alive && !host_.draining();
    std::string out;
    appendRouteResponse(out, *route, request.isHead(), keep_alive, request.version_minor);
    host_.queueOutput(conn, std::move(out), nullptr);
    finishNative(conn, request, route->status, request.isHead() ? 0 : route->body.size(), keep_alive);
    return true;
  }
  if (!host_.staticDirectories().empty() && (request.method == "GET" || request.method == "HEAD"))
    return answerFromStaticDirectory(conn, request);
  return false;
}

bool Http1Session::answerFromStaticDirectory(Connection& conn, const Request& request) {
  for (const auto& dir : host_.staticDirectories()) {
    auto found = dir.find(request.path());
    if (found.kind == static_files::StaticDirectory::LookupKind::Rejected) {
      reject(conn, {400, "path traversal attempt: " + std::string(request.path())});
      return true;
    }
    if (found.kind != static_files::StaticDirectory::LookupKind::Found) continue;
    const bool keep_alive = request.keep_alive && !host_.draining();
    static_files::StaticReply reply = static_files::buildStaticReply(found.file, static_files::toStaticRequest(request));
    const std::size_t body_bytes = reply.body.size();
    host_.queueOutput(conn, staticFileHead(reply, request.version_minor, keep_alive), nullptr);
    if (!reply.body.empty()) {
      OutputChunk body;
      body.view = reply.body;
      body.keeper = reply.keeper;
      host_.queueChunk(conn, std::move(body));
    }
    finishNative(conn, request, reply.status, body_bytes, keep_alive);
    return true;
  }
  return false;
}

void Http1Session::finishNative(Connection& conn, const Request& request, int status, std::size_t body_bytes,
                                bool keep_alive) {
  host_.recordRequest({conn.peer.remote_addr, request.method, request.target, request.protocol(), status, body_bytes, 0.0});
  conn.idle_since = host_.now();
  if (!keep_alive) conn.close_after_flush = true;
  host_.flush(conn);
}

}  // namespace hyperion::http1
