#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <map>
#include <mutex>
#include <string>

namespace gw::fleet {

/// The fleet families (settings profiles and clock sync), labelled by `reader`:
/// - ef45gw_fleet_drift_settings{reader}: profiled settings of the reader not as desired, at
///   its last audit (gauge);
/// - ef45gw_fleet_audits_total{reader,result="ok|failed"}: reads of the reader's profiled
///   settings;
/// - ef45gw_fleet_setting_writes_total{reader,result="ok|failed"}: desired values written back
///   (fleet.enforce);
/// - ef45gw_fleet_clock_sets_total{reader,result="ok|failed"}: clocks set because the skew
///   passed fleet.time_sync.max_skew_s.
/// Thread-safe; a reader's series go with RemoveReader.
class FleetMetrics {
 public:
  explicit FleetMetrics(prometheus::Registry& registry);

  void SetDrift(const std::string& reader, double settings);
  void CountAudit(const std::string& reader, bool ok);
  void CountWrite(const std::string& reader, bool ok);
  void CountClockSet(const std::string& reader, bool ok);
  void RemoveReader(const std::string& reader);

 private:
  prometheus::Counter& Counter(prometheus::Family<prometheus::Counter>& family,
                               const std::string& reader, bool ok);

  prometheus::Family<prometheus::Gauge>& drift_;
  prometheus::Family<prometheus::Counter>& audits_;
  prometheus::Family<prometheus::Counter>& writes_;
  prometheus::Family<prometheus::Counter>& clock_sets_;
  std::mutex mutex_;
  std::map<std::string, prometheus::Gauge*> gauges_;  // reader -> drift gauge
  // reader -> every counter of the reader (family, metric) for removal
  std::map<std::string, std::map<std::pair<void*, bool>, prometheus::Counter*>> counters_;
};

}  // namespace gw::fleet
