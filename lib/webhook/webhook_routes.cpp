#include "webhook/webhook_routes.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <random>

#include "api/problem.hpp"
#include "common/identifier.hpp"
#include "common/time.hpp"
#include "store/queries.hpp"
#include "store/webhooks.hpp"
#include "webhook/dispatcher.hpp"
#include "webhook/signature.hpp"

namespace gw::webhook {

namespace asio = boost::asio;
namespace json = boost::json;
using api::BadRequest;
using api::Json;
using api::Request;
using api::Response;

namespace {

constexpr std::string_view kKindRule =
    "must be a list of event kinds: recognition, user_data, log, door, device, gap, audit";

json::value Time(const std::optional<store::TimePoint>& t) {
  if (!t) return nullptr;
  return json::string(FormatIso8601(std::chrono::time_point_cast<std::chrono::microseconds>(*t)));
}

json::array Strings(const std::vector<std::string>& items) {
  json::array a;
  for (const auto& s : items) a.emplace_back(s);
  return a;
}

/// A subscription as the API shows it: never a secret.
json::object WebhookJson(const store::WebhookRow& w, std::optional<std::int64_t> max_seq) {
  const bool rotating = w.previous_secret && w.previous_secret_expires_at &&
                        *w.previous_secret_expires_at > std::chrono::system_clock::now();
  return json::object{
      {"id", w.id},
      {"url", w.url},
      {"kinds", Strings(w.kinds)},
      {"devices", Strings(w.devices)},
      {"description", w.description},
      {"batch_max", w.batch_max},
      {"state", w.state},
      {"cursor", w.cursor_seq},
      {"lag", max_seq ? json::value(std::max<std::int64_t>(0, *max_seq - w.cursor_seq)) : nullptr},
      {"last_error", w.last_error ? json::value(*w.last_error) : nullptr},
      {"last_success_at", Time(w.last_success_at)},
      {"next_attempt_at", Time(w.next_attempt_at)},
      {"failing_since", Time(w.failing_since)},
      {"previous_secret_expires_at", rotating ? Time(w.previous_secret_expires_at) : nullptr},
      {"owner", w.owner ? json::value(*w.owner) : nullptr},
      {"created_at", Time(w.created_at)},
      {"updated_at", Time(w.updated_at)}};
}

std::optional<Response> ParseObject(const Request& request, json::object& out) {
  boost::system::error_code ec;
  auto v = json::parse(request.body, ec);
  if (ec || !v.is_object()) return BadRequest("body", "must be a JSON object");
  out = std::move(v.as_object());
  return std::nullopt;
}

std::optional<Response> Unknown(const json::object& o, std::initializer_list<std::string_view> ok) {
  for (const auto& [key, value] : o) {
    if (std::find(ok.begin(), ok.end(), std::string_view(key)) == ok.end()) {
      return BadRequest(key, "unknown field");
    }
  }
  return std::nullopt;
}

std::optional<Response> ReadUrl(WebhookRoutesContext& ctx, const json::value& v, std::string& out) {
  if (!v.is_string() || v.as_string().empty() || v.as_string().size() > 2048) {
    return BadRequest("url", "must be an http(s) URL of at most 2048 characters");
  }
  std::string why;
  auto url = ParseUrl(v.as_string(), why);
  if (!url) return BadRequest("url", why);
  if (auto refusal = ctx.allow.Refusal(*url)) {
    return api::Problem(422, "webhook-target-not-allowed", "Target not allowed", *refusal, "url");
  }
  out = std::string(v.as_string());
  return std::nullopt;
}

std::optional<Response> ReadList(const json::value& v, std::string_view field, bool kinds,
                                 std::vector<std::string>& out) {
  const std::string rule = kinds ? std::string(kKindRule)
                                 : "must be a list of reader ids: " + std::string(kIdentifierRule);
  if (!v.is_array() || v.as_array().size() > 1000) return BadRequest(field, rule);
  out.clear();
  for (const auto& item : v.as_array()) {
    if (!item.is_string()) return BadRequest(field, rule);
    std::string s(item.as_string());
    if (kinds ? !store::ParseKind(s) : !ValidIdentifier(s)) return BadRequest(field, rule);
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  }
  return std::nullopt;
}

std::optional<Response> ReadInt(const json::value& v, std::string_view field, std::int64_t lo,
                                std::int64_t hi, std::int64_t& out) {
  const std::string rule =
      "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  if (v.is_int64()) {
    out = v.as_int64();
  } else if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(hi)) {
    out = static_cast<std::int64_t>(v.as_uint64());
  } else {
    return BadRequest(field, rule);
  }
  if (out < lo || out > hi) return BadRequest(field, rule);
  return std::nullopt;
}

std::optional<Response> ReadDescription(const json::value& v, std::string& out) {
  if (!v.is_string() || v.as_string().size() > 500) {
    return BadRequest("description", "must be a string of at most 500 characters");
  }
  out = std::string(v.as_string());
  return std::nullopt;
}

