// Reader operations of the façade: the reader API through one authenticated front door.
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <climits>
#include <memory>
#include <span>
#include <variant>

#include "api/gateway_routes.hpp"
#include "api/limiters.hpp"
#include "api/problem.hpp"
#include "common/identifier.hpp"
#include "common/time.hpp"
#include "config/config.hpp"
#include "ef45/client.hpp"
#include "ef45/encode.hpp"
#include "poll/worker_set.hpp"

namespace gw::api {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

/// Firmware goes up in units of this many raw bytes (~1 MB of base64 each, API.md).
constexpr std::size_t kFirmwareUnit = 768 * 1024;
constexpr std::int64_t kMaxLogRange = 1000;

/// A reader failure as a problem: the caller learns whether to retry, and never waits longer
/// than the reader's request deadline (plus the poll in flight ahead of it).
Response ReaderProblem(const std::string& id, const ef45::Error& error) {
  const std::string detail = "reader '" + id + "': " + error.detail;
  switch (error.reason()) {
    case Errc::kTimeout: return Problem(504, "reader-timeout", "Reader timeout", detail);
    case Errc::kRefused:
    case Errc::kClosed:
    case Errc::kCancelled: return Problem(503, "reader-unavailable", "Reader unavailable", detail);
    case Errc::kLockConflict:
    case Errc::kLockLost:
      return Problem(409, "reader-locked", "Reader locked by another client", detail);
    case Errc::kBadRequest: return BadRequest("", detail);
    case Errc::kHttpStatus:
      if (error.http_status == 404) return NotFound(detail);
      if (error.http_status >= 400 && error.http_status < 500) {
        // The reader understood and refused (e.g. 417: a setting value out of its range).
        return Problem(422, "reader-rejected", "The reader rejected the request",
                       detail + " (reader status " + std::to_string(error.http_status) + ")");
      }
      return Problem(502, "reader-error", "The reader refused the operation",
                     detail + " (reader status " + std::to_string(error.http_status) + ")");
    default: return Problem(502, "reader-bad-response", "Bad response from the reader", detail);
  }
}

/// Parses a JSON object body; `{}` when the body is empty. A Response when it is not an object.
std::variant<json::object, Response> ObjectBody(const Request& request) {
  if (request.body.empty()) return json::object{};
  boost::system::error_code ec;
  auto v = json::parse(request.body, ec);
  if (ec || !v.is_object()) return BadRequest("body", "must be a JSON object");
  return std::move(v.as_object());
}

/// Reads an optional boolean member; a Response names the field when it is not a boolean.
std::optional<Response> OptBool(const json::object& o, std::string_view key,
                                std::optional<bool>& out) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::nullopt;
  if (!it->value().is_bool()) return BadRequest(key, "must be true or false");
  out = it->value().as_bool();
  return std::nullopt;
}

std::optional<Response> OnlyKeys(const json::object& o,
                                 std::initializer_list<std::string_view> known) {
  for (const auto& kv : o) {
    if (std::find(known.begin(), known.end(), kv.key()) == known.end()) {
      return BadRequest(kv.key(), "unknown field");
    }
  }
  return std::nullopt;
}

using ReaderOp = std::function<asio::awaitable<Response>(ef45::Client&, const std::string& id)>;

asio::awaitable<Response> RunOnStrand(std::shared_ptr<poll::DeviceWorker> worker, ReaderOp op) {
  co_return co_await op(worker->client(), worker->id());
}

/// The reader routes' dependencies and the operations they have in flight per reader.
struct ReaderRoutes {
  ReaderRoutes(GatewayContext& c, int max_reader_ops) : ctx(c), limiter(max_reader_ops) {}
  GatewayContext& ctx;
  ReaderOpLimiter limiter;
};

