#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <string>

#include "common/error.hpp"
#include "ef45/reply.hpp"

// Why a sync step failed, as a value (shaped like ef45::Error / ef45::Reply): the reconcilers
// decide on `source` and `Reason()`, and turn an error into text only for a status row, the API
// or a log line (Describe). Never holds user data.

namespace gw::sync {

/// Which side failed.
enum class ErrorSource {
  kReader,    ///< the reader answered with an error, or could not be reached
  kDatabase,  ///< PostgreSQL
  kSync,      ///< the reconciler itself: stopping, a read too long, a biometric duplicate
};

struct Error {
  ErrorSource source = ErrorSource::kSync;
  /// A `gw::Errc` (kDbUnavailable, kCancelled, ...) or, from the reader, the client's code.
  boost::system::error_code code;
  int http_status = 0;  ///< the reader's HTTP status when it answered (0 = none)
  /// kReader: the client's detail (operation and field); kSync: the whole description.
  std::string detail;
  /// The call of a multi-call operation that failed ("updating face 2"); may be empty.
  std::string step;

  Errc Reason() const noexcept { return Classify(code); }
  /// A reader error that is no answer about the object: the reader could not be talked to
  /// (gw::IsTransport), or its body was over a size limit (kTooLarge), or the client refused to
  /// send the request (kBadRequest). The round ends and the reader is retried with back-off, and
  /// a part read this way is never taken as absent. Only an HTTP status and a body that does not
  /// parse are answers (a reader that answers an error for a part has none). This is wider than
  /// gw::IsTransport on purpose: the pollers treat a too-large body as an answer about one entry,
  /// but here taking it for "absent" would overwrite or delete the user. False for database and
  /// sync errors.
  bool IsUnanswered() const noexcept;
  /// The reader answered 404 (the object is not there).
  bool IsNotFound() const noexcept;
};

/// A reader's failure, optionally naming the `step` it answered.
Error ReaderError(const ef45::Error& error, std::string step = {});
/// A PostgreSQL failure (the store's code, Errc::kDbUnavailable mostly).
Error DatabaseError(boost::system::error_code code);
/// A failure of the reconciler's own: `text` is what the status row shows.
Error SyncError(Errc code, std::string text);
/// `error` with `prefix` put before its step ("not attempted: updating the subject: ...").
Error Prefixed(Error error, const std::string& prefix);

/// The text for status rows, the API's `last_error` and logs:
/// `[step: ]` then `database: <reason>`, `<reason>[ <http status>][: <detail>]` or the detail.
std::string Describe(const Error& error);

/// A value or a sync Error. `value()` on an error throws (a bug in the caller).
template <class T>
using Outcome = boost::system::result<T, Error>;

/// ADL hook used by `boost::system::result<T, Error>::value()`.
[[noreturn]] void throw_exception_from_error(  // NOLINT(readability-identifier-naming)
    const Error& error, const boost::source_location& location);

}  // namespace gw::sync