std::string NewId() {
  static thread_local std::mt19937_64 random(std::random_device{}());
  constexpr char kHex[] = "0123456789abcdef";
  std::string id = "wh_";
  auto bits = random();
  for (int i = 0; i < 16; ++i, bits >>= 4) id += kHex[bits & 15];
  return id;
}

/// The webhook id of the path (the router checks only `id` and `user_uuid` itself).
std::optional<Response> PathId(Request& request, std::string& id) {
  id = request.path_params.at("webhook_id");
  if (!ValidIdentifier(id)) return BadRequest("webhook_id", std::string(kIdentifierRule));
  request.audit_target = id;
  return std::nullopt;
}

void Poke(WebhookRoutesContext& ctx) {
  if (ctx.dispatcher) ctx.dispatcher->Poke();
}

asio::awaitable<std::optional<std::int64_t>> NewestSeq(store::Database& db) {
  auto max = co_await store::MaxSeq(db);
  co_return max ? std::optional<std::int64_t>(*max) : std::nullopt;
}

Response NoSuch(const std::string& id) { return api::NotFound("no webhook with id '" + id + "'"); }

asio::awaitable<Response> Create(WebhookRoutesContext& ctx, Request& request) {
  json::object body;
  if (auto bad = ParseObject(request, body)) co_return *bad;
  if (auto bad =
          Unknown(body, {"id", "url", "kinds", "devices", "description", "batch_max", "after"})) {
    co_return *bad;
  }
  store::WebhookSpec spec;
  spec.id = NewId();
  if (auto* v = body.if_contains("id")) {
    if (!v->is_string() || !ValidIdentifier(v->as_string())) {
      co_return BadRequest("id", std::string(kIdentifierRule));
    }
    spec.id = std::string(v->as_string());
  }
  if (!body.contains("url")) co_return BadRequest("url", "required");
  if (auto bad = ReadUrl(ctx, body.at("url"), spec.url)) co_return *bad;
  if (auto* v = body.if_contains("kinds")) {
    if (auto bad = ReadList(*v, "kinds", true, spec.kinds)) co_return *bad;
  }
  if (auto* v = body.if_contains("devices")) {
    if (auto bad = ReadList(*v, "devices", false, spec.devices)) co_return *bad;
  }
  if (auto* v = body.if_contains("description")) {
    if (auto bad = ReadDescription(*v, spec.description)) co_return *bad;
  }
  if (auto* v = body.if_contains("batch_max")) {
    std::int64_t n = 0;
    if (auto bad = ReadInt(*v, "batch_max", 1, 100, n)) co_return *bad;
    spec.batch_max = static_cast<int>(n);
  }
  if (auto* v = body.if_contains("after")) {
    std::int64_t n = 0;
    if (auto bad = ReadInt(*v, "after", 0, INT64_MAX, n)) co_return *bad;
    spec.after = n;
  }
  auto existing = co_await store::GetWebhook(ctx.db, spec.id);
  if (!existing) co_return api::DbProblem(existing.error());
  if (*existing) {
    co_return api::Problem(409, "webhook-exists", "Webhook exists",
                           "a webhook with id '" + spec.id + "' exists", "id");
  }
  spec.secret = NewSecret();
  request.audit_target = spec.id;
  const std::string secret = spec.secret;
  auto row = co_await store::CreateWebhook(ctx.db, std::move(spec));
  if (!row) co_return api::DbProblem(row.error());
  Poke(ctx);
  auto o = WebhookJson(*row, co_await NewestSeq(ctx.db));
  o["secret"] = secret;
  auto response = Json(o, 201);
  response.headers.emplace_back("Location", "/api/v1/webhooks/" + row->id);
  co_return response;
}

asio::awaitable<Response> List(WebhookRoutesContext& ctx, Request&) {
  auto rows = co_await store::ListWebhooks(ctx.db);
  if (!rows) co_return api::DbProblem(rows.error());
  auto max = co_await NewestSeq(ctx.db);
  json::array items;
  for (const auto& w : *rows) items.push_back(WebhookJson(w, max));
  co_return Json(json::object{{"items", std::move(items)}});
}

asio::awaitable<Response> Get(WebhookRoutesContext& ctx, Request& request) {
  std::string id;
  if (auto bad = PathId(request, id)) co_return *bad;
  auto row = co_await store::GetWebhook(ctx.db, id);
  if (!row) co_return api::DbProblem(row.error());
  if (!*row) co_return NoSuch(id);
  co_return Json(WebhookJson(**row, co_await NewestSeq(ctx.db)));
}

