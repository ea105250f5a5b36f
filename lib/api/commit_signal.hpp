#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>

namespace gw::api {

/// Tells waiting event streams that events were committed, so a stream queries PostgreSQL when
/// there is something new instead of on a fixed poll (DESIGN.md: SSE latency). Events committed
/// by another gateway instance are not signalled: waiters also wake at their timeout.
///
/// Thread-safe: Notify from any thread (the EventWriter's commit callback); Wait from any
/// executor (each waiter's timer lives on the caller's executor).
class CommitSignal {
 public:
  CommitSignal() = default;
  CommitSignal(const CommitSignal&) = delete;
  CommitSignal& operator=(const CommitSignal&) = delete;

  /// Increases at every Notify. Read it before querying, pass it to Wait after.
  std::uint64_t generation() const { return generation_.load(); }
  /// Completes when generation() differs from `seen` (at once if it already does) or after
  /// `timeout`.
  boost::asio::awaitable<void> Wait(std::uint64_t seen, std::chrono::milliseconds timeout);
  void Notify();
  std::size_t waiters() const;

 private:
  struct Waiter;
  mutable std::mutex mutex_;
  std::atomic<std::uint64_t> generation_{0};
  std::list<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace gw::api
