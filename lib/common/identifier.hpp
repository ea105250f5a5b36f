#pragma once

#include <string_view>

namespace gw {

/// True if `id` may name a reader, a user or a cluster node: 1-64 characters of
/// `A-Z a-z 0-9 . _ -`, and neither `.` nor `..` (they would mean something else in a path or a
/// file name). The same check applies wherever an identifier arrives: config, URL paths, query
/// parameters and request bodies. Pure.
bool ValidIdentifier(std::string_view id) noexcept;

/// What ValidIdentifier demands, for error messages.
inline constexpr std::string_view kIdentifierRule =
    "1-64 characters of A-Z a-z 0-9 . _ - (not \".\" or \"..\")";

}  // namespace gw
