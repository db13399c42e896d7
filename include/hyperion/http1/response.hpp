#pragma once
// Turning an app's status, headers and body shape into HTTP/1.1 bytes:
// framing (Content-Length, chunked, close-delimited), keep-alive, Date and
// Server. Shared by the Rack glue and the loop's own error answers.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hyperion/http/response_head.hpp"
#include "hyperion/http1/request.hpp"

namespace hyperion::http1 {

enum class BodyFraming {
  None,            // no body bytes at all (HEAD, 1xx, 204, 304)
  ContentLength,   // exactly content_length bytes follow
  Chunked,         // we encode each piece as a chunk
  AppEncoded,      // the app set Transfer-Encoding and encodes itself
  CloseDelimited,  // HTTP/1.0 stream: the body ends when we close
};

struct ResponseInput {
  int status = 200;
  http::HeaderList headers;                // from the app, already validated
  std::optional<std::size_t> body_length;  // known when the whole body is in hand
  bool request_is_head = false;
  int request_version_minor = 1;
  bool request_keep_alive = true;
  bool server_draining = false;  // shutting down: finish this one, then close
};

struct ResponsePlan {
  std::string head;  // status line + headers + blank line
  BodyFraming framing = BodyFraming::None;
  std::size_t content_length = 0;  // for ContentLength
  bool keep_alive = true;
};

ResponsePlan planResponse(const ResponseInput& input);

// The head of a response whose body the app writes itself on the raw socket
// (Rack partial hijack): the status line and the app's headers as given,
// plus Date and Server when absent. No framing is added or removed: the
// server writes nothing after it, and a 101 upgrade needs the app's own
// Connection/Upgrade headers untouched.
std::string buildRawHead(int status, const http::HeaderList& headers, int version_minor);

// The HTTP/1 head rules every response follows, in one place: the status
// line, Date and Server unless the response has its own, and the Connection
// line the keep-alive decision needs (HTTP/1.0 keep-alive must be said).
void appendStatusLine(std::string& out, int status, int version_minor);
void appendHeader(std::string& out, std::string_view name, std::string_view value);
void appendDateAndServer(std::string& out, bool has_date = false, bool has_server = false);
void endHead(std::string& out, bool keep_alive, int version_minor);

// A complete small response the server answers itself (errors, limits).
std::string buildSimpleResponse(int status, std::string_view body, bool keep_alive, int version_minor = 1);

std::string_view reasonPhrase(int status);
bool statusHasNoBody(int status);

// Chunked transfer coding (RFC 9112 section 7.1).
void appendChunk(std::string& out, std::string_view data);
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// Header names and values that cannot split a response.
bool isValidHeaderName(std::string_view name);
bool isValidHeaderValue(std::string_view value);

}  // namespace hyperion::http1
