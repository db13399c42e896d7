#pragma once
// Incremental UTF-8 validation (RFC 3629) for WebSocket text messages, which
// arrive in pieces: a code point may be split between two frames, or two
// reads. feed() fails on the first byte that cannot be part of valid UTF-8
// (an overlong form, a surrogate, a value past U+10FFFF, a stray
// continuation), so a bad message is refused without waiting for its end.
#include <cstddef>
#include <cstdint>

namespace hyperion::websocket {

class Utf8Validator {
 public:
  // False at the first invalid byte; the validator stays failed after it.
  bool feed(const unsigned char* data, std::size_t n);
  bool feed(const char* data, std::size_t n) { return feed(reinterpret_cast<const unsigned char*>(data), n); }
  // Every byte fed so far forms whole code points (the message may end here).
  bool complete() const { return !failed_ && need_ == 0; }
  bool failed() const { return failed_; }
  void reset() { *this = Utf8Validator{}; }

 private:
  std::uint8_t need_ = 0;             // continuation bytes still expected
  std::uint8_t low_ = 0x80, high_ = 0xBF;  // the range the next continuation byte must be in
  bool failed_ = false;
};

}  // namespace hyperion::websocket
