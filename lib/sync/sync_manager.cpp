#include "sync/sync_manager.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <optional>
#include <set>

#include "common/log.hpp"
#include "common/log_escape.hpp"
#include "common/task_failure.hpp"
#include "poll/device_worker.hpp"
#include "poll/tick.hpp"
#include "poll/worker_set.hpp"
#include "sync/reconciler.hpp"
#include "sync/sync_metrics.hpp"

// The reconcilers' scheduling: which pass is due when, back-off after a failure, and the
// SyncManager that starts and stops one reconciler per reader. The passes themselves are in
// import_pass.cpp and rounds.cpp.

namespace gw::sync {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

/// When each pass of one reconciler is due. Touched only on the reconciler's strand.
struct Schedule {
  bool full_due = true;
  Clock::time_point next_full, next_inventory, retry_at;
  milliseconds backoff{0};
  /// The worker's user_data_committed at the last import: other events (recognitions, door,
  /// plain logs) never concern the importer, and at 1,000 readers each asking the database
  /// after every recognition was 2,000 queries a second.
  std::optional<std::uint64_t> last_user_data;
  poll::ReaderState last_state = poll::ReaderState::kUp;
};

/// Whether the import pass has anything to do.
bool ImportDue(const poll::DeviceWorker::SyncView& snap, Clock::time_point now, const Schedule& s) {
  return !s.last_user_data || *s.last_user_data != snap.user_data_committed ||
         now >= s.next_inventory;
}

/// Whether a turn has anything to do: most of a reconciler's wake-ups (one a second, to see its
/// reader come up) find nothing, and at 1,000 readers entering the turn's coroutines for
/// nothing was a thousand frames a second (issue 18). Turn does exactly this when it is false.
bool TurnDue(const Reconciler& r, const poll::DeviceWorker::SyncView& snap, Clock::time_point now,
             const Schedule& s) {
  return ImportDue(snap, now, s) || r.restore_due || s.full_due || now >= s.next_full || r.dirty;
}

/// The import pass, when the reader has new events or the inventory is due. Returns ok.
asio::awaitable<bool> ImportIfDue(Ctx ctx, const std::shared_ptr<Reconciler>& r,
                                  const std::shared_ptr<poll::DeviceWorker>& worker,
                                  const poll::DeviceWorker::SyncView& snap, Clock::time_point now,
                                  Schedule& s, const std::function<void()>& notify_all) {
  if (!ImportDue(snap, now, s)) co_return true;
  bool imported = false;
  auto done = co_await ImportPass(ctx, r, worker, &imported);
  if (done) {
    s.last_user_data = snap.user_data_committed;
    s.next_inventory = now + ctx.options.inventory;
  }
  if (imported) notify_all();
  co_return static_cast<bool>(done);
}

struct RoundResult {
  bool ok = true;
  bool refresh = false;  ///< the counts may have changed
};

/// A full round when due, else an incremental round when users changed or the poll is due.
asio::awaitable<RoundResult> RoundIfDue(Ctx ctx, const std::shared_ptr<Reconciler>& r,
                                        const std::shared_ptr<poll::DeviceWorker>& worker,
                                        Clock::time_point now, Schedule& s) {
  RoundResult out;
  if (s.full_due || now >= s.next_full) {
    out.ok = static_cast<bool>(co_await FullRound(ctx, r, worker));
    if (!out.ok && !r->stop) {
      // The reader could not be compared: still try the changed users, so that their status
      // shows the reader's answer (and a reader that only fails reads gets them). The round
      // records its own outcome; the full round's failure decides the back-off.
      bool worked = false;
      (void)co_await IncrementalRound(ctx, r, worker, &worked);
    }
    if (out.ok) {
      s.full_due = false;
      s.next_full = Clock::now() + ctx.options.audit;
      r->dirty = false;
    }
    out.refresh = true;
    if (ctx.metrics) ctx.metrics->CountRound(r->id, true, out.ok);
  } else if (r->dirty) {
    // Set by this process's changes and by the fleet-wide look for other instances' changes
    // (SyncManager::Supervise): no reconciler asks the database on a timer of its own.
    r->dirty = false;
    bool worked = false;
    out.ok = static_cast<bool>(co_await IncrementalRound(ctx, r, worker, &worked));
    out.refresh = worked || !out.ok;
    if (ctx.metrics && out.refresh) ctx.metrics->CountRound(r->id, false, out.ok);
  }
  co_return out;
}

/// Users changed by another instance (users.updated_at), looked for once per change_poll for
/// the whole fleet: one query, not one per reconciler (at 1,000 readers that was 500 a second).
/// Each reconciler's incremental round then finds what concerns its reader.
struct ChangeWatch {
  bool primed = false;  ///< the first look only learns what exists
  std::optional<store::TimePoint> watermark;
  /// uuid -> (version, updated_at) seen in the overlap window, which returns them again.
  std::map<std::string, std::pair<std::int64_t, store::TimePoint>> seen;
  Clock::time_point next{};
};

/// True when a user changed since the last look. A failed query is retried at the next look,
/// which covers the same window.
asio::awaitable<bool> UsersChanged(store::Database& db, ChangeWatch& w) {
  std::optional<store::TimePoint> since;
  if (w.watermark) since = *w.watermark - kChangeOverlap;
  auto users = co_await store::UserSummaries(db, since);
  if (!users) {
    GW_LOG(kDebug, "sync") << "looking for changed users: " << users.error().message();
    co_return false;
  }
  bool changed = false;
  for (const auto& u : *users) {
    auto [it, added] = w.seen.try_emplace(u.user_uuid, u.version, u.updated_at);
    if (added || it->second.first != u.version) changed = true;
    it->second = {u.version, u.updated_at};
    if (!w.watermark || u.updated_at > *w.watermark) w.watermark = u.updated_at;
  }
  if (w.watermark) {
    auto horizon = *w.watermark - 2 * kChangeOverlap;
    std::erase_if(w.seen, [&](const auto& kv) { return kv.second.second < horizon; });
  }
  const bool first = !w.primed;
  w.primed = true;
  co_return changed && !first;
}

/// After a failed turn: a full round next, after an exponential back-off (1 s .. 30 s).
void BackOff(Reconciler& r, Schedule& s) {
  s.full_due = true;
  s.backoff = std::min(milliseconds(30000), std::max(milliseconds(1000), s.backoff * 2));
  s.retry_at = Clock::now() + s.backoff;
  std::string error;
  {
    std::lock_guard lock(r.mutex);
    error = r.status.last_error;
  }
  GW_LOG(kWarn, "sync") << r.id << ": round failed (" << log::Cut(error) << "); retry in "
                        << s.backoff.count() << " ms";
}

/// Every pass due now, in order: import, then a full or incremental round.
asio::awaitable<void> Turn(Ctx ctx, const std::shared_ptr<Reconciler>& r,
                           const std::shared_ptr<poll::DeviceWorker>& worker,
                           const poll::DeviceWorker::SyncView& snap, Clock::time_point now,
                           Schedule& s, const std::function<void()>& notify_all) {
  bool ok = co_await ImportIfDue(ctx, r, worker, snap, now, s, notify_all);
  if (ok && (r->restore_due || s.full_due || now >= s.next_full)) {
    // Rejected imports (decided here, on another instance, or before a restart).
    r->restore_due = false;
    ok = static_cast<bool>(co_await RestoreRejected(ctx, r, worker));
    if (!ok) r->restore_due = true;
  }
  RoundResult round;
  if (ok) round = co_await RoundIfDue(ctx, r, worker, now, s);
  if (!ok || !round.ok) {
    BackOff(*r, s);
  } else {
    s.backoff = milliseconds(0);
  }
  if (round.refresh) {
    co_await RefreshCounts(ctx, r, ReaderGroups(worker->id(), worker->reader().groups));
  }
}

/// Wakes `r` now, whatever it waits for (its next pass, a back-off): it looks at its reader
/// again. Thread-safe; a wake that meets a turn in progress is not needed (the loop looks again
/// after every turn).
void Poke(const std::shared_ptr<Reconciler>& r) {
  asio::post(r->strand, [r] {
    if (r->started) r->timer.cancel();
  });
}

/// One reader's reconciler until it is stopped or its reader is no longer polled here.
/// `first_turn_in`: when many reconcilers start at once, each waits its turn (see
/// StartSpacing). Between turns it sleeps until its next pass is due, or until it is poked: by
/// its reader's worker (state changed, enrolments at the reader committed), by a change of users
/// (SyncManager::NotifyUsersChanged), by a change of the set of workers (Supervise), by Stop().
/// At 1,000 readers, a look at every reader once a second was a thousand wake-ups a second for
/// nothing (issue 18).
asio::awaitable<void> RunReconciler(Ctx ctx, poll::WorkerSet& workers,
                                    std::shared_ptr<Reconciler> r, std::function<void()> notify_all,
                                    Clock::duration first_turn_in) {
  Schedule s;
  if (ctx.metrics) ctx.metrics->SetCounts(r->id, 0, 0, 0);
  if (ctx.metrics) ctx.metrics->SetUnknown(r->id, 0);
  if (first_turn_in > Clock::duration::zero() && !r->stop) {
    r->timer.expires_after(first_turn_in);  // Stop() and a change of users cut it short
    co_await r->timer.async_wait(kTuple);
  }
  r->started = true;
  auto now = Clock::now();
  s.next_full = s.next_inventory = s.retry_at = now;
  // The reader's worker, looked up again only when the set of workers has changed. Not held
  // while waiting: a removed worker is not kept alive by its reconciler.
  std::weak_ptr<poll::DeviceWorker> known;
  std::uint64_t known_generation = 0;
  bool looked_up = false;
  auto listener = [weak = std::weak_ptr<Reconciler>(r)] {
    if (auto self = weak.lock()) Poke(self);
  };
  while (!r->stop) {
    std::shared_ptr<poll::DeviceWorker> worker;
    if (looked_up && workers.generation() == known_generation) worker = known.lock();
    if (!worker) {
      known_generation = workers.generation();  // before Find: a change after it moves it again
      worker = workers.Find(r->id);
      if (worker && worker != known.lock()) worker->SetSyncListener(listener);
      known = worker;
      looked_up = true;
    }
    if (!worker) break;
    auto snap = worker->Sync();
    now = Clock::now();
    if (snap.state == poll::ReaderState::kUp && s.last_state != poll::ReaderState::kUp) {
      s.full_due = true;  // back (or first seen up): compare everything
      s.retry_at = now;
    }
    s.last_state = snap.state;
    const bool due = TurnDue(*r, snap, now, s);
    if (due && now >= s.retry_at) {
      co_await Turn(ctx, r, worker, snap, now, s, notify_all);
      continue;  // what changed during the turn (no wake-up was needed for it) is seen now
    }
    worker.reset();
    // Something due waits out its back-off; otherwise the next pass on the clock.
    auto wake = due ? s.retry_at : std::min(s.next_full, s.next_inventory);
    // On the pollers' grid: reconcilers waking at times of their own add context switches.
    r->timer.expires_at(poll::OnTick(wake));
    co_await r->timer.async_wait(kTuple);
  }
  if (auto worker = known.lock()) worker->SetSyncListener({});
  if (ctx.metrics) ctx.metrics->RemoveReader(r->id);
  r->done = true;
}

}  // namespace

