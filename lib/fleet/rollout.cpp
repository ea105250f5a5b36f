#include "fleet/rollout.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <span>

#include "common/log.hpp"
#include "common/log_escape.hpp"
#include "common/run_blocking.hpp"
#include "ef45/client.hpp"
#include "ef45/encode.hpp"
#include "poll/worker_set.hpp"
#include "store/database.hpp"

namespace gw::fleet {

namespace asio = boost::asio;
using Clock = std::chrono::system_clock;

// ---- pure decisions ----

std::vector<int> AssignWaves(std::size_t readers, int canary, int batch) {
  std::vector<int> waves(readers, 0);
  const std::size_t c = static_cast<std::size_t>(std::max(canary, 0));
  const std::size_t b = static_cast<std::size_t>(std::max(batch, 1));
  for (std::size_t i = 0; i < readers; ++i) {
    waves[i] = i < c ? 0 : 1 + static_cast<int>((i - c) / b);
  }
  return waves;
}

store::RolloutAdvance PlanAdvance(const store::RolloutRow& rollout,
                                  const std::vector<store::RolloutReaderRow>& readers) {
  store::RolloutAdvance out;
  const auto failed = std::count_if(readers.begin(), readers.end(),
                                    [](const auto& r) { return r.step == "failed"; });
  if (failed > rollout.max_failures) {
    out.state = "halted";
    out.reason = "failed readers (" + std::to_string(failed) + ") exceed max_failures (" +
                 std::to_string(rollout.max_failures) + ")";
    return out;
  }
  bool in_flight = false;
  std::optional<int> next_wave;
  for (const auto& r : readers) {
    if (r.wave <= rollout.wave) {
      if (r.step == "pending") out.start.push_back(r.device_id);
      if (r.step == "installing" || r.step == "verifying") in_flight = true;
    } else if (!next_wave || r.wave < *next_wave) {
      next_wave = r.wave;
    }
  }
  if (!out.start.empty() || in_flight) return out;
  if (!next_wave) {
    out.state = "completed";
    out.reason = std::to_string(readers.size() - static_cast<std::size_t>(failed)) + " of " +
                 std::to_string(readers.size()) + " readers upgraded";
    return out;
  }
  out.wave = *next_wave;
  for (const auto& r : readers) {
    if (r.wave == *next_wave && r.step == "pending") out.start.push_back(r.device_id);
  }
  return out;
}

Verdict Verify(const Observation& seen, std::string_view expected, Clock::time_point now,
               Clock::time_point deadline) {
  if (seen.up && seen.version && *seen.version == expected) return Verdict::kDone;
  return now > deadline ? Verdict::kFailed : Verdict::kWait;
}

bool ValidVersionLabel(std::string_view version) {
  return !version.empty() && version.size() <= 64 &&
         std::all_of(version.begin(), version.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '+' ||
                  c == '-';
         });
}

// ---- the engine ----

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
/// Firmware goes up in units of this many raw bytes (~1 MB of base64 each, API.md section 13),
/// as the reader route POST /api/v1/devices/{id}/firmware sends it.
constexpr std::size_t kFirmwareUnit = 768 * 1024;
constexpr int kMetricRollouts = 20;  // the newest rollouts exported as metrics
constexpr const char* kSteps[] = {"pending", "installing", "verifying", "done", "failed"};

struct InstallResult {
  enum Kind { kAccepted, kAlreadyInstalled, kRefused, kUnreachable } kind = kUnreachable;
  std::string detail;
};

InstallResult FromError(const ef45::Error& e) {
  return {IsTransport(e.reason()) ? InstallResult::kUnreachable : InstallResult::kRefused,
          e.detail.empty() ? std::string(ReasonName(make_error_code(e.reason()))) : e.detail};
}

/// Runs on the worker's strand (through DeviceWorker::Run). A reader already reporting the
/// version is not flashed again (an install that took effect before a gateway restart).
asio::awaitable<InstallResult> InstallOnReader(std::shared_ptr<poll::DeviceWorker> worker,
                                               std::shared_ptr<const std::string> image,
                                               std::string expected) {
  auto& client = worker->client();
  auto version = co_await client.GetVersion();
  if (!version) co_return FromError(version.error());
  if (version->version == expected) co_return InstallResult{InstallResult::kAlreadyInstalled, ""};
  const auto* bytes = reinterpret_cast<const unsigned char*>(image->data());
  auto started = co_await client.UpdateStart(false);
  if (!started) co_return FromError(started.error());
  std::size_t offset = 0;
  while (image->size() - offset > kFirmwareUnit) {
    auto unit = ef45::Base64Encode(std::span(bytes + offset, kFirmwareUnit));
    auto sent = co_await client.UpdateChunk(std::move(unit), false);
    if (!sent) co_return FromError(sent.error());
    offset += kFirmwareUnit;
  }
  auto last = ef45::Base64Encode(std::span(bytes + offset, image->size() - offset));
  auto done = co_await client.UpdateDone(std::move(last), false);
  if (!done) co_return FromError(done.error());
  if (!done->ok()) co_return InstallResult{InstallResult::kRefused, "reader: " + done->file};
  co_return InstallResult{InstallResult::kAccepted, ""};
}