/// Runs `op` on reader `id`'s strand. Unknown here: 307 to the owning instance (cluster) or 404.
asio::awaitable<Response> OnReader(ReaderRoutes& routes, Request& request, ReaderOp op) {
  GatewayContext& ctx = routes.ctx;
  const std::string& id = request.path_params.at("id");
  auto worker = ctx.workers.Find(id);
  if (!worker) {
    if (ctx.owner_url) {
      if (auto url = ctx.owner_url(id)) {
        // The URL comes from the database: redirect only to a URL of our own scheme.
        if (!config::ValidAdvertiseUrl(*url, ctx.tls)) {
          co_return Problem(502, "reader-owner-invalid",
                            "The instance polling this reader has an unusable advertise_url",
                            "reader '" + id +
                                "' is polled by another instance whose advertise_url "
                                "is not a valid " +
                                std::string(ctx.tls ? "https" : "http") + " URL");
        }
        auto r = Problem(307, "reader-elsewhere", "Reader served by another instance",
                         "reader '" + id + "' is polled by " + *url);
        r.headers.emplace_back("Location", *url + request.target);
        co_return r;
      }
    }
    co_return NotFound("no configured reader with id '" + id + "'");
  }
  // Bounded: a flood of API calls must not queue without end in front of one reader.
  auto slot = routes.limiter.TryAcquire(id);
  if (!slot) {
    auto busy =
        Problem(429, "reader-busy", "Too many operations for this reader",
                "reader '" + id + "' already has " + std::to_string(routes.limiter.limit()) +
                    " operations waiting; retry later");
    busy.headers.emplace_back("Retry-After", "1");
    co_return busy;
  }
  auto& w = *worker;
  auto task = RunOnStrand(std::move(worker), std::move(op));
  co_return co_await w.Run(std::move(task));
}

// ---- the operations (free coroutines; the lambdas in AddReaderRoutes only bind) ----

asio::awaitable<Response> Relay(ef45::Client& client, const std::string& id,
                                ef45::RelayOptions options) {
  auto r = co_await client.DriveRelay(options);
  if (!r) co_return ReaderProblem(id, r.error());
  json::object o{{"device_id", id}, {"relay", "driven"}};
  o["duration_s"] = options.duration_s ? json::value(*options.duration_s) : nullptr;
  o["forced"] = options.forced.value_or(false);
  co_return Json(o);
}

asio::awaitable<Response> ClearApb(ef45::Client& client, const std::string& id,
                                   std::optional<std::string> user) {
  // Not a conditional expression: g++ 12 destroys co_await temporaries in ?: twice.
  ef45::Reply<void> r;
  if (user) {
    r = co_await client.ClearApb(*user);
  } else {
    r = co_await client.ClearAllApb();
  }
  if (!r) co_return ReaderProblem(id, r.error());
  co_return Json(
      json::object{{"device_id", id}, {"cleared", user ? json::value(*user) : json::value("all")}});
}

asio::awaitable<Response> SyncTime(ef45::Client& client, const std::string& id) {
  const auto now = std::chrono::system_clock::now();
  auto r = co_await client.SetDeviceTime(ef45::FormatDeviceTime(now));
  if (!r) co_return ReaderProblem(id, r.error());
  if (!r->success) {
    co_return Problem(502, "reader-error", "The reader refused the operation",
                      "reader '" + id + "': setDeviceTime answered " + r->status);
  }
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch());
  co_return Json(json::object{{"device_id", id}, {"set_to", FormatIso8601(Micros(micros))}});
}

asio::awaitable<Response> GetSetting(ef45::Client& client, const std::string& id, std::string title,
                                     ef45::SettingType type) {
  auto r = co_await client.GetSetting(title, type);
  if (!r) co_return ReaderProblem(id, r.error());
  co_return Json(
      json::object{{"device_id", id},
                   {"title", r->title},
                   {"type", ef45::SettingTypeName(ef45::TypeOf(r->value))},
                   {"value", std::visit([](const auto& v) { return json::value(v); }, r->value)}});
}

asio::awaitable<Response> PutSetting(ef45::Client& client, const std::string& id, std::string title,
                                     ef45::SettingValue value) {
  auto r = co_await client.SetSetting(title, value);
  if (!r) co_return ReaderProblem(id, r.error());
  co_return Json(
      json::object{{"device_id", id},
                   {"title", title},
                   {"type", ef45::SettingTypeName(ef45::TypeOf(value))},
                   {"value", std::visit([](const auto& v) { return json::value(v); }, value)}});
}

asio::awaitable<Response> RawLogs(ef45::Client& client, const std::string& id, std::int64_t min,
                                  std::int64_t max, ef45::Biometrics biometrics) {
  auto r = co_await client.GetLogsRange(min, max);
  if (!r) co_return ReaderProblem(id, r.error());
  json::array items;
  for (const auto& e : r->items) items.push_back(ef45::ToJson(e, biometrics));
  co_return Json(json::object{{"device_id", id},
                              {"min", min},
                              {"max", max},
                              {"items", std::move(items)},
                              {"has_more", r->has_more}});
}

