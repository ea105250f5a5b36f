#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
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
/// `capacity` events and at most `max_bytes` of them (whichever bound is reached first drops
/// the oldest), each rendered once as its SSE frame: on arrival while streams are reading,
/// otherwise when first asked for (a page, or a stream reaching it: with nobody asking, no event
/// is rendered); streams copy frames out of it, pages
/// the JSON inside the frames. A stream whose cursor is older than the window reads PostgreSQL
/// itself until it catches up. At start the window is filled with the newest kPreload events.
/// Events committed by another gateway instance arrive at the next poll (at most 1 s).
///
/// Nobody reading (no Read or Page for `idle_after`), the window is dropped and the feed follows
/// only each new event's seq and reader (LastSeqs stays exact), at most every kIdleGap: at 1,000
/// readers, reading and keeping whole rows for no stream cost ~5 % of the gateway's CPU and
/// ~8 MB (issue 18). The first Read or Page after that is not covered (the caller reads
/// PostgreSQL, as for a cursor older than the window) and brings the window back, from the
/// newest seq on, at the next commit (within about a second).
///
/// Thread-safe: Read/Page/Wait from any executor; the loop runs on the executor given to Start.
class EventFeed {
 public:
  /// Events read into the window at start (so a client resuming shortly before a restart, or
  /// paging the newest events, is served from memory at once).
  static constexpr std::int64_t kPreload = 1000;
  /// Bytes an entry costs beyond its frame (its slim row, the deque slot, the key index).
  static constexpr std::size_t kEntryOverhead = 256;

  /// At most this often while nobody reads the window.
  static constexpr auto kIdleGap = std::chrono::milliseconds(250);

  EventFeed(store::Database& db, CommitSignal& commits, std::size_t capacity = 20000,
            std::size_t max_bytes = 8u << 20,
            std::chrono::milliseconds idle_after = std::chrono::seconds(10));
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

  /// The body GET /api/v1/events answers for `query` (EventPageBody of the same events), when
  /// the window holds every event after `query.after` and has read everything this instance
  /// committed (the CommitSignal generation it last caught up with is current); nullopt: ask
  /// PostgreSQL. An event enriched since (it moved to a newer seq) is left out, as PostgreSQL
  /// no longer has it at the old seq.
  std::optional<std::string> Page(const store::EventQuery& query) const;

  /// The newest seq per device among the events this feed has read (since start, including the
  /// preload): events of a reader committed by anyone (audit, sync) move it.
  std::unordered_map<std::string, std::int64_t> LastSeqs() const;

  /// Memory held by the window (frames + kEntryOverhead per entry) and its event count.
  std::size_t bytes() const;
  std::size_t size() const;
  /// Whether the window is kept (false: nobody read it for `idle_after`).
  bool windowed() const;

  /// Grows when events were appended; Wait(seen, timeout) as CommitSignal.
  std::uint64_t generation() const { return appended_.generation(); }
  boost::asio::awaitable<void> Wait(std::uint64_t seen, std::chrono::milliseconds timeout) {
    return appended_.Wait(seen, timeout);
  }

 private:
  struct Entry {
    /// The whole row until rendered; then only what store::Matches reads (seq, device, kind,
    /// user, times) and the key (an enrichment finds the entry it replaces by it).
    store::EventRow row;
    std::string frame;             ///< empty until rendered (Render)
    std::uint32_t data_begin = 0;  ///< the event's JSON in `frame` (after "data: ")
    std::uint32_t data_size = 0;
    bool moved = false;  ///< enriched since: PostgreSQL has it at a newer seq
  };
  /// Memory an entry holds: its frame once rendered; before, its row's text (about as large).
  static std::size_t Cost(const Entry& e);
  boost::asio::awaitable<void> Loop();
  /// Nobody reading: follows the new events' seqs and readers only. False when the read failed.
  boost::asio::awaitable<bool> FollowHeads();
  void Append(std::vector<store::EventRow> rows);
  void Advance(std::int64_t seq, const std::string& device_id);  // under mutex_: tail, LastSeqs
  void DropOldest() const;      // under mutex_ (also after renderings grew the window)
  void Render(Entry& e) const;  // under mutex_: the frame, once

  store::Database& db_;
  CommitSignal& commits_;
  CommitSignal appended_;
  const std::size_t capacity_;
  const std::size_t max_bytes_;
  const std::chrono::milliseconds idle_after_;
  mutable std::mutex mutex_;
  bool started_ = false;        // `base_` known
  bool windowed_ = true;        // entries_ kept (else only tail_ and last_seq_ follow the commits)
  mutable bool asked_ = false;  // a Read or Page found no window: bring it back
  bool stopping_ = false;
  std::uint64_t synced_ = 0;       // the CommitSignal generation the last complete read began at
  mutable std::size_t bytes_ = 0;  // sum of Cost() over entries_
  std::unordered_map<std::string, std::int64_t> last_seq_;  // per device
  mutable std::int64_t base_ = 0;      // every event with seq > base_ is in entries_ (up to tail)
  std::int64_t tail_ = 0;              // the newest seq read
  mutable std::deque<Entry> entries_;  // rendered lazily by the const readers, under mutex_
  /// The last stream Read: within kStreamingWindow of it, Append renders at once.
  mutable std::chrono::steady_clock::time_point last_read_{};
  /// The last Read or Page (the start counts as one): none for idle_after_, the window goes.
  mutable std::chrono::steady_clock::time_point last_use_ = std::chrono::steady_clock::now();
  static constexpr auto kStreamingWindow = std::chrono::seconds(5);
};

}  // namespace gw::api
