#pragma once
// A token bucket for admission rates (--tls-handshake-rate-limit): `rate`
// tokens a second, at most `rate` saved up (one second's burst). Loop thread
// only; the caller passes the time so tests need no clock.
#include <algorithm>
#include <chrono>

namespace hyperion::net {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  // rate 0: unlimited, take() is always true.
  explicit TokenBucket(double rate = 0) : rate_(rate), tokens_(rate) {}

  bool take(Clock::time_point now) {
    if (rate_ <= 0) return true;
    if (last_ != Clock::time_point{}) {
      const double seconds = std::chrono::duration<double>(now - last_).count();
      tokens_ = std::min(rate_, tokens_ + seconds * rate_);
    }
    last_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  double rate_;
  double tokens_;
  Clock::time_point last_{};
};

}  // namespace hyperion::net
