#include "api/router.hpp"

#include "api/problem.hpp"

namespace gw::api {

std::optional<std::string> Request::Query(std::string_view name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

Router::Router(Authenticator authenticator) : authenticator_(std::move(authenticator)) {}

void Router::Add(std::string method, std::string path_template, Role required, Handler handler) {
  routes_.push_back(
      Route{std::move(method), std::move(path_template), required, std::move(handler)});
}

bool Router::Match(std::string_view path_template, std::string_view path,
                   std::map<std::string, std::string, std::less<>>& params) {
  params.clear();
  std::size_t t = 0;
  std::size_t p = 0;
  while (t < path_template.size() && p < path.size()) {
    if (path_template[t] == '{') {
      auto close = path_template.find('}', t);
      auto name = path_template.substr(t + 1, close - t - 1);
      auto end = path.find('/', p);
      if (end == std::string_view::npos) end = path.size();
      if (end == p) return false;  // empty segment
      params.emplace(std::string(name), std::string(path.substr(p, end - p)));
      t = close + 1;
      p = end;
    } else {
      if (path_template[t] != path[p]) return false;
      ++t;
      ++p;
    }
  }
  return t == path_template.size() && p == path.size();
}

boost::asio::awaitable<Response> Router::Dispatch(Request& request,
                                                  std::string& route_template) const {
  const Route* found = nullptr;
  std::string allow;
  std::map<std::string, std::string, std::less<>> params;
  for (const auto& route : routes_) {
    if (!Match(route.path_template, request.path, params)) continue;
    if (route.method == request.method) {
      found = &route;
      break;
    }
    allow += (allow.empty() ? "" : ", ") + route.method;
    route_template = route.path_template;
  }
  if (found == nullptr) {
    if (!allow.empty()) {
      auto r = Problem(405, "method-not-allowed", "Method not allowed",
                       request.method + " is not supported on this resource");
      r.headers.emplace_back("Allow", allow);
      co_return r;
    }
    route_template = "unmatched";
    co_return NotFound("no such resource: " + request.path);
  }
  route_template = found->path_template;
  Match(found->path_template, request.path, params);
  request.path_params = std::move(params);
  request.role = authenticator_ ? authenticator_(request.authorization) : Role::kAdmin;
  if (found->required != Role::kNone) {
    if (request.role == Role::kNone) {
      auto r = Problem(401, "unauthorized", "Unauthorized",
                       "send Authorization: Bearer <token> with a configured token");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      co_return r;
    }
    if (request.role < found->required) {
      co_return Problem(403, "forbidden", "Forbidden",
                        "this token's role may not use this resource");
    }
  }
  co_return co_await found->handler(request);
}

}  // namespace gw::api
