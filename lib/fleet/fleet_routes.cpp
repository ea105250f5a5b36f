#include "fleet/fleet_routes.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "api/problem.hpp"
#include "common/identifier.hpp"
#include "common/time.hpp"
#include "fleet/settings_audit.hpp"

namespace gw::fleet {

namespace asio = boost::asio;
namespace json = boost::json;
using api::Request;
using api::Response;

namespace {

json::value ToJson(const config::SettingValue& v) {
  return std::visit([](const auto& x) { return json::value(x); }, v);
}

const char* TypeName(const config::SettingValue& v) {
  constexpr const char* kNames[] = {"bool", "int", "float", "string"};
  return kNames[v.index()];
}

json::array DriftJson(const std::vector<SettingDrift>& drift) {
  json::array items;
  for (const auto& d : drift) {
    json::object o{{"title", d.title},
                   {"type", TypeName(d.desired)},
                   {"desired", ToJson(d.desired)},
                   {"actual", d.actual ? ToJson(*d.actual) : json::value(nullptr)},
                   {"profile", d.profile}};
    if (!d.error.empty()) o["error"] = d.error;
    items.push_back(std::move(o));
  }
  return items;
}

asio::awaitable<Response> GetDrift(FleetRoutesContext& ctx, Request&) {
  json::array readers;
  std::size_t total = 0;
  for (const auto& r : ctx.audit.Drift()) {
    total += r.drift.size();
    json::value audited = nullptr;
    if (r.audited_at) {
      audited =
          FormatIso8601(std::chrono::time_point_cast<std::chrono::microseconds>(*r.audited_at));
    }
    json::object o{{"device_id", r.device_id},
                   {"audited_at", audited},
                   {"desired_settings", r.desired},
                   {"drift_count", r.drift.size()},
                   {"settings", DriftJson(r.drift)}};
    o["error"] = r.error.empty() ? json::value(nullptr) : json::value(r.error);
    readers.push_back(std::move(o));
  }
  co_return api::Json(json::object{{"enforce", ctx.audit.enforce()},
                                   {"profiles", ctx.audit.profiles()},
                                   {"drift_count", total},
                                   {"items", std::move(readers)}});
}

asio::awaitable<Response> GetPlan(FleetRoutesContext& ctx, Request& request) {
  auto device = request.Query("device");
  if (!device || !ValidIdentifier(*device)) {
    co_return api::BadRequest("device", "required: a reader id, " + std::string(kIdentifierRule));
  }
  std::string detail;
  auto plan = co_await ctx.audit.Plan(std::string(*device), &detail);
  if (!plan) {
    const std::string what = "reader '" + std::string(*device) + "': " + detail;
    const auto& ec = plan.error();
    if (ec == Errc::kNotFound) {
      co_return api::NotFound("reader '" + std::string(*device) +
                              "' is not polled by this instance");
    }
    if (ec == Errc::kTimeout) {
      co_return api::Problem(504, "reader-timeout", "Reader timeout", what);
    }
    if (ec == Errc::kRefused || ec == Errc::kClosed || ec == Errc::kCancelled) {
      co_return api::Problem(503, "reader-unavailable", "Reader unavailable", what);
    }
    if (ec == Errc::kLockConflict || ec == Errc::kLockLost) {
      co_return api::Problem(409, "reader-locked", "Reader locked by another client", what);
    }
    co_return api::Problem(502, "reader-error", "The reader could not be read", what);
  }
  json::array writes;
  for (const auto& d : plan->drift) {
    if (d.writable()) writes.push_back(json::value(d.title));
  }
  json::object o{{"device_id", plan->device_id},   {"desired_settings", plan->desired},
                 {"enforce", ctx.audit.enforce()}, {"settings", DriftJson(plan->drift)},
                 {"writes", std::move(writes)},    {"set_clock", plan->set_clock}};
  o["clock_skew_s"] = plan->clock_skew_s ? json::value(*plan->clock_skew_s) : json::value(nullptr);
  co_return api::Json(o);
}

}  // namespace

void AddFleetRoutes(api::Router& router, FleetRoutesContext& ctx) {
  auto bind = [&ctx](asio::awaitable<Response> (*fn)(FleetRoutesContext&, Request&)) {
    return api::Handler([&ctx, fn](Request& request) { return fn(ctx, request); });
  };
  router.Add("GET", "/api/v1/fleet/drift", api::Role::kRead, bind(GetDrift));
  router.Add("GET", "/api/v1/fleet/plan", api::Role::kOperate, bind(GetPlan));
}

}  // namespace gw::fleet
