#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "common/strand.hpp"
#include "store/users.hpp"
#include "sync/error.hpp"
#include "sync/reader_ops.hpp"
#include "sync/sync_manager.hpp"

// Inside lib/sync: one reader's reconciler state and the passes its scheduling loop
// (sync_manager.cpp) runs: the import pass (import_pass.cpp) and the full and incremental
// rounds (rounds.cpp). Every pass runs on the reconciler's strand and hops to the reader's
// DeviceWorker strand for reader calls (reader_ops.hpp).

namespace gw::poll {
class DeviceWorker;
}

namespace gw::sync {

class SyncMetrics;

/// Changes committed this long before the newest one seen are looked at again: updated_at is
/// the transaction's start time, so a slow commit can land "in the past".
inline constexpr auto kChangeOverlap = std::chrono::seconds(5);

/// One reader's reconciler. Everything but `strand`, `timer` and the status (under `mutex`) is
/// touched only from `strand`.
struct SyncManager::Reconciler {
  using Clock = std::chrono::steady_clock;

  Reconciler(const boost::asio::any_io_executor& ex, std::string device_id, int rate)
      : id(std::move(device_id)),
        strand(MakeStrand(ex)),
        timer(strand),
        limiter(std::make_shared<RateLimiter>(rate)) {}

  std::string id;
  boost::asio::any_io_executor strand;  // gw::MakeStrand
  boost::asio::steady_timer timer;
  std::shared_ptr<RateLimiter> limiter;
  bool stop = false;
  bool dirty = true;
  /// Past the wait for its first turn (a start spread over many readers): until then a poke
  /// does not cut the wait short.
  bool started = false;
  std::atomic<bool> done{false};
  std::optional<store::TimePoint> watermark;
  std::map<std::string, Clock::time_point> unknown_first_seen;
  /// Known users whose reader copy changed at the reader (differs from what we applied), since.
  std::map<std::string, Clock::time_point> drift_first_seen;
  /// uuid -> (AddUsers log entries our enrolments will produce, when we last enrolled it).
  std::map<std::string, std::pair<int, Clock::time_point>> echoes;
  /// Users (uuid -> version, updated_at) an incremental round already handled: the overlap
  /// window returns them again and again.
  std::map<std::string, std::pair<std::int64_t, store::TimePoint>> handled;
  /// Users to push again whatever their version (the gateway won a conflict on this reader).
  std::set<std::string> force;
  /// A held import from this reader was rejected: restore the gateway's records here.
  bool restore_due = true;

  mutable std::mutex mutex;
  ReaderSyncStatus status;
};

using Reconciler = SyncManager::Reconciler;

/// What every pass needs; outlives the reconcilers.
struct Ctx {
  store::Database& db;
  const SyncOptions& options;
  SyncMetrics* metrics;
};

/// Records `error` as the reconciler's last error (the API's `last_error`).
void SetError(Reconciler& r, const Error& error);

/// Imports changes made at the reader (its UserData log entries after the import cursor).
/// Fails on a reader or database failure (the cursor stays before the failed event, the error
/// is recorded); `*imported` is set when a canonical user changed.
boost::asio::awaitable<Outcome<void>> ImportPass(Ctx ctx, std::shared_ptr<Reconciler> r,
                                                 std::shared_ptr<poll::DeviceWorker> worker,
                                                 bool* imported);

/// A full round: every user of the reader compared with PostgreSQL. Errors are recorded.
boost::asio::awaitable<Outcome<void>> FullRound(Ctx ctx, std::shared_ptr<Reconciler> r,
                                                std::shared_ptr<poll::DeviceWorker> worker);

/// An incremental round: only users changed since the watermark (and forced ones), trusting
/// the recorded state. `*worked`: a plan with operations ran. Errors are recorded.
boost::asio::awaitable<Outcome<void>> IncrementalRound(Ctx ctx, std::shared_ptr<Reconciler> r,
                                                       std::shared_ptr<poll::DeviceWorker> worker,
                                                       bool* worked);

/// Carries out rejected imports of this reader (sync_imports rejected, not yet restored): the
/// gateway's record is pushed back there, or the user deleted there when the gateway has no live
/// user for it; then each is marked restored. Users with a newer pending import there are left
/// alone. Errors are recorded.
boost::asio::awaitable<Outcome<void>> RestoreRejected(Ctx ctx, std::shared_ptr<Reconciler> r,
                                                      std::shared_ptr<poll::DeviceWorker> worker);

/// The canonical record a reader's copy becomes, imported from reader `device_id`: cards and
/// groups, which a reader cannot report, are kept from the gateway's record `user`; a user new
/// to the gateway gets `new_user_groups`.
store::UserWrite ImportedRecord(UserDoc incoming, const std::optional<store::StoredUser>& user,
                                const std::string& device_id,
                                std::vector<std::string> new_user_groups,
                                const crypto::DataKeys* keys);

/// The inputs of a full round's plan, read from PostgreSQL and the reader.
struct FullInputs {
  std::vector<store::UserSummary> desired;
  std::map<std::string, store::DeviceUserState> states;
  std::map<std::string, std::string> actual;  ///< reader uuid -> fingerprint
  std::set<std::string> pending_import;
  std::set<std::string> held;  ///< users with a change at this reader pending review
  std::optional<std::int32_t> record_version;
};
boost::asio::awaitable<Outcome<FullInputs>> GatherFull(Ctx ctx,
                                                       std::shared_ptr<poll::DeviceWorker> worker,
                                                       std::shared_ptr<RateLimiter> limiter);

/// The reader as ComputePlan sees it.
ReaderView ViewOf(const poll::DeviceWorker& worker, std::optional<std::int32_t> record_version);

/// Updates the applied/pending/failed gauges of the reader (metrics only; a failed count is
/// skipped, the next refresh catches up).
boost::asio::awaitable<void> RefreshCounts(Ctx ctx, std::shared_ptr<Reconciler> r,
                                           std::vector<std::string> groups);

}  // namespace gw::sync
