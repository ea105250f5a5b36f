#pragma once

#include <atomic>
#include <functional>

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

/// What the routes read. Everything outlives the Router.
struct GatewayContext {
  store::Database& db;
  poll::WorkerSet& workers;
  metrics::Registry& metrics;
  /// True once migrations are current and the readers are loaded (start-up finished).
  std::function<bool()> started;
  metrics::ApiMetrics* api_metrics = nullptr;  ///< optional: SSE subscribers and disconnects
};

/// Registers the façade's routes: /healthz, /readyz, /metrics and /api/v1 (devices, events).
/// Handlers are thin: parse and validate input → a store query or a worker snapshot → JSON.
void AddGatewayRoutes(Router& router, GatewayContext& context);

}  // namespace gw::api