asio::awaitable<Response> CameraStart(ef45::Client& client, const std::string& id,
                                      ef45::CameraStartOptions options) {
  auto r = co_await client.StartCamera(options);
  if (!r) co_return ReaderProblem(id, r.error());
  co_return Json(ef45::ToJson(*r));
}

asio::awaitable<Response> CameraStop(ef45::Client& client, const std::string& id) {
  auto r = co_await client.StopCamera();
  if (!r) co_return ReaderProblem(id, r.error());
  co_return Json(ef45::ToJson(*r));
}

asio::awaitable<Response> Capture(ef45::Client& client, const std::string& id) {
  auto r = co_await client.GetBiometricDataVer2();
  if (!r) co_return ReaderProblem(id, r.error());
  json::array items;
  for (const auto& b : r->items) items.push_back(ef45::ToJson(b, ef45::Biometrics::kInclude));
  co_return Json(json::object{{"device_id", id}, {"items", std::move(items)}});
}

asio::awaitable<Response> Firmware(ef45::Client& client, const std::string& id, std::string image,
                                   bool forced) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(image.data());
  auto r = co_await client.UpdateStart(forced);
  if (!r) co_return ReaderProblem(id, r.error());
  std::size_t offset = 0;
  while (image.size() - offset > kFirmwareUnit) {
    auto unit = ef45::Base64Encode(std::span(bytes + offset, kFirmwareUnit));
    auto sent = co_await client.UpdateChunk(std::move(unit), forced);
    if (!sent) co_return ReaderProblem(id, sent.error());
    offset += kFirmwareUnit;
  }
  auto last = ef45::Base64Encode(std::span(bytes + offset, image.size() - offset));
  auto done = co_await client.UpdateDone(std::move(last), forced);
  if (!done) co_return ReaderProblem(id, done.error());
  if (!done->ok()) {
    co_return Problem(502, "reader-error", "The reader refused the firmware",
                      "reader '" + id + "': " + done->file);
  }
  co_return Json(json::object{
      {"device_id", id}, {"bytes", image.size()}, {"forced", forced}, {"result", done->file}});
}

// ---- request parsing → the operation ----

asio::awaitable<Response> PostRelay(ReaderRoutes& routes, Request& request) {
  auto body = ObjectBody(request);
  if (auto* bad = std::get_if<Response>(&body)) co_return *bad;
  const auto& o = std::get<json::object>(body);
  if (auto bad = OnlyKeys(o, {"duration_s", "forced"})) co_return *bad;
  ef45::RelayOptions options;
  if (auto it = o.find("duration_s"); it != o.end()) {
    if (!it->value().is_int64() || it->value().as_int64() < 1 || it->value().as_int64() > 600) {
      co_return BadRequest("duration_s", "must be an integer from 1 to 600 (seconds)");
    }
    options.duration_s = static_cast<std::int32_t>(it->value().as_int64());
  }
  if (auto bad = OptBool(o, "forced", options.forced)) co_return *bad;
  ReaderOp op = [options](ef45::Client& c, const std::string& id) { return Relay(c, id, options); };
  co_return co_await OnReader(routes, request, std::move(op));
}

asio::awaitable<Response> PostApbClear(ReaderRoutes& routes, Request& request) {
  auto body = ObjectBody(request);
  if (auto* bad = std::get_if<Response>(&body)) co_return *bad;
  const auto& o = std::get<json::object>(body);
  if (auto bad = OnlyKeys(o, {"user_uuid", "all"})) co_return *bad;
  std::optional<std::string> user;
  std::optional<bool> all;
  if (auto it = o.find("user_uuid"); it != o.end()) {
    if (!it->value().is_string() || !ValidIdentifier(it->value().as_string())) {
      co_return BadRequest("user_uuid", "must be " + std::string(kIdentifierRule));
    }
    user = std::string(it->value().as_string());
    request.audit_target = *user;
  }
  if (auto bad = OptBool(o, "all", all)) co_return *bad;
  if (user.has_value() == all.value_or(false)) {
    co_return BadRequest("user_uuid", "give either user_uuid or \"all\": true");
  }
  ReaderOp op = [user](ef45::Client& c, const std::string& id) { return ClearApb(c, id, user); };
  co_return co_await OnReader(routes, request, std::move(op));
}

asio::awaitable<Response> PostTime(ReaderRoutes& routes, Request& request) {
  if (!request.body.empty() && request.body != "{}") {
    co_return BadRequest("body", "takes no parameters: the reader is set to the gateway's clock");
  }
  ReaderOp op = SyncTime;
  co_return co_await OnReader(routes, request, std::move(op));
}

