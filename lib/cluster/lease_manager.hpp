#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/log.hpp"
#include "common/wait_group.hpp"
#include "config/config.hpp"
#include "store/database.hpp"
#include "store/leases.hpp"

namespace gw::cluster {

struct ClusterMetrics;

struct ClusterOptions {
  std::string node_id;        ///< unique per instance (config cluster.node_id)
  std::string advertise_url;  ///< where other nodes redirect reader operations for our readers
  std::chrono::milliseconds lease{15000};
  std::chrono::milliseconds renew{5000};
  /// Called (on the manager's strand, must not block) when this node stops holding a lease it
  /// held: given up after a lease without renewal, lost to another node, or released. The
  /// daemon points it at EventWriter::LeasesChanged, so a commit retried through a PostgreSQL
  /// outage drops those readers' batches at once instead of keeping their pollers waiting.
  std::function<void()> leases_dropped;
};

/// Brings this node's pollers to exactly `owned` (WorkerSet::Apply in the daemon): readers not
/// in it stop (flushing their last batch, releasing the reader's session lock), new ones start.
using ApplyOwned = std::function<boost::asio::awaitable<void>(std::vector<config::ReaderConfig>)>;

/// Runs this node's share of a fleet that several gateways poll together, with PostgreSQL as the
/// only coordinator (DESIGN.md section 9; the SQL and its reasoning are in store/leases.hpp).
///
/// Every `renew` it runs one round: one transaction that heartbeats this node, renews its leases
/// (a lease that another node took over is simply not renewed: lost), counts the live nodes and
/// claims free readers (released, never claimed, or expired) up to the fair share
/// ceil(readers / live nodes). Then:
/// - lost readers stop at once (their writes are fenced anyway);
/// - above the share (a node joined) or no longer configured (SIGHUP), readers are released
///   gracefully: the worker stops and releases the reader's lock, then the lease is given back
///   so another node claims it without waiting for the expiry;
/// - claimed readers start, always with `lock.on_conflict = steal`: the lease, not the reader's
///   session lock, says who polls; a dead owner's lock is taken over. The worker loads the
///   committed cursor from PostgreSQL as at any start, so nothing is lost or doubled.
/// - If no round succeeds for a whole lease (PostgreSQL unreachable, or this process was
///   paused), every lease may have been taken over: all readers stop until a round succeeds.
///   Their batches still waiting for PostgreSQL are dropped, not written after the outage
///   (ClusterOptions::leases_dropped), so the pollers stop at once.
///
/// EpochOf() feeds the event writer's fence (WriterOptions::lease_epoch), OwnerUrl() the API's
/// redirects of reader operations.
///
/// Thread-safety: Start/SetReaders/Stop from any thread (they hop to the manager's strand);
/// EpochOf, OwnerUrl, Owned and status from any thread. Lifetime: co_await Stop() before
/// destroying it; the Database and the apply target must outlive it.
class LeaseManager {
 public:
  LeaseManager(boost::asio::any_io_executor executor, store::Database& db, ClusterOptions options,
               ApplyOwned apply, ClusterMetrics* metrics = nullptr);
  ~LeaseManager();
  LeaseManager(const LeaseManager&) = delete;
  LeaseManager& operator=(const LeaseManager&) = delete;

  /// Starts the rounds (the first one at once) for this reader list. Call once.
  void Start(std::vector<config::ReaderConfig> readers);
  /// SIGHUP: a new reader list, applied by a round that starts now.
  void SetReaders(std::vector<config::ReaderConfig> readers);
  /// Ends the rounds, stops every poller (each flushes and releases its reader lock), gives
  /// every lease back and marks the node gone, so the others take over at once.
  boost::asio::awaitable<void> Stop();

  /// The epoch of this node's lease on `device_id`, or nullopt if it holds none.
  std::optional<std::int64_t> EpochOf(const std::string& device_id) const;
  /// The advertise URL of the live node owning `device_id` if that is another node (and has one).
  std::optional<std::string> OwnerUrl(const std::string& device_id) const;
  /// The readers this node holds a lease on, sorted.
  std::vector<std::string> Owned() const;

  struct Status {
    int live_nodes = 0;
    int share = 0;
    std::size_t owned = 0;
    std::uint64_t rounds = 0;  ///< rounds that reached PostgreSQL
  };
  Status status() const;

 private:
  boost::asio::awaitable<void> Loop();
  boost::asio::awaitable<void> StopOnStrand();
  boost::asio::awaitable<void> Round();
  /// One LeaseTickBlocking on the database pool (its duration observed).
  boost::asio::awaitable<Result<store::LeaseTickResult>> Tick();
  /// A round that did not reach PostgreSQL: past a whole lease without renewal, stop polling.
  boost::asio::awaitable<void> RoundFailed(const boost::system::error_code& error);
  /// The readers held before this round that it did not renew (logged).
  std::vector<std::string> LostLeases(const store::LeaseTickResult& r) const;
  /// Other nodes' advertise URLs and the cluster status, for any thread.
  void RecordOwners(const store::LeaseTickResult& r);
  boost::asio::awaitable<void> ReleaseLeases(std::vector<store::HeldLease> leases);
  void CountRound(const store::LeaseTickResult& r, std::size_t takeovers, std::size_t lost);
  boost::asio::awaitable<void> ApplyLeases(const std::vector<store::HeldLease>& keep);
  void SetTable(const std::vector<store::HeldLease>& leases);
  std::vector<std::string> ReaderIds() const;

  store::Database& db_;
  ClusterOptions options_;
  ApplyOwned apply_;
  ClusterMetrics* metrics_;
  boost::asio::strand<boost::asio::any_io_executor> strand_;
  boost::asio::steady_timer timer_;
  WaitGroup running_;  // the rounds, once started
  log::RateLimit log_limit_{5, std::chrono::seconds(60)};
  // Strand state.
  std::vector<config::ReaderConfig> readers_;
  std::vector<store::HeldLease> held_;
  bool ensure_rows_ = true;
  bool readers_changed_ = false;
  bool started_ = false;
  bool stopping_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point last_renewed_{};
  // Read from any thread.
  mutable std::mutex mutex_;
  std::map<std::string, std::int64_t> epochs_;
  std::map<std::string, std::string> owner_urls_;  // readers owned by other live nodes
  Status status_;
};

}  // namespace gw::cluster
