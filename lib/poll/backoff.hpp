#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace gw::poll {

/// Exponential backoff with jitter for one reader: after the n-th consecutive failure the next
/// attempt waits a random time in [d/2, d], d = min(max, base * 2^(n-1)). Jitter keeps a fleet
/// whose readers failed together (a switch reboot) from retrying in lockstep. Not thread-safe:
/// one per DeviceWorker, used on its strand.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds max, std::uint64_t seed)
      : base_(base), max_(std::max(base, max)), state_(seed ? seed : 0x9E3779B97F4A7C15ull) {}

  /// The delay before the next attempt; grows with every call until Reset().
  std::chrono::milliseconds Next() {
    auto limit = base_.count();
    for (int i = 0; i < failures_ && limit < max_.count(); ++i) limit *= 2;
    limit = std::min<std::int64_t>(limit, max_.count());
    ++failures_;
    auto half = limit / 2;
    auto span = static_cast<std::uint64_t>(limit - half + 1);
    return std::chrono::milliseconds(half + static_cast<std::int64_t>(Random() % span));
  }

  void Reset() { failures_ = 0; }
  int failures() const { return failures_; }

  /// A uniformly random offset in [0, period): spreads first polls over the interval.
  std::chrono::milliseconds Spread(std::chrono::milliseconds period) {
    if (period.count() <= 0) return std::chrono::milliseconds(0);
    return std::chrono::milliseconds(
        static_cast<std::int64_t>(Random() % static_cast<std::uint64_t>(period.count())));
  }

 private:
  std::uint64_t Random() {  // splitmix64: tiny, good enough for jitter
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  std::chrono::milliseconds base_;
  std::chrono::milliseconds max_;
  std::uint64_t state_;
  int failures_ = 0;
};

}  // namespace gw::poll
