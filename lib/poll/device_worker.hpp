#pragma once

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/log.hpp"
#include "common/time.hpp"
#include "config/config.hpp"
#include "ef45/client.hpp"
#include "poll/backoff.hpp"
#include "poll/reader_health.hpp"
#include "store/event.hpp"

namespace gw::store {
class Database;
class EventWriter;
}  // namespace gw::store
namespace gw::metrics {
struct PollMetrics;
class ReaderMetrics;
}  // namespace gw::metrics

namespace gw::poll {

/// What the API and metrics show about one reader; a consistent copy.
struct ReaderSnapshot {
  std::string id;
  std::string host;
  std::uint16_t port = 0;
  ReaderState state = ReaderState::kDown;
  std::string reason;
  std::optional<Micros> last_success;
  std::optional<Micros> last_failure;
  std::optional<ef45::DoorStatus> door;
  std::optional<Micros> door_observed_at;
  store::Cursor cursor;
  bool cursor_loaded = false;
  std::optional<std::int64_t> newest_log_id;  ///< reader's newest log id, last we looked
  std::optional<std::int64_t> backlog;        ///< newest_log_id - cursor (same epoch)
  std::optional<std::string> app_version;
  std::optional<std::int32_t> record_version;
  std::optional<double> clock_skew_s;  ///< reader clock - gateway clock
  bool lock_held = false;
  /// Who holds the reader's session lock: `gateway` (us), `other_client` (the reader refused us
  /// with 409), `none` (we released it), `unknown` (not asked yet).
  std::string lock_holder = "unknown";
  std::uint64_t events_committed = 0;
  std::uint64_t match_deleted = 0;
  std::uint64_t log_resets = 0;
};

/// Everything a worker needs from the rest of the process (outlives the worker).
struct WorkerDeps {
  store::Database& db;
  store::EventWriter& writer;
  metrics::PollMetrics* metrics = nullptr;  ///< optional
};

/// Polls one reader on its own strand: takes the session lock, then door status, match-data,
/// logs by id range and health at their intervals, with one request in flight. Every batch is
/// committed through the EventWriter before anything is deleted on the reader; the log cursor
/// advances in the same transaction as the logs (DESIGN.md invariants 1-3).
///
/// - Match-data: the log entries up to the items' `log_id`s are fetched in the same cycle, so a
///   recognition is normally committed as one event carrying both; items are DELETEd only after
///   the commit acknowledgement.
/// - Logs: pages of `logs_page` ids from the cursor; a full page schedules the next page at once,
///   behind whatever else of this reader is due, so a backlog never starves door/match polls.
///   Other readers are unaffected: each worker has one batch in the writer at a time.
/// - Log-id reset (the reader's newest id is below our cursor) starts a new log epoch, recorded
///   as a `device` event; ids known to be lost are recorded as a `gap` event. A reset, or a
///   newest id more than `polling.max_log_jump` past the cursor, counts only when two
///   consecutive checks agree. Ids missing on the reader become one `gap` event per hole.
/// - Bad entries never stop ingestion: a log page over the client's size limit is asked for
///   again at half its span, down to one id; an entry still too large becomes a `gap` event
///   (counted in ef45gw_events_quarantined_total{reason="too_large"}); the writer sanitises
///   or isolates whatever PostgreSQL would refuse.
/// - Failures back off exponentially with jitter; transport failures delay every poll of the
///   reader, a failing poll kind only delays itself. State up/degraded/down with a reason.
///
/// Thread-safety: Start/Stop/Snapshot may be called from any thread; everything else runs on
/// the worker's strand.
class DeviceWorker {
 public:
  DeviceWorker(boost::asio::any_io_executor executor, WorkerDeps deps, config::ReaderConfig reader);
  ~DeviceWorker();
  DeviceWorker(const DeviceWorker&) = delete;
  DeviceWorker& operator=(const DeviceWorker&) = delete;

