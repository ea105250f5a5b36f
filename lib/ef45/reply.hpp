#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <string>
#include <utility>

#include "common/error.hpp"

namespace gw::ef45 {

/// Why a reader operation failed. `code` is always a `gw::Errc` (kTimeout, kRefused, kClosed,
/// kHttpStatus, kLockConflict, kLockLost, kBadResponse, kTooLarge, kBadRequest, kCancelled);
/// `cause` keeps the original Asio/Beast code when the failure came from the transport.
/// `detail` names the operation and, for kBadResponse, the field
/// (`match-data: items[3].log_id: expected integer`). It never contains biometric data.
struct Error {
  boost::system::error_code code;
  int http_status = 0;  ///< status of the reader's reply when there was one (0 = none)
  std::string detail;
  boost::system::error_code cause;

  Errc reason() const noexcept { return Classify(code); }
};

/// Builds an Error with a `gw::Errc` code.
inline Error MakeError(Errc code, std::string detail, int http_status = 0) {
  return Error{make_error_code(code), http_status, std::move(detail), {}};
}

/// Result of one reader operation: a value or an Error. Never throws for expected failures;
/// `value()` on an error throws `boost::system::system_error` (a bug in the caller).
template <class T>
using Reply = boost::system::result<T, Error>;

/// ADL hook used by `boost::system::result<T, Error>::value()`.
[[noreturn]] void throw_exception_from_error(  // NOLINT(readability-identifier-naming)
    const Error& error, const boost::source_location& location);

}  // namespace gw::ef45
