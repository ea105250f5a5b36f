#include "control.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fleet.hpp"

namespace ef45sim {
namespace {

namespace json = boost::json;

constexpr std::int64_t kMaxLatencyMs = 10 * 60 * 1000;
constexpr std::int64_t kMaxClockSkewS = 10LL * 365 * 24 * 3600;
constexpr std::int64_t kMaxGenerate = 1'000'000;
constexpr std::int64_t kDefaultPage = 1000;
constexpr std::int64_t kMaxPage = 10000;

Response Json(int status, const json::value& value) {
  return Response{status, "", "application/json", json::serialize(value)};
}

Response Problem(int status, std::string_view title, std::string_view detail) {
  json::object problem;
  problem["type"] = "about:blank";
  problem["title"] = title;
  problem["status"] = status;
  problem["detail"] = detail;
  return Response{status, "", "application/problem+json", json::serialize(problem)};
}

Response BadRequest(std::string_view detail) { return Problem(400, "Bad Request", detail); }
Response NotFound(std::string_view detail) { return Problem(404, "Not Found", detail); }
Response MethodNotAllowed(std::string_view method) {
  return Problem(405, "Method Not Allowed", std::string(method) + " is not allowed here");
}

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    auto slash = path.find('/');
    auto segment = path.substr(0, slash);
    if (!segment.empty()) out.push_back(segment);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

std::optional<std::int64_t> ParseInt(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

/// Value of `name` in a query string (`a=1&b=2`), or nullopt when absent.
std::optional<std::string_view> QueryValue(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<std::int64_t> AsInt(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v.get_uint64());
  }
  if (v.is_double() && std::nearbyint(v.get_double()) == v.get_double() &&
      std::abs(v.get_double()) < 9e15) {
    return static_cast<std::int64_t>(v.get_double());
  }
  return std::nullopt;
}

std::optional<double> AsNumber(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  return std::nullopt;
}

/// Parses a request body that must be a JSON object; an empty body counts as `{}`.
std::optional<json::object> ParseObject(const std::string& body, std::string& error) {
  if (body.empty()) return json::object();
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec) {
    error = "body is not valid JSON: " + ec.message();
    return std::nullopt;
  }
  if (!value.is_object()) {
    error = "body must be a JSON object";
    return std::nullopt;
  }
  return std::move(value.as_object());
}

std::string MacText(const std::array<std::uint8_t, 6>& mac) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < mac.size(); ++i) {
    if (i) out += ':';
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 0xF];
  }
  return out;
}

json::object FaultsJson(const StandingFaults& f, std::int64_t clock_skew_s) {
  json::object o;
  o["latency_ms"] = f.latency.count();
  o["error_rate"] = f.error_rate;
  o["hang"] = f.hang;
  o["close_mid_response"] = f.close_mid_response;
  o["malformed_json"] = f.malformed_json;
  o["down"] = f.down;
  o["clock_skew_s"] = clock_skew_s;
  return o;
}

json::object ReaderJson(ControlTarget& target, int index) {
  Reader& reader = target.ReaderAt(index);
  const Identity& id = reader.identity();
  Stats s = reader.GetStats();
  const FaultCounters& c = target.CountersOf(index);
  json::object o;
  o["index"] = index;
  o["address"] = target.AddressOf(index);
  o["port"] = target.PortOf(index);
  o["serial_number"] = id.serial_number;
  o["mac"] = MacText(id.mac);
  o["last_log_id"] = s.last_log_id;
  o["log_count"] = s.log_count;
  o["recognitions_generated"] = s.recognitions_generated;
  o["phantom_newest_pending"] = s.phantom_newest_pending;
  o["door_changes_generated"] = s.door_changes_generated;
  o["user_data_logs_generated"] = s.user_data_logs_generated;
  o["match_pending"] = s.match_pending;
  o["match_overflowed"] = s.match_overflowed;
  o["match_deleted"] = s.match_deleted;
  o["users"] = s.users;
  o["app_version"] = s.app_version;  // issue 20: GET /version
  o["installs"] = s.installs;
  o["locked"] = s.locked;
  o["requests"] = s.requests;
  o["clock_skew_s"] = s.clock_skew_s;
  o["connections"] = target.ConnectionsOf(index);
  o["faults"] = FaultsJson(target.FaultsOf(index), s.clock_skew_s);
  json::object injected;
  injected["delayed"] = c.delayed;
  injected["errors"] = c.errors;
  injected["hung"] = c.hung;
  injected["closed_mid_response"] = c.closed_mid_response;
  injected["malformed_json"] = c.malformed_json;
  injected["reboots"] = c.reboots;
  o["injected"] = std::move(injected);
  return o;
}

