#pragma once

#include <algorithm>
#include <chrono>

namespace admissions::gateway {

/// A token bucket: `rate` tokens a second, at most `burst` saved up; it starts full. Not
/// thread-safe (one per connection, used on its io thread). Time is passed in, so that tests
/// need no clock.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  TokenBucket(double rate_per_second, double burst)
      : rate_(rate_per_second), burst_(std::max(burst, 1.0)), tokens_(burst_) {}

  /// Takes one token at `now`; false (and nothing taken) when there is none.
  bool Take(Clock::time_point now) {
    if (last_ != Clock::time_point{} && now > last_) {
      tokens_ =
          std::min(burst_, tokens_ + rate_ * std::chrono::duration<double>(now - last_).count());
    }
    if (now > last_) last_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_{};
};

}  // namespace admissions::gateway
