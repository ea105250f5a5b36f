#include "api/user_routes.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <map>
#include <set>

#include "api/problem.hpp"
#include "common/identifier.hpp"
#include "common/time.hpp"
#include "poll/worker_set.hpp"
#include "store/database.hpp"
#include "store/users.hpp"
#include "sync/plan.hpp"
#include "sync/sync_manager.hpp"
#include "sync/user_doc.hpp"

namespace gw::api {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::string Iso(std::chrono::system_clock::time_point t) {
  return FormatIso8601(std::chrono::time_point_cast<std::chrono::microseconds>(t));
}

/// A stored user for the caller: biometrics only for admins. A record that no longer parses or
/// opens (never expected) is served without its parts rather than failing the listing.
json::object UserJson(const store::StoredUser& u, bool admin) {
  std::string problem;
  auto doc = sync::ParseUserDoc(u.user_uuid, u.record, &problem);
  json::object o = doc && u.record_error.empty() ? sync::ToApiJson(*doc, admin)
                                                 : json::object{{"user_uuid", u.user_uuid}};
  o["version"] = u.version;
  o["deleted"] = u.deleted;
  o["source"] = u.source;
  o["updated_at"] = FormatIso8601(u.updated_at);
  return o;
}

asio::awaitable<Response> PutUser(UserRoutesContext& ctx, Request& request) {
  const std::string& uuid = request.path_params.at("user_uuid");
  std::string problem;
  auto doc = sync::ParseUserDoc(uuid, request.body, &problem);
  if (!doc) {
    auto colon = problem.find(": ");
    co_return BadRequest(problem.substr(0, colon),
                         colon == std::string::npos ? problem : problem.substr(colon + 2));
  }
  auto r = co_await store::PutUser(ctx.db, sync::ToUserWrite(*doc, "api", ctx.db.Keys()));
  if (!r) co_return DbProblem(r.error());
  if (r->changed && ctx.sync) ctx.sync->NotifyUsersChanged();
  co_return Json(json::object{{"user_uuid", uuid},
                              {"version", r->version},
                              {"created", r->created},
                              {"changed", r->changed}},
                 r->created ? 201 : 200);
}

asio::awaitable<Response> DeleteUser(UserRoutesContext& ctx, Request& request) {
  const std::string& uuid = request.path_params.at("user_uuid");
  auto r = co_await store::DeleteUser(ctx.db, uuid);
  if (!r) co_return DbProblem(r.error());
  if (!*r) co_return NotFound("no user '" + uuid + "'");
  if (ctx.sync) ctx.sync->NotifyUsersChanged();
  co_return Json(json::object{{"user_uuid", uuid}, {"version", (*r)->version}, {"deleted", true}});
}

asio::awaitable<Response> GetUser(UserRoutesContext& ctx, Request& request) {
  const std::string& uuid = request.path_params.at("user_uuid");
  auto r = co_await store::GetUser(ctx.db, uuid);
  if (!r) co_return DbProblem(r.error());
  if (!*r || (*r)->deleted) co_return NotFound("no user '" + uuid + "'");
  co_return Json(UserJson(**r, request.role == Role::kAdmin));
}

asio::awaitable<Response> ListUsers(UserRoutesContext& ctx, Request& request) {
  std::string after = request.Query("after").value_or("");
  if (!after.empty() && !ValidIdentifier(after)) {
    co_return BadRequest("after", "must be a user_uuid, " + std::string(kIdentifierRule));
  }
  int limit = 100;
  if (auto l = request.Query("limit")) {
    auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), limit);
    if (ec != std::errc() || p != l->data() + l->size() || limit < 1 || limit > 1000) {
      co_return BadRequest("limit", "must be an integer from 1 to 1000");
    }
  }
  auto r = co_await store::ListUsersPage(ctx.db, after, limit);
  if (!r) co_return DbProblem(r.error());
  json::array items;
  bool admin = request.role == Role::kAdmin;
  for (const auto& u : *r) items.push_back(UserJson(u, admin));
  json::value next = nullptr;
  if (static_cast<int>(r->size()) == limit) next = json::string(r->back().user_uuid);
  co_return Json(json::object{{"items", std::move(items)}, {"next", next}});
}

asio::awaitable<Response> UsersByCard(UserRoutesContext& ctx, Request& request) {
  auto r = co_await store::UsersByCard(ctx.db, request.path_params.at("card"));
  if (!r) co_return DbProblem(r.error());
  json::array items;
  bool admin = request.role == Role::kAdmin;
  for (const auto& u : *r) items.push_back(UserJson(u, admin));
  co_return Json(json::object{{"items", std::move(items)}});
}

