#include "fleet/settings_audit.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <random>
#include <set>

#include "common/log.hpp"
#include "common/task_failure.hpp"
#include "common/time.hpp"
#include "ef45/client.hpp"
#include "ef45/encode.hpp"
#include "fleet/fleet_metrics.hpp"
#include "poll/device_worker.hpp"
#include "poll/worker_set.hpp"
#include "store/queries.hpp"

namespace gw::fleet {

namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

constexpr int kMaxAuditsRunning = 16;
constexpr milliseconds kFailedAuditRetry{30000};
/// The first audits after start (or a reload) are spread over this much (no herd).
constexpr milliseconds kFirstAuditSpread{5000};

json::value ToJson(const config::SettingValue& v) {
  return std::visit([](const auto& x) { return json::value(x); }, v);
}

/// A refusal of one setting by a reader that otherwise answers (an unknown title, a wrong type,
/// a value out of its range): reported per setting; anything else ends the audit.
bool SettingRefused(const ef45::Error& e) {
  return e.reason() == Errc::kHttpStatus && e.http_status >= 400 && e.http_status < 500;
}

std::string Describe(const ef45::Error& e) {
  std::string out = e.detail;
  if (e.http_status) out += " (reader status " + std::to_string(e.http_status) + ")";
  return out;
}

struct ReadOutcome {
  std::map<std::string, ActualSetting> actual;
  std::optional<ef45::Error> failure;  ///< the reader could not be read at all
};

/// Strand of the reader's worker: one GET per desired setting.
asio::awaitable<ReadOutcome> ReadSettings(std::shared_ptr<poll::DeviceWorker> worker,
                                          std::vector<DesiredSetting> desired) {
  ReadOutcome out;
  for (const auto& d : desired) {
    auto r = co_await worker->client().GetSetting(d.title, ef45::TypeOf(d.value));
    if (r) {
      out.actual[d.title] = ActualSetting{r->value, {}};
      continue;
    }
    if (SettingRefused(r.error())) {
      out.actual[d.title] = ActualSetting{std::nullopt, Describe(r.error())};
      continue;
    }
    out.failure = r.error();
    break;
  }
  co_return out;
}

/// Strand of the reader's worker.
asio::awaitable<std::optional<ef45::Error>> WriteSetting(std::shared_ptr<poll::DeviceWorker> worker,
                                                         std::string title,
                                                         config::SettingValue value) {
  auto r = co_await worker->client().SetSetting(title, value);
  if (!r) co_return r.error();
  co_return std::nullopt;
}

/// Strand of the reader's worker: the reader's clock to ours.
asio::awaitable<std::optional<ef45::Error>> WriteClock(std::shared_ptr<poll::DeviceWorker> worker) {
  auto r = co_await worker->client().SetDeviceTime(
      ef45::FormatDeviceTime(std::chrono::system_clock::now()));
  if (!r) co_return r.error();
  if (!r->success) {
    co_return ef45::MakeError(Errc::kHttpStatus, "setDeviceTime answered " + r->status, 200);
  }
  co_return std::nullopt;
}

}  // namespace

/// One reader's audit state. Guarded by SettingsAudit::mutex_.
struct SettingsAudit::State {
  std::string id;
  Clock::time_point next_audit;
  Clock::time_point clock_hold_until;  ///< no clock judgement before a new skew measurement
  poll::ReaderState last_state = poll::ReaderState::kDown;
  bool seen_up = false;
  bool busy = false;  ///< an audit or a clock set is running
  ReaderDrift drift;
};

SettingsAudit::SettingsAudit(asio::any_io_executor executor, store::Database& db,
                             poll::WorkerSet& workers, config::FleetConfig config,
                             FleetMetrics* metrics, std::function<void()> committed)
    : executor_(std::move(executor)),
      db_(db),
      workers_(workers),
      metrics_(metrics),
      committed_(std::move(committed)),
      config_(std::move(config)) {}

SettingsAudit::~SettingsAudit() = default;

void SettingsAudit::Spawn(asio::awaitable<void> task, const char* name) {
  running_->Add();
  asio::co_spawn(executor_, std::move(task), [running = running_, name](std::exception_ptr e) {
    ReportTaskFailure("fleet", name, e);
    running->Done();
  });
}

void SettingsAudit::Start() { Spawn(Supervise(), "fleet supervisor"); }

asio::awaitable<void> SettingsAudit::Stop(milliseconds deadline) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  co_await running_->WaitFor(deadline);
}

void SettingsAudit::Reload(config::FleetConfig config) {
  std::lock_guard lock(mutex_);
  config_ = std::move(config);
  const auto now = Clock::now();
  for (auto& [id, state] : states_) state->next_audit = now;
}

