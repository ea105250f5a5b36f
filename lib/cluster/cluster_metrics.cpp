#include "cluster/cluster_metrics.hpp"

#include <prometheus/collectable.h>
#include <prometheus/family.h>
#include <prometheus/metric_family.h>

#include <memory>
#include <vector>

#include "metrics/metrics.hpp"

namespace gw::cluster {
namespace {

class FencedCollector final : public prometheus::Collectable {
 public:
  FencedCollector(std::string node, std::function<std::uint64_t()> read)
      : node_(std::move(node)), read_(std::move(read)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    auto family = metrics::SingleSample(
        "ef45gw_cluster_fenced_batches_total",
        "Reader batches the event writer refused because this node no longer held the reader's "
        "lease (nothing of them was written).",
        prometheus::MetricType::Counter, read_ ? static_cast<double>(read_()) : 0.0);
    for (auto& m : family.metric) m.label.push_back({"node", node_});
    return {std::move(family)};
  }

 private:
  std::string node_;
  std::function<std::uint64_t()> read_;
};

template <class T>
T& One(prometheus::Registry& r, const std::string& name, const std::string& help,
       const std::string& node) {
  if constexpr (std::is_same_v<T, prometheus::Gauge>) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({{"node", node}});
  } else {
    return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({{"node", node}});
  }
}

}  // namespace

ClusterMetrics::ClusterMetrics(metrics::Registry& registry, const std::string& node,
                               std::function<std::uint64_t()> fenced_batches)
    : readers_owned(One<prometheus::Gauge>(registry.get(), "ef45gw_cluster_readers_owned",
                                           "Readers whose lease this node holds (and polls).",
                                           node)),
      readers_configured(One<prometheus::Gauge>(registry.get(), "ef45gw_cluster_readers_configured",
                                                "Readers in this node's configuration: the fleet "
                                                "the cluster shares.",
                                                node)),
      live_nodes(One<prometheus::Gauge>(registry.get(), "ef45gw_cluster_live_nodes",
                                        "Nodes whose heartbeat has not expired, as this node last "
                                        "saw them (itself included).",
                                        node)),
      fair_share(One<prometheus::Gauge>(registry.get(), "ef45gw_cluster_fair_share",
                                        "ceil(readers / live nodes): how many readers this node "
                                        "claims at most.",
                                        node)),
      renewals(One<prometheus::Counter>(registry.get(), "ef45gw_cluster_lease_rounds_total",
                                        "Heartbeat/renew/claim rounds that reached PostgreSQL.",
                                        node)),
      renew_failures(One<prometheus::Counter>(
          registry.get(), "ef45gw_cluster_lease_renew_failures_total",
          "Rounds that could not renew the leases (PostgreSQL unreachable or failing).", node)),
      claims(One<prometheus::Counter>(registry.get(), "ef45gw_cluster_lease_claims_total",
                                      "Reader leases this node claimed.", node)),
      takeovers(One<prometheus::Counter>(registry.get(), "ef45gw_cluster_takeovers_total",
                                         "Readers claimed from another node whose lease had "
                                         "expired (that node died or lost PostgreSQL).",
                                         node)),
      releases(One<prometheus::Counter>(registry.get(), "ef45gw_cluster_lease_releases_total",
                                        "Reader leases this node gave back (rebalancing, reload, "
                                        "shutdown).",
                                        node)),
      leases_lost(One<prometheus::Counter>(
          registry.get(), "ef45gw_cluster_leases_lost_total",
          "Leases this node found taken over by another node or expired at renewal.", node)),
      round_duration(prometheus::BuildHistogram()
                         .Name("ef45gw_cluster_lease_round_duration_seconds")
                         .Help("Duration of one heartbeat/renew/claim transaction.")
                         .Register(registry.get())
                         .Add({{"node", node}}, metrics::LatencyBuckets())) {
  registry.AddCollectable(std::make_shared<FencedCollector>(node, std::move(fenced_batches)));
}

}  // namespace gw::cluster
