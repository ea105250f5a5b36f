#pragma once

#include <chrono>

namespace gw::poll {

/// Polls start on a shared 20 ms grid (issue 18): the readers due in the same few milliseconds
/// wake the gateway once, their requests go out together and their replies come back together,
/// instead of one wake-up (and one context switch) per poll. 20 ms is under half the on-time
/// tolerance of the fastest poll (10 % of 500 ms); at 200 readers it took the gateway from 0.146
/// to 0.098 cores against 5 ms (bench/poll/fleet_bench.py). Other per-reader timers of the
/// event loop (user sync's reconcilers) wake on the same grid, so they add no wake-up of their
/// own.
inline constexpr auto kPollTick = std::chrono::milliseconds(20);

/// `due` rounded up to the next point of the grid (time_point::max() stays).
inline std::chrono::steady_clock::time_point OnTick(std::chrono::steady_clock::time_point due) {
  using Clock = std::chrono::steady_clock;
  if (due == Clock::time_point::max()) return due;
  const auto tick = std::chrono::duration_cast<Clock::duration>(kPollTick).count();
  const auto t = due.time_since_epoch().count();
  const auto up = (t + tick - 1) / tick * tick;
  return Clock::time_point(Clock::duration(up));
}

}  // namespace gw::poll
