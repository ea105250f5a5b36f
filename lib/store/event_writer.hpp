#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/wait_group.hpp"
#include "store/database.hpp"
#include "store/event.hpp"

namespace gw::store {

/// Limits of the EventWriter (config `store:`).
struct WriterOptions {
  int max_batch_events = 1000;              ///< events per transaction at most
  std::chrono::milliseconds max_delay{20};  ///< how long a transaction waits to fill
  int queue_capacity = 20000;  ///< events accepted and not yet committed; then Write waits
  /// Called on the writer's strand after each committed transaction with its event count and
  /// duration (for the batch-size and commit-duration histograms). Must not block.
  std::function<void(std::size_t events, double seconds)> on_commit;
  std::chrono::milliseconds retry_initial{100};  ///< first back-off after a failed commit
  std::chrono::milliseconds retry_max{5000};     ///< back-off cap while PostgreSQL is down
  /// Transactions in flight at once. Two lets the next batch travel and be parsed while the
  /// previous one inserts; they still commit one after the other (the commit-order lock).
  int max_in_flight = 2;
  /// Cluster mode (DESIGN.md section 9): this node's id. When set, every transaction first
  /// checks, in one statement, that the node still holds an unexpired lease with the batch's
  /// epoch on each of its readers (rows locked FOR SHARE until commit); batches that fail are
  /// left out of the transaction and complete with Errc::kLeaseLost, never retried. Empty: no
  /// check (a single instance owns every reader).
  std::string fence_owner;
  /// Cluster mode: the epoch of this node's lease on a reader, or nullopt if it holds none (the
  /// batch then fails with kLeaseLost at once). Called from any thread; must not block.
  std::function<std::optional<std::int64_t>(const std::string& device_id)> lease_epoch;
  /// Called on the writer's strand once per event that was committed quarantined: sanitised
  /// ("bad_text", "bad_time", "bad_payload") or, when PostgreSQL refused it as it was,
  /// stripped or replaced by a gap ("db_refused"). For ef45gw_events_quarantined_total.
  std::function<void(const std::string& device_id, std::string_view reason)> on_quarantine;
};

/// What one write did to the `events` table.
struct WriteCounts {
  std::int64_t inserted = 0;  ///< new rows
  std::int64_t enriched = 0;  ///< existing rows merged with a new source (they get a new seq)
  std::int64_t ignored = 0;   ///< replays: nothing new
  /// Fencing: readers whose batches were left out because this node's lease is gone.
  std::vector<std::string> fenced;
  /// Per reader, the newest seq the transaction gave one of its events (inserted or enriched).
  std::map<std::string, std::int64_t> last_seq;
};

/// What EventWriter::WriteAcked completes with.
struct WriteAck {
  boost::system::error_code ec;  ///< as EventWriter::Write
  /// The newest seq the batch's events got when committed (0: nothing new, or an error).
  std::int64_t last_seq = 0;
};

/// Counters for /metrics. Monotonic except the gauges.
struct WriterStats {
  std::uint64_t transactions = 0;        ///< committed
  std::uint64_t failed_attempts = 0;     ///< transactions that failed and were retried
  std::uint64_t rejected_batches = 0;    ///< DeviceBatches refused as invalid (kBadRequest)
  std::uint64_t fenced_batches = 0;      ///< DeviceBatches refused: lease lost (kLeaseLost)
  std::uint64_t events_quarantined = 0;  ///< committed sanitised, stripped or as a gap
  std::uint64_t events_inserted = 0;
  std::uint64_t events_enriched = 0;
  std::uint64_t events_ignored = 0;
  std::uint64_t queued_events = 0;    ///< gauge: accepted, not yet committed
  std::uint64_t waiting_batches = 0;  ///< gauge: Write calls waiting for queue space
  double last_commit_seconds = 0;     ///< gauge: duration of the last transaction
};

/// Makes every event of `batch` storable where that is cheap, before the database sees it:
/// text with NUL or invalid UTF-8 (each bad byte becomes U+FFFD), a device time outside the years
/// 1-9999 (dropped) and a payload that is not a JSON object jsonb accepts (replaced by `{}`).
/// The original of each changed field is kept escaped (`\xNN` for bad bytes, `\\` for a
/// backslash) in `payload.original.<field>` and the field names are listed in
/// `payload.sanitized`. Returns one reason per sanitised event ("bad_text", "bad_time",
/// "bad_payload": the first that applied). Deterministic, so a replay keeps its natural key. Pure.
std::vector<std::string> SanitizeBatch(DeviceBatch& batch);

/// Checks a batch before it is queued: device id, a natural key per event, JSON object payloads,
/// UTF-8 text without NUL. Returns an empty string if fine, else what is wrong. Pure.
std::string ValidateBatch(const DeviceBatch& batch);

/// Commits `batches` in one transaction: events (merged by natural key, see event.hpp), cursor
/// advances and door states. Blocking (libpqxx): only on `db.BlockingPool()`.
/// With a `fence_owner`, the batches of readers on which that node no longer holds a valid lease
/// with the batch's `lease_epoch` are left out (WriteCounts::fenced); the rest commit.
/// Errc::kDbUnavailable: nothing committed (or, for an in-doubt commit, maybe committed: a
/// retry is a no-op then). Errc::kBadRequest: the data was refused; nothing committed.
Result<WriteCounts> WriteBatchesBlocking(Database& db,
                                         const std::vector<const DeviceBatch*>& batches,
                                         const std::string& fence_owner = {});

/// Takes typed events from many pollers, batches them into one PostgreSQL transaction (events and
/// cursor advance together), and acknowledges each DeviceBatch only after its commit.
///
/// - Backpressure: at most `queue_capacity` events are accepted and uncommitted; further Write
///   calls wait (the readers keep the data meanwhile).
/// - Outage: a failed transaction is retried with exponential back-off, forever (until Stop's
///   deadline); queued batches are never dropped, except, in cluster mode, those of a reader
///   whose lease this node gave up meanwhile (LeasesChanged): they fail with kLeaseLost before
///   the next attempt, unacknowledged. Writes are idempotent, so a retry after an in-doubt
///   commit inserts nothing twice.
/// - Bad entries never block a reader (DESIGN.md invariant 8): events are sanitised first
///   (SanitizeBatch); a DeviceBatch that PostgreSQL still refuses is split in halves until the
///   refused event is found, which is then stored stripped to its key (originals escaped in the
///   payload) or, if even that is refused, as a `gap` event naming it. The parts commit in order
///   and only the last carries the cursor and door state; a crash between parts replays the
///   batch, and the natural keys make the replay insert nothing twice.
/// - A batch that is invalid as a whole (ValidateBatch: no device id, an event without a key)
///   fails only its own DeviceBatch with Errc::kBadRequest.
///
/// Thread-safe: Write may be called from any executor; the writer runs on its own strand.
/// Lifetime: Start() once; co_await Stop() before destroying the writer, and destroy the writer
/// before its Database.
class EventWriter {
 public:
  EventWriter(boost::asio::any_io_executor executor, Database& db, WriterOptions options = {});
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  /// Starts the writer coroutine. Call once.
  void Start();

