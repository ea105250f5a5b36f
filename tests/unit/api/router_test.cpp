#include "api/router.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

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
                      std::string authorization = "Bearer reader") {
  asio::io_context io;
  Request request;
  request.method = std::move(method);
  request.path = std::move(path);
  request.authorization = std::move(authorization);
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

}  // namespace
}  // namespace gw::api
