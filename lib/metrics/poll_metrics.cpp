#include "metrics/poll_metrics.hpp"

#include "metrics/metrics.hpp"

namespace gw::metrics {
namespace {

constexpr std::array<const char*, 5> kKinds = {"session", "door", "match", "logs", "health"};
constexpr std::array<const char*, 4> kDoorFields = {"door_sensor", "relay", "tamper", "rte"};
constexpr std::array<const char*, 5> kQuarantineReasons = {"bad_text", "bad_time", "bad_payload",
                                                           "db_refused", "too_large"};

const prometheus::Histogram::BucketBoundaries& PollBuckets() {
  // One series per kind for the whole fleet: buckets are cheap, so resolve the sub-millisecond
  // polls of a loopback or LAN reader as well as the slow ones.
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return kBuckets;
}

const prometheus::Histogram::BucketBoundaries& LatenessBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1,
                                                                   0.2,   0.5,  1,     2,    5};
  return kBuckets;
}

}  // namespace

PollMetrics::PollMetrics(prometheus::Registry& registry)
    : PollMetrics(registry, [&registry]() -> prometheus::Registry& { return registry; }) {}

PollMetrics::PollMetrics(Registry& registry)
    : PollMetrics(registry.get(),
                  [&registry]() -> prometheus::Registry& { return registry.Shard(); }) {}

PollMetrics::PollMetrics(prometheus::Registry& r,
                         const std::function<prometheus::Registry&()>& per_reader)
    : reader_up(prometheus::BuildGauge()
                    .Name("ef45gw_reader_up")
                    .Help("1 when the reader is polled successfully (state up or degraded).")
                    .Register(per_reader())),
      reader_state(prometheus::BuildGauge()
                       .Name("ef45gw_reader_state")
                       .Help("1 for the reader's current state (up, degraded, down), reason, and "
                             "who holds its session lock (gateway, other_client, none, unknown).")
                       .Register(per_reader())),
      last_success(prometheus::BuildGauge()
                       .Name("ef45gw_reader_last_success_timestamp_seconds")
                       .Help("Unix time of the reader's last successful poll.")
                       .Register(per_reader())),
      clock_skew(prometheus::BuildGauge()
                     .Name("ef45gw_reader_clock_skew_seconds")
                     .Help("Reader clock minus gateway clock, from the reader's Date header.")
                     .Register(per_reader())),
      poll_duration(prometheus::BuildHistogram()
                        .Name("ef45gw_poll_duration_seconds")
                        .Help("Duration of one poll, by kind (all readers together).")
                        .Register(r)),
      poll_last_duration(prometheus::BuildGauge()
                             .Name("ef45gw_poll_last_duration_seconds")
                             .Help("Duration of the reader's last poll of each kind.")
                             .Register(per_reader())),
      poll_errors(prometheus::BuildCounter()
                      .Name("ef45gw_poll_errors_total")
                      .Help("Failed polls by reader, kind and error class.")
                      .Register(per_reader())),
      events_ingested(prometheus::BuildCounter()
                          .Name("ef45gw_events_ingested_total")
                          .Help("Events committed to PostgreSQL, by reader and kind.")
                          .Register(per_reader())),
      event_lag(prometheus::BuildHistogram()
                    .Name("ef45gw_event_lag_seconds")
                    .Help("Reader event time to commit in PostgreSQL (includes clock skew).")
                    .Register(r)),
      log_backlog(prometheus::BuildGauge()
                      .Name("ef45gw_log_backlog")
                      .Help("Reader log entries not yet stored (reader's newest id - cursor).")
                      .Register(per_reader())),
      log_cursor(prometheus::BuildGauge()
                     .Name("ef45gw_log_cursor")
                     .Help("Newest reader log id stored (within the current log epoch).")
                     .Register(per_reader())),
      door(prometheus::BuildGauge()
               .Name("ef45gw_door_status")
               .Help("Raw door status fields of the reader (door_sensor, relay, tamper, rte).")
               .Register(per_reader())),
      log_resets(prometheus::BuildCounter()
                     .Name("ef45gw_log_resets_total")
                     .Help("Times a reader's log ids restarted (wipe, factory reset).")
                     .Register(per_reader())),
      lock_resumed(prometheus::BuildCounter()
                       .Name("ef45gw_reader_lock_resumed_total")
                       .Help("Times a reader's recorded lock was resumed (after a restart or a "
                             "take-over) instead of taking a new one.")
                       .Register(per_reader())),
      poll_lateness(prometheus::BuildHistogram()
                        .Name("ef45gw_poll_lateness_seconds")
                        .Help("How late polls start against their schedule, by kind (all readers).")
                        .Register(r)),
      events_quarantined(prometheus::BuildCounter()
                             .Name("ef45gw_events_quarantined_total")
                             .Help("Reader entries stored sanitised, stripped or as a gap event "
                                   "because they could not be stored as they came, by reason.")
                             .Register(per_reader())),
      lag(event_lag.Add({}, prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.25, 0.5, 1, 2, 5,
                                                                    10, 30, 60, 300})) {
  for (std::size_t i = 0; i < kKinds.size(); ++i) {
    poll_durations[i] = &poll_duration.Add({{"kind", kKinds[i]}}, PollBuckets());
    poll_lateness_by_kind[i] = &poll_lateness.Add({{"kind", kKinds[i]}}, LatenessBuckets());
  }
}