asio::awaitable<Response> Patch(WebhookRoutesContext& ctx, Request& request) {
  std::string id;
  if (auto bad = PathId(request, id)) co_return *bad;
  json::object body;
  if (auto bad = ParseObject(request, body)) co_return *bad;
  if (auto bad = Unknown(body, {"url", "kinds", "devices", "description", "batch_max", "state"})) {
    co_return *bad;
  }
  store::WebhookPatch patch;
  if (auto* v = body.if_contains("url")) {
    patch.url.emplace();
    if (auto bad = ReadUrl(ctx, *v, *patch.url)) co_return *bad;
  }
  if (auto* v = body.if_contains("kinds")) {
    patch.kinds.emplace();
    if (auto bad = ReadList(*v, "kinds", true, *patch.kinds)) co_return *bad;
  }
  if (auto* v = body.if_contains("devices")) {
    patch.devices.emplace();
    if (auto bad = ReadList(*v, "devices", false, *patch.devices)) co_return *bad;
  }
  if (auto* v = body.if_contains("description")) {
    patch.description.emplace();
    if (auto bad = ReadDescription(*v, *patch.description)) co_return *bad;
  }
  if (auto* v = body.if_contains("batch_max")) {
    std::int64_t n = 0;
    if (auto bad = ReadInt(*v, "batch_max", 1, 100, n)) co_return *bad;
    patch.batch_max = static_cast<int>(n);
  }
  if (auto* v = body.if_contains("state")) {
    if (!v->is_string() || (v->as_string() != "active" && v->as_string() != "paused")) {
      co_return BadRequest("state", "must be \"active\" (resume) or \"paused\"");
    }
    patch.state = std::string(v->as_string());
  }
  auto row = co_await store::UpdateWebhook(ctx.db, id, std::move(patch));
  if (!row) co_return api::DbProblem(row.error());
  if (!*row) co_return NoSuch(id);
  Poke(ctx);
  co_return Json(WebhookJson(**row, co_await NewestSeq(ctx.db)));
}

asio::awaitable<Response> Delete(WebhookRoutesContext& ctx, Request& request) {
  std::string id;
  if (auto bad = PathId(request, id)) co_return *bad;
  auto deleted = co_await store::DeleteWebhook(ctx.db, id);
  if (!deleted) co_return api::DbProblem(deleted.error());
  if (!*deleted) co_return NoSuch(id);
  Poke(ctx);
  Response r;
  r.status = 204;
  co_return r;
}

asio::awaitable<Response> Replay(WebhookRoutesContext& ctx, Request& request) {
  std::string id;
  if (auto bad = PathId(request, id)) co_return *bad;
  json::object body;
  if (auto bad = ParseObject(request, body)) co_return *bad;
  if (auto bad = Unknown(body, {"after"})) co_return *bad;
  if (!body.contains("after")) co_return BadRequest("after", "required (an event seq)");
  std::int64_t after = 0;
  if (auto bad = ReadInt(body.at("after"), "after", 0, INT64_MAX, after)) co_return *bad;
  auto row = co_await store::ReplayWebhook(ctx.db, id, after);
  if (!row) co_return api::DbProblem(row.error());
  if (!*row) co_return NoSuch(id);
  Poke(ctx);
  co_return Json(WebhookJson(**row, co_await NewestSeq(ctx.db)));
}

asio::awaitable<Response> Rotate(WebhookRoutesContext& ctx, Request& request) {
  std::string id;
  if (auto bad = PathId(request, id)) co_return *bad;
  std::string secret = NewSecret();
  auto row = co_await store::RotateWebhookSecret(ctx.db, id, secret, ctx.rotation_overlap);
  if (!row) co_return api::DbProblem(row.error());
  if (!*row) co_return NoSuch(id);
  Poke(ctx);
  auto o = WebhookJson(**row, co_await NewestSeq(ctx.db));
  o["secret"] = secret;
  co_return Json(o);
}

}  // namespace

void AddWebhookRoutes(api::Router& router, WebhookRoutesContext& ctx) {
  auto bind = [&ctx](asio::awaitable<Response> (*fn)(WebhookRoutesContext&, Request&)) {
    return api::Handler([&ctx, fn](Request& request) { return fn(ctx, request); });
  };
  const api::RouteOptions change{api::BodyKind::kJson, api::kJsonBodyLimit,
                                 api::AuditMode::kAlways};
  const api::RouteOptions action{api::BodyKind::kNone, api::kJsonBodyLimit,
                                 api::AuditMode::kAlways};
  const api::RouteOptions read{api::BodyKind::kNone, api::kJsonBodyLimit, api::AuditMode::kNever};
  const auto admin = api::Role::kAdmin;
  router.Add("POST", "/api/v1/webhooks", admin, bind(Create), change);
  router.Add("GET", "/api/v1/webhooks", admin, bind(List), read);
  router.Add("GET", "/api/v1/webhooks/{webhook_id}", admin, bind(Get), read);
  router.Add("PATCH", "/api/v1/webhooks/{webhook_id}", admin, bind(Patch), change);
  router.Add("DELETE", "/api/v1/webhooks/{webhook_id}", admin, bind(Delete), action);
  router.Add("POST", "/api/v1/webhooks/{webhook_id}/replay", admin, bind(Replay), change);
  router.Add("POST", "/api/v1/webhooks/{webhook_id}/rotate-secret", admin, bind(Rotate), action);
}

}  // namespace gw::webhook