asio::awaitable<std::optional<std::string>> ReadVersion(
    std::shared_ptr<poll::DeviceWorker> worker) {
  auto version = co_await worker->client().GetVersion();
  if (!version) co_return std::nullopt;
  co_return version->version;
}

}  // namespace

struct RolloutEngine::Metrics {
  explicit Metrics(prometheus::Registry& registry)
      : readers(prometheus::BuildGauge()
                    .Name("ef45gw_fleet_rollout_readers")
                    .Help("Readers of a firmware rollout by step (the newest 20 rollouts).")
                    .Register(registry)),
        installs(prometheus::BuildCounter()
                     .Name("ef45gw_fleet_rollout_installs_total")
                     .Help("Firmware installs finished by this instance, by result (done, failed).")
                     .Register(registry)) {}
  prometheus::Family<prometheus::Gauge>& readers;
  prometheus::Family<prometheus::Counter>& installs;
  std::set<std::string> exported;  // rollout ids with series
};

RolloutEngine::RolloutEngine(asio::any_io_executor executor, store::Database& db,
                             poll::WorkerSet& workers, RolloutOptions options, api::AuditSink audit,
                             prometheus::Registry* metrics)
    : strand_(asio::make_strand(executor)),
      db_(db),
      workers_(workers),
      options_(std::move(options)),
      audit_(std::move(audit)),
      metrics_(metrics ? std::make_unique<Metrics>(*metrics) : nullptr),
      timer_(strand_) {}

RolloutEngine::~RolloutEngine() = default;

void RolloutEngine::Start() {
  running_.Add();
  asio::co_spawn(strand_, Loop(), [this](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        GW_LOG(kError, "rollout") << "rollout loop failed: " << ex.what();
      }
    }
    running_.Done();
  });
}

asio::awaitable<void> RolloutEngine::StopOnStrand() {
  stopping_ = true;
  timer_.cancel();
  co_return;
}

asio::awaitable<void> RolloutEngine::Stop(std::chrono::milliseconds deadline) {
  // (Named first, no co_await in a condition: g++ 12 miscompiles both into a trap.)
  auto stop = asio::co_spawn(strand_, StopOnStrand(), asio::use_awaitable);
  co_await std::move(stop);
  auto wait = running_.WaitFor(deadline);
  const bool idle = co_await std::move(wait);
  if (!idle) {
    GW_LOG(kWarn, "rollout") << "reader installs still running at the shutdown deadline: they "
                                "stay `installing` and resume at the next start";
  }
}

asio::awaitable<void> RolloutEngine::Sleep(std::chrono::milliseconds d) {
  asio::steady_timer t(strand_);
  t.expires_after(d);
  co_await t.async_wait(kTuple);
}

asio::awaitable<void> RolloutEngine::Loop() {
  while (!stopping_) {
    co_await Round();
    if (stopping_) break;
    timer_.expires_after(options_.check);
    co_await timer_.async_wait(kTuple);
  }
}

asio::awaitable<void> RolloutEngine::Round() {
  auto advance = [this] {
    return store::AdvanceRolloutsBlocking(db_, [](const auto& rollout, const auto& readers) {
      return PlanAdvance(rollout, readers);
    });
  };
  auto changed = co_await RunBlocking(db_.BlockingPool(), std::move(advance));
  long suppressed = 0;
  if (!changed && log_limit_.Allow(suppressed)) {
    GW_LOG(kWarn, "rollout") << "cannot advance the rollouts: " << changed.error().message();
  }
  if (changed) {
    for (const auto& r : *changed) {
      const auto level = r.state == "halted" ? log::Level::kWarn : log::Level::kInfo;
      if (level >= log::GetLevel()) {
        log::Line(level, "rollout") << "rollout " << r.id << " of version " << r.version << " "
                                    << r.state << ": " << r.reason.value_or("");
      }
    }
  }
  auto list = [this] { return store::ActiveStepsBlocking(db_); };
  auto steps = co_await RunBlocking(db_.BlockingPool(), std::move(list));
  if (!steps && log_limit_.Allow(suppressed)) {
    GW_LOG(kWarn, "rollout") << "cannot read the readers being upgraded: "
                             << steps.error().message();
  }
  if (steps && !stopping_) {
    for (auto& step : *steps) {
      auto key = std::make_pair(step.rollout_id, step.reader.device_id);
      if (busy_.count(key)) continue;
      // Only the readers this instance polls (cluster: whose lease it holds).
      auto worker = workers_.Find(step.reader.device_id);
      if (!worker) continue;
      if (step.reader.step == "installing" && !step.reader.claimed &&
          step.rollout_state != "running") {
        continue;
      }
      busy_.insert(key);
      running_.Add();
      asio::co_spawn(strand_, RunStep(std::move(step), std::move(worker)),
                     asio::bind_executor(strand_, [this, key](std::exception_ptr e) {
                       if (e) {
                         try {
                           std::rethrow_exception(e);
                         } catch (const std::exception& ex) {
                           GW_LOG(kError, "rollout") << "rollout " << key.first << " reader "
                                                     << key.second << ": " << ex.what();
                         }
                       }
                       busy_.erase(key);
                       running_.Done();
                     }));
    }
  }
  co_await UpdateMetrics();
}

