#include "api/problem.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>

#include "common/error.hpp"

namespace gw::api {

Response Problem(int status, std::string_view slug, std::string_view title, std::string_view detail,
                 std::string_view field) {
  boost::json::object o;
  o["type"] = "https://ef45-gateway.dev/problems/" + std::string(slug);
  o["title"] = title;
  o["status"] = status;
  if (!detail.empty()) o["detail"] = detail;
  if (!field.empty()) o["field"] = field;
  Response r;
  r.status = status;
  r.content_type = "application/problem+json";
  r.body = boost::json::serialize(o);
  return r;
}

Response BadRequest(std::string_view field, std::string_view detail) {
  return Problem(400, "bad-request", "Bad request", detail, field);
}

Response NotFound(std::string_view detail) {
  return Problem(404, "not-found", "Not found", detail);
}

Response Json(const boost::json::value& value, int status) {
  Response r;
  r.status = status;
  r.body = boost::json::serialize(value);
  return r;
}

Response DbProblem(const boost::system::error_code& ec) {
  if (ec == Errc::kBadRequest) return BadRequest("", "the database refused the request");
  return Problem(503, "database-unavailable", "Database unavailable",
                 "PostgreSQL cannot be reached; retry later");
}

bool ParseInt64(std::string_view text, std::int64_t& out) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && p == text.data() + text.size();
}

}  // namespace gw::api
