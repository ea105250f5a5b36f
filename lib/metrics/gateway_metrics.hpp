#pragma once

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace gw::metrics {

class Registry;

/// The event writer's counters as plain numbers (lib/metrics does not depend on lib/store).
struct WriterCounters {
  std::uint64_t transactions = 0;
  std::uint64_t failed_attempts = 0;
  std::uint64_t rejected_batches = 0;
  std::uint64_t events_inserted = 0;
  std::uint64_t events_enriched = 0;
  std::uint64_t events_ignored = 0;
  std::uint64_t queued_events = 0;
  std::uint64_t waiting_batches = 0;
  std::uint64_t connections_opened = 0;
  std::uint64_t backlog_fetches = 0;  ///< readers holding a backlog slot (poll/fetch_gate.hpp)
  std::uint64_t backlog_waiting = 0;  ///< readers waiting for one
};

/// Store metrics: commit duration and batch size histograms (observed on each commit), the
/// writer's counters and queue depth (read on each scrape), and whether PostgreSQL answers.
struct StoreMetrics {
  StoreMetrics(Registry& registry, std::function<WriterCounters()> read_counters);

  void ObserveCommit(std::size_t events, double seconds);
  void SetDatabaseUp(bool up);

  prometheus::Histogram& commit_duration;
  prometheus::Histogram& batch_size;
  prometheus::Gauge& db_up;

 private:
  StoreMetrics(prometheus::Registry& families, Registry& registry,
               std::function<WriterCounters()> read_counters);
};

/// API metrics: requests by route template, method and status class; duration by route;
/// SSE subscribers and why streams ended. Route templates only (bounded cardinality).
class ApiMetrics {
 public:
  explicit ApiMetrics(prometheus::Registry& registry);

  /// `route` must come from a bounded set (route templates and "unmatched"); `method` is
  /// reduced to GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS or "other" here, so made-up methods
  /// cannot create series.
  void ObserveRequest(const std::string& route, const std::string& method, int status,
                      double seconds);
  /// ef45gw_api_insecure: 1 when the API serves without tokens off loopback (api.insecure_open).
  void SetInsecure(bool insecure);
  /// An audit event could not be committed (ef45gw_audit_write_failures_total).
  void AuditWriteFailed();
  void StreamOpened();
  /// `reason`: "client_gone" (disconnected, or the gateway stopping), "slow_consumer" (missed
  /// the write deadline), "database_unavailable".
  void StreamClosed(const std::string& reason);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Gauge& subscribers_;
  prometheus::Family<prometheus::Counter>& disconnects_;
  prometheus::Gauge& insecure_;
  prometheus::Counter& audit_failures_;
};

}  // namespace gw::metrics
