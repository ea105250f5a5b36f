#include "webhook/webhook_metrics.hpp"

#include "metrics/metrics.hpp"

namespace gw::webhook {

namespace {
constexpr const char* kStates[] = {"active", "failing", "paused", "disabled"};
}

WebhookMetrics::WebhookMetrics(prometheus::Registry& registry)
    : deliveries_(prometheus::BuildCounter()
                      .Name("ef45gw_webhook_deliveries_total")
                      .Help("Webhook requests by subscription and result (success = 2xx).")
                      .Register(registry)),
      lag_(prometheus::BuildGauge()
               .Name("ef45gw_webhook_lag_events")
               .Help("Events committed after a webhook subscription's cursor (seq distance).")
               .Register(registry)),
      delivery_seconds_(prometheus::BuildHistogram()
                            .Name("ef45gw_webhook_delivery_seconds")
                            .Help("Time from an event's commit to the receiver's 2xx.")
                            .Register(registry)
                            .Add({}, metrics::LatencyBuckets())),
      state_(prometheus::BuildGauge()
                 .Name("ef45gw_webhook_state")
                 .Help("Webhook subscription state delivered by this node (1 = current).")
                 .Register(registry)) {}

void WebhookMetrics::Delivered(const std::string& webhook, const std::string& result) {
  deliveries_.Add({{"webhook", webhook}, {"result", result}}).Increment();
}

void WebhookMetrics::SetLag(const std::string& webhook, double events) {
  lag_.Add({{"webhook", webhook}}).Set(events);
}

void WebhookMetrics::ObserveDelivery(double seconds) { delivery_seconds_.Observe(seconds); }

void WebhookMetrics::SetState(const std::string& webhook, const std::string& state) {
  for (const char* s : kStates) {
    state_.Add({{"webhook", webhook}, {"state", s}}).Set(state == s ? 1 : 0);
  }
}

void WebhookMetrics::Forget(const std::string& webhook) {
  lag_.Remove(&lag_.Add({{"webhook", webhook}}));
  for (const char* s : kStates) state_.Remove(&state_.Add({{"webhook", webhook}, {"state", s}}));
}

}  // namespace gw::webhook
