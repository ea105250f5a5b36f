#pragma once

#include <array>
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/error.hpp"
#include "common/log.hpp"
#include "common/time.hpp"
#include "common/wait_group.hpp"
#include "config/config.hpp"
#include "ef45/client.hpp"
#include "poll/backoff.hpp"
#include "poll/fetch_gate.hpp"
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
  /// Of those, the reader's `UserData` log entries (enrolments and edits made at the reader):
  /// user sync imports them, and looks for them only when this moved.
  std::uint64_t user_data_committed = 0;
  /// The newest seq of this reader's events: loaded at start, moved by each commit of its
  /// poller (events committed by others, e.g. audit events, are not seen here).
  std::optional<std::int64_t> last_seq;
  std::uint64_t match_deleted = 0;
  std::uint64_t log_resets = 0;
  /// A firmware install is under way (issue 20): the API shows the reader as `maintenance`;
  /// `state` stays what the polls say.
  bool maintenance = false;
};

/// Everything a worker needs from the rest of the process (outlives the worker).
struct WorkerDeps {
  store::Database& db;
  store::EventWriter& writer;
  metrics::PollMetrics* metrics = nullptr;  ///< optional
  /// One thread runs the io_context (io_threads: 1): a worker then needs no strand to keep its
  /// handlers in turn, and runs on the io_context's executor itself (issue 18: a strand is a
  /// second hand-off for every completion).
  bool one_thread = false;
  /// Optional: the fleet-wide limit on readers fetching a backlog at once. Without it, nothing
  /// waits before fetching.
  FetchGate* gate = nullptr;
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
  /// What user sync looks at on every wake-up, without copying the whole snapshot.
  struct SyncView {
    ReaderState state = ReaderState::kDown;
    std::uint64_t user_data_committed = 0;
  };
  SyncView Sync() const;
  /// Called (from the worker's strand, outside its locks) whenever what Sync() returns changes:
  /// the reader's state, or user_data events committed. User sync waits for this instead of
  /// looking at every reader once a second. One listener; an empty function removes it.
  /// Thread-safe.
  void SetSyncListener(std::function<void()> listener);
  const std::string& id() const { return reader_.id; }
  const config::ReaderConfig& reader() const { return reader_; }

  /// Runs `op` on the worker's strand and gives its result (or its exception) back to the
  /// caller, which resumes on its own executor. The one way for others (API reader operations,
  /// user sync) to use client(): `co_await worker->Run(ReadThings(worker, ...))`. `op` must hold
  /// what it uses by value (a shared_ptr to the worker keeps the worker alive); it shares the
  /// lock and the one connection with the pollers, so its requests queue behind the poll in
  /// flight. (A `dispatch` to the strand would not do: the coroutine resumes on its own executor.)
  template <class T>
  boost::asio::awaitable<T> Run(boost::asio::awaitable<T> op) {
    return boost::asio::co_spawn(strand_, std::move(op), boost::asio::use_awaitable);
  }

  /// Firmware rollout (issue 20): while on, the API and ef45gw_reader_state show the reader as
  /// `maintenance` instead of up/degraded/down (polling goes on). Thread-safe.
  void SetMaintenance(bool on);

  /// The reader's client. Strand only: use it inside an operation given to Run().
  ef45::Client& client() { return *client_; }
  /// True when called from the worker's strand (for checks and tests).
  bool OnStrand() const;

 private:
  struct Failure {
    PollKind kind;
    Errc code;
    bool transport;  // the reader (or the database) is unreachable: delay every poll
    std::string detail;
    /// The stable name of `code` ("timeout", ...): the metric label and the reader's reason.
    std::string reason() const;
  };
  using Outcome = std::optional<Failure>;

