#include "metrics/metrics.hpp"

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "common/version.hpp"

namespace gw::metrics {
namespace {

/// The standard process_* metrics (CPU, memory, fds, start time), read from /proc/self on
/// each scrape, as the Go and Java clients export them.
class ProcessCollector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
    std::ifstream stat_file("/proc/self/stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), {});
    // Fields after the command name, which is in parentheses and may contain spaces.
    auto close = stat.rfind(')');
    if (close == std::string::npos) return out;
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f{std::istream_iterator<std::string>(fields),
                               std::istream_iterator<std::string>()};
    if (f.size() < 22) return out;
    // f[0] is field 3 (state); utime = 14, stime = 15, starttime = 22, vsize = 23, rss = 24.
    double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
    double vsize = std::stod(f[20]);
    double rss = std::stod(f[21]) * page;
    double start = BootTime() + std::stod(f[19]) / ticks;
    double fds = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      ++fds;
    }
    out.push_back(SingleSample("process_cpu_seconds_total",
                               "User and system CPU time spent in seconds.",
                               prometheus::MetricType::Counter, cpu));
    out.push_back(SingleSample("process_resident_memory_bytes", "Resident memory size in bytes.",
                               prometheus::MetricType::Gauge, rss));
    out.push_back(SingleSample("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                               prometheus::MetricType::Gauge, vsize));
    out.push_back(SingleSample("process_open_fds", "Number of open file descriptors.",
                               prometheus::MetricType::Gauge, fds));
    out.push_back(SingleSample("process_start_time_seconds",
                               "Start time of the process since unix epoch in seconds.",
                               prometheus::MetricType::Gauge, start));
    return out;
  }

 private:
  static double BootTime() {
    std::ifstream in("/proc/stat");
    std::string key;
    while (in >> key) {
      if (key == "btime") {
        double value = 0;
        in >> value;
        return value;
      }
    }
    return 0;
  }
};

}  // namespace

Registry::Registry() : registry_(std::make_shared<prometheus::Registry>()) {
  collectables_.push_back(std::make_shared<ProcessCollector>());
}

void Registry::AddCollectable(std::shared_ptr<prometheus::Collectable> collectable) {
  collectables_.push_back(std::move(collectable));
}

void Registry::AddTextWriter(std::shared_ptr<const TextWriter> writer) {
  std::lock_guard lock(mutex_);
  writers_.push_back(std::move(writer));
}

std::string Registry::Serialize() const {
  std::ostringstream out;
  const prometheus::TextSerializer serializer;
  serializer.Serialize(out, registry_->Collect());
  std::vector<std::shared_ptr<const TextWriter>> writers;
  {
    std::lock_guard lock(mutex_);
    writers = writers_;
  }
  for (const auto& c : collectables_) serializer.Serialize(out, c->Collect());
  std::string text = std::move(out).str();
  for (const auto& w : writers) w->Write(text);
  return text;
}

prometheus::MetricFamily SingleSample(std::string name, std::string help,
                                      prometheus::MetricType type, double value) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
  return family;
}

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  return kBuckets;
}

BuildMetrics::BuildMetrics(prometheus::Registry& registry) {
  prometheus::BuildGauge()
      .Name("ef45gw_build_info")
      .Help("Build of the running gateway (always 1).")
      .Register(registry)
      .Add({{"version", std::string(Version())}, {"commit", std::string(GitCommit())}})
      .Set(1);
  auto now = std::chrono::system_clock::now().time_since_epoch();
  prometheus::BuildGauge()
      .Name("ef45gw_start_time_seconds")
      .Help("When the gateway started, seconds since the unix epoch.")
      .Register(registry)
      .Add({})
      .Set(std::chrono::duration<double>(now).count());
}

}  // namespace gw::metrics