std::optional<ef45::SettingType> ParseSettingType(std::string_view text) {
  if (text == "bool") return ef45::SettingType::kBool;
  if (text == "int") return ef45::SettingType::kInt;
  if (text == "float") return ef45::SettingType::kFloat;
  if (text == "string") return ef45::SettingType::kString;
  return std::nullopt;
}

bool ValidTitle(const std::string& title) {
  return !title.empty() && title.size() <= 128 &&
         std::all_of(title.begin(), title.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
         });
}

asio::awaitable<Response> GetSettingRoute(ReaderRoutes& routes, Request& request) {
  const auto title = request.path_params.at("title");
  if (!ValidTitle(title)) co_return BadRequest("title", "1-128 characters of A-Z a-z 0-9 _ - .");
  auto type_text = request.Query("type");
  auto type = type_text ? ParseSettingType(*type_text) : std::nullopt;
  if (!type) co_return BadRequest("type", "required: bool, int, float or string");
  ReaderOp op = [title, t = *type](ef45::Client& c, const std::string& id) {
    return GetSetting(c, id, title, t);
  };
  co_return co_await OnReader(routes, request, std::move(op));
}

asio::awaitable<Response> PutSettingRoute(ReaderRoutes& routes, Request& request) {
  const auto title = request.path_params.at("title");
  if (!ValidTitle(title)) co_return BadRequest("title", "1-128 characters of A-Z a-z 0-9 _ - .");
  auto body = ObjectBody(request);
  if (auto* bad = std::get_if<Response>(&body)) co_return *bad;
  const auto& o = std::get<json::object>(body);
  if (auto bad = OnlyKeys(o, {"type", "value"})) co_return *bad;
  auto type_it = o.find("type");
  auto type = type_it != o.end() && type_it->value().is_string()
                  ? ParseSettingType(type_it->value().as_string())
                  : std::nullopt;
  if (!type) co_return BadRequest("type", "required: bool, int, float or string");
  auto value_it = o.find("value");
  if (value_it == o.end()) co_return BadRequest("value", "required");
  const json::value& v = value_it->value();
  ef45::SettingValue value;
  switch (*type) {
    case ef45::SettingType::kBool:
      if (!v.is_bool()) co_return BadRequest("value", "must be true or false (type bool)");
      value = v.as_bool();
      break;
    case ef45::SettingType::kInt:
      if (!v.is_int64() || v.as_int64() < INT32_MIN || v.as_int64() > INT32_MAX) {
        co_return BadRequest("value", "must be a 32-bit integer (type int)");
      }
      value = static_cast<std::int32_t>(v.as_int64());
      break;
    case ef45::SettingType::kFloat:
      if (!v.is_number()) co_return BadRequest("value", "must be a number (type float)");
      value = v.to_number<double>();
      break;
    case ef45::SettingType::kString:
      if (!v.is_string()) co_return BadRequest("value", "must be a string (type string)");
      value = std::string(v.as_string());
      break;
  }
  ReaderOp op = [title, value](ef45::Client& c, const std::string& id) {
    return PutSetting(c, id, title, value);
  };
  co_return co_await OnReader(routes, request, std::move(op));
}

asio::awaitable<Response> GetLogs(ReaderRoutes& routes, Request& request) {
  std::int64_t min = 0;
  std::int64_t max = 0;
  auto min_text = request.Query("min");
  auto max_text = request.Query("max");
  if (!min_text || !ParseInt64(*min_text, min) || min < 0) {
    co_return BadRequest("min", "required: a non-negative log id");
  }
  if (!max_text || !ParseInt64(*max_text, max) || max < min) {
    co_return BadRequest("max", "required: a log id not below min");
  }
  if (max - min >= kMaxLogRange) {
    co_return BadRequest("max", "at most " + std::to_string(kMaxLogRange) + " ids per request");
  }
  // Matched face images are biometric data: admins only.
  const auto biometrics =
      request.role == Role::kAdmin ? ef45::Biometrics::kInclude : ef45::Biometrics::kRedact;
  ReaderOp op = [min, max, biometrics](ef45::Client& c, const std::string& id) {
    return RawLogs(c, id, min, max, biometrics);
  };
  co_return co_await OnReader(routes, request, std::move(op));
}