asio::awaitable<void> RolloutEngine::RunStep(store::ActiveStep step,
                                             std::shared_ptr<poll::DeviceWorker> worker) {
  // Every awaitable is named before its co_await: g++ 12 destroys temporaries (the copies of
  // `step` and `worker`, strings) created inside a co_await expression twice.
  if (step.reader.step == "installing") {
    auto install = Install(step, worker);
    const bool installed = co_await std::move(install);
    if (!installed) co_return;
    step.reader.step = "verifying";
    step.reader.deadline = std::chrono::time_point_cast<std::chrono::microseconds>(
        Clock::now() + std::chrono::seconds(step.health_window_s));
  }
  auto verify = VerifyStep(step, std::move(worker));
  co_await std::move(verify);
}

asio::awaitable<bool> RolloutEngine::Install(const store::ActiveStep& step,
                                             std::shared_ptr<poll::DeviceWorker> worker) {
  const auto& id = step.reader.device_id;
  auto claim = [this, rollout = step.rollout_id, id] {
    return store::ClaimInstallBlocking(db_, rollout, id, options_.node);
  };
  auto claimed = co_await RunBlocking(db_.BlockingPool(), std::move(claim));
  if (!claimed || !*claimed) co_return false;
  worker->SetMaintenance(true);
  if (audit_) {
    api::AuditRecord record{step.created_by.empty() ? "rollout" : step.created_by,
                            "admin",
                            "INSTALL",
                            "/api/v1/fleet/rollouts/{rollout_id}",
                            id,
                            "rollout:" + std::to_string(step.rollout_id) + " " + step.version,
                            202,
                            "",
                            ""};
    auto audited = audit_(std::move(record));
    co_await std::move(audited);
  }
  GW_LOG(kInfo, "rollout") << "rollout " << step.rollout_id << ": installing " << step.version
                           << " on " << id;
  auto image = co_await Image(step.image);
  if (!image) {
    auto fail = Finish(step, worker, "failed", "the image is not in the database", std::nullopt);
    co_await std::move(fail);
    co_return false;
  }
  const auto deadline = Clock::now() + std::chrono::seconds(step.health_window_s);
  while (!stopping_) {
    auto op = worker->Run(InstallOnReader(worker, image, step.version));
    const auto result = co_await std::move(op);
    if (result.kind == InstallResult::kAccepted ||
        result.kind == InstallResult::kAlreadyInstalled) {
      auto verifying = [this, rollout = step.rollout_id, id, window = step.health_window_s] {
        return store::SetReaderStepBlocking(db_, rollout, id, "verifying", std::nullopt,
                                            std::nullopt, window);
      };
      auto r = co_await RunBlocking(db_.BlockingPool(), std::move(verifying));
      if (!r) {
        // Left `installing`: the next round (or start) asks the reader's version again.
        GW_LOG(kWarn, "rollout") << "rollout " << step.rollout_id << " reader " << id
                                 << ": cannot record the install: " << r.error().message();
        co_return false;
      }
      co_return true;
    }
    if (result.kind == InstallResult::kRefused) {
      auto fail = Finish(step, worker, "failed", "install refused: " + log::Cut(result.detail),
                         std::nullopt);
      co_await std::move(fail);
      co_return false;
    }
    if (Clock::now() > deadline) {
      auto fail =
          Finish(step, worker, "failed",
                 "unreachable for the health window (" + std::to_string(step.health_window_s) +
                     " s): " + log::Cut(result.detail),
                 std::nullopt);
      co_await std::move(fail);
      co_return false;
    }
    co_await Sleep(options_.check);
  }
  co_return false;
}

