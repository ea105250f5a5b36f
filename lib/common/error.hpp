#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <string_view>
#include <type_traits>

namespace gw {

/// Expected failures across the gateway, carried as `boost::system::error_code` values in the
/// `gw` category. Transport errors from Asio/Beast keep their own categories; use
/// `Classify()` to map any code to the coarse reason the API and metrics report.
enum class Errc {
  kOk = 0,
  kTimeout = 1,    ///< a deadline expired (request, connect, query)
  kRefused,        ///< connection refused / host unreachable
  kClosed,         ///< the peer closed the connection mid-exchange
  kHttpStatus,     ///< an unexpected HTTP status (the status travels next to the code)
  kLockConflict,   ///< the reader's session lock is held by another client (409)
  kLockLost,       ///< our lock_uid no longer works (the reader answers with no handler)
  kBadResponse,    ///< malformed JSON, or a missing / mistyped required field
  kTooLarge,       ///< a body over its size limit
  kDbUnavailable,  ///< PostgreSQL is unreachable or the query failed transiently
  kBadRequest,     ///< invalid input from an API caller or the config
  kNotFound,       ///< the object does not exist
  kConflict,       ///< the request conflicts with current state
  kCancelled,      ///< the operation was cancelled (shutdown, reader removed)
  kLeaseLost,      ///< this node no longer owns the reader (cluster mode)
  kQueueFull,      ///< a bounded queue is full; the caller must retry later
};

const boost::system::error_category& ErrcCategory() noexcept;

inline boost::system::error_code make_error_code(
    Errc e) noexcept {  // NOLINT(readability-identifier-naming): ADL hook
  return {static_cast<int>(e), ErrcCategory()};
}

/// A short stable name for an error ("timeout", "refused", ...), used as a metric label and in
/// the API's reader `reason`. Codes from other categories are mapped to the closest `gw` reason.
std::string_view ReasonName(const boost::system::error_code& ec) noexcept;

/// Maps an Asio/Beast/system error to the `gw::Errc` it means for us (identity for `gw` codes).
Errc Classify(const boost::system::error_code& ec) noexcept;

/// The other side (a reader, or PostgreSQL) could not be talked to right now: a deadline
/// passed, the connection was refused or closed, the reader's session lock is not ours
/// (kLockConflict, kLockLost), the database is unavailable, or the operation was cancelled.
/// Callers back off and retry that peer as a whole. Not transport: an answer that could not be
/// used (kHttpStatus, kBadResponse, kTooLarge: a body over its limit is an answer about one entry,
/// retrying it does not help), a request refused before it was sent (kBadRequest), and the
/// gateway's own outcomes (kNotFound, kConflict, kLeaseLost, kQueueFull). Pure, thread-safe.
bool IsTransport(Errc reason) noexcept;

template <class T>
using Result = boost::system::result<T>;

}  // namespace gw

template <>
struct boost::system::is_error_code_enum<gw::Errc> : std::true_type {};
