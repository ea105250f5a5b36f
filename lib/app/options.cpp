#include "app/options.hpp"

#include <algorithm>

#include "api/commit_signal.hpp"
#include "metrics/gateway_metrics.hpp"
#include "metrics/poll_metrics.hpp"

namespace gw::app {

store::WriterOptions WriterOptionsFor(const config::StoreConfig& store,
                                      metrics::StoreMetrics& metrics,
                                      metrics::PollMetrics& poll_metrics,
                                      api::CommitSignal& commits) {
  store::WriterOptions o;
  o.max_batch_events = store.batch_max_events;
  o.max_delay = store.batch_max_delay;
  o.queue_capacity = store.queue_capacity;
  o.on_commit = [&metrics, &commits](std::size_t events, double seconds) {
    metrics.ObserveCommit(events, seconds);
    commits.Notify();  // wakes the event streams
  };
  o.on_quarantine = [&poll_metrics](const std::string& device_id, std::string_view reason) {
    metrics::CountQuarantined(poll_metrics, device_id, reason);
  };
  return o;
}

sync::SyncOptions SyncOptionsFor(const config::SyncConfig& sync) {
  sync::SyncOptions o;
  o.policy =
      sync.policy == config::SyncPolicy::kMirror ? sync::Policy::kMirror : sync::Policy::kAdditive;
  switch (sync.import) {
    case config::ImportPolicy::kReview: o.import_policy = sync::ImportPolicy::kReview; break;
    case config::ImportPolicy::kAuto: o.import_policy = sync::ImportPolicy::kAuto; break;
    case config::ImportPolicy::kOff: o.import_policy = sync::ImportPolicy::kOff; break;
  }
  o.audit = sync.audit;
  o.inventory = sync.inventory;
  o.max_ops_per_second = sync.max_ops_per_second;
  o.page_size = sync.page_size;
  return o;
}

api::ServerOptions ServerOptionsFor(const config::ApiConfig& api) {
  api::ServerOptions o;
  o.host = api.listen_host;
  o.port = api.listen_port;
  o.max_connections = api.max_connections;
  o.max_connections_per_ip = api.max_connections_per_ip;
  o.tls_cert_file = api.tls.cert_file;
  o.tls_key_file = api.tls.key_file;
  return o;
}

int MaxStreams(const config::ApiConfig& api) {
  return std::min(api.max_streams, std::max(1, api.max_connections / 2));
}

cluster::ClusterOptions ClusterOptionsFor(const config::ClusterConfig& cluster) {
  cluster::ClusterOptions o;
  o.node_id = cluster.node_id;
  o.advertise_url = cluster.advertise_url;
  o.lease = cluster.lease;
  o.renew = cluster.renew;
  return o;
}

}  // namespace gw::app
