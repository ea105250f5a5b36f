#pragma once

#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>

namespace gw::metrics {

class Registry;
class ReaderTable;
struct ReaderSlot;

/// Families of the pollers (one set per process). Per-reader series are made by ReaderMetrics.
struct PollMetrics {
  /// The fleet-wide families in registry.get(); every reader's own series in a ReaderTable the
  /// registry writes out on each scrape.
  explicit PollMetrics(Registry& registry);
  ~PollMetrics();
  PollMetrics(const PollMetrics&) = delete;
  PollMetrics& operator=(const PollMetrics&) = delete;

  prometheus::Family<prometheus::Histogram>& poll_duration;  ///< by kind only (all readers)
  prometheus::Family<prometheus::Histogram>& event_lag;
  prometheus::Family<prometheus::Histogram>& poll_lateness;
  prometheus::Histogram& lag;  ///< all readers together (bounded cardinality)
  /// ef45gw_poll_duration_seconds by kind (session, door, match, logs, health): all readers
  /// together. A histogram per reader was 55 of a reader's ~80 series (/metrics ~8 MB at 1,000
  /// readers); the reader's own figure is ef45gw_poll_last_duration_seconds.
  std::array<prometheus::Histogram*, 5> poll_durations{};
  /// ef45gw_poll_lateness_seconds by kind, created once: Family::Add builds a Histogram (and a
  /// label map) on every call even when the series exists, which per poll was 2 % of the CPU.
  std::array<prometheus::Histogram*, 5> poll_lateness_by_kind{};
  /// The series with a reader label (ef45gw_reader_up, _state, _log_cursor, ...): ~0.4 KB a
  /// reader here, against ~8.5 KB as 27 prometheus-cpp series (issue 18).
  std::shared_ptr<ReaderTable> readers;
};

/// Counts `n` reader entries stored sanitised, stripped or as a gap instead of as they came
/// (ef45gw_events_quarantined_total{reader,reason}); the EventWriter's on_quarantine and the
/// pollers report here. Thread-safe.
void CountQuarantined(PollMetrics& families, const std::string& reader, std::string_view reason,
                      double n = 1);

/// The series of one reader, created when its worker starts and removed when it stops (SIGHUP
/// removing a reader must not leave stale series). Updates are atomic stores or adds on the
/// reader's slot; the labelled series (errors, events by kind, state) take the slot's lock.
/// Thread-safe.
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
  void CountEvents(std::string_view kind, double n);
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
  std::shared_ptr<ReaderTable> table_;
  ReaderSlot* slot_;
};

}  // namespace gw::metrics
