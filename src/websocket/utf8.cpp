#include "hyperion/websocket/utf8.hpp"

namespace hyperion::websocket {

bool Utf8Validator::feed(const unsigned char* data, std::size_t n) {
  if (failed_) return false;
  std::size_t i = 0;
  while (i < n) {
    if (need_ == 0) {
      // ASCII runs are the common case in chat JSON: skip them eight at a time.
      while (i + 8 <= n) {
        std::uint64_t word = 0;
        for (int k = 0; k < 8; ++k) word |= static_cast<std::uint64_t>(data[i + k]) << (8 * k);
        if (word & 0x8080808080808080ull) break;
        i += 8;
      }
      if (i == n) break;
      const unsigned char c = data[i++];
      if (c < 0x80) continue;
      low_ = 0x80;
      high_ = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        need_ = 1;
      } else if (c >= 0xE0 && c <= 0xEF) {
        need_ = 2;
        if (c == 0xE0) low_ = 0xA0;        // overlong below U+0800
        else if (c == 0xED) high_ = 0x9F;  // UTF-16 surrogates
      } else if (c >= 0xF0 && c <= 0xF4) {
        need_ = 3;
        if (c == 0xF0) low_ = 0x90;        // overlong below U+10000
        else if (c == 0xF4) high_ = 0x8F;  // past U+10FFFF
      } else {
        failed_ = true;  // a continuation byte first, C0/C1 (overlong), F5..FF
        return false;
      }
      continue;
    }
    const unsigned char c = data[i++];
    if (c < low_ || c > high_) {
      failed_ = true;
      return false;
    }
    low_ = 0x80;
    high_ = 0xBF;
    --need_;
  }
  return true;
}

}  // namespace hyperion::websocket
