#include "fleet/fleet_metrics.hpp"

namespace gw::fleet {

FleetMetrics::FleetMetrics(prometheus::Registry& registry)
    : drift_(prometheus::BuildGauge()
                 .Name("ef45gw_fleet_drift_settings")
                 .Help("Profiled settings of a reader that differ from the profile (or could not "
                       "be read) at its last audit")
                 .Register(registry)),
      audits_(prometheus::BuildCounter()
                  .Name("ef45gw_fleet_audits_total")
                  .Help("Audits of a reader's profiled settings by result")
                  .Register(registry)),
      writes_(prometheus::BuildCounter()
                  .Name("ef45gw_fleet_setting_writes_total")
                  .Help("Desired setting values written back to a reader (fleet.enforce) by result")
                  .Register(registry)),
      clock_sets_(prometheus::BuildCounter()
                      .Name("ef45gw_fleet_clock_sets_total")
                      .Help("Reader clocks set because their skew passed "
                            "fleet.time_sync.max_skew_s, by result")
                      .Register(registry)) {}

void FleetMetrics::SetDrift(const std::string& reader, double settings) {
  std::lock_guard lock(mutex_);
  auto& g = gauges_[reader];
  if (!g) g = &drift_.Add({{"reader", reader}});
  g->Set(settings);
}

prometheus::Counter& FleetMetrics::Counter(prometheus::Family<prometheus::Counter>& family,
                                           const std::string& reader, bool ok) {
  std::lock_guard lock(mutex_);
  auto& c = counters_[reader][{&family, ok}];
  if (!c) c = &family.Add({{"reader", reader}, {"result", ok ? "ok" : "failed"}});
  return *c;
}

void FleetMetrics::CountAudit(const std::string& reader, bool ok) {
  Counter(audits_, reader, ok).Increment();
}
void FleetMetrics::CountWrite(const std::string& reader, bool ok) {
  Counter(writes_, reader, ok).Increment();
}
void FleetMetrics::CountClockSet(const std::string& reader, bool ok) {
  Counter(clock_sets_, reader, ok).Increment();
}

void FleetMetrics::RemoveReader(const std::string& reader) {
  std::lock_guard lock(mutex_);
  if (auto it = gauges_.find(reader); it != gauges_.end()) {
    drift_.Remove(it->second);
    gauges_.erase(it);
  }
  if (auto it = counters_.find(reader); it != counters_.end()) {
    for (const auto& [key, counter] : it->second) {
      static_cast<prometheus::Family<prometheus::Counter>*>(key.first)->Remove(counter);
    }
    counters_.erase(it);
  }
}

}  // namespace gw::fleet
