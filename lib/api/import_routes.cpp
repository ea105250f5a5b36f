// The review of changes made at readers (sync.import: review): list what is held, approve or
// reject one. Thin: parse → SyncManager / store → JSON. Never serves the held record itself
// (templates, face features, PINs, cards): only which parts differ.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <charconv>

#include "api/problem.hpp"
#include "api/user_routes.hpp"
#include "common/time.hpp"
#include "store/imports.hpp"
#include "sync/sync_manager.hpp"

namespace gw::api {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::optional<std::int64_t> ParseId(const std::string& text) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < 1) return std::nullopt;
  return v;
}

json::object ImportJson(const store::StoredImport& i) {
  json::array changed;
  for (const auto& c : i.changed) changed.push_back(json::string(c));
  return json::object{{"id", i.id},
                      {"device_id", i.device_id},
                      {"user_uuid", i.user_uuid},
                      {"new_user", !i.base_version.has_value()},
                      {"base_version", i.base_version ? json::value(*i.base_version) : nullptr},
                      {"reader_time", FormatIso8601(i.occurred_at)},
                      {"received_at", FormatIso8601(i.received_at)},
                      {"changed", std::move(changed)},
                      {"status", store::ImportStatusName(i.status)}};
}

asio::awaitable<Response> ListImports(UserRoutesContext& ctx, Request& request) {
  std::int64_t after = 0;
  if (auto a = request.Query("after")) {
    auto v = ParseId(*a);
    if (!v) co_return BadRequest("after", "must be an import id (a positive integer)");
    after = *v;
  }
  int limit = 100;
  if (auto l = request.Query("limit")) {
    auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), limit);
    if (ec != std::errc() || p != l->data() + l->size() || limit < 1 || limit > 1000) {
      co_return BadRequest("limit", "must be an integer from 1 to 1000");
    }
  }
  auto r = co_await store::PendingImportsPage(ctx.db, after, limit);
  if (!r) co_return DbProblem(r.error());
  json::array items;
  for (const auto& i : *r) items.push_back(ImportJson(i));
  json::value next = nullptr;
  if (static_cast<int>(r->size()) == limit) next = r->back().id;
  co_return Json(json::object{{"items", std::move(items)}, {"next", next}});
}

asio::awaitable<Response> Decide(UserRoutesContext& ctx, Request& request, bool approve) {
  const std::string& text = request.path_params.at("import_id");
  auto id = ParseId(text);
  if (!id) co_return BadRequest("import_id", "must be an import id (a positive integer)");
  if (!ctx.sync) {
    co_return Problem(409, "sync-disabled", "User sync is disabled", "sync.enabled is false");
  }
  // Not a conditional expression around co_await: g++ 12 miscompiles that.
  Result<sync::SyncManager::ImportDecided> r = boost::system::error_code(Errc::kCancelled);
  if (approve) {
    r = co_await ctx.sync->ApproveImport(*id, request.actor);
  } else {
    r = co_await ctx.sync->RejectImport(*id, request.actor);
  }
  if (!r) co_return DbProblem(r.error());
  request.audit_target = r->user_uuid;
  switch (r->outcome) {
    case store::DecisionOutcome::kNotFound:
      co_return NotFound("no held import " + std::to_string(*id));
    case store::DecisionOutcome::kAlreadyDecided:
      co_return Problem(409, "import-decided", "The import was already decided",
                        "import " + std::to_string(*id) + " is no longer pending");
    case store::DecisionOutcome::kStale:
      co_return Problem(409, "import-stale", "The user changed since the import was held",
                        "user '" + r->user_uuid +
                            "' changed at the gateway after this change was held; reject it, "
                            "or change the user through PUT /api/v1/users");
    case store::DecisionOutcome::kDone: break;
  }
  json::object o{{"id", *id},
                 {"status", approve ? "approved" : "rejected"},
                 {"user_uuid", r->user_uuid},
                 {"device_id", r->device_id}};
  if (approve) o["version"] = r->version;
  co_return Json(o);
}

asio::awaitable<Response> Approve(UserRoutesContext& ctx, Request& request) {
  co_return co_await Decide(ctx, request, true);
}

asio::awaitable<Response> Reject(UserRoutesContext& ctx, Request& request) {
  co_return co_await Decide(ctx, request, false);
}

}  // namespace

void AddImportRoutes(Router& router, UserRoutesContext& ctx) {
  auto bind = [&ctx](asio::awaitable<Response> (*fn)(UserRoutesContext&, Request&)) -> Handler {
    return [&ctx, fn](Request& request) { return fn(ctx, request); };
  };
  const RouteOptions decision{BodyKind::kNone, kJsonBodyLimit, AuditMode::kAlways};
  router.Add("GET", "/api/v1/sync/imports", Role::kAdmin, bind(ListImports));
  router.Add("POST", "/api/v1/sync/imports/{import_id}/approve", Role::kAdmin, bind(Approve),
             decision);
  router.Add("POST", "/api/v1/sync/imports/{import_id}/reject", Role::kAdmin, bind(Reject),
             decision);
}

}  // namespace gw::api