ReaderMetrics::ReaderMetrics(PollMetrics& f, std::string reader)
    : f_(f),
      reader_(std::move(reader)),
      up_(&f.reader_up.Add({{"reader", reader_}})),
      last_success_(&f.last_success.Add({{"reader", reader_}})),
      clock_skew_(&f.clock_skew.Add({{"reader", reader_}})),
      backlog_(&f.log_backlog.Add({{"reader", reader_}})),
      cursor_(&f.log_cursor.Add({{"reader", reader_}})),
      log_resets_(&f.log_resets.Add({{"reader", reader_}})),
      lock_resumed_(&f.lock_resumed.Add({{"reader", reader_}})) {
  for (std::size_t i = 0; i < kKinds.size(); ++i) {
    last_durations_[i] = &f.poll_last_duration.Add({{"reader", reader_}, {"kind", kKinds[i]}});
  }
  for (std::size_t i = 0; i < kDoorFields.size(); ++i) {
    door_[i] = &f.door.Add({{"reader", reader_}, {"field", kDoorFields[i]}});
  }
  // At 0 from the start: increase() cannot see a counter that is born at 1 (the alert on it).
  for (const char* reason : kQuarantineReasons) {
    f.events_quarantined.Add({{"reader", reader_}, {"reason", reason}});
  }
}

ReaderMetrics::~ReaderMetrics() {
  f_.reader_up.Remove(up_);
  f_.last_success.Remove(last_success_);
  f_.clock_skew.Remove(clock_skew_);
  f_.log_backlog.Remove(backlog_);
  f_.log_cursor.Remove(cursor_);
  f_.log_resets.Remove(log_resets_);
  f_.lock_resumed.Remove(lock_resumed_);
  for (auto* g : last_durations_) f_.poll_last_duration.Remove(g);
  for (auto* g : door_) f_.door.Remove(g);
  for (auto& [k, c] : errors_) f_.poll_errors.Remove(c);
  for (auto& [k, c] : ingested_) f_.events_ingested.Remove(c);
  if (state_) f_.reader_state.Remove(state_);
  for (const char* reason : kQuarantineReasons) {
    prometheus::Labels labels{{"reader", reader_}, {"reason", reason}};
    if (f_.events_quarantined.Has(labels)) {
      f_.events_quarantined.Remove(&f_.events_quarantined.Add(labels));
    }
  }
}

void ReaderMetrics::ObservePoll(std::size_t kind, double seconds) {
  if (kind >= last_durations_.size()) return;
  f_.poll_durations[kind]->Observe(seconds);
  last_durations_[kind]->Set(seconds);
}

void ReaderMetrics::CountError(std::size_t kind, const std::string& reason) {
  if (kind >= kKinds.size()) return;
  std::lock_guard lock(mutex_);
  auto key = std::string(kKinds[kind]) + "/" + reason;
  auto it = errors_.find(key);
  if (it == errors_.end()) {
    auto* c =
        &f_.poll_errors.Add({{"reader", reader_}, {"kind", kKinds[kind]}, {"reason", reason}});
    it = errors_.emplace(key, c).first;
  }
  it->second->Increment();
}

void ReaderMetrics::SetState(const std::string& state, const std::string& reason,
                             const std::string& lock_holder, bool up) {
  up_->Set(up ? 1 : 0);
  std::lock_guard lock(mutex_);
  auto key = state + "/" + reason + "/" + lock_holder;
  if (key == state_key_) return;
  if (state_) f_.reader_state.Remove(state_);
  state_ = &f_.reader_state.Add(
      {{"reader", reader_}, {"state", state}, {"reason", reason}, {"lock", lock_holder}});
  state_->Set(1);
  state_key_ = key;
}

void ReaderMetrics::CountLockResumed() { lock_resumed_->Increment(); }
void ReaderMetrics::SetLastSuccess(double unix_seconds) { last_success_->Set(unix_seconds); }
void ReaderMetrics::SetClockSkew(double seconds) { clock_skew_->Set(seconds); }

void ReaderMetrics::CountEvents(const std::string& kind, double n) {
  std::lock_guard lock(mutex_);
  auto it = ingested_.find(kind);
  if (it == ingested_.end()) {
    it = ingested_.emplace(kind, &f_.events_ingested.Add({{"reader", reader_}, {"kind", kind}}))
             .first;
  }
  it->second->Increment(n);
}

void ReaderMetrics::ObserveLag(double seconds) { f_.lag.Observe(seconds); }
void ReaderMetrics::SetBacklog(double logs) { backlog_->Set(logs); }
void ReaderMetrics::SetCursor(double last_log_id) { cursor_->Set(last_log_id); }

void ReaderMetrics::SetDoor(int door_sensor, int relay, int tamper, int rte) {
  door_[0]->Set(door_sensor);
  door_[1]->Set(relay);
  door_[2]->Set(tamper);
  door_[3]->Set(rte);
}

void ReaderMetrics::CountLogReset() { log_resets_->Increment(); }

void ReaderMetrics::CountQuarantined(std::string_view reason, double n) {
  metrics::CountQuarantined(f_, reader_, reason, n);
}

void CountQuarantined(PollMetrics& f, const std::string& reader, std::string_view reason,
                      double n) {
  f.events_quarantined.Add({{"reader", reader}, {"reason", std::string(reason)}}).Increment(n);
}

void ReaderMetrics::ObserveLateness(std::size_t kind, double seconds) {
  if (kind >= kKinds.size()) return;
  f_.poll_lateness_by_kind[kind]->Observe(seconds);  // shared by all readers: one per kind
}

}  // namespace gw::metrics
