#pragma once

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

}  // namespace gw::api
