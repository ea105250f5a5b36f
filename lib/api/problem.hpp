#pragma once

#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/http_types.hpp"

namespace gw::api {

/// An RFC 9457 problem response (`application/problem+json`) with a stable `type` URI:
/// `https://ef45-gateway.dev/problems/<slug>`. `field`, when given, names the offending input.
Response Problem(int status, std::string_view slug, std::string_view title, std::string_view detail,
                 std::string_view field = {});

Response BadRequest(std::string_view field, std::string_view detail);
Response NotFound(std::string_view detail);

/// A JSON response (`application/json`).
Response Json(const boost::json::value& value, int status = 200);
/// A store failure: 400 when PostgreSQL refused the request (Errc::kBadRequest), else 503
/// database-unavailable.
Response DbProblem(const boost::system::error_code& ec);
/// A whole decimal integer (no sign games, no trailing text).
bool ParseInt64(std::string_view text, std::int64_t& out);

}  // namespace gw::api
