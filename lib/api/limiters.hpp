#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

// The façade's two concurrency bounds (DESIGN.md invariant 4): API operations queued in front of
// one reader, and open event streams. Each is owned by the routes that use it and outlives them.

namespace gw::api {

/// At most `limit` API operations in flight per reader (queued on its strand or running); one
/// more is refused (429) rather than queued without end. Thread-safe: any API connection, on any
/// io thread, may acquire and release (one mutex around a map of the readers with operations in
/// flight; a reader with none has no entry). Never blocks beyond that mutex.
class ReaderOpLimiter {
 public:
  /// Holds one operation slot of a reader while it lives (empty when refused). Move-only.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot();
    explicit operator bool() const noexcept { return limiter_ != nullptr; }

   private:
    friend class ReaderOpLimiter;
    Slot(ReaderOpLimiter* limiter, std::string reader_id)
        : limiter_(limiter), reader_id_(std::move(reader_id)) {}
    void Release() noexcept;
    ReaderOpLimiter* limiter_ = nullptr;
    std::string reader_id_;
  };

  explicit ReaderOpLimiter(int limit) : limit_(limit) {}
  ReaderOpLimiter(const ReaderOpLimiter&) = delete;
  ReaderOpLimiter& operator=(const ReaderOpLimiter&) = delete;

  /// A slot of reader `reader_id`, or an empty Slot when it has `limit` in flight already.
  Slot TryAcquire(std::string_view reader_id);
  /// Operations in flight for `reader_id` now.
  int InFlight(std::string_view reader_id) const;
  int limit() const noexcept { return limit_; }

 private:
  const int limit_;
  mutable std::mutex mutex_;
  std::map<std::string, int, std::less<>> in_flight_;  // by reader id; no entry = none
};

/// Counts open event streams against `limit`. The check (Full, when the stream's response is
/// built) and the count (Open, while the stream runs) are separate steps, as the stream begins
/// only after its response head is sent: streams opened at the same instant may pass the check
/// together and briefly exceed `limit`. Thread-safe (one atomic counter), never blocks.
class StreamLimiter {
 public:
  /// Counts one open stream while it lives. Not movable: it lives in the stream's frame.
  class Slot {
   public:
    explicit Slot(StreamLimiter& limiter) : limiter_(limiter) { ++limiter_.open_; }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { --limiter_.open_; }

   private:
    StreamLimiter& limiter_;
  };

  explicit StreamLimiter(int limit) : limit_(limit) {}
  StreamLimiter(const StreamLimiter&) = delete;
  StreamLimiter& operator=(const StreamLimiter&) = delete;

  /// True when `limit` streams are open: a new one is refused (429).
  bool Full() const noexcept { return open_.load() >= limit_; }
  int open() const noexcept { return open_.load(); }
  int limit() const noexcept { return limit_; }

 private:
  const int limit_;
  std::atomic<int> open_{0};
};

}  // namespace gw::api
