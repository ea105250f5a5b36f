#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gw::api {

/// Roles of API callers, each including the ones before it.
enum class Role { kNone = 0, kRead, kOperate, kAdmin };

/// "none", "read", "operate", "admin".
const char* RoleName(Role role) noexcept;

/// Who is calling: the role and the name of the token (never the token itself). Implicit from
/// a Role so that an authenticator may answer with a role only (the name is then empty).
struct Caller {
  Caller(Role r = Role::kNone, std::string n = {})  // NOLINT(google-explicit-constructor)
      : role(r), name(std::move(n)) {}
  Role role;
  std::string name;
};

/// A parsed API request. Beast stays inside server.cpp; handlers see only this.
struct Request {
  std::string method;                                           ///< "GET", "PUT", ...
  std::string target;                                           ///< raw request-target
  std::string path;                                             ///< percent-decoded path
  std::multimap<std::string, std::string, std::less<>> query;   ///< decoded query parameters
  std::map<std::string, std::string, std::less<>> path_params;  ///< from the route template
  std::string authorization;
  std::string last_event_id;
  std::string content_type;
  std::string origin;         ///< the `Origin` header (sent by browsers)
  std::string if_none_match;  ///< the `If-None-Match` header (conditional GET)
  std::string body;
  /// A body was announced (Content-Length > 0 or chunked), read or not yet.
  bool has_body = false;
  std::string remote_addr;  ///< the client's IP address
  std::string request_id;   ///< unique per request; sent back as X-Request-Id, in audit events
  Role role = Role::kNone;  ///< set by the router after authentication
  std::string actor;        ///< the token's name, or "anonymous" (set by the router)
  /// What an audit event names as `target` when the handler knows better than the path (e.g.
  /// the user of an APB clear given in the body). Default: the user_uuid or title path param.
  std::string audit_target;

  /// The first value of query parameter `name`, if present.
  std::optional<std::string> Query(std::string_view name) const;
};

/// Writes a streamed body (Server-Sent Events) chunk by chunk. Each Write has the stream's
/// write deadline: a consumer that does not read is cut off (asio::error::timed_out; other
/// errors mean the consumer went away).
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  virtual boost::asio::awaitable<boost::system::error_code> Write(std::string data) = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  /// When set, the body sent instead of `body`: a rendering shared by concurrent responses
  /// (e.g. the device listing, ~0.4 MB at 1,000 readers), sent without a copy.
  std::shared_ptr<const std::string> shared_body;
  std::vector<std::pair<std::string, std::string>> headers;
  /// When set, the server sends the status and headers, then runs this with a writer for the
  /// body; the connection closes when it returns.
  std::function<boost::asio::awaitable<void>(StreamWriter&)> stream;
};

using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

}  // namespace gw::api
