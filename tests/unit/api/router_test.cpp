#include "api/router.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>

#include "api/audit.hpp"

namespace gw::api {
namespace {

namespace asio = boost::asio;

asio::awaitable<Response> Echo(Request& request) {
  Response r;
  r.body = request.path_params.count("id") ? request.path_params.at("id") : "none";
  co_return r;
}

Role TokenRole(std::string_view authorization) {
  if (authorization == "Bearer reader") return Role::kRead;
  if (authorization == "Bearer admin") return Role::kAdmin;
  return Role::kNone;
}

struct Dispatched {
  Response response;
  std::string route;
};

Dispatched DispatchOn(const Router& router, std::string method, std::string path,
                      std::string authorization = "Bearer reader", std::string body = {},
                      std::string content_type = {}, std::string origin = {}) {
  asio::io_context io;
  Request request;
  request.method = std::move(method);
  request.path = std::move(path);
  request.authorization = std::move(authorization);
  request.body = std::move(body);
  request.content_type = std::move(content_type);
  request.origin = std::move(origin);
  request.remote_addr = "192.0.2.7";
  request.request_id = "req-1";
  Dispatched out;
  auto f = asio::co_spawn(io, router.Dispatch(request, out.route), asio::use_future);
  io.run();
  out.response = f.get();
  return out;
}

Router MakeRouter() {
  Router router(TokenRole);
  router.Add("GET", "/api/v1/devices", Role::kRead, Echo);
  router.Add("GET", "/api/v1/devices/{id}", Role::kRead, Echo);
  router.Add("PUT", "/api/v1/devices/{id}/settings/{title}", Role::kAdmin, Echo);
  router.Add("GET", "/healthz", Role::kNone, Echo);
  return router;
}

TEST(Router, MatchesTemplatesAndExtractsParameters) {
  auto router = MakeRouter();
  auto d = DispatchOn(router, "GET", "/api/v1/devices/lobby-1");
  EXPECT_EQ(d.response.status, 200);
  EXPECT_EQ(d.response.body, "lobby-1");
  EXPECT_EQ(d.route, "/api/v1/devices/{id}");
  EXPECT_EQ(DispatchOn(router, "GET", "/api/v1/devices").response.body, "none");
}

TEST(Router, UnknownPathIs404ProblemWithUnmatchedRoute) {
  auto router = MakeRouter();
  auto d = DispatchOn(router, "GET", "/api/v1/devices/a/b");
  EXPECT_EQ(d.response.status, 404);
  EXPECT_EQ(d.response.content_type, "application/problem+json");
  EXPECT_EQ(d.route, "unmatched");
  EXPECT_EQ(DispatchOn(router, "GET", "/api/v1/devices/").response.status, 404);  // empty segment
}

TEST(Router, WrongMethodIs405WithAllow) {
  auto router = MakeRouter();
  auto d = DispatchOn(router, "DELETE", "/api/v1/devices/x");
  EXPECT_EQ(d.response.status, 405);
  ASSERT_EQ(d.response.headers.size(), 1u);
  EXPECT_EQ(d.response.headers[0].second, "GET");
}

TEST(Router, EnforcesTokensAndRoles) {
  auto router = MakeRouter();
  EXPECT_EQ(DispatchOn(router, "GET", "/api/v1/devices", "").response.status, 401);
  EXPECT_EQ(DispatchOn(router, "GET", "/api/v1/devices", "Bearer wrong").response.status, 401);
  EXPECT_EQ(DispatchOn(router, "PUT", "/api/v1/devices/x/settings/t").response.status, 403);
  EXPECT_EQ(
      DispatchOn(router, "PUT", "/api/v1/devices/x/settings/t", "Bearer admin").response.status,
      200);
  EXPECT_EQ(DispatchOn(router, "GET", "/healthz", "").response.status, 200);  // open route
}

TEST(Router, JsonRoutesRefuseOtherContentTypesWith415) {
  auto router = MakeRouter();
  const std::string put = "/api/v1/devices/x/settings/t";
  EXPECT_EQ(DispatchOn(router, "PUT", put, "Bearer admin", "{}", "text/plain").response.status,
            415);
  EXPECT_EQ(DispatchOn(router, "PUT", put, "Bearer admin", "{}", "").response.status, 415);
  EXPECT_EQ(DispatchOn(router, "PUT", put, "Bearer admin", "", "application/x-www-form-urlencoded")
                .response.status,
            415);
  EXPECT_EQ(DispatchOn(router, "PUT", put, "Bearer admin", "{}", "application/json; charset=utf-8")
                .response.status,
            200);
  EXPECT_EQ(
      DispatchOn(router, "PUT", put, "Bearer admin", "{}", "Application/JSON").response.status,
      200);
  // GET routes take no body: a Content-Type there changes nothing.
  EXPECT_EQ(DispatchOn(router, "GET", "/api/v1/devices", "Bearer reader", "", "text/plain")
                .response.status,
            200);
}

TEST(Router, BrowserWritesWithAnOriginAreRefused) {
  auto router = MakeRouter();
  EXPECT_EQ(DispatchOn(router, "PUT", "/api/v1/devices/x/settings/t", "Bearer admin", "{}",
                       "application/json", "http://evil.example")
                .response.status,
            403);
  EXPECT_EQ(DispatchOn(router, "GET", "/api/v1/devices", "Bearer reader", "", "",
                       "http://dashboard.example")
                .response.status,
            200);
}

TEST(Router, PathIdentifiersMustBeValid) {
  auto router = MakeRouter();
  for (const char* bad : {"/api/v1/devices/..", "/api/v1/devices/.", "/api/v1/devices/a%20b",
                          "/api/v1/devices/a b"}) {
    auto d = DispatchOn(router, "GET", bad);
    EXPECT_EQ(d.response.status, 400) << bad;
    EXPECT_NE(d.response.body.find("\"field\":\"id\""), std::string::npos) << bad;
  }
  EXPECT_EQ(DispatchOn(router, "GET", "/api/v1/devices/" + std::string(65, 'a')).response.status,
            400);
}

TEST(Router, MethodLabelsComeFromAFixedSet) {
  EXPECT_EQ(MethodLabel("GET"), "GET");
  EXPECT_EQ(MethodLabel("DELETE"), "DELETE");
  EXPECT_EQ(MethodLabel("XKCDQWERTYUI"), "other");
  EXPECT_EQ(MethodLabel("get"), "other");
  auto router = MakeRouter();
  EXPECT_EQ(DispatchOn(router, "XKCDQWERTYUI", "/api/v1/devices").route, "/api/v1/devices");
  EXPECT_EQ(DispatchOn(router, "GET", "/random/path/1").route, "unmatched");
}

TEST(Router, AuditsStateChangesAnd401And403BeforeAnswering) {
  std::vector<AuditRecord> records;
  Router router([](std::string_view authorization) {
    if (authorization == "Bearer op") return Caller(Role::kOperate, "ops-desk");
    if (authorization == "Bearer admin") return Caller(Role::kAdmin, "root");
    return Caller();
  });
  router.Add("POST", "/api/v1/devices/{id}/relay", Role::kOperate, Echo,
             RouteOptions{BodyKind::kJson, kJsonBodyLimit, AuditMode::kAlways});
  router.Add("GET", "/api/v1/users/{user_uuid}", Role::kRead, Echo,
             RouteOptions{BodyKind::kNone, kJsonBodyLimit, AuditMode::kAdminRead});
  router.Add("GET", "/api/v1/devices", Role::kRead, Echo);
  router.SetAuditSink([&records](AuditRecord r) -> asio::awaitable<void> {
    records.push_back(std::move(r));
    co_return;
  });
  EXPECT_EQ(DispatchOn(router, "POST", "/api/v1/devices/door-3/relay", "Bearer op").response.status,
            200);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].actor, "ops-desk");
  EXPECT_EQ(records[0].role, "operate");
  EXPECT_EQ(records[0].method, "POST");
  EXPECT_EQ(records[0].route, "/api/v1/devices/{id}/relay");
  EXPECT_EQ(records[0].device_id, "door-3");
  EXPECT_EQ(records[0].status, 200);
  EXPECT_EQ(records[0].remote_addr, "192.0.2.7");
  EXPECT_EQ(records[0].request_id, "req-1");
  // 401: anonymous, recorded too.
  EXPECT_EQ(
      DispatchOn(router, "POST", "/api/v1/devices/door-3/relay", "Bearer stolen?").response.status,
      401);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].actor, "anonymous");
  EXPECT_EQ(records[1].role, "none");
  EXPECT_EQ(records[1].status, 401);
  // Reads: only an admin's read of user data is audited (with the user as target).
  DispatchOn(router, "GET", "/api/v1/users/u-1", "Bearer op");
  DispatchOn(router, "GET", "/api/v1/devices", "Bearer admin");
  ASSERT_EQ(records.size(), 2u);
  DispatchOn(router, "GET", "/api/v1/users/u-1", "Bearer admin");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2].target, "u-1");
  EXPECT_EQ(records[2].actor, "root");
}