Clock::duration StartSpacing(std::size_t starting) {
  if (starting <= 1) return Clock::duration::zero();
  return std::min<Clock::duration>(kStartSpacing, kStartSpread / starting);
}

SyncManager::SyncManager(asio::any_io_executor executor, store::Database& db,
                         poll::WorkerSet& workers, SyncOptions options, SyncMetrics* metrics)
    : executor_(std::move(executor)),
      db_(db),
      workers_(workers),
      options_(options),
      metrics_(metrics) {}

SyncManager::~SyncManager() = default;

void SyncManager::Start() {
  running_->Add();
  asio::co_spawn(executor_, Supervise(), [running = running_](const std::exception_ptr& e) {
    ReportTaskFailure("sync", "sync supervisor", e);
    running->Done();
  });
}

asio::awaitable<void> SyncManager::Supervise() {
  asio::steady_timer timer(executor_);
  Ctx ctx{db_, options_, metrics_};
  ChangeWatch watch;
  // The set of workers this loop last started reconcilers for; only a change of it (SIGHUP, a
  // lease won or lost) makes the loop read the set and wake every reconciler.
  std::optional<std::uint64_t> seen_generation;
  while (true) {
    // Before any reconciler starts: their first (full) rounds read everything up to then.
    if (Clock::now() >= watch.next) {
      watch.next = Clock::now() + options_.change_poll;
      if (co_await UsersChanged(db_, watch)) NotifyUsersChanged();
    }
    std::vector<std::shared_ptr<Reconciler>> start;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
      bool ended = false;
      for (auto it = reconcilers_.begin(); it != reconcilers_.end();) {
        if (it->second->done) {
          it = reconcilers_.erase(it);
          ended = true;
        } else {
          ++it;
        }
      }
      const auto generation = workers_.generation();  // before the read: a later change moves it
      const bool moved = generation != seen_generation;
      std::set<std::string> ids;
      if (moved || ended) {
        seen_generation = generation;
        for (const auto& s : workers_.Snapshots()) ids.insert(s.id);
      }
      // Each looks its worker up again: a reader removed ends its reconciler, a restarted one
      // gets the new worker.
      if (moved) {
        for (auto& [id, r] : reconcilers_) Poke(r);
      }
      for (const auto& id : ids) {
        if (reconcilers_.count(id)) continue;
        auto r = std::make_shared<Reconciler>(executor_, id, options_.max_ops_per_second);
        r->status.device_id = id;
        reconcilers_.emplace(id, r);
        running_->Add();  // under the lock: Stop() collects what it waits for under it too
        start.push_back(r);
      }
    }
    const auto spacing = StartSpacing(start.size());
    Clock::duration first_turn_in{0};
    for (auto& r : start) {
      auto task = RunReconciler(
          ctx, workers_, r, [this] { NotifyUsersChanged(); }, first_turn_in);
      first_turn_in += spacing;
      asio::co_spawn(r->strand, std::move(task),
                     [r, running = running_](const std::exception_ptr& e) {
                       r->done = true;
                       ReportTaskFailure("sync", "reconciler", e, r->id);
                       running->Done();
                     });
    }
    timer.expires_at(std::min(Clock::now() + std::chrono::seconds(1), watch.next));
    co_await timer.async_wait(kTuple);
  }
}