  boost::asio::awaitable<void> Loop();
  boost::asio::awaitable<void> StopOnStrand(std::chrono::milliseconds deadline);
  /// The first poll of each kind spread over its interval (no thundering herd); health first.
  void ScheduleFirstPolls();
  /// Tries the recorded lock; false (after a backoff wait) while the reader has not answered.
  boost::asio::awaitable<bool> SettleRecordedLock();
  /// The poll kind due first (ties go to the cheaper, more frequent kinds).
  std::size_t NextDue() const;
  /// Runs one poll of `kind`, records it and schedules the next one of its kind; false when the
  /// worker is stopping and the poll was cancelled by that.
  boost::asio::awaitable<bool> RunPoll(PollKind kind);
  void Reschedule(PollKind kind, const Outcome& outcome, bool more,
                  std::chrono::steady_clock::time_point end);
  /// After the loop: gives the reader's lock back and marks the worker stopped.
  boost::asio::awaitable<void> ReleaseReader();
  boost::asio::awaitable<bool> LoadState();
  /// Tries the lock recorded in PostgreSQL (ours from before a restart or a take-over); clears
  /// recorded_lock_ once the reader answered either way.
  boost::asio::awaitable<Outcome> ResumeRecordedLock();
  boost::asio::awaitable<Outcome> PollDoor();
  boost::asio::awaitable<Outcome> PollMatch();
  /// GETs match-data, adds the items and their log entries to `batch`, commits it, then DELETEs
  /// the items on the reader.
  boost::asio::awaitable<Outcome> CommitWithMatchData(store::DeviceBatch batch, PollKind kind);
  /// CommitWithMatchData once the reader's match-data is in `items`.
  boost::asio::awaitable<Outcome> StoreWithMatchData(store::DeviceBatch batch, PollKind kind,
                                                     std::vector<ef45::MatchData> items);
  boost::asio::awaitable<Outcome> PollLogs(bool& more);
  boost::asio::awaitable<Outcome> PollHealth();
  /// Fetches log entries (cursor, up_to] into `batch` (and advances its cursor) in pages.
  boost::asio::awaitable<Outcome> FetchLogs(std::int64_t up_to, PollKind kind,
                                            store::DeviceBatch& batch, bool& full_page);
  boost::asio::awaitable<Outcome> Commit(store::DeviceBatch batch, PollKind kind);
  /// Reads the reader's newest log id (into `newest`, if given); a newest id below the cursor
  /// starts a new log epoch.
  boost::asio::awaitable<Outcome> CheckLogReset(PollKind kind, std::int64_t* newest);
  /// The match poll read the logs poll's page: the logs poll is due an interval from now.
  void PostponeLogsPoll();

  Failure FromReply(PollKind kind, const ef45::Error& error) const;
  void Record(PollKind kind, const Outcome& outcome, std::chrono::steady_clock::duration took);
  std::chrono::milliseconds Interval(PollKind kind) const;
  /// The state label of ef45gw_reader_state: `maintenance` during a firmware install.
  std::string StateLabel() const;

  /// The worker's strand, or the io_context's executor when one thread runs it (one_thread).
  boost::asio::any_io_executor strand_;
  WorkerDeps deps_;
  config::ReaderConfig reader_;
  std::unique_ptr<ef45::Client> client_;
  std::unique_ptr<metrics::ReaderMetrics> metrics_;
  boost::asio::steady_timer timer_;
  WaitGroup running_;  // the loop, once started
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
  std::chrono::steady_clock::time_point reset_checked_{};  // the last CheckLogReset
  std::string recorded_lock_;  // to try before taking a new lock; empty once settled
  // Per poll kind: its next poll may bring a backlog (none yet since the start or the last
  // transport failure, or the last one was large), so it waits for a FetchGate slot first.
  std::array<bool, kPollKinds> may_be_large_{};
  std::size_t last_batch_events_ = 0;             // events the last Commit handed to the writer
  std::shared_ptr<FetchGate::Waiter> gate_wait_;  // while waiting for a slot (Stop cancels it)
  ef45::LockHolder lock_holder_ = ef45::LockHolder::kUnknown;
  // Snapshot for other threads.
  mutable std::mutex snapshot_mutex_;
  ReaderSnapshot snapshot_;
  std::function<void()> sync_listener_;   // under snapshot_mutex_
  std::atomic<bool> maintenance_{false};  // firmware rollout (issue 20)
};

}  // namespace gw::poll