asio::awaitable<Response> PostCameraStart(ReaderRoutes& routes, Request& request) {
  auto body = ObjectBody(request);
  if (auto* bad = std::get_if<Response>(&body)) co_return *bad;
  const auto& o = std::get<json::object>(body);
  if (auto bad = OnlyKeys(o, {"face_mode", "glasses_mode", "both_eye_mode", "either_eye_mode",
                              "streaming_mode", "recog_mode"})) {
    co_return *bad;
  }
  ef45::CameraStartOptions options;
  for (auto [key, field] : {std::pair{"face_mode", &options.face_mode},
                            std::pair{"glasses_mode", &options.glasses_mode},
                            std::pair{"both_eye_mode", &options.both_eye_mode},
                            std::pair{"either_eye_mode", &options.either_eye_mode},
                            std::pair{"streaming_mode", &options.streaming_mode},
                            std::pair{"recog_mode", &options.recog_mode}}) {
    if (auto bad = OptBool(o, key, *field)) co_return *bad;
  }
  if (!options.face_mode.value_or(false) && !options.glasses_mode.value_or(false) &&
      !options.both_eye_mode.value_or(false) && !options.either_eye_mode.value_or(false)) {
    co_return BadRequest("face_mode",
                         "set at least one of face_mode, glasses_mode, both_eye_mode, "
                         "either_eye_mode to true");
  }
  ReaderOp op = [options](ef45::Client& c, const std::string& id) {
    return CameraStart(c, id, options);
  };
  co_return co_await OnReader(routes, request, std::move(op));
}

asio::awaitable<Response> PostCameraStop(ReaderRoutes& routes, Request& request) {
  ReaderOp op = CameraStop;
  co_return co_await OnReader(routes, request, std::move(op));
}

asio::awaitable<Response> GetCapture(ReaderRoutes& routes, Request& request) {
  ReaderOp op = Capture;
  co_return co_await OnReader(routes, request, std::move(op));
}

asio::awaitable<Response> PostFirmware(ReaderRoutes& routes, Request& request) {
  if (request.body.empty()) co_return BadRequest("body", "the firmware image (octet-stream)");
  bool forced = false;
  if (auto f = request.Query("forced")) {
    if (*f != "true" && *f != "false") co_return BadRequest("forced", "must be true or false");
    forced = *f == "true";
  }
  // The image is moved into the operation: one copy in memory while it uploads.
  auto image = std::make_shared<std::string>(std::move(request.body));
  ReaderOp op = [image, forced](ef45::Client& c, const std::string& id) {
    return Firmware(c, id, std::move(*image), forced);
  };
  co_return co_await OnReader(routes, request, std::move(op));
}

}  // namespace

void AddReaderRoutes(Router& router, GatewayContext& ctx) {
  // The routes own their per-reader bound; an operation in flight keeps it alive.
  auto routes = std::make_shared<ReaderRoutes>(ctx, ctx.max_reader_ops);
  auto bind = [&routes](asio::awaitable<Response> (*fn)(ReaderRoutes&, Request&)) -> Handler {
    return [routes, fn](Request& request) { return fn(*routes, request); };
  };
  const std::string base = "/api/v1/devices/{id}";
  // Every operation that changes a reader is an audit event, committed before the answer.
  const RouteOptions change{BodyKind::kJson, kJsonBodyLimit, AuditMode::kAlways};
  // Reads that may serve biometric data (matched face images, captures) to an admin.
  const RouteOptions biometric_read{BodyKind::kNone, kJsonBodyLimit, AuditMode::kAdminRead};
  router.Add("POST", base + "/relay", Role::kOperate, bind(PostRelay), change);
  router.Add("POST", base + "/apb/clear", Role::kOperate, bind(PostApbClear), change);
  router.Add("POST", base + "/time", Role::kOperate, bind(PostTime), change);
  router.Add("GET", base + "/logs", Role::kOperate, bind(GetLogs), biometric_read);
  router.Add("POST", base + "/camera/start", Role::kOperate, bind(PostCameraStart), change);
  router.Add("POST", base + "/camera/stop", Role::kOperate, bind(PostCameraStop), change);
  router.Add("GET", base + "/settings/{title}", Role::kAdmin, bind(GetSettingRoute));
  router.Add("PUT", base + "/settings/{title}", Role::kAdmin, bind(PutSettingRoute), change);
  router.Add("GET", base + "/capture", Role::kAdmin, bind(GetCapture), biometric_read);
  router.Add("POST", base + "/firmware", Role::kAdmin, bind(PostFirmware),
             RouteOptions{BodyKind::kOctets, kFirmwareBodyLimit, AuditMode::kAlways});
}

}  // namespace gw::api