asio::awaitable<void> SyncManager::Stop() {
  std::vector<std::shared_ptr<Reconciler>> all;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& [id, r] : reconcilers_) all.push_back(r);
  }
  for (auto& r : all) {
    asio::post(r->strand, [r] {
      r->stop = true;
      r->timer.cancel();
    });
  }
  if (!co_await running_->WaitFor(std::chrono::seconds(15))) {
    GW_LOG(kWarn, "sync") << "reconcilers still running 15 s after the stop; not waiting longer";
  }
}

void SyncManager::NotifyUsersChanged() {
  std::lock_guard lock(mutex_);
  for (auto& entry : reconcilers_) {
    asio::post(entry.second->strand, [r = entry.second] {
      r->dirty = true;
      r->timer.cancel();
    });
  }
}

std::vector<ReaderSyncStatus> SyncManager::Status() const {
  std::vector<ReaderSyncStatus> out;
  std::lock_guard lock(mutex_);
  for (const auto& [id, r] : reconcilers_) {
    std::lock_guard l(r->mutex);
    out.push_back(r->status);
  }
  return out;
}

asio::awaitable<Result<PlanReport>> SyncManager::DryRun(std::string device_id) {
  auto worker = workers_.Find(device_id);
  if (!worker) co_return boost::system::error_code(Errc::kNotFound);
  Ctx ctx{db_, options_, metrics_};
  auto limiter = std::make_shared<RateLimiter>(options_.max_ops_per_second);
  auto in = co_await GatherFull(ctx, worker, limiter);
  if (!in && in.error().source == ErrorSource::kDatabase) {
    co_return boost::system::error_code(Errc::kDbUnavailable);
  }
  if (!in) {
    PlanReport failed;
    failed.device_id = device_id;
    failed.error = Describe(in.error());
    co_return failed;
  }
  PlanInput pi;
  pi.desired = &in->desired;
  pi.states = &in->states;
  pi.actual = &in->actual;
  pi.reader = ViewOf(*worker, in->record_version);
  pi.policy = options_.policy;
  pi.pending_import = &in->pending_import;
  pi.held = &in->held;
  PlanReport report;
  report.device_id = device_id;
  report.plan = ComputePlan(pi);
  report.reader_users = static_cast<std::int64_t>(in->actual.size());
  report.record_version = in->record_version;
  co_return report;
}

}  // namespace gw::sync
