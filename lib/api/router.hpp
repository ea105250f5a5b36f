#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/http_types.hpp"

namespace gw::api {

/// Verifies bearer tokens: maps `Authorization` to a role (kNone when absent or unknown).
using Authenticator = std::function<Role(std::string_view authorization)>;

/// Routes by method and path template (`/api/v1/devices/{id}`), checks the caller's role,
/// and reports the template (never the raw path) for metrics. Routes are added at start-up;
/// Dispatch is then safe to call from any strand concurrently (read-only).
class Router {
 public:
  struct Route {
    std::string method;
    std::string path_template;
    Role required = Role::kRead;
    Handler handler;
  };

  explicit Router(Authenticator authenticator);

  void Add(std::string method, std::string path_template, Role required, Handler handler);

  /// Matches `request`, authenticates, runs the handler. Unknown path → 404, known path with
  /// another method → 405 (with Allow), missing/unknown token → 401, weak role → 403.
  /// `route_template` receives the matched template or "unmatched".
  boost::asio::awaitable<Response> Dispatch(Request& request, std::string& route_template) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  static bool Match(std::string_view path_template, std::string_view path,
                    std::map<std::string, std::string, std::less<>>& params);

  Authenticator authenticator_;
  std::vector<Route> routes_;
};

}  // namespace gw::api