  /// Hands over a batch and completes once it is committed (empty error_code): only then may the
  /// producer delete the reader-side buffers. Suspends while the queue is full. Errors:
  /// kBadRequest (invalid batch, nothing stored), kCancelled (the writer stopped before it could
  /// commit the batch: nothing of it is acknowledged, the producer keeps it). Any executor.
  boost::asio::awaitable<boost::system::error_code> Write(DeviceBatch batch);
  /// Write, also giving the newest seq the batch's events got (for the reader's live state:
  /// GET /api/v1/devices serves it without asking PostgreSQL).
  boost::asio::awaitable<WriteAck> WriteAcked(DeviceBatch batch);

  /// Write with any completion token, signature void(error_code, std::int64_t last_seq).
  template <class Token>
  auto AsyncWrite(DeviceBatch batch, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::int64_t)>(
        [this](auto handler, DeviceBatch b) {
          auto item = std::make_unique<Pending>();
          item->batch = std::move(b);
          item->done = std::make_unique<Completion<decltype(handler)>>(std::move(handler));
          Enqueue(std::move(item));
        },
        token, std::move(batch));
  }

  /// Stops accepting batches, commits what is queued, and completes when done. Whatever is still
  /// uncommitted at `deadline` (PostgreSQL down) fails with kCancelled: its producers keep it.
  boost::asio::awaitable<void> Stop(std::chrono::milliseconds deadline);
  /// Begins what Stop does without waiting for it: no more batches are accepted, and whatever is
  /// uncommitted `deadline` from now fails with kCancelled. For a shutdown whose producers are
  /// themselves waiting on commits that cannot happen (PostgreSQL down). Any thread.
  void BeginStop(std::chrono::milliseconds deadline);

