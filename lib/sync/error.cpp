#include "sync/error.hpp"

#include <boost/system/system_error.hpp>
#include <boost/throw_exception.hpp>

namespace gw::sync {

bool Error::IsUnanswered() const noexcept {
  if (source != ErrorSource::kReader) return false;
  const Errc reason = Reason();
  if (IsTransport(reason)) return true;
  return reason != Errc::kHttpStatus && reason != Errc::kBadResponse;
}

bool Error::IsNotFound() const noexcept {
  return source == ErrorSource::kReader && Reason() == Errc::kHttpStatus && http_status == 404;
}

Error ReaderError(const ef45::Error& error, std::string step) {
  return Error{ErrorSource::kReader, error.code, error.http_status, error.detail, std::move(step)};
}

Error DatabaseError(boost::system::error_code code) {
  return Error{ErrorSource::kDatabase, code, 0, {}, {}};
}

Error SyncError(Errc code, std::string text) {
  return Error{ErrorSource::kSync, make_error_code(code), 0, std::move(text), {}};
}

Error Prefixed(Error error, const std::string& prefix) {
  error.step = error.step.empty() ? prefix : prefix + ": " + error.step;
  return error;
}

std::string Describe(const Error& error) {
  std::string out = error.step.empty() ? std::string() : error.step + ": ";
  switch (error.source) {
    case ErrorSource::kDatabase: out += "database: " + std::string(ReasonName(error.code)); break;
    case ErrorSource::kReader:
      out += ReasonName(error.code);
      if (error.http_status) out += " " + std::to_string(error.http_status);
      if (!error.detail.empty()) out += ": " + error.detail;
      break;
    case ErrorSource::kSync: out += error.detail; break;
  }
  return out;
}

void throw_exception_from_error(const Error& error, const boost::source_location& location) {
  boost::throw_exception(boost::system::system_error(error.code, Describe(error)), location);
}

}  // namespace gw::sync