TEST(AuditPayload, HoldsTheListedFieldsEscapedAndCut) {
  AuditRecord r;
  r.actor = "ops-desk";
  r.role = "operate";
  r.method = "POST";
  r.route = "/api/v1/devices/{id}/settings/{title}";
  r.device_id = "door-3";
  r.target = "evil\r\ntitle\xff" + std::string(1000, 'x');
  r.status = 200;
  r.remote_addr = "192.0.2.7";
  r.request_id = "abc-1";
  boost::system::error_code ec;
  auto v = boost::json::parse(AuditPayload(r), ec);
  ASSERT_FALSE(ec);
  const auto& o = v.as_object();
  EXPECT_EQ(o.size(), 9u);
  EXPECT_EQ(o.at("actor"), "ops-desk");
  EXPECT_EQ(o.at("role"), "operate");
  EXPECT_EQ(o.at("method"), "POST");
  EXPECT_EQ(o.at("device_id"), "door-3");
  EXPECT_EQ(o.at("status").as_int64(), 200);
  EXPECT_EQ(o.at("remote_addr"), "192.0.2.7");
  EXPECT_EQ(o.at("request_id"), "abc-1");
  const std::string target(o.at("target").as_string());
  EXPECT_EQ(target.find('\n'), std::string::npos);
  EXPECT_NE(target.find("\\x0d\\x0a"), std::string::npos);
  EXPECT_LT(target.size(), 320u);
  AuditRecord anonymous;
  anonymous.status = 401;
  auto a = boost::json::parse(AuditPayload(anonymous)).as_object();
  EXPECT_EQ(a.at("actor"), "anonymous");
  EXPECT_TRUE(a.at("device_id").is_null());
  EXPECT_TRUE(a.at("target").is_null());
}

}  // namespace
}  // namespace gw::api