bool SettingsAudit::enforce() const {
  std::lock_guard lock(mutex_);
  return config_.enforce;
}

std::size_t SettingsAudit::profiles() const {
  std::lock_guard lock(mutex_);
  return config_.profiles.size();
}

std::vector<ReaderDrift> SettingsAudit::Drift() const {
  std::lock_guard lock(mutex_);
  std::vector<ReaderDrift> out;
  for (const auto& [id, state] : states_) {
    if (state->drift.desired > 0) out.push_back(state->drift);
  }
  return out;
}

asio::awaitable<void> SettingsAudit::Supervise() {
  asio::steady_timer timer(executor_);
  std::mt19937 random(std::random_device{}());
  while (true) {
    std::vector<std::pair<std::string, double>> clocks;  // readers whose clock to set
    std::vector<std::string> audits;
    std::vector<std::string> gone;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
    }
    bool active = false;
    {
      std::lock_guard lock(mutex_);
      active = !config_.profiles.empty() || config_.max_skew_s.has_value();
    }
    // Nothing configured: not even the snapshots are read.
    auto snapshots = active ? workers_.Snapshots() : std::vector<poll::ReaderSnapshot>{};
    {
      std::lock_guard lock(mutex_);
      const auto now = Clock::now();
      std::set<std::string> present;
      for (const auto& snap : snapshots) {
        present.insert(snap.id);
        auto& state = states_[snap.id];
        if (!state) {
          state = std::make_shared<State>();
          state->id = snap.id;
          std::uniform_int_distribution<long> spread(
              0, std::min(config_.audit, kFirstAuditSpread).count());
          state->next_audit = now + milliseconds(spread(random));
          state->drift.device_id = snap.id;
        }
        const bool up = snap.state == poll::ReaderState::kUp;
        if (up && state->seen_up && state->last_state != poll::ReaderState::kUp) {
          state->next_audit = now;  // back after a failure: read it again
        }
        if (up) state->seen_up = true;
        state->last_state = snap.state;
        if (!up || state->busy) continue;
        if (config_.max_skew_s && snap.clock_skew_s && now >= state->clock_hold_until &&
            std::fabs(*snap.clock_skew_s) > *config_.max_skew_s) {
          state->busy = true;
          clocks.emplace_back(snap.id, *snap.clock_skew_s);
          continue;
        }
        if (!config_.profiles.empty() && now >= state->next_audit &&
            audits_running_ < kMaxAuditsRunning) {
          state->busy = true;
          ++audits_running_;
          audits.push_back(snap.id);
        }
      }
      for (auto it = states_.begin(); it != states_.end();) {
        if (present.count(it->first) || it->second->busy) {
          ++it;
          continue;
        }
        gone.push_back(it->first);
        it = states_.erase(it);
      }
    }
    for (const auto& id : gone) {
      if (metrics_) metrics_->RemoveReader(id);
    }
    for (auto& [id, skew] : clocks) Spawn(SetClock(id, skew), "fleet clock set");
    for (auto& id : audits) Spawn(AuditReader(id), "fleet audit");
    timer.expires_after(std::chrono::seconds(1));
    co_await timer.async_wait(kTuple);
  }
}

asio::awaitable<bool> SettingsAudit::Record(std::string device_id, std::string action,
                                            std::string payload) {
  static std::atomic<std::uint64_t> counter{0};
  store::AuditEvent event;
  event.device_id = device_id;
  // Unique per action: the time and a process counter (a retry below reuses it: never twice).
  event.key = "fleet:" + action + ":" +
              std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count()) +
              ":" + std::to_string(counter.fetch_add(1));
  event.payload = std::move(payload);
  auto result = co_await store::InsertAudit(db_, event);
  if (!result) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(milliseconds(200));
    co_await timer.async_wait(kTuple);
    result = co_await store::InsertAudit(db_, event);
  }
  if (!result) {
    GW_LOG(kError, "fleet") << device_id << ": could not record " << action
                            << " (nothing written to the reader): " << result.error().message();
    co_return false;
  }
  if (committed_) committed_();
  co_return true;
}

