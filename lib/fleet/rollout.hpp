#pragma once
// Staged firmware rollouts (issue 20): the pure wave and step decisions, and the engine that
// carries them out on the readers this instance polls.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/router.hpp"
#include "common/log.hpp"
#include "common/wait_group.hpp"
#include "store/rollouts.hpp"

namespace prometheus {
class Registry;
}
namespace gw::poll {
class WorkerSet;
class DeviceWorker;
}  // namespace gw::poll
namespace gw::store {
class Database;
}

namespace gw::fleet {

// ---- pure decisions (unit-tested without a reader or a database) ----

/// The wave of each of `readers` readers in rollout order: the first `canary` are wave 0, then
/// batches of `batch` are waves 1, 2, ... (with canary 0 the first batch is wave 1).
std::vector<int> AssignWaves(std::size_t readers, int canary, int batch);

/// The next move of a running rollout, from its readers' steps:
/// - more failed readers than `max_failures`: halt (no new install starts; those in flight
///   finish and are recorded);
/// - readers of a started wave (wave <= current) still pending (the rollout was paused or the
///   gateway restarted before they began): start them;
/// - a started wave still installing or verifying: wait;
/// - otherwise start the next wave that has readers, or complete.
store::RolloutAdvance PlanAdvance(const store::RolloutRow& rollout,
                                  const std::vector<store::RolloutReaderRow>& readers);

/// What the verifier sees of an upgraded reader.
struct Observation {
  bool up = false;                     ///< its poller's state is `up` (polls succeed again)
  std::optional<std::string> version;  ///< what GET /version answered (nullopt: no answer)
};
enum class Verdict { kWait, kDone, kFailed };
/// Done when the reader is up and reports `expected`; failed once `now` is past `deadline`;
/// otherwise wait.
Verdict Verify(const Observation& seen, std::string_view expected,
               std::chrono::system_clock::time_point now,
               std::chrono::system_clock::time_point deadline);

/// A version label as POST /api/v1/fleet/firmware takes it: 1-64 of A-Z a-z 0-9 . _ + -.
bool ValidVersionLabel(std::string_view version);

// ---- the engine ----

struct RolloutOptions {
  std::chrono::milliseconds check{1000};  ///< how often rollouts are advanced and steps checked
  std::string node;  ///< cluster node id ("" = single instance): recorded on claimed installs
};

/// Carries out the rollouts stored in PostgreSQL. Every `check`: advances each running rollout
/// (a wave starts in a transaction that locks the rollout row, so nodes never both start one),
/// then works on the installing/verifying readers that this instance polls (its WorkerSet; in
/// cluster mode, the readers whose lease it holds), one task per reader:
/// - installing: claim the install, put the worker in maintenance, ask GET /version (an install
///   that already took effect before a restart is not repeated), upload the image through the
///   worker (DeviceWorker::Run, the reader's one connection and lock); a refusal fails the
///   reader, an unreachable reader is retried until the health window has passed;
/// - verifying: wait until the reader's poller is `up` again and GET /version reports the
///   rollout's version, within `health_window_s` of the upload; done or failed.
/// Every install is an audit event. Metrics: ef45gw_fleet_rollout_readers{rollout,step},
/// ef45gw_fleet_rollout_installs_total{result}.
///
/// State is in PostgreSQL only: a restart finds the rollout where it was and resumes it.
/// Thread-safety: Start/Stop from the gateway's start-up and shutdown; the rest runs on the
/// engine's strand.
class RolloutEngine {
 public:
  RolloutEngine(boost::asio::any_io_executor executor, store::Database& db,
                poll::WorkerSet& workers, RolloutOptions options, api::AuditSink audit,
                prometheus::Registry* metrics);
  ~RolloutEngine();
  RolloutEngine(const RolloutEngine&) = delete;
  RolloutEngine& operator=(const RolloutEngine&) = delete;

  void Start();
  /// Stops checking; waits up to `deadline` for the reader tasks (an upload in flight is cut
  /// off; the reader stays `installing` and the next start resumes it).
  boost::asio::awaitable<void> Stop(std::chrono::milliseconds deadline);

 private:
  struct Metrics;
  boost::asio::awaitable<void> StopOnStrand();
  boost::asio::awaitable<void> Loop();
  boost::asio::awaitable<void> Round();
  boost::asio::awaitable<void> RunStep(store::ActiveStep step,
                                       std::shared_ptr<poll::DeviceWorker> worker);
  boost::asio::awaitable<bool> Install(const store::ActiveStep& step,
                                       std::shared_ptr<poll::DeviceWorker> worker);
  boost::asio::awaitable<void> VerifyStep(const store::ActiveStep& step,
                                          std::shared_ptr<poll::DeviceWorker> worker);
  boost::asio::awaitable<void> Finish(const store::ActiveStep& step,
                                      std::shared_ptr<poll::DeviceWorker> worker,
                                      std::string step_name, std::optional<std::string> error,
                                      std::optional<std::string> version);
  boost::asio::awaitable<std::shared_ptr<const std::string>> Image(const std::string& sha256);
  boost::asio::awaitable<void> Sleep(std::chrono::milliseconds d);
  boost::asio::awaitable<void> UpdateMetrics();

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  store::Database& db_;
  poll::WorkerSet& workers_;
  RolloutOptions options_;
  api::AuditSink audit_;
  std::unique_ptr<Metrics> metrics_;
  boost::asio::steady_timer timer_;
  WaitGroup running_;
  bool stopping_ = false;
  log::RateLimit log_limit_{5, std::chrono::seconds(60)};  // database failures
  std::set<std::pair<std::int64_t, std::string>> busy_;    // (rollout, reader) tasks running here
  std::pair<std::string, std::shared_ptr<const std::string>> image_cache_;
};

}  // namespace gw::fleet
