#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/wait_group.hpp"
#include "store/imports.hpp"
#include "sync/import_rule.hpp"
#include "sync/plan.hpp"

namespace gw::store {
class Database;
}
namespace gw::poll {
class WorkerSet;
}

namespace gw::sync {

class SyncMetrics;

struct SyncOptions {
  Policy policy = Policy::kAdditive;
  /// What becomes of changes made at readers (config `sync.import`).
  ImportPolicy import_policy = ImportPolicy::kReview;
  std::chrono::milliseconds audit{300000};     ///< full round (read the whole reader) this often
  std::chrono::milliseconds inventory{60000};  ///< scan the reader's UserData events at least
                                               ///< this often (also whenever it has new events)
  int max_ops_per_second = 50;                 ///< reader calls per second per reconciler
  int page_size = 100;                         ///< rows per paged read of the reader
  /// How often the manager looks for users changed by another instance (users.updated_at): one
  /// query for the whole fleet, which wakes every reconciler when something changed; changes
  /// made through this process wake them at once.
  std::chrono::milliseconds change_poll{2000};
  /// Under mirror, a user unknown to the gateway is deleted only once it has been seen for this
  /// long: an enrolment's UserData log may still be on its way to the importer.
  std::chrono::milliseconds unknown_grace{10000};
};

/// Reconcilers started together (the whole fleet at start-up, a SIGHUP adding many readers)
/// take their first turns this far apart, and all within kStartSpread: at 1,000 readers, all
/// first rounds at once queued ~10,000 queries on the sync pool and held every round's buffers
/// together, the start-up's memory peak (issue 18). Later turns keep that spread.
inline constexpr std::chrono::milliseconds kStartSpacing{5};
inline constexpr std::chrono::milliseconds kStartSpread{10000};
/// The delay between two of `starting` reconcilers started together (zero for one).
std::chrono::steady_clock::duration StartSpacing(std::size_t starting);

/// One reader's sync status for the API.
struct ReaderSyncStatus {
  std::string device_id;
  std::optional<std::chrono::system_clock::time_point> last_round;  ///< last completed round
  std::optional<std::chrono::system_clock::time_point> last_full_round;
  std::string last_error;                  ///< of the last failed round ("" after a success)
  std::vector<std::string> unknown_users;  ///< first 100 users on the reader unknown to us
  std::int64_t unknown_count = 0;
  std::optional<std::int32_t> record_version;  ///< the reader's algorithm version
};

/// A dry run of one reader's full round.
struct PlanReport {
  std::string device_id;
  Plan plan;
  std::int64_t reader_users = 0;
  std::optional<std::int32_t> record_version;
  std::string error;  ///< non-empty: the reader could not be read (the reader's answer)
};

/// User sync: one reconciler per reader polled by this process (the WorkerSet: in a cluster only
/// the readers this instance owns), each making the reader's users match PostgreSQL.
///
/// A reconciler runs, on its own strand:
/// - an import pass whenever its reader has new `user_data` events (and every `inventory`):
///   enrolments done at the reader become canonical users (conflict rule in SCHEMA.md);
/// - an incremental round when users change (in-process: NotifyUsersChanged; other instances:
///   users.updated_at polled every `change_poll`): only changed users, trusting recorded state;
/// - a full round (every reader user read in pages, compared by fingerprint) at start, when its
///   reader comes back after a failure, and every `audit` (drift audit).
/// Reader calls go through the reader's DeviceWorker (its strand, lock and connection, FIFO
/// with polling), at most `max_ops_per_second`. Transport failures end the round, the affected
/// users are recorded as failed with the reason, and the reader is retried with back-off; other
/// readers are not affected. Everything is recomputed from PostgreSQL and the reader each round,
/// so a round cut short resumes naturally.
///
/// Thread-safety: every public member may be called from any thread. Never logs user data.
class SyncManager {
 public:
  SyncManager(boost::asio::any_io_executor executor, store::Database& db, poll::WorkerSet& workers,
              SyncOptions options, SyncMetrics* metrics);
  ~SyncManager();
  SyncManager(const SyncManager&) = delete;
  SyncManager& operator=(const SyncManager&) = delete;

  /// Starts following the WorkerSet (checked every second).
  void Start();
  /// Stops every reconciler; completes when they have finished their current reader call.
  boost::asio::awaitable<void> Stop();

  /// A user changed in PostgreSQL: wakes every reconciler.
  void NotifyUsersChanged();

  /// Dry run of a full round for one reader polled here: reads the reader (through its worker)
  /// and PostgreSQL, changes nothing. Errc::kNotFound when this process does not poll it;
  /// reader and database errors as values.
  boost::asio::awaitable<Result<PlanReport>> DryRun(std::string device_id);

  /// What deciding a held import did.
  struct ImportDecided {
    store::DecisionOutcome outcome = store::DecisionOutcome::kDone;
    std::int64_t version = 0;  ///< approve: the version written
    std::string user_uuid;
    std::string device_id;
  };
  /// Approves held import `id` on behalf of `actor`: the reader's record becomes the user's next
  /// version (cards and groups kept from the gateway's record; a new user has no groups: every
  /// reader) and every reconciler is woken to push it. kStale when the user changed at the
  /// gateway since the change was held (reject it instead, or change the user). Database
  /// errors as values.
  boost::asio::awaitable<Result<ImportDecided>> ApproveImport(std::int64_t id, std::string actor);
  /// Rejects held import `id`: the source reader's reconciler puts the gateway's record back
  /// there (or deletes the user there when the gateway has no live user), at once if this
  /// process polls that reader, else at that reader's next full round.
  boost::asio::awaitable<Result<ImportDecided>> RejectImport(std::int64_t id, std::string actor);

  std::vector<ReaderSyncStatus> Status() const;
  const SyncOptions& options() const { return options_; }

  struct Reconciler;

 private:
  boost::asio::awaitable<void> Supervise();

  boost::asio::any_io_executor executor_;
  store::Database& db_;
  poll::WorkerSet& workers_;
  SyncOptions options_;
  SyncMetrics* metrics_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Reconciler>> reconcilers_;
  bool stopping_ = false;
  // The supervisor and every reconciler it started. Shared with their completion handlers: a
  // reconciler still running when Stop() gave up may end after the manager is gone.
  std::shared_ptr<WaitGroup> running_ = std::make_shared<WaitGroup>();
};

}  // namespace gw::sync