asio::awaitable<void> SettingsAudit::AuditReader(std::string id) {
  std::vector<DesiredSetting> desired;
  bool enforce = false;
  milliseconds interval{};
  std::shared_ptr<poll::DeviceWorker> worker = workers_.Find(id);
  {
    std::lock_guard lock(mutex_);
    if (worker) desired = DesiredFor(config_.profiles, worker->reader().groups);
    enforce = config_.enforce;
    interval = config_.audit;
  }
  std::string error;
  std::vector<SettingDrift> drift;
  if (worker && !desired.empty()) {
    auto& w = *worker;
    auto read = co_await w.Run(ReadSettings(worker, desired));
    if (read.failure) {
      error = Describe(*read.failure);
    } else {
      drift = ComputeDrift(desired, read.actual);
    }
    if (metrics_) metrics_->CountAudit(id, error.empty());
    if (error.empty() && enforce) {
      for (auto it = drift.begin(); it != drift.end();) {
        if (!it->writable()) {
          ++it;
          continue;
        }
        json::object payload{{"actor", "fleet"},
                             {"role", "system"},
                             {"action", "setting_enforce"},
                             {"device_id", id},
                             {"target", it->title},
                             {"profile", it->profile},
                             {"desired", ToJson(it->desired)},
                             {"actual", ToJson(*it->actual)}};
        // On record before the reader changes (DESIGN.md invariant 7).
        if (!co_await Record(id, "setting_enforce", json::serialize(payload))) break;
        auto failed = co_await w.Run(WriteSetting(worker, it->title, it->desired));
        if (metrics_) metrics_->CountWrite(id, !failed);
        if (failed) {
          GW_LOG(kWarn, "fleet") << id << ": could not write " << it->title << ": "
                                 << Describe(*failed);
          it->error = "enforce: " + Describe(*failed);
          ++it;
          continue;
        }
        GW_LOG(kInfo, "fleet") << id << ": " << it->title << " set back to profile '" << it->profile
                               << "'";
        it = drift.erase(it);
      }
    }
  }
  std::lock_guard lock(mutex_);
  --audits_running_;
  auto found = states_.find(id);
  if (found == states_.end()) co_return;
  State& state = *found->second;
  state.busy = false;
  state.drift.desired = desired.size();
  if (!error.empty()) {
    state.drift.error = error;
    state.next_audit = Clock::now() + std::min(interval, kFailedAuditRetry);
    co_return;
  }
  state.drift.error.clear();
  state.drift.drift = std::move(drift);
  state.drift.audited_at = std::chrono::system_clock::now();
  state.next_audit = Clock::now() + interval;
  if (metrics_) metrics_->SetDrift(id, static_cast<double>(state.drift.drift.size()));
}

asio::awaitable<void> SettingsAudit::SetClock(std::string id, double skew) {
  std::shared_ptr<poll::DeviceWorker> worker = workers_.Find(id);
  int max_skew = 0;
  {
    std::lock_guard lock(mutex_);
    max_skew = config_.max_skew_s.value_or(0);
  }
  bool ok = false;
  if (worker) {
    json::object payload{{"actor", "fleet"}, {"role", "system"}, {"action", "clock_set"},
                         {"device_id", id},  {"skew_s", skew},   {"max_skew_s", max_skew}};
    if (co_await Record(id, "clock_set", json::serialize(payload))) {
      auto& w = *worker;
      auto failed = co_await w.Run(WriteClock(worker));
      ok = !failed;
      if (metrics_) metrics_->CountClockSet(id, ok);
      if (failed) {
        GW_LOG(kWarn, "fleet") << id << ": could not set the clock (skew " << skew
                               << " s): " << Describe(*failed);
      } else {
        GW_LOG(kInfo, "fleet") << id << ": clock set (skew was " << skew << " s, bound " << max_skew
                               << " s)";
      }
    }
  }
  std::lock_guard lock(mutex_);
  auto found = states_.find(id);
  if (found == states_.end()) co_return;
  State& state = *found->second;
  state.busy = false;
  // The skew shown is stale until the next health poll measures it again.
  const auto health = worker ? worker->reader().polling.health : milliseconds(30000);
  state.clock_hold_until = Clock::now() + health * 3 / 2 + milliseconds(1000);
}

asio::awaitable<Result<SettingsPlan>> SettingsAudit::Plan(std::string device_id,
                                                          std::string* detail) {
  auto worker = workers_.Find(device_id);
  if (!worker) co_return Errc::kNotFound;
  SettingsPlan plan;
  plan.device_id = device_id;
  std::vector<DesiredSetting> desired;
  std::optional<int> max_skew;
  {
    std::lock_guard lock(mutex_);
    desired = DesiredFor(config_.profiles, worker->reader().groups);
    max_skew = config_.max_skew_s;
  }
  plan.desired = desired.size();
  plan.clock_skew_s = worker->Snapshot().clock_skew_s;
  plan.set_clock = max_skew && plan.clock_skew_s && std::fabs(*plan.clock_skew_s) > *max_skew;
  if (desired.empty()) co_return plan;
  auto& w = *worker;
  auto read = co_await w.Run(ReadSettings(worker, desired));
  if (read.failure) {
    if (detail) *detail = Describe(*read.failure);
    co_return read.failure->reason();
  }
  plan.drift = ComputeDrift(desired, read.actual);
  co_return plan;
}

}  // namespace gw::fleet
