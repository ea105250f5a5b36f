#pragma once
// From the validated configuration to each module's options: the one place that maps config keys
// onto the modules, so the mapping is unit-tested rather than found only in the running binary.

#include "api/server.hpp"
#include "cluster/lease_manager.hpp"
#include "config/config.hpp"
#include "store/event_writer.hpp"
#include "sync/sync_manager.hpp"

namespace gw::api {
class CommitSignal;
}
namespace gw::metrics {
struct PollMetrics;
struct StoreMetrics;
}  // namespace gw::metrics

namespace gw::app {

/// The writer's batching and queue limits; each commit is observed and wakes the event streams,
/// each quarantined entry is counted.
store::WriterOptions WriterOptionsFor(const config::StoreConfig& store,
                                      metrics::StoreMetrics& metrics,
                                      metrics::PollMetrics& poll_metrics,
                                      api::CommitSignal& commits);

sync::SyncOptions SyncOptionsFor(const config::SyncConfig& sync);

api::ServerOptions ServerOptionsFor(const config::ApiConfig& api);

/// Event streams hold their connection for hours: they may take at most half of the
/// connections, so streams alone can never lock operators out of the API.
int MaxStreams(const config::ApiConfig& api);

cluster::ClusterOptions ClusterOptionsFor(const config::ClusterConfig& cluster);

}  // namespace gw::app
