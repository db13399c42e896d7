#pragma once
// HTTP/1 renderings of the answers the loop gives without Ruby: a cached
// file's StaticReply and a prebuilt route. What to answer is decided in
// static/ for every protocol; only the wire form is decided here.
#include <cstddef>
#include <string>

#include "hyperion/http/response_head.hpp"
#include "hyperion/static/route_table.hpp"
#include "hyperion/static/static_response.hpp"

namespace hyperion::http1 {

// Status line, Date, Server, the reply's headers, Connection, blank line.
std::string staticFileHead(const static_files::StaticReply& reply, int version_minor, bool keep_alive);

// A prebuilt route's head without the lines that change per request (Date,
// Connection): made once, at registration.
std::string routeHeadPrefix(int status, const http::HeaderList& headers, std::size_t body_size);

// The bytes a static route answers with, for one request.
void appendRouteResponse(std::string& out, const static_files::Route& route, bool head_request, bool keep_alive,
                         int version_minor);

}  // namespace hyperion::http1
