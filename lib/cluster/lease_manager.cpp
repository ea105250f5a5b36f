#include "cluster/lease_manager.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <set>

#include "cluster/balance.hpp"
#include "cluster/cluster_metrics.hpp"
#include "common/run_blocking.hpp"
#include "common/task_failure.hpp"

namespace gw::cluster {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

LeaseManager::LeaseManager(asio::any_io_executor executor, store::Database& db,
                           ClusterOptions options, ApplyOwned apply, ClusterMetrics* metrics)
    : db_(db),
      options_(std::move(options)),
      apply_(std::move(apply)),
      metrics_(metrics),
      strand_(asio::make_strand(std::move(executor))),
      timer_(strand_) {}

LeaseManager::~LeaseManager() = default;

void LeaseManager::Start(std::vector<config::ReaderConfig> readers) {
  asio::dispatch(strand_, [this, readers = std::move(readers)]() mutable {
    if (started_) return;
    started_ = true;
    readers_ = std::move(readers);
    running_.Add();
    asio::co_spawn(strand_, Loop(), [this](std::exception_ptr e) {
      ReportTaskFailure("cluster", "lease rounds", e);
      finished_ = true;
      running_.Done();
    });
  });
}

void LeaseManager::SetReaders(std::vector<config::ReaderConfig> readers) {
  asio::dispatch(strand_, [this, readers = std::move(readers)]() mutable {
    readers_ = std::move(readers);
    ensure_rows_ = true;
    readers_changed_ = true;  // a reader's address or settings may differ: re-apply
    timer_.cancel();          // a round now
  });
}

asio::awaitable<void> LeaseManager::Stop() {
  // On the strand for the whole of it (see DeviceWorker::Stop): a dispatch with use_awaitable
  // resumes on the caller's executor, off the strand.
  co_await asio::co_spawn(strand_, StopOnStrand(), asio::use_awaitable);
}

asio::awaitable<void> LeaseManager::StopOnStrand() {
  stopping_ = true;
  timer_.cancel();
  if (started_ && !finished_) co_await running_.Wait();
  // Pollers first: their last batches commit under leases still held.
  co_await apply_({});
  auto held = held_;
  held_.clear();
  SetTable({});
  if (metrics_) metrics_->readers_owned.Set(0);
  store::Database* db = &db_;
  auto release = [db, node = options_.node_id, held] {
    auto r = store::ReleaseLeasesBlocking(*db, node, held);
    if (!r) return r;
    return store::LeaveClusterBlocking(*db, node);
  };
  auto released = co_await RunBlocking(db_.BlockingPool(), std::move(release));
  if (!released) {
    GW_LOG(kWarn, "cluster") << "could not give back " << held.size()
                             << " leases (they expire on their own): "
                             << released.error().message();
  } else {
    if (metrics_) metrics_->releases.Increment(static_cast<double>(held.size()));
    GW_LOG(kInfo, "cluster") << "node " << options_.node_id << " left the cluster, released "
                             << held.size() << " readers";
  }
}

asio::awaitable<void> LeaseManager::Loop() {
  while (!stopping_) {
    co_await Round();
    if (stopping_) break;
    timer_.expires_after(options_.renew);
    co_await timer_.async_wait(kTuple);
  }
}

std::vector<std::string> LeaseManager::ReaderIds() const {
  std::vector<std::string> ids;
  ids.reserve(readers_.size());
  for (const auto& r : readers_) ids.push_back(r.id);
  return ids;
}

void LeaseManager::SetTable(const std::vector<store::HeldLease>& leases) {
  bool dropped = false;
  {
    std::map<std::string, std::int64_t> next;
    for (const auto& l : leases) next[l.device_id] = l.epoch;
    std::lock_guard lock(mutex_);
    for (const auto& [id, epoch] : epochs_) {
      auto it = next.find(id);
      dropped = dropped || it == next.end() || it->second != epoch;
    }
    epochs_ = std::move(next);
    status_.owned = leases.size();
  }
  // After the table changed: the writer's check (EpochOf) must already see the lease gone.
  if (dropped && options_.leases_dropped) options_.leases_dropped();
}

asio::awaitable<void> LeaseManager::ApplyLeases(const std::vector<store::HeldLease>& keep) {
  std::map<std::string, const config::ReaderConfig*> by_id;
  for (const auto& r : readers_) by_id[r.id] = &r;
  std::vector<config::ReaderConfig> owned;
  for (const auto& l : keep) {
    auto it = by_id.find(l.device_id);
    if (it == by_id.end()) continue;
    // The lease decides which instance polls; the previous owner's session lock is on record, so
    // the new owner resumes it (DESIGN.md invariant 8). A lock that belongs to another client is
    // subject to the reader's lock.on_conflict, as on a single instance.
    owned.push_back(*it->second);
  }
  co_await apply_(std::move(owned));
}

asio::awaitable<void> LeaseManager::Round() {
  auto start = SteadyClock::now();
  auto result = co_await Tick();
  if (stopping_) {
    // Stop() gives back what is held: include what this round just claimed.
    if (result) {
      for (const auto& c : result->claimed) held_.push_back({c.device_id, c.epoch});
    }
    co_return;
  }
  if (!result) {
    co_await RoundFailed(result.error());
    co_return;
  }
  ensure_rows_ = false;
  last_renewed_ = start;
  auto& r = *result;

  auto lost = LostLeases(r);
  std::size_t takeovers = 0;
  std::vector<store::HeldLease> now_held = r.renewed;
  for (const auto& c : r.claimed) {
    now_held.push_back({c.device_id, c.epoch});
    if (!c.previous_owner.empty() && c.previous_owner != options_.node_id) ++takeovers;
  }
  auto ids = ReaderIds();
  auto plan = PlanOwnership(now_held, ids, r.share, options_.node_id);
  RecordOwners(r);
  if (!r.claimed.empty() || !plan.release.empty()) {
    GW_LOG(kInfo, "cluster") << "node " << options_.node_id << ": " << r.live_nodes
                             << " live nodes, share " << r.share << "; claimed " << r.claimed.size()
                             << " (" << takeovers << " taken over), releasing "
                             << plan.release.size() << ", polling " << plan.keep.size();
  }
  // Released readers keep their epoch until their workers have flushed; claimed ones have it
  // before their workers start.
  SetTable(now_held);
  bool changed = !lost.empty() || !r.claimed.empty() || !plan.release.empty() ||
                 held_.size() != plan.keep.size() || readers_changed_;
  readers_changed_ = false;
  if (changed) co_await ApplyLeases(plan.keep);
  SetTable(plan.keep);
  held_ = plan.keep;
  if (!plan.release.empty()) co_await ReleaseLeases(plan.release);
  CountRound(r, takeovers, lost.size());
}

asio::awaitable<Result<store::LeaseTickResult>> LeaseManager::Tick() {
  auto start = SteadyClock::now();
  store::LeaseTickRequest request;
  request.node_id = options_.node_id;
  request.advertise_url = options_.advertise_url;
  request.lease = options_.lease;
  request.readers = ReaderIds();
  request.held = held_;
  request.ensure_rows = ensure_rows_;
  store::Database* db = &db_;
  auto fn = [db, request] { return store::LeaseTickBlocking(*db, request); };
  auto result = co_await RunBlocking(db_.BlockingPool(), std::move(fn));
  if (metrics_) {
    metrics_->round_duration.Observe(
        std::chrono::duration<double>(SteadyClock::now() - start).count());
  }
  co_return result;
}

asio::awaitable<void> LeaseManager::RoundFailed(const boost::system::error_code& error) {
  if (metrics_) metrics_->renew_failures.Increment();
  long suppressed = 0;
  if (log_limit_.Allow(suppressed)) {
    GW_LOG(kWarn, "cluster") << "lease round failed (" << error.message() << "); " << held_.size()
                             << " readers held"
                             << (suppressed ? " [" + std::to_string(suppressed) + " suppressed]"
                                            : std::string());
  }
  // The database's clock started our last successful renewal after `last_renewed_`: past a
  // whole lease, the leases may belong to another node. Stop polling those readers rather than
  // fight the new owner for their session locks.
  if (!held_.empty() && SteadyClock::now() - last_renewed_ >= options_.lease) {
    GW_LOG(kWarn, "cluster") << "no lease renewal for " << options_.lease.count()
                             << " ms: stopping " << held_.size() << " readers";
    if (metrics_) metrics_->leases_lost.Increment(static_cast<double>(held_.size()));
    held_.clear();
    SetTable({});
    if (metrics_) metrics_->readers_owned.Set(0);
    co_await ApplyLeases({});
  }
}

std::vector<std::string> LeaseManager::LostLeases(const store::LeaseTickResult& r) const {
  std::set<std::string> renewed;
  for (const auto& l : r.renewed) renewed.insert(l.device_id);
  std::vector<std::string> lost;
  for (const auto& h : held_) {
    if (!renewed.count(h.device_id)) lost.push_back(h.device_id);
  }
  if (!lost.empty()) {
    GW_LOG(kWarn, "cluster") << "lost the lease on " << lost.size() << " readers (first "
                             << lost.front() << "): another node took them over";
  }
  return lost;
}

void LeaseManager::RecordOwners(const store::LeaseTickResult& r) {
  std::lock_guard lock(mutex_);
  owner_urls_.clear();
  for (const auto& o : r.owners) {
    if (o.node_id != options_.node_id && !o.advertise_url.empty()) {
      owner_urls_[o.device_id] = o.advertise_url;
    }
  }
  status_.live_nodes = r.live_nodes;
  status_.share = r.share;
  ++status_.rounds;
}

asio::awaitable<void> LeaseManager::ReleaseLeases(std::vector<store::HeldLease> leases) {
  store::Database* db = &db_;
  const auto count = leases.size();
  auto release = [db, node = options_.node_id, leases = std::move(leases)] {
    return store::ReleaseLeasesBlocking(*db, node, leases);
  };
  auto released = co_await RunBlocking(db_.BlockingPool(), std::move(release));
  if (!released) {
    GW_LOG(kWarn, "cluster") << "could not give back " << count
                             << " leases (they expire on their own): "
                             << released.error().message();
  } else if (metrics_) {
    metrics_->releases.Increment(static_cast<double>(count));
  }
}

void LeaseManager::CountRound(const store::LeaseTickResult& r, std::size_t takeovers,
                              std::size_t lost) {
  if (!metrics_) return;
  metrics_->renewals.Increment();
  metrics_->claims.Increment(static_cast<double>(r.claimed.size()));
  metrics_->takeovers.Increment(static_cast<double>(takeovers));
  metrics_->leases_lost.Increment(static_cast<double>(lost));
  metrics_->readers_owned.Set(static_cast<double>(held_.size()));
  metrics_->readers_configured.Set(static_cast<double>(readers_.size()));
  metrics_->live_nodes.Set(r.live_nodes);
  metrics_->fair_share.Set(r.share);
}

std::optional<std::int64_t> LeaseManager::EpochOf(const std::string& device_id) const {
  std::lock_guard lock(mutex_);
  auto it = epochs_.find(device_id);
  if (it == epochs_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> LeaseManager::OwnerUrl(const std::string& device_id) const {
  std::lock_guard lock(mutex_);
  auto it = owner_urls_.find(device_id);
  if (it == owner_urls_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> LeaseManager::Owned() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [id, epoch] : epochs_) out.push_back(id);
  return out;
}

LeaseManager::Status LeaseManager::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

}  // namespace gw::cluster
