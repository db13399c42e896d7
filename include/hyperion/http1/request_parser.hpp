#pragma once
// llhttp behind a small interface: bytes in, one complete Request (or an
// error with the status to answer) out. Enforces every request limit, so
// nothing malformed or oversized ever reaches Ruby. No sockets here.
#include <llhttp.h>

#include <cstddef>
#include <string>

#include "hyperion/config/settings.hpp"
#include "hyperion/http1/request.hpp"

namespace hyperion::http1 {

struct ParseError {
  int status = 400;    // what to answer: 400, 413, 414, 417, 431, 501
  std::string reason;  // for the log line
};

class RequestParser {
 public:
  enum class Phase { Idle, Headers, Body };
  enum class Status { NeedMore, RequestReady, Failed };
  struct Outcome {
    Status status;
    std::size_t consumed;  // bytes of the input used; the rest belongs to the next request
  };

  RequestParser(const config::Limits& limits, std::string tmp_dir);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Stops right after one complete request, so pipelined requests are taken
  // one at a time and answered in order.
  Outcome feed(const char* data, std::size_t length);
  Request takeRequest();
  const ParseError& error() const { return error_; }
  Phase phase() const { return phase_; }
  // True once, when headers asking for `Expect: 100-continue` are accepted.
  bool takeContinueRequest();

 private:
  static int onMessageBegin(llhttp_t*);
  static int onMethod(llhttp_t*, const char*, std::size_t);
  static int onUrl(llhttp_t*, const char*, std::size_t);
  static int onHeaderField(llhttp_t*, const char*, std::size_t);
  static int onHeaderValue(llhttp_t*, const char*, std::size_t);
  static int onHeaderValueComplete(llhttp_t*);
  static int onHeadersComplete(llhttp_t*);
  static int onBody(llhttp_t*, const char*, std::size_t);
  static int onMessageComplete(llhttp_t*);

  int fail(int status, std::string reason);
  bool countHeaderBytes(std::size_t n);
  int validateHeaders();

  llhttp_t parser_{};
  llhttp_settings_t settings_{};
  const config::Limits& limits_;
  std::string tmp_dir_;
  Request current_;
  ParseError error_;
  Phase phase_ = Phase::Idle;
  std::size_t header_bytes_ = 0;
  bool in_value_ = false;
  bool paused_ = false;
  bool paused_for_upgrade_ = false;
  bool continue_requested_ = false;
  bool ready_ = false;
  bool rejected_ = false;  // a callback refused the request; error_ says why
};

}  // namespace hyperion::http1
