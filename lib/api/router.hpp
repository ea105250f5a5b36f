#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/http_types.hpp"

namespace gw::api {

/// Verifies bearer tokens: maps `Authorization` to the caller (role kNone when absent, unknown
/// or expired).
using Authenticator = std::function<Caller(std::string_view authorization)>;

/// What the router records about a request for the audit trail (kind `audit` events). Never the
/// token, never a body.
struct AuditRecord {
  std::string actor;  ///< the token's name, or "anonymous"
  std::string role;   ///< RoleName of the caller
  std::string method;
  std::string route;      ///< the route template, or "unmatched"
  std::string device_id;  ///< the reader of the request, empty when none
  std::string target;     ///< user uuid or setting title, empty when none
  int status = 0;
  std::string remote_addr;
  std::string request_id;
};

/// Records an audit event and completes once it is committed (or failed: the sink logs and
/// counts that itself). The router awaits it before the response is sent.
using AuditSink = std::function<boost::asio::awaitable<void>(AuditRecord)>;

/// The request body a route takes.
enum class BodyKind {
  kNone,   ///< none expected; a body up to the JSON limit is read and ignored
  kJson,   ///< application/json; any other Content-Type is 415
  kOctets  ///< application/octet-stream (firmware); any other Content-Type is 415
};

/// When a route's requests are audit events.
enum class AuditMode {
  kNever,
  kAlways,    ///< state-changing operations: committed before the response is sent
  kAdminRead  ///< reads that serve biometric data or credentials to an admin caller
};

inline constexpr std::size_t kJsonBodyLimit = 64 * 1024;
inline constexpr std::size_t kFirmwareBodyLimit = 8 * 1024 * 1024;

struct RouteOptions {
  BodyKind body = BodyKind::kJson;
  std::size_t body_limit = kJsonBodyLimit;
  AuditMode audit = AuditMode::kNever;
};

/// Routes by method and path template (`/api/v1/devices/{id}`), checks the caller's role,
/// and reports the template (never the raw path) for metrics. Routes are added at start-up;
/// Admit, Handle and Dispatch are then safe to call from any strand concurrently (read-only).
///
/// A request goes through two steps so that nothing is read before the caller is known:
/// Admit once the headers are in (match, authenticate, role, Content-Type, identifiers), then
/// the server reads the body within the route's limit, then Handle runs the handler and writes
/// the audit event.
class Router {
 public:
  struct Route {
    std::string method;
    std::string path_template;
    Role required = Role::kRead;
    Handler handler;
    RouteOptions options;
  };

  /// The outcome of Admit: the route to run, or the answer to send without reading the body.
  struct Admission {
    const Route* route = nullptr;
    std::optional<Response> refusal;
  };

  explicit Router(Authenticator authenticator);

  void Add(std::string method, std::string path_template, Role required, Handler handler,
           RouteOptions options = {});

  /// Where audit events go (none by default). Call before serving.
  void SetAuditSink(AuditSink sink) { audit_ = std::move(sink); }

  /// Step 1, headers only (the body is not looked at): unknown path → 404, known path with
  /// another method → 405 (with Allow), missing/unknown/expired token → 401, weak role → 403,
  /// a browser's cross-origin write (`Origin` on a non-GET) → 403, a body of the wrong
  /// Content-Type → 415, a path identifier outside ValidIdentifier → 400. Sets the request's
  /// role, actor and path parameters. `route_template` receives the matched template or
  /// "unmatched" (a bounded set: safe as a metrics label).
  Admission Admit(Request& request, std::string& route_template) const;

  /// Step 2: the refusal (a 401/403 is audited), or the route's handler (a throwing handler is a
  /// 500) followed by its audit event, committed before this completes.
  boost::asio::awaitable<Response> Handle(const Admission& admission, Request& request,
                                          const std::string& route_template) const;

  /// Admit and Handle in one (the body is already in `request`; tests and the fuzzer).
  boost::asio::awaitable<Response> Dispatch(Request& request, std::string& route_template) const;

  const std::vector<Route>& routes() const { return routes_; }

  /// The largest body limit of any route (what the server allows before a route is known).
  std::size_t max_body_limit() const { return max_body_limit_; }

 private:
  static bool Match(std::string_view path_template, std::string_view path,
                    std::map<std::string, std::string, std::less<>>& params);

  Authenticator authenticator_;
  AuditSink audit_;
  std::vector<Route> routes_;
  std::size_t max_body_limit_ = kJsonBodyLimit;
};

/// Fills `request.path` (percent-decoded) and `request.query` from `request.target`; a target
/// that is not in origin form is kept as the path (it then matches no route).
void ParseTarget(Request& request);

/// The method as a metrics label: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, or "other".
std::string_view MethodLabel(std::string_view method) noexcept;

}  // namespace gw::api
