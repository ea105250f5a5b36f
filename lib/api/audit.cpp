#include "api/audit.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "api/commit_signal.hpp"
#include "common/identifier.hpp"
#include "common/log.hpp"
#include "common/log_escape.hpp"
#include "metrics/gateway_metrics.hpp"
#include "store/queries.hpp"

namespace gw::api {

namespace asio = boost::asio;

namespace {

/// A value from a request, safe for JSON and bounded.
std::string Clean(std::string_view value) { return log::Escape(log::Cut(value)); }

bool IsUserRoute(const std::string& route) {
  return route.find("{user_uuid}") != std::string::npos ||
         route.find("/apb/") != std::string::npos ||
         route.find("/sync/imports/") != std::string::npos;  // the target is the import's user
}

asio::awaitable<void> Record(store::Database& db, CommitSignal* commits,
                             metrics::ApiMetrics* metrics, AuditRecord record) {
  static log::RateLimit failures;
  store::AuditEvent event;
  event.device_id = ValidIdentifier(record.device_id) ? record.device_id : store::kNoDevice;
  event.key = Clean(record.request_id);
  if (IsUserRoute(record.route) && ValidIdentifier(record.target)) event.user_uuid = record.target;
  event.payload = AuditPayload(record);
  auto result = co_await store::InsertAudit(db, event);
  if (!result) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(std::chrono::milliseconds(200));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    result = co_await store::InsertAudit(db, event);  // same key: never twice
  }
  if (!result) {
    if (metrics) metrics->AuditWriteFailed();
    long suppressed = 0;
    if (failures.Allow(suppressed)) {
      GW_LOG(kError, "audit") << "could not record " << record.method << " " << record.route
                              << " by " << record.actor << " (status " << record.status
                              << "): " << result.error().message()
                              << (suppressed ? " (" + std::to_string(suppressed) + " more)" : "");
    }
    co_return;
  }
  if (commits) commits->Notify();
}

}  // namespace

std::string AuditPayload(const AuditRecord& r) {
  auto opt = [](const std::string& s) {
    return s.empty() ? boost::json::value(nullptr) : boost::json::value(Clean(s));
  };
  boost::json::object o;
  o["actor"] = Clean(r.actor.empty() ? "anonymous" : r.actor);
  o["role"] = Clean(r.role);
  o["method"] = Clean(r.method);
  o["route"] = Clean(r.route);
  o["device_id"] = opt(r.device_id);
  o["target"] = opt(r.target);
  o["status"] = r.status;
  o["remote_addr"] = Clean(r.remote_addr);
  o["request_id"] = Clean(r.request_id);
  return boost::json::serialize(o);
}

AuditSink MakeAuditSink(store::Database& db, CommitSignal* commits, metrics::ApiMetrics* metrics) {
  return [&db, commits, metrics](AuditRecord record) {
    return Record(db, commits, metrics, std::move(record));
  };
}

}  // namespace gw::api