/// A validated POST .../faults body. Standing keys that are absent keep their current value;
/// `{}` clears every standing fault (and the clock skew).
struct FaultRequest {
  bool clear_all = false;
  std::optional<std::chrono::milliseconds> latency;
  std::optional<double> error_rate;
  std::optional<bool> hang;
  std::optional<bool> down;
  std::optional<double> close_mid_response;
  std::optional<double> malformed_json;
  std::optional<std::int64_t> clock_skew_s;
  bool reboot = false;
  bool steal_lock = false;
  bool wipe_logs = false;
  bool firmware_fail = false;  // issue 20: the next firmware image is refused
  std::optional<LogDefect> poison_log;
  std::optional<std::int64_t> skip_log_ids;
  std::optional<std::int64_t> phantom_newest_log_id;
};

std::optional<FaultRequest> ParseFaults(const json::object& body, std::string& error) {
  FaultRequest r;
  r.clear_all = body.empty();
  auto rate = [&](const json::value& v, std::string_view key) -> std::optional<double> {
    auto n = AsNumber(v);
    if (!n || !(*n >= 0.0 && *n <= 1.0)) {
      error = std::string(key) + " must be a number in [0, 1]";
      return std::nullopt;
    }
    return n;
  };
  auto flag = [&](const json::value& v, std::string_view key) -> std::optional<bool> {
    if (!v.is_bool()) {
      error = std::string(key) + " must be true or false";
      return std::nullopt;
    }
    return v.get_bool();
  };
  for (const auto& [key, value] : body) {
    if (key == "latency_ms") {
      auto ms = AsInt(value);
      if (!ms || *ms < 0 || *ms > kMaxLatencyMs) {
        error = "latency_ms must be an integer in [0, 600000]";
        return std::nullopt;
      }
      r.latency = std::chrono::milliseconds(*ms);
    } else if (key == "error_rate") {
      if (!(r.error_rate = rate(value, key))) return std::nullopt;
    } else if (key == "close_mid_response") {
      if (!(r.close_mid_response = rate(value, key))) return std::nullopt;
    } else if (key == "malformed_json") {
      if (!(r.malformed_json = rate(value, key))) return std::nullopt;
    } else if (key == "hang") {
      if (!(r.hang = flag(value, key))) return std::nullopt;
    } else if (key == "down") {
      if (!(r.down = flag(value, key))) return std::nullopt;
    } else if (key == "clock_skew_s") {
      auto s = AsInt(value);
      if (!s || *s < -kMaxClockSkewS || *s > kMaxClockSkewS) {
        error = "clock_skew_s must be an integer number of seconds (|skew| <= 10 years)";
        return std::nullopt;
      }
      r.clock_skew_s = *s;
    } else if (key == "firmware_fail") {
      auto b = flag(value, key);
      if (!b) return std::nullopt;
      r.firmware_fail = *b;
    } else if (key == "reboot" || key == "steal_lock" || key == "wipe_logs") {
      auto b = flag(value, key);
      if (!b) return std::nullopt;
      (key == "reboot" ? r.reboot : key == "steal_lock" ? r.steal_lock : r.wipe_logs) = *b;
    } else if (key == "poison_log") {
      auto defect = value.is_string() ? ParseLogDefect(value.get_string()) : std::nullopt;
      if (!defect) {
        error = R"(poison_log must be "nul", "year0" or "huge")";
        return std::nullopt;
      }
      r.poison_log = *defect;
    } else if (key == "skip_log_ids" || key == "phantom_newest_log_id") {
      auto n = AsInt(value);
      if (!n || *n < 1) {
        error = std::string(key) + " must be a positive integer";
        return std::nullopt;
      }
      (key == "skip_log_ids" ? r.skip_log_ids : r.phantom_newest_log_id) = *n;
    } else {
      error = "unknown fault \"" + std::string(key) +
              "\" (known: latency_ms, error_rate, hang, down, close_mid_response, malformed_json, "
              "reboot, steal_lock, wipe_logs, clock_skew_s, poison_log, skip_log_ids, "
              "phantom_newest_log_id, firmware_fail)";
      return std::nullopt;
    }
  }
  return r;
}

