#include "metrics/poll_metrics.hpp"

#include <atomic>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

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

void Add(std::atomic<double>& a, double n) { a.fetch_add(n, std::memory_order_relaxed); }
void Store(std::atomic<double>& a, double v) { a.store(v, std::memory_order_relaxed); }
double Load(const std::atomic<double>& a) { return a.load(std::memory_order_relaxed); }

// ---- the text format (0.0.4), as prometheus-cpp's TextSerializer writes it ----

void Family(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void LabelValue(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

/// One sample; `labels` in name order (prometheus-cpp keeps them in a std::map).
void Sample(std::string& out, std::string_view name, Labels labels, double value) {
  out.append(name);
  char sep = '{';
  for (const auto& [k, v] : labels) {
    out += sep;
    out.append(k).append("=\"");
    LabelValue(out, v);
    out += '"';
    sep = ',';
  }
  out += "} ";
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value < 0 ? "-Inf" : "+Inf";
  } else {
    char buffer[64];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, ec == std::errc() ? end : buffer);
  }
  out += '\n';
}

}  // namespace

/// One reader's series. The unlabelled ones and the fixed label sets are atomics; the rest
/// (errors by kind and reason, events by kind, the state) are few and change seldom.
struct ReaderSlot {
  explicit ReaderSlot(std::string name) : reader(std::move(name)) {}

  const std::string reader;
  int holders = 0;  // ReaderMetrics of this name (a re-added reader may briefly have two)
  std::atomic<double> up{0}, last_success{0}, clock_skew{0}, backlog{0}, cursor{0};
  std::atomic<double> log_resets{0}, lock_resumed{0};
  std::array<std::atomic<double>, kKinds.size()> last_duration{};
  std::array<std::atomic<double>, kDoorFields.size()> door{};
  // At 0 from the start: increase() cannot see a counter that is born at 1 (the alert on it).
  std::array<std::atomic<double>, kQuarantineReasons.size()> quarantined{};

  mutable std::mutex mutex;  // guards what follows
  std::vector<std::pair<std::pair<std::size_t, std::string>, double>> errors;  // (kind, reason)
  std::vector<std::pair<std::string, double>> ingested;                        // by kind
  std::vector<std::pair<std::string, double>> other_quarantined;  // reasons not in the list
  bool has_state = false;
  std::string state, reason, lock;
};

/// Every reader's series, written out as the families prometheus-cpp wrote before.
class ReaderTable final : public TextWriter {
 public:
  ReaderSlot* Acquire(const std::string& reader) {
    std::lock_guard lock(mutex_);
    auto& slot = slots_[reader];
    if (!slot) slot = std::make_unique<ReaderSlot>(reader);
    ++slot->holders;
    return slot.get();
  }

  void Release(ReaderSlot* slot) {
    std::lock_guard lock(mutex_);
    if (--slot->holders == 0) slots_.erase(slot->reader);
  }

  void CountQuarantined(const std::string& reader, std::string_view reason, double n) {
    std::lock_guard lock(mutex_);
    auto it = slots_.find(reader);
    if (it == slots_.end()) {
      // A reader no worker polls here (removed, or its entries were in flight): kept, as
      // prometheus-cpp kept it, so the count is not lost.
      orphans_[{reader, std::string(reason)}] += n;
      return;
    }
    ReaderSlot& slot = *it->second;
    for (std::size_t i = 0; i < kQuarantineReasons.size(); ++i) {
      if (reason == kQuarantineReasons[i]) return Add(slot.quarantined[i], n);
    }
    std::lock_guard slot_lock(slot.mutex);
    for (auto& [r, v] : slot.other_quarantined) {
      if (r == reason) {
        v += n;
        return;
      }
    }
    slot.other_quarantined.emplace_back(std::string(reason), n);
  }

