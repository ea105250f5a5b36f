#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <cstdint>
#include <functional>
#include <string>

namespace gw::metrics {
class Registry;
}

namespace gw::cluster {

/// Metrics of one cluster node (every series carries `node`, the node id, so a dashboard can sum
/// the readers owned across instances). Thread-safe as prometheus-cpp metrics are.
struct ClusterMetrics {
  /// `fenced_batches` is read on each scrape (the event writer's count of batches refused by
  /// the lease fence).
  ClusterMetrics(metrics::Registry& registry, const std::string& node_id,
                 std::function<std::uint64_t()> fenced_batches);

  prometheus::Gauge& readers_owned;       ///< ef45gw_cluster_readers_owned
  prometheus::Gauge& readers_configured;  ///< ef45gw_cluster_readers_configured
  prometheus::Gauge& live_nodes;          ///< ef45gw_cluster_live_nodes
  prometheus::Gauge& fair_share;          ///< ef45gw_cluster_fair_share
  prometheus::Counter& renewals;          ///< ef45gw_cluster_lease_rounds_total
  prometheus::Counter& renew_failures;    ///< ef45gw_cluster_lease_renew_failures_total
  prometheus::Counter& claims;            ///< ef45gw_cluster_lease_claims_total
  prometheus::Counter& takeovers;         ///< ef45gw_cluster_takeovers_total
  prometheus::Counter& releases;          ///< ef45gw_cluster_lease_releases_total
  prometheus::Counter& leases_lost;       ///< ef45gw_cluster_leases_lost_total
  prometheus::Histogram& round_duration;  ///< ef45gw_cluster_lease_round_duration_seconds
};

}  // namespace gw::cluster
