#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gw::metrics {

/// The one registry of the process and its text exposition. Module metric structs are built
/// from it once at start-up and passed by reference (no globals). Thread-safe (prometheus-cpp).
class Registry {
 public:
  Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  prometheus::Registry& get() { return *registry_; }

  /// The Prometheus text format (version 0.0.4) of everything registered, process metrics
  /// included. Cheap enough to call on every scrape; does not block on I/O beyond /proc/self.
  std::string Serialize() const;

  /// Adds a collector read on every scrape (values computed at scrape time). Call at start-up.
  void AddCollectable(std::shared_ptr<prometheus::Collectable> collectable);

  /// A registry of its own, for one family with a series per reader. Serialize copies the
  /// samples of one registry at a time (prometheus-cpp's Collect copies every series with its
  /// labels): with all families in one registry a scrape at 1,000 readers held ~12 MB of copies
  /// at once, the process's memory peak (issue 18). Call at start-up; thread-safe.
  prometheus::Registry& Shard();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex mutex_;  // guards shards_
  std::vector<std::unique_ptr<prometheus::Registry>> shards_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
};

/// A family with one unlabelled sample (counter or gauge), for collectors that compute their
/// values at scrape time.
prometheus::MetricFamily SingleSample(std::string name, std::string help,
                                      prometheus::MetricType type, double value);

/// Buckets for durations in seconds, from 1 ms to 30 s.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets();

/// `ef45gw_build_info{version,commit} 1` and `ef45gw_start_time_seconds`.
struct BuildMetrics {
  explicit BuildMetrics(prometheus::Registry& registry);
};

}  // namespace gw::metrics