asio::awaitable<Response> UserDevices(UserRoutesContext& ctx, Request& request) {
  const std::string& uuid = request.path_params.at("user_uuid");
  auto user = co_await store::GetUser(ctx.db, uuid);
  if (!user) co_return DbProblem(user.error());
  if (!*user) co_return NotFound("no user '" + uuid + "'");
  auto states = co_await store::UserStates(ctx.db, uuid);
  if (!states) co_return DbProblem(states.error());
  const auto& u = **user;
  std::map<std::string, const store::DeviceUserState*> by_device;
  for (const auto& s : *states) by_device[s.device_id] = &s;
  std::map<std::string, poll::ReaderSnapshot> readers;
  for (auto& s : ctx.workers.Snapshots()) readers.emplace(s.id, std::move(s));
  std::set<std::string> ids;
  for (const auto& [id, s] : by_device) ids.insert(id);
  for (const auto& [id, r] : readers) ids.insert(id);

  json::array items;
  for (const auto& id : ids) {
    auto rs = readers.find(id);
    auto st = by_device.find(id);
    const store::DeviceUserState* s = st == by_device.end() ? nullptr : st->second;
    bool in_scope = true;
    if (rs != readers.end()) {
      auto worker = ctx.workers.Find(id);
      sync::ReaderView view{
          sync::ReaderGroups(id, worker ? worker->reader().groups : std::vector<std::string>{}),
          {}};
      in_scope = sync::InScope(u.groups, view);
    }
    if (!in_scope && !s) continue;
    json::object o;
    o["device_id"] = id;
    auto status = store::SyncStatus::kPending;
    if (s && s->status == store::SyncStatus::kFailed) {
      status = store::SyncStatus::kFailed;
    } else if (s && s->status == store::SyncStatus::kApplied && s->applied_version == u.version) {
      status = store::SyncStatus::kApplied;
    }
    o["status"] = store::SyncStatusName(status);
    o["wanted"] = !u.deleted && in_scope;
    o["version"] = u.version;
    o["applied_version"] = s && s->applied_version ? json::value(*s->applied_version) : nullptr;
    o["last_error"] = s && s->last_error ? json::value(*s->last_error) : nullptr;
    o["note"] = s && s->note ? json::value(*s->note) : nullptr;
    o["attempts"] = s ? s->attempts : 0;
    o["updated_at"] = s ? json::value(FormatIso8601(s->updated_at)) : nullptr;
    if (rs != readers.end()) {
      o["reader_state"] = poll::ReaderStateName(rs->second.state);
      o["reader_reason"] =
          rs->second.reason.empty() ? json::value(nullptr) : json::value(rs->second.reason);
    } else {
      o["reader_state"] = nullptr;  // not polled by this instance
      o["reader_reason"] = nullptr;
    }
    items.push_back(std::move(o));
  }
  co_return Json(json::object{{"user_uuid", uuid},
                              {"version", u.version},
                              {"deleted", u.deleted},
                              {"items", std::move(items)}});
}

asio::awaitable<Response> SyncPlan(UserRoutesContext& ctx, Request& request) {
  auto device = request.Query("device");
  if (!device || !ValidIdentifier(*device)) {
    co_return BadRequest("device", "required: a reader id, " + std::string(kIdentifierRule));
  }
  if (!ctx.sync) {
    co_return Problem(409, "sync-disabled", "User sync is disabled", "sync.enabled is false");
  }
  // A dry run reads the reader's whole user database: one at a time per reader (each paced
  // at sync.max_ops_per_second), so it cannot starve that reader's polls.
  struct Running {
    UserRoutesContext& ctx;
    std::string device;
    bool taken = false;
    ~Running() {
      if (!taken) return;
      std::lock_guard lock(ctx.plans_mutex);
      ctx.plans_running.erase(device);
    }
  } running{ctx, *device};
  {
    std::lock_guard lock(ctx.plans_mutex);
    running.taken = ctx.plans_running.insert(*device).second;
  }
  if (!running.taken) {
    auto busy = Problem(429, "plan-running", "A sync plan is already running for this reader",
                        "reader '" + *device + "' is being read for another plan; retry later");
    busy.headers.emplace_back("Retry-After", "5");
    co_return busy;
  }
  auto r = co_await ctx.sync->DryRun(*device);
  if (!r) {
    if (r.error() == Errc::kNotFound) {
      co_return NotFound("reader '" + *device + "' is not polled by this instance");
    }
    co_return DbProblem(r.error());
  }
  if (!r->error.empty()) {
    co_return Problem(502, "reader-error", "The reader could not be read",
                      "reader '" + *device + "': " + r->error);
  }
  json::array ops;
  json::object counts;
  for (auto kind :
       {sync::OpKind::kAdd, sync::OpKind::kUpdate, sync::OpKind::kDelete,
        sync::OpKind::kDeleteUnknown, sync::OpKind::kReportUnknown, sync::OpKind::kAdopt}) {
    counts[sync::OpName(kind)] = r->plan.Count(kind);
  }
  for (const auto& op : r->plan.ops) {
    if (ops.size() >= 1000) break;
    ops.push_back(json::object{{"op", sync::OpName(op.kind)},
                               {"user_uuid", op.user_uuid},
                               {"version", op.version},
                               {"templates_withheld", op.strip_templates},
                               {"reason", op.reason}});
  }
  counts["in_sync"] = r->plan.in_sync;
  counts["templates_withheld"] = r->plan.templates_skipped;
  counts["waiting_import"] = r->plan.waiting_import;
  counts["held_for_review"] = r->plan.held_for_review;
  co_return Json(json::object{
      {"device_id", r->device_id},
      {"policy", ctx.sync->options().policy == sync::Policy::kMirror ? "mirror" : "additive"},
      {"reader_users", r->reader_users},
      {"record_version", r->record_version ? json::value(*r->record_version) : nullptr},
      {"counts", std::move(counts)},
      {"ops", std::move(ops)},
      {"truncated", r->plan.ops.size() > 1000}});
}

