#include "hyperion/http1/request_parser.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hyperion::http1 {
namespace {

RequestParser* self(llhttp_t* p) { return static_cast<RequestParser*>(p->data); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Header lines cost their bytes plus ": " and CRLF.
constexpr std::size_t kHeaderLineOverhead = 4;

}  // namespace

RequestParser::RequestParser(const config::Limits& limits, std::string tmp_dir)
    : limits_(limits), tmp_dir_(std::move(tmp_dir)) {
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = &RequestParser::onMessageBegin;
  settings_.on_method = &RequestParser::onMethod;
  settings_.on_url = &RequestParser::onUrl;
  settings_.on_header_field = &RequestParser::onHeaderField;
  settings_.on_header_value = &RequestParser::onHeaderValue;
  settings_.on_header_value_complete = &RequestParser::onHeaderValueComplete;
  settings_.on_headers_complete = &RequestParser::onHeadersComplete;
  settings_.on_body = &RequestParser::onBody;
  settings_.on_message_complete = &RequestParser::onMessageComplete;
  llhttp_init(&parser_, HTTP_REQUEST, &settings_);
  parser_.data = this;
}

RequestParser::Outcome RequestParser::feed(const char* data, std::size_t length) {
  if (paused_) {
    // The previous request was taken; continue where llhttp stopped.
    if (paused_for_upgrade_) llhttp_resume_after_upgrade(&parser_);
    else llhttp_resume(&parser_);
    paused_ = paused_for_upgrade_ = false;
  }
  if (length == 0) return {Status::NeedMore, 0};
  llhttp_errno_t rc = llhttp_execute(&parser_, data, length);
  // llhttp reports a refusing callback as HPE_USER or HPE_CB_<NAME>; either
  // way the status and reason we chose stand.
  if (rejected_) return {Status::Failed, 0};
  switch (rc) {
    case HPE_OK:
      return {Status::NeedMore, length};
    case HPE_PAUSED:
    case HPE_PAUSED_UPGRADE: {
      paused_ = true;
      paused_for_upgrade_ = rc == HPE_PAUSED_UPGRADE;
      const char* stop = llhttp_get_error_pos(&parser_);
      std::size_t consumed = stop ? static_cast<std::size_t>(stop - data) : length;
      if (!ready_) return {Status::NeedMore, consumed};  // not expected: pause without a message
      return {Status::RequestReady, consumed};
    }
    case HPE_INVALID_TRANSFER_ENCODING:
      fail(501, "unsupported Transfer-Encoding");
      return {Status::Failed, 0};
    case HPE_UNEXPECTED_CONTENT_LENGTH:
    case HPE_INVALID_CONTENT_LENGTH:
      fail(400, std::string("bad Content-Length: ") + llhttp_get_error_reason(&parser_));
      return {Status::Failed, 0};
    default:
      fail(400, std::string(llhttp_errno_name(rc)) + ": " + llhttp_get_error_reason(&parser_));
      return {Status::Failed, 0};
  }
}

Request RequestParser::takeRequest() {
  ready_ = false;
  Request out = std::move(current_);
  current_ = Request{};
  return out;
}

bool RequestParser::takeContinueRequest() { return std::exchange(continue_requested_, false); }

int RequestParser::fail(int status, std::string reason) {
  error_ = ParseError{status, std::move(reason)};
  rejected_ = true;
  llhttp_set_error_reason(&parser_, "rejected");
  return HPE_USER;
}

bool RequestParser::countHeaderBytes(std::size_t n) {
  header_bytes_ += n;
  return header_bytes_ <= limits_.max_header_bytes;
}

int RequestParser::onMessageBegin(llhttp_t* p) {
  auto* s = self(p);
  s->phase_ = Phase::Headers;
  s->header_bytes_ = 0;
  s->in_value_ = false;
  s->current_ = Request{};
  return 0;
}

int RequestParser::onMethod(llhttp_t* p, const char* at, std::size_t len) {
  auto* s = self(p);
  s->current_.method.append(at, len);
  if (!s->countHeaderBytes(len)) return s->fail(431, "request header block too large");
  return 0;
}

int RequestParser::onUrl(llhttp_t* p, const char* at, std::size_t len) {
  auto* s = self(p);
  s->current_.target.append(at, len);
  if (s->current_.target.size() > s->limits_.max_uri_bytes) return s->fail(414, "request target too long");
  if (!s->countHeaderBytes(len)) return s->fail(431, "request header block too large");
  return 0;
}

int RequestParser::onHeaderField(llhttp_t* p, const char* at, std::size_t len) {
  auto* s = self(p);
  // Chunked trailers: counted against the header limit, never merged into the
  // request headers (a trailer must not rewrite Content-Length or Host).
  if (s->phase_ == Phase::Body) return s->countHeaderBytes(len) ? 0 : s->fail(431, "trailers too large");
  if (s->in_value_ || s->current_.headers.empty()) {
    s->current_.headers.push_back(Header{});
    s->in_value_ = false;
  }
  s->current_.headers.back().name.append(at, len);
  if (!s->countHeaderBytes(len + kHeaderLineOverhead)) return s->fail(431, "request header block too large");
  return 0;
}

int RequestParser::onHeaderValue(llhttp_t* p, const char* at, std::size_t len) {
  auto* s = self(p);
  if (s->phase_ == Phase::Body) return s->countHeaderBytes(len) ? 0 : s->fail(431, "trailers too large");
  s->in_value_ = true;
  s->current_.headers.back().value.append(at, len);
  if (!s->countHeaderBytes(len)) return s->fail(431, "request header block too large");
  return 0;
}

int RequestParser::onHeaderValueComplete(llhttp_t* p) {
  auto* s = self(p);
  if (s->phase_ == Phase::Body) return 0;
  if (s->current_.headers.empty()) {  // empty value: llhttp skipped on_header_value
    return 0;
  }
  auto& value = s->current_.headers.back().value;
  std::string_view trimmed = trim(value);
  if (trimmed.size() != value.size()) value = std::string(trimmed);
  s->in_value_ = true;
  return 0;
}

int RequestParser::validateHeaders() {
  Request& r = current_;
  r.version_major = llhttp_get_http_major(&parser_);
  r.version_minor = llhttp_get_http_minor(&parser_);
  // llhttp parses any digit pair; only HTTP/1.0 and 1.1 are spoken on this
  // connection (an h2 client must use the preface or TLS ALPN instead).
  if (r.version_major != 1 || r.version_minor > 1)
    return fail(505, "unsupported protocol version HTTP/" + std::to_string(r.version_major) + "." +
                         std::to_string(r.version_minor));
  const std::string* transfer_encoding = nullptr;
  int content_lengths = 0;
  bool host = false;
  for (const auto& h : r.headers) {
    if (equalsIgnoreCase(h.name, "transfer-encoding")) transfer_encoding = &h.value;
    else if (equalsIgnoreCase(h.name, "content-length")) ++content_lengths;
    else if (equalsIgnoreCase(h.name, "host")) host = true;
  }
  // Request smuggling guards: a body length must have exactly one meaning.
  if (transfer_encoding && content_lengths > 0) return fail(400, "both Content-Length and Transfer-Encoding");
  if (content_lengths > 1) return fail(400, "more than one Content-Length");
  if (transfer_encoding && !equalsIgnoreCase(trim(*transfer_encoding), "chunked"))
    return fail(501, "unsupported Transfer-Encoding: " + *transfer_encoding);
  if (r.version_major == 1 && r.version_minor >= 1 && !host) return fail(400, "HTTP/1.1 request without Host");
  if (content_lengths == 1 && parser_.content_length > limits_.max_body_bytes)
    return fail(413, "Content-Length " + std::to_string(parser_.content_length) + " over the limit");
  if (const std::string* expect = r.header("expect")) {
    if (!equalsIgnoreCase(trim(*expect), "100-continue")) return fail(417, "unsupported Expect: " + *expect);
    bool has_body = transfer_encoding || (content_lengths == 1 && parser_.content_length > 0);
    if (r.version_minor >= 1 && has_body) continue_requested_ = true;
  }
  return 0;
}

int RequestParser::onHeadersComplete(llhttp_t* p) {
  auto* s = self(p);
  if (int rc = s->validateHeaders(); rc != 0) return rc;
  s->current_.method = llhttp_method_name(static_cast<llhttp_method_t>(llhttp_get_method(p)));
  s->phase_ = Phase::Body;
  return 0;
}

int RequestParser::onBody(llhttp_t* p, const char* at, std::size_t len) {
  auto* s = self(p);
  if (s->current_.body.size + len > s->limits_.max_body_bytes) return s->fail(413, "request body over the limit");
  if (!s->current_.body.append(at, len, s->limits_.body_memory_bytes, s->tmp_dir_))
    return s->fail(500, std::string("cannot buffer request body in ") + s->tmp_dir_ + ": " + std::strerror(errno));
  return 0;
}

int RequestParser::onMessageComplete(llhttp_t* p) {
  auto* s = self(p);
  s->current_.keep_alive = llhttp_should_keep_alive(p) != 0;
  s->current_.upgrade = p->upgrade != 0;
  s->current_.body.rewind();
  s->phase_ = Phase::Idle;
  s->ready_ = true;
  return HPE_PAUSED;
}

}  // namespace hyperion::http1
