#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/commit_signal.hpp"
#include "webhook/target.hpp"

namespace gw::store {
class Database;
struct EventRow;
}  // namespace gw::store

namespace gw::webhook {

class HttpSender;
class WebhookMetrics;

struct DispatcherOptions {
  /// The lease owner name: the cluster node id, or "standalone" (then a restart re-claims at once).
  std::string node = "standalone";
  std::chrono::milliseconds lease{15000};
  std::chrono::milliseconds renew{5000};
  std::chrono::milliseconds timeout{5000};        ///< one request, connect to last byte
  std::chrono::milliseconds max_backoff{300000};  ///< ceiling of the retry delay
  std::chrono::milliseconds disable_after{24 * 3600 * 1000};
  AllowList allow;
};

/// The delay before retry number `attempt` (1, 2, ...): 500 ms doubling up to `max`, with jitter
/// (uniform in [half, full] of the step) from `random01` in [0, 1). Pure.
std::chrono::milliseconds RetryDelay(int attempt, std::chrono::milliseconds max, double random01);

/// The message id (`webhook-id`) of a batch: "evt_<seq>" for one event, "evt_<first>-<last>"
/// for several, "gap_<from>-<to>" for a retention gap. Pure.
std::string MessageId(std::int64_t first, std::int64_t last, bool gap);

/// Delivers every webhook subscription this node holds a lease on (issue 19): one coroutine per
/// subscription, events in seq order, one request in flight, retries with backoff, wakes on the
/// CommitSignal. The cursor is committed in PostgreSQL after each 2xx (fenced by the lease and
/// the subscription's revision), but the delivery does not wait for that commit: it goes on
/// after the acknowledged cursor while one committer writes the pending cursor moves of every
/// subscription of the node in one statement (a new batch as soon as the previous one is done).
/// So the stored cursor lags the acknowledged one by at most a commit, never leads it; a crash
/// re-sends only what was acknowledged but not yet committed; a commit that does not apply
/// (lease lost, subscription changed) makes the delivery read from the stored cursor again.
///
/// Everything runs on `executor`; libpqxx on the database's blocking pool.
class Dispatcher {
 public:
  Dispatcher(boost::asio::any_io_executor executor, store::Database& db, api::CommitSignal* commits,
             DispatcherOptions options, WebhookMetrics* metrics);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  /// Starts the lease rounds (the first one at once).
  void Start();
  /// Stops every delivery (a request in flight is abandoned: its cursor was not committed, so
  /// the next owner sends it again) and gives the leases back.
  boost::asio::awaitable<void> Stop();
  /// A subscription changed through the API: wake its delivery now (and run a lease round, so a
  /// new one starts without waiting for `renew`). Any thread.
  void Poke();
  /// The sender's idle keep-alive connections (tests).
  std::size_t idle_connections() const;

 private:
  struct Delivery;
  boost::asio::awaitable<void> LeaseRounds();
  boost::asio::awaitable<void> Committer();
  /// Queues `d`'s acknowledged cursor for the committer.
  void QueueCommit(const std::shared_ptr<Delivery>& d);
  /// Until `d` has no cursor move queued or in flight (or `limit` passed).
  boost::asio::awaitable<void> CommitsSettled(std::shared_ptr<Delivery> d,
                                              std::chrono::milliseconds limit);
  boost::asio::awaitable<void> Deliver(std::shared_ptr<Delivery> delivery);
  boost::asio::awaitable<bool> Sleep(std::shared_ptr<Delivery> delivery,
                                     std::chrono::milliseconds duration, bool wake_on_commit);

  boost::asio::any_io_executor executor_;
  store::Database& db_;
  api::CommitSignal* commits_;
  DispatcherOptions options_;
  WebhookMetrics* metrics_;
  std::unique_ptr<HttpSender> sender_;
  api::CommitSignal wake_;  ///< API changes and Stop
  std::map<std::string, std::shared_ptr<Delivery>> running_;
  bool stopping_ = false;
  int rounds_running_ = 0;
  std::vector<std::shared_ptr<Delivery>> commit_queue_;
  api::CommitSignal commit_wake_;  ///< something was queued
  api::CommitSignal committed_;    ///< a batch finished
  bool committer_running_ = false;
};

}  // namespace gw::webhook