asio::awaitable<Response> SyncStatus(UserRoutesContext& ctx, Request&) {
  json::array items;
  if (ctx.sync) {
    for (const auto& s : ctx.sync->Status()) {
      json::array unknown;
      for (const auto& u : s.unknown_users) unknown.push_back(json::string(u));
      items.push_back(json::object{
          {"device_id", s.device_id},
          {"last_round", s.last_round ? json::value(Iso(*s.last_round)) : nullptr},
          {"last_full_round", s.last_full_round ? json::value(Iso(*s.last_full_round)) : nullptr},
          {"last_error", s.last_error.empty() ? json::value(nullptr) : json::value(s.last_error)},
          {"unknown_count", s.unknown_count},
          {"unknown_users", std::move(unknown)},
          {"record_version", s.record_version ? json::value(*s.record_version) : nullptr}});
    }
  }
  co_return Json(json::object{
      {"enabled", ctx.sync != nullptr},
      {"policy",
       ctx.sync && ctx.sync->options().policy == sync::Policy::kMirror ? "mirror" : "additive"},
      {"import", ctx.sync ? json::value(sync::ImportPolicyName(ctx.sync->options().import_policy))
                          : json::value(nullptr)},
      {"items", std::move(items)}});
}

}  // namespace

void AddUserRoutes(Router& router, UserRoutesContext& ctx) {
  // The lambdas only bind the context; the coroutines are plain functions (STYLE: async).
  auto bind = [&ctx](asio::awaitable<Response> (*fn)(UserRoutesContext&, Request&)) -> Handler {
    return [&ctx, fn](Request& request) { return fn(ctx, request); };
  };
  // Credentials and biometric data served to an admin are audited reads.
  const RouteOptions user_read{BodyKind::kNone, kJsonBodyLimit, AuditMode::kAdminRead};
  router.Add("GET", "/api/v1/users", Role::kRead, bind(ListUsers), user_read);
  // Looking a card number up is testing a credential: admins only.
  router.Add("GET", "/api/v1/users/by-card/{card}", Role::kAdmin, bind(UsersByCard), user_read);
  router.Add("GET", "/api/v1/users/{user_uuid}", Role::kRead, bind(GetUser), user_read);
  // A user document carries templates and face features: larger than other JSON bodies.
  router.Add("PUT", "/api/v1/users/{user_uuid}", Role::kAdmin, bind(PutUser),
             RouteOptions{BodyKind::kJson, kUserBodyLimit, AuditMode::kAlways});
  router.Add("DELETE", "/api/v1/users/{user_uuid}", Role::kAdmin, bind(DeleteUser),
             RouteOptions{BodyKind::kNone, kJsonBodyLimit, AuditMode::kAlways});
  router.Add("GET", "/api/v1/users/{user_uuid}/devices", Role::kRead, bind(UserDevices));
  router.Add("GET", "/api/v1/sync/plan", Role::kAdmin, bind(SyncPlan));
  router.Add("GET", "/api/v1/sync/status", Role::kRead, bind(SyncStatus));
  AddImportRoutes(router, ctx);
}

}  // namespace gw::api
