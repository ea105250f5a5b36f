#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace gw {

using Micros = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

/// Parses ISO-8601 / RFC 3339 UTC timestamps as readers and API callers write them:
/// `2018-05-28T14:26:26Z`, with optional fractional seconds and a `Z` or `±hh:mm` offset
/// (a missing offset means UTC). nullopt for anything else. Pure; no locale, no time zone db.
std::optional<Micros> ParseIso8601(std::string_view text);

/// `2018-05-28T14:26:26.123456Z` (microseconds only when non-zero).
std::string FormatIso8601(Micros time);

/// Parses an HTTP `Date` header (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`).
std::optional<std::chrono::system_clock::time_point> ParseHttpDate(std::string_view text);

}  // namespace gw
