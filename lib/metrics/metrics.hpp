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

/// Series kept outside prometheus-cpp and written straight into the exposition (text format
/// 0.0.4): for families with a series per reader, where prometheus-cpp's ~330 bytes a series
/// (a label map, hash nodes) and its copy of every series on each scrape add up (issue 18).
class TextWriter {
 public:
  virtual ~TextWriter() = default;
  /// Appends complete families (# HELP, # TYPE, samples) to `out`.
  virtual void Write(std::string& out) const = 0;
};

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

  /// Adds families written by `writer` on every scrape. Thread-safe.
  void AddTextWriter(std::shared_ptr<const TextWriter> writer);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex mutex_;  // guards writers_
  std::vector<std::shared_ptr<const TextWriter>> writers_;
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
