#include "metrics/gateway_metrics.hpp"

#include <prometheus/metric_family.h>

#include "metrics/metrics.hpp"

namespace gw::metrics {
namespace {

class WriterCollector final : public prometheus::Collectable {
 public:
  explicit WriterCollector(std::function<WriterCounters()> read) : read_(std::move(read)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    WriterCounters c = read_();
    std::vector<prometheus::MetricFamily> out;
    out.push_back(SingleSample("ef45gw_store_transactions_total", "Event transactions committed.",
                               prometheus::MetricType::Counter,
                               static_cast<double>(c.transactions)));
    out.push_back(
        SingleSample("ef45gw_store_commit_failures_total",
                     "Event transactions that failed and were retried (database unavailable).",
                     prometheus::MetricType::Counter, static_cast<double>(c.failed_attempts)));
    out.push_back(SingleSample("ef45gw_store_rejected_batches_total",
                               "Reader batches refused as invalid (nothing of them stored).",
                               prometheus::MetricType::Counter,
                               static_cast<double>(c.rejected_batches)));
    prometheus::MetricFamily rows;
    rows.name = "ef45gw_store_rows_total";
    rows.help = "What commits did to event rows: inserted, enriched, or ignored replays.";
    rows.type = prometheus::MetricType::Counter;
    for (auto [result, value] :
         {std::pair{"inserted", c.events_inserted}, std::pair{"enriched", c.events_enriched},
          std::pair{"ignored", c.events_ignored}}) {
      prometheus::ClientMetric m;
      m.label.push_back({"result", result});
      m.counter.value = static_cast<double>(value);
      rows.metric.push_back(std::move(m));
    }
    out.push_back(std::move(rows));
    out.push_back(SingleSample("ef45gw_store_connections_opened_total",
                               "PostgreSQL connections opened; beyond the pool size, reconnects.",
                               prometheus::MetricType::Counter,
                               static_cast<double>(c.connections_opened)));
    out.push_back(SingleSample(
        "ef45gw_store_queue_events", "Events accepted by the writer and not yet committed.",
        prometheus::MetricType::Gauge, static_cast<double>(c.queued_events)));
    out.push_back(
        SingleSample("ef45gw_store_waiting_batches",
                     "Reader batches waiting for room in the writer queue (backpressure).",
                     prometheus::MetricType::Gauge, static_cast<double>(c.waiting_batches)));
    out.push_back(
        SingleSample("ef45gw_store_backlog_fetches",
                     "Readers fetching a backlog now (store.backlog_fetches slots in use).",
                     prometheus::MetricType::Gauge, static_cast<double>(c.backlog_fetches)));
    out.push_back(SingleSample("ef45gw_store_backlog_waiting",
                               "Readers waiting for a backlog slot before fetching (their readers "
                               "keep the data meanwhile).",
                               prometheus::MetricType::Gauge,
                               static_cast<double>(c.backlog_waiting)));
    return out;
  }

 private:
  std::function<WriterCounters()> read_;
};

}  // namespace

StoreMetrics::StoreMetrics(Registry& registry, std::function<WriterCounters()> read)
    : StoreMetrics(registry.get(), registry, std::move(read)) {}

StoreMetrics::StoreMetrics(prometheus::Registry& r, Registry& registry,
                           std::function<WriterCounters()> read)
    : commit_duration(prometheus::BuildHistogram()
                          .Name("ef45gw_store_commit_duration_seconds")
                          .Help("Duration of one event transaction (write and commit).")
                          .Register(r)
                          .Add({}, LatencyBuckets())),
      batch_size(prometheus::BuildHistogram()
                     .Name("ef45gw_store_batch_events")
                     .Help("Events per committed transaction.")
                     .Register(r)
                     .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 5, 10, 20, 50, 100, 200,
                                                                      500, 1000})),
      db_up(prometheus::BuildGauge()
                .Name("ef45gw_db_up")
                .Help("1 when PostgreSQL answered the last health query.")
                .Register(r)
                .Add({})) {
  registry.AddCollectable(std::make_shared<WriterCollector>(std::move(read)));
}

void StoreMetrics::ObserveCommit(std::size_t events, double seconds) {
  commit_duration.Observe(seconds);
  batch_size.Observe(static_cast<double>(events));
}

void StoreMetrics::SetDatabaseUp(bool up) { db_up.Set(up ? 1 : 0); }

ApiMetrics::ApiMetrics(prometheus::Registry& r)
    : requests_(prometheus::BuildCounter()
                    .Name("ef45gw_api_requests_total")
                    .Help("API requests by route template, method and status class.")
                    .Register(r)),
      duration_(prometheus::BuildHistogram()
                    .Name("ef45gw_api_request_duration_seconds")
                    .Help("API request handling time by route template (streams: until the "
                          "headers are sent).")
                    .Register(r)),
      subscribers_(prometheus::BuildGauge()
                       .Name("ef45gw_sse_subscribers")
                       .Help("Open event streams.")
                       .Register(r)
                       .Add({})),
      disconnects_(prometheus::BuildCounter()
                       .Name("ef45gw_sse_disconnects_total")
                       .Help("Event streams ended, by reason.")
                       .Register(r)),
      insecure_(prometheus::BuildGauge()
                    .Name("ef45gw_api_insecure")
                    .Help("1 when the API is open without tokens on a non-loopback address "
                          "(api.insecure_open).")
                    .Register(r)
                    .Add({})),
      audit_failures_(prometheus::BuildCounter()
                          .Name("ef45gw_audit_write_failures_total")
                          .Help("Audit events that could not be committed (PostgreSQL down).")
                          .Register(r)
                          .Add({})) {
  // Known reasons exist from the start (at 0), so rate() and alerts see them before the first.
  for (const char* reason : {"client_gone", "slow_consumer", "database_unavailable"}) {
    disconnects_.Add({{"reason", reason}});
  }
}

void ApiMetrics::ObserveRequest(const std::string& route, const std::string& method, int status,
                                double seconds) {
  std::string code = std::to_string(status / 100) + "xx";
  std::string label = "other";
  for (const char* known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (method == known) label = known;
  }
  requests_.Add({{"route", route}, {"method", label}, {"code", code}}).Increment();
  duration_.Add({{"route", route}}, LatencyBuckets()).Observe(seconds);
}

void ApiMetrics::SetInsecure(bool insecure) { insecure_.Set(insecure ? 1 : 0); }

void ApiMetrics::AuditWriteFailed() { audit_failures_.Increment(); }

void ApiMetrics::StreamOpened() { subscribers_.Increment(); }

void ApiMetrics::StreamClosed(const std::string& reason) {
  subscribers_.Decrement();
  disconnects_.Add({{"reason", reason}}).Increment();
}

}  // namespace gw::metrics
