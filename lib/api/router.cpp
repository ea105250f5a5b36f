#include "api/router.hpp"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <cctype>

#include "api/problem.hpp"
#include "common/identifier.hpp"
#include "common/log.hpp"
#include "common/log_escape.hpp"

namespace gw::api {

const char* RoleName(Role role) noexcept {
  switch (role) {
    case Role::kNone: return "none";
    case Role::kRead: return "read";
    case Role::kOperate: return "operate";
    case Role::kAdmin: return "admin";
  }
  return "none";
}

std::string_view MethodLabel(std::string_view method) noexcept {
  for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (method == known) return known;
  }
  return "other";
}

void ParseTarget(Request& request) {
  auto url = boost::urls::parse_origin_form(request.target);
  if (!url) {
    request.path = request.target;
    return;
  }
  request.path = url->path();
  for (auto param : url->params()) request.query.emplace(param.key, param.value);
}

std::optional<std::string> Request::Query(std::string_view name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

namespace {

/// The media type of a Content-Type value, lower case, without parameters.
std::string MediaType(std::string_view content_type) {
  auto semi = content_type.find(';');
  auto type = content_type.substr(0, semi);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  std::string out(type);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsRead(std::string_view method) { return method == "GET" || method == "HEAD"; }

}  // namespace

Router::Router(Authenticator authenticator) : authenticator_(std::move(authenticator)) {}

void Router::Add(std::string method, std::string path_template, Role required, Handler handler,
                 RouteOptions options) {
  if ((IsRead(method) || method == "DELETE") && options.body == BodyKind::kJson) {
    options.body = BodyKind::kNone;
  }
  max_body_limit_ = std::max(max_body_limit_, options.body_limit);
  routes_.push_back(
      Route{std::move(method), std::move(path_template), required, std::move(handler), options});
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

Router::Admission Router::Admit(Request& request, std::string& route_template) const {
  const Route* found = nullptr;
  std::string allow;
  std::map<std::string, std::string, std::less<>> params;
  route_template = "unmatched";
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
                       "this method is not supported on this resource");
      r.headers.emplace_back("Allow", allow);
      return {nullptr, std::move(r)};
    }
    return {nullptr, NotFound("no such resource")};
  }
  route_template = found->path_template;
  Match(found->path_template, request.path, params);
  request.path_params = std::move(params);
  for (const char* name : {"id", "user_uuid"}) {
    auto it = request.path_params.find(name);
    if (it != request.path_params.end() && !ValidIdentifier(it->second)) {
      return {nullptr, BadRequest(name, "must be " + std::string(kIdentifierRule))};
    }
  }
  Caller caller = authenticator_ ? authenticator_(request.authorization) : Caller(Role::kAdmin);
  request.role = caller.role;
  request.actor = caller.name.empty() ? "anonymous" : caller.name;
  if (found->required != Role::kNone) {
    if (request.role == Role::kNone) {
      auto r = Problem(401, "unauthorized", "Unauthorized",
                       "send Authorization: Bearer <token> with a configured token");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return {nullptr, std::move(r)};
    }
    if (request.role < found->required) {
      return {nullptr, Problem(403, "forbidden", "Forbidden",
                               "this token's role may not use this resource")};
    }
  }
  // A web page in any browser on the LAN must not be able to drive a reader: browsers send
  // Origin on every cross-origin write, API clients do not.
  if (!IsRead(request.method) && !request.origin.empty()) {
    return {nullptr, Problem(403, "cross-origin", "Cross-origin request refused",
                             "requests from web pages (with an Origin header) may not change "
                             "anything")};
  }
  const auto media = MediaType(request.content_type);
  const bool typed = request.has_body || !request.content_type.empty();
  if (found->options.body == BodyKind::kJson && typed && media != "application/json") {
    return {nullptr, Problem(415, "unsupported-media-type", "Unsupported media type",
                             "this resource takes Content-Type: application/json")};
  }
  if (found->options.body == BodyKind::kOctets && request.has_body &&
      media != "application/octet-stream") {
    return {nullptr, Problem(415, "unsupported-media-type", "Unsupported media type",
                             "this resource takes Content-Type: application/octet-stream")};
  }
  return {found, std::nullopt};
}

boost::asio::awaitable<Response> Router::Handle(const Admission& admission, Request& request,
                                                const std::string& route_template) const {
  Response response;
  bool audited = false;
  if (!admission.route) {
    response = *admission.refusal;
    audited = response.status == 401 || response.status == 403;
  } else {
    try {
      response = co_await admission.route->handler(request);
    } catch (const std::exception& e) {
      GW_LOG(kError, "api") << std::string(MethodLabel(request.method)) << " " << route_template
                            << ": handler failed: " << log::Cut(e.what());
      response = Problem(500, "internal", "Internal error", "the request could not be handled");
    }
    const auto mode = admission.route->options.audit;
    audited = mode == AuditMode::kAlways ||
              (mode == AuditMode::kAdminRead && request.role == Role::kAdmin);
  }
  if (audited && audit_) {
    AuditRecord record;
    record.actor = request.actor.empty() ? "anonymous" : request.actor;
    record.role = RoleName(request.role);
    record.method = std::string(MethodLabel(request.method));
    record.route = route_template;
    if (auto it = request.path_params.find("id"); it != request.path_params.end()) {
      record.device_id = it->second;
    }
    record.target = request.audit_target;
    for (const char* name : {"user_uuid", "title"}) {
      if (auto it = request.path_params.find(name);
          record.target.empty() && it != request.path_params.end()) {
        record.target = it->second;
      }
    }
    record.status = response.status;
    record.remote_addr = request.remote_addr;
    record.request_id = request.request_id;
    co_await audit_(std::move(record));
  }
  co_return response;
}

boost::asio::awaitable<Response> Router::Dispatch(Request& request,
                                                  std::string& route_template) const {
  if (!request.body.empty()) request.has_body = true;
  auto admission = Admit(request, route_template);
  co_return co_await Handle(admission, request, route_template);
}

}  // namespace gw::api