/// Returns an error text when the reader's listener could not be re-opened.
std::string ApplyFaults(ControlTarget& target, int index, const FaultRequest& r) {
  StandingFaults f = r.clear_all ? StandingFaults{} : target.FaultsOf(index);
  if (r.latency) f.latency = *r.latency;
  if (r.error_rate) f.error_rate = *r.error_rate;
  if (r.hang) f.hang = *r.hang;
  if (r.close_mid_response) f.close_mid_response = *r.close_mid_response;
  if (r.malformed_json) f.malformed_json = *r.malformed_json;
  if (r.down) f.down = *r.down;
  std::string error = target.SetFaults(index, f);
  Reader& reader = target.ReaderAt(index);
  if (r.clear_all) reader.SetClockSkew(std::chrono::seconds(0));
  if (r.clock_skew_s) reader.SetClockSkew(std::chrono::seconds(*r.clock_skew_s));
  if (r.wipe_logs) reader.WipeLogs();
  if (r.poison_log) reader.PoisonNextLog(*r.poison_log);
  if (r.skip_log_ids) reader.SkipLogIds(*r.skip_log_ids);
  if (r.phantom_newest_log_id) reader.ReportPhantomNewest(*r.phantom_newest_log_id);
  if (r.steal_lock) reader.StealLock();
  if (r.firmware_fail) reader.FailNextInstall();
  if (r.reboot) target.RebootReader(index);
  return error;
}

json::object GeneratedJson(const GeneratedEvent& e, std::size_t seq) {
  json::object o;
  o["seq"] = seq;
  o["log_id"] = e.log_id;
  o["log_epoch"] = e.log_epoch;
  o["event_type"] = e.event_type;
  o["info"] = e.info;
  o["additional_data"] = e.additional_data;
  o["user_uuid"] = e.user_uuid;
  o["timestamp"] = e.timestamp;
  o["encounter_id"] = e.encounter_id;
  if (e.defect != LogDefect::kNone) o["poison"] = LogDefectName(e.defect);
  if (e.match_dropped) o["match_dropped"] = true;
  return o;
}

Response Generated(ControlTarget& target, int index, std::string_view query) {
  std::int64_t after = 0;
  std::int64_t limit = kDefaultPage;
  if (auto v = QueryValue(query, "after")) {
    auto n = ParseInt(*v);
    if (!n || *n < 0) return BadRequest("after must be a non-negative integer");
    after = *n;
  }
  if (auto v = QueryValue(query, "limit")) {
    auto n = ParseInt(*v);
    if (!n || *n < 1 || *n > kMaxPage) return BadRequest("limit must be an integer in [1, 10000]");
    limit = *n;
  }
  const auto& ledger = target.ReaderAt(index).Generated();
  auto begin = std::min<std::size_t>(static_cast<std::size_t>(after), ledger.size());
  auto end = std::min<std::size_t>(begin + static_cast<std::size_t>(limit), ledger.size());
  json::array items;
  items.reserve(end - begin);
  for (auto i = begin; i < end; ++i) items.push_back(GeneratedJson(ledger[i], i));
  json::object o;
  o["index"] = index;
  o["total"] = ledger.size();
  o["after"] = begin;
  o["next"] = end;
  o["has_more"] = end < ledger.size();
  o["items"] = std::move(items);
  return Json(200, o);
}

