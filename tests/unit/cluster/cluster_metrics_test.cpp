#include "cluster/cluster_metrics.hpp"

#include <gtest/gtest.h>

#include <atomic>

#include "metrics/metrics.hpp"

namespace gw::cluster {
namespace {

TEST(ClusterMetrics, ExportsEverySeriesWithTheNodeLabel) {
  metrics::Registry registry;
  std::atomic<std::uint64_t> fenced{0};
  ClusterMetrics m(registry, "node-7", [&fenced] { return fenced.load(); });
  m.readers_owned.Set(13);
  m.takeovers.Increment(4);
  m.renew_failures.Increment();
  fenced = 5;
  auto text = registry.Serialize();
  for (const char* line : {"ef45gw_cluster_readers_owned{node=\"node-7\"} 13",
                           "ef45gw_cluster_takeovers_total{node=\"node-7\"} 4",
                           "ef45gw_cluster_lease_renew_failures_total{node=\"node-7\"} 1",
                           "ef45gw_cluster_fenced_batches_total{node=\"node-7\"} 5"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  for (const char* name :
       {"ef45gw_cluster_readers_configured", "ef45gw_cluster_live_nodes",
        "ef45gw_cluster_fair_share", "ef45gw_cluster_lease_rounds_total",
        "ef45gw_cluster_lease_claims_total", "ef45gw_cluster_lease_releases_total",
        "ef45gw_cluster_leases_lost_total", "ef45gw_cluster_lease_round_duration_seconds_bucket"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace gw::cluster