  void Write(std::string& out) const override {
    std::lock_guard lock(mutex_);
    using Get = double (*)(const ReaderSlot&);
    const auto each = [&](std::string_view name, std::string_view help, std::string_view type,
                          Get get) {
      Family(out, name, help, type);
      for (const auto& [reader, slot] : slots_) Sample(out, name, {{"reader", reader}}, get(*slot));
    };
    each("ef45gw_reader_up", "1 when the reader is polled successfully (state up or degraded).",
         "gauge", [](const ReaderSlot& s) { return Load(s.up); });
    Family(out, "ef45gw_reader_state",
           "1 for the reader's current state (up, degraded, down), reason, and who holds its "
           "session lock (gateway, other_client, none, unknown).",
           "gauge");
    for (const auto& [reader, slot] : slots_) {
      std::lock_guard slot_lock(slot->mutex);
      if (!slot->has_state) continue;
      Sample(out, "ef45gw_reader_state",
             {{"lock", slot->lock},
              {"reader", reader},
              {"reason", slot->reason},
              {"state", slot->state}},
             1);
    }
    each("ef45gw_reader_last_success_timestamp_seconds",
         "Unix time of the reader's last successful poll.", "gauge",
         [](const ReaderSlot& s) { return Load(s.last_success); });
    each("ef45gw_reader_clock_skew_seconds",
         "Reader clock minus gateway clock, from the reader's Date header.", "gauge",
         [](const ReaderSlot& s) { return Load(s.clock_skew); });
    Family(out, "ef45gw_poll_last_duration_seconds",
           "Duration of the reader's last poll of each kind.", "gauge");
    for (const auto& [reader, slot] : slots_) {
      for (std::size_t i = 0; i < kKinds.size(); ++i) {
        Sample(out, "ef45gw_poll_last_duration_seconds", {{"kind", kKinds[i]}, {"reader", reader}},
               Load(slot->last_duration[i]));
      }
    }
    Family(out, "ef45gw_poll_errors_total", "Failed polls by reader, kind and error class.",
           "counter");
    for (const auto& [reader, slot] : slots_) {
      std::lock_guard slot_lock(slot->mutex);
      for (const auto& [key, n] : slot->errors) {
        Sample(out, "ef45gw_poll_errors_total",
               {{"kind", kKinds[key.first]}, {"reader", reader}, {"reason", key.second}}, n);
      }
    }
    Family(out, "ef45gw_events_ingested_total",
           "Events committed to PostgreSQL, by reader and kind.", "counter");
    for (const auto& [reader, slot] : slots_) {
      std::lock_guard slot_lock(slot->mutex);
      for (const auto& [kind, n] : slot->ingested) {
        Sample(out, "ef45gw_events_ingested_total", {{"kind", kind}, {"reader", reader}}, n);
      }
    }
    each("ef45gw_log_backlog", "Reader log entries not yet stored (reader's newest id - cursor).",
         "gauge", [](const ReaderSlot& s) { return Load(s.backlog); });
    each("ef45gw_log_cursor", "Newest reader log id stored (within the current log epoch).",
         "gauge", [](const ReaderSlot& s) { return Load(s.cursor); });
    Family(out, "ef45gw_door_status",
           "Raw door status fields of the reader (door_sensor, relay, tamper, rte).", "gauge");
    for (const auto& [reader, slot] : slots_) {
      for (std::size_t i = 0; i < kDoorFields.size(); ++i) {
        Sample(out, "ef45gw_door_status", {{"field", kDoorFields[i]}, {"reader", reader}},
               Load(slot->door[i]));
      }
    }
    each("ef45gw_log_resets_total", "Times a reader's log ids restarted (wipe, factory reset).",
         "counter", [](const ReaderSlot& s) { return Load(s.log_resets); });
    each("ef45gw_reader_lock_resumed_total",
         "Times a reader's recorded lock was resumed (after a restart or a take-over) instead of "
         "taking a new one.",
         "counter", [](const ReaderSlot& s) { return Load(s.lock_resumed); });
    Family(out, "ef45gw_events_quarantined_total",
           "Reader entries stored sanitised, stripped or as a gap event because they could not "
           "be stored as they came, by reason.",
           "counter");
    for (const auto& [reader, slot] : slots_) {
      for (std::size_t i = 0; i < kQuarantineReasons.size(); ++i) {
        Sample(out, "ef45gw_events_quarantined_total",
               {{"reader", reader}, {"reason", kQuarantineReasons[i]}}, Load(slot->quarantined[i]));
      }
      std::lock_guard slot_lock(slot->mutex);
      for (const auto& [reason, n] : slot->other_quarantined) {
        Sample(out, "ef45gw_events_quarantined_total", {{"reader", reader}, {"reason", reason}}, n);
      }
    }
    for (const auto& [key, n] : orphans_) {
      Sample(out, "ef45gw_events_quarantined_total",
             {{"reader", key.first}, {"reason", key.second}}, n);
    }
  }

 private:
  mutable std::mutex mutex_;  // guards slots_ (the map, not the slots' values) and orphans_
  std::map<std::string, std::unique_ptr<ReaderSlot>> slots_;
  std::map<std::pair<std::string, std::string>, double> orphans_;
};