Response Generate(ControlTarget& target, int index, const json::object& body) {
  std::int64_t counts[2] = {0, 0};
  const char* keys[2] = {"recognitions", "door_changes"};
  for (const auto& [key, value] : body) {
    int slot = key == keys[0] ? 0 : key == keys[1] ? 1 : -1;
    if (slot < 0) {
      return BadRequest("unknown key \"" + std::string(key) +
                        "\" (known: recognitions, door_changes)");
    }
    auto n = AsInt(value);
    if (!n || *n < 0 || *n > kMaxGenerate) {
      return BadRequest(std::string(keys[slot]) + " must be an integer in [0, 1000000]");
    }
    counts[slot] = *n;
  }
  Reader& reader = target.ReaderAt(index);
  for (std::int64_t i = 0; i < counts[0]; ++i) reader.GenerateRecognition();
  for (std::int64_t i = 0; i < counts[1]; ++i) reader.GenerateDoorChange();
  return Json(200, ReaderJson(target, index));
}

/// Routes /sim/readers/{i|all}/...; `segments` starts after "readers".
Response ReaderRoute(ControlTarget& target, const Request& request,
                     const std::vector<std::string_view>& segments, std::string_view query) {
  const std::string& method = request.method;
  if (segments.empty()) {
    if (method != "GET") return MethodNotAllowed(method);
    json::array all;
    all.reserve(static_cast<std::size_t>(target.ReaderCount()));
    for (int i = 0; i < target.ReaderCount(); ++i) all.push_back(ReaderJson(target, i));
    return Json(200, all);
  }
  const bool all = segments[0] == "all";
  int index = -1;
  if (!all) {
    auto n = ParseInt(segments[0]);
    if (!n || *n < 0 || *n >= target.ReaderCount()) {
      return NotFound("no reader with index \"" + std::string(segments[0]) + "\" (fleet has " +
                      std::to_string(target.ReaderCount()) + " readers)");
    }
    index = static_cast<int>(*n);
  }
  const std::string_view action = segments.size() > 1 ? segments[1] : std::string_view();
  if (segments.size() > 2) return NotFound("unknown control route");
  if (all && action != "faults") return NotFound("\"all\" only supports POST .../faults");

  if (action.empty()) {
    if (method != "GET") return MethodNotAllowed(method);
    return Json(200, ReaderJson(target, index));
  }
  if (action == "generated") {
    if (method != "GET") return MethodNotAllowed(method);
    return Generated(target, index, query);
  }
  if (action == "users") {
    // Users held by the reader, read without the reader API (tests compare contents).
    if (method == "GET") {
      auto users = target.ReaderAt(index).UsersJson();
      std::string body = "{\"index\":" + std::to_string(index) + ",\"items\":" + users + "}";
      return Response{200, {}, "application/json", std::move(body)};
    }
    if (method != "POST") return MethodNotAllowed(method);
    std::string error;
    auto body = ParseObject(request.body, error);
    if (!body) return BadRequest(error);
    // ?log=true: a change made at the reader (logged, replacing); otherwise a silent add.
    bool logged = query.find("log=true") != std::string_view::npos;
    auto failed = logged ? target.ReaderAt(index).ChangeUserAtReader(request.body)
                         : target.ReaderAt(index).AddUserWithoutLog(request.body);
    if (failed == "exists") return Problem(409, "Conflict", "the reader already has this user");
    if (!failed.empty()) return BadRequest(failed);
    json::object o;
    o["user_uuid"] = (*body)["user_uuid"];
    return Json(201, o);
  }
  if (action == "settings") {
    // A setting as the reader's own UI shows and changes it (a technician at the reader).
    Reader& reader = target.ReaderAt(index);
    if (method == "GET") {
      auto title = QueryValue(query, "title");
      if (!title) return BadRequest("title is required (?title=launcher....)");
      auto found = reader.SettingJson(*title);
      if (found.empty()) return NotFound("unknown setting");
      return Response{200, {}, "application/json", std::move(found)};
    }
    if (method != "POST") return MethodNotAllowed(method);
    auto failed = reader.ChangeSettingAtReader(request.body);
    if (failed == "unknown setting") return NotFound(failed);
    if (!failed.empty()) return BadRequest(failed);
    auto title = ParseObject(request.body, failed);
    auto changed = reader.SettingJson(std::string((*title)["title"].as_string()));
    return Response{200, {}, "application/json", std::move(changed)};
  }
  if (action != "faults" && action != "enroll" && action != "generate") {
    return NotFound("unknown control route");
  }
  if (method != "POST") return MethodNotAllowed(method);
  std::string error;
  auto body = ParseObject(request.body, error);
  if (!body) return BadRequest(error);
  if (action == "faults") {
    auto faults = ParseFaults(*body, error);
    if (!faults) return BadRequest(error);
    if (!all) {
      if (auto failed = ApplyFaults(target, index, *faults); !failed.empty()) {
        return Problem(500, "Internal Server Error", failed);
      }
      return Json(200, ReaderJson(target, index));
    }
    std::string failed;
    for (int i = 0; i < target.ReaderCount(); ++i) {
      if (auto e = ApplyFaults(target, i, *faults); !e.empty() && failed.empty()) failed = e;
    }
    if (!failed.empty()) return Problem(500, "Internal Server Error", failed);
    json::object o;
    o["readers"] = target.ReaderCount();
    return Json(200, o);
  }
  if (action == "enroll") {
    if (!body->empty()) return BadRequest("enroll takes no parameters");
    json::object o;
    o["user_uuid"] = target.ReaderAt(index).Enroll();
    return Json(200, o);
  }
  return Generate(target, index, *body);
}

}  // namespace

