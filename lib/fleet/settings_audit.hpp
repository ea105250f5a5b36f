#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/wait_group.hpp"
#include "config/config.hpp"
#include "fleet/profiles.hpp"

namespace gw::store {
class Database;
}
namespace gw::poll {
class WorkerSet;
}

namespace gw::fleet {

class FleetMetrics;

/// One reader's settings as last audited.
struct ReaderDrift {
  std::string device_id;
  std::optional<std::chrono::system_clock::time_point> audited_at;  ///< last completed audit
  std::string error;        ///< of the last failed audit ("" after a success)
  std::size_t desired = 0;  ///< profiled settings of the reader
  std::vector<SettingDrift> drift;
};

/// What enforcement would do to one reader now (a dry run).
struct SettingsPlan {
  std::string device_id;
  std::vector<SettingDrift> drift;  ///< writable() ones would be written (with fleet.enforce)
  std::size_t desired = 0;
  std::optional<double> clock_skew_s;  ///< at the reader's last health poll
  bool set_clock = false;              ///< the skew passes fleet.time_sync.max_skew_s
};

/// Settings profiles and clock sync of the readers this process polls (the WorkerSet: in a
/// cluster only the readers this instance owns, so each reader is audited by its owner).
///
/// A supervisor checks the WorkerSet's snapshots every second (nothing else: no reader call is
/// added to the poll path) and, per reader:
/// - audits its profiled settings (one `GET /config/{title}/{type}` each, through the reader's
///   DeviceWorker::Run, queued with its polls) when first seen up, when it comes back up after
///   being down or degraded, and every `fleet.audit_ms`; a failed audit is retried after
///   min(audit_ms, 30 s). At most 16 audits run at once.
/// - with `fleet.enforce`, writes each drifted setting back (`PUT /config/{title}/{type}`);
///   every write is first committed as an `audit` event (actor `fleet`, action
///   `setting_enforce`). A reader's refusal is reported in the drift and counted.
/// - with `fleet.time_sync.max_skew_s`, sets the reader's clock when the skew its last health
///   poll measured is larger (audit event `clock_set` committed first), then waits for a new
///   measurement (1.5 health intervals) before judging it again.
/// Nothing is read or written while no profile and no time sync are configured.
///
/// Thread-safety: every public member may be called from any thread. Never logs values of
/// string settings (they may hold addresses); logs titles and reader ids.
class SettingsAudit {
 public:
  SettingsAudit(boost::asio::any_io_executor executor, store::Database& db,
                poll::WorkerSet& workers, config::FleetConfig config, FleetMetrics* metrics,
                std::function<void()> committed = {});
  ~SettingsAudit();
  SettingsAudit(const SettingsAudit&) = delete;
  SettingsAudit& operator=(const SettingsAudit&) = delete;

  void Start();
  /// Stops the supervisor; completes when the audits in flight have finished their reader call
  /// (or after `deadline`).
  boost::asio::awaitable<void> Stop(std::chrono::milliseconds deadline);

  /// New profiles / enforce / time sync (SIGHUP): every reader is audited again at once.
  void Reload(config::FleetConfig config);

  /// The last audit of every reader polled here that has profiled settings, by id.
  std::vector<ReaderDrift> Drift() const;
  bool enforce() const;
  std::size_t profiles() const;

  /// Dry run for reader `device_id`: reads its profiled settings now (through its worker),
  /// writes nothing. Errc::kNotFound when this process does not poll it; a reader failure as
  /// its Errc with `detail` set.
  boost::asio::awaitable<Result<SettingsPlan>> Plan(std::string device_id, std::string* detail);

  struct State;

 private:
  boost::asio::awaitable<void> Supervise();
  boost::asio::awaitable<void> AuditReader(std::string id);
  boost::asio::awaitable<void> SetClock(std::string id, double skew);
  void Spawn(boost::asio::awaitable<void> task, const char* name);
  /// Commits one audit event (retried once); false if it could not be recorded.
  boost::asio::awaitable<bool> Record(std::string device_id, std::string action,
                                      std::string payload);

  boost::asio::any_io_executor executor_;
  store::Database& db_;
  poll::WorkerSet& workers_;
  FleetMetrics* metrics_;
  std::function<void()> committed_;
  mutable std::mutex mutex_;
  config::FleetConfig config_;
  std::map<std::string, std::shared_ptr<State>> states_;
  int audits_running_ = 0;
  bool stopping_ = false;
  std::shared_ptr<WaitGroup> running_ = std::make_shared<WaitGroup>();
};

}  // namespace gw::fleet
