#pragma once

#include <functional>
#include <optional>
#include <string>

#include "api/router.hpp"

namespace gw::store {
class Database;
}
namespace gw::poll {
class WorkerSet;
}
namespace gw::metrics {
class Registry;
class ApiMetrics;
}  // namespace gw::metrics

namespace gw::api {

class CommitSignal;
class EventFeed;

/// What the routes depend on, and their settings: no state of its own (the routes own their
/// limits' counts: StreamLimiter, ReaderOpLimiter in api/limiters.hpp). Everything referenced
/// outlives the Router; set every field before AddGatewayRoutes / AddReaderRoutes.
struct GatewayContext {
  store::Database& db;
  poll::WorkerSet& workers;
  metrics::Registry& metrics;
  /// True once migrations are current and the readers are loaded (start-up finished).
  std::function<bool()> started;
  metrics::ApiMetrics* api_metrics = nullptr;  ///< optional: SSE subscribers and disconnects
  /// Cluster mode: the API base URL of the instance that polls reader `id`, when it is not this
  /// one (reader operations answer 307 to it). Unset or nullopt: the reader is unknown (404).
  std::function<std::optional<std::string>(const std::string& id)> owner_url;
  /// Cluster mode: this instance's node id (empty: one instance polls every reader). The device
  /// listing then also shows the readers other instances poll, from PostgreSQL.
  std::string cluster_node{};
  /// This instance serves HTTPS: a 307 to another instance goes only to an https:// URL (and
  /// only to an http:// one without TLS), whatever the database says (config::ValidAdvertiseUrl).
  bool tls = false;
  /// Wakes event streams when events were committed (see CommitSignal); optional.
  CommitSignal* commits = nullptr;
  /// The newest committed events shared by every event stream (see EventFeed); optional.
  EventFeed* feed = nullptr;
  int max_streams = 1000;    ///< concurrent event streams; more get 429
  int max_reader_ops = 8;    ///< API operations waiting for one reader; more get 429
  bool open_metrics = true;  ///< /metrics needs no token
  bool open_health = true;   ///< /healthz and /readyz need no token
};

/// Registers the façade's routes: /healthz, /readyz, /metrics and /api/v1 (devices, events).
/// Handlers are thin: parse and validate input → a store query or a worker snapshot → JSON.
void AddGatewayRoutes(Router& router, GatewayContext& context);

/// Registers the reader operations under /api/v1/devices/{id}/...: relay, APB clear, time sync,
/// settings, raw logs, camera, biometric capture and firmware upload. Each runs on the reader's
/// DeviceWorker strand through its client (same lock and connection as the pollers, queued
/// behind the poll in flight). Reader failures map to problems: timeout 504, unreachable 503,
/// lock held by another client 409, a reader error 502 with the reader's status.
void AddReaderRoutes(Router& router, GatewayContext& context);

}  // namespace gw::api