  /// Cluster mode: this node gave up or lost the lease on some reader (WriterOptions::lease_epoch
  /// no longer returns the epoch a batch was stamped with). A commit waiting to be retried
  /// (PostgreSQL down) retries now, and every retry first drops the batches whose lease is gone:
  /// they complete with kLeaseLost, unwritten, instead of being written after the outage by a
  /// node that no longer owns the reader. Any thread; does not block.
  void LeasesChanged();

  WriterStats Stats() const;

 private:
  struct CompletionBase {
    virtual ~CompletionBase() = default;
    virtual void Complete(boost::system::error_code ec, std::int64_t last_seq) = 0;
  };
  template <class Handler>
  struct Completion final : CompletionBase {
    explicit Completion(Handler h) : handler(std::move(h)) {}
    void Complete(boost::system::error_code ec, std::int64_t last_seq) override {
      auto ex = boost::asio::get_associated_executor(handler);
      boost::asio::post(
          ex, [h = std::move(handler), ec, last_seq]() mutable { std::move(h)(ec, last_seq); });
    }
    Handler handler;
  };
  struct Pending {
    DeviceBatch batch;
    std::unique_ptr<CompletionBase> done;
    std::chrono::steady_clock::time_point enqueued;
    std::size_t events = 0;
    std::vector<std::string> quarantined;  // reasons of the events SanitizeBatch changed
  };
  using PendingPtr = std::unique_ptr<Pending>;

  void Enqueue(PendingPtr item);
  void Admit();
  boost::asio::awaitable<void> Run();
  boost::asio::awaitable<void> Commit(std::vector<PendingPtr> batch);
  /// Commits with retries; the readers left out by the lease fence, or dropped before a retry
  /// because their lease was given up meanwhile (DropGivenUp), are returned in `fenced`.
  /// `on_dropped` is called for each batch dropped, as soon as it is dropped.
  boost::asio::awaitable<boost::system::error_code> CommitWithRetry(
      const std::vector<const DeviceBatch*>& batches, std::vector<std::string>& fenced,
      const std::function<void(const DeviceBatch&)>& on_dropped = {});
  /// Counts one committed transaction of `committed` begun at `start` (stats and on_commit).
  void CountCommit(const WriteCounts& counts, const std::vector<const DeviceBatch*>& committed,
                   std::chrono::steady_clock::time_point start);
  /// Commits events [lo, hi) of `whole` (with its cursor and door state if `last`), splitting
  /// on refusal down to one event, which is then stripped or recorded as a gap.
  boost::asio::awaitable<boost::system::error_code> CommitIsolating(
      const DeviceBatch& whole, std::size_t lo, std::size_t hi, bool last,
      std::vector<std::string>& fenced);
  /// Removes from `batches` those whose lease_epoch is no longer this node's epoch on their
  /// reader (WriterOptions::lease_epoch); returns their readers. No-op without a fence.
  std::vector<const DeviceBatch*> DropGivenUp(std::vector<const DeviceBatch*>& batches) const;
  void Quarantined(const std::string& device_id, std::string_view reason);
  /// The newest seq committed for `device_id` since the last call (0: none); strand only.
  std::int64_t TakeLastSeq(const std::string& device_id);
  void Wake();
  void MarkStopping(std::chrono::milliseconds deadline);  // on the strand
  boost::asio::awaitable<void> WaitWake(std::chrono::steady_clock::time_point until);

  Database& db_;
  WriterOptions options_;
  boost::asio::any_io_executor strand_;  // gw::MakeStrand
  boost::asio::steady_timer wake_;
  WaitGroup running_;  // Run(), from Start() until it finished
  // Strand-only state.
  std::deque<PendingPtr> queue_;     // accepted, waiting for a transaction
  std::deque<PendingPtr> waiting_;   // not yet accepted (queue full)
  std::size_t accepted_events_ = 0;  // in queue_ or in the transaction in flight
  std::size_t queue_events_ = 0;     // in queue_
  int in_flight_ = 0;
  std::vector<boost::asio::steady_timer*> backoffs_;  // retry waits that Stop() cuts short
  // Per reader: the newest seq committed and not yet acknowledged (each poller has one batch in
  // the writer at a time, so the entry is taken when its batch completes).
  std::map<std::string, std::int64_t> last_seq_;
  bool started_ = false;
  bool stopping_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point stop_deadline_{};
  // Stats, readable from any thread.
  std::atomic<std::uint64_t> transactions_{0}, failed_attempts_{0}, rejected_{0}, inserted_{0},
      enriched_{0}, ignored_{0}, queued_events_{0}, waiting_batches_{0}, fenced_{0},
      quarantined_{0};
  std::atomic<double> last_commit_seconds_{0};
};

}  // namespace gw::store
