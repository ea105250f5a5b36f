// libFuzzer: the API request path without the network. One input is
// "METHOD\nTARGET\nAUTHORIZATION\nCONTENT-TYPE\nBODY": the target is parsed as the server
// parses it (path, percent-decoding, query), the router admits or refuses it (match, token,
// role, Origin, Content-Type, identifiers) and the handler parses the JSON body as the user
// and reader routes do. Properties: no crash, a status from the HTTP range, a route label from
// the fixed set, a method label from the fixed set.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "api/router.hpp"
#include "sync/user_doc.hpp"

namespace {

using namespace gw::api;
namespace asio = boost::asio;

asio::awaitable<Response> ParseBody(Request& request) {
  Response r;
  if (request.path.rfind("/api/v1/users/", 0) == 0 && request.method == "PUT") {
    std::string problem;
    auto doc = gw::sync::ParseUserDoc(request.path_params.at("user_uuid"), request.body, &problem);
    if (doc) {
      (void)gw::sync::ToApiJson(*doc, request.role == Role::kAdmin);
      (void)gw::sync::Fingerprint(*doc, nullptr);
    } else {
      r.status = 400;
    }
  } else if (!request.body.empty()) {
    boost::system::error_code ec;
    auto v = boost::json::parse(request.body, ec);
    if (ec || !v.is_object()) r.status = 400;
  }
  for (const char* name : {"after", "limit", "device", "kind", "user", "since", "until"}) {
    (void)request.Query(name);
  }
  co_return r;
}

/// The façade's route table (templates, roles and body options as the daemon registers them).
const Router& TheRouter() {
  static const Router router = [] {
    Router r([](std::string_view authorization) {
      if (authorization == "Bearer read") return Caller(Role::kRead, "acs");
      if (authorization == "Bearer op") return Caller(Role::kOperate, "ops");
      if (authorization == "Bearer admin") return Caller(Role::kAdmin, "root");
      return Caller();
    });
    const RouteOptions change{BodyKind::kJson, kJsonBodyLimit, AuditMode::kAlways};
    const RouteOptions read{BodyKind::kNone, kJsonBodyLimit, AuditMode::kAdminRead};
    const std::string d = "/api/v1/devices/{id}";
    r.Add("GET", "/healthz", Role::kNone, ParseBody);
    r.Add("GET", "/metrics", Role::kNone, ParseBody);
    r.Add("GET", "/api/v1/devices", Role::kRead, ParseBody);
    r.Add("GET", d, Role::kRead, ParseBody);
    r.Add("GET", "/api/v1/events", Role::kRead, ParseBody);
    r.Add("GET", "/api/v1/events/stream", Role::kRead, ParseBody);
    for (const char* op : {"/relay", "/apb/clear", "/time", "/camera/start", "/camera/stop"}) {
      r.Add("POST", d + op, Role::kOperate, ParseBody, change);
    }
    r.Add("GET", d + "/logs", Role::kOperate, ParseBody, read);
    r.Add("GET", d + "/settings/{title}", Role::kAdmin, ParseBody);
    r.Add("PUT", d + "/settings/{title}", Role::kAdmin, ParseBody, change);
    r.Add("GET", d + "/capture", Role::kAdmin, ParseBody, read);
    r.Add("POST", d + "/firmware", Role::kAdmin, ParseBody,
          RouteOptions{BodyKind::kOctets, kFirmwareBodyLimit, AuditMode::kAlways});
    r.Add("GET", "/api/v1/users", Role::kRead, ParseBody, read);
    r.Add("GET", "/api/v1/users/by-card/{card}", Role::kAdmin, ParseBody, read);
    r.Add("GET", "/api/v1/users/{user_uuid}", Role::kRead, ParseBody, read);
    r.Add("PUT", "/api/v1/users/{user_uuid}", Role::kAdmin, ParseBody, change);
    r.Add("DELETE", "/api/v1/users/{user_uuid}", Role::kAdmin, ParseBody, change);
    r.Add("GET", "/api/v1/users/{user_uuid}/devices", Role::kRead, ParseBody);
    r.Add("GET", "/api/v1/sync/plan", Role::kAdmin, ParseBody);
    r.Add("GET", "/api/v1/sync/status", Role::kRead, ParseBody);
    r.SetAuditSink([](AuditRecord record) -> asio::awaitable<void> {
      if (record.status < 100 || record.status > 599) std::abort();
      co_return;
    });
    return r;
  }();
  return router;
}

std::string Next(std::string_view& in) {
  auto nl = in.find('\n');
  std::string out(in.substr(0, nl));
  in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Request request;
  request.method = Next(in);
  request.target = Next(in);
  request.authorization = Next(in);
  request.content_type = Next(in);
  request.body = std::string(in);
  request.remote_addr = "192.0.2.1";
  request.request_id = "fuzz-1";
  ParseTarget(request);
  const Router& router = TheRouter();
  static std::set<std::string> templates = [&] {
    std::set<std::string> t{"unmatched"};
    for (const auto& route : router.routes()) t.insert(route.path_template);
    return t;
  }();
  asio::io_context io;
  std::string route;
  int status = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto response = co_await router.Dispatch(request, route);
        status = response.status;
      },
      asio::detached);
  io.run();
  if (status < 100 || status > 599) std::abort();
  if (!templates.count(route)) std::abort();  // a metrics label outside the fixed set
  const auto label = MethodLabel(request.method);
  if (label != "other" && label != request.method) std::abort();
  return 0;
}
