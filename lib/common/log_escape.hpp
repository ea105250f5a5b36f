#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gw::log {

/// `text` safe for a log line: every C0 control byte (CR, LF and TAB included), DEL and every
/// byte that is not part of valid UTF-8 becomes `\xNN`; valid UTF-8 passes unchanged. Pure.
/// log::Write applies it to every line.
std::string Escape(std::string_view text);

/// Longest value kept in a log line or an audit event, in bytes.
inline constexpr std::size_t kMaxValueBytes = 256;
/// `value` cut to kMaxValueBytes (on a UTF-8 boundary) with `...(+N bytes)` when longer. Pure.
/// For values that come from a reader or a request: `GW_LOG(...) << log::Cut(reason)`.
std::string Cut(std::string_view value);

}  // namespace gw::log
