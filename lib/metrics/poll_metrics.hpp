#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace gw::metrics {

class Registry;

/// Families of the pollers (one set per process). Per-reader series are made by ReaderMetrics.
struct PollMetrics {
  /// Every family in `registry`.
  explicit PollMetrics(prometheus::Registry& registry);
  /// The families with a series per reader each in a shard of their own (Registry::Shard), so
  /// that a scrape copies one of them at a time; the others in registry.get().
  explicit PollMetrics(Registry& registry);

  prometheus::Family<prometheus::Gauge>& reader_up;
  prometheus::Family<prometheus::Gauge>& reader_state;
  prometheus::Family<prometheus::Gauge>& last_success;
  prometheus::Family<prometheus::Gauge>& clock_skew;
  prometheus::Family<prometheus::Histogram>& poll_duration;   ///< by kind only (all readers)
  prometheus::Family<prometheus::Gauge>& poll_last_duration;  ///< by reader and kind
  prometheus::Family<prometheus::Counter>& poll_errors;
  prometheus::Family<prometheus::Counter>& events_ingested;
  prometheus::Family<prometheus::Histogram>& event_lag;
  prometheus::Family<prometheus::Gauge>& log_backlog;
  prometheus::Family<prometheus::Gauge>& log_cursor;
  prometheus::Family<prometheus::Gauge>& door;
  prometheus::Family<prometheus::Counter>& log_resets;
  prometheus::Family<prometheus::Counter>& lock_resumed;
  prometheus::Family<prometheus::Histogram>& poll_lateness;
  prometheus::Family<prometheus::Counter>& events_quarantined;
  prometheus::Histogram& lag;  ///< all readers together (bounded cardinality)
  /// ef45gw_poll_duration_seconds by kind (session, door, match, logs, health): all readers
  /// together. A histogram per reader was 55 of a reader's ~80 series (/metrics ~8 MB at 1,000
  /// readers); the reader's own figure is ef45gw_poll_last_duration_seconds.
  std::array<prometheus::Histogram*, 5> poll_durations{};
  /// ef45gw_poll_lateness_seconds by kind, created once: Family::Add builds a Histogram (and a
  /// label map) on every call even when the series exists, which per poll was 2 % of the CPU.
  std::array<prometheus::Histogram*, 5> poll_lateness_by_kind{};

 private:
  PollMetrics(prometheus::Registry& fleet_wide,
              const std::function<prometheus::Registry&()>& per_reader);
};

/// Counts `n` reader entries stored sanitised, stripped or as a gap instead of as they came
/// (ef45gw_events_quarantined_total{reader,reason}); the EventWriter's on_quarantine and the
/// pollers report here. Thread-safe.
void CountQuarantined(PollMetrics& families, const std::string& reader, std::string_view reason,
                      double n = 1);

/// The series of one reader, created when its worker starts and removed when it stops (SIGHUP
/// removing a reader must not leave stale series). Cached pointers: updates take no lock in the
/// family. Thread-safe as prometheus-cpp metrics are.
class ReaderMetrics {
 public:
  ReaderMetrics(PollMetrics& families, std::string reader);
  ~ReaderMetrics();
  ReaderMetrics(const ReaderMetrics&) = delete;
  ReaderMetrics& operator=(const ReaderMetrics&) = delete;

  /// kind index: session, door, match, logs, health (gw::poll::PollKind order). Observed in the
  /// fleet-wide histogram, and kept as this reader's last poll duration of that kind.
  void ObservePoll(std::size_t kind, double seconds);
  void CountError(std::size_t kind, const std::string& reason);
  /// `lock_holder`: gateway, other_client, none or unknown (ef45::LockHolderName).
  void SetState(const std::string& state, const std::string& reason, const std::string& lock_holder,
                bool up);
  void CountLockResumed();
  void SetLastSuccess(double unix_seconds);
  void SetClockSkew(double seconds);
  void CountEvents(const std::string& kind, double n);
  void ObserveLag(double seconds);
  void SetBacklog(double logs);
  void SetCursor(double last_log_id);
  void SetDoor(int door_sensor, int relay, int tamper, int rte);
  void CountLogReset();
  void CountQuarantined(std::string_view reason, double n);
  /// How late a poll started against its schedule (all readers together, by kind).
  void ObserveLateness(std::size_t kind, double seconds);

 private:
  PollMetrics& f_;
  std::string reader_;
  std::mutex mutex_;  // guards the lazily created labelled series below
  prometheus::Gauge* up_;
  prometheus::Gauge* last_success_;
  prometheus::Gauge* clock_skew_;
  prometheus::Gauge* backlog_;
  prometheus::Gauge* cursor_;
  prometheus::Counter* log_resets_;
  prometheus::Counter* lock_resumed_;
  std::array<prometheus::Gauge*, 5> last_durations_{};
  std::array<prometheus::Gauge*, 4> door_{};
  std::map<std::string, prometheus::Counter*> errors_;
  std::map<std::string, prometheus::Counter*> ingested_;
  prometheus::Gauge* state_ = nullptr;
  std::string state_key_;
};

}  // namespace gw::metrics