Response HandleControl(ControlTarget& target, const Request& request) {
  std::string_view target_text = request.target;
  std::string_view query;
  if (auto q = target_text.find('?'); q != std::string_view::npos) {
    query = target_text.substr(q + 1);
    target_text = target_text.substr(0, q);
  }
  auto segments = Split(target_text);
  if (segments.empty() || segments[0] != "sim") return NotFound("unknown control route");
  if (segments.size() == 1) {
    if (request.method != "GET") return MethodNotAllowed(request.method);
    json::object o;
    o["readers"] = target.ReaderCount();
    o["generation_paused"] = target.GenerationPaused();
    return Json(200, o);
  }
  if (segments[1] == "readers") {
    return ReaderRoute(target, request, {segments.begin() + 2, segments.end()}, query);
  }
  if (segments[1] == "generation" && segments.size() == 3 &&
      (segments[2] == "pause" || segments[2] == "resume")) {
    if (request.method != "POST") return MethodNotAllowed(request.method);
    target.SetGenerationPaused(segments[2] == "pause");
    json::object o;
    o["generation_paused"] = target.GenerationPaused();
    return Json(200, o);
  }
  if (segments[1] == "shutdown" && segments.size() == 2) {
    if (request.method != "POST") return MethodNotAllowed(request.method);
    target.RequestShutdown();
    json::object o;
    o["stopping"] = true;
    return Json(200, o);
  }
  return NotFound("unknown control route");
}

std::string EndpointsJson(const FleetEndpoints& endpoints) {
  json::object o;
  o["control_port"] = endpoints.control_port;
  json::array readers;
  for (std::size_t i = 0; i < endpoints.reader_ports.size(); ++i) {
    json::object r;
    r["index"] = i;
    if (i < endpoints.reader_addresses.size()) r["address"] = endpoints.reader_addresses[i];
    r["port"] = endpoints.reader_ports[i];
    readers.push_back(std::move(r));
  }
  o["readers"] = std::move(readers);
  return json::serialize(o);
}

}  // namespace ef45sim
