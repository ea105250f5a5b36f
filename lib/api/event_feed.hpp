#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/commit_signal.hpp"
#include "store/queries.hpp"

namespace gw::store {
class Database;
}

namespace gw::api {

/// The newest committed events, read from PostgreSQL once for every event stream.
///
/// Without it each stream queried PostgreSQL after every commit: at 100 subscribers and ~20
/// commits/s that is ~2,000 queries/s and the database's CPU, and the streams fall behind
/// (bench/api). The feed runs one query per commit (pages until caught up) and keeps the last
/// `capacity` events, each rendered once as its SSE frame; streams copy frames out of it. A
/// stream whose cursor is older than the window reads PostgreSQL itself until it catches up.
/// Events committed by another gateway instance arrive at the next poll (at most 1 s).
///
/// Thread-safe: Read/tail/Wait from any executor; the loop runs on the executor given to Start.
class EventFeed {
 public:
  EventFeed(store::Database& db, CommitSignal& commits, std::size_t capacity = 20000);
  EventFeed(const EventFeed&) = delete;
  EventFeed& operator=(const EventFeed&) = delete;

  /// Starts the loop (it first learns the newest seq, so it never reads old history).
  void Start(boost::asio::any_io_executor executor);
  void Stop();

  struct ReadResult {
    bool covered = false;  ///< false: `after` is older than the window (or not started)
    std::string frames;    ///< matching events' SSE frames, in seq order
    std::size_t events = 0;
    std::int64_t next = 0;  ///< the new cursor: the last seq looked at (matching or not)
  };
  /// Events with seq > `after` matching `query`'s filters, at most `max` of them.
  ReadResult Read(const store::EventQuery& query, std::int64_t after, std::size_t max) const;

  /// Grows when events were appended; Wait(seen, timeout) as CommitSignal.
  std::uint64_t generation() const { return appended_.generation(); }
  boost::asio::awaitable<void> Wait(std::uint64_t seen, std::chrono::milliseconds timeout) {
    return appended_.Wait(seen, timeout);
  }

 private:
  struct Entry {
    store::EventRow row;  ///< only what store::Matches reads (seq, device, kind, user, times)
    std::string frame;
  };
  boost::asio::awaitable<void> Loop();
  void Append(std::vector<store::EventRow> rows);

  store::Database& db_;
  CommitSignal& commits_;
  CommitSignal appended_;
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  bool started_ = false;  // `base_` known
  bool stopping_ = false;
  std::int64_t base_ = 0;  // every event with seq > base_ is in entries_ (up to tail)
  std::int64_t tail_ = 0;  // the newest seq read
  std::deque<Entry> entries_;
};

}  // namespace gw::api
