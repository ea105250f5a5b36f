#include "app/options.hpp"

#include <gtest/gtest.h>

#include "api/commit_signal.hpp"
#include "metrics/gateway_metrics.hpp"
#include "metrics/metrics.hpp"
#include "metrics/poll_metrics.hpp"

namespace gw::app {
namespace {

TEST(AppOptions, StreamsTakeAtMostHalfTheConnections) {
  config::ApiConfig api;
  api.max_connections = 256;
  api.max_streams = 1000;
  EXPECT_EQ(MaxStreams(api), 128);
  api.max_streams = 10;
  EXPECT_EQ(MaxStreams(api), 10);
  api.max_connections = 1;  // one connection: still one stream, never zero
  EXPECT_EQ(MaxStreams(api), 1);
}

TEST(AppOptions, TheServerGetsTheListenAddressLimitsAndTls) {
  config::ApiConfig api;
  api.listen_host = "10.0.0.5";
  api.listen_port = 8443;
  api.max_connections = 300;
  api.max_connections_per_ip = 12;
  api.tls.cert_file = "/etc/ef45-gateway/cert.pem";
  api.tls.key_file = "/etc/ef45-gateway/key.pem";
  auto o = ServerOptionsFor(api);
  EXPECT_EQ(o.host, "10.0.0.5");
  EXPECT_EQ(o.port, 8443);
  EXPECT_EQ(o.max_connections, 300);
  EXPECT_EQ(o.max_connections_per_ip, 12);
  EXPECT_EQ(o.tls_cert_file, "/etc/ef45-gateway/cert.pem");
  EXPECT_EQ(o.tls_key_file, "/etc/ef45-gateway/key.pem");
}

TEST(AppOptions, SyncPolicyAndRatesCarryOver) {
  config::SyncConfig c;
  c.policy = config::SyncPolicy::kMirror;
  c.audit = std::chrono::milliseconds(1234);
  c.inventory = std::chrono::milliseconds(567);
  c.max_ops_per_second = 7;
  c.page_size = 33;
  auto o = SyncOptionsFor(c);
  EXPECT_EQ(o.policy, sync::Policy::kMirror);
  EXPECT_EQ(o.audit, std::chrono::milliseconds(1234));
  EXPECT_EQ(o.inventory, std::chrono::milliseconds(567));
  EXPECT_EQ(o.max_ops_per_second, 7);
  EXPECT_EQ(o.page_size, 33);
  c.policy = config::SyncPolicy::kAdditive;
  EXPECT_EQ(SyncOptionsFor(c).policy, sync::Policy::kAdditive);
}

TEST(AppOptions, ClusterOptionsCarryNodeUrlAndTimes) {
  config::ClusterConfig c;
  c.node_id = "b";
  c.advertise_url = "https://gw-b.example:8443";
  c.lease = std::chrono::milliseconds(9000);
  c.renew = std::chrono::milliseconds(3000);
  auto o = ClusterOptionsFor(c);
  EXPECT_EQ(o.node_id, "b");
  EXPECT_EQ(o.advertise_url, "https://gw-b.example:8443");
  EXPECT_EQ(o.lease, std::chrono::milliseconds(9000));
  EXPECT_EQ(o.renew, std::chrono::milliseconds(3000));
}

TEST(AppOptions, EachCommitIsObservedAndWakesTheStreamsAndQuarantinesAreCounted) {
  metrics::Registry registry;
  metrics::StoreMetrics store(registry, [] { return metrics::WriterCounters{}; });
  metrics::PollMetrics poll(registry);
  api::CommitSignal commits;
  config::StoreConfig c;
  c.batch_max_events = 77;
  c.batch_max_delay = std::chrono::milliseconds(5);
  c.queue_capacity = 999;
  auto o = WriterOptionsFor(c, store, poll, commits);
  EXPECT_EQ(o.max_batch_events, 77);
  EXPECT_EQ(o.max_delay, std::chrono::milliseconds(5));
  EXPECT_EQ(o.queue_capacity, 999);
  auto before = commits.generation();
  ASSERT_TRUE(o.on_commit);
  o.on_commit(10, 0.004);
  EXPECT_EQ(commits.generation(), before + 1);
  ASSERT_TRUE(o.on_quarantine);
  o.on_quarantine("door-3", "bad_text");
  auto text = registry.Serialize();
  EXPECT_NE(text.find("ef45gw_events_quarantined_total{reader=\"door-3\",reason=\"bad_text\"} 1"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace gw::app