  /// Starts polling (first polls spread over each interval).
  void Start();
  /// Stops polling, lets the batch in flight finish, releases the reader's lock. Completes when
  /// the worker is idle or after `deadline`.
  boost::asio::awaitable<void> Stop(std::chrono::milliseconds deadline);

  ReaderSnapshot Snapshot() const;
  const std::string& id() const { return reader_.id; }
  const config::ReaderConfig& reader() const { return reader_; }

  /// The reader's client, for reader operations from the API and user sync. Strand only: run
  /// the coroutine that uses it on the strand, `co_await asio::co_spawn(strand(), Op(...),
  /// use_awaitable)` (a `dispatch` to the strand does not keep the coroutine there: it resumes
  /// on its own executor). Shares the lock and the one connection with the pollers; requests
  /// queue behind the poll in flight.
  ef45::Client& client() { return *client_; }
  boost::asio::strand<boost::asio::any_io_executor>& strand() { return strand_; }

 private:
  struct Failure {
    PollKind kind;
    std::string reason;
    bool transport;  // the reader (or the database) is unreachable: delay every poll
    std::string detail;
  };
  using Outcome = std::optional<Failure>;

  boost::asio::awaitable<void> Loop();
  boost::asio::awaitable<bool> LoadState();
  /// Tries the lock recorded in PostgreSQL (ours from before a restart or a take-over); clears
  /// recorded_lock_ once the reader answered either way.
  boost::asio::awaitable<Outcome> ResumeRecordedLock();
  boost::asio::awaitable<Outcome> PollDoor();
  boost::asio::awaitable<Outcome> PollMatch();
  /// GETs match-data, adds the items and their log entries to `batch`, commits it, then DELETEs
  /// the items on the reader.
  boost::asio::awaitable<Outcome> CommitWithMatchData(store::DeviceBatch batch, PollKind kind);
  boost::asio::awaitable<Outcome> PollLogs(bool& more);
  boost::asio::awaitable<Outcome> PollHealth();
  /// Fetches log entries (cursor, up_to] into `batch` (and advances its cursor) in pages.
  boost::asio::awaitable<Outcome> FetchLogs(std::int64_t up_to, PollKind kind,
                                            store::DeviceBatch& batch, bool& full_page);
  boost::asio::awaitable<Outcome> Commit(store::DeviceBatch batch, PollKind kind);
  /// Reads the reader's newest log id (into `newest`, if given); a newest id below the cursor
  /// starts a new log epoch.
  boost::asio::awaitable<Outcome> CheckLogReset(PollKind kind, std::int64_t* newest);

  Failure FromReply(PollKind kind, const ef45::Error& error) const;
  void Record(PollKind kind, const Outcome& outcome, std::chrono::steady_clock::duration took);
  std::chrono::milliseconds Interval(PollKind kind) const;

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  WorkerDeps deps_;
  config::ReaderConfig reader_;
  std::unique_ptr<ef45::Client> client_;
  std::unique_ptr<metrics::ReaderMetrics> metrics_;
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer done_;
  Backoff backoff_;
  ReaderHealth health_;
  log::RateLimit log_limit_{5, std::chrono::seconds(60)};  // state-change lines of this reader
  // Strand state.
  bool started_ = false;
  bool stopping_ = false;
  bool finished_ = false;
  std::array<std::chrono::steady_clock::time_point, kPollKinds> due_{};
  store::Cursor cursor_;
  std::optional<ef45::DoorStatus> door_;
  std::optional<std::int64_t> newest_seen_;
  std::optional<std::int64_t> suspect_newest_;  // an absurd newest id the next check must confirm
  std::string recorded_lock_;  // to try before taking a new lock; empty once settled
  ef45::LockHolder lock_holder_ = ef45::LockHolder::kUnknown;
  // Snapshot for other threads.
  mutable std::mutex snapshot_mutex_;
  ReaderSnapshot snapshot_;
};

}  // namespace gw::poll