asio::awaitable<void> RolloutEngine::VerifyStep(const store::ActiveStep& step,
                                                std::shared_ptr<poll::DeviceWorker> worker) {
  worker->SetMaintenance(true);
  const auto deadline =
      step.reader.deadline.value_or(std::chrono::time_point_cast<std::chrono::microseconds>(
          Clock::now() + std::chrono::seconds(step.health_window_s)));
  std::optional<std::string> last_version;
  while (!stopping_) {
    if (workers_.Find(step.reader.device_id) != worker) {
      // Removed from this instance (reload, lease moved): its new owner verifies it.
      worker->SetMaintenance(false);
      co_return;
    }
    const auto snapshot = worker->Snapshot();
    Observation seen{snapshot.state == poll::ReaderState::kUp, std::nullopt};
    if (seen.up) {
      auto op = worker->Run(ReadVersion(worker));
      seen.version = co_await std::move(op);
    }
    if (seen.version) last_version = seen.version;
    const auto verdict = Verify(seen, step.version, Clock::now(), deadline);
    if (verdict == Verdict::kDone) {
      auto done = Finish(step, worker, "done", std::nullopt, seen.version);
      co_await std::move(done);
      co_return;
    }
    if (verdict == Verdict::kFailed) {
      auto fail = Finish(step, worker, "failed",
                         "not up with version " + step.version + " within the health window (" +
                             std::to_string(step.health_window_s) + " s); reader state " +
                             std::string(poll::ReaderStateName(snapshot.state)) + ", version " +
                             last_version.value_or("unknown"),
                         last_version);
      co_await std::move(fail);
      co_return;
    }
    co_await Sleep(options_.check);
  }
}

asio::awaitable<void> RolloutEngine::Finish(const store::ActiveStep& step,
                                            std::shared_ptr<poll::DeviceWorker> worker,
                                            std::string step_name, std::optional<std::string> error,
                                            std::optional<std::string> version) {
  const auto& id = step.reader.device_id;
  // Recorded before the reader leaves maintenance; PostgreSQL may be away for a while.
  bool written = false;
  while (!stopping_ && !written) {
    auto write = [this, rollout = step.rollout_id, id, step_name, error, version] {
      return store::SetReaderStepBlocking(db_, rollout, id, step_name, error, version,
                                          std::nullopt);
    };
    auto r = co_await RunBlocking(db_.BlockingPool(), std::move(write));
    written = static_cast<bool>(r);
    if (!written) co_await Sleep(options_.check);
  }
  if (!written) co_return;  // stopping: the step is resumed at the next start
  worker->SetMaintenance(false);
  if (metrics_) metrics_->installs.Add({{"result", step_name}}).Increment();
  const auto level = step_name == "done" ? log::Level::kInfo : log::Level::kWarn;
  if (level >= log::GetLevel()) {
    log::Line(level, "rollout") << "rollout " << step.rollout_id << ": " << id << " " << step_name
                                << (error ? ": " + *error : "")
                                << (version ? " (reports " + log::Cut(*version) + ")" : "");
  }
  if (audit_) {
    api::AuditRecord record{
        step.created_by.empty() ? "rollout" : step.created_by,
        "admin",
        "INSTALL",
        "/api/v1/fleet/rollouts/{rollout_id}",
        id,
        "rollout:" + std::to_string(step.rollout_id) + " " + step.version + " " + step_name,
        step_name == "done" ? 200 : 502,
        "",
        ""};
    auto audited = audit_(std::move(record));
    co_await std::move(audited);
  }
}

asio::awaitable<std::shared_ptr<const std::string>> RolloutEngine::Image(const std::string& sha) {
  if (image_cache_.first == sha && image_cache_.second) co_return image_cache_.second;
  auto load = [this, sha] { return store::FirmwareImageDataBlocking(db_, sha); };
  auto data = co_await RunBlocking(db_.BlockingPool(), std::move(load));
  if (!data || !*data) co_return nullptr;
  image_cache_ = {sha, std::make_shared<const std::string>(std::move(**data))};
  co_return image_cache_.second;
}

asio::awaitable<void> RolloutEngine::UpdateMetrics() {
  if (!metrics_) co_return;
  auto count = [this] { return store::RolloutStepCountsBlocking(db_, kMetricRollouts); };
  auto counts = co_await RunBlocking(db_.BlockingPool(), std::move(count));
  if (!counts) co_return;
  std::map<std::string, std::map<std::string, int>> by_rollout;
  for (const auto& c : *counts) by_rollout[std::to_string(c.rollout_id)][c.step] = c.count;
  for (const auto& old : metrics_->exported) {
    if (by_rollout.count(old)) continue;
    for (const char* s : kSteps) {
      metrics_->readers.Remove(&metrics_->readers.Add({{"rollout", old}, {"step", s}}));
    }
  }
  metrics_->exported.clear();
  for (const auto& [rollout, steps] : by_rollout) {
    for (const char* s : kSteps) {
      auto it = steps.find(s);
      metrics_->readers.Add({{"rollout", rollout}, {"step", s}})
          .Set(it == steps.end() ? 0 : it->second);
    }
    metrics_->exported.insert(rollout);
  }
}

}  // namespace gw::fleet
