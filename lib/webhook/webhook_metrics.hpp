#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

namespace gw::webhook {

/// The webhook series (README, metrics). Thread-safe as prometheus-cpp metrics are.
class WebhookMetrics {
 public:
  explicit WebhookMetrics(prometheus::Registry& registry);

  /// ef45gw_webhook_deliveries_total{webhook,result}: result is success, http_4xx, http_5xx,
  /// http_other (1xx/3xx: redirects are not followed), timeout, connection_error, gone.
  void Delivered(const std::string& webhook, const std::string& result);
  /// ef45gw_webhook_lag_events{webhook}: the newest seq minus the subscription's cursor.
  void SetLag(const std::string& webhook, double events);
  /// ef45gw_webhook_delivery_seconds: from an event's commit to the receiver's 2xx.
  void ObserveDelivery(double seconds);
  /// ef45gw_webhook_state{webhook,state}: 1 for the current state, 0 for the others.
  void SetState(const std::string& webhook, const std::string& state);
  /// Drops the subscription's lag and state series (deleted, or delivered by another node).
  void Forget(const std::string& webhook);

 private:
  prometheus::Family<prometheus::Counter>& deliveries_;
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Histogram& delivery_seconds_;
  prometheus::Family<prometheus::Gauge>& state_;
};

}  // namespace gw::webhook
