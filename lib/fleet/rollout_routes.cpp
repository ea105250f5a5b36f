#include "fleet/rollout_routes.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <memory>

#include "api/auth.hpp"
#include "api/problem.hpp"
#include "common/identifier.hpp"
#include "common/run_blocking.hpp"
#include "common/time.hpp"
#include "fleet/rollout.hpp"
#include "store/database.hpp"
#include "store/rollouts.hpp"

namespace gw::fleet {

namespace asio = boost::asio;
namespace json = boost::json;
using api::BadRequest;
using api::Json;
using api::Problem;
using api::Request;
using api::Response;

namespace {

constexpr int kListLimit = 100;

json::value Time(const std::optional<store::TimePoint>& t) {
  if (!t) return nullptr;
  return json::string(FormatIso8601(*t));
}

json::value OptString(const std::optional<std::string>& s) {
  return s ? json::value(*s) : json::value(nullptr);
}

json::object ImageJson(const store::FirmwareImageInfo& i) {
  return json::object{{"image", i.sha256},
                      {"version", i.version},
                      {"size_bytes", i.size_bytes},
                      {"uploaded_by", i.uploaded_by},
                      {"created_at", Time(i.created_at)}};
}

json::object RolloutJson(const store::RolloutRow& r) {
  json::array groups;
  for (const auto& g : r.groups) groups.emplace_back(g);
  json::object counts;
  for (const char* s : {"pending", "installing", "verifying", "done", "failed"}) counts[s] = 0;
  for (const auto& [step, n] : r.step_counts) counts[step] = n;
  return json::object{{"id", r.id},
                      {"image", r.image},
                      {"version", r.version},
                      {"groups", std::move(groups)},
                      {"canary", r.canary},
                      {"batch", r.batch},
                      {"health_window_s", r.health_window_s},
                      {"max_failures", r.max_failures},
                      {"state", r.state},
                      {"wave", r.wave},
                      {"reason", OptString(r.reason)},
                      {"created_by", r.created_by},
                      {"created_at", Time(r.created_at)},
                      {"updated_at", Time(r.updated_at)},
                      {"finished_at", Time(r.finished_at)},
                      {"readers_by_step", std::move(counts)}};
}

json::object ReaderJson(const store::RolloutReaderRow& r) {
  return json::object{{"device_id", r.device_id},
                      {"position", r.position},
                      {"wave", r.wave},
                      {"step", r.step},
                      {"error", OptString(r.error)},
                      {"reported_version", OptString(r.reported_version)},
                      {"node", OptString(r.node)},
                      {"deadline", Time(r.deadline)},
                      {"updated_at", Time(r.updated_at)}};
}

/// Reads a required (or optional, with `fallback`) integer member in [min, max].
std::optional<Response> IntMember(const json::object& o, std::string_view key, int min, int max,
                                  std::optional<int> fallback, int& out) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) {
    if (!fallback) return BadRequest(key, "required");
    out = *fallback;
    return std::nullopt;
  }
  if (!it->value().is_int64() || it->value().as_int64() < min || it->value().as_int64() > max) {
    return BadRequest(
        key, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  out = static_cast<int>(it->value().as_int64());
  return std::nullopt;
}

std::optional<std::int64_t> RolloutId(const Request& request) {
  std::int64_t id = 0;
  if (!api::ParseInt64(request.path_params.at("rollout_id"), id) || id < 1) return std::nullopt;
  return id;
}

asio::awaitable<Response> PostFirmware(RolloutRoutesContext& ctx, Request& request) {
  auto version = request.Query("version");
  if (!version || !ValidVersionLabel(*version)) {
    co_return BadRequest("version",
                         "required query parameter: 1-64 characters of A-Z a-z 0-9 . _ + -");
  }
  if (request.body.empty()) co_return BadRequest("body", "the firmware image (octet-stream)");
  auto sha = api::Sha256Hex(request.body);
  request.audit_target = "image:" + sha;
  auto data = std::make_shared<std::string>(std::move(request.body));
  auto put = [&db = ctx.db, sha, v = *version, data, actor = request.actor] {
    return store::PutFirmwareImageBlocking(db, sha, v, *data, actor);
  };
  auto stored = co_await RunBlocking(ctx.db.BlockingPool(), std::move(put));
  if (!stored) {
    if (stored.error() == Errc::kConflict) {
      co_return Problem(409, "firmware-version-conflict", "Image stored under another version",
                        "these bytes (sha256 " + sha + ") are stored under another version label");
    }
    co_return api::DbProblem(stored.error());
  }
  co_return Json(ImageJson(*stored), stored->created ? 201 : 200);
}

asio::awaitable<Response> ListFirmware(RolloutRoutesContext& ctx, Request&) {
  auto list = [&db = ctx.db] { return store::ListFirmwareImagesBlocking(db); };
  auto images = co_await RunBlocking(ctx.db.BlockingPool(), std::move(list));
  if (!images) co_return api::DbProblem(images.error());
  json::array items;
  for (const auto& i : *images) items.push_back(ImageJson(i));
  co_return Json(json::object{{"items", std::move(items)}});
}

asio::awaitable<Response> PostRollout(RolloutRoutesContext& ctx, Request& request) {
  boost::system::error_code ec;
  auto v = json::parse(request.body, ec);
  if (ec || !v.is_object()) co_return BadRequest("body", "must be a JSON object");
  const auto& o = v.as_object();
  for (const auto& kv : o) {
    static constexpr std::string_view kKnown[] = {"image", "groups",          "canary",
                                                  "batch", "health_window_s", "max_failures"};
    if (std::find(std::begin(kKnown), std::end(kKnown), kv.key()) == std::end(kKnown)) {
      co_return BadRequest(kv.key(), "unknown field");
    }
  }
  store::RolloutSpec spec;
  auto image = o.find("image");
  if (image == o.end() || !image->value().is_string() || image->value().as_string().size() != 64) {
    co_return BadRequest("image", "required: the sha256 POST /api/v1/fleet/firmware answered");
  }
  spec.image = std::string(image->value().as_string());
  if (auto it = o.find("groups"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_array()) co_return BadRequest("groups", "must be a list of group names");
    for (const auto& g : it->value().as_array()) {
      if (!g.is_string() || !ValidIdentifier(g.as_string())) {
        co_return BadRequest("groups", "must be a list of group names");
      }
      spec.groups.emplace_back(g.as_string());
    }
  }
  if (auto bad = IntMember(o, "canary", 0, 10000, 1, spec.canary)) co_return *bad;
  if (auto bad = IntMember(o, "batch", 1, 10000, std::nullopt, spec.batch)) co_return *bad;
  if (auto bad = IntMember(o, "health_window_s", 1, 86400, 300, spec.health_window_s)) {
    co_return *bad;
  }
  if (auto bad = IntMember(o, "max_failures", 0, 100000, 0, spec.max_failures)) co_return *bad;
  std::vector<std::string> devices;
  for (const auto& r : ctx.readers()) {
    const bool member =
        spec.groups.empty() || std::any_of(r.groups.begin(), r.groups.end(), [&](const auto& g) {
          return std::find(spec.groups.begin(), spec.groups.end(), g) != spec.groups.end();
        });
    if (member) devices.push_back(r.id);
  }
  if (devices.empty()) {
    co_return Problem(422, "rollout-no-readers", "No reader in the rollout",
                      "no configured reader belongs to the given groups", "groups");
  }
  auto waves = AssignWaves(devices.size(), spec.canary, spec.batch);
  for (std::size_t i = 0; i < devices.size(); ++i) spec.readers.emplace_back(devices[i], waves[i]);
  spec.created_by = request.actor;
  auto create = [&db = ctx.db, spec] { return store::CreateRolloutBlocking(db, spec); };
  auto created = co_await RunBlocking(ctx.db.BlockingPool(), std::move(create));
  if (!created) {
    if (created.error() == Errc::kNotFound) {
      co_return Problem(422, "firmware-image-unknown", "Unknown firmware image",
                        "no stored image has sha256 " + spec.image, "image");
    }
    co_return api::DbProblem(created.error());
  }
  request.audit_target = "rollout:" + std::to_string(created->id);
  co_return Json(RolloutJson(*created), 201);
}

asio::awaitable<Response> ListRollouts(RolloutRoutesContext& ctx, Request&) {
  auto list = [&db = ctx.db] { return store::ListRolloutsBlocking(db, kListLimit); };
  auto rollouts = co_await RunBlocking(ctx.db.BlockingPool(), std::move(list));
  if (!rollouts) co_return api::DbProblem(rollouts.error());
  json::array items;
  for (const auto& r : *rollouts) items.push_back(RolloutJson(r));
  co_return Json(json::object{{"items", std::move(items)}});
}

asio::awaitable<Response> GetRollout(RolloutRoutesContext& ctx, Request& request) {
  auto id = RolloutId(request);
  if (!id) co_return BadRequest("rollout_id", "must be a positive integer");
  auto get = [&db = ctx.db, id = *id] { return store::GetRolloutBlocking(db, id); };
  auto found = co_await RunBlocking(ctx.db.BlockingPool(), std::move(get));
  if (!found) co_return api::DbProblem(found.error());
  if (!*found) co_return api::NotFound("no rollout " + std::to_string(*id));
  auto o = RolloutJson((*found)->first);
  json::array readers;
  for (const auto& r : (*found)->second) {
    auto reader = ReaderJson(r);
    std::optional<std::string> polled;
    if (ctx.polled_version) polled = ctx.polled_version(r.device_id);
    reader["polled_version"] = OptString(polled);
    readers.push_back(std::move(reader));
  }
  o["readers"] = std::move(readers);
  co_return Json(o);
}

asio::awaitable<Response> Act(RolloutRoutesContext& ctx, Request& request, std::string action) {
  auto id = RolloutId(request);
  if (!id) co_return BadRequest("rollout_id", "must be a positive integer");
  request.audit_target = "rollout:" + std::to_string(*id);
  auto change = [&db = ctx.db, id = *id, action] {
    return store::ChangeRolloutStateBlocking(db, id, action);
  };
  auto changed = co_await RunBlocking(ctx.db.BlockingPool(), std::move(change));
  if (!changed) {
    if (changed.error() == Errc::kConflict) {
      co_return Problem(409, "rollout-state", "Not possible in the rollout's state",
                        "cannot " + action + " rollout " + std::to_string(*id) + " in its state");
    }
    co_return api::DbProblem(changed.error());
  }
  if (!*changed) co_return api::NotFound("no rollout " + std::to_string(*id));
  co_return Json(RolloutJson(**changed));
}

}  // namespace

void AddRolloutRoutes(api::Router& router, RolloutRoutesContext& ctx) {
  using api::AuditMode;
  using api::BodyKind;
  using api::Role;
  using api::RouteOptions;
  auto* c = &ctx;
  const RouteOptions change{BodyKind::kJson, api::kJsonBodyLimit, AuditMode::kAlways};
  const RouteOptions action{BodyKind::kNone, api::kJsonBodyLimit, AuditMode::kAlways};
  router.Add(
      "POST", "/api/v1/fleet/firmware", Role::kAdmin,
      [c](Request& r) { return PostFirmware(*c, r); },
      RouteOptions{BodyKind::kOctets, static_cast<std::size_t>(ctx.max_image_bytes),
                   AuditMode::kAlways});
  router.Add("GET", "/api/v1/fleet/firmware", Role::kRead,
             [c](Request& r) { return ListFirmware(*c, r); });
  router.Add(
      "POST", "/api/v1/fleet/rollouts", Role::kAdmin,
      [c](Request& r) { return PostRollout(*c, r); }, change);
  router.Add("GET", "/api/v1/fleet/rollouts", Role::kRead,
             [c](Request& r) { return ListRollouts(*c, r); });
  router.Add("GET", "/api/v1/fleet/rollouts/{rollout_id}", Role::kRead,
             [c](Request& r) { return GetRollout(*c, r); });
  for (const char* a : {"pause", "resume", "abort"}) {
    router.Add(
        "POST", std::string("/api/v1/fleet/rollouts/{rollout_id}/") + a, Role::kAdmin,
        [c, a](Request& r) { return Act(*c, r, a); }, action);
  }
}

}  // namespace gw::fleet
