#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace gw {

/// Counts tasks still running and lets coroutines wait until none is: Add() before a task
/// starts, Done() when it ends, `co_await Wait()` completes once the count is zero (at once if
/// it is zero already). The one shutdown latch of the gateway: no polling loop, no timer that
/// never expires.
///
/// Thread-safety: every member may be called from any thread, strand or coroutine. A waiter
/// resumes on its own executor (a coroutine on a strand stays on that strand), never inside
/// Done(), and keeps its executor's work count up while it waits. Done() more often than Add()
/// is a bug (asserted in debug builds). Lifetime: the group must outlive every pending Wait()
/// and every call; a waiter may destroy it once Wait() returned.
class WaitGroup {
 public:
  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  void Add(std::size_t n = 1);
  /// One task ended; the last one resumes every waiter.
  void Done();
  /// Completes when the count is zero. Does not block the thread.
  boost::asio::awaitable<void> Wait();
  /// Wait() with a bound: true when the count reached zero, false when `timeout` passed first
  /// (the tasks go on; for a shutdown that must end).
  boost::asio::awaitable<bool> WaitFor(std::chrono::steady_clock::duration timeout);
  std::size_t count() const;

 private:
  struct Waiter {
    boost::asio::any_completion_handler<void()> handler;
    boost::asio::any_io_executor work;  // keeps the waiter's io_context running
  };
  void Park(boost::asio::any_completion_handler<void()> handler,
            boost::asio::any_io_executor executor);

  mutable std::mutex mutex_;
  std::size_t count_ = 0;
  std::vector<Waiter> waiters_;
  // WaitFor: each bounded waiter sleeps on its own timer; the last Done() cancels it (on the
  // timer's executor: the timer is shared, so a cancel still queued after a timeout is harmless).
  std::uint64_t next_timed_ = 0;
  std::map<std::uint64_t, std::shared_ptr<boost::asio::steady_timer>> timed_;
};

}  // namespace gw