PollMetrics::PollMetrics(Registry& registry)
    : poll_duration(prometheus::BuildHistogram()
                        .Name("ef45gw_poll_duration_seconds")
                        .Help("Duration of one poll, by kind (all readers together).")
                        .Register(registry.get())),
      event_lag(prometheus::BuildHistogram()
                    .Name("ef45gw_event_lag_seconds")
                    .Help("Reader event time to commit in PostgreSQL (includes clock skew).")
                    .Register(registry.get())),
      poll_lateness(prometheus::BuildHistogram()
                        .Name("ef45gw_poll_lateness_seconds")
                        .Help("How late polls start against their schedule, by kind (all readers).")
                        .Register(registry.get())),
      lag(event_lag.Add({}, prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.25, 0.5, 1, 2, 5,
                                                                    10, 30, 60, 300})),
      readers(std::make_shared<ReaderTable>()) {
  for (std::size_t i = 0; i < kKinds.size(); ++i) {
    poll_durations[i] = &poll_duration.Add({{"kind", kKinds[i]}}, PollBuckets());
    poll_lateness_by_kind[i] = &poll_lateness.Add({{"kind", kKinds[i]}}, LatenessBuckets());
  }
  registry.AddTextWriter(readers);
}

PollMetrics::~PollMetrics() = default;

void CountQuarantined(PollMetrics& f, const std::string& reader, std::string_view reason,
                      double n) {
  f.readers->CountQuarantined(reader, reason, n);
}

ReaderMetrics::ReaderMetrics(PollMetrics& f, std::string reader)
    : f_(f), table_(f.readers), slot_(table_->Acquire(reader)) {}

ReaderMetrics::~ReaderMetrics() { table_->Release(slot_); }

void ReaderMetrics::ObservePoll(std::size_t kind, double seconds) {
  if (kind >= kKinds.size()) return;
  f_.poll_durations[kind]->Observe(seconds);
  Store(slot_->last_duration[kind], seconds);
}

void ReaderMetrics::CountError(std::size_t kind, const std::string& reason) {
  if (kind >= kKinds.size()) return;
  std::lock_guard lock(slot_->mutex);
  for (auto& [key, n] : slot_->errors) {
    if (key.first == kind && key.second == reason) {
      n += 1;
      return;
    }
  }
  slot_->errors.emplace_back(std::pair{kind, reason}, 1);
}

void ReaderMetrics::SetState(const std::string& state, const std::string& reason,
                             const std::string& lock_holder, bool up) {
  Store(slot_->up, up ? 1 : 0);
  std::lock_guard lock(slot_->mutex);
  slot_->has_state = true;
  if (slot_->state != state) slot_->state = state;
  if (slot_->reason != reason) slot_->reason = reason;
  if (slot_->lock != lock_holder) slot_->lock = lock_holder;
}

void ReaderMetrics::CountLockResumed() { Add(slot_->lock_resumed, 1); }
void ReaderMetrics::SetLastSuccess(double unix_seconds) {
  Store(slot_->last_success, unix_seconds);
}
void ReaderMetrics::SetClockSkew(double seconds) { Store(slot_->clock_skew, seconds); }

void ReaderMetrics::CountEvents(std::string_view kind, double n) {
  std::lock_guard lock(slot_->mutex);
  for (auto& [k, v] : slot_->ingested) {
    if (k == kind) {
      v += n;
      return;
    }
  }
  slot_->ingested.emplace_back(kind, n);
}

void ReaderMetrics::ObserveLag(double seconds) { f_.lag.Observe(seconds); }
void ReaderMetrics::SetBacklog(double logs) { Store(slot_->backlog, logs); }
void ReaderMetrics::SetCursor(double last_log_id) { Store(slot_->cursor, last_log_id); }

void ReaderMetrics::SetDoor(int door_sensor, int relay, int tamper, int rte) {
  Store(slot_->door[0], door_sensor);
  Store(slot_->door[1], relay);
  Store(slot_->door[2], tamper);
  Store(slot_->door[3], rte);
}

void ReaderMetrics::CountLogReset() { Add(slot_->log_resets, 1); }

void ReaderMetrics::CountQuarantined(std::string_view reason, double n) {
  table_->CountQuarantined(slot_->reader, reason, n);
}

void ReaderMetrics::ObserveLateness(std::size_t kind, double seconds) {
  if (kind >= kKinds.size()) return;
  f_.poll_lateness_by_kind[kind]->Observe(seconds);  // shared by all readers: one per kind
}

}  // namespace gw::metrics
