#include "hyperion/http1/response.hpp"

#include <charconv>
#include <ctime>

#include <fmt/format.h>

#include "hyperion/http/http_date.hpp"
#include "hyperion/http/server_header.hpp"

namespace hyperion::http1 {
namespace {


bool isTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

bool statusHasNoBody(int status) { return (status >= 100 && status < 200) || status == 204 || status == 304; }

bool isValidHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    if (!isTokenChar(c)) return false;
  }
  return true;
}

bool isValidHeaderValue(std::string_view value) {
  for (unsigned char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

void appendChunk(std::string& out, std::string_view data) {
  if (data.empty()) return;  // an empty chunk would end the body
  fmt::format_to(std::back_inserter(out), "{:x}\r\n", data.size());
  out.append(data);
  out.append("\r\n");
}

ResponsePlan planResponse(const ResponseInput& in) {
  ResponsePlan plan;
  bool app_close = false;
  bool has_date = false;
  bool has_server = false;
  std::optional<std::size_t> declared_length;
  bool app_transfer_encoding = false;
  for (const auto& h : in.headers) {
    if (equalsIgnoreCase(h.name, "content-length")) {
      // Only a plain decimal counts; anything else is ignored (and dropped).
      std::size_t value = 0;
      const char* end = h.value.data() + h.value.size();
      auto [ptr, ec] = std::from_chars(h.value.data(), end, value);
      if (ec == std::errc() && ptr == end && !h.value.empty()) declared_length = value;
    } else if (equalsIgnoreCase(h.name, "transfer-encoding")) {
      app_transfer_encoding = true;
    } else if (equalsIgnoreCase(h.name, "connection")) {
      if (h.value.find("close") != std::string::npos) app_close = true;
    } else if (equalsIgnoreCase(h.name, "date")) {
      has_date = true;
    } else if (equalsIgnoreCase(h.name, "server")) {
      has_server = true;
    }
  }

  const bool no_body_status = statusHasNoBody(in.status);
  std::optional<std::size_t> length_header;  // what we send as Content-Length
  if (no_body_status) {
    plan.framing = BodyFraming::None;
  } else if (in.request_is_head && declared_length) {
    // HEAD: the app's body is usually empty; the length it declares is the
    // length a GET would have (Rack::Files, Rack::Head).
    plan.framing = BodyFraming::ContentLength;
    plan.content_length = *declared_length;
    length_header = *declared_length;
  } else if (in.body_length) {
    // The whole body is in hand: its real size wins over anything declared.
    plan.framing = BodyFraming::ContentLength;
    plan.content_length = *in.body_length;
    length_header = *in.body_length;
  } else if (declared_length) {
    plan.framing = BodyFraming::ContentLength;
    plan.content_length = *declared_length;
    length_header = *declared_length;
  } else if (app_transfer_encoding && in.request_version_minor >= 1) {
    plan.framing = BodyFraming::AppEncoded;
  } else if (in.request_version_minor >= 1) {
    plan.framing = BodyFraming::Chunked;
  } else {
    plan.framing = BodyFraming::CloseDelimited;
  }

  plan.keep_alive = in.request_keep_alive && !in.server_draining && !app_close &&
                    plan.framing != BodyFraming::CloseDelimited;
  // A HEAD answer carries the headers a GET would, but never body bytes.
  const bool chunked_header = plan.framing == BodyFraming::Chunked;
  if (in.request_is_head) plan.framing = BodyFraming::None;

  std::string& out = plan.head;
  out.reserve(256);
  appendStatusLine(out, in.status, in.request_version_minor);
  for (const auto& h : in.headers) {
    if (equalsIgnoreCase(h.name, "content-length") || equalsIgnoreCase(h.name, "connection")) continue;
    if (equalsIgnoreCase(h.name, "transfer-encoding") &&
        (no_body_status || plan.framing == BodyFraming::ContentLength || in.request_version_minor == 0))
      continue;
    appendHeader(out, h.name, h.value);
  }
  if (length_header && !no_body_status) fmt::format_to(std::back_inserter(out), "Content-Length: {}\r\n", *length_header);
  if (chunked_header && !in.request_is_head) out.append("Transfer-Encoding: chunked\r\n");
  appendDateAndServer(out, has_date, has_server);
  endHead(out, plan.keep_alive, in.request_version_minor);
  return plan;
}

std::string buildRawHead(int status, const http::HeaderList& headers, int version_minor) {
  std::string out;
  out.reserve(256);
  appendStatusLine(out, status, version_minor);
  bool has_date = false;
  bool has_server = false;
  for (const auto& h : headers) {
    has_date = has_date || equalsIgnoreCase(h.name, "date");
    has_server = has_server || equalsIgnoreCase(h.name, "server");
    appendHeader(out, h.name, h.value);
  }
  appendDateAndServer(out, has_date, has_server);
  out.append("\r\n");  // no Connection line: the app's own headers decide
  return out;
}

void appendStatusLine(std::string& out, int status, int version_minor) {
  out.append(version_minor >= 1 ? "HTTP/1.1 " : "HTTP/1.0 ");
  fmt::format_to(std::back_inserter(out), "{} {}\r\n", status, reasonPhrase(status));
}

void appendHeader(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

void appendDateAndServer(std::string& out, bool has_date, bool has_server) {
  if (!has_date) appendHeader(out, "Date", http::currentHttpDate());
  if (!has_server) appendHeader(out, "Server", http::kServerName);
}

void endHead(std::string& out, bool keep_alive, int version_minor) {
  if (!keep_alive) out.append("Connection: close\r\n");
  else if (version_minor == 0) out.append("Connection: keep-alive\r\n");
  out.append("\r\n");
}

std::string buildSimpleResponse(int status, std::string_view body, bool keep_alive, int version_minor) {
  ResponseInput input;
  input.status = status;
  input.headers.add("Content-Type", "text/plain; charset=utf-8");
  input.body_length = body.size();
  input.request_keep_alive = keep_alive;
  input.request_version_minor = version_minor;
  ResponsePlan plan = planResponse(input);
  if (!statusHasNoBody(status)) plan.head.append(body);
  return plan.head;
}

}  // namespace hyperion::http1
