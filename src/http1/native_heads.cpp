#include "hyperion/http1/native_heads.hpp"

#include <fmt/format.h>

#include "hyperion/http/http_date.hpp"
#include "hyperion/http/server_header.hpp"
#include "hyperion/http1/response.hpp"

namespace hyperion::http1 {

std::string staticFileHead(const static_files::StaticReply& reply, int version_minor, bool keep_alive) {
  std::string out;
  out.reserve(384);
  appendStatusLine(out, reply.status, version_minor);
  appendDateAndServer(out);
  reply.forEachHeader([&out](std::string_view name, std::string_view value) { appendHeader(out, name, value); });
  endHead(out, keep_alive, version_minor);
  return out;
}

std::string routeHeadPrefix(int status, const http::HeaderList& headers, std::size_t body_size) {
  std::string head;
  appendStatusLine(head, status, 1);
  bool has_server = false;
  for (const auto& [name, value] : headers) {
    has_server = has_server || equalsIgnoreCase(name, "server");
    appendHeader(head, name, value);
  }
  if (!has_server) appendHeader(head, "Server", http::kServerName);
  if (!statusHasNoBody(status)) fmt::format_to(std::back_inserter(head), "Content-Length: {}\r\n", body_size);
  return head;
}

void appendRouteResponse(std::string& out, const static_files::Route& route, bool head_request, bool keep_alive,
                         int version_minor) {
  out.append(route.http1_prefix);
  appendHeader(out, "Date", http::currentHttpDate());
  endHead(out, keep_alive, version_minor);
  if (!head_request) out.append(route.body);
}

}  // namespace hyperion::http1
