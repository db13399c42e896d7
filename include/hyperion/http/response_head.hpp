#pragma once
// A response as the app gave it, before any protocol frames it: what a Ruby
// thread hands the loop. The connection's session turns it into wire bytes
// (HTTP/1.1: status line, Content-Length or chunked, Connection, Date,
// Server; HTTP/2 would make a HEADERS frame), so the Ruby side knows no
// protocol.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hyperion::http {

struct Header {
  std::string name;  // as given
  std::string value;
};

struct ResponseHead {
  int status = 200;
  std::vector<Header> headers;  // validated; Rack-internal (rack.*) ones already dropped
  // The whole body's size when it is in hand (an Array body, a file): it
  // wins over a Content-Length the app declared.
  std::optional<std::uint64_t> body_length;
  // The server itself ends the connection after this response (an error it
  // answers for the app).
  bool close = false;
  // Rack partial hijack: the app writes the body on the raw socket, so the
  // headers go out as given (a 101 keeps its Connection/Upgrade) and nothing
  // is framed or written after them.
  bool raw = false;
};

// Whether a response to `is_head_request` with `status` carries body bytes
// at all, in any protocol (HEAD, 1xx, 204, 304 do not).
inline bool responseHasBody(int status, bool is_head_request) {
  return !is_head_request && status >= 200 && status != 204 && status != 304;
}

}  // namespace hyperion::http
